/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the initrd builder (image/mkinitrd-spec.c, -write.c).
 * Input: a flags byte, then a gen_init_cpio-style list.  Flags bit 0 picks
 * tar over newc cpio, bit 1 gzip, bit 2 the latest mtime, bit 3 the LZ4
 * legacy frame (mkinitrd-lz4.c, what initrd.img ships as; it wins over
 * gzip).  The list is parsed and finalised; the
 * archive is written to a memory file from sources in a private directory
 * made at start-up (a, empty, big, d/c, ln -> a, fifo), then read back
 * with libarchive.
 *
 * Invariants: finalised entries are sorted and unique with every parent a
 * directory; the archive reads back with exactly one entry per name, in
 * order.  Lists naming sources outside that directory (absolute, "..")
 * are parsed but not written: the fuzzer must not read the host's files.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_NAME "mkinitrd"
#include "target.h"
#include "mkinitrd.h"

static char src_dir[] = "/tmp/lcow-fuzz-mkinitrd.XXXXXX";
static int src_fd = -1;
static int out_fd = -1;

static void put_file(const char *name, size_t len)
{
	int fd = openat(src_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(name);
		exit(1);
	}
	for (size_t i = 0; i < len; i++) {
		char c = (char)('a' + i % 26);
		if (write(fd, &c, 1) != 1)
			exit(1);
	}
	close(fd);
}

static void cleanup(void)
{
	static const char *names[] = { "a", "empty", "big", "d/c", "ln", "fifo" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(src_fd, names[i], 0);
	unlinkat(src_fd, "d", AT_REMOVEDIR);
	rmdir(src_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(src_dir) || (src_fd = open(src_dir, O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror("fuzz mkinitrd: source directory");
		exit(1);
	}
	atexit(cleanup);
	put_file("a", 10);
	put_file("empty", 0);
	put_file("big", 70000);
	if (mkdirat(src_fd, "d", 0755) < 0 || symlinkat("a", src_fd, "ln") < 0 ||
	    mkfifoat(src_fd, "fifo", 0644) < 0) {
		perror("fuzz mkinitrd: sources");
		exit(1);
	}
	put_file("d/c", 3);
	out_fd = memfd_create("mkinitrd-out", MFD_CLOEXEC);
	if (out_fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	return 0;
}

static bool confined(const struct spec *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct spec_entry *e = &s->v[i];
		if (e->type != SPEC_FILE)
			continue;
		if (e->location[0] == '/' || strstr(e->location, ".."))
			return false;
	}
	return true;
}

static void check_spec(const struct spec *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct spec_entry *e = &s->v[i];
		CHECK(e->name[0] && e->name[0] != '/');
		CHECK(e->perm <= SPEC_PERM_MAX);
		CHECK(e->ino >= 1);
		if (i > 0)
			CHECK(strcmp(s->v[i - 1].name, e->name) < 0);
		/* The parent is listed, before it, as a directory. */
		const char *slash = strrchr(e->name, '/');
		if (slash) {
			size_t plen = (size_t)(slash - e->name);
			bool found = false;
			for (size_t k = 0; k < i && !found; k++)
				found = strlen(s->v[k].name) == plen &&
					memcmp(s->v[k].name, e->name, plen) == 0 &&
					s->v[k].type == SPEC_DIR;
			CHECK(found);
		}
	}
}

static void check_archive(const struct spec *s)
{
	struct archive *a = archive_read_new();
	CHECK(a);
	archive_read_support_format_all(a);
	archive_read_support_filter_all(a);
	CHECK(lseek(out_fd, 0, SEEK_SET) == 0);
	CHECK(archive_read_open_fd(a, out_fd, 65536) == ARCHIVE_OK);
	struct archive_entry *ae;
	size_t n = 0;
	int r;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		CHECK(n < s->n);
		const char *name = archive_entry_pathname(ae);
		size_t len = strlen(s->v[n].name);
		CHECK(name && strncmp(name, s->v[n].name, len) == 0);
		/* tar marks directories with a trailing slash. */
		CHECK(name[len] == '\0' || (s->v[n].type == SPEC_DIR && strcmp(name + len, "/") == 0));
		n++;
	}
	if (r != ARCHIVE_EOF)
		fprintf(stderr, "fuzz mkinitrd: read back: %s\n", archive_error_string(a));
	CHECK(r == ARCHIVE_EOF);
	CHECK(n == s->n);
	archive_read_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	/* fmemopen() refuses an empty buffer: a lone newline reads the same. */
	static char nl[] = "\n";
	FILE *f = size > 1 ? fmemopen((void *)(data + 1), size - 1, "r") : fmemopen(nl, 1, "r");
	if (!f)
		return 0;
	struct spec s;
	struct error err = { 0 };
	spec_init(&s);
	if (spec_parse_stream(&s, f, "fuzz", &err) < 0 || spec_finalise(&s, &err) < 0) {
		CHECK(err.msg[0]);
		goto out;
	}
	check_spec(&s);
	if (!confined(&s))
		goto out;
	struct mkinitrd_options o = {
		.format = flags & 1 ? MKINITRD_TAR : MKINITRD_CPIO,
		.compress = flags & 8	? MKINITRD_COMPRESS_LZ4
			    : flags & 2 ? MKINITRD_COMPRESS_GZIP
					: MKINITRD_COMPRESS_NONE,
		.mtime = flags & 4 ? SPEC_MTIME_MAX : 1700000000,
		.src_dirfd = src_fd,
		.src_dir = src_dir,
	};
	if (spec_check_sources(&s, &o, &err) < 0)
		goto out;
	CHECK(ftruncate(out_fd, 0) == 0 && lseek(out_fd, 0, SEEK_SET) == 0);
	int w = o.compress == MKINITRD_COMPRESS_LZ4 ? spec_write_archive_lz4(&s, &o, out_fd, &err)
						    : spec_write_archive(&s, &o, out_fd, &err);
	if (w < 0) {
		CHECK(err.msg[0]);
		goto out;
	}
	check_archive(&s);
out:
	spec_free(&s);
	fclose(f);
	return 0;
}
