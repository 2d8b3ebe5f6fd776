/* SPDX-License-Identifier: MIT */
#include "tar.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "rfs.h"

void tar_entry_free(struct tar_entry *e)
{
	free(e->name);
	free(e->linkname);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	memset(e, 0, sizeof(*e));
}

int tar_entry_add_xattr(struct tar_entry *e, const char *name, const void *value, size_t len)
{
	if (e->n_xattrs >= TAR_XATTRS_MAX)
		return -E2BIG;
	struct tar_xattr *v = realloc(e->xattrs, (e->n_xattrs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	e->xattrs = v;
	char *n = strdup(name);
	char *val = malloc(len + 1);
	if (!n || !val) {
		free(n);
		free(val);
		return -ENOMEM;
	}
	memcpy(val, value, len);
	val[len] = '\0';
	v[e->n_xattrs++] = (struct tar_xattr){ n, val, len };
	return 0;
}

/* --- writing ------------------------------------------------------------- */

void tar_writer_init(struct tar_writer *w, int fd)
{
	w->fd = fd;
	w->len = 0;
}

int tar_flush(struct tar_writer *w, struct error *err)
{
	int r = rfs_write_all(w->fd, w->buf, w->len);
	w->len = 0;
	return r < 0 ? error_set(err, -r, "write archive") : 0;
}

int tar_write_data(struct tar_writer *w, const void *data, size_t len, struct error *err)
{
	const unsigned char *p = data;
	while (len > 0) {
		size_t n = sizeof(w->buf) - w->len;
		if (n > len)
			n = len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
		if (w->len == sizeof(w->buf)) {
			int r = tar_flush(w, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int tar_write_pad(struct tar_writer *w, uint64_t size, struct error *err)
{
	static const unsigned char zero[TAR_BLOCK];
	size_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
	return tar_write_data(w, zero, pad, err);
}

int tar_write_end(struct tar_writer *w, struct error *err)
{
	static const unsigned char zero[2 * TAR_BLOCK];
	int r = tar_write_data(w, zero, sizeof(zero), err);
	return r < 0 ? r : tar_flush(w, err);
}

/* Octal, zero-padded, NUL-terminated in `width` bytes; false if it does
 * not fit in width - 1 digits. */
static bool put_octal(char *field, size_t width, uint64_t v)
{
	if (width - 1 < 22 && v >> (3 * (width - 1)))
		return false;
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%0*" PRIo64, (int)(width - 1), v);
	memcpy(field, tmp, width);
	return true;
}

struct pax {
	char *p;
	size_t len, cap;
	bool failed;
};

/* One "LEN key=value\n" record; LEN counts the whole record, itself too. */
static void pax_add(struct pax *x, const char *key, const char *value, size_t vlen)
{
	size_t base = strlen(key) + vlen + 3, len = base + 1;
	for (;;) {
		char d[24];
		size_t digits = (size_t)snprintf(d, sizeof(d), "%zu", len);
		if (base + digits == len)
			break;
		len = base + digits;
	}
	if (x->failed)
		return;
	if (x->len + len > x->cap) {
		size_t cap = (x->len + len) * 2;
		char *np = realloc(x->p, cap);
		if (!np) {
			x->failed = true;
			return;
		}
		x->p = np;
		x->cap = cap;
	}
	int n = snprintf(x->p + x->len, x->cap - x->len, "%zu %s=", len, key);
	memcpy(x->p + x->len + n, value, vlen);
	x->p[x->len + len - 1] = '\n';
	x->len += len;
}

static void pax_add_u64(struct pax *x, const char *key, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRIu64, v);
	pax_add(x, key, b, (size_t)n);
}

static void header_checksum(struct tar_header *h)
{
	memset(h->chksum, ' ', sizeof(h->chksum));
	unsigned sum = 0;
	const unsigned char *b = (const unsigned char *)h;
	for (size_t i = 0; i < sizeof(*h); i++)
		sum += b[i];
	snprintf(h->chksum, sizeof(h->chksum), "%06o", sum);
	h->chksum[7] = ' ';
}

static void fill_header(struct tar_header *h, char type, const char *name, uint64_t size)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->name, name, strnlen(name, sizeof(h->name)));
	put_octal(h->mode, sizeof(h->mode), 0644);
	put_octal(h->uid, sizeof(h->uid), 0);
	put_octal(h->gid, sizeof(h->gid), 0);
	put_octal(h->size, sizeof(h->size), size);
	put_octal(h->mtime, sizeof(h->mtime), 0);
	h->typeflag = type;
	memcpy(h->magic, "ustar", 6);
	memcpy(h->version, "00", 2);
	put_octal(h->devmajor, sizeof(h->devmajor), 0);
	put_octal(h->devminor, sizeof(h->devminor), 0);
}

int tar_write_header(struct tar_writer *w, const struct tar_entry *e, struct error *err)
{
	struct tar_header h;
	struct pax x = { 0 };
	_cleanup_free_ char *pax_buf = NULL;

	fill_header(&h, e->type, "", 0);
	size_t nlen = strlen(e->name);
	if (nlen <= sizeof(h.name)) {
		memcpy(h.name, e->name, nlen);
	} else {
		/* prefix "/" name, the longest prefix that fits. */
		size_t split = 0;
		for (size_t i = nlen - 1; i > 0; i--) {
			if (e->name[i] != '/')
				continue;
			if (i <= sizeof(h.prefix) && nlen - i - 1 <= sizeof(h.name) &&
			    nlen - i - 1 > 0) {
				split = i;
				break;
			}
		}
		if (split) {
			memcpy(h.prefix, e->name, split);
			memcpy(h.name, e->name + split + 1, nlen - split - 1);
		} else {
			memcpy(h.name, e->name, sizeof(h.name));
			pax_add(&x, "path", e->name, nlen);
		}
	}
	if (e->linkname) {
		size_t llen = strlen(e->linkname);
		memcpy(h.linkname, e->linkname, llen < sizeof(h.linkname) ? llen : sizeof(h.linkname));
		if (llen > sizeof(h.linkname))
			pax_add(&x, "linkpath", e->linkname, llen);
	}
	put_octal(h.mode, sizeof(h.mode), e->mode & 07777);
	if (!put_octal(h.uid, sizeof(h.uid), e->uid)) {
		put_octal(h.uid, sizeof(h.uid), 0);
		pax_add_u64(&x, "uid", e->uid);
	}
	if (!put_octal(h.gid, sizeof(h.gid), e->gid)) {
		put_octal(h.gid, sizeof(h.gid), 0);
		pax_add_u64(&x, "gid", e->gid);
	}
	if (!put_octal(h.size, sizeof(h.size), e->size)) {
		put_octal(h.size, sizeof(h.size), 0);
		pax_add_u64(&x, "size", e->size);
	}
	if (e->mtime < 0 || !put_octal(h.mtime, sizeof(h.mtime), (uint64_t)e->mtime)) {
		char b[24];
		int n = snprintf(b, sizeof(b), "%" PRId64, e->mtime);
		put_octal(h.mtime, sizeof(h.mtime), 0);
		pax_add(&x, "mtime", b, (size_t)n);
	}
	if (!put_octal(h.devmajor, sizeof(h.devmajor), e->devmajor) ||
	    !put_octal(h.devminor, sizeof(h.devminor), e->devminor))
		return error_setx(err, EOVERFLOW, "%s: device number too big for tar", e->name);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		char key[300];
		if ((size_t)snprintf(key, sizeof(key), "SCHILY.xattr.%s", e->xattrs[i].name) >=
		    sizeof(key))
			return error_setx(err, ENAMETOOLONG, "%s: xattr name too long", e->name);
		pax_add(&x, key, e->xattrs[i].value, e->xattrs[i].len);
	}
	pax_buf = x.p;
	if (x.failed)
		return error_set(err, ENOMEM, "%s: pax header", e->name);
	header_checksum(&h);

	int r;
	if (x.len) {
		/* The pax header's own name only has to be harmless. */
		struct tar_header ph;
		const char *base = strrchr(e->name, '/');
		base = base && base[1] ? base + 1 : e->name;
		char pname[101];
		snprintf(pname, sizeof(pname), "PaxHeaders/%.89s", base);
		fill_header(&ph, TAR_PAX, pname, x.len);
		header_checksum(&ph);
		if ((r = tar_write_data(w, &ph, sizeof(ph), err)) < 0 ||
		    (r = tar_write_data(w, x.p, x.len, err)) < 0 ||
		    (r = tar_write_pad(w, x.len, err)) < 0)
			return r;
	}
	return tar_write_data(w, &h, sizeof(h), err);
}

/* --- reading ------------------------------------------------------------- */

void tar_reader_init(struct tar_reader *r, int fd)
{
	r->fd = fd;
	r->off = r->len = 0;
	r->eof = false;
	r->data_left = r->pad_left = 0;
}

ssize_t tar_peek(struct tar_reader *r, size_t n, const unsigned char **p)
{
	if (n > sizeof(r->buf))
		n = sizeof(r->buf);
	if (r->len - r->off < n && r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	while (r->len - r->off < n && !r->eof) {
		ssize_t got = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			r->eof = true;
		r->len += (size_t)got;
	}
	*p = r->buf + r->off;
	size_t avail = r->len - r->off;
	return (ssize_t)(avail < n ? avail : n);
}

/* Up to len bytes (fewer only at EOF). */
static ssize_t take(struct tar_reader *r, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		const unsigned char *p;
		size_t want = len - got;
		ssize_t n = tar_peek(r, want > sizeof(r->buf) ? sizeof(r->buf) : want, &p);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		if (buf)
			memcpy((char *)buf + got, p, (size_t)n);
		r->off += (size_t)n;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int tar_read_raw(struct tar_reader *r, void *buf, size_t len)
{
	ssize_t n = take(r, buf, len);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EPIPE;
}

static int skip(struct tar_reader *r, uint64_t n)
{
	while (n > 0) {
		size_t step = n > sizeof(r->buf) ? sizeof(r->buf) : (size_t)n;
		ssize_t got = take(r, NULL, step);
		if (got < 0)
			return (int)got;
		if ((size_t)got < step)
			return -EPIPE;
		n -= step;
	}
	return 0;
}

static int bad(struct error *err, const char *what)
{
	return error_setx(err, EINVAL, "archive/tar: %s", what);
}

/* A numeric field: octal text (spaces and NULs around it), or GNU's
 * base-256 when the top bit of the first byte is set. */
static int parse_num(const char *f, size_t width, uint64_t *v, struct error *err)
{
	const unsigned char *u = (const unsigned char *)f;
	uint64_t n = 0;
	if (u[0] & 0x80) {
		if (u[0] == 0xff)
			return bad(err, "negative number in header");
		n = u[0] & 0x7f;
		for (size_t i = 1; i < width; i++) {
			if (n >> 55)
				return bad(err, "number in header out of range");
			n = (n << 8) | u[i];
		}
		*v = n;
		return 0;
	}
	size_t i = 0;
	while (i < width && (f[i] == ' ' || f[i] == '\0'))
		i++;
	for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
		if (n >> 60)
			return bad(err, "number in header out of range");
		n = n * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < width; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return bad(err, "invalid number in header");
	*v = n;
	return 0;
}

/* A NUL-terminated copy of a fixed-width field. */
static char *field_str(const char *f, size_t width)
{
	return strndup(f, strnlen(f, width));
}

/* What pax / GNU headers said about the next entry. */
struct pending {
	char *path, *linkpath;
	bool has_size, has_uid, has_gid, has_mtime;
	uint64_t size, uid, gid;
	int64_t mtime;
	struct tar_entry xattrs; /* only its xattr list is used */
};

static void pending_free(struct pending *p)
{
	free(p->path);
	free(p->linkpath);
	tar_entry_free(&p->xattrs);
	memset(p, 0, sizeof(*p));
}

static int read_blob(struct tar_reader *r, uint64_t size, uint64_t max, char **out,
		     struct error *err)
{
	if (size > max)
		return bad(err, "extended header too long");
	char *b = malloc((size_t)size + 1);
	if (!b)
		return error_set(err, ENOMEM, "archive/tar");
	int rr = tar_read_raw(r, b, (size_t)size);
	if (rr == 0)
		rr = skip(r, (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
	if (rr < 0) {
		free(b);
		return rr == -EPIPE ? error_setx(err, RFS_E_PLAIN, "unexpected EOF")
				    : error_set(err, -rr, "read archive");
	}
	b[size] = '\0';
	*out = b;
	return 0;
}

static int parse_dec(const char *s, size_t n, bool allow_frac, int64_t *v)
{
	bool neg = false;
	size_t i = 0;
	uint64_t x = 0;
	if (i < n && s[i] == '-')
		neg = true, i++;
	if (i == n)
		return -EINVAL;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (x > (uint64_t)INT64_MAX / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (i < n && allow_frac && s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
	}
	if (i != n || x > (uint64_t)INT64_MAX)
		return -EINVAL;
	*v = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

static int set_pending_str(char **dst, const char *v, size_t n)
{
	if (memchr(v, '\0', n) || n > TAR_NAME_MAX)
		return -EINVAL;
	char *s = strndup(v, n);
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int parse_pax(char *d, size_t len, struct pending *p, struct error *err)
{
	size_t pos = 0;
	while (pos < len) {
		size_t i = pos, reclen = 0;
		while (i < len && d[i] >= '0' && d[i] <= '9') {
			reclen = reclen * 10 + (size_t)(d[i] - '0');
			if (reclen > len)
				return bad(err, "invalid pax record");
			i++;
		}
		if (i == pos || i >= len || d[i] != ' ' || reclen > len - pos ||
		    reclen < i - pos + 3 || d[pos + reclen - 1] != '\n')
			return bad(err, "invalid pax record");
		char *key = d + i + 1, *end = d + pos + reclen - 1;
		char *eq = memchr(key, '=', (size_t)(end - key));
		if (!eq || eq == key)
			return bad(err, "invalid pax record");
		*eq = '\0';
		const char *val = eq + 1;
		size_t vlen = (size_t)(end - val);
		int64_t num;
		int r = 0;
		if (strcmp(key, "path") == 0) {
			r = set_pending_str(&p->path, val, vlen);
		} else if (strcmp(key, "linkpath") == 0) {
			r = set_pending_str(&p->linkpath, val, vlen);
		} else if (strcmp(key, "size") == 0 || strcmp(key, "uid") == 0 ||
			   strcmp(key, "gid") == 0) {
			r = parse_dec(val, vlen, false, &num);
			if (r == 0 && num < 0)
				r = -EINVAL;
			if (r == 0 && key[0] == 's')
				p->size = (uint64_t)num, p->has_size = true;
			else if (r == 0 && key[0] == 'u')
				p->uid = (uint64_t)num, p->has_uid = true;
			else if (r == 0)
				p->gid = (uint64_t)num, p->has_gid = true;
		} else if (strcmp(key, "mtime") == 0) {
			r = parse_dec(val, vlen, true, &num);
			if (r == 0)
				p->mtime = num, p->has_mtime = true;
		} else if (strncmp(key, "SCHILY.xattr.", 13) == 0 && key[13]) {
			r = tar_entry_add_xattr(&p->xattrs, key + 13, val, vlen);
		} else if (strncmp(key, "GNU.sparse.", 11) == 0) {
			return error_setx(err, EOPNOTSUPP, "archive/tar: sparse files are not supported");
		}
		if (r == -ENOMEM)
			return error_set(err, ENOMEM, "archive/tar");
		if (r < 0)
			return bad(err, "invalid pax record");
		pos += reclen;
	}
	return 0;
}

static bool all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static int check_sum(const struct tar_header *h, struct error *err)
{
	uint64_t want;
	int r = parse_num(h->chksum, sizeof(h->chksum), &want, err);
	if (r < 0)
		return bad(err, "invalid header checksum");
	const unsigned char *u = (const unsigned char *)h;
	const signed char *s = (const signed char *)h;
	unsigned long usum = 0;
	long ssum = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		bool in_field = i >= offsetof(struct tar_header, chksum) &&
				i < offsetof(struct tar_header, chksum) + sizeof(h->chksum);
		usum += in_field ? ' ' : u[i];
		ssum += in_field ? ' ' : s[i];
	}
	if (want != usum && (long)want != ssum)
		return bad(err, "invalid header checksum");
	return 0;
}

int tar_next(struct tar_reader *r, struct tar_entry *e, struct error *err)
{
	struct pending p = { 0 };
	int rr = skip(r, r->data_left + r->pad_left);
	r->data_left = r->pad_left = 0;
	if (rr < 0)
		goto io_error;

	for (;;) {
		struct tar_header h;
		ssize_t n = take(r, &h, sizeof(h));
		if (n < 0) {
			rr = (int)n;
			goto io_error;
		}
		if (n == 0 || (n == TAR_BLOCK && all_zero((unsigned char *)&h, sizeof(h)))) {
			/* End of archive (the second zero block is not required). */
			pending_free(&p);
			return 0;
		}
		if (n < TAR_BLOCK) {
			rr = -EPIPE;
			goto io_error;
		}
		int r2 = check_sum(&h, err);
		uint64_t size = 0;
		if (r2 == 0)
			r2 = parse_num(h.size, sizeof(h.size), &size, err);
		if (r2 < 0) {
			pending_free(&p);
			return r2;
		}
		if (p.has_size)
			size = p.size;

		char *blob = NULL;
		switch (h.typeflag) {
		case TAR_PAX:
			r2 = read_blob(r, size, TAR_PAX_MAX, &blob, err);
			if (r2 == 0)
				r2 = parse_pax(blob, (size_t)size, &p, err);
			free(blob);
			if (r2 < 0) {
				pending_free(&p);
				return r2;
			}
			continue;
		case TAR_PAX_GLOBAL:
			r2 = read_blob(r, size, TAR_PAX_MAX, &blob, err);
			free(blob);
			if (r2 < 0) {
				pending_free(&p);
				return r2;
			}
			continue;
		case TAR_GNU_LONGNAME:
		case TAR_GNU_LONGLINK:
			r2 = read_blob(r, size, TAR_NAME_MAX, &blob, err);
			if (r2 < 0) {
				pending_free(&p);
				return r2;
			}
			if (h.typeflag == TAR_GNU_LONGNAME) {
				free(p.path);
				p.path = blob;
			} else {
				free(p.linkpath);
				p.linkpath = blob;
			}
			continue;
		case '\0':
		case TAR_CONT:
			h.typeflag = TAR_REG;
			break;
		case TAR_REG:
		case TAR_LINK:
		case TAR_SYMLINK:
		case TAR_CHR:
		case TAR_BLK:
		case TAR_DIR:
		case TAR_FIFO:
			break;
		default:
			pending_free(&p);
			return error_setx(err, EOPNOTSUPP, "archive/tar: unsupported entry type '%c'",
					  h.typeflag >= 0x20 && h.typeflag < 0x7f ? h.typeflag : '?');
		}

		memset(e, 0, sizeof(*e));
		e->type = h.typeflag;
		uint64_t mode, mtime, dmaj, dmin;
		if ((r2 = parse_num(h.mode, sizeof(h.mode), &mode, err)) < 0 ||
		    (r2 = parse_num(h.uid, sizeof(h.uid), &e->uid, err)) < 0 ||
		    (r2 = parse_num(h.gid, sizeof(h.gid), &e->gid, err)) < 0 ||
		    (r2 = parse_num(h.mtime, sizeof(h.mtime), &mtime, err)) < 0 ||
		    (r2 = parse_num(h.devmajor, sizeof(h.devmajor), &dmaj, err)) < 0 ||
		    (r2 = parse_num(h.devminor, sizeof(h.devminor), &dmin, err)) < 0) {
			pending_free(&p);
			return r2;
		}
		e->mode = (uint32_t)(mode & 07777);
		e->mtime = p.has_mtime ? p.mtime : (int64_t)mtime;
		if (p.has_uid)
			e->uid = p.uid;
		if (p.has_gid)
			e->gid = p.gid;
		e->devmajor = (uint32_t)dmaj;
		e->devminor = (uint32_t)dmin;
		e->size = size;

		if (p.path) {
			e->name = TAKE_PTR(p.path);
		} else if (memcmp(h.magic, "ustar", 6) == 0 && h.prefix[0]) {
			_cleanup_free_ char *pre = field_str(h.prefix, sizeof(h.prefix));
			_cleanup_free_ char *nm = field_str(h.name, sizeof(h.name));
			if (pre && nm && asprintf(&e->name, "%s/%s", pre, nm) < 0)
				e->name = NULL;
		} else {
			e->name = field_str(h.name, sizeof(h.name));
		}
		if (e->type == TAR_LINK || e->type == TAR_SYMLINK)
			e->linkname = p.linkpath ? TAKE_PTR(p.linkpath)
						 : field_str(h.linkname, sizeof(h.linkname));
		e->xattrs = TAKE_PTR(p.xattrs.xattrs);
		e->n_xattrs = p.xattrs.n_xattrs;
		p.xattrs.n_xattrs = 0;
		pending_free(&p);
		if (!e->name || ((e->type == TAR_LINK || e->type == TAR_SYMLINK) && !e->linkname)) {
			tar_entry_free(e);
			return error_set(err, ENOMEM, "archive/tar");
		}
		if (!e->name[0]) {
			tar_entry_free(e);
			return bad(err, "entry with an empty name");
		}
		r->data_left = size;
		r->pad_left = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
		return 1;
	}

io_error:
	pending_free(&p);
	if (rr == -EPIPE)
		return error_setx(err, RFS_E_PLAIN, "unexpected EOF");
	return error_set(err, -rr, "read archive");
}

ssize_t tar_read_data(struct tar_reader *r, void *buf, size_t len, struct error *err)
{
	if (len > r->data_left)
		len = (size_t)r->data_left;
	if (len == 0)
		return 0;
	ssize_t n = take(r, buf, len);
	if (n < 0)
		return error_set(err, (int)-n, "read archive");
	if ((size_t)n < len)
		return error_setx(err, RFS_E_PLAIN, "unexpected EOF");
	r->data_left -= (size_t)n;
	return n;
}
