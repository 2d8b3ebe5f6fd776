/* SPDX-License-Identifier: MIT */
/*
 * The kernel's log, forwarded to the agent's.  hcsshim's gcs reads
 * /dev/kmsg from its start (-kmsgLogLevel, default 4 = warning) and logs
 * every record at that priority or more urgent as "kmsg read" with the
 * record's priority, facility, sequence number, time since boot, flags and
 * message: the host sees an OOM kill, a filesystem error or a hung task in
 * the log it already collects, without a console.
 *
 * A /dev/kmsg record (Documentation/ABI/testing/dev-kmsg):
 *   "<syslog prefix>,<seq>,<usec since boot>,<flags>[,<more>];<message>\n"
 * then optional " KEY=value\n" continuation lines.  kmsg_parse() is pure
 * (unit tested on malformed records); kmsg_start() reads the device on the
 * loop, one record per read(2), non-blocking.
 */
#ifndef GCS_KMSG_H
#define GCS_KMSG_H

#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"
#include "loop.h"

struct kmsg_entry {
	unsigned priority;		/* 0 emerg .. 7 debug */
	unsigned facility;
	uint64_t seq;
	uint64_t usec;			/* since boot */
	char flags[8];			/* "-", "c" (continued) */
	const char *msg;		/* into the record, not NUL-terminated */
	size_t msg_len;			/* without the newline and continuations */
};

/* Parse one record of len bytes.  -EINVAL for a malformed one. */
int kmsg_parse(const char *rec, size_t len, struct kmsg_entry *e);

/* hcsshim's names for priorities 0-7 ("Emerg" .. "Debug"). */
const char *kmsg_priority_name(unsigned priority);

struct kmsg_reader {
	struct loop_source src;
	int fd;				/* -1: not reading */
	unsigned max_priority;		/* forward records <= this */
	uint64_t forwarded, lost;
};

/* Open path (/dev/kmsg) and forward its records from the oldest kept
 * one on.  An error leaves r->fd -1 and the agent runs on. */
int kmsg_start(struct kmsg_reader *r, struct loop *loop, const char *path, unsigned max_priority,
	       struct error *err);
void kmsg_stop(struct kmsg_reader *r);

#endif
