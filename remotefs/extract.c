/* SPDX-License-Identifier: MIT */
/*
 * extractarchive DEST: the tar options, then a tar stream, on stdin; the
 * entries are created below DEST (which must exist) as Docker's
 * archive.Untar does, with the layer semantics of ApplyLayer for whiteouts:
 *
 *   WhiteoutFormat 0 (default): ".wh.NAME" deletes NAME, ".wh..wh..opq"
 *     deletes everything in its directory this archive did not provide;
 *   WhiteoutFormat 1 (overlay): they become a 0/0 character device NAME
 *     and trusted.overlay.opaque=y, the form an overlay upper dir needs.
 *
 * DEST is the scope: every entry's parent is resolved with openat2
 * RESOLVE_IN_ROOT at DEST, files are created with O_EXCL|O_NOFOLLOW, and
 * entries whose name, hard link target or relative symlink target would
 * lead out of DEST are refused (the whole extraction fails).
 *
 * A gzip, bzip2 or xz (or zstd, where zstdcat exists) stream is
 * decompressed on the way, as Docker's Untar does for ADD of an archive.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "pathset.h"
#include "rfs.h"
#include "tar.h"
#include "taropts.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"

struct dir_time {
	char *path;
	int64_t mtime;
};

struct extractor {
	int dest_fd;
	const char *dest; /* for messages */
	const struct tar_options *o;
	struct tar_reader *rd;
	struct pathset unpacked;
	struct dir_time *dirs;
	size_t n_dirs, cap_dirs;
};

static int breakout(struct error *err, const char *what, const char *name, const char *dest)
{
	return error_setx(err, EXDEV, "%s \"%s\" is outside of \"%s\"", what, name, dest);
}

/* The parent directory of the cleaned REL inside DEST, created (0755) if
 * missing, as Docker does for archives without directory entries. */
static int open_parent(struct extractor *x, const char *rel, int *fd, const char **base,
		       struct error *err)
{
	const char *slash = strrchr(rel, '/');
	_cleanup_free_ char *parent = slash ? strndup(rel, (size_t)(slash - rel)) : strdup(".");
	if (!parent)
		return error_set(err, ENOMEM, "extract");
	*base = slash ? slash + 1 : rel;
	int pfd = rfs_open_in_root(x->dest_fd, parent, O_PATH | O_DIRECTORY, 0);
	if (pfd == -ENOENT) {
		int r = rfs_mkdir_all(x->dest_fd, parent, 0755, err);
		if (r < 0)
			return r;
		pfd = rfs_open_in_root(x->dest_fd, parent, O_PATH | O_DIRECTORY, 0);
	}
	if (pfd < 0)
		return rfs_fail(err, -pfd, "open", parent);
	*fd = pfd;
	return 0;
}

/* Delete what is below DIR_FD (REL inside DEST) that this archive did not
 * unpack: the subtree of an opaque directory is exactly the layer's. */
static int prune(struct extractor *x, int dir_fd, const char *rel, int depth, struct error *err)
{
	char **names;
	size_t count;
	if (depth > 512)
		return rfs_fail(err, ENAMETOOLONG, "open", rel);
	int r = rfs_list_dir(dir_fd, &names, &count);
	if (r < 0)
		return rfs_fail(err, -r, "readdirent", rel);
	for (size_t i = 0; i < count && r >= 0; i++) {
		_cleanup_free_ char *child = NULL;
		if (strcmp(rel, ".") == 0)
			child = strdup(names[i]);
		else if (asprintf(&child, "%s/%s", rel, names[i]) < 0)
			child = NULL;
		if (!child) {
			r = error_set(err, ENOMEM, "extract");
			break;
		}
		if (!pathset_has(&x->unpacked, child)) {
			r = rfs_remove_tree(dir_fd, names[i], err);
			continue;
		}
		int fd = openat(dir_fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* not a directory: nothing below */
		r = prune(x, fd, child, depth + 1, err);
		close(fd);
	}
	rfs_free_names(names, count);
	return r;
}

static int apply_whiteout(struct extractor *x, const struct tar_entry *e, const char *rel,
			  const char *base, struct error *err)
{
	const char *slash = strrchr(rel, '/');
	_cleanup_free_ char *parent = slash ? strndup(rel, (size_t)(slash - rel)) : strdup(".");
	if (!parent)
		return error_set(err, ENOMEM, "extract");
	bool opaque = strcmp(base, WHITEOUT_OPAQUE) == 0;
	if (!opaque && strncmp(base, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)) == 0)
		return 0; /* aufs bookkeeping (.wh..wh.plnk, ...): not content */
	const char *target = base + strlen(WHITEOUT_PREFIX);
	if (!opaque && (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0))
		return error_setx(err, EINVAL, "invalid whiteout \"%s\"", e->name);

	if (x->o->whiteout_format == WHITEOUT_AUFS) {
		/* Deletions: in a directory that does not exist there is
		 * nothing to delete. */
		int fd = rfs_open_in_root(x->dest_fd, parent, O_RDONLY | O_DIRECTORY, 0);
		if (fd == -ENOENT || fd == -ENOTDIR)
			return 0;
		if (fd < 0)
			return rfs_fail(err, -fd, "open", parent);
		_cleanup_close_ int dir_fd = fd;
		if (opaque)
			return prune(x, dir_fd, parent, 0, err);
		return rfs_remove_tree(dir_fd, target, err);
	}

	/* Overlay form, for an upper directory. */
	int pfd;
	const char *b;
	int r = open_parent(x, rel, &pfd, &b, err);
	if (r < 0)
		return r;
	_cleanup_close_ int parent_fd = pfd;
	if (opaque) {
		int fd = openat(parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return rfs_fail(err, errno, "open", parent);
		_cleanup_close_ int dir_fd = fd;
		if (fsetxattr(dir_fd, OPAQUE_XATTR, "y", 1, 0) < 0)
			return rfs_fail(err, errno, "setxattr", parent);
		return 0;
	}
	r = rfs_remove_tree(parent_fd, target, err);
	if (r < 0)
		return r;
	if (mknodat(parent_fd, target, S_IFCHR, makedev(0, 0)) < 0)
		return rfs_fail(err, errno, "mknod", rel);
	if (!x->o->no_lchown) {
		uint64_t uid, gid;
		if (idmap_to_host(x->o->uid_maps, x->o->n_uid_maps, e->uid, &uid) < 0 ||
		    idmap_to_host(x->o->gid_maps, x->o->n_gid_maps, e->gid, &gid) < 0)
			return error_setx(err, EINVAL, "%s: ids cannot be mapped", e->name);
		if (fchownat(parent_fd, target, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0)
			return rfs_fail(err, errno, "lchown", rel);
	}
	return 0;
}

static int write_data(struct extractor *x, int fd, const char *rel, struct error *err)
{
	char buf[65536];
	for (;;) {
		ssize_t n = tar_read_data(x->rd, buf, sizeof(buf), err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		int r = rfs_write_all(fd, buf, (size_t)n);
		if (r < 0)
			return rfs_fail(err, -r, "write", rel);
	}
}

/* Owner, mode, xattrs and (except for directories, done at the end) the
 * time, in Docker's order: chown clears setuid, so chmod comes after. */
static int set_metadata(struct extractor *x, const struct tar_entry *e, int parent_fd,
			const char *base, int fd, const char *rel, struct error *err)
{
	if (!x->o->no_lchown) {
		uint64_t uid = e->uid, gid = e->gid;
		if (x->o->has_chown) {
			uid = (uint64_t)x->o->chown_uid;
			gid = (uint64_t)x->o->chown_gid;
		} else if (idmap_to_host(x->o->uid_maps, x->o->n_uid_maps, e->uid, &uid) < 0 ||
			   idmap_to_host(x->o->gid_maps, x->o->n_gid_maps, e->gid, &gid) < 0) {
			return error_setx(err, EINVAL, "%s: ids %llu:%llu cannot be mapped", e->name,
					  (unsigned long long)e->uid, (unsigned long long)e->gid);
		}
		int r = fd >= 0 ? fchown(fd, (uid_t)uid, (gid_t)gid)
				: fchownat(parent_fd, base, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return rfs_fail(err, errno, "lchown", rel);
	}
	if (e->type != TAR_SYMLINK) {
		int r = fd >= 0 ? (fchmod(fd, e->mode) < 0 ? -errno : 0)
				: rfs_chmod_nofollow(parent_fd, base, e->mode);
		if (r < 0)
			return rfs_fail(err, -r, "chmod", rel);
	}
	for (size_t i = 0; i < e->n_xattrs && fd >= 0; i++) {
		const struct tar_xattr *xa = &e->xattrs[i];
		/* Overlay's own attributes only ever come from whiteouts. */
		if (strncmp(xa->name, "trusted.overlay.", 16) == 0)
			continue;
		if (fsetxattr(fd, xa->name, xa->value, xa->len, 0) < 0 && errno != ENOTSUP &&
		    errno != EPERM)
			return rfs_fail(err, errno, "setxattr", rel);
	}
	if (e->type == TAR_DIR)
		return 0;
	struct timespec ts[2] = { { e->mtime, 0 }, { e->mtime, 0 } };
	int r = fd >= 0 ? futimens(fd, ts) : utimensat(parent_fd, base, ts, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return rfs_fail(err, errno, "chtimes", rel);
	return 0;
}

static int extract_one(struct extractor *x, struct tar_entry *e, struct error *err)
{
	bool escapes;
	_cleanup_free_ char *rel = rfs_clean_rel(e->name, &escapes);
	if (!rel)
		return error_set(err, ENOMEM, "extract");
	if (escapes)
		return breakout(err, "entry", e->name, x->dest);
	if (strcmp(rel, ".") == 0) {
		if (e->type == TAR_DIR)
			return 0; /* DEST itself */
		return error_setx(err, EINVAL, "entry \"%s\" names the destination", e->name);
	}
	const char *base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
		return apply_whiteout(x, e, rel, base, err);

	/* Checked before anything is created. */
	_cleanup_free_ char *link_rel = NULL;
	if (e->type == TAR_LINK) {
		link_rel = rfs_clean_rel(e->linkname, &escapes);
		if (!link_rel)
			return error_set(err, ENOMEM, "extract");
		if (escapes || strcmp(link_rel, ".") == 0)
			return breakout(err, "hard link target", e->linkname, x->dest);
	} else if (e->type == TAR_SYMLINK && e->linkname[0] != '/') {
		/* Relative to the link's directory, it must stay inside:
		 * Docker refuses such links ("invalid symlink"). */
		_cleanup_free_ char *joined = NULL;
		const char *slash = strrchr(rel, '/');
		if (asprintf(&joined, "%.*s/%s", slash ? (int)(slash - rel) : 0, rel,
			     e->linkname) < 0)
			return error_set(err, ENOMEM, "extract");
		_cleanup_free_ char *c = rfs_clean_rel(joined, &escapes);
		if (!c)
			return error_set(err, ENOMEM, "extract");
		if (escapes)
			return breakout(err, "symlink target", e->linkname, x->dest);
	}

	int pfd;
	const char *b;
	int r = open_parent(x, rel, &pfd, &b, err);
	if (r < 0)
		return r;
	_cleanup_close_ int parent_fd = pfd;

	struct stat st;
	if (fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		bool was_dir = S_ISDIR(st.st_mode), is_dir = e->type == TAR_DIR;
		if (x->o->no_overwrite_dir_non_dir && was_dir && !is_dir)
			return error_setx(err, RFS_E_PLAIN, "cannot overwrite directory \"%s\" with non-directory \"%s\"",
					  rel, e->name);
		if (x->o->no_overwrite_dir_non_dir && !was_dir && is_dir)
			return error_setx(err, RFS_E_PLAIN, "cannot overwrite non-directory \"%s\" with directory \"%s\"",
					  rel, e->name);
		if (!(was_dir && is_dir) && (r = rfs_remove_tree(parent_fd, base, err)) < 0)
			return r;
	} else if (errno != ENOENT) {
		return rfs_fail(err, errno, "lstat", rel);
	}

	_cleanup_close_ int fd = -1;
	switch (e->type) {
	case TAR_DIR:
		if (mkdirat(parent_fd, base, 0700) < 0 && errno != EEXIST)
			return rfs_fail(err, errno, "mkdir", rel);
		fd = openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return rfs_fail(err, errno, "open", rel);
		break;
	case TAR_REG:
		fd = openat(parent_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0)
			return rfs_fail(err, errno, "open", rel);
		if ((r = write_data(x, fd, rel, err)) < 0)
			return r;
		break;
	case TAR_LINK: {
		int tfd;
		_cleanup_free_ char *tbuf = NULL;
		const char *tname;
		r = rfs_resolve_parent(x->dest_fd, link_rel, false, &tfd, &tbuf, &tname);
		if (r < 0)
			return rfs_fail(err, -r, "link", e->linkname);
		_cleanup_close_ int target_dir = tfd;
		if (linkat(target_dir, tname, parent_fd, base, 0) < 0)
			return rfs_fail(err, errno, "link", rel);
		break;
	}
	case TAR_SYMLINK:
		if (symlinkat(e->linkname, parent_fd, base) < 0)
			return rfs_fail(err, errno, "symlink", rel);
		break;
	case TAR_CHR:
	case TAR_BLK:
	case TAR_FIFO: {
		mode_t type = e->type == TAR_CHR ? S_IFCHR : e->type == TAR_BLK ? S_IFBLK : S_IFIFO;
		if (mknodat(parent_fd, base, type | 0600, makedev(e->devmajor, e->devminor)) < 0)
			return rfs_fail(err, errno, "mknod", rel);
		break;
	}
	default:
		return error_setx(err, EOPNOTSUPP, "%s: unhandled entry type '%c'", e->name, e->type);
	}

	if (pathset_add(&x->unpacked, rel, NULL) < 0)
		return error_set(err, ENOMEM, "extract");
	/* A hard link shares the target's inode and metadata. */
	if (e->type == TAR_LINK)
		return 0;
	r = set_metadata(x, e, parent_fd, base, e->type == TAR_REG || e->type == TAR_DIR ? fd : -1,
			 rel, err);
	if (r < 0)
		return r;
	if (e->type == TAR_DIR) {
		if (x->n_dirs == x->cap_dirs) {
			size_t cap = x->cap_dirs ? x->cap_dirs * 2 : 64;
			struct dir_time *d = realloc(x->dirs, cap * sizeof(*d));
			if (!d)
				return error_set(err, ENOMEM, "extract");
			x->dirs = d;
			x->cap_dirs = cap;
		}
		x->dirs[x->n_dirs] = (struct dir_time){ TAKE_PTR(rel), e->mtime };
		x->n_dirs++;
	}
	return 0;
}

/* Directory times last: creating their entries changed them. */
static int set_dir_times(struct extractor *x, struct error *err)
{
	for (size_t i = 0; i < x->n_dirs; i++) {
		int dfd;
		_cleanup_free_ char *buf = NULL;
		const char *name;
		if (rfs_resolve_parent(x->dest_fd, x->dirs[i].path, false, &dfd, &buf, &name) < 0)
			continue; /* deleted by a later whiteout */
		_cleanup_close_ int dir_fd = dfd;
		struct timespec ts[2] = { { x->dirs[i].mtime, 0 }, { x->dirs[i].mtime, 0 } };
		if (utimensat(dir_fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			return rfs_fail(err, errno, "chtimes", x->dirs[i].path);
	}
	return 0;
}

/* Compressed input, as Docker's DecompressStream detects it, and the
 * program that undoes it (busybox provides these in the VM). */
static const char *const *decompressor(struct tar_reader *rd)
{
	static const char *const gz[] = { "zcat", NULL };
	static const char *const bz2[] = { "bzcat", NULL };
	static const char *const xz[] = { "xzcat", NULL };
	static const char *const zst[] = { "zstdcat", NULL };
	static const struct {
		const char *magic;
		size_t len;
		const char *const *argv;
	} magics[] = {
		{ "\x1f\x8b\x08", 3, gz },
		{ "BZh", 3, bz2 },
		{ "\xfd" "7zXZ\0", 6, xz },
		{ "\x28\xb5\x2f\xfd", 4, zst },
	};
	const unsigned char *p;
	ssize_t n = tar_peek(rd, 6, &p);
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (n >= (ssize_t)magics[i].len && memcmp(p, magics[i].magic, magics[i].len) == 0)
			return magics[i].argv;
	return NULL;
}

struct pipeline {
	pid_t feeder, filter;
	int out_fd;
};

/* stdin (what rd already buffered, then the rest) -> ARGV -> out_fd.  Two
 * children, no threads: a feeder copying into the filter's stdin, and the
 * filter.  In the children: _exit, 127 when exec fails. */
static int start_pipeline(struct tar_reader *rd, const char *const *argv, struct pipeline *pl,
			  struct error *err)
{
	int to_filter[2], from_filter[2];
	if (pipe2(to_filter, O_CLOEXEC) < 0)
		return error_set(err, errno, "decompress: pipe");
	if (pipe2(from_filter, O_CLOEXEC) < 0) {
		int r = error_set(err, errno, "decompress: pipe");
		close(to_filter[0]);
		close(to_filter[1]);
		return r;
	}
	pl->filter = fork();
	if (pl->filter == 0) {
		/* Its complaints must not mix with our JSON on stderr. */
		int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (dup2(to_filter[0], 0) < 0 || dup2(from_filter[1], 1) < 0 ||
		    (null_fd >= 0 && dup2(null_fd, 2) < 0))
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pl->filter > 0)
		pl->feeder = fork();
	if (pl->filter > 0 && pl->feeder == 0) {
		close(to_filter[0]);
		close(from_filter[0]);
		close(from_filter[1]);
		const unsigned char *p;
		for (;;) {
			ssize_t n = tar_peek(rd, sizeof(rd->buf), &p);
			if (n <= 0)
				_exit(n < 0 ? 1 : 0);
			if (rfs_write_all(to_filter[1], p, (size_t)n) < 0)
				_exit(1);
			rd->off += (size_t)n;
		}
	}
	int fork_errno = errno;
	close(to_filter[0]);
	close(to_filter[1]);
	close(from_filter[1]);
	if (pl->filter < 0 || pl->feeder < 0) {
		close(from_filter[0]);
		if (pl->filter > 0) {
			kill(pl->filter, SIGKILL);
			waitpid(pl->filter, NULL, 0);
		}
		return error_set(err, fork_errno, "decompress: fork");
	}
	pl->out_fd = from_filter[0];
	return 0;
}

/* Reap both; the filter's verdict counts when nothing else failed. */
static int stop_pipeline(struct pipeline *pl, const char *prog, bool failed, struct error *err)
{
	int st_filter = 0, st_feeder = 0;
	if (failed) {
		/* The host may still be writing: do not wait for its EOF. */
		kill(pl->feeder, SIGKILL);
		kill(pl->filter, SIGKILL);
	}
	close(pl->out_fd);
	while (waitpid(pl->filter, &st_filter, 0) < 0 && errno == EINTR)
		;
	while (waitpid(pl->feeder, &st_feeder, 0) < 0 && errno == EINTR)
		;
	if (failed)
		return 0;
	if (WIFEXITED(st_filter) && WEXITSTATUS(st_filter) == 127)
		return error_setx(err, ENOENT, "decompress: %s not found", prog);
	if (!WIFEXITED(st_filter) || WEXITSTATUS(st_filter) != 0)
		return error_setx(err, EIO, "decompress: %s failed", prog);
	if (!WIFEXITED(st_feeder) || WEXITSTATUS(st_feeder) != 0)
		return error_setx(err, EIO, "decompress: reading the input failed");
	return 0;
}

static int extract_stream(struct extractor *x, struct error *err)
{
	int r;
	for (;;) {
		struct tar_entry e;
		r = tar_next(x->rd, &e, err);
		if (r <= 0)
			break;
		/* Its messages name the entry. */
		r = extract_one(x, &e, err);
		tar_entry_free(&e);
		if (r < 0)
			break;
	}
	if (r >= 0)
		r = set_dir_times(x, err);
	/* Read what follows the end of the archive (a writer's padding to
	 * its record size), so the writer never sees its pipe closed early. */
	if (r >= 0) {
		const unsigned char *p;
		while (tar_peek(x->rd, sizeof(x->rd->buf), &p) > 0)
			x->rd->off = x->rd->len;
	}
	return r;
}

int rfs_cmd_extractarchive(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_free_ struct tar_reader *rd = malloc(sizeof(*rd));
	_cleanup_free_ struct tar_reader *plain = NULL;
	if (!rd)
		return error_set(err, ENOMEM, "extract");
	tar_reader_init(rd, ctx->in_fd);
	struct tar_options o;
	int r = tar_options_read(rd, &o, err);
	if (r < 0)
		return r;

	struct extractor x = { .dest = argv[0], .o = &o, .rd = rd, .dest_fd = -1 };
	int fd = rfs_open_in_root(ctx->root_fd, argv[0], O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		r = rfs_fail(err, -fd, "open", argv[0]);
		goto out;
	}
	x.dest_fd = fd;

	const char *const *filter = decompressor(rd);
	if (!filter) {
		r = extract_stream(&x, err);
		goto out;
	}
	struct pipeline pl = { .feeder = -1, .filter = -1, .out_fd = -1 };
	if (!(plain = malloc(sizeof(*plain)))) {
		r = error_set(err, ENOMEM, "extract");
		goto out;
	}
	r = start_pipeline(rd, filter, &pl, err);
	if (r < 0)
		goto out;
	tar_reader_init(plain, pl.out_fd);
	x.rd = plain;
	r = extract_stream(&x, err);
	int r2 = stop_pipeline(&pl, filter[0], r < 0, err);
	if (r >= 0)
		r = r2;
out:
	if (x.dest_fd >= 0)
		close(x.dest_fd);
	for (size_t i = 0; i < x.n_dirs; i++)
		free(x.dirs[i].path);
	free(x.dirs);
	pathset_free(&x.unpacked);
	tar_options_free(&o);
	return r < 0 ? error_prefix(err, r, "extract to %s", argv[0]) : 0;
}
