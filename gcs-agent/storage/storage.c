/* SPDX-License-Identifier: MIT */
/*
 * The storage resources, as hcsshim's guest does them
 * (internal/guest/storage/{pmem,scsi,plan9}, runtime/hcsv2/uvm.go):
 *
 *   VPMemDevice Add      mount /dev/pmemN ext4, MS_RDONLY, "noload"
 *   MappedVirtualDisk    find host:0:0:lun in sysfs (controller -> SCSI host
 *     Add                through VMBus, or the virtio-scsi order), detect
 *                        ext4, format when EnsureFilesystem asks, mount rw
 *                        or MS_RDONLY + "noload", apply Options, grow ext4
 *                        to a disk the host made larger
 *   MappedDirectory Add  dial vsock CID 2:Port, mount 9p over that fd
 *   ... Remove           unmount (every stacked layer), rmdir the mount point
 *   SCSIDevice Remove    write "1" to the disk's sysfs `delete`
 *
 * A request runs as an operation (struct storage_op) through steps that
 * either finish or say what they wait for: a device (re-run on uevents,
 * bounded by a timer) or a child (mkfs, its pidfd).  The async driver
 * waits in the agent's loop; the sync driver waits with poll().
 */
#include "storage/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "protocol/json.h"
#include "storage/devices.h"
#include "storage/mountopt.h"
#include "storage/tool.h"
#include "storage/uevent.h"

#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 8
#endif

enum mount_kind {
	KIND_PMEM,
	KIND_SCSI,
	KIND_PLAN9,
};

static const char *const kind_names[] = {
	[KIND_PMEM] = "VPMemDevice",
	[KIND_SCSI] = "MappedVirtualDisk",
	[KIND_PLAN9] = "MappedDirectory",
};

/* What storage put somewhere: the registry behind Remove and DumpStacks. */
struct storage_mount {
	struct storage_mount *next;
	enum mount_kind kind;
	char *path;
	char source[96];	/* /dev/sdb, /dev/pmem0, vsock:564/share */
	bool read_only;
	bool symlink;		/* MappedVirtualDisk BlockDev */
	unsigned controller, lun;
	char note[160];		/* e.g. "grown from N to M blocks" */
};

enum op_state {
	OP_LOOKUP,	/* find the device; may wait for it */
	OP_PREPARE,	/* look at what is on it; may start mkfs */
	OP_FORMAT,	/* mkfs running */
	OP_MOUNT,
};

/* What a step asks of its driver. */
enum step_result {
	STEP_DONE,	/* finished: op->r and op->err tell how */
	STEP_WAIT_DEVICE,
	STEP_WAIT_CHILD,
	STEP_NEXT,	/* internal to op_step(): go on with op->state */
};

struct storage_op {
	struct storage_op *next;
	struct storage *st;
	enum mount_kind kind;
	enum op_state state;
	/* The request, copied. */
	char *mount_path;
	uint32_t pmem;
	unsigned controller, lun;
	uint64_t partition;
	bool read_only, ensure_filesystem, block_dev;
	char *filesystem;
	char **options;		/* NULL-terminated */
	/* Progress. */
	unsigned host;
	char device[64];
	struct devices_ext_info ext;
	struct tool tool;
	struct loop_source tool_src;
	struct loop_timer timer;
	struct timespec deadline;
	bool waiting_device;
	/* Result. */
	int r;
	struct error err;
	storage_done_fn done;
	void *arg;
};

struct storage {
	struct loop *loop;
	char root[256];
	unsigned wait_ms;
	struct storage_mount *mounts;
	struct storage_op *ops;
	size_t n_ops;
	int uevent_fd;
	struct loop_source uevent_src;
};

/* ---------------------------------------------------------------------- */

int storage_new_config(struct loop *loop, const struct storage_config *cfg, struct storage **out,
		       struct error *err)
{
	struct storage *st = calloc(1, sizeof(*st));
	if (!st)
		return error_set(err, ENOMEM, "storage");
	st->loop = loop;
	st->uevent_fd = -1;
	st->wait_ms = STORAGE_DEVICE_WAIT_MS;
	if (cfg) {
		if (cfg->root && strlen(cfg->root) >= sizeof(st->root)) {
			free(st);
			return error_setx(err, ENAMETOOLONG, "storage root too long");
		}
		if (cfg->root)
			snprintf(st->root, sizeof(st->root), "%s", cfg->root);
		if (cfg->device_wait_ms)
			st->wait_ms = cfg->device_wait_ms;
	}
	*out = st;
	return 0;
}

int storage_new(struct loop *loop, struct storage **out, struct error *err)
{
	return storage_new_config(loop, NULL, out, err);
}

static void op_free(struct storage_op *op);

static void uevent_release(struct storage *st)
{
	if (st->uevent_src.added)
		loop_remove(&st->uevent_src);
	if (st->uevent_fd >= 0)
		close(st->uevent_fd);
	st->uevent_fd = -1;
}

void storage_free(struct storage *st)
{
	if (!st)
		return;
	while (st->ops) {
		struct storage_op *op = st->ops;
		st->ops = op->next;
		op_free(op);
	}
	uevent_release(st);
	while (st->mounts) {
		struct storage_mount *m = st->mounts;
		st->mounts = m->next;
		free(m->path);
		free(m);
	}
	free(st);
}

/* ---------------------------------------------------------------------- */
/* The registry. */

static struct storage_mount *find_mount(struct storage *st, const char *path)
{
	for (struct storage_mount *m = st->mounts; m; m = m->next)
		if (strcmp(m->path, path) == 0)
			return m;
	return NULL;
}

static bool op_targets(const struct storage *st, const char *path)
{
	for (const struct storage_op *op = st->ops; op; op = op->next)
		if (op->mount_path && strcmp(op->mount_path, path) == 0)
			return true;
	return false;
}

static int add_mount(struct storage *st, enum mount_kind kind, const char *path,
		     const char *source, bool read_only, struct storage_mount **out,
		     struct error *err)
{
	struct storage_mount *m = calloc(1, sizeof(*m));
	if (!m || !(m->path = strdup(path))) {
		free(m);
		return error_set(err, ENOMEM, "register mount");
	}
	m->kind = kind;
	snprintf(m->source, sizeof(m->source), "%s", source);
	m->read_only = read_only;
	/* Append: DumpStacks lists them in the order they were made. */
	struct storage_mount **pp = &st->mounts;
	while (*pp)
		pp = &(*pp)->next;
	*pp = m;
	if (out)
		*out = m;
	return 0;
}

static void remove_mount(struct storage *st, struct storage_mount *m)
{
	for (struct storage_mount **pp = &st->mounts; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			free(m->path);
			free(m);
			return;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Mount points. */

/* mkdir -p path (0700, as hcsshim), refusing to follow a symlink anywhere
 * on the way, and return an O_PATH fd of the final directory: the mount
 * goes onto that fd (/proc/self/fd/N), so nothing can swap a component
 * between the check and the mount.  *created: the last component was made
 * here (remove it if the mount fails). */
static int open_mount_dir(const char *root, const char *path, int *out, bool *created,
			  struct error *err)
{
	*created = false;
	char start[300];
	snprintf(start, sizeof(start), "%s/", root);
	_cleanup_close_ int dir = open(start, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return error_set(err, errno, "open %s", start);
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return error_set(err, ENOMEM, "mount path");
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		bool last = save == NULL || *save == '\0';
		if (mkdirat(dir, c, 0700) == 0) {
			if (last)
				*created = true;
		} else if (errno != EEXIST) {
			return error_set(err, errno, "mkdir %s", path);
		}
		int next = openat(dir, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				return error_setx(err, ENOTDIR,
						  "mount path %s: `%s` is not a directory (or is a symlink)",
						  path, c);
			return error_set(err, errno, "open %s", path);
		}
		close(dir);
		dir = next;
	}
	*out = TAKE_FD(dir);
	return 0;
}

static void fd_path(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/* Remove a mount point storage made, if empty. */
static void remove_mount_dir(const char *root, const char *path)
{
	char full[PATH_MAX + 256];
	snprintf(full, sizeof(full), "%s%s", root, path);
	rmdir(full);
}

/* Peel every mount stacked on path (hcsshim's UnmountPath loop), then
 * remove the directory when it is empty.  A path that does not exist is
 * success: Remove is idempotent, as in hcsshim. */
static int unmount_path(const char *root, const char *path, struct error *err)
{
	char full[PATH_MAX + 256];
	snprintf(full, sizeof(full), "%s%s", root, path);
	struct stat stt;
	if (lstat(full, &stt) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, errno, "stat %s", path);
	}
	if (S_ISDIR(stt.st_mode)) {
		/* The data reaches the disk before the host takes it away. */
		int fd = open(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			syncfs(fd);
			close(fd);
		}
	}
	for (int i = 0; i < 8; i++) {
		if (umount2(full, UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL)
			break;	/* nothing (more) mounted there */
		return error_set(err, errno, "unmount %s", path);
	}
	if (rmdir(full) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
		return error_set(err, errno, "remove mount point %s", path);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Operations. */

static void op_free(struct storage_op *op)
{
	if (op->tool_src.added)
		loop_remove(&op->tool_src);
	tool_release(&op->tool);
	if (op->timer.src.added)
		loop_timer_fini(&op->timer);
	free(op->mount_path);
	free(op->filesystem);
	if (op->options) {
		for (char **o = op->options; *o; o++)
			free(*o);
		free(op->options);
	}
	free(op);
}

static int op_new(struct storage *st, const struct msg_modify *m, struct storage_op **out,
		  struct error *err)
{
	struct storage_op *op = calloc(1, sizeof(*op));
	if (!op)
		return error_set(err, ENOMEM, "storage request");
	op->st = st;
	op->tool = (struct tool)TOOL_INIT;
	op->state = OP_LOOKUP;
	const char *path = NULL;
	switch (m->resource) {
	case MSG_RESOURCE_VPMEM_DEVICE:
		op->kind = KIND_PMEM;
		op->pmem = m->vpmem.device_number;
		op->read_only = true;
		path = m->vpmem.mount_path;
		break;
	case MSG_RESOURCE_MAPPED_VIRTUAL_DISK:
		op->kind = KIND_SCSI;
		op->controller = m->mvd.controller;
		op->lun = m->mvd.lun;
		op->partition = m->mvd.partition;
		op->read_only = m->mvd.read_only;
		op->ensure_filesystem = m->mvd.ensure_filesystem;
		op->block_dev = m->mvd.block_dev;
		path = m->mvd.mount_path;
		if (m->mvd.filesystem && *m->mvd.filesystem &&
		    !(op->filesystem = strdup(m->mvd.filesystem)))
			goto oom;
		size_t n = m->mvd.options ? json_array_size(m->mvd.options) : 0;
		op->options = calloc(n + 1, sizeof(char *));
		if (!op->options)
			goto oom;
		for (size_t i = 0; i < n; i++) {
			const char *s = json_string_value(json_array_get(m->mvd.options, i));
			if (!(op->options[i] = strdup(s ? s : "")))
				goto oom;
		}
		break;
	default:
		free(op);
		return error_setx(err, EOPNOTSUPP, "%s is not a storage resource",
				  m->resource_type);
	}
	if (path && *path && !(op->mount_path = strdup(path)))
		goto oom;
	*out = op;
	return 0;
oom:
	op_free(op);
	return error_set(err, ENOMEM, "storage request");
}

static enum step_result op_fail(struct storage_op *op, int r)
{
	op->r = r < 0 ? r : -EIO;
	return STEP_DONE;
}

static enum step_result op_ok(struct storage_op *op)
{
	op->r = 0;
	return STEP_DONE;
}

static int lookup(struct storage_op *op)
{
	struct storage *st = op->st;
	if (op->kind == KIND_PMEM)
		return devices_pmem(st->root, op->pmem, op->device, sizeof(op->device), &op->err);
	return devices_scsi_block(st->root, op->host, op->lun, op->partition, op->device,
				  sizeof(op->device), &op->err);
}

/* Where the mkfs for EnsureFilesystem lives, if the image has one.  A
 * busybox mke2fs only makes ext2 and takes no -t: not good enough. */
static int find_mkfs(const char *root, char *path, size_t size)
{
	static const char *const candidates[] = {
		"/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4", "/sbin/mke2fs", "/usr/sbin/mke2fs",
	};
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		char full[PATH_MAX];
		snprintf(full, sizeof(full), "%s%s", root, candidates[i]);
		if (access(full, X_OK) < 0)
			continue;
		char target[PATH_MAX];
		ssize_t n = readlink(full, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strstr(target, "busybox"))
				continue;
		}
		snprintf(path, size, "%s", full);
		return 0;
	}
	return -ENOENT;
}

static enum step_result prepare(struct storage_op *op)
{
	struct storage *st = op->st;
	char dev[PATH_MAX];
	snprintf(dev, sizeof(dev), "%s%s", st->root, op->device);
	_cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return op_fail(op, error_set(&op->err, errno, "open %s", op->device));
	int r = devices_ext_probe(fd, &op->ext, &op->err);
	if (r < 0)
		return op_fail(op, error_prefix(&op->err, r, "%s", op->device));
	if (op->kind == KIND_PMEM) {
		op->state = OP_MOUNT;
		return STEP_NEXT;
	}
	const char *fs = op->filesystem;
	if (op->ensure_filesystem) {
		/* hcsshim formats whenever what is there is not what was asked,
		 * and knows ext4 and xfs; this image can make ext4 only. */
		if (!fs || strcmp(fs, "ext4") != 0)
			return op_fail(op, error_setx(&op->err, EOPNOTSUPP,
						      "unsupported filesystem `%s` requested for %s",
						      fs ? fs : "", op->device));
		if (!op->ext.is_ext) {
			char mkfs[PATH_MAX];
			if (find_mkfs(st->root, mkfs, sizeof(mkfs)) < 0)
				return op_fail(op, error_setx(&op->err, EOPNOTSUPP,
							      "%s has no file system and the "
							      "utility VM has no mkfs.ext4 to "
							      "make one (EnsureFilesystem)",
							      op->device));
			char *argv[] = { "mkfs.ext4", "-q", "-F", "-t", "ext4", dev, NULL };
			r = tool_start(&op->tool, mkfs, argv, &op->err);
			if (r < 0)
				return op_fail(op, r);
			op->state = OP_FORMAT;
			return STEP_WAIT_CHILD;
		}
	}
	if (!op->ext.is_ext && !fs)
		return op_fail(op, error_setx(&op->err, EMEDIUMTYPE,
					      "%s: no ext4 file system found and none named",
					      op->device));
	op->state = OP_MOUNT;
	return STEP_NEXT;
}

/* A disk the host grew (lcow-disk resize without the offline resize2fs,
 * or Hyper-V expanding the VHD) gets its ext4 grown online, the way
 * resize2fs does it on a mounted file system: EXT4_IOC_RESIZE_FS. */
static void grow_ext4(struct storage_op *op, const char *dev, struct storage_mount *m)
{
	if (!op->ext.is_ext || op->read_only || !op->ext.block_size)
		return;
	_cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC);
	uint64_t bytes = 0;
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &bytes) < 0)
		return;
	uint64_t blocks = bytes / op->ext.block_size;
	if (blocks <= op->ext.blocks)
		return;
	/* By path: the O_PATH fd of the mount point names the directory
	 * under the mount, not the file system on top of it. */
	char p[PATH_MAX + 256];
	snprintf(p, sizeof(p), "%s%s", op->st->root, op->mount_path);
	_cleanup_close_ int mfd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (mfd >= 0 && ioctl(mfd, EXT4_IOC_RESIZE_FS, &blocks) == 0)
		snprintf(m->note, sizeof(m->note), "grown from %" PRIu64 " to %" PRIu64 " blocks",
			 op->ext.blocks, blocks);
	else
		snprintf(m->note, sizeof(m->note), "not grown to %" PRIu64 " blocks: %s", blocks,
			 strerror(errno));
}

static enum step_result do_mount(struct storage_op *op)
{
	struct storage *st = op->st;
	char dev[PATH_MAX];
	snprintf(dev, sizeof(dev), "%s%s", st->root, op->device);
	const char *path = op->mount_path;

	if (op->block_dev) {
		/* BlockDev: the mount path becomes a symlink to the device. */
		char full[PATH_MAX + 256];
		snprintf(full, sizeof(full), "%s%s", st->root, path);
		_cleanup_free_ char *parent = strdup(path);
		if (!parent)
			return op_fail(op, error_set(&op->err, ENOMEM, "mount path"));
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			int dfd;
			bool created;
			int r = open_mount_dir(st->root, parent, &dfd, &created, &op->err);
			if (r < 0)
				return op_fail(op, r);
			close(dfd);
		}
		if (symlink(op->device, full) < 0)
			return op_fail(op, error_set(&op->err, errno, "symlink %s", path));
		struct storage_mount *m;
		int r = add_mount(st, KIND_SCSI, path, op->device, op->read_only, &m, &op->err);
		if (r < 0) {
			unlink(full);
			return op_fail(op, r);
		}
		m->symlink = true;
		m->controller = op->controller;
		m->lun = op->lun;
		return op_ok(op);
	}

	struct mountopt mo;
	mountopt_init(&mo);
	int r;
	if (op->kind == KIND_SCSI) {
		for (char **o = op->options; o && *o; o++) {
			r = mountopt_add(&mo, *o, &op->err);
			if (r < 0)
				return op_fail(op, error_prefix(&op->err, r, "Options"));
		}
		/* The device is mounted, not bound or remounted, whatever
		 * the options say. */
		mo.flags &= ~(unsigned long)(MS_BIND | MS_REMOUNT);
	}
	if (op->read_only) {
		mo.flags |= MS_RDONLY;
		/* No journal replay: the device may be shared or read-only. */
		r = mountopt_add_data(&mo, "noload", &op->err);
		if (r < 0)
			return op_fail(op, r);
	}
	/* VPMem layers are ext4 by contract; a disk mounts as what was
	 * asked for, else as what is on it (prepare() made sure of one). */
	const char *fstype = "ext4";
	if (op->kind == KIND_SCSI && op->filesystem)
		fstype = op->filesystem;

	int dirfd;
	bool created;
	r = open_mount_dir(st->root, path, &dirfd, &created, &op->err);
	if (r < 0)
		return op_fail(op, r);
	_cleanup_close_ int dfd = dirfd;
	char target[64];
	fd_path(target, sizeof(target), dfd);
	if (mount(dev, target, fstype, mo.flags, mo.data[0] ? mo.data : NULL) < 0) {
		r = error_set(&op->err, errno, "mount %s (%s, %s%s%s) on %s", op->device, fstype,
			      op->read_only ? "ro" : "rw", mo.data[0] ? "," : "", mo.data, path);
		goto out_rmdir;
	}
	for (size_t i = 0; i < mo.n_propagation; i++) {
		if (mount(NULL, target, NULL, mo.propagation[i], NULL) < 0) {
			r = error_set(&op->err, errno, "set propagation of %s", path);
			goto out_unmount;
		}
	}
	struct storage_mount *m;
	r = add_mount(st, op->kind, path, op->device, op->read_only, &m, &op->err);
	if (r < 0)
		goto out_unmount;
	m->controller = op->controller;
	m->lun = op->lun;
	if (op->kind == KIND_SCSI)
		grow_ext4(op, dev, m);
	return op_ok(op);

out_unmount:
	umount2(target, MNT_DETACH);
out_rmdir:
	if (created)
		remove_mount_dir(st->root, path);
	return op_fail(op, r);
}

/* Run steps until the op finishes or must wait. */
static enum step_result op_step(struct storage_op *op)
{
	for (;;) {
		switch (op->state) {
		case OP_LOOKUP: {
			int r = lookup(op);
			if (r == -EAGAIN)
				return STEP_WAIT_DEVICE;
			if (r < 0)
				return op_fail(op, r);
			if (!op->mount_path)
				return op_ok(op);	/* attach only: hcsshim waits, then returns */
			op->state = OP_PREPARE;
			break;
		}
		case OP_PREPARE: {
			enum step_result s = prepare(op);
			if (s != STEP_NEXT)
				return s;
			break;
		}
		case OP_FORMAT: {
			int r = tool_reap(&op->tool, 0, &op->err);
			if (r == -EAGAIN)
				return STEP_WAIT_CHILD;
			tool_release(&op->tool);
			if (r < 0)
				return op_fail(op, error_prefix(&op->err, r, "format %s", op->device));
			/* Read what mkfs wrote. */
			op->state = OP_PREPARE;
			op->ensure_filesystem = false;
			break;
		}
		case OP_MOUNT:
			return do_mount(op);
		}
	}
}

static const char *op_what(const struct storage_op *op, char *buf, size_t size)
{
	if (op->kind == KIND_PMEM)
		snprintf(buf, size, "pmem device %" PRIu32, op->pmem);
	else
		snprintf(buf, size, "SCSI disk at controller %u LUN %u partition %" PRIu64,
			 op->controller, op->lun, op->partition);
	return buf;
}

static int wait_timeout(struct storage_op *op)
{
	char what[96];
	return error_setx(&op->err, ENOENT, "no %s after waiting %u ms", op_what(op, what,
										   sizeof(what)),
			  op->st->wait_ms);
}

/* ---------------------------------------------------------------------- */
/* Validation and the request types done in one go. */

static int check_request(const struct msg_modify *m, const char **path, struct error *err)
{
	*path = NULL;
	switch (m->resource) {
	case MSG_RESOURCE_VPMEM_DEVICE:
		*path = m->vpmem.mount_path;
		if (m->vpmem.mapping_info)
			return error_setx(err, EOPNOTSUPP,
					  "VPMem MappingInfo (several layers on one device) is not supported");
		break;
	case MSG_RESOURCE_MAPPED_VIRTUAL_DISK:
		*path = m->mvd.mount_path;
		if (m->mvd.encrypted)
			return error_setx(err, EOPNOTSUPP, "encrypted SCSI disks are not supported");
		/* An empty MountPath attaches without mounting (hcsshim). */
		if (!*path || !**path)
			return 0;
		break;
	case MSG_RESOURCE_MAPPED_DIRECTORY:
		*path = m->md.mount_path;
		break;
	default:
		return 0;
	}
	return mountopt_check_path(*path, err);
}

static int remove_resource(struct storage *st, const struct msg_modify *m, const char *path,
			   enum mount_kind kind, struct error *err)
{
	if (!path || !*path)
		return 0;
	struct storage_mount *mnt = find_mount(st, path);
	if (mnt && mnt->kind != kind)
		return error_setx(err, EINVAL, "%s is a %s mount, not a %s", path,
				  kind_names[mnt->kind], m->resource_type);
	if (op_targets(st, path))
		return error_setx(err, EBUSY, "%s is still being added", path);
	if (mnt && mnt->symlink) {
		char full[PATH_MAX + 256];
		snprintf(full, sizeof(full), "%s%s", st->root, path);
		if (unlink(full) < 0 && errno != ENOENT)
			return error_set(err, errno, "remove %s", path);
		remove_mount(st, mnt);
		return 0;
	}
	int r = unmount_path(st->root, path, err);
	if (r < 0)
		return r;
	if (mnt)
		remove_mount(st, mnt);
	return 0;
}

/* MappedDirectory Add: dial the host's Plan9 server, mount 9p on that fd.
 * Synchronous: connect() is bounded by vsock's connect timeout; mount()
 * waits for the server's Rversion/Rattach like any network file system. */
static int plan9_add(struct storage *st, const struct msg_mapped_directory *md, struct error *err)
{
	if (md->port <= 0)
		return error_setx(err, EINVAL, "invalid Plan9 port %" PRId32, md->port);
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "vsock socket");
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_HOST,
		.svm_port = (unsigned)md->port,
	};
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_set(err, errno, "could not connect to the plan9 server on vsock port %" PRId32,
				 md->port);
	int bufsize = STORAGE_9P_MSIZE;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)) < 0)
		return error_set(err, errno, "socket buffers of the plan9 connection");
	char data[512];
	int r = mountopt_9p(data, sizeof(data), fd, md->share_name, md->read_only, err);
	if (r < 0)
		return r;
	int dirfd;
	bool created;
	r = open_mount_dir(st->root, md->mount_path, &dirfd, &created, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = dirfd;
	char target[64];
	fd_path(target, sizeof(target), dfd);
	if (mount(md->mount_path, target, "9p", md->read_only ? MS_RDONLY : 0, data) < 0) {
		r = error_set(err, errno, "mount 9p share `%s` on %s", md->share_name,
			      md->mount_path);
		goto out_rmdir;
	}
	char source[96];
	snprintf(source, sizeof(source), "vsock:%" PRId32 "/%s", md->port, md->share_name);
	r = add_mount(st, KIND_PLAN9, md->mount_path, source, md->read_only, NULL, err);
	if (r < 0)
		goto out_unmount;
	return 0;

out_unmount:
	umount2(target, MNT_DETACH);
out_rmdir:
	if (created)
		remove_mount_dir(st->root, md->mount_path);
	return r;
}

static int scsi_device_remove(struct storage *st, const struct msg_modify *m, struct error *err)
{
	uint8_t controller = 0, lun = 0;
	int r;
	if (m->settings && !json_is_object(m->settings))
		return error_setx(err, EBADMSG, "SCSIDevice Settings: expected object");
	if ((r = jf_u8(m->settings, "Controller", &controller, err)) < 0 ||
	    (r = jf_u8(m->settings, "Lun", &lun, err)) < 0)
		return error_prefix(err, r, "SCSIDevice Settings");
	unsigned host;
	r = devices_scsi_host(st->root, controller, &host, err);
	if (r < 0)
		return r;
	/* A disk still mounted would be yanked from under its file system. */
	for (struct storage_mount *mnt = st->mounts; mnt; mnt = mnt->next)
		if (mnt->kind == KIND_SCSI && !mnt->symlink && mnt->controller == controller &&
		    mnt->lun == lun)
			return error_setx(err, EBUSY, "SCSI controller %u LUN %u is mounted on %s",
					  controller, lun, mnt->path);
	return devices_scsi_delete(st->root, host, lun, err);
}

bool storage_handles(const struct msg_modify *m)
{
	switch (m->resource) {
	case MSG_RESOURCE_MAPPED_VIRTUAL_DISK:
	case MSG_RESOURCE_MAPPED_DIRECTORY:
	case MSG_RESOURCE_VPMEM_DEVICE:
	case MSG_RESOURCE_SCSI_DEVICE:
		return true;
	default:
		return false;
	}
}

/* Everything that finishes without waiting.  Returns 1 when an op must
 * be started instead (*op set). */
static int modify_begin(struct storage *st, const struct msg_modify *m, struct storage_op **opp,
			struct error *err)
{
	*opp = NULL;
	if (!storage_handles(m))
		return error_setx(err, EOPNOTSUPP, "%s is not a storage resource", m->resource_type);
	if (m->request_type != MSG_REQUEST_ADD && m->request_type != MSG_REQUEST_REMOVE)
		return error_setx(err, EINVAL, "the RequestType \"%s\" is not supported",
				  m->request_type_name);
	if (m->resource == MSG_RESOURCE_SCSI_DEVICE) {
		if (m->request_type != MSG_REQUEST_REMOVE)
			return error_setx(err, EINVAL, "the RequestType \"%s\" is not supported",
					  m->request_type_name[0] ? m->request_type_name : "Add");
		return scsi_device_remove(st, m, err);
	}
	const char *path;
	int r = check_request(m, &path, err);
	if (r < 0)
		return r;
	enum mount_kind kind = m->resource == MSG_RESOURCE_VPMEM_DEVICE ? KIND_PMEM
			       : m->resource == MSG_RESOURCE_MAPPED_DIRECTORY ? KIND_PLAN9
									: KIND_SCSI;
	if (m->request_type == MSG_REQUEST_REMOVE)
		return remove_resource(st, m, path, kind, err);

	if (path && *path && (find_mount(st, path) || op_targets(st, path)))
		return error_setx(err, EEXIST, "%s is already a mount point of storage", path);
	if (kind == KIND_PLAN9)
		return plan9_add(st, &m->md, err);

	struct storage_op *op = NULL;
	r = op_new(st, m, &op, err);
	if (r < 0)
		return r;
	if (kind == KIND_SCSI) {
		r = devices_scsi_host(st->root, op->controller, &op->host, err);
		if (r < 0) {
			op_free(op);
			return r;
		}
	}
	*opp = op;
	return 1;
}

/* ---------------------------------------------------------------------- */
/* The synchronous driver. */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_sync(struct storage_op *op, struct error *err)
{
	struct storage *st = op->st;
	/* Opened before the first lookup: no event can fall in between. */
	_cleanup_close_ int ufd = uevent_open(err);
	if (ufd < 0)
		return error_prefix(err, ufd, "wait for devices");
	int64_t deadline = now_ms() + st->wait_ms;
	int64_t tool_deadline = 0;
	for (;;) {
		enum step_result s = op_step(op);
		if (s == STEP_DONE)
			break;
		if (s == STEP_WAIT_DEVICE) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				op->r = wait_timeout(op);
				break;
			}
			int r = uevent_poll(ufd, (int)left);
			if (r < 0) {
				op->r = error_set(&op->err, -r, "wait for uevents");
				break;
			}
			uevent_drain(ufd);
			continue;
		}
		/* STEP_WAIT_CHILD */
		if (!tool_deadline)
			tool_deadline = now_ms() + STORAGE_TOOL_TIMEOUT_MS;
		int64_t left = tool_deadline - now_ms();
		struct pollfd p = { .fd = op->tool.pidfd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			tool_release(&op->tool);
			op->r = error_setx(&op->err, ETIMEDOUT, "mkfs of %s took longer than %d s",
					   op->device, STORAGE_TOOL_TIMEOUT_MS / 1000);
			break;
		}
	}
	if (op->r < 0 && err)
		*err = op->err;
	return op->r;
}

int storage_modify(struct storage *st, const struct msg_modify *m, struct error *err)
{
	struct storage_op *op;
	int r = modify_begin(st, m, &op, err);
	if (r <= 0)
		return r;
	r = run_sync(op, err);
	op_free(op);
	return r;
}

/* ---------------------------------------------------------------------- */
/* The asynchronous driver. */

static void op_unlink(struct storage_op *op)
{
	struct storage *st = op->st;
	for (struct storage_op **pp = &st->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			st->n_ops--;
			break;
		}
	}
	bool any_waiting = false;
	for (struct storage_op *o = st->ops; o; o = o->next)
		any_waiting |= o->waiting_device;
	if (!any_waiting)
		uevent_release(st);
}

static void op_finish(struct storage_op *op)
{
	op_unlink(op);
	storage_done_fn done = op->done;
	void *arg = op->arg;
	int r = op->r;
	struct error err = op->err;
	op_free(op);
	if (done)
		done(arg, r, &err);
}

static void op_continue(struct storage_op *op);

static void on_uevent(struct loop_source *src, uint32_t events)
{
	(void)events;
	struct storage *st = src->data;
	uevent_drain(st->uevent_fd);
	/* Stepping may finish (and free) ops: walk with the next in hand. */
	struct storage_op *next;
	for (struct storage_op *op = st->ops; op; op = next) {
		next = op->next;
		if (op->waiting_device)
			op_continue(op);
	}
}

static void on_timeout(struct loop_timer *t)
{
	struct storage_op *op = t->data;
	if (op->state == OP_FORMAT) {
		/* mkfs overran its bound: kill it, fail the request. */
		if (op->tool_src.added)
			loop_remove(&op->tool_src);
		tool_release(&op->tool);
		op->r = error_setx(&op->err, ETIMEDOUT, "mkfs of %s took longer than %d s",
				   op->device, STORAGE_TOOL_TIMEOUT_MS / 1000);
		op_finish(op);
		return;
	}
	if (!op->waiting_device)
		return;
	/* One last look: the device may have come with the deadline. */
	op_continue(op);
	/* op may be gone now; if it still waits it is in the list. */
}

static void on_tool(struct loop_source *src, uint32_t events)
{
	(void)events;
	struct storage_op *op = src->data;
	loop_remove(&op->tool_src);
	op_continue(op);
}

static int uevent_acquire(struct storage *st, struct error *err)
{
	if (st->uevent_fd >= 0)
		return 0;
	int fd = uevent_open(err);
	if (fd < 0)
		return fd;
	st->uevent_fd = fd;
	int r = loop_add(st->loop, &st->uevent_src, fd, EPOLLIN, on_uevent, st, err);
	if (r < 0) {
		close(fd);
		st->uevent_fd = -1;
	}
	return r;
}

/* Step op and arrange its next wake-up.  Finishes it when done. */
static void op_continue(struct storage_op *op)
{
	struct storage *st = op->st;
	enum step_result s = op_step(op);
	if (s == STEP_WAIT_DEVICE) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		bool expired = now.tv_sec > op->deadline.tv_sec ||
			       (now.tv_sec == op->deadline.tv_sec &&
				now.tv_nsec >= op->deadline.tv_nsec);
		if (!expired && op->waiting_device)
			return;	/* keep waiting: the timer is armed */
		if (expired) {
			op->r = wait_timeout(op);
			op->waiting_device = false;
			op_finish(op);
			return;
		}
		op->waiting_device = true;
		int64_t ms = (int64_t)(op->deadline.tv_sec - now.tv_sec) * 1000 +
			     (op->deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (loop_timer_arm(&op->timer, ms > 0 ? (uint64_t)ms : 0, &op->err) < 0) {
			op->r = -op->err.errnum;
			op_finish(op);
		}
		return;
	}
	op->waiting_device = false;
	if (op->timer.src.added)
		loop_timer_disarm(&op->timer);
	if (s == STEP_WAIT_CHILD) {
		if (!op->tool_src.added &&
		    (loop_add(st->loop, &op->tool_src, op->tool.pidfd, EPOLLIN, on_tool, op,
			      &op->err) < 0 ||
		     loop_timer_arm(&op->timer, STORAGE_TOOL_TIMEOUT_MS, &op->err) < 0)) {
			if (op->tool_src.added)
				loop_remove(&op->tool_src);
			tool_release(&op->tool);
			op->r = -op->err.errnum;
			op_finish(op);
		}
		return;
	}
	op_finish(op);
}

int storage_modify_async(struct storage *st, const struct msg_modify *m, storage_done_fn done,
			 void *arg, struct storage_op **out, struct error *err)
{
	if (out)
		*out = NULL;
	struct storage_op *op;
	int r = modify_begin(st, m, &op, err);
	if (r <= 0)
		return r;
	/* The uevent socket first, then the first look (see uevent.h). */
	r = uevent_acquire(st, err);
	if (r < 0)
		goto out_free;
	r = loop_timer_init(st->loop, &op->timer, on_timeout, op, err);
	if (r < 0)
		goto out_free;
	enum step_result s = op_step(op);
	if (s == STEP_DONE) {
		r = op->r;
		if (r < 0 && err)
			*err = op->err;
		goto out_free;
	}
	clock_gettime(CLOCK_MONOTONIC, &op->deadline);
	op->deadline.tv_sec += st->wait_ms / 1000;
	op->deadline.tv_nsec += (long)(st->wait_ms % 1000) * 1000000L;
	if (op->deadline.tv_nsec >= 1000000000L) {
		op->deadline.tv_sec++;
		op->deadline.tv_nsec -= 1000000000L;
	}
	op->done = done;
	op->arg = arg;
	op->next = st->ops;
	st->ops = op;
	st->n_ops++;
	if (s == STEP_WAIT_DEVICE) {
		op->waiting_device = true;
		r = loop_timer_arm(&op->timer, st->wait_ms, err);
	} else {
		r = loop_add(st->loop, &op->tool_src, op->tool.pidfd, EPOLLIN, on_tool, op, err);
		if (r >= 0)
			r = loop_timer_arm(&op->timer, STORAGE_TOOL_TIMEOUT_MS, err);
	}
	if (r < 0) {
		op->done = NULL;
		op_unlink(op);
		goto out_free;
	}
	if (out)
		*out = op;
	return STORAGE_PENDING;

out_free:
	op_free(op);
	if (!st->ops)
		uevent_release(st);
	return r;
}

void storage_op_forget(struct storage_op *op)
{
	if (op) {
		op->done = NULL;
		op->arg = NULL;
	}
}

/* ---------------------------------------------------------------------- */

void storage_describe(const struct storage *st, FILE *out)
{
	size_t n = 0;
	for (const struct storage_mount *m = st->mounts; m; m = m->next)
		n++;
	fprintf(out, "storage: %zu mount(s), %zu pending\n", n, st->n_ops);
	for (const struct storage_mount *m = st->mounts; m; m = m->next)
		fprintf(out, "  %s %s on %s (%s)%s%s\n", kind_names[m->kind], m->source, m->path,
			m->symlink ? "symlink" : m->read_only ? "ro" : "rw", m->note[0] ? ": " : "",
			m->note);
	for (const struct storage_op *op = st->ops; op; op = op->next) {
		char what[96];
		fprintf(out, "  pending: %s -> %s (%s)\n", op_what(op, what, sizeof(what)),
			op->mount_path ? op->mount_path : "(no mount)",
			op->state == OP_FORMAT ? "formatting" : "waiting for the device");
	}
}
