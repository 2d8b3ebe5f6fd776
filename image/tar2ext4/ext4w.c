/* SPDX-License-Identifier: MIT */
#include "ext4w.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <et/com_err.h>
#include <ext2fs/ext3_extents.h>

/* One pwrite covers at most this much file data. */
#define RUN_BYTES (1u << 20)
/* ext4 directory entry: inode, rec_len, name_len, file_type, name. */
#define DIRENT_HEADER 8
#define DIRENT_ALIGN 4
/* Times beyond what ext4's 2 epoch bits hold are clamped. */
#define EXT4_TIME_MIN (-0x80000000LL)
#define EXT4_TIME_MAX 0x37fffffffLL

/* The on-disk inode: the large-inode fields, then the in-inode xattr
 * area, zeroed on every fresh write so no stale xattrs survive. */
union inode_buf {
	struct ext2_inode_large large;
	uint8_t raw[EXT4W_INODE_SIZE];
};
_Static_assert(sizeof(struct ext2_inode_large) <= EXT4W_INODE_SIZE, "large inode fits");
_Static_assert(sizeof(struct ext3_extent_header) == 12, "extent header is 12 bytes");

static int errno_of(errcode_t e)
{
	if (e > 0 && e < 4096)
		return (int)e;
	if (e == EXT2_ET_BLOCK_ALLOC_FAIL || e == EXT2_ET_INODE_ALLOC_FAIL ||
	    e == EXT2_ET_EA_NO_SPACE || e == EXT2_ET_DIR_NO_SPACE)
		return ENOSPC;
	return EIO;
}

__attribute__((format(printf, 3, 4))) static int fail(struct error *err, errcode_t e,
						      const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return error_setx(err, errno_of(e), "%s: %s", what, error_message(e));
}

static void enc_time(struct t2e_time t, __u32 *lo, __u32 *extra)
{
	int64_t s = t.sec;
	if (s < EXT4_TIME_MIN)
		s = EXT4_TIME_MIN;
	if (s > EXT4_TIME_MAX)
		s = EXT4_TIME_MAX;
	*lo = (uint32_t)s;
	/* The kernel's encoding: the seconds above the signed 32-bit range
	 * go to the two low bits, nanoseconds to the rest. */
	uint32_t epoch = (uint32_t)(((s - (int64_t)(int32_t)(uint32_t)s) >> 32) & 3);
	*extra = epoch | ((t.nsec % 1000000000u) << 2);
}

static void inode_init(struct ext2_inode_large *in, const struct ext4w_attr *a)
{
	memset(in, 0, sizeof(*in));
	in->i_mode = (__u16)a->mode;
	in->i_uid = (__u16)a->uid;
	in->osd2.linux2.l_i_uid_high = (__u16)(a->uid >> 16);
	in->i_gid = (__u16)a->gid;
	in->osd2.linux2.l_i_gid_high = (__u16)(a->gid >> 16);
	in->i_links_count = 1;
	in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	enc_time(a->atime, &in->i_atime, &in->i_atime_extra);
	enc_time(a->mtime, &in->i_mtime, &in->i_mtime_extra);
	enc_time(a->ctime, &in->i_ctime, &in->i_ctime_extra);
	enc_time(a->crtime, &in->i_crtime, &in->i_crtime_extra);
}

static void extent_root_init(struct ext2_inode_large *in)
{
	struct ext3_extent_header eh = {
		.eh_magic = htole16(EXT3_EXT_MAGIC),
		.eh_entries = 0,
		.eh_max = htole16((sizeof(in->i_block) - sizeof(eh)) / sizeof(struct ext3_extent)),
		.eh_depth = 0,
	};
	in->i_flags |= EXT4_EXTENTS_FL;
	memset(in->i_block, 0, sizeof(in->i_block));
	memcpy(in->i_block, &eh, sizeof(eh));
}

/* Write all 256 bytes: a fresh inode never inherits xattrs of a released
 * one that had the same number. */
static int write_fresh(struct ext4w *w, uint32_t ino, const struct ext2_inode_large *in,
		       struct error *err)
{
	union inode_buf b;
	memset(&b, 0, sizeof(b));
	b.large = *in;
	errcode_t e = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *)&b, sizeof(b));
	if (e)
		return fail(err, e, "write inode %u", ino);
	return 0;
}

static int write_large(struct ext4w *w, uint32_t ino, struct ext2_inode_large *in,
		       struct error *err)
{
	errcode_t e = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *)in, sizeof(*in));
	if (e)
		return fail(err, e, "write inode %u", ino);
	return 0;
}

static int read_large(struct ext4w *w, uint32_t ino, struct ext2_inode_large *in,
		      struct error *err)
{
	errcode_t e = ext2fs_read_inode_full(w->fs, ino, (struct ext2_inode *)in, sizeof(*in));
	if (e)
		return fail(err, e, "read inode %u", ino);
	return 0;
}

int ext4w_open(struct ext4w *w, const char *path, const struct ext4w_params *p,
	       struct error *err)
{
	struct ext2_super_block param;
	errcode_t e;

	memset(w, 0, sizeof(*w));
	if (p->blocks > EXT4W_MAX_BLOCKS)
		return error_setx(err, EFBIG, "%llu blocks exceed ext4's 32-bit block numbers",
				  (unsigned long long)p->blocks);
	memset(&param, 0, sizeof(param));
	param.s_log_block_size = EXT4W_BLOCK_SHIFT - 10;
	ext2fs_blocks_count_set(&param, p->blocks);
	param.s_inodes_count = p->inodes > UINT32_MAX ? UINT32_MAX : (uint32_t)p->inodes;
	param.s_rev_level = EXT2_DYNAMIC_REV;
	param.s_inode_size = EXT4W_INODE_SIZE;
	param.s_first_ino = EXT2_GOOD_OLD_FIRST_INO;
	param.s_feature_compat = EXT2_FEATURE_COMPAT_EXT_ATTR | EXT4_FEATURE_COMPAT_SPARSE_SUPER2;
	param.s_feature_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE |
				   EXT3_FEATURE_INCOMPAT_EXTENTS | EXT4_FEATURE_INCOMPAT_FLEX_BG;
	if (p->inline_data)
		param.s_feature_incompat |= EXT4_FEATURE_INCOMPAT_INLINE_DATA;
	param.s_feature_ro_compat =
		EXT2_FEATURE_RO_COMPAT_LARGE_FILE | EXT4_FEATURE_RO_COMPAT_HUGE_FILE |
		EXT4_FEATURE_RO_COMPAT_DIR_NLINK | EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE;
	/* sparse_super2 with both backup groups 0: no backup superblocks,
	 * as a read-only layer has no use for them. */
	param.s_backup_bgs[0] = 0;
	param.s_backup_bgs[1] = 0;
	/* One flex group exactly as large as the group count (a power of
	 * two) packs every bitmap and inode table at the start without the
	 * gaps libext2fs leaves for absent groups, and keeps the rest of
	 * the image one contiguous data area.  One group needs no flex_bg. */
	uint64_t groups = (p->blocks + EXT4W_BLOCK_SIZE * 8 - 1) / (EXT4W_BLOCK_SIZE * 8);
	unsigned log_flex = 0;
	while ((1ULL << log_flex) < groups && log_flex < 16)
		log_flex++;
	if (log_flex == 0)
		param.s_feature_incompat &= ~EXT4_FEATURE_INCOMPAT_FLEX_BG;
	param.s_log_groups_per_flex = (__u8)log_flex;
	param.s_max_mnt_count = 0xffff;

	e = ext2fs_initialize(path, EXT2_FLAG_64BITS, &param, unix_io_manager, &w->fs);
	if (e)
		return fail(err, e, "create ext4 file system of %llu blocks",
			    (unsigned long long)p->blocks);
	w->fs->now = p->epoch;
	w->epoch = p->epoch;
	w->inline_data = p->inline_data;
	e = ext2fs_allocate_tables(w->fs);
	if (e) {
		ext4w_abort(w);
		return fail(err, e, "allocate inode tables");
	}
	/* Inodes 1-10 are reserved; 2 is the root directory. */
	for (ext2_ino_t i = 1; i < EXT2_FIRST_INODE(w->fs->super); i++)
		ext2fs_inode_alloc_stats2(w->fs, i, +1, i == EXT2_ROOT_INO);

	w->run_cap = RUN_BYTES / EXT4W_BLOCK_SIZE;
	w->run = malloc(RUN_BYTES);
	if (!w->run) {
		ext4w_abort(w);
		return error_set(err, ENOMEM, "allocate write buffer");
	}
	return 0;
}

void ext4w_abort(struct ext4w *w)
{
	if (w->eh)
		ext2fs_extent_free(w->eh);
	w->eh = NULL;
	if (w->fs)
		ext2fs_free(w->fs);
	w->fs = NULL;
	free(w->run);
	w->run = NULL;
}

int ext4w_close(struct ext4w *w, const uint8_t uuid[16], const uint8_t hash_seed[16],
		struct error *err)
{
	struct ext2_super_block *sb = w->fs->super;

	memcpy(sb->s_uuid, uuid, sizeof(sb->s_uuid));
	memcpy(sb->s_hash_seed, hash_seed, sizeof(sb->s_hash_seed));
	sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
	/* The guest mounts layers read-only; the feature makes the kernel
	 * refuse anything else (hcsshim's layers carry it too). */
	sb->s_feature_ro_compat |= EXT4_FEATURE_RO_COMPAT_READONLY;
	sb->s_mkfs_time = w->epoch;
	sb->s_lastcheck = w->epoch;
	sb->s_state = EXT2_VALID_FS;
	ext2fs_mark_super_dirty(w->fs);

	errcode_t e = ext2fs_close_free(&w->fs);
	free(w->run);
	w->run = NULL;
	if (e)
		return fail(err, e, "write ext4 metadata");
	return 0;
}

uint64_t ext4w_free_blocks(const struct ext4w *w)
{
	return ext2fs_free_blocks_count(w->fs->super);
}

uint64_t ext4w_blocks(const struct ext4w *w)
{
	return ext2fs_blocks_count(w->fs->super);
}

int ext4w_new_ino(struct ext4w *w, uint32_t parent, bool is_dir, uint32_t *ino,
		  struct error *err)
{
	ext2_ino_t i;
	errcode_t e = ext2fs_new_inode(w->fs, parent, is_dir ? LINUX_S_IFDIR : LINUX_S_IFREG, NULL,
				       &i);
	if (e)
		return fail(err, e, "allocate an inode (the image has %u)",
			    w->fs->super->s_inodes_count);
	ext2fs_inode_alloc_stats2(w->fs, i, +1, is_dir);
	*ino = i;
	return 0;
}

int ext4w_release(struct ext4w *w, uint32_t ino, bool is_dir, struct error *err)
{
	struct ext2_inode_large in;
	int r = read_large(w, ino, &in, err);
	if (r < 0)
		return r;
	if (in.i_flags & EXT4_EXTENTS_FL) {
		errcode_t e = ext2fs_punch(w->fs, ino, (struct ext2_inode *)&in, NULL, 0, ~0ULL);
		if (e)
			return fail(err, e, "free the blocks of inode %u", ino);
	}
	blk64_t acl = ext2fs_file_acl_block(w->fs, (struct ext2_inode *)&in);
	/* xattr blocks are never shared here: one reference, ours. */
	if (acl)
		ext2fs_block_alloc_stats2(w->fs, acl, -1);

	union inode_buf zero;
	memset(&zero, 0, sizeof(zero));
	errcode_t e = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *)&zero, sizeof(zero));
	if (e)
		return fail(err, e, "clear inode %u", ino);
	ext2fs_inode_alloc_stats2(w->fs, ino, -1, is_dir);
	return 0;
}

int ext4w_set_xattrs(struct ext4w *w, uint32_t ino, const struct t2e_xattr *x, size_t n,
		     struct error *err)
{
	struct ext2_xattr_handle *h = NULL;
	errcode_t e;

	if (n == 0)
		return 0;
	e = ext2fs_xattrs_open(w->fs, ino, &h);
	if (e)
		return fail(err, e, "open xattrs");
	e = ext2fs_xattrs_read(h);
	if (e) {
		ext2fs_xattrs_close(&h);
		return fail(err, e, "read xattrs");
	}
	for (size_t i = 0; i < n; i++) {
		e = ext2fs_xattr_set(h, x[i].name, x[i].value, x[i].len);
		if (e) {
			ext2fs_xattrs_close(&h);
			return fail(err, e, "xattr `%s` (%zu bytes)", x[i].name, x[i].len);
		}
	}
	e = ext2fs_xattrs_close(&h);
	if (e)
		return fail(err, e, "write xattrs");
	return 0;
}

int ext4w_set_links(struct ext4w *w, uint32_t ino, uint32_t links, struct error *err)
{
	struct ext2_inode_large in;
	int r = read_large(w, ino, &in, err);
	if (r < 0)
		return r;
	in.i_links_count = (__u16)links;
	return write_large(w, ino, &in, err);
}

int ext4w_write_special(struct ext4w *w, uint32_t ino, const struct ext4w_attr *a,
			const struct t2e_xattr *x, size_t nx, struct error *err)
{
	struct ext2_inode_large in;

	inode_init(&in, a);
	if (S_ISCHR(a->mode) || S_ISBLK(a->mode)) {
		/* Old encoding when both numbers fit a byte (what the kernel
		 * and mke2fs -d write), the new one in i_block[1] otherwise. */
		if (a->rdev_major < 256 && a->rdev_minor < 256) {
			in.i_block[0] = a->rdev_major << 8 | a->rdev_minor;
		} else {
			in.i_block[1] = (a->rdev_minor & 0xff) | (a->rdev_major << 8) |
					((a->rdev_minor & ~0xffu) << 12);
		}
	}
	int r = write_fresh(w, ino, &in, err);
	if (r < 0)
		return r;
	return ext4w_set_xattrs(w, ino, x, nx, err);
}

/* --- block runs ---------------------------------------------------------- */

static bool block_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	for (size_t i = 0; i < EXT4W_BLOCK_SIZE / sizeof(*q); i += 4)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3])
			return false;
	return true;
}

/* Map lblk..lblk+len-1 to pblk.. in the open extent tree, growing the
 * last extent when it is physically contiguous. */
static int map_append(struct ext4w *w, blk64_t lblk, blk64_t pblk, blk64_t len,
		      struct error *err)
{
	errcode_t e;

	while (len > 0) {
		blk64_t n;
		struct ext2fs_extent *last = &w->last;
		if (w->have_last && last->e_lblk + last->e_len == lblk &&
		    last->e_pblk + last->e_len == pblk && last->e_len < EXT_INIT_MAX_LEN) {
			n = EXT_INIT_MAX_LEN - last->e_len;
			if (n > len)
				n = len;
			e = ext2fs_extent_goto(w->eh, last->e_lblk);
			if (e)
				return fail(err, e, "find extent at block %llu",
					    (unsigned long long)last->e_lblk);
			last->e_len += (__u32)n;
			e = ext2fs_extent_replace(w->eh, 0, last);
			if (e)
				return fail(err, e, "grow extent");
		} else {
			n = len > EXT_INIT_MAX_LEN ? EXT_INIT_MAX_LEN : len;
			struct ext2fs_extent ne = {
				.e_pblk = pblk,
				.e_lblk = lblk,
				.e_len = (__u32)n,
				.e_flags = 0,
			};
			int flags = 0;
			if (w->have_last) {
				e = ext2fs_extent_goto(w->eh, last->e_lblk);
				if (e)
					return fail(err, e, "find extent at block %llu",
						    (unsigned long long)last->e_lblk);
				flags = EXT2_EXTENT_INSERT_AFTER;
			}
			e = ext2fs_extent_insert(w->eh, flags, &ne);
			if (!e)
				e = ext2fs_extent_fix_parents(w->eh);
			if (e)
				return fail(err, e, "insert extent");
			*last = ne;
			w->have_last = true;
		}
		lblk += n;
		pblk += n;
		len -= n;
	}
	return 0;
}

/* Allocate and write the first n blocks of the run, contiguously where
 * the free space allows. */
static int run_flush(struct ext4w *w, uint32_t n, struct error *err)
{
	blk64_t lblk = w->run_lblk;
	const uint8_t *p = w->run;

	while (n > 0) {
		blk64_t pblk, plen;
		errcode_t e = ext2fs_new_range(w->fs, 0, w->goal, n, NULL, &pblk, &plen);
		if (e)
			return fail(err, e, "allocate %u blocks (%llu free)", n,
				    (unsigned long long)ext4w_free_blocks(w));
		ext2fs_block_alloc_stats_range(w->fs, pblk, (blk_t)plen, +1);
		e = ext2fs_iblk_add_blocks(w->fs, (struct ext2_inode *)&w->inode, plen);
		if (e)
			return fail(err, e, "count blocks");
		int r = map_append(w, lblk, pblk, plen, err);
		if (r < 0)
			return r;
		e = io_channel_write_blk64(w->fs->io, pblk, (int)plen, p);
		if (e)
			return fail(err, e, "write %llu blocks at %llu", (unsigned long long)plen,
				    (unsigned long long)pblk);
		w->bytes_written += plen * EXT4W_BLOCK_SIZE;
		w->goal = pblk + plen;
		lblk += plen;
		p += plen * EXT4W_BLOCK_SIZE;
		n -= (uint32_t)plen;
	}
	return 0;
}

/* Take one full block at lblk: long zero runs become holes, the rest
 * gathers in the run buffer. */
static int emit_block(struct ext4w *w, blk64_t lblk, const uint8_t *data, struct error *err)
{
	int r;
	bool zero = w->zero_holes && block_is_zero(data);

	w->next_lblk = lblk + 1;

	if (w->run_n > 0 && lblk != w->run_lblk + w->run_n) {
		/* A gap follows: trailing zeros may join the hole. */
		r = run_flush(w, w->run_n - w->run_zero, err);
		if (r < 0)
			return r;
		w->run_n = w->run_zero = 0;
	}
	if (zero) {
		if (w->run_n == 0)
			return 0;
		if (w->run_zero + 1 >= EXT4W_HOLE_MIN_BLOCKS) {
			r = run_flush(w, w->run_n - w->run_zero, err);
			if (r < 0)
				return r;
			w->run_n = w->run_zero = 0;
			return 0;
		}
		w->run_zero++;
	} else {
		if (w->run_n == 0)
			w->run_lblk = lblk;
		w->run_zero = 0;
	}
	memcpy(w->run + (size_t)w->run_n * EXT4W_BLOCK_SIZE, data, EXT4W_BLOCK_SIZE);
	w->run_n++;
	if (w->run_n == w->run_cap) {
		r = run_flush(w, w->run_n, err);
		if (r < 0)
			return r;
		w->run_n = w->run_zero = 0;
	}
	return 0;
}

static int data_begin(struct ext4w *w, uint32_t ino, uint64_t size, bool zero_holes,
		      struct error *err)
{
	errcode_t e = ext2fs_extent_open2(w->fs, ino, (struct ext2_inode *)&w->inode, &w->eh);
	if (e)
		return fail(err, e, "open extent tree of inode %u", ino);
	w->ino = ino;
	w->size = size;
	w->zero_holes = zero_holes;
	w->have_last = false;
	w->run_n = w->run_zero = 0;
	w->cur_dirty = false;
	w->next_lblk = 0;
	return 0;
}

/* Write out what is buffered and close the extent tree. */
static int data_end(struct ext4w *w, struct error *err)
{
	int r = 0;
	if (w->cur_dirty) {
		r = emit_block(w, w->cur_lblk, w->cur, err);
		w->cur_dirty = false;
	}
	/* Zeros at the end of the file are a hole up to i_size. */
	if (r >= 0 && w->run_n > 0)
		r = run_flush(w, w->run_n - w->run_zero, err);
	w->run_n = w->run_zero = 0;
	ext2fs_extent_free(w->eh);
	w->eh = NULL;
	return r;
}

int ext4w_file_begin(struct ext4w *w, uint32_t ino, const struct ext4w_attr *a, uint64_t size,
		     const struct t2e_xattr *x, size_t nx, struct error *err)
{
	int r;

	if (size > EXT4W_MAX_FILE_SIZE)
		return error_setx(err, EFBIG, "%llu bytes exceed ext4's largest file",
				  (unsigned long long)size);
	inode_init(&w->inode, a);
	extent_root_init(&w->inode);
	r = write_fresh(w, ino, &w->inode, err);
	if (r < 0)
		return r;
	if (nx) {
		r = ext4w_set_xattrs(w, ino, x, nx, err);
		if (r < 0)
			return r;
		/* The xattr code rewrote the inode (EA block, i_blocks). */
		r = read_large(w, ino, &w->inode, err);
		if (r < 0)
			return r;
	}
	return data_begin(w, ino, size, S_ISREG(a->mode), err);
}

int ext4w_file_write(struct ext4w *w, uint64_t off, const void *buf, size_t len,
		     struct error *err)
{
	const uint8_t *p = buf;
	int r;

	if (off > w->size || len > w->size - off)
		return error_setx(err, EINVAL, "data at %llu+%zu beyond the size %llu",
				  (unsigned long long)off, len, (unsigned long long)w->size);
	while (len > 0) {
		blk64_t lblk = off >> EXT4W_BLOCK_SHIFT;
		size_t in = off & (EXT4W_BLOCK_SIZE - 1);
		if ((w->cur_dirty && lblk < w->cur_lblk) ||
		    (!(w->cur_dirty && lblk == w->cur_lblk) && lblk < w->next_lblk))
			return error_setx(err, EINVAL, "data at %llu out of order",
					  (unsigned long long)off);
		if (w->cur_dirty && lblk != w->cur_lblk) {
			r = emit_block(w, w->cur_lblk, w->cur, err);
			if (r < 0)
				return r;
			w->cur_dirty = false;
		}
		if (!w->cur_dirty && in == 0 && len >= EXT4W_BLOCK_SIZE) {
			r = emit_block(w, lblk, p, err);
			if (r < 0)
				return r;
			p += EXT4W_BLOCK_SIZE;
			off += EXT4W_BLOCK_SIZE;
			len -= EXT4W_BLOCK_SIZE;
			continue;
		}
		if (!w->cur_dirty) {
			memset(w->cur, 0, sizeof(w->cur));
			w->cur_lblk = lblk;
			w->cur_dirty = true;
		}
		size_t n = EXT4W_BLOCK_SIZE - in;
		if (n > len)
			n = len;
		memcpy(w->cur + in, p, n);
		p += n;
		off += n;
		len -= n;
		if (in + n == EXT4W_BLOCK_SIZE) {
			r = emit_block(w, w->cur_lblk, w->cur, err);
			if (r < 0)
				return r;
			w->cur_dirty = false;
		}
	}
	return 0;
}

int ext4w_file_finish(struct ext4w *w, struct error *err)
{
	int r = data_end(w, err);
	if (r < 0)
		return r;
	errcode_t e = ext2fs_inode_size_set(w->fs, (struct ext2_inode *)&w->inode, w->size);
	if (e)
		return fail(err, e, "set size of inode %u", w->ino);
	return write_large(w, w->ino, &w->inode, err);
}

int ext4w_file_inline(struct ext4w *w, uint32_t ino, const struct ext4w_attr *a,
		      const void *data, size_t len, struct error *err)
{
	struct ext2_inode_large in;
	errcode_t e;

	if (!w->inline_data || len == 0 || len > EXT4W_INLINE_CANDIDATE_MAX)
		return 0;
	inode_init(&in, a);
	in.i_flags = EXT4_INLINE_DATA_FL;
	in.i_size = (__u32)len;
	int r = write_fresh(w, ino, &in, err);
	if (r < 0)
		return r;
	e = ext2fs_inline_data_init(w->fs, ino);
	if (e)
		return fail(err, e, "initialise inline data");
	r = read_large(w, ino, &in, err);
	if (r < 0)
		return r;
	e = ext2fs_inline_data_set(w->fs, ino, (struct ext2_inode *)&in, (void *)data, len);
	if (e == EXT2_ET_INLINE_DATA_NO_SPACE)
		return 0; /* ext4w_file_begin() rewrites the whole inode */
	if (e)
		return fail(err, e, "write inline data");
	return 1;
}

int ext4w_write_symlink(struct ext4w *w, uint32_t ino, const struct ext4w_attr *a,
			const char *target, size_t len, const struct t2e_xattr *x, size_t nx,
			struct error *err)
{
	struct ext2_inode_large in;
	int r;

	if (len == 0 || len > EXT4W_SYMLINK_MAX)
		return error_setx(err, EINVAL, "symlink target of %zu bytes (ext4: 1 to %d)", len,
				  EXT4W_SYMLINK_MAX);
	if (len <= EXT4W_FAST_SYMLINK_MAX) {
		/* A fast symlink: the target lives in i_block, no flags. */
		inode_init(&in, a);
		memcpy(in.i_block, target, len);
		in.i_size = (__u32)len;
		r = write_fresh(w, ino, &in, err);
		if (r < 0)
			return r;
		return ext4w_set_xattrs(w, ino, x, nx, err);
	}
	r = ext4w_file_begin(w, ino, a, len, x, nx, err);
	if (r < 0)
		return r;
	r = ext4w_file_write(w, 0, target, len, err);
	if (r < 0)
		return r;
	return ext4w_file_finish(w, err);
}

/* --- directories --------------------------------------------------------- */

static uint8_t file_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return EXT2_FT_REG_FILE;
	case S_IFDIR:
		return EXT2_FT_DIR;
	case S_IFCHR:
		return EXT2_FT_CHRDEV;
	case S_IFBLK:
		return EXT2_FT_BLKDEV;
	case S_IFIFO:
		return EXT2_FT_FIFO;
	case S_IFSOCK:
		return EXT2_FT_SOCK;
	case S_IFLNK:
		return EXT2_FT_SYMLINK;
	}
	return EXT2_FT_UNKNOWN;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

/* Stretch the last entry over the rest of the block and write it. */
static int dir_close_block(struct ext4w *w, struct error *err)
{
	put_le16(w->dblk + w->dlast + 4, (uint16_t)(EXT4W_BLOCK_SIZE - w->dlast));
	int r = ext4w_file_write(w, w->dblocks * EXT4W_BLOCK_SIZE, w->dblk, EXT4W_BLOCK_SIZE, err);
	if (r < 0)
		return r;
	w->dblocks++;
	w->dused = 0;
	memset(w->dblk, 0, sizeof(w->dblk));
	return 0;
}

int ext4w_dir_add(struct ext4w *w, uint32_t ino, uint32_t mode, const char *name, size_t len,
		  struct error *err)
{
	uint32_t rec = (uint32_t)((DIRENT_HEADER + len + DIRENT_ALIGN - 1) & ~(DIRENT_ALIGN - 1));

	if (len == 0 || len > EXT2_NAME_LEN)
		return error_setx(err, EINVAL, "directory entry name of %zu bytes", len);
	if (w->dused + rec > EXT4W_BLOCK_SIZE) {
		int r = dir_close_block(w, err);
		if (r < 0)
			return r;
	}
	uint8_t *e = w->dblk + w->dused;
	put_le32(e, ino);
	put_le16(e + 4, (uint16_t)rec);
	e[6] = (uint8_t)len;
	e[7] = file_type(mode);
	memcpy(e + DIRENT_HEADER, name, len);
	w->dlast = w->dused;
	w->dused += rec;
	/* The size grows by whole blocks; i_size is only for bounds checks. */
	w->size = (w->dblocks + 1) * EXT4W_BLOCK_SIZE;
	return 0;
}

int ext4w_dir_begin(struct ext4w *w, uint32_t ino, uint32_t parent, struct error *err)
{
	memset(&w->inode, 0, sizeof(w->inode));
	w->inode.i_mode = LINUX_S_IFDIR;
	w->inode.i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	extent_root_init(&w->inode);
	int r = write_fresh(w, ino, &w->inode, err);
	if (r < 0)
		return r;
	/* Directories are never sparse: no zero detection. */
	r = data_begin(w, ino, 0, false, err);
	if (r < 0)
		return r;
	w->dblocks = 0;
	w->dused = 0;
	memset(w->dblk, 0, sizeof(w->dblk));
	r = ext4w_dir_add(w, ino, S_IFDIR, ".", 1, err);
	if (r < 0)
		return r;
	return ext4w_dir_add(w, parent, S_IFDIR, "..", 2, err);
}

int ext4w_dir_finish(struct ext4w *w, const struct ext4w_attr *a, uint32_t links,
		     const struct t2e_xattr *x, size_t nx, struct error *err)
{
	int r = dir_close_block(w, err);
	if (r < 0)
		return r;
	r = data_end(w, err);
	if (r < 0)
		return r;

	/* Keep what the extent code filled in; take the rest from a. */
	struct ext2_inode_large in;
	inode_init(&in, a);
	memcpy(in.i_block, w->inode.i_block, sizeof(in.i_block));
	in.i_flags = w->inode.i_flags;
	in.i_blocks = w->inode.i_blocks;
	in.osd2.linux2.l_i_blocks_hi = w->inode.osd2.linux2.l_i_blocks_hi;
	in.i_links_count = (__u16)links;
	errcode_t e = ext2fs_inode_size_set(w->fs, (struct ext2_inode *)&in,
					    w->dblocks * EXT4W_BLOCK_SIZE);
	if (e)
		return fail(err, e, "set size of directory inode %u", w->ino);
	r = write_large(w, w->ino, &in, err);
	if (r < 0)
		return r;
	return ext4w_set_xattrs(w, w->ino, x, nx, err);
}
