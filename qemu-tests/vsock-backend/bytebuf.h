/* SPDX-License-Identifier: MIT */
/*
 * A bounded FIFO of bytes (ring buffer) holding guest data the unix socket
 * did not take yet.  Memory is allocated on first use, grows up to a fixed
 * maximum and is released when the buffer drains, so hundreds of idle
 * connections cost nothing.
 */
#ifndef VSOCKD_BYTEBUF_H
#define VSOCKD_BYTEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct bytebuf {
	uint8_t *data;
	size_t cap;  /* allocated bytes */
	size_t head; /* offset of the oldest byte */
	size_t len;  /* bytes held */
	size_t max;  /* never hold more than this */
};

static inline void bytebuf_init(struct bytebuf *b, size_t max)
{
	*b = (struct bytebuf){ .max = max };
}

static inline bool bytebuf_empty(const struct bytebuf *b)
{
	return b->len == 0;
}

/* Append the bytes of iov.  -ENOBUFS (nothing appended) when they would not
 * fit in max, -ENOMEM when allocation fails. */
int bytebuf_append(struct bytebuf *b, const struct iovec *iov, unsigned n);

/* Write as much as the socket takes (MSG_NOSIGNAL|MSG_DONTWAIT).  Returns the
 * bytes written (0 when the buffer is empty), or -errno; -EAGAIN when the
 * socket took nothing. */
ssize_t bytebuf_flush(struct bytebuf *b, int fd);

void bytebuf_free(struct bytebuf *b);

#endif
