/* SPDX-License-Identifier: MIT */
/*
 * vsock helpers shared by init (entropy) and vsockexec (stdio): every
 * connection the guest makes goes out to the host, CID 2.
 */
#ifndef INIT_VSOCK_H
#define INIT_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "lcow/error.h"

#define VSOCK_CID_HOST 2u		/* VMADDR_CID_HOST */
#define VSOCK_PORT_ANY 0xFFFFFFFFu	/* VMADDR_PORT_ANY: never a real port */

/* Parse a port: decimal, or hexadecimal with a 0x prefix (the spec writes the
 * bridge ports that way).  No sign, no spaces, no trailing text.
 * Returns 0, -EINVAL for text that is not a number, -ERANGE for a number that
 * is not a usable port (> 32 bits, or VSOCK_PORT_ANY). */
int vsock_port_parse(const char *s, uint32_t *port);

/* Connect a SOCK_STREAM|SOCK_CLOEXEC vsock socket to the host on port.
 * Returns the fd, or a negative errno with err filled. */
int vsock_connect_host(uint32_t port, struct error *err);

/* The same, but the socket is non-blocking and the connect may still be
 * under way (*in_progress): poll for POLLOUT, then read SO_ERROR. */
int vsock_connect_host_nonblock(uint32_t port, bool *in_progress, struct error *err);

#endif
