/* SPDX-License-Identifier: MIT */
/*
 * The rest of PID 1's one-time system setup.  Each helper returns 0 (or a
 * count) / a negative errno and fills err; init decides what to log.
 */
#ifndef INIT_SETUP_H
#define INIT_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"

#define ENTROPY_BYTES 512		/* what the host sends on the entropy port */
#define ENTROPY_TIMEOUT_MS 5000		/* a host that accepts but never writes
					 * must not hang the boot */
#define NOFILE_FALLBACK (1024UL * 1024)	/* the kernel's default fs.nr_open */

/* If the kernel started init with some of 0, 1, 2 closed, the first files
 * init opens would land there and the program would inherit, say, the
 * signalfd as its stdout.  So, first thing: hold every closed one of 0..2
 * with a placeholder (an O_PATH|O_CLOEXEC fd of "/").  Returns the mask of
 * held fds (bit i = fd i), or a negative errno. */
int stdio_hold_closed(struct error *err);

/* Replace the placeholders in mask with tty, opened read-write and not
 * close-on-exec.  Returns how many it replaced. */
int stdio_fill(unsigned mask, const char *tty, struct error *err);

/* ifconfig NAME up, by ioctl. */
int netif_up(const char *name, struct error *err);

/* The RLIMIT_NOFILE init sets: the number in /proc/sys/fs/nr_open's text, or
 * NOFILE_FALLBACK when text is NULL or not a positive number. */
unsigned long nofile_target(const char *nr_open_text);

/* Raise RLIMIT_NOFILE (soft and hard) to nofile_target(fs.nr_open); *limit
 * gets the value set. */
int nofile_raise(unsigned long *limit, struct error *err);

/* Read up to ENTROPY_BYTES from host vsock port until the host closes, and
 * credit them to the kernel's pool with RNDADDENTROPY.  *got = bytes added. */
int entropy_from_host(uint32_t port, size_t *got, struct error *err);

/* The same, without blocking, so that init can start the program first and
 * take the entropy while the program starts (each is a round trip to the
 * host; in sequence they add up).  entropy_begin() dials; then, while
 * e->fd >= 0, poll it for entropy_events() with at most entropy_left_ms()
 * and call entropy_continue() when it is ready or the time is up: 1 = not
 * done yet, 0 = done (*got bytes credited), < 0 = failed.  After 0 or < 0,
 * and from entropy_end(), the socket is closed (e->fd == -1). */
struct entropy_read {
	int fd;
	bool connecting;
	uint32_t port;
	size_t len;
	long long deadline_ms;
	uint8_t buf[ENTROPY_BYTES];
};
int entropy_begin(struct entropy_read *e, uint32_t port, struct error *err);
short entropy_events(const struct entropy_read *e);
int entropy_left_ms(const struct entropy_read *e);
int entropy_continue(struct entropy_read *e, size_t *got, struct error *err);
void entropy_end(struct entropy_read *e);

/* The controllers of `available` (cgroup.controllers text) that init
 * enables, in a fixed order; names point at static strings.  Returns the
 * count stored in out (at most max). */
size_t cgroup_select_controllers(const char *available, const char **out, size_t max);

/* Enable the selected controllers in cgroup_root/cgroup.subtree_control, one
 * write each, so one the kernel refuses does not block the others.  enabled
 * gets the names that took, space-separated.  Returns the number enabled, or
 * the first failure's negative errno (after trying them all). */
int cgroup_enable_controllers(const char *cgroup_root, char *enabled, size_t enabled_len,
			      struct error *err);

/* /proc/sys/kernel/printk_devkmsg: "ratelimit" (the default) lets a writer
 * of /dev/kmsg log 10 lines per 5 s, and then drops lines -- the one that says
 * why the VM powers off could be one of them.  Switch to "on", unless set
 * otherwise (the command line locks it). Returns 1 if changed, 0 if not. */
int devkmsg_unlimit(struct error *err);

/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
long long monotonic_ms(void);

/* Small file helpers, also used by init.c. */
int read_text_file(const char *path, char *buf, size_t size, struct error *err);
int write_text_file(const char *path, const char *text, struct error *err);

#endif
