/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock connection engine: the guest's stream connections mapped
 * onto unix sockets with the "hybrid" convention (Firecracker, Cloud
 * Hypervisor, vhost-device-vsock):
 *   - the guest dials host port P: connect to "<uds_base>_<P>"; nobody
 *     listening there means RST;
 *   - a host client connects to <uds_base> and writes "CONNECT <port>\n":
 *     REQUEST goes to the guest from a fresh local port, and on RESPONSE the
 *     client reads "OK <local_port>\n" and the streams are joined.
 *
 * It knows nothing of vrings: vsock_recv() takes one packet the guest sent,
 * vsock_send() fills one packet for the guest into the buffer space it is
 * given, so tests drive it with plain buffers.  Unix sockets are serviced
 * through the epoll set passed to vsock_new().
 *
 * Flow control is virtio-vsock's credit scheme both ways: we never send the
 * guest more than buf_alloc - (tx_cnt - fwd_cnt) it advertised, and we
 * advertise our own window (cfg.buf_alloc) per connection.  Guest data a slow
 * unix socket does not take waits in a per-connection buffer bounded by that
 * window; while it waits we do not move fwd_cnt, so the guest runs out of
 * credit instead of us running out of memory.  Unix data is read straight
 * into the guest's rx buffers, and only as much as its credit allows.
 */
#ifndef VSOCKD_VSOCK_H
#define VSOCKD_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lcow/error.h"
#include "vsock_proto.h"

/* Largest RW payload we produce (Linux uses the same). */
#define VSOCK_MAX_PKT 65536
#define VSOCK_DEFAULT_BUF_ALLOC (256 * 1024)
#define VSOCK_DEFAULT_MAX_CONNS 4096
/* "CONNECT 4294967295\n" is 19 bytes; anything longer is malformed. */
#define VSOCK_LINE_MAX 32
/* First local port for host-initiated connections. */
#define VSOCK_FIRST_LOCAL_PORT 1024

struct vsock_config {
	uint64_t guest_cid;
	const char *uds_base; /* copied */
	uint32_t buf_alloc;   /* receive window per connection, 0 = default */
	unsigned max_conns;   /* 0 = default */
	/* Timeouts in ms, 0 = defaults. */
	unsigned connect_timeout_ms; /* guest answering a REQUEST, host's CONNECT line */
	unsigned close_timeout_ms;   /* guest answering our final SHUTDOWN */
};

struct vsock;

/* listen_fd: a listening, non-blocking unix socket at uds_base (ownership
 * passes to the engine), or -1 for none. */
int vsock_new(struct vsock **out, const struct vsock_config *cfg, int epfd, int listen_fd,
	      struct error *err);
/* Close every connection and free. */
void vsock_free(struct vsock *vs);

/*
 * One packet from the guest; payload holds at least hdr->len bytes.  Returns
 * 0, or -errno with err set when the packet was bad (the caller logs it; the
 * engine has already answered with RST where the protocol wants one).
 */
int vsock_recv(struct vsock *vs, const struct vsock_hdr *hdr, const struct iovec *payload,
	       unsigned niov, struct error *err);

/*
 * Produce the next packet for the guest into space (len bytes of payload
 * room in niov entries, after the header the caller writes).  Returns 1 with
 * *hdr filled (payload length in hdr->len), 0 when nothing is ready.
 */
int vsock_send(struct vsock *vs, struct vsock_hdr *hdr, const struct iovec *space, unsigned niov,
	       size_t len);

/* Something may be ready for vsock_send(). */
bool vsock_pending(const struct vsock *vs);

/* Device reset / front-end gone: close every connection. */
void vsock_reset(struct vsock *vs);

/* Free connections closed during the last batch of events; call after
 * dispatching each batch. */
void vsock_reap(struct vsock *vs);

/* Live connections (for tests and limits). */
unsigned vsock_nconns(const struct vsock *vs);

/* Parse a host "CONNECT <port>\n" line of len bytes (including the '\n').
 * Exposed for tests. */
int vsock_parse_connect(const char *line, size_t len, uint32_t *port);

/* Create a listening unix socket at path (a stale socket file is replaced),
 * non-blocking and close-on-exec. */
int uds_listen(const char *path, int backlog, struct error *err);

#endif
