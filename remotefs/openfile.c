/* SPDX-License-Identifier: MIT */
/*
 * openfile PATH FLAG PERM: a one-file server, opengcs's protocol.  All
 * integers big-endian.  After the open, a response header; then requests
 * on stdin, each answered on stdout, until Close:
 *
 *   request   FileHeader {u32 Cmd, u64 Size}   Read(0) Write(1) Seek(2) Close(3)
 *             Write: Size bytes of data follow
 *             Seek:  SeekHeader {i64 Offset, i32 Whence} follows
 *   response  FileHeader {CmdOK(4), Size} + Size bytes (Read: the data,
 *             Seek: the new offset as i64), or {CmdFailed(5), 0} and the
 *             process ends with the error JSON on stderr.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "rfs.h"

enum {
	FILE_CMD_READ = 0,
	FILE_CMD_WRITE = 1,
	FILE_CMD_SEEK = 2,
	FILE_CMD_CLOSE = 3,
	FILE_CMD_OK = 4,
	FILE_CMD_FAILED = 5,
};

/* One Read answers at most this much (a short read is a valid answer), so
 * the host cannot make the guest allocate what it asks for. */
#define FILE_READ_MAX (1u << 20)

struct file_header_wire {
	uint8_t cmd[4];	 /* big-endian u32 */
	uint8_t size[8]; /* big-endian u64 */
};
_Static_assert(sizeof(struct file_header_wire) == 12, "FileHeader is 12 bytes on the wire");

struct seek_header_wire {
	uint8_t offset[8]; /* big-endian i64 */
	uint8_t whence[4]; /* big-endian i32 */
};
_Static_assert(sizeof(struct seek_header_wire) == 12, "SeekHeader is 12 bytes on the wire");

static int send_header(int fd, uint32_t cmd, uint64_t size, const void *data)
{
	struct file_header_wire h;
	uint32_t c = htobe32(cmd);
	uint64_t s = htobe64(size);
	memcpy(h.cmd, &c, 4);
	memcpy(h.size, &s, 8);
	int r = rfs_write_all(fd, &h, sizeof(h));
	if (r == 0 && size)
		r = rfs_write_all(fd, data, (size_t)size);
	return r;
}

/* Exactly len bytes of the request stream: "EOF" when it ends before the
 * first byte, "unexpected EOF" inside (Go's io.ReadFull). */
static int read_request(int fd, void *buf, size_t len, struct error *err)
{
	ssize_t n = rfs_read_full(fd, buf, len);
	if (n < 0)
		return error_set(err, (int)-n, "read request");
	if (n == 0)
		return error_setx(err, RFS_E_EOF, "EOF");
	if ((size_t)n < len)
		return error_setx(err, RFS_E_PLAIN, "unexpected EOF");
	return 0;
}

static int serve(struct rfs_ctx *ctx, int file_fd, const char *path, struct error *err)
{
	_cleanup_free_ char *buf = NULL;
	for (;;) {
		struct file_header_wire h;
		int r = read_request(ctx->in_fd, &h, sizeof(h), err);
		if (r < 0)
			return r;
		uint32_t cmd;
		uint64_t size;
		memcpy(&cmd, h.cmd, 4);
		memcpy(&size, h.size, 8);
		cmd = be32toh(cmd);
		size = be64toh(size);

		switch (cmd) {
		case FILE_CMD_READ: {
			size_t want = size > FILE_READ_MAX ? FILE_READ_MAX : (size_t)size;
			if (!buf && !(buf = malloc(FILE_READ_MAX)))
				return error_set(err, ENOMEM, "read %s", path);
			ssize_t n = 0;
			if (want) {
				do
					n = read(file_fd, buf, want);
				while (n < 0 && errno == EINTR);
				if (n < 0)
					return rfs_fail(err, errno, "read", path);
				if (n == 0)
					return error_setx(err, RFS_E_EOF, "EOF");
			}
			r = send_header(ctx->out_fd, FILE_CMD_OK, (uint64_t)n, buf);
			break;
		}
		case FILE_CMD_WRITE: {
			char chunk[65536];
			while (size > 0) {
				size_t want = size > sizeof(chunk) ? sizeof(chunk) : (size_t)size;
				r = read_request(ctx->in_fd, chunk, want, err);
				if (r < 0)
					return r == -RFS_E_EOF
						       ? error_setx(err, RFS_E_PLAIN, "unexpected EOF")
						       : r;
				r = rfs_write_all(file_fd, chunk, want);
				if (r < 0)
					return rfs_fail(err, -r, "write", path);
				size -= want;
			}
			r = send_header(ctx->out_fd, FILE_CMD_OK, 0, NULL);
			break;
		}
		case FILE_CMD_SEEK: {
			struct seek_header_wire s;
			r = read_request(ctx->in_fd, &s, sizeof(s), err);
			if (r < 0)
				return r;
			uint64_t off;
			uint32_t whence;
			memcpy(&off, s.offset, 8);
			memcpy(&whence, s.whence, 4);
			off_t pos = lseek(file_fd, (off_t)be64toh(off), (int)(int32_t)be32toh(whence));
			if (pos < 0)
				return rfs_fail(err, errno, "seek", path);
			uint64_t be = htobe64((uint64_t)pos);
			r = send_header(ctx->out_fd, FILE_CMD_OK, sizeof(be), &be);
			break;
		}
		case FILE_CMD_CLOSE:
			if (close(file_fd) < 0)
				return rfs_fail(err, errno, "close", path);
			r = send_header(ctx->out_fd, FILE_CMD_OK, 0, NULL);
			return r < 0 ? error_set(err, -r, "write response") : 1;
		default:
			/* Sic: opengcs's ErrUnknown. */
			return error_setx(err, RFS_E_PLAIN, "unkown command");
		}
		if (r < 0)
			return error_set(err, -r, "write response");
	}
}

int rfs_cmd_openfile(struct rfs_ctx *ctx, int argc, char **argv, struct error *err)
{
	(void)argc;
	int64_t flags;
	mode_t mode;
	int r = rfs_parse_int(argv[1], 32, &flags, err);
	if (r >= 0)
		r = rfs_parse_mode(argv[2], &mode, err);
	int fd = -1;
	if (r >= 0) {
		fd = rfs_open_regular(ctx, argv[0], (int)flags, mode & 07777, true);
		if (fd < 0)
			r = rfs_fail(err, -fd, "open", argv[0]);
	}
	if (r >= 0) {
		r = send_header(ctx->out_fd, FILE_CMD_OK, 0, NULL);
		if (r < 0)
			r = error_set(err, -r, "write response");
	}
	if (r >= 0) {
		r = serve(ctx, fd, argv[0], err);
		if (r == 1)
			return 0; /* closed by the host's Close; fd is gone */
	}
	if (fd >= 0)
		close(fd);
	/* The host waits for a header: tell it to read stderr. */
	send_header(ctx->out_fd, FILE_CMD_FAILED, 0, NULL);
	return r;
}
