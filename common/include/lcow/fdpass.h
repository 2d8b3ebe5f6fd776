/* SPDX-License-Identifier: MIT */
/*
 * Sending file descriptors over a unix socket (SCM_RIGHTS): the agent's
 * spawn report (a container's pty master), and the vhost-user front end the
 * vsock backend's tests and fuzzer play.  The receiving sides parse their
 * own control messages (runtime/spawn.c, vsock-backend/vhost_user.c).
 */
#ifndef LCOW_FDPASS_H
#define LCOW_FDPASS_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define LCOW_FDPASS_MAX 16

/* sendmsg(sock, iov[0..iovcnt), flags) with nfds (<= LCOW_FDPASS_MAX)
 * descriptors attached; sendmsg's result, or -1 with EINVAL for too many. */
static inline ssize_t send_with_fds(int sock, struct iovec *iov, int iovcnt, const int *fds,
				    unsigned nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * LCOW_FDPASS_MAX)];
		struct cmsghdr align;
	} cb;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
	if (nfds > LCOW_FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, flags);
}

#endif
