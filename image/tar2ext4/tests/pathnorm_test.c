/* SPDX-License-Identifier: MIT */
/* Tar member names -> image paths: what is kept, what is refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lcow/tap.h"
#include "pathnorm.h"

static char *norm(const char *in, bool slash, int *rc)
{
	char *out = NULL;
	struct error err = { 0 };
	*rc = path_normalize(in, slash, &out, &err);
	return out;
}

#define EXPECT_NORM(in, want)                                  \
	do {                                                   \
		int _rc;                                       \
		char *_o = norm(in, false, &_rc);              \
		ASSERT_EQ(_rc, 0);                             \
		EXPECT_STREQ(_o, want);                        \
		free(_o);                                      \
	} while (0)

#define EXPECT_REFUSED(in, want_rc)                            \
	do {                                                   \
		int _rc;                                       \
		char *_o = norm(in, false, &_rc);              \
		EXPECT_EQ(_rc, want_rc);                       \
		EXPECT_TRUE(_o == NULL);                       \
		free(_o);                                      \
	} while (0)

TEST(plain_names_are_kept)
{
	EXPECT_NORM("a", "a");
	EXPECT_NORM("a/b/c", "a/b/c");
	EXPECT_NORM("usr/lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libc.so.6");
	/* Three dots and dotted names are ordinary names. */
	EXPECT_NORM(".../..a/a..", ".../..a/a..");
	EXPECT_NORM(".wh..wh..opq", ".wh..wh..opq");
}

TEST(leading_slash_dot_and_empty_components_go)
{
	EXPECT_NORM("/etc/passwd", "etc/passwd");
	EXPECT_NORM("///etc//passwd", "etc/passwd");
	EXPECT_NORM("./a/./b/", "a/b");
	EXPECT_NORM("a/b/.", "a/b");
}

TEST(root_spellings_give_the_empty_path)
{
	EXPECT_NORM("", "");
	EXPECT_NORM("/", "");
	EXPECT_NORM(".", "");
	EXPECT_NORM("./", "");
	EXPECT_NORM("a/..", "");
	EXPECT_NORM("//./", "");
}

TEST(dotdot_inside_the_root_is_resolved_lexically)
{
	EXPECT_NORM("a/../b", "b");
	EXPECT_NORM("a/b/../../c", "c");
	EXPECT_NORM("a/b/../c/./d/..", "a/c");
	EXPECT_NORM("/x/../y", "y");
}

TEST(dotdot_above_the_root_is_refused)
{
	EXPECT_REFUSED("..", -EINVAL);
	EXPECT_REFUSED("../etc/passwd", -EINVAL);
	EXPECT_REFUSED("/../etc/passwd", -EINVAL);
	EXPECT_REFUSED("a/../../etc", -EINVAL);
	EXPECT_REFUSED("./a/b/../../..", -EINVAL);
}

TEST(component_of_255_bytes_ok_256_refused)
{
	char name[300];
	memset(name, 'n', 255);
	name[255] = '\0';
	int rc;
	char *o = norm(name, false, &rc);
	ASSERT_EQ(rc, 0);
	EXPECT_EQ(strlen(o), 255);
	free(o);

	char deep[600];
	snprintf(deep, sizeof(deep), "dir/%s/x", name);
	o = norm(deep, false, &rc);
	EXPECT_EQ(rc, 0);
	free(o);

	memset(name, 'n', 256);
	name[256] = '\0';
	EXPECT_REFUSED(name, -ENAMETOOLONG);
	snprintf(deep, sizeof(deep), "dir/%s/x", name);
	EXPECT_REFUSED(deep, -ENAMETOOLONG);
}

TEST(refusal_names_the_reason)
{
	struct error err = { 0 };
	char *o = NULL;
	ASSERT_EQ(path_normalize("../x", false, &o, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "above the image root") != NULL);
}

TEST(backslash_is_a_name_byte_unless_converted)
{
	int rc;
	char *o = norm("a\\b\\..\\c", false, &rc);
	ASSERT_EQ(rc, 0);
	EXPECT_STREQ(o, "a\\b\\..\\c");
	free(o);

	o = norm("a\\b\\..\\c", true, &rc);
	ASSERT_EQ(rc, 0);
	EXPECT_STREQ(o, "a/c");
	free(o);

	o = norm("\\..\\..\\x", true, &rc);
	EXPECT_EQ(rc, -EINVAL);
	free(o);
}

TEST(basename_and_parent_length)
{
	size_t pl;
	EXPECT_STREQ(path_basename("a/b/c", &pl), "c");
	EXPECT_EQ(pl, 3);
	EXPECT_STREQ(path_basename("top", &pl), "top");
	EXPECT_EQ(pl, 0);
	EXPECT_STREQ(path_basename("", &pl), "");
	EXPECT_EQ(pl, 0);
}

TAP_MAIN()
