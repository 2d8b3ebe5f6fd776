/* SPDX-License-Identifier: MIT */
/* Path resolution inside a root: "..", absolute and relative symlinks and
 * chains of them never lead out; the last component is never followed by
 * the entry operations; scoped resolution as Docker's FollowSymlinkInScope. */
#include "lcow/tap.h"
#include "lcow/cleanup.h"

#include <limits.h>
#include <sys/stat.h>

#include "helpers.h"

static int root_fd(const struct fixture *fx)
{
	return open(fx->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* The inode an fd refers to, to compare with a path's. */
static bool same_file(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

TEST(dotdot_stops_at_the_root)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "outside/secret"), "x", 0644), 0);
	ASSERT_EQ(mkdir(fx_path(&fx, "root/a"), 0755), 0);

	/* ../outside from the root is root/outside: absent. */
	EXPECT_EQ(rfs_open_in_root(root, "../outside/secret", O_RDONLY, 0), -ENOENT);
	EXPECT_EQ(rfs_open_in_root(root, "a/../../../../outside/secret", O_RDONLY, 0), -ENOENT);
	int fd = rfs_open_in_root(root, "../../..", O_PATH, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(same_file(fd, fx.root));
	close(fd);
	fd = rfs_open_in_root(root, "a/../..", O_PATH, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(same_file(fd, fx.root));
	close(fd);
}

TEST(absolute_symlinks_resolve_in_the_root)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	/* A link to the real outside directory, by its absolute host path. */
	ASSERT_EQ(put_file(fx_path(&fx, "outside/secret"), "OUTSIDE", 0644), 0);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/host")), 0);
	ASSERT_EQ(symlink("/etc", fx_path(&fx, "root/etc-link")), 0);
	ASSERT_EQ(mkdir(fx_path(&fx, "root/etc"), 0755), 0);
	ASSERT_EQ(put_file(fx_path(&fx, "root/etc/passwd"), "inside", 0644), 0);

	EXPECT_EQ(rfs_open_in_root(root, "host/secret", O_RDONLY, 0), -ENOENT);
	int fd = rfs_open_in_root(root, "etc-link/passwd", O_RDONLY, 0);
	ASSERT_GE(fd, 0);
	char buf[16] = { 0 };
	EXPECT_EQ(read(fd, buf, sizeof(buf) - 1), 6);
	EXPECT_STREQ(buf, "inside");
	close(fd);
}

TEST(relative_symlink_chains_stay_inside)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "outside/secret"), "OUTSIDE", 0644), 0);
	ASSERT_EQ(mkdir(fx_path(&fx, "root/d"), 0755), 0);
	/* d/l1 -> ../l2 -> l3 -> ../../../outside */
	ASSERT_EQ(symlink("../l2", fx_path(&fx, "root/d/l1")), 0);
	ASSERT_EQ(symlink("l3", fx_path(&fx, "root/l2")), 0);
	ASSERT_EQ(symlink("../../../outside", fx_path(&fx, "root/l3")), 0);
	EXPECT_EQ(rfs_open_in_root(root, "d/l1/secret", O_RDONLY, 0), -ENOENT);
	/* Once the target exists inside, the chain reaches it. */
	ASSERT_EQ(mkdir(fx_path(&fx, "root/outside"), 0755), 0);
	ASSERT_EQ(put_file(fx_path(&fx, "root/outside/secret"), "inside", 0644), 0);
	int fd = rfs_open_in_root(root, "d/l1/secret", O_RDONLY, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(same_file(fd, fx_path(&fx, "root/outside/secret")));
	close(fd);
}

TEST(symlink_loops_fail_with_eloop)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	ASSERT_EQ(symlink("b", fx_path(&fx, "root/a")), 0);
	ASSERT_EQ(symlink("/a", fx_path(&fx, "root/b")), 0);
	EXPECT_EQ(rfs_open_in_root(root, "a", O_RDONLY, 0), -ELOOP);
}

TEST(proc_magic_links_are_refused)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	/* With /proc as the root, /proc/self/root would lead to "/". */
	_cleanup_close_ int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(proc, 0);
	EXPECT_EQ(rfs_open_in_root(proc, "self/root/etc", O_PATH, 0), -ELOOP);
}

TEST(parent_and_name_do_not_follow_the_last_component)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	ASSERT_EQ(mkdir(fx_path(&fx, "root/a"), 0755), 0);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/a/link")), 0);
	int dfd;
	char *buf;
	const char *name;
	ASSERT_EQ(rfs_resolve_parent(root, "/a/link/", false, &dfd, &buf, &name), 0);
	EXPECT_TRUE(same_file(dfd, fx_path(&fx, "root/a")));
	EXPECT_STREQ(name, "link");
	struct stat st;
	ASSERT_EQ(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	EXPECT_TRUE(S_ISLNK(st.st_mode));
	close(dfd);
	free(buf);

	/* A top-level name has the root as its parent. */
	ASSERT_EQ(rfs_resolve_parent(root, "top", false, &dfd, &buf, &name), 0);
	EXPECT_TRUE(same_file(dfd, fx.root));
	EXPECT_STREQ(name, "top");
	close(dfd);
	free(buf);
}

TEST(parent_of_special_paths)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	int dfd;
	char *buf;
	const char *name;
	EXPECT_EQ(rfs_resolve_parent(root, "", true, &dfd, &buf, &name), -ENOENT);
	EXPECT_EQ(rfs_resolve_parent(root, "a/..", true, &dfd, &buf, &name), -EINVAL);
	EXPECT_EQ(rfs_resolve_parent(root, "a/.", true, &dfd, &buf, &name), -EINVAL);
	EXPECT_EQ(rfs_resolve_parent(root, "/", false, &dfd, &buf, &name), -EINVAL);
	ASSERT_EQ(rfs_resolve_parent(root, "/../..", true, &dfd, &buf, &name), 0);
	EXPECT_EQ(dfd, -1);
	EXPECT_TRUE(name == NULL);
	EXPECT_EQ(rfs_resolve_parent(root, "nodir/x", false, &dfd, &buf, &name), -ENOENT);
}

TEST(mkdir_all_follows_links_inside_the_root_only)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	struct error err = { 0 };
	ASSERT_EQ(mkdir(fx_path(&fx, "root/real"), 0755), 0);
	ASSERT_EQ(symlink("/real", fx_path(&fx, "root/abs")), 0);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/host")), 0);
	ASSERT_EQ(rfs_mkdir_all(root, "/abs/x/y", 0755, &err), 0);
	EXPECT_TRUE(exists(fx_path(&fx, "root/real/x/y")));
	/* host -> <abs host path>: inside the root that path does not
	 * exist, and mkdir cannot create through a dangling link. */
	EXPECT_LT(rfs_mkdir_all(root, "/host/x", 0755, &err), 0);
	EXPECT_FALSE(exists(fx_path(&fx, "outside/x")));
	EXPECT_EQ(rfs_mkdir_all(root, "../../../up/y", 0755, &err), 0);
	EXPECT_TRUE(exists(fx_path(&fx, "root/up/y")));
	EXPECT_FALSE(exists(fx_path(&fx, "up")));
	/* Existing: fine.  A file in the way: not a directory. */
	EXPECT_EQ(rfs_mkdir_all(root, "/real", 0755, &err), 0);
	ASSERT_EQ(put_file(fx_path(&fx, "root/file"), "x", 0644), 0);
	EXPECT_EQ(rfs_mkdir_all(root, "/file/sub", 0755, &err), -ENOTDIR);
	EXPECT_EQ(rfs_mkdir_all(root, "/file", 0755, &err), -ENOTDIR);
}

TEST(remove_tree_never_follows_symlinks)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	struct error err = { 0 };
	ASSERT_EQ(put_file(fx_path(&fx, "outside/keep"), "keep", 0644), 0);
	ASSERT_EQ(sh("mkdir -p %s/t/a/b/c && touch %s/t/a/b/c/f %s/t/x", fx.root, fx.root, fx.root), 0);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/t/a/host")), 0);
	ASSERT_EQ(symlink("../../../..", fx_path(&fx, "root/t/a/b/up")), 0);
	ASSERT_EQ(rfs_remove_tree(root, "t", &err), 0);
	EXPECT_FALSE(exists(fx_path(&fx, "root/t")));
	EXPECT_TRUE(exists(fx_path(&fx, "outside/keep")));
	/* Absent is success. */
	EXPECT_EQ(rfs_remove_tree(root, "t", &err), 0);
}

static char *clean(const char *p, bool *esc)
{
	return rfs_clean_rel(p, esc);
}

TEST(clean_rel)
{
	bool esc;
	char *c;
	ASSERT_TRUE((c = clean("/a//b/./c/", &esc)) != NULL);
	EXPECT_STREQ(c, "a/b/c");
	EXPECT_FALSE(esc);
	free(c);
	ASSERT_TRUE((c = clean("a/../../b", &esc)) != NULL);
	EXPECT_STREQ(c, "b");
	EXPECT_TRUE(esc);
	free(c);
	ASSERT_TRUE((c = clean("./", &esc)) != NULL);
	EXPECT_STREQ(c, ".");
	EXPECT_FALSE(esc);
	free(c);
	ASSERT_TRUE((c = clean("a/b/../c/..", &esc)) != NULL);
	EXPECT_STREQ(c, "a");
	free(c);
	ASSERT_TRUE((c = clean("..", &esc)) != NULL);
	EXPECT_TRUE(esc);
	free(c);
}

static void expect_scoped(int root, const char *path, const char *scope, const char *want,
			  int *_tap_failed)
{
	char *out = NULL;
	struct error err = { 0 };
	int r = rfs_resolve_scoped(root, path, scope, &out, &err);
	if (!want) {
		EXPECT_LT(r, 0);
	} else {
		EXPECT_EQ(r, 0);
		EXPECT_STREQ(out, want);
	}
	if (r < 0 && want)
		TAP_DIAG("%s in %s: %s", path, scope, error_text(&err));
	free(out);
}

TEST(resolve_scoped_like_follow_symlink_in_scope)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	_cleanup_close_ int root = root_fd(&fx);
	ASSERT_EQ(sh("mkdir -p %s/c/a/b", fx.root), 0);
	ASSERT_EQ(symlink("/a/b", fx_path(&fx, "root/c/a/abs")), 0);
	ASSERT_EQ(symlink("../../../../../x", fx_path(&fx, "root/c/up")), 0);
	ASSERT_EQ(symlink("loop2", fx_path(&fx, "root/c/loop1")), 0);
	ASSERT_EQ(symlink("loop1", fx_path(&fx, "root/c/loop2")), 0);
	ASSERT_EQ(put_file(fx_path(&fx, "root/c/file"), "x", 0644), 0);

	expect_scoped(root, "/c", "/c", "/c", _tap_failed);
	expect_scoped(root, "/c/a/abs/f", "/c", "/c/a/b/f", _tap_failed);
	expect_scoped(root, "/c/a/abs/../g", "/c", "/c/a/g", _tap_failed);
	expect_scoped(root, "/c/up/y", "/c", "/c/x/y", _tap_failed);
	expect_scoped(root, "/c/missing/../z", "/c", "/c/z", _tap_failed);
	expect_scoped(root, "/c/up", "/", "/x", _tap_failed);
	expect_scoped(root, "/c/loop1", "/c", NULL, _tap_failed);
	expect_scoped(root, "/d/x", "/c", NULL, _tap_failed);
	expect_scoped(root, "/cc/x", "/c", NULL, _tap_failed);
	/* Through a file: not a directory (Go's Lstat error is not "absent"). */
	expect_scoped(root, "/c/file/x", "/c", NULL, _tap_failed);
}

TAP_MAIN()
