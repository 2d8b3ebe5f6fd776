/* SPDX-License-Identifier: MIT */
#include "mountopt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "lcow/cleanup.h"

/* MS_* values musl may lack in old headers. */
#ifndef MS_LAZYTIME
#define MS_LAZYTIME (1 << 25)
#endif

static const struct {
	const char *name;
	bool clear;		/* the option clears the flag ("rw", "suid", ...) */
	unsigned long flag;
} flag_opts[] = {
	{ "defaults", false, 0 },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },
	{ "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },
	{ "exec", true, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "dirsync", false, MS_DIRSYNC },
	{ "remount", false, MS_REMOUNT },
	{ "mand", false, MS_MANDLOCK },
	{ "nomand", true, MS_MANDLOCK },
	{ "atime", true, MS_NOATIME },
	{ "noatime", false, MS_NOATIME },
	{ "diratime", true, MS_NODIRATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME },
	{ "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
	{ "lazytime", false, MS_LAZYTIME },
	{ "nolazytime", true, MS_LAZYTIME },
	{ "silent", false, MS_SILENT },
	{ "loud", true, MS_SILENT },
};

static const struct {
	const char *name;
	unsigned long flags;
} propagation_opts[] = {
	{ "private", MS_PRIVATE },
	{ "rprivate", MS_PRIVATE | MS_REC },
	{ "shared", MS_SHARED },
	{ "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },
	{ "rslave", MS_SLAVE | MS_REC },
	{ "unbindable", MS_UNBINDABLE },
	{ "runbindable", MS_UNBINDABLE | MS_REC },
};

int mount_opts_parse(const char *const *opts, size_t n, struct mount_opts *out,
		     struct error *err)
{
	memset(out, 0, sizeof(*out));
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const char *o = opts[i];
		bool known = false;
		if (!o || !*o)
			return error_setx(err, EINVAL, "mount option %zu is empty", i);
		if (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0) {
			out->bind = true;
			out->recursive |= o[0] == 'r';
			continue;
		}
		/* runc's own option: copy the image's files into a fresh tmpfs.
		 * Not supported; the tmpfs starts empty as without it. */
		if (strcmp(o, "tmpcopyup") == 0)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(flag_opts) && !known; k++) {
			if (strcmp(o, flag_opts[k].name) == 0) {
				if (flag_opts[k].clear)
					out->flags &= ~flag_opts[k].flag;
				else
					out->flags |= flag_opts[k].flag;
				known = true;
			}
		}
		for (size_t k = 0; k < ARRAY_SIZE(propagation_opts) && !known; k++) {
			if (strcmp(o, propagation_opts[k].name) == 0) {
				out->propagation = propagation_opts[k].flags;
				known = true;
			}
		}
		if (known)
			continue;
		size_t len = strlen(o);
		if (used + (used ? 1 : 0) + len >= sizeof(out->data))
			return error_setx(err, EINVAL, "mount options too long at `%s`", o);
		if (used)
			out->data[used++] = ',';
		memcpy(out->data + used, o, len + 1);
		used += len;
	}
	return 0;
}

static int check_overlay_path(const char *what, const char *p, struct error *err)
{
	if (!p || p[0] != '/')
		return error_setx(err, EINVAL, "overlay %s `%s` is not an absolute path", what,
				  p ? p : "");
	if (strpbrk(p, ",:"))
		return error_setx(err, EINVAL, "overlay %s `%s` contains ',' or ':'", what, p);
	return 0;
}

int overlay_options(const char *const *lower, size_t n_lower, const char *upper,
		    const char *work, char **out, struct error *err)
{
	int r;
	if (n_lower == 0)
		return error_setx(err, EINVAL, "an overlay needs at least one layer");
	if (!upper != !work)
		return error_setx(err, EINVAL, "overlay upperdir and workdir go together");
	size_t len = strlen("lowerdir=");
	for (size_t i = 0; i < n_lower; i++) {
		if ((r = check_overlay_path("layer", lower[i], err)) < 0)
			return r;
		len += strlen(lower[i]) + 1;
	}
	if (upper) {
		if ((r = check_overlay_path("upperdir", upper, err)) < 0 ||
		    (r = check_overlay_path("workdir", work, err)) < 0)
			return r;
		len += strlen(",upperdir=") + strlen(upper) + strlen(",workdir=") + strlen(work);
	}
	/* mount(2) copies at most one page of data. */
	if (len >= 4096)
		return error_setx(err, E2BIG,
				  "overlay options for %zu layers are %zu bytes, over the 4095 "
				  "mount(2) takes", n_lower, len);
	_cleanup_free_ char *s = malloc(len + 1);
	if (!s)
		return error_set(err, ENOMEM, "overlay options");
	char *p = stpcpy(s, "lowerdir=");
	for (size_t i = 0; i < n_lower; i++) {
		if (i)
			*p++ = ':';
		p = stpcpy(p, lower[i]);
	}
	if (upper)
		sprintf(p, ",upperdir=%s,workdir=%s", upper, work);
	*out = TAKE_PTR(s);
	return 0;
}
