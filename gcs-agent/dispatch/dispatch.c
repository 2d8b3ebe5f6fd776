/* SPDX-License-Identifier: MIT */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "log.h"
#include "protocol/hresult.h"
#include "protocol/json.h"

/* DumpStacks text beyond this is cut: the response must fit in a frame. */
#define DUMP_TEXT_MAX (32u * 1024)
#define LINE_UNKNOWN 0xFFFFFFFFu	/* hcsshim's "no line" */

static const struct handler *find_handler(uint32_t type)
{
	for (size_t i = 0; i < dispatch_n_handlers; i++)
		if (dispatch_handlers[i].type == type)
			return &dispatch_handlers[i];
	return NULL;
}

static double seconds_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void container_exited(void *ctx, struct container *c)
{
	struct dispatch *d = ctx;
	struct error err = { 0 };
	if (dispatch_notify_container(d, c->id, c->activity_id, c->exit_type, 0, &err) < 0)
		log_error("container exit notification failed", LOG_STR("cid", c->id),
			  LOG_ERR(&err));
}

int dispatch_new(struct runtime *rt, const struct dispatch_config *cfg, struct dispatch **out,
		 struct error *err)
{
	if (!cfg->poweroff)
		return error_setx(err, EINVAL, "dispatch needs a power-off hook");
	struct dispatch *d = calloc(1, sizeof(*d));
	if (!d)
		return error_set(err, ENOMEM, "allocate dispatcher");
	d->rt = rt;
	d->cfg = *cfg;
	d->notes_tail = &d->notes;
	clock_gettime(CLOCK_MONOTONIC, &d->started);
	rt->events.container_exited = container_exited;
	rt->events.ctx = d;
	*out = d;
	return 0;
}

static void free_pending(struct pending *p)
{
	free(p->activity_id);
	free(p->container_id);
	free(p);
}

static void drop_pending(struct dispatch *d)
{
	while (d->pending) {
		struct pending *p = d->pending;
		d->pending = p->next;
		d->n_pending--;
		d->stats.async_dropped++;
		if (p->cancel)
			p->cancel(p);
		free_pending(p);
	}
}

void dispatch_free(struct dispatch *d)
{
	if (!d)
		return;
	drop_pending(d);
	while (d->notes) {
		struct notification *n = d->notes;
		d->notes = n->next;
		free(n);
	}
	if (d->rt->events.ctx == d)
		d->rt->events = (struct runtime_events){ 0 };
	free(d);
}

void dispatch_attach(struct dispatch *d, const struct bridge_out *out)
{
	if (d->connected)
		dispatch_detach(d);
	d->out = *out;
	snprintf(d->peer, sizeof(d->peer), "%s", out->peer ? out->peer : "?");
	d->out.peer = d->peer;
	d->connected = true;
	d->conn_gen++;
	d->version = 0;
	d->stats.connections++;
	log_info("bridge connected", LOG_STR("peer", d->peer), LOG_U64("connection", d->conn_gen));
}

void dispatch_detach(struct dispatch *d)
{
	if (!d->connected)
		return;
	size_t n = d->n_pending;
	drop_pending(d);
	d->connected = false;
	d->version = 0;
	d->out = (struct bridge_out){ 0 };
	log_info("bridge disconnected", LOG_U64("connection", d->conn_gen),
		 LOG_U64("pending_cancelled", n));
}

bool dispatch_connected(const struct dispatch *d)
{
	return d->connected;
}

uint32_t dispatch_protocol_version(const struct dispatch *d)
{
	return d->version;
}

const struct dispatch_stats *dispatch_stats(const struct dispatch *d)
{
	return &d->stats;
}

int req_error_at(struct request *req, int r, int32_t hresult, const char *file, int line,
		 const char *func)
{
	if (r >= 0)
		r = -EINVAL;
	req->hresult = hresult ? hresult : hresult_from_errno(r);
	req->fail_file = file;
	req->fail_line = line;
	req->fail_func = func;
	return r;
}

struct failure {
	int32_t hresult;
	const char *message;
	const char *file, *func;
	int line;
};

/* The response body, field for field as hcsshim's guest marshals
 * MessageResponseBase and its embedding struct: Result, ActivityId
 * (omitted when empty), ErrorMessage and ErrorRecords (failures only), then
 * the message's own fields (successes only). */
static json_t *build_response(const char *activity_id, const struct failure *f, json_t *fields)
{
	_cleanup_json_ json_t *o = json_object();
	if (!o || json_object_set_new(o, "Result", json_integer(f ? f->hresult : 0)) < 0)
		return NULL;
	if (activity_id && *activity_id &&
	    json_object_set_new(o, "ActivityId", json_string(activity_id)) < 0)
		return NULL;
	if (f) {
		uint32_t line = f->line > 0 ? (uint32_t)f->line : LINE_UNKNOWN;
		json_t *rec = json_pack("{s:i, s:s, s:s, s:s, s:I}", "Result", (int)f->hresult,
					"Message", f->message, "ModuleName", "gcs", "FileName",
					f->file ? f->file : "", "Line", (json_int_t)line);
		if (!rec)
			return NULL;
		if (f->func && json_object_set_new(rec, "FunctionName", json_string(f->func)) < 0) {
			json_decref(rec);
			return NULL;
		}
		if (json_object_set_new(o, "ErrorMessage", json_string(f->message)) < 0 ||
		    json_object_set_new(o, "ErrorRecords", json_pack("[o]", rec)) < 0)
			return NULL;
	} else if (fields && json_object_update(o, fields) < 0) {
		return NULL;
	}
	return TAKE_PTR(o);
}

static int send_frame(struct dispatch *d, uint32_t type, uint64_t id, const char *body, size_t len,
		      struct error *err)
{
	if (!d->connected)
		return error_setx(err, ENOTCONN, "no bridge connection");
	int r = d->out.send(d->out.ctx, type, id, body, len, err);
	if (r < 0)
		d->stats.send_errors++;
	return r;
}

/* Encode and send one response; one that would not fit in a frame becomes
 * an error response that does.  < 0 only when the connection refused it. */
static int send_response(struct dispatch *d, uint32_t req_type, uint64_t id,
			 const char *activity_id, const struct failure *f, json_t *fields,
			 struct error *err)
{
	uint32_t type = bridge_response_type(req_type);
	_cleanup_json_ json_t *o = build_response(activity_id, f, fields);
	_cleanup_free_ char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct failure big;
	char msg[160];
	size_t len = body ? strlen(body) : 0;
	if (!body || len > BRIDGE_MAX_FRAME - BRIDGE_HEADER_SIZE) {
		if (body)
			snprintf(msg, sizeof(msg),
				 "response of %zu bytes exceeds the bridge frame limit", len);
		else
			snprintf(msg, sizeof(msg), "out of memory encoding the response");
		big = (struct failure){ .hresult = HR_FAIL, .message = msg, .func = __func__ };
		log_error("response replaced by an error", LOG_HEX("type", type), LOG_U64("id", id),
			  LOG_STR("error", msg));
		json_decref(o);
		free(body);
		/* Without the echo: an oversized ActivityId is what got us here. */
		o = build_response(NULL, &big, NULL);
		body = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (!body)
			return error_set(err, ENOMEM, "encode response");
		len = strlen(body);
		f = &big;
	}
	d->stats.responses++;
	if (f)
		d->stats.failures++;
	log_debug("response", LOG_HEX("type", type), LOG_U64("id", id),
		  LOG_HEX("result", (uint32_t)(f ? f->hresult : 0)));
	if (d->cfg.log_bodies)
		log_trace("response body", LOG_U64("id", id), LOG_STR("body", body));
	return send_frame(d, type, id, body, len, err);
}

static void flush_notifications(struct dispatch *d)
{
	while (d->notes && d->connected && d->version) {
		struct notification *n = d->notes;
		struct error err = { 0 };
		if (send_frame(d, MSG_NOTIFY_CONTAINER, 0, n->body, n->len, &err) < 0) {
			log_error("queued notification not sent", LOG_ERR(&err));
			return;
		}
		d->notes = n->next;
		if (!d->notes)
			d->notes_tail = &d->notes;
		d->n_notes--;
		d->stats.notifications_sent++;
		free(n);
	}
}

int dispatch_notify_container(struct dispatch *d, const char *container_id,
			      const char *activity_id, const char *type, int32_t result,
			      struct error *err)
{
	_cleanup_json_ json_t *o =
		msg_container_notification(container_id, activity_id, type, "None", result, NULL);
	_cleanup_free_ char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!body)
		return error_set(err, ENOMEM, "encode notification");
	size_t len = strlen(body);
	if (len > BRIDGE_MAX_FRAME - BRIDGE_HEADER_SIZE)
		return error_setx(err, EMSGSIZE,
				  "notification of %zu bytes exceeds the frame limit", len);
	log_info("container notification", LOG_STR("cid", container_id), LOG_STR("type", type));
	if (d->connected && d->version && !d->notes) {
		int r = send_frame(d, MSG_NOTIFY_CONTAINER, 0, body, len, err);
		if (r == 0)
			d->stats.notifications_sent++;
		return r;
	}
	/* No host to tell now: keep it for the next negotiated connection,
	 * as hcsshim's guest does. */
	struct notification *n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return error_set(err, ENOMEM, "queue notification");
	n->next = NULL;
	n->len = len;
	memcpy(n->body, body, len + 1);
	if (d->n_notes == DISPATCH_MAX_QUEUED_NOTIFICATIONS) {
		struct notification *old = d->notes;
		d->notes = old->next;
		if (!d->notes)
			d->notes_tail = &d->notes;
		d->n_notes--;
		free(old);
		d->stats.notifications_dropped++;
		log_warning("notification queue full: dropped the oldest");
	}
	*d->notes_tail = n;
	d->notes_tail = &n->next;
	d->n_notes++;
	d->stats.notifications_queued++;
	return 0;
}

struct pending *dispatch_go_async(struct request *req, struct error *err)
{
	struct dispatch *d = req->d;
	if (d->n_pending >= DISPATCH_MAX_PENDING) {
		error_setx(err, EBUSY, "too many pending requests (%d)", DISPATCH_MAX_PENDING);
		return NULL;
	}
	struct pending *p = calloc(1, sizeof(*p));
	if (!p || !(p->activity_id = strdup(req->base.activity_id)) ||
	    !(p->container_id = strdup(req->base.container_id))) {
		if (p)
			free_pending(p);
		error_set(err, ENOMEM, "keep pending request");
		return NULL;
	}
	p->d = d;
	p->conn_gen = d->conn_gen;
	p->id = req->hdr.id;
	p->type = req->hdr.type;
	clock_gettime(CLOCK_MONOTONIC, &p->started);
	p->next = d->pending;
	d->pending = p;
	d->n_pending++;
	d->stats.async_started++;
	return p;
}

static void unlink_pending(struct pending *p)
{
	struct dispatch *d = p->d;
	for (struct pending **pp = &d->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			d->n_pending--;
			return;
		}
	}
}

void dispatch_forget(struct pending *p)
{
	unlink_pending(p);
	p->d->stats.async_started--;
	free_pending(p);
}

void dispatch_complete(struct pending *p, int r, json_t *fields, const struct error *err)
{
	struct dispatch *d = p->d;
	unlink_pending(p);
	d->stats.async_completed++;
	if (d->connected && p->conn_gen == d->conn_gen) {
		struct failure f = { 0 };
		if (r < 0) {
			f.hresult = hresult_from_errno(r);
			f.message = error_text(err);
			f.func = bridge_msg_name(p->type);
		}
		struct error serr = { 0 };
		if (send_response(d, p->type, p->id, p->activity_id, r < 0 ? &f : NULL, fields,
				  &serr) < 0)
			log_error("async response not sent", LOG_U64("id", p->id), LOG_ERR(&serr));
	}
	if (fields)
		json_decref(fields);
	free_pending(p);
}

static void do_poweroff(void *arg)
{
	struct dispatch *d = arg;
	log_info("powering off the utility VM");
	d->cfg.poweroff(d->cfg.ctx);
}

int dispatch_frame(struct dispatch *d, const struct bridge_header *hdr, const uint8_t *body,
		   size_t len, struct error *err)
{
	struct request req = { .d = d, .hdr = *hdr };
	struct error rerr = { 0 };
	const struct handler *h = find_handler(hdr->type);
	const char *name = h ? h->name : "unknown";
	int r;

	d->stats.requests++;
	if (h)
		d->stats.by_id[bridge_msg_id(hdr->type) & 15]++;

	/* Like hcsshim, read ActivityId (for the echo) even from a body that
	 * fails validation later; only unparsable JSON has none. */
	struct error perr = { 0 };
	int pr = jf_parse_body(body, len, &req.root, &perr);
	const char *activity = "";
	json_t *a = pr == 0 ? jf_lookup(req.root, "ActivityId") : NULL;
	if (a && json_is_string(a))
		activity = json_string_value(a);

	log_debug("request", LOG_STR("type", name), LOG_HEX("type_id", hdr->type),
		  LOG_U64("id", hdr->id), LOG_STR("activity_id", activity));
	if (d->cfg.log_bodies && log_enabled(LOG_TRACE)) {
		char *text = strndup((const char *)body, len);
		log_trace("request body", LOG_U64("id", hdr->id), LOG_STR("body", text));
		free(text);
	}

	if (!h) {
		d->stats.unknown++;
		r = req_error_hr(&req, HR_NOTIMPL,
				 error_setx(&rerr, ENOSYS,
					    "bridge: function not supported, header type: "
					    "0x%08" PRIx32,
					    hdr->type));
		log_warning("unknown message type", LOG_HEX("type", hdr->type),
			    LOG_U64("id", hdr->id));
	} else if (d->version == 0 && hdr->type != MSG_NEGOTIATE_PROTOCOL) {
		/* hcsshim only routes NegotiateProtocol on an un-negotiated
		 * bridge; everything else falls to its not-supported handler. */
		r = req_error_hr(&req, HR_NOTIMPL,
				 error_setx(&rerr, ENOSYS,
					    "%s before NegotiateProtocol: the bridge protocol "
					    "version is not negotiated yet",
					    name));
	} else if (d->version != 0 && hdr->type == MSG_NEGOTIATE_PROTOCOL) {
		r = req_error_hr(&req, HR_NOTIMPL,
				 error_setx(&rerr, ENOSYS,
					    "NegotiateProtocol: protocol version %" PRIu32
					    " is already negotiated on this connection",
					    d->version));
	} else if (pr < 0) {
		rerr = perr;
		r = req_error_hr(&req, HR_INVALID_JSON, -EBADMSG);
	} else if ((r = msg_parse_base(req.root, &req.base, &rerr)) < 0) {
		r = req_error_hr(&req, HR_INVALID_JSON, r);
	} else {
		r = h->fn(&req, &rerr);
	}

	int ret = 0;
	if (r == DISPATCH_ASYNC) {
		log_debug("request pending", LOG_STR("type", name), LOG_U64("id", hdr->id));
	} else if (!req.no_reply) {
		struct failure f = { 0 };
		if (r < 0) {
			f = (struct failure){ .hresult = req.hresult ? req.hresult
								     : hresult_from_errno(r),
					      .message = error_text(&rerr),
					      .file = req.fail_file,
					      .func = req.fail_func,
					      .line = req.fail_line };
			log_info("request failed", LOG_STR("type", name), LOG_U64("id", hdr->id),
				 LOG_STR("activity_id", activity),
				 LOG_HEX("result", (uint32_t)f.hresult),
				 LOG_STR("error", f.message));
		}
		ret = send_response(d, hdr->type, hdr->id, activity, r < 0 ? &f : NULL, req.resp,
				    err);
	}
	if (req.poweroff) {
		if (req.no_reply || ret < 0)
			do_poweroff(d);
		else
			d->out.when_drained(d->out.ctx, do_poweroff, d);
	}
	if (hdr->type == MSG_NEGOTIATE_PROTOCOL && d->version && ret == 0)
		flush_notifications(d);

	if (req.resp)
		json_decref(req.resp);
	if (req.root)
		json_decref(req.root);
	return ret;
}

int dispatch_dump_state(struct dispatch *d, char **text, struct error *err)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return error_set(err, errno, "open_memstream");
	const struct dispatch_stats *s = &d->stats;

	fprintf(f, "gcs guest agent, pid %d, up %.3fs\n", (int)getpid(),
		seconds_since(&d->started));
	if (!d->connected)
		fprintf(f, "bridge: disconnected (connections so far: %" PRIu64 ")\n",
			s->connections);
	else
		fprintf(f, "bridge: connected to %s (connection #%" PRIu64 "), protocol %s%" PRIu32
			   ", %zu bytes queued\n",
			d->peer, d->conn_gen, d->version ? "version " : "not negotiated",
			d->version, d->out.queued ? d->out.queued(d->out.ctx) : 0);
	fprintf(f,
		"requests: %" PRIu64 " (unknown type %" PRIu64 "), responses: %" PRIu64
		" (errors %" PRIu64 "), send errors: %" PRIu64 ", negotiations: %" PRIu64 "\n",
		s->requests, s->unknown, s->responses, s->failures, s->send_errors,
		s->negotiations);
	for (size_t i = 0; i < dispatch_n_handlers; i++) {
		uint64_t n = s->by_id[bridge_msg_id(dispatch_handlers[i].type) & 15];
		if (n)
			fprintf(f, "  %s: %" PRIu64 "\n", dispatch_handlers[i].name, n);
	}
	fprintf(f,
		"async: %zu pending, %" PRIu64 " started, %" PRIu64 " completed, %" PRIu64
		" dropped\n",
		d->n_pending, s->async_started, s->async_completed, s->async_dropped);
	fprintf(f,
		"notifications: %" PRIu64 " sent, %zu queued now (%" PRIu64 " ever), %" PRIu64
		" dropped\n",
		s->notifications_sent, d->n_notes, s->notifications_queued,
		s->notifications_dropped);
	if (d->cfg.describe)
		d->cfg.describe(d->cfg.ctx, f);
	runtime_describe(d->rt, f);
	fprintf(f, "pending requests: %zu\n", d->n_pending);
	for (const struct pending *p = d->pending; p; p = p->next)
		fprintf(f, "  id %" PRIu64 " %s container %s process %" PRIu32 ", waiting %.3fs\n",
			p->id, bridge_msg_name(p->type) ? bridge_msg_name(p->type) : "?",
			p->container_id, p->process_id, seconds_since(&p->started));
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return error_set(err, ENOMEM, "format agent state");
	}
	if (size > DUMP_TEXT_MAX) {
		static const char cut[] = "... (truncated)\n";
		memcpy(buf + DUMP_TEXT_MAX - sizeof(cut), cut, sizeof(cut));
	}
	*text = buf;
	return 0;
}
