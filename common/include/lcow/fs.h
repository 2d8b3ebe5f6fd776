/* SPDX-License-Identifier: MIT */
/* File-system helpers shared by the guest programs (init, the agent). */
#ifndef LCOW_FS_H
#define LCOW_FS_H

#include <sys/types.h>

#include "lcow/error.h"

/* mkdir -p: create path and its missing parents, each with mode.  Fine if
 * path exists as a directory (also on a read-only file system); ENOTDIR if
 * it exists as something else.  Safe in a forked child (no allocation). */
int mkdir_p(const char *path, mode_t mode, struct error *err);

#endif
