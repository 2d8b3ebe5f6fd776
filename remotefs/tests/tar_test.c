/* SPDX-License-Identifier: MIT */
/* The tar writer and reader: round trips through pax for what ustar
 * cannot hold, what GNU tar writes, and streams that are wrong in every
 * way the reader checks -- an error, never a crash or a hang. */
#include "lcow/tap.h"
#include "lcow/cleanup.h"

#include "helpers.h"
#include "tar.h"

static int mem_fd(void)
{
	int fd = memfd_create("tar", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	return fd;
}

/* Write entries (each with `size` bytes of 'A'+i) into a memfd. */
static int write_archive(struct tar_entry *es, size_t n)
{
	int fd = mem_fd();
	struct tar_writer *w = malloc(sizeof(*w));
	struct error err = { 0 };
	tar_writer_init(w, fd);
	for (size_t i = 0; i < n; i++) {
		if (tar_write_header(w, &es[i], &err) < 0)
			abort();
		for (uint64_t k = 0; k < es[i].size; k++) {
			char c = (char)('A' + i);
			tar_write_data(w, &c, 1, &err);
		}
		tar_write_pad(w, es[i].size, &err);
	}
	if (tar_write_end(w, &err) < 0)
		abort();
	free(w);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static struct tar_reader *reader(int fd)
{
	struct tar_reader *r = malloc(sizeof(*r));
	tar_reader_init(r, fd);
	return r;
}

TEST(round_trip_ustar_and_pax)
{
	char longname[300], longlink[200];
	memset(longname, 'n', sizeof(longname));
	/* Too long for ustar even split at a '/': needs pax "path". */
	memcpy(longname + 150, "/", 1);
	longname[sizeof(longname) - 1] = '\0';
	memset(longlink, 'l', sizeof(longlink));
	longlink[sizeof(longlink) - 1] = '\0';
	char splittable[200];
	snprintf(splittable, sizeof(splittable), "%0120d/%s", 0, "file");

	struct tar_entry es[] = {
		{ .name = "dir/", .type = TAR_DIR, .mode = 0755, .mtime = 1700000000 },
		{ .name = "dir/file", .type = TAR_REG, .mode = 04755, .size = 1000, .uid = 1,
		  .gid = 2, .mtime = 1 },
		{ .name = longname, .type = TAR_REG, .mode = 0600, .size = 3 },
		{ .name = splittable, .type = TAR_REG, .mode = 0600, .size = 0 },
		{ .name = "ln", .type = TAR_SYMLINK, .linkname = longlink, .mode = 0777 },
		{ .name = "hard", .type = TAR_LINK, .linkname = "dir/file" },
		{ .name = "big-ids", .type = TAR_REG, .uid = 100000000, .gid = 4294967294u,
		  .mtime = -5 },
		{ .name = "dev", .type = TAR_CHR, .devmajor = 1, .devminor = 3, .mode = 0666 },
	};
	struct tar_xattr xa = { "security.capability", "\x01\x00\x00\x02\xff", 5 };
	es[1].xattrs = &xa;
	es[1].n_xattrs = 1;

	_cleanup_close_ int fd = write_archive(es, ARRAY_SIZE(es));
	_cleanup_free_ struct tar_reader *r = reader(fd);
	struct error err = { 0 };
	for (size_t i = 0; i < ARRAY_SIZE(es); i++) {
		struct tar_entry e;
		ASSERT_EQ(tar_next(r, &e, &err), 1);
		EXPECT_STREQ(e.name, es[i].name);
		EXPECT_EQ(e.type, es[i].type);
		EXPECT_EQ(e.mode, es[i].mode);
		EXPECT_EQ(e.size, es[i].size);
		EXPECT_EQ(e.uid, es[i].uid);
		EXPECT_EQ(e.gid, es[i].gid);
		EXPECT_EQ(e.mtime, es[i].mtime);
		EXPECT_EQ(e.devmajor, es[i].devmajor);
		EXPECT_EQ(e.devminor, es[i].devminor);
		if (es[i].linkname)
			EXPECT_STREQ(e.linkname, es[i].linkname);
		EXPECT_EQ(e.n_xattrs, es[i].n_xattrs);
		if (e.n_xattrs == 1) {
			EXPECT_STREQ(e.xattrs[0].name, "security.capability");
			EXPECT_EQ(e.xattrs[0].len, 5);
			EXPECT_TRUE(memcmp(e.xattrs[0].value, xa.value, 5) == 0);
		}
		if (i == 1) {
			/* Read part of the data; tar_next skips the rest. */
			char buf[10];
			EXPECT_EQ(tar_read_data(r, buf, sizeof(buf), &err), 10);
			EXPECT_TRUE(buf[0] == 'B' && buf[9] == 'B');
		}
		tar_entry_free(&e);
	}
	struct tar_entry e;
	EXPECT_EQ(tar_next(r, &e, &err), 0);
}

TEST(gnu_tar_reads_what_we_write)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	char longname[300];
	memset(longname, 'x', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	struct tar_entry es[] = {
		{ .name = "a/", .type = TAR_DIR, .mode = 0755 },
		{ .name = "a/b", .type = TAR_REG, .mode = 0644, .size = 5 },
		{ .name = longname, .type = TAR_REG, .mode = 0644, .size = 2, .uid = 99999999 },
	};
	_cleanup_close_ int fd = write_archive(es, ARRAY_SIZE(es));
	char path[600];
	snprintf(path, sizeof(path), "%s/t.tar", fx.base);
	int out = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	char which;
	ASSERT_EQ(rfs_copy_fd(fd, out, &which), 0);
	close(out);
	ASSERT_EQ(sh("tar -tvf %s --numeric-owner > %s/list 2>&1", path, fx.base), 0);
	char *list = get_file(fx_path(&fx, "list"), NULL);
	ASSERT_TRUE(list != NULL);
	EXPECT_TRUE(strstr(list, "a/b") != NULL);
	EXPECT_TRUE(strstr(list, longname) != NULL);
	EXPECT_TRUE(strstr(list, "99999999") != NULL);
	free(list);
}

TEST(reads_what_gnu_tar_writes)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	/* GNU format: 'L' long names, 'K' long links; base-256 for big uids. */
	char longname[260];
	memset(longname, 'g', 250);
	longname[250] = '\0';
	ASSERT_EQ(sh("cd %s && mkdir src && echo hi > src/%s && ln -s %s src/l && "
		     "tar --format=gnu --owner=123456789 -cf gnu.tar -C src . && "
		     "tar --format=pax -cf pax.tar -C src .",
		     fx.base, longname, longname),
		  0);
	const char *files[] = { "gnu.tar", "pax.tar" };
	for (size_t f = 0; f < 2; f++) {
		_cleanup_close_ int fd = open(fx_path(&fx, files[f]), O_RDONLY | O_CLOEXEC);
		ASSERT_GE(fd, 0);
		_cleanup_free_ struct tar_reader *r = reader(fd);
		struct error err = { 0 };
		struct tar_entry e;
		int found = 0, n;
		while ((n = tar_next(r, &e, &err)) == 1) {
			if (strstr(e.name, longname) && e.type == TAR_REG) {
				found |= 1;
				char buf[8] = { 0 };
				EXPECT_EQ(tar_read_data(r, buf, sizeof(buf), &err), 3);
				EXPECT_STREQ(buf, "hi\n");
				if (f == 0)
					EXPECT_EQ(e.uid, 123456789);
			}
			if (e.type == TAR_SYMLINK && strcmp(e.linkname, longname) == 0)
				found |= 2;
			tar_entry_free(&e);
		}
		EXPECT_EQ(n, 0);
		EXPECT_EQ(found, 3);
	}
}

/* A valid one-file archive in memory. */
static size_t sample(unsigned char *buf, size_t cap)
{
	struct tar_entry e = { .name = "file", .type = TAR_REG, .mode = 0644, .size = 600 };
	int fd = write_archive(&e, 1);
	ssize_t n = pread(fd, buf, cap, 0);
	close(fd);
	return n < 0 ? 0 : (size_t)n;
}

/* Read a whole archive from memory; returns tar_next's last result. */
static int read_all(const unsigned char *data, size_t len, struct error *err)
{
	int fd = mem_fd();
	if (rfs_write_all(fd, data, len) < 0)
		abort();
	lseek(fd, 0, SEEK_SET);
	struct tar_reader *r = reader(fd);
	struct tar_entry e;
	int n;
	char buf[4096];
	while ((n = tar_next(r, &e, err)) == 1) {
		ssize_t got;
		while ((got = tar_read_data(r, buf, sizeof(buf), err)) > 0)
			;
		tar_entry_free(&e);
		if (got < 0) {
			n = (int)got;
			break;
		}
	}
	free(r);
	close(fd);
	return n;
}

TEST(bad_streams_are_errors)
{
	unsigned char good[4096];
	size_t len = sample(good, sizeof(good));
	ASSERT_EQ(len, 512 + 1024 + 1024);
	struct error err = { 0 };
	EXPECT_EQ(read_all(good, len, &err), 0);

	unsigned char bad[4096];
	/* Checksum. */
	memcpy(bad, good, len);
	bad[0] ^= 1;
	error_clear(&err);
	EXPECT_LT(read_all(bad, len, &err), 0);
	EXPECT_TRUE(strstr(err.msg, "checksum") != NULL);
	/* Truncated header, truncated data. */
	error_clear(&err);
	EXPECT_LT(read_all(good, 300, &err), 0);
	EXPECT_STREQ(err.msg, "unexpected EOF");
	error_clear(&err);
	EXPECT_LT(read_all(good, 512 + 100, &err), 0);
	EXPECT_STREQ(err.msg, "unexpected EOF");
	/* No end blocks at all: a clean end. */
	error_clear(&err);
	EXPECT_EQ(read_all(good, 512 + 1024, &err), 0);
	/* Empty stream. */
	EXPECT_EQ(read_all(good, 0, &err), 0);
	/* Unknown type (GNU sparse). */
	memcpy(bad, good, len);
	((struct tar_header *)bad)->typeflag = 'S';
	memset(((struct tar_header *)bad)->chksum, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += bad[i];
	snprintf(((struct tar_header *)bad)->chksum, 8, "%06o", sum);
	error_clear(&err);
	EXPECT_LT(read_all(bad, len, &err), 0);
	EXPECT_TRUE(strstr(err.msg, "unsupported") != NULL);
}

/* Wrap data as the body of a pax header followed by a file entry. */
static size_t with_pax(const char *pax, size_t pax_len, unsigned char *out)
{
	struct tar_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.name, "PaxHeaders/x", 12);
	snprintf(h.mode, 8, "%07o", 0644);
	snprintf(h.size, 12, "%011zo", pax_len);
	h.typeflag = 'x';
	memcpy(h.magic, "ustar", 6);
	memset(h.chksum, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += ((unsigned char *)&h)[i];
	snprintf(h.chksum, 8, "%06o", sum);
	memcpy(out, &h, 512);
	memset(out + 512, 0, 1024 + 2048);
	memcpy(out + 512, pax, pax_len);
	size_t off = 512 + ((pax_len + 511) / 512) * 512;
	return off + sample(out + off, 4096);
}

TEST(bad_pax_records_are_errors)
{
	unsigned char buf[8192];
	struct error err = { 0 };
	const char *bad[] = {
		"12 path=a\n",		  /* length says 12, there are 10 */
		"10 path=a\n junk",	  /* trailing garbage */
		"99999999999999999999 a=b\n", /* absurd length */
		"5 =\n",		  /* too short */
		"8 noeq\n",		  /* no '=' */
		"11 size=-1\n",		  /* negative size */
		"19 GNU.sparse.map=\n",   /* sparse */
		"13 path=a\0b\n",	  /* NUL in a path */
	};
	const size_t lens[] = { 10, 15, 26, 4, 7, 10, 19, 13 };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		error_clear(&err);
		size_t len = with_pax(bad[i], lens[i], buf);
		int r = read_all(buf, len, &err);
		EXPECT_LT(r, 0);
		if (r >= 0)
			TAP_DIAG("accepted pax record %zu", i);
	}
	/* And a good one applies. */
	size_t len = with_pax("16 path=renamed\n", 16, buf);
	int fd = mem_fd();
	ASSERT_EQ(rfs_write_all(fd, buf, len), 0);
	lseek(fd, 0, SEEK_SET);
	_cleanup_free_ struct tar_reader *r = reader(fd);
	struct tar_entry e;
	ASSERT_EQ(tar_next(r, &e, &err), 1);
	EXPECT_STREQ(e.name, "renamed");
	tar_entry_free(&e);
	close(fd);
}

TEST(random_corruption_never_crashes)
{
	unsigned char good[4096], bad[4096];
	size_t len = sample(good, sizeof(good));
	unsigned seed = 12345;
	int errors = 0;
	for (int round = 0; round < 3000; round++) {
		memcpy(bad, good, len);
		int flips = 1 + (int)(rand_r(&seed) % 8);
		for (int k = 0; k < flips; k++)
			bad[rand_r(&seed) % 512] = (unsigned char)rand_r(&seed);
		/* Keep the checksum right half of the time, so the field
		 * parsers see the garbage too. */
		if (round % 2) {
			memset(((struct tar_header *)bad)->chksum, ' ', 8);
			unsigned sum = 0;
			for (int i = 0; i < 512; i++)
				sum += bad[i];
			snprintf(((struct tar_header *)bad)->chksum, 8, "%06o", sum);
		}
		struct error err = { 0 };
		if (read_all(bad, len, &err) < 0)
			errors++;
	}
	/* Most corruptions are caught; none crashed (we got here). */
	EXPECT_GT(errors, 1000);
}

TAP_MAIN()
