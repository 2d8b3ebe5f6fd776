/* SPDX-License-Identifier: MIT */
/*
 * mkinitrd: build the initrd (newc cpio, gzip or LZ4) or a pax/ustar tar (input
 * of tar2ext4) from list files in the kernel's gen_init_cpio format:
 *
 *   file  <name> <location> <mode> <uid> <gid> [<hard links>...]
 *   dir   <name> <mode> <uid> <gid>
 *   nod   <name> <mode> <uid> <gid> <b|c> <major> <minor>
 *   slink <name> <target> <mode> <uid> <gid>
 *   pipe  <name> <mode> <uid> <gid>
 *   sock  <name> <mode> <uid> <gid>
 *
 * Lines whose first non-blank character is '#' and blank lines are ignored.
 *
 * The output depends only on the list and the file contents: entries are
 * sorted by name, inode numbers are assigned in that order, every mtime is the
 * one given, and nothing of the build host (dev, ino, owner, time) leaks in.
 *
 * Split in two so the unit test can drive each half: mkinitrd-spec.c parses
 * and finalises the list, mkinitrd-write.c turns it into an archive;
 * mkinitrd-lz4.c adds the LZ4 legacy framing libarchive cannot write.
 */
#ifndef LCOW_IMAGE_MKINITRD_H
#define LCOW_IMAGE_MKINITRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "lcow/error.h"

/* Limits of what we accept.  Names stop short of the kernel's PATH_MAX (the
 * initramfs unpacker rejects longer ones); device numbers are Linux's 12-bit
 * major / 20-bit minor; ids exclude (uid_t)-1, which means "no change". */
#define SPEC_NAME_MAX 4095
#define SPEC_MAJOR_MAX 4095u
#define SPEC_MINOR_MAX 1048575u
#define SPEC_ID_MAX 4294967294u
#define SPEC_PERM_MAX 07777u
/* newc stores mtime as 8 hex digits. */
#define SPEC_MTIME_MAX 4294967295ll

enum spec_type {
	SPEC_FILE,
	SPEC_DIR,
	SPEC_NOD,
	SPEC_SLINK,
	SPEC_PIPE,
	SPEC_SOCK,
};

struct spec_entry {
	char *name;		/* normalised: relative, no "", "." or ".." components */
	enum spec_type type;
	mode_t perm;		/* permission bits only (<= 07777) */
	uint32_t uid, gid;
	char *location;		/* SPEC_FILE: source path as written */
	char *target;		/* SPEC_SLINK */
	bool block;		/* SPEC_NOD: block rather than character device */
	uint32_t rmajor, rminor;

	/* Where it was written ("FILE:LINE"); an implicit parent carries the
	 * origin of the entry that needed it. */
	const char *file;
	unsigned line;
	bool implicit;
	size_t seq;		/* order of appearance, to name the first of duplicates */
	size_t group;		/* SPEC_FILE: names of one `file` line share it (hard links) */

	/* Set by spec_finalise(). */
	uint32_t ino;		/* 1, 2, ... in sorted order; shared by hard links */
	uint32_t nlink;		/* files: names in the group; dirs: 2 + subdirectories */
	size_t first;		/* index of the group's first name (sorted order) */
	bool last;		/* the group's last name: newc carries the data here */

	/* Set by spec_check_sources(). */
	uint64_t size;
};

struct spec {
	struct spec_entry *v;
	size_t n, cap;
	size_t n_groups;
	size_t n_seq;
	char **files;		/* owned copies of list file names, for messages */
	size_t n_files;
	bool finalised;
};

void spec_init(struct spec *s);
void spec_free(struct spec *s);

/* "/usr//bin/./ls/" -> "usr/bin/ls".  Rejects "..", empty results, control
 * characters and names longer than SPEC_NAME_MAX. */
int spec_normalise_name(const char *in, char **out, struct error *err);

/* Parse one line (without its newline).  `file` is used in messages and
 * stored in the entries: it must outlive s. */
int spec_parse_line(struct spec *s, const char *file, unsigned line, const char *text,
		    struct error *err);

/* Parse a whole list; `name` is copied into s for messages. */
int spec_parse_stream(struct spec *s, FILE *f, const char *name, struct error *err);

/* Sort by name, reject duplicates, add missing parent directories (0755 0:0),
 * reject entries below a non-directory, assign inode numbers and link
 * counts.  Call once, after all lists are parsed. */
int spec_finalise(struct spec *s, struct error *err);

enum mkinitrd_format {
	MKINITRD_CPIO,
	MKINITRD_TAR,
};

enum mkinitrd_compress {
	MKINITRD_COMPRESS_NONE,
	MKINITRD_COMPRESS_GZIP,
	/* LZ4 legacy frame (`lz4 -l`), the only LZ4 framing the kernel's
	 * initramfs unpacker reads: written by spec_write_archive_lz4(). */
	MKINITRD_COMPRESS_LZ4,
};

struct mkinitrd_options {
	enum mkinitrd_format format;
	enum mkinitrd_compress compress;
	int64_t mtime;
	int src_dirfd;		/* relative locations resolve here (AT_FDCWD for cwd) */
	const char *src_dir;	/* its name for messages, NULL for cwd */
};

/* Open every source once: it must exist, be readable and be a regular file.
 * Records sizes, so the write can detect a file changing under it. */
int spec_check_sources(struct spec *s, const struct mkinitrd_options *o, struct error *err);

/* Write the archive to out_fd (which it does not close).  Compression
 * none or gzip; LZ4 is spec_write_archive_lz4(). */
int spec_write_archive(const struct spec *s, const struct mkinitrd_options *o, int out_fd,
		       struct error *err);

/* Where the archive's bytes go instead of a file: write() takes all len
 * bytes or fails (< 0, err set). */
struct archive_sink {
	int (*write)(void *ctx, const void *buf, size_t len, struct error *err);
	void *ctx;
};

/* Write the archive, uncompressed (o->compress is ignored), to sink. */
int spec_write_archive_sink(const struct spec *s, const struct mkinitrd_options *o,
			    const struct archive_sink *sink, struct error *err);

/* LZ4 legacy frame, as the kernel's lib/decompress_unlz4.c reads it: the
 * magic, then blocks, each a little-endian u32 compressed size and that
 * many bytes of one independent LZ4 block of at most 8 MiB uncompressed.
 * No end marker: the data ends with the file (the kernel stops when the
 * input is used up; a size of 0 would also end it, so no block is empty).
 * Hence an archive appended to the initrd needs a zero word before it:
 * the kernel's unlz4 would otherwise read it as one more block and fail.
 * A plain cpio appended so must also start at an offset divisible by 4
 * (more zeros): the kernel takes a cpio header only there. */
#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK_MAX (8u << 20)

struct lz4_legacy {
	int fd;
	char *in;		/* LZ4_LEGACY_BLOCK_MAX bytes being gathered */
	size_t in_len;
	char *out;		/* the size field + one compressed block */
	size_t out_cap;
	int level;
};

/* Start a stream on fd (not closed): writes the magic. */
int lz4_legacy_open(struct lz4_legacy *z, int fd, int level, struct error *err);
int lz4_legacy_write(struct lz4_legacy *z, const void *buf, size_t len, struct error *err);
/* Compress and write what is left; the stream is complete after it. */
int lz4_legacy_finish(struct lz4_legacy *z, struct error *err);
void lz4_legacy_free(struct lz4_legacy *z);

/* The archive, uncompressed, through an LZ4 legacy stream (LZ4HC at its
 * highest level) to out_fd. */
int spec_write_archive_lz4(const struct spec *s, const struct mkinitrd_options *o, int out_fd,
			   struct error *err);

#endif
