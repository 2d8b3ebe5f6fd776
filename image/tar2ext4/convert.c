/* SPDX-License-Identifier: MIT */
/*
 * The conversion: pass 1 walks the headers to size the image (when the
 * input can be read twice), pass 2 applies every entry to the tree and
 * streams file data into ext4, then directories and link counts are
 * written from the tree.
 */
#include "tar2ext4.h"

#include <archive.h>
#include <archive_entry.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskutil.h"
#include "ext4w.h"
#include "lcow/cleanup.h"
#include "pathnorm.h"
#include "tree.h"

#define READ_BUF_SIZE (1u << 20)
#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"
/* mke2fs's default bytes-per-inode, for images sized without a scan. */
#define DEFAULT_INODE_RATIO 16384
/* A block can waste at most one entry's worth (8 + 255, aligned). */
#define DIRENT_MAX_WASTE 264
/* ext4 keeps 4 extents in the inode, 340 in each 4 KiB tree block. */
#define EXTENTS_IN_INODE 4
#define EXTENTS_PER_BLOCK 340
/* In-inode xattr space of a 256-byte inode: 96 bytes minus the header
 * and the end marker. */
#define XATTR_IN_INODE_SPACE 88
#define XATTR_ENTRY_HEADER 16
#define XATTR_NAME_MAX 255
#define XATTR_VALUE_MAX 65536
#define SEED_DIGEST 0x74617232657874ULL /* "tar2ext" */

static inline bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline uint64_t align4(uint64_t n)
{
	return (n + 3) & ~3ULL;
}

static inline uint64_t dirent_size(size_t namelen)
{
	return align4(8 + namelen);
}

/* --- input --------------------------------------------------------------- */

struct input {
	int fd;
	bool seekable;
	off_t start;
	uint64_t end;
	bool hashing;
	struct digest dg;
	uint8_t *buf;
};

static la_ssize_t in_read(struct archive *a, void *ud, const void **out)
{
	struct input *in = ud;
	ssize_t n;

	do
		n = read(in->fd, in->buf, READ_BUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read input: %s", strerror(errno));
		return -1;
	}
	if (in->hashing)
		digest_update(&in->dg, in->buf, (size_t)n);
	*out = in->buf;
	return n;
}

/* Skipping (pass 1 only) never goes past the end of the file, so a header
 * that claims more data than there is shows up as a truncated archive. */
static la_int64_t in_skip(struct archive *a, void *ud, la_int64_t request)
{
	struct input *in = ud;
	off_t cur = lseek(in->fd, 0, SEEK_CUR);

	(void)a;
	if (cur < 0 || request <= 0)
		return 0;
	uint64_t left = (uint64_t)cur < in->end ? in->end - (uint64_t)cur : 0;
	if ((uint64_t)request > left)
		request = (la_int64_t)left;
	if (lseek(in->fd, request, SEEK_CUR) < 0)
		return 0;
	return request;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static int archive_start(struct input *in, bool skip, struct archive **out, struct error *err)
{
	if (in->seekable && lseek(in->fd, in->start, SEEK_SET) < 0)
		return error_set(err, errno, "rewind input");
	struct archive *a = archive_read_new();
	if (!a)
		return error_set(err, ENOMEM, "libarchive");
	/* Layers are tar, maybe compressed (gzip, zstd, ...); an empty
	 * stream is an empty layer. */
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	if (archive_read_open2(a, in, NULL, in_read, skip ? in_skip : NULL, NULL) != ARCHIVE_OK) {
		int r = error_setx(err, EINVAL, "open input: %s", archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	*out = a;
	return 0;
}

static int archive_fail(struct archive *a, struct error *err, const char *what)
{
	int e = archive_errno(a);
	return error_setx(err, e > 0 ? e : EINVAL, "%s: %s", what,
			  archive_error_string(a) ? archive_error_string(a) : "unknown error");
}

/* --- helpers shared by both passes --------------------------------------- */

static int entry_path(struct archive_entry *e, bool convert_slash, char **path,
		      struct error *err)
{
	const char *raw = archive_entry_pathname(e);
	if (!raw)
		return error_setx(err, EINVAL, "entry without a (convertible) name");
	return path_normalize(raw, convert_slash, path, err);
}

static const char *entry_name(struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	return raw ? raw : "(unnamed)";
}

/* Data blocks an entry can need at most: the sparse map when there is
 * one, else every block of its size.  *runs counts the data regions. */
static uint64_t entry_data_blocks(struct archive_entry *e, uint64_t size, uint64_t *runs)
{
	la_int64_t off, len;
	uint64_t blocks = 0;

	*runs = 0;
	if (archive_entry_sparse_reset(e) > 0) {
		while (archive_entry_sparse_next(e, &off, &len) == ARCHIVE_OK) {
			if (off < 0 || len <= 0 || (uint64_t)off > size)
				continue;
			uint64_t end = (uint64_t)off + (uint64_t)len;
			if (end > size)
				end = size;
			blocks += ((end + EXT4W_BLOCK_SIZE - 1) >> EXT4W_BLOCK_SHIFT) -
				  ((uint64_t)off >> EXT4W_BLOCK_SHIFT);
			(*runs)++;
		}
		return blocks;
	}
	*runs = size > 0;
	return (size + EXT4W_BLOCK_SIZE - 1) >> EXT4W_BLOCK_SHIFT;
}

static uint64_t extent_tree_blocks(uint64_t blocks, uint64_t runs)
{
	uint64_t extents = runs + blocks / 32768 + 1;
	uint64_t total = 0;

	while (extents > EXTENTS_IN_INODE) {
		extents = (extents + EXTENTS_PER_BLOCK - 1) / EXTENTS_PER_BLOCK;
		total += extents;
	}
	return total;
}

static const char *const xattr_prefixes[] = {
	"user.", "trusted.", "security.", "system.posix_acl_access", "system.posix_acl_default",
};

/* Only namespaces the Linux guest can see; "system.data" in particular
 * belongs to inline data. */
static int check_xattr(const char *name, size_t len, struct error *err)
{
	size_t nlen = strlen(name);
	if (nlen > XATTR_NAME_MAX)
		return error_setx(err, ERANGE, "xattr name of %zu bytes", nlen);
	if (len > XATTR_VALUE_MAX)
		return error_setx(err, E2BIG, "xattr `%s`: value of %zu bytes", name, len);
	for (size_t i = 0; i < ARRAY_SIZE(xattr_prefixes); i++) {
		size_t pl = strlen(xattr_prefixes[i]);
		if (strncmp(name, xattr_prefixes[i], pl) != 0)
			continue;
		if (xattr_prefixes[i][pl - 1] == '.' && nlen == pl)
			break;
		if (xattr_prefixes[i][pl - 1] != '.' && nlen != pl)
			break;
		return 0;
	}
	return error_setx(err, EOPNOTSUPP,
			  "xattr `%s`: not a user., trusted., security. or POSIX ACL name", name);
}

/* --- pass 1: sizing ------------------------------------------------------ */

struct strset {
	char **slots;
	size_t mask;
	size_t count;
};

static uint64_t str_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void strset_free(struct strset *s)
{
	for (size_t i = 0; s->slots && i <= s->mask; i++)
		free(s->slots[i]);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static int strset_add(struct strset *s, const char *str, size_t len, bool *added)
{
	if (!s->slots || (s->count + 1) * 2 > s->mask + 1) {
		size_t n = s->slots ? (s->mask + 1) * 2 : 1024;
		char **slots = calloc(n, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; s->slots && i <= s->mask; i++) {
			if (!s->slots[i])
				continue;
			size_t j = str_hash(s->slots[i], strlen(s->slots[i])) & (n - 1);
			while (slots[j])
				j = (j + 1) & (n - 1);
			slots[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = slots;
		s->mask = n - 1;
	}
	size_t j = str_hash(str, len) & s->mask;
	for (; s->slots[j]; j = (j + 1) & s->mask) {
		if (strlen(s->slots[j]) == len && memcmp(s->slots[j], str, len) == 0) {
			*added = false;
			return 0;
		}
	}
	s->slots[j] = strndup(str, len);
	if (!s->slots[j])
		return -ENOMEM;
	s->count++;
	*added = true;
	return 0;
}

struct scan {
	const struct t2e_options *o;
	struct strset dirs;
	uint64_t inodes;
	uint64_t data_blocks, meta_blocks;
	uint64_t dirent_bytes;
};

/* Every directory on the way to an entry, counted once. */
static int scan_parents(struct scan *s, const char *path, size_t parent_len)
{
	size_t comp = 0;
	for (size_t i = 0; i < parent_len + 1 && parent_len > 0; i++) {
		if (i < parent_len && path[i] != '/')
			continue;
		bool added;
		if (strset_add(&s->dirs, path, i, &added) < 0)
			return -ENOMEM;
		if (added)
			s->dirent_bytes += dirent_size(i - comp);
		comp = i + 1;
	}
	return 0;
}

/* An xattr block when the entry's xattrs overflow its inode. */
static uint64_t xattr_blocks(struct archive_entry *e)
{
	const char *name;
	const void *value;
	size_t len;
	uint64_t bytes = 0;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK)
		bytes += XATTR_ENTRY_HEADER + align4(strlen(name)) + align4(len);
	return bytes > XATTR_IN_INODE_SPACE;
}

static int scan_entry(struct scan *s, struct archive_entry *e, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	int r = entry_path(e, s->o->convert_slash, &path, err);
	if (r < 0)
		return r;
	size_t plen;
	const char *base = path_basename(path, &plen);
	if (scan_parents(s, path, plen) < 0)
		return error_set(err, ENOMEM, "scan");

	if (s->o->overlay && starts_with(base, WH_PREFIX)) {
		if (strcmp(base, WH_OPAQUE) == 0) {
			/* The opaque xattr may push its directory's xattrs
			 * out of the inode. */
			s->meta_blocks++;
		} else if (!starts_with(base, WH_META_PREFIX)) {
			s->inodes++;
			s->dirent_bytes += dirent_size(strlen(base) - strlen(WH_PREFIX));
		}
		return 0;
	}
	const char *link = archive_entry_hardlink(e);
	if (link) {
		_cleanup_free_ char *target = NULL;
		r = path_normalize(link, s->o->convert_slash, &target, err);
		if (r < 0)
			return error_prefix(err, r, "hard link target `%.200s`", link);
		s->dirent_bytes += dirent_size(strlen(base));
		return 0;
	}
	s->meta_blocks += xattr_blocks(e);
	if (!*path)
		return 0;

	switch (archive_entry_filetype(e)) {
	case AE_IFDIR: {
		bool added;
		if (strset_add(&s->dirs, path, strlen(path), &added) < 0)
			return error_set(err, ENOMEM, "scan");
		if (added)
			s->dirent_bytes += dirent_size(strlen(base));
		return 0;
	}
	case AE_IFREG: {
		la_int64_t size = archive_entry_size(e);
		if (size < 0 || (uint64_t)size > EXT4W_MAX_FILE_SIZE)
			return error_setx(err, EFBIG,
					  "size %lld exceeds ext4's largest file (%llu)",
					  (long long)size, (unsigned long long)EXT4W_MAX_FILE_SIZE);
		uint64_t runs, blocks = entry_data_blocks(e, (uint64_t)size, &runs);
		s->data_blocks += blocks;
		s->meta_blocks += extent_tree_blocks(blocks, runs);
		break;
	}
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(e);
		if (t && strlen(t) > EXT4W_FAST_SYMLINK_MAX)
			s->meta_blocks++;
		break;
	}
	default:
		break;
	}
	s->inodes++;
	s->dirent_bytes += dirent_size(strlen(base));
	return 0;
}

struct need {
	uint64_t blocks;
	uint64_t inodes;
};

static int scan_input(struct input *in, const struct t2e_options *o, struct need *need,
		      struct error *err)
{
	__attribute__((cleanup(archive_freep))) struct archive *a = NULL;
	_cleanup_free_ char *last = NULL;
	struct scan s = { .o = o };
	int r = archive_start(in, true, &a, err);
	if (r < 0)
		return r;

	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = archive_fail(a, err, "read tar header");
			if (last)
				r = error_prefix(err, r, "after entry `%.200s`", last);
			goto out;
		}
		r = scan_entry(&s, e, err);
		if (r < 0) {
			r = error_prefix(err, r, "entry `%.200s`", entry_name(e));
			goto out;
		}
		/* Truncated data only shows at the next header: name the
		 * entry it belonged to. */
		free(last);
		last = strdup(entry_name(e));
	}

	/* Root and lost+found, every directory's partial last block, and
	 * the slack of entries that did not fit a block's end. */
	uint64_t ndirs = s.dirs.count + 2;
	uint64_t dir_blocks = s.dirent_bytes / (EXT4W_BLOCK_SIZE - DIRENT_MAX_WASTE) + 1 + ndirs;
	need->blocks = s.data_blocks + s.meta_blocks + dir_blocks;
	need->blocks += need->blocks / 64 + 64;
	need->inodes = s.inodes + ndirs + EXT2_GOOD_OLD_FIRST_INO;
	need->inodes += need->inodes / 64 + 16;
	r = 0;
out:
	strset_free(&s.dirs);
	return r;
}

/* --- pass 2: the tree and the image -------------------------------------- */

struct conv {
	const struct t2e_options *o;
	struct t2e_stats *st;
	struct ext4w w;
	bool w_open;
	struct tree t;
	struct node *lost_found;
	struct archive *a;
	struct error *err;
	uint8_t small[EXT4W_INLINE_CANDIDATE_MAX];
};

struct xattrs {
	struct t2e_xattr *v;
	size_t n, cap;
	bool owned; /* names and values are copies */
};

static void xattrs_free(struct xattrs *x)
{
	if (x->owned) {
		for (size_t i = 0; i < x->n; i++) {
			free(x->v[i].name);
			free(x->v[i].value);
		}
	}
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static int xattrs_push(struct xattrs *x, const char *name, const void *value, size_t len)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 8;
		struct t2e_xattr *v = realloc(x->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	struct t2e_xattr *t = &x->v[x->n];
	if (x->owned) {
		t->name = strdup(name);
		t->value = malloc(len ? len : 1);
		if (!t->name || !t->value) {
			free(t->name);
			free(t->value);
			return -ENOMEM;
		}
		memcpy(t->value, value, len);
	} else {
		t->name = (char *)name;
		t->value = (void *)value;
	}
	t->len = len;
	x->n++;
	return 0;
}

static int entry_xattrs(struct archive_entry *e, struct xattrs *x, struct error *err)
{
	const char *name;
	const void *value;
	size_t len;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK) {
		int r = check_xattr(name, len, err);
		if (r < 0)
			return r;
		if (xattrs_push(x, name, value, len) < 0)
			return error_set(err, ENOMEM, "xattrs");
	}
	return 0;
}

static struct t2e_time entry_time(time_t sec, long nsec)
{
	if (nsec < 0 || nsec > 999999999)
		nsec = 0;
	return (struct t2e_time){ .sec = sec, .nsec = (uint32_t)nsec };
}

static int entry_attr(struct archive_entry *e, struct ext4w_attr *a, struct error *err)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return error_setx(err, ERANGE, "uid %lld / gid %lld out of ext4's 32-bit range",
				  (long long)uid, (long long)gid);
	memset(a, 0, sizeof(*a));
	a->mode = (archive_entry_filetype(e) & S_IFMT) | (archive_entry_perm(e) & 07777);
	a->uid = (uint32_t)uid;
	a->gid = (uint32_t)gid;
	a->mtime = entry_time(archive_entry_mtime(e), archive_entry_mtime_nsec(e));
	/* Times the tar does not carry default to the mtime. */
	a->atime = archive_entry_atime_is_set(e)
			   ? entry_time(archive_entry_atime(e), archive_entry_atime_nsec(e))
			   : a->mtime;
	a->ctime = archive_entry_ctime_is_set(e)
			   ? entry_time(archive_entry_ctime(e), archive_entry_ctime_nsec(e))
			   : a->mtime;
	a->crtime = archive_entry_birthtime_is_set(e)
			? entry_time(archive_entry_birthtime(e), archive_entry_birthtime_nsec(e))
			: a->mtime;
	return 0;
}

static struct ext4w_attr meta_attr(const struct dir_meta *m)
{
	return (struct ext4w_attr){
		.mode = m->mode,
		.uid = m->uid,
		.gid = m->gid,
		.atime = m->atime,
		.mtime = m->mtime,
		.ctime = m->ctime,
		.crtime = m->crtime,
	};
}

static void meta_set(struct dir_meta *m, const struct ext4w_attr *a)
{
	m->mode = S_IFDIR | (a->mode & 07777);
	m->uid = a->uid;
	m->gid = a->gid;
	m->atime = a->atime;
	m->mtime = a->mtime;
	m->ctime = a->ctime;
	m->crtime = a->crtime;
}

static int release_node(void *ctx, struct node *n)
{
	struct conv *c = ctx;
	if (n->ino) {
		int r = ext4w_release(&c->w, n->ino, n->dir != NULL, c->err);
		if (r < 0)
			return r;
	}
	n->ino = 0;
	if (n->dir)
		dir_meta_free_xattrs(&n->dir->meta);
	return 0;
}

static int new_dir_node(struct conv *c, struct node *parent, uint32_t mode, struct node **out,
			struct error *err)
{
	uint32_t ino;
	int r = ext4w_new_ino(&c->w, parent->ino, true, &ino, err);
	if (r < 0)
		return r;
	*out = tree_new_node(&c->t, ino, S_IFDIR | (mode & 07777));
	if (!*out)
		return error_set(err, ENOMEM, "tree");
	return 0;
}

/* The directory at path[0..len), walking the tree without following
 * symlinks.  Missing directories are created (inheriting the parent's
 * mode and owner, like hcsshim) when create is set, else *out is NULL. */
static int resolve_dir(struct conv *c, const char *path, size_t len, bool create,
		       struct node **out, struct error *err)
{
	struct node *dir = c->t.root;
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		struct dentry *d = tree_lookup(&c->t, dir, path + i, j - i);
		if (!d) {
			if (!create) {
				*out = NULL;
				return 0;
			}
			struct dir_meta *pm = &dir->dir->meta;
			struct node *n;
			int r = new_dir_node(c, dir, pm->mode, &n, err);
			if (r < 0)
				return r;
			struct dir_meta *m = &n->dir->meta;
			m->uid = pm->uid;
			m->gid = pm->gid;
			m->atime = m->mtime = m->ctime = m->crtime =
				(struct t2e_time){ .sec = c->o->epoch };
			if (tree_add(&c->t, dir, path + i, j - i, n) < 0)
				return error_set(err, ENOMEM, "tree");
			c->st->dirs++;
			dir = n;
		} else if (!d->child->dir) {
			if (S_ISLNK(d->child->mode))
				return error_setx(err, ENOTDIR,
						  "`%.*s` is a symlink in the image; paths through "
						  "symlinks are refused",
						  (int)j, path);
			return error_setx(err, ENOTDIR, "`%.*s` is not a directory", (int)j, path);
		} else {
			dir = d->child;
		}
		i = j + 1;
	}
	*out = dir;
	return 0;
}

/* Free the name in dir for a new entry: whatever held it goes (a later
 * entry replaces an earlier one), except lost+found, which e2fsck needs. */
static int make_room(struct conv *c, struct node *dir, const char *name, size_t len,
		     struct error *err)
{
	struct dentry *d = tree_lookup(&c->t, dir, name, len);
	if (!d)
		return 0;
	if (d->child == c->lost_found)
		return error_setx(err, EPERM,
				  "/lost+found can only be a directory (e2fsck needs it)");
	return tree_remove(&c->t, d, release_node, c);
}

/* A new non-directory inode named name in dir. */
static int new_node(struct conv *c, struct node *dir, const char *name, uint32_t mode,
		    struct node **out, struct error *err)
{
	size_t len = strlen(name);
	int r = make_room(c, dir, name, len, err);
	if (r < 0)
		return r;
	uint32_t ino;
	r = ext4w_new_ino(&c->w, dir->ino, false, &ino, err);
	if (r < 0)
		return r;
	struct node *n = tree_new_node(&c->t, ino, mode);
	if (!n || tree_add(&c->t, dir, name, len, n) < 0)
		return error_set(err, ENOMEM, "tree");
	*out = n;
	return 0;
}

static int do_dir(struct conv *c, struct node *parent, const char *name, struct archive_entry *e,
		  const struct ext4w_attr *a, struct error *err)
{
	struct node *n;
	struct dentry *d = *name ? tree_lookup(&c->t, parent, name, strlen(name)) : NULL;

	if (!*name) {
		n = c->t.root; /* "./": the root's own metadata */
	} else if (d && d->child->dir) {
		n = d->child; /* a directory over a directory merges */
	} else {
		int r = make_room(c, parent, name, strlen(name), err);
		if (r < 0)
			return r;
		r = new_dir_node(c, parent, a->mode, &n, err);
		if (r < 0)
			return r;
		if (tree_add(&c->t, parent, name, strlen(name), n) < 0)
			return error_set(err, ENOMEM, "tree");
		c->st->dirs++;
	}
	struct dir_meta *m = &n->dir->meta;
	meta_set(m, a);
	dir_meta_free_xattrs(m);
	struct xattrs x = { .owned = true };
	int r = entry_xattrs(e, &x, err);
	if (r < 0) {
		xattrs_free(&x);
		return r;
	}
	m->xattrs = TAKE_PTR(x.v);
	m->nxattrs = x.n;
	return 0;
}

static int read_small(struct conv *c, size_t size, struct error *err)
{
	size_t got = 0;
	while (got < size) {
		la_ssize_t n = archive_read_data(c->a, c->small + got, size - got);
		if (n < 0)
			return archive_fail(c->a, err, "read data");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != size)
		return error_setx(err, EIO, "data ends after %zu of %zu bytes", got, size);
	return 0;
}

static int do_file(struct conv *c, struct node *parent, const char *name, struct archive_entry *e,
		   const struct ext4w_attr *a, struct error *err)
{
	la_int64_t ssize = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	if (ssize < 0 || (uint64_t)ssize > EXT4W_MAX_FILE_SIZE)
		return error_setx(err, EFBIG, "size %lld exceeds ext4's largest file (%llu)",
				  (long long)ssize, (unsigned long long)EXT4W_MAX_FILE_SIZE);
	uint64_t size = (uint64_t)ssize, runs;
	uint64_t blocks = entry_data_blocks(e, size, &runs);
	/* Refuse before allocating anything: the worst case must fit. */
	if (blocks + extent_tree_blocks(blocks, runs) > ext4w_free_blocks(&c->w))
		return error_setx(err, ENOSPC, "%llu bytes need %llu blocks, the image has %llu free"
				  " (raise -size)",
				  (unsigned long long)size, (unsigned long long)blocks,
				  (unsigned long long)ext4w_free_blocks(&c->w));

	struct node *n;
	int r = new_node(c, parent, name, a->mode, &n, err);
	if (r < 0)
		return r;
	struct xattrs x = { 0 };
	r = entry_xattrs(e, &x, err);
	if (r < 0)
		goto out;
	c->st->files++;
	c->st->file_bytes += size;

	if (c->o->inline_data && x.n == 0 && size > 0 && size <= sizeof(c->small)) {
		r = read_small(c, (size_t)size, err);
		if (r < 0)
			goto out;
		r = ext4w_file_inline(&c->w, n->ino, a, c->small, (size_t)size, err);
		if (r != 0)
			goto out;
		r = ext4w_file_begin(&c->w, n->ino, a, size, NULL, 0, err);
		if (r >= 0)
			r = ext4w_file_write(&c->w, 0, c->small, (size_t)size, err);
		if (r >= 0)
			r = ext4w_file_finish(&c->w, err);
		goto out;
	}

	r = ext4w_file_begin(&c->w, n->ino, a, size, x.v, x.n, err);
	if (r < 0)
		goto out;
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int ar = archive_read_data_block(c->a, &buf, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = archive_fail(c->a, err, "read data");
			goto out;
		}
		if (off < 0) {
			r = error_setx(err, EINVAL, "data at negative offset");
			goto out;
		}
		r = ext4w_file_write(&c->w, (uint64_t)off, buf, len, err);
		if (r < 0)
			goto out;
	}
	r = ext4w_file_finish(&c->w, err);
out:
	xattrs_free(&x);
	return r < 0 ? r : 0;
}

static int do_symlink(struct conv *c, struct node *parent, const char *name,
		      struct archive_entry *e, const struct ext4w_attr *a, struct error *err)
{
	const char *t = archive_entry_symlink(e);
	if (!t)
		return error_setx(err, EINVAL, "symlink without a target");
	_cleanup_free_ char *target = strdup(t);
	if (!target)
		return error_set(err, ENOMEM, "symlink");
	if (c->o->convert_slash)
		for (char *p = target; *p; p++)
			if (*p == '\\')
				*p = '/';
	size_t len = strlen(target);
	if (len == 0 || len > EXT4W_SYMLINK_MAX)
		return error_setx(err, EINVAL, "symlink target of %zu bytes (ext4: 1 to %d)", len,
				  EXT4W_SYMLINK_MAX);

	struct ext4w_attr la = *a;
	la.mode |= 0777; /* symlinks are rwxrwxrwx, as Linux makes them */
	struct node *n;
	int r = new_node(c, parent, name, la.mode, &n, err);
	if (r < 0)
		return r;
	struct xattrs x = { 0 };
	r = entry_xattrs(e, &x, err);
	if (r >= 0)
		r = ext4w_write_symlink(&c->w, n->ino, &la, target, len, x.v, x.n, err);
	xattrs_free(&x);
	c->st->symlinks++;
	return r < 0 ? r : 0;
}

static int do_special(struct conv *c, struct node *parent, const char *name,
		      struct archive_entry *e, const struct ext4w_attr *a, struct error *err)
{
	struct ext4w_attr sa = *a;
	if (S_ISCHR(a->mode) || S_ISBLK(a->mode)) {
		unsigned long maj = (unsigned long)archive_entry_rdevmajor(e);
		unsigned long min = (unsigned long)archive_entry_rdevminor(e);
		if (maj > EXT4W_DEV_MAJOR_MAX || min > EXT4W_DEV_MINOR_MAX)
			return error_setx(err, ERANGE, "device %lu:%lu beyond ext4's %u:%u", maj,
					  min, EXT4W_DEV_MAJOR_MAX, EXT4W_DEV_MINOR_MAX);
		sa.rdev_major = (uint32_t)maj;
		sa.rdev_minor = (uint32_t)min;
	}
	struct node *n;
	int r = new_node(c, parent, name, sa.mode, &n, err);
	if (r < 0)
		return r;
	struct xattrs x = { 0 };
	r = entry_xattrs(e, &x, err);
	if (r >= 0)
		r = ext4w_write_special(&c->w, n->ino, &sa, x.v, x.n, err);
	xattrs_free(&x);
	c->st->specials++;
	return r < 0 ? r : 0;
}

static int do_hardlink(struct conv *c, struct node *parent, const char *name, const char *link,
		       struct error *err)
{
	_cleanup_free_ char *tpath = NULL;
	int r = path_normalize(link, c->o->convert_slash, &tpath, err);
	if (r < 0)
		return error_prefix(err, r, "hard link target `%.200s`", link);
	if (!*tpath)
		return error_setx(err, EISDIR, "hard link to the image root");

	size_t tplen;
	const char *tbase = path_basename(tpath, &tplen);
	struct node *tdir;
	r = resolve_dir(c, tpath, tplen, false, &tdir, err);
	if (r < 0)
		return error_prefix(err, r, "hard link target `%.200s`", tpath);
	struct dentry *td = tdir ? tree_lookup(&c->t, tdir, tbase, strlen(tbase)) : NULL;
	if (!td)
		return error_setx(err, ENOENT,
				  "hard link target `%.200s` is not in the image (links must point "
				  "inside it, to an earlier entry)",
				  tpath);
	struct node *target = td->child;
	if (target->dir)
		return error_setx(err, EPERM, "hard link target `%.200s` is a directory", tpath);

	struct dentry *d = tree_lookup(&c->t, parent, name, strlen(name));
	if (d && d->child == target)
		return 0; /* the same link again */
	if (target->nlink >= EXT2_LINK_MAX)
		return error_setx(err, EMLINK, "`%.200s` already has %u links", tpath,
				  target->nlink);
	/* Hold the target while the old name goes: it may be the old
	 * name's only other link, or inside a directory being replaced. */
	target->nlink++;
	r = make_room(c, parent, name, strlen(name), err);
	if (r >= 0 && tree_add(&c->t, parent, name, strlen(name), target) < 0)
		r = error_set(err, ENOMEM, "tree");
	target->nlink--;
	c->st->hardlinks++;
	return r < 0 ? r : 0;
}

static int do_whiteout(struct conv *c, struct node *parent, const char *base, struct error *err)
{
	if (strcmp(base, WH_OPAQUE) == 0) {
		parent->dir->meta.opaque = true;
		c->st->whiteouts++;
		return 0;
	}
	/* Other `.wh..wh.` names are aufs bookkeeping (containerd and
	 * Docker skip them too). */
	if (starts_with(base, WH_META_PREFIX))
		return 0;
	const char *name = base + strlen(WH_PREFIX);
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return error_setx(err, EINVAL, "whiteout `%s` names nothing", base);

	/* overlayfs' form: a 0:0 character device, mode 0, owned by root,
	 * every time 0, exactly what hcsshim writes; the whiteout's own
	 * tar metadata is ignored. */
	struct ext4w_attr a = { .mode = S_IFCHR };
	struct node *n;
	int r = new_node(c, parent, name, a.mode, &n, err);
	if (r < 0)
		return r;
	c->st->whiteouts++;
	return ext4w_write_special(&c->w, n->ino, &a, NULL, 0, err);
}

static int do_entry(struct conv *c, struct archive_entry *e, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	int r = entry_path(e, c->o->convert_slash, &path, err);
	if (r < 0)
		return r;
	size_t plen;
	const char *base = path_basename(path, &plen);
	struct node *parent;
	r = resolve_dir(c, path, plen, true, &parent, err);
	if (r < 0)
		return r;

	if (c->o->overlay && starts_with(base, WH_PREFIX))
		return do_whiteout(c, parent, base, err);

	const char *link = archive_entry_hardlink(e);
	if (link) {
		if (!*path)
			return error_setx(err, EISDIR, "a hard link cannot replace the image root");
		return do_hardlink(c, parent, base, link, err);
	}

	struct ext4w_attr a;
	r = entry_attr(e, &a, err);
	if (r < 0)
		return r;
	unsigned type = archive_entry_filetype(e);
	if (type == AE_IFDIR)
		return do_dir(c, parent, base, e, &a, err);
	if (!*path)
		return error_setx(err, EISDIR, "only a directory can replace the image root");
	switch (type) {
	case AE_IFREG:
		return do_file(c, parent, base, e, &a, err);
	case AE_IFLNK:
		return do_symlink(c, parent, base, e, &a, err);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		return do_special(c, parent, base, e, &a, err);
	default:
		return error_setx(err, EINVAL, "unsupported entry type 0%o", type);
	}
}

/* Every directory, breadth first from the root, then link counts. */
static int write_tree(struct conv *c, struct error *err)
{
	size_t cap = 1024, head = 0, tail = 0;
	_cleanup_free_ struct node **q = malloc(cap * sizeof(*q));
	int r = 0;

	if (!q)
		return error_set(err, ENOMEM, "directory queue");
	q[tail++] = c->t.root;
	while (head < tail) {
		struct node *n = q[head++];
		struct dir *dir = n->dir;
		r = ext4w_dir_begin(&c->w, n->ino, dir->parent->ino, err);
		if (r < 0)
			return r;
		for (struct dentry *d = dir->first; d; d = d->next) {
			r = ext4w_dir_add(&c->w, d->child->ino, d->child->mode, d->name, d->namelen,
					  err);
			if (r < 0)
				return r;
			if (!d->child->dir)
				continue;
			if (tail == cap) {
				struct node **nq = realloc(q, 2 * cap * sizeof(*nq));
				if (!nq)
					return error_set(err, ENOMEM, "directory queue");
				q = nq;
				cap *= 2;
			}
			q[tail++] = d->child;
		}

		/* The opaque marker wins over a same-named xattr in the tar. */
		struct dir_meta *m = &dir->meta;
		_cleanup_free_ struct t2e_xattr *xv = calloc(m->nxattrs + 1, sizeof(*xv));
		if (!xv)
			return error_set(err, ENOMEM, "xattrs");
		size_t nx = m->nxattrs;
		if (nx)
			memcpy(xv, m->xattrs, nx * sizeof(*xv));
		if (m->opaque)
			xv[nx++] = (struct t2e_xattr){ .name = OPAQUE_XATTR, .value = "y",
						       .len = 1 };
		uint64_t links = 2 + (uint64_t)dir->nsubdirs;
		/* dir_nlink: past the limit a directory counts 1. */
		if (links >= EXT2_LINK_MAX)
			links = 1;
		struct ext4w_attr a = meta_attr(m);
		r = ext4w_dir_finish(&c->w, &a, (uint32_t)links, xv, nx, err);
		if (r < 0)
			return error_prefix(err, r, "directory inode %u", n->ino);
	}

	for (struct node *n = c->t.all; n; n = n->all_next) {
		if (!n->ino || n->dir || n->nlink == 1)
			continue;
		r = ext4w_set_links(&c->w, n->ino, n->nlink, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int tree_start(struct conv *c, struct error *err)
{
	int r = tree_init(&c->t, EXT2_ROOT_INO, 0755);
	if (r < 0)
		return error_set(err, -r, "tree");
	struct t2e_time t0 = { .sec = c->o->epoch };
	struct dir_meta *rm = &c->t.root->dir->meta;
	rm->atime = rm->mtime = rm->ctime = rm->crtime = t0;

	r = new_dir_node(c, c->t.root, 0700, &c->lost_found, err);
	if (r < 0)
		return r;
	struct dir_meta *lm = &c->lost_found->dir->meta;
	lm->atime = lm->mtime = lm->ctime = lm->crtime = t0;
	if (tree_add(&c->t, c->t.root, "lost+found", strlen("lost+found"), c->lost_found) < 0)
		return error_set(err, ENOMEM, "tree");
	return 0;
}

static int image_open(struct conv *c, const char *path, int out_fd, const struct need *need,
		      struct error *err)
{
	struct ext4w_params p = { .inline_data = c->o->inline_data, .epoch = c->o->epoch };
	int r;

	if (c->o->size) {
		p.blocks = c->o->size / EXT4W_BLOCK_SIZE;
		p.inodes = need ? need->inodes : p.blocks * EXT4W_BLOCK_SIZE / DEFAULT_INODE_RATIO;
		if (p.inodes < 1024)
			p.inodes = 1024;
		r = ext4w_open(&c->w, path, &p, err);
		if (r < 0)
			return error_prefix(err, r, "-size %llu",
					    (unsigned long long)c->o->size);
		c->w_open = true;
		uint64_t used = ext4w_blocks(&c->w) - ext4w_free_blocks(&c->w);
		if (need && ext4w_free_blocks(&c->w) < need->blocks)
			return error_setx(err, ENOSPC,
					  "the layer needs about %llu bytes; -size %llu is too small",
					  (unsigned long long)(used + need->blocks) * EXT4W_BLOCK_SIZE,
					  (unsigned long long)c->o->size);
	} else {
		/* Start from the data plus the inode tables and bitmaps, then
		 * grow until libext2fs' own accounting leaves enough free. */
		p.inodes = need->inodes;
		uint64_t itable = (need->inodes * EXT4W_INODE_SIZE + EXT4W_BLOCK_SIZE - 1) /
				  EXT4W_BLOCK_SIZE;
		uint64_t bpg = EXT4W_BLOCK_SIZE * 8;
		p.blocks = need->blocks + itable + 2 * ((need->blocks + itable) / bpg + 1) + 8;
		for (int tries = 0;; tries++) {
			/* A last group too small for its own metadata would be
			 * dropped by libext2fs; make it big enough instead. */
			uint64_t groups = (p.blocks + bpg - 1) / bpg;
			uint64_t ipg = (p.inodes + groups - 1) / groups;
			uint64_t small = ipg * EXT4W_INODE_SIZE / EXT4W_BLOCK_SIZE + 2 + 64;
			if (p.blocks % bpg && p.blocks % bpg < small)
				p.blocks += small - p.blocks % bpg;
			if (p.blocks > EXT4W_MAX_BLOCKS)
				return error_setx(err, EFBIG,
						  "the layer needs more than ext4's 16 TiB");
			r = ext4w_open(&c->w, path, &p, err);
			if (r < 0)
				return r;
			uint64_t free = ext4w_free_blocks(&c->w);
			if (free >= need->blocks)
				break;
			ext4w_abort(&c->w);
			if (tries == 16)
				return error_setx(err, EFBIG,
						  "cannot size the image for %llu blocks",
						  (unsigned long long)need->blocks);
			p.blocks += need->blocks - free + 16;
		}
		c->w_open = true;
	}
	uint64_t bytes = ext4w_blocks(&c->w) * EXT4W_BLOCK_SIZE;
	if (ftruncate(out_fd, (off_t)bytes) < 0)
		return error_set(err, errno, "size the image to %llu bytes",
				 (unsigned long long)bytes);
	c->st->image_size = bytes;
	return 0;
}

static void derive_ids(const struct t2e_options *o, const struct digest *input, uint8_t uuid[16],
		       uint8_t seed[16])
{
	if (o->have_uuid) {
		memcpy(uuid, o->uuid, 16);
	} else {
		struct digest d = *input;
		/* The options change the image, so they change the id. */
		uint8_t params[17] = { 't', '2', 'e', '1' };
		params[4] = (uint8_t)(o->overlay | o->convert_slash << 1 | o->inline_data << 2);
		uint64_t size = htole64(o->size);
		uint32_t epoch = htole32(o->epoch);
		memcpy(params + 5, &size, sizeof(size));
		memcpy(params + 13, &epoch, sizeof(epoch));
		digest_update(&d, params, sizeof(params));
		digest_final(&d, uuid);
		uuid_from_digest(uuid);
	}
	struct digest s;
	digest_init(&s, SEED_DIGEST);
	digest_update(&s, uuid, 16);
	digest_update(&s, "dir hash seed", 13);
	digest_final(&s, seed);
}

int t2e_convert(int in_fd, bool seekable, const char *path, int out_fd,
		const struct t2e_options *o, struct t2e_stats *st, struct error *err)
{
	struct input in = { .fd = in_fd, .seekable = seekable };
	struct conv c = { .o = o, .st = st, .err = err };
	_cleanup_free_ char *last = NULL;
	struct need need;
	int r;

	memset(st, 0, sizeof(*st));
	if (!seekable && !o->size)
		return error_setx(err, EINVAL, "a non-seekable input needs -size");
	in.buf = malloc(READ_BUF_SIZE);
	if (!in.buf)
		return error_set(err, ENOMEM, "read buffer");
	if (seekable) {
		struct stat sb;
		in.start = lseek(in_fd, 0, SEEK_CUR);
		if (in.start < 0 || fstat(in_fd, &sb) < 0) {
			r = error_set(err, errno, "input");
			goto out_buf;
		}
		in.end = (uint64_t)sb.st_size;
		r = scan_input(&in, o, &need, err);
		if (r < 0)
			goto out_buf;
		st->sized_by_scan = true;
	}

	r = image_open(&c, path, out_fd, seekable ? &need : NULL, err);
	if (r < 0)
		goto out_image;
	r = tree_start(&c, err);
	if (r < 0)
		goto out_tree;

	in.hashing = true;
	digest_init(&in.dg, SEED_DIGEST);
	r = archive_start(&in, false, &c.a, err);
	if (r < 0)
		goto out_tree;
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(c.a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = archive_fail(c.a, err, "read tar header");
			if (last)
				r = error_prefix(err, r, "after entry `%.200s`", last);
			goto out_archive;
		}
		st->entries++;
		r = do_entry(&c, e, err);
		if (r < 0) {
			r = error_prefix(err, r, "entry `%.200s`", entry_name(e));
			goto out_archive;
		}
		free(last);
		last = strdup(entry_name(e));
	}
	r = write_tree(&c, err);
	if (r < 0)
		goto out_archive;

	uint8_t seed[16];
	derive_ids(o, &in.dg, st->uuid, seed);
	st->written_bytes = c.w.bytes_written;
	r = ext4w_close(&c.w, st->uuid, seed, err);
	c.w_open = false;
out_archive:
	archive_read_free(c.a);
out_tree:
	tree_free(&c.t);
out_image:
	if (c.w_open)
		ext4w_abort(&c.w);
out_buf:
	free(in.buf);
	return r;
}
