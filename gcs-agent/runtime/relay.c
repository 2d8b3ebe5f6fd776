/* SPDX-License-Identifier: MIT */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "log.h"

static void relay_update(struct relay *r);

/* Watch fd for events, or not at all when events is 0: an fd left in
 * epoll with no events still reports HUP/ERR, level-triggered, which
 * would spin the loop while the relay cannot act on it. */
static void watch(struct relay *r, struct loop_source *src, int fd, uint32_t events, loop_fn fn)
{
	struct error err = { 0 };
	if (!events) {
		loop_remove(src);
		return;
	}
	int rc = src->added ? loop_modify(src, events, &err)
			    : loop_add(r->loop, src, fd, events, fn, r, &err);
	if (rc < 0)
		log_error("stdio relay: epoll", LOG_STR("stream", r->name), LOG_ERR(&err));
}



static void close_all(struct relay *r)
{
	loop_remove(&r->src_ev);
	loop_remove(&r->dst_ev);
	if (r->src >= 0)
		close(r->src);
	if (r->dst >= 0)
		close(r->dst);
	r->src = r->dst = -1;
}

static void relay_finished(struct relay *r)
{
	if (r->finished)
		return;
	r->finished = true;
	close_all(r);
	log_debug("stdio relay done", LOG_STR("stream", r->name), LOG_U64("bytes", r->bytes));
	if (r->done)
		r->done(r, r->ctx);
}

static void on_src(struct loop_source *s, uint32_t events)
{
	struct relay *r = s->data;
	(void)events;
	for (;;) {
		if (r->off == r->len)
			r->off = r->len = 0;
		if (r->len == RELAY_BUF) {
			if (!r->off)
				break;
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		ssize_t n = read(r->src, r->buf + r->len, RELAY_BUF - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EIO: a pty's master once the last slave fd closed. */
			if (n < 0 && errno != EIO)
				log_warning("stdio relay: read", LOG_STR("stream", r->name),
					    LOG_STR("error", strerror(errno)));
			r->src_eof = true;
			break;
		}
		r->len += (size_t)n;
		r->bytes += (uint64_t)n;
	}
	relay_update(r);
}

static void on_dst(struct loop_source *s, uint32_t events)
{
	struct relay *r = s->data;
	if (r->dst_shut) {
		/* Waiting for the host to close its end; anything it sends on
		 * an output stream is dropped. */
		char tmp[512];
		ssize_t n = read(r->dst, tmp, sizeof(tmp));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
		    (events & (EPOLLHUP | EPOLLERR)))
			relay_finished(r);
		return;
	}
	while (r->off < r->len) {
		ssize_t n = write(r->dst, r->buf + r->off, r->len - r->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			/* The reader is gone: drop the data and the source, so
			 * the writer learns it too (EPIPE/SIGPIPE or EOF). */
			log_debug("stdio relay: reader gone", LOG_STR("stream", r->name),
				  LOG_STR("error", strerror(errno)));
			relay_finished(r);
			return;
		}
		r->off += (size_t)n;
	}
	if (r->off == r->len && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLOUT)) {
		relay_finished(r);
		return;
	}
	relay_update(r);
}

static void relay_update(struct relay *r)
{
	if (r->finished)
		return;
	if (r->src_eof && r->off == r->len) {
		if (r->to_host) {
			if (!r->dst_shut) {
				/* All written: EOF to the host, then wait for
				 * its close so the bytes are known delivered. */
				shutdown(r->dst, SHUT_WR);
				r->dst_shut = true;
				loop_remove(&r->src_ev);
				close(r->src);
				r->src = -1;
				watch(r, &r->dst_ev, r->dst, EPOLLIN | EPOLLRDHUP, on_dst);
			}
			return;
		}
		relay_finished(r);
		return;
	}
	bool room = r->len < RELAY_BUF || r->off > 0;
	watch(r, &r->src_ev, r->src, !r->src_eof && room ? EPOLLIN : 0, on_src);
	watch(r, &r->dst_ev, r->dst, r->off < r->len ? EPOLLOUT : 0, on_dst);
}

int relay_start(struct relay *r, struct loop *l, int src, int dst, bool to_host, const char *name,
		relay_done_fn done, void *ctx, struct error *err)
{
	memset(r, 0, offsetof(struct relay, buf));
	r->loop = l;
	r->src = src;
	r->dst = dst;
	r->to_host = to_host;
	r->name = name;
	r->done = done;
	r->ctx = ctx;
	if (fcntl(src, F_SETFL, fcntl(src, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(dst, F_SETFL, fcntl(dst, F_GETFL) | O_NONBLOCK) < 0) {
		int e = errno;
		close_all(r);
		r->finished = true;
		return error_set(err, e, "stdio relay %s: non-blocking", name);
	}
	relay_update(r);
	return 0;
}

void relay_abort(struct relay *r)
{
	if (r->finished)
		return;
	r->finished = true;
	close_all(r);
}

struct stdio_dial {
	struct loop *loop;
	int fd[3];
	struct loop_source src[3];
	int pending;
	bool failed;
	stdio_dial_fn fn;
	void *ctx;
	struct loop_defer defer;
	struct error err;
	int result;
	char name[3][128];
};

static void dial_report(struct loop_defer *d)
{
	struct stdio_dial *sd = d->data;
	sd->fn(sd->ctx, sd->result, &sd->err);
}

static void dial_fail(struct stdio_dial *sd, int r)
{
	if (sd->failed)
		return;
	sd->failed = true;
	sd->result = r;
	for (int i = 0; i < 3; i++)
		loop_remove(&sd->src[i]);
	loop_defer(sd->loop, &sd->defer, dial_report, sd);
}

static void on_connected(struct loop_source *s, uint32_t events)
{
	struct stdio_dial *sd = s->data;
	(void)events;
	int i = (int)(s - sd->src);
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	if (getsockopt(sd->fd[i], SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	loop_remove(s);
	if (soerr) {
		dial_fail(sd, error_set(&sd->err, soerr, "connect to %s", sd->name[i]));
		return;
	}
	if (--sd->pending == 0 && !sd->failed)
		loop_defer(sd->loop, &sd->defer, dial_report, sd);
}

int stdio_dial_start(struct loop *l, stdio_dialer_fn make_dialer, const uint32_t ports[3],
		     stdio_dial_fn fn, void *ctx, struct stdio_dial **out, struct error *err)
{
	struct stdio_dial *sd = calloc(1, sizeof(*sd));
	if (!sd)
		return error_set(err, ENOMEM, "stdio");
	sd->loop = l;
	sd->fn = fn;
	sd->ctx = ctx;
	for (int i = 0; i < 3; i++)
		sd->fd[i] = -1;
	for (int i = 0; i < 3; i++) {
		if (!ports[i])
			continue;
		struct dialer d;
		bool in_progress;
		make_dialer(ports[i], &d);
		snprintf(sd->name[i], sizeof(sd->name[i]), "%s", d.name);
		int fd = d.dial(&d, &in_progress, err);
		if (fd < 0) {
			stdio_dial_free(sd);
			return error_prefix(err, fd, "stdio");
		}
		sd->fd[i] = fd;
		if (in_progress) {
			int r = loop_add(l, &sd->src[i], fd, EPOLLOUT, on_connected, sd, err);
			if (r < 0) {
				stdio_dial_free(sd);
				return r;
			}
			sd->pending++;
		}
	}
	/* Everything connected at once (or nothing to dial): still report
	 * from the loop, never from inside this call. */
	if (!sd->pending)
		loop_defer(l, &sd->defer, dial_report, sd);
	*out = sd;
	return 0;
}

int stdio_dial_take(struct stdio_dial *d, int i)
{
	return TAKE_FD(d->fd[i]);
}

void stdio_dial_free(struct stdio_dial *sd)
{
	if (!sd)
		return;
	loop_cancel_defer(sd->loop, &sd->defer);
	for (int i = 0; i < 3; i++) {
		loop_remove(&sd->src[i]);
		if (sd->fd[i] >= 0)
			close(sd->fd[i]);
	}
	free(sd);
}
