/* SPDX-License-Identifier: MIT */
#include "storage/devices.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcow/cleanup.h"

const char *const devices_hyperv_scsi_guids[DEVICES_HYPERV_SCSI_CONTROLLERS] = {
	"df6d0690-79e5-55b6-a5ec-c1e2f77f580a",
	"0110f83b-de10-5172-a266-78bca56bf50a",
	"b5d2d8d4-3a75-51bf-945b-3444dc6b8579",
	"305891a9-b251-5dfe-91a2-c25d9212275b",
};

/* snprintf that says when the result did not fit. */
static int pathf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* "host<digits>" -> the number; false for anything else. */
static bool parse_host_name(const char *name, unsigned *out)
{
	if (strncmp(name, "host", 4) != 0 || !name[4])
		return false;
	char *end;
	errno = 0;
	unsigned long v = strtoul(name + 4, &end, 10);
	if (errno || *end || name[4] < '0' || name[4] > '9' || v > 0xFFFFFFu)
		return false;
	*out = (unsigned)v;
	return true;
}

int devices_pick_virtio_host(const struct devices_scsi_host *hosts, size_t n, unsigned controller,
			     unsigned *host, struct error *err)
{
	/* The controller-th smallest host number among the virtio ones:
	 * count, for each candidate, the virtio hosts below it. */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(hosts[i].proc_name, "virtio_scsi") != 0)
			continue;
		unsigned below = 0;
		for (size_t j = 0; j < n; j++)
			if (j != i && strcmp(hosts[j].proc_name, "virtio_scsi") == 0 &&
			    hosts[j].number < hosts[i].number)
				below++;
		if (below == controller) {
			*host = hosts[i].number;
			return 0;
		}
	}
	return error_setx(err, ENOENT, "no SCSI controller %u", controller);
}

static int read_line(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int hyperv_host(const char *root, unsigned controller, unsigned *host)
{
	char path[DEVICES_PATH_MAX];
	snprintf(path, sizeof(path), "%s/sys/bus/vmbus/devices/%s", root,
		 devices_hyperv_scsi_guids[controller]);
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d)))
		if (parse_host_name(e->d_name, host))
			return 0;
	return -ENOENT;
}

#define DEVICES_MAX_HOSTS 64

int devices_scsi_host(const char *root, unsigned controller, unsigned *host, struct error *err)
{
	if (controller < DEVICES_HYPERV_SCSI_CONTROLLERS) {
		int r = hyperv_host(root, controller, host);
		if (r == 0)
			return 0;
		if (r != -ENOENT)
			return error_set(err, -r, "SCSI controller %u on VMBus", controller);
	}
	char path[DEVICES_PATH_MAX];
	snprintf(path, sizeof(path), "%s/sys/class/scsi_host", root);
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return error_setx(err, ENOENT, "no SCSI controller %u (no SCSI hosts)",
					  controller);
		return error_set(err, errno, "open %s", path);
	}
	struct devices_scsi_host hosts[DEVICES_MAX_HOSTS];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < DEVICES_MAX_HOSTS) {
		unsigned number;
		if (!parse_host_name(e->d_name, &number))
			continue;
		char attr[DEVICES_PATH_MAX];
		hosts[n].number = number;
		if (pathf(attr, sizeof(attr), "%s/%s/proc_name", path, e->d_name) < 0 ||
		    read_line(attr, hosts[n].proc_name, sizeof(hosts[n].proc_name)) < 0)
			hosts[n].proc_name[0] = '\0';
		n++;
	}
	return devices_pick_virtio_host(hosts, n, controller, host, err);
}

int devices_scsi_sysfs(char *buf, size_t size, const char *root, unsigned host, unsigned lun,
		       const char *suffix)
{
	int n = snprintf(buf, size, "%s/sys/bus/scsi/devices/%u:0:0:%u%s", root, host, lun,
			 suffix ? suffix : "");
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The /dev node exists and opens.  The node and the sysfs entries appear
 * before the disk is live (device_add() runs before the partition scan),
 * and opening it until then fails with ENXIO: not there yet. */
static int node_ready(const char *root, const char *dev, struct error *err)
{
	char node[DEVICES_PATH_MAX + 80];
	if (pathf(node, sizeof(node), "%s%s", root, dev) < 0)
		return error_setx(err, ENAMETOOLONG, "device path too long");
	int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
			return -EAGAIN;
		return error_set(err, errno, "open %s", dev);
	}
	close(fd);
	return 0;
}

/* A sysfs/dev name we are willing to put into /dev/<name>. */
static bool plain_name(const char *s)
{
	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	return !strchr(s, '/');
}

int devices_scsi_block(const char *root, unsigned host, unsigned lun, uint64_t partition,
		       char *dev, size_t size, struct error *err)
{
	char dir[DEVICES_PATH_MAX];
	if (devices_scsi_sysfs(dir, sizeof(dir), root, host, lun, "/block") < 0)
		return error_setx(err, ENAMETOOLONG, "sysfs path too long");
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return -EAGAIN;
		return error_set(err, errno, "open %s", dir);
	}
	char name[64] = "";
	unsigned found = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (!plain_name(e->d_name) || strlen(e->d_name) >= 48)
			continue;
		if (found++ == 0 && pathf(name, sizeof(name), "%s", e->d_name) < 0)
			return error_setx(err, ENAMETOOLONG, "block device name too long");
	}
	if (found == 0)
		return -EAGAIN;
	if (found > 1)
		return error_setx(err, ENOTUNIQ,
				  "more than one block device at SCSI address %u:0:0:%u", host, lun);
	if (partition) {
		/* Partitions are subdirectories <disk>/<disk><N> (1-based). */
		char part[96], ppath[DEVICES_PATH_MAX + 128];
		if (pathf(part, sizeof(part), "%s%llu", name, (unsigned long long)partition) < 0 ||
		    pathf(ppath, sizeof(ppath), "%s/%s/%s", dir, name, part) < 0 ||
		    pathf(name, sizeof(name), "%s", part) < 0)
			return error_setx(err, ENAMETOOLONG, "partition path too long");
		if (access(ppath, F_OK) < 0)
			return errno == ENOENT ? -EAGAIN : error_set(err, errno, "%s", ppath);
	}
	int n = snprintf(dev, size, "/dev/%s", name);
	if (n < 0 || (size_t)n >= size)
		return error_setx(err, ENAMETOOLONG, "device path too long");
	return node_ready(root, dev, err);
}

int devices_scsi_delete(const char *root, unsigned host, unsigned lun, struct error *err)
{
	char path[DEVICES_PATH_MAX];
	if (devices_scsi_sysfs(path, sizeof(path), root, host, lun, "/delete") < 0)
		return error_setx(err, ENAMETOOLONG, "sysfs path too long");
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, errno, "open %s", path);
	}
	if (write(fd, "1\n", 2) < 0)
		return error_set(err, errno, "write %s", path);
	return 0;
}

int devices_pmem(const char *root, uint32_t number, char *dev, size_t size, struct error *err)
{
	int n = snprintf(dev, size, "/dev/pmem%" PRIu32, number);
	if (n < 0 || (size_t)n >= size)
		return error_setx(err, ENAMETOOLONG, "device path too long");
	return node_ready(root, dev, err);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Offsets in struct ext4_super_block. */
#define EXT_SB_BLOCKS_LO 0x04
#define EXT_SB_LOG_BLOCK_SIZE 0x18
#define EXT_SB_MAGIC 0x38
#define EXT_SB_STATE 0x3A
#define EXT_SB_FEATURE_INCOMPAT 0x60
#define EXT_SB_BLOCKS_HI 0x150
#define EXT_MAGIC 0xEF53
#define EXT_INCOMPAT_64BIT 0x80

void devices_ext_parse(const uint8_t sb[DEVICES_EXT_SUPER_SIZE], struct devices_ext_info *info)
{
	memset(info, 0, sizeof(*info));
	if (le16(sb + EXT_SB_MAGIC) != EXT_MAGIC)
		return;
	uint32_t log = le32(sb + EXT_SB_LOG_BLOCK_SIZE);
	/* 1 KiB .. 64 KiB blocks; anything else is not a file system we know. */
	if (log > 6)
		return;
	info->is_ext = true;
	info->block_size = 1024u << log;
	info->blocks = le32(sb + EXT_SB_BLOCKS_LO);
	if (le32(sb + EXT_SB_FEATURE_INCOMPAT) & EXT_INCOMPAT_64BIT)
		info->blocks |= (uint64_t)le32(sb + EXT_SB_BLOCKS_HI) << 32;
	info->state = le16(sb + EXT_SB_STATE);
}

int devices_ext_probe(int fd, struct devices_ext_info *info, struct error *err)
{
	uint8_t sb[DEVICES_EXT_SUPER_SIZE];
	ssize_t n = pread(fd, sb, sizeof(sb), DEVICES_EXT_SUPER_OFFSET);
	if (n < 0)
		return error_set(err, errno, "read superblock");
	if (n < (ssize_t)sizeof(sb))
		memset(sb + n, 0, sizeof(sb) - (size_t)n);
	devices_ext_parse(sb, info);
	return 0;
}
