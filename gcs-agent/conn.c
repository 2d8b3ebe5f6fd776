/* SPDX-License-Identifier: MIT */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcow/cleanup.h"

struct txbuf {
	struct txbuf *next;
	size_t len, off;
	uint8_t data[];
};

struct conn {
	struct loop *loop;
	struct loop_source src;
	int fd;
	const struct conn_ops *ops;
	void *ctx;

	uint8_t *rx;	/* BRIDGE_MAX_FRAME bytes */
	size_t rx_len;

	struct txbuf *tx_head, **tx_tail;
	size_t tx_bytes;
	bool not_socket;

	bool paused;	/* back-pressure: not reading, not processing */
	bool dying;
	struct error why;
	struct loop_defer teardown;

	void (*drained_fn)(void *arg);
	void *drained_arg;

	struct conn_stats stats;
};

static void conn_io(struct loop_source *src, uint32_t events);

static void update_events(struct conn *c)
{
	if (c->dying)
		return;
	/* A paused connection whose queue drained outside conn_io() (an async
	 * send) still needs conn_io() to resume it: a writable socket makes
	 * EPOLLOUT fire at once. */
	uint32_t ev = (c->paused ? 0 : EPOLLIN) | (c->tx_head || c->paused ? EPOLLOUT : 0);
	struct error err = { 0 };
	if (loop_modify(&c->src, ev, &err) < 0)
		conn_abort(c, err.errnum, error_text(&err));
}

static void free_tx(struct conn *c)
{
	while (c->tx_head) {
		struct txbuf *b = c->tx_head;
		c->tx_head = b->next;
		free(b);
	}
	c->tx_tail = &c->tx_head;
	c->tx_bytes = 0;
}

static void fire_drained(struct conn *c)
{
	void (*fn)(void *) = c->drained_fn;
	void *arg = c->drained_arg;
	c->drained_fn = NULL;
	c->drained_arg = NULL;
	if (fn)
		fn(arg);
}

static void teardown(struct loop_defer *d)
{
	struct conn *c = d->data;
	loop_remove(&c->src);
	close(c->fd);
	free_tx(c);
	fire_drained(c);
	c->ops->closed(c->ctx, &c->why);
	free(c->rx);
	free(c);
}

void conn_abort(struct conn *c, int errnum, const char *why)
{
	if (c->dying)
		return;
	c->dying = true;
	error_setx(&c->why, errnum ? errnum : EPIPE, "%s", why);
	/* No more events for it; the fd stays open until the teardown so a
	 * recycled fd number cannot be confused with it. */
	loop_remove(&c->src);
	loop_defer(c->loop, &c->teardown, teardown, c);
}

static void abort_errno(struct conn *c, int errnum, const char *what)
{
	char msg[128];
	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errnum));
	conn_abort(c, errnum, msg);
}

static void flush(struct conn *c)
{
	while (c->tx_head && !c->dying) {
		struct txbuf *b = c->tx_head;
		ssize_t n;
		if (!c->not_socket) {
			n = send(c->fd, b->data + b->off, b->len - b->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == ENOTSOCK) {
				c->not_socket = true;
				continue;
			}
		} else {
			n = write(c->fd, b->data + b->off, b->len - b->off);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			abort_errno(c, errno, "write to host");
			return;
		}
		b->off += (size_t)n;
		c->stats.bytes_out += (uint64_t)n;
		c->tx_bytes -= (size_t)n;
		if (b->off == b->len) {
			c->tx_head = b->next;
			if (!c->tx_head)
				c->tx_tail = &c->tx_head;
			free(b);
			c->stats.frames_out++;
		}
	}
	if (!c->tx_head)
		fire_drained(c);
}

/* Hand every complete buffered frame to the owner, unless back-pressure or
 * a dying connection says stop. */
static void process_frames(struct conn *c)
{
	size_t off = 0;
	while (!c->dying && !c->paused) {
		struct bridge_header hdr;
		long r = bridge_frame_scan(c->rx + off, c->rx_len - off, &hdr);
		if (r == 0)
			break;
		if (r < 0) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "invalid frame size %u (must be %u..%u), type 0x%08x id %llu",
				 hdr.size, BRIDGE_HEADER_SIZE, BRIDGE_MAX_FRAME, hdr.type,
				 (unsigned long long)hdr.id);
			conn_abort(c, EPROTO, msg);
			break;
		}
		c->stats.frames_in++;
		struct error err = { 0 };
		int fr = c->ops->frame(c->ctx, &hdr, c->rx + off + BRIDGE_HEADER_SIZE,
				       (size_t)r - BRIDGE_HEADER_SIZE, &err);
		off += (size_t)r;
		if (fr < 0) {
			conn_abort(c, err.errnum, error_text(&err));
			break;
		}
		if (c->tx_bytes >= CONN_TX_PAUSE && !c->dying) {
			c->paused = true;
			c->stats.pauses++;
		}
	}
	if (off && !c->dying) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
}

static void read_some(struct conn *c)
{
	ssize_t n = read(c->fd, c->rx + c->rx_len, BRIDGE_MAX_FRAME - c->rx_len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			abort_errno(c, errno, "read from host");
		return;
	}
	if (n == 0) {
		if (c->rx_len) {
			char msg[96];
			snprintf(msg, sizeof(msg),
				 "truncated frame: peer closed after %zu bytes of a frame",
				 c->rx_len);
			conn_abort(c, EPROTO, msg);
		} else {
			conn_abort(c, ECONNRESET, "peer closed the connection");
		}
		return;
	}
	c->rx_len += (size_t)n;
	c->stats.bytes_in += (uint64_t)n;
	process_frames(c);
}

static void conn_io(struct loop_source *src, uint32_t events)
{
	struct conn *c = src->data;
	if (events & (EPOLLOUT | EPOLLERR))
		flush(c);
	if (c->dying)
		return;
	if (c->paused && c->tx_bytes < CONN_TX_RESUME) {
		c->paused = false;
		process_frames(c);
	}
	if (c->dying)
		return;
	if (!c->paused && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_some(c);
	else if (events & (EPOLLHUP | EPOLLERR))
		/* Paused with the peer gone: nothing will ever drain. */
		conn_abort(c, ECONNRESET, "peer hung up with responses unread");
	update_events(c);
}

int conn_new(struct loop *l, int fd, const struct conn_ops *ops, void *ctx, struct conn **out,
	     struct error *err)
{
	_cleanup_close_ int owned = fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return error_set(err, errno, "make bridge fd %d non-blocking", fd);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return error_set(err, errno, "set close-on-exec on bridge fd %d", fd);

	_cleanup_free_ struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(err, ENOMEM, "allocate connection");
	c->rx = malloc(BRIDGE_MAX_FRAME);
	if (!c->rx)
		return error_set(err, ENOMEM, "allocate receive buffer");
	c->loop = l;
	c->fd = fd;
	c->ops = ops;
	c->ctx = ctx;
	c->tx_tail = &c->tx_head;
	int r = loop_add(l, &c->src, fd, EPOLLIN, conn_io, c, err);
	if (r < 0) {
		free(c->rx);
		return r;
	}
	TAKE_FD(owned);
	*out = TAKE_PTR(c);
	return 0;
}

int conn_send(struct conn *c, uint32_t type, uint64_t id, const void *body, size_t len,
	      struct error *err)
{
	if (c->dying)
		return error_setx(err, EPIPE, "bridge connection is closing");
	if (len > BRIDGE_MAX_FRAME - BRIDGE_HEADER_SIZE)
		return error_setx(err, EMSGSIZE, "frame of %zu bytes exceeds the %u byte limit",
				  len + BRIDGE_HEADER_SIZE, BRIDGE_MAX_FRAME);
	size_t flen = BRIDGE_HEADER_SIZE + len;
	if (c->tx_bytes + flen > CONN_TX_LIMIT) {
		char msg[96];
		snprintf(msg, sizeof(msg), "host is not reading: %zu bytes queued", c->tx_bytes);
		conn_abort(c, ENOBUFS, msg);
		return error_setx(err, ENOBUFS, "%s", msg);
	}
	struct txbuf *b = malloc(sizeof(*b) + flen);
	if (!b)
		return error_set(err, ENOMEM, "queue frame");
	b->next = NULL;
	b->len = flen;
	b->off = 0;
	bridge_frame_encode(type, id, body, len, b->data, flen);
	bool was_empty = !c->tx_head;
	*c->tx_tail = b;
	c->tx_tail = &b->next;
	c->tx_bytes += flen;
	if (was_empty) {
		flush(c);
		update_events(c);
	}
	return 0;
}

void conn_when_drained(struct conn *c, void (*fn)(void *arg), void *arg)
{
	c->drained_fn = fn;
	c->drained_arg = arg;
	if (!c->tx_head && !c->dying)
		fire_drained(c);
}

size_t conn_tx_queued(const struct conn *c)
{
	return c->tx_bytes;
}

const struct conn_stats *conn_stats(const struct conn *c)
{
	return &c->stats;
}

int conn_fd(const struct conn *c)
{
	return c->fd;
}
