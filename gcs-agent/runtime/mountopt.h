/* SPDX-License-Identifier: MIT */
/*
 * Mount option strings as OCI mounts carry them ("ro", "rbind", "rslave",
 * "size=64m", ...) turned into mount(2) flags, propagation and the data
 * string; and the overlay option string of a CombinedLayers request.
 * Pure functions: no mounts happen here.
 */
#ifndef GCS_RUNTIME_MOUNTOPT_H
#define GCS_RUNTIME_MOUNTOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "lcow/error.h"

struct mount_opts {
	unsigned long flags;		/* MS_RDONLY, MS_NOSUID, ... to set */
	unsigned long propagation;	/* MS_PRIVATE/SHARED/SLAVE/UNBINDABLE [| MS_REC], or 0 */
	bool bind;			/* "bind" or "rbind" */
	bool recursive;			/* "rbind" */
	char data[1024];		/* the options mount(2) does not know, comma-joined */
};

/* Parse n option strings.  Unknown options go to data (the file system
 * decides); -EINVAL when data would overflow or an option is empty. */
int mount_opts_parse(const char *const *opts, size_t n, struct mount_opts *out,
		     struct error *err);

/* "lowerdir=A:B,upperdir=U,workdir=W" (upper/work NULL: read-only
 * overlay).  Paths must be absolute and free of ',' and ':' (overlayfs
 * splits at them); the result must fit in one page, the limit of mount(2)
 * data.  *out is malloc'd. */
int overlay_options(const char *const *lower, size_t n_lower, const char *upper,
		    const char *work, char **out, struct error *err);

#endif
