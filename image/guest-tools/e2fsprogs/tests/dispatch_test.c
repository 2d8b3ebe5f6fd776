/* SPDX-License-Identifier: MIT */
/*
 * The /sbin/e2fsprogs dispatcher, with stand-ins for the three programs:
 * each name reaches its program with argv untouched (mke2fs reads argv[0]),
 * the `e2fsprogs PROGRAM ARGS` form shifts by one, bad names exit 2.
 */
#include "lcow/tap.h"

#include <fcntl.h>

#include "../dispatch.h"

static const char *called;
static int called_argc;
static char **called_argv;

static int record(const char *prog, int argc, char **argv, int rc)
{
	called = prog;
	called_argc = argc;
	called_argv = argv;
	return rc;
}
int mke2fs_main(int argc, char **argv)
{
	return record("mke2fs", argc, argv, 11);
}
int e2fsck_main(int argc, char **argv)
{
	return record("e2fsck", argc, argv, 12);
}
int resize2fs_main(int argc, char **argv)
{
	return record("resize2fs", argc, argv, 13);
}

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])) - 1)

/* Runs the dispatcher with its stderr (fd 2) or stdout (fd 1) captured
 * into `msg`. */
static int dispatch_capture(int fd, int argc, char **argv, char *msg, size_t size)
{
	FILE *f = tmpfile();
	int saved = fcntl(fd, F_DUPFD_CLOEXEC, 3), rc;
	size_t n;

	if (!f || saved < 0)
		return -1;
	fflush(NULL);
	dup2(fileno(f), fd);
	rc = e2fsprogs_dispatch(argc, argv);
	fflush(NULL);
	dup2(saved, fd);
	close(saved);
	rewind(f);
	n = fread(msg, 1, size - 1, f);
	msg[n] = '\0';
	fclose(f);
	return rc;
}

TEST(each_name_runs_its_program_with_argv_unchanged)
{
	static const struct {
		const char *argv0, *prog;
		int rc;
	} cases[] = {
		{ "mke2fs", "mke2fs", 11 },
		{ "/sbin/mkfs.ext4", "mke2fs", 11 },
		{ "/sbin/e2fsck", "e2fsck", 12 },
		{ "fsck.ext4", "e2fsck", 12 },
		{ "./resize2fs", "resize2fs", 13 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = { (char *)cases[i].argv0, "-q", "/dev/sda", NULL };
		called = NULL;
		EXPECT_EQ(e2fsprogs_dispatch(ARGC(argv), argv), cases[i].rc);
		ASSERT_TRUE(called != NULL);
		EXPECT_STREQ(called, cases[i].prog);
		EXPECT_EQ(called_argc, 3);
		EXPECT_TRUE(called_argv == argv);
		EXPECT_STREQ(called_argv[0], cases[i].argv0);
	}
}

TEST(multi_form_shifts_to_the_named_program)
{
	char *argv[] = { "/sbin/e2fsprogs", "mkfs.ext4", "-q", "/dev/sdb", NULL };
	EXPECT_EQ(e2fsprogs_dispatch(ARGC(argv), argv), 11);
	ASSERT_TRUE(called != NULL);
	EXPECT_STREQ(called, "mke2fs");
	EXPECT_EQ(called_argc, 3);
	/* mke2fs sees mkfs.ext4 as its name: -t ext4. */
	EXPECT_STREQ(called_argv[0], "mkfs.ext4");
	EXPECT_STREQ(called_argv[2], "/dev/sdb");
	EXPECT_TRUE(called_argv[3] == NULL);
}

TEST(unknown_name_is_a_usage_error_naming_the_known_ones)
{
	char *argv[] = { "/sbin/mkfs.xfs", "/dev/sda", NULL };
	char msg[1024];
	called = NULL;
	EXPECT_EQ(dispatch_capture(2, ARGC(argv), argv, msg, sizeof(msg)), 2);
	EXPECT_TRUE(called == NULL);
	EXPECT_TRUE(strstr(msg, "unknown program 'mkfs.xfs'") != NULL);
	EXPECT_TRUE(strstr(msg, "mke2fs, mkfs.ext4, e2fsck, fsck.ext4, resize2fs") != NULL);
}

TEST(multi_form_rejects_unknown_missing_and_itself)
{
	char msg[1024];
	char *none[] = { "e2fsprogs", NULL };
	char *self[] = { "e2fsprogs", "e2fsprogs", "mke2fs", NULL };
	char *bad[] = { "e2fsprogs", "debugfs", NULL };
	called = NULL;
	EXPECT_EQ(dispatch_capture(2, ARGC(none), none, msg, sizeof(msg)), 2);
	EXPECT_TRUE(strstr(msg, "usage: e2fsprogs PROGRAM") != NULL);
	EXPECT_EQ(dispatch_capture(2, ARGC(self), self, msg, sizeof(msg)), 2);
	EXPECT_TRUE(strstr(msg, "unknown program 'e2fsprogs'") != NULL);
	EXPECT_EQ(dispatch_capture(2, ARGC(bad), bad, msg, sizeof(msg)), 2);
	EXPECT_TRUE(strstr(msg, "unknown program 'debugfs'") != NULL);
	EXPECT_TRUE(called == NULL);
}

TEST(no_argv0_is_an_error_not_a_crash)
{
	char *argv[] = { NULL };
	char msg[1024];
	called = NULL;
	EXPECT_EQ(dispatch_capture(2, 0, argv, msg, sizeof(msg)), 2);
	EXPECT_TRUE(called == NULL);
	EXPECT_TRUE(strstr(msg, "unknown program ''") != NULL);
}

TEST(help_lists_the_programs_and_succeeds)
{
	char *argv[] = { "e2fsprogs", "--help", NULL };
	char msg[1024];
	called = NULL;
	EXPECT_EQ(dispatch_capture(1, ARGC(argv), argv, msg, sizeof(msg)), 0);
	EXPECT_TRUE(called == NULL);
	EXPECT_TRUE(strstr(msg, "PROGRAM: mke2fs, mkfs.ext4, e2fsck, fsck.ext4, resize2fs") !=
		    NULL);
}

TAP_MAIN()
