/* SPDX-License-Identifier: MIT */
/*
 * Finding the block devices behind the storage resources, from sysfs and
 * /dev, under a root prefix ("" in the VM; a fake tree in the unit tests).
 *
 * Every lookup answers now: 0 with the result, -EAGAIN when the device is
 * not there (yet), another -errno when it can never work.  Waiting is the
 * caller's business (storage.c re-runs a lookup on every uevent).
 */
#ifndef GCS_STORAGE_DEVICES_H
#define GCS_STORAGE_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"

#define DEVICES_PATH_MAX 512

/* The SCSI controllers HCS gives a utility VM are VMBus devices with these
 * fixed instance ids (hcsshim's guestrequest.ScsiControllerGuids); the
 * SCSI host number the guest gave controller N is the hostM entry in
 * /sys/bus/vmbus/devices/<guid N>/. */
#define DEVICES_HYPERV_SCSI_CONTROLLERS 4
extern const char *const devices_hyperv_scsi_guids[DEVICES_HYPERV_SCSI_CONTROLLERS];

/* One SCSI host as sysfs shows it: its number and its driver's name
 * (/sys/class/scsi_host/hostN/proc_name). */
struct devices_scsi_host {
	unsigned number;
	char proc_name[32];
};

/* Under QEMU the controllers are virtio-scsi PCI functions: controller N
 * is the N-th host whose proc_name is "virtio_scsi", by host number (the
 * probe order, which follows the PCI slots).  -ENOENT when there is none. */
int devices_pick_virtio_host(const struct devices_scsi_host *hosts, size_t n, unsigned controller,
			     unsigned *host, struct error *err);

/* Controller index (as HCS numbers them) -> SCSI host number: the VMBus
 * mapping on Hyper-V, else the virtio-scsi one. */
int devices_scsi_host(const char *root, unsigned controller, unsigned *host, struct error *err);

/* "<root>/sys/bus/scsi/devices/<host>:0:0:<lun>" (+ suffix). */
int devices_scsi_sysfs(char *buf, size_t size, const char *root, unsigned host, unsigned lun,
		       const char *suffix);

/* The block device of SCSI host:0:0:lun, partition (0 = whole disk), as a
 * /dev path ("/dev/sdb", "/dev/sdb1"; root not included).  -EAGAIN while
 * the disk, the partition or the /dev node is missing or does not open yet
 * (ENXIO: the disk is not live); -ENOTUNIQ when more
 * than one block device hangs off that address. */
int devices_scsi_block(const char *root, unsigned host, unsigned lun, uint64_t partition,
		       char *dev, size_t size, struct error *err);

/* Ask the SCSI midlayer to drop host:0:0:lun (what hcsshim's
 * UnplugDevice does before the host unplugs the disk).  A device that is
 * already gone is success. */
int devices_scsi_delete(const char *root, unsigned host, unsigned lun, struct error *err);

/* "/dev/pmem<N>"; -EAGAIN until <root>/dev/pmemN exists and opens. */
int devices_pmem(const char *root, uint32_t number, char *dev, size_t size, struct error *err);

/* The ext2/3/4 superblock fields storage needs. */
struct devices_ext_info {
	bool is_ext;		/* magic 0xEF53 at offset 1024+56 */
	uint32_t block_size;
	uint64_t blocks;	/* s_blocks_count (with the 64-bit high half) */
	uint16_t state;
};
#define DEVICES_EXT_SUPER_OFFSET 1024
#define DEVICES_EXT_SUPER_SIZE 1024
/* Decode a superblock (the 1024 bytes at offset 1024 of the device). */
void devices_ext_parse(const uint8_t sb[DEVICES_EXT_SUPER_SIZE], struct devices_ext_info *info);
/* Read and decode the superblock of an open block device. */
int devices_ext_probe(int fd, struct devices_ext_info *info, struct error *err);

#endif
