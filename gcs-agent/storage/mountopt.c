/* SPDX-License-Identifier: MIT */
#include "storage/mountopt.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

int mountopt_check_path(const char *path, struct error *err)
{
	if (!path || !*path)
		return error_setx(err, EINVAL, "empty mount path");
	if (path[0] != '/')
		return error_setx(err, EINVAL, "mount path `%s` is not absolute", path);
	size_t len = strnlen(path, PATH_MAX);
	if (len >= PATH_MAX)
		return error_setx(err, ENAMETOOLONG, "mount path longer than %d bytes", PATH_MAX - 1);
	if (len == 1)
		return error_setx(err, EINVAL, "cannot mount over /");
	/* Walk the components: every one must be a real name. */
	const char *p = path + 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0)
			return error_setx(err, EINVAL, "mount path `%s` has an empty component",
					  path);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return error_setx(err, EINVAL, "mount path `%s` has a `%.*s` component",
					  path, (int)n, p);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return error_setx(err, EINVAL,
						  "mount path has a control character");
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

/* hcsshim's flag table (internal/guest/storage/mount.go): set or clear. */
static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} flag_opts[] = {
	{ "acl", false, MS_POSIXACL },
	{ "async", true, MS_SYNCHRONOUS },
	{ "atime", true, MS_NOATIME },
	{ "bind", false, MS_BIND },
	{ "defaults", false, 0 },
	{ "dev", true, MS_NODEV },
	{ "diratime", true, MS_NODIRATIME },
	{ "dirsync", false, MS_DIRSYNC },
	{ "exec", true, MS_NOEXEC },
	{ "iversion", false, MS_I_VERSION },
	{ "lazytime", false, MS_LAZYTIME },
	{ "loud", true, MS_SILENT },
	{ "mand", false, MS_MANDLOCK },
	{ "noacl", true, MS_POSIXACL },
	{ "noatime", false, MS_NOATIME },
	{ "nodev", false, MS_NODEV },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "noexec", false, MS_NOEXEC },
	{ "noiversion", true, MS_I_VERSION },
	{ "nolazytime", true, MS_LAZYTIME },
	{ "nomand", true, MS_MANDLOCK },
	{ "norelatime", true, MS_RELATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
	{ "nosuid", false, MS_NOSUID },
	{ "rbind", false, MS_BIND | MS_REC },
	{ "relatime", false, MS_RELATIME },
	{ "remount", false, MS_REMOUNT },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "silent", false, MS_SILENT },
	{ "strictatime", false, MS_STRICTATIME },
	{ "suid", true, MS_NOSUID },
	{ "sync", false, MS_SYNCHRONOUS },
};

static const struct {
	const char *name;
	unsigned long flag;
} propagation_opts[] = {
	{ "private", MS_PRIVATE },
	{ "shared", MS_SHARED },
	{ "slave", MS_SLAVE },
	{ "unbindable", MS_UNBINDABLE },
	{ "rprivate", MS_PRIVATE | MS_REC },
	{ "rshared", MS_SHARED | MS_REC },
	{ "rslave", MS_SLAVE | MS_REC },
	{ "runbindable", MS_UNBINDABLE | MS_REC },
};

void mountopt_init(struct mountopt *o)
{
	memset(o, 0, sizeof(*o));
}

int mountopt_add_data(struct mountopt *o, const char *opt, struct error *err)
{
	size_t used = strlen(o->data), n = strlen(opt);
	size_t need = used + (used ? 1 : 0) + n;
	if (need >= sizeof(o->data))
		return error_setx(err, E2BIG, "mount options longer than %zu bytes",
				  sizeof(o->data) - 1);
	if (used)
		o->data[used++] = ',';
	memcpy(o->data + used, opt, n + 1);
	return 0;
}

int mountopt_add(struct mountopt *o, const char *opt, struct error *err)
{
	if (!opt || !*opt)
		return error_setx(err, EINVAL, "empty mount option");
	if (strchr(opt, ','))
		return error_setx(err, EINVAL, "mount option `%s` holds a ','", opt);
	for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++) {
		if (strcmp(opt, flag_opts[i].name) != 0)
			continue;
		/* hcsshim skips entries whose flag is 0 ("defaults") here and
		 * hands them to the data; mount(2) data would then reject it,
		 * so it is simply a no-op. */
		if (flag_opts[i].clear)
			o->flags &= ~flag_opts[i].flag;
		else
			o->flags |= flag_opts[i].flag;
		return 0;
	}
	for (size_t i = 0; i < sizeof(propagation_opts) / sizeof(propagation_opts[0]); i++) {
		if (strcmp(opt, propagation_opts[i].name) != 0)
			continue;
		if (o->n_propagation >= MOUNTOPT_MAX_PROPAGATION)
			return error_setx(err, E2BIG, "more than %d propagation options",
					  MOUNTOPT_MAX_PROPAGATION);
		o->propagation[o->n_propagation++] = propagation_opts[i].flag;
		return 0;
	}
	return mountopt_add_data(o, opt, err);
}

int mountopt_9p(char *buf, size_t size, int fd, const char *share, bool read_only,
		struct error *err)
{
	if (share) {
		for (const char *c = share; *c; c++)
			if (*c == ',' || (unsigned char)*c < 0x20 || *c == 0x7f)
				return error_setx(err, EINVAL,
						  "share name holds ',' or a control character");
	}
	int n = snprintf(buf, size, "trans=fd,rfdno=%d,wfdno=%d,msize=%d%s%s%s", fd, fd,
			 STORAGE_9P_MSIZE, read_only ? ",noload" : "",
			 share && *share ? ",aname=" : "", share && *share ? share : "");
	if (n < 0 || (size_t)n >= size)
		return error_setx(err, E2BIG, "9p options longer than %zu bytes", size - 1);
	return 0;
}
