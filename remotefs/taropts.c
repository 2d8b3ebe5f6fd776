/* SPDX-License-Identifier: MIT */
#include "taropts.h"

#include <endian.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lcow/cleanup.h"
#include "rfs.h"

/* Go's encoding/json: an exact key match, else a case-insensitive one. */
static json_t *get(json_t *obj, const char *const *names)
{
	for (const char *const *n = names; *n; n++) {
		json_t *v = json_object_get(obj, *n);
		if (v)
			return v;
	}
	const char *key;
	json_t *v;
	json_object_foreach (obj, key, v)
		for (const char *const *n = names; *n; n++)
			if (strcasecmp(key, *n) == 0)
				return v;
	return NULL;
}

#define KEYS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int type_error(struct error *err, const char *field, const char *want)
{
	return error_setx(err, RFS_E_PLAIN, "json: cannot unmarshal TarOptions.%s: want %s", field,
			  want);
}

static int get_bool(json_t *obj, const char *name, bool *out, struct error *err)
{
	json_t *v = get(obj, KEYS(name));
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return type_error(err, name, "a boolean");
	*out = json_is_true(v);
	return 0;
}

static int get_int(json_t *obj, const char *const *names, int64_t *out, struct error *err)
{
	json_t *v = get(obj, names);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return type_error(err, names[0], "an integer");
	*out = json_integer_value(v);
	return 0;
}

static int get_strings(json_t *obj, const char *name, char ***out, size_t *n, struct error *err)
{
	json_t *v = get(obj, KEYS(name));
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return type_error(err, name, "an array of strings");
	size_t count = json_array_size(v);
	char **list = calloc(count ? count : 1, sizeof(*list));
	if (!list)
		return error_set(err, ENOMEM, "tar options");
	*out = list;
	for (size_t i = 0; i < count; i++) {
		json_t *s = json_array_get(v, i);
		if (!json_is_string(s))
			return type_error(err, name, "an array of strings");
		if (!(list[i] = strdup(json_string_value(s))))
			return error_set(err, ENOMEM, "tar options");
		*n = i + 1;
	}
	return 0;
}

static int get_maps(json_t *obj, const char *name, struct idmap **out, size_t *n,
		    struct error *err)
{
	json_t *v = get(obj, KEYS(name));
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return type_error(err, name, "an array of id maps");
	size_t count = json_array_size(v);
	struct idmap *maps = calloc(count ? count : 1, sizeof(*maps));
	if (!maps)
		return error_set(err, ENOMEM, "tar options");
	*out = maps;
	*n = count;
	for (size_t i = 0; i < count; i++) {
		json_t *m = json_array_get(v, i);
		int r;
		if (!json_is_object(m))
			return type_error(err, name, "an array of id maps");
		/* idtools.IDMap has json tags; accept the field names too. */
		if ((r = get_int(m, KEYS("container_id", "ContainerID"), &maps[i].container_id,
				 err)) < 0 ||
		    (r = get_int(m, KEYS("host_id", "HostID"), &maps[i].host_id, err)) < 0 ||
		    (r = get_int(m, KEYS("size", "Size"), &maps[i].size, err)) < 0)
			return r;
		if (maps[i].size < 0 || maps[i].container_id < 0 || maps[i].host_id < 0)
			return type_error(err, name, "non-negative ids");
	}
	return 0;
}

int tar_options_parse(const char *text, size_t len, struct tar_options *o, struct error *err)
{
	json_error_t jerr;
	memset(o, 0, sizeof(*o));
	json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (!root)
		return error_setx(err, RFS_E_PLAIN, "tar options: invalid JSON: %s", jerr.text);
	int r = 0;
	if (json_is_null(root))
		goto out;
	if (!json_is_object(root)) {
		r = type_error(err, "", "an object");
		goto out;
	}
	if ((r = get_strings(root, "IncludeFiles", &o->include_files, &o->n_include_files, err)) <
		    0 ||
	    (r = get_strings(root, "ExcludePatterns", &o->exclude_patterns,
			     &o->n_exclude_patterns, err)) < 0 ||
	    (r = get_int(root, KEYS("Compression"), &o->compression, err)) < 0 ||
	    (r = get_bool(root, "NoLchown", &o->no_lchown, err)) < 0 ||
	    (r = get_maps(root, "UIDMaps", &o->uid_maps, &o->n_uid_maps, err)) < 0 ||
	    (r = get_maps(root, "GIDMaps", &o->gid_maps, &o->n_gid_maps, err)) < 0 ||
	    (r = get_bool(root, "IncludeSourceDir", &o->include_source_dir, err)) < 0 ||
	    (r = get_int(root, KEYS("WhiteoutFormat"), &o->whiteout_format, err)) < 0 ||
	    (r = get_bool(root, "NoOverwriteDirNonDir", &o->no_overwrite_dir_non_dir, err)) < 0)
		goto out;

	json_t *chown = get(root, KEYS("ChownOpts"));
	if (chown && !json_is_null(chown)) {
		if (!json_is_object(chown)) {
			r = type_error(err, "ChownOpts", "an object");
			goto out;
		}
		if ((r = get_int(chown, KEYS("UID"), &o->chown_uid, err)) < 0 ||
		    (r = get_int(chown, KEYS("GID"), &o->chown_gid, err)) < 0)
			goto out;
		o->has_chown = true;
	}

	json_t *rebase = get(root, KEYS("RebaseNames"));
	if (rebase && !json_is_null(rebase)) {
		if (!json_is_object(rebase)) {
			r = type_error(err, "RebaseNames", "an object of strings");
			goto out;
		}
		size_t count = json_object_size(rebase);
		o->rebase_from = calloc(count ? count : 1, sizeof(char *));
		o->rebase_to = calloc(count ? count : 1, sizeof(char *));
		if (!o->rebase_from || !o->rebase_to) {
			r = error_set(err, ENOMEM, "tar options");
			goto out;
		}
		const char *key;
		json_t *v;
		json_object_foreach (rebase, key, v) {
			if (!json_is_string(v)) {
				r = type_error(err, "RebaseNames", "an object of strings");
				goto out;
			}
			o->rebase_from[o->n_rebase] = strdup(key);
			o->rebase_to[o->n_rebase] = strdup(json_string_value(v));
			o->n_rebase++;
			if (!o->rebase_from[o->n_rebase - 1] || !o->rebase_to[o->n_rebase - 1]) {
				r = error_set(err, ENOMEM, "tar options");
				goto out;
			}
		}
	}
	if (o->whiteout_format != WHITEOUT_AUFS && o->whiteout_format != WHITEOUT_OVERLAY)
		r = error_setx(err, EINVAL, "tar options: unknown WhiteoutFormat %lld",
			       (long long)o->whiteout_format);
out:
	json_decref(root);
	if (r < 0)
		tar_options_free(o);
	return r;
}

int tar_options_read(struct tar_reader *rd, struct tar_options *o, struct error *err)
{
	uint64_t be;
	memset(o, 0, sizeof(*o));
	int r = tar_read_raw(rd, &be, sizeof(be));
	if (r == -EPIPE)
		return error_setx(err, RFS_E_EOF, "EOF");
	if (r < 0)
		return error_set(err, -r, "read tar options");
	uint64_t len = be64toh(be);
	if (len > TAR_OPTIONS_MAX)
		return error_setx(err, EINVAL, "tar options: %llu bytes of JSON is too long",
				  (unsigned long long)len);
	_cleanup_free_ char *text = malloc(len ? (size_t)len : 1);
	if (!text)
		return error_set(err, ENOMEM, "read tar options");
	r = tar_read_raw(rd, text, (size_t)len);
	if (r == -EPIPE)
		return error_setx(err, RFS_E_PLAIN, "unexpected EOF");
	if (r < 0)
		return error_set(err, -r, "read tar options");
	return tar_options_parse(text, (size_t)len, o, err);
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void tar_options_free(struct tar_options *o)
{
	free_list(o->include_files, o->n_include_files);
	free_list(o->exclude_patterns, o->n_exclude_patterns);
	free(o->uid_maps);
	free(o->gid_maps);
	free_list(o->rebase_from, o->n_rebase);
	free_list(o->rebase_to, o->n_rebase);
	memset(o, 0, sizeof(*o));
}

static int idmap(const struct idmap *m, size_t n, uint64_t id, uint64_t *out, bool to_host)
{
	if (n == 0) {
		*out = id;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t from = (uint64_t)(to_host ? m[i].container_id : m[i].host_id);
		uint64_t to = (uint64_t)(to_host ? m[i].host_id : m[i].container_id);
		if (id >= from && id - from < (uint64_t)m[i].size) {
			*out = id - from + to;
			return 0;
		}
	}
	return -EINVAL;
}

int idmap_to_container(const struct idmap *m, size_t n, uint64_t id, uint64_t *out)
{
	return idmap(m, n, id, out, false);
}

int idmap_to_host(const struct idmap *m, size_t n, uint64_t id, uint64_t *out)
{
	return idmap(m, n, id, out, true);
}
