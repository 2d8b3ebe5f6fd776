/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: tar2ext4's input (image/tar2ext4/convert.c): an OCI
 * layer, tar (or compressed tar: libarchive detects it), through the
 * sizing pass, the tree and the ext4 writer, into an image in a memory
 * file.  Input: an options byte, then the archive.
 *   bit 0 -overlay, bit 1 -convert-slash, bit 2 -inline,
 *   bit 3 one pass (as from a pipe) instead of scan + write,
 *   bits 4-5 the image size: 2, 4, 8 or 16 MiB (fixed, so that a header
 *   declaring terabytes ends in "too small", not in a huge image).
 * A converted image must open with libext2fs with its bitmaps.
 */
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_NAME "tar2ext4"
#include "target.h"
#include "tar2ext4.h"

static int in_fd = -1, out_fd = -1;
static char out_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	in_fd = memfd_create("t2e-in", MFD_CLOEXEC);
	out_fd = memfd_create("t2e-out", MFD_CLOEXEC);
	if (in_fd < 0 || out_fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	/* libext2fs opens the image by name. */
	snprintf(out_path, sizeof(out_path), "/proc/self/fd/%d", out_fd);
	initialize_ext2_error_table();
	return 0;
}

static void check_image(void)
{
	ext2_filsys fs;
	errcode_t e = ext2fs_open(out_path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
	if (e)
		fprintf(stderr, "fuzz tar2ext4: open image: %s\n", error_message(e));
	CHECK(e == 0);
	e = ext2fs_read_bitmaps(fs);
	if (e)
		fprintf(stderr, "fuzz tar2ext4: read bitmaps: %s\n", error_message(e));
	CHECK(e == 0);
	CHECK(fs->super->s_magic == EXT2_SUPER_MAGIC);
	CHECK(ext2fs_free_blocks_count(fs->super) <= ext2fs_blocks_count(fs->super));
	CHECK(fs->super->s_free_inodes_count <= fs->super->s_inodes_count);
	/* The root directory is there and is one. */
	struct ext2_inode root;
	CHECK(ext2fs_read_inode(fs, EXT2_ROOT_INO, &root) == 0);
	CHECK(LINUX_S_ISDIR(root.i_mode));
	ext2fs_close_free(&fs);
}

/* FUZZ_T2E_SAVE=DIR keeps every image converted (replaying a corpus with it
 * set gives images for e2fsck -fn; see fuzz/README.md). */
static void save_image(void)
{
	static unsigned n;
	const char *dir = getenv("FUZZ_T2E_SAVE");
	if (!dir)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/image-%d-%u.ext4", dir, (int)getpid(), n++);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	static char buf[1 << 16];
	ssize_t k;
	for (off_t off = 0; (k = pread(out_fd, buf, sizeof(buf), off)) > 0; off += k)
		CHECK(write(fd, buf, (size_t)k) == k);
	CHECK(k == 0);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	struct t2e_options o = {
		.overlay = flags & 1,
		.convert_slash = flags & 2,
		.inline_data = flags & 4,
		.size = (2ull << 20) << ((flags >> 4) & 3),
		.epoch = 1700000000,
	};
	bool seekable = !(flags & 8);

	CHECK(ftruncate(in_fd, 0) == 0 && lseek(in_fd, 0, SEEK_SET) == 0);
	size_t off = 1;
	while (off < size) {
		ssize_t n = write(in_fd, data + off, size - off);
		CHECK(n > 0);
		off += (size_t)n;
	}
	CHECK(lseek(in_fd, 0, SEEK_SET) == 0);
	CHECK(ftruncate(out_fd, 0) == 0);

	struct t2e_stats st;
	struct error err = { 0 };
	int r = t2e_convert(in_fd, seekable, out_path, out_fd, &o, &st, &err);
	if (r < 0) {
		CHECK(err.msg[0]);
		return 0;
	}
	CHECK(st.image_size == o.size / 4096 * 4096);
	check_image();
	save_image();
	return 0;
}
