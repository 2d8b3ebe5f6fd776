/* SPDX-License-Identifier: MIT */
/*
 * lcow-vsockd put together: the vhost-user front-end connection, the
 * virtio-vsock device on its queues and the connection engine, all on one
 * epoll set.  main() adds only its signalfd; tests drive it step by step.
 */
#ifndef VSOCKD_VSOCKD_H
#define VSOCKD_VSOCKD_H

#include <stdbool.h>

#include "lcow/error.h"
#include "vhost_user.h"
#include "vsock.h"

struct vsockd;

/* vu_listen_fd: listening socket for QEMU (-1: attach one with
 * vsockd_attach()); uds_listen_fd: listening socket at cfg->uds_base (-1:
 * none).  Both pass to the daemon. */
int vsockd_new(struct vsockd **out, const struct vsock_config *cfg, int vu_listen_fd,
	       int uds_listen_fd, struct error *err);
void vsockd_free(struct vsockd *d);

/* Serve an already connected front-end socket. */
int vsockd_attach(struct vsockd *d, int fd, struct error *err);

int vsockd_epfd(const struct vsockd *d);

/* Wait up to timeout_ms for events, dispatch them and service the queues.
 * Returns the number of events or -errno. */
int vsockd_run_once(struct vsockd *d, int timeout_ms);

/* The front-end connected and left again: time to exit. */
bool vsockd_done(const struct vsockd *d);

struct vsock *vsockd_vsock(struct vsockd *d);
struct vu_dev *vsockd_vu(struct vsockd *d);

#endif
