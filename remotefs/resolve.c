/* SPDX-License-Identifier: MIT */
/*
 * Path resolution confined to a root.  Everything goes through openat2()
 * with RESOLVE_IN_ROOT: the kernel resolves the whole path atomically with
 * the root as "/", so neither ".." nor a symlink (absolute or relative, or
 * one swapped in concurrently) can lead out of it.  Operations then act on
 * the returned directory fd and a single name, never on a path again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "rfs.h"

/* A rename anywhere on the system can make openat2 give up with EAGAIN
 * while it resolves ".."; retrying is what the kernel asks for. */
#define OPENAT2_RETRIES 128
/* Symlinks followed by rfs_resolve_scoped(), as Docker's limit. */
#define MAX_SCOPED_LINKS 255
/* Directory depth rfs_remove_tree() descends (one fd per level). */
#define MAX_TREE_DEPTH 512

int rfs_open_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
		/* openat2 rejects a mode without O_CREAT / O_TMPFILE. */
		.mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	for (int i = 0; i < OPENAT2_RETRIES; i++) {
		long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
}

/* Every component is empty, "." or "..": under RESOLVE_IN_ROOT the path
 * names the root itself. */
static bool names_root(const char *p)
{
	while (*p) {
		while (*p == '/')
			p++;
		const char *c = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - c);
		if (n > 2 || (n == 1 && c[0] != '.') || (n == 2 && (c[0] != '.' || c[1] != '.')))
			return false;
	}
	return true;
}

int rfs_resolve_parent(int root_fd, const char *path, bool allow_root, int *dir_fd, char **buf,
		       const char **name)
{
	*dir_fd = -1;
	*buf = NULL;
	*name = NULL;
	if (!*path)
		return -ENOENT; /* as open("") */
	if (names_root(path))
		return allow_root ? 0 : -EINVAL;

	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	char *slash = strrchr(p, '/');
	const char *last = slash ? slash + 1 : p;
	if (strcmp(last, ".") == 0 || strcmp(last, "..") == 0)
		return -EINVAL;
	const char *parent = ".";
	if (slash == p) {
		parent = "/";
	} else if (slash) {
		*slash = '\0';
		parent = p;
	}
	int fd = rfs_open_in_root(root_fd, parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	*dir_fd = fd;
	*name = last;
	*buf = TAKE_PTR(p);
	return 0;
}

int rfs_mkdir_all(int root_fd, const char *path, mode_t mode, struct error *err)
{
	if (!*path)
		return rfs_fail(err, ENOENT, "mkdir", path);
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return error_set(err, ENOMEM, "mkdir %s", path);

	/* Each prefix in turn, always resolved from the root, so symlinks
	 * met on the way are followed the way the root sees them. */
	size_t len = strlen(p);
	for (size_t i = 1; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		char saved = p[i];
		p[i] = '\0';
		int fd = rfs_open_in_root(root_fd, p, O_PATH | O_DIRECTORY, 0);
		if (fd == -ENOENT) {
			int dfd;
			_cleanup_free_ char *buf = NULL;
			const char *name;
			int r = rfs_resolve_parent(root_fd, p, true, &dfd, &buf, &name);
			if (r < 0)
				return rfs_fail(err, -r, "mkdir", p);
			_cleanup_close_ int dir_fd = dfd;
			int mk = name ? mkdirat(dir_fd, name, mode) : 0;
			int mk_errno = mk < 0 ? errno : 0;
			fd = rfs_open_in_root(root_fd, p, O_PATH | O_DIRECTORY, 0);
			/* Lost a race to another mkdir: fine if it is a directory. */
			if (fd < 0 && mk_errno)
				return rfs_fail(err, mk_errno, "mkdir", p);
		}
		if (fd < 0)
			return rfs_fail(err, -fd, "mkdir", p);
		close(fd);
		p[i] = saved;
	}
	return 0;
}

int rfs_list_dir(int fd, char ***names, size_t *count)
{
	*names = NULL;
	*count = 0;
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return -errno;
	DIR *d = fdopendir(dup_fd);
	if (!d) {
		int r = -errno;
		close(dup_fd);
		return r;
	}
	_cleanup_closedir_ DIR *dir = d;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(dir);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!(v[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (r < 0) {
		while (n)
			free(v[--n]);
		free(v);
		return r;
	}
	*names = v;
	*count = n;
	return 0;
}

void rfs_free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int remove_tree(int dir_fd, const char *name, int depth, struct error *err)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
			return 0;
		int unlink_errno = errno;
		if (unlink_errno != EISDIR && unlink_errno != EPERM)
			return rfs_fail(err, unlink_errno, "unlinkat", name);
		if (depth >= MAX_TREE_DEPTH)
			return rfs_fail(err, ENAMETOOLONG, "unlinkat", name);

		/* O_NOFOLLOW: if a symlink was swapped in for the directory
		 * it is only unlinked, on the next round. */
		int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				return 0;
			/* Not a directory (any more): EISDIR meant it was one a
			 * moment ago, so try again; EPERM was the real answer. */
			if ((errno == ENOTDIR || errno == ELOOP) && unlink_errno == EISDIR)
				continue;
			if (errno == ENOTDIR || errno == ELOOP)
				return rfs_fail(err, unlink_errno, "unlinkat", name);
			return rfs_fail(err, errno, "open", name);
		}
		_cleanup_close_ int sub = fd;
		char **names;
		size_t count;
		int r = rfs_list_dir(sub, &names, &count);
		if (r < 0)
			return rfs_fail(err, -r, "readdirent", name);
		for (size_t i = 0; i < count && r >= 0; i++)
			r = remove_tree(sub, names[i], depth + 1, err);
		rfs_free_names(names, count);
		if (r < 0)
			return error_prefix(err, r, "%s", name);
		if (unlinkat(dir_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		/* Entries appeared meanwhile, or the name is no longer this
		 * directory (renamed over): go round again. */
		if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOTDIR)
			return rfs_fail(err, errno, "unlinkat", name);
	}
	return rfs_fail(err, ENOTEMPTY, "unlinkat", name);
}

int rfs_remove_tree(int dir_fd, const char *name, struct error *err)
{
	return remove_tree(dir_fd, name, 0, err);
}

char *rfs_clean_rel(const char *path, bool *escapes)
{
	size_t len = strlen(path);
	char *out = malloc(len + 2);
	if (!out)
		return NULL;
	size_t o = 0;
	bool esc = false;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *c = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (o == 0) {
				esc = true;
				continue;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* the separator */
			continue;
		}
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	if (escapes)
		*escapes = esc;
	return out;
}

/* "/" + clean(path): Go's filepath.Clean of an absolute path. */
static char *clean_abs(const char *path)
{
	_cleanup_free_ char *rel = rfs_clean_rel(path, NULL);
	if (!rel)
		return NULL;
	char *out = malloc(strlen(rel) + 2);
	if (!out)
		return NULL;
	if (strcmp(rel, ".") == 0)
		strcpy(out, "/");
	else
		sprintf(out, "/%s", rel);
	return out;
}

/* Append "/comp" to a growing path buffer. */
static int path_push(char **buf, size_t *len, size_t *cap, const char *c, size_t n)
{
	if (*len + n + 2 > *cap) {
		size_t ncap = (*len + n + 2) * 2;
		char *nb = realloc(*buf, ncap);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = ncap;
	}
	(*buf)[(*len)++] = '/';
	memcpy(*buf + *len, c, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int rfs_resolve_scoped(int root_fd, const char *path, const char *scope, char **out,
		       struct error *err)
{
	_cleanup_free_ char *p = clean_abs(path);
	_cleanup_free_ char *s = clean_abs(scope);
	if (!p || !s)
		return error_set(err, ENOMEM, "resolve %s", path);
	if (strcmp(p, s) == 0) {
		*out = TAKE_PTR(s);
		return 0;
	}
	size_t slen = strcmp(s, "/") == 0 ? 0 : strlen(s);
	if (strncmp(p, s, slen) != 0 || p[slen] != '/')
		return error_setx(err, RFS_E_PLAIN, "evalSymlinksInScope: %s is not in %s", p, s);

	int sfd = rfs_open_in_root(root_fd, s, O_PATH | O_DIRECTORY, 0);
	if (sfd < 0)
		return rfs_fail(err, -sfd, "open", s);
	_cleanup_close_ int scope_fd = sfd;

	/* resolved: "/a/b" below the scope, symlink-free; todo: what is left. */
	_cleanup_free_ char *resolved = calloc(1, 64);
	size_t rlen = 0, rcap = 64;
	_cleanup_free_ char *todo = strdup(p + slen);
	if (!resolved || !todo)
		return error_set(err, ENOMEM, "resolve %s", path);
	int links = 0;
	char *t = todo;
	while (*t) {
		while (*t == '/')
			t++;
		char *c = t;
		while (*t && *t != '/')
			t++;
		size_t n = (size_t)(t - c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			while (rlen > 0 && resolved[rlen - 1] != '/')
				rlen--;
			if (rlen > 0)
				rlen--;
			resolved[rlen] = '\0';
			continue;
		}
		char comp[NAME_MAX + 1];
		if (n > NAME_MAX)
			return rfs_fail(err, ENAMETOOLONG, "lstat", p);
		memcpy(comp, c, n);
		comp[n] = '\0';

		int pfd = rfs_open_in_root(scope_fd, rlen ? resolved : ".", O_PATH | O_DIRECTORY, 0);
		if (pfd < 0 && pfd != -ENOENT)
			return rfs_fail(err, -pfd, "lstat", p);
		_cleanup_close_ int parent_fd = pfd;
		struct stat st;
		if (parent_fd < 0 || fstatat(parent_fd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (parent_fd >= 0 && errno != ENOENT)
				return rfs_fail(err, errno, "lstat", p);
			/* Absent: kept as given, like the rest after it. */
			if (path_push(&resolved, &rlen, &rcap, comp, n) < 0)
				return error_set(err, ENOMEM, "resolve %s", path);
			continue;
		}
		if (!S_ISLNK(st.st_mode)) {
			if (path_push(&resolved, &rlen, &rcap, comp, n) < 0)
				return error_set(err, ENOMEM, "resolve %s", path);
			continue;
		}
		if (++links > MAX_SCOPED_LINKS)
			return error_setx(err, RFS_E_PLAIN, "evalSymlinksInScope: too many links in %s",
					  p);
		char target[PATH_MAX + 1];
		ssize_t tl = readlinkat(parent_fd, comp, target, sizeof(target));
		if (tl < 0)
			return rfs_fail(err, errno, "readlink", p);
		if ((size_t)tl >= sizeof(target))
			return rfs_fail(err, ENAMETOOLONG, "readlink", p);
		target[tl] = '\0';
		if (target[0] == '/') {
			rlen = 0;
			resolved[0] = '\0';
		}
		/* New todo: the link's target, then what was left. */
		size_t rest = strlen(t);
		char *nt = malloc((size_t)tl + rest + 2);
		if (!nt)
			return error_set(err, ENOMEM, "resolve %s", path);
		memcpy(nt, target, (size_t)tl);
		nt[tl] = '/';
		memcpy(nt + tl + 1, t, rest + 1);
		free(todo);
		todo = t = nt;
	}

	char *res = malloc(strlen(s) + rlen + 1);
	if (!res)
		return error_set(err, ENOMEM, "resolve %s", path);
	if (rlen == 0)
		strcpy(res, s);
	else
		sprintf(res, "%s%s", slen ? s : "", resolved);
	*out = res;
	return 0;
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

int rfs_chmod_nofollow(int dir_fd, const char *name, mode_t mode)
{
	int fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	_cleanup_close_ int pfd = fd;
	struct stat st;
	if (fstat(pfd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -EOPNOTSUPP;
	/* The fd pins the inode: no name is looked up again.  fchmodat2
	 * (Linux 6.6) takes it directly; before, /proc's magic link does. */
	if (syscall(SYS_fchmodat2, pfd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (chmod(proc, mode) < 0)
		return -errno;
	return 0;
}
