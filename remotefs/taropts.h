/* SPDX-License-Identifier: MIT */
/*
 * The options archivepath and extractarchive read first on stdin, as
 * opengcs did: a big-endian u64 length, then that many bytes of JSON, the
 * host's serialised archive.TarOptions (github.com/docker/docker/pkg/archive).
 * Keys match case-insensitively, as Go's encoding/json does.
 */
#ifndef REMOTEFS_TAROPTS_H
#define REMOTEFS_TAROPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"
#include "tar.h"

/* The JSON may not be longer than this. */
#define TAR_OPTIONS_MAX (1u << 20)

enum {
	WHITEOUT_AUFS = 0,    /* .wh.NAME files (extract: applied as deletions) */
	WHITEOUT_OVERLAY = 1, /* 0/0 char devices and trusted.overlay.opaque */
};

struct idmap {
	int64_t container_id, host_id, size;
};

struct tar_options {
	char **include_files;
	size_t n_include_files;
	char **exclude_patterns;
	size_t n_exclude_patterns;
	int64_t compression;
	bool no_lchown;
	struct idmap *uid_maps, *gid_maps;
	size_t n_uid_maps, n_gid_maps;
	bool has_chown;
	int64_t chown_uid, chown_gid;
	bool include_source_dir;
	int64_t whiteout_format;
	bool no_overwrite_dir_non_dir;
	char **rebase_from, **rebase_to;
	size_t n_rebase;
};

/* Parse the JSON text (null = all defaults). */
int tar_options_parse(const char *json, size_t len, struct tar_options *o, struct error *err);
/* Read length + JSON from the stream and parse it. */
int tar_options_read(struct tar_reader *r, struct tar_options *o, struct error *err);
void tar_options_free(struct tar_options *o);

/* Map an id through UIDMaps/GIDMaps: to the container's view (archiving)
 * or the host's (extracting).  No maps: unchanged.  -EINVAL if unmapped. */
int idmap_to_container(const struct idmap *m, size_t n, uint64_t id, uint64_t *out);
int idmap_to_host(const struct idmap *m, size_t n, uint64_t id, uint64_t *out);

#endif
