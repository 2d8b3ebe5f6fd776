/* SPDX-License-Identifier: MIT */
/*
 * Between the dispatcher core (dispatch.c) and the request handlers
 * (handlers.c).  A handler parses its request, validates it, calls the
 * runtime and either
 *   - returns 0 with the response's own fields in req->resp (may stay
 *     NULL for a bare success),
 *   - returns < 0 through req_error() / req_error_hr(), which record where
 *     it failed for the response's ErrorRecords, or
 *   - returns DISPATCH_ASYNC after dispatch_go_async(): the response is
 *     sent later with dispatch_complete().
 */
#ifndef GCS_DISPATCH_INTERNAL_H
#define GCS_DISPATCH_INTERNAL_H

#include <jansson.h>

#include "dispatch.h"
#include "protocol/messages.h"

#define DISPATCH_ASYNC 1

/* Requests waiting for an async answer, at most (a host flooding waits
 * gets errors, not unbounded memory). */
#define DISPATCH_MAX_PENDING 1024
/* Notifications kept while no host is connected (the oldest go first). */
#define DISPATCH_MAX_QUEUED_NOTIFICATIONS 64

struct notification {
	struct notification *next;
	size_t len;
	char body[];
};

struct dispatch {
	struct runtime *rt;
	struct dispatch_config cfg;
	struct bridge_out out;
	char peer[128];
	bool connected;
	uint64_t conn_gen;
	uint32_t version;		/* negotiated protocol version, 0 = none */
	struct timespec started;
	struct pending *pending;
	size_t n_pending;
	struct notification *notes, **notes_tail;
	size_t n_notes;
	struct dispatch_stats stats;
};

struct request {
	struct dispatch *d;
	struct bridge_header hdr;
	json_t *root;			/* the body, an object */
	struct msg_base base;
	json_t *resp;			/* success fields, owned */
	int32_t hresult;		/* explicit failure HRESULT, 0 = from errno */
	const char *fail_file, *fail_func;
	int fail_line;
	bool no_reply;			/* ShutdownForced of the VM */
	bool poweroff;			/* after the reply (or at once with no_reply) */
};

struct handler {
	uint32_t type;
	const char *name;
	int (*fn)(struct request *req, struct error *err);
};

/* The 13 requests, in message Id order; handlers.c. */
extern const struct handler dispatch_handlers[];
extern const size_t dispatch_n_handlers;

int req_error_at(struct request *req, int r, int32_t hresult, const char *file, int line,
		 const char *func);
#define req_error(req, r) req_error_at((req), (r), 0, __FILE__, __LINE__, __func__)
#define req_error_hr(req, hr, r) req_error_at((req), (r), (hr), __FILE__, __LINE__, __func__)

/* Keep the request for a later dispatch_complete(). */
struct pending *dispatch_go_async(struct request *req, struct error *err);
/* Undo dispatch_go_async() when the handler fails before going async. */
void dispatch_forget(struct pending *p);

#endif
