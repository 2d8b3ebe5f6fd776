/* SPDX-License-Identifier: MIT */
#include "mounts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcow/cleanup.h"

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* Order matters: a target's parent directory's file system comes first. */
const struct mount_entry init_mounts[] = {
	/* The kernel mounts devtmpfs itself when it mounted a real root with
	 * CONFIG_DEVTMPFS_MOUNT; then /dev is already a mount point. */
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755", 0755, MOUNT_OPT_BUSY_OK },
	{ "proc", "/proc", "proc", NOSUID_NODEV_NOEXEC, NULL, 0555, 0 },
	{ "sysfs", "/sys", "sysfs", NOSUID_NODEV_NOEXEC, NULL, 0555, 0 },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755, 0 },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777, 0 },
	/* A private devpts instance; gid 5 is "tty" by convention. */
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	  "newinstance,ptmxmode=0666,mode=0620,gid=5", 0755, 0 },
	{ "shm", "/dev/shm", "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777", 01777, 0 },
	/* nsdelegate makes cgroup namespaces delegation boundaries, which is
	 * what container runtimes expect; kernels before 4.13 lack it. */
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2", NOSUID_NODEV_NOEXEC, "nsdelegate", 0555,
	  MOUNT_OPT_DATA_OPTIONAL },
};
const size_t init_mounts_count = ARRAY_SIZE(init_mounts);

const struct symlink_entry init_symlinks[] = {
	{ "/proc/self/fd", "/dev/fd" },
	{ "/proc/self/fd/0", "/dev/stdin" },
	{ "/proc/self/fd/1", "/dev/stdout" },
	{ "/proc/self/fd/2", "/dev/stderr" },
	/* Only used when there is no devtmpfs node: the devpts instance's own
	 * ptmx, which honours ptmxmode. */
	{ "pts/ptmx", "/dev/ptmx" },
};
const size_t init_symlinks_count = ARRAY_SIZE(init_symlinks);

int is_mountpoint(const char *path, struct error *err)
{
	char parent[PATH_MAX];
	struct stat st, pst;

	if (snprintf(parent, sizeof(parent), "%s/..", path) >= (int)sizeof(parent))
		return error_set(err, ENAMETOOLONG, "stat %.64s...", path);
	if (stat(path, &st) < 0)
		return error_set(err, errno, "stat %s", path);
	if (stat(parent, &pst) < 0)
		return error_set(err, errno, "stat %s", parent);
	/* "/.." is "/" itself: the root is always a mount point. */
	if (st.st_dev == pst.st_dev && st.st_ino == pst.st_ino)
		return 1;
	return st.st_dev != pst.st_dev;
}

int mount_entry_apply(const struct mount_entry *m, struct error *err)
{
	int r = mkdir_p(m->target, m->dir_mode, err);
	if (r < 0)
		return error_prefix(err, r, "mount %s", m->target);

	r = is_mountpoint(m->target, err);
	if (r < 0)
		return error_prefix(err, r, "mount %s", m->target);
	if (r > 0)
		return MOUNT_ALREADY;

	if (mount(m->source, m->target, m->fstype, m->flags, m->data) == 0)
		return MOUNT_DONE;
	if (errno == EBUSY && (m->opts & MOUNT_OPT_BUSY_OK))
		return MOUNT_ALREADY;
	if (errno == EINVAL && m->data && (m->opts & MOUNT_OPT_DATA_OPTIONAL) &&
	    mount(m->source, m->target, m->fstype, m->flags, NULL) == 0)
		return MOUNT_DONE_NO_DATA;
	return error_set(err, errno, "mount %s on %s (%s%s%s)", m->fstype, m->target, m->source,
			 m->data ? ", " : "", m->data ? m->data : "");
}

int symlink_entry_apply(const struct symlink_entry *s, struct error *err)
{
	if (symlink(s->target, s->linkpath) < 0 && errno != EEXIST)
		return error_set(err, errno, "symlink %s -> %s", s->linkpath, s->target);
	return 0;
}

int overlay_make_writable(const char *dir, const char *state_dir, struct error *err)
{
	char upper[PATH_MAX], work[PATH_MAX], data[3 * PATH_MAX + 64];
	struct stat st;
	int r;

	if (dir[0] != '/')
		return error_setx(err, EINVAL, "overlay %s: not an absolute path", dir);
	/* overlayfs splits its options at ',' and lowerdir at ':'. */
	if (strpbrk(dir, ",:") || strpbrk(state_dir, ",:"))
		return error_setx(err, EINVAL, "overlay %s: ',' or ':' in a path", dir);
	if (stat(dir, &st) < 0)
		return error_set(err, errno, "overlay %s: stat", dir);
	if (!S_ISDIR(st.st_mode))
		return error_set(err, ENOTDIR, "overlay %s", dir);

	if (snprintf(upper, sizeof(upper), "%s%s/upper", state_dir, dir) >= (int)sizeof(upper) ||
	    snprintf(work, sizeof(work), "%s%s/work", state_dir, dir) >= (int)sizeof(work))
		return error_set(err, ENAMETOOLONG, "overlay %s", dir);

	r = mkdir_p(upper, 0755, err);
	if (r >= 0)
		r = mkdir_p(work, 0700, err);
	if (r < 0)
		return error_prefix(err, r, "overlay %s", dir);
	/* The overlay's root takes its attributes from the upper directory. */
	if (chown(upper, st.st_uid, st.st_gid) < 0 || chmod(upper, st.st_mode & 07777) < 0)
		return error_set(err, errno, "overlay %s: set owner and mode of %s", dir, upper);

	snprintf(data, sizeof(data), "lowerdir=%s,upperdir=%s,workdir=%s", dir, upper, work);
	if (mount("overlay", dir, "overlay", MS_NOSUID | MS_NODEV, data) < 0)
		return error_set(err, errno, "overlay %s: mount (%s)", dir, data);
	return 0;
}
