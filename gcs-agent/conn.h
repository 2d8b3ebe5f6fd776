/* SPDX-License-Identifier: MIT */
/*
 * One bridge connection on a non-blocking stream fd: splits the byte stream
 * into frames and queues outgoing frames, with bounded memory both ways.
 *
 * In:  one buffer of BRIDGE_MAX_FRAME bytes.  A header whose Size is out of
 *      range drops the connection before anything is allocated for it.
 * Out: a queue of encoded frames.  Past CONN_TX_PAUSE queued bytes the
 *      connection stops taking requests (no reads, no frame processing)
 *      until the host has read the backlog down below CONN_TX_RESUME; past
 *      CONN_TX_LIMIT (only reachable by notifications and async responses
 *      while the host does not read at all) it gives up on the host and
 *      drops the connection.
 *
 * The connection is torn down from a deferred loop call, never inside a
 * caller's stack: ops->closed runs once, then the conn is freed.
 */
#ifndef GCS_CONN_H
#define GCS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"
#include "loop.h"
#include "protocol/bridge.h"

#define CONN_TX_PAUSE (128u * 1024)
#define CONN_TX_RESUME (32u * 1024)
#define CONN_TX_LIMIT (1024u * 1024)

struct conn;

struct conn_ops {
	/* A complete frame (body is not NUL-terminated).  A negative return
	 * drops the connection; err says why. */
	int (*frame)(void *ctx, const struct bridge_header *hdr, const uint8_t *body, size_t len,
		     struct error *err);
	/* The connection is gone; why->msg says how ("peer closed", ...). */
	void (*closed)(void *ctx, const struct error *why);
};

struct conn_stats {
	uint64_t frames_in, frames_out;
	uint64_t bytes_in, bytes_out;
	uint64_t pauses;	/* times back-pressure stopped reading */
};

/* Takes ownership of fd (made non-blocking here). */
int conn_new(struct loop *l, int fd, const struct conn_ops *ops, void *ctx, struct conn **out,
	     struct error *err);

/* Queue one frame and write what the socket takes now.  -EMSGSIZE for a
 * body over the frame limit (connection kept), -ENOBUFS when the queue
 * limit is hit and -EPIPE once the connection is dying (connection
 * dropped). */
int conn_send(struct conn *c, uint32_t type, uint64_t id, const void *body, size_t len,
	      struct error *err);

/* Drop the connection (deferred); why is logged by the owner's closed(). */
void conn_abort(struct conn *c, int errnum, const char *why);

/* Call fn(arg) once the queue is empty (now, if it is) or the connection
 * is gone.  One waiter at a time; a new one replaces the old. */
void conn_when_drained(struct conn *c, void (*fn)(void *arg), void *arg);

size_t conn_tx_queued(const struct conn *c);
const struct conn_stats *conn_stats(const struct conn *c);
int conn_fd(const struct conn *c);

#endif
