/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of storage: checking a MountPath the host sent, turning a
 * MappedVirtualDisk's Options[] into mount(2) flags and data, building the
 * 9p option string.  No fds, no syscalls: host unit tests cover all of it.
 */
#ifndef GCS_STORAGE_MOUNTOPT_H
#define GCS_STORAGE_MOUNTOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "lcow/error.h"

/* hcsshim's guest sizes 9p messages and the socket buffers to this. */
#define STORAGE_9P_MSIZE 65536

/* A MountPath is an absolute path without empty, "." or ".." components
 * (nothing that could climb out of where the host meant it), not "/",
 * shorter than PATH_MAX.  -EINVAL otherwise. */
int mountopt_check_path(const char *path, struct error *err);

#define MOUNTOPT_MAX_PROPAGATION 8
#define MOUNTOPT_DATA_MAX 1024

/* Options[] of a MappedVirtualDisk split the way hcsshim's
 * storage.ParseMountOptions does: known flag names ("ro", "noexec",
 * "nosuid", ...) set or clear MS_* flags, propagation names ("rshared",
 * "private", ...) become remounts after the mount, anything else is
 * file-system data joined with ','. */
struct mountopt {
	unsigned long flags;
	unsigned long propagation[MOUNTOPT_MAX_PROPAGATION];
	size_t n_propagation;
	char data[MOUNTOPT_DATA_MAX];
};

void mountopt_init(struct mountopt *o);
/* Add one option.  -EINVAL for an empty option or one holding ',' (it
 * would smuggle extra options into the data), -E2BIG when data is full. */
int mountopt_add(struct mountopt *o, const char *opt, struct error *err);
/* Append "key" or "key=value" to the data (no parsing of flag names). */
int mountopt_add_data(struct mountopt *o, const char *opt, struct error *err);

/* The 9p options hcsshim's guest mounts a Plan9 share with:
 *   trans=fd,rfdno=FD,wfdno=FD,msize=65536[,noload][,aname=SHARE]
 * ("noload" for a read-only share is hcsshim's; 9p ignores it).  The share
 * name may not hold ',' or control characters.  -E2BIG if size is short. */
int mountopt_9p(char *buf, size_t size, int fd, const char *share, bool read_only,
		struct error *err);

#endif
