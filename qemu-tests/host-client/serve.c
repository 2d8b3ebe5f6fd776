/* SPDX-License-Identifier: MIT */
/*
 * `lcowctl serve`: the long-running host side of one VM.  One epoll loop
 * over the guest's listeners (entropy, log, bridge), the bridge connection,
 * the control socket and a signalfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "ctl.h"
#include "gcs-client.h"
#include "lcowctl.h"
#include "transport.h"

#define ENTROPY_BYTES 512
/* A log line longer than this is written out in pieces. */
#define LOG_MAX_LINE 65536
/* A control client that does not read its replies is cut off here. */
#define CTL_MAX_OUTQ (8u << 20)
/* Notifications kept in memory for `events`. */
#define EVENTS_KEPT 10000

enum wkind {
	W_SIGNAL,
	W_LISTEN_ENTROPY,
	W_LISTEN_LOG,
	W_LISTEN_BRIDGE,
	W_LISTEN_CTL,
	W_ENTROPY,
	W_LOG,
	W_BRIDGE,
	W_CTL,
};

/* The head of every object registered in epoll (data.ptr). */
struct watch {
	enum wkind kind;
	int fd;
	uint32_t interest;
	bool dead;
	struct watch *prev, *next; /* live objects */
	struct watch *next_dead;   /* graveyard, freed between batches */
};

struct listener {
	struct watch w;
	char *path; /* unix socket we created, unlinked at exit */
};

struct entropy_conn {
	struct watch w;
	uint8_t buf[ENTROPY_BYTES];
	size_t off;
};

struct log_conn {
	struct watch w;
	struct linebuf lb;
};

struct bridge_conn {
	struct watch w; /* fd owned by gc */
	struct gcs_client *gc;
	unsigned no; /* 1 = first connection of this serve */
};

enum waiter_kind { WAIT_READY, WAIT_CLOSED };

struct waiter {
	enum waiter_kind kind;
	unsigned conn_no;
	json_t *tag;
	struct waiter *next;
};

struct ctl_conn {
	struct watch w;
	struct linebuf in;
	struct outbuf out;
	bool rd_eof;   /* client half-closed: answer, then close */
	bool closing;  /* close once out is flushed */
	bool follow;   /* events --follow */
	unsigned refs; /* bridge requests still answering here */
	struct waiter *waiters;
};

/* A bridge request made for a control client. */
struct bridge_op {
	struct serve *s;
	struct ctl_conn *cc; /* holds a reference */
	json_t *tag;
	unsigned conn_no;
};

struct serve {
	int ep;
	struct transport t;
	char *ctl_path;
	int log_fd, events_fd;
	struct watch *live;
	struct watch *graveyard;
	struct bridge_conn *bridge; /* current connection or NULL */
	unsigned connections;
	json_t *events; /* array, newest last */
	uint64_t events_total;
	uint32_t next_port;
	bool quit;
	int reserve_fd; /* spent to shed a connection when out of fds */
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lcowctl serve: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* --- watches ----------------------------------------------------------- */

static int watch_add(struct serve *s, struct watch *w, enum wkind kind, int fd, uint32_t events)
{
	w->kind = kind;
	w->fd = fd;
	w->interest = events;
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	w->next = s->live;
	w->prev = NULL;
	if (s->live)
		s->live->prev = w;
	s->live = w;
	return 0;
}

static void watch_set(struct serve *s, struct watch *w, uint32_t events)
{
	if (w->dead || w->interest == events)
		return;
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, w->fd, &ev) == 0)
		w->interest = events;
}

/* Stop watching w and queue it for freeing after the current batch (a
 * later event of the same batch may still point at it). */
static void watch_bury(struct serve *s, struct watch *w)
{
	if (w->dead)
		return;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
	if (w->prev)
		w->prev->next = w->next;
	else
		s->live = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next_dead = s->graveyard;
	s->graveyard = w;
}

static void free_waiters(struct waiter *w)
{
	while (w) {
		struct waiter *next = w->next;
		json_decref(w->tag);
		free(w);
		w = next;
	}
}

static void watch_free(struct watch *w)
{
	switch (w->kind) {
	case W_LISTEN_ENTROPY:
	case W_LISTEN_LOG:
	case W_LISTEN_BRIDGE:
	case W_LISTEN_CTL: {
		struct listener *l = (struct listener *)w;
		close(w->fd);
		if (l->path)
			unlink(l->path);
		free(l->path);
		break;
	}
	case W_ENTROPY:
		close(w->fd);
		break;
	case W_LOG:
		close(w->fd);
		linebuf_free(&((struct log_conn *)w)->lb);
		break;
	case W_BRIDGE:
		/* gcs_client_free() already closed it (kill_bridge). */
		break;
	case W_CTL: {
		struct ctl_conn *cc = (struct ctl_conn *)w;
		close(w->fd);
		linebuf_free(&cc->in);
		outbuf_free(&cc->out);
		free_waiters(cc->waiters);
		break;
	}
	case W_SIGNAL:
		close(w->fd);
		break;
	}
	free(w);
}

static void empty_graveyard(struct serve *s)
{
	struct watch **pp = &s->graveyard;
	while (*pp) {
		struct watch *w = *pp;
		/* A control connection stays until its bridge requests finish. */
		if (w->kind == W_CTL && ((struct ctl_conn *)w)->refs > 0) {
			pp = &w->next_dead;
			continue;
		}
		*pp = w->next_dead;
		watch_free(w);
	}
}

/* --- control replies ---------------------------------------------------- */

static void ctl_kill(struct serve *s, struct ctl_conn *cc)
{
	watch_bury(s, &cc->w);
}

static void ctl_update(struct serve *s, struct ctl_conn *cc)
{
	if (cc->w.dead)
		return;
	bool busy = cc->refs > 0 || cc->waiters || cc->follow;
	if (outbuf_pending(&cc->out) == 0 && (cc->closing || (cc->rd_eof && !busy))) {
		ctl_kill(s, cc);
		return;
	}
	uint32_t ev = 0;
	if (!cc->rd_eof && !cc->closing)
		ev |= EPOLLIN;
	if (outbuf_pending(&cc->out))
		ev |= EPOLLOUT;
	watch_set(s, &cc->w, ev);
}

/* Queue one reply line (takes msg) and try to send it right away. */
static void ctl_send(struct serve *s, struct ctl_conn *cc, json_t *msg, json_t *tag)
{
	if (!msg || cc->w.dead) {
		json_decref(msg);
		return;
	}
	if (tag)
		json_object_set(msg, "tag", tag);
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text || outbuf_append(&cc->out, text, strlen(text)) < 0 ||
	    outbuf_append(&cc->out, "\n", 1) < 0) {
		free(text);
		ctl_kill(s, cc);
		return;
	}
	free(text);
	int r = outbuf_flush(&cc->out, cc->w.fd);
	if (r < 0 && r != -EAGAIN) {
		ctl_kill(s, cc);
		return;
	}
	if (outbuf_pending(&cc->out) > CTL_MAX_OUTQ) {
		logmsg("control client does not read its replies; dropping it");
		ctl_kill(s, cc);
		return;
	}
	ctl_update(s, cc);
}

static void ctl_error(struct serve *s, struct ctl_conn *cc, json_t *tag, const char *kind,
		      const char *msg)
{
	ctl_send(s, cc, json_pack("{s:b, s:s, s:s}", "ok", 0, "kind", kind, "error", msg), tag);
}

/* --- bridge ------------------------------------------------------------ */

static void wake_waiters(struct serve *s)
{
	json_t *neg = s->bridge ? gcs_client_negotiation(s->bridge->gc) : NULL;
	for (struct watch *w = s->live; w; w = w->next) {
		if (w->kind != W_CTL)
			continue;
		struct ctl_conn *cc = (struct ctl_conn *)w;
		struct waiter **pp = &cc->waiters;
		while (*pp) {
			struct waiter *wt = *pp;
			json_t *reply = NULL;
			if (wt->kind == WAIT_READY && neg && s->bridge->no >= wt->conn_no)
				reply = json_pack("{s:b, s:I, s:O}", "ok", 1, "connection",
						  (json_int_t)s->bridge->no, "response", neg);
			else if (wt->kind == WAIT_CLOSED &&
				 (!s->bridge || s->bridge->no != wt->conn_no))
				reply = json_pack("{s:b, s:b, s:I}", "ok", 1, "closed", 1,
						  "connection", (json_int_t)wt->conn_no);
			if (!reply) {
				pp = &wt->next;
				continue;
			}
			*pp = wt->next;
			wt->next = NULL;
			/* Sending may kill cc (only buries it: safe to go on). */
			ctl_send(s, cc, reply, wt->tag);
			free_waiters(wt);
		}
		ctl_update(s, cc);
	}
}

static void kill_bridge(struct serve *s, const char *why)
{
	struct bridge_conn *b = s->bridge;
	if (!b)
		return;
	logmsg("bridge connection %u closed: %s", b->no, why);
	s->bridge = NULL;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, b->w.fd, NULL);
	/* Fails its outstanding requests: their control clients get errors. */
	gcs_client_close(b->gc, why);
	b->gc = NULL;
	watch_bury(s, &b->w);
	wake_waiters(s);
}

static void bridge_update(struct serve *s)
{
	if (s->bridge)
		watch_set(s, &s->bridge->w, gcs_client_poll_events(s->bridge->gc));
}

struct negotiate_ctx {
	struct serve *s;
	unsigned no;
};

static void auto_negotiated(void *userdata, const struct gcs_response *resp,
			    const struct error *err)
{
	struct negotiate_ctx ctx = *(struct negotiate_ctx *)userdata;
	free(userdata);
	if (!resp)
		return; /* the connection went away; its successor negotiates */
	if (resp->result == 0)
		logmsg("bridge connection %u negotiated protocol version %" PRIu32, ctx.no,
		       json_is_integer(json_object_get(resp->body, "Version"))
			   ? (uint32_t)json_integer_value(json_object_get(resp->body, "Version"))
			   : 0);
	else
		logmsg("bridge connection %u: negotiation failed: 0x%08" PRIx32 ": %s", ctx.no,
		       (uint32_t)resp->result, resp->error_message);
	(void)err;
	wake_waiters(ctx.s);
}

static void on_notify(void *userdata, uint32_t type, json_t *body)
{
	struct serve *s = userdata;
	s->events_total++;
	if (s->events_fd >= 0) {
		_cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
		if (text) {
			size_t n = strlen(text);
			text[n] = '\n';
			if (write_all(s->events_fd, text, n + 1) < 0)
				logmsg("cannot write events file: %m");
		}
	}
	json_array_append(s->events, body);
	if (json_array_size(s->events) > EVENTS_KEPT)
		json_array_remove(s->events, 0);
	if (type != MSG_NOTIFY_CONTAINER)
		logmsg("notification of unexpected type 0x%08" PRIx32, type);

	for (struct watch *w = s->live; w; w = w->next) {
		if (w->kind != W_CTL || !((struct ctl_conn *)w)->follow)
			continue;
		ctl_send(s, (struct ctl_conn *)w, json_pack("{s:O}", "event", body), NULL);
	}
}

static void on_bridge_warn(void *userdata, const char *msg)
{
	struct serve *s = userdata;
	logmsg("bridge connection %u: %s", s->bridge ? s->bridge->no : 0, msg);
}

/* accept_conn(), but out of fds (EMFILE) the pending connection is accepted
 * with the reserve fd and closed at once: a listener left readable would
 * spin the loop. */
static int serve_accept(struct serve *s, int lfd, int *fd, struct error *err)
{
	int r = accept_conn(lfd, fd, err);
	if ((r == -EMFILE || r == -ENFILE) && s->reserve_fd >= 0) {
		close(s->reserve_fd);
		int shed = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (shed >= 0)
			close(shed);
		s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		logmsg("out of file descriptors: refused a connection");
		return -EAGAIN;
	}
	return r;
}

static void accept_bridge(struct serve *s, int lfd)
{
	for (;;) {
		int fd;
		struct error err = {0};
		int r = serve_accept(s, lfd, &fd, &err);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			logmsg("bridge listener: %s", error_text(&err));
			return;
		}
		unsigned no = ++s->connections;
		if (s->bridge) {
			char why[64];
			snprintf(why, sizeof(why), "replaced by connection %u", no);
			kill_bridge(s, why);
		}
		logmsg("bridge connection %u from the guest", no);

		struct bridge_conn *b = calloc(1, sizeof(*b));
		struct negotiate_ctx *ctx = malloc(sizeof(*ctx));
		struct gcs_client_ops ops = {
		    .notify = on_notify, .warn = on_bridge_warn, .userdata = s};
		if (!b || !ctx) {
			free(b);
			free(ctx);
			close(fd);
			logmsg("bridge connection %u: out of memory", no);
			continue;
		}
		r = gcs_client_new(&b->gc, fd, &ops, &err);
		if (r < 0) {
			free(b);
			free(ctx);
			logmsg("bridge connection %u: %s", no, error_text(&err));
			continue;
		}
		b->no = no;
		if (watch_add(s, &b->w, W_BRIDGE, gcs_client_fd(b->gc), EPOLLIN) < 0) {
			gcs_client_free(b->gc);
			free(b);
			free(ctx);
			logmsg("bridge connection %u: epoll: %m", no);
			continue;
		}
		s->bridge = b;
		*ctx = (struct negotiate_ctx){s, no};
		r = gcs_client_negotiate(b->gc, auto_negotiated, ctx, &err);
		if (r < 0) {
			free(ctx);
			kill_bridge(s, error_text(&err));
			continue;
		}
		bridge_update(s);
	}
}

static void handle_bridge(struct serve *s, struct bridge_conn *b, uint32_t revents)
{
	struct error err = {0};
	int r = gcs_client_process(b->gc, revents, &err);
	if (r < 0) {
		kill_bridge(s, error_text(&err));
		return;
	}
	bridge_update(s);
}

static void bridge_op_done(void *userdata, const struct gcs_response *resp, const struct error *err)
{
	struct bridge_op *op = userdata;
	struct serve *s = op->s;
	struct ctl_conn *cc = op->cc;
	json_t *reply;
	if (resp)
		reply = json_pack("{s:b, s:I, s:I, s:O}", "ok", 1, "connection",
				  (json_int_t)op->conn_no, "id", (json_int_t)resp->id, "response",
				  resp->body);
	else if (!err)
		reply = json_pack("{s:b, s:I, s:b}", "ok", 1, "connection", (json_int_t)op->conn_no,
				  "sent", 1);
	else
		reply = json_pack("{s:b, s:s, s:s, s:I}", "ok", 0, "kind",
				  err->errnum == ECONNRESET ? "closed" : "transport", "error",
				  error_text(err), "connection", (json_int_t)op->conn_no);
	ctl_send(s, cc, reply, op->tag);
	cc->refs--;
	ctl_update(s, cc);
	json_decref(op->tag);
	free(op);
}

/* --- control ops ------------------------------------------------------- */

static json_t *status_json(struct serve *s)
{
	json_t *neg = s->bridge ? gcs_client_negotiation(s->bridge->gc) : NULL;
	json_t *caps = neg ? json_object_get(neg, "Capabilities") : NULL;
	return json_pack("{s:b, s:I, s:I, s:b, s:b, s:I, s:O, s:O, s:I, s:s, s:s?}", "ok", 1,
			 "connections", (json_int_t)s->connections, "connection",
			 (json_int_t)(s->bridge ? s->bridge->no : 0), "connected",
			 s->bridge != NULL, "negotiated",
			 s->bridge && gcs_client_negotiated(s->bridge->gc), "version",
			 (json_int_t)(s->bridge ? gcs_client_version(s->bridge->gc) : 0),
			 "capabilities", caps ? caps : json_null(), "negotiation",
			 neg ? neg : json_null(), "events", (json_int_t)s->events_total,
			 "transport", s->t.vsock ? "vsock" : "uds", "base", s->t.base);
}

static int add_waiter(struct ctl_conn *cc, enum waiter_kind kind, unsigned conn_no, json_t *tag)
{
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->kind = kind;
	w->conn_no = conn_no;
	w->tag = json_incref(tag);
	w->next = cc->waiters;
	cc->waiters = w;
	return 0;
}

static void op_bridge_request(struct serve *s, struct ctl_conn *cc, json_t *req, json_t *tag,
			      bool negotiate)
{
	if (!s->bridge) {
		ctl_error(s, cc, tag, "transport",
			  "no bridge connection: the guest agent is not connected");
		return;
	}
	json_t *body = json_object_get(req, "body");
	json_t *type = json_object_get(req, "type");
	if (!negotiate && (!json_is_object(body) || !json_is_integer(type) ||
			   json_integer_value(type) < 0 || json_integer_value(type) > UINT32_MAX)) {
		ctl_error(s, cc, tag, "usage",
			  "request needs \"type\" (u32) and \"body\" (object)");
		return;
	}
	struct bridge_op *op = calloc(1, sizeof(*op));
	if (!op) {
		ctl_error(s, cc, tag, "transport", "out of memory");
		return;
	}
	*op = (struct bridge_op){s, cc, json_incref(tag), s->bridge->no};
	cc->refs++; /* dropped in bridge_op_done() */
	struct error err = {0};
	int r;
	if (negotiate)
		r = gcs_client_negotiate(s->bridge->gc, bridge_op_done, op, &err);
	else
		r = gcs_client_send(
		    s->bridge->gc, (uint32_t)json_integer_value(type), body,
		    json_is_true(json_object_get(req, "no_reply")) ? GCS_SEND_NO_REPLY : 0,
		    bridge_op_done, op, NULL, &err);
	if (r < 0) {
		cc->refs--;
		json_decref(op->tag);
		free(op);
		ctl_error(s, cc, tag, r == -EMSGSIZE || r == -EINVAL ? "usage" : "transport",
			  error_text(&err));
		return;
	}
	bridge_update(s);
}

static void handle_ctl_line(struct serve *s, struct ctl_conn *cc, const char *line, size_t len)
{
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *req = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(req)) {
		char msg[300];
		snprintf(msg, sizeof(msg), "invalid control request: %s",
			 req ? "not a JSON object" : jerr.text);
		ctl_error(s, cc, NULL, "usage", msg);
		return;
	}
	json_t *tag = json_object_get(req, "tag");
	const char *op = json_string_value(json_object_get(req, "op"));
	if (!op) {
		ctl_error(s, cc, tag, "usage", "control request without \"op\"");
		return;
	}

	if (strcmp(op, "status") == 0) {
		ctl_send(s, cc, status_json(s), tag);
	} else if (strcmp(op, "wait-ready") == 0) {
		json_t *n = json_object_get(req, "connections");
		json_int_t want = json_is_integer(n) ? json_integer_value(n) : 1;
		if (want < 1 || want > UINT32_MAX) {
			ctl_error(s, cc, tag, "usage", "\"connections\" must be >= 1");
			return;
		}
		if (add_waiter(cc, WAIT_READY, (unsigned)want, tag) < 0) {
			ctl_error(s, cc, tag, "transport", "out of memory");
			return;
		}
		wake_waiters(s);
	} else if (strcmp(op, "wait-closed") == 0) {
		json_t *n = json_object_get(req, "connection");
		json_int_t no =
		    json_is_integer(n) ? json_integer_value(n) : (s->bridge ? s->bridge->no : 0);
		if (add_waiter(cc, WAIT_CLOSED, (unsigned)no, tag) < 0) {
			ctl_error(s, cc, tag, "transport", "out of memory");
			return;
		}
		wake_waiters(s);
	} else if (strcmp(op, "negotiate") == 0) {
		op_bridge_request(s, cc, req, tag, true);
	} else if (strcmp(op, "request") == 0) {
		op_bridge_request(s, cc, req, tag, false);
	} else if (strcmp(op, "drop-bridge") == 0) {
		if (!s->bridge) {
			ctl_error(s, cc, tag, "transport", "no bridge connection to drop");
			return;
		}
		unsigned no = s->bridge->no;
		kill_bridge(s, "dropped on request (drop-bridge)");
		ctl_send(s, cc, json_pack("{s:b, s:I}", "ok", 1, "connection", (json_int_t)no),
			 tag);
	} else if (strcmp(op, "alloc-ports") == 0) {
		json_t *n = json_object_get(req, "count");
		json_int_t count = json_is_integer(n) ? json_integer_value(n) : 3;
		if (count < 1 || count > 16 || s->next_port > UINT32_MAX - (uint32_t)count) {
			ctl_error(s, cc, tag, "usage", "\"count\" must be 1..16");
			return;
		}
		json_t *ports = json_array();
		for (json_int_t i = 0; i < count; i++)
			json_array_append_new(ports, json_integer(s->next_port++));
		ctl_send(s, cc,
			 json_pack("{s:b, s:o, s:s, s:s?}", "ok", 1, "ports", ports, "transport",
				   s->t.vsock ? "vsock" : "uds", "base", s->t.base),
			 tag);
	} else if (strcmp(op, "events") == 0) {
		size_t i;
		json_t *ev;
		json_array_foreach(s->events, i, ev)
		{
			ctl_send(s, cc, json_pack("{s:O}", "event", ev), tag);
		}
		if (json_is_true(json_object_get(req, "follow")))
			cc->follow = true;
		ctl_send(s, cc,
			 json_pack("{s:b, s:I}", "ok", 1, "count",
				   (json_int_t)json_array_size(s->events)),
			 tag);
	} else {
		char msg[128];
		snprintf(msg, sizeof(msg), "unknown control op `%.60s`", op);
		ctl_error(s, cc, tag, "usage", msg);
	}
}

static void handle_ctl(struct serve *s, struct ctl_conn *cc, uint32_t revents)
{
	if (revents & EPOLLOUT) {
		int r = outbuf_flush(&cc->out, cc->w.fd);
		if (r < 0 && r != -EAGAIN) {
			ctl_kill(s, cc);
			return;
		}
	}
	if ((revents & EPOLLIN) && !cc->rd_eof && !cc->closing) {
		ssize_t n = linebuf_fill(&cc->in, cc->w.fd);
		if (n == -ENOBUFS) {
			ctl_error(s, cc, NULL, "usage", "control request line too long");
			cc->closing = true;
		} else if (n == 0) {
			cc->rd_eof = true;
		} else if (n < 0 && n != -EAGAIN) {
			ctl_kill(s, cc);
			return;
		}
		char *line;
		size_t len;
		while (!cc->w.dead && !cc->closing && (line = linebuf_next(&cc->in, &len)))
			if (len > 0)
				handle_ctl_line(s, cc, line, len);
	} else if (revents & (EPOLLHUP | EPOLLERR)) {
		/* The client is gone for good (not just half-closed). */
		ctl_kill(s, cc);
		return;
	}
	ctl_update(s, cc);
}

/* --- entropy, log ------------------------------------------------------ */

static void entropy_write(struct serve *s, struct entropy_conn *e)
{
	while (e->off < sizeof(e->buf)) {
		ssize_t n = send(e->w.fd, e->buf + e->off, sizeof(e->buf) - e->off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			watch_set(s, &e->w, EPOLLOUT);
			return;
		}
		if (n < 0) {
			logmsg("entropy connection: write: %m");
			break;
		}
		e->off += (size_t)n;
	}
	watch_bury(s, &e->w); /* closing it is the end-of-data mark */
}

static void accept_entropy(struct serve *s, int lfd)
{
	int fd;
	struct error err = {0};
	while (serve_accept(s, lfd, &fd, &err) == 0) {
		struct entropy_conn *e = calloc(1, sizeof(*e));
		if (!e) {
			close(fd);
			continue;
		}
		size_t got = 0;
		while (got < sizeof(e->buf)) {
			ssize_t n = getrandom(e->buf + got, sizeof(e->buf) - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			got += (size_t)n;
		}
		if (got < sizeof(e->buf) || watch_add(s, &e->w, W_ENTROPY, fd, 0) < 0) {
			logmsg("entropy connection: cannot serve it: %m");
			close(fd);
			free(e);
			continue;
		}
		entropy_write(s, e);
	}
}

static void log_write(struct serve *s, const char *p, size_t n)
{
	if (write_all(s->log_fd, p, n) < 0 || write_all(s->log_fd, "\n", 1) < 0)
		logmsg("cannot write the guest log: %m");
}

static void handle_log(struct serve *s, struct log_conn *l)
{
	ssize_t n = linebuf_fill(&l->lb, l->w.fd);
	char *line;
	size_t len;
	while ((line = linebuf_next(&l->lb, &len)))
		log_write(s, line, len);
	if (n == -ENOBUFS && (line = linebuf_rest(&l->lb, &len))) {
		/* An endless line: write it in pieces rather than grow. */
		log_write(s, line, len);
		return;
	}
	if (n > 0 || n == -EAGAIN)
		return;
	/* EOF or error: a partial last line is still a line. */
	if ((line = linebuf_rest(&l->lb, &len)))
		log_write(s, line, len);
	if (n < 0)
		logmsg("log connection: read: %s", strerror((int)-n));
	watch_bury(s, &l->w);
}

static void accept_log(struct serve *s, int lfd)
{
	int fd;
	struct error err = {0};
	while (serve_accept(s, lfd, &fd, &err) == 0) {
		struct log_conn *l = calloc(1, sizeof(*l));
		if (!l) {
			close(fd);
			continue;
		}
		linebuf_init(&l->lb, LOG_MAX_LINE);
		if (watch_add(s, &l->w, W_LOG, fd, EPOLLIN) < 0) {
			close(fd);
			free(l);
		}
	}
}

static void accept_ctl(struct serve *s, int lfd)
{
	int fd;
	struct error err = {0};
	while (serve_accept(s, lfd, &fd, &err) == 0) {
		struct ctl_conn *cc = calloc(1, sizeof(*cc));
		if (!cc) {
			close(fd);
			continue;
		}
		linebuf_init(&cc->in, CTL_MAX_LINE);
		if (watch_add(s, &cc->w, W_CTL, fd, EPOLLIN) < 0) {
			close(fd);
			free(cc);
		}
	}
}

/* --- setup, loop ------------------------------------------------------- */

static int add_listener(struct serve *s, enum wkind kind, int fd, char *path, struct error *err)
{
	struct listener *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		if (path)
			unlink(path);
		free(path);
		return error_set(err, ENOMEM, "listener");
	}
	l->path = path;
	if (watch_add(s, &l->w, kind, fd, EPOLLIN) < 0) {
		int r = error_set(err, errno, "epoll");
		l->w.fd = fd;
		watch_free(&l->w);
		return r;
	}
	return 0;
}

static int guest_listener(struct serve *s, enum wkind kind, uint32_t port, const char *what,
			  struct error *err)
{
	int fd;
	char *path;
	int r = transport_listen(&s->t, port, &fd, &path, err);
	if (r < 0)
		return error_prefix(err, r, "%s port %" PRIu32, what, port);
	return add_listener(s, kind, fd, path, err);
}

static int setup(struct serve *s, struct error *err)
{
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0)
		return error_set(err, errno, "epoll_create1");

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return error_set(err, errno, "sigprocmask");
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return error_set(err, errno, "signalfd");
	struct watch *w = calloc(1, sizeof(*w));
	if (!w || watch_add(s, w, W_SIGNAL, sfd, EPOLLIN) < 0) {
		close(sfd);
		free(w);
		return error_set(err, errno ? errno : ENOMEM, "watch signals");
	}

	int r = guest_listener(s, W_LISTEN_ENTROPY, BRIDGE_ENTROPY_PORT, "entropy", err);
	if (r >= 0)
		r = guest_listener(s, W_LISTEN_LOG, BRIDGE_LOG_PORT, "log", err);
	if (r >= 0)
		r = guest_listener(s, W_LISTEN_BRIDGE, BRIDGE_PORT, "bridge", err);
	if (r < 0)
		return r;

	int fd;
	r = unix_listen(s->ctl_path, &fd, err);
	if (r < 0)
		return error_prefix(err, r, "control socket");
	char *path = strdup(s->ctl_path);
	if (!path) {
		close(fd);
		unlink(s->ctl_path);
		return error_set(err, ENOMEM, "control socket");
	}
	return add_listener(s, W_LISTEN_CTL, fd, path, err);
}

static void handle_signal(struct serve *s, int fd)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		logmsg("%s: shutting down", strsignal((int)si.ssi_signo));
		s->quit = true;
	}
}

static void dispatch(struct serve *s, struct watch *w, uint32_t ev)
{
	switch (w->kind) {
	case W_SIGNAL:
		handle_signal(s, w->fd);
		break;
	case W_LISTEN_ENTROPY:
		accept_entropy(s, w->fd);
		break;
	case W_LISTEN_LOG:
		accept_log(s, w->fd);
		break;
	case W_LISTEN_BRIDGE:
		accept_bridge(s, w->fd);
		break;
	case W_LISTEN_CTL:
		accept_ctl(s, w->fd);
		break;
	case W_ENTROPY:
		entropy_write(s, (struct entropy_conn *)w);
		break;
	case W_LOG:
		handle_log(s, (struct log_conn *)w);
		break;
	case W_BRIDGE:
		handle_bridge(s, (struct bridge_conn *)w, ev);
		break;
	case W_CTL:
		handle_ctl(s, (struct ctl_conn *)w, ev);
		break;
	}
}

static void teardown(struct serve *s)
{
	kill_bridge(s, "serve exiting");
	while (s->live)
		watch_bury(s, s->live);
	/* Nothing answers any more: drop the last references. */
	for (struct watch *w = s->graveyard; w; w = w->next_dead)
		if (w->kind == W_CTL)
			((struct ctl_conn *)w)->refs = 0;
	empty_graveyard(s);
	if (s->ep >= 0)
		close(s->ep);
	json_decref(s->events);
}

static void run_loop(struct serve *s)
{
	struct epoll_event evs[32];
	while (!s->quit) {
		int n = epoll_wait(s->ep, evs, ARRAY_SIZE(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			logmsg("epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			if (!w->dead)
				dispatch(s, w, evs[i].events);
		}
		empty_graveyard(s);
	}
}

static int open_output(const char *path, int *fd_out, struct error *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return error_set(err, errno, "open %s", path);
	*fd_out = fd;
	return 0;
}

static void serve_usage(FILE *f)
{
	fputs("usage: lcowctl serve --uds BASE [--vsock] [--control PATH] [--log FILE] [--events "
	      "FILE]\n"
	      "\n"
	      "The host side of one VM.  Listens where the guest dials in:\n"
	      "  port 1            entropy: 512 random bytes per connection, then close\n"
	      "  port 109          the agent's log, appended to --log FILE line by line\n"
	      "  port 0x40000000   the GCS bridge, negotiated automatically (version 4)\n"
	      "and on a control socket for the other lcowctl subcommands.  Prints\n"
	      "\"lcowctl: ready\" once every listener exists.  SIGTERM/SIGINT: clean exit.\n"
	      "\n"
	      "  --uds BASE       guest port P is the unix socket BASE_P (lcow-vsockd)\n"
	      "  --vsock          AF_VSOCK listeners instead (/dev/vhost-vsock hosts)\n"
	      "  -c, --control PATH  control socket (default BASE.ctl)\n"
	      "  --log FILE       guest log (default stdout)\n"
	      "  --events FILE    append each notification as one JSON line\n",
	      f);
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"uds", required_argument, NULL, 'u'},
	    {"vsock", no_argument, NULL, 'v'},
	    {"control", required_argument, NULL, 'c'},
	    {"log", required_argument, NULL, 'l'},
	    {"events", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *base = NULL, *control = NULL, *log_path = NULL, *events_path = NULL;
	bool vsock = false;
	int c;
	optind = 0; /* 0: glibc re-initialises its getopt state */
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			base = optarg;
			break;
		case 'v':
			vsock = true;
			break;
		case 'c':
			control = optarg;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'e':
			events_path = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			return EXIT_OK;
		default:
			serve_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || (!base && !vsock) || (vsock && !base && !control)) {
		fprintf(stderr, "lcowctl serve: %s\n",
			optind != argc ? "unexpected argument"
				       : "give --uds BASE (or --vsock --control PATH)");
		serve_usage(stderr);
		return EXIT_USAGE;
	}

	struct serve s = {
	    .ep = -1,
	    .t = {.vsock = vsock, .base = base},
	    .log_fd = STDOUT_FILENO,
	    .events_fd = -1,
	    .next_port = BRIDGE_STDIO_PORT_BASE,
	    .events = json_array(),
	    .reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC),
	};
	struct error err = {0};
	_cleanup_free_ char *ctl_path = NULL;
	int r = ctl_path_from(control, base, &ctl_path, &err);
	s.ctl_path = ctl_path;
	if (r >= 0 && log_path)
		r = open_output(log_path, &s.log_fd, &err);
	if (r >= 0 && events_path)
		r = open_output(events_path, &s.events_fd, &err);
	if (r >= 0 && !s.events)
		r = error_set(&err, ENOMEM, "events");
	signal(SIGPIPE, SIG_IGN);
	if (r >= 0)
		r = setup(&s, &err);
	int code = EXIT_OK;
	if (r < 0) {
		fprintf(stderr, "lcowctl serve: %s\n", error_text(&err));
		code = EXIT_TRANSPORT;
	} else {
		printf("lcowctl: ready\n");
		fflush(stdout);
		run_loop(&s);
	}
	teardown(&s);
	if (s.log_fd != STDOUT_FILENO)
		close(s.log_fd);
	if (s.events_fd >= 0)
		close(s.events_fd);
	if (s.reserve_fd >= 0)
		close(s.reserve_fd);
	return code;
}
