/* SPDX-License-Identifier: MIT */
/*
 * The agent's single-threaded event loop: epoll over fd sources, one-shot
 * timers on timerfd, and deferred calls that run after the current event
 * (for teardown that must not happen under a caller's feet).
 *
 * A source is embedded in its owner and registered with loop_add(); its
 * callback gets the epoll events.  Removing a source (even from inside
 * another source's callback, even one whose event is already fetched) is
 * safe: the loop forgets any pending event for it.
 */
#ifndef GCS_LOOP_H
#define GCS_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "lcow/error.h"

struct loop;
struct loop_source;

typedef void (*loop_fn)(struct loop_source *src, uint32_t events);

struct loop_source {
	struct loop *loop;
	int fd;
	uint32_t events;
	loop_fn fn;
	void *data;
	bool added;
};

struct loop_defer {
	void (*fn)(struct loop_defer *d);
	void *data;
	struct loop_defer *next;
	bool queued;
};

#define LOOP_BATCH 16

struct loop {
	int epfd;
	bool quit;
	int exit_code;
	struct epoll_event batch[LOOP_BATCH];
	int batch_n, batch_i;
	struct loop_defer *deferred, **deferred_tail;
};

int loop_init(struct loop *l, struct error *err);
void loop_fini(struct loop *l);

/* Watch fd for events (EPOLLIN/EPOLLOUT...); the fd stays the caller's. */
int loop_add(struct loop *l, struct loop_source *src, int fd, uint32_t events, loop_fn fn,
	     void *data, struct error *err);
int loop_modify(struct loop_source *src, uint32_t events, struct error *err);
void loop_remove(struct loop_source *src);

/* Run fn(d) after the event being handled (or at the next turn). */
void loop_defer(struct loop *l, struct loop_defer *d, void (*fn)(struct loop_defer *), void *data);
void loop_cancel_defer(struct loop *l, struct loop_defer *d);

/* One epoll_wait (timeout in ms, -1 = forever) and its events, then the
 * deferred calls.  Returns the number of events handled, or -errno. */
int loop_run_once(struct loop *l, int timeout_ms, struct error *err);
/* Until loop_quit(); returns the exit code given to it, or -errno. */
int loop_run(struct loop *l, struct error *err);
void loop_quit(struct loop *l, int exit_code);

/* One-shot timers, each on its own timerfd. */
struct loop_timer {
	struct loop_source src;
	void (*fn)(struct loop_timer *t);
	void *data;
	bool armed;
};

int loop_timer_init(struct loop *l, struct loop_timer *t, void (*fn)(struct loop_timer *),
		    void *data, struct error *err);
int loop_timer_arm(struct loop_timer *t, uint64_t ms, struct error *err);
void loop_timer_disarm(struct loop_timer *t);
void loop_timer_fini(struct loop_timer *t);

#endif
