/* SPDX-License-Identifier: MIT */
#include "pathnorm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lcow/cleanup.h"

int path_normalize(const char *name, bool convert_backslash, char **out, struct error *err)
{
	size_t len = strlen(name);
	_cleanup_free_ char *res = malloc(len + 1);
	if (!res)
		return error_set(err, ENOMEM, "normalise path");

	/* res holds the components kept so far, `/`-separated; o is its
	 * length.  Each component is copied as it is read, so `..` only has
	 * to cut res back to the previous `/`. */
	size_t o = 0;
	const char *p = name;
	while (*p) {
		const char *start = p;
		while (*p && *p != '/' && !(convert_backslash && *p == '\\'))
			p++;
		size_t clen = (size_t)(p - start);
		if (*p)
			p++;
		if (clen == 0 || (clen == 1 && start[0] == '.'))
			continue;
		if (clen == 2 && start[0] == '.' && start[1] == '.') {
			if (o == 0)
				return error_setx(err, EINVAL,
						  "`..` climbs above the image root");
			while (o > 0 && res[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* the separator before the removed component */
			continue;
		}
		if (clen > T2E_NAME_MAX)
			return error_setx(err, ENAMETOOLONG,
					  "name component `%.40s...` is %zu bytes, ext4 allows %d",
					  start, clen, T2E_NAME_MAX);
		if (o > 0)
			res[o++] = '/';
		memcpy(res + o, start, clen);
		o += clen;
	}
	res[o] = '\0';
	*out = TAKE_PTR(res);
	return 0;
}

const char *path_basename(const char *path, size_t *parent_len)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		*parent_len = 0;
		return path;
	}
	*parent_len = (size_t)(slash - path);
	return slash + 1;
}
