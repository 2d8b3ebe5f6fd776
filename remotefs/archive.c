/* SPDX-License-Identifier: MIT */
/*
 * archivepath SRC: a tar stream of the directory SRC on stdout, after the
 * tar options on stdin (taropts.h), the way Docker's archive.TarWithOptions
 * writes it: entries relative to SRC in lexical order, directories with a
 * trailing '/', hard links as links to the first name, no sockets.  With
 * WhiteoutFormat 1 (overlay) an overlay upper directory becomes a layer:
 * a 0/0 character device NAME is written as an empty file ".wh.NAME", a
 * directory with trusted.overlay.opaque=y gets a ".wh..wh..opq" file.
 *
 * The tree is walked with one fd per directory level and no path is ever
 * looked up again: a symlink is archived as a symlink, and a directory
 * swapped for a symlink during the walk is not entered.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "pathset.h"
#include "rfs.h"
#include "tar.h"
#include "taropts.h"

#define MAX_DEPTH 512
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define CAPABILITY_XATTR "security.capability"
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

struct pattern {
	char *text;
	bool exclusion;
	bool any_depth; /* has "**": '*' may match '/' */
	size_t dirs;	/* number of components */
};

struct hardlink {
	dev_t dev;
	ino_t ino;
};

struct archiver {
	struct tar_writer *tw;
	const struct tar_options *o;
	struct pattern *patterns;
	size_t n_patterns;
	bool has_exclusions;
	struct pathset seen;	  /* names already written */
	struct pathset links;	  /* "dev:ino" -> first name (malloc'd) */
	const char *include;	  /* the IncludeFiles entry being walked */
	const char *rebase;	  /* its RebaseNames value, or NULL */
};

static size_t count_dirs(const char *p)
{
	size_t n = 1;
	for (; *p; p++)
		if (*p == '/')
			n++;
	return n;
}

static int compile_patterns(struct archiver *a, struct error *err)
{
	const struct tar_options *o = a->o;
	a->patterns = calloc(o->n_exclude_patterns ? o->n_exclude_patterns : 1, sizeof(*a->patterns));
	if (!a->patterns)
		return error_set(err, ENOMEM, "exclude patterns");
	for (size_t i = 0; i < o->n_exclude_patterns; i++) {
		const char *p = o->exclude_patterns[i];
		bool excl = false;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			continue;
		if (*p == '!') {
			excl = true;
			p++;
			if (!*p)
				return error_setx(err, RFS_E_PLAIN, "illegal exclusion pattern: \"!\"");
		}
		char *clean = rfs_clean_rel(p, NULL);
		if (!clean)
			return error_set(err, ENOMEM, "exclude patterns");
		struct pattern *pt = &a->patterns[a->n_patterns++];
		pt->text = clean;
		pt->exclusion = excl;
		pt->any_depth = strstr(clean, "**") != NULL;
		pt->dirs = count_dirs(clean);
		a->has_exclusions |= excl;
	}
	return 0;
}

static bool pattern_match(const struct pattern *pt, const char *path)
{
	return fnmatch(pt->text, path, pt->any_depth ? 0 : FNM_PATHNAME) == 0;
}

/* Docker's PatternMatcher.Matches: the last matching pattern decides; a
 * pattern also matches a file below a directory it matches. */
static bool excluded(const struct archiver *a, const char *rel)
{
	bool matched = false;
	size_t dirs = count_dirs(rel);
	for (size_t i = 0; i < a->n_patterns; i++) {
		const struct pattern *pt = &a->patterns[i];
		bool m = pattern_match(pt, rel);
		if (!m && dirs > 1 && pt->dirs < dirs) {
			/* The first pt->dirs components of rel. */
			_cleanup_free_ char *prefix = strdup(rel);
			if (prefix) {
				size_t seen = 0;
				for (char *c = prefix; *c; c++)
					if (*c == '/' && ++seen == pt->dirs) {
						*c = '\0';
						break;
					}
				m = pattern_match(pt, prefix);
			}
		}
		if (m)
			matched = !pt->exclusion;
	}
	return matched;
}

/* The name in the archive: REL with the include's RebaseNames prefix
 * replaced, '/' appended for directories. */
static char *tar_name(const struct archiver *a, const char *rel, bool dir)
{
	const char *tail = rel;
	const char *head = "";
	if (a->rebase && strncmp(rel, a->include, strlen(a->include)) == 0) {
		/* Docker special-cases "/" as the empty replacement. */
		head = strcmp(a->rebase, "/") == 0 ? "" : a->rebase;
		tail = rel + strlen(a->include);
		if (!*head && *tail == '/')
			tail++;
	}
	char *name;
	if (asprintf(&name, "%s%s%s", head, tail, dir ? "/" : "") < 0)
		return NULL;
	return name;
}

static int map_ids(const struct archiver *a, const struct stat *st, struct tar_entry *e,
		   struct error *err)
{
	if (a->o->has_chown) {
		e->uid = (uint64_t)a->o->chown_uid;
		e->gid = (uint64_t)a->o->chown_gid;
		return 0;
	}
	if (idmap_to_container(a->o->uid_maps, a->o->n_uid_maps, st->st_uid, &e->uid) < 0)
		return error_setx(err, EINVAL, "Container ID %u cannot be mapped to a host ID",
				  (unsigned)st->st_uid);
	if (idmap_to_container(a->o->gid_maps, a->o->n_gid_maps, st->st_gid, &e->gid) < 0)
		return error_setx(err, EINVAL, "Container ID %u cannot be mapped to a host ID",
				  (unsigned)st->st_gid);
	return 0;
}

static int add_capability(struct tar_entry *e, int fd, struct error *err)
{
	char value[256];
	ssize_t n = fgetxattr(fd, CAPABILITY_XATTR, value, sizeof(value));
	if (n < 0)
		return 0; /* none (or unsupported): nothing to carry */
	if (tar_entry_add_xattr(e, CAPABILITY_XATTR, value, (size_t)n) < 0)
		return error_set(err, ENOMEM, "xattrs");
	return 0;
}

/* Exactly `size` bytes of the file: a file that shrank meanwhile is padded
 * with zeros, one that grew is cut, so the stream stays a valid tar. */
static int copy_file(struct tar_writer *tw, int fd, uint64_t size, const char *rel,
		     struct error *err)
{
	char buf[65536];
	uint64_t left = size;
	while (left > 0) {
		size_t want = left > sizeof(buf) ? sizeof(buf) : (size_t)left;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rfs_fail(err, errno, "read", rel);
		if (n == 0) {
			memset(buf, 0, want);
			n = (ssize_t)want;
		}
		int r = tar_write_data(tw, buf, (size_t)n, err);
		if (r < 0)
			return r;
		left -= (uint64_t)n;
	}
	return tar_write_pad(tw, size, err);
}

static int walk(struct archiver *a, int dir_fd, const char *name, const char *rel, int depth,
		struct error *err);

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_children(struct archiver *a, int fd, const char *rel, int depth,
			 struct error *err)
{
	char **names;
	size_t count;
	int r = rfs_list_dir(fd, &names, &count);
	if (r < 0)
		return rfs_fail(err, -r, "readdirent", rel);
	/* Lexical order, as filepath.Walk. */
	if (count > 1)
		qsort(names, count, sizeof(*names), cmp_names);
	for (size_t i = 0; i < count && r >= 0; i++) {
		_cleanup_free_ char *child = NULL;
		if (strcmp(rel, ".") == 0)
			child = strdup(names[i]);
		else if (asprintf(&child, "%s/%s", rel, names[i]) < 0)
			child = NULL;
		if (!child) {
			r = error_set(err, ENOMEM, "archive");
			break;
		}
		r = walk(a, fd, names[i], child, depth + 1, err);
	}
	rfs_free_names(names, count);
	return r;
}

static int emit(struct archiver *a, struct tar_entry *e, const struct stat *st, int data_fd,
		const char *rel, struct error *err)
{
	int r = map_ids(a, st, e, err);
	if (r < 0)
		return r;
	r = tar_write_header(a->tw, e, err);
	if (r < 0)
		return error_prefix(err, r, "%s", rel);
	if (e->type == TAR_REG && e->size)
		return copy_file(a->tw, data_fd, e->size, rel, err);
	return 0;
}

/* One entry: NAME in DIR_FD ("" = DIR_FD itself), REL its path below SRC. */
static int walk(struct archiver *a, int dir_fd, const char *name, const char *rel, int depth,
		struct error *err)
{
	struct stat st;
	bool self = !*name;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW | (self ? AT_EMPTY_PATH : 0)) < 0) {
		if (errno == ENOENT)
			return 0; /* removed while we walk: as if never there */
		return rfs_fail(err, errno, "lstat", rel);
	}
	if (depth > MAX_DEPTH)
		return rfs_fail(err, ENAMETOOLONG, "lstat", rel);
	bool is_dir = S_ISDIR(st.st_mode);

	/* The source directory itself only with IncludeSourceDir. */
	bool skip_self = strcmp(rel, ".") == 0 && is_dir && !a->o->include_source_dir;
	if (!skip_self && strcmp(a->include, rel) != 0 && strcmp(rel, ".") != 0 && excluded(a, rel)) {
		if (!is_dir || !a->has_exclusions)
			return 0;
		/* A "!" pattern may re-include something below: look inside
		 * without writing the directory itself. */
		skip_self = true;
	}
	_cleanup_free_ char *shown = NULL;
	if (a->o->include_source_dir && strcmp(a->include, ".") == 0 && strcmp(rel, ".") != 0) {
		if (asprintf(&shown, "./%s", rel) < 0)
			return error_set(err, ENOMEM, "archive");
	}
	const char *arel = shown ? shown : rel;
	if (!skip_self) {
		int added = pathset_add(&a->seen, arel, NULL);
		if (added < 0)
			return error_set(err, ENOMEM, "archive");
		if (added == 0)
			return 0; /* already written by an earlier include */
	}

	_cleanup_(tar_entry_free) struct tar_entry e = { 0 };
	_cleanup_close_ int fd = -1;
	e.mode = st.st_mode & 07777;
	e.mtime = st.st_mtim.tv_sec;

	if (S_ISDIR(st.st_mode)) {
		fd = self ? openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
			  : openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat now;
		if (fd < 0 || fstat(fd, &now) < 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
			return 0; /* replaced while we walk: not entered */
		if (!skip_self) {
			e.type = TAR_DIR;
			if (!(e.name = tar_name(a, arel, true)))
				return error_set(err, ENOMEM, "archive");
			int r = add_capability(&e, fd, err);
			if (r < 0 || (r = emit(a, &e, &st, -1, rel, err)) < 0)
				return r;
			char opq[2];
			if (a->o->whiteout_format == WHITEOUT_OVERLAY &&
			    fgetxattr(fd, OPAQUE_XATTR, opq, sizeof(opq)) == 1 && opq[0] == 'y') {
				struct tar_entry wo = { .type = TAR_REG, .mode = st.st_mode & 0777,
							.mtime = st.st_mtim.tv_sec };
				if (asprintf(&wo.name, "%s" WHITEOUT_OPAQUE, e.name) < 0)
					return error_set(err, ENOMEM, "archive");
				r = emit(a, &wo, &st, -1, rel, err);
				tar_entry_free(&wo);
				if (r < 0)
					return r;
			}
		}
		return walk_children(a, fd, rel, depth, err);
	}

	if (S_ISSOCK(st.st_mode))
		return 0; /* tar has no sockets; Docker leaves them out too */
	if (!(e.name = tar_name(a, arel, false)))
		return error_set(err, ENOMEM, "archive");

	if (S_ISREG(st.st_mode)) {
		fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat now;
		if (fd < 0 && errno == ENOENT)
			return 0;
		if (fd < 0)
			return rfs_fail(err, errno, "open", rel);
		if (fstat(fd, &now) < 0)
			return rfs_fail(err, errno, "stat", rel);
		if (!S_ISREG(now.st_mode) || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
			return 0; /* replaced while we walk */
		st = now;
		e.mode = st.st_mode & 07777;
		e.type = TAR_REG;
		e.size = (uint64_t)st.st_size;
		if (st.st_nlink > 1) {
			char key[64];
			snprintf(key, sizeof(key), "%llx:%llx", (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
			const char *first = pathset_get(&a->links, key);
			if (first) {
				e.type = TAR_LINK;
				e.size = 0;
				if (!(e.linkname = strdup(first)))
					return error_set(err, ENOMEM, "archive");
			} else {
				char *copy = strdup(e.name);
				int added = copy ? pathset_add(&a->links, key, copy) : -ENOMEM;
				if (added <= 0) {
					free(copy);
					if (added < 0)
						return error_set(err, ENOMEM, "archive");
				}
			}
		}
		int r = add_capability(&e, fd, err);
		return r < 0 ? r : emit(a, &e, &st, fd, rel, err);
	}

	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dir_fd, name, target, sizeof(target));
		if (n < 0 && errno == ENOENT)
			return 0;
		if (n < 0)
			return rfs_fail(err, errno, "readlink", rel);
		if ((size_t)n >= sizeof(target))
			return rfs_fail(err, ENAMETOOLONG, "readlink", rel);
		e.type = TAR_SYMLINK;
		if (!(e.linkname = strndup(target, (size_t)n)))
			return error_set(err, ENOMEM, "archive");
		return emit(a, &e, &st, -1, rel, err);
	}

	if (S_ISCHR(st.st_mode) && st.st_rdev == 0 && a->o->whiteout_format == WHITEOUT_OVERLAY) {
		/* An overlay whiteout: the layer says "NAME was deleted". */
		char *slash = strrchr(e.name, '/');
		char *wo;
		if (asprintf(&wo, "%.*s" WHITEOUT_PREFIX "%s", slash ? (int)(slash - e.name + 1) : 0,
			     e.name, slash ? slash + 1 : e.name) < 0)
			return error_set(err, ENOMEM, "archive");
		free(e.name);
		e.name = wo;
		e.type = TAR_REG;
		e.mode = 0600;
		return emit(a, &e, &st, -1, rel, err);
	}

	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		e.type = S_ISCHR(st.st_mode) ? TAR_CHR : TAR_BLK;
		e.devmajor = major(st.st_rdev);
		e.devminor = minor(st.st_rdev);
	} else {
		e.type = TAR_FIFO;
	}
	return emit(a, &e, &st, -1, rel, err);
}

static void free_links(struct pathset *links)
{
	for (size_t i = 0; i < links->cap; i++)
		if (links->slots[i])
			free(links->values[i]);
	pathset_free(links);
}

int rfs_cmd_archivepath(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	_cleanup_free_ struct tar_reader *rd = malloc(sizeof(*rd));
	_cleanup_free_ struct tar_writer *tw = malloc(sizeof(*tw));
	if (!rd || !tw)
		return error_set(err, ENOMEM, "archive");
	tar_reader_init(rd, ctx->in_fd);
	tar_writer_init(tw, ctx->out_fd);

	struct tar_options o;
	_cleanup_close_ int src_fd = -1;
	int r = tar_options_read(rd, &o, err);
	if (r < 0)
		return r;
	struct archiver a = { .tw = tw, .o = &o };
	if (o.compression != 0) {
		r = error_setx(err, EOPNOTSUPP, "archive %s: compression %lld is not supported",
			       argv[0], (long long)o.compression);
		goto out;
	}
	if ((r = compile_patterns(&a, err)) < 0)
		goto out;

	src_fd = rfs_open_in_root(ctx->root_fd, argv[0], O_RDONLY | O_DIRECTORY, 0);
	if (src_fd < 0) {
		r = rfs_fail(err, -src_fd, "open", argv[0]);
		goto out;
	}

	static char *const dot[] = { "." };
	char *const *includes = o.n_include_files ? o.include_files : dot;
	size_t n_includes = o.n_include_files ? o.n_include_files : 1;
	for (size_t i = 0; i < n_includes && r >= 0; i++) {
		_cleanup_free_ char *inc = rfs_clean_rel(includes[i], NULL);
		if (!inc) {
			r = error_set(err, ENOMEM, "archive");
			break;
		}
		a.include = inc;
		a.rebase = NULL;
		for (size_t k = 0; k < o.n_rebase; k++)
			if (strcmp(o.rebase_from[k], includes[i]) == 0 ||
			    strcmp(o.rebase_from[k], inc) == 0)
				a.rebase = o.rebase_to[k];
		if (strcmp(inc, ".") == 0) {
			r = walk(&a, src_fd, "", ".", 0, err);
			continue;
		}
		/* Resolved with SRC as the root: an include cannot leave it. */
		int pfd;
		_cleanup_free_ char *buf = NULL;
		const char *name;
		r = rfs_resolve_parent(src_fd, inc, false, &pfd, &buf, &name);
		if (r == -ENOENT || r == -ENOTDIR) {
			r = 0; /* Docker logs and skips an include it cannot stat */
			continue;
		}
		if (r < 0) {
			r = rfs_fail(err, -r, "lstat", includes[i]);
			break;
		}
		_cleanup_close_ int parent_fd = pfd;
		r = walk(&a, parent_fd, name, inc, 0, err);
	}
	if (r >= 0)
		r = tar_write_end(tw, err);
	else
		tar_flush(tw, NULL);
out:
	for (size_t i = 0; i < a.n_patterns; i++)
		free(a.patterns[i].text);
	free(a.patterns);
	pathset_free(&a.seen);
	free_links(&a.links);
	tar_options_free(&o);
	return r < 0 ? error_prefix(err, r, "archive %s", argv[0]) : 0;
}
