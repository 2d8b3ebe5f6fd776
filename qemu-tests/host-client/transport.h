/* SPDX-License-Identifier: MIT */
/*
 * Where the guest's vsock connections arrive on the host.
 *
 * uds:   the vhost-user backend (lcow-vsockd) turns "guest dials host port
 *        P" into a unix-socket connect to "<BASE>_<P>" (P decimal), the
 *        hybrid convention of Firecracker / Cloud Hypervisor.
 * vsock: real AF_VSOCK listeners on VMADDR_CID_ANY (hosts with
 *        /dev/vhost-vsock).
 */
#ifndef LCOW_HOST_TRANSPORT_H
#define LCOW_HOST_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "lcow/error.h"

struct transport {
	bool vsock;
	const char *base; /* uds: the backend's socket path */
};

/* "<base>_<port>" in a new string. */
int transport_port_path(const char *base, uint32_t port, char **out, struct error *err);

/* Listen for the guest on port.  *fd_out: non-blocking, close-on-exec.
 * *path_out: the unix socket created (the caller unlinks it), NULL for
 * vsock. */
int transport_listen(const struct transport *t, uint32_t port, int *fd_out, char **path_out,
		     struct error *err);

/* A unix stream listener at path.  A stale socket file left by a dead
 * process is replaced; one with a live listener is EADDRINUSE. */
int unix_listen(const char *path, int *fd_out, struct error *err);
/* Blocking connect; the fd is close-on-exec. */
int unix_connect(const char *path, int *fd_out, struct error *err);
/* accept4() non-blocking + close-on-exec; -EAGAIN when nothing waits. */
int accept_conn(int listen_fd, int *fd_out, struct error *err);
/* Set or clear O_NONBLOCK. */
int set_nonblock(int fd, bool on);

#endif
