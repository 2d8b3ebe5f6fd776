/* SPDX-License-Identifier: MIT */
/*
 * LZ4 legacy framing for the initrd.  The kernel unpacks an LZ4 initramfs
 * several times faster than a gzip one, but reads only the legacy frame of
 * `lz4 -l`, which libarchive cannot write: libarchive writes the cpio
 * uncompressed into a sink, and this file cuts it into 8 MiB blocks, each
 * compressed on its own with liblz4's HC compressor.  The output depends
 * only on the input bytes and the level (no header field carries sizes,
 * times or names), so it is as reproducible as the cpio.
 */
#include "mkinitrd.h"

#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(LZ4_LEGACY_BLOCK_MAX <= LZ4_MAX_INPUT_SIZE, "block within liblz4's input limit");

static void put_le32(char *p, uint32_t v)
{
	p[0] = (char)(v & 0xff);
	p[1] = (char)((v >> 8) & 0xff);
	p[2] = (char)((v >> 16) & 0xff);
	p[3] = (char)((v >> 24) & 0xff);
}

static int write_full(int fd, const char *buf, size_t len, struct error *err)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set(err, errno, "write");
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

void lz4_legacy_free(struct lz4_legacy *z)
{
	free(z->in);
	free(z->out);
	z->in = z->out = NULL;
	z->in_len = z->out_cap = 0;
}

int lz4_legacy_open(struct lz4_legacy *z, int fd, int level, struct error *err)
{
	*z = (struct lz4_legacy){ .fd = fd, .level = level };
	z->out_cap = 4 + (size_t)LZ4_compressBound((int)LZ4_LEGACY_BLOCK_MAX);
	z->in = malloc(LZ4_LEGACY_BLOCK_MAX);
	z->out = malloc(z->out_cap);
	if (!z->in || !z->out) {
		lz4_legacy_free(z);
		return error_set(err, ENOMEM, "lz4: allocate %u-byte blocks", LZ4_LEGACY_BLOCK_MAX);
	}
	char magic[4];
	put_le32(magic, LZ4_LEGACY_MAGIC);
	int r = write_full(fd, magic, sizeof(magic), err);
	if (r < 0)
		lz4_legacy_free(z);
	return r;
}

/* Compress the gathered input into one block.  An empty block is never
 * written: the kernel would read its size 0 as the end of the data. */
static int flush_block(struct lz4_legacy *z, struct error *err)
{
	if (z->in_len == 0)
		return 0;
	int n = LZ4_compress_HC(z->in, z->out + 4, (int)z->in_len, (int)(z->out_cap - 4),
				z->level);
	/* With a compressBound-sized output the compressor cannot run out
	 * of room; 0 would mean it did anyway. */
	if (n <= 0)
		return error_setx(err, EIO, "lz4: compressing a %zu-byte block failed", z->in_len);
	put_le32(z->out, (uint32_t)n);
	z->in_len = 0;
	return write_full(z->fd, z->out, 4 + (size_t)n, err);
}

int lz4_legacy_write(struct lz4_legacy *z, const void *buf, size_t len, struct error *err)
{
	const char *p = buf;
	while (len > 0) {
		size_t room = LZ4_LEGACY_BLOCK_MAX - z->in_len;
		size_t take = len < room ? len : room;
		memcpy(z->in + z->in_len, p, take);
		z->in_len += take;
		p += take;
		len -= take;
		/* A full block goes out at once: memory stays at one block. */
		if (z->in_len == LZ4_LEGACY_BLOCK_MAX) {
			int r = flush_block(z, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int lz4_legacy_finish(struct lz4_legacy *z, struct error *err)
{
	return flush_block(z, err);
}

static int sink_lz4(void *ctx, const void *buf, size_t len, struct error *err)
{
	return lz4_legacy_write(ctx, buf, len, err);
}

int spec_write_archive_lz4(const struct spec *s, const struct mkinitrd_options *o, int out_fd,
			   struct error *err)
{
	struct lz4_legacy z;
	int r = lz4_legacy_open(&z, out_fd, LZ4HC_CLEVEL_MAX, err);
	if (r < 0)
		return error_prefix(err, r, "lz4 output");
	const struct archive_sink sink = { .write = sink_lz4, .ctx = &z };
	r = spec_write_archive_sink(s, o, &sink, err);
	if (r >= 0) {
		r = lz4_legacy_finish(&z, err);
		if (r < 0)
			r = error_prefix(err, r, "lz4 output");
	}
	lz4_legacy_free(&z);
	return r;
}
