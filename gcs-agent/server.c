/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "storage/storage.h"

static int out_send(void *ctx, uint32_t type, uint64_t id, const void *body, size_t len,
		    struct error *err)
{
	struct server *s = ctx;
	if (!s->conn)
		return error_setx(err, ENOTCONN, "no bridge connection");
	return conn_send(s->conn, type, id, body, len, err);
}

static void out_when_drained(void *ctx, void (*fn)(void *arg), void *arg)
{
	struct server *s = ctx;
	if (s->conn)
		conn_when_drained(s->conn, fn, arg);
	else
		fn(arg);
}

static size_t out_queued(void *ctx)
{
	struct server *s = ctx;
	return s->conn ? conn_tx_queued(s->conn) : 0;
}

static int on_frame(void *ctx, const struct bridge_header *hdr, const uint8_t *body, size_t len,
		    struct error *err)
{
	struct server *s = ctx;
	return dispatch_frame(s->dispatch, hdr, body, len, err);
}

static void on_closed(void *ctx, const struct error *why)
{
	struct server *s = ctx;
	s->conn = NULL;
	/* A protocol violation is the host's bug or an attack; a close is
	 * routine (the host restarts, the VM shuts down). */
	if (why->errnum == EPROTO || why->errnum == ENOBUFS)
		log_error("bridge connection dropped", LOG_STR("reason", error_text(why)));
	else
		log_info("bridge connection closed", LOG_STR("reason", error_text(why)));
	dispatch_detach(s->dispatch);
	if (s->dialing)
		transport_lost(&s->transport);
	else
		loop_quit(s->loop, 0);
}

static const struct conn_ops conn_ops = {
	.frame = on_frame,
	.closed = on_closed,
};

static void attach_fd(struct server *s, int fd, const char *peer)
{
	struct error err = { 0 };
	if (conn_new(s->loop, fd, &conn_ops, s, &s->conn, &err) < 0) {
		log_error("cannot serve the bridge connection", LOG_ERR(&err));
		if (s->dialing)
			transport_lost(&s->transport);
		else
			loop_quit(s->loop, 1);
		return;
	}
	struct bridge_out out = {
		.send = out_send,
		.when_drained = out_when_drained,
		.queued = out_queued,
		.ctx = s,
		.peer = peer,
	};
	dispatch_attach(s->dispatch, &out);
}

static void on_connected(void *ctx, int fd)
{
	struct server *s = ctx;
	/* Dialled before the dispatcher existed and connected at once (a unix
	 * socket): server_init() attaches it when it is ready. */
	if (!s->dispatch) {
		s->early_fd = fd;
		return;
	}
	attach_fd(s, fd, s->transport.dialer.name);
}

static void describe(void *ctx, FILE *out)
{
	struct server *s = ctx;
	if (s->dialing)
		transport_describe(&s->transport, out);
	if (s->conn) {
		const struct conn_stats *st = conn_stats(s->conn);
		fprintf(out,
			"connection: fd %d, frames in %" PRIu64 " / out %" PRIu64
			", bytes in %" PRIu64 " / out %" PRIu64
			", back-pressure pauses %" PRIu64 "\n",
			conn_fd(s->conn), st->frames_in, st->frames_out, st->bytes_in,
			st->bytes_out, st->pauses);
	}
	fprintf(out, "log lines dropped: %" PRIu64 "\n", log_dropped());
}

static void poweroff(void *ctx)
{
	struct server *s = ctx;
	s->poweroff(s->poweroff_ctx);
}

int server_init(struct server *s, struct loop *l, const struct server_config *cfg,
		struct error *err)
{
	memset(s, 0, sizeof(*s));
	s->loop = l;
	s->poweroff = cfg->poweroff;
	s->poweroff_ctx = cfg->poweroff_ctx;
	s->early_fd = -1;
	int r;
	/* Dial first: the host accepts while the agent sets itself up below,
	 * instead of after it. */
	if (cfg->dialer) {
		unsigned retry = cfg->retry_ms ? cfg->retry_ms : TRANSPORT_RETRY_MS;
		r = transport_init(&s->transport, l, cfg->dialer, retry, on_connected, s, err);
		if (r < 0)
			return r;
		s->dialing = true;
		transport_start(&s->transport);
	}
	runtime_init(&s->rt, l);
	r = storage_new(l, &s->storage, err);
	if (r < 0)
		goto out_transport;
	if (cfg->manage_system) {
		struct runtime_config rc = {
			.storage = s->storage,
			.setup_cgroups = true,
			.pods_mem_reserve = cfg->pods_mem_reserve,
			.agent_mem_threshold = cfg->agent_mem_threshold,
		};
		r = runtime_enable(&s->rt, &rc, err);
		if (r < 0)
			goto out_storage;
	}
	struct dispatch_config dc = {
		.poweroff = poweroff,
		.describe = describe,
		.ctx = s,
		.log_bodies = cfg->log_bodies,
	};
	r = dispatch_new(&s->rt, &dc, &s->dispatch, err);
	if (r < 0)
		goto out_runtime;
	if (!cfg->dialer) {
		char peer[32];
		snprintf(peer, sizeof(peer), "fd:%d", cfg->fd);
		attach_fd(s, cfg->fd, peer);
	} else if (s->early_fd >= 0) {
		int fd = s->early_fd;
		s->early_fd = -1;
		attach_fd(s, fd, s->transport.dialer.name);
	}
	return 0;

out_runtime:
	runtime_fini(&s->rt);
out_storage:
	storage_free(s->storage);
	s->storage = NULL;
out_transport:
	if (s->early_fd >= 0)
		close(s->early_fd);
	s->early_fd = -1;
	if (s->dialing)
		transport_fini(&s->transport);
	s->dialing = false;
	return r;
}

void server_fini(struct server *s)
{
	if (s->conn) {
		/* Tear down now: the loop will not run again. */
		conn_abort(s->conn, ECONNABORTED, "agent exiting");
		struct error err = { 0 };
		while (s->conn && loop_run_once(s->loop, 0, &err) >= 0)
			;
	}
	if (s->dialing)
		transport_fini(&s->transport);
	dispatch_free(s->dispatch);
	runtime_fini(&s->rt);
	storage_free(s->storage);
}
