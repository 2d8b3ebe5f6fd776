/* SPDX-License-Identifier: MIT */
#include "pathset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static size_t find(const struct pathset *set, const char *s)
{
	size_t i = (size_t)hash(s) & (set->cap - 1);
	while (set->slots[i] && strcmp(set->slots[i], s) != 0)
		i = (i + 1) & (set->cap - 1);
	return i;
}

static int grow(struct pathset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 64;
	if (cap > SIZE_MAX / sizeof(char *))
		return -ENOMEM;
	struct pathset n = { calloc(cap, sizeof(char *)), calloc(cap, sizeof(void *)), cap, 0 };
	if (!n.slots || !n.values) {
		free(n.slots);
		free(n.values);
		return -ENOMEM;
	}
	for (size_t i = 0; i < set->cap; i++) {
		if (!set->slots[i])
			continue;
		size_t j = find(&n, set->slots[i]);
		n.slots[j] = set->slots[i];
		n.values[j] = set->values[i];
		n.count++;
	}
	free(set->slots);
	free(set->values);
	*set = n;
	return 0;
}

int pathset_add(struct pathset *set, const char *s, void *value)
{
	if ((set->count + 1) * 10 > set->cap * 7) {
		int r = grow(set);
		if (r < 0)
			return r;
	}
	size_t i = find(set, s);
	if (set->slots[i])
		return 0;
	if (!(set->slots[i] = strdup(s)))
		return -ENOMEM;
	set->values[i] = value;
	set->count++;
	return 1;
}

bool pathset_has(const struct pathset *set, const char *s)
{
	return set->cap && set->slots[find(set, s)];
}

void *pathset_get(const struct pathset *set, const char *s)
{
	if (!set->cap)
		return NULL;
	size_t i = find(set, s);
	return set->slots[i] ? set->values[i] : NULL;
}

void pathset_free(struct pathset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
	free(set->values);
	memset(set, 0, sizeof(*set));
}
