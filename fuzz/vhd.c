/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the VHD footer reader (image/disk/vhd.c), what
 * lcow-disk and tar2ext4 trust when they open a rootfs.vhd or a layer.
 * Input: a flags byte, then a file.  Flags bit 0: write the correct
 * checksum into the file's last 512 bytes first (a random footer almost
 * never has one, and everything past the checksum check would go unseen).
 * The file is parsed as a footer (its last 512 bytes) and opened as a
 * fixed VHD from a memory file.
 *
 * Invariants: a parsed footer has the cookie, a checksum that matches, a
 * sector-multiple size and a known disk type; a fixed VHD that opens is
 * exactly its data plus the footer; a footer built for a size parses back
 * to that size.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_NAME "vhd"
#include "target.h"
#include "vhd.h"

static int mem_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mem_fd = memfd_create("lcow-fuzz-vhd", MFD_CLOEXEC);
	if (mem_fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	uint8_t flags = data[0];
	size_t len = size - 1;
	uint8_t *file = malloc(len ? len : 1);
	CHECK(file);
	memcpy(file, data + 1, len);
	if ((flags & 1) && len >= VHD_FOOTER_SIZE) {
		struct vhd_footer f;
		memcpy(&f, file + len - VHD_FOOTER_SIZE, sizeof(f));
		put_be32(file + len - VHD_FOOTER_SIZE + 64, vhd_checksum(&f));
	}

	struct vhd_info info;
	struct error err = { 0 };
	const uint8_t *footer = len >= VHD_FOOTER_SIZE ? file + len - VHD_FOOTER_SIZE : file;
	if (vhd_footer_parse(footer, len < VHD_FOOTER_SIZE ? len : VHD_FOOTER_SIZE, &info, &err) == 0) {
		CHECK(memcmp(info.cookie, VHD_COOKIE, VHD_COOKIE_LEN) == 0);
		struct vhd_footer f;
		memcpy(&f, footer, sizeof(f));
		CHECK(vhd_checksum(&f) == info.checksum);
		CHECK(info.current_size % 512 == 0);
		CHECK(info.disk_type >= VHD_DISK_TYPE_FIXED &&
		      info.disk_type <= VHD_DISK_TYPE_DIFFERENCING);
	} else {
		CHECK(err.errnum != 0 && error_text(&err)[0]);
	}
	error_clear(&err);

	CHECK(ftruncate(mem_fd, 0) == 0);
	CHECK(pwrite(mem_fd, file, len, 0) == (ssize_t)len);
	uint64_t file_size = 0;
	if (vhd_read_fixed(mem_fd, &info, &file_size, &err) == 0) {
		CHECK(file_size == len);
		CHECK(info.disk_type == VHD_DISK_TYPE_FIXED);
		CHECK(info.current_size + VHD_FOOTER_SIZE == len);
	} else {
		CHECK(err.errnum != 0 && error_text(&err)[0]);
	}
	error_clear(&err);

	/* What the writer builds for this file's data parses back. */
	uint64_t data_size = len >= VHD_FOOTER_SIZE ? (len - VHD_FOOTER_SIZE) / 512 * 512 : 0;
	struct vhd_footer built;
	uint8_t id[16] = { 0 };
	memcpy(id, data, size < sizeof(id) ? size : sizeof(id));
	vhd_footer_build(&built, data_size, (uint32_t)len, id);
	CHECK(vhd_footer_parse(&built, sizeof(built), &info, &err) == 0);
	CHECK(info.current_size == data_size && info.disk_type == VHD_DISK_TYPE_FIXED);
	free(file);
	return 0;
}
