/* SPDX-License-Identifier: MIT */
/*
 * The file systems PID 1 sets up, as const tables, and the helpers that apply
 * them.  Helpers return 0 / a negative errno and fill err; init logs.
 */
#ifndef INIT_MOUNTS_H
#define INIT_MOUNTS_H

#include <stddef.h>
#include <sys/types.h>

#include "lcow/error.h"
#include "lcow/fs.h"

/* mount_entry.opts */
#define MOUNT_OPT_BUSY_OK 0x1		/* EBUSY means "already there" */
#define MOUNT_OPT_DATA_OPTIONAL 0x2	/* EINVAL with data: retry without */

struct mount_entry {
	const char *source;
	const char *target;	/* absolute; its parent is mounted earlier */
	const char *fstype;
	unsigned long flags;	/* MS_* */
	const char *data;
	mode_t dir_mode;	/* for creating a missing mount point */
	unsigned opts;		/* MOUNT_OPT_* */
};

struct symlink_entry {
	const char *target;	/* what the link points to */
	const char *linkpath;
};

extern const struct mount_entry init_mounts[];
extern const size_t init_mounts_count;
extern const struct symlink_entry init_symlinks[];
extern const size_t init_symlinks_count;

/* What mount_entry_apply() did, when it succeeded. */
enum mount_result {
	MOUNT_DONE = 0,
	MOUNT_ALREADY = 1,	/* something is mounted there already: left alone */
	MOUNT_DONE_NO_DATA = 2,	/* mounted, but without m->data (kernel refused it) */
};

/* 1 if path is the root of a mount (its device differs from its parent's),
 * 0 if not, negative errno. */
int is_mountpoint(const char *path, struct error *err);

/* Create the mount point and mount m unless something is mounted there
 * already.  Returns an enum mount_result or a negative errno. */
int mount_entry_apply(const struct mount_entry *m, struct error *err);

/* symlink(), fine if linkpath exists (as anything: devtmpfs may already have
 * made /dev/ptmx a device node). */
int symlink_entry_apply(const struct symlink_entry *s, struct error *err);

/* Make dir writable: an overlay with dir itself as the lower layer and an
 * upper and work directory under state_dir/<dir> (state_dir on a tmpfs).  The
 * upper directory copies dir's owner and mode, so the overlay's root looks
 * like dir did. */
int overlay_make_writable(const char *dir, const char *state_dir, struct error *err);

#endif
