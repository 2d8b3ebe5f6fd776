/* SPDX-License-Identifier: MIT */
/* storage_modify() and storage_modify_async() against a fake /sys and /dev
 * tree: bad requests fail cleanly, a missing disk fails after the bounded
 * wait (and the async wait never blocks the loop), a disk that appears is
 * found on the next uevent, Remove is idempotent, SCSIDevice Remove writes
 * the sysfs delete, and the mkfs runner reports status and output. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lcow/tap.h"
#include "loop.h"
#include "storage/storage.h"
#include "storage/tool.h"

/* tap.h has ASSERT_LT only; the non-fatal form. */
#define TAP_CMP_LT_(a, b) TAP_CMP_((a), <, (b), 0)

static char root[64];

static void put(const char *rel, const char *file, const char *content)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", root, rel);
	if (system(cmd) != 0)
		abort();
	if (!file)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/%s", root, rel, file);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(content, f);
	fclose(f);
}

static bool exists(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return access(path, F_OK) == 0;
}

static void setup(struct loop *l, struct storage **st, unsigned wait_ms)
{
	snprintf(root, sizeof(root), "/tmp/storage-ops-test.XXXXXX");
	if (!mkdtemp(root))
		abort();
	put("sys/class/scsi_host/host0", "proc_name", "virtio_scsi\n");
	put("dev", NULL, NULL);
	struct error err = { 0 };
	if (loop_init(l, &err) < 0)
		abort();
	struct storage_config cfg = { .root = root, .device_wait_ms = wait_ms };
	if (storage_new_config(l, &cfg, st, &err) < 0)
		abort();
}

static void teardown(struct loop *l, struct storage *st)
{
	storage_free(st);
	loop_fini(l);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		abort();
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct msg_modify scsi_req(enum msg_request_type rt, const char *path, uint8_t ctrl,
				  uint8_t lun)
{
	struct msg_modify m;
	memset(&m, 0, sizeof(m));
	m.request_type = rt;
	m.request_type_name = rt == MSG_REQUEST_REMOVE ? "Remove" : "Add";
	m.resource = MSG_RESOURCE_MAPPED_VIRTUAL_DISK;
	m.resource_type = "MappedVirtualDisk";
	m.mvd.mount_path = path;
	m.mvd.controller = ctrl;
	m.mvd.lun = lun;
	m.mvd.filesystem = "";
	return m;
}

static struct msg_modify pmem_req(enum msg_request_type rt, const char *path, uint32_t n)
{
	struct msg_modify m;
	memset(&m, 0, sizeof(m));
	m.request_type = rt;
	m.request_type_name = rt == MSG_REQUEST_REMOVE ? "Remove" : "Add";
	m.resource = MSG_RESOURCE_VPMEM_DEVICE;
	m.resource_type = "VPMemDevice";
	m.vpmem.mount_path = path;
	m.vpmem.device_number = n;
	return m;
}

TEST(bad_requests_fail_cleanly)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 200);
	struct error err = { 0 };
	struct msg_modify m = pmem_req(MSG_REQUEST_ADD, "/run/../etc", 0);
	EXPECT_EQ(storage_modify(st, &m, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "`..`") != NULL);
	m = pmem_req(MSG_REQUEST_ADD, "relative/path", 0);
	EXPECT_EQ(storage_modify(st, &m, &err), -EINVAL);
	m = pmem_req(MSG_REQUEST_ADD, "", 0);
	EXPECT_EQ(storage_modify(st, &m, &err), -EINVAL);
	m = pmem_req(MSG_REQUEST_UPDATE, "/run/x", 0);
	m.request_type_name = "Update";
	EXPECT_EQ(storage_modify(st, &m, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "\"Update\" is not supported") != NULL);
	json_t *mapping = json_object();
	m = pmem_req(MSG_REQUEST_ADD, "/run/x", 0);
	m.vpmem.mapping_info = mapping;
	EXPECT_EQ(storage_modify(st, &m, &err), -EOPNOTSUPP);
	json_decref(mapping);
	m = scsi_req(MSG_REQUEST_ADD, "/run/x", 0, 0);
	m.mvd.encrypted = true;
	EXPECT_EQ(storage_modify(st, &m, &err), -EOPNOTSUPP);
	m.resource = MSG_RESOURCE_COMBINED_LAYERS;
	m.resource_type = "CombinedLayers";
	EXPECT_FALSE(storage_handles(&m));
	EXPECT_EQ(storage_modify(st, &m, &err), -EOPNOTSUPP);
	/* Controller 3 does not exist: at once, no wait. */
	m = scsi_req(MSG_REQUEST_ADD, "/run/x", 3, 0);
	int64_t t0 = now_ms();
	EXPECT_EQ(storage_modify(st, &m, &err), -ENOENT);
	TAP_CMP_LT_(now_ms() - t0, 150);
	EXPECT_TRUE(strstr(err.msg, "no SCSI controller 3") != NULL);
	/* Nothing was created on the way. */
	EXPECT_FALSE(exists("run/x"));
	EXPECT_FALSE(exists("etc"));
	teardown(&l, st);
}

TEST(missing_disk_fails_after_the_bounded_wait_sync)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 300);
	struct error err = { 0 };
	struct msg_modify m = scsi_req(MSG_REQUEST_ADD, "/run/mounts/m1", 0, 4);
	int64_t t0 = now_ms();
	EXPECT_EQ(storage_modify(st, &m, &err), -ENOENT);
	int64_t took = now_ms() - t0;
	EXPECT_GE(took, 290);
	TAP_CMP_LT_(took, 2000);
	EXPECT_TRUE(strstr(err.msg, "controller 0 LUN 4") != NULL);
	EXPECT_TRUE(strstr(err.msg, "300 ms") != NULL);
	EXPECT_FALSE(exists("run/mounts/m1"));
	teardown(&l, st);
}

struct result {
	int calls;
	int r;
	char msg[ERROR_MSG_MAX];
	int64_t at;
};

static void on_done(void *arg, int r, const struct error *err)
{
	struct result *res = arg;
	res->calls++;
	res->r = r;
	res->at = now_ms();
	snprintf(res->msg, sizeof(res->msg), "%s", err ? err->msg : "");
}

static void on_tick(struct loop_timer *t)
{
	int64_t *at = t->data;
	*at = now_ms();
}

TEST(missing_disk_async_never_blocks_the_loop)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 400);
	struct error err = { 0 };
	struct result res = { 0 };
	struct storage_op *op;
	struct msg_modify m = scsi_req(MSG_REQUEST_ADD, "/run/mounts/m2", 0, 5);
	int64_t t0 = now_ms();
	ASSERT_EQ(storage_modify_async(st, &m, on_done, &res, &op, &err), STORAGE_PENDING);
	TAP_CMP_LT_(now_ms() - t0, 100);
	EXPECT_TRUE(op != NULL);
	/* Another event source keeps running while storage waits. */
	struct loop_timer tick;
	int64_t ticked = 0;
	ASSERT_EQ(loop_timer_init(&l, &tick, on_tick, &ticked, &err), 0);
	ASSERT_EQ(loop_timer_arm(&tick, 50, &err), 0);
	/* While pending, a second Add of the same path is refused. */
	struct msg_modify again = scsi_req(MSG_REQUEST_ADD, "/run/mounts/m2", 0, 6);
	EXPECT_EQ(storage_modify_async(st, &again, on_done, &res, NULL, &err), -EEXIST);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	storage_describe(st, f);
	fclose(f);
	EXPECT_TRUE(strstr(text, "1 pending") != NULL);
	free(text);
	while (res.calls == 0 && now_ms() - t0 < 3000)
		ASSERT_GE(loop_run_once(&l, 100, &err), 0);
	EXPECT_EQ(res.calls, 1);
	EXPECT_EQ(res.r, -ENOENT);
	EXPECT_TRUE(strstr(res.msg, "LUN 5") != NULL);
	EXPECT_GE(res.at - t0, 390);
	EXPECT_NE(ticked, 0);
	TAP_CMP_LT_(ticked - t0, 300);
	/* Nothing fires twice. */
	for (int i = 0; i < 3; i++)
		loop_run_once(&l, 50, &err);
	EXPECT_EQ(res.calls, 1);
	loop_timer_fini(&tick);
	teardown(&l, st);
}

TEST(forgotten_request_never_calls_back)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 200);
	struct error err = { 0 };
	struct result res = { 0 };
	struct storage_op *op;
	struct msg_modify m = pmem_req(MSG_REQUEST_ADD, "/run/layers/p9", 9);
	ASSERT_EQ(storage_modify_async(st, &m, on_done, &res, &op, &err), STORAGE_PENDING);
	storage_op_forget(op);
	int64_t t0 = now_ms();
	while (now_ms() - t0 < 500)
		loop_run_once(&l, 50, &err);
	EXPECT_EQ(res.calls, 0);
	teardown(&l, st);
}

/* A synthetic uevent: the kernel re-announces the loopback device. */
static bool poke_uevent(void)
{
	int fd = open("/sys/class/net/lo/uevent", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = write(fd, "change", 6) == 6;
	close(fd);
	return ok;
}

TEST(disk_that_appears_is_found_on_the_next_uevent)
{
	struct loop l;
	struct storage *st;
	/* A long bound: the request must finish on the event, not the timer. */
	setup(&l, &st, 10000);
	struct error err = { 0 };
	struct result res = { 0 };
	/* An empty MountPath attaches without mounting: hcsshim still waits
	 * for the device, then answers. */
	struct msg_modify m = scsi_req(MSG_REQUEST_ADD, "", 0, 1);
	int rr = storage_modify_async(st, &m, on_done, &res, NULL, &err);
	if (rr < 0)
		TAP_DIAG("%s", err.msg);
	ASSERT_EQ(rr, STORAGE_PENDING);
	loop_run_once(&l, 50, &err);
	EXPECT_EQ(res.calls, 0);
	put("sys/bus/scsi/devices/0:0:0:1/block/sdb", NULL, NULL);
	put("dev", "sdb", "");
	int64_t t0 = now_ms();
	if (!poke_uevent()) {
		TAP_DIAG("cannot raise a uevent here (read-only /sys?): skipped");
		teardown(&l, st);
		return;
	}
	while (res.calls == 0 && now_ms() - t0 < 3000)
		ASSERT_GE(loop_run_once(&l, 100, &err), 0);
	EXPECT_EQ(res.calls, 1);
	EXPECT_EQ(res.r, 0);
	TAP_CMP_LT_(now_ms() - t0, 2000);
	teardown(&l, st);
}

TEST(failed_mount_leaves_no_mount_point)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 200);
	struct error err = { 0 };
	/* A regular file is no block device: the ext4 mount fails. */
	put("dev", "pmem0", "not a file system");
	struct msg_modify m = pmem_req(MSG_REQUEST_ADD, "/run/layers/l0", 0);
	int r = storage_modify(st, &m, &err);
	EXPECT_TRUE(r < 0);
	EXPECT_TRUE(strstr(err.msg, "/dev/pmem0") != NULL);
	EXPECT_FALSE(exists("run/layers/l0"));
	EXPECT_TRUE(exists("run/layers"));
	teardown(&l, st);
}

TEST(mount_path_through_a_symlink_is_refused)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 200);
	struct error err = { 0 };
	put("dev", "pmem0", "x");
	put("run", NULL, NULL);
	char link[256];
	snprintf(link, sizeof(link), "%s/run/evil", root);
	ASSERT_EQ(symlink("/etc", link), 0);
	struct msg_modify m = pmem_req(MSG_REQUEST_ADD, "/run/evil/x", 0);
	EXPECT_EQ(storage_modify(st, &m, &err), -ENOTDIR);
	EXPECT_TRUE(strstr(err.msg, "symlink") != NULL);
	EXPECT_EQ(access("/etc/x", F_OK), -1);
	teardown(&l, st);
}

TEST(remove_is_idempotent_and_removes_the_mount_point)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 200);
	struct error err = { 0 };
	struct msg_modify m = pmem_req(MSG_REQUEST_REMOVE, "/run/layers/never", 0);
	EXPECT_EQ(storage_modify(st, &m, &err), 0);
	/* Left over from an earlier agent: unmounted (nothing) and removed. */
	put("run/mounts/m7", NULL, NULL);
	m = scsi_req(MSG_REQUEST_REMOVE, "/run/mounts/m7", 0, 0);
	EXPECT_EQ(storage_modify(st, &m, &err), 0);
	EXPECT_FALSE(exists("run/mounts/m7"));
	/* A non-empty directory is not deleted (hcsshim would RemoveAll). */
	put("run/mounts/m8", "keep", "data");
	m = scsi_req(MSG_REQUEST_REMOVE, "/run/mounts/m8", 0, 0);
	EXPECT_EQ(storage_modify(st, &m, &err), 0);
	EXPECT_TRUE(exists("run/mounts/m8/keep"));
	teardown(&l, st);
}

TEST(scsi_device_remove_writes_delete)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 200);
	struct error err = { 0 };
	put("sys/bus/scsi/devices/0:0:0:3", "delete", "");
	struct msg_modify m;
	memset(&m, 0, sizeof(m));
	m.request_type = MSG_REQUEST_REMOVE;
	m.request_type_name = "Remove";
	m.resource = MSG_RESOURCE_SCSI_DEVICE;
	m.resource_type = "SCSIDevice";
	m.settings = json_pack("{s:i,s:i}", "Controller", 0, "Lun", 3);
	EXPECT_TRUE(storage_handles(&m));
	ASSERT_EQ(storage_modify(st, &m, &err), 0);
	char path[256], buf[8] = "";
	snprintf(path, sizeof(path), "%s/sys/bus/scsi/devices/0:0:0:3/delete", root);
	FILE *f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	EXPECT_TRUE(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	EXPECT_STREQ(buf, "1\n");
	/* Unknown controller, bad types, Add: clean errors. */
	json_object_set_new(m.settings, "Controller", json_integer(2));
	EXPECT_EQ(storage_modify(st, &m, &err), -ENOENT);
	json_object_set_new(m.settings, "Lun", json_string("x"));
	EXPECT_EQ(storage_modify(st, &m, &err), -EBADMSG);
	m.request_type = MSG_REQUEST_ADD;
	m.request_type_name = "";
	EXPECT_EQ(storage_modify(st, &m, &err), -EINVAL);
	json_decref(m.settings);
	teardown(&l, st);
}

TEST(ensure_filesystem_without_mkfs_is_a_clear_error)
{
	struct loop l;
	struct storage *st;
	setup(&l, &st, 200);
	struct error err = { 0 };
	put("sys/bus/scsi/devices/0:0:0:0/block/sda", NULL, NULL);
	put("dev", "sda", "");
	char dev[256];
	snprintf(dev, sizeof(dev), "%s/dev/sda", root);
	ASSERT_EQ(truncate(dev, 1 << 20), 0);
	struct msg_modify m = scsi_req(MSG_REQUEST_ADD, "/run/scratch", 0, 0);
	m.mvd.ensure_filesystem = true;
	m.mvd.filesystem = "ext4";
	EXPECT_EQ(storage_modify(st, &m, &err), -EOPNOTSUPP);
	EXPECT_TRUE(strstr(err.msg, "no mkfs.ext4") != NULL);
	m.mvd.filesystem = "xfs";
	EXPECT_EQ(storage_modify(st, &m, &err), -EOPNOTSUPP);
	EXPECT_TRUE(strstr(err.msg, "unsupported filesystem `xfs`") != NULL);
	/* Blank and no EnsureFilesystem: nothing to mount. */
	m.mvd.ensure_filesystem = false;
	m.mvd.filesystem = "";
	EXPECT_EQ(storage_modify(st, &m, &err), -EMEDIUMTYPE);
	EXPECT_FALSE(exists("run/scratch"));
	teardown(&l, st);
}

TEST(tool_reports_status_and_output)
{
	struct tool t;
	struct error err = { 0 };
	char *argv[] = { "sh", "-c", "echo first; echo 'bad superblock' >&2; exit 3", NULL };
	ASSERT_EQ(tool_start(&t, "/bin/sh", argv, &err), 0);
	EXPECT_EQ(tool_reap(&t, 1, &err), -EIO);
	EXPECT_TRUE(strstr(err.msg, "sh exited with status 3") != NULL);
	EXPECT_TRUE(strstr(err.msg, "bad superblock") != NULL);
	tool_release(&t);
	char *ok[] = { "true", NULL };
	ASSERT_EQ(tool_start(&t, "/bin/true", ok, &err), 0);
	EXPECT_EQ(tool_reap(&t, 1, &err), 0);
	tool_release(&t);
	char *missing[] = { "nope", NULL };
	ASSERT_EQ(tool_start(&t, "/nonexistent/mkfs", missing, &err), 0);
	EXPECT_EQ(tool_reap(&t, 1, &err), -EIO);
	EXPECT_TRUE(strstr(err.msg, "status 127") != NULL);
	tool_release(&t);
}

TEST(tool_child_escapes_a_waitpid_minus_1_reaper)
{
	struct tool t;
	struct error err = { 0 };
	char *argv[] = { "true", NULL };
	ASSERT_EQ(tool_start(&t, "/bin/true", argv, &err), 0);
	/* Let it exit, then reap like a runtime would: it must not see it. */
	struct pollfd p = { .fd = t.pidfd, .events = POLLIN };
	ASSERT_EQ(poll(&p, 1, 5000), 1);
	int status;
	EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);
	EXPECT_EQ(errno, ECHILD);
	EXPECT_EQ(tool_reap(&t, 0, &err), 0);
	tool_release(&t);
}

TEST(tool_release_kills_a_running_child)
{
	struct tool t;
	struct error err = { 0 };
	char *argv[] = { "sleep", "30", NULL };
	ASSERT_EQ(tool_start(&t, "/bin/sleep", argv, &err), 0);
	pid_t pid = t.pid;
	int64_t t0 = now_ms();
	tool_release(&t);
	TAP_CMP_LT_(now_ms() - t0, 2000);
	EXPECT_EQ(kill(pid, 0), -1);
	EXPECT_EQ(t.pidfd, -1);
}

TAP_MAIN()
