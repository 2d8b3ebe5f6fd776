/* SPDX-License-Identifier: MIT */
/* init's file system and system setup: the tables, and the helpers run for
 * real in a temporary directory (and, where the test may, in private mount
 * and network namespaces). */
#include "lcow/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>

#include "../mounts.h"
#include "../setup.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/init-mounts-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
}

static void rm_tmpdir(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		TAP_DIAG("could not remove %s", tmpdir);
}

static const struct mount_entry *find_mount(const char *target)
{
	for (size_t i = 0; i < init_mounts_count; i++)
		if (strcmp(init_mounts[i].target, target) == 0)
			return &init_mounts[i];
	return NULL;
}

/* Is a a proper ancestor directory of b? */
static int is_ancestor(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (strcmp(a, "/") == 0)
		return b[0] == '/' && b[1] != '\0';
	return strncmp(a, b, n) == 0 && b[n] == '/';
}

/* A private mount namespace, so the test's mounts vanish with it.  0 when
 * the test may not (not root): the caller skips. */
static int private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return 0;
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

TEST(mount_table_has_every_required_file_system)
{
	static const struct {
		const char *target, *fstype;
	} want[] = {
		{ "/dev", "devtmpfs" }, { "/proc", "proc" },	 { "/sys", "sysfs" },
		{ "/run", "tmpfs" },	{ "/tmp", "tmpfs" },	 { "/dev/pts", "devpts" },
		{ "/dev/shm", "tmpfs" }, { "/sys/fs/cgroup", "cgroup2" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct mount_entry *m = find_mount(want[i].target);
		ASSERT_TRUE(m != NULL);
		EXPECT_STREQ(m->fstype, want[i].fstype);
	}
	ASSERT_EQ(init_mounts_count, sizeof(want) / sizeof(want[0]));
}

TEST(mount_table_modes_and_options)
{
	ASSERT_STREQ(find_mount("/run")->data, "mode=0755");
	ASSERT_STREQ(find_mount("/tmp")->data, "mode=1777");
	ASSERT_STREQ(find_mount("/dev/shm")->data, "mode=1777");
	ASSERT_TRUE(strstr(find_mount("/dev/pts")->data, "newinstance") != NULL);
	ASSERT_TRUE(strstr(find_mount("/dev/pts")->data, "ptmxmode=0666") != NULL);
	/* The kernel may have mounted /dev already. */
	ASSERT_TRUE(find_mount("/dev")->opts & MOUNT_OPT_BUSY_OK);
	/* nsdelegate is a wish, not a requirement. */
	ASSERT_TRUE(find_mount("/sys/fs/cgroup")->opts & MOUNT_OPT_DATA_OPTIONAL);
	/* No device nodes or setuid programs where they have no business. */
	for (size_t i = 0; i < init_mounts_count; i++)
		EXPECT_TRUE(init_mounts[i].flags & MS_NOSUID);
}

TEST(mount_table_order_parents_first_and_no_duplicates)
{
	for (size_t i = 0; i < init_mounts_count; i++) {
		const char *t = init_mounts[i].target;
		ASSERT_TRUE(t[0] == '/');
		ASSERT_TRUE(t[strlen(t) - 1] != '/');
		for (size_t j = i + 1; j < init_mounts_count; j++) {
			/* A later mount on an ancestor would hide this one. */
			EXPECT_FALSE(is_ancestor(init_mounts[j].target, t));
			EXPECT_TRUE(strcmp(init_mounts[j].target, t) != 0);
		}
	}
}

TEST(symlink_table_points_dev_at_proc)
{
	int seen = 0;
	for (size_t i = 0; i < init_symlinks_count; i++) {
		const struct symlink_entry *s = &init_symlinks[i];
		EXPECT_TRUE(is_ancestor("/dev", s->linkpath));
		if (strcmp(s->linkpath, "/dev/fd") == 0 && strcmp(s->target, "/proc/self/fd") == 0)
			seen |= 1;
		if (strcmp(s->linkpath, "/dev/stdin") == 0 && strcmp(s->target, "/proc/self/fd/0") == 0)
			seen |= 2;
		if (strcmp(s->linkpath, "/dev/stdout") == 0 && strcmp(s->target, "/proc/self/fd/1") == 0)
			seen |= 4;
		if (strcmp(s->linkpath, "/dev/stderr") == 0 && strcmp(s->target, "/proc/self/fd/2") == 0)
			seen |= 8;
		if (strcmp(s->linkpath, "/dev/ptmx") == 0)
			seen |= 16;
	}
	ASSERT_EQ(seen, 31);
}

TEST(mkdir_p_creates_nested_and_accepts_existing)
{
	char path[PATH_MAX];
	struct error err = { 0 };
	struct stat st;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/a//b/c/", tmpdir);
	ASSERT_EQ(mkdir_p(path, 0750, &err), 0);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	/* Again: already there is fine. */
	ASSERT_EQ(mkdir_p(path, 0750, &err), 0);
	rm_tmpdir();
}

TEST(mkdir_p_reports_a_file_in_the_way)
{
	char path[PATH_MAX];
	struct error err = { 0 };

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(mkdir_p(path, 0755, &err), -ENOTDIR);
	ASSERT_TRUE(strstr(error_text(&err), path) != NULL);

	error_clear(&err);
	snprintf(path, sizeof(path), "%s/file/below", tmpdir);
	ASSERT_EQ(mkdir_p(path, 0755, &err), -ENOTDIR);
	rm_tmpdir();
}

TEST(mkdir_p_rejects_empty_and_overlong)
{
	struct error err = { 0 };
	static char longpath[PATH_MAX + 10];

	ASSERT_EQ(mkdir_p("", 0755, &err), -EINVAL);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	ASSERT_EQ(mkdir_p(longpath, 0755, &err), -ENAMETOOLONG);
}

TEST(is_mountpoint_tells_mounts_from_directories)
{
	struct error err = { 0 };

	ASSERT_EQ(is_mountpoint("/", &err), 1);
	ASSERT_EQ(is_mountpoint("/proc", &err), 1);
	make_tmpdir();
	char sub[PATH_MAX];
	snprintf(sub, sizeof(sub), "%s/d", tmpdir);
	ASSERT_EQ(mkdir(sub, 0755), 0);
	ASSERT_EQ(is_mountpoint(sub, &err), 0);
	rm_tmpdir();
	ASSERT_EQ(is_mountpoint("/nonexistent/x", &err), -ENOENT);
}

TEST(mount_entry_leaves_an_existing_mount_alone)
{
	struct error err = { 0 };
	/* Would fail loudly if it tried: no such file system type. */
	const struct mount_entry m = { "none", "/proc", "no-such-fs", 0, NULL, 0555, 0 };

	ASSERT_EQ(mount_entry_apply(&m, &err), MOUNT_ALREADY);
}

TEST(mount_entry_mounts_creates_mount_point_and_reports_errors)
{
	char target[PATH_MAX];
	struct error err = { 0 };
	struct statfs sfs;
	struct stat st;

	if (!private_mounts()) {
		TAP_DIAG("skipped: needs CAP_SYS_ADMIN for a private mount namespace");
		return;
	}
	make_tmpdir();
	snprintf(target, sizeof(target), "%s/x/tmp", tmpdir);
	const struct mount_entry m = { "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777",
				       0755, 0 };
	ASSERT_EQ(mount_entry_apply(&m, &err), MOUNT_DONE);
	ASSERT_EQ(statfs(target, &sfs), 0);
	ASSERT_EQ(sfs.f_type, TMPFS_MAGIC);
	ASSERT_EQ(stat(target, &st), 0);
	ASSERT_EQ(st.st_mode & 07777, 01777);
	/* Second run: already mounted, not stacked. */
	ASSERT_EQ(mount_entry_apply(&m, &err), MOUNT_ALREADY);

	/* Options the kernel refuses: a clear error, or a retry without. */
	snprintf(target, sizeof(target), "%s/y", tmpdir);
	const struct mount_entry bad = { "tmpfs", target, "tmpfs", 0, "no_such_option", 0755, 0 };
	ASSERT_EQ(mount_entry_apply(&bad, &err), -EINVAL);
	ASSERT_TRUE(strstr(error_text(&err), target) != NULL);
	ASSERT_TRUE(strstr(error_text(&err), "no_such_option") != NULL);
	struct mount_entry lenient = bad;
	lenient.opts = MOUNT_OPT_DATA_OPTIONAL;
	ASSERT_EQ(mount_entry_apply(&lenient, &err), MOUNT_DONE_NO_DATA);
	ASSERT_EQ(is_mountpoint(target, &err), 1);
	umount2(target, MNT_DETACH);
	snprintf(target, sizeof(target), "%s/x/tmp", tmpdir);
	umount2(target, MNT_DETACH);
	rm_tmpdir();
}

TEST(symlink_entry_creates_and_tolerates_existing)
{
	char link[PATH_MAX], got[PATH_MAX];
	struct error err = { 0 };

	make_tmpdir();
	snprintf(link, sizeof(link), "%s/fd", tmpdir);
	const struct symlink_entry s = { "/proc/self/fd", link };
	ASSERT_EQ(symlink_entry_apply(&s, &err), 0);
	ssize_t n = readlink(link, got, sizeof(got) - 1);
	ASSERT_GT(n, 0);
	got[n] = '\0';
	ASSERT_STREQ(got, "/proc/self/fd");
	ASSERT_EQ(symlink_entry_apply(&s, &err), 0);

	snprintf(link, sizeof(link), "%s/missing/fd", tmpdir);
	const struct symlink_entry bad = { "/proc/self/fd", link };
	ASSERT_EQ(symlink_entry_apply(&bad, &err), -ENOENT);
	rm_tmpdir();
}

TEST(overlay_rejects_bad_directories)
{
	struct error err = { 0 };

	make_tmpdir();
	ASSERT_EQ(overlay_make_writable("etc", tmpdir, &err), -EINVAL);
	ASSERT_EQ(overlay_make_writable("/e,tc", tmpdir, &err), -EINVAL);
	ASSERT_EQ(overlay_make_writable("/etc", "/run/a:b", &err), -EINVAL);
	ASSERT_EQ(overlay_make_writable("/nonexistent-dir", tmpdir, &err), -ENOENT);
	ASSERT_EQ(overlay_make_writable("/proc/self/stat", tmpdir, &err), -ENOTDIR);
	rm_tmpdir();
}

TEST(overlay_makes_a_read_only_directory_writable)
{
	char lower[128], state[128], path[PATH_MAX];
	struct error err = { 0 };
	struct stat st;

	if (!private_mounts()) {
		TAP_DIAG("skipped: needs CAP_SYS_ADMIN for a private mount namespace");
		return;
	}
	make_tmpdir();
	snprintf(lower, sizeof(lower), "%s/etc", tmpdir);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	ASSERT_EQ(mkdir(lower, 0751), 0);
	ASSERT_EQ(chmod(lower, 0751), 0);
	snprintf(path, sizeof(path), "%s/hostname", lower);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "old\n", 4), 4);
	close(fd);
	/* Read-only, like /etc on a pmem root. */
	ASSERT_EQ(mount(lower, lower, NULL, MS_BIND, NULL), 0);
	ASSERT_EQ(mount(NULL, lower, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
	ASSERT_LT(open(path, O_WRONLY | O_CLOEXEC), 0);
	ASSERT_EQ(errno, EROFS);
	/* The state dir lives on a tmpfs, as /run does in the VM. */
	ASSERT_EQ(mkdir(state, 0755), 0);
	ASSERT_EQ(mount("tmpfs", state, "tmpfs", 0, NULL), 0);

	ASSERT_EQ(overlay_make_writable(lower, state, &err), 0);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "new\n", 4), 4);
	close(fd);
	/* The old content was visible through it, the root kept its mode. */
	ASSERT_EQ(stat(lower, &st), 0);
	ASSERT_EQ(st.st_mode & 07777, 0751);
	/* The write landed in the upper directory under state/<dir>. */
	snprintf(path, sizeof(path), "%s%s/upper/hostname", state, lower);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_size, 4);
	umount2(lower, MNT_DETACH);
	umount2(lower, MNT_DETACH);
	umount2(state, MNT_DETACH);
	rm_tmpdir();
}

TEST(cgroup_controller_selection)
{
	const char *out[8];

	size_t n = cgroup_select_controllers("cpuset cpu io memory hugetlb pids rdma misc\n", out, 8);
	ASSERT_EQ(n, 5);
	EXPECT_STREQ(out[0], "cpuset");
	EXPECT_STREQ(out[1], "cpu");
	EXPECT_STREQ(out[2], "io");
	EXPECT_STREQ(out[3], "memory");
	EXPECT_STREQ(out[4], "pids");

	/* Whole words only: "cpuset" does not make "cpu" available. */
	n = cgroup_select_controllers("cpuset memoryx\n", out, 8);
	ASSERT_EQ(n, 1);
	EXPECT_STREQ(out[0], "cpuset");

	ASSERT_EQ(cgroup_select_controllers("", out, 8), 0);
	ASSERT_EQ(cgroup_select_controllers("\n", out, 8), 0);
	ASSERT_EQ(cgroup_select_controllers(NULL, out, 8), 0);
	ASSERT_EQ(cgroup_select_controllers("pids memory", out, 1), 1);
	EXPECT_STREQ(out[0], "memory");
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		perror(path);
	if (fd >= 0)
		close(fd);
}

TEST(cgroup_enable_writes_each_controller_and_reports_failure)
{
	char enabled[64], path[PATH_MAX];
	struct error err = { 0 };

	make_tmpdir();
	write_file(tmpdir, "cgroup.controllers", "memory pids rdma\n");
	write_file(tmpdir, "cgroup.subtree_control", "");
	ASSERT_EQ(cgroup_enable_controllers(tmpdir, enabled, sizeof(enabled), &err), 2);
	ASSERT_STREQ(enabled, "memory pids");

	/* A subtree_control that cannot be written: an error naming it. */
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", tmpdir);
	ASSERT_EQ(unlink(path), 0);
	ASSERT_EQ(mkdir(path, 0755), 0);
	ASSERT_EQ(cgroup_enable_controllers(tmpdir, enabled, sizeof(enabled), &err), -EISDIR);
	ASSERT_STREQ(enabled, "");
	ASSERT_TRUE(strstr(error_text(&err), "enable memory") != NULL);
	rm_tmpdir();

	error_clear(&err);
	ASSERT_EQ(cgroup_enable_controllers("/nonexistent", enabled, sizeof(enabled), &err), -ENOENT);
}

TEST(nofile_target_parses_nr_open)
{
	ASSERT_EQ(nofile_target("1048576\n"), 1048576);
	ASSERT_EQ(nofile_target("2097152"), 2097152);
	ASSERT_EQ(nofile_target(NULL), NOFILE_FALLBACK);
	ASSERT_EQ(nofile_target(""), NOFILE_FALLBACK);
	ASSERT_EQ(nofile_target("0\n"), NOFILE_FALLBACK);
	ASSERT_EQ(nofile_target("-5"), NOFILE_FALLBACK);
	ASSERT_EQ(nofile_target("12ab"), NOFILE_FALLBACK);
	ASSERT_EQ(nofile_target("99999999999999999999999999"), NOFILE_FALLBACK);
}

/* Does this process have capability cap in its effective set? */
static int has_cap(int cap)
{
	char buf[4096];
	struct error err = { 0 };

	if (read_text_file("/proc/self/status", buf, sizeof(buf), &err) < 0)
		return 0;
	const char *p = strstr(buf, "CapEff:");
	if (!p)
		return 0;
	unsigned long long eff = strtoull(p + 7, NULL, 16);
	return (eff >> cap) & 1;
}

TEST(nofile_raise_sets_the_limit_from_nr_open)
{
	struct error err = { 0 };
	struct rlimit rl;
	char text[32];
	unsigned long got = 0;

	ASSERT_GE(read_text_file("/proc/sys/fs/nr_open", text, sizeof(text), &err), 0);
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (!has_cap(24 /* CAP_SYS_RESOURCE */) && nofile_target(text) > rl.rlim_max) {
		/* Not allowed to raise the hard limit: says so, changes nothing. */
		ASSERT_EQ(nofile_raise(&got, &err), -EPERM);
		ASSERT_TRUE(strstr(error_text(&err), "setrlimit") != NULL);
		ASSERT_EQ(got, 0);
		TAP_DIAG("no CAP_SYS_RESOURCE: checked the failure path only");
		return;
	}
	ASSERT_EQ(nofile_raise(&got, &err), 0);
	ASSERT_EQ(got, nofile_target(text));
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ASSERT_EQ(rl.rlim_cur, got);
	ASSERT_EQ(rl.rlim_max, got);
}

TEST(stdio_hold_and_fill_closed_descriptors_only)
{
	struct error err = { 0 };
	struct stat null_st, st0, st2, st1_before, st1_after;
	int saved0 = fcntl(0, F_DUPFD_CLOEXEC, 10);
	int saved2 = fcntl(2, F_DUPFD_CLOEXEC, 10);

	ASSERT_EQ(stat("/dev/null", &null_st), 0);
	ASSERT_EQ(fstat(1, &st1_before), 0);
	ASSERT_EQ(stdio_hold_closed(&err), 0);
	ASSERT_EQ(stdio_fill(0, "/dev/null", &err), 0);

	close(0);
	close(2);
	int held = stdio_hold_closed(&err);
	/* What init opens next must not land on 0 or 2. */
	int early = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int filled = stdio_fill((unsigned)held, "/dev/null", &err);
	int ok0 = fstat(0, &st0) == 0 && fcntl(0, F_GETFD) == 0;
	int ok2 = fstat(2, &st2) == 0 && fcntl(2, F_GETFD) == 0;
	int ok1 = fstat(1, &st1_after) == 0;
	int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	dup2(saved2, 2);
	dup2(saved0, 0);

	ASSERT_EQ(held, 5); /* fds 0 and 2 */
	ASSERT_GT(early, 2);
	ASSERT_EQ(filled, 2);
	ASSERT_TRUE(ok0 && S_ISCHR(st0.st_mode) && st0.st_rdev == null_st.st_rdev);
	ASSERT_TRUE(ok2 && S_ISCHR(st2.st_mode) && st2.st_rdev == null_st.st_rdev);
	/* fd 1 was open: left alone. */
	ASSERT_TRUE(ok1 && st1_after.st_ino == st1_before.st_ino);
	/* The tty fd was closed again: the next open takes its slot. */
	ASSERT_EQ(probe, early + 1);
	close(probe);
	close(early);

	ASSERT_EQ(stdio_fill(2, "/nonexistent/tty", &err), -ENOENT);
	ASSERT_TRUE(strstr(error_text(&err), "/nonexistent/tty") != NULL);
}

TEST(netif_up_brings_loopback_up)
{
	struct error err = { 0 };
	struct ifreq ifr = { 0 };

	if (unshare(CLONE_NEWNET) < 0) {
		TAP_DIAG("skipped: needs CAP_SYS_ADMIN for a network namespace");
		return;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	strcpy(ifr.ifr_name, "lo");
	ASSERT_EQ(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ASSERT_FALSE(ifr.ifr_flags & IFF_UP); /* a new namespace's lo is down */
	ASSERT_EQ(netif_up("lo", &err), 0);
	ASSERT_EQ(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ASSERT_TRUE(ifr.ifr_flags & IFF_UP);
	ASSERT_EQ(netif_up("lo", &err), 0); /* already up: fine */
	close(fd);

	ASSERT_EQ(netif_up("nosuchif0", &err), -ENODEV);
	ASSERT_TRUE(strstr(error_text(&err), "nosuchif0") != NULL);
	ASSERT_EQ(netif_up("a-name-far-too-long-for-ifnamsiz", &err), -ENAMETOOLONG);
}

TEST(entropy_failure_is_an_error_not_a_crash)
{
	struct error err = { 0 };
	size_t got = 99;

	/* No vsock host here: whatever the reason, a clean error. */
	int r = entropy_from_host(1, &got, &err);
	ASSERT_LT(r, 0);
	ASSERT_EQ(got, 0);
	ASSERT_TRUE(strstr(error_text(&err), "vsock") != NULL);
}

/* A stand-in for the host's end: a non-blocking unix socket pair. */
static int entropy_on_socketpair(struct entropy_read *e, int *host)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	memset(e, 0, sizeof(*e));
	e->fd = sv[0];
	e->port = 1;
	e->deadline_ms = monotonic_ms() + ENTROPY_TIMEOUT_MS;
	*host = sv[1];
	return 0;
}

TEST(entropy_read_waits_for_more_without_blocking)
{
	struct entropy_read e;
	struct error err = { 0 };
	size_t got = 99;
	int host;

	ASSERT_EQ(entropy_on_socketpair(&e, &host), 0);
	ASSERT_EQ(entropy_events(&e), POLLIN);
	/* Nothing yet, then part of it: not done, and no blocking read. */
	ASSERT_EQ(entropy_continue(&e, &got, &err), 1);
	ASSERT_EQ(write(host, "0123456789", 10), 10);
	ASSERT_EQ(entropy_continue(&e, &got, &err), 1);
	ASSERT_EQ(e.len, 10);
	ASSERT_EQ(got, 0);
	ASSERT_GE(e.fd, 0);
	entropy_end(&e);
	ASSERT_EQ(e.fd, -1);
	close(host);
}

TEST(entropy_read_fails_cleanly_on_close_without_data_and_on_timeout)
{
	struct entropy_read e;
	struct error err = { 0 };
	size_t got = 99;
	int host;

	ASSERT_EQ(entropy_on_socketpair(&e, &host), 0);
	close(host);
	ASSERT_EQ(entropy_continue(&e, &got, &err), -ENODATA);
	ASSERT_EQ(e.fd, -1);
	ASSERT_EQ(got, 0);

	ASSERT_EQ(entropy_on_socketpair(&e, &host), 0);
	ASSERT_EQ(write(host, "abc", 3), 3);
	e.deadline_ms = monotonic_ms() - 1;
	ASSERT_EQ(entropy_left_ms(&e), 0);
	error_clear(&err);
	ASSERT_EQ(entropy_continue(&e, &got, &err), -ETIMEDOUT);
	ASSERT_TRUE(strstr(error_text(&err), "3 bytes so far") != NULL);
	ASSERT_EQ(e.fd, -1);
	close(host);

	/* Not started (or already finished): an error, not a crash. */
	error_clear(&err);
	ASSERT_EQ(entropy_continue(&e, &got, &err), -EBADF);
}

TEST(entropy_left_ms_is_bounded)
{
	struct entropy_read e = { .fd = -1 };

	e.deadline_ms = monotonic_ms() + 1000;
	ASSERT_GT(entropy_left_ms(&e), 0);
	ASSERT_LE(entropy_left_ms(&e), 1000);
	/* A clock step never makes the wait longer than the timeout. */
	e.deadline_ms = monotonic_ms() + 10LL * ENTROPY_TIMEOUT_MS;
	ASSERT_EQ(entropy_left_ms(&e), ENTROPY_TIMEOUT_MS);
	e.connecting = true;
	ASSERT_EQ(entropy_events(&e), POLLOUT);
}

TEST(read_and_write_text_file)
{
	char path[PATH_MAX], buf[8];
	struct error err = { 0 };

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/f", tmpdir);
	write_file(tmpdir, "f", "");
	ASSERT_EQ(write_text_file(path, "hello world", &err), 0);
	/* Truncated to the buffer, always terminated. */
	ASSERT_EQ(read_text_file(path, buf, sizeof(buf), &err), 7);
	ASSERT_STREQ(buf, "hello w");
	ASSERT_EQ(read_text_file(path, buf, 0, &err), -EINVAL);
	rm_tmpdir();
	ASSERT_EQ(write_text_file(path, "x", &err), -ENOENT);
}

TAP_MAIN()
