/* SPDX-License-Identifier: MIT */
#include "bytebuf.h"
#include "iov.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BYTEBUF_MIN_CAP 4096

/* Make room for need bytes in total; re-lays the data out from offset 0. */
static int bytebuf_grow(struct bytebuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : BYTEBUF_MIN_CAP;
	while (cap < need)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	uint8_t *p = malloc(cap);
	if (!p)
		return -ENOMEM;
	size_t first = b->cap - b->head < b->len ? b->cap - b->head : b->len;
	if (b->len) {
		memcpy(p, b->data + b->head, first);
		memcpy(p + first, b->data, b->len - first);
	}
	free(b->data);
	b->data = p;
	b->cap = cap;
	b->head = 0;
	return 0;
}

int bytebuf_append(struct bytebuf *b, const struct iovec *iov, unsigned n)
{
	size_t add = iov_total(iov, n);
	if (add > b->max - b->len)
		return -ENOBUFS;
	if (b->len + add > b->cap) {
		int r = bytebuf_grow(b, b->len + add);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *src = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			size_t tail = (b->head + b->len) % b->cap;
			size_t k = tail >= b->head || b->len == 0 ? b->cap - tail : b->head - tail;
			if (k > left)
				k = left;
			memcpy(b->data + tail, src, k);
			b->len += k;
			src += k;
			left -= k;
		}
	}
	return 0;
}

ssize_t bytebuf_flush(struct bytebuf *b, int fd)
{
	size_t total = 0;
	while (b->len) {
		struct iovec iov[2];
		unsigned n = 1;
		size_t first = b->cap - b->head;
		iov[0].iov_base = b->data + b->head;
		iov[0].iov_len = first < b->len ? first : b->len;
		if (first < b->len) {
			iov[1].iov_base = b->data;
			iov[1].iov_len = b->len - first;
			n = 2;
		}
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && total)
				break;
			return -errno;
		}
		if (w == 0)
			break;
		b->head = (b->head + (size_t)w) % b->cap;
		b->len -= (size_t)w;
		total += (size_t)w;
	}
	if (b->len == 0)
		bytebuf_free(b);
	return (ssize_t)total;
}

void bytebuf_free(struct bytebuf *b)
{
	free(b->data);
	b->data = NULL;
	b->cap = 0;
	b->head = 0;
	b->len = 0;
}
