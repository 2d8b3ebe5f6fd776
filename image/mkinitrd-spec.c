/* SPDX-License-Identifier: MIT */
/*
 * The list parser of mkinitrd: gen_init_cpio's format in, a sorted, checked
 * table of entries out (see mkinitrd.h).
 */
#include "mkinitrd.h"

#include "lcow/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Separators between fields; '\r' too, so a list saved with CRLF endings
 * parses instead of producing names ending in "\r". */
#define SPEC_BLANKS " \t\r\v\f"

void spec_init(struct spec *s)
{
	memset(s, 0, sizeof(*s));
}

static void spec_entry_clear(struct spec_entry *e)
{
	free(e->name);
	free(e->location);
	free(e->target);
	e->name = e->location = e->target = NULL;
}

void spec_free(struct spec *s)
{
	for (size_t i = 0; i < s->n; i++)
		spec_entry_clear(&s->v[i]);
	free(s->v);
	for (size_t i = 0; i < s->n_files; i++)
		free(s->files[i]);
	free(s->files);
	spec_init(s);
}

/* Takes ownership of e's strings, also on failure. */
static int spec_push(struct spec *s, struct spec_entry *e, struct error *err)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct spec_entry *v = reallocarray(s->v, cap, sizeof(*v));
		if (!v) {
			spec_entry_clear(e);
			return error_set(err, ENOMEM, "grow entry table");
		}
		s->v = v;
		s->cap = cap;
	}
	e->seq = s->n_seq++;
	s->v[s->n++] = *e;
	return 0;
}

int spec_normalise_name(const char *in, char **out, struct error *err)
{
	size_t len = strlen(in);
	_cleanup_free_ char *buf = malloc(len + 1);
	if (!buf)
		return error_set(err, ENOMEM, "copy name");

	size_t n = 0;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		const char *c = p;
		while (*p && *p != '/')
			p++;
		size_t clen = (size_t)(p - c);
		if (clen == 0 || (clen == 1 && c[0] == '.'))
			continue;
		if (clen == 2 && c[0] == '.' && c[1] == '.')
			return error_setx(err, EINVAL, "name `%s`: `..` components are not allowed",
					  in);
		for (size_t i = 0; i < clen; i++)
			if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
				return error_setx(err, EINVAL, "name `%s`: control character", in);
		if (n)
			buf[n++] = '/';
		memcpy(buf + n, c, clen);
		n += clen;
	}
	buf[n] = '\0';
	if (n == 0)
		return error_setx(err, EINVAL, "empty name `%s`", in);
	if (n > SPEC_NAME_MAX)
		return error_setx(err, ENAMETOOLONG, "name longer than %d bytes", SPEC_NAME_MAX);
	*out = TAKE_PTR(buf);
	return 0;
}

static int parse_perm(const char *s, mode_t *out, struct error *err)
{
	unsigned long v = 0;
	if (!*s || strlen(s) > 6)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			goto bad;
		v = v * 8 + (unsigned long)(*p - '0');
	}
	if (v > SPEC_PERM_MAX)
		goto bad;
	*out = (mode_t)v;
	return 0;
bad:
	return error_setx(err, EINVAL, "bad mode `%s`: expected octal permission bits 0-7777", s);
}

static int parse_u32(const char *s, const char *what, uint32_t max, uint32_t *out,
		     struct error *err)
{
	unsigned long long v = 0;
	if (!*s || strlen(s) > 10)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (v > max)
		return error_setx(err, ERANGE, "%s %s out of range (max %u)", what, s, max);
	*out = (uint32_t)v;
	return 0;
bad:
	return error_setx(err, EINVAL, "bad %s `%s`: expected a decimal number", what, s);
}

struct spec_kind {
	const char *keyword;
	enum spec_type type;
	size_t fields;		/* including the keyword; `file` takes more (links) */
	const char *usage;
};

static const struct spec_kind spec_kinds[] = {
	{ "file", SPEC_FILE, 6, "file <name> <location> <mode> <uid> <gid> [<hard links>...]" },
	{ "dir", SPEC_DIR, 5, "dir <name> <mode> <uid> <gid>" },
	{ "nod", SPEC_NOD, 8, "nod <name> <mode> <uid> <gid> <b|c> <major> <minor>" },
	{ "slink", SPEC_SLINK, 6, "slink <name> <target> <mode> <uid> <gid>" },
	{ "pipe", SPEC_PIPE, 5, "pipe <name> <mode> <uid> <gid>" },
	{ "sock", SPEC_SOCK, 5, "sock <name> <mode> <uid> <gid>" },
};

/* Parse "<mode> <uid> <gid>" starting at f[0]. */
static int parse_owner_mode(char **f, struct spec_entry *e, struct error *err)
{
	int r = parse_perm(f[0], &e->perm, err);
	if (r < 0)
		return r;
	r = parse_u32(f[1], "uid", SPEC_ID_MAX, &e->uid, err);
	if (r < 0)
		return r;
	return parse_u32(f[2], "gid", SPEC_ID_MAX, &e->gid, err);
}

static int parse_fields(struct spec *s, const char *file, unsigned line, char **f, size_t nf,
			struct error *err)
{
	const struct spec_kind *k = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(spec_kinds); i++)
		if (strcmp(f[0], spec_kinds[i].keyword) == 0)
			k = &spec_kinds[i];
	if (!k)
		return error_setx(err, EINVAL,
				  "unknown entry type `%s` "
				  "(expected file, dir, nod, slink, pipe or sock)",
				  f[0]);
	if (nf < k->fields || (nf > k->fields && k->type != SPEC_FILE))
		return error_setx(err, EINVAL, "`%s` takes %zu fields, got %zu (usage: %s)",
				  k->keyword, k->fields - 1, nf - 1, k->usage);

	struct spec_entry e = { .type = k->type, .file = file, .line = line };
	int r;
	switch (k->type) {
	case SPEC_FILE:
	case SPEC_SLINK:
		r = parse_owner_mode(f + 3, &e, err);
		break;
	case SPEC_NOD:
		r = parse_owner_mode(f + 2, &e, err);
		if (r < 0)
			break;
		if (strcmp(f[5], "b") == 0) {
			e.block = true;
		} else if (strcmp(f[5], "c") != 0) {
			r = error_setx(err, EINVAL, "bad device type `%s`: expected b or c", f[5]);
			break;
		}
		r = parse_u32(f[6], "major", SPEC_MAJOR_MAX, &e.rmajor, err);
		if (r < 0)
			break;
		r = parse_u32(f[7], "minor", SPEC_MINOR_MAX, &e.rminor, err);
		break;
	default:
		r = parse_owner_mode(f + 2, &e, err);
		break;
	}
	if (r < 0)
		return r;

	if (k->type == SPEC_SLINK) {
		e.target = strdup(f[2]);
		if (!e.target)
			return error_set(err, ENOMEM, "copy symlink target");
	}

	if (k->type != SPEC_FILE) {
		r = spec_normalise_name(f[1], &e.name, err);
		if (r < 0) {
			spec_entry_clear(&e);
			return r;
		}
		return spec_push(s, &e, err);
	}

	/* A file and its hard links: one entry per name (f[1], then f[6]...),
	 * one group. */
	e.group = ++s->n_groups;
	for (size_t i = 1; i < nf; i = i == 1 ? 6 : i + 1) {
		struct spec_entry l = e;
		r = spec_normalise_name(f[i], &l.name, err);
		if (r < 0)
			return r;
		l.location = strdup(f[2]);
		if (!l.location) {
			spec_entry_clear(&l);
			return error_set(err, ENOMEM, "copy location");
		}
		r = spec_push(s, &l, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int spec_parse_line(struct spec *s, const char *file, unsigned line, const char *text,
		    struct error *err)
{
	if (s->finalised)
		return error_setx(err, EINVAL, "list already finalised");

	size_t len = strlen(text);
	_cleanup_free_ char *copy = strdup(text);
	/* A field per two characters at most, plus the terminator. */
	_cleanup_free_ char **f = calloc(len / 2 + 2, sizeof(*f));
	if (!copy || !f)
		return error_set(err, ENOMEM, "copy line");

	size_t nf = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, SPEC_BLANKS, &save); t;
	     t = strtok_r(NULL, SPEC_BLANKS, &save))
		f[nf++] = t;
	if (nf == 0 || f[0][0] == '#')
		return 0;

	int r = parse_fields(s, file, line, f, nf, err);
	if (r < 0)
		return error_prefix(err, r, "%s:%u", file, line);
	return 0;
}

int spec_parse_stream(struct spec *s, FILE *f, const char *name, struct error *err)
{
	char **files = reallocarray(s->files, s->n_files + 1, sizeof(*files));
	if (!files)
		return error_set(err, ENOMEM, "grow file table");
	s->files = files;
	char *copy = strdup(name);
	if (!copy)
		return error_set(err, ENOMEM, "copy file name");
	s->files[s->n_files++] = copy;

	_cleanup_free_ char *buf = NULL;
	size_t cap = 0;
	unsigned line = 0;
	for (;;) {
		errno = 0;
		ssize_t n = getline(&buf, &cap, f);
		if (n < 0) {
			if (ferror(f))
				return error_set(err, errno ? errno : EIO, "read %s", copy);
			break;
		}
		line++;
		if (strlen(buf) != (size_t)n)
			return error_setx(err, EINVAL, "%s:%u: NUL byte in line", copy, line);
		if (n > 0 && buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		int r = spec_parse_line(s, copy, line, buf, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct spec_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct spec_entry *)elem)->name);
}

static const char *type_name(enum spec_type t)
{
	switch (t) {
	case SPEC_FILE:
		return "file";
	case SPEC_DIR:
		return "directory";
	case SPEC_NOD:
		return "device node";
	case SPEC_SLINK:
		return "symlink";
	case SPEC_PIPE:
		return "pipe";
	case SPEC_SOCK:
		return "socket";
	}
	return "entry";
}

struct missing_dir {
	char *name;
	/* Origin of the entry that needs it; not a pointer into s->v, which
	 * moves as entries are added. */
	const char *file;
	unsigned line;
};

static int cmp_missing(const void *a, const void *b)
{
	return strcmp(((const struct missing_dir *)a)->name, ((const struct missing_dir *)b)->name);
}

/* Add the parents the list does not name; reject parents that are not dirs.
 * s->v must be sorted and free of duplicates (bsearch). */
static int add_implicit_parents(struct spec *s, struct error *err)
{
	struct missing_dir *m = NULL;
	size_t nm = 0, cap = 0;
	size_t n_explicit = s->n;
	int r = 0;

	for (size_t i = 0; i < n_explicit; i++) {
		const struct spec_entry *e = &s->v[i];
		for (const char *p = strchr(e->name, '/'); p; p = strchr(p + 1, '/')) {
			_cleanup_free_ char *parent = strndup(e->name, (size_t)(p - e->name));
			if (!parent) {
				r = error_set(err, ENOMEM, "copy name");
				goto out;
			}
			const struct spec_entry *pe =
				bsearch(parent, s->v, n_explicit, sizeof(*s->v), cmp_name);
			if (pe && pe->type != SPEC_DIR) {
				r = error_setx(err, ENOTDIR,
					       "%s:%u: `%s` is below `%s`, which %s:%u makes a %s",
					       e->file, e->line, e->name, parent, pe->file,
					       pe->line, type_name(pe->type));
				goto out;
			}
			if (pe)
				continue;
			if (nm == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct missing_dir *nmv = reallocarray(m, ncap, sizeof(*m));
				if (!nmv) {
					r = error_set(err, ENOMEM, "grow parent table");
					goto out;
				}
				m = nmv;
				cap = ncap;
			}
			m[nm++] = (struct missing_dir){ TAKE_PTR(parent), e->file, e->line };
		}
	}

	/* qsort is not stable, but equal names only differ in the origin used
	 * for messages; entries and output bytes do not depend on it. */
	if (nm)
		qsort(m, nm, sizeof(*m), cmp_missing);
	const char *prev = NULL;
	for (size_t i = 0; i < nm; i++) {
		if (prev && strcmp(m[i].name, prev) == 0)
			continue;
		struct spec_entry d = {
			.name = TAKE_PTR(m[i].name),
			.type = SPEC_DIR,
			.perm = 0755,
			.file = m[i].file,
			.line = m[i].line,
			.implicit = true,
		};
		/* The string stays put when s->v is reallocated. */
		prev = d.name;
		r = spec_push(s, &d, err);
		if (r < 0)
			goto out;
	}
out:
	for (size_t i = 0; i < nm; i++)
		free(m[i].name);
	free(m);
	return r;
}

int spec_finalise(struct spec *s, struct error *err)
{
	if (s->finalised)
		return error_setx(err, EINVAL, "list already finalised");
	if (s->n >= UINT32_MAX / 2)
		return error_setx(err, E2BIG, "too many entries (%zu)", s->n);

	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_entry);
	for (size_t i = 1; i < s->n; i++) {
		const struct spec_entry *a = &s->v[i - 1], *b = &s->v[i];
		if (strcmp(a->name, b->name) == 0)
			return error_setx(err, EEXIST,
					  "%s:%u: duplicate entry `%s` (first at %s:%u)", b->file,
					  b->line, b->name, a->file, a->line);
	}

	int r = add_implicit_parents(s, err);
	if (r < 0)
		return r;
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_entry);

	_cleanup_free_ size_t *first = malloc((s->n_groups + 1) * sizeof(*first));
	_cleanup_free_ size_t *last = malloc((s->n_groups + 1) * sizeof(*last));
	_cleanup_free_ uint32_t *count = calloc(s->n_groups + 1, sizeof(*count));
	if (!first || !last || !count)
		return error_set(err, ENOMEM, "allocate link table");
	for (size_t g = 0; g <= s->n_groups; g++)
		first[g] = last[g] = SIZE_MAX;

	uint32_t ino = 1;
	for (size_t i = 0; i < s->n; i++) {
		struct spec_entry *e = &s->v[i];
		e->first = i;
		e->last = true;
		e->nlink = e->type == SPEC_DIR ? 2 : 1;
		if (e->type != SPEC_FILE) {
			e->ino = ino++;
			continue;
		}
		if (first[e->group] == SIZE_MAX) {
			first[e->group] = i;
			e->ino = ino++;
		}
		e->first = first[e->group];
		e->ino = s->v[e->first].ino;
		last[e->group] = i;
		count[e->group]++;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct spec_entry *e = &s->v[i];
		if (e->type == SPEC_FILE) {
			e->nlink = count[e->group];
			e->last = last[e->group] == i;
		}
		/* A subdirectory's ".." links its parent. */
		const char *slash = strrchr(e->name, '/');
		if (e->type != SPEC_DIR || !slash)
			continue;
		_cleanup_free_ char *parent = strndup(e->name, (size_t)(slash - e->name));
		if (!parent)
			return error_set(err, ENOMEM, "copy name");
		struct spec_entry *pe = bsearch(parent, s->v, s->n, sizeof(*s->v), cmp_name);
		if (pe)
			pe->nlink++;
	}
	s->finalised = true;
	return 0;
}
