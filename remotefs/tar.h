/* SPDX-License-Identifier: MIT */
/*
 * Tar streams, written and read incrementally over fds.
 *
 * Writing: POSIX ustar headers, preceded by a pax extended header ('x')
 * only when a field does not fit (long names, big sizes or ids, xattrs).
 * Reading: ustar, pax ('x', 'g'), GNU long names ('L', 'K') and base-256
 * numbers, old v7 headers; every length is bounded, a bad header or a
 * truncated stream is an error, never a crash.
 */
#ifndef REMOTEFS_TAR_H
#define REMOTEFS_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lcow/error.h"

#define TAR_BLOCK 512

/* The ustar header block (POSIX.1-1988 + the 155-byte prefix). */
struct tar_header {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[6];
	char version[2];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char pad[12];
};
_Static_assert(sizeof(struct tar_header) == TAR_BLOCK, "a tar header is one 512-byte block");

enum {
	TAR_REG = '0',
	TAR_LINK = '1',
	TAR_SYMLINK = '2',
	TAR_CHR = '3',
	TAR_BLK = '4',
	TAR_DIR = '5',
	TAR_FIFO = '6',
	TAR_CONT = '7',
	TAR_PAX = 'x',
	TAR_PAX_GLOBAL = 'g',
	TAR_GNU_LONGNAME = 'L',
	TAR_GNU_LONGLINK = 'K',
};

/* Limits on what a stream may make us hold. */
#define TAR_NAME_MAX 65536	/* a path or link target */
#define TAR_PAX_MAX (1u << 20)	/* one pax extended header */
#define TAR_XATTRS_MAX 256	/* xattrs on one entry */

struct tar_xattr {
	char *name;
	char *value;
	size_t len;
};

struct tar_entry {
	char *name;	/* as in the archive (directories may end in '/') */
	char *linkname; /* hard link target or symlink text, else NULL */
	char type;	/* TAR_REG (also for '\0' and '7'), TAR_LINK, ... */
	uint32_t mode;	/* permission bits incl. setuid/setgid/sticky */
	uint64_t uid, gid;
	uint64_t size;
	int64_t mtime; /* seconds */
	uint32_t devmajor, devminor;
	struct tar_xattr *xattrs;
	size_t n_xattrs;
};

void tar_entry_free(struct tar_entry *e);
/* Add an xattr (copied).  -E2BIG past TAR_XATTRS_MAX. */
int tar_entry_add_xattr(struct tar_entry *e, const char *name, const void *value, size_t len);

/* --- writing ------------------------------------------------------------- */

struct tar_writer {
	int fd;
	size_t len;
	unsigned char buf[65536];
};

void tar_writer_init(struct tar_writer *w, int fd);
/* The header(s) for e; then exactly e->size bytes of data follow. */
int tar_write_header(struct tar_writer *w, const struct tar_entry *e, struct error *err);
int tar_write_data(struct tar_writer *w, const void *data, size_t len, struct error *err);
/* Pad the data just written (of total `size`) to a block boundary. */
int tar_write_pad(struct tar_writer *w, uint64_t size, struct error *err);
/* The two zero blocks that end an archive, and a flush. */
int tar_write_end(struct tar_writer *w, struct error *err);
int tar_flush(struct tar_writer *w, struct error *err);

/* --- reading ------------------------------------------------------------- */

struct tar_reader {
	int fd;
	size_t off, len; /* unread bytes are buf[off, len) */
	bool eof;
	uint64_t data_left; /* of the current entry */
	uint64_t pad_left;
	unsigned char buf[65536];
};

void tar_reader_init(struct tar_reader *r, int fd);
/* Fill the buffer with up to n bytes without consuming them; returns how
 * many are available (< n only at EOF) or -errno. */
ssize_t tar_peek(struct tar_reader *r, size_t n, const unsigned char **p);
/* Read exactly len raw bytes (before the archive: the options).  -EPIPE
 * ("unexpected EOF") when the stream ends first. */
int tar_read_raw(struct tar_reader *r, void *buf, size_t len);
/* The next entry (skipping the rest of the current one): 1, or 0 at the
 * end of the archive, or < 0. */
int tar_next(struct tar_reader *r, struct tar_entry *e, struct error *err);
/* Up to len bytes of the current entry's data: the count, 0 at its end. */
ssize_t tar_read_data(struct tar_reader *r, void *buf, size_t len, struct error *err);

#endif
