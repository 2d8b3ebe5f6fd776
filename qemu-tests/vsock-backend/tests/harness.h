/* SPDX-License-Identifier: MIT */
/*
 * Test scaffolding shared by the lcow-vsockd unit tests: a private temp
 * directory per test process, a deterministic byte pattern, and small
 * socket helpers.  Header-only so each test stays one executable.
 */
#ifndef VSOCKD_TEST_HARNESS_H
#define VSOCKD_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char th_root[64];
static pid_t th_root_pid;

__attribute__((constructor)) static void th_make_root(void)
{
	snprintf(th_root, sizeof(th_root), "/tmp/vsockd-test.XXXXXX");
	if (!mkdtemp(th_root)) {
		perror("mkdtemp");
		exit(1);
	}
	th_root_pid = getpid();
}

static int th_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Runs in the TAP parent only (test children leave with _exit). */
__attribute__((destructor)) static void th_remove_root(void)
{
	if (getpid() == th_root_pid)
		nftw(th_root, th_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory for this test (tests run in forked children). */
static inline const char *th_dir(void)
{
	static char dir[128];
	static pid_t owner;
	if (owner != getpid()) {
		owner = getpid();
		snprintf(dir, sizeof(dir), "%s/t-%d", th_root, (int)owner);
		mkdir(dir, 0700);
	}
	return dir;
}

/* Deterministic, non-periodic stream content: byte off of stream seed. */
static inline uint8_t th_pat(uint32_t seed, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed << 32 | seed);
	return (uint8_t)(x >> 56 ^ x >> 27 ^ off);
}

static inline void th_fill(uint8_t *buf, size_t len, uint32_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = th_pat(seed, off + i);
}

/* Index of the first byte that differs from the pattern, or -1. */
static inline long th_check(const uint8_t *buf, size_t len, uint32_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != th_pat(seed, off + i))
			return (long)i;
	return -1;
}

static inline int th_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Connect to a unix socket path; blocking or not. */
static inline int th_connect(const char *path, bool nonblock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait until fd is readable (or timeout); true if it is. */
static inline bool th_wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, timeout_ms) == 1;
}

/* Hundreds of connections need more than the default 1024 fds. */
static inline void th_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

#endif
