/* SPDX-License-Identifier: MIT */
/*
 * Test fixtures for remotefs: a scratch directory with `root/` (what
 * --root names) and `outside/` beside it (what must never be touched), and
 * run() to call the whole program in-process with memfds as stdio.
 */
#ifndef REMOTEFS_TEST_HELPERS_H
#define REMOTEFS_TEST_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfs.h"

/* Comparisons lcow/tap.h does not have. */
#ifndef EXPECT_LT
#define EXPECT_LT(a, b) TAP_CMP_(a, <, b, 0)
#endif
#ifndef EXPECT_GT
#define EXPECT_GT(a, b) TAP_CMP_(a, >, b, 0)
#endif
#ifndef EXPECT_NE
#define EXPECT_NE(a, b) TAP_CMP_(a, !=, b, 0)
#endif

struct fixture {
	char base[64];
	char root[96];
	char outside[96];
};

static inline void fx_init(struct fixture *fx)
{
	strcpy(fx->base, "/tmp/remotefs-test.XXXXXX");
	if (!mkdtemp(fx->base)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(fx->root, sizeof(fx->root), "%s/root", fx->base);
	snprintf(fx->outside, sizeof(fx->outside), "%s/outside", fx->base);
	if (mkdir(fx->root, 0755) < 0 || mkdir(fx->outside, 0755) < 0)
		abort();
}

static inline void fx_cleanup(struct fixture *fx)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->base);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", fx->base);
}

/* A path below the fixture: fx_path(fx, "root/a/b"). */
static inline const char *fx_path(const struct fixture *fx, const char *rel)
{
	static char buf[8][512];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, sizeof(buf[0]), "%s/%s", fx->base, rel);
	return p;
}

static inline int put_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t len = strlen(data);
	int r = rfs_write_all(fd, data, len);
	close(fd);
	return r;
}

/* The file's contents (NUL-terminated, malloc'd) or NULL. */
static inline char *get_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	char *b = malloc((size_t)st.st_size + 1);
	ssize_t n = b ? rfs_read_full(fd, b, (size_t)st.st_size) : -1;
	close(fd);
	if (n < 0) {
		free(b);
		return NULL;
	}
	b[n] = '\0';
	if (len)
		*len = (size_t)n;
	return b;
}

static inline bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* What one run of the program gave. */
struct result {
	int status;
	char *out; /* stdout, NUL-terminated */
	size_t out_len;
	char *err; /* stderr */
};

static inline void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static inline char *memfd_text(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char *b = malloc((size_t)end + 1);
	if (!b)
		abort();
	if (pread(fd, b, (size_t)end, 0) != end)
		abort();
	b[end] = '\0';
	if (len)
		*len = (size_t)end;
	return b;
}

/* Run `remotefs --root ROOT ARGS...` (root NULL: no --root) with IN
 * (in_len bytes) on stdin. */
static inline struct result run_in(const char *root, const void *in, size_t in_len,
				   const char *const *args)
{
	struct result res = { 0 };
	char *argv[64];
	int argc = 0;
	argv[argc++] = "remotefs";
	if (root) {
		argv[argc++] = "--root";
		argv[argc++] = (char *)root;
	}
	for (; *args && argc < 63; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	int in_fd = memfd_create("in", MFD_CLOEXEC);
	int out_fd = memfd_create("out", MFD_CLOEXEC);
	int err_fd = memfd_create("err", MFD_CLOEXEC);
	if (in_fd < 0 || out_fd < 0 || err_fd < 0)
		abort();
	if (in_len && rfs_write_all(in_fd, in, in_len) < 0)
		abort();
	lseek(in_fd, 0, SEEK_SET);
	res.status = rfs_main(argc, argv, in_fd, out_fd, err_fd);
	res.out = memfd_text(out_fd, &res.out_len);
	res.err = memfd_text(err_fd, NULL);
	close(in_fd);
	close(out_fd);
	close(err_fd);
	return res;
}

#define RUN(root, ...) run_in((root), NULL, 0, (const char *const[]){ __VA_ARGS__, NULL })
#define RUN_IN(root, in, len, ...) run_in((root), (in), (len), (const char *const[]){ __VA_ARGS__, NULL })

/* The 8-byte big-endian length + JSON options prefix archivepath and
 * extractarchive read; returns the bytes (malloc'd) in *len. */
static inline char *tar_opts(const char *json, const void *tail, size_t tail_len, size_t *len)
{
	size_t jl = strlen(json);
	char *b = malloc(8 + jl + tail_len + 1);
	if (!b)
		abort();
	for (int i = 0; i < 8; i++)
		b[i] = (char)((uint64_t)jl >> (56 - 8 * i));
	memcpy(b + 8, json, jl);
	if (tail_len)
		memcpy(b + 8 + jl, tail, tail_len);
	*len = 8 + jl + tail_len;
	return b;
}

static inline int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

#endif
