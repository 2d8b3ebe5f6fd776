/* SPDX-License-Identifier: MIT */
#include "lcow/fs.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

int mkdir_p(const char *path, mode_t mode, struct error *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	struct stat st;

	if (len == 0)
		return error_setx(err, EINVAL, "mkdir: empty path");
	if (len >= sizeof(buf))
		return error_set(err, ENAMETOOLONG, "mkdir %.64s...", path);
	memcpy(buf, path, len + 1);

	for (char *p = buf + 1;; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		/* mkdir reports EEXIST before EROFS, so an existing directory
		 * on a read-only root is fine. */
		if (p[-1] != '/' && mkdir(buf, mode) < 0 && errno != EEXIST)
			return error_set(err, errno, "mkdir %s", buf);
		*p = c;
		if (!c)
			break;
	}
	if (stat(path, &st) < 0)
		return error_set(err, errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return error_set(err, ENOTDIR, "mkdir %s", path);
	return 0;
}
