/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the image tools (tar2ext4, lcow-disk): size and
 * SOURCE_DATE_EPOCH parsing, a content digest for deterministic
 * identifiers, full-length pread/pwrite, and a reader/patcher for the ext4
 * superblock fields the tools need.
 */
#ifndef LCOW_DISKUTIL_H
#define LCOW_DISKUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lcow/error.h"

/* "4096", "512M", "20G", "1T" (binary units, optional "B"/"iB" suffix).
 * Overflow and garbage are errors. */
int parse_size(const char *s, uint64_t *out, struct error *err);

/* $SOURCE_DATE_EPOCH as seconds, 0 when unset or empty; a malformed value
 * is an error (a silent fallback would make "reproducible" builds differ). */
int source_date_epoch(int64_t *out, struct error *err);

/*
 * A non-cryptographic 128-bit digest (four 64-bit multiply-rotate lanes
 * over 32-byte stripes, then an avalanche).  Only used to derive UUIDs and
 * VHD unique ids from content, so equal inputs give equal images; it is not
 * a security boundary.
 */
struct digest {
	uint64_t lane[4];
	uint64_t total;
	uint8_t tail[32];
	size_t tail_len;
};

void digest_init(struct digest *d, uint64_t seed);
void digest_update(struct digest *d, const void *data, size_t len);
void digest_final(const struct digest *d, uint8_t out[16]);
/* Make 16 digest bytes a well-formed RFC 9562 UUID (version 8, custom). */
void uuid_from_digest(uint8_t uuid[16]);
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus NUL. */
void uuid_format(const uint8_t uuid[16], char out[37]);
int uuid_parse(const char *s, uint8_t uuid[16], struct error *err);

/* Read exactly len bytes at off; returns the count read (< len only at end
 * of file) or a negative errno.  Retries EINTR and short transfers. */
ssize_t pread_full(int fd, void *buf, size_t len, off_t off);
/* Write exactly len bytes at off; 0 or a negative errno. */
int pwrite_full(int fd, const void *buf, size_t len, off_t off);

/*
 * Turn every all-zero, block-aligned run of at least `grain` bytes in
 * [start, end) of fd into a hole (fallocate PUNCH_HOLE, size kept).  The
 * content reads the same; only the allocation shrinks.  Holes already
 * there are skipped with SEEK_DATA/SEEK_HOLE.
 */
int punch_zeros(int fd, uint64_t start, uint64_t end, uint32_t grain, struct error *err);

/* The ext4 superblock: at byte 1024 of the file system, little-endian. */
#define EXT4_SB_OFFSET 1024
#define EXT4_SB_MAGIC 0xEF53

struct ext4_sb_info {
	uint32_t block_size;
	uint64_t blocks_count;
	uint64_t free_blocks;
	uint32_t inodes_count;
	uint32_t free_inodes;
	uint32_t blocks_per_group;
	uint32_t first_data_block;
	uint32_t feature_compat, feature_incompat, feature_ro_compat;
	uint16_t state;
	uint8_t uuid[16];
	char volume_name[17];
	/* block_size * blocks_count */
	uint64_t size;
};

/* Parse the superblock of the file system that starts at byte base of fd.
 * Fails (-EINVAL, with a message) when there is no ext4 magic or the
 * geometry is implausible. */
int ext4_sb_read(int fd, uint64_t base, struct ext4_sb_info *info, struct error *err);

/* Which superblock timestamps ext4_sb_set_times() rewrites. */
enum {
	EXT4_SB_WTIME = 1 << 0,
	EXT4_SB_MKFS_TIME = 1 << 1,
	EXT4_SB_LASTCHECK = 1 << 2,
};

/*
 * Set the chosen superblock timestamps to t in the primary superblock and
 * in every backup copy, recomputing the superblock checksum where the file
 * system has metadata_csum.  libext2fs stamps the wall clock into s_wtime
 * on every close (fs->now == 0 means "now"), so this is how an image gets
 * the fixed time 0 when SOURCE_DATE_EPOCH is unset.
 */
int ext4_sb_set_times(int fd, uint32_t t, unsigned which, struct error *err);

#endif
