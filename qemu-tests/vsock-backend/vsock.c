/* SPDX-License-Identifier: MIT */
#include "vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bytebuf.h"
#include "evloop.h"
#include "iov.h"
#include "lcow/cleanup.h"
#include "list.h"
#include "log.h"

#define HASH_BUCKETS 4096
#define RST_QUEUE_MAX 4096
#define MAX_IOV 256
/* A unix listener with a full backlog makes connect() fail with EAGAIN
 * instead of blocking; retry at this interval until the connect timeout. */
#define UDS_RETRY_MS 20
#define DEFAULT_CONNECT_TIMEOUT_MS 30000
#define DEFAULT_CLOSE_TIMEOUT_MS 60000

enum conn_state {
	CONN_HOST_LINE,	     /* host dialled uds_base; waiting for "CONNECT <port>\n" */
	CONN_REQUEST_SENT,   /* host-initiated: REQUEST queued/sent, waiting for RESPONSE */
	CONN_UDS_CONNECTING, /* guest-initiated: unix listener busy, retrying */
	CONN_ESTABLISHED,
	CONN_CLOSING,	/* we sent SHUTDOWN(RCV|SEND); waiting for the guest's RST */
	CONN_RESETTING, /* RST queued for the guest; unix side may still drain */
	CONN_DRAINING,	/* vsock side gone; flushing buffered guest data to the unix socket */
	CONN_DEAD,	/* waiting for vsock_reap() */
};

static const char *const state_names[] = {
	[CONN_HOST_LINE] = "host-line",	  [CONN_REQUEST_SENT] = "request-sent",
	[CONN_UDS_CONNECTING] = "uds-connecting", [CONN_ESTABLISHED] = "established",
	[CONN_CLOSING] = "closing",	  [CONN_RESETTING] = "resetting",
	[CONN_DRAINING] = "draining",	  [CONN_DEAD] = "dead",
};

/* Control packets owed to the guest. */
#define PEND_REQUEST (1u << 0)
#define PEND_RESPONSE (1u << 1)
#define PEND_CREDIT_UPDATE (1u << 2)
#define PEND_SHUTDOWN (1u << 3)
#define PEND_CREDIT_REQUEST (1u << 4)
#define PEND_RST (1u << 5)

struct vsock;

struct vconn {
	struct evsrc ev;
	struct vsock *vs;
	enum conn_state state;
	int fd; /* the unix socket, -1 once closed */
	uint32_t local_port, peer_port;
	bool request_sent; /* host-initiated: the guest has seen our REQUEST */

	struct list_head all_link, hash_link, ready_link, timer_link, reap_link;
	uint64_t timer_at; /* next timer action, CLOCK_MONOTONIC ms */
	uint64_t deadline; /* UDS_CONNECTING: give up at */

	unsigned pend;
	uint32_t shut_flags; /* flags for the pending SHUTDOWN */

	/* unix socket state (edge-triggered epoll: remembered until EAGAIN) */
	bool readable, writable, rdhup;
	bool rd_done; /* reading stopped: EOF seen, or the guest will not receive */
	bool wr_shut; /* shutdown(SHUT_WR) done */

	/* guest -> host */
	struct bytebuf out;    /* guest data the unix socket has not taken */
	uint32_t rx_cnt;       /* payload bytes received from the guest */
	uint32_t fwd_cnt;      /* of those, written to the unix socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt as the guest last heard it */

	/* host -> guest */
	uint32_t tx_cnt; /* payload bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	bool credit_requested;

	uint32_t peer_shut;  /* SHUTDOWN flags the guest sent */
	uint32_t local_shut; /* SHUTDOWN flags we sent */
};

struct rst_entry {
	uint64_t src_cid;
	uint32_t src_port, dst_port;
};

struct vsock {
	struct vsock_config cfg;
	char *uds_base;
	int epfd;
	int listen_fd;
	struct evsrc listen_ev;
	bool listen_paused;
	int timer_fd;
	struct evsrc timer_ev;
	uint64_t timer_armed; /* 0 = disarmed */

	struct list_head buckets[HASH_BUCKETS];
	struct list_head all, ready, timed, reap;
	unsigned nconns;
	uint32_t next_port;

	/* RSTs for packets that match no connection */
	struct rst_entry rstq[RST_QUEUE_MAX];
	unsigned rst_head, rst_len;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- connection table ---- */

static unsigned hash_ports(uint32_t local, uint32_t peer)
{
	uint32_t h = local * 2654435761u ^ (peer + 0x9e3779b9u) * 2246822519u;
	return (h ^ (h >> 15)) & (HASH_BUCKETS - 1);
}

static struct vconn *conn_lookup(struct vsock *vs, uint32_t local, uint32_t peer)
{
	struct list_head *b = &vs->buckets[hash_ports(local, peer)], *pos, *tmp;
	list_for_each_safe(pos, tmp, b)
	{
		struct vconn *c = container_of(pos, struct vconn, hash_link);
		if (c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

static void conn_hash(struct vconn *c, uint32_t local, uint32_t peer)
{
	c->local_port = local;
	c->peer_port = peer;
	list_add_tail(&c->hash_link, &c->vs->buckets[hash_ports(local, peer)]);
}

static void conn_unhash(struct vconn *c)
{
	if (list_linked(&c->hash_link))
		list_del_init(&c->hash_link);
}

/* ---- timers: one timerfd, armed for the earliest connection deadline ---- */

static void timer_arm(struct vsock *vs, uint64_t at)
{
	if (vs->timer_armed && vs->timer_armed <= at)
		return;
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(at / 1000), .tv_nsec = (long)(at % 1000) * 1000000 },
	};
	if (timerfd_settime(vs->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		vs->timer_armed = at;
	else
		log_err("timerfd_settime: %s", strerror(errno));
}

static void conn_set_timer(struct vconn *c, uint64_t at)
{
	c->timer_at = at;
	if (!list_linked(&c->timer_link))
		list_add_tail(&c->timer_link, &c->vs->timed);
	timer_arm(c->vs, at);
}

static void conn_clear_timer(struct vconn *c)
{
	if (list_linked(&c->timer_link))
		list_del_init(&c->timer_link);
}

/* ---- connection lifecycle ---- */

static void conn_event(struct evsrc *src, uint32_t events);

static struct vconn *conn_new(struct vsock *vs, int fd, enum conn_state state, struct error *err)
{
	struct vconn *c = calloc(1, sizeof(*c));
	if (!c) {
		error_set(err, ENOMEM, "allocate connection");
		return NULL;
	}
	c->vs = vs;
	c->ev.handler = conn_event;
	c->state = state;
	c->fd = -1;
	list_init(&c->hash_link);
	list_init(&c->ready_link);
	list_init(&c->timer_link);
	list_init(&c->reap_link);
	bytebuf_init(&c->out, vs->cfg.buf_alloc);
	if (fd >= 0) {
		/* Edge-triggered: readable/writable are remembered in the
		 * connection, so a socket we are not draining (no credit) does not
		 * wake the loop over and over. */
		int r = evloop_add(vs->epfd, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->ev);
		if (r < 0) {
			free(c);
			error_set(err, -r, "epoll add");
			return NULL;
		}
		c->fd = fd;
	}
	list_add_tail(&c->all_link, &vs->all);
	vs->nconns++;
	return c;
}

static void conn_close_fd(struct vconn *c)
{
	if (c->fd >= 0) {
		evloop_del(c->vs->epfd, c->fd);
		close(c->fd);
		c->fd = -1;
	}
}

/* Close the unix side and forget the connection; freed by vsock_reap(). */
static void conn_kill(struct vconn *c)
{
	struct vsock *vs = c->vs;
	if (c->state == CONN_DEAD)
		return;
	conn_close_fd(c);
	conn_unhash(c);
	conn_clear_timer(c);
	if (list_linked(&c->ready_link))
		list_del_init(&c->ready_link);
	bytebuf_free(&c->out);
	c->pend = 0;
	c->state = CONN_DEAD;
	list_del_init(&c->all_link);
	vs->nconns--;
	list_add_tail(&c->reap_link, &vs->reap);
}

/* Does the guest know this connection (so ending it needs an RST)? */
static bool conn_guest_knows(const struct vconn *c)
{
	switch (c->state) {
	case CONN_REQUEST_SENT:
		return c->request_sent;
	case CONN_UDS_CONNECTING:
	case CONN_ESTABLISHED:
	case CONN_CLOSING:
		return true;
	default:
		return false;
	}
}

/* Abortive close (an error on either side): drop the unix socket and
 * whatever it did not take, and reset the guest's end. */
static void conn_abort(struct vconn *c)
{
	if (c->state == CONN_DEAD || c->state == CONN_RESETTING)
		return;
	conn_close_fd(c);
	bytebuf_free(&c->out);
	if (!conn_guest_knows(c)) {
		conn_kill(c);
		return;
	}
	conn_clear_timer(c);
	c->state = CONN_RESETTING;
	c->pend = PEND_RST;
}

/* The vsock side is finished (RST sent or received): the port pair is free
 * again, but guest data still buffered goes to the unix socket first. */
static void conn_vsock_gone(struct vconn *c)
{
	conn_unhash(c);
	conn_clear_timer(c);
	c->pend = 0;
	if (c->fd >= 0 && !bytebuf_empty(&c->out)) {
		c->state = CONN_DRAINING;
		c->rd_done = true;
		return;
	}
	conn_kill(c);
}

static uint32_t conn_credit(const struct vconn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	/* A guest that shrank its buffer, or claims to have consumed more than
	 * we sent, gets nothing rather than a wrapped-around window. */
	if (in_flight >= c->peer_buf_alloc)
		return 0;
	return c->peer_buf_alloc - in_flight;
}

static bool conn_data_ready(const struct vconn *c)
{
	return c->state == CONN_ESTABLISHED && c->fd >= 0 && c->readable && !c->rd_done &&
	       conn_credit(c) > 0;
}

/* Put c on the ready list (at the tail: round robin) iff it has something
 * for the guest. */
static void conn_schedule(struct vconn *c)
{
	struct vsock *vs = c->vs;

	if (c->state == CONN_DEAD)
		return;
	/* Data waits on guest credit: ask for it once per stall.  Linux
	 * guests update on their own, this is the safety net. */
	if (c->state == CONN_ESTABLISHED && c->fd >= 0 && c->readable && !c->rd_done &&
	    conn_credit(c) == 0 && !c->credit_requested) {
		c->pend |= PEND_CREDIT_REQUEST;
		c->credit_requested = true;
	}
	bool want = c->pend || conn_data_ready(c);
	if (want && !list_linked(&c->ready_link))
		list_add_tail(&c->ready_link, &vs->ready);
	else if (!want && list_linked(&c->ready_link))
		list_del_init(&c->ready_link);
}

/* Tell the guest about consumed data when its view of our window has
 * shrunk below half, in steps of a quarter window or when everything has
 * been forwarded (so a stalled guest always hears eventually). */
static void conn_maybe_credit_update(struct vconn *c)
{
	uint32_t buf_alloc = c->vs->cfg.buf_alloc;
	uint32_t unsent = c->fwd_cnt - c->fwd_cnt_sent;
	uint32_t guest_used = c->rx_cnt - c->fwd_cnt_sent;
	uint32_t guest_free = guest_used >= buf_alloc ? 0 : buf_alloc - guest_used;

	if (unsent == 0)
		return;
	if (guest_free < buf_alloc / 2 && (unsent >= buf_alloc / 4 || bytebuf_empty(&c->out)))
		c->pend |= PEND_CREDIT_UPDATE;
}

/* Half-close bookkeeping for an established connection. */
static void conn_progress(struct vconn *c)
{
	if (c->state != CONN_ESTABLISHED)
		return;
	/* The guest sends no more and all it sent is delivered: EOF for the
	 * host reader. */
	if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) && bytebuf_empty(&c->out) && !c->wr_shut &&
	    c->fd >= 0) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	/* We send no more once reading stopped; once both directions are done
	 * we say so with RCV|SEND and the guest answers RST. */
	uint32_t want = 0;
	if (c->rd_done)
		want |= VSOCK_SHUTDOWN_SEND;
	if (c->rd_done && c->wr_shut)
		want |= VSOCK_SHUTDOWN_RCV;
	if (want & ~c->local_shut) {
		c->shut_flags = want;
		c->pend |= PEND_SHUTDOWN;
	}
}

/* ---- packets for the guest ---- */

static void conn_fill_hdr(struct vconn *c, struct vsock_hdr *h, uint16_t op, uint32_t flags,
			  uint32_t len)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_CID_HOST,
		.dst_cid = c->vs->cfg.guest_cid,
		.src_port = c->local_port,
		.dst_port = c->peer_port,
		.len = len,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
		.buf_alloc = c->vs->cfg.buf_alloc,
		.fwd_cnt = c->fwd_cnt,
	};
	/* Every header carries our window, so it doubles as a credit update. */
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pend &= ~PEND_CREDIT_UPDATE;
}

/* Read unix data straight into the guest's buffer.  1 = RW packet made. */
static int conn_read_data(struct vconn *c, struct vsock_hdr *h, const struct iovec *space,
			  unsigned niov, size_t len)
{
	uint32_t want = conn_credit(c);
	if (want > len)
		want = (uint32_t)len;
	if (want == 0)
		return 0;

	struct iovec iov[MAX_IOV];
	unsigned n = iov_slice(space, niov, 0, want, iov, MAX_IOV);
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t r;
	do
		r = recvmsg(c->fd, &mh, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		conn_fill_hdr(c, h, VSOCK_OP_RW, 0, (uint32_t)r);
		c->tx_cnt += (uint32_t)r;
		return 1;
	}
	if (r == 0) {
		log_debug("port %u<-%u: unix EOF", c->local_port, c->peer_port);
		c->rd_done = true;
		conn_progress(c);
		return 0;
	}
	if (errno == EAGAIN) {
		c->readable = false;
		return 0;
	}
	log_debug("port %u<-%u: unix read: %s", c->local_port, c->peer_port, strerror(errno));
	conn_abort(c);
	return 0;
}

static int conn_produce(struct vconn *c, struct vsock_hdr *h, const struct iovec *space,
			unsigned niov, size_t len)
{
	if (c->pend & PEND_RST) {
		conn_fill_hdr(c, h, VSOCK_OP_RST, 0, 0);
		conn_vsock_gone(c);
		return 1;
	}
	if (c->pend & PEND_REQUEST) {
		conn_fill_hdr(c, h, VSOCK_OP_REQUEST, 0, 0);
		c->pend &= ~PEND_REQUEST;
		c->request_sent = true;
		return 1;
	}
	if (c->pend & PEND_RESPONSE) {
		conn_fill_hdr(c, h, VSOCK_OP_RESPONSE, 0, 0);
		c->pend &= ~PEND_RESPONSE;
		return 1;
	}
	if (conn_data_ready(c)) {
		if (conn_read_data(c, h, space, niov, len))
			return 1;
		if (c->pend & PEND_RST) /* the read failed */
			return conn_produce(c, h, space, niov, len);
	}
	if (c->pend & PEND_CREDIT_UPDATE) {
		conn_fill_hdr(c, h, VSOCK_OP_CREDIT_UPDATE, 0, 0);
		return 1;
	}
	if (c->pend & PEND_SHUTDOWN) {
		conn_fill_hdr(c, h, VSOCK_OP_SHUTDOWN, c->shut_flags, 0);
		c->pend &= ~PEND_SHUTDOWN;
		c->local_shut |= c->shut_flags;
		if (c->local_shut == VSOCK_SHUTDOWN_MASK) {
			/* Both directions are done and delivered. */
			conn_close_fd(c);
			c->state = CONN_CLOSING;
			conn_set_timer(c, now_ms() + c->vs->cfg.close_timeout_ms);
		}
		return 1;
	}
	if (c->pend & PEND_CREDIT_REQUEST) {
		conn_fill_hdr(c, h, VSOCK_OP_CREDIT_REQUEST, 0, 0);
		c->pend &= ~PEND_CREDIT_REQUEST;
		return 1;
	}
	return 0;
}

int vsock_send(struct vsock *vs, struct vsock_hdr *h, const struct iovec *space, unsigned niov,
	       size_t len)
{
	if (len > VSOCK_MAX_PKT)
		len = VSOCK_MAX_PKT;
	if (vs->rst_len) {
		const struct rst_entry *e = &vs->rstq[vs->rst_head];
		*h = (struct vsock_hdr){
			.src_cid = e->src_cid,
			.dst_cid = vs->cfg.guest_cid,
			.src_port = e->src_port,
			.dst_port = e->dst_port,
			.type = VSOCK_TYPE_STREAM,
			.op = VSOCK_OP_RST,
		};
		vs->rst_head = (vs->rst_head + 1) % RST_QUEUE_MAX;
		vs->rst_len--;
		return 1;
	}
	while (!list_empty(&vs->ready)) {
		struct vconn *c = container_of(vs->ready.next, struct vconn, ready_link);
		list_del_init(&c->ready_link);
		int r = conn_produce(c, h, space, niov, len);
		conn_schedule(c);
		if (r)
			return 1;
	}
	return 0;
}

bool vsock_pending(const struct vsock *vs)
{
	return vs->rst_len || !list_empty(&vs->ready);
}

/* RST for a packet that matches no connection (never for an RST). */
static void queue_rst(struct vsock *vs, const struct vsock_hdr *h)
{
	if (h->op == VSOCK_OP_RST)
		return;
	if (vs->rst_len == RST_QUEUE_MAX) {
		log_warn("RST queue full, dropping RST for port %u", h->dst_port);
		return;
	}
	struct rst_entry *e = &vs->rstq[(vs->rst_head + vs->rst_len) % RST_QUEUE_MAX];
	e->src_cid = h->dst_cid;
	e->src_port = h->dst_port;
	e->dst_port = h->src_port;
	vs->rst_len++;
}

/* ---- unix side ---- */

static int uds_path(const struct vsock *vs, uint32_t port, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s_%u", vs->uds_base, port);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

/* Connect the guest-initiated c to "<base>_<port>".  -EAGAIN: the listener's
 * backlog is full, try again later. */
static int conn_uds_connect(struct vconn *c, struct error *err)
{
	struct sockaddr_un sa;
	int r = uds_path(c->vs, c->local_port, &sa);
	if (r < 0)
		return error_setx(err, -r, "unix path for port %u too long", c->local_port);

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_set(err, errno, "connect %s", sa.sun_path);
	r = evloop_add(c->vs->epfd, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->ev);
	if (r < 0)
		return error_set(err, -r, "epoll add");
	c->fd = TAKE_FD(fd);
	c->writable = true;
	return 0;
}

static void conn_read_connect(struct vconn *c)
{
	struct vsock *vs = c->vs;
	char buf[VSOCK_LINE_MAX];

	/* Peek, so bytes behind the line stay in the socket for the guest. */
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->readable = false;
			return;
		}
		log_debug("host connection: read: %s", strerror(errno));
		conn_kill(c);
		return;
	}
	if (n == 0) {
		log_debug("host connection closed before CONNECT");
		conn_kill(c);
		return;
	}
	char *nl = memchr(buf, '\n', (size_t)n);
	if (!nl) {
		if ((size_t)n == sizeof(buf) || c->rdhup) {
			log_warn("host connection: no CONNECT line in %zd bytes, closing", n);
			conn_kill(c);
		} else {
			c->readable = false;
		}
		return;
	}
	size_t len = (size_t)(nl - buf) + 1;
	uint32_t port;
	if (vsock_parse_connect(buf, len, &port) < 0) {
		char shown[VSOCK_LINE_MAX + 1];
		for (size_t i = 0; i + 1 < len; i++)
			shown[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
		shown[len - 1] = '\0';
		log_warn("host connection: malformed line \"%s\", closing", shown);
		conn_kill(c);
		return;
	}
	if (recv(c->fd, buf, len, MSG_DONTWAIT) != (ssize_t)len) {
		log_warn("host connection: lost the CONNECT line");
		conn_kill(c);
		return;
	}

	uint32_t local = 0;
	bool found = false;
	for (unsigned tries = 0; tries < 65536 && !found; tries++) {
		local = vs->next_port;
		vs->next_port = local >= VSOCK_PORT_ANY - 1 ? VSOCK_FIRST_LOCAL_PORT : local + 1;
		found = !conn_lookup(vs, local, port);
	}
	if (!found) {
		log_warn("host connection to guest port %u: no free local port", port);
		conn_kill(c);
		return;
	}
	conn_hash(c, local, port);
	c->state = CONN_REQUEST_SENT;
	c->pend |= PEND_REQUEST;
	/* Bytes may already wait behind the line. */
	c->readable = true;
	conn_set_timer(c, now_ms() + vs->cfg.connect_timeout_ms);
	log_debug("host -> guest port %u from local port %u", port, local);
}

static void conn_flush(struct vconn *c)
{
	if (c->fd >= 0 && c->writable && !bytebuf_empty(&c->out)) {
		ssize_t w = bytebuf_flush(&c->out, c->fd);
		if (w == -EAGAIN) {
			c->writable = false;
		} else if (w < 0) {
			log_debug("port %u<-%u: unix write: %s", c->local_port, c->peer_port,
				  strerror((int)-w));
			if (c->state == CONN_ESTABLISHED) {
				conn_abort(c);
			} else if (c->state == CONN_DRAINING) {
				conn_kill(c);
			} else {
				conn_close_fd(c);
				bytebuf_free(&c->out);
			}
			return;
		} else {
			if (!bytebuf_empty(&c->out))
				c->writable = false;
			c->fwd_cnt += (uint32_t)w;
			if (c->state == CONN_ESTABLISHED)
				conn_maybe_credit_update(c);
		}
	}
	if (c->state == CONN_DRAINING && bytebuf_empty(&c->out))
		conn_kill(c);
	else
		conn_progress(c);
}

static void conn_event(struct evsrc *src, uint32_t events)
{
	struct vconn *c = container_of(src, struct vconn, ev);

	if (c->state == CONN_DEAD || c->fd < 0)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (events & (EPOLLRDHUP | EPOLLHUP))
		c->rdhup = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->writable = true;

	switch (c->state) {
	case CONN_HOST_LINE:
		conn_read_connect(c);
		break;
	case CONN_REQUEST_SENT:
		/* HUP: the host closed both ways before the guest answered. */
		if (events & (EPOLLHUP | EPOLLERR)) {
			log_debug("host gave up on guest port %u", c->peer_port);
			conn_abort(c);
		}
		break;
	case CONN_ESTABLISHED:
	case CONN_RESETTING:
	case CONN_DRAINING:
		conn_flush(c);
		break;
	default:
		break;
	}
	conn_schedule(c);
}

static void listen_event(struct evsrc *src, uint32_t events)
{
	struct vsock *vs = container_of(src, struct vsock, listen_ev);
	(void)events;

	for (;;) {
		int fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return;
			log_warn("accept on %s: %s; pausing until a connection closes",
				 vs->uds_base, strerror(errno));
			/* Out of fds: stop the level-triggered listener from
			 * spinning; vsock_reap() resumes it. */
			if (evloop_mod(vs->epfd, vs->listen_fd, 0, &vs->listen_ev) == 0)
				vs->listen_paused = true;
			return;
		}
		if (vs->nconns >= vs->cfg.max_conns) {
			log_warn("%u connections, refusing a host connection", vs->nconns);
			close(fd);
			continue;
		}
		struct error err = { 0 };
		struct vconn *c = conn_new(vs, fd, CONN_HOST_LINE, &err);
		if (!c) {
			log_err("host connection: %s", error_text(&err));
			close(fd);
			continue;
		}
		conn_set_timer(c, now_ms() + vs->cfg.connect_timeout_ms);
	}
}

static void conn_timeout(struct vconn *c, uint64_t now)
{
	struct error err = { 0 };

	switch (c->state) {
	case CONN_HOST_LINE:
		log_warn("host connection: no CONNECT line in time, closing");
		conn_kill(c);
		break;
	case CONN_REQUEST_SENT:
		log_warn("guest port %u did not answer our REQUEST in time", c->peer_port);
		conn_abort(c);
		break;
	case CONN_UDS_CONNECTING: {
		int r = conn_uds_connect(c, &err);
		if (r == 0) {
			conn_clear_timer(c);
			c->state = CONN_ESTABLISHED;
			c->pend |= PEND_RESPONSE;
		} else if (r == -EAGAIN && now < c->deadline) {
			conn_set_timer(c, now + UDS_RETRY_MS);
		} else {
			log_debug("guest -> host port %u: %s", c->local_port, error_text(&err));
			conn_abort(c);
		}
		break;
	}
	case CONN_CLOSING:
		/* The guest never answered our SHUTDOWN; its socket may still
		 * hold unread data, so leave without an RST. */
		conn_kill(c);
		break;
	default:
		conn_clear_timer(c);
		break;
	}
	conn_schedule(c);
}

static void timer_event(struct evsrc *src, uint32_t events)
{
	struct vsock *vs = container_of(src, struct vsock, timer_ev);
	uint64_t expirations;
	struct list_head *pos, *tmp;
	(void)events;

	if (read(vs->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_err("timerfd read: %s", strerror(errno));
	vs->timer_armed = 0;
	uint64_t now = now_ms();
	list_for_each_safe(pos, tmp, &vs->timed)
	{
		struct vconn *c = container_of(pos, struct vconn, timer_link);
		if (c->timer_at <= now)
			conn_timeout(c, now);
	}
	uint64_t next = 0;
	list_for_each_safe(pos, tmp, &vs->timed)
	{
		struct vconn *c = container_of(pos, struct vconn, timer_link);
		if (!next || c->timer_at < next)
			next = c->timer_at;
	}
	if (next)
		timer_arm(vs, next);
}

/* ---- packets from the guest ---- */

static int guest_request(struct vsock *vs, const struct vsock_hdr *h, struct error *err)
{
	if (vs->nconns >= vs->cfg.max_conns) {
		queue_rst(vs, h);
		return error_setx(err, EMFILE, "%u connections, refusing guest port %u -> %u",
				  vs->nconns, h->src_port, h->dst_port);
	}
	struct vconn *c = conn_new(vs, -1, CONN_UDS_CONNECTING, err);
	if (!c) {
		queue_rst(vs, h);
		return -ENOMEM;
	}
	conn_hash(c, h->dst_port, h->src_port);
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;

	struct error cerr = { 0 };
	int r = conn_uds_connect(c, &cerr);
	if (r == 0) {
		c->state = CONN_ESTABLISHED;
		c->pend |= PEND_RESPONSE;
		log_debug("guest port %u -> host port %u: connected", h->src_port, h->dst_port);
	} else if (r == -EAGAIN) {
		c->deadline = now_ms() + vs->cfg.connect_timeout_ms;
		conn_set_timer(c, now_ms() + UDS_RETRY_MS);
	} else {
		/* Nobody listening is the normal way to say "no service". */
		log_debug("guest port %u -> host port %u: %s", h->src_port, h->dst_port,
			  error_text(&cerr));
		conn_abort(c);
	}
	conn_schedule(c);
	return 0;
}

static int conn_guest_data(struct vconn *c, const struct vsock_hdr *h, const struct iovec *payload,
			   unsigned niov, struct error *err)
{
	uint32_t buf_alloc = c->vs->cfg.buf_alloc;

	if (c->peer_shut & VSOCK_SHUTDOWN_SEND) {
		conn_abort(c);
		return error_setx(err, EPROTO, "port %u<-%u: data after SHUTDOWN(SEND)",
				  c->local_port, c->peer_port);
	}
	uint32_t in_flight = c->rx_cnt - c->fwd_cnt;
	if (h->len > buf_alloc - in_flight) {
		conn_abort(c);
		return error_setx(err, EPROTO,
				  "port %u<-%u: %u bytes exceed our credit (%u of %u in flight)",
				  c->local_port, c->peer_port, h->len, in_flight, buf_alloc);
	}
	if (h->len == 0)
		return 0;

	struct iovec iov[MAX_IOV];
	unsigned n = iov_slice(payload, niov, 0, h->len, iov, MAX_IOV);
	if (iov_total(iov, n) != h->len) {
		conn_abort(c);
		return error_setx(err, EPROTO, "port %u<-%u: payload too fragmented", c->local_port,
				  c->peer_port);
	}
	c->rx_cnt += h->len;

	size_t written = 0;
	if (bytebuf_empty(&c->out) && c->writable) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
		ssize_t w;
		do
			w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			/* The host side went away: a normal end, not a guest error. */
			log_debug("port %u<-%u: unix write: %s", c->local_port, c->peer_port,
				  strerror(errno));
			conn_abort(c);
			return 0;
		}
		written = w < 0 ? 0 : (size_t)w;
	}
	if (written < h->len) {
		struct iovec rest[MAX_IOV];
		unsigned k = iov_slice(iov, n, written, h->len - written, rest, MAX_IOV);
		int r = bytebuf_append(&c->out, rest, k);
		if (r < 0) {
			conn_abort(c);
			return error_set(err, -r, "port %u<-%u: buffer guest data", c->local_port,
					 c->peer_port);
		}
		c->writable = false;
	}
	c->fwd_cnt += (uint32_t)written;
	conn_maybe_credit_update(c);
	conn_progress(c);
	return 0;
}

static int conn_guest_shutdown(struct vconn *c, uint32_t flags)
{
	c->peer_shut |= flags & VSOCK_SHUTDOWN_MASK;
	if (c->peer_shut == VSOCK_SHUTDOWN_MASK) {
		/* The guest closed: answer RST (as Linux does), then deliver what
		 * it sent before. */
		c->state = CONN_RESETTING;
		c->pend = PEND_RST;
		c->rd_done = true;
		conn_clear_timer(c);
		return 0;
	}
	if ((c->peer_shut & VSOCK_SHUTDOWN_RCV) && !c->rd_done && c->fd >= 0) {
		/* The guest reads no more: the host writer gets EPIPE. */
		shutdown(c->fd, SHUT_RD);
		c->rd_done = true;
	}
	conn_progress(c);
	return 0;
}

static int conn_recv(struct vconn *c, const struct vsock_hdr *h, const struct iovec *payload,
		     unsigned niov, struct error *err)
{
	switch (c->state) {
	case CONN_REQUEST_SENT:
		if (!c->request_sent) {
			queue_rst(c->vs, h);
			conn_kill(c);
			return error_setx(err, EPROTO, "%s on port %u before our REQUEST",
					  vsock_op_name(h->op), c->local_port);
		}
		if (h->op == VSOCK_OP_RST) {
			log_debug("guest port %u refused the host connection", c->peer_port);
			conn_kill(c);
			return 0;
		}
		if (h->op != VSOCK_OP_RESPONSE) {
			conn_abort(c);
			return error_setx(err, EPROTO, "%s on port %u while connecting",
					  vsock_op_name(h->op), c->local_port);
		}
		char line[32];
		int n = snprintf(line, sizeof(line), "OK %u\n", c->local_port);
		conn_clear_timer(c);
		c->state = CONN_ESTABLISHED;
		if (send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
			log_debug("host connection on local port %u: cannot write OK: %s",
				  c->local_port, strerror(errno));
			conn_abort(c);
		}
		return 0;

	case CONN_UDS_CONNECTING:
		if (h->op == VSOCK_OP_RST) {
			conn_kill(c);
			return 0;
		}
		conn_abort(c);
		return error_setx(err, EPROTO, "%s on port %u before our RESPONSE",
				  vsock_op_name(h->op), c->local_port);

	case CONN_ESTABLISHED:
		switch (h->op) {
		case VSOCK_OP_RW:
			return conn_guest_data(c, h, payload, niov, err);
		case VSOCK_OP_CREDIT_UPDATE:
			return 0;
		case VSOCK_OP_CREDIT_REQUEST:
			c->pend |= PEND_CREDIT_UPDATE;
			return 0;
		case VSOCK_OP_SHUTDOWN:
			return conn_guest_shutdown(c, h->flags);
		case VSOCK_OP_RST:
			log_debug("port %u<-%u: reset by the guest", c->local_port, c->peer_port);
			conn_vsock_gone(c);
			return 0;
		default:
			conn_abort(c);
			return error_setx(err, EPROTO, "unexpected %s on established port %u<-%u",
					  vsock_op_name(h->op), c->local_port, c->peer_port);
		}

	case CONN_CLOSING:
		switch (h->op) {
		case VSOCK_OP_RST:
			conn_kill(c);
			return 0;
		case VSOCK_OP_SHUTDOWN:
			c->peer_shut |= h->flags & VSOCK_SHUTDOWN_MASK;
			if (c->peer_shut == VSOCK_SHUTDOWN_MASK) {
				c->state = CONN_RESETTING;
				c->pend = PEND_RST;
				conn_clear_timer(c);
			}
			return 0;
		case VSOCK_OP_CREDIT_REQUEST:
			c->pend |= PEND_CREDIT_UPDATE;
			return 0;
		case VSOCK_OP_CREDIT_UPDATE:
			return 0;
		default:
			return error_setx(err, EPROTO, "%s on closing port %u<-%u",
					  vsock_op_name(h->op), c->local_port, c->peer_port);
		}

	case CONN_RESETTING:
		/* Our RST is on its way; the guest's own RST makes it moot. */
		if (h->op == VSOCK_OP_RST)
			conn_vsock_gone(c);
		return 0;

	default:
		return 0;
	}
}

int vsock_recv(struct vsock *vs, const struct vsock_hdr *h, const struct iovec *payload,
	       unsigned niov, struct error *err)
{
	if (h->src_cid != vs->cfg.guest_cid)
		return error_setx(err, EINVAL, "%s from cid %llu, the guest is cid %llu",
				  vsock_op_name(h->op), (unsigned long long)h->src_cid,
				  (unsigned long long)vs->cfg.guest_cid);
	if (h->dst_cid != VSOCK_CID_HOST) {
		queue_rst(vs, h);
		return error_setx(err, EHOSTUNREACH, "%s to cid %llu, only the host (2) is here",
				  vsock_op_name(h->op), (unsigned long long)h->dst_cid);
	}
	if (h->type != VSOCK_TYPE_STREAM) {
		queue_rst(vs, h);
		return error_setx(err, EPROTONOSUPPORT, "socket type %u", h->type);
	}
	if (h->op == VSOCK_OP_RW && iov_total(payload, niov) < h->len)
		return error_setx(err, EINVAL, "RW of %u bytes in a shorter buffer", h->len);

	struct vconn *c = conn_lookup(vs, h->dst_port, h->src_port);
	if (c && h->op == VSOCK_OP_REQUEST) {
		/* A live guest never reopens a pair it still uses: it rebooted
		 * or reset its driver.  The old connection is stale; its host
		 * side sees EOF (after any buffered data) and the new one
		 * proceeds. */
		log_info("guest reopened port %u<-%u, dropping the stale connection", h->dst_port,
			 h->src_port);
		conn_vsock_gone(c);
		c = NULL;
	}
	if (!c) {
		if (h->op == VSOCK_OP_REQUEST)
			return guest_request(vs, h, err);
		queue_rst(vs, h);
		if (h->op != VSOCK_OP_RST)
			log_debug("%s for unknown port %u<-%u, answering RST", vsock_op_name(h->op),
				  h->dst_port, h->src_port);
		return 0;
	}

	if (c->state == CONN_ESTABLISHED || c->state == CONN_REQUEST_SENT ||
	    c->state == CONN_UDS_CONNECTING || c->state == CONN_CLOSING) {
		c->peer_buf_alloc = h->buf_alloc;
		c->peer_fwd_cnt = h->fwd_cnt;
		if (conn_credit(c) > 0)
			c->credit_requested = false;
	}
	enum conn_state was = c->state;
	int r = conn_recv(c, h, payload, niov, err);
	conn_schedule(c);
	if (r < 0)
		return error_prefix(err, r, "connection %s", state_names[was]);
	return r;
}

/* ---- setup ---- */

int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char prefix[] = "CONNECT ";
	const size_t plen = sizeof(prefix) - 1;

	if (len < plen + 2 || len > VSOCK_LINE_MAX || line[len - 1] != '\n' ||
	    memcmp(line, prefix, plen) != 0)
		return -EINVAL;
	size_t digits = len - 1 - plen;
	if (digits > 10)
		return -ERANGE;
	uint64_t v = 0;
	for (size_t i = plen; i < len - 1; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (v >= VSOCK_PORT_ANY)
		return -ERANGE;
	*port = (uint32_t)v;
	return 0;
}

int uds_listen(const char *path, int backlog, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path))
		return error_setx(err, ENAMETOOLONG, "socket path %s too long", path);
	strcpy(sa.sun_path, path);
	/* Replace a socket left by an earlier run, never any other file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return error_setx(err, EEXIST, "%s exists and is not a socket", path);
		if (unlink(path) < 0)
			return error_set(err, errno, "remove stale %s", path);
	}
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_set(err, errno, "bind %s", path);
	if (listen(fd, backlog) < 0)
		return error_set(err, errno, "listen %s", path);
	return TAKE_FD(fd);
}

int vsock_new(struct vsock **out, const struct vsock_config *cfg, int epfd, int listen_fd,
	      struct error *err)
{
	_cleanup_close_ int lfd = listen_fd;
	int r;

	if (cfg->guest_cid <= VSOCK_CID_HOST || cfg->guest_cid >= 0xffffffffull)
		return error_setx(err, EINVAL, "guest cid %llu is reserved",
				  (unsigned long long)cfg->guest_cid);
	struct vsock *vs = calloc(1, sizeof(*vs));
	if (!vs)
		return error_set(err, ENOMEM, "allocate vsock");
	vs->cfg = *cfg;
	if (!vs->cfg.buf_alloc)
		vs->cfg.buf_alloc = VSOCK_DEFAULT_BUF_ALLOC;
	if (!vs->cfg.max_conns)
		vs->cfg.max_conns = VSOCK_DEFAULT_MAX_CONNS;
	if (!vs->cfg.connect_timeout_ms)
		vs->cfg.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (!vs->cfg.close_timeout_ms)
		vs->cfg.close_timeout_ms = DEFAULT_CLOSE_TIMEOUT_MS;
	vs->uds_base = strdup(cfg->uds_base ? cfg->uds_base : "");
	vs->cfg.uds_base = vs->uds_base;
	vs->epfd = epfd;
	vs->listen_fd = -1;
	vs->timer_fd = -1;
	vs->next_port = VSOCK_FIRST_LOCAL_PORT;
	for (unsigned i = 0; i < HASH_BUCKETS; i++)
		list_init(&vs->buckets[i]);
	list_init(&vs->all);
	list_init(&vs->ready);
	list_init(&vs->timed);
	list_init(&vs->reap);
	if (!vs->uds_base) {
		r = error_set(err, ENOMEM, "allocate");
		goto fail;
	}

	vs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vs->timer_fd < 0) {
		r = error_set(err, errno, "timerfd_create");
		goto fail;
	}
	vs->timer_ev.handler = timer_event;
	r = evloop_add(epfd, vs->timer_fd, EPOLLIN, &vs->timer_ev);
	if (r < 0) {
		error_set(err, -r, "epoll add timerfd");
		goto fail;
	}
	if (lfd >= 0) {
		vs->listen_ev.handler = listen_event;
		r = evloop_add(epfd, lfd, EPOLLIN, &vs->listen_ev);
		if (r < 0) {
			error_set(err, -r, "epoll add listener");
			goto fail;
		}
		vs->listen_fd = TAKE_FD(lfd);
	}
	*out = vs;
	return 0;

fail:
	vsock_free(vs);
	return r;
}

void vsock_reset(struct vsock *vs)
{
	struct list_head *pos, *tmp;
	list_for_each_safe(pos, tmp, &vs->all)
	{
		conn_kill(container_of(pos, struct vconn, all_link));
	}
	vs->rst_len = 0;
	vs->rst_head = 0;
}

void vsock_reap(struct vsock *vs)
{
	struct list_head *pos, *tmp;
	list_for_each_safe(pos, tmp, &vs->reap)
	{
		struct vconn *c = container_of(pos, struct vconn, reap_link);
		list_del_init(&c->reap_link);
		free(c);
	}
	if (vs->listen_paused && vs->nconns < vs->cfg.max_conns &&
	    evloop_mod(vs->epfd, vs->listen_fd, EPOLLIN, &vs->listen_ev) == 0)
		vs->listen_paused = false;
}

unsigned vsock_nconns(const struct vsock *vs)
{
	return vs->nconns;
}

void vsock_free(struct vsock *vs)
{
	if (!vs)
		return;
	vsock_reset(vs);
	vsock_reap(vs);
	if (vs->listen_fd >= 0) {
		evloop_del(vs->epfd, vs->listen_fd);
		close(vs->listen_fd);
	}
	if (vs->timer_fd >= 0) {
		evloop_del(vs->epfd, vs->timer_fd);
		close(vs->timer_fd);
	}
	free(vs->uds_base);
	free(vs);
}
