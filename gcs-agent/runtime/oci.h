/* SPDX-License-Identifier: MIT */
/*
 * The OCI runtime spec (config.md, config-linux.md) as the agent uses it:
 * parsed from the JSON the host sends into flat C structs.  Strings are
 * borrowed from the JSON document, which the struct keeps a reference to;
 * oci_*_free() releases both.  Pure: nothing here touches the system.
 *
 * Field rules are Go's encoding/json ones (protocol/json.h): missing and
 * null are zero values, wrong types are errors (-EBADMSG).
 */
#ifndef GCS_RUNTIME_OCI_H
#define GCS_RUNTIME_OCI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caps.h"
#include "cgroup.h"
#include "lcow/error.h"
#include "mountopt.h"

struct oci_rlimit {
	int resource;			/* RLIMIT_* */
	uint64_t soft, hard;
};

struct oci_process {
	json_t *doc;			/* owned reference */
	const char **args;		/* NULL-terminated, malloc'd array */
	size_t n_args;
	const char **env;		/* NULL-terminated */
	size_t n_env;
	const char *cwd;		/* "" = "/" */
	bool terminal;
	uint16_t console_height, console_width;
	uint32_t uid, gid;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	const char *username;		/* user.username, "" if none */
	bool has_caps;			/* no capabilities object: the caller's set is kept */
	struct caps caps;
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
};

struct oci_mount {
	const char *destination, *type, *source;
	struct mount_opts opts;
};

struct oci_namespace {
	int type;			/* CLONE_NEWNS, CLONE_NEWPID, ... */
	const char *path;		/* "" = new */
};

struct oci_device {
	const char *path;
	char type;			/* 'c', 'b', 'u', 'p' */
	int64_t major, minor;
	uint32_t mode;			/* 0 = 0666 */
	uint32_t uid, gid;
};

struct oci_sysctl {
	const char *key, *value;
};

#define OCI_MAX_NAMESPACES 8

struct oci_spec {
	json_t *doc;			/* owned reference */
	bool has_process;
	struct oci_process process;
	const char *root_path;
	bool root_readonly;
	const char *hostname;
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_namespace ns[OCI_MAX_NAMESPACES];
	size_t n_ns;
	struct cgroup_resources resources;
	const char **masked_paths, **readonly_paths;
	size_t n_masked, n_readonly;
	struct oci_device *devices;
	size_t n_devices;
	struct oci_sysctl *sysctl;
	size_t n_sysctl;
	unsigned long rootfs_propagation;	/* 0 = rslave, runc's default */
	json_t *seccomp;		/* linux.seccomp (borrowed) or NULL */
};

/* CLONE_NEW* for an OCI namespace type name, 0 if unknown. */
int oci_namespace_type(const char *name);
/* RLIMIT_* for "RLIMIT_NOFILE", or -1. */
int oci_rlimit_type(const char *name);

int oci_spec_parse(json_t *doc, struct oci_spec *spec, struct error *err);
void oci_spec_free(struct oci_spec *spec);

int oci_process_parse(json_t *doc, struct oci_process *p, struct error *err);
void oci_process_free(struct oci_process *p);

/* The namespace of type in spec, or NULL when the container shares the
 * utility VM's. */
const struct oci_namespace *oci_spec_namespace(const struct oci_spec *spec, int type);

#endif
