/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

int loop_init(struct loop *l, struct error *err)
{
	memset(l, 0, sizeof(*l));
	l->deferred_tail = &l->deferred;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return error_set(err, errno, "epoll_create1");
	return 0;
}

void loop_fini(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int loop_add(struct loop *l, struct loop_source *src, int fd, uint32_t events, loop_fn fn,
	     void *data, struct error *err)
{
	src->loop = l;
	src->fd = fd;
	src->events = events;
	src->fn = fn;
	src->data = data;
	struct epoll_event ev = { .events = events, .data.ptr = src };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return error_set(err, errno, "epoll add fd %d", fd);
	src->added = true;
	return 0;
}

int loop_modify(struct loop_source *src, uint32_t events, struct error *err)
{
	if (!src->added)
		return error_setx(err, EINVAL, "fd %d is not watched", src->fd);
	if (src->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = src };
	if (epoll_ctl(src->loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0)
		return error_set(err, errno, "epoll modify fd %d", src->fd);
	src->events = events;
	return 0;
}

void loop_remove(struct loop_source *src)
{
	if (!src->added)
		return;
	struct loop *l = src->loop;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	src->added = false;
	/* The rest of the fetched batch may still name it. */
	for (int i = l->batch_i; i < l->batch_n; i++)
		if (l->batch[i].data.ptr == src)
			l->batch[i].data.ptr = NULL;
}

void loop_defer(struct loop *l, struct loop_defer *d, void (*fn)(struct loop_defer *), void *data)
{
	d->fn = fn;
	d->data = data;
	if (d->queued)
		return;
	d->next = NULL;
	d->queued = true;
	*l->deferred_tail = d;
	l->deferred_tail = &d->next;
}

void loop_cancel_defer(struct loop *l, struct loop_defer *d)
{
	if (!d->queued)
		return;
	for (struct loop_defer **pp = &l->deferred; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			if (l->deferred_tail == &d->next)
				l->deferred_tail = pp;
			break;
		}
	}
	d->queued = false;
}

static void run_deferred(struct loop *l)
{
	while (l->deferred) {
		struct loop_defer *d = l->deferred;
		l->deferred = d->next;
		if (!l->deferred)
			l->deferred_tail = &l->deferred;
		d->queued = false;
		d->fn(d);
	}
}

int loop_run_once(struct loop *l, int timeout_ms, struct error *err)
{
	if (l->deferred)
		timeout_ms = 0;
	int n = epoll_wait(l->epfd, l->batch, LOOP_BATCH, timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			n = 0;
		else
			return error_set(err, errno, "epoll_wait");
	}
	l->batch_n = n;
	for (l->batch_i = 0; l->batch_i < l->batch_n;) {
		struct epoll_event *ev = &l->batch[l->batch_i++];
		struct loop_source *src = ev->data.ptr;
		if (src)
			src->fn(src, ev->events);
		run_deferred(l);
	}
	l->batch_n = l->batch_i = 0;
	run_deferred(l);
	return n;
}

int loop_run(struct loop *l, struct error *err)
{
	while (!l->quit) {
		int r = loop_run_once(l, -1, err);
		if (r < 0)
			return r;
	}
	return l->exit_code;
}

void loop_quit(struct loop *l, int exit_code)
{
	l->quit = true;
	l->exit_code = exit_code;
}

static void timer_ready(struct loop_source *src, uint32_t events)
{
	(void)events;
	struct loop_timer *t = src->data;
	uint64_t expirations;
	/* Nothing to read means a disarm raced the wake-up: not a firing. */
	if (read(src->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	t->armed = false;
	t->fn(t);
}

int loop_timer_init(struct loop *l, struct loop_timer *t, void (*fn)(struct loop_timer *),
		    void *data, struct error *err)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->data = data;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "timerfd_create");
	int r = loop_add(l, &t->src, fd, EPOLLIN, timer_ready, t, err);
	if (r < 0) {
		close(fd);
		t->src.fd = -1;
		return r;
	}
	return 0;
}

int loop_timer_arm(struct loop_timer *t, uint64_t ms, struct error *err)
{
	struct itimerspec its = { 0 };
	/* 0 would disarm; the earliest expiry is "now". */
	if (ms == 0)
		its.it_value.tv_nsec = 1;
	else {
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	}
	if (timerfd_settime(t->src.fd, 0, &its, NULL) < 0)
		return error_set(err, errno, "timerfd_settime");
	t->armed = true;
	return 0;
}

void loop_timer_disarm(struct loop_timer *t)
{
	struct itimerspec its = { 0 };
	if (t->src.added)
		timerfd_settime(t->src.fd, 0, &its, NULL);
	t->armed = false;
}

void loop_timer_fini(struct loop_timer *t)
{
	if (!t->src.added)
		return;
	loop_remove(&t->src);
	close(t->src.fd);
	t->src.fd = -1;
	t->armed = false;
}
