/* SPDX-License-Identifier: MIT */
/*
 * The bridge protocol's semantics: negotiation state, the dispatch table of
 * the 13 requests, responses (sync and async), container notifications and
 * the agent's counters.
 *
 * Boundary: no fds and no event loop of its own.  Frames come in through
 * dispatch_frame(); everything goes out through the struct bridge_out the
 * current connection was attached with, so the same code runs over a vsock
 * connection, a socketpair in a unit test, or a null sink in the fuzzer.
 * Containers and processes live in the runtime (runtime/runtime.h).
 */
#ifndef GCS_DISPATCH_H
#define GCS_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lcow/error.h"
#include "protocol/bridge.h"
#include "runtime/runtime.h"

/* How a connection sends.  send() queues one frame; when_drained() calls
 * fn(arg) once everything queued has been written (or the connection is
 * gone); queued() reports the backlog for DumpStacks (optional). */
struct bridge_out {
	int (*send)(void *ctx, uint32_t type, uint64_t id, const void *body, size_t len,
		    struct error *err);
	void (*when_drained)(void *ctx, void (*fn)(void *arg), void *arg);
	size_t (*queued)(void *ctx);
	void *ctx;
	const char *peer;	/* for logs and DumpStacks */
};

struct dispatch_config {
	/* Power the VM off.  The agent's hook syncs and reboot()s and does not
	 * return; tests record the call.  Required. */
	void (*poweroff)(void *ctx);
	/* More state for DumpStacks (transport, ...).  Optional. */
	void (*describe)(void *ctx, FILE *out);
	void *ctx;
	/* Log request bodies at trace level (hcsshim's -scrub-logs=false). */
	bool log_bodies;
};

struct dispatch_stats {
	uint64_t connections;		/* connections attached */
	uint64_t negotiations;		/* successful NegotiateProtocol */
	uint64_t requests;		/* frames dispatched */
	uint64_t by_id[16];		/* requests per message Id (1..13) */
	uint64_t unknown;		/* unknown message identifiers */
	uint64_t responses, failures;	/* responses sent, of which errors */
	uint64_t send_errors;		/* responses the connection refused */
	uint64_t async_started, async_completed, async_dropped;
	uint64_t notifications_sent, notifications_queued, notifications_dropped;
};

/* A request answered later (WaitForProcess).  The runtime side keeps it and
 * calls dispatch_complete(); if the connection goes first, cancel(p) runs
 * (release the runtime side; p is freed right after). */
struct pending {
	struct pending *next;
	struct dispatch *d;
	uint64_t conn_gen;
	uint64_t id;
	uint32_t type;
	char *activity_id;
	char *container_id;
	uint32_t process_id;
	struct timespec started;
	void (*cancel)(struct pending *p);
	void *data;
};

struct dispatch;

int dispatch_new(struct runtime *rt, const struct dispatch_config *cfg, struct dispatch **out,
		 struct error *err);
/* Cancels pending requests; the runtime is not freed. */
void dispatch_free(struct dispatch *d);

/* A new connection: un-negotiated until NegotiateProtocol succeeds. */
void dispatch_attach(struct dispatch *d, const struct bridge_out *out);
/* The connection is gone: pending requests are cancelled. */
void dispatch_detach(struct dispatch *d);

/* One frame from the host.  Answers it (or not: ShutdownForced) through
 * the attached bridge_out.  Returns < 0 only when the connection must be
 * dropped (the response could not be queued); every malformed request is
 * answered with an error response instead. */
int dispatch_frame(struct dispatch *d, const struct bridge_header *hdr, const uint8_t *body,
		   size_t len, struct error *err);

/* Finish an async request: r == 0 sends fields (stolen, may be NULL) as a
 * success response, r < 0 an error response built from err.  Frees p.  A
 * request of an earlier connection is dropped silently: the host that
 * asked is gone. */
void dispatch_complete(struct pending *p, int r, json_t *fields, const struct error *err);

/* Container notification (0x30100101, ID 0).  Queued while no negotiated
 * connection exists and sent after the next negotiation. */
int dispatch_notify_container(struct dispatch *d, const char *container_id,
			      const char *activity_id, const char *type, int32_t result,
			      struct error *err);

bool dispatch_connected(const struct dispatch *d);
uint32_t dispatch_protocol_version(const struct dispatch *d);	/* 0 = not negotiated */
const struct dispatch_stats *dispatch_stats(const struct dispatch *d);

/* The DumpStacks text (malloc'd, NUL-terminated). */
int dispatch_dump_state(struct dispatch *d, char **text, struct error *err);

#endif
