/* SPDX-License-Identifier: MIT */
/* The clock discipline on an injected clock source: a step at start, slews
 * afterwards, a step again beyond the threshold, failures reported; and the
 * PTP clock lookup on a fake sysfs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lcow/tap.h"
#include "timesync/timesync.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* A fake pair of clocks: the system clock is host + skew; every read
 * advances both by 10 us (reading takes time). */
struct fake {
	int64_t host_ns, skew_ns;
	int64_t stepped, slewed;	/* the last correction asked for */
	int steps, slews, reads;
	int fail_ref, fail_step;
};

static void to_ts(int64_t ns, struct timespec *t)
{
	t->tv_sec = ns / SEC;
	t->tv_nsec = ns % SEC;
}

static int f_ref(void *ctx, struct timespec *t)
{
	struct fake *f = ctx;
	if (f->fail_ref)
		return -EIO;
	to_ts(f->host_ns, t);
	f->host_ns += 10000;
	return 0;
}

static int f_sys(void *ctx, struct timespec *t)
{
	struct fake *f = ctx;
	f->reads++;
	to_ts(f->host_ns + f->skew_ns, t);
	f->host_ns += 10000;
	return 0;
}

static int f_step(void *ctx, int64_t d)
{
	struct fake *f = ctx;
	if (f->fail_step)
		return -EPERM;
	f->steps++;
	f->stepped = d;
	f->skew_ns += d;
	return 0;
}

static int f_slew(void *ctx, int64_t d)
{
	struct fake *f = ctx;
	f->slews++;
	f->slewed = d;
	/* The PLL corrects over time: assume half of it by the next poll. */
	f->skew_ns += d / 2;
	return 0;
}

static const struct timesync_ops fake_ops = { f_ref, f_sys, f_step, f_slew };

TEST(measure_uses_the_midpoint_of_two_system_reads)
{
	struct fake f = { .host_ns = 1000 * SEC, .skew_ns = -3 * SEC };
	struct timesync ts;
	timesync_init(&ts, &fake_ops, &f);
	int64_t off;
	struct error err = { 0 };
	ASSERT_EQ(timesync_measure(&ts, &off, &err), 0);
	/* sys1 = host - 3 s; ref = host + 10 us; sys2 = host + 20 us - 3 s:
	 * the midpoint is host + 10 us - 3 s, the same instant as ref. */
	EXPECT_EQ(off, 3 * SEC);
	EXPECT_EQ(f.reads, 2);
}

TEST(first_tick_steps_even_a_small_offset)
{
	struct fake f = { .host_ns = 5 * SEC, .skew_ns = -20 * MS };
	struct timesync ts;
	timesync_init(&ts, &fake_ops, &f);
	const char *action;
	struct error err = { 0 };
	ASSERT_EQ(timesync_tick(&ts, &action, &err), 0);
	EXPECT_STREQ(action, "step");
	EXPECT_EQ(f.steps, 1);
	EXPECT_EQ(f.slews, 0);
	EXPECT_EQ(f.stepped, 20 * MS);
	EXPECT_EQ(f.skew_ns, 0);
	EXPECT_TRUE(ts.started);
}

TEST(later_ticks_slew_below_the_threshold_and_converge)
{
	struct fake f = { .host_ns = 5 * SEC, .skew_ns = 7200 * SEC };	/* two hours ahead */
	struct timesync ts;
	timesync_init(&ts, &fake_ops, &f);
	const char *action;
	struct error err = { 0 };
	ASSERT_EQ(timesync_tick(&ts, &action, &err), 0);
	EXPECT_STREQ(action, "step");
	EXPECT_EQ(f.stepped, -7200 * SEC);
	/* Drift of 40 ms: slewed, never stepped. */
	f.skew_ns += 40 * MS;
	for (int i = 0; i < 10; i++) {
		ASSERT_EQ(timesync_tick(&ts, &action, &err), 0);
		EXPECT_STREQ(action, "slew");
	}
	EXPECT_EQ(f.steps, 1);
	EXPECT_EQ(f.slews, 10);
	EXPECT_TRUE(llabs(ts.last_offset_ns) < 1 * MS);
	EXPECT_TRUE(llabs(f.skew_ns) < 1 * MS);
}

TEST(beyond_the_threshold_steps_again)
{
	struct fake f = { .host_ns = 5 * SEC };
	struct timesync ts;
	timesync_init(&ts, &fake_ops, &f);
	const char *action;
	struct error err = { 0 };
	ASSERT_EQ(timesync_tick(&ts, &action, &err), 0);
	/* Just under 100 ms: slew; just over: step (chrony's makestep 0.1 -1). */
	f.skew_ns = -(TIMESYNC_STEP_THRESHOLD_NS - 1 * MS);
	ASSERT_EQ(timesync_tick(&ts, &action, &err), 0);
	EXPECT_STREQ(action, "slew");
	f.skew_ns = -(TIMESYNC_STEP_THRESHOLD_NS + 1 * MS);
	ASSERT_EQ(timesync_tick(&ts, &action, &err), 0);
	EXPECT_STREQ(action, "step");
	EXPECT_EQ(f.steps, 2);
	EXPECT_TRUE(f.stepped > TIMESYNC_STEP_THRESHOLD_NS);
}

TEST(failures_are_reported_and_the_next_tick_recovers)
{
	struct fake f = { .host_ns = 5 * SEC, .skew_ns = SEC, .fail_ref = 1 };
	struct timesync ts;
	timesync_init(&ts, &fake_ops, &f);
	const char *action;
	struct error err = { 0 };
	EXPECT_EQ(timesync_tick(&ts, &action, &err), -EIO);
	EXPECT_TRUE(strstr(err.msg, "read the clocks") != NULL);
	EXPECT_FALSE(ts.started);
	f.fail_ref = 0;
	f.fail_step = 1;
	EXPECT_EQ(timesync_tick(&ts, &action, &err), -EPERM);
	EXPECT_TRUE(strstr(err.msg, "step the clock") != NULL);
	EXPECT_EQ(ts.failures, 2u);
	f.fail_step = 0;
	error_clear(&err);
	ASSERT_EQ(timesync_tick(&ts, &action, &err), 0);
	EXPECT_STREQ(action, "step");
	EXPECT_TRUE(ts.started);
}

static void put(const char *dir, const char *sub, const char *name)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%s/clock_name", dir, sub);
	FILE *f = fopen(p, "w");
	fprintf(f, "%s\n", name);
	fclose(f);
}

TEST(find_ptp_prefers_hyperv_and_reports_none)
{
	char dir[] = "/tmp/timesync-test.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	char sys[256], dev[256], name[64] = "";
	snprintf(sys, sizeof(sys), "%s/ptp", dir);
	snprintf(dev, sizeof(dev), "%s/dev", dir);
	mkdir(sys, 0755);
	mkdir(dev, 0755);
	struct error err = { 0 };
	EXPECT_EQ(timesync_find_ptp(sys, dev, name, sizeof(name), &err), -ENOENT);
	put(sys, "ptp0", "some NIC clock");
	EXPECT_EQ(timesync_find_ptp(sys, dev, name, sizeof(name), &err), -ENOENT);
	put(sys, "ptp1", "KVM virtual PTP");
	put(sys, "ptp2", "hyperv");
	char p[PATH_MAX];
	for (int i = 1; i <= 2; i++) {
		snprintf(p, sizeof(p), "%s/ptp%d", dev, i);
		close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	}
	int fd = timesync_find_ptp(sys, dev, name, sizeof(name), &err);
	ASSERT_GE(fd, 0);
	EXPECT_STREQ(name, "hyperv");
	close(fd);
	snprintf(p, sizeof(p), "%s/ptp2", dev);
	unlink(p);
	EXPECT_EQ(timesync_find_ptp(sys, dev, name, sizeof(name), &err), -ENOENT);
	EXPECT_TRUE(strstr(err.msg, "hyperv") != NULL);
	EXPECT_EQ(timesync_find_ptp("/nonexistent/ptp", dev, name, sizeof(name), &err), -ENOENT);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	EXPECT_EQ(system(cmd), 0);
}

TAP_MAIN()
