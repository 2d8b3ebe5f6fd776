/* SPDX-License-Identifier: MIT */
/*
 * Re-dialing: the agent dials a unix socket (or an injected dialer) instead
 * of vsock; after every disconnect it dials again on its timer, and every
 * new connection starts un-negotiated.
 */
#include <sys/un.h>

#include "harness.h"
#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "tap_extra.h"
#include "log.h"
#include "server.h"

static void no_poweroff(void *ctx)
{
	(void)ctx;
	abort();
}

static int listen_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)
		abort();
	return fd;
}

/* Run the agent's loop until the listener has a connection to accept. */
static int accept_within(struct loop *l, int lfd, int ms)
{
	int64_t deadline = now_ms() + ms;
	while (now_ms() < deadline) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			return fd;
		loop_run_once(l, 5, NULL);
	}
	return -1;
}

static int64_t call(struct loop *l, struct peer *p, uint32_t type, uint64_t id, const char *body)
{
	struct frame f = { 0 };
	int64_t r = 12345;
	if (peer_send(l, p->fd, type, id, body) == 0 && peer_recv(l, p, &f, 2000) &&
	    f.hdr.id == id && f.json)
		r = jint(f.json, "Result");
	frame_free(&f);
	return r;
}

#define NEGOTIATE "{\"MinimumVersion\":4,\"MaximumVersion\":4}"

static void tmp_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "/tmp/gcs-transport-%d-%s.sock", (int)getpid(), name);
}

TEST(redials_after_the_host_closes_and_renegotiates)
{
	log_setup(2, LOG_ERROR, LOG_FORMAT_JSON);
	char path[108];
	tmp_path(path, sizeof(path), "redial");
	int lfd = listen_unix(path);
	struct loop l;
	struct server s;
	struct dialer d;
	ASSERT_EQ(loop_init(&l, NULL), 0);
	ASSERT_EQ(dialer_unix(&d, path, NULL), 0);
	struct server_config cfg = { .dialer = &d, .retry_ms = 50, .poweroff = no_poweroff };
	ASSERT_EQ(server_init(&s, &l, &cfg, NULL), 0);

	static struct peer p;
	for (int round = 0; round < 3; round++) {
		memset(&p, 0, sizeof(p));
		p.fd = accept_within(&l, lfd, 2000);
		ASSERT_GE(p.fd, 0);
		/* A new connection is un-negotiated. */
		EXPECT_EQ(call(&l, &p, MSG_DUMP_STACKS, 1, "{}"), HR(HR_NOTIMPL));
		EXPECT_EQ(call(&l, &p, MSG_NEGOTIATE_PROTOCOL, 2, NEGOTIATE), 0);
		EXPECT_EQ(call(&l, &p, MSG_DUMP_STACKS, 3, "{}"), 0);
		/* The host goes away; the agent notices, then re-dials on
		 * its timer, not at once. */
		close(p.fd);
		int64_t t0 = now_ms();
		while (s.conn && now_ms() - t0 < 2000)
			loop_run_once(&l, 5, NULL);
		ASSERT_TRUE(s.conn == NULL);
		EXPECT_EQ(s.transport.state, TRANSPORT_WAITING);
		int64_t closed_at = now_ms();
		int fd = accept_within(&l, lfd, 2000);
		ASSERT_GE(fd, 0);
		EXPECT_GE(now_ms() - closed_at, 40);
		/* Hand it to the next round. */
		close(fd);
		t0 = now_ms();
		while (s.conn && now_ms() - t0 < 2000)
			loop_run_once(&l, 5, NULL);
	}
	EXPECT_GE(s.transport.stats.connects, 6);
	EXPECT_EQ(s.transport.stats.failures, 0);
	server_fini(&s);
	loop_fini(&l);
	close(lfd);
	unlink(path);
}

TEST(keeps_dialing_until_the_host_listens)
{
	log_setup(2, LOG_ERROR, LOG_FORMAT_JSON);
	char path[108];
	tmp_path(path, sizeof(path), "late");
	unlink(path);
	struct loop l;
	struct server s;
	struct dialer d;
	ASSERT_EQ(loop_init(&l, NULL), 0);
	ASSERT_EQ(dialer_unix(&d, path, NULL), 0);
	struct server_config cfg = { .dialer = &d, .retry_ms = 20, .poweroff = no_poweroff };
	ASSERT_EQ(server_init(&s, &l, &cfg, NULL), 0);
	/* Nobody listens yet: failures, each followed by a timer. */
	int64_t t0 = now_ms();
	while (now_ms() - t0 < 150)
		loop_run_once(&l, 5, NULL);
	EXPECT_GE(s.transport.stats.failures, 3);
	/* ~every 20 ms, not a busy loop. */
	EXPECT_LE(s.transport.stats.failures, 10);
	EXPECT_TRUE(strstr(s.transport.last_error.msg, "connect to unix:") != NULL);

	int lfd = listen_unix(path);
	static struct peer p;
	memset(&p, 0, sizeof(p));
	p.fd = accept_within(&l, lfd, 2000);
	ASSERT_GE(p.fd, 0);
	EXPECT_EQ(call(&l, &p, MSG_NEGOTIATE_PROTOCOL, 1, NEGOTIATE), 0);
	close(p.fd);
	server_fini(&s);
	loop_fini(&l);
	close(lfd);
	unlink(path);
}

/* An injected dialer: each dial hands the agent one end of a fresh
 * socketpair, reported as "connect in progress" to exercise that path. */
struct pairs {
	int dials;
	int peer_fd;
};

static int pair_dial(const struct dialer *d, bool *in_progress, struct error *err)
{
	struct pairs *p = d->ctx;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return error_set(err, errno, "socketpair");
	p->dials++;
	p->peer_fd = sv[1];
	*in_progress = true;
	return sv[0];
}

TEST(injected_dialer_with_connect_in_progress)
{
	log_setup(2, LOG_ERROR, LOG_FORMAT_JSON);
	struct pairs pairs = { 0 };
	struct dialer d = { .dial = pair_dial, .ctx = &pairs, .name = "test:pairs" };
	struct loop l;
	struct server s;
	ASSERT_EQ(loop_init(&l, NULL), 0);
	struct server_config cfg = { .dialer = &d, .retry_ms = 10, .poweroff = no_poweroff };
	ASSERT_EQ(server_init(&s, &l, &cfg, NULL), 0);
	EXPECT_EQ(pairs.dials, 1);
	EXPECT_EQ(s.transport.state, TRANSPORT_CONNECTING);
	static struct peer p;
	for (int i = 1; i <= 3; i++) {
		memset(&p, 0, sizeof(p));
		p.fd = pairs.peer_fd;
		EXPECT_EQ(call(&l, &p, MSG_START, 1, "{}"), HR(HR_NOTIMPL));
		EXPECT_EQ(call(&l, &p, MSG_NEGOTIATE_PROTOCOL, 2, NEGOTIATE), 0);
		EXPECT_EQ(s.transport.state, TRANSPORT_CONNECTED);
		close(p.fd);
		int64_t t0 = now_ms();
		while (pairs.dials == i && now_ms() - t0 < 2000)
			loop_run_once(&l, 5, NULL);
		EXPECT_EQ(pairs.dials, i + 1);
	}
	close(pairs.peer_fd);
	server_fini(&s);
	loop_fini(&l);
}

/* The async wait of a dropped connection is never answered on the next
 * one: the host that asked is gone, and a response with an ID the new
 * host never used would make it kill the bridge. */
TEST(pending_requests_die_with_their_connection)
{
	log_setup(2, LOG_ERROR, LOG_FORMAT_JSON);
	struct pairs pairs = { 0 };
	struct dialer d = { .dial = pair_dial, .ctx = &pairs, .name = "test:pairs" };
	struct loop l;
	struct server s;
	ASSERT_EQ(loop_init(&l, NULL), 0);
	struct server_config cfg = { .dialer = &d, .retry_ms = 10, .poweroff = no_poweroff };
	ASSERT_EQ(server_init(&s, &l, &cfg, NULL), 0);
	struct container *c;
	struct process *proc;
	ASSERT_EQ(runtime_add_container(&s.rt, "c", "", &c, NULL), 0);
	ASSERT_EQ(runtime_add_process(&s.rt, c, 7, true, &proc, NULL), 0);

	static struct peer p;
	memset(&p, 0, sizeof(p));
	p.fd = pairs.peer_fd;
	EXPECT_EQ(call(&l, &p, MSG_NEGOTIATE_PROTOCOL, 1, NEGOTIATE), 0);
	ASSERT_EQ(peer_send(&l, p.fd, MSG_WAIT_FOR_PROCESS, 2,
			    "{\"ContainerId\":\"c\",\"ProcessId\":7,\"TimeoutInMs\":4294967295}"), 0);
	ASSERT_TRUE(peer_quiet(&l, &p, 30));
	EXPECT_EQ(s.rt.n_waiters, 1);
	close(p.fd);
	int64_t t0 = now_ms();
	while (pairs.dials == 1 && now_ms() - t0 < 2000)
		loop_run_once(&l, 5, NULL);
	ASSERT_EQ(pairs.dials, 2);
	EXPECT_EQ(s.rt.n_waiters, 0);
	EXPECT_EQ(dispatch_stats(s.dispatch)->async_dropped, 1);

	memset(&p, 0, sizeof(p));
	p.fd = pairs.peer_fd;
	EXPECT_EQ(call(&l, &p, MSG_NEGOTIATE_PROTOCOL, 1, NEGOTIATE), 0);
	runtime_process_exited(&s.rt, proc, 0);
	/* Only the exit notification arrives, no stale response. */
	struct frame f = { 0 };
	ASSERT_TRUE(peer_recv(&l, &p, &f, 1000));
	EXPECT_EQ(f.hdr.type, MSG_NOTIFY_CONTAINER);
	frame_free(&f);
	EXPECT_TRUE(peer_quiet(&l, &p, 30));
	close(p.fd);
	server_fini(&s);
	loop_fini(&l);
}

TAP_MAIN()
