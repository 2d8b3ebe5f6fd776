/* SPDX-License-Identifier: MIT */
/*
 * The connection engine without QEMU: the test plays the guest (packets in
 * through vsock_recv(), out through vsock_send() into 4 KiB buffers like a
 * Linux guest's rx queue) and the host (real unix sockets).
 */
#include <sys/epoll.h>

#include "evloop.h"
#include "harness.h"
#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "log.h"
#include "vsock.h"

#define GUEST_CID 3
#define RXBUF 4096
#define GUEST_BUF_ALLOC (64 * 1024)

struct world {
	int epfd;
	struct vsock *vs;
	char base[200];
};

static int world_init(struct world *w, uint32_t buf_alloc)
{
	struct error err = { 0 };
	vlog_init(NULL, 0);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	snprintf(w->base, sizeof(w->base), "%s/vsock", th_dir());
	int lfd = uds_listen(w->base, 1024, &err);
	if (lfd < 0)
		return lfd;
	struct vsock_config cfg = {
		.guest_cid = GUEST_CID,
		.uds_base = w->base,
		.buf_alloc = buf_alloc,
		.connect_timeout_ms = 1500,
		.close_timeout_ms = 1500,
	};
	int r = vsock_new(&w->vs, &cfg, w->epfd, lfd, &err);
	if (r < 0)
		TAP_DIAG("vsock_new: %s", error_text(&err));
	return r;
}

/* Let the engine handle every unix socket event that is ready now. */
static void pump(struct world *w)
{
	for (int i = 0; i < 1000; i++)
		if (evloop_dispatch(w->epfd, 0) <= 0)
			break;
	vsock_reap(w->vs);
}

/* Wait up to ms for an event (e.g. a retry timer), then pump. */
static void pump_wait(struct world *w, int ms)
{
	evloop_dispatch(w->epfd, ms);
	pump(w);
}

static int gsend(struct world *w, uint16_t op, uint32_t gport, uint32_t hport, uint32_t flags,
		 uint32_t fwd_cnt, const void *data, uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = GUEST_CID,
		.dst_cid = VSOCK_CID_HOST,
		.src_port = gport,
		.dst_port = hport,
		.len = len,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
		.buf_alloc = GUEST_BUF_ALLOC,
		.fwd_cnt = fwd_cnt,
	};
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct error err = { 0 };
	int r = vsock_recv(w->vs, &h, &iov, 1, &err);
	if (r < 0)
		TAP_DIAG("vsock_recv: %s", error_text(&err));
	return r;
}

/* Same with the guest's window spelled out. */
static int gsend_win(struct world *w, uint16_t op, uint32_t gport, uint32_t hport,
		     uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct vsock_hdr h = {
		.src_cid = GUEST_CID,
		.dst_cid = VSOCK_CID_HOST,
		.src_port = gport,
		.dst_port = hport,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = buf_alloc,
		.fwd_cnt = fwd_cnt,
	};
	struct error err = { 0 };
	return vsock_recv(w->vs, &h, NULL, 0, &err);
}

static int grecv(struct world *w, struct vsock_hdr *h, uint8_t *buf)
{
	struct iovec iov = { .iov_base = buf, .iov_len = RXBUF };
	return vsock_send(w->vs, h, &iov, 1, RXBUF);
}

/* Pull packets until one with op arrives (others are dropped); false if
 * the engine runs dry first. */
static bool grecv_op(struct world *w, uint16_t op, struct vsock_hdr *h, uint8_t *buf)
{
	while (grecv(w, h, buf))
		if (h->op == op)
			return true;
	return false;
}

static int host_listen(struct world *w, uint32_t port)
{
	char path[256];
	struct error err = { 0 };
	snprintf(path, sizeof(path), "%s_%u", w->base, port);
	return uds_listen(path, 512, &err);
}

/* ---- a simulated guest and host for bulk transfers ---- */

struct gconn {
	uint32_t gport, hport;
	uint32_t rx_cnt, fwd_told; /* received; fwd_cnt last told (we consume at once) */
	uint32_t tx_cnt;
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_total, rx_expect;
	uint32_t tx_seed, rx_seed;
	uint32_t peer_shut;
	bool established, rst, shut_when_done, shut_sent;
	unsigned violations;
	long bad_at;
};

struct hconn {
	int fd;
	uint64_t tx_total, tx_done, rx_cnt, rx_expect;
	uint32_t tx_seed, rx_seed;
	size_t read_limit; /* bytes per step, 0 = all there is */
	bool eof, shut_when_done, wr_shut;
	long bad_at;
};

static struct gconn *gfind(struct gconn *gs, unsigned n, uint32_t gport, uint32_t hport)
{
	for (unsigned i = 0; i < n; i++)
		if (gs[i].gport == gport && (gs[i].hport == hport || gs[i].hport == 0))
			return &gs[i];
	return NULL;
}

static unsigned stray_packets;

static void gdeliver(struct world *w, struct gconn *gs, unsigned n, const struct vsock_hdr *h,
		     const uint8_t *buf)
{
	struct gconn *g = gfind(gs, n, h->dst_port, h->src_port);
	if (!g || h->dst_cid != GUEST_CID || h->src_cid != VSOCK_CID_HOST) {
		stray_packets++;
		return;
	}
	g->peer_buf_alloc = h->buf_alloc;
	g->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_REQUEST: /* host-initiated: accept */
		g->hport = h->src_port;
		g->established = true;
		gsend(w, VSOCK_OP_RESPONSE, g->gport, g->hport, 0, g->rx_cnt, NULL, 0);
		break;
	case VSOCK_OP_RESPONSE:
		g->established = true;
		break;
	case VSOCK_OP_RW:
		/* The property under test: never more than our window. */
		if (g->rx_cnt + h->len - g->fwd_told > GUEST_BUF_ALLOC)
			g->violations++;
		if (g->bad_at < 0) {
			long bad = th_check(buf, h->len, g->rx_seed, g->rx_cnt);
			if (bad >= 0)
				g->bad_at = (long)g->rx_cnt + bad;
		}
		g->rx_cnt += h->len;
		/* Like Linux: update the sender when half the window is used. */
		if (g->rx_cnt - g->fwd_told >= GUEST_BUF_ALLOC / 2) {
			g->fwd_told = g->rx_cnt;
			gsend(w, VSOCK_OP_CREDIT_UPDATE, g->gport, g->hport, 0, g->rx_cnt, NULL, 0);
		}
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		g->fwd_told = g->rx_cnt;
		gsend(w, VSOCK_OP_CREDIT_UPDATE, g->gport, g->hport, 0, g->rx_cnt, NULL, 0);
		break;
	case VSOCK_OP_SHUTDOWN:
		g->peer_shut |= h->flags;
		if (g->peer_shut == VSOCK_SHUTDOWN_MASK) {
			gsend(w, VSOCK_OP_RST, g->gport, g->hport, 0, g->rx_cnt, NULL, 0);
			g->rst = true;
		}
		break;
	case VSOCK_OP_RST:
		g->rst = true;
		break;
	default:
		break;
	}
}

static void gpush(struct world *w, struct gconn *g)
{
	uint8_t buf[4096];
	while (g->established && !g->rst && g->tx_cnt < g->tx_total) {
		uint32_t in_flight = g->tx_cnt - g->peer_fwd_cnt;
		uint32_t credit = in_flight >= g->peer_buf_alloc ? 0 : g->peer_buf_alloc - in_flight;
		uint32_t chunk = g->tx_total - g->tx_cnt;
		if (chunk > credit)
			chunk = credit;
		if (chunk > sizeof(buf))
			chunk = sizeof(buf);
		if (!chunk)
			break;
		th_fill(buf, chunk, g->tx_seed, g->tx_cnt);
		g->fwd_told = g->rx_cnt;
		gsend(w, VSOCK_OP_RW, g->gport, g->hport, 0, g->rx_cnt, buf, chunk);
		g->tx_cnt += chunk;
	}
	if (g->established && !g->rst && g->tx_cnt == g->tx_total && g->shut_when_done &&
	    !g->shut_sent) {
		gsend(w, VSOCK_OP_SHUTDOWN, g->gport, g->hport, VSOCK_SHUTDOWN_SEND, g->rx_cnt, NULL,
		      0);
		g->shut_sent = true;
	}
}

static void hstep(struct hconn *hc)
{
	uint8_t buf[65536];
	if (hc->fd < 0)
		return;
	while (!hc->eof) {
		size_t want = sizeof(buf);
		if (hc->read_limit && want > hc->read_limit)
			want = hc->read_limit;
		ssize_t n = recv(hc->fd, buf, want, MSG_DONTWAIT);
		if (n < 0)
			break;
		if (n == 0) {
			hc->eof = true;
			break;
		}
		if (hc->bad_at < 0) {
			long bad = th_check(buf, (size_t)n, hc->rx_seed, hc->rx_cnt);
			if (bad >= 0)
				hc->bad_at = (long)hc->rx_cnt + bad;
		}
		hc->rx_cnt += (uint64_t)n;
		if (hc->read_limit)
			break;
	}
	while (hc->tx_done < hc->tx_total) {
		size_t chunk = hc->tx_total - hc->tx_done;
		if (chunk > sizeof(buf))
			chunk = sizeof(buf);
		th_fill(buf, chunk, hc->tx_seed, hc->tx_done);
		ssize_t n = send(hc->fd, buf, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		hc->tx_done += (uint64_t)n;
	}
	if (hc->tx_done == hc->tx_total && hc->shut_when_done && !hc->wr_shut) {
		shutdown(hc->fd, SHUT_WR);
		hc->wr_shut = true;
	}
}

static bool all_done(struct gconn *gs, unsigned ng, struct hconn *hs, unsigned nh)
{
	for (unsigned i = 0; i < ng; i++)
		if (gs[i].rx_cnt < gs[i].rx_expect || gs[i].tx_cnt < gs[i].tx_total)
			return false;
	for (unsigned i = 0; i < nh; i++)
		if (hs[i].rx_cnt < hs[i].rx_expect || hs[i].tx_done < hs[i].tx_total)
			return false;
	return true;
}

/* Run guest, engine and host until every stream is complete; false on
 * stall (no progress for ~2 s). */
static bool drive(struct world *w, struct gconn *gs, unsigned ng, struct hconn *hs, unsigned nh,
		  bool (*extra_done)(void *), void *arg)
{
	uint8_t buf[RXBUF];
	struct vsock_hdr h;
	unsigned idle = 0;

	while (idle < 200) {
		uint64_t before = 0, after = 0;
		for (unsigned i = 0; i < ng; i++)
			before += gs[i].rx_cnt + gs[i].tx_cnt + gs[i].established;
		for (unsigned i = 0; i < nh; i++)
			before += hs[i].rx_cnt + hs[i].tx_done;

		for (unsigned i = 0; i < ng; i++)
			gpush(w, &gs[i]);
		pump(w);
		for (unsigned i = 0; i < nh; i++)
			hstep(&hs[i]);
		pump(w);
		while (grecv(w, &h, buf))
			gdeliver(w, gs, ng, &h, buf);

		if (all_done(gs, ng, hs, nh) && (!extra_done || extra_done(arg)))
			return true;
		for (unsigned i = 0; i < ng; i++)
			after += gs[i].rx_cnt + gs[i].tx_cnt + gs[i].established;
		for (unsigned i = 0; i < nh; i++)
			after += hs[i].rx_cnt + hs[i].tx_done;
		if (after == before) {
			idle++;
			pump_wait(w, 10);
		} else {
			idle = 0;
		}
	}
	return false;
}

static void gconn_init(struct gconn *g, uint32_t gport, uint32_t hport)
{
	*g = (struct gconn){
		.gport = gport,
		.hport = hport,
		.peer_buf_alloc = 0,
		.bad_at = -1,
	};
}

static void hconn_init(struct hconn *hc, int fd)
{
	*hc = (struct hconn){ .fd = fd, .bad_at = -1 };
	th_set_nonblock(fd);
}

/* Guest dials host port hport from gport; returns the accepted host fd. */
static int establish_guest(struct world *w, struct gconn *g, int lfd)
{
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	gsend(w, VSOCK_OP_REQUEST, g->gport, g->hport, 0, 0, NULL, 0);
	pump(w);
	if (!grecv_op(w, VSOCK_OP_RESPONSE, &h, buf))
		return -1;
	g->established = true;
	g->peer_buf_alloc = h.buf_alloc;
	g->peer_fwd_cnt = h.fwd_cnt;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* ---- tests ---- */

TEST(request_to_listening_uds_gets_response)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 5000);
	ASSERT_GE(lfd, 0);

	ASSERT_EQ(gsend(&w, VSOCK_OP_REQUEST, 1025, 5000, 0, 0, NULL, 0), 0);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	EXPECT_EQ(h.op, VSOCK_OP_RESPONSE);
	EXPECT_EQ(h.src_cid, VSOCK_CID_HOST);
	EXPECT_EQ(h.dst_cid, GUEST_CID);
	EXPECT_EQ(h.src_port, 5000);
	EXPECT_EQ(h.dst_port, 1025);
	EXPECT_EQ(h.type, VSOCK_TYPE_STREAM);
	EXPECT_EQ(h.buf_alloc, VSOCK_DEFAULT_BUF_ALLOC);
	EXPECT_EQ(h.len, 0);
	EXPECT_EQ(grecv(&w, &h, buf), 0);
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	EXPECT_GE(fd, 0);
	EXPECT_EQ(vsock_nconns(w.vs), 1);
}

TEST(request_to_missing_uds_gets_rst)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);

	ASSERT_EQ(gsend(&w, VSOCK_OP_REQUEST, 1026, 5001, 0, 0, NULL, 0), 0);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	EXPECT_EQ(h.op, VSOCK_OP_RST);
	EXPECT_EQ(h.src_port, 5001);
	EXPECT_EQ(h.dst_port, 1026);
	EXPECT_EQ(grecv(&w, &h, buf), 0);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(connect_handshake_request_response_ok)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	char line[64] = { 0 };
	ASSERT_EQ(world_init(&w, 0), 0);

	int fd = th_connect(w.base, false);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "CONNECT 6000\n", 13), 13);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	ASSERT_EQ(h.op, VSOCK_OP_REQUEST);
	EXPECT_EQ(h.dst_port, 6000);
	EXPECT_EQ(h.dst_cid, GUEST_CID);
	EXPECT_GE(h.src_port, VSOCK_FIRST_LOCAL_PORT);
	uint32_t local = h.src_port;
	/* Nothing reaches the host before the guest answers. */
	EXPECT_FALSE(th_wait_readable(fd, 50));

	ASSERT_EQ(gsend(&w, VSOCK_OP_RESPONSE, 6000, local, 0, 0, NULL, 0), 0);
	pump(&w);
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	ssize_t n = read(fd, line, sizeof(line) - 1);
	char want[64];
	snprintf(want, sizeof(want), "OK %u\n", local);
	ASSERT_EQ(n, (ssize_t)strlen(want));
	EXPECT_STREQ(line, want);

	/* A second connection gets a different local port. */
	int fd2 = th_connect(w.base, false);
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(write(fd2, "CONNECT 6000\n", 13), 13);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	EXPECT_EQ(h.op, VSOCK_OP_REQUEST);
	EXPECT_NE(h.src_port, local);
}

TEST(connect_refused_by_guest_closes_without_ok)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);

	int fd = th_connect(w.base, false);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "CONNECT 6001\n", 13), 13);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	ASSERT_EQ(h.op, VSOCK_OP_REQUEST);
	ASSERT_EQ(gsend(&w, VSOCK_OP_RST, 6001, h.src_port, 0, 0, NULL, 0), 0);
	pump(&w);
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0); /* EOF, no "OK" */
	EXPECT_EQ(grecv(&w, &h, buf), 0);	   /* and no RST for an RST */
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(connect_line_split_and_trailing_data_delivered)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);

	int fd = th_connect(w.base, false);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "CONN", 4), 4);
	pump(&w);
	EXPECT_EQ(grecv(&w, &h, buf), 0);
	/* The rest of the line plus data the guest must see after RESPONSE. */
	ASSERT_EQ(write(fd, "ECT 77\nhello", 12), 12);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	ASSERT_EQ(h.op, VSOCK_OP_REQUEST);
	EXPECT_EQ(h.dst_port, 77);
	ASSERT_EQ(gsend_win(&w, VSOCK_OP_RESPONSE, 77, h.src_port, GUEST_BUF_ALLOC, 0), 0);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	ASSERT_EQ(h.op, VSOCK_OP_RW);
	ASSERT_EQ(h.len, 5);
	EXPECT_EQ(memcmp(buf, "hello", 5), 0);
}

TEST(malformed_connect_lines_close)
{
	static const char *const bad[] = {
		"CONNEC 1\n",	     "CONNECT \n",	    "CONNECT abc\n", "CONNECT 12a\n",
		"CONNECT -1\n",	     "CONNECT 4294967295\n", "CONNECT 99999999999\n",
		"CONNECT 5 6\n",     "connect 5\n",	    " CONNECT 5\n",  "CONNECT  5\n",
		"CONNECT 5\r\n",     "\n",
		"CONNECT 1234567890123456789012345678901234567890", /* no newline, too long */
	};
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);

	for (unsigned i = 0; i < (unsigned)ARRAY_SIZE(bad); i++) {
		int fd = th_connect(w.base, false);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		pump(&w);
		/* Closed: EOF, or a reset since the bad line was never read. */
		ssize_t n = th_wait_readable(fd, 1000) ? read(fd, buf, sizeof(buf)) : 1;
		if (n != 0 && !(n < 0 && errno == ECONNRESET)) {
			TAP_DIAG("line %u (\"%s\") was not refused", i, bad[i]);
			*_tap_failed = 1;
		}
		close(fd);
		EXPECT_EQ(grecv(&w, &h, buf), 0);
	}
	/* A half line followed by EOF is refused as well. */
	int fd = th_connect(w.base, false);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "CONNECT 5", 9), 9);
	shutdown(fd, SHUT_WR);
	pump(&w);
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	ssize_t n = read(fd, buf, sizeof(buf));
	EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET));
	EXPECT_EQ(grecv(&w, &h, buf), 0);
	pump(&w);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(parse_connect_accepts_exact_form_only)
{
	uint32_t port = 0;
	EXPECT_EQ(vsock_parse_connect("CONNECT 0\n", 10, &port), 0);
	EXPECT_EQ(port, 0);
	EXPECT_EQ(vsock_parse_connect("CONNECT 1073741824\n", 19, &port), 0);
	EXPECT_EQ(port, 1073741824);
	EXPECT_EQ(vsock_parse_connect("CONNECT 4294967294\n", 19, &port), 0);
	EXPECT_EQ(port, 4294967294u);
	EXPECT_NE(vsock_parse_connect("CONNECT 4294967295\n", 19, &port), 0);
	EXPECT_NE(vsock_parse_connect("CONNECT 4294967296\n", 19, &port), 0);
	EXPECT_NE(vsock_parse_connect("CONNECT 1", 9, &port), 0);
	EXPECT_NE(vsock_parse_connect("CONNECT +1\n", 11, &port), 0);
}

TEST(unknown_connection_gets_rst_but_rst_does_not)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);

	ASSERT_EQ(gsend(&w, VSOCK_OP_RW, 1100, 5100, 0, 0, "x", 1), 0);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	EXPECT_EQ(h.op, VSOCK_OP_RST);
	EXPECT_EQ(h.src_port, 5100);
	EXPECT_EQ(h.dst_port, 1100);
	ASSERT_EQ(gsend(&w, VSOCK_OP_RST, 1100, 5100, 0, 0, NULL, 0), 0);
	ASSERT_EQ(gsend(&w, VSOCK_OP_SHUTDOWN, 1100, 5100, 3, 0, NULL, 0), 0);
	ASSERT_EQ(grecv(&w, &h, buf), 1); /* for the SHUTDOWN only */
	EXPECT_EQ(h.op, VSOCK_OP_RST);
	EXPECT_EQ(grecv(&w, &h, buf), 0);
}

TEST(bad_addresses_and_types_rejected)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	struct error err = { 0 };
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 5200);
	ASSERT_GE(lfd, 0);

	/* Spoofed source CID: dropped, no connection. */
	struct vsock_hdr req = { .src_cid = 7, .dst_cid = 2, .src_port = 1, .dst_port = 5200,
				 .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST };
	EXPECT_TRUE(vsock_recv(w.vs, &req, NULL, 0, &err) < 0);
	EXPECT_EQ(grecv(&w, &h, buf), 0);
	/* Seqpacket was not negotiated: RST. */
	req.src_cid = GUEST_CID;
	req.type = VSOCK_TYPE_SEQPACKET;
	EXPECT_TRUE(vsock_recv(w.vs, &req, NULL, 0, &err) < 0);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	EXPECT_EQ(h.op, VSOCK_OP_RST);
	/* Another CID than the host's: RST from that address. */
	req.type = VSOCK_TYPE_STREAM;
	req.dst_cid = 9;
	EXPECT_TRUE(vsock_recv(w.vs, &req, NULL, 0, &err) < 0);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	EXPECT_EQ(h.op, VSOCK_OP_RST);
	EXPECT_EQ(h.src_cid, 9);
	/* RW claiming more payload than it carries. */
	req.dst_cid = 2;
	req.op = VSOCK_OP_RW;
	req.len = 100;
	struct iovec iov = { .iov_base = buf, .iov_len = 10 };
	EXPECT_TRUE(vsock_recv(w.vs, &req, &iov, 1, &err) < 0);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(data_both_ways_byte_exact)
{
	struct world w;
	struct gconn g;
	struct hconn hc;
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 5300);
	ASSERT_GE(lfd, 0);

	gconn_init(&g, 1300, 5300);
	int fd = establish_guest(&w, &g, lfd);
	ASSERT_GE(fd, 0);
	hconn_init(&hc, fd);
	g.tx_total = 3 * 1024 * 1024 + 17;
	g.tx_seed = 11;
	hc.rx_expect = g.tx_total;
	hc.rx_seed = 11;
	hc.tx_total = 2 * 1024 * 1024 + 5;
	hc.tx_seed = 12;
	g.rx_expect = (uint32_t)hc.tx_total;
	g.rx_seed = 12;
	ASSERT_TRUE(drive(&w, &g, 1, &hc, 1, NULL, NULL));
	EXPECT_EQ(hc.rx_cnt, g.tx_total);
	EXPECT_EQ(g.rx_cnt, hc.tx_total);
	EXPECT_EQ(hc.bad_at, -1);
	EXPECT_EQ(g.bad_at, -1);
	EXPECT_EQ(g.violations, 0);
	EXPECT_FALSE(g.rst);
	EXPECT_EQ(stray_packets, 0);
}

TEST(backend_never_exceeds_guest_credit_and_resumes)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 5400);
	ASSERT_GE(lfd, 0);

	/* The guest grants only 1000 bytes. */
	ASSERT_EQ(gsend_win(&w, VSOCK_OP_REQUEST, 1400, 5400, 1000, 0), 0);
	pump(&w);
	ASSERT_TRUE(grecv_op(&w, VSOCK_OP_RESPONSE, &h, buf));
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_GE(fd, 0);
	uint8_t data[10000];
	th_fill(data, sizeof(data), 5, 0);
	ASSERT_EQ(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	pump(&w);

	uint32_t got = 0;
	bool credit_requested = false;
	while (grecv(&w, &h, buf)) {
		if (h.op == VSOCK_OP_RW) {
			EXPECT_EQ(th_check(buf, h.len, 5, got), -1);
			got += h.len;
		} else if (h.op == VSOCK_OP_CREDIT_REQUEST) {
			credit_requested = true;
		}
	}
	EXPECT_EQ(got, 1000);
	EXPECT_TRUE(credit_requested);
	pump(&w);
	EXPECT_EQ(grecv(&w, &h, buf), 0);

	/* Consumed 600: exactly 600 more may come. */
	ASSERT_EQ(gsend_win(&w, VSOCK_OP_CREDIT_UPDATE, 1400, 5400, 1000, 600), 0);
	pump(&w);
	while (grecv(&w, &h, buf))
		if (h.op == VSOCK_OP_RW) {
			EXPECT_EQ(th_check(buf, h.len, 5, got), -1);
			got += h.len;
		}
	EXPECT_EQ(got, 1600);
	/* A bigger window lets the rest through. */
	ASSERT_EQ(gsend_win(&w, VSOCK_OP_CREDIT_UPDATE, 1400, 5400, 1000000, 1600), 0);
	pump(&w);
	while (grecv(&w, &h, buf))
		if (h.op == VSOCK_OP_RW) {
			EXPECT_EQ(th_check(buf, h.len, 5, got), -1);
			got += h.len;
		}
	EXPECT_EQ(got, 10000);
}

TEST(guest_exceeding_our_credit_is_reset)
{
	struct world w;
	struct gconn g;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	static uint8_t big[40000];
	ASSERT_EQ(world_init(&w, 32768), 0);
	int lfd = host_listen(&w, 5500);
	ASSERT_GE(lfd, 0);
	gconn_init(&g, 1500, 5500);
	int fd = establish_guest(&w, &g, lfd);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(g.peer_buf_alloc, 32768);

	/* The host is not reading: once its socket is full the rest waits in
	 * our 32 KiB window, and this guest ignores its credit on purpose. */
	for (int i = 0; i < 200 && !g.rst; i++) {
		gsend(&w, VSOCK_OP_RW, 1500, 5500, 0, 0, big, sizeof(big) / 8);
		pump(&w);
		while (grecv(&w, &h, buf))
			if (h.op == VSOCK_OP_RST)
				g.rst = true;
	}
	EXPECT_TRUE(g.rst);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

static bool conns_gone(void *arg)
{
	struct world *w = arg;
	return vsock_nconns(w->vs) == 0;
}

TEST(slow_unix_reader_loses_nothing)
{
	struct world w;
	struct gconn g;
	struct hconn hc;
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 5600);
	ASSERT_GE(lfd, 0);
	gconn_init(&g, 1600, 5600);
	int fd = establish_guest(&w, &g, lfd);
	ASSERT_GE(fd, 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	hconn_init(&hc, fd);

	/* Phase 1: the host does not read at all; the guest sends until its
	 * credit runs out and must then stop (it would be reset otherwise). */
	g.tx_total = 8 * 1024 * 1024;
	g.tx_seed = 21;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	for (int i = 0; i < 50; i++) {
		gpush(&w, &g);
		pump(&w);
		while (grecv(&w, &h, buf))
			gdeliver(&w, &g, 1, &h, buf);
	}
	EXPECT_FALSE(g.rst);
	EXPECT_TRUE(g.tx_cnt < g.tx_total);
	/* Stalled: no credit left, and no update while nothing drains. */
	EXPECT_EQ(g.tx_cnt - g.peer_fwd_cnt, g.peer_buf_alloc);
	TAP_DIAG("stalled after %u bytes (window %u)", g.tx_cnt, g.peer_buf_alloc);

	/* Phase 2: the host reads in small bites; everything arrives. */
	hc.rx_expect = g.tx_total;
	hc.rx_seed = 21;
	hc.read_limit = 3000;
	g.shut_when_done = true;
	ASSERT_TRUE(drive(&w, &g, 1, &hc, 1, NULL, NULL));
	hc.read_limit = 0;
	/* After SHUTDOWN(SEND) the host sees EOF right after the last byte. */
	for (int i = 0; i < 100 && !hc.eof; i++) {
		pump_wait(&w, 5);
		hstep(&hc);
	}
	EXPECT_TRUE(hc.eof);
	EXPECT_EQ(hc.rx_cnt, g.tx_total);
	EXPECT_EQ(hc.bad_at, -1);
	EXPECT_FALSE(g.rst);
}

TEST(half_close_guest_first)
{
	struct world w;
	struct gconn g;
	struct hconn hc;
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 5700);
	ASSERT_GE(lfd, 0);
	gconn_init(&g, 1700, 5700);
	int fd = establish_guest(&w, &g, lfd);
	ASSERT_GE(fd, 0);
	hconn_init(&hc, fd);

	/* Guest sends 100 KB and SHUTDOWN(SEND): host reads it all, then EOF. */
	g.tx_total = 100000;
	g.tx_seed = 31;
	g.shut_when_done = true;
	hc.rx_expect = g.tx_total;
	hc.rx_seed = 31;
	ASSERT_TRUE(drive(&w, &g, 1, &hc, 1, NULL, NULL));
	for (int i = 0; i < 100 && !hc.eof; i++) {
		pump_wait(&w, 5);
		hstep(&hc);
	}
	EXPECT_TRUE(hc.eof);
	EXPECT_EQ(g.peer_shut, 0);

	/* The host still writes 200 KB; then closes its side: the guest gets
	 * the data, then SHUTDOWN with both flags, answers RST, all gone. */
	hc.tx_total = 200000;
	hc.tx_seed = 32;
	hc.shut_when_done = true;
	g.rx_expect = 200000;
	g.rx_seed = 32;
	ASSERT_TRUE(drive(&w, &g, 1, &hc, 1, conns_gone, &w));
	EXPECT_EQ(g.rx_cnt, 200000);
	EXPECT_EQ(g.bad_at, -1);
	EXPECT_EQ(g.peer_shut, VSOCK_SHUTDOWN_MASK);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(half_close_host_first)
{
	struct world w;
	struct gconn g;
	struct hconn hc;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 5800);
	ASSERT_GE(lfd, 0);
	gconn_init(&g, 1800, 5800);
	int fd = establish_guest(&w, &g, lfd);
	ASSERT_GE(fd, 0);
	hconn_init(&hc, fd);

	/* Host writes 150 KB then shuts its write side: guest gets the data,
	 * then SHUTDOWN(SEND) only. */
	hc.tx_total = 150000;
	hc.tx_seed = 41;
	hc.shut_when_done = true;
	g.rx_expect = 150000;
	g.rx_seed = 41;
	ASSERT_TRUE(drive(&w, &g, 1, &hc, 1, NULL, NULL));
	for (int i = 0; i < 50 && !g.peer_shut; i++) {
		pump_wait(&w, 5);
		while (grecv(&w, &h, buf))
			gdeliver(&w, &g, 1, &h, buf);
	}
	EXPECT_EQ(g.peer_shut, VSOCK_SHUTDOWN_SEND);
	EXPECT_EQ(g.rx_cnt, 150000);
	EXPECT_EQ(g.bad_at, -1);

	/* The guest keeps sending; the host still reads it. */
	g.tx_total = 120000;
	g.tx_seed = 42;
	hc.rx_expect = 120000;
	hc.rx_seed = 42;
	ASSERT_TRUE(drive(&w, &g, 1, &hc, 1, NULL, NULL));
	EXPECT_EQ(hc.bad_at, -1);

	/* The guest closes: RST back, the host sees EOF. */
	ASSERT_EQ(gsend(&w, VSOCK_OP_SHUTDOWN, 1800, 5800, VSOCK_SHUTDOWN_MASK, g.rx_cnt, NULL, 0),
		  0);
	ASSERT_TRUE(grecv_op(&w, VSOCK_OP_RST, &h, buf));
	pump(&w);
	for (int i = 0; i < 100 && !hc.eof; i++) {
		pump_wait(&w, 5);
		hstep(&hc);
	}
	EXPECT_TRUE(hc.eof);
	EXPECT_EQ(hc.rx_cnt, 120000);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(guest_close_still_delivers_buffered_data)
{
	struct world w;
	struct gconn g;
	struct hconn hc;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 5900);
	ASSERT_GE(lfd, 0);
	gconn_init(&g, 1900, 5900);
	int fd = establish_guest(&w, &g, lfd);
	ASSERT_GE(fd, 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	hconn_init(&hc, fd);

	/* Fill the window while the host is not reading, then close. */
	g.tx_total = 4 * 1024 * 1024;
	g.tx_seed = 51;
	for (int i = 0; i < 20; i++) {
		gpush(&w, &g);
		pump(&w);
		while (grecv(&w, &h, buf))
			gdeliver(&w, &g, 1, &h, buf);
	}
	uint32_t sent = g.tx_cnt;
	ASSERT_GT(sent, 100000);
	ASSERT_EQ(gsend(&w, VSOCK_OP_SHUTDOWN, 1900, 5900, VSOCK_SHUTDOWN_MASK, 0, NULL, 0), 0);
	ASSERT_TRUE(grecv_op(&w, VSOCK_OP_RST, &h, buf));

	/* The port pair is free again while the data drains. */
	EXPECT_EQ(vsock_nconns(w.vs), 1);
	hc.rx_expect = sent;
	hc.rx_seed = 51;
	for (int i = 0; i < 2000 && !hc.eof; i++) {
		pump_wait(&w, 1);
		hstep(&hc);
	}
	EXPECT_TRUE(hc.eof);
	EXPECT_EQ(hc.rx_cnt, sent);
	EXPECT_EQ(hc.bad_at, -1);
	pump(&w);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(host_close_resets_guest_writes)
{
	struct world w;
	struct gconn g;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 6100);
	ASSERT_GE(lfd, 0);
	gconn_init(&g, 2100, 6100);
	int fd = establish_guest(&w, &g, lfd);
	ASSERT_GE(fd, 0);
	close(fd);
	pump(&w);
	ASSERT_TRUE(grecv_op(&w, VSOCK_OP_SHUTDOWN, &h, buf));
	EXPECT_EQ(h.flags, VSOCK_SHUTDOWN_SEND);
	/* Writing to a closed host socket resets the guest's connection. */
	ASSERT_EQ(gsend(&w, VSOCK_OP_RW, 2100, 6100, 0, 0, "data", 4), 0);
	pump(&w);
	ASSERT_TRUE(grecv_op(&w, VSOCK_OP_RST, &h, buf));
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(host_hangup_before_response_resets_guest)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);
	int fd = th_connect(w.base, false);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "CONNECT 6200\n", 13), 13);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	ASSERT_EQ(h.op, VSOCK_OP_REQUEST);
	uint32_t local = h.src_port;
	close(fd);
	pump(&w);
	ASSERT_EQ(grecv(&w, &h, buf), 1);
	EXPECT_EQ(h.op, VSOCK_OP_RST);
	EXPECT_EQ(h.src_port, local);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
}

TEST(guest_request_timeout_resets)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);
	int fd = th_connect(w.base, false);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "CONNECT 6300\n", 13), 13);
	pump(&w);
	ASSERT_TRUE(grecv_op(&w, VSOCK_OP_REQUEST, &h, buf));
	/* The guest never answers: after the connect timeout (1.5 s here) the
	 * host connection is closed and the guest reset. */
	bool rst = false;
	for (int i = 0; i < 300 && !rst; i++) {
		pump_wait(&w, 10);
		rst = grecv_op(&w, VSOCK_OP_RST, &h, buf);
	}
	EXPECT_TRUE(rst);
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
}

TEST(uds_backlog_full_is_retried)
{
	struct world w;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	char path[256];
	struct error err = { 0 };
	ASSERT_EQ(world_init(&w, 0), 0);
	snprintf(path, sizeof(path), "%s_6400", w.base);
	int lfd = uds_listen(path, 0, &err);
	ASSERT_GE(lfd, 0);
	/* Fill the backlog so a non-blocking connect gets EAGAIN. */
	int fillers = 0;
	for (int i = 0; i < 64; i++) {
		int f = th_connect(path, true);
		if (f < 0)
			break;
		fillers++;
	}
	ASSERT_LT(fillers, 64);

	ASSERT_EQ(gsend(&w, VSOCK_OP_REQUEST, 2400, 6400, 0, 0, NULL, 0), 0);
	pump(&w);
	EXPECT_EQ(grecv(&w, &h, buf), 0); /* waiting, not refused */
	/* Make room: the retry timer connects and the guest gets RESPONSE. */
	for (int i = 0; i < fillers; i++)
		close(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
	bool ok = false;
	for (int i = 0; i < 100 && !ok; i++) {
		pump_wait(&w, 10);
		ok = grecv(&w, &h, buf) == 1;
	}
	ASSERT_TRUE(ok);
	EXPECT_EQ(h.op, VSOCK_OP_RESPONSE);
}

TEST(request_on_a_live_pair_replaces_the_stale_connection)
{
	struct world w;
	struct gconn g;
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 6600);
	ASSERT_GE(lfd, 0);
	gconn_init(&g, 2600, 6600);
	int old = establish_guest(&w, &g, lfd);
	ASSERT_GE(old, 0);

	/* The guest rebooted and dials again from the same port. */
	gconn_init(&g, 2600, 6600);
	int fresh = establish_guest(&w, &g, lfd);
	ASSERT_GE(fresh, 0);
	ASSERT_TRUE(th_wait_readable(old, 1000));
	EXPECT_EQ(read(old, buf, sizeof(buf)), 0);
	EXPECT_EQ(vsock_nconns(w.vs), 1);
	/* The new connection works. */
	ASSERT_EQ(gsend(&w, VSOCK_OP_RW, 2600, 6600, 0, 0, "new", 3), 0);
	pump(&w);
	ASSERT_TRUE(th_wait_readable(fresh, 1000));
	EXPECT_EQ(read(fresh, buf, sizeof(buf)), 3);
	EXPECT_EQ(grecv(&w, &h, buf), 0);
}

#define NCONC 256

TEST(concurrent_256_each_way_no_loss)
{
	struct world w;
	static struct gconn gs[2 * NCONC];
	static struct hconn hs[2 * NCONC];
	static int lfds[NCONC];
	struct vsock_hdr h;
	uint8_t buf[RXBUF];
	th_raise_nofile();
	ASSERT_EQ(world_init(&w, 0), 0);

	/* 256 guest-initiated, each to its own host port. */
	for (unsigned i = 0; i < NCONC; i++) {
		lfds[i] = host_listen(&w, 7000 + i);
		ASSERT_GE(lfds[i], 0);
		gconn_init(&gs[i], 40000 + i, 7000 + i);
		ASSERT_EQ(gsend(&w, VSOCK_OP_REQUEST, 40000 + i, 7000 + i, 0, 0, NULL, 0), 0);
	}
	/* 256 host-initiated, each to its own guest port. */
	for (unsigned i = 0; i < NCONC; i++) {
		char line[32];
		int fd = th_connect(w.base, false);
		ASSERT_GE(fd, 0);
		int n = snprintf(line, sizeof(line), "CONNECT %u\n", 9000 + i);
		ASSERT_EQ(write(fd, line, (size_t)n), n);
		gconn_init(&gs[NCONC + i], 9000 + i, 0);
		hconn_init(&hs[NCONC + i], fd);
	}
	pump(&w);
	while (grecv(&w, &h, buf))
		gdeliver(&w, gs, 2 * NCONC, &h, buf);
	for (unsigned i = 0; i < NCONC; i++) {
		ASSERT_TRUE(gs[i].established);
		int fd = accept4(lfds[i], NULL, NULL, SOCK_CLOEXEC);
		ASSERT_GE(fd, 0);
		hconn_init(&hs[i], fd);
		ASSERT_TRUE(gs[NCONC + i].established);
	}
	ASSERT_EQ(vsock_nconns(w.vs), 2 * NCONC);
	/* Host-initiated: consume "OK <port>\n" first. */
	for (unsigned i = 0; i < NCONC; i++) {
		char line[32] = { 0 }, want[32];
		struct hconn *hc = &hs[NCONC + i];
		for (int k = 0; k < 100 && !th_wait_readable(hc->fd, 0); k++)
			pump_wait(&w, 1);
		int n = snprintf(want, sizeof(want), "OK %u\n", gs[NCONC + i].hport);
		ASSERT_EQ(recv(hc->fd, line, (size_t)n, 0), n);
		ASSERT_STREQ(line, want);
	}
	for (unsigned i = 0; i < 2 * NCONC; i++) {
		gs[i].tx_total = 48 * 1024 + i;
		gs[i].tx_seed = 100000 + i;
		hs[i].rx_expect = gs[i].tx_total;
		hs[i].rx_seed = 100000 + i;
		hs[i].tx_total = 40 * 1024 + 3 * i;
		hs[i].tx_seed = 200000 + i;
		gs[i].rx_expect = (uint32_t)hs[i].tx_total;
		gs[i].rx_seed = 200000 + i;
	}
	ASSERT_TRUE(drive(&w, gs, 2 * NCONC, hs, 2 * NCONC, NULL, NULL));
	unsigned bad = 0, viol = 0;
	for (unsigned i = 0; i < 2 * NCONC; i++) {
		bad += gs[i].bad_at >= 0 || hs[i].bad_at >= 0 || gs[i].rst;
		bad += hs[i].rx_cnt != gs[i].tx_total || gs[i].rx_cnt != hs[i].tx_total;
		viol += gs[i].violations;
	}
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(viol, 0);
	EXPECT_EQ(stray_packets, 0);
}

TEST(reset_closes_every_connection)
{
	struct world w;
	struct gconn g;
	uint8_t buf[16];
	ASSERT_EQ(world_init(&w, 0), 0);
	int lfd = host_listen(&w, 6500);
	ASSERT_GE(lfd, 0);
	gconn_init(&g, 2500, 6500);
	int fd = establish_guest(&w, &g, lfd);
	ASSERT_GE(fd, 0);
	vsock_reset(w.vs);
	vsock_reap(w.vs);
	EXPECT_EQ(vsock_nconns(w.vs), 0);
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
	vsock_free(w.vs);
}

TAP_MAIN()
