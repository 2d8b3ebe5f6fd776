/* SPDX-License-Identifier: MIT */
#include "storage/uevent.h"

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcow/cleanup.h"

/* The kernel multicasts uevents to group 1 (udev re-broadcasts on 2). */
#define UEVENT_KERNEL_GROUP 1u

int uevent_open(struct error *err)
{
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
					NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return error_set(err, errno, "uevent socket");
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = UEVENT_KERNEL_GROUP,
	};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_set(err, errno, "bind uevent socket");
	return TAKE_FD(fd);
}

int uevent_drain(int fd)
{
	char buf[8192];
	int got = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n >= 0) {
			got = 1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return got;
		if (errno == ENOBUFS) {
			got = 1;	/* events were lost: assume a change */
			continue;
		}
		return -errno;
	}
}

int uevent_poll(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (;;) {
		int r = poll(&p, 1, timeout_ms);
		if (r >= 0)
			return r > 0;
		if (errno != EINTR)
			return -errno;
	}
}
