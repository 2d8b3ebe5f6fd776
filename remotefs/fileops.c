/* SPDX-License-Identifier: MIT */
/*
 * The single-operation commands.  Arguments and outputs as opengcs's
 * remotefs (service/gcsutils/remotefs) had them; see README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "jsonw.h"
#include "rfs.h"

/* Go's filepath.Base: what os.Stat() gives as the name. */
static void go_base(const char *path, const char **start, size_t *len)
{
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0) {
		*start = *path ? "/" : ".";
		*len = 1;
		return;
	}
	size_t b = n;
	while (b > 0 && path[b - 1] != '/')
		b--;
	*start = path + b;
	*len = n - b;
}

/* {NameVar, SizeVar, ModeVar, ModTimeVar, IsDirVar}: opengcs's FileInfo. */
static void fileinfo_json(struct jw *w, const char *name, size_t name_len, const struct stat *st)
{
	jw_lit(w, "{");
	jw_key(w, "NameVar");
	jw_str(w, name, name_len);
	jw_lit(w, ",");
	jw_key(w, "SizeVar");
	jw_i64(w, (int64_t)st->st_size);
	jw_lit(w, ",");
	jw_key(w, "ModeVar");
	jw_u64(w, rfs_go_mode(st->st_mode));
	jw_lit(w, ",");
	jw_key(w, "ModTimeVar");
	jw_i64(w, (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
	jw_lit(w, ",");
	jw_key(w, "IsDirVar");
	jw_bool(w, S_ISDIR(st->st_mode));
	jw_lit(w, "}");
}

static int write_json(struct rfs_ctx *ctx, struct jw *w, struct error *err)
{
	_cleanup_free_ char *text = jw_finish(w);
	if (!text)
		return error_set(err, ENOMEM, "encode result");
	int r = rfs_write_all(ctx->out_fd, text, strlen(text));
	if (r < 0)
		return error_set(err, -r, "write result");
	return 0;
}

static int write_stat(struct rfs_ctx *ctx, const char *path, const struct stat *st,
		      struct error *err)
{
	const char *name;
	size_t len;
	struct jw w = { 0 };
	go_base(path, &name, &len);
	fileinfo_json(&w, name, len, st);
	return write_json(ctx, &w, err);
}

/* stat PATH: FileInfo of PATH, a symlink in the last component followed
 * (inside the root). */
static int cmd_stat(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	struct stat st;
	int fd = rfs_open_in_root(ctx->root_fd, argv[0], O_PATH, 0);
	if (fd < 0)
		return rfs_fail(err, -fd, "stat", argv[0]);
	_cleanup_close_ int pfd = fd;
	if (fstat(pfd, &st) < 0)
		return rfs_fail(err, errno, "stat", argv[0]);
	return write_stat(ctx, argv[0], &st, err);
}

/* Parent dirfd + last name of PATH, or the root itself (dir_fd = root,
 * name ""): the form the *at() calls below take with AT_EMPTY_PATH. */
struct entry {
	int dir_fd; /* owned unless it is the root's */
	bool is_root;
	char *buf;
	const char *name;
};

static void entry_release(struct entry *e)
{
	if (!e->is_root && e->dir_fd >= 0)
		close(e->dir_fd);
	free(e->buf);
}

static int resolve_entry(struct rfs_ctx *ctx, const char *path, bool allow_root, struct entry *e)
{
	int fd;
	e->is_root = false;
	int r = rfs_resolve_parent(ctx->root_fd, path, allow_root, &fd, &e->buf, &e->name);
	if (r < 0)
		return r;
	if (!e->name) {
		e->is_root = true;
		e->dir_fd = ctx->root_fd;
		e->name = "";
	} else {
		e->dir_fd = fd;
	}
	return 0;
}

/* lstat PATH: FileInfo of PATH itself. */
static int cmd_lstat(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	struct stat st;
	int r = resolve_entry(ctx, argv[0], true, &e);
	if (r < 0)
		return rfs_fail(err, -r, "lstat", argv[0]);
	if (fstatat(e.dir_fd, e.name, &st, AT_SYMLINK_NOFOLLOW | (e.is_root ? AT_EMPTY_PATH : 0)) <
	    0)
		return rfs_fail(err, errno, "lstat", argv[0]);
	return write_stat(ctx, argv[0], &st, err);
}

/* readlink PATH: the link's text, raw. */
static int cmd_readlink(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	char target[PATH_MAX + 1];
	int r = resolve_entry(ctx, argv[0], false, &e);
	if (r < 0)
		return rfs_fail(err, -r, "readlink", argv[0]);
	ssize_t n = readlinkat(e.dir_fd, e.name, target, sizeof(target));
	if (n < 0)
		return rfs_fail(err, errno, "readlink", argv[0]);
	if ((size_t)n >= sizeof(target))
		return rfs_fail(err, ENAMETOOLONG, "readlink", argv[0]);
	r = rfs_write_all(ctx->out_fd, target, (size_t)n);
	return r < 0 ? error_set(err, -r, "write result") : 0;
}

/* mkdir PATH MODE */
static int cmd_mkdir(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	mode_t mode;
	int r = rfs_parse_mode(argv[1], &mode, err);
	if (r < 0)
		return r;
	r = resolve_entry(ctx, argv[0], true, &e);
	if (r < 0)
		return rfs_fail(err, -r, "mkdir", argv[0]);
	if (e.is_root)
		return rfs_fail(err, EEXIST, "mkdir", argv[0]);
	if (mkdirat(e.dir_fd, e.name, mode & 07777) < 0)
		return rfs_fail(err, errno, "mkdir", argv[0]);
	return 0;
}

/* mkdirall PATH MODE */
static int cmd_mkdirall(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	mode_t mode;
	int r = rfs_parse_mode(argv[1], &mode, err);
	if (r < 0)
		return r;
	return rfs_mkdir_all(ctx->root_fd, argv[0], mode & 07777, err);
}

/* remove PATH: a file, a link or an empty directory (os.Remove). */
static int cmd_remove(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	int r = resolve_entry(ctx, argv[0], true, &e);
	if (r < 0)
		return rfs_fail(err, -r, "remove", argv[0]);
	if (e.is_root)
		return rfs_fail(err, EBUSY, "remove", argv[0]);
	if (unlinkat(e.dir_fd, e.name, 0) == 0)
		return 0;
	int unlink_errno = errno;
	if (unlinkat(e.dir_fd, e.name, AT_REMOVEDIR) == 0)
		return 0;
	/* As os.Remove: rmdir's error unless it said "not a directory". */
	return rfs_fail(err, errno == ENOTDIR ? unlink_errno : errno, "remove", argv[0]);
}

/* removeall PATH: PATH and everything below it; absent is fine.  The root
 * itself cannot be removed. */
static int cmd_removeall(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	if (!*argv[0])
		return 0;
	int r = resolve_entry(ctx, argv[0], false, &e);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return rfs_fail(err, -r, "RemoveAll", argv[0]);
	r = rfs_remove_tree(e.dir_fd, e.name, err);
	return r < 0 ? error_prefix(err, r, "RemoveAll %s", argv[0]) : 0;
}

static int link_fail(struct error *err, int errnum, const char *op, char **argv)
{
	return error_setx(err, errnum, "%s %s %s: %s", op, argv[0], argv[1], rfs_strerror(errnum));
}

/* link OLD NEW: a hard link NEW to OLD (OLD itself, not what it points to). */
static int cmd_link(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry o = { .dir_fd = -1 };
	_cleanup_(entry_release) struct entry n = { .dir_fd = -1 };
	int r = resolve_entry(ctx, argv[0], false, &o);
	if (r < 0)
		return link_fail(err, -r, "link", argv);
	r = resolve_entry(ctx, argv[1], false, &n);
	if (r < 0)
		return link_fail(err, -r, "link", argv);
	if (linkat(o.dir_fd, o.name, n.dir_fd, n.name, 0) < 0)
		return link_fail(err, errno, "link", argv);
	return 0;
}

/* symlink TARGET NEW: NEW -> TARGET; TARGET is stored as given. */
static int cmd_symlink(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry n = { .dir_fd = -1 };
	int r = resolve_entry(ctx, argv[1], false, &n);
	if (r < 0)
		return link_fail(err, -r, "symlink", argv);
	if (symlinkat(argv[0], n.dir_fd, n.name) < 0)
		return link_fail(err, errno, "symlink", argv);
	return 0;
}

/* lchmod PATH MODE: never through a symlink. */
static int cmd_lchmod(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	mode_t mode;
	int r = rfs_parse_mode(argv[1], &mode, err);
	if (r < 0)
		return r;
	r = resolve_entry(ctx, argv[0], true, &e);
	if (r < 0)
		return rfs_fail(err, -r, "chmod", argv[0]);
	r = rfs_chmod_nofollow(e.dir_fd, e.is_root ? "." : e.name, mode & 07777);
	return r < 0 ? rfs_fail(err, -r, "chmod", argv[0]) : 0;
}

/* lchown PATH UID GID (decimal; -1 keeps). */
static int cmd_lchown(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	int64_t uid, gid;
	int r = rfs_parse_int(argv[1], 64, &uid, err);
	if (r < 0)
		return r;
	r = rfs_parse_int(argv[2], 64, &gid, err);
	if (r < 0)
		return r;
	r = resolve_entry(ctx, argv[0], true, &e);
	if (r < 0)
		return rfs_fail(err, -r, "lchown", argv[0]);
	if (fchownat(e.dir_fd, e.name, (uid_t)uid, (gid_t)gid,
		     AT_SYMLINK_NOFOLLOW | (e.is_root ? AT_EMPTY_PATH : 0)) < 0)
		return rfs_fail(err, errno, "lchown", argv[0]);
	return 0;
}

/* mknod PATH MODE MAJOR MINOR: the type from MODE's Go or Unix type bits. */
static int cmd_mknod(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	mode_t mode;
	int64_t major, minor;
	int r = rfs_parse_mode(argv[1], &mode, err);
	if (r < 0)
		return r;
	if ((r = rfs_parse_int(argv[2], 32, &major, err)) < 0 ||
	    (r = rfs_parse_int(argv[3], 32, &minor, err)) < 0)
		return r;
	r = resolve_entry(ctx, argv[0], false, &e);
	if (r < 0)
		return rfs_fail(err, -r, "mknod", argv[0]);
	if (mknodat(e.dir_fd, e.name, mode, makedev((unsigned)major, (unsigned)minor)) < 0)
		return rfs_fail(err, errno, "mknod", argv[0]);
	return 0;
}

/* mkfifo PATH MODE */
static int cmd_mkfifo(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_(entry_release) struct entry e = { .dir_fd = -1 };
	mode_t mode;
	int r = rfs_parse_mode(argv[1], &mode, err);
	if (r < 0)
		return r;
	r = resolve_entry(ctx, argv[0], false, &e);
	if (r < 0)
		return rfs_fail(err, -r, "mkfifo", argv[0]);
	if (mkfifoat(e.dir_fd, e.name, mode & 07777) < 0)
		return rfs_fail(err, errno, "mkfifo", argv[0]);
	return 0;
}

int rfs_open_regular(struct rfs_ctx *ctx, const char *path, int flags, mode_t mode,
		     bool allow_dir)
{
	/* O_NONBLOCK: a FIFO planted where a file was expected must not hang
	 * the host's copy; only regular files (and directories where a later
	 * read reports the error) are used. */
	int fd = rfs_open_in_root(ctx->root_fd, path, flags | O_NONBLOCK, mode);
	if (fd < 0)
		return fd;
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && !S_ISREG(st.st_mode) && !(allow_dir && S_ISDIR(st.st_mode)))
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if (r < 0) {
		close(fd);
		return r;
	}
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* readfile PATH: the file's bytes on stdout. */
static int cmd_readfile(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	int fd = rfs_open_regular(ctx, argv[0], O_RDONLY, 0, false);
	if (fd < 0)
		return rfs_fail(err, -fd, "open", argv[0]);
	_cleanup_close_ int file_fd = fd;
	char which;
	int r = rfs_copy_fd(file_fd, ctx->out_fd, &which);
	if (r < 0)
		return rfs_fail(err, -r, which == 'r' ? "read" : "write", argv[0]);
	return 0;
}

/* writefile PATH MODE: stdin becomes the file (created or truncated). */
static int cmd_writefile(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	mode_t mode;
	int r = rfs_parse_mode(argv[1], &mode, err);
	if (r < 0)
		return r;
	int fd = rfs_open_regular(ctx, argv[0], O_WRONLY | O_CREAT | O_TRUNC, mode & 07777, false);
	if (fd < 0)
		return rfs_fail(err, -fd, "open", argv[0]);
	_cleanup_close_ int file_fd = fd;
	char which;
	r = rfs_copy_fd(ctx->in_fd, file_fd, &which);
	if (r < 0)
		return rfs_fail(err, -r, which == 'r' ? "read" : "write", argv[0]);
	if (close(TAKE_FD(file_fd)) < 0)
		return rfs_fail(err, errno, "close", argv[0]);
	return 0;
}

/* readdir PATH N: a JSON array of FileInfo (lstat of each entry); the
 * first N entries when N > 0 ("EOF" when there are none), else all. */
static int cmd_readdir(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	int64_t limit;
	int r = rfs_parse_int(argv[1], 32, &limit, err);
	if (r < 0)
		return r;
	int fd = rfs_open_in_root(ctx->root_fd, argv[0], O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return rfs_fail(err, -fd, "open", argv[0]);
	_cleanup_close_ int dir_fd = fd;
	char **names;
	size_t count;
	r = rfs_list_dir(dir_fd, &names, &count);
	if (r < 0)
		return rfs_fail(err, -r, "readdirent", argv[0]);
	if (limit > 0 && count == 0) {
		rfs_free_names(names, count);
		return error_setx(err, RFS_E_EOF, "EOF");
	}
	struct jw w = { 0 };
	size_t shown = 0;
	jw_lit(&w, "[");
	for (size_t i = 0; i < count && (limit <= 0 || shown < (size_t)limit); i++) {
		struct stat st;
		if (fstatat(dir_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile, as Go skips it */
			r = rfs_fail(err, errno, "lstat", names[i]);
			break;
		}
		if (shown++)
			jw_lit(&w, ",");
		fileinfo_json(&w, names[i], strlen(names[i]), &st);
	}
	jw_lit(&w, "]");
	rfs_free_names(names, count);
	if (r < 0) {
		jw_free(&w);
		return r;
	}
	return write_json(ctx, &w, err);
}

/* resolvepath PATH SCOPE: PATH (under SCOPE) with its symlinks resolved as
 * if SCOPE were "/" (Docker's FollowSymlinkInScope), raw on stdout. */
static int cmd_resolvepath(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_free_ char *res = NULL;
	int r = rfs_resolve_scoped(ctx->root_fd, argv[0], argv[1], &res, err);
	if (r < 0)
		return r;
	r = rfs_write_all(ctx->out_fd, res, strlen(res));
	return r < 0 ? error_set(err, -r, "write result") : 0;
}

int rfs_cmd_openfile(struct rfs_ctx *ctx, int argc, char **argv, struct error *err);
int rfs_cmd_archivepath(struct rfs_ctx *ctx, int argc, char **argv, struct error *err);
int rfs_cmd_extractarchive(struct rfs_ctx *ctx, int argc, char **argv, struct error *err);

const struct rfs_command rfs_commands[] = {
	{ "stat", cmd_stat, 1 },
	{ "lstat", cmd_lstat, 1 },
	{ "readlink", cmd_readlink, 1 },
	{ "mkdir", cmd_mkdir, 2 },
	{ "mkdirall", cmd_mkdirall, 2 },
	{ "remove", cmd_remove, 1 },
	{ "removeall", cmd_removeall, 1 },
	{ "link", cmd_link, 2 },
	{ "symlink", cmd_symlink, 2 },
	{ "lchmod", cmd_lchmod, 2 },
	{ "lchown", cmd_lchown, 3 },
	{ "mknod", cmd_mknod, 4 },
	{ "mkfifo", cmd_mkfifo, 2 },
	{ "openfile", rfs_cmd_openfile, 3 },
	{ "readfile", cmd_readfile, 1 },
	{ "writefile", cmd_writefile, 2 },
	{ "readdir", cmd_readdir, 2 },
	{ "resolvepath", cmd_resolvepath, 2 },
	{ "extractarchive", rfs_cmd_extractarchive, 1 },
	{ "archivepath", rfs_cmd_archivepath, 1 },
	{ NULL, NULL, 0 },
};

const struct rfs_command *rfs_find_command(const char *name)
{
	for (const struct rfs_command *c = rfs_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}
