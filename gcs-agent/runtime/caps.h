/* SPDX-License-Identifier: MIT */
/*
 * Linux capabilities by name ("CAP_NET_RAW") as OCI process.capabilities
 * lists them, as 64-bit masks; and applying a set in a forked child.
 */
#ifndef GCS_RUNTIME_CAPS_H
#define GCS_RUNTIME_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "lcow/error.h"

#define CAPS_MAX 64

struct caps {
	uint64_t bounding, effective, permitted, inheritable, ambient;
};

/* The capability number of a name ("CAP_CHOWN" or "chown"), or -1. */
int caps_from_name(const char *name);
const char *caps_name(int cap);

/* Apply in the calling (child) process, after the uid switch with
 * PR_SET_KEEPCAPS: capset() effective/permitted/inheritable, raise the
 * ambient set.  The bounding set is dropped separately, before the uid
 * switch (needs CAP_SETPCAP): caps_drop_bounding(). last_cap is
 * /proc/sys/kernel/cap_last_cap. */
int caps_drop_bounding(uint64_t keep, int last_cap, struct error *err);
int caps_apply(const struct caps *c, int last_cap, struct error *err);

#endif
