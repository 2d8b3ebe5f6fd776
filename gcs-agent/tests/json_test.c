/* SPDX-License-Identifier: MIT */
/* Go encoding/json field semantics and the request/response schemas. */
#include <errno.h>

#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "tap_extra.h"
#include "protocol/json.h"
#include "protocol/messages.h"

static json_t *doc(const char *text)
{
	json_error_t e;
	return json_loads(text, JSON_DECODE_ANY, &e);
}

TEST(missing_and_null_fields_read_as_zero)
{
	json_t *o = doc("{\"S\":null,\"N\":null,\"B\":null}");
	const char *s = "x";
	uint32_t n = 7;
	bool b = true;
	struct error err = { 0 };
	EXPECT_EQ(jf_string(o, "S", &s, &err), 0);
	EXPECT_STREQ(s, "");
	EXPECT_EQ(jf_u32(o, "N", &n, &err), 0);
	EXPECT_EQ(n, 0);
	EXPECT_EQ(jf_bool(o, "B", &b, &err), 0);
	EXPECT_FALSE(b);
	EXPECT_EQ(jf_string(o, "Missing", &s, &err), 0);
	EXPECT_STREQ(s, "");
	json_decref(o);
}

TEST(wrong_json_types_are_ebadmsg_naming_the_field)
{
	json_t *o = doc("{\"S\":5,\"N\":\"4\",\"B\":1,\"O\":[],\"A\":{}}");
	const char *s;
	uint32_t n;
	bool b;
	json_t *j;
	struct error err = { 0 };
	EXPECT_EQ(jf_string(o, "S", &s, &err), -EBADMSG);
	EXPECT_TRUE(strstr(err.msg, "S") && strstr(err.msg, "string"));
	EXPECT_EQ(jf_u32(o, "N", &n, &err), -EBADMSG);
	EXPECT_TRUE(strstr(err.msg, "field N"));
	EXPECT_EQ(jf_bool(o, "B", &b, &err), -EBADMSG);
	EXPECT_EQ(jf_object(o, "O", &j, &err), -EBADMSG);
	EXPECT_EQ(jf_array(o, "A", &j, &err), -EBADMSG);
	json_decref(o);
}

TEST(integer_ranges_and_fractions)
{
	json_t *o = doc("{\"Neg\":-1,\"Big\":4294967296,\"Max\":4294967295,\"Frac\":4.0,"
			"\"U16\":65536,\"U8\":255,\"I32\":-2147483648,\"I32big\":2147483648}");
	uint32_t u;
	uint16_t w;
	uint8_t c;
	int32_t i;
	struct error err = { 0 };
	EXPECT_EQ(jf_u32(o, "Neg", &u, &err), -EBADMSG);
	EXPECT_EQ(jf_u32(o, "Big", &u, &err), -EBADMSG);
	EXPECT_EQ(jf_u32(o, "Max", &u, &err), 0);
	EXPECT_EQ(u, 4294967295u);
	EXPECT_EQ(jf_u32(o, "Frac", &u, &err), -EBADMSG);
	EXPECT_EQ(jf_u16(o, "U16", &w, &err), -EBADMSG);
	EXPECT_EQ(jf_u8(o, "U8", &c, &err), 0);
	EXPECT_EQ(c, 255);
	EXPECT_EQ(jf_i32(o, "I32", &i, &err), 0);
	EXPECT_EQ(i, INT32_MIN);
	EXPECT_EQ(jf_i32(o, "I32big", &i, &err), -EBADMSG);
	json_decref(o);
}

TEST(field_names_fall_back_to_case_insensitive_last_wins)
{
	json_t *o = doc("{\"containerid\":\"a\",\"CONTAINERID\":\"b\"}");
	const char *s;
	EXPECT_EQ(jf_string(o, "ContainerId", &s, NULL), 0);
	EXPECT_STREQ(s, "b");
	json_decref(o);
	o = doc("{\"ContainerId\":\"exact\",\"containerid\":\"fold\"}");
	EXPECT_EQ(jf_string(o, "ContainerId", &s, NULL), 0);
	EXPECT_STREQ(s, "exact");
	json_decref(o);
}

TEST(body_must_be_an_object_or_null)
{
	json_t *r = NULL;
	struct error err = { 0 };
	EXPECT_EQ(jf_parse_body("null", 4, &r, &err), 0);
	EXPECT_TRUE(json_is_object(r) && json_object_size(r) == 0);
	json_decref(r);
	EXPECT_EQ(jf_parse_body("[1]", 3, &r, &err), -EBADMSG);
	EXPECT_EQ(jf_parse_body("{\"a\":1} x", 9, &r, &err), -EBADMSG);
	EXPECT_EQ(jf_parse_body("{\"a\":", 5, &r, &err), -EBADMSG);
	EXPECT_EQ(jf_parse_body("", 0, &r, &err), -EBADMSG);
	EXPECT_EQ(jf_parse_body("\"s\"", 3, &r, &err), -EBADMSG);
}

TEST(embedded_documents)
{
	json_t *o = doc("{\"Empty\":\"\",\"Num\":3,\"Bad\":\"{x\",\"Arr\":\"[]\",\"Null\":\"null\","
			"\"Ok\":\"{\\\"A\\\":1}\"}");
	json_t *d;
	struct error err = { 0 };
	EXPECT_EQ(jf_embedded(o, "Empty", false, &d, &err), -EBADMSG);
	EXPECT_EQ(jf_embedded(o, "Empty", true, &d, &err), 0);
	EXPECT_TRUE(d == NULL);
	EXPECT_EQ(jf_embedded(o, "Missing", false, &d, &err), -EBADMSG);
	EXPECT_EQ(jf_embedded(o, "Num", false, &d, &err), -EBADMSG);
	EXPECT_EQ(jf_embedded(o, "Bad", false, &d, &err), -EBADMSG);
	EXPECT_EQ(jf_embedded(o, "Arr", false, &d, &err), -EBADMSG);
	EXPECT_EQ(jf_embedded(o, "Null", false, &d, &err), 0);
	EXPECT_TRUE(d == NULL);
	ASSERT_EQ(jf_embedded(o, "Ok", false, &d, &err), 0);
	EXPECT_EQ(json_integer_value(json_object_get(d, "A")), 1);
	json_decref(d);
	json_decref(o);
}

TEST(string_arrays_and_maps_check_elements)
{
	json_t *o = doc("{\"A\":[\"x\",null,\"y\"],\"Bad\":[\"x\",2],\"M\":{\"k\":\"v\"},"
			"\"BadM\":{\"k\":true}}");
	json_t *v;
	EXPECT_EQ(jf_string_array(o, "A", &v, NULL), 0);
	EXPECT_EQ(json_array_size(v), 3);
	EXPECT_EQ(jf_string_array(o, "Bad", &v, NULL), -EBADMSG);
	EXPECT_EQ(jf_string_map(o, "M", &v, NULL), 0);
	EXPECT_EQ(jf_string_map(o, "BadM", &v, NULL), -EBADMSG);
	json_decref(o);
}

TEST(negotiate_parse)
{
	json_t *o = doc("{\"ContainerId\":\"x\",\"ActivityId\":\"a\",\"MinimumVersion\":4,"
			"\"MaximumVersion\":4,\"otsc\":{\"traceparent\":\"t\"}}");
	struct msg_base b;
	struct msg_negotiate n;
	EXPECT_EQ(msg_parse_base(o, &b, NULL), 0);
	EXPECT_STREQ(b.activity_id, "a");
	EXPECT_EQ(msg_parse_negotiate(o, &n, NULL), 0);
	EXPECT_EQ(n.minimum_version, 4);
	EXPECT_EQ(n.maximum_version, 4);
	json_decref(o);
	o = doc("{\"MaximumVersion\":\"4\"}");
	EXPECT_EQ(msg_parse_negotiate(o, &n, NULL), -EBADMSG);
	json_decref(o);
}

TEST(negotiate_response_is_hcsshims_exactly)
{
	json_t *r = msg_negotiate_response(4);
	char *s = json_dumps(r, JSON_COMPACT);
	EXPECT_STREQ(s, "{\"Version\":4,\"Capabilities\":{\"SupportedSchemaVersions\":"
			"[{\"Major\":2,\"Minor\":1}],\"RuntimeOsType\":\"Linux\","
			"\"GuestDefinedCapabilities\":{\"NamespaceAddRequestSupported\":true,"
			"\"SignalProcessSupported\":true,\"DumpStacksSupported\":true,"
			"\"DeleteContainerStateSupported\":true}}}");
	free(s);
	json_decref(r);
}

TEST(create_parse_reads_container_config)
{
	json_t *o = doc("{\"ContainerConfig\":\"{\\\"SchemaVersion\\\":{\\\"Major\\\":2,"
			"\\\"Minor\\\":1},\\\"OciBundlePath\\\":\\\"/run/c\\\","
			"\\\"OciSpecification\\\":{\\\"ociVersion\\\":\\\"1.0\\\"}}\"}");
	struct msg_create m = { 0 };
	ASSERT_EQ(msg_parse_create(o, &m, NULL), 0);
	EXPECT_EQ(m.schema.major, 2);
	EXPECT_EQ(m.schema.minor, 1);
	EXPECT_STREQ(m.oci_bundle_path, "/run/c");
	EXPECT_TRUE(json_is_object(m.oci_spec));
	msg_create_release(&m);
	json_decref(o);

	struct error err = { 0 };
	o = doc("{\"ContainerConfig\":{\"SchemaVersion\":{}}}");
	EXPECT_EQ(msg_parse_create(o, &m, &err), -EBADMSG);
	json_decref(o);
	o = doc("{\"ContainerConfig\":\"{\\\"SchemaVersion\\\":{\\\"Major\\\":\\\"2\\\"}}\"}");
	EXPECT_EQ(msg_parse_create(o, &m, &err), -EBADMSG);
	EXPECT_TRUE(strstr(err.msg, "ContainerConfig") && strstr(err.msg, "Major"));
	json_decref(o);
}

TEST(execute_parse_reads_parameters_and_ports)
{
	json_t *o = doc("{\"Settings\":{\"ProcessParameters\":\"{\\\"CommandArgs\\\":[\\\"sh\\\"],"
			"\\\"CreateStdOutPipe\\\":true,\\\"Environment\\\":{\\\"A\\\":\\\"b\\\"}}\","
			"\"VsockStdioRelaySettings\":{\"StdOut\":1073741825}}}");
	struct msg_execute m = { 0 };
	ASSERT_EQ(msg_parse_execute(o, &m, NULL), 0);
	EXPECT_TRUE(m.params.create_stdout);
	EXPECT_FALSE(m.params.create_stdin);
	EXPECT_EQ(json_array_size(m.params.command_args), 1);
	EXPECT_EQ(m.ports.out, 1073741825u);
	EXPECT_EQ(m.ports.in, 0);
	msg_execute_release(&m);
	json_decref(o);

	o = doc("{\"Settings\":{\"ProcessParameters\":\"{\\\"CommandArgs\\\":\\\"sh\\\"}\"}}");
	EXPECT_EQ(msg_parse_execute(o, &m, NULL), -EBADMSG);
	json_decref(o);
	o = doc("{}");
	EXPECT_EQ(msg_parse_execute(o, &m, NULL), -EBADMSG);
	json_decref(o);
}

TEST(modify_parse_resources)
{
	struct msg_modify m;
	json_t *o = doc("{\"Request\":{\"ResourceType\":\"MappedVirtualDisk\",\"Settings\":"
			"{\"MountPath\":\"/m\",\"Lun\":3,\"Controller\":0,\"ReadOnly\":true}}}");
	ASSERT_EQ(msg_parse_modify(o, &m, NULL), 0);
	EXPECT_EQ(m.request_type, MSG_REQUEST_ADD);	/* missing RequestType = Add */
	EXPECT_EQ(m.resource, MSG_RESOURCE_MAPPED_VIRTUAL_DISK);
	EXPECT_STREQ(m.mvd.mount_path, "/m");
	EXPECT_EQ(m.mvd.lun, 3);
	EXPECT_TRUE(m.mvd.read_only);
	json_decref(o);

	o = doc("{\"Request\":{\"RequestType\":\"Remove\",\"ResourceType\":\"CombinedLayers\","
		"\"Settings\":{\"ContainerRootPath\":\"/r\",\"Layers\":[{\"Path\":\"/l1\"},"
		"{\"Path\":\"/l2\"}],\"ScratchPath\":\"/s\"}}}");
	ASSERT_EQ(msg_parse_modify(o, &m, NULL), 0);
	EXPECT_EQ(m.request_type, MSG_REQUEST_REMOVE);
	EXPECT_EQ(m.layers.n_layers, 2);
	json_decref(o);

	o = doc("{\"Request\":{\"ResourceType\":\"MappedVirtualDisk\",\"Settings\":{\"Lun\":256}}}");
	EXPECT_EQ(msg_parse_modify(o, &m, NULL), -EBADMSG);
	json_decref(o);
	o = doc("{\"Request\":{\"ResourceType\":\"VPMemDevice\"}}");
	EXPECT_EQ(msg_parse_modify(o, &m, NULL), -EBADMSG);	/* Settings missing */
	json_decref(o);
	o = doc("{\"Request\":\"x\"}");
	EXPECT_EQ(msg_parse_modify(o, &m, NULL), -EBADMSG);
	json_decref(o);
	o = doc("{}");
	EXPECT_EQ(msg_parse_modify(o, &m, NULL), -EBADMSG);
	json_decref(o);
	o = doc("{\"Request\":{\"ResourceType\":\"Bogus\"}}");
	ASSERT_EQ(msg_parse_modify(o, &m, NULL), 0);
	EXPECT_EQ(m.resource, MSG_RESOURCE_UNKNOWN);
	json_decref(o);
}

TEST(get_properties_query)
{
	struct msg_get_properties m;
	json_t *o = doc("{\"Query\":\"{\\\"PropertyTypes\\\":[\\\"ProcessList\\\",\\\"Statistics\\\","
			"\\\"Other\\\"]}\"}");
	ASSERT_EQ(msg_parse_get_properties(o, &m, NULL), 0);
	EXPECT_EQ(m.properties, MSG_PROPERTY_PROCESS_LIST | MSG_PROPERTY_STATISTICS);
	msg_get_properties_release(&m);
	json_decref(o);
	o = doc("{\"Query\":\"\"}");
	ASSERT_EQ(msg_parse_get_properties(o, &m, NULL), 0);
	EXPECT_EQ(m.properties, 0);
	json_decref(o);
	o = doc("{\"Query\":\"{\\\"PropertyTypes\\\":\\\"ProcessList\\\"}\"}");
	EXPECT_EQ(msg_parse_get_properties(o, &m, NULL), -EBADMSG);
	json_decref(o);
}

TEST(wait_signal_resize_parse)
{
	struct msg_wait w;
	struct msg_signal s;
	struct msg_resize z;
	json_t *o = doc("{\"ProcessId\":12,\"TimeoutInMs\":4294967295,\"Options\":{\"Signal\":15},"
			"\"Height\":24,\"Width\":80}");
	ASSERT_EQ(msg_parse_wait(o, &w, NULL), 0);
	EXPECT_EQ(w.timeout_ms, MSG_WAIT_INFINITE);
	ASSERT_EQ(msg_parse_signal(o, &s, NULL), 0);
	EXPECT_EQ(s.signal, 15);
	ASSERT_EQ(msg_parse_resize(o, &z, NULL), 0);
	EXPECT_EQ(z.width, 80);
	json_decref(o);
	o = doc("{\"ProcessId\":-1}");
	EXPECT_EQ(msg_parse_wait(o, &w, NULL), -EBADMSG);
	json_decref(o);
	o = doc("{\"Options\":{\"Signal\":\"TERM\"}}");
	EXPECT_EQ(msg_parse_signal(o, &s, NULL), -EBADMSG);
	json_decref(o);
}

TEST(notification_body)
{
	json_t *n = msg_container_notification("c1", "a1", "GracefulExit", "None", 0, NULL);
	char *s = json_dumps(n, JSON_COMPACT);
	EXPECT_STREQ(s, "{\"ContainerId\":\"c1\",\"ActivityId\":\"a1\",\"Type\":\"GracefulExit\","
			"\"Operation\":\"None\",\"Result\":0}");
	free(s);
	json_decref(n);
}

TAP_MAIN()
