/* SPDX-License-Identifier: MIT */
/*
 * The image's namespace while it is being built: which name in which
 * directory refers to which inode.  Tar semantics (a later entry replaces
 * an earlier one, hard links share an inode) are applied here; ext4 only
 * sees the outcome.  Directory contents are written at the very end, from
 * this tree, so replacing or removing a name never rewrites a directory
 * block.
 */
#ifndef T2E_TREE_H
#define T2E_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct t2e_time {
	int64_t sec;
	uint32_t nsec;
};

struct t2e_xattr {
	char *name;
	void *value;
	size_t len;
};

/* A directory's own inode is written at the end too, so its metadata
 * waits here (a later entry for the same directory updates it). */
struct dir_meta {
	uint32_t mode;
	uint32_t uid, gid;
	struct t2e_time atime, mtime, ctime, crtime;
	struct t2e_xattr *xattrs;
	size_t nxattrs;
	/* Set by an overlay opaque marker; survives metadata updates. */
	bool opaque;
};

struct dentry;

struct dir {
	struct node *parent;
	struct dentry *first, *last;
	uint32_t nsubdirs;
	uint64_t nentries;
	struct dir_meta meta;
};

struct node {
	struct node *all_next; /* every node ever made, for the final pass */
	uint32_t ino;	       /* 0 once released */
	uint32_t mode;	       /* S_IFMT | permission bits */
	uint32_t nlink;	       /* names referring to it in the tree */
	struct dir *dir;       /* directories only */
};

struct dentry {
	struct dentry *hnext;	    /* hash chain */
	struct dentry *prev, *next; /* order within the directory */
	struct node *parent;
	struct node *child;
	uint32_t hash;
	uint16_t namelen;
	char name[];
};

struct tree {
	struct node *root;
	struct node *all;
	struct dentry **buckets;
	size_t mask;
	size_t count;
};

int tree_init(struct tree *t, uint32_t root_ino, uint32_t root_mode);
void tree_free(struct tree *t);

/* A new node (directory when S_ISDIR(mode)), not yet named anywhere. */
struct node *tree_new_node(struct tree *t, uint32_t ino, uint32_t mode);

struct dentry *tree_lookup(const struct tree *t, const struct node *dir, const char *name,
			   size_t len);

/* Name child in dir (the name must be free).  Counts a link. */
int tree_add(struct tree *t, struct node *dir, const char *name, size_t len, struct node *child);

/*
 * Remove the name d.  If that was the last name of its node, the node is
 * released: a directory's whole subtree goes with it (iteratively, no
 * recursion, so depth is unbounded), and release(ctx, node) is called for
 * every node whose last name disappeared (a directory before its
 * children; the order is deterministic).  The first release error stops the walk and
 * is returned.
 */
int tree_remove(struct tree *t, struct dentry *d, int (*release)(void *ctx, struct node *n),
		void *ctx);

void dir_meta_free_xattrs(struct dir_meta *m);

#endif
