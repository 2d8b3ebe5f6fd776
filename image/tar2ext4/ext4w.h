/* SPDX-License-Identifier: MIT */
/*
 * Writing the ext4 image with libext2fs, one inode at a time: file data
 * streams in, is cut into 4 KiB blocks, and whole runs of blocks are
 * allocated contiguously and written with one pwrite each (data is never
 * read back).  Allocation is deterministic (a moving goal, lowest free
 * inode), so the same input gives the same image.
 *
 * Layout choices (what hcsshim's compactext4 writes, which the Linux guest
 * mounts read-only): 4 KiB blocks, 256-byte inodes with nanosecond times,
 * extents, flex_bg, no journal, no resize inode, no superblock backups
 * (sparse_super2 with none), no dir_index, the read-only feature set at
 * the end; inline_data only when asked for.
 */
#ifndef T2E_EXT4W_H
#define T2E_EXT4W_H

#include <stdbool.h>
#include <stdint.h>

#include <ext2fs/ext2fs.h>

#include "lcow/error.h"
#include "tree.h"

#define EXT4W_BLOCK_SIZE 4096u
#define EXT4W_BLOCK_SHIFT 12
#define EXT4W_INODE_SIZE 256u
/* (2^32 - 1) blocks of 4 KiB: the largest extent-mapped file. */
#define EXT4W_MAX_FILE_SIZE (((1ULL << 32) - 1) << EXT4W_BLOCK_SHIFT)
/* Without the 64bit feature block numbers are 32-bit. */
#define EXT4W_MAX_BLOCKS ((1ULL << 32) - 1)
/* A fast symlink keeps its target in i_block (60 bytes) minus the NUL. */
#define EXT4W_FAST_SYMLINK_MAX 59
/* The kernel refuses longer symlinks (PATH_MAX minus the NUL). */
#define EXT4W_SYMLINK_MAX 4095
/* Regular files up to this size are offered to the inline-data path. */
#define EXT4W_INLINE_CANDIDATE_MAX 256
/* At least this many all-zero blocks in a row become a hole. */
#define EXT4W_HOLE_MIN_BLOCKS 16
/* Largest device numbers the new ext4 encoding holds. */
#define EXT4W_DEV_MAJOR_MAX 0xfffu
#define EXT4W_DEV_MINOR_MAX 0xfffffu

struct ext4w_attr {
	uint32_t mode; /* S_IFMT | permission bits */
	uint32_t uid, gid;
	struct t2e_time atime, mtime, ctime, crtime;
	uint32_t rdev_major, rdev_minor;
};

struct ext4w_params {
	uint64_t blocks;
	uint64_t inodes;
	bool inline_data;
	uint32_t epoch; /* superblock times */
};

struct ext4w {
	ext2_filsys fs;
	blk64_t goal;
	bool inline_data;
	uint32_t epoch;

	/* The file being written. */
	ext2_ino_t ino;
	struct ext2_inode_large inode;
	ext2_extent_handle_t eh;
	bool have_last;
	struct ext2fs_extent last;
	bool zero_holes;
	uint64_t size;
	/* Blocks waiting to be allocated and written: run_n blocks from
	 * logical block run_lblk, of which the last run_zero are zero. */
	uint8_t *run;
	uint32_t run_cap;
	blk64_t run_lblk;
	uint32_t run_n, run_zero;
	/* The partly filled block at cur_lblk. */
	uint8_t cur[EXT4W_BLOCK_SIZE];
	blk64_t cur_lblk;
	bool cur_dirty;
	/* The first logical block not handed to emit_block() yet. */
	blk64_t next_lblk;

	/* The directory being written. */
	uint8_t dblk[EXT4W_BLOCK_SIZE];
	uint32_t dused, dlast;
	uint64_t dblocks;

	uint64_t bytes_written;
};

/* Create the file system in the (sized, zeroed) file at path. */
int ext4w_open(struct ext4w *w, const char *path, const struct ext4w_params *p,
	       struct error *err);
/* Flush everything and close; sets UUID and hash seed first. */
int ext4w_close(struct ext4w *w, const uint8_t uuid[16], const uint8_t hash_seed[16],
		struct error *err);
/* Drop everything without writing (the output is discarded anyway). */
void ext4w_abort(struct ext4w *w);

uint64_t ext4w_free_blocks(const struct ext4w *w);
uint64_t ext4w_blocks(const struct ext4w *w);

/* Allocate an inode number (lowest free, starting at the parent's group). */
int ext4w_new_ino(struct ext4w *w, uint32_t parent, bool is_dir, uint32_t *ino,
		  struct error *err);
/* Free an inode and every block it holds. */
int ext4w_release(struct ext4w *w, uint32_t ino, bool is_dir, struct error *err);

/* Device nodes, fifos, sockets: only an inode (and xattrs). */
int ext4w_write_special(struct ext4w *w, uint32_t ino, const struct ext4w_attr *a,
			const struct t2e_xattr *x, size_t nx, struct error *err);
/* Fast (in the inode) up to 59 bytes, one data block beyond. */
int ext4w_write_symlink(struct ext4w *w, uint32_t ino, const struct ext4w_attr *a,
			const char *target, size_t len, const struct t2e_xattr *x, size_t nx,
			struct error *err);
int ext4w_set_xattrs(struct ext4w *w, uint32_t ino, const struct t2e_xattr *x, size_t n,
		     struct error *err);
/* Set the link count of a finished non-directory inode. */
int ext4w_set_links(struct ext4w *w, uint32_t ino, uint32_t links, struct error *err);

/*
 * Regular files: begin (inode and xattrs written), then data in
 * non-decreasing offsets (gaps are holes), then finish.  size is the
 * final i_size.
 */
int ext4w_file_begin(struct ext4w *w, uint32_t ino, const struct ext4w_attr *a, uint64_t size,
		     const struct t2e_xattr *x, size_t nx, struct error *err);
int ext4w_file_write(struct ext4w *w, uint64_t off, const void *buf, size_t len,
		     struct error *err);
int ext4w_file_finish(struct ext4w *w, struct error *err);
/* Try to store a small file without xattrs in its inode (inline_data):
 * 1 when it fit, 0 when the caller must use ext4w_file_begin() instead,
 * which rewrites the whole inode. */
int ext4w_file_inline(struct ext4w *w, uint32_t ino, const struct ext4w_attr *a,
		      const void *data, size_t len, struct error *err);

/* Directories: begin with "." and "..", add entries, finish. */
int ext4w_dir_begin(struct ext4w *w, uint32_t ino, uint32_t parent, struct error *err);
int ext4w_dir_add(struct ext4w *w, uint32_t ino, uint32_t mode, const char *name, size_t len,
		  struct error *err);
int ext4w_dir_finish(struct ext4w *w, const struct ext4w_attr *a, uint32_t links,
		     const struct t2e_xattr *x, size_t nx, struct error *err);

#endif
