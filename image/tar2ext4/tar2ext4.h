/* SPDX-License-Identifier: MIT */
/*
 * tar2ext4: an OCI layer (tar, optionally compressed) -> an ext4 image,
 * without root and without unpacking to disk.  libarchive reads, the tree
 * (tree.h) applies tar semantics, ext4w (libext2fs) writes.
 */
#ifndef T2E_TAR2EXT4_H
#define T2E_TAR2EXT4_H

#include <stdbool.h>
#include <stdint.h>

#include "lcow/error.h"

struct t2e_options {
	bool overlay;	     /* OCI whiteouts -> overlayfs whiteouts */
	bool convert_slash;  /* `\` in names and link targets -> `/` */
	bool inline_data;    /* small files' data inside their inode */
	uint64_t size;	     /* image bytes; 0 = as small as fits */
	uint32_t epoch;	     /* SOURCE_DATE_EPOCH or 0: superblock and implicit dirs */
	bool have_uuid;
	uint8_t uuid[16];    /* else derived from the input */
};

struct t2e_stats {
	uint64_t entries;
	uint64_t files, dirs, symlinks, hardlinks, specials, whiteouts;
	uint64_t file_bytes;	/* regular file sizes as the tar declares them */
	uint64_t written_bytes; /* data blocks actually written */
	uint64_t image_size;
	uint8_t uuid[16];
	bool sized_by_scan;	/* pass 1 ran */
};

/*
 * Convert the tar read from in_fd into an ext4 image in the file at path
 * (empty, open read-write as out_fd; it is sized here).  When seekable,
 * in_fd is read twice from its current offset: first the headers, to size
 * the image, then everything.  Otherwise o->size must be set.
 */
int t2e_convert(int in_fd, bool seekable, const char *path, int out_fd,
		const struct t2e_options *o, struct t2e_stats *st, struct error *err);

#endif
