/* SPDX-License-Identifier: MIT */
/*
 * The archive half of mkinitrd: a finalised list in, newc cpio or pax tar out,
 * through libarchive.  Every header field comes from the list, never from the
 * build host, so equal inputs give equal bytes.
 */
#include "mkinitrd.h"

#include "lcow/cleanup.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read size for copying file contents: big enough to be cheap, small enough
 * that a 100 MB file never sits in memory. */
#define COPY_CHUNK (128 * 1024)

/* newc stores the file size in 8 hex digits; libarchive would silently
 * clamp a larger one. */
#define NEWC_SIZE_MAX 0xffffffffull

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static void archive_entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}

/* libarchive reports errno or -1 (ARCHIVE_ERRNO_MISC) plus a string. */
static int la_error(struct archive *a, struct error *err, const char *what)
{
	int errnum = archive_errno(a);
	const char *msg = archive_error_string(a);
	return error_setx(err, errnum > 0 ? errnum : EIO, "%s: %s", what,
			  msg ? msg : "libarchive error");
}

/* The source path as the user should look for it. */
static const char *source_path(char *buf, size_t size, const struct spec_entry *e,
			       const struct mkinitrd_options *o)
{
	if (!o->src_dir || e->location[0] == '/')
		return e->location;
	snprintf(buf, size, "%s/%s", o->src_dir, e->location);
	return buf;
}

static const char *st_type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	case S_IFLNK:
		return "a symlink";
	}
	return "of unknown type";
}

/* Open a source and check it is a readable regular file.  O_NONBLOCK so a
 * fifo named by mistake is reported instead of hanging the build. */
static int source_open(const struct spec_entry *e, const struct mkinitrd_options *o,
		       struct stat *st, struct error *err)
{
	char buf[PATH_MAX * 2];
	const char *path = source_path(buf, sizeof(buf), e, o);

	_cleanup_close_ int fd =
		openat(o->src_dirfd, e->location, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return error_set(err, errno, "%s:%u: source `%s`", e->file, e->line, path);
	if (fstat(fd, st) < 0)
		return error_set(err, errno, "%s:%u: stat source `%s`", e->file, e->line, path);
	if (!S_ISREG(st->st_mode))
		return error_setx(err, EINVAL,
				  "%s:%u: source `%s` is not a regular file (it is %s)", e->file,
				  e->line, path, st_type_name(st->st_mode));
	return TAKE_FD(fd);
}

int spec_check_sources(struct spec *s, const struct mkinitrd_options *o, struct error *err)
{
	if (!s->finalised)
		return error_setx(err, EINVAL, "list not finalised");
	for (size_t i = 0; i < s->n; i++) {
		struct spec_entry *e = &s->v[i];
		if (e->type != SPEC_FILE)
			continue;
		/* Hard links share the first name's source. */
		if (e->first != i) {
			e->size = s->v[e->first].size;
			continue;
		}
		struct stat st;
		int fd = source_open(e, o, &st, err);
		if (fd < 0)
			return fd;
		close(fd);
		e->size = (uint64_t)st.st_size;
		if (o->format == MKINITRD_CPIO && e->size > NEWC_SIZE_MAX) {
			char buf[PATH_MAX * 2];
			return error_setx(err, EFBIG,
					  "%s:%u: source `%s` is %llu bytes; "
					  "newc cpio holds at most %llu",
					  e->file, e->line, source_path(buf, sizeof(buf), e, o),
					  (unsigned long long)e->size, NEWC_SIZE_MAX);
		}
	}
	return 0;
}

static int copy_source(struct archive *a, const struct spec_entry *e,
		       const struct mkinitrd_options *o, char *buf, struct error *err)
{
	char pbuf[PATH_MAX * 2];
	const char *path = source_path(pbuf, sizeof(pbuf), e, o);
	struct stat st;

	_cleanup_close_ int fd = source_open(e, o, &st, err);
	if (fd < 0)
		return fd;
	/* The header already promised e->size bytes. */
	if ((uint64_t)st.st_size != e->size)
		return error_setx(err, EAGAIN, "%s:%u: source `%s` changed size during the build",
				  e->file, e->line, path);

	uint64_t left = e->size;
	while (left > 0) {
		size_t want = left < COPY_CHUNK ? (size_t)left : COPY_CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set(err, errno, "%s:%u: read `%s`", e->file, e->line, path);
		if (n == 0)
			return error_setx(err, EAGAIN, "%s:%u: source `%s` shrank during the build",
					  e->file, e->line, path);
		for (ssize_t off = 0; off < n;) {
			la_ssize_t w = archive_write_data(a, buf + off, (size_t)(n - off));
			if (w <= 0)
				return la_error(a, err, "write data");
			off += w;
		}
		left -= (uint64_t)n;
	}
	return 0;
}

static int set_format(struct archive *a, const struct mkinitrd_options *o, struct error *err)
{
	int r;

	switch (o->format) {
	case MKINITRD_CPIO:
		r = archive_write_set_format_cpio_newc(a);
		break;
	case MKINITRD_TAR:
		/* ustar headers, pax extensions only where ustar cannot say it
		 * (long names): what tar2ext4 and every tar read. */
		r = archive_write_set_format_pax_restricted(a);
		break;
	default:
		return error_setx(err, EINVAL, "unknown format %d", o->format);
	}
	if (r != ARCHIVE_OK)
		return la_error(a, err, "set format");

	switch (o->compress) {
	case MKINITRD_COMPRESS_NONE:
		r = archive_write_add_filter_none(a);
		break;
	case MKINITRD_COMPRESS_GZIP:
		r = archive_write_add_filter_gzip(a);
		if (r != ARCHIVE_OK)
			break;
		/* The gzip header would otherwise carry the build time. */
		r = archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
		if (r != ARCHIVE_OK)
			break;
		r = archive_write_set_filter_option(a, "gzip", "compression-level", "9");
		break;
	default:
		return error_setx(err, EINVAL, "unknown compression %d", o->compress);
	}
	if (r != ARCHIVE_OK)
		return la_error(a, err, "set compression");

	/* No padding after the last byte: the file is exactly the archive. */
	if (archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
		return la_error(a, err, "set block size");
	return 0;
}

static int fill_entry(struct archive_entry *ae, const struct spec *s, const struct spec_entry *e,
		      size_t i, const struct mkinitrd_options *o, struct error *err)
{
	mode_t type = 0;

	archive_entry_clear(ae);
	archive_entry_copy_pathname(ae, e->name);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, (time_t)o->mtime, 0);
	archive_entry_set_ino64(ae, e->ino);
	archive_entry_set_nlink(ae, e->nlink);
	archive_entry_set_size(ae, 0);

	switch (e->type) {
	case SPEC_FILE:
		type = S_IFREG;
		if (o->format == MKINITRD_CPIO) {
			/* newc: every name is a full entry sharing the inode;
			 * the data goes with the last one (as gen_init_cpio). */
			if (e->last)
				archive_entry_set_size(ae, (la_int64_t)e->size);
		} else if (e->first != i) {
			/* tar: later names are links to the first. */
			archive_entry_copy_hardlink(ae, s->v[e->first].name);
		} else {
			archive_entry_set_size(ae, (la_int64_t)e->size);
		}
		break;
	case SPEC_DIR:
		type = S_IFDIR;
		break;
	case SPEC_NOD:
		type = e->block ? S_IFBLK : S_IFCHR;
		archive_entry_set_rdevmajor(ae, e->rmajor);
		archive_entry_set_rdevminor(ae, e->rminor);
		break;
	case SPEC_SLINK:
		type = S_IFLNK;
		archive_entry_copy_symlink(ae, e->target);
		break;
	case SPEC_PIPE:
		type = S_IFIFO;
		break;
	case SPEC_SOCK:
		if (o->format == MKINITRD_TAR)
			return error_setx(err, EINVAL, "%s:%u: `%s`: tar cannot store sockets",
					  e->file, e->line, e->name);
		type = S_IFSOCK;
		break;
	}
	archive_entry_set_mode(ae, type | e->perm);
	return 0;
}

/* newc ends at an entry named TRAILER!!!: the kernel's unpacker (and cpio)
 * would stop there and silently drop every entry after it. */
#define NEWC_TRAILER "TRAILER!!!"

/* The checks made before any byte is written. */
static int check_writable(const struct spec *s, const struct mkinitrd_options *o,
			  struct error *err)
{
	if (!s->finalised)
		return error_setx(err, EINVAL, "list not finalised");
	for (size_t i = 0; o->format == MKINITRD_CPIO && i < s->n; i++)
		if (strcmp(s->v[i].name, NEWC_TRAILER) == 0)
			return error_setx(err, EINVAL,
					  "%s:%u: `%s` is the end-of-archive marker of newc cpio: "
					  "the entries after it would be lost",
					  s->v[i].file, s->v[i].line, s->v[i].name);
	return 0;
}

static int write_entries(struct archive *a, const struct spec *s,
			 const struct mkinitrd_options *o, struct error *err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *ae = archive_entry_new();
	_cleanup_free_ char *buf = malloc(COPY_CHUNK);
	if (!ae || !buf)
		return error_set(err, ENOMEM, "allocate archive");

	for (size_t i = 0; i < s->n; i++) {
		const struct spec_entry *e = &s->v[i];
		int r = fill_entry(ae, s, e, i, o, err);
		if (r < 0)
			return r;
		/* Read before writing the header, which may reset it. */
		la_int64_t size = archive_entry_size(ae);
		/* Anything short of OK (a warning means a field was
		 * truncated) makes the archive wrong. */
		if (archive_write_header(a, ae) != ARCHIVE_OK) {
			r = la_error(a, err, "write header");
			return error_prefix(err, r, "%s:%u: `%s`", e->file, e->line, e->name);
		}
		if (size > 0) {
			r = copy_source(a, e, o, buf, err);
			if (r < 0)
				return r;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		return la_error(a, err, "finish archive");
	return 0;
}

int spec_write_archive(const struct spec *s, const struct mkinitrd_options *o, int out_fd,
		       struct error *err)
{
	int r = check_writable(s, o, err);
	if (r < 0)
		return r;
	if (o->compress == MKINITRD_COMPRESS_LZ4)
		return error_setx(err, EINVAL, "LZ4 output goes through spec_write_archive_lz4()");

	_cleanup_(archive_write_freep) struct archive *a = archive_write_new();
	if (!a)
		return error_set(err, ENOMEM, "allocate archive");
	r = set_format(a, o, err);
	if (r < 0)
		return r;
	if (archive_write_open_fd(a, out_fd) != ARCHIVE_OK)
		return la_error(a, err, "open output");
	return write_entries(a, s, o, err);
}

/* libarchive's write callback in front of an archive_sink.  The sink's
 * error is kept apart: libarchive would only pass on "write failed". */
struct sink_ctx {
	const struct archive_sink *sink;
	int r;
	struct error err;
};

static la_ssize_t sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct sink_ctx *c = data;
	c->r = c->sink->write(c->sink->ctx, buf, len, &c->err);
	if (c->r < 0) {
		archive_set_error(a, -c->r, "%s", error_text(&c->err));
		return -1;
	}
	return (la_ssize_t)len;
}

int spec_write_archive_sink(const struct spec *s, const struct mkinitrd_options *o,
			    const struct archive_sink *sink, struct error *err)
{
	int r = check_writable(s, o, err);
	if (r < 0)
		return r;

	struct mkinitrd_options plain = *o;
	plain.compress = MKINITRD_COMPRESS_NONE;
	/* Declared before the archive: freeing it may still call back. */
	struct sink_ctx ctx = { .sink = sink }, *c = &ctx;
	_cleanup_(archive_write_freep) struct archive *a = archive_write_new();
	if (!a)
		return error_set(err, ENOMEM, "allocate archive");
	r = set_format(a, &plain, err);
	if (r < 0)
		return r;
	if (archive_write_open(a, c, NULL, sink_write, NULL) != ARCHIVE_OK)
		return la_error(a, err, "open output");
	r = write_entries(a, s, &plain, err);
	if (r < 0 && c->r < 0) {
		/* The sink failed: its message, not libarchive's echo of it. */
		if (err)
			*err = c->err;
		return error_prefix(err, c->r, "write output");
	}
	return r;
}
