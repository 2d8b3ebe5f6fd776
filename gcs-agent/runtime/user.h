/* SPDX-License-Identifier: MIT */
/*
 * Who a container process runs as: `docker run --user` strings ("name",
 * "uid", "name:group", "uid:gid", ...) and OCI user objects resolved
 * against the text of the container's own /etc/passwd and /etc/group.
 * Pure: the caller reads the files (inside the container's root) and
 * passes their text; NULL text means the file does not exist.
 *
 * The rules follow hcsshim's guest (ParseUserStr) and runc:
 *   - a name must exist in the file; a numeric uid need not (gid then 0
 *     unless given);
 *   - supplementary groups are the OCI additionalGids, plus, when the group
 *     was not given explicitly and the user has a passwd entry, every group
 *     that lists the user by name (runc's implicit form, what `docker run
 *     --user name` gives on Linux);
 *   - HOME is the passwd home, or "/" without an entry.
 */
#ifndef GCS_RUNTIME_USER_H
#define GCS_RUNTIME_USER_H

#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"

#define USER_MAX_GROUPS 64
#define USER_FILE_MAX (4u << 20)	/* larger passwd/group files are refused */

struct user_request {
	const char *userstr;		/* "user[:group]", NULL or "" = use uid/gid */
	uint32_t uid, gid;		/* the OCI numbers, when userstr is empty */
	const uint32_t *additional_gids;
	size_t n_additional_gids;
};

struct user_result {
	uint32_t uid, gid;
	uint32_t groups[USER_MAX_GROUPS];
	size_t n_groups;
	char home[256];
	char name[64];			/* "" without a passwd entry */
};

int user_resolve(const char *passwd_text, const char *group_text, const struct user_request *req,
		 struct user_result *out, struct error *err);

#endif
