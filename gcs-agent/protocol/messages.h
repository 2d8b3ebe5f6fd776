/* SPDX-License-Identifier: MIT */
/*
 * The JSON bodies of the bridge protocol v4 as C structs: a parser per
 * request (field names and types as hcsshim's internal/guest/prot and
 * internal/protocol/guestresource define them) and encoders for the
 * responses and notifications.  Pure data: no fds, no agent state.
 *
 * Parsed strings and json_t pointers are borrowed from the request's root
 * document, except the documents that arrive as JSON text inside a string
 * (ContainerConfig, ProcessParameters, Query): those are owned by the
 * struct and released with its *_release() function.
 */
#ifndef GCS_PROTOCOL_MESSAGES_H
#define GCS_PROTOCOL_MESSAGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lcow/error.h"

/* The fields of every request. */
struct msg_base {
	const char *container_id;
	const char *activity_id;
};
int msg_parse_base(const json_t *root, struct msg_base *m, struct error *err);

/* NegotiateProtocol */
struct msg_negotiate {
	uint32_t minimum_version, maximum_version;
};
int msg_parse_negotiate(const json_t *root, struct msg_negotiate *m, struct error *err);

struct msg_schema_version {
	uint32_t major, minor;
};

/* Create: ContainerConfig is VMHostedContainerSettingsV2 as JSON text. */
struct msg_create {
	json_t *config;			/* owned: the parsed ContainerConfig */
	struct msg_schema_version schema;
	const char *oci_bundle_path;
	json_t *oci_spec;		/* OciSpecification (object) or NULL */
	const char *scratch_dir_path;
};
int msg_parse_create(const json_t *root, struct msg_create *m, struct error *err);
void msg_create_release(struct msg_create *m);

/* ExecuteProcess */
struct msg_process_params {
	json_t *doc;			/* owned: the parsed ProcessParameters */
	const char *command_line;
	json_t *command_args;		/* []string or NULL */
	const char *working_directory;
	json_t *environment;		/* map[string]string or NULL */
	bool emulate_console;
	bool create_stdin, create_stdout, create_stderr;
	bool in_utility_vm;		/* CreateInUtilityVM */
	json_t *oci_specification;	/* object or NULL */
	json_t *oci_process;		/* object or NULL */
};

struct msg_stdio_ports {
	uint32_t in, out, err;		/* 0 = no relay */
};

struct msg_execute {
	struct msg_process_params params;
	struct msg_stdio_ports ports;
};
int msg_parse_execute(const json_t *root, struct msg_execute *m, struct error *err);
void msg_execute_release(struct msg_execute *m);

/* WaitForProcess */
#define MSG_WAIT_INFINITE 0xFFFFFFFFu
struct msg_wait {
	uint32_t process_id;
	uint32_t timeout_ms;
};
int msg_parse_wait(const json_t *root, struct msg_wait *m, struct error *err);

/* SignalProcess (Signal 0 means SIGKILL) */
struct msg_signal {
	uint32_t process_id;
	int32_t signal;
};
int msg_parse_signal(const json_t *root, struct msg_signal *m, struct error *err);

/* ResizeConsole */
struct msg_resize {
	uint32_t process_id;
	uint16_t height, width;
};
int msg_parse_resize(const json_t *root, struct msg_resize *m, struct error *err);

/* GetProperties: Query is a PropertyQuery as JSON text (may be empty). */
enum msg_property {
	MSG_PROPERTY_PROCESS_LIST = 1u << 0,
	MSG_PROPERTY_STATISTICS = 1u << 1,
};
struct msg_get_properties {
	json_t *query;			/* owned, NULL when Query was empty */
	json_t *property_types;		/* []string or NULL */
	unsigned properties;		/* enum msg_property bits of the known types */
};
int msg_parse_get_properties(const json_t *root, struct msg_get_properties *m, struct error *err);
void msg_get_properties_release(struct msg_get_properties *m);

/* ModifySettings: Request is a real object. */
enum msg_resource {
	MSG_RESOURCE_UNKNOWN = 0,
	MSG_RESOURCE_MAPPED_VIRTUAL_DISK,
	MSG_RESOURCE_MAPPED_DIRECTORY,
	MSG_RESOURCE_VPMEM_DEVICE,
	MSG_RESOURCE_COMBINED_LAYERS,
	MSG_RESOURCE_SCSI_DEVICE,
	MSG_RESOURCE_NETWORK,
	MSG_RESOURCE_VPCI_DEVICE,
	MSG_RESOURCE_CONTAINER_CONSTRAINTS,
	MSG_RESOURCE_SECURITY_POLICY,
	MSG_RESOURCE_POLICY_FRAGMENT,
	MSG_RESOURCE_POD_CGROUP_MEMORY_LIMIT,
};

enum msg_request_type {
	MSG_REQUEST_ADD,
	MSG_REQUEST_REMOVE,
	MSG_REQUEST_UPDATE,
	MSG_REQUEST_PRE_ADD,	/* networking only */
	MSG_REQUEST_OTHER,	/* kept as text; the resource handler rejects it */
};

struct msg_mapped_virtual_disk {
	const char *mount_path;
	uint8_t lun, controller;
	uint64_t partition;
	bool read_only, encrypted, block_dev, ensure_filesystem;
	json_t *options;		/* []string or NULL */
	const char *filesystem;
};

struct msg_mapped_directory {
	const char *mount_path;
	int32_t port;
	const char *share_name;
	bool read_only;
};

struct msg_vpmem_device {
	uint32_t device_number;
	const char *mount_path;
	json_t *mapping_info;		/* object or NULL */
};

struct msg_combined_layers {
	const char *container_id;
	const char *container_root_path;
	json_t *layers;			/* [{Id, Path, PathType}] or NULL */
	size_t n_layers;
	const char *scratch_path;
};

struct msg_modify {
	enum msg_request_type request_type;	/* a missing RequestType is Add */
	const char *request_type_name;
	enum msg_resource resource;
	const char *resource_type;
	json_t *settings;			/* the raw Settings (any type) or NULL */
	union {
		struct msg_mapped_virtual_disk mvd;
		struct msg_mapped_directory md;
		struct msg_vpmem_device vpmem;
		struct msg_combined_layers layers;
	};
};
int msg_parse_modify(const json_t *root, struct msg_modify *m, struct error *err);

/* Responses.  The agent's capabilities, as hcsshim's guest reports them. */
json_t *msg_negotiate_response(uint32_t version);

/* The container notification body (ContainerNotification). */
json_t *msg_container_notification(const char *container_id, const char *activity_id,
				   const char *type, const char *operation, int32_t result,
				   const char *result_info);

#endif
