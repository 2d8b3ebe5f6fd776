/* SPDX-License-Identifier: MIT */
/* The in-memory namespace: names, links, replacement and removal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lcow/tap.h"
#include "tree.h"

struct released {
	size_t n;
	uint32_t inos[64];
};

static int note_release(void *ctx, struct node *n)
{
	struct released *r = ctx;
	if (r->n < 64)
		r->inos[r->n] = n->ino;
	r->n++;
	n->ino = 0;
	return 0;
}

static struct node *add(struct tree *t, struct node *dir, const char *name, uint32_t ino,
			uint32_t mode)
{
	struct node *n = tree_new_node(t, ino, mode);
	if (!n || tree_add(t, dir, name, strlen(name), n) < 0)
		return NULL;
	return n;
}

static bool released_has(const struct released *r, uint32_t ino)
{
	for (size_t i = 0; i < r->n && i < 64; i++)
		if (r->inos[i] == ino)
			return true;
	return false;
}

TEST(lookup_finds_names_per_directory)
{
	struct tree t;
	ASSERT_EQ(tree_init(&t, 2, 0755), 0);
	struct node *a = add(&t, t.root, "a", 11, S_IFDIR | 0755);
	struct node *f = add(&t, a, "f", 12, S_IFREG | 0644);
	ASSERT_TRUE(a && f);
	EXPECT_TRUE(tree_lookup(&t, t.root, "a", 1)->child == a);
	EXPECT_TRUE(tree_lookup(&t, a, "f", 1)->child == f);
	/* The same name in another directory is another name. */
	EXPECT_TRUE(tree_lookup(&t, t.root, "f", 1) == NULL);
	EXPECT_TRUE(tree_lookup(&t, a, "a", 1) == NULL);
	EXPECT_EQ(t.root->dir->nsubdirs, 1);
	EXPECT_TRUE(a->dir->parent == t.root);
	tree_free(&t);
}

TEST(entries_keep_insertion_order)
{
	struct tree t;
	ASSERT_EQ(tree_init(&t, 2, 0755), 0);
	const char *names[] = { "zeta", "alpha", "mid", "b" };
	for (uint32_t i = 0; i < 4; i++)
		ASSERT_TRUE(add(&t, t.root, names[i], 20 + i, S_IFREG | 0644));
	uint32_t i = 0;
	for (struct dentry *d = t.root->dir->first; d; d = d->next, i++)
		EXPECT_STREQ(d->name, names[i]);
	EXPECT_EQ(i, 4);
	tree_free(&t);
}

TEST(hard_links_share_a_node_and_count_names)
{
	struct tree t;
	struct released rel = { 0 };
	ASSERT_EQ(tree_init(&t, 2, 0755), 0);
	struct node *f = add(&t, t.root, "f", 12, S_IFREG | 0644);
	ASSERT_EQ(tree_add(&t, t.root, "g", 1, f), 0);
	EXPECT_EQ(f->nlink, 2);
	/* Removing one name keeps the inode. */
	ASSERT_EQ(tree_remove(&t, tree_lookup(&t, t.root, "f", 1), note_release, &rel), 0);
	EXPECT_EQ(rel.n, 0);
	EXPECT_EQ(f->nlink, 1);
	EXPECT_TRUE(tree_lookup(&t, t.root, "g", 1)->child == f);
	/* Removing the last releases it. */
	ASSERT_EQ(tree_remove(&t, tree_lookup(&t, t.root, "g", 1), note_release, &rel), 0);
	EXPECT_EQ(rel.n, 1);
	EXPECT_EQ(rel.inos[0], 12);
	tree_free(&t);
}

TEST(removing_a_directory_releases_its_subtree_once_each)
{
	struct tree t;
	struct released rel = { 0 };
	ASSERT_EQ(tree_init(&t, 2, 0755), 0);
	struct node *d = add(&t, t.root, "d", 11, S_IFDIR | 0755);
	struct node *e = add(&t, d, "e", 12, S_IFDIR | 0755);
	struct node *f = add(&t, e, "f", 13, S_IFREG | 0644);
	ASSERT_TRUE(add(&t, d, "g", 14, S_IFLNK | 0777));
	/* f is also linked from outside the subtree: it must survive. */
	ASSERT_EQ(tree_add(&t, t.root, "keep", 4, f), 0);
	ASSERT_EQ(tree_remove(&t, tree_lookup(&t, t.root, "d", 1), note_release, &rel), 0);
	EXPECT_EQ(rel.n, 3);
	EXPECT_TRUE(released_has(&rel, 11));
	EXPECT_TRUE(released_has(&rel, 12));
	EXPECT_TRUE(released_has(&rel, 14));
	EXPECT_FALSE(released_has(&rel, 13));
	EXPECT_EQ(f->nlink, 1);
	EXPECT_EQ(t.root->dir->nsubdirs, 0);
	EXPECT_EQ(t.count, 1);
	tree_free(&t);
}

TEST(many_names_survive_table_growth)
{
	struct tree t;
	ASSERT_EQ(tree_init(&t, 2, 0755), 0);
	char name[32];
	for (uint32_t i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "file-%u", i);
		ASSERT_TRUE(add(&t, t.root, name, 100 + i, S_IFREG | 0644));
	}
	EXPECT_EQ(t.root->dir->nentries, 20000);
	for (uint32_t i = 0; i < 20000; i += 997) {
		snprintf(name, sizeof(name), "file-%u", i);
		struct dentry *d = tree_lookup(&t, t.root, name, strlen(name));
		ASSERT_TRUE(d != NULL);
		EXPECT_EQ(d->child->ino, 100 + i);
	}
	tree_free(&t);
}

TEST(deep_subtree_removal_needs_no_recursion)
{
	struct tree t;
	struct released rel = { 0 };
	ASSERT_EQ(tree_init(&t, 2, 0755), 0);
	struct node *dir = t.root;
	/* Far deeper than any recursion on a default stack would survive. */
	for (uint32_t i = 0; i < 200000; i++) {
		dir = add(&t, dir, "d", 11 + i, S_IFDIR | 0755);
		ASSERT_TRUE(dir != NULL);
	}
	ASSERT_EQ(tree_remove(&t, tree_lookup(&t, t.root, "d", 1), note_release, &rel), 0);
	EXPECT_EQ(rel.n, 200000);
	EXPECT_EQ(t.count, 0);
	tree_free(&t);
}

static int fail_release(void *ctx, struct node *n)
{
	(void)ctx;
	(void)n;
	return -EIO;
}

TEST(release_errors_are_returned)
{
	struct tree t;
	ASSERT_EQ(tree_init(&t, 2, 0755), 0);
	ASSERT_TRUE(add(&t, t.root, "f", 12, S_IFREG | 0644));
	EXPECT_EQ(tree_remove(&t, tree_lookup(&t, t.root, "f", 1), fail_release, NULL), -EIO);
	tree_free(&t);
}

TAP_MAIN()
