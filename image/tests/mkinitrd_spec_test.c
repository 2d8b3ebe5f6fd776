/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mkinitrd's list parser and archive writer: the parser through
 * spec_parse_line()/spec_finalise(), the writer by reading its output back
 * with libarchive's reader.
 */
#include "mkinitrd.h"

#include "lcow/cleanup.h"
#include "lcow/tap.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void spec_freep(struct spec *s)
{
	spec_free(s);
}
#define _cleanup_spec_ _cleanup_(spec_freep)

/* Parse lines of "L" as one list; returns the first error. */
static int parse_lines(struct spec *s, const char *const *lines, size_t n, struct error *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = spec_parse_line(s, "L", (unsigned)i + 1, lines[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct spec_entry *find(const struct spec *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

TEST(normalise_strips_slashes_and_dots)
{
	struct error err = { 0 };
	_cleanup_free_ char *out = NULL;
	ASSERT_EQ(spec_normalise_name("//usr//bin/./ls/", &out, &err), 0);
	ASSERT_STREQ(out, "usr/bin/ls");
}

TEST(normalise_rejects_dotdot_anywhere)
{
	const char *bad[] = { "..", "/../etc", "a/../b", "a/..", "./.." };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct error err = { 0 };
		char *out = NULL;
		EXPECT_EQ(spec_normalise_name(bad[i], &out, &err), -EINVAL);
		EXPECT_TRUE(strstr(err.msg, "`..` components are not allowed") != NULL);
		EXPECT_TRUE(out == NULL);
	}
}

TEST(normalise_keeps_names_that_only_look_like_dots)
{
	struct error err = { 0 };
	_cleanup_free_ char *out = NULL;
	ASSERT_EQ(spec_normalise_name("/a/...b/..c/.d", &out, &err), 0);
	ASSERT_STREQ(out, "a/...b/..c/.d");
}

TEST(normalise_rejects_empty_and_control_characters)
{
	struct error err = { 0 };
	char *out = NULL;
	ASSERT_EQ(spec_normalise_name("/", &out, &err), -EINVAL);
	ASSERT_TRUE(strstr(err.msg, "empty name") != NULL);
	ASSERT_EQ(spec_normalise_name("./.", &out, &err), -EINVAL);
	ASSERT_EQ(spec_normalise_name("a\001b", &out, &err), -EINVAL);
	ASSERT_TRUE(strstr(err.msg, "control character") != NULL);
}

TEST(normalise_rejects_overlong_names)
{
	struct error err = { 0 };
	char *out = NULL;
	_cleanup_free_ char *name = malloc(SPEC_NAME_MAX + 2);
	ASSERT_TRUE(name != NULL);
	memset(name, 'a', SPEC_NAME_MAX + 1);
	name[SPEC_NAME_MAX + 1] = '\0';
	ASSERT_EQ(spec_normalise_name(name, &out, &err), -ENAMETOOLONG);
	name[SPEC_NAME_MAX] = '\0';
	ASSERT_EQ(spec_normalise_name(name, &out, &err), 0);
	free(out);
}

TEST(parse_every_entry_type)
{
	_cleanup_spec_ struct spec s;
	spec_init(&s);
	struct error err = { 0 };
	const char *lines[] = {
		"# comment",
		"",
		"   \t  # indented comment",
		"dir /bin 755 0 0",
		"file /bin/x src/x 0711 12 34",
		"nod /dev/console 600 0 0 c 5 1",
		"nod /dev/sda 0660 0 6 b 8 0",
		"slink /bin/sh busybox 777 0 0",
		"pipe /run/fifo 0620 1 2",
		"sock /run/sock 0600 3 4",
		"dir\t/tmp\t1777\t0\t0\r",
	};
	ASSERT_EQ(parse_lines(&s, lines, ARRAY_SIZE(lines), &err), 0);
	ASSERT_EQ(s.n, 8);

	const struct spec_entry *e = find(&s, "bin/x");
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->type, SPEC_FILE);
	EXPECT_STREQ(e->location, "src/x");
	EXPECT_EQ(e->perm, 0711);
	EXPECT_EQ(e->uid, 12);
	EXPECT_EQ(e->gid, 34);
	EXPECT_EQ(e->line, 5);

	e = find(&s, "dev/console");
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->type, SPEC_NOD);
	EXPECT_FALSE(e->block);
	EXPECT_EQ(e->rmajor, 5);
	EXPECT_EQ(e->rminor, 1);
	e = find(&s, "dev/sda");
	ASSERT_TRUE(e != NULL);
	EXPECT_TRUE(e->block);
	EXPECT_EQ(e->gid, 6);

	e = find(&s, "bin/sh");
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->type, SPEC_SLINK);
	EXPECT_STREQ(e->target, "busybox");

	e = find(&s, "run/fifo");
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->type, SPEC_PIPE);
	EXPECT_EQ(e->perm, 0620);
	e = find(&s, "run/sock");
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->type, SPEC_SOCK);
	e = find(&s, "tmp");
	ASSERT_TRUE(e != NULL);
	EXPECT_EQ(e->perm, 01777);
}

/* Each bad line, alone, must fail with "L:1: " and this text. */
TEST(parse_errors_name_line_and_problem)
{
	const struct {
		const char *line, *msg;
	} cases[] = {
		{ "fil /x y 644 0 0", "L:1: unknown entry type `fil`" },
		{ "dir /x 755 0", "L:1: `dir` takes 4 fields, got 3" },
		{ "dir /x 755 0 0 0", "L:1: `dir` takes 4 fields, got 5" },
		{ "file /x src 644 0", "L:1: `file` takes 5 fields, got 4" },
		{ "nod /x 600 0 0 c 5", "L:1: `nod` takes 7 fields, got 6" },
		{ "slink /x", "L:1: `slink` takes 5 fields" },
		{ "dir /x 789 0 0", "L:1: bad mode `789`" },
		{ "dir /x 17777 0 0", "L:1: bad mode `17777`" },
		{ "dir /x -755 0 0", "L:1: bad mode `-755`" },
		{ "dir /x 755 root 0", "L:1: bad uid `root`" },
		{ "dir /x 755 0 -1", "L:1: bad gid `-1`" },
		{ "dir /x 755 4294967295 0", "L:1: uid 4294967295 out of range" },
		{ "dir /x 755 99999999999 0", "L:1: bad uid `99999999999`" },
		{ "nod /x 600 0 0 x 5 1", "L:1: bad device type `x`" },
		{ "nod /x 600 0 0 c 4096 1", "L:1: major 4096 out of range" },
		{ "nod /x 600 0 0 c 1 1048576", "L:1: minor 1048576 out of range" },
		{ "dir ../x 755 0 0", "L:1: name `../x`: `..` components are not allowed" },
		{ "dir / 755 0 0", "L:1: empty name `/`" },
		{ "file /x src 644 0 0 /y/../z", "L:1: name `/y/../z`: `..`" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_spec_ struct spec s;
		spec_init(&s);
		struct error err = { 0 };
		int r = spec_parse_line(&s, "L", 1, cases[i].line, &err);
		EXPECT_TRUE(r < 0);
		if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0) {
			TAP_DIAG("line `%s`: got `%s`, want prefix `%s`", cases[i].line, err.msg,
				 cases[i].msg);
			*_tap_failed = 1;
		}
	}
}

TEST(parse_stream_reports_file_and_line)
{
	_cleanup_spec_ struct spec s;
	spec_init(&s);
	struct error err = { 0 };
	char text[] = "dir /a 755 0 0\n# two\n\nslink /b\n";
	_cleanup_fclose_ FILE *f = fmemopen(text, strlen(text), "r");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(spec_parse_stream(&s, f, "my.list", &err) < 0);
	ASSERT_TRUE(strncmp(err.msg, "my.list:4: `slink` takes 5 fields", 33) == 0);
}

TEST(parse_stream_rejects_nul_bytes)
{
	_cleanup_spec_ struct spec s;
	spec_init(&s);
	struct error err = { 0 };
	char text[] = "dir /a 755 0 0\ndir /b\0x 755 0 0\n";
	_cleanup_fclose_ FILE *f = fmemopen(text, sizeof(text) - 1, "r");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(spec_parse_stream(&s, f, "n.list", &err) < 0);
	ASSERT_STREQ(err.msg, "n.list:2: NUL byte in line");
}

TEST(finalise_sorts_and_adds_parents)
{
	_cleanup_spec_ struct spec s;
	spec_init(&s);
	struct error err = { 0 };
	const char *lines[] = {
		"slink /usr/lib/x/y t 777 0 0",
		"dir /bin 700 0 0",
		"slink /bin-x t 777 0 0",
		"slink /bin/ls busybox 777 0 0",
		"dir /usr/lib 750 0 0",
	};
	ASSERT_EQ(parse_lines(&s, lines, ARRAY_SIZE(lines), &err), 0);
	ASSERT_EQ(spec_finalise(&s, &err), 0);
	const char *want[] = { "bin", "bin-x", "bin/ls", "usr", "usr/lib", "usr/lib/x",
			       "usr/lib/x/y" };
	ASSERT_EQ(s.n, ARRAY_SIZE(want));
	for (size_t i = 0; i < s.n; i++) {
		EXPECT_STREQ(s.v[i].name, want[i]);
		EXPECT_EQ(s.v[i].ino, i + 1);
	}
	const struct spec_entry *usr = find(&s, "usr");
	ASSERT_TRUE(usr && usr->implicit && usr->type == SPEC_DIR);
	EXPECT_EQ(usr->perm, 0755);
	EXPECT_EQ(usr->uid, 0);
	EXPECT_EQ(usr->gid, 0);
	EXPECT_EQ(usr->nlink, 3); /* ".", "usr" in /, "usr/lib/.." */
	const struct spec_entry *lib = find(&s, "usr/lib");
	ASSERT_TRUE(lib && !lib->implicit);
	EXPECT_EQ(lib->perm, 0750);
	EXPECT_EQ(lib->nlink, 3);
	EXPECT_EQ(find(&s, "usr/lib/x")->nlink, 2);
	EXPECT_EQ(find(&s, "bin")->nlink, 2);
	/* The implicit parent remembers who needed it. */
	EXPECT_EQ(find(&s, "usr/lib/x")->line, 1);
}

TEST(finalise_rejects_duplicates_naming_both_lines)
{
	_cleanup_spec_ struct spec s;
	spec_init(&s);
	struct error err = { 0 };
	const char *lines[] = {
		"dir /etc 755 0 0",
		"file /etc/hosts a 644 0 0",
		"dir /var 755 0 0",
		"slink etc//hosts/ b 777 0 0",
	};
	ASSERT_EQ(parse_lines(&s, lines, ARRAY_SIZE(lines), &err), 0);
	ASSERT_EQ(spec_finalise(&s, &err), -EEXIST);
	ASSERT_STREQ(err.msg, "L:4: duplicate entry `etc/hosts` (first at L:2)");
}

TEST(finalise_rejects_entries_below_a_non_directory)
{
	_cleanup_spec_ struct spec s;
	spec_init(&s);
	struct error err = { 0 };
	const char *lines[] = {
		"slink /lib usr/lib 777 0 0",
		"file /lib/x/libc.so a 644 0 0",
	};
	ASSERT_EQ(parse_lines(&s, lines, ARRAY_SIZE(lines), &err), 0);
	ASSERT_EQ(spec_finalise(&s, &err), -ENOTDIR);
	ASSERT_STREQ(err.msg, "L:2: `lib/x/libc.so` is below `lib`, which L:1 makes a symlink");
}

TEST(finalise_links_hard_links)
{
	_cleanup_spec_ struct spec s;
	spec_init(&s);
	struct error err = { 0 };
	const char *lines[] = {
		"file /m src 755 0 0 /b /z",
		"file /c other 644 0 0",
	};
	ASSERT_EQ(parse_lines(&s, lines, ARRAY_SIZE(lines), &err), 0);
	ASSERT_EQ(spec_finalise(&s, &err), 0);
	ASSERT_EQ(s.n, 4);
	const struct spec_entry *b = find(&s, "b"), *c = find(&s, "c"), *m = find(&s, "m"),
				*z = find(&s, "z");
	ASSERT_TRUE(b && c && m && z);
	EXPECT_EQ(b->ino, 1);
	EXPECT_EQ(c->ino, 2);
	EXPECT_EQ(m->ino, 1);
	EXPECT_EQ(z->ino, 1);
	EXPECT_EQ(b->nlink, 3);
	EXPECT_EQ(c->nlink, 1);
	EXPECT_EQ(m->first, 0);
	EXPECT_EQ(z->first, 0);
	EXPECT_FALSE(b->last);
	EXPECT_FALSE(m->last);
	EXPECT_TRUE(z->last);
	EXPECT_TRUE(c->last);
	EXPECT_STREQ(z->location, "src");
	EXPECT_EQ(z->perm, 0755);
}

/* A scratch directory with a few sources, removed at the end. */
struct scratch {
	char dir[64];
	int dirfd;
};

static int scratch_make(struct scratch *t)
{
	strcpy(t->dir, "/tmp/mkinitrd-test.XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	t->dirfd = open(t->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return t->dirfd < 0 ? -errno : 0;
}

static int scratch_write(struct scratch *t, const char *name, const char *data, size_t len)
{
	_cleanup_close_ int fd =
		openat(t->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		return -EIO;
	return 0;
}

static void scratch_freep(struct scratch *t)
{
	char cmd[128];
	if (t->dirfd >= 0)
		close(t->dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", t->dir);
}

/* Build a list, check its sources, write it to a memory file; returns the fd
 * (rewound) or a negative errno. */
static int build(struct scratch *t, const char *const *lines, size_t n,
		 const struct mkinitrd_options *o, struct error *err)
{
	_cleanup_spec_ struct spec s;
	spec_init(&s);
	int r = parse_lines(&s, lines, n, err);
	if (r >= 0)
		r = spec_finalise(&s, err);
	struct mkinitrd_options oo = *o;
	oo.src_dirfd = t->dirfd;
	if (r >= 0)
		r = spec_check_sources(&s, &oo, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = memfd_create("archive", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = spec_write_archive(&s, &oo, fd, err);
	if (r < 0)
		return r;
	lseek(fd, 0, SEEK_SET);
	return TAKE_FD(fd);
}

static const char *const sample[] = {
	"dir /bin 755 0 0",
	"file /bin/prog prog 0755 0 0 /sbin/prog2",
	"file /etc/empty empty 0600 0 0",
	"nod /dev/console 600 0 0 c 5 1",
	"nod /dev/sda 660 0 6 b 8 16",
	"slink /bin/sh /bin/prog 777 0 0",
	"pipe /run/initctl 600 0 0",
};

static const char prog_data[] = "#!/bin/sh\necho hello\n";

TEST(write_cpio_reads_back_with_exact_metadata)
{
	_cleanup_(scratch_freep) struct scratch t = { .dirfd = -1 };
	ASSERT_EQ(scratch_make(&t), 0);
	ASSERT_EQ(scratch_write(&t, "prog", prog_data, strlen(prog_data)), 0);
	ASSERT_EQ(scratch_write(&t, "empty", "", 0), 0);

	struct error err = { 0 };
	struct mkinitrd_options o = { .format = MKINITRD_CPIO, .mtime = 1234567890 };
	_cleanup_close_ int fd = build(&t, sample, ARRAY_SIZE(sample), &o, &err);
	if (fd < 0)
		TAP_DIAG("%s", err.msg);
	ASSERT_GE(fd, 0);

	/* The raw header of the first entry: newc magic, ino 1, dev 0. */
	char head[110];
	ASSERT_EQ(pread(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
	ASSERT_TRUE(memcmp(head, "070701" "00000001", 14) == 0);
	ASSERT_TRUE(memcmp(head + 62, "0000000000000000", 16) == 0);

	struct archive *a = archive_read_new();
	ASSERT_TRUE(a != NULL);
	archive_read_support_format_cpio(a);
	ASSERT_EQ(archive_read_open_fd(a, fd, 4096), ARCHIVE_OK);
	const struct {
		const char *name;
		mode_t mode;
		int64_t ino, size;
		unsigned nlink;
	} want[] = {
		{ "bin", S_IFDIR | 0755, 1, 0, 2 },
		{ "bin/prog", S_IFREG | 0755, 2, 0, 2 },
		{ "bin/sh", S_IFLNK | 0777, 3, 9, 1 },
		{ "dev", S_IFDIR | 0755, 4, 0, 2 },
		{ "dev/console", S_IFCHR | 0600, 5, 0, 1 },
		{ "dev/sda", S_IFBLK | 0660, 6, 0, 1 },
		{ "etc", S_IFDIR | 0755, 7, 0, 2 },
		{ "etc/empty", S_IFREG | 0600, 8, 0, 1 },
		{ "run", S_IFDIR | 0755, 9, 0, 2 },
		{ "run/initctl", S_IFIFO | 0600, 10, 0, 1 },
		{ "sbin", S_IFDIR | 0755, 11, 0, 2 },
		/* The last name of a hard-link group carries the data. */
		{ "sbin/prog2", S_IFREG | 0755, 2, sizeof(prog_data) - 1, 2 },
	};
	struct archive_entry *ae;
	size_t i = 0;
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		ASSERT_LT(i, ARRAY_SIZE(want));
		EXPECT_STREQ(archive_entry_pathname(ae), want[i].name);
		EXPECT_EQ(archive_entry_mode(ae), want[i].mode);
		EXPECT_EQ(archive_entry_ino64(ae), want[i].ino);
		EXPECT_EQ(archive_entry_nlink(ae), want[i].nlink);
		EXPECT_EQ(archive_entry_uid(ae), 0);
		EXPECT_EQ(archive_entry_gid(ae), strcmp(want[i].name, "dev/sda") == 0 ? 6 : 0);
		EXPECT_EQ(archive_entry_mtime(ae), 1234567890);
		EXPECT_EQ(archive_entry_devmajor(ae), 0);
		EXPECT_EQ(archive_entry_devminor(ae), 0);
		if (S_ISREG(want[i].mode))
			EXPECT_EQ(archive_entry_size(ae), want[i].size);
		if (strcmp(want[i].name, "bin/sh") == 0)
			EXPECT_STREQ(archive_entry_symlink(ae), "/bin/prog");
		if (strcmp(want[i].name, "dev/sda") == 0) {
			EXPECT_EQ(archive_entry_rdevmajor(ae), 8);
			EXPECT_EQ(archive_entry_rdevminor(ae), 16);
		}
		if (want[i].size > 0 && S_ISREG(want[i].mode)) {
			char buf[64] = { 0 };
			EXPECT_EQ(archive_read_data(a, buf, sizeof(buf)), want[i].size);
			EXPECT_STREQ(buf, prog_data);
		}
		i++;
	}
	EXPECT_EQ(i, ARRAY_SIZE(want));
	archive_read_free(a);
}

static int slurp(int fd, char **out, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	*out = malloc((size_t)st.st_size + 1);
	if (!*out)
		return -ENOMEM;
	*len = (size_t)st.st_size;
	return pread(fd, *out, *len, 0) == (ssize_t)*len ? 0 : -EIO;
}

TEST(write_gzip_is_reproducible_and_has_no_timestamp)
{
	_cleanup_(scratch_freep) struct scratch t = { .dirfd = -1 };
	ASSERT_EQ(scratch_make(&t), 0);
	ASSERT_EQ(scratch_write(&t, "prog", prog_data, strlen(prog_data)), 0);
	ASSERT_EQ(scratch_write(&t, "empty", "", 0), 0);

	struct error err = { 0 };
	struct mkinitrd_options o = { .format = MKINITRD_CPIO,
				      .compress = MKINITRD_COMPRESS_GZIP };
	_cleanup_close_ int fd1 = build(&t, sample, ARRAY_SIZE(sample), &o, &err);
	ASSERT_GE(fd1, 0);
	/* Different metadata on the sources must not matter. */
	ASSERT_EQ(fchmodat(t.dirfd, "prog", 0600, 0), 0);
	struct timespec ts[2] = { { 1, 0 }, { 2, 0 } };
	ASSERT_EQ(utimensat(t.dirfd, "prog", ts, 0), 0);
	_cleanup_close_ int fd2 = build(&t, sample, ARRAY_SIZE(sample), &o, &err);
	ASSERT_GE(fd2, 0);

	_cleanup_free_ char *b1 = NULL, *b2 = NULL;
	size_t l1, l2;
	ASSERT_EQ(slurp(fd1, &b1, &l1), 0);
	ASSERT_EQ(slurp(fd2, &b2, &l2), 0);
	ASSERT_GT(l1, 18);
	ASSERT_EQ(l1, l2);
	ASSERT_TRUE(memcmp(b1, b2, l1) == 0);
	/* gzip member header: magic, deflate, no FNAME flag, MTIME 0. */
	ASSERT_EQ((unsigned char)b1[0], 0x1f);
	ASSERT_EQ((unsigned char)b1[1], 0x8b);
	ASSERT_EQ(b1[2], 8);
	ASSERT_EQ(b1[3] & 0x08, 0);
	ASSERT_TRUE(memcmp(b1 + 4, "\0\0\0\0", 4) == 0);
}

TEST(write_tar_uses_hardlink_entries)
{
	_cleanup_(scratch_freep) struct scratch t = { .dirfd = -1 };
	ASSERT_EQ(scratch_make(&t), 0);
	ASSERT_EQ(scratch_write(&t, "prog", prog_data, strlen(prog_data)), 0);
	ASSERT_EQ(scratch_write(&t, "empty", "", 0), 0);

	struct error err = { 0 };
	struct mkinitrd_options o = { .format = MKINITRD_TAR };
	_cleanup_close_ int fd = build(&t, sample, ARRAY_SIZE(sample), &o, &err);
	ASSERT_GE(fd, 0);

	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	ASSERT_EQ(archive_read_open_fd(a, fd, 4096), ARCHIVE_OK);
	struct archive_entry *ae;
	unsigned n = 0, seen = 0;
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		n++;
		const char *name = archive_entry_pathname(ae);
		if (strcmp(name, "bin/prog") == 0) {
			seen++;
			EXPECT_EQ(archive_entry_size(ae), (int64_t)strlen(prog_data));
			EXPECT_TRUE(archive_entry_hardlink(ae) == NULL);
		} else if (strcmp(name, "sbin/prog2") == 0) {
			seen++;
			EXPECT_STREQ(archive_entry_hardlink(ae), "bin/prog");
		}
	}
	archive_read_free(a);
	EXPECT_EQ(n, 12);
	EXPECT_EQ(seen, 2);
}

TEST(write_tar_rejects_sockets)
{
	_cleanup_(scratch_freep) struct scratch t = { .dirfd = -1 };
	ASSERT_EQ(scratch_make(&t), 0);
	struct error err = { 0 };
	const char *lines[] = { "sock /run/s 600 0 0" };
	struct mkinitrd_options o = { .format = MKINITRD_TAR };
	ASSERT_EQ(build(&t, lines, 1, &o, &err), -EINVAL);
	ASSERT_STREQ(err.msg, "L:1: `run/s`: tar cannot store sockets");
	o.format = MKINITRD_CPIO;
	int fd = build(&t, lines, 1, &o, &err);
	ASSERT_GE(fd, 0);
	close(fd);
}

/* Found by fuzz/mkinitrd.c: a file named TRAILER!!! ended the cpio early,
 * so the entries sorted after it vanished from the initrd. */
TEST(write_cpio_rejects_the_trailer_name)
{
	_cleanup_(scratch_freep) struct scratch t = { .dirfd = -1 };
	ASSERT_EQ(scratch_make(&t), 0);
	struct error err = { 0 };
	const char *lines[] = { "dir /TRAILER!!! 755 0 0", "dir /zzz 755 0 0" };
	struct mkinitrd_options o = { .format = MKINITRD_CPIO };
	ASSERT_EQ(build(&t, lines, 2, &o, &err), -EINVAL);
	ASSERT_STREQ(err.msg, "L:1: `TRAILER!!!` is the end-of-archive marker of newc cpio: "
			      "the entries after it would be lost");
	/* Below the root it is an ordinary name, and tar has no such marker. */
	const char *nested[] = { "dir /d/TRAILER!!! 755 0 0" };
	int fd = build(&t, nested, 1, &o, &err);
	ASSERT_GE(fd, 0);
	close(fd);
	o.format = MKINITRD_TAR;
	fd = build(&t, lines, 2, &o, &err);
	ASSERT_GE(fd, 0);
	close(fd);
}

/* A sink into a memory file that fails once `limit` bytes have gone in. */
struct test_sink {
	int fd;
	size_t written, limit;
};

static int test_sink_write(void *ctx, const void *buf, size_t len, struct error *err)
{
	struct test_sink *t = ctx;
	if (t->written + len > t->limit)
		return error_set(err, ENOSPC, "test sink");
	if (write(t->fd, buf, len) != (ssize_t)len)
		return error_set(err, EIO, "test sink write");
	t->written += len;
	return 0;
}

/* The LZ4 path gets the archive through a sink: it must see exactly the
 * bytes of an uncompressed archive, and its own error must reach the caller. */
TEST(write_sink_gets_the_plain_archive_and_reports_its_error)
{
	_cleanup_(scratch_freep) struct scratch t = { .dirfd = -1 };
	ASSERT_EQ(scratch_make(&t), 0);
	ASSERT_EQ(scratch_write(&t, "prog", prog_data, strlen(prog_data)), 0);
	ASSERT_EQ(scratch_write(&t, "empty", "", 0), 0);
	struct error err = { 0 };
	struct mkinitrd_options o = { .format = MKINITRD_CPIO,
				      .compress = MKINITRD_COMPRESS_NONE };
	_cleanup_close_ int plain = build(&t, sample, ARRAY_SIZE(sample), &o, &err);
	ASSERT_GE(plain, 0);

	_cleanup_spec_ struct spec s;
	spec_init(&s);
	o.src_dirfd = t.dirfd;
	ASSERT_EQ(parse_lines(&s, sample, ARRAY_SIZE(sample), &err), 0);
	ASSERT_EQ(spec_finalise(&s, &err), 0);
	ASSERT_EQ(spec_check_sources(&s, &o, &err), 0);

	/* Whatever compression is asked for, the sink gets plain bytes. */
	o.compress = MKINITRD_COMPRESS_LZ4;
	_cleanup_close_ int fd = memfd_create("sink", MFD_CLOEXEC);
	ASSERT_GE(fd, 0);
	struct test_sink ts = { .fd = fd, .limit = SIZE_MAX };
	const struct archive_sink sink = { .write = test_sink_write, .ctx = &ts };
	ASSERT_EQ(spec_write_archive_sink(&s, &o, &sink, &err), 0);
	_cleanup_free_ char *b1 = NULL, *b2 = NULL;
	size_t l1, l2;
	ASSERT_EQ(slurp(plain, &b1, &l1), 0);
	ASSERT_EQ(slurp(fd, &b2, &l2), 0);
	ASSERT_EQ(l1, l2);
	ASSERT_TRUE(memcmp(b1, b2, l1) == 0);
	ASSERT_TRUE(memcmp(b2, "070701", 6) == 0);

	/* A failing sink: its message, with context, not libarchive's. */
	ASSERT_EQ(ftruncate(fd, 0), 0);
	ts = (struct test_sink){ .fd = fd, .limit = 0 };
	ASSERT_EQ(spec_write_archive_sink(&s, &o, &sink, &err), -ENOSPC);
	ASSERT_STREQ(err.msg, "write output: test sink: No space left on device");

	/* The fd writer does not do LZ4 (it would need liblz4). */
	ASSERT_EQ(spec_write_archive(&s, &o, fd, &err), -EINVAL);
}

TEST(check_sources_rejects_missing_dirs_and_fifos)
{
	_cleanup_(scratch_freep) struct scratch t = { .dirfd = -1 };
	ASSERT_EQ(scratch_make(&t), 0);
	ASSERT_EQ(mkdirat(t.dirfd, "d", 0755), 0);
	ASSERT_EQ(mkfifoat(t.dirfd, "fifo", 0644), 0);
	struct mkinitrd_options o = { .format = MKINITRD_CPIO, .src_dir = "SRC" };
	const struct {
		const char *line, *msg;
	} cases[] = {
		{ "file /x nope 644 0 0", "L:1: source `SRC/nope`: No such file or directory" },
		{ "file /x d 644 0 0",
		  "L:1: source `SRC/d` is not a regular file (it is a directory)" },
		/* O_NONBLOCK: a fifo with no writer must not hang the build. */
		{ "file /x fifo 644 0 0",
		  "L:1: source `SRC/fifo` is not a regular file (it is a fifo)" },
		{ "file /x /nonexistent/abs 644 0 0",
		  "L:1: source `/nonexistent/abs`: No such file" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct error err = { 0 };
		EXPECT_TRUE(build(&t, &cases[i].line, 1, &o, &err) < 0);
		if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0) {
			TAP_DIAG("got `%s`, want `%s`", err.msg, cases[i].msg);
			*_tap_failed = 1;
		}
	}
}

TEST(check_sources_rejects_files_too_big_for_newc)
{
	_cleanup_(scratch_freep) struct scratch t = { .dirfd = -1 };
	ASSERT_EQ(scratch_make(&t), 0);
	{
		/* Sparse: costs no disk space. */
		_cleanup_close_ int fd =
			openat(t.dirfd, "huge", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(ftruncate(fd, 0x100000000ll), 0);
	}
	struct error err = { 0 };
	const char *line = "file /huge huge 644 0 0";
	struct mkinitrd_options o = { .format = MKINITRD_CPIO };
	ASSERT_EQ(build(&t, &line, 1, &o, &err), -EFBIG);
	ASSERT_STREQ(err.msg, "L:1: source `huge` is 4294967296 bytes; "
			      "newc cpio holds at most 4294967295");
}

TAP_MAIN()
