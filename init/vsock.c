/* SPDX-License-Identifier: MIT */
#include "vsock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

#include "lcow/cleanup.h"

_Static_assert(VSOCK_CID_HOST == VMADDR_CID_HOST, "host CID");
_Static_assert(VSOCK_PORT_ANY == VMADDR_PORT_ANY, "port any");

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vsock_port_parse(const char *s, uint32_t *port)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (!s)
		return -EINVAL;
	/* Hand-rolled rather than strtoul: strtoul accepts signs, leading
	 * spaces and (base 0) octal, none of which belong in a port. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int d = hexval(*s);
		if (d < 0 || (unsigned)d >= base)
			return -EINVAL;
		v = v * base + (unsigned)d;
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	if (v == VSOCK_PORT_ANY)
		return -ERANGE;
	*port = (uint32_t)v;
	return 0;
}

int vsock_connect_host(uint32_t port, struct error *err)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_HOST,
		.svm_port = port,
	};
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return error_set(err, errno, "vsock socket");
	/* No EINTR retry: a restarted connect() fails with EALREADY, and no
	 * caller handles signals while connecting anyway. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return error_set(err, errno, "connect to host vsock port %u", port);
	return TAKE_FD(fd);
}

int vsock_connect_host_nonblock(uint32_t port, bool *in_progress, struct error *err)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_HOST,
		.svm_port = port,
	};
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	*in_progress = false;
	if (fd < 0)
		return error_set(err, errno, "vsock socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno != EINPROGRESS)
			return error_set(err, errno, "connect to host vsock port %u", port);
		*in_progress = true;
	}
	return TAKE_FD(fd);
}
