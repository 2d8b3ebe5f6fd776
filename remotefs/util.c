/* SPDX-License-Identifier: MIT */
/* Argument parsing as opengcs did it (Go's strconv), Go's FileMode, and
 * whole-buffer I/O. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "rfs.h"

/* Go's os.FileMode bits (os/types.go). */
#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)
#define GO_MODE_DEVICE (1u << 26)
#define GO_MODE_NAMED_PIPE (1u << 25)
#define GO_MODE_SOCKET (1u << 24)
#define GO_MODE_SETUID (1u << 23)
#define GO_MODE_SETGID (1u << 22)
#define GO_MODE_CHAR_DEVICE (1u << 21)
#define GO_MODE_STICKY (1u << 20)

static int parse_error(struct error *err, const char *fn, const char *s, const char *why)
{
	return error_setx(err, RFS_E_PLAIN, "strconv.%s: parsing \"%s\": %s", fn, s, why);
}

int rfs_parse_mode(const char *s, mode_t *mode, struct error *err)
{
	uint64_t v = 0;
	if (!*s)
		return parse_error(err, "ParseUint", s, "invalid syntax");
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return parse_error(err, "ParseUint", s, "invalid syntax");
		v = v * 8 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return parse_error(err, "ParseUint", s, "value out of range");
	}

	uint32_t g = (uint32_t)v;
	mode_t m = g & 0777;
	/* Docker formats an os.FileMode; a Unix mode works too. */
	if (g & (GO_MODE_SETUID | S_ISUID))
		m |= S_ISUID;
	if (g & (GO_MODE_SETGID | S_ISGID))
		m |= S_ISGID;
	if (g & (GO_MODE_STICKY | S_ISVTX))
		m |= S_ISVTX;
	if (g & S_IFMT)
		m |= g & S_IFMT;
	else if (g & GO_MODE_DIR)
		m |= S_IFDIR;
	else if (g & GO_MODE_SYMLINK)
		m |= S_IFLNK;
	else if (g & GO_MODE_DEVICE)
		m |= (g & GO_MODE_CHAR_DEVICE) ? S_IFCHR : S_IFBLK;
	else if (g & GO_MODE_NAMED_PIPE)
		m |= S_IFIFO;
	else if (g & GO_MODE_SOCKET)
		m |= S_IFSOCK;
	*mode = m;
	return 0;
}

int rfs_parse_int(const char *s, int bits, int64_t *v, struct error *err)
{
	const char *p = s;
	bool neg = false;
	uint64_t limit = (uint64_t)1 << (bits - 1), n = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return parse_error(err, "ParseInt", s, "invalid syntax");
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return parse_error(err, "ParseInt", s, "invalid syntax");
		if (n > (UINT64_MAX - 9) / 10)
			return parse_error(err, "ParseInt", s, "value out of range");
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (neg ? n > limit : n > limit - 1)
		return parse_error(err, "ParseInt", s, "value out of range");
	*v = neg ? (int64_t)(0 - n) : (int64_t)n;
	return 0;
}

uint32_t rfs_go_mode(mode_t mode)
{
	uint32_t g = mode & 0777;
	switch (mode & S_IFMT) {
	case S_IFBLK: g |= GO_MODE_DEVICE; break;
	case S_IFCHR: g |= GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE; break;
	case S_IFDIR: g |= GO_MODE_DIR; break;
	case S_IFIFO: g |= GO_MODE_NAMED_PIPE; break;
	case S_IFLNK: g |= GO_MODE_SYMLINK; break;
	case S_IFSOCK: g |= GO_MODE_SOCKET; break;
	}
	if (mode & S_ISUID)
		g |= GO_MODE_SETUID;
	if (mode & S_ISGID)
		g |= GO_MODE_SETGID;
	if (mode & S_ISVTX)
		g |= GO_MODE_STICKY;
	return g;
}

int rfs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t rfs_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int rfs_copy_fd(int in_fd, int out_fd, char *which)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(in_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*which = 'r';
			return -errno;
		}
		if (n == 0)
			return 0;
		int r = rfs_write_all(out_fd, buf, (size_t)n);
		if (r < 0) {
			*which = 'w';
			return r;
		}
	}
}
