/* SPDX-License-Identifier: MIT */
#include "timesync.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "log.h"

#define NSEC 1000000000LL

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * NSEC + t->tv_nsec;
}

void timesync_init(struct timesync *ts, const struct timesync_ops *ops, void *ctx)
{
	memset(ts, 0, sizeof(*ts));
	ts->ops = ops;
	ts->ctx = ctx;
	ts->step_threshold_ns = TIMESYNC_STEP_THRESHOLD_NS;
	ts->ptp_fd = -1;
}

int timesync_measure(struct timesync *ts, int64_t *offset_ns, struct error *err)
{
	struct timespec s1, ref, s2;
	int r;
	if ((r = ts->ops->sys_now(ts->ctx, &s1)) < 0 || (r = ts->ops->ref_now(ts->ctx, &ref)) < 0 ||
	    (r = ts->ops->sys_now(ts->ctx, &s2)) < 0)
		return error_set(err, -r, "read the clocks");
	/* The reference was read between the two system readings: compare
	 * it with their midpoint (half the difference avoids overflow). */
	int64_t a = ts_ns(&s1), b = ts_ns(&s2);
	int64_t mid = a + (b - a) / 2;
	*offset_ns = ts_ns(&ref) - mid;
	return 0;
}

int timesync_tick(struct timesync *ts, const char **action, struct error *err)
{
	int64_t off;
	*action = "none";
	int r = timesync_measure(ts, &off, err);
	if (r < 0) {
		ts->failures++;
		return r;
	}
	ts->last_offset_ns = off;
	int64_t mag = off < 0 ? -off : off;
	if (!ts->started || mag > ts->step_threshold_ns) {
		*action = "step";
		if ((r = ts->ops->step(ts->ctx, off)) < 0) {
			ts->failures++;
			return error_set(err, -r, "step the clock by %lld ns", (long long)off);
		}
		ts->steps++;
		ts->started = true;
		return 0;
	}
	*action = "slew";
	if (mag > TIMESYNC_SLEW_MAX_NS)
		off = off < 0 ? -TIMESYNC_SLEW_MAX_NS : TIMESYNC_SLEW_MAX_NS;
	if ((r = ts->ops->slew(ts->ctx, off)) < 0) {
		ts->failures++;
		return error_set(err, -r, "slew the clock by %lld ns", (long long)off);
	}
	ts->slews++;
	return 0;
}

/* ---- the real clocks ---- */

#define FD_TO_CLOCKID(fd) ((clockid_t)((~(unsigned)(fd) << 3) | 3))

static int real_ref_now(void *ctx, struct timespec *t)
{
	struct timesync *ts = ctx;
	return clock_gettime(FD_TO_CLOCKID(ts->ptp_fd), t) < 0 ? -errno : 0;
}

static int real_sys_now(void *ctx, struct timespec *t)
{
	(void)ctx;
	return clock_gettime(CLOCK_REALTIME, t) < 0 ? -errno : 0;
}

static int real_step(void *ctx, int64_t delta)
{
	(void)ctx;
	struct timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO };
	/* tv_usec carries nanoseconds with ADJ_NANO, and must be >= 0. */
	int64_t sec = delta / NSEC, nsec = delta % NSEC;
	if (nsec < 0) {
		nsec += NSEC;
		sec--;
	}
	tx.time.tv_sec = sec;
	tx.time.tv_usec = nsec;
	return clock_adjtime(CLOCK_REALTIME, &tx) < 0 ? -errno : 0;
}

static int real_slew(void *ctx, int64_t offset)
{
	(void)ctx;
	/* The kernel's PLL (what ntpd's kernel mode uses) turns the phase
	 * offset into a gradual correction and learns the frequency error;
	 * clearing STA_UNSYNC marks the clock synchronized. */
	struct timex tx = {
		.modes = ADJ_OFFSET | ADJ_STATUS | ADJ_NANO | ADJ_MAXERROR | ADJ_ESTERROR,
		.status = STA_PLL | STA_NANO,
		.offset = (long)offset,
		.maxerror = 0,
		.esterror = 0,
	};
	return clock_adjtime(CLOCK_REALTIME, &tx) < 0 ? -errno : 0;
}

static const struct timesync_ops real_ops = {
	.ref_now = real_ref_now,
	.sys_now = real_sys_now,
	.step = real_step,
	.slew = real_slew,
};

int timesync_find_ptp(const char *sysfs, const char *devdir, char *name, size_t name_len,
		      struct error *err)
{
	/* hcsshim accepts only "hyperv"; under QEMU/KVM the host's clock is
	 * ptp_kvm's. */
	static const char *const wanted[] = { "hyperv", "KVM virtual PTP" };
	_cleanup_closedir_ DIR *d = opendir(sysfs);
	if (!d)
		return errno == ENOENT ? -ENOENT : error_set(err, errno, "open %s", sysfs);
	char best[256] = "";
	int best_rank = (int)ARRAY_SIZE(wanted);
	for (struct dirent *de; (de = readdir(d));) {
		if (strncmp(de->d_name, "ptp", 3) != 0)
			continue;
		char path[512], text[64] = "";
		snprintf(path, sizeof(path), "%s/%s/clock_name", sysfs, de->d_name);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
		if (n <= 0)
			continue;
		text[n] = '\0';
		text[strcspn(text, "\n")] = '\0';
		for (int i = 0; i < best_rank; i++) {
			if (strcmp(text, wanted[i]) == 0) {
				best_rank = i;
				snprintf(best, sizeof(best), "%s", de->d_name);
				snprintf(name, name_len, "%s", text);
			}
		}
	}
	if (!*best)
		return -ENOENT;
	char dev[512];
	snprintf(dev, sizeof(dev), "%s/%s", devdir, best);
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open %s (%s)", dev, name);
	return fd;
}

static void on_tick(struct loop_timer *t)
{
	struct timesync *ts = t->data;
	struct error err = { 0 };
	const char *action;
	int r = timesync_tick(ts, &action, &err);
	if (r < 0) {
		if (!ts->failing)
			log_warning("time sync failed; retrying", LOG_STR("clock", ts->clock_name),
				    LOG_ERR(&err));
		ts->failing = true;
	} else {
		if (ts->failing)
			log_info("time sync recovered", LOG_STR("clock", ts->clock_name));
		ts->failing = false;
		if (strcmp(action, "step") == 0)
			log_info("clock stepped to the host's", LOG_STR("clock", ts->clock_name),
				 LOG_I64("offset_ns", ts->last_offset_ns));
		else
			log_debug("clock slewed", LOG_I64("offset_ns", ts->last_offset_ns));
	}
	struct error aerr = { 0 };
	if (loop_timer_arm(&ts->timer, TIMESYNC_POLL_MS, &aerr) < 0)
		log_error("time sync stopped: cannot re-arm its timer", LOG_ERR(&aerr));
}

int timesync_start(struct timesync *ts, struct loop *loop, struct error *err)
{
	timesync_init(ts, &real_ops, ts);
	int fd = timesync_find_ptp("/sys/class/ptp", "/dev", ts->clock_name, sizeof(ts->clock_name),
				   err);
	if (fd < 0)
		return fd;
	ts->ptp_fd = fd;
	int r = loop_timer_init(loop, &ts->timer, on_tick, ts, err);
	if (r < 0)
		goto out_close;
	ts->has_timer = true;
	/* The first step now, before any container starts. */
	const char *action;
	struct error terr = { 0 };
	if (timesync_tick(ts, &action, &terr) < 0) {
		log_warning("time sync: the first step failed; retrying", LOG_STR("clock", ts->clock_name),
			    LOG_ERR(&terr));
		ts->failing = true;
	} else {
		log_info("clock stepped to the host's", LOG_STR("clock", ts->clock_name),
			 LOG_I64("offset_ns", ts->last_offset_ns));
	}
	if ((r = loop_timer_arm(&ts->timer, TIMESYNC_POLL_MS, err)) < 0)
		goto out_timer;
	return 0;
out_timer:
	loop_timer_fini(&ts->timer);
	ts->has_timer = false;
out_close:
	close(ts->ptp_fd);
	ts->ptp_fd = -1;
	return r;
}

void timesync_stop(struct timesync *ts)
{
	if (ts->has_timer)
		loop_timer_fini(&ts->timer);
	ts->has_timer = false;
	if (ts->ptp_fd >= 0)
		close(ts->ptp_fd);
	ts->ptp_fd = -1;
}
