/* SPDX-License-Identifier: MIT */
/*
 * Getting a bridge connection: the guest dials the host (AF_VSOCK CID 2,
 * port 0x40000000) and, whenever a dial fails or a connection ends, dials
 * again after a short delay (a timerfd in the loop, never a sleep).  The
 * transport only produces connected fds; what runs over them is the
 * owner's business (connected() callback, transport_lost() when done).
 *
 * Dialers are data plus a function, so tests dial a unix socket or inject
 * their own.
 */
#ifndef GCS_TRANSPORT_H
#define GCS_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "lcow/error.h"
#include "loop.h"

#define TRANSPORT_RETRY_MS 100

struct dialer {
	/* Start connecting: a non-blocking, close-on-exec socket, with
	 * *in_progress set while connect() is still under way. */
	int (*dial)(const struct dialer *d, bool *in_progress, struct error *err);
	struct sockaddr_storage addr;
	socklen_t addrlen;
	void *ctx;		/* for injected dialers */
	char name[128];		/* "vsock:2:1073741824", "unix:/path" */
};

/* connect() to d->addr; the default dial function. */
int dialer_connect(const struct dialer *d, bool *in_progress, struct error *err);
void dialer_vsock(struct dialer *d, uint32_t cid, uint32_t port);
int dialer_unix(struct dialer *d, const char *path, struct error *err);

enum transport_state {
	TRANSPORT_IDLE,
	TRANSPORT_CONNECTING,	/* connect() in progress */
	TRANSPORT_CONNECTED,	/* the owner has the fd */
	TRANSPORT_WAITING,	/* retry timer armed */
};

struct transport_stats {
	uint64_t dials, failures, connects, disconnects;
};

struct transport {
	struct loop *loop;
	struct dialer dialer;
	unsigned retry_ms;
	enum transport_state state;
	struct loop_timer retry;
	struct loop_source connecting;
	int connecting_fd;
	uint64_t failures_in_row;
	struct error last_error;
	struct transport_stats stats;
	void (*connected)(void *ctx, int fd);	/* takes the fd */
	void *ctx;
};

int transport_init(struct transport *t, struct loop *l, const struct dialer *d, unsigned retry_ms,
		   void (*connected)(void *ctx, int fd), void *ctx, struct error *err);
void transport_fini(struct transport *t);

/* Dial now. */
void transport_start(struct transport *t);
/* The connection handed out is gone: dial again after retry_ms. */
void transport_lost(struct transport *t);

void transport_describe(const struct transport *t, FILE *out);

#endif
