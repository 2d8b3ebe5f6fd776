/* SPDX-License-Identifier: MIT */
/*
 * The host end of one GCS bridge connection (what hcsshim's internal/gcs
 * bridge does on Windows), written for a single-threaded event loop.
 *
 *   gcs_client_new(&c, fd, &ops, &err);       fd: connected, non-blocking
 *   epoll_ctl(... gcs_client_fd(c), gcs_client_poll_events(c) ...)
 *   on events: r = gcs_client_process(c, revents, &err); r < 0 = drop it
 *   gcs_client_send(c, MSG_START, body, 0, on_reply, ctx, &id, &err);
 *
 * Frames are the 16-byte header of bridge.h plus a JSON body.  Responses are
 * matched to requests by ID and may arrive in any order; notifications go to
 * ops->notify.  A frame whose Size is < 16 or > 64 KiB is a protocol error:
 * gcs_client_process() returns -EPROTO and the caller drops the connection;
 * the peer's Size is never allocated.
 */
#ifndef LCOW_GCS_CLIENT_H
#define LCOW_GCS_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"
#include "../../gcs-agent/protocol/bridge.h"

#define GCS_GUID_LEN 36
/* Largest JSON body that fits one frame. */
#define GCS_MAX_BODY (BRIDGE_MAX_FRAME - BRIDGE_HEADER_SIZE)
/* ProcessId / timeout "forever" for WaitForProcess. */
#define GCS_INFINITE 0xFFFFFFFFu

struct gcs_client;

/* A decoded response.  Valid only during the reply callback. */
struct gcs_response {
	uint64_t id;
	uint32_t type;		   /* response message type, 0x2... */
	int32_t result;		   /* HRESULT, 0 = success */
	const char *error_message; /* "" when the guest sent none */
	json_t *body;		   /* the whole JSON object (borrowed) */
};

/*
 * Completion of one request; called exactly once per successful send:
 *   resp != NULL            the response arrived (look at resp->result);
 *   resp == NULL, err set   it failed: connection closed, or the response
 *                           could not be decoded;
 *   both NULL               a GCS_SEND_NO_REPLY request has been written
 *                           completely to the socket.
 * Callbacks may send new requests but must not free the client.
 */
typedef void gcs_reply_fn(void *userdata, const struct gcs_response *resp, const struct error *err);

struct gcs_client_ops {
	/* A notification frame (type 0x3...); body is borrowed. */
	void (*notify)(void *userdata, uint32_t type, json_t *body);
	/* Something odd but not fatal happened (response for an unknown ID,
	 * unexpected message type); the event loop decides whether to log. */
	void (*warn)(void *userdata, const char *msg);
	void *userdata;
};

/* The request expects no response (ShutdownForced of the VM itself). */
#define GCS_SEND_NO_REPLY 0x1u

/* Takes ownership of fd (also on failure); makes it non-blocking. */
int gcs_client_new(struct gcs_client **out, int fd, const struct gcs_client_ops *ops,
		   struct error *err);
/* Closes the connection; every pending request completes with an error
 * ("bridge connection closed").  NULL is fine. */
void gcs_client_free(struct gcs_client *c);
/* The same, with why the connection went away in the requests' errors. */
void gcs_client_close(struct gcs_client *c, const char *why);

int gcs_client_fd(const struct gcs_client *c);
/* The epoll events to wait for now: EPOLLIN, plus EPOLLOUT while output is
 * queued.  Re-read after every process/send call. */
uint32_t gcs_client_poll_events(const struct gcs_client *c);
/* Bytes queued but not yet written. */
size_t gcs_client_outq(const struct gcs_client *c);
/* Requests still waiting for a response (or, for NO_REPLY, to be written). */
size_t gcs_client_pending(const struct gcs_client *c);

/* Read and write what the socket allows, dispatching callbacks.  0: keep
 * going; < 0: the connection is finished (-ECONNRESET peer closed, -EPROTO
 * malformed frame, other errno from the socket), err says why. */
int gcs_client_process(struct gcs_client *c, uint32_t revents, struct error *err);

/* Queue a request.  body (borrowed) must be a JSON object; it is sent as is,
 * see gcs_fill_base().  -EMSGSIZE when it does not fit one frame.  id_out
 * may be NULL. */
int gcs_client_send(struct gcs_client *c, uint32_t type, json_t *body, unsigned flags,
		    gcs_reply_fn *fn, void *userdata, uint64_t *id_out, struct error *err);

/* Send NegotiateProtocol {MinimumVersion 4, MaximumVersion 4}.  The result
 * is recorded (gcs_client_negotiated() ...) before fn runs. */
int gcs_client_negotiate(struct gcs_client *c, gcs_reply_fn *fn, void *userdata, struct error *err);
bool gcs_client_negotiated(const struct gcs_client *c);
uint32_t gcs_client_version(const struct gcs_client *c);
/* The last NegotiateProtocol response body, or NULL (borrowed). */
json_t *gcs_client_negotiation(const struct gcs_client *c);

/* --- message names --------------------------------------------------- */

/* "Create", "DumpStacks", ... or a number ("0x10100c01", "269487105"). */
int gcs_msg_parse(const char *s, uint32_t *type, struct error *err);
/* Like bridge_msg_name() but never NULL ("0x........" in buf). */
const char *gcs_msg_describe(uint32_t type, char buf[11]);

/* --- request builders ------------------------------------------------ */
/*
 * Each returns a new JSON object in *out with the exact field names the
 * Windows host uses: ContainerId, a fresh ActivityId, and the message's own
 * fields.  id NULL = the utility VM (UVM_CONTAINER_ID).
 */

/* A random (version 4) GUID, lower case, "xxxxxxxx-xxxx-...". */
int gcs_new_guid(char out[GCS_GUID_LEN + 1], struct error *err);
/* Add ContainerId (the UVM) and ActivityId when the object lacks them. */
int gcs_fill_base(json_t *body, struct error *err);

int gcs_build_base(json_t **out, const char *id, struct error *err);
int gcs_build_negotiate(json_t **out, uint32_t min_version, uint32_t max_version,
			struct error *err);
/* config: the inner document (object) or its text (string); sent as a
 * JSON string in ContainerConfig. */
int gcs_build_create(json_t **out, const char *id, json_t *config, struct error *err);
/* Start, ShutdownGraceful, ShutdownForced, DumpStacks, DeleteContainerState
 * carry only the base fields. */
int gcs_build_execute(json_t **out, const char *id, json_t *process_params, uint32_t stdin_port,
		      uint32_t stdout_port, uint32_t stderr_port, struct error *err);
int gcs_build_wait(json_t **out, const char *id, uint32_t pid, uint32_t timeout_ms,
		   struct error *err);
int gcs_build_signal(json_t **out, const char *id, uint32_t pid, int signal, struct error *err);
int gcs_build_resize(json_t **out, const char *id, uint32_t pid, uint16_t height, uint16_t width,
		     struct error *err);
/* types: PropertyTypes ("ProcessList", "Statistics"), carried in Query as a
 * JSON string. */
int gcs_build_properties(json_t **out, const char *id, const char *const *types, size_t n,
			 struct error *err);
/* request_type NULL = "Add"; settings borrowed (may be NULL = no Settings). */
int gcs_build_modify(json_t **out, const char *id, const char *request_type,
		     const char *resource_type, json_t *settings, struct error *err);

/* What a process should look like, for gcs_build_process_params(). */
struct gcs_process_spec {
	const char *const *args; /* argv, nargs entries */
	size_t nargs;
	const char *const *env; /* "K=V" strings, nenv entries */
	size_t nenv;
	const char *cwd;  /* NULL = "/" */
	const char *user; /* NULL = root; "uid[:gid]" or a name */
	bool tty;	  /* EmulateConsole */
	bool in_uvm;	  /* CreateInUtilityVM, else OciProcess */
	bool stdin_pipe, stdout_pipe, stderr_pipe;
	uint16_t tty_height, tty_width; /* initial console size, 0 = unknown */
};
/* The ProcessParameters document (an object; gcs_build_execute() turns it
 * into the string). */
int gcs_build_process_params(json_t **out, const struct gcs_process_spec *spec, struct error *err);

#endif
