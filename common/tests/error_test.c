/* SPDX-License-Identifier: MIT */
#include "lcow/error.h"
#include "lcow/cleanup.h"
#include "lcow/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static int inner(struct error *err)
{
	return error_set(err, ENOENT, "open %s", "/nope");
}

static int outer(struct error *err)
{
	int r = inner(err);
	if (r < 0)
		return error_prefix(err, r, "load config");
	return 0;
}

TEST(error_chain_reads_outermost_first)
{
	struct error err = { 0 };
	ASSERT_EQ(outer(&err), -ENOENT);
	ASSERT_STREQ(error_text(&err), "load config: open /nope: No such file or directory");
	ASSERT_EQ(err.errnum, ENOENT);
}

TEST(error_null_err_just_returns)
{
	ASSERT_EQ(outer(NULL), -ENOENT);
}

TEST(error_setx_has_no_strerror_suffix)
{
	struct error err = { 0 };
	ASSERT_EQ(error_setx(&err, EPROTO, "bad size %d", 12), -EPROTO);
	ASSERT_STREQ(err.msg, "bad size 12");
}

TEST(error_prefix_without_message_uses_strerror)
{
	struct error err = { 0 };
	ASSERT_EQ(error_prefix(&err, -EACCES, "mkdir %s", "/x"), -EACCES);
	ASSERT_STREQ(err.msg, "mkdir /x: Permission denied");
}

TEST(error_long_messages_are_truncated_not_overflowed)
{
	struct error err = { 0 };
	char big[4000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	error_set(&err, EIO, "%s", big);
	for (int i = 0; i < 10; i++)
		error_prefix(&err, -EIO, "%s", big);
	ASSERT_EQ(strlen(err.msg), ERROR_MSG_MAX - 1);
}

TEST(cleanup_close_and_take_fd)
{
	int kept;
	{
		_cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		ASSERT_GE(fd, 0);
		kept = TAKE_FD(fd);
		ASSERT_EQ(fd, -1);
	}
	ASSERT_EQ(fcntl(kept, F_GETFD) >= 0, 1);
	int probe;
	{
		_cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		probe = fd;
	}
	ASSERT_EQ(fcntl(probe, F_GETFD), -1);
	close(kept);
}

TAP_MAIN()
