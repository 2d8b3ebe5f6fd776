/* SPDX-License-Identifier: MIT */
/*
 * The fixed-VHD footer (Microsoft "Virtual Hard Disk Image Format
 * Specification" 1.0): 512 big-endian bytes appended after the raw disk
 * data.  A fixed VHD is the raw image plus this footer, which is what the
 * Windows host attaches as a layer (VPMem or SCSI) or scratch disk.
 */
#ifndef LCOW_VHD_H
#define LCOW_VHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"

#define VHD_FOOTER_SIZE 512
#define VHD_COOKIE "conectix"
#define VHD_COOKIE_LEN 8
/* Bit 1 is "reserved, must always be set". */
#define VHD_FEATURES_RESERVED 0x00000002u
#define VHD_VERSION_1_0 0x00010000u
/* Fixed disks have no dynamic header: the data offset is all ones. */
#define VHD_DATA_OFFSET_NONE UINT64_MAX
#define VHD_DISK_TYPE_FIXED 2u
#define VHD_DISK_TYPE_DYNAMIC 3u
#define VHD_DISK_TYPE_DIFFERENCING 4u
/* The footer's timestamp counts seconds from 2000-01-01T00:00:00Z. */
#define VHD_EPOCH_UNIX 946684800LL
#define VHD_CREATOR_APP "lcow"
#define VHD_CREATOR_VERSION 0x00010000u
/* The spec knows "Wi2k" and "Mac "; Hyper-V and qemu-img write "Wi2k". */
#define VHD_CREATOR_OS "Wi2k"
/* The sector size the geometry and sizes are counted in. */
#define VHD_SECTOR_SIZE 512
/* The VHD format's limit (larger disks need VHDX). */
#define VHD_MAX_SIZE (2040ULL << 30)

/* On-disk layout; every multi-byte field is big-endian. */
struct vhd_footer {
	char cookie[VHD_COOKIE_LEN];
	uint32_t features;
	uint32_t version;
	uint64_t data_offset;
	uint32_t timestamp;
	char creator_app[4];
	uint32_t creator_version;
	char creator_os[4];
	uint64_t original_size;
	uint64_t current_size;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors_per_track;
	uint32_t disk_type;
	uint32_t checksum;
	uint8_t unique_id[16];
	uint8_t saved_state;
	uint8_t reserved[427];
} __attribute__((packed));

_Static_assert(sizeof(struct vhd_footer) == VHD_FOOTER_SIZE, "VHD footer is 512 bytes");
_Static_assert(__builtin_offsetof(struct vhd_footer, timestamp) == 24, "timestamp at 24");
_Static_assert(__builtin_offsetof(struct vhd_footer, original_size) == 40, "sizes at 40");
_Static_assert(__builtin_offsetof(struct vhd_footer, cylinders) == 56, "geometry at 56");
_Static_assert(__builtin_offsetof(struct vhd_footer, checksum) == 64, "checksum at 64");
_Static_assert(__builtin_offsetof(struct vhd_footer, unique_id) == 68, "unique id at 68");
_Static_assert(__builtin_offsetof(struct vhd_footer, saved_state) == 84, "saved state at 84");

struct vhd_geometry {
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors_per_track;
};

/* The footer in host byte order, as vhd_footer_parse() returns it. */
struct vhd_info {
	char cookie[VHD_COOKIE_LEN + 1];
	uint32_t features;
	uint32_t version;
	uint64_t data_offset;
	uint32_t timestamp;
	char creator_app[5];
	uint32_t creator_version;
	char creator_os[5];
	uint64_t original_size;
	uint64_t current_size;
	struct vhd_geometry geometry;
	uint32_t disk_type;
	uint32_t checksum;
	uint8_t unique_id[16];
	uint8_t saved_state;
};

/* CHS geometry for a disk of size bytes, per the algorithm in the VHD
 * specification's appendix (capped at 65535/16/255). */
struct vhd_geometry vhd_geometry_for(uint64_t size);

/* Ones' complement of the byte sum of the footer, its checksum field
 * counted as zero. */
uint32_t vhd_checksum(const struct vhd_footer *f);

/* Seconds since 2000-01-01 for a Unix time; 0 before that epoch, clamped
 * to UINT32_MAX after 2136. */
uint32_t vhd_timestamp(int64_t unix_time);

/* Fill a fixed-disk footer for size bytes of data. */
void vhd_footer_build(struct vhd_footer *f, uint64_t size, uint32_t timestamp,
		      const uint8_t unique_id[16]);

/* Decode and validate a footer: cookie, checksum, version, data offset,
 * sizes (current a multiple of 512).  Any disk type parses; callers that
 * need a fixed disk check info->disk_type. */
int vhd_footer_parse(const void *buf, size_t len, struct vhd_info *info, struct error *err);

/* Write the footer for size bytes of data at offset size of fd. */
int vhd_footer_append(int fd, uint64_t size, uint32_t timestamp, const uint8_t unique_id[16],
		      struct error *err);

/*
 * Read and validate the footer at the end of fd: a fixed VHD whose
 * current size plus the footer is the file size.  Returns the file size
 * in *file_size.
 */
int vhd_read_fixed(int fd, struct vhd_info *info, uint64_t *file_size, struct error *err);

#endif
