/* SPDX-License-Identifier: MIT */
/*
 * The kernel's device announcements (NETLINK_KOBJECT_UEVENT, the socket
 * udev listens on).  storage only needs "something changed": a waiting
 * request re-runs its sysfs lookup after every batch of uevents, so the
 * messages are drained, not parsed.  An overflow (ENOBUFS) counts as a
 * change too: a lost event must never leave a request waiting.
 */
#ifndef GCS_STORAGE_UEVENT_H
#define GCS_STORAGE_UEVENT_H

#include <stdbool.h>

#include "lcow/error.h"

/* A non-blocking, close-on-exec socket bound to the kernel's multicast
 * group.  Open it BEFORE the first lookup, so no event falls in between. */
int uevent_open(struct error *err);

/* Read everything queued.  Returns > 0 when something arrived (or was
 * lost), 0 when nothing was queued, -errno on a real error. */
int uevent_drain(int fd);

/* Block until fd is readable or timeout_ms passes (the synchronous path).
 * Returns 1 readable, 0 timeout, -errno. */
int uevent_poll(int fd, int timeout_ms);

#endif
