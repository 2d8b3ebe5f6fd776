/* SPDX-License-Identifier: MIT */
#include "fuzz.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/dispatch.h"
#include "log.h"
#include "protocol/bridge.h"

struct sink {
	struct gcs_fuzz_result *res;
};

static int sink_send(void *ctx, uint32_t type, uint64_t id, const void *body, size_t len,
		     struct error *err)
{
	(void)err;
	struct sink *s = ctx;
	/* Invariants of everything the agent sends: a response or a
	 * notification, within the frame limit, a JSON object with Result. */
	uint32_t kind = bridge_msg_kind(type);
	if (kind != MSG_TYPE_RESPONSE && kind != MSG_TYPE_NOTIFY)
		abort();
	if (kind == MSG_TYPE_NOTIFY && id != 0)
		abort();
	if (len > BRIDGE_MAX_FRAME - BRIDGE_HEADER_SIZE)
		abort();
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr);
	if (!j || !json_is_integer(json_object_get(j, "Result")))
		abort();
	json_decref(j);
	s->res->responses++;
	return 0;
}

static void sink_drained(void *ctx, void (*fn)(void *arg), void *arg)
{
	(void)ctx;
	fn(arg);
}

static void count_poweroff(void *ctx)
{
	struct sink *s = ctx;
	s->res->poweroffs++;
}

int gcs_fuzz_input(const uint8_t *data, size_t size, struct gcs_fuzz_result *res)
{
	memset(res, 0, sizeof(*res));
	struct sink sink = { .res = res };
	struct runtime rt;
	struct dispatch *d;
	struct error err = { 0 };
	enum log_level saved = log_get_level();
	log_set_level(LOG_OFF);

	/* Something to find: a container with a running init and an exited
	 * process, and a utility VM process, so lookups and waits get past
	 * "not found". */
	runtime_init(&rt, NULL);
	struct container *c;
	if (runtime_add_container(&rt, "fuzz", "", &c, &err) < 0 ||
	    runtime_add_process(&rt, c, 1, true, NULL, &err) < 0 ||
	    runtime_add_process(&rt, c, 2, false, NULL, &err) < 0 ||
	    runtime_add_process(&rt, NULL, 3, false, NULL, &err) < 0)
		abort();
	runtime_process_exited(&rt, runtime_find_process(&rt, c, 2), 0);

	struct dispatch_config cfg = { .poweroff = count_poweroff, .ctx = &sink };
	if (dispatch_new(&rt, &cfg, &d, &err) < 0)
		abort();
	struct bridge_out out = {
		.send = sink_send,
		.when_drained = sink_drained,
		.ctx = &sink,
		.peer = "fuzz",
	};
	dispatch_attach(d, &out);

	size_t off = 0;
	while (off < size) {
		struct bridge_header hdr;
		long n = bridge_frame_scan(data + off, size - off, &hdr);
		if (n < 0)
			res->dropped = 1;
		if (n <= 0)
			break;
		res->frames++;
		if (dispatch_frame(d, &hdr, data + off + BRIDGE_HEADER_SIZE,
				   (size_t)n - BRIDGE_HEADER_SIZE, &err) < 0) {
			res->dropped = 1;
			break;
		}
		off += (size_t)n;
	}

	dispatch_detach(d);
	dispatch_free(d);
	runtime_fini(&rt);
	log_set_level(saved);
	return 0;
}
