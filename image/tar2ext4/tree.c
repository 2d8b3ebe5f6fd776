/* SPDX-License-Identifier: MIT */
#include "tree.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TREE_MIN_BUCKETS 1024

/* FNV-1a over the directory's address and the name: names are short, and
 * the table is private to one process, so the address is a fine salt. */
static uint32_t name_hash(const struct node *dir, const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	uintptr_t d = (uintptr_t)dir;

	for (size_t i = 0; i < sizeof(d); i++) {
		h ^= (uint8_t)(d >> (8 * i));
		h *= 16777619u;
	}
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 16777619u;
	}
	return h;
}

int tree_init(struct tree *t, uint32_t root_ino, uint32_t root_mode)
{
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(TREE_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->mask = TREE_MIN_BUCKETS - 1;
	t->root = tree_new_node(t, root_ino, S_IFDIR | (root_mode & 07777));
	if (!t->root)
		return -ENOMEM;
	t->root->dir->parent = t->root;
	/* The root is named by its own "..": it never goes away. */
	t->root->nlink = 1;
	return 0;
}

void dir_meta_free_xattrs(struct dir_meta *m)
{
	for (size_t i = 0; i < m->nxattrs; i++) {
		free(m->xattrs[i].name);
		free(m->xattrs[i].value);
	}
	free(m->xattrs);
	m->xattrs = NULL;
	m->nxattrs = 0;
}

void tree_free(struct tree *t)
{
	for (size_t i = 0; t->buckets && i <= t->mask; i++) {
		struct dentry *d = t->buckets[i];
		while (d) {
			struct dentry *n = d->hnext;
			free(d);
			d = n;
		}
	}
	free(t->buckets);
	struct node *n = t->all;
	while (n) {
		struct node *next = n->all_next;
		if (n->dir) {
			dir_meta_free_xattrs(&n->dir->meta);
			free(n->dir);
		}
		free(n);
		n = next;
	}
	memset(t, 0, sizeof(*t));
}

struct node *tree_new_node(struct tree *t, uint32_t ino, uint32_t mode)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->ino = ino;
	n->mode = mode;
	if (S_ISDIR(mode)) {
		n->dir = calloc(1, sizeof(*n->dir));
		if (!n->dir) {
			free(n);
			return NULL;
		}
		n->dir->meta.mode = mode;
	}
	n->all_next = t->all;
	t->all = n;
	return n;
}

struct dentry *tree_lookup(const struct tree *t, const struct node *dir, const char *name,
			   size_t len)
{
	uint32_t h = name_hash(dir, name, len);
	for (struct dentry *d = t->buckets[h & t->mask]; d; d = d->hnext)
		if (d->hash == h && d->parent == dir && d->namelen == len &&
		    memcmp(d->name, name, len) == 0)
			return d;
	return NULL;
}

static int grow(struct tree *t)
{
	size_t n = (t->mask + 1) * 2;
	struct dentry **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i <= t->mask; i++) {
		struct dentry *d = t->buckets[i];
		while (d) {
			struct dentry *next = d->hnext;
			d->hnext = b[d->hash & (n - 1)];
			b[d->hash & (n - 1)] = d;
			d = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = n - 1;
	return 0;
}

int tree_add(struct tree *t, struct node *dir, const char *name, size_t len, struct node *child)
{
	if (len == 0 || len > UINT16_MAX || !dir->dir)
		return -EINVAL;
	if (t->count >= t->mask + 1 && grow(t) < 0)
		return -ENOMEM;
	struct dentry *d = malloc(sizeof(*d) + len + 1);
	if (!d)
		return -ENOMEM;
	d->parent = dir;
	d->child = child;
	d->hash = name_hash(dir, name, len);
	d->namelen = (uint16_t)len;
	memcpy(d->name, name, len);
	d->name[len] = '\0';

	d->hnext = t->buckets[d->hash & t->mask];
	t->buckets[d->hash & t->mask] = d;
	t->count++;

	struct dir *pd = dir->dir;
	d->next = NULL;
	d->prev = pd->last;
	if (pd->last)
		pd->last->next = d;
	else
		pd->first = d;
	pd->last = d;
	pd->nentries++;

	child->nlink++;
	if (child->dir) {
		child->dir->parent = dir;
		pd->nsubdirs++;
	}
	return 0;
}

/* Unname d; its node is untouched apart from the link count. */
static void tree_del(struct tree *t, struct dentry *d)
{
	struct dentry **pp = &t->buckets[d->hash & t->mask];
	while (*pp != d)
		pp = &(*pp)->hnext;
	*pp = d->hnext;
	t->count--;

	struct dir *pd = d->parent->dir;
	if (d->prev)
		d->prev->next = d->next;
	else
		pd->first = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		pd->last = d->prev;
	pd->nentries--;

	d->child->nlink--;
	if (d->child->dir)
		pd->nsubdirs--;
	free(d);
}

int tree_remove(struct tree *t, struct dentry *d, int (*release)(void *ctx, struct node *n),
		void *ctx)
{
	struct node *n = d->child;
	tree_del(t, d);
	if (n->nlink > 0)
		return 0;

	/* Orphaned nodes still to release, on a growing explicit stack. */
	size_t cap = 64, len = 0;
	struct node **stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	stack[len++] = n;
	int r = 0;
	while (len > 0) {
		n = stack[--len];
		if (n->dir) {
			while (n->dir->first) {
				struct dentry *c = n->dir->first;
				struct node *child = c->child;
				tree_del(t, c);
				if (child->nlink > 0)
					continue;
				if (len == cap) {
					struct node **s = realloc(stack, 2 * cap * sizeof(*s));
					if (!s) {
						r = -ENOMEM;
						goto out;
					}
					stack = s;
					cap *= 2;
				}
				stack[len++] = child;
			}
		}
		r = release(ctx, n);
		if (r < 0)
			goto out;
	}
out:
	free(stack);
	return r;
}
