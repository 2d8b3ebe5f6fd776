/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what remotefs reads from the host on stdin
 * (remotefs/taropts.c, remotefs/tar.c): extractarchive's input, a
 * big-endian u64 length and that much TarOptions JSON, then a tar stream
 * (ustar, pax, GNU long names, base-256, v7).  Input: a flags byte (bit 0:
 * the options come first, as for extractarchive; else a bare tar, as for
 * readfile's peers), then the stream.
 *
 * Every entry read is written again with the tar writer remotefs uses for
 * archivepath and read back: the two must agree on every field (a header
 * the writer cannot express must be refused, not mangled).  IDs are mapped
 * through the options' UIDMaps/GIDMaps both ways.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_NAME "remotefs"
#include "target.h"
#include "tar.h"
#include "taropts.h"

#define DATA_MAX (256u << 10)

static int in_fd = -1, rt_fd = -1;
static struct tar_reader rd, rd2;
static struct tar_writer wr;
static uint8_t buf[DATA_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	in_fd = memfd_create("rfs-in", MFD_CLOEXEC);
	rt_fd = memfd_create("rfs-rt", MFD_CLOEXEC);
	if (in_fd < 0 || rt_fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	return 0;
}

static void reset(int fd)
{
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Write e (with len bytes of data) alone into an archive and read it back. */
static void round_trip(const struct tar_entry *e, const uint8_t *d, size_t len)
{
	struct error err = { 0 };
	reset(rt_fd);
	tar_writer_init(&wr, rt_fd);
	if (tar_write_header(&wr, e, &err) < 0) {
		CHECK(err.msg[0]);
		return;
	}
	CHECK(tar_write_data(&wr, d, len, &err) == 0);
	CHECK(tar_write_pad(&wr, len, &err) == 0);
	CHECK(tar_write_end(&wr, &err) == 0);
	CHECK(lseek(rt_fd, 0, SEEK_SET) == 0);
	tar_reader_init(&rd2, rt_fd);
	struct tar_entry b = { 0 };
	int r = tar_next(&rd2, &b, &err);
	if (r != 1)
		fprintf(stderr, "fuzz remotefs: round trip of `%s`: %s\n", e->name, err.msg);
	CHECK(r == 1);
	CHECK(strcmp(e->name, b.name) == 0);
	CHECK(same_str(e->linkname, b.linkname));
	CHECK(e->type == b.type);
	CHECK((e->mode & 07777) == (b.mode & 07777));
	CHECK(e->uid == b.uid && e->gid == b.gid);
	CHECK(e->size == b.size && e->mtime == b.mtime);
	CHECK(e->devmajor == b.devmajor && e->devminor == b.devminor);
	CHECK(e->n_xattrs == b.n_xattrs);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		CHECK(strcmp(e->xattrs[i].name, b.xattrs[i].name) == 0);
		CHECK(e->xattrs[i].len == b.xattrs[i].len);
		CHECK(memcmp(e->xattrs[i].value, b.xattrs[i].value, e->xattrs[i].len) == 0);
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = tar_read_data(&rd2, buf + DATA_MAX / 2 + got, len - got, &err);
		CHECK(n > 0);
		got += (size_t)n;
	}
	CHECK(memcmp(buf, buf + DATA_MAX / 2, len) == 0);
	CHECK(tar_next(&rd2, &b, &err) == 0);
	tar_entry_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	reset(in_fd);
	for (size_t off = 1; off < size;) {
		ssize_t n = write(in_fd, data + off, size - off);
		CHECK(n > 0);
		off += (size_t)n;
	}
	CHECK(lseek(in_fd, 0, SEEK_SET) == 0);
	tar_reader_init(&rd, in_fd);

	struct error err = { 0 };
	struct tar_options o = { 0 };
	bool have_opts = false;
	if (data[0] & 1) {
		if (tar_options_read(&rd, &o, &err) < 0) {
			CHECK(err.msg[0]);
			return 0;
		}
		have_opts = true;
	}
	for (int n = 0; n < 64; n++) {
		struct tar_entry e = { 0 };
		err = (struct error){ 0 };
		int r = tar_next(&rd, &e, &err);
		if (r <= 0) {
			CHECK(r == 0 || err.msg[0]);
			tar_entry_free(&e);
			break;
		}
		CHECK(e.name);
		uint64_t id;
		if (have_opts) {
			idmap_to_host(o.uid_maps, o.n_uid_maps, e.uid, &id);
			idmap_to_container(o.gid_maps, o.n_gid_maps, e.gid, &id);
		}
		/* The data, when it is small enough to keep for the round trip. */
		size_t len = 0;
		bool whole = true;
		for (;;) {
			ssize_t k = tar_read_data(&rd, buf + (len < DATA_MAX / 2 ? len : 0),
						  len < DATA_MAX / 2 ? DATA_MAX / 2 - len : DATA_MAX / 2,
						  &err);
			if (k < 0) {
				whole = false;
				break;
			}
			if (k == 0)
				break;
			if (len >= DATA_MAX / 2)
				whole = false;
			len += (size_t)k;
		}
		if (whole) {
			CHECK(len == e.size);
			round_trip(&e, buf, len);
		}
		tar_entry_free(&e);
		if (!whole)
			break;
	}
	if (have_opts)
		tar_options_free(&o);
	return 0;
}
