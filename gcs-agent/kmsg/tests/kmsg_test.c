/* SPDX-License-Identifier: MIT */
/* kmsg: the /dev/kmsg record parser, and the reader on a pipe standing in
 * for the device (one record per write, as the device reads). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "kmsg/kmsg.h"
#include "lcow/tap.h"
#include "loop.h"

#define PARSE(s, e) kmsg_parse((s), strlen(s), (e))

TEST(a_record_with_its_dictionary)
{
	struct kmsg_entry e;
	const char *rec = "3,1042,53210456,-,caller=T17;Out of memory: Killed process 312 (awk)\n"
			  " SUBSYSTEM=memory\n DEVICE=+memory:x\n";
	ASSERT_EQ(PARSE(rec, &e), 0);
	EXPECT_EQ(e.priority, 3);
	EXPECT_EQ(e.facility, 0);
	EXPECT_EQ(e.seq, 1042);
	EXPECT_EQ(e.usec, 53210456);
	EXPECT_STREQ(e.flags, "-");
	EXPECT_EQ(e.msg_len, strlen("Out of memory: Killed process 312 (awk)"));
	EXPECT_EQ(memcmp(e.msg, "Out of memory: Killed process 312 (awk)", e.msg_len), 0);
}

TEST(priority_and_facility_split_the_syslog_prefix)
{
	struct kmsg_entry e;
	/* 12 = facility 1 (user), priority 4; what `echo '<12>x' >/dev/kmsg` logs */
	ASSERT_EQ(PARSE("12,7,100,c;  hello \n", &e), 0);
	EXPECT_EQ(e.priority, 4);
	EXPECT_EQ(e.facility, 1);
	EXPECT_STREQ(e.flags, "c");
	EXPECT_EQ(e.msg_len, 5);
	EXPECT_EQ(memcmp(e.msg, "hello", 5), 0);
	ASSERT_EQ(PARSE("6,0,0,-;", &e), 0);
	EXPECT_EQ(e.msg_len, 0);
	EXPECT_STREQ(kmsg_priority_name(0), "Emerg");
	EXPECT_STREQ(kmsg_priority_name(4), "Warning");
	EXPECT_STREQ(kmsg_priority_name(7), "Debug");
}

TEST(malformed_records_are_refused)
{
	struct kmsg_entry e;
	static const char *const bad[] = {
		"",				/* nothing */
		"3,1,2,-",			/* no ';' */
		"3,1,2;msg",			/* no flags field */
		"3,1;msg",			/* too few fields */
		"x,1,2,-;msg",			/* not a number */
		"3,-1,2,-;msg",			/* negative */
		"3,1,,-;msg",			/* empty number */
		"3,1,2,;msg",			/* empty flags */
		"3,1,2,toolongflags;msg",	/* flags past their field */
		"65536,1,2,-;msg",		/* prefix past 16 bits */
		"3,99999999999999999999,2,-;m",	/* seq past 64 bits */
		";3,1,2,-",			/* ';' first */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(PARSE(bad[i], &e), -EINVAL);
	/* Flags with a NUL or a blank (fuzz/regressions/kmsg/nul-in-flags). */
	static const char nul_flags[] = "4,9,99,\0\0-;bad";
	EXPECT_EQ(kmsg_parse(nul_flags, sizeof(nul_flags) - 1, &e), -EINVAL);
	EXPECT_EQ(PARSE("4,9,99, -;msg", &e), -EINVAL);
	/* Length-bounded: the NUL-free tail past len is not read. */
	const char rec[] = { '3', ',', '1', ',', '2', ',', '-', ';', 'a', 'b' };
	ASSERT_EQ(kmsg_parse(rec, 8, &e), 0);
	EXPECT_EQ(e.msg_len, 0);
	EXPECT_EQ(kmsg_parse(rec, 7, &e), -EINVAL);
}

TEST(the_reader_forwards_records_at_or_above_the_level)
{
	struct loop l;
	struct error err = { 0 };
	ASSERT_EQ(loop_init(&l, &err), 0);
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	struct kmsg_reader r = { .fd = -1 };
	ASSERT_EQ(kmsg_start(&r, &l, path, 4, &err), 0);
	/* A pipe joins writes; the device hands out one record per read, so
	 * one record is written and drained at a time. */
	static const char *const recs[] = { "3,1,10,-;an error\n", "6,2,20,-;just info\n",
					    "4,3,30,-;a warning\n", "garbage\n" };
	for (size_t i = 0; i < 4; i++) {
		ASSERT_EQ(write(p[1], recs[i], strlen(recs[i])), (ssize_t)strlen(recs[i]));
		ASSERT_TRUE(loop_run_once(&l, 1000, &err) >= 0);
	}
	EXPECT_EQ(r.forwarded, 2);
	/* End of the input: the reader stops rather than spin. */
	close(p[1]);
	ASSERT_TRUE(loop_run_once(&l, 1000, &err) >= 0);
	EXPECT_EQ(r.fd, -1);
	kmsg_stop(&r);
	close(p[0]);
	loop_fini(&l);
}

TEST(a_missing_device_is_an_error_not_a_crash)
{
	struct loop l;
	struct error err = { 0 };
	ASSERT_EQ(loop_init(&l, &err), 0);
	struct kmsg_reader r = { .fd = -1 };
	EXPECT_EQ(kmsg_start(&r, &l, "/nonexistent/kmsg", 4, &err), -ENOENT);
	EXPECT_EQ(r.fd, -1);
	kmsg_stop(&r);
	loop_fini(&l);
}

TAP_MAIN()
