/* SPDX-License-Identifier: MIT */
#include "diskutil.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "lcow/cleanup.h"

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

int parse_size(const char *s, uint64_t *out, struct error *err)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*s))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			goto overflow;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	unsigned shift = 0;
	switch (toupper((unsigned char)*p)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case 'P':
		shift = 50;
		break;
	case 'B':
		if (p[1] != '\0')
			goto bad;
		break;
	default:
		goto bad;
	}
	if (shift) {
		p++;
		if (strcasecmp(p, "") != 0 && strcasecmp(p, "B") != 0 && strcasecmp(p, "iB") != 0)
			goto bad;
		if (v > (UINT64_MAX >> shift))
			goto overflow;
		v <<= shift;
	}
	*out = v;
	return 0;
overflow:
	return error_setx(err, ERANGE, "size `%s` is too large", s);
bad:
	return error_setx(err, EINVAL,
			  "size `%s`: expected a number with an optional K, M, G, T suffix",
			  s ? s : "");
}

int source_date_epoch(int64_t *out, struct error *err)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	int64_t v = 0;

	*out = 0;
	if (!s || !*s)
		return 0;
	/* 2^34 seconds reaches the year 2514, past every format here. */
	if (strlen(s) > 11)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
bad:
	return error_setx(err, EINVAL, "SOURCE_DATE_EPOCH `%s`: expected seconds since 1970", s);
}

/* --- digest -------------------------------------------------------------- */

#define DIGEST_P1 0x9E3779B185EBCA87ULL
#define DIGEST_P2 0xC2B2AE3D27D4EB4FULL
#define DIGEST_P3 0x165667B19E3779F9ULL

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint64_t lane_round(uint64_t acc, uint64_t in)
{
	acc += in * DIGEST_P2;
	acc = rotl64(acc, 31);
	return acc * DIGEST_P1;
}

static inline uint64_t avalanche(uint64_t h)
{
	h ^= h >> 33;
	h *= DIGEST_P2;
	h ^= h >> 29;
	h *= DIGEST_P3;
	h ^= h >> 32;
	return h;
}

void digest_init(struct digest *d, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->lane[0] = seed + DIGEST_P1 + DIGEST_P2;
	d->lane[1] = seed + DIGEST_P2;
	d->lane[2] = seed;
	d->lane[3] = seed - DIGEST_P1;
}

static void digest_stripe(struct digest *d, const uint8_t *p)
{
	for (int i = 0; i < 4; i++)
		d->lane[i] = lane_round(d->lane[i], load_le64(p + 8 * i));
}

void digest_update(struct digest *d, const void *data, size_t len)
{
	const uint8_t *p = data;

	d->total += len;
	if (d->tail_len) {
		size_t take = sizeof(d->tail) - d->tail_len;
		if (take > len)
			take = len;
		memcpy(d->tail + d->tail_len, p, take);
		d->tail_len += take;
		p += take;
		len -= take;
		if (d->tail_len < sizeof(d->tail))
			return;
		digest_stripe(d, d->tail);
		d->tail_len = 0;
	}
	for (; len >= 32; p += 32, len -= 32)
		digest_stripe(d, p);
	memcpy(d->tail, p, len);
	d->tail_len = len;
}

void digest_final(const struct digest *d, uint8_t out[16])
{
	uint64_t h = rotl64(d->lane[0], 1) + rotl64(d->lane[1], 7) + rotl64(d->lane[2], 12) +
		     rotl64(d->lane[3], 18);
	uint64_t g = d->lane[0] ^ rotl64(d->lane[1], 17) ^ rotl64(d->lane[2], 29) ^
		     rotl64(d->lane[3], 43);

	h += d->total;
	for (size_t i = 0; i < d->tail_len; i++) {
		h = rotl64(h ^ (d->tail[i] * DIGEST_P3), 11) * DIGEST_P1;
		g = rotl64(g + (d->tail[i] * DIGEST_P1), 23) * DIGEST_P2;
	}
	h = avalanche(h);
	g = avalanche(g ^ h ^ (d->total * DIGEST_P3));
	h = htole64(h);
	g = htole64(g);
	memcpy(out, &h, 8);
	memcpy(out + 8, &g, 8);
}

void uuid_from_digest(uint8_t uuid[16])
{
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x80); /* version 8 */
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80); /* RFC 9562 variant */
}

void uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

int uuid_parse(const char *s, uint8_t uuid[16], struct error *err)
{
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '-' && (p - s == 8 || p - s == 13 || p - s == 18 || p - s == 23))
			continue;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) || n >= 16)
			goto bad;
		unsigned v;
		if (sscanf(p, "%2x", &v) != 1)
			goto bad;
		uuid[n++] = (uint8_t)v;
		p++;
	}
	if (n != 16 || strlen(s) != 36)
		goto bad;
	return 0;
bad:
	return error_setx(err, EINVAL, "UUID `%s`: expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
			  s);
}

/* --- I/O ----------------------------------------------------------------- */

ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

#define PUNCH_BUF_SIZE (1u << 20)

static bool zero_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int punch(int fd, uint64_t off, uint64_t len, struct error *err)
{
	if (len == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0) {
		/* A file system without holes: the data is still right. */
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			return 0;
		return error_set(err, errno, "punch a hole at %" PRIu64, off);
	}
	return 0;
}

/* Punch the all-zero grains of a written range [off, end). */
static int punch_written(int fd, uint8_t *buf, uint64_t off, uint64_t end, uint32_t grain,
			 struct error *err)
{
	uint64_t pos = (off + grain - 1) / grain * grain, zstart = 0, zrun = 0;

	while (pos + grain <= end) {
		size_t want = PUNCH_BUF_SIZE;
		if (end - pos < want)
			want = (size_t)((end - pos) / grain * grain);
		ssize_t n = pread_full(fd, buf, want, (off_t)pos);
		if (n < 0)
			return error_set(err, (int)-n, "read at %" PRIu64, pos);
		if (n < (ssize_t)grain)
			break;
		for (size_t i = 0; i + grain <= (size_t)n; i += grain) {
			if (zero_bytes(buf + i, grain)) {
				if (!zrun)
					zstart = pos + i;
				zrun += grain;
				continue;
			}
			int r = punch(fd, zstart, zrun, err);
			if (r < 0)
				return r;
			zrun = 0;
		}
		pos += (uint64_t)n / grain * grain;
	}
	return punch(fd, zstart, zrun, err);
}

#define FIEMAP_BATCH 256

int punch_zeros(int fd, uint64_t start, uint64_t end, uint32_t grain, struct error *err)
{
	size_t fmsize = sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent);
	_cleanup_free_ struct fiemap *fm = malloc(fmsize);
	_cleanup_free_ uint8_t *buf = malloc(PUNCH_BUF_SIZE);
	uint64_t pos = start;

	if (!fm || !buf)
		return error_set(err, ENOMEM, "punch buffers");
	/* FIEMAP, not SEEK_DATA: extents that are allocated but unwritten
	 * (what fallocate ZERO_RANGE leaves) read as holes yet take space. */
	while (pos < end) {
		memset(fm, 0, fmsize);
		fm->fm_start = pos;
		fm->fm_length = end - pos;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			if (errno == EOPNOTSUPP || errno == ENOTTY)
				return 0; /* nothing to learn: leave the file as is */
			return error_set(err, errno, "map the file's extents");
		}
		if (fm->fm_mapped_extents == 0)
			break;
		for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *fe = &fm->fm_extents[i];
			uint64_t a = fe->fe_logical < start ? start : fe->fe_logical;
			uint64_t b = fe->fe_logical + fe->fe_length;
			if (b > end)
				b = end;
			int r;
			if (fe->fe_flags & FIEMAP_EXTENT_UNWRITTEN) {
				uint64_t ga = (a + grain - 1) / grain * grain,
					 gb = b / grain * grain;
				r = gb > ga ? punch(fd, ga, gb - ga, err) : 0;
			} else {
				r = punch_written(fd, buf, a, b, grain, err);
			}
			if (r < 0)
				return r;
			pos = fe->fe_logical + fe->fe_length;
			if (fe->fe_flags & FIEMAP_EXTENT_LAST)
				return 0;
		}
	}
	return 0;
}

/* --- ext4 superblock ----------------------------------------------------- */

_Static_assert(sizeof(struct ext2_super_block) == 1024, "ext4 superblock is 1024 bytes");

#define SB_COMPAT_SPARSE_SUPER2 0x0200u
#define SB_RO_COMPAT_SPARSE_SUPER 0x0001u
#define SB_RO_COMPAT_METADATA_CSUM 0x0400u
#define SB_INCOMPAT_64BIT 0x0080u
#define SB_CSUM_CRC32C 1

static int read_sb(int fd, off_t off, struct ext2_super_block *sb, struct error *err)
{
	ssize_t n = pread_full(fd, sb, sizeof(*sb), off);
	if (n < 0)
		return error_set(err, (int)-n, "read superblock at %lld", (long long)off);
	if ((size_t)n < sizeof(*sb))
		return error_setx(err, EINVAL, "no ext4 superblock at %lld: file too short",
				  (long long)off);
	if (le16toh(sb->s_magic) != EXT4_SB_MAGIC)
		return error_setx(err, EINVAL, "no ext4 superblock at %lld (bad magic 0x%04x)",
				  (long long)off, le16toh(sb->s_magic));
	return 0;
}

int ext4_sb_read(int fd, uint64_t base, struct ext4_sb_info *info, struct error *err)
{
	struct ext2_super_block sb;
	int r = read_sb(fd, (off_t)(base + EXT4_SB_OFFSET), &sb, err);
	if (r < 0)
		return r;

	uint32_t log = le32toh(sb.s_log_block_size);
	if (log > 6)
		return error_setx(err, EINVAL, "ext4 superblock: implausible block size 2^%u KiB",
				  log);
	memset(info, 0, sizeof(*info));
	info->block_size = 1024u << log;
	info->feature_compat = le32toh(sb.s_feature_compat);
	info->feature_incompat = le32toh(sb.s_feature_incompat);
	info->feature_ro_compat = le32toh(sb.s_feature_ro_compat);
	info->blocks_count = le32toh(sb.s_blocks_count);
	info->free_blocks = le32toh(sb.s_free_blocks_count);
	if (info->feature_incompat & SB_INCOMPAT_64BIT) {
		info->blocks_count |= (uint64_t)le32toh(sb.s_blocks_count_hi) << 32;
		info->free_blocks |= (uint64_t)le32toh(sb.s_free_blocks_hi) << 32;
	}
	info->inodes_count = le32toh(sb.s_inodes_count);
	info->free_inodes = le32toh(sb.s_free_inodes_count);
	info->blocks_per_group = le32toh(sb.s_blocks_per_group);
	info->first_data_block = le32toh(sb.s_first_data_block);
	info->state = le16toh(sb.s_state);
	memcpy(info->uuid, sb.s_uuid, sizeof(info->uuid));
	memcpy(info->volume_name, sb.s_volume_name, sizeof(sb.s_volume_name));
	info->volume_name[16] = '\0';
	if (info->blocks_per_group == 0 || info->blocks_count == 0 ||
	    info->blocks_count > (UINT64_MAX / info->block_size))
		return error_setx(err, EINVAL, "ext4 superblock: implausible geometry");
	info->size = info->blocks_count * info->block_size;
	return 0;
}

static bool is_power_of(uint64_t n, uint64_t base)
{
	while (n > 1 && n % base == 0)
		n /= base;
	return n == 1;
}

static bool group_has_super(const struct ext2_super_block *sb, uint64_t g)
{
	if (g == 0)
		return true;
	if (le32toh(sb->s_feature_compat) & SB_COMPAT_SPARSE_SUPER2)
		return g == le32toh(sb->s_backup_bgs[0]) || g == le32toh(sb->s_backup_bgs[1]);
	if (!(le32toh(sb->s_feature_ro_compat) & SB_RO_COMPAT_SPARSE_SUPER))
		return true;
	return g == 1 || is_power_of(g, 3) || is_power_of(g, 5) || is_power_of(g, 7);
}

static void sb_apply_times(struct ext2_super_block *sb, uint32_t t, unsigned which)
{
	if (which & EXT4_SB_WTIME) {
		sb->s_wtime = htole32(t);
		sb->s_wtime_hi = 0;
	}
	if (which & EXT4_SB_MKFS_TIME) {
		sb->s_mkfs_time = htole32(t);
		sb->s_mkfs_time_hi = 0;
	}
	if (which & EXT4_SB_LASTCHECK) {
		sb->s_lastcheck = htole32(t);
		sb->s_lastcheck_hi = 0;
	}
	if ((le32toh(sb->s_feature_ro_compat) & SB_RO_COMPAT_METADATA_CSUM) &&
	    sb->s_checksum_type == SB_CSUM_CRC32C)
		sb->s_checksum = htole32(ext2fs_crc32c_le(
			~0U, (unsigned char *)sb, offsetof(struct ext2_super_block, s_checksum)));
}

int ext4_sb_set_times(int fd, uint32_t t, unsigned which, struct error *err)
{
	struct ext2_super_block primary, sb;
	int r = read_sb(fd, EXT4_SB_OFFSET, &primary, err);
	if (r < 0)
		return r;

	uint32_t log = le32toh(primary.s_log_block_size);
	uint64_t bpg = le32toh(primary.s_blocks_per_group);
	uint64_t first = le32toh(primary.s_first_data_block);
	uint64_t blocks = le32toh(primary.s_blocks_count);
	if (le32toh(primary.s_feature_incompat) & SB_INCOMPAT_64BIT)
		blocks |= (uint64_t)le32toh(primary.s_blocks_count_hi) << 32;
	if (log > 6 || bpg == 0 || blocks <= first)
		return error_setx(err, EINVAL, "ext4 superblock: implausible geometry");
	uint64_t bs = 1024ULL << log;
	uint64_t groups = (blocks - first + bpg - 1) / bpg;

	for (uint64_t g = 1; g < groups; g++) {
		if (!group_has_super(&primary, g))
			continue;
		off_t off = (off_t)((first + g * bpg) * bs);
		r = read_sb(fd, off, &sb, err);
		if (r < 0)
			return error_prefix(err, r, "backup superblock of group %" PRIu64, g);
		if (le16toh(sb.s_block_group_nr) != (g & 0xffff))
			return error_setx(err, EINVAL,
					  "backup superblock of group %" PRIu64 " names group %u",
					  g, le16toh(sb.s_block_group_nr));
		sb_apply_times(&sb, t, which);
		r = pwrite_full(fd, &sb, sizeof(sb), off);
		if (r < 0)
			return error_set(err, -r, "write backup superblock of group %" PRIu64, g);
	}
	sb_apply_times(&primary, t, which);
	r = pwrite_full(fd, &primary, sizeof(primary), EXT4_SB_OFFSET);
	if (r < 0)
		return error_set(err, -r, "write superblock");
	return 0;
}
