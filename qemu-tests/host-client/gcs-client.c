/* SPDX-License-Identifier: MIT */
#include "gcs-client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcow/cleanup.h"

/* One request waiting for its response (or, NO_REPLY, to be written). */
struct pending {
	uint64_t id;
	uint32_t type;
	bool no_reply;
	uint64_t end; /* output offset just past its frame */
	gcs_reply_fn *fn;
	void *userdata;
	struct pending *next;
};

struct gcs_client {
	int fd;
	struct gcs_client_ops ops;
	uint64_t next_id;

	/* Output: queued frames; out[out_off..out_len) not yet written. */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	uint64_t queued_total, written_total;

	/* Input: the header, then a body of at most GCS_MAX_BODY bytes. */
	uint8_t hdr_buf[BRIDGE_HEADER_SIZE];
	size_t hdr_have;
	struct bridge_header hdr;
	uint8_t *body; /* allocated once the header has been checked */
	size_t body_have;

	struct pending *pending, **pending_tail;
	size_t npending;

	bool negotiated;
	uint32_t version;
	json_t *negotiation;
};

/* Frames read per process() call, so one chatty peer cannot starve the
 * rest of the loop (epoll is level-triggered: the rest comes next time). */
#define MAX_FRAMES_PER_CALL 64

static void warnf(struct gcs_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct gcs_client *c, const char *fmt, ...)
{
	if (!c->ops.warn)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->ops.warn(c->ops.userdata, msg);
}

int gcs_client_new(struct gcs_client **out, int fd, const struct gcs_client_ops *ops,
		   struct error *err)
{
	_cleanup_close_ int owned = fd;

	int fl = fcntl(owned, F_GETFL);
	if (fl < 0 || fcntl(owned, F_SETFL, fl | O_NONBLOCK) < 0)
		return error_set(err, errno, "make bridge socket non-blocking");
	struct gcs_client *c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(err, ENOMEM, "allocate bridge client");
	c->fd = TAKE_FD(owned);
	if (ops)
		c->ops = *ops;
	c->next_id = 1;
	c->pending_tail = &c->pending;
	*out = c;
	return 0;
}

static struct pending *pending_take(struct gcs_client *c, uint64_t id)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		struct pending *p = *pp;
		if (p->id != id || p->no_reply)
			continue;
		*pp = p->next;
		if (c->pending_tail == &p->next)
			c->pending_tail = pp;
		c->npending--;
		return p;
	}
	return NULL;
}

static void fail_all_pending(struct gcs_client *c, const char *why)
{
	struct error e = {0};
	error_setx(&e, ECONNRESET, "bridge connection closed before the response: %s", why);
	/* Detach first: a callback may queue new requests on c. */
	struct pending *p = c->pending;
	c->pending = NULL;
	c->pending_tail = &c->pending;
	c->npending = 0;
	while (p) {
		struct pending *next = p->next;
		p->fn(p->userdata, NULL, &e);
		free(p);
		p = next;
	}
}

void gcs_client_close(struct gcs_client *c, const char *why)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	fail_all_pending(c, why);
	/* gcs_client_send() refuses now, so nothing new can be pending. */
	free(c->out);
	free(c->body);
	json_decref(c->negotiation);
	free(c);
}

void gcs_client_free(struct gcs_client *c)
{
	gcs_client_close(c, "connection closed");
}

int gcs_client_fd(const struct gcs_client *c)
{
	return c->fd;
}

/* A NO_REPLY request is on the wire but its callback has not run yet. */
static bool written_unreported(const struct gcs_client *c)
{
	for (const struct pending *p = c->pending; p; p = p->next)
		if (p->no_reply && p->end <= c->written_total)
			return true;
	return false;
}

uint32_t gcs_client_poll_events(const struct gcs_client *c)
{
	/* EPOLLOUT also to report written NO_REPLY requests from process():
	 * callbacks never run inside gcs_client_send(). */
	bool out = c->out_len > c->out_off || written_unreported(c);
	return EPOLLIN | (out ? EPOLLOUT : 0);
}

size_t gcs_client_outq(const struct gcs_client *c)
{
	return c->out_len - c->out_off;
}

size_t gcs_client_pending(const struct gcs_client *c)
{
	return c->npending;
}

bool gcs_client_negotiated(const struct gcs_client *c)
{
	return c->negotiated;
}

uint32_t gcs_client_version(const struct gcs_client *c)
{
	return c->version;
}

json_t *gcs_client_negotiation(const struct gcs_client *c)
{
	return c->negotiation;
}

/* Make room for n more output bytes. */
static int out_reserve(struct gcs_client *c, size_t n)
{
	if (c->out_off > 0 && c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
	} else if (c->out_off > c->out_cap / 2) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_cap - c->out_len >= n)
		return 0;
	size_t cap = c->out_cap ? c->out_cap : 4096;
	while (cap - c->out_len < n)
		cap *= 2;
	uint8_t *p = realloc(c->out, cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/* Complete NO_REPLY requests whose frame is now on the wire. */
static void complete_written(struct gcs_client *c)
{
	struct pending **pp = &c->pending;
	while (*pp) {
		struct pending *p = *pp;
		if (!p->no_reply || p->end > c->written_total) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (c->pending_tail == &p->next)
			c->pending_tail = pp;
		c->npending--;
		p->fn(p->userdata, NULL, NULL);
		free(p);
	}
}

static int flush_out(struct gcs_client *c, bool complete, struct error *err)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return error_set(err, errno, "write to bridge");
		}
		c->out_off += (size_t)n;
		c->written_total += (uint64_t)n;
	}
	if (complete)
		complete_written(c);
	return 0;
}

int gcs_client_send(struct gcs_client *c, uint32_t type, json_t *body, unsigned flags,
		    gcs_reply_fn *fn, void *userdata, uint64_t *id_out, struct error *err)
{
	if (c->fd < 0)
		return error_setx(err, ENOTCONN, "bridge connection closed");
	if (!json_is_object(body))
		return error_setx(err, EINVAL, "request body must be a JSON object");
	_cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return error_set(err, ENOMEM, "encode request");
	/* hcsshim's encoder ends every body with a newline; do the same so the
	 * agent sees exactly what Windows sends. */
	size_t len = strlen(text) + 1;
	if (len > GCS_MAX_BODY)
		return error_setx(err, EMSGSIZE,
				  "request body of %zu bytes exceeds the %u-byte frame limit", len,
				  (unsigned)GCS_MAX_BODY);
	struct pending *p = calloc(1, sizeof(*p));
	if (!p || out_reserve(c, BRIDGE_HEADER_SIZE + len) < 0) {
		free(p);
		return error_set(err, ENOMEM, "queue request");
	}

	struct bridge_header hdr = {
	    .type = type,
	    .size = (uint32_t)(BRIDGE_HEADER_SIZE + len),
	    .id = c->next_id++,
	};
	bridge_header_encode(&hdr, c->out + c->out_len);
	memcpy(c->out + c->out_len + BRIDGE_HEADER_SIZE, text, len - 1);
	c->out[c->out_len + BRIDGE_HEADER_SIZE + len - 1] = '\n';
	c->out_len += hdr.size;
	c->queued_total += hdr.size;

	p->id = hdr.id;
	p->type = type;
	p->no_reply = flags & GCS_SEND_NO_REPLY;
	p->end = c->queued_total;
	p->fn = fn;
	p->userdata = userdata;
	*c->pending_tail = p;
	c->pending_tail = &p->next;
	c->npending++;
	if (id_out)
		*id_out = hdr.id;

	/* Try right away: most frames leave without waiting for EPOLLOUT.  A
	 * write error surfaces at the next process() as well, so the request
	 * stays queued and completes through its callback either way. */
	struct error ignored = {0};
	(void)flush_out(c, false, &ignored);
	return 0;
}

/* int32 HRESULT; accept the unsigned spelling (2147500037) as well. */
static int decode_result(json_t *v, int32_t *out)
{
	if (!v) {
		*out = 0; /* as Go's decoder: missing = zero value */
		return 0;
	}
	if (!json_is_integer(v))
		return -EINVAL;
	json_int_t r = json_integer_value(v);
	if (r < INT32_MIN || r > (json_int_t)UINT32_MAX)
		return -ERANGE;
	*out = (int32_t)(uint32_t)r;
	return 0;
}

static int handle_response(struct gcs_client *c, json_t *body, const char *parse_error,
			   struct error *err)
{
	struct pending *p = pending_take(c, c->hdr.id);
	if (!p) {
		/* As hcsshim: a late answer to something we gave up on. */
		warnf(c, "ignoring response 0x%08" PRIx32 " for unknown request id %" PRIu64,
		      c->hdr.type, c->hdr.id);
		return 0;
	}

	struct error e = {0};
	int r = 0;
	struct gcs_response resp = {.id = c->hdr.id, .type = c->hdr.type, .body = body};
	if (c->hdr.type != bridge_response_type(p->type)) {
		r = error_setx(&e, EPROTO,
			       "response type 0x%08" PRIx32 " does not answer request 0x%08" PRIx32,
			       c->hdr.type, p->type);
	} else if (parse_error) {
		r = error_setx(&e, EPROTO, "bad response body: %s", parse_error);
	} else if (decode_result(json_object_get(body, "Result"), &resp.result) < 0) {
		r = error_setx(&e, EPROTO, "bad response body: Result is not an int32");
	} else {
		json_t *m = json_object_get(body, "ErrorMessage");
		resp.error_message = json_is_string(m) ? json_string_value(m) : "";
	}

	if (r < 0) {
		/* hcsshim tears the bridge down on an undecodable response; so do
		 * we, after failing the request it belonged to. */
		p->fn(p->userdata, NULL, &e);
		free(p);
		if (err)
			*err = e;
		return error_prefix(err, r, "request id %" PRIu64, c->hdr.id);
	}
	if (p->type == MSG_NEGOTIATE_PROTOCOL) {
		json_decref(c->negotiation);
		c->negotiation = json_incref(body);
		json_t *v = json_object_get(body, "Version");
		c->negotiated = resp.result == 0;
		c->version =
		    resp.result == 0 && json_is_integer(v) ? (uint32_t)json_integer_value(v) : 0;
	}
	p->fn(p->userdata, &resp, NULL);
	free(p);
	return 0;
}

/* One complete frame is in hdr/body. */
static int dispatch_frame(struct gcs_client *c, struct error *err)
{
	size_t len = c->hdr.size - BRIDGE_HEADER_SIZE;
	json_error_t jerr;
	json_t *body = NULL;
	const char *parse_error = NULL;
	char why[200];

	if (len == 0) {
		parse_error = "empty body";
	} else {
		body = json_loadb((const char *)c->body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!body) {
			snprintf(why, sizeof(why), "invalid JSON: %s", jerr.text);
			parse_error = why;
		} else if (!json_is_object(body)) {
			parse_error = "not a JSON object";
		}
	}

	int r = 0;
	switch (c->hdr.type & MSG_TYPE_MASK) {
	case MSG_TYPE_RESPONSE:
		r = handle_response(c, body, parse_error, err);
		break;
	case MSG_TYPE_NOTIFY:
		if (parse_error)
			warnf(c, "dropping notification 0x%08" PRIx32 ": %s", c->hdr.type,
			      parse_error);
		else if (c->ops.notify)
			c->ops.notify(c->ops.userdata, c->hdr.type, body);
		break;
	default:
		warnf(c,
		      "ignoring unexpected message type 0x%08" PRIx32 " (id %" PRIu64
		      ") from the guest",
		      c->hdr.type, c->hdr.id);
		break;
	}
	json_decref(body);
	return r;
}

static int read_frames(struct gcs_client *c, struct error *err)
{
	for (int frames = 0; frames < MAX_FRAMES_PER_CALL;) {
		uint8_t *dst;
		size_t want;
		if (c->hdr_have < BRIDGE_HEADER_SIZE) {
			dst = c->hdr_buf + c->hdr_have;
			want = BRIDGE_HEADER_SIZE - c->hdr_have;
		} else {
			dst = c->body + c->body_have;
			want = c->hdr.size - BRIDGE_HEADER_SIZE - c->body_have;
		}

		if (want > 0) {
			ssize_t n = recv(c->fd, dst, want, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					return 0;
				return error_set(err, errno, "read from bridge");
			}
			if (n == 0) {
				if (c->hdr_have == 0)
					return error_setx(err, ECONNRESET,
							  "connection closed by the guest");
				return error_setx(
				    err, ECONNRESET,
				    "connection closed by the guest in the middle of a frame");
			}
			if (c->hdr_have < BRIDGE_HEADER_SIZE) {
				c->hdr_have += (size_t)n;
				if (c->hdr_have < BRIDGE_HEADER_SIZE)
					continue;
				if (bridge_header_decode(c->hdr_buf, &c->hdr) < 0)
					return error_setx(err, EPROTO,
							  "bad frame from the guest: Size %" PRIu32
							  " outside [%u, %u] (type 0x%08" PRIx32
							  ")",
							  c->hdr.size, BRIDGE_HEADER_SIZE,
							  BRIDGE_MAX_FRAME, c->hdr.type);
				/* Size is checked now: at most 64 KiB. */
				size_t blen = c->hdr.size - BRIDGE_HEADER_SIZE;
				free(c->body);
				c->body = malloc(blen ? blen : 1);
				if (!c->body)
					return error_set(err, ENOMEM, "allocate frame body");
				c->body_have = 0;
			} else {
				c->body_have += (size_t)n;
			}
			if (c->body_have < c->hdr.size - BRIDGE_HEADER_SIZE)
				continue;
		}

		/* A complete frame. */
		int r = dispatch_frame(c, err);
		c->hdr_have = 0;
		c->body_have = 0;
		free(c->body);
		c->body = NULL;
		frames++;
		if (r < 0)
			return r;
	}
	return 0;
}

int gcs_client_process(struct gcs_client *c, uint32_t revents, struct error *err)
{
	if (c->fd < 0)
		return error_setx(err, ENOTCONN, "bridge connection closed");
	if (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		int r = flush_out(c, true, err);
		if (r < 0)
			return r;
	}
	if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
		int r = read_frames(c, err);
		if (r < 0)
			return r;
	}
	/* Callbacks may have queued requests. */
	return flush_out(c, true, err);
}

struct negotiate_ctx {
	gcs_reply_fn *fn;
	void *userdata;
};

static void negotiate_done(void *userdata, const struct gcs_response *resp, const struct error *err)
{
	/* The result was recorded in handle_response(); pass it on. */
	struct negotiate_ctx ctx = *(struct negotiate_ctx *)userdata;
	free(userdata);
	if (ctx.fn)
		ctx.fn(ctx.userdata, resp, err);
}

int gcs_client_negotiate(struct gcs_client *c, gcs_reply_fn *fn, void *userdata, struct error *err)
{
	_cleanup_(json_decrefp) json_t *body = NULL;
	int r = gcs_build_negotiate(&body, BRIDGE_PROTOCOL_VERSION, BRIDGE_PROTOCOL_VERSION, err);
	if (r < 0)
		return r;
	struct negotiate_ctx *ctx = malloc(sizeof(*ctx));
	if (!ctx)
		return error_set(err, ENOMEM, "negotiate");
	ctx->fn = fn;
	ctx->userdata = userdata;
	r = gcs_client_send(c, MSG_NEGOTIATE_PROTOCOL, body, 0, negotiate_done, ctx, NULL, err);
	if (r < 0)
		free(ctx);
	return r;
}

/* --- message names --------------------------------------------------- */

static const uint32_t all_requests[] = {
    MSG_CREATE,
    MSG_START,
    MSG_SHUTDOWN_GRACEFUL,
    MSG_SHUTDOWN_FORCED,
    MSG_EXECUTE_PROCESS,
    MSG_WAIT_FOR_PROCESS,
    MSG_SIGNAL_PROCESS,
    MSG_RESIZE_CONSOLE,
    MSG_GET_PROPERTIES,
    MSG_MODIFY_SETTINGS,
    MSG_NEGOTIATE_PROTOCOL,
    MSG_DUMP_STACKS,
    MSG_DELETE_CONTAINER_STATE,
};

int gcs_msg_parse(const char *s, uint32_t *type, struct error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(all_requests); i++) {
		if (strcasecmp(s, bridge_msg_name(all_requests[i])) == 0) {
			*type = all_requests[i];
			return 0;
		}
	}
	if (*s >= '0' && *s <= '9') {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s, &end, 0);
		if (errno == 0 && *end == '\0' && v <= UINT32_MAX) {
			*type = (uint32_t)v;
			return 0;
		}
	}
	return error_setx(err, EINVAL,
			  "unknown message type `%s` (want a name such as DumpStacks, or a number "
			  "such as 0x10100c01)",
			  s);
}

const char *gcs_msg_describe(uint32_t type, char buf[11])
{
	const char *name = bridge_msg_name(type);
	if (name)
		return name;
	snprintf(buf, 11, "0x%08" PRIx32, type);
	return buf;
}

/* --- builders -------------------------------------------------------- */

int gcs_new_guid(char out[GCS_GUID_LEN + 1], struct error *err)
{
	uint8_t b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, errno, "getrandom");
		}
		got += (size_t)n;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, GCS_GUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return 0;
}

/* json_object_set_new() that reports allocation failure as -ENOMEM
 * (value NULL counts as failure: it came from a failed json_*() call). */
static int set_new(json_t *obj, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(obj, key, value) < 0 ? -ENOMEM : 0;
}

int gcs_fill_base(json_t *body, struct error *err)
{
	if (!json_is_object(body))
		return error_setx(err, EINVAL, "request body must be a JSON object");
	if (!json_object_get(body, "ContainerId") &&
	    set_new(body, "ContainerId", json_string(UVM_CONTAINER_ID)) < 0)
		return error_set(err, ENOMEM, "build request");
	if (!json_object_get(body, "ActivityId")) {
		char guid[GCS_GUID_LEN + 1];
		int r = gcs_new_guid(guid, err);
		if (r < 0)
			return error_prefix(err, r, "ActivityId");
		if (set_new(body, "ActivityId", json_string(guid)) < 0)
			return error_set(err, ENOMEM, "build request");
	}
	return 0;
}

int gcs_build_base(json_t **out, const char *id, struct error *err)
{
	json_t *o = json_object();
	if (!o || set_new(o, "ContainerId", json_string(id ? id : UVM_CONTAINER_ID)) < 0) {
		json_decref(o);
		return error_set(err, ENOMEM, "build request");
	}
	int r = gcs_fill_base(o, err);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*out = o;
	return 0;
}

/* Start from the base fields; on failure of any set_new() the caller
 * funnels into one ENOMEM exit. */
#define BUILD_BEGIN(id)                                                                            \
	_cleanup_(json_decrefp) json_t *o = NULL;                                                  \
	int r_ = gcs_build_base(&o, (id), err);                                                    \
	if (r_ < 0)                                                                                \
		return r_;

#define BUILD_END()                                                                                \
	*out = TAKE_PTR(o);                                                                        \
	return 0;                                                                                  \
	nomem:                                                                                     \
	return error_set(err, ENOMEM, "build request");

int gcs_build_negotiate(json_t **out, uint32_t min_version, uint32_t max_version, struct error *err)
{
	BUILD_BEGIN(NULL);
	if (set_new(o, "MinimumVersion", json_integer(min_version)) < 0 ||
	    set_new(o, "MaximumVersion", json_integer(max_version)) < 0)
		goto nomem;
	BUILD_END();
}

/* obj as compact JSON text in a JSON string (the host's anyInString). */
static json_t *json_in_string(json_t *obj)
{
	if (json_is_string(obj))
		return json_incref(obj);
	_cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
	return text ? json_string(text) : NULL;
}

int gcs_build_create(json_t **out, const char *id, json_t *config, struct error *err)
{
	if (!json_is_object(config) && !json_is_string(config))
		return error_setx(err, EINVAL, "ContainerConfig must be a JSON object");
	BUILD_BEGIN(id);
	if (set_new(o, "ContainerConfig", json_in_string(config)) < 0)
		goto nomem;
	BUILD_END();
}

int gcs_build_execute(json_t **out, const char *id, json_t *process_params, uint32_t stdin_port,
		      uint32_t stdout_port, uint32_t stderr_port, struct error *err)
{
	if (!json_is_object(process_params) && !json_is_string(process_params))
		return error_setx(err, EINVAL, "ProcessParameters must be a JSON object");
	BUILD_BEGIN(id);
	json_t *settings = json_object();
	if (set_new(o, "Settings", settings) < 0)
		goto nomem;
	json_t *relay = json_object();
	if (set_new(settings, "ProcessParameters", json_in_string(process_params)) < 0 ||
	    set_new(settings, "VsockStdioRelaySettings", relay) < 0)
		goto nomem;
	/* hcsshim omits zero ports (omitempty). */
	if ((stdin_port && set_new(relay, "StdIn", json_integer(stdin_port)) < 0) ||
	    (stdout_port && set_new(relay, "StdOut", json_integer(stdout_port)) < 0) ||
	    (stderr_port && set_new(relay, "StdErr", json_integer(stderr_port)) < 0))
		goto nomem;
	BUILD_END();
}

int gcs_build_wait(json_t **out, const char *id, uint32_t pid, uint32_t timeout_ms,
		   struct error *err)
{
	BUILD_BEGIN(id);
	if (set_new(o, "ProcessId", json_integer(pid)) < 0 ||
	    set_new(o, "TimeoutInMs", json_integer(timeout_ms)) < 0)
		goto nomem;
	BUILD_END();
}

int gcs_build_signal(json_t **out, const char *id, uint32_t pid, int signal, struct error *err)
{
	BUILD_BEGIN(id);
	json_t *opts = json_object();
	if (set_new(o, "ProcessId", json_integer(pid)) < 0 || set_new(o, "Options", opts) < 0 ||
	    set_new(opts, "Signal", json_integer(signal)) < 0)
		goto nomem;
	BUILD_END();
}

int gcs_build_resize(json_t **out, const char *id, uint32_t pid, uint16_t height, uint16_t width,
		     struct error *err)
{
	BUILD_BEGIN(id);
	if (set_new(o, "ProcessId", json_integer(pid)) < 0 ||
	    set_new(o, "Height", json_integer(height)) < 0 ||
	    set_new(o, "Width", json_integer(width)) < 0)
		goto nomem;
	BUILD_END();
}

int gcs_build_properties(json_t **out, const char *id, const char *const *types, size_t n,
			 struct error *err)
{
	BUILD_BEGIN(id);
	_cleanup_(json_decrefp) json_t *query = json_object();
	json_t *list = json_array();
	if (!query || set_new(query, "PropertyTypes", list) < 0)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(list, json_string(types[i])) < 0)
			goto nomem;
	if (set_new(o, "Query", json_in_string(query)) < 0)
		goto nomem;
	BUILD_END();
}

int gcs_build_modify(json_t **out, const char *id, const char *request_type,
		     const char *resource_type, json_t *settings, struct error *err)
{
	if (!resource_type || !*resource_type)
		return error_setx(err, EINVAL, "ModifySettings needs a ResourceType");
	BUILD_BEGIN(id);
	json_t *req = json_object();
	if (set_new(o, "Request", req) < 0 ||
	    set_new(req, "ResourceType", json_string(resource_type)) < 0 ||
	    set_new(req, "RequestType", json_string(request_type ? request_type : "Add")) < 0)
		goto nomem;
	if (settings && set_new(req, "Settings", json_incref(settings)) < 0)
		goto nomem;
	BUILD_END();
}

/* "uid[:gid]" → numbers; anything else is a user name. */
static json_t *oci_user(const char *user)
{
	json_t *u = json_object();
	if (!u)
		return NULL;
	unsigned long uid = 0, gid = 0;
	const char *name = NULL;
	if (user && *user) {
		char *end;
		errno = 0;
		uid = strtoul(user, &end, 10);
		if (errno || end == user || (*end && *end != ':') || uid > UINT32_MAX) {
			name = user;
			uid = 0;
		} else if (*end == ':') {
			const char *g = end + 1;
			gid = strtoul(g, &end, 10);
			if (errno || end == g || *end || gid > UINT32_MAX) {
				name = user;
				uid = gid = 0;
			}
		}
	}
	if (set_new(u, "uid", json_integer((json_int_t)uid)) < 0 ||
	    set_new(u, "gid", json_integer((json_int_t)gid)) < 0 ||
	    (name && set_new(u, "username", json_string(name)) < 0)) {
		json_decref(u);
		return NULL;
	}
	return u;
}

int gcs_build_process_params(json_t **out, const struct gcs_process_spec *spec, struct error *err)
{
	if (spec->nargs == 0)
		return error_setx(err, EINVAL, "a process needs a command");
	for (size_t i = 0; i < spec->nenv; i++)
		if (!strchr(spec->env[i], '=') || spec->env[i][0] == '=')
			return error_setx(err, EINVAL, "environment entry `%s` is not K=V",
					  spec->env[i]);

	_cleanup_(json_decrefp) json_t *o = json_object();
	if (!o)
		goto nomem;
	const char *cwd = spec->cwd ? spec->cwd : "/";
	if (set_new(o, "EmulateConsole", json_boolean(spec->tty)) < 0 ||
	    set_new(o, "CreateStdInPipe", json_boolean(spec->stdin_pipe)) < 0 ||
	    set_new(o, "CreateStdOutPipe", json_boolean(spec->stdout_pipe)) < 0 ||
	    set_new(o, "CreateStdErrPipe", json_boolean(spec->stderr_pipe)) < 0)
		goto nomem;

	if (spec->in_uvm) {
		json_t *args = json_array();
		json_t *env = json_object();
		if (set_new(o, "CommandArgs", args) < 0 || set_new(o, "Environment", env) < 0 ||
		    set_new(o, "WorkingDirectory", json_string(cwd)) < 0 ||
		    set_new(o, "CreateInUtilityVM", json_true()) < 0)
			goto nomem;
		for (size_t i = 0; i < spec->nargs; i++)
			if (json_array_append_new(args, json_string(spec->args[i])) < 0)
				goto nomem;
		for (size_t i = 0; i < spec->nenv; i++) {
			const char *eq = strchr(spec->env[i], '=');
			_cleanup_free_ char *key =
			    strndup(spec->env[i], (size_t)(eq - spec->env[i]));
			if (!key || set_new(env, key, json_string(eq + 1)) < 0)
				goto nomem;
		}
		if (spec->user && set_new(o, "User", json_string(spec->user)) < 0)
			goto nomem;
	} else {
		/* Container processes: the OCI process object, as the LCOW host
		 * sends it. */
		json_t *proc = json_object();
		json_t *args = json_array();
		json_t *env = json_array();
		if (set_new(o, "OciProcess", proc) < 0 ||
		    set_new(proc, "terminal", json_boolean(spec->tty)) < 0 ||
		    set_new(proc, "user", oci_user(spec->user)) < 0 ||
		    set_new(proc, "args", args) < 0 || set_new(proc, "env", env) < 0 ||
		    set_new(proc, "cwd", json_string(cwd)) < 0)
			goto nomem;
		for (size_t i = 0; i < spec->nargs; i++)
			if (json_array_append_new(args, json_string(spec->args[i])) < 0)
				goto nomem;
		for (size_t i = 0; i < spec->nenv; i++)
			if (json_array_append_new(env, json_string(spec->env[i])) < 0)
				goto nomem;
		if (spec->tty && spec->tty_height && spec->tty_width) {
			json_t *size = json_object();
			if (set_new(proc, "consoleSize", size) < 0 ||
			    set_new(size, "height", json_integer(spec->tty_height)) < 0 ||
			    set_new(size, "width", json_integer(spec->tty_width)) < 0)
				goto nomem;
		}
	}
	*out = TAKE_PTR(o);
	return 0;
nomem:
	return error_set(err, ENOMEM, "build ProcessParameters");
}
