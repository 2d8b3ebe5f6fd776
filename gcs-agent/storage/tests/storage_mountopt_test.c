/* SPDX-License-Identifier: MIT */
/* The pure parts of storage: MountPath checks, Options -> mount(2) flags
 * and data, the 9p option string. */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>

#include "lcow/tap.h"
#include "storage/mountopt.h"

TEST(mount_path_accepts_absolute_clean_paths)
{
	struct error err = { 0 };
	EXPECT_EQ(mountopt_check_path("/run/mounts/scsi/m1", &err), 0);
	EXPECT_EQ(mountopt_check_path("/run/gcs/c/abc/layers/0", &err), 0);
	EXPECT_EQ(mountopt_check_path("/a", &err), 0);
	EXPECT_EQ(mountopt_check_path("/run/..x/.y/x..", &err), 0);
}

TEST(mount_path_rejects_escapes_and_oddities)
{
	struct error err = { 0 };
	EXPECT_EQ(mountopt_check_path("", &err), -EINVAL);
	EXPECT_EQ(mountopt_check_path(NULL, &err), -EINVAL);
	EXPECT_EQ(mountopt_check_path("/", &err), -EINVAL);
	EXPECT_EQ(mountopt_check_path("run/x", &err), -EINVAL);
	EXPECT_EQ(mountopt_check_path("/run/../etc", &err), -EINVAL);
	ASSERT_TRUE(strstr(err.msg, "`..`") != NULL);
	EXPECT_EQ(mountopt_check_path("/run/x/..", &err), -EINVAL);
	EXPECT_EQ(mountopt_check_path("/run/./x", &err), -EINVAL);
	EXPECT_EQ(mountopt_check_path("/run//x", &err), -EINVAL);
	EXPECT_EQ(mountopt_check_path("/run/x/", &err), -EINVAL);
	EXPECT_EQ(mountopt_check_path("/run/a\nb", &err), -EINVAL);
	char longp[5000];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	EXPECT_EQ(mountopt_check_path(longp, &err), -ENAMETOOLONG);
}

TEST(options_split_into_flags_propagation_and_data)
{
	struct mountopt o;
	struct error err = { 0 };
	mountopt_init(&o);
	const char *opts[] = { "ro", "noatime", "rshared", "user_xattr", "data=ordered", "nosuid",
			       "private" };
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		ASSERT_EQ(mountopt_add(&o, opts[i], &err), 0);
	EXPECT_EQ(o.flags, MS_RDONLY | MS_NOATIME | MS_NOSUID);
	ASSERT_EQ(o.n_propagation, 2);
	EXPECT_EQ(o.propagation[0], MS_SHARED | MS_REC);
	EXPECT_EQ(o.propagation[1], MS_PRIVATE);
	EXPECT_STREQ(o.data, "user_xattr,data=ordered");
}

TEST(options_clearing_flags_undo_earlier_ones)
{
	struct mountopt o;
	mountopt_init(&o);
	ASSERT_EQ(mountopt_add(&o, "ro", NULL), 0);
	ASSERT_EQ(mountopt_add(&o, "noexec", NULL), 0);
	ASSERT_EQ(mountopt_add(&o, "rw", NULL), 0);
	ASSERT_EQ(mountopt_add(&o, "exec", NULL), 0);
	ASSERT_EQ(mountopt_add(&o, "defaults", NULL), 0);
	EXPECT_EQ(o.flags, 0);
	EXPECT_STREQ(o.data, "");
}

TEST(options_reject_commas_empty_and_overflow)
{
	struct mountopt o;
	struct error err = { 0 };
	mountopt_init(&o);
	EXPECT_EQ(mountopt_add(&o, "user_xattr,dax", &err), -EINVAL);
	EXPECT_EQ(mountopt_add(&o, "", &err), -EINVAL);
	EXPECT_EQ(mountopt_add(&o, NULL, &err), -EINVAL);
	char big[600];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	EXPECT_EQ(mountopt_add(&o, big, &err), 0);
	EXPECT_EQ(mountopt_add(&o, big, &err), -E2BIG);
	EXPECT_EQ(strlen(o.data), sizeof(big) - 1);
	for (int i = 0; i < MOUNTOPT_MAX_PROPAGATION; i++)
		ASSERT_EQ(mountopt_add(&o, "slave", &err), 0);
	EXPECT_EQ(mountopt_add(&o, "slave", &err), -E2BIG);
}

TEST(plan9_options_match_hcsshim)
{
	char buf[256];
	struct error err = { 0 };
	ASSERT_EQ(mountopt_9p(buf, sizeof(buf), 7, "3", false, &err), 0);
	EXPECT_STREQ(buf, "trans=fd,rfdno=7,wfdno=7,msize=65536,aname=3");
	ASSERT_EQ(mountopt_9p(buf, sizeof(buf), 12, "/srv/share", true, &err), 0);
	EXPECT_STREQ(buf, "trans=fd,rfdno=12,wfdno=12,msize=65536,noload,aname=/srv/share");
	ASSERT_EQ(mountopt_9p(buf, sizeof(buf), 3, "", false, &err), 0);
	EXPECT_STREQ(buf, "trans=fd,rfdno=3,wfdno=3,msize=65536");
}

TEST(plan9_share_name_cannot_inject_options)
{
	char buf[256];
	struct error err = { 0 };
	EXPECT_EQ(mountopt_9p(buf, sizeof(buf), 3, "x,trans=tcp", false, &err), -EINVAL);
	EXPECT_EQ(mountopt_9p(buf, sizeof(buf), 3, "x\ny", false, &err), -EINVAL);
	EXPECT_EQ(mountopt_9p(buf, 20, 3, "share", false, &err), -E2BIG);
}

TAP_MAIN()
