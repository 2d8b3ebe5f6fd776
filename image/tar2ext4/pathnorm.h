/* SPDX-License-Identifier: MIT */
/*
 * Tar member names -> paths inside the image.  Purely lexical: nothing is
 * resolved through the tree, so a symlink inside the image can never
 * redirect a later entry (see tar2ext4's README, "Hostile archives").
 */
#ifndef T2E_PATHNORM_H
#define T2E_PATHNORM_H

#include <stdbool.h>
#include <stddef.h>

#include "lcow/error.h"

/* ext4's limit for one directory entry name. */
#define T2E_NAME_MAX 255

/*
 * Normalise name into a malloc'd relative path ("" for the image root):
 * with convert_backslash, every `\` becomes `/` first; then leading `/`,
 * empty and `.` components are dropped and `..` removes the previous
 * component.  A `..` with nothing left to remove would climb above the
 * root: -EINVAL.  A component longer than T2E_NAME_MAX bytes: -ENAMETOOLONG.
 */
int path_normalize(const char *name, bool convert_backslash, char **out, struct error *err);

/* In a normalised path, the last component (the whole path when it has no
 * `/`) and the length of the parent prefix before its `/` (0 at top). */
const char *path_basename(const char *path, size_t *parent_len);

#endif
