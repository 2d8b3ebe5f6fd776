/* SPDX-License-Identifier: MIT */
/* Placeholder until the storage resources land: every request is refused
 * cleanly with -ENOSYS ("not implemented" on the wire). */
#include "storage/storage.h"

#include <errno.h>
#include <stdlib.h>

struct storage {
	struct loop *loop;
};

int storage_new(struct loop *loop, struct storage **out, struct error *err)
{
	struct storage *st = calloc(1, sizeof(*st));
	if (!st)
		return error_set(err, ENOMEM, "storage");
	st->loop = loop;
	*out = st;
	return 0;
}

void storage_free(struct storage *st)
{
	free(st);
}

int storage_modify(struct storage *st, const struct msg_modify *m, struct error *err)
{
	(void)st;
	return error_setx(err, ENOSYS, "%s is not implemented yet", m->resource_type);
}

void storage_describe(const struct storage *st, FILE *out)
{
	(void)st;
	fprintf(out, "storage: none\n");
}
