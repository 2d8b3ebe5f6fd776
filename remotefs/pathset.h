/* SPDX-License-Identifier: MIT */
/* A set of strings (open addressing, FNV-1a): the paths an extraction
 * unpacked, the names an archive already holds. */
#ifndef REMOTEFS_PATHSET_H
#define REMOTEFS_PATHSET_H

#include <stdbool.h>
#include <stddef.h>

struct pathset {
	char **slots;
	void **values;
	size_t cap, count;
};

/* Add a copy of s with an optional value; 1 if added, 0 if present
 * (the value is kept), -ENOMEM. */
int pathset_add(struct pathset *set, const char *s, void *value);
bool pathset_has(const struct pathset *set, const char *s);
/* The value stored with s, or NULL. */
void *pathset_get(const struct pathset *set, const char *s);
/* Frees the strings; values are the caller's. */
void pathset_free(struct pathset *set);

#endif
