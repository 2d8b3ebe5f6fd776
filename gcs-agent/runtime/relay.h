/* SPDX-License-Identifier: MIT */
/*
 * A process's stdio: the agent dials the host on each port the request
 * names and relays bytes between those connections and the process's
 * pipes (or its pty), on the event loop, through bounded buffers.
 *
 * Back-pressure both ways: a relay whose buffer is full stops reading its
 * source, so a slow host stalls the process on a full pipe and a slow
 * process stalls the host's writes; nothing is dropped.  EOF travels: the
 * host's stdin EOF closes the process's stdin; the process's stdout EOF
 * becomes shutdown(SHUT_WR) on the connection, and the relay is done once
 * the host has closed its end too (hcsshim's copyAndCleanClose).  If the
 * reader goes away the relay drops what it has and closes the other side
 * (the process then gets SIGPIPE, as in a shell pipeline).
 */
#ifndef GCS_RUNTIME_RELAY_H
#define GCS_RUNTIME_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"
#include "loop.h"
#include "transport.h"

#define RELAY_BUF (64u * 1024)

struct relay;
typedef void (*relay_done_fn)(struct relay *r, void *ctx);

struct relay {
	struct loop *loop;
	int src, dst;
	struct loop_source src_ev, dst_ev;
	bool to_host;		/* dst is the host connection: SHUT_WR, wait for its close */
	bool src_eof, dst_shut, finished;
	size_t off, len;
	uint64_t bytes;
	relay_done_fn done;
	void *ctx;
	const char *name;
	char buf[RELAY_BUF];
};

/* Takes both fds (made non-blocking).  done runs once, from the loop,
 * after both fds are closed. */
int relay_start(struct relay *r, struct loop *l, int src, int dst, bool to_host, const char *name,
		relay_done_fn done, void *ctx, struct error *err);
/* Tear down now (fds closed, done not called). */
void relay_abort(struct relay *r);

/* Dialing the host's ports, all at once. */
struct stdio_dial;
typedef void (*stdio_dial_fn)(void *ctx, int r, const struct error *err);
/* make_dialer fills a dialer for a port (vsock CID 2 in the VM). */
typedef void (*stdio_dialer_fn)(uint32_t port, struct dialer *d);

/* Dial ports[i] for each non-zero one; fn(ctx, 0) once all connected,
 * fn(ctx, <0, err) at the first failure.  fn is never called from inside
 * stdio_dial_start(). */
int stdio_dial_start(struct loop *l, stdio_dialer_fn make_dialer, const uint32_t ports[3],
		     stdio_dial_fn fn, void *ctx, struct stdio_dial **out, struct error *err);
/* The connected fd of stream i (taken: the dial no longer owns it), or -1. */
int stdio_dial_take(struct stdio_dial *d, int i);
void stdio_dial_free(struct stdio_dial *d);

#endif
