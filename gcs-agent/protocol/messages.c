/* SPDX-License-Identifier: MIT */
#include "messages.h"

#include <errno.h>
#include <string.h>

#include "json.h"

/* Chain parse steps: stop at the first failure. */
#define TRY(expr)                       \
	do {                            \
		int r_ = (expr);        \
		if (r_ < 0)             \
			return r_;      \
	} while (0)

int msg_parse_base(const json_t *root, struct msg_base *m, struct error *err)
{
	TRY(jf_string(root, "ContainerId", &m->container_id, err));
	TRY(jf_string(root, "ActivityId", &m->activity_id, err));
	/* "otsc" (OpenTelemetry span context) is optional and ignored. */
	return 0;
}

int msg_parse_negotiate(const json_t *root, struct msg_negotiate *m, struct error *err)
{
	TRY(jf_u32(root, "MinimumVersion", &m->minimum_version, err));
	TRY(jf_u32(root, "MaximumVersion", &m->maximum_version, err));
	return 0;
}

static int parse_schema_version(const json_t *obj, struct msg_schema_version *v, struct error *err)
{
	json_t *sv;
	int r;
	v->major = v->minor = 0;
	TRY(jf_object(obj, "SchemaVersion", &sv, err));
	if (sv && ((r = jf_u32(sv, "Major", &v->major, err)) < 0 ||
		   (r = jf_u32(sv, "Minor", &v->minor, err)) < 0))
		return error_prefix(err, r, "SchemaVersion");
	return 0;
}

void msg_create_release(struct msg_create *m)
{
	if (m->config)
		json_decref(m->config);
	m->config = NULL;
}

int msg_parse_create(const json_t *root, struct msg_create *m, struct error *err)
{
	memset(m, 0, sizeof(*m));
	/* SupportedVersions (protocol v3 and older) is ignored. */
	TRY(jf_embedded(root, "ContainerConfig", false, &m->config, err));
	if (!m->config)
		return 0;	/* null document: zero settings, schema 0.0 */
	int r;
	if ((r = parse_schema_version(m->config, &m->schema, err)) < 0 ||
	    (r = jf_string(m->config, "OciBundlePath", &m->oci_bundle_path, err)) < 0 ||
	    (r = jf_object(m->config, "OciSpecification", &m->oci_spec, err)) < 0 ||
	    (r = jf_string(m->config, "ScratchDirPath", &m->scratch_dir_path, err)) < 0) {
		msg_create_release(m);
		return error_prefix(err, r, "ContainerConfig");
	}
	return 0;
}

void msg_execute_release(struct msg_execute *m)
{
	if (m->params.doc)
		json_decref(m->params.doc);
	m->params.doc = NULL;
}

static int parse_process_params(json_t *doc, struct msg_process_params *p, struct error *err)
{
	TRY(jf_string(doc, "CommandLine", &p->command_line, err));
	TRY(jf_string_array(doc, "CommandArgs", &p->command_args, err));
	TRY(jf_string(doc, "WorkingDirectory", &p->working_directory, err));
	TRY(jf_string_map(doc, "Environment", &p->environment, err));
	TRY(jf_bool(doc, "EmulateConsole", &p->emulate_console, err));
	TRY(jf_bool(doc, "CreateStdInPipe", &p->create_stdin, err));
	TRY(jf_bool(doc, "CreateStdOutPipe", &p->create_stdout, err));
	TRY(jf_bool(doc, "CreateStdErrPipe", &p->create_stderr, err));
	TRY(jf_bool(doc, "CreateInUtilityVM", &p->in_utility_vm, err));
	TRY(jf_object(doc, "OciSpecification", &p->oci_specification, err));
	TRY(jf_object(doc, "OciProcess", &p->oci_process, err));
	return 0;
}

int msg_parse_execute(const json_t *root, struct msg_execute *m, struct error *err)
{
	memset(m, 0, sizeof(*m));
	json_t *settings, *relay;
	int r;
	TRY(jf_object(root, "Settings", &settings, err));
	/* A missing Settings or ProcessParameters is the empty string to Go,
	 * which then fails to parse it. */
	if ((r = jf_embedded(settings, "ProcessParameters", false, &m->params.doc, err)) < 0)
		return error_prefix(err, r, "Settings");
	if ((r = jf_object(settings, "VsockStdioRelaySettings", &relay, err)) < 0) {
		error_prefix(err, r, "Settings");
		goto out_release;
	}
	if (relay && ((r = jf_u32(relay, "StdIn", &m->ports.in, err)) < 0 ||
		      (r = jf_u32(relay, "StdOut", &m->ports.out, err)) < 0 ||
		      (r = jf_u32(relay, "StdErr", &m->ports.err, err)) < 0)) {
		error_prefix(err, r, "Settings: VsockStdioRelaySettings");
		goto out_release;
	}
	if (m->params.doc && (r = parse_process_params(m->params.doc, &m->params, err)) < 0) {
		error_prefix(err, r, "Settings: ProcessParameters");
		goto out_release;
	}
	return 0;

out_release:
	msg_execute_release(m);
	return r;
}

int msg_parse_wait(const json_t *root, struct msg_wait *m, struct error *err)
{
	TRY(jf_u32(root, "ProcessId", &m->process_id, err));
	TRY(jf_u32(root, "TimeoutInMs", &m->timeout_ms, err));
	return 0;
}

int msg_parse_signal(const json_t *root, struct msg_signal *m, struct error *err)
{
	json_t *opts;
	TRY(jf_u32(root, "ProcessId", &m->process_id, err));
	TRY(jf_object(root, "Options", &opts, err));
	m->signal = 0;
	if (opts) {
		int r = jf_i32(opts, "Signal", &m->signal, err);
		if (r < 0)
			return error_prefix(err, r, "Options");
	}
	return 0;
}

int msg_parse_resize(const json_t *root, struct msg_resize *m, struct error *err)
{
	TRY(jf_u32(root, "ProcessId", &m->process_id, err));
	TRY(jf_u16(root, "Height", &m->height, err));
	TRY(jf_u16(root, "Width", &m->width, err));
	return 0;
}

void msg_get_properties_release(struct msg_get_properties *m)
{
	if (m->query)
		json_decref(m->query);
	m->query = NULL;
}

int msg_parse_get_properties(const json_t *root, struct msg_get_properties *m, struct error *err)
{
	memset(m, 0, sizeof(*m));
	/* hcsshim skips an empty Query rather than failing on it. */
	TRY(jf_embedded(root, "Query", true, &m->query, err));
	if (!m->query)
		return 0;
	int r = jf_string_array(m->query, "PropertyTypes", &m->property_types, err);
	if (r < 0) {
		msg_get_properties_release(m);
		return error_prefix(err, r, "Query");
	}
	size_t i;
	json_t *t;
	json_array_foreach(m->property_types, i, t)
	{
		const char *s = json_is_string(t) ? json_string_value(t) : "";
		if (strcmp(s, "ProcessList") == 0)
			m->properties |= MSG_PROPERTY_PROCESS_LIST;
		else if (strcmp(s, "Statistics") == 0)
			m->properties |= MSG_PROPERTY_STATISTICS;
		/* Other types are skipped (hcsshim warns and ignores them). */
	}
	return 0;
}

static const struct {
	const char *name;
	enum msg_resource resource;
} resources[] = {
	{ "MappedVirtualDisk", MSG_RESOURCE_MAPPED_VIRTUAL_DISK },
	{ "MappedDirectory", MSG_RESOURCE_MAPPED_DIRECTORY },
	{ "VPMemDevice", MSG_RESOURCE_VPMEM_DEVICE },
	{ "CombinedLayers", MSG_RESOURCE_COMBINED_LAYERS },
	{ "SCSIDevice", MSG_RESOURCE_SCSI_DEVICE },
	{ "Network", MSG_RESOURCE_NETWORK },
	{ "VPCIDevice", MSG_RESOURCE_VPCI_DEVICE },
	{ "ContainerConstraints", MSG_RESOURCE_CONTAINER_CONSTRAINTS },
	{ "SecurityPolicy", MSG_RESOURCE_SECURITY_POLICY },
	{ "SecurityPolicyFragment", MSG_RESOURCE_POLICY_FRAGMENT },
	{ "PodCgroupMemoryLimit", MSG_RESOURCE_POD_CGROUP_MEMORY_LIMIT },
};

static int parse_mvd(const json_t *s, struct msg_mapped_virtual_disk *d, struct error *err)
{
	json_t *verity;
	TRY(jf_string(s, "MountPath", &d->mount_path, err));
	TRY(jf_u8(s, "Lun", &d->lun, err));
	TRY(jf_u8(s, "Controller", &d->controller, err));
	TRY(jf_u64(s, "Partition", &d->partition, err));
	TRY(jf_bool(s, "ReadOnly", &d->read_only, err));
	TRY(jf_bool(s, "Encrypted", &d->encrypted, err));
	TRY(jf_string_array(s, "Options", &d->options, err));
	TRY(jf_bool(s, "BlockDev", &d->block_dev, err));
	TRY(jf_object(s, "VerityInfo", &verity, err));
	TRY(jf_bool(s, "EnsureFilesystem", &d->ensure_filesystem, err));
	TRY(jf_string(s, "Filesystem", &d->filesystem, err));
	return 0;
}

static int parse_md(const json_t *s, struct msg_mapped_directory *d, struct error *err)
{
	TRY(jf_string(s, "MountPath", &d->mount_path, err));
	TRY(jf_i32(s, "Port", &d->port, err));
	TRY(jf_string(s, "ShareName", &d->share_name, err));
	TRY(jf_bool(s, "ReadOnly", &d->read_only, err));
	return 0;
}

static int parse_vpmem(const json_t *s, struct msg_vpmem_device *d, struct error *err)
{
	json_t *verity;
	TRY(jf_u32(s, "DeviceNumber", &d->device_number, err));
	TRY(jf_string(s, "MountPath", &d->mount_path, err));
	TRY(jf_object(s, "MappingInfo", &d->mapping_info, err));
	TRY(jf_object(s, "VerityInfo", &verity, err));
	return 0;
}

static int parse_layers(const json_t *s, struct msg_combined_layers *d, struct error *err)
{
	TRY(jf_string(s, "ContainerId", &d->container_id, err));
	TRY(jf_string(s, "ContainerRootPath", &d->container_root_path, err));
	TRY(jf_array(s, "Layers", &d->layers, err));
	TRY(jf_string(s, "ScratchPath", &d->scratch_path, err));
	size_t i;
	json_t *layer;
	json_array_foreach(d->layers, i, layer)
	{
		const char *str;
		if (json_is_null(layer))
			continue;
		if (!json_is_object(layer))
			return error_setx(err, EBADMSG,
					  "field Layers[%zu]: expected object, got %s", i,
					  jf_type_name(layer));
		int r;
		if ((r = jf_string(layer, "Id", &str, err)) < 0 ||
		    (r = jf_string(layer, "Path", &str, err)) < 0 ||
		    (r = jf_string(layer, "PathType", &str, err)) < 0 ||
		    (r = jf_string(layer, "Cache", &str, err)) < 0)
			return error_prefix(err, r, "Layers[%zu]", i);
	}
	d->n_layers = d->layers ? json_array_size(d->layers) : 0;
	return 0;
}

int msg_parse_modify(const json_t *root, struct msg_modify *m, struct error *err)
{
	memset(m, 0, sizeof(*m));
	json_t *req = jf_lookup(root, "Request");
	/* Go keeps Request as raw JSON and unmarshals it on its own: missing
	 * is "unexpected end of JSON input", null is an empty request. */
	if (!req)
		return error_setx(err, EBADMSG, "field Request: missing");
	if (!json_is_null(req) && !json_is_object(req))
		return error_setx(err, EBADMSG, "field Request: expected object, got %s",
				  jf_type_name(req));
	int r;
	if ((r = jf_string(req, "RequestType", &m->request_type_name, err)) < 0 ||
	    (r = jf_string(req, "ResourceType", &m->resource_type, err)) < 0)
		return error_prefix(err, r, "Request");
	m->settings = jf_lookup(req, "Settings");
	bool settings_present = m->settings != NULL;
	if (m->settings && json_is_null(m->settings))
		m->settings = NULL;

	const char *rt = m->request_type_name;
	if (!*rt || strcmp(rt, "Add") == 0)
		m->request_type = MSG_REQUEST_ADD;
	else if (strcmp(rt, "Remove") == 0)
		m->request_type = MSG_REQUEST_REMOVE;
	else if (strcmp(rt, "Update") == 0)
		m->request_type = MSG_REQUEST_UPDATE;
	else if (strcmp(rt, "PreAdd") == 0)
		m->request_type = MSG_REQUEST_PRE_ADD;
	else
		m->request_type = MSG_REQUEST_OTHER;

	m->resource = MSG_RESOURCE_UNKNOWN;
	for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
		if (strcmp(m->resource_type, resources[i].name) == 0)
			m->resource = resources[i].resource;
	/* An unknown ResourceType is not a JSON error: the caller rejects it. */

	/* hcsshim unmarshals the raw Settings of every typed resource: a
	 * missing one is "unexpected end of JSON input" (null is fine). */
	if (!settings_present && m->resource != MSG_RESOURCE_UNKNOWN &&
	    m->resource != MSG_RESOURCE_POD_CGROUP_MEMORY_LIMIT)
		return error_setx(err, EBADMSG, "Request: field Settings: missing for %s",
				  m->resource_type);

	const json_t *s = m->settings;
	if (s && !json_is_object(s) &&
	    (m->resource == MSG_RESOURCE_MAPPED_VIRTUAL_DISK ||
	     m->resource == MSG_RESOURCE_MAPPED_DIRECTORY ||
	     m->resource == MSG_RESOURCE_VPMEM_DEVICE ||
	     m->resource == MSG_RESOURCE_COMBINED_LAYERS))
		return error_setx(err, EBADMSG, "Request: field Settings: expected object, got %s",
				  jf_type_name(s));
	r = 0;
	switch (m->resource) {
	case MSG_RESOURCE_MAPPED_VIRTUAL_DISK:
		r = parse_mvd(s, &m->mvd, err);
		break;
	case MSG_RESOURCE_MAPPED_DIRECTORY:
		r = parse_md(s, &m->md, err);
		break;
	case MSG_RESOURCE_VPMEM_DEVICE:
		r = parse_vpmem(s, &m->vpmem, err);
		break;
	case MSG_RESOURCE_COMBINED_LAYERS:
		r = parse_layers(s, &m->layers, err);
		break;
	default:
		break;
	}
	if (r < 0)
		return error_prefix(err, r, "Request: Settings (%s)", m->resource_type);
	return 0;
}

json_t *msg_negotiate_response(uint32_t version)
{
	/* hcsshim's guest marshals GcsCapabilities with omitempty on every
	 * field: the three false flags are absent from its response, and the
	 * host reads absent as false.  Match the bytes the host sees. */
	return json_pack("{s:I, s:{s:[{s:i, s:i}], s:s, s:{s:b, s:b, s:b, s:b}}}",
			 "Version", (json_int_t)version,
			 "Capabilities",
			 "SupportedSchemaVersions", "Major", 2, "Minor", 1,
			 "RuntimeOsType", "Linux",
			 "GuestDefinedCapabilities",
			 "NamespaceAddRequestSupported", 1,
			 "SignalProcessSupported", 1,
			 "DumpStacksSupported", 1,
			 "DeleteContainerStateSupported", 1);
}

json_t *msg_container_notification(const char *container_id, const char *activity_id,
				   const char *type, const char *operation, int32_t result,
				   const char *result_info)
{
	json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:i}", "ContainerId", container_id,
			      "ActivityId", activity_id ? activity_id : "", "Type", type,
			      "Operation", operation ? operation : "None", "Result", (int)result);
	if (n && result_info && *result_info &&
	    json_object_set_new(n, "ResultInfo", json_string(result_info)) < 0) {
		json_decref(n);
		return NULL;
	}
	return n;
}
