/* SPDX-License-Identifier: MIT */
/*
 * Time sync: the utility VM's clock follows the host's.  Hyper-V exposes the
 * host clock as a PTP clock named "hyperv" (hv_utils); KVM as "KVM virtual
 * PTP" (ptp_kvm).  hcsshim's gcs runs chronyd on the hyperv one with
 * "refclock PHC ... poll 3" and "makestep 0.1 -1"; this does the same in
 * the agent's loop: it steps the clock at start, then every 8 s measures
 * the offset and steps it when it is beyond 100 ms, or slews it through the
 * kernel's PLL (clock_adjtime ADJ_OFFSET) when it is not.
 *
 * The discipline (timesync_tick) works on an injected clock source, so it
 * is unit tested without a PTP device; timesync_start() wires it to the
 * real one.
 */
#ifndef GCS_TIMESYNC_H
#define GCS_TIMESYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lcow/error.h"
#include "loop.h"

#define TIMESYNC_POLL_MS 8000			/* chrony's poll 3 */
#define TIMESYNC_STEP_THRESHOLD_NS 100000000LL	/* makestep 0.1 */
#define TIMESYNC_SLEW_MAX_NS 500000000LL		/* the kernel PLL's MAXPHASE */

struct timesync_ops {
	int (*ref_now)(void *ctx, struct timespec *ts);	/* the host's clock */
	int (*sys_now)(void *ctx, struct timespec *ts);	/* CLOCK_REALTIME */
	int (*step)(void *ctx, int64_t delta_ns);	/* add delta now */
	int (*slew)(void *ctx, int64_t offset_ns);	/* correct gradually */
};

struct timesync {
	const struct timesync_ops *ops;
	void *ctx;
	int64_t step_threshold_ns;
	bool started;			/* the first tick (always a step) is done */
	uint64_t steps, slews, failures;
	int64_t last_offset_ns;		/* ref - sys at the last tick */
	bool failing;			/* the last tick failed (log once per run) */
	/* The real clock (timesync_start). */
	int ptp_fd;
	char clock_name[64];
	struct loop_timer timer;
	bool has_timer;
};

void timesync_init(struct timesync *ts, const struct timesync_ops *ops, void *ctx);

/* ref - sys, read as sys, ref, sys and taken at the midpoint. */
int timesync_measure(struct timesync *ts, int64_t *offset_ns, struct error *err);

/* One measurement and correction: a step at the first tick or beyond the
 * threshold, else a slew.  *action is "step" or "slew". */
int timesync_tick(struct timesync *ts, const char **action, struct error *err);

/* The PTP clock of the host: /dev/ptpN whose clock_name is "hyperv" (or
 * KVM's).  Returns the open fd (O_RDONLY, close-on-exec), or -ENOENT when
 * there is none.  sysfs is the /sys/class/ptp directory to look in. */
int timesync_find_ptp(const char *sysfs, const char *devdir, char *name, size_t name_len,
		      struct error *err);

/* Find the clock, step once and keep it disciplined from the loop.
 * Returns 0 (running), -ENOENT (no PTP clock: logged once, nothing runs) or
 * another error. */
int timesync_start(struct timesync *ts, struct loop *loop, struct error *err);
void timesync_stop(struct timesync *ts);

#endif
