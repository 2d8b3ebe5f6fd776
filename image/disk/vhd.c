/* SPDX-License-Identifier: MIT */
#include "vhd.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "diskutil.h"

struct vhd_geometry vhd_geometry_for(uint64_t size)
{
	uint64_t total = size / VHD_SECTOR_SIZE;
	uint64_t spt, heads, cth;

	if (total > 65535ULL * 16 * 255)
		total = 65535ULL * 16 * 255;
	if (total >= 65535ULL * 16 * 63) {
		spt = 255;
		heads = 16;
		cth = total / spt;
	} else {
		spt = 17;
		cth = total / spt;
		heads = (cth + 1023) / 1024;
		if (heads < 4)
			heads = 4;
		if (cth >= heads * 1024 || heads > 16) {
			spt = 31;
			heads = 16;
			cth = total / spt;
		}
		if (cth >= heads * 1024) {
			spt = 63;
			heads = 16;
			cth = total / spt;
		}
	}
	return (struct vhd_geometry){
		.cylinders = (uint16_t)(cth / heads),
		.heads = (uint8_t)heads,
		.sectors_per_track = (uint8_t)spt,
	};
}

uint32_t vhd_checksum(const struct vhd_footer *f)
{
	const uint8_t *p = (const uint8_t *)f;
	uint32_t sum = 0;

	for (size_t i = 0; i < sizeof(*f); i++) {
		if (i >= offsetof(struct vhd_footer, checksum) &&
		    i < offsetof(struct vhd_footer, checksum) + sizeof(f->checksum))
			continue;
		sum += p[i];
	}
	return ~sum;
}

uint32_t vhd_timestamp(int64_t unix_time)
{
	if (unix_time <= VHD_EPOCH_UNIX)
		return 0;
	if (unix_time - VHD_EPOCH_UNIX > UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)(unix_time - VHD_EPOCH_UNIX);
}

void vhd_footer_build(struct vhd_footer *f, uint64_t size, uint32_t timestamp,
		      const uint8_t unique_id[16])
{
	struct vhd_geometry g = vhd_geometry_for(size);

	memset(f, 0, sizeof(*f));
	memcpy(f->cookie, VHD_COOKIE, VHD_COOKIE_LEN);
	f->features = htobe32(VHD_FEATURES_RESERVED);
	f->version = htobe32(VHD_VERSION_1_0);
	f->data_offset = htobe64(VHD_DATA_OFFSET_NONE);
	f->timestamp = htobe32(timestamp);
	memcpy(f->creator_app, VHD_CREATOR_APP, sizeof(f->creator_app));
	f->creator_version = htobe32(VHD_CREATOR_VERSION);
	memcpy(f->creator_os, VHD_CREATOR_OS, sizeof(f->creator_os));
	f->original_size = htobe64(size);
	f->current_size = htobe64(size);
	f->cylinders = htobe16(g.cylinders);
	f->heads = g.heads;
	f->sectors_per_track = g.sectors_per_track;
	f->disk_type = htobe32(VHD_DISK_TYPE_FIXED);
	memcpy(f->unique_id, unique_id, sizeof(f->unique_id));
	f->saved_state = 0;
	f->checksum = htobe32(vhd_checksum(f));
}

int vhd_footer_parse(const void *buf, size_t len, struct vhd_info *info, struct error *err)
{
	struct vhd_footer f;

	if (len < sizeof(f))
		return error_setx(err, EINVAL, "VHD footer: %zu bytes, need %d", len,
				  VHD_FOOTER_SIZE);
	memcpy(&f, buf, sizeof(f));
	if (memcmp(f.cookie, VHD_COOKIE, VHD_COOKIE_LEN) != 0)
		return error_setx(err, EINVAL, "not a VHD: no `conectix` cookie in the footer");

	memset(info, 0, sizeof(*info));
	memcpy(info->cookie, f.cookie, VHD_COOKIE_LEN);
	info->features = be32toh(f.features);
	info->version = be32toh(f.version);
	info->data_offset = be64toh(f.data_offset);
	info->timestamp = be32toh(f.timestamp);
	memcpy(info->creator_app, f.creator_app, 4);
	info->creator_version = be32toh(f.creator_version);
	memcpy(info->creator_os, f.creator_os, 4);
	info->original_size = be64toh(f.original_size);
	info->current_size = be64toh(f.current_size);
	info->geometry.cylinders = be16toh(f.cylinders);
	info->geometry.heads = f.heads;
	info->geometry.sectors_per_track = f.sectors_per_track;
	info->disk_type = be32toh(f.disk_type);
	info->checksum = be32toh(f.checksum);
	memcpy(info->unique_id, f.unique_id, sizeof(info->unique_id));
	info->saved_state = f.saved_state;

	uint32_t want = vhd_checksum(&f);
	if (info->checksum != want)
		return error_setx(err, EINVAL, "VHD footer: checksum 0x%08x, computed 0x%08x",
				  info->checksum, want);
	if ((info->version >> 16) != 1)
		return error_setx(err, EINVAL, "VHD footer: unsupported version 0x%08x",
				  info->version);
	if (info->current_size % VHD_SECTOR_SIZE)
		return error_setx(err, EINVAL,
				  "VHD footer: current size %" PRIu64 " is not a multiple of %d",
				  info->current_size, VHD_SECTOR_SIZE);
	if (info->disk_type == VHD_DISK_TYPE_FIXED && info->data_offset != VHD_DATA_OFFSET_NONE)
		return error_setx(err, EINVAL, "VHD footer: fixed disk with data offset 0x%" PRIx64,
				  info->data_offset);
	if (info->disk_type < VHD_DISK_TYPE_FIXED || info->disk_type > VHD_DISK_TYPE_DIFFERENCING)
		return error_setx(err, EINVAL, "VHD footer: unknown disk type %u", info->disk_type);
	return 0;
}

int vhd_footer_append(int fd, uint64_t size, uint32_t timestamp, const uint8_t unique_id[16],
		      struct error *err)
{
	struct vhd_footer f;

	if (size % VHD_SECTOR_SIZE)
		return error_setx(err, EINVAL, "VHD data size %" PRIu64 " is not a multiple of %d",
				  size, VHD_SECTOR_SIZE);
	if (size > VHD_MAX_SIZE)
		return error_setx(err, EFBIG,
				  "%" PRIu64 " bytes exceed the VHD format's limit of 2040 GiB",
				  size);
	vhd_footer_build(&f, size, timestamp, unique_id);
	int r = pwrite_full(fd, &f, sizeof(f), (off_t)size);
	if (r < 0)
		return error_set(err, -r, "write VHD footer");
	return 0;
}

int vhd_read_fixed(int fd, struct vhd_info *info, uint64_t *file_size, struct error *err)
{
	struct stat st;
	uint8_t buf[VHD_FOOTER_SIZE];

	if (fstat(fd, &st) < 0)
		return error_set(err, errno, "stat");
	if (!S_ISREG(st.st_mode))
		return error_setx(err, EINVAL, "not a regular file");
	if (st.st_size < VHD_FOOTER_SIZE)
		return error_setx(err, EINVAL, "not a VHD: %lld bytes, shorter than a footer",
				  (long long)st.st_size);
	ssize_t n = pread_full(fd, buf, sizeof(buf), st.st_size - VHD_FOOTER_SIZE);
	if (n < 0)
		return error_set(err, (int)-n, "read VHD footer");
	if (n != VHD_FOOTER_SIZE)
		return error_setx(err, EIO, "short read of the VHD footer");
	int r = vhd_footer_parse(buf, sizeof(buf), info, err);
	if (r < 0)
		return r;
	if (info->disk_type != VHD_DISK_TYPE_FIXED)
		return error_setx(err, EINVAL,
				  "VHD disk type %u: only fixed disks (2) are supported",
				  info->disk_type);
	if (info->current_size + VHD_FOOTER_SIZE != (uint64_t)st.st_size)
		return error_setx(err, EINVAL,
				  "VHD footer says %" PRIu64 " bytes of data, the file holds %lld",
				  info->current_size, (long long)st.st_size - VHD_FOOTER_SIZE);
	*file_size = (uint64_t)st.st_size;
	return 0;
}
