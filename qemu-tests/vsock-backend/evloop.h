/* SPDX-License-Identifier: MIT */
/*
 * Every fd in lcow-vsockd's epoll set carries a pointer to a struct evsrc
 * embedded in its owner; the loop calls the owner's handler.  Owners never
 * free themselves inside a handler (other events of the same batch may point
 * at them); they queue themselves for reaping after the batch.
 */
#ifndef VSOCKD_EVLOOP_H
#define VSOCKD_EVLOOP_H

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "list.h" /* container_of */

struct evsrc {
	void (*handler)(struct evsrc *src, uint32_t events);
};

static inline int evloop_add(int epfd, int fd, uint32_t events, struct evsrc *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static inline int evloop_mod(int epfd, int fd, uint32_t events, struct evsrc *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

static inline void evloop_del(int epfd, int fd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Wait up to timeout_ms and dispatch one batch.  Returns the number of
 * events, or -errno (EINTR is reported as 0 events). */
static inline int evloop_dispatch(int epfd, int timeout_ms)
{
	struct epoll_event evs[64];
	int n = epoll_wait(epfd, evs, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct evsrc *src = evs[i].data.ptr;
		src->handler(src, evs[i].events);
	}
	return n;
}

#endif
