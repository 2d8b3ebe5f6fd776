/* SPDX-License-Identifier: MIT */
/* archivepath and extractarchive: a tree round-trips with its metadata;
 * the options Docker sends (IncludeFiles, RebaseNames, ExcludePatterns,
 * IncludeSourceDir, ChownOpts, UIDMaps, NoOverwriteDirNonDir) do what
 * they do there; an overlay upper dir becomes a layer with whiteouts and
 * the layer applies as deletions; entries that would escape are refused. */
#include "lcow/tap.h"
#include "lcow/cleanup.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "helpers.h"
#include "tar.h"

static bool is_root(void)
{
	return geteuid() == 0;
}

/* archivepath SRC with options JSON; the tar stream in *tar. */
static int archive(const char *root, const char *src, const char *opts, char **tar, size_t *len,
		   char **errtext)
{
	size_t in_len;
	char *in = tar_opts(opts, NULL, 0, &in_len);
	struct result r = RUN_IN(root, in, in_len, "archivepath", src);
	free(in);
	*tar = r.out;
	*len = r.out_len;
	*errtext = r.err;
	return r.status;
}

static struct result extract(const char *root, const char *dest, const char *opts,
			     const char *tar, size_t len)
{
	size_t in_len;
	char *in = tar_opts(opts, tar, len, &in_len);
	struct result r = RUN_IN(root, in, in_len, "extractarchive", dest);
	free(in);
	return r;
}

/* The names in a tar stream, one per line. */
static char *names_of(const char *tar, size_t len)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	if (rfs_write_all(fd, tar, len) < 0)
		abort();
	lseek(fd, 0, SEEK_SET);
	struct tar_reader *r = malloc(sizeof(*r));
	tar_reader_init(r, fd);
	size_t cap = 4096, used = 0;
	char *out = calloc(1, cap);
	struct tar_entry e;
	struct error err = { 0 };
	while (tar_next(r, &e, &err) == 1) {
		size_t n = strlen(e.name);
		if (used + n + 2 >= cap)
			out = realloc(out, cap = (used + n + 2) * 2);
		memcpy(out + used, e.name, n);
		used += n;
		out[used++] = '\n';
		out[used] = '\0';
		tar_entry_free(&e);
	}
	free(r);
	close(fd);
	return out;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/* A tree with every kind of entry and metadata that matters. */
static void make_tree(const char *dir, int *_tap_failed)
{
	ASSERT_EQ(sh("set -e; cd %s; mkdir -p src/d/e src/empty; printf 'hello' > src/d/f;"
		     "head -c 200000 /dev/urandom > src/big; ln src/d/f src/hard;"
		     "ln -s d/f src/rel; ln -s /d/e src/abs; mkfifo src/fifo; chmod 700 src/empty",
		     dir),
		  0);
	if (is_root()) {
		ASSERT_EQ(sh("set -e; cd %s; mknod src/null c 1 3; chown 1234:5678 src/d/f;"
			     "chown -h 42:43 src/rel",
			     dir),
			  0);
	}
	/* After chown, which clears setuid. */
	ASSERT_EQ(sh("set -e; cd %s; chmod 4751 src/d/f; touch -d @1600000000 src/d/f;"
		     "touch -h -d @1500000000 src/rel; touch -d @1400000000 src/d",
		     dir),
		  0);
}

TEST(round_trip_keeps_content_and_metadata)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	make_tree(fx.root, _tap_failed);
	ASSERT_EQ(mkdir(fx_path(&fx, "root/dst"), 0755), 0);

	char *tar, *err;
	size_t len;
	ASSERT_EQ(archive(fx.root, "/src", "{}", &tar, &len, &err), 0);
	EXPECT_STREQ(err, "");
	char *names = names_of(tar, len);
	/* Relative names, directories with '/', the source dir left out. */
	EXPECT_TRUE(has_line(names, "d/"));
	EXPECT_TRUE(has_line(names, "d/f"));
	EXPECT_TRUE(has_line(names, "hard"));
	EXPECT_FALSE(has_line(names, "./"));
	EXPECT_FALSE(has_line(names, "."));
	free(names);

	struct result r = extract(fx.root, "/dst", "{}", tar, len);
	EXPECT_STREQ(r.err, "");
	result_free(&r);
	free(tar);
	free(err);

	/* Same content, modes, owners, times, link targets: compare with
	 * GNU tar's view of both trees (numeric ids, full times). */
	ASSERT_EQ(sh("cd %s && (cd src && find . -printf '%%p %%y %%m %%U:%%G %%s %%l\\n' | sort) > a &&"
		     "(cd dst && find . -printf '%%p %%y %%m %%U:%%G %%s %%l\\n' | sort) > b && cmp a b"
		     " && cmp src/big dst/big && cmp src/d/f dst/d/f",
		     fx.root),
		  0);
	struct stat a, b;
	ASSERT_EQ(stat(fx_path(&fx, "root/dst/d/f"), &a), 0);
	ASSERT_EQ(stat(fx_path(&fx, "root/dst/hard"), &b), 0);
	EXPECT_EQ(a.st_ino, b.st_ino); /* the hard link is one */
	EXPECT_EQ(a.st_mtime, 1600000000);
	EXPECT_EQ(a.st_mode & 07777, 04751);
	ASSERT_EQ(lstat(fx_path(&fx, "root/dst/rel"), &a), 0);
	EXPECT_EQ(a.st_mtime, 1500000000);
	ASSERT_EQ(stat(fx_path(&fx, "root/dst/d"), &a), 0);
	EXPECT_EQ(a.st_mtime, 1400000000); /* set after its entries */
	ASSERT_EQ(lstat(fx_path(&fx, "root/dst/fifo"), &a), 0);
	EXPECT_TRUE(S_ISFIFO(a.st_mode));
	if (is_root()) {
		ASSERT_EQ(lstat(fx_path(&fx, "root/dst/null"), &a), 0);
		EXPECT_TRUE(S_ISCHR(a.st_mode) && a.st_rdev == makedev(1, 3));
		ASSERT_EQ(stat(fx_path(&fx, "root/dst/d/f"), &a), 0);
		EXPECT_EQ(a.st_uid, 1234);
		EXPECT_EQ(a.st_mode & 07777, 04751); /* chmod after chown */
	}
}

TEST(gnu_tar_agrees_with_our_archive)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	make_tree(fx.root, _tap_failed);
	char *tar, *err;
	size_t len;
	ASSERT_EQ(archive(fx.root, "/src", "{}", &tar, &len, &err), 0);
	int fd = open(fx_path(&fx, "t.tar"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_EQ(rfs_write_all(fd, tar, len), 0);
	close(fd);
	free(tar);
	free(err);
	ASSERT_EQ(sh("cd %s && mkdir x && tar -xpf t.tar -C x --numeric-owner && "
		     "diff -r root/src x >/dev/null 2>&1 || cmp root/src/big x/big",
		     fx.base),
		  0);
}

TEST(docker_cp_options)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	make_tree(fx.root, _tap_failed);
	char *tar, *err, *names;
	size_t len;

	/* docker cp CTR:/src/d - : the parent with IncludeFiles + RebaseNames. */
	ASSERT_EQ(archive(fx.root, "/src", "{\"IncludeFiles\":[\"d\"],\"RebaseNames\":{\"d\":\"copy\"}}",
			  &tar, &len, &err),
		  0);
	EXPECT_STREQ(err, "");
	names = names_of(tar, len);
	EXPECT_TRUE(has_line(names, "copy/"));
	EXPECT_TRUE(has_line(names, "copy/f"));
	EXPECT_TRUE(has_line(names, "copy/e/"));
	EXPECT_FALSE(has_line(names, "big"));
	free(names);
	free(tar);
	free(err);

	/* An include that tries to leave the source: resolved inside it. */
	ASSERT_EQ(archive(fx.root, "/src/d", "{\"IncludeFiles\":[\"../big\",\"../../src\"]}", &tar,
			  &len, &err),
		  0);
	names = names_of(tar, len);
	EXPECT_STREQ(names, "");
	free(names);
	free(tar);
	free(err);

	ASSERT_EQ(archive(fx.root, "/src", "{\"ExcludePatterns\":[\"d\",\"b*\",\"!d/e\"]}", &tar,
			  &len, &err),
		  0);
	names = names_of(tar, len);
	EXPECT_FALSE(has_line(names, "big"));
	EXPECT_FALSE(has_line(names, "d/f"));
	EXPECT_FALSE(has_line(names, "d/"));
	EXPECT_TRUE(has_line(names, "d/e/"));
	EXPECT_TRUE(has_line(names, "rel"));
	free(names);
	free(tar);
	free(err);

	ASSERT_EQ(archive(fx.root, "/src/d", "{\"IncludeSourceDir\":true}", &tar, &len, &err), 0);
	names = names_of(tar, len);
	EXPECT_TRUE(has_line(names, "./"));
	EXPECT_TRUE(has_line(names, "./f"));
	free(names);

	/* ChownOpts on extraction; NoLchown keeps ours. */
	if (is_root()) {
		ASSERT_EQ(mkdir(fx_path(&fx, "root/o1"), 0755), 0);
		struct result r = extract(fx.root, "/o1", "{\"ChownOpts\":{\"UID\":7,\"GID\":8}}", tar, len);
		EXPECT_STREQ(r.err, "");
		result_free(&r);
		struct stat st;
		ASSERT_EQ(stat(fx_path(&fx, "root/o1/f"), &st), 0);
		EXPECT_EQ(st.st_uid, 7);
		EXPECT_EQ(st.st_gid, 8);
		/* UIDMaps: container 0..65535 is host 100000.. */
		ASSERT_EQ(mkdir(fx_path(&fx, "root/o2"), 0755), 0);
		r = extract(fx.root, "/o2",
			    "{\"UIDMaps\":[{\"container_id\":0,\"host_id\":100000,\"size\":65536}],"
			    "\"GIDMaps\":[{\"ContainerID\":0,\"HostID\":200000,\"Size\":65536}]}",
			    tar, len);
		EXPECT_STREQ(r.err, "");
		result_free(&r);
		ASSERT_EQ(stat(fx_path(&fx, "root/o2/f"), &st), 0);
		EXPECT_EQ(st.st_uid, 100000 + 1234);
		EXPECT_EQ(st.st_gid, 200000 + 5678);
	}
	free(tar);
	free(err);

	/* Compression cannot be produced. */
	ASSERT_EQ(archive(fx.root, "/src", "{\"Compression\":2}", &tar, &len, &err), 0);
	EXPECT_TRUE(strstr(err, "compression") != NULL);
	free(tar);
	free(err);
}

TEST(extract_replaces_and_merges)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("cd %s && mkdir -p dst/dir dst/keep && echo old > dst/file && echo k > dst/keep/k"
		     " && mkdir -p src/file src/dir/.. && echo new > src/dir2 && mkdir src/keep &&"
		     " echo n > src/keep/n && rm -rf src/dir && echo f > src/dir",
		     fx.root),
		  0);
	char *tar, *err;
	size_t len;
	ASSERT_EQ(archive(fx.root, "/src", "{}", &tar, &len, &err), 0);
	/* NoOverwriteDirNonDir refuses the swaps. */
	struct result r = extract(fx.root, "/dst", "{\"NoOverwriteDirNonDir\":true}", tar, len);
	EXPECT_TRUE(strstr(r.err, "cannot overwrite") != NULL);
	result_free(&r);
	r = extract(fx.root, "/dst", "{}", tar, len);
	EXPECT_STREQ(r.err, "");
	result_free(&r);
	struct stat st;
	ASSERT_EQ(lstat(fx_path(&fx, "root/dst/file"), &st), 0);
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(lstat(fx_path(&fx, "root/dst/dir"), &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	/* Directories merge: old content stays. */
	EXPECT_TRUE(exists(fx_path(&fx, "root/dst/keep/k")));
	EXPECT_TRUE(exists(fx_path(&fx, "root/dst/keep/n")));
	free(tar);
	free(err);
	/* The destination must exist. */
	r = extract(fx.root, "/nodir", "{}", "", 0);
	EXPECT_STREQ(r.err, "{\"ErrString\":\"file does not exist\"}");
	result_free(&r);
}

/* A tar stream made with our writer from a list of entries. */
static char *build_tar(struct tar_entry *es, size_t n, size_t *len)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	struct tar_writer *w = malloc(sizeof(*w));
	struct error err = { 0 };
	tar_writer_init(w, fd);
	for (size_t i = 0; i < n; i++) {
		tar_write_header(w, &es[i], &err);
		for (uint64_t k = 0; k < es[i].size; k++)
			tar_write_data(w, "X", 1, &err);
		tar_write_pad(w, es[i].size, &err);
	}
	tar_write_end(w, &err);
	free(w);
	return memfd_text(fd, len);
}

TEST(extract_refuses_escaping_entries)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "outside/secret"), "OUTSIDE", 0644), 0);
	ASSERT_EQ(mkdir(fx_path(&fx, "root/dst"), 0755), 0);
	struct {
		struct tar_entry e;
		const char *want;
	} cases[] = {
		{ { .name = "../evil", .type = TAR_REG, .size = 1 }, "outside of" },
		{ { .name = "a/../../evil", .type = TAR_REG, .size = 1 }, "outside of" },
		{ { .name = "/../../evil", .type = TAR_REG, .size = 1 }, "outside of" },
		{ { .name = "h", .type = TAR_LINK, .linkname = "../../outside/secret" }, "outside of" },
		{ { .name = "s", .type = TAR_SYMLINK, .linkname = "../../.." }, "outside of" },
		{ { .name = "a/b/s", .type = TAR_SYMLINK, .linkname = "../../../x" }, "outside of" },
		{ { .name = ".", .type = TAR_REG, .size = 1 }, "names the destination" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len;
		char *tar = build_tar(&cases[i].e, 1, &len);
		struct result r = extract(fx.root, "/dst", "{}", tar, len);
		EXPECT_EQ(r.status, 0);
		EXPECT_TRUE(strstr(r.err, cases[i].want) != NULL);
		if (!strstr(r.err, cases[i].want))
			TAP_DIAG("case %zu: %s", i, r.err);
		result_free(&r);
		free(tar);
	}
	EXPECT_FALSE(exists(fx_path(&fx, "evil")));
	EXPECT_FALSE(exists(fx_path(&fx, "root/evil")));
	EXPECT_FALSE(exists(fx_path(&fx, "root/dst/h")));
	EXPECT_FALSE(exists(fx_path(&fx, "root/dst/s")));

	/* Allowed: an absolute symlink (it means the container's root), and
	 * entries through it stay in the destination. */
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/dst/host")), 0);
	struct tar_entry ok[] = {
		{ .name = "abs", .type = TAR_SYMLINK, .linkname = "/" },
		{ .name = "abs/etc/planted", .type = TAR_REG, .size = 3, .mode = 0644 },
	};
	size_t len;
	char *tar = build_tar(ok, ARRAY_SIZE(ok), &len);
	struct result r = extract(fx.root, "/dst", "{}", tar, len);
	EXPECT_STREQ(r.err, "");
	result_free(&r);
	free(tar);
	/* Through a link to a host path: that path does not exist in the
	 * destination, and nothing is created through the link. */
	struct tar_entry via_host = { .name = "host/planted", .type = TAR_REG, .size = 3 };
	tar = build_tar(&via_host, 1, &len);
	r = extract(fx.root, "/dst", "{}", tar, len);
	EXPECT_TRUE(strstr(r.err, "ErrString") != NULL);
	result_free(&r);
	free(tar);
	EXPECT_TRUE(exists(fx_path(&fx, "root/dst/etc/planted")));
	EXPECT_FALSE(exists("/etc/planted"));
	EXPECT_FALSE(exists(fx_path(&fx, "outside/planted")));
	char *s = get_file(fx_path(&fx, "outside/secret"), NULL);
	EXPECT_STREQ(s, "OUTSIDE");
	free(s);
}

TEST(compressed_input_is_decompressed)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("set -e; cd %s; mkdir -p src/d gz bz xz; head -c 300000 /dev/urandom > src/d/r;"
		     "tar -C src -czf t.tgz d",
		     fx.base),
		  0);
	const char *kinds[][2] = { { "t.tgz", "/gz" }, { "t.tbz", "/bz" }, { "t.txz", "/xz" } };
	/* bzip2 and xz where the host has them (gzip always). */
	size_t n_kinds = 1;
	if (sh("command -v bzip2 >/dev/null && command -v xz >/dev/null") == 0 &&
	    sh("cd %s && tar -C src -cjf t.tbz d && tar -C src -cJf t.txz d", fx.base) == 0)
		n_kinds = 3;
	else
		TAP_DIAG("no bzip2/xz on this host: gzip only");
	for (size_t i = 0; i < n_kinds; i++) {
		size_t len;
		char *data = get_file(fx_path(&fx, kinds[i][0]), &len);
		ASSERT_TRUE(data != NULL);
		/* With the fixture's base as the root: base/gz etc. */
		struct result r = extract(fx.base, kinds[i][1], "{}", data, len);
		EXPECT_STREQ(r.err, "");
		result_free(&r);
		free(data);
		EXPECT_EQ(sh("cmp %s/src/d/r %s%s/d/r", fx.base, fx.base, kinds[i][1]), 0);
	}
	/* Corrupt gzip: the decompressor's failure is the error, and the
	 * only thing on stderr is the JSON. */
	struct result r = extract(fx.root, "/", "{}", "\x1f\x8b\x08\x00\x00\x00", 6);
	EXPECT_STREQ(r.err, "{\"ErrString\":\"extract to /: decompress: zcat failed\",\"ErrNum\":5}");
	result_free(&r);
	/* Bad options: wrong types, too long, not JSON. */
	r = extract(fx.root, "/", "{\"IncludeFiles\":3}", "", 0);
	EXPECT_TRUE(strstr(r.err, "IncludeFiles") != NULL);
	result_free(&r);
	r = extract(fx.root, "/", "nope", "", 0);
	EXPECT_TRUE(strstr(r.err, "invalid JSON") != NULL);
	result_free(&r);
	char big[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };
	r = RUN_IN(fx.root, big, 8, "extractarchive", "/");
	EXPECT_TRUE(strstr(r.err, "too long") != NULL);
	result_free(&r);
	r = RUN_IN(fx.root, big, 3, "extractarchive", "/");
	EXPECT_STREQ(r.err, "{\"ErrString\":\"EOF\"}");
	result_free(&r);
}

/* An overlay upper directory: a deletion (0/0 char device), an opaque
 * directory (trusted.overlay.opaque=y) with a new file, a new file. */
static bool make_upper(const struct fixture *fx, int *_tap_failed)
{
	if (!is_root()) {
		TAP_DIAG("SKIP needs root (mknod, trusted xattrs)");
		return false;
	}
	int rc = sh("set -e; cd %s; mkdir -p lower/gone-dir/x lower/opq/old lower/keep upper/opq "
		    "upper/keep; echo 1 > lower/gone; echo 2 > lower/keep/k; echo 3 > lower/opq/old/o;"
		    "echo 4 > lower/opq/stale; echo 5 > upper/opq/fresh; echo 6 > upper/keep/new;"
		    "mknod upper/gone c 0 0; mknod upper/gone-dir c 0 0",
		    fx->root);
	if (rc != 0) {
		TAP_DIAG("making the upper directory failed");
		*_tap_failed = 1;
		return false;
	}
	if (setxattr(fx_path(fx, "root/upper/opq"), "trusted.overlay.opaque", "y", 1, 0) < 0) {
		TAP_DIAG("SKIP trusted xattrs unsupported on %s", fx->root);
		return false;
	}
	return true;
}

TEST(overlay_upper_becomes_a_layer_and_applies)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	if (!make_upper(&fx, _tap_failed))
		return;
	char *tar, *err;
	size_t len;
	ASSERT_EQ(archive(fx.root, "/upper", "{\"WhiteoutFormat\":1}", &tar, &len, &err), 0);
	EXPECT_STREQ(err, "");
	char *names = names_of(tar, len);
	EXPECT_TRUE(has_line(names, ".wh.gone"));
	EXPECT_TRUE(has_line(names, ".wh.gone-dir"));
	EXPECT_TRUE(has_line(names, "opq/"));
	EXPECT_TRUE(has_line(names, "opq/.wh..wh..opq"));
	EXPECT_TRUE(has_line(names, "opq/fresh"));
	EXPECT_FALSE(has_line(names, "gone"));
	free(names);

	/* Applied on a copy of the lower layer: the merged view. */
	ASSERT_EQ(sh("cp -a %s/lower %s/applied", fx.root, fx.root), 0);
	struct result r = extract(fx.root, "/applied", "{}", tar, len);
	EXPECT_STREQ(r.err, "");
	result_free(&r);
	EXPECT_FALSE(exists(fx_path(&fx, "root/applied/gone")));
	EXPECT_FALSE(exists(fx_path(&fx, "root/applied/gone-dir")));
	EXPECT_FALSE(exists(fx_path(&fx, "root/applied/opq/old")));
	EXPECT_FALSE(exists(fx_path(&fx, "root/applied/opq/stale")));
	EXPECT_TRUE(exists(fx_path(&fx, "root/applied/opq/fresh")));
	EXPECT_TRUE(exists(fx_path(&fx, "root/applied/keep/k")));
	EXPECT_TRUE(exists(fx_path(&fx, "root/applied/keep/new")));
	EXPECT_FALSE(exists(fx_path(&fx, "root/applied/.wh.gone")));

	/* In overlay form: back to devices and the xattr. */
	ASSERT_EQ(mkdir(fx_path(&fx, "root/upper2"), 0755), 0);
	r = extract(fx.root, "/upper2", "{\"WhiteoutFormat\":1}", tar, len);
	EXPECT_STREQ(r.err, "");
	result_free(&r);
	struct stat st;
	ASSERT_EQ(lstat(fx_path(&fx, "root/upper2/gone"), &st), 0);
	EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == 0);
	char v[4] = { 0 };
	EXPECT_EQ(getxattr(fx_path(&fx, "root/upper2/opq"), "trusted.overlay.opaque", v, sizeof(v)), 1);
	EXPECT_EQ(v[0], 'y');
	EXPECT_TRUE(exists(fx_path(&fx, "root/upper2/opq/fresh")));
	free(tar);
	free(err);

	/* Without WhiteoutFormat 1 the device is archived as a device. */
	ASSERT_EQ(archive(fx.root, "/upper", "{}", &tar, &len, &err), 0);
	names = names_of(tar, len);
	EXPECT_TRUE(has_line(names, "gone"));
	EXPECT_FALSE(has_line(names, ".wh.gone"));
	free(names);
	free(tar);
	free(err);
}

TEST(whiteouts_cannot_delete_outside)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "outside/keep"), "keep", 0644), 0);
	ASSERT_EQ(sh("mkdir -p %s/dst/d", fx.root), 0);
	ASSERT_EQ(symlink(fx.outside, fx_path(&fx, "root/dst/host")), 0);
	struct tar_entry es[] = {
		{ .name = "host/.wh.keep", .type = TAR_REG },
		{ .name = "host/.wh..wh..opq", .type = TAR_REG },
		{ .name = "d/.wh...", .type = TAR_REG },
		{ .name = "../.wh.outside", .type = TAR_REG },
	};
	for (size_t i = 0; i < ARRAY_SIZE(es); i++) {
		size_t len;
		char *tar = build_tar(&es[i], 1, &len);
		struct result r = extract(fx.root, "/dst", "{}", tar, len);
		result_free(&r);
		free(tar);
		EXPECT_TRUE(exists(fx_path(&fx, "outside/keep")));
		EXPECT_TRUE(exists(fx_path(&fx, "root/dst/d")));
	}
	EXPECT_TRUE(exists(fx.outside));
}

TAP_MAIN()
