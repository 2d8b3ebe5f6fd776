/* SPDX-License-Identifier: MIT */
/*
 * The control socket between `lcowctl serve` and the client subcommands:
 * one JSON object per line in each direction (see README.md for the ops).
 * Also the bounded line and output buffers serve uses for its sockets.
 */
#ifndef LCOW_HOST_CTL_H
#define LCOW_HOST_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lcow/error.h"

/* Longest control line either side accepts. */
#define CTL_MAX_LINE (1u << 20)

/* Bytes data[off..len) are buffered; never more than max. */
struct linebuf {
	char *data;
	size_t off, len, cap, max;
};

void linebuf_init(struct linebuf *lb, size_t max);
void linebuf_free(struct linebuf *lb);
/* One read(): > 0 bytes read, 0 EOF, -EAGAIN, -ENOBUFS when max bytes are
 * buffered without a newline, or -errno. */
ssize_t linebuf_fill(struct linebuf *lb, int fd);
/* The next complete line, '\n' replaced by NUL; valid until the next fill.
 * NULL when no complete line is buffered. */
char *linebuf_next(struct linebuf *lb, size_t *len);
/* Take whatever is buffered (a partial line), NUL-terminated; NULL when
 * empty. */
char *linebuf_rest(struct linebuf *lb, size_t *len);

/* An unbounded output queue; the owner limits it. */
struct outbuf {
	char *data;
	size_t off, len, cap;
};

void outbuf_free(struct outbuf *b);
static inline size_t outbuf_pending(const struct outbuf *b)
{
	return b->len - b->off;
}
int outbuf_append(struct outbuf *b, const void *p, size_t n);
/* Write what the fd takes: 0 all written, -EAGAIN some left, -errno. */
int outbuf_flush(struct outbuf *b, int fd);

/* Write all of buf to a blocking or non-blocking fd (waits on EAGAIN). */
int write_all(int fd, const void *buf, size_t n);

/* Client side: a blocking connection to serve. */
struct ctl_client {
	int fd;
	struct linebuf in;
};

/* The control socket path from -c PATH or --uds BASE (BASE.ctl). */
int ctl_path_from(const char *control, const char *base, char **out, struct error *err);
int ctl_client_open(struct ctl_client *cc, const char *path, struct error *err);
void ctl_client_close(struct ctl_client *cc);
int ctl_client_send(struct ctl_client *cc, json_t *msg, struct error *err);
/* The next reply line.  timeout_ms < 0 = forever; -ETIMEDOUT, -ECONNRESET
 * when serve closed the connection, -EPROTO for a line that is not JSON. */
int ctl_client_recv(struct ctl_client *cc, json_t **out, int timeout_ms, struct error *err);
/* For event loops: after poll() said readable, read once and return the
 * next complete reply if any: 1 = *out set, 0 = nothing complete yet. */
int ctl_client_read_some(struct ctl_client *cc, struct error *err);
int ctl_client_next(struct ctl_client *cc, json_t **out, struct error *err);

#endif
