/* SPDX-License-Identifier: MIT */
/* Device lookups against a fake /sys and /dev tree: SCSI controller ->
 * host (VMBus and virtio-scsi), host:0:0:lun -> /dev/sdX (+ partition),
 * the sysfs delete, pmem, and the ext superblock probe. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcow/tap.h"
#include "storage/devices.h"

static char root[64];

/* mkdir -p root/rel, then write content to root/rel/file (if file). */
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

static void fresh_root(void)
{
	snprintf(root, sizeof(root), "/tmp/storage-devices-test.XXXXXX");
	if (!mkdtemp(root))
		abort();
}

static void drop_root(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		abort();
}

TEST(virtio_controller_is_nth_virtio_host_by_number)
{
	struct devices_scsi_host hosts[] = {
		{ 2, "virtio_scsi" }, { 0, "ahci" }, { 1, "virtio_scsi" }, { 7, "virtio_scsi" },
	};
	unsigned h = 99;
	struct error err = { 0 };
	ASSERT_EQ(devices_pick_virtio_host(hosts, 4, 0, &h, &err), 0);
	EXPECT_EQ(h, 1);
	ASSERT_EQ(devices_pick_virtio_host(hosts, 4, 1, &h, &err), 0);
	EXPECT_EQ(h, 2);
	ASSERT_EQ(devices_pick_virtio_host(hosts, 4, 2, &h, &err), 0);
	EXPECT_EQ(h, 7);
	EXPECT_EQ(devices_pick_virtio_host(hosts, 4, 3, &h, &err), -ENOENT);
	EXPECT_TRUE(strstr(err.msg, "no SCSI controller 3") != NULL);
}

TEST(controller_maps_through_sysfs_virtio_and_vmbus)
{
	fresh_root();
	struct error err = { 0 };
	unsigned h = 99;
	EXPECT_EQ(devices_scsi_host(root, 0, &h, &err), -ENOENT);
	put("sys/class/scsi_host/host0", "proc_name", "virtio_scsi\n");
	put("sys/class/scsi_host/host4", "proc_name", "virtio_scsi\n");
	put("sys/class/scsi_host/host2", "proc_name", "something_else\n");
	ASSERT_EQ(devices_scsi_host(root, 0, &h, &err), 0);
	EXPECT_EQ(h, 0);
	ASSERT_EQ(devices_scsi_host(root, 1, &h, &err), 0);
	EXPECT_EQ(h, 4);
	EXPECT_EQ(devices_scsi_host(root, 2, &h, &err), -ENOENT);
	/* Hyper-V: the controller's fixed VMBus id names its host. */
	char rel[256];
	snprintf(rel, sizeof(rel), "sys/bus/vmbus/devices/%s/host5", devices_hyperv_scsi_guids[1]);
	put(rel, NULL, NULL);
	ASSERT_EQ(devices_scsi_host(root, 1, &h, &err), 0);
	EXPECT_EQ(h, 5);
	ASSERT_EQ(devices_scsi_host(root, 0, &h, &err), 0);
	EXPECT_EQ(h, 0);
	drop_root();
}

TEST(scsi_sysfs_path_is_host_0_0_lun)
{
	char buf[128];
	ASSERT_EQ(devices_scsi_sysfs(buf, sizeof(buf), "/r", 1, 3, "/block"), 0);
	EXPECT_STREQ(buf, "/r/sys/bus/scsi/devices/1:0:0:3/block");
	ASSERT_EQ(devices_scsi_sysfs(buf, sizeof(buf), "", 0, 0, NULL), 0);
	EXPECT_STREQ(buf, "/sys/bus/scsi/devices/0:0:0:0");
	EXPECT_EQ(devices_scsi_sysfs(buf, 10, "", 0, 0, NULL), -ENAMETOOLONG);
}

TEST(scsi_block_waits_for_sysfs_and_dev_node)
{
	fresh_root();
	char dev[64];
	struct error err = { 0 };
	EXPECT_EQ(devices_scsi_block(root, 0, 2, 0, dev, sizeof(dev), &err), -EAGAIN);
	put("sys/bus/scsi/devices/0:0:0:2/block", NULL, NULL);
	EXPECT_EQ(devices_scsi_block(root, 0, 2, 0, dev, sizeof(dev), &err), -EAGAIN);
	put("sys/bus/scsi/devices/0:0:0:2/block/sdc", NULL, NULL);
	/* sysfs has it, /dev not yet. */
	EXPECT_EQ(devices_scsi_block(root, 0, 2, 0, dev, sizeof(dev), &err), -EAGAIN);
	put("dev", "sdc", "");
	ASSERT_EQ(devices_scsi_block(root, 0, 2, 0, dev, sizeof(dev), &err), 0);
	EXPECT_STREQ(dev, "/dev/sdc");
	/* Partition 1: the disk's sdc1 subdirectory, then /dev/sdc1. */
	EXPECT_EQ(devices_scsi_block(root, 0, 2, 1, dev, sizeof(dev), &err), -EAGAIN);
	put("sys/bus/scsi/devices/0:0:0:2/block/sdc/sdc1", NULL, NULL);
	EXPECT_EQ(devices_scsi_block(root, 0, 2, 1, dev, sizeof(dev), &err), -EAGAIN);
	put("dev", "sdc1", "");
	ASSERT_EQ(devices_scsi_block(root, 0, 2, 1, dev, sizeof(dev), &err), 0);
	EXPECT_STREQ(dev, "/dev/sdc1");
	/* Another LUN on another host is not confused with it. */
	EXPECT_EQ(devices_scsi_block(root, 1, 2, 0, dev, sizeof(dev), &err), -EAGAIN);
	put("sys/bus/scsi/devices/0:0:0:2/block/sdd", NULL, NULL);
	EXPECT_EQ(devices_scsi_block(root, 0, 2, 0, dev, sizeof(dev), &err), -ENOTUNIQ);
	drop_root();
}

TEST(scsi_delete_writes_1_and_tolerates_a_gone_disk)
{
	fresh_root();
	struct error err = { 0 };
	EXPECT_EQ(devices_scsi_delete(root, 0, 1, &err), 0);
	put("sys/bus/scsi/devices/0:0:0:1", "delete", "");
	ASSERT_EQ(devices_scsi_delete(root, 0, 1, &err), 0);
	char path[256], buf[8] = "";
	snprintf(path, sizeof(path), "%s/sys/bus/scsi/devices/0:0:0:1/delete", root);
	FILE *f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	EXPECT_STREQ(buf, "1\n");
	drop_root();
}

TEST(pmem_device_path)
{
	fresh_root();
	char dev[64];
	struct error err = { 0 };
	EXPECT_EQ(devices_pmem(root, 2, dev, sizeof(dev), &err), -EAGAIN);
	put("dev", "pmem2", "");
	ASSERT_EQ(devices_pmem(root, 2, dev, sizeof(dev), &err), 0);
	EXPECT_STREQ(dev, "/dev/pmem2");
	drop_root();
}

TEST(ext_superblock_fields)
{
	uint8_t sb[DEVICES_EXT_SUPER_SIZE] = { 0 };
	struct devices_ext_info info;
	devices_ext_parse(sb, &info);
	EXPECT_FALSE(info.is_ext);
	sb[0x38] = 0x53, sb[0x39] = 0xEF;	/* magic */
	sb[0x18] = 2;				/* 4 KiB blocks */
	sb[0x04] = 0x00, sb[0x05] = 0x10;	/* 4096 blocks */
	sb[0x3A] = 1;
	devices_ext_parse(sb, &info);
	ASSERT_TRUE(info.is_ext);
	EXPECT_EQ(info.block_size, 4096);
	EXPECT_EQ(info.blocks, 4096);
	EXPECT_EQ(info.state, 1);
	/* The high half counts only with the 64bit feature. */
	sb[0x150] = 1;
	devices_ext_parse(sb, &info);
	EXPECT_EQ(info.blocks, 4096);
	sb[0x60] = 0x80;
	devices_ext_parse(sb, &info);
	EXPECT_EQ(info.blocks, (1ULL << 32) + 4096);
	sb[0x18] = 9;	/* absurd block size: not ext */
	devices_ext_parse(sb, &info);
	EXPECT_FALSE(info.is_ext);
}

TEST(ext_probe_reads_a_real_mke2fs_image)
{
	if (access("/sbin/mke2fs", X_OK) != 0 && access("/usr/sbin/mke2fs", X_OK) != 0) {
		TAP_DIAG("no mke2fs on this host: skipped");
		return;
	}
	char img[] = "/tmp/storage-ext-test.XXXXXX";
	int fd = mkstemp(img);
	ASSERT_TRUE(fd >= 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "mke2fs -q -F -t ext4 -b 4096 '%s' 16M >/dev/null 2>&1", img);
	int rc = system(cmd);
	struct devices_ext_info info;
	struct error err = { 0 };
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(devices_ext_probe(fd, &info, &err), 0);
	EXPECT_TRUE(info.is_ext);
	EXPECT_EQ(info.block_size, 4096);
	EXPECT_EQ(info.blocks, 4096);
	/* Zeroed superblock: no file system. */
	ASSERT_EQ(ftruncate(fd, 0), 0);
	ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
	ASSERT_EQ(devices_ext_probe(fd, &info, &err), 0);
	EXPECT_FALSE(info.is_ext);
	close(fd);
	unlink(img);
}

TAP_MAIN()
