/* SPDX-License-Identifier: MIT */
/* Every single-operation command through the whole program (rfs_main):
 * arguments, outputs and the JSON errors opengcs gave, and attempts to
 * reach outside the root with each of them. */
#include "lcow/tap.h"
#include "lcow/cleanup.h"

#include <endian.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "helpers.h"

/* Go's os.FileMode bits. */
#define GO_DIR (1u << 31)
#define GO_SYMLINK (1u << 27)
#define GO_DEVICE (1u << 26)
#define GO_PIPE (1u << 25)
#define GO_SETUID (1u << 23)
#define GO_CHARDEV (1u << 21)

static json_t *parse(const char *text)
{
	return json_loads(text, JSON_DECODE_ANY, NULL);
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* A command that failed: exit 0, nothing on stdout, this JSON on stderr. */
#define EXPECT_ERROR(res, json)                           \
	do {                                              \
		EXPECT_EQ((res).status, 0);               \
		EXPECT_STREQ((res).err, json);            \
	} while (0)
#define EXPECT_OK(res)                                    \
	do {                                              \
		EXPECT_EQ((res).status, 0);               \
		EXPECT_STREQ((res).err, "");              \
	} while (0)

TEST(stat_and_lstat_give_opengcs_fileinfo)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(mkdir(fx_path(&fx, "root/d"), 0750), 0);
	ASSERT_EQ(put_file(fx_path(&fx, "root/d/f"), "hello", 0640), 0);
	ASSERT_EQ(symlink("/d/f", fx_path(&fx, "root/link")), 0);
	struct timespec ts[2] = { { 1, 0 }, { 1700000000, 123456789 } };
	ASSERT_EQ(utimensat(AT_FDCWD, fx_path(&fx, "root/d/f"), ts, 0), 0);

	struct result r = RUN(fx.root, "stat", "/link");
	EXPECT_OK(r);
	/* Field order and encoding as Go's json.Marshal of FileInfo. */
	EXPECT_STREQ(r.out, "{\"NameVar\":\"link\",\"SizeVar\":5,\"ModeVar\":416,"
			    "\"ModTimeVar\":1700000000123456789,\"IsDirVar\":false}");
	result_free(&r);

	r = RUN(fx.root, "lstat", "/link");
	EXPECT_OK(r);
	json_t *j = parse(r.out);
	ASSERT_TRUE(j != NULL);
	EXPECT_EQ(jint(j, "ModeVar"), GO_SYMLINK | 0777);
	EXPECT_EQ(jint(j, "SizeVar"), 4);
	json_decref(j);
	result_free(&r);

	r = RUN(fx.root, "stat", "d/");
	j = parse(r.out);
	ASSERT_TRUE(j != NULL);
	EXPECT_STREQ(json_string_value(json_object_get(j, "NameVar")), "d");
	EXPECT_EQ(jint(j, "ModeVar"), GO_DIR | 0750);
	EXPECT_TRUE(json_is_true(json_object_get(j, "IsDirVar")));
	json_decref(j);
	result_free(&r);

	r = RUN(fx.root, "lstat", "/");
	EXPECT_OK(r);
	j = parse(r.out);
	EXPECT_STREQ(json_string_value(json_object_get(j, "NameVar")), "/");
	json_decref(j);
	result_free(&r);

	r = RUN(fx.root, "stat", "/nope");
	EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
	EXPECT_STREQ(r.out, "");
	result_free(&r);
}

TEST(stat_cannot_see_outside)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "outside/secret"), "OUTSIDE", 0600), 0);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/host")), 0);
	ASSERT_EQ(symlink("../../outside/secret", fx_path(&fx, "root/rel")), 0);
	const char *paths[] = { "../outside/secret", "/../../outside/secret", "host/secret", "rel",
				"/rel" };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		struct result r = RUN(fx.root, "stat", paths[i]);
		EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
		result_free(&r);
	}
}

TEST(readlink_gives_the_raw_target)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(symlink("../../etc/passwd", fx_path(&fx, "root/l")), 0);
	struct result r = RUN(fx.root, "readlink", "l");
	EXPECT_OK(r);
	EXPECT_STREQ(r.out, "../../etc/passwd");
	result_free(&r);
	ASSERT_EQ(put_file(fx_path(&fx, "root/f"), "x", 0644), 0);
	r = RUN(fx.root, "readlink", "f");
	EXPECT_ERROR(r, "{\"ErrString\":\"readlink f: invalid argument\",\"ErrNum\":22}");
	result_free(&r);
}

TEST(mkdir_and_mkdirall)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	mode_t old = umask(0);
	struct result r = RUN(fx.root, "mkdir", "/a", "750");
	EXPECT_OK(r);
	result_free(&r);
	struct stat st;
	ASSERT_EQ(stat(fx_path(&fx, "root/a"), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0750);

	/* Docker formats an os.FileMode: ModeDir|0755 is 20000000755. */
	r = RUN(fx.root, "mkdir", "/b", "20000000755");
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(stat(fx_path(&fx, "root/b"), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0755);

	r = RUN(fx.root, "mkdir", "/a", "755");
	EXPECT_ERROR(r, "{\"ErrString\":\"file already exists\"}");
	result_free(&r);
	r = RUN(fx.root, "mkdir", "/x/y", "755");
	EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
	result_free(&r);
	r = RUN(fx.root, "mkdir", "/c", "9");
	EXPECT_ERROR(r, "{\"ErrString\":\"strconv.ParseUint: parsing \\\"9\\\": invalid syntax\"}");
	result_free(&r);

	r = RUN(fx.root, "mkdirall", "/x/y/z", "700");
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(stat(fx_path(&fx, "root/x/y/z"), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0700);
	ASSERT_EQ(put_file(fx_path(&fx, "root/file"), "", 0644), 0);
	r = RUN(fx.root, "mkdirall", "/file/sub", "755");
	EXPECT_ERROR(r, "{\"ErrString\":\"mkdir /file: not a directory\",\"ErrNum\":20}");
	result_free(&r);
	umask(old);
}

TEST(mkdir_escapes_land_inside)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/host")), 0);
	ASSERT_EQ(symlink("/", fx_path(&fx, "root/slash")), 0);
	struct result r = RUN(fx.root, "mkdir", "../../evil", "755");
	EXPECT_OK(r);
	result_free(&r);
	EXPECT_TRUE(exists(fx_path(&fx, "root/evil")));
	EXPECT_FALSE(exists(fx_path(&fx, "evil")));
	r = RUN(fx.root, "mkdirall", "/slash/../../outside/evil2", "755");
	EXPECT_OK(r);
	result_free(&r);
	EXPECT_TRUE(exists(fx_path(&fx, "root/outside/evil2")));
	EXPECT_FALSE(exists(fx_path(&fx, "outside/evil2")));
	r = RUN(fx.root, "mkdir", "/host/evil3", "755");
	EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
	result_free(&r);
	EXPECT_FALSE(exists(fx_path(&fx, "outside/evil3")));
}

TEST(remove_and_removeall)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("mkdir -p %s/d/e %s/empty && touch %s/d/e/f %s/f", fx.root, fx.root, fx.root,
		     fx.root),
		  0);
	struct result r = RUN(fx.root, "remove", "/f");
	EXPECT_OK(r);
	result_free(&r);
	EXPECT_FALSE(exists(fx_path(&fx, "root/f")));
	r = RUN(fx.root, "remove", "/empty");
	EXPECT_OK(r);
	result_free(&r);
	EXPECT_FALSE(exists(fx_path(&fx, "root/empty")));
	/* ENOTEMPTY counts as "exists" for Go's os.IsExist. */
	r = RUN(fx.root, "remove", "/d");
	EXPECT_ERROR(r, "{\"ErrString\":\"file already exists\"}");
	result_free(&r);
	r = RUN(fx.root, "remove", "/");
	EXPECT_ERROR(r, "{\"ErrString\":\"remove /: device or resource busy\",\"ErrNum\":16}");
	result_free(&r);
	r = RUN(fx.root, "removeall", "/d");
	EXPECT_OK(r);
	result_free(&r);
	EXPECT_FALSE(exists(fx_path(&fx, "root/d")));
	r = RUN(fx.root, "removeall", "/d");
	EXPECT_OK(r); /* absent is fine */
	result_free(&r);
	r = RUN(fx.root, "removeall", "/");
	EXPECT_ERROR(r, "{\"ErrString\":\"RemoveAll /: invalid argument\",\"ErrNum\":22}");
	result_free(&r);
	EXPECT_TRUE(exists(fx.root));
}

TEST(remove_through_links_never_reaches_outside)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("mkdir -p %s/sub && echo keep > %s/sub/keep && echo keep > %s/keep", fx.outside,
		     fx.outside, fx.outside),
		  0);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/host")), 0);
	ASSERT_EQ(symlink("../../outside", fx_path(&fx, "root/rel")), 0);
	const char *args[][2] = { { "removeall", "/host" },	    { "removeall", "/rel/" },
				  { "removeall", "../outside" },    { "remove", "../outside/keep" },
				  { "removeall", "/host/sub" },	    { "remove", "/rel/keep" } };
	for (size_t i = 0; i < ARRAY_SIZE(args); i++) {
		struct result r = RUN(fx.root, args[i][0], args[i][1]);
		EXPECT_EQ(r.status, 0);
		result_free(&r);
		EXPECT_TRUE(exists(fx_path(&fx, "outside/keep")));
		EXPECT_TRUE(exists(fx_path(&fx, "outside/sub/keep")));
	}
	/* The links themselves were the entries removed. */
	EXPECT_FALSE(exists(fx_path(&fx, "root/host")));
	EXPECT_FALSE(exists(fx_path(&fx, "root/rel")));
}

TEST(link_and_symlink)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "root/f"), "data", 0644), 0);
	ASSERT_EQ(put_file(fx_path(&fx, "outside/secret"), "OUTSIDE", 0644), 0);
	struct result r = RUN(fx.root, "link", "/f", "/g");
	EXPECT_OK(r);
	result_free(&r);
	struct stat a, b;
	ASSERT_EQ(stat(fx_path(&fx, "root/f"), &a), 0);
	ASSERT_EQ(stat(fx_path(&fx, "root/g"), &b), 0);
	EXPECT_EQ(a.st_ino, b.st_ino);

	/* Hard link to something outside: resolves to root/outside/... */
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/host")), 0);
	r = RUN(fx.root, "link", "../../outside/secret", "/stolen");
	EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
	result_free(&r);
	r = RUN(fx.root, "link", "/host/secret", "/stolen");
	EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
	result_free(&r);
	EXPECT_FALSE(exists(fx_path(&fx, "root/stolen")));
	/* A hard link to the symlink itself is allowed: it is a link. */
	r = RUN(fx.root, "link", "/host", "/host2");
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(lstat(fx_path(&fx, "root/host2"), &a), 0);
	EXPECT_TRUE(S_ISLNK(a.st_mode));

	r = RUN(fx.root, "symlink", "/etc/shadow", "/s");
	EXPECT_OK(r);
	result_free(&r);
	char buf[64] = { 0 };
	ASSERT_GT(readlink(fx_path(&fx, "root/s"), buf, sizeof(buf) - 1), 0);
	EXPECT_STREQ(buf, "/etc/shadow");
	r = RUN(fx.root, "symlink", "x", "/s");
	EXPECT_ERROR(r, "{\"ErrString\":\"file already exists\"}");
	result_free(&r);
	/* The new name's parent resolves inside: ../../ lands in the root. */
	r = RUN(fx.root, "symlink", "x", "../../outside/planted");
	EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
	result_free(&r);
	EXPECT_FALSE(exists(fx_path(&fx, "outside/planted")));
}

TEST(lchmod_and_lchown)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "root/f"), "x", 0644), 0);
	ASSERT_EQ(put_file(fx_path(&fx, "outside/secret"), "x", 0600), 0);
	ASSERT_EQ(symlink(fx_path(&fx, "outside/secret"), fx_path(&fx, "root/host")), 0);
	ASSERT_EQ(symlink("f", fx_path(&fx, "root/l")), 0);
	struct stat st;

	/* Go's ModeSetuid|0755. */
	char mode[32];
	snprintf(mode, sizeof(mode), "%o", GO_SETUID | 0755);
	struct result r = RUN(fx.root, "lchmod", "/f", mode);
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(stat(fx_path(&fx, "root/f"), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 04755);
	r = RUN(fx.root, "lchmod", "/f", "4711");
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(stat(fx_path(&fx, "root/f"), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 04711);

	/* Not through a link: Linux cannot chmod one. */
	r = RUN(fx.root, "lchmod", "/host", "777");
	EXPECT_ERROR(r, "{\"ErrString\":\"chmod /host: operation not supported\",\"ErrNum\":95}");
	result_free(&r);
	r = RUN(fx.root, "lchmod", "/l", "777");
	EXPECT_EQ(r.status, 0);
	result_free(&r);
	ASSERT_EQ(stat(fx_path(&fx, "outside/secret"), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0600);
	ASSERT_EQ(stat(fx_path(&fx, "root/f"), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 04711);

	if (geteuid() != 0) {
		TAP_DIAG("SKIP lchown: not root");
		return;
	}
	r = RUN(fx.root, "lchown", "/host", "1234", "5678");
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(lstat(fx_path(&fx, "root/host"), &st), 0);
	EXPECT_EQ(st.st_uid, 1234);
	EXPECT_EQ(st.st_gid, 5678);
	ASSERT_EQ(stat(fx_path(&fx, "outside/secret"), &st), 0);
	EXPECT_EQ(st.st_uid, 0);
	r = RUN(fx.root, "lchown", "/f", "-1", "42");
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(stat(fx_path(&fx, "root/f"), &st), 0);
	EXPECT_EQ(st.st_uid, 0);
	EXPECT_EQ(st.st_gid, 42);
	r = RUN(fx.root, "lchown", "/f", "x", "1");
	EXPECT_ERROR(r, "{\"ErrString\":\"strconv.ParseInt: parsing \\\"x\\\": invalid syntax\"}");
	result_free(&r);
}

TEST(mknod_and_mkfifo)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	mode_t old = umask(0);
	struct stat st;
	struct result r = RUN(fx.root, "mkfifo", "/p", "640");
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(lstat(fx_path(&fx, "root/p"), &st), 0);
	EXPECT_TRUE(S_ISFIFO(st.st_mode));
	EXPECT_EQ(st.st_mode & 07777, 0640);

	/* Go's ModeNamedPipe through mknod. */
	char mode[32];
	snprintf(mode, sizeof(mode), "%o", GO_PIPE | 0600);
	r = RUN(fx.root, "mknod", "/p2", mode, "0", "0");
	EXPECT_OK(r);
	result_free(&r);
	ASSERT_EQ(lstat(fx_path(&fx, "root/p2"), &st), 0);
	EXPECT_TRUE(S_ISFIFO(st.st_mode));

	if (geteuid() == 0) {
		snprintf(mode, sizeof(mode), "%o", GO_DEVICE | GO_CHARDEV | 0666);
		r = RUN(fx.root, "mknod", "/null", mode, "1", "3");
		EXPECT_OK(r);
		result_free(&r);
		ASSERT_EQ(lstat(fx_path(&fx, "root/null"), &st), 0);
		EXPECT_TRUE(S_ISCHR(st.st_mode));
		EXPECT_EQ(major(st.st_rdev), 1);
		EXPECT_EQ(minor(st.st_rdev), 3);
		/* A Unix mode with S_IFCHR works too. */
		r = RUN(fx.root, "mknod", "../../wh", "20000", "0", "0");
		EXPECT_OK(r);
		result_free(&r);
		ASSERT_EQ(lstat(fx_path(&fx, "root/wh"), &st), 0);
		EXPECT_TRUE(S_ISCHR(st.st_mode));
		EXPECT_FALSE(exists(fx_path(&fx, "wh")));
	}
	r = RUN(fx.root, "mknod", "/x", "600", "1");
	EXPECT_ERROR(r, "{\"ErrString\":\"invalid arguments\"}");
	result_free(&r);
	umask(old);
}

TEST(readfile_and_writefile)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	/* Binary data with NULs, bigger than one copy buffer. */
	size_t len = 300000;
	unsigned char *data = malloc(len);
	ASSERT_TRUE(data != NULL);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	mode_t old = umask(0);
	struct result r = RUN_IN(fx.root, data, len, "writefile", "/f", "640");
	EXPECT_OK(r);
	result_free(&r);
	struct stat st;
	ASSERT_EQ(stat(fx_path(&fx, "root/f"), &st), 0);
	EXPECT_EQ(st.st_size, (off_t)len);
	EXPECT_EQ(st.st_mode & 07777, 0640);
	r = RUN(fx.root, "readfile", "/f");
	EXPECT_OK(r);
	EXPECT_EQ(r.out_len, len);
	EXPECT_TRUE(r.out_len == len && memcmp(r.out, data, len) == 0);
	result_free(&r);
	/* Truncates. */
	r = RUN_IN(fx.root, "short", 5, "writefile", "/f", "600");
	EXPECT_OK(r);
	result_free(&r);
	r = RUN(fx.root, "readfile", "/f");
	EXPECT_STREQ(r.out, "short");
	result_free(&r);
	free(data);
	umask(old);

	r = RUN(fx.root, "readfile", "/");
	EXPECT_ERROR(r, "{\"ErrString\":\"open /: is a directory\",\"ErrNum\":21}");
	result_free(&r);
}

TEST(readfile_and_writefile_stay_inside)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "outside/secret"), "OUTSIDE", 0644), 0);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/host")), 0);
	ASSERT_EQ(symlink(fx_path(&fx, "outside/secret"), fx_path(&fx, "root/hostfile")), 0);
	ASSERT_EQ(symlink("../../../outside/secret", fx_path(&fx, "root/rel")), 0);
	const char *paths[] = { "../outside/secret", "host/secret", "hostfile", "rel" };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		struct result r = RUN(fx.root, "readfile", paths[i]);
		EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
		EXPECT_TRUE(strstr(r.out, "OUTSIDE") == NULL);
		result_free(&r);
		r = RUN_IN(fx.root, "EVIL", 4, "writefile", paths[i], "644");
		result_free(&r);
	}
	char *s = get_file(fx_path(&fx, "outside/secret"), NULL);
	EXPECT_STREQ(s, "OUTSIDE");
	free(s);
	/* A dangling link is created through, inside: rel -> root/outside/secret. */
	EXPECT_TRUE(exists(fx_path(&fx, "root/outside")) == false);
	ASSERT_EQ(mkdir(fx_path(&fx, "root/outside"), 0755), 0);
	struct result r = RUN_IN(fx.root, "EVIL", 4, "writefile", "rel", "644");
	EXPECT_OK(r);
	result_free(&r);
	s = get_file(fx_path(&fx, "root/outside/secret"), NULL);
	EXPECT_STREQ(s, "EVIL");
	free(s);
}

TEST(readfile_of_a_fifo_does_not_hang)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(mkfifo(fx_path(&fx, "root/p"), 0644), 0);
	alarm(10);
	struct result r = RUN(fx.root, "readfile", "/p");
	EXPECT_ERROR(r, "{\"ErrString\":\"open /p: invalid argument\",\"ErrNum\":22}");
	result_free(&r);
	r = RUN_IN(fx.root, "x", 1, "writefile", "/p", "644");
	EXPECT_EQ(r.status, 0);
	EXPECT_TRUE(strstr(r.err, "ErrString") != NULL);
	result_free(&r);
	alarm(0);
}

TEST(readdir_lists_lstat_of_entries)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("mkdir %s/d %s/d/sub %s/empty && echo 12345 > %s/d/file && ln -s /nowhere %s/d/ln",
		     fx.root, fx.root, fx.root, fx.root, fx.root),
		  0);
	struct result r = RUN(fx.root, "readdir", "/d", "0");
	EXPECT_OK(r);
	json_t *j = parse(r.out);
	ASSERT_TRUE(json_is_array(j));
	EXPECT_EQ(json_array_size(j), 3);
	size_t i;
	json_t *v;
	int seen = 0;
	json_array_foreach (j, i, v) {
		const char *n = json_string_value(json_object_get(v, "NameVar"));
		if (strcmp(n, "file") == 0) {
			seen |= 1;
			EXPECT_EQ(jint(v, "SizeVar"), 6);
		} else if (strcmp(n, "sub") == 0) {
			seen |= 2;
			EXPECT_TRUE(json_is_true(json_object_get(v, "IsDirVar")));
		} else if (strcmp(n, "ln") == 0) {
			seen |= 4;
			EXPECT_EQ(jint(v, "ModeVar"), GO_SYMLINK | 0777);
		}
	}
	EXPECT_EQ(seen, 7);
	json_decref(j);
	result_free(&r);

	r = RUN(fx.root, "readdir", "/d", "1");
	j = parse(r.out);
	EXPECT_EQ(json_array_size(j), 1);
	json_decref(j);
	result_free(&r);
	r = RUN(fx.root, "readdir", "/empty", "0");
	EXPECT_OK(r);
	EXPECT_STREQ(r.out, "[]");
	result_free(&r);
	r = RUN(fx.root, "readdir", "/empty", "5");
	EXPECT_ERROR(r, "{\"ErrString\":\"EOF\"}");
	result_free(&r);
	r = RUN(fx.root, "readdir", "/d/file", "0");
	EXPECT_ERROR(r, "{\"ErrString\":\"open /d/file: not a directory\",\"ErrNum\":20}");
	result_free(&r);
}

TEST(resolvepath_is_scoped)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("mkdir -p %s/c/etc && ln -s /etc %s/c/e && ln -s ../../../../x %s/c/up",
		     fx.root, fx.root, fx.root),
		  0);
	struct result r = RUN(fx.root, "resolvepath", "/c/e/passwd", "/c");
	EXPECT_OK(r);
	EXPECT_STREQ(r.out, "/c/etc/passwd");
	result_free(&r);
	r = RUN(fx.root, "resolvepath", "/c/up/y", "/c");
	EXPECT_STREQ(r.out, "/c/x/y");
	result_free(&r);
	r = RUN(fx.root, "resolvepath", "/elsewhere", "/c");
	EXPECT_ERROR(r, "{\"ErrString\":\"evalSymlinksInScope: /elsewhere is not in /c\"}");
	result_free(&r);
}

/* openfile's framing: {u32 cmd, u64 size} big-endian. */
static void put_hdr(char **p, uint32_t cmd, uint64_t size)
{
	uint32_t c = htobe32(cmd);
	uint64_t s = htobe64(size);
	memcpy(*p, &c, 4);
	memcpy(*p + 4, &s, 8);
	*p += 12;
}

static bool get_hdr(const char **p, const char *end, uint32_t *cmd, uint64_t *size)
{
	if (end - *p < 12)
		return false;
	uint32_t c;
	uint64_t s;
	memcpy(&c, *p, 4);
	memcpy(&s, *p + 4, 8);
	*cmd = be32toh(c);
	*size = be64toh(s);
	*p += 12;
	return true;
}

TEST(openfile_serves_write_seek_read_close)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	char req[256], *p = req;
	put_hdr(&p, 1, 11); /* Write */
	memcpy(p, "hello world", 11);
	p += 11;
	put_hdr(&p, 2, 12); /* Seek to 6, SEEK_SET */
	uint64_t off = htobe64(6);
	uint32_t whence = htobe32(0);
	memcpy(p, &off, 8);
	memcpy(p + 8, &whence, 4);
	p += 12;
	put_hdr(&p, 0, 100); /* Read */
	put_hdr(&p, 3, 0);   /* Close */
	char flags[16];
	snprintf(flags, sizeof(flags), "%d", O_RDWR | O_CREAT);
	struct result r = RUN_IN(fx.root, req, (size_t)(p - req), "openfile", "/f", flags, "644");
	EXPECT_OK(r);
	const char *q = r.out, *end = r.out + r.out_len;
	uint32_t cmd;
	uint64_t size;
	/* open OK, write OK, seek OK + i64, read OK + data, close OK */
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 4);
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 4);
	EXPECT_EQ(size, 0);
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 4);
	ASSERT_EQ(size, 8);
	memcpy(&off, q, 8);
	q += 8;
	EXPECT_EQ(be64toh(off), 6);
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 4);
	ASSERT_EQ(size, 5);
	EXPECT_TRUE(memcmp(q, "world", 5) == 0);
	q += 5;
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 4);
	EXPECT_TRUE(q == end);
	result_free(&r);
	char *s = get_file(fx_path(&fx, "root/f"), NULL);
	EXPECT_STREQ(s, "hello world");
	free(s);
}

TEST(openfile_reports_failures_with_cmdfailed)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "root/f"), "ab", 0644), 0);
	char req[64], *p = req;
	put_hdr(&p, 0, 10); /* Read: "ab" */
	put_hdr(&p, 0, 10); /* Read at EOF: CmdFailed, "EOF" */
	struct result r = RUN_IN(fx.root, req, (size_t)(p - req), "openfile", "/f", "0", "0");
	EXPECT_ERROR(r, "{\"ErrString\":\"EOF\"}");
	const char *q = r.out, *end = r.out + r.out_len;
	uint32_t cmd;
	uint64_t size;
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 4);
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 4);
	EXPECT_EQ(size, 2);
	q += 2;
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 5);
	result_free(&r);

	/* Open failure: CmdFailed right away. */
	r = RUN(fx.root, "openfile", "/missing", "0", "0");
	EXPECT_ERROR(r, "{\"ErrString\":\"file does not exist\"}");
	q = r.out;
	end = r.out + r.out_len;
	ASSERT_TRUE(get_hdr(&q, end, &cmd, &size));
	EXPECT_EQ(cmd, 5);
	result_free(&r);

	/* Garbage command, then a truncated header. */
	p = req;
	put_hdr(&p, 99, 0);
	r = RUN_IN(fx.root, req, 12, "openfile", "/f", "0", "0");
	EXPECT_ERROR(r, "{\"ErrString\":\"unkown command\"}");
	result_free(&r);
	r = RUN_IN(fx.root, req, 5, "openfile", "/f", "0", "0");
	EXPECT_ERROR(r, "{\"ErrString\":\"unexpected EOF\"}");
	result_free(&r);
	/* A huge Read request is answered with what there is. */
	p = req;
	put_hdr(&p, 0, UINT64_MAX);
	put_hdr(&p, 3, 0);
	r = RUN_IN(fx.root, req, 24, "openfile", "/f", "0", "0");
	EXPECT_OK(r);
	result_free(&r);
}

TEST(error_json_encodes_like_go)
{
	struct error e = { 0 };
	error_setx(&e, EINVAL, "open /a<b>&\"c\"\n\x01\xff: x");
	char *j = rfs_error_json(&e);
	EXPECT_STREQ(j, "{\"ErrString\":\"open /a\\u003cb\\u003e\\u0026\\\"c\\\"\\n\\u0001\\ufffd: x\","
			"\"ErrNum\":22}");
	free(j);
	error_setx(&e, EACCES, "whatever");
	j = rfs_error_json(&e);
	EXPECT_STREQ(j, "{\"ErrString\":\"permission denied\"}");
	free(j);
}

TAP_MAIN()
