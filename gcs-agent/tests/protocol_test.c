/* SPDX-License-Identifier: MIT */
/*
 * The protocol layer driven over a socketpair, as the host would drive it:
 * malformed frames, bad JSON, negotiation, every request type, shutdown,
 * async waits, notifications and back-pressure.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "harness.h"
#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "tap_extra.h"
#include "log.h"
#include "server.h"

struct h {
	struct loop loop;
	struct server srv;
	struct peer peer;
	int poweroffs;
	int logfd;
};

static void count_poweroff(void *ctx)
{
	struct h *h = ctx;
	h->poweroffs++;
}

static void h_init(struct h *h)
{
	memset(h, 0, sizeof(*h));
	/* Logs go to a memfd the tests can read. */
	h->logfd = memfd_create("gcs-log", MFD_CLOEXEC);
	log_setup(h->logfd, LOG_DEBUG, LOG_FORMAT_JSON);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	set_nonblock(sv[1]);
	h->peer.fd = sv[1];
	struct error err = { 0 };
	if (loop_init(&h->loop, &err) < 0)
		abort();
	struct server_config cfg = { .fd = sv[0], .poweroff = count_poweroff, .poweroff_ctx = h };
	if (server_init(&h->srv, &h->loop, &cfg, &err) < 0)
		abort();
}

static void h_fini(struct h *h)
{
	server_fini(&h->srv);
	loop_fini(&h->loop);
	close(h->peer.fd);
	close(h->logfd);
}

/* The agent's log so far. */
static char *h_log(struct h *h)
{
	static char buf[1 << 16];
	ssize_t n = pread(h->logfd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int h_send(struct h *h, uint32_t type, uint64_t id, const char *body)
{
	return peer_send(&h->loop, h->peer.fd, type, id, body);
}

/* Send a request and return its response (asserting type and ID). */
static bool h_call(struct h *h, uint32_t type, uint64_t id, const char *body, struct frame *f)
{
	if (h_send(h, type, id, body) < 0)
		return false;
	if (!peer_recv(&h->loop, &h->peer, f, 2000))
		return false;
	return f->hdr.type == bridge_response_type(type) && f->hdr.id == id && f->json;
}

static int64_t h_result(struct h *h, uint32_t type, uint64_t id, const char *body)
{
	struct frame f = { 0 };
	int64_t r = 12345;
	if (h_call(h, type, id, body, &f))
		r = jint(f.json, "Result");
	frame_free(&f);
	return r;
}

static bool h_negotiate(struct h *h)
{
	return h_result(h, MSG_NEGOTIATE_PROTOCOL, 1,
			"{\"ContainerId\":\"" NULL_ID "\",\"ActivityId\":\"" ACT_ID "\","
			"\"MinimumVersion\":4,\"MaximumVersion\":4}") == 0;
}

static void send_raw_header(struct h *h, uint32_t type, uint32_t size, uint64_t id)
{
	uint8_t b[16];
	struct bridge_header hdr = { .type = type, .size = size, .id = id };
	bridge_header_encode(&hdr, b);
	peer_write_all(&h->loop, h->peer.fd, b, 16);
}

TEST(size_below_16_drops_the_connection)
{
	struct h h;
	h_init(&h);
	send_raw_header(&h, MSG_NEGOTIATE_PROTOCOL, 15, 1);
	ASSERT_TRUE(peer_wait_eof(&h.loop, &h.peer, 2000));
	EXPECT_EQ(h.peer.len, 0);	/* no response, just gone */
	EXPECT_TRUE(h.srv.conn == NULL);
	EXPECT_TRUE(strstr(h_log(&h), "invalid frame size 15") != NULL);
	EXPECT_TRUE(strstr(h_log(&h), "\"level\":\"error\"") != NULL);
	h_fini(&h);
}

TEST(size_above_64k_drops_the_connection)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	send_raw_header(&h, MSG_DUMP_STACKS, 0x10001, 2);
	ASSERT_TRUE(peer_wait_eof(&h.loop, &h.peer, 2000));
	EXPECT_EQ(h.peer.len, 0);
	EXPECT_TRUE(strstr(h_log(&h), "invalid frame size 65537") != NULL);
	h_fini(&h);
}

TEST(size_4gib_is_refused_without_waiting_for_the_body)
{
	struct h h;
	h_init(&h);
	send_raw_header(&h, MSG_DUMP_STACKS, 0xFFFFFFFF, 2);
	ASSERT_TRUE(peer_wait_eof(&h.loop, &h.peer, 2000));
	h_fini(&h);
}

TEST(frame_of_exactly_64k_is_served)
{
	struct h h;
	h_init(&h);
	/* A valid NegotiateProtocol padded with whitespace to the limit. */
	const char *head = "{\"MinimumVersion\":4,\"MaximumVersion\":4";
	size_t blen = BRIDGE_MAX_FRAME - BRIDGE_HEADER_SIZE;
	char *body = malloc(blen + 1);
	memset(body, ' ', blen);
	memcpy(body, head, strlen(head));
	body[blen - 1] = '}';
	body[blen] = '\0';
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_NEGOTIATE_PROTOCOL, 9, body, &f));
	EXPECT_EQ(jint(f.json, "Result"), 0);
	EXPECT_EQ(jint(f.json, "Version"), 4);
	frame_free(&f);
	free(body);
	h_fini(&h);
}

TEST(truncated_frame_then_eof_is_dropped)
{
	struct h h;
	h_init(&h);
	send_raw_header(&h, MSG_NEGOTIATE_PROTOCOL, 100, 1);
	peer_write_all(&h.loop, h.peer.fd, "{\"Minimum", 10);
	shutdown(h.peer.fd, SHUT_WR);
	ASSERT_TRUE(peer_wait_eof(&h.loop, &h.peer, 2000));
	EXPECT_EQ(h.peer.len, 0);
	EXPECT_TRUE(strstr(h_log(&h), "truncated frame") != NULL);
	h_fini(&h);
}

TEST(frames_split_across_writes_are_reassembled)
{
	struct h h;
	h_init(&h);
	const char *body = "{\"MinimumVersion\":4,\"MaximumVersion\":4}";
	uint8_t buf[256];
	size_t len = 16 + strlen(body);
	ASSERT_EQ(bridge_frame_encode(MSG_NEGOTIATE_PROTOCOL, 5, body, strlen(body), buf, sizeof(buf)), 0);
	for (size_t i = 0; i < len; i++) {
		peer_write_all(&h.loop, h.peer.fd, buf + i, 1);
		loop_run_once(&h.loop, 0, NULL);
	}
	struct frame f = { 0 };
	ASSERT_TRUE(peer_recv(&h.loop, &h.peer, &f, 2000));
	EXPECT_EQ(f.hdr.id, 5);
	EXPECT_EQ(jint(f.json, "Result"), 0);
	frame_free(&f);
	h_fini(&h);
}

TEST(invalid_json_gets_0xC037010D_and_the_connection_stays)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_DUMP_STACKS, 2, "{\"ContainerId\":", &f));
	EXPECT_EQ(jint(f.json, "Result"), HR(HR_INVALID_JSON));
	EXPECT_TRUE(strstr(jstr(f.json, "ErrorMessage"), "invalid JSON") != NULL);
	frame_free(&f);
	EXPECT_EQ(h_result(&h, MSG_START, 3, "[1,2]"), HR(HR_INVALID_JSON));
	EXPECT_EQ(h_result(&h, MSG_START, 4, ""), HR(HR_INVALID_JSON));
	EXPECT_EQ(h_result(&h, MSG_START, 5, "{\"ContainerId\":\"" NULL_ID "\"}"), 0);
	h_fini(&h);
}

TEST(wrong_json_types_get_0xC037010D)
{
	struct h h;
	h_init(&h);
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_NEGOTIATE_PROTOCOL, 1,
			   "{\"ActivityId\":\"" ACT_ID "\",\"MinimumVersion\":4,\"MaximumVersion\":\"4\"}",
			   &f));
	EXPECT_EQ(jint(f.json, "Result"), HR(HR_INVALID_JSON));
	/* ActivityId is still echoed, as hcsshim does. */
	EXPECT_STREQ(jstr(f.json, "ActivityId"), ACT_ID);
	EXPECT_TRUE(strstr(jstr(f.json, "ErrorMessage"), "MaximumVersion") != NULL);
	frame_free(&f);
	/* A failed negotiation leaves the bridge un-negotiated. */
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 2, "{}"), HR(HR_NOTIMPL));
	ASSERT_TRUE(h_negotiate(&h));
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 3, "{\"ContainerId\":42}"), HR(HR_INVALID_JSON));
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 4, "{\"ActivityId\":[]}"), HR(HR_INVALID_JSON));
	EXPECT_EQ(h_result(&h, MSG_WAIT_FOR_PROCESS, 5,
			   "{\"ContainerId\":\"" NULL_ID "\",\"ProcessId\":\"7\"}"),
		  HR(HR_INVALID_JSON));
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 6, "{}"), 0);
	h_fini(&h);
}

TEST(unknown_message_type_gets_0x80004001)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	const uint32_t types[] = { 0x10100e01, 0x10200101, 0x12345678, 0x20100101, 0 };
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		struct frame f = { 0 };
		ASSERT_TRUE(h_call(&h, types[i], 100 + i, "{\"ActivityId\":\"" ACT_ID "\"}", &f));
		EXPECT_EQ(jint(f.json, "Result"), HR(HR_NOTIMPL));
		EXPECT_STREQ(jstr(f.json, "ActivityId"), ACT_ID);
		frame_free(&f);
	}
	/* Unknown type with garbage body: still just not-implemented. */
	EXPECT_EQ(h_result(&h, 0x10100f01, 200, "\x01\x02"), HR(HR_NOTIMPL));
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 201, "{}"), 0);
	h_fini(&h);
}

TEST(request_before_negotiation_is_an_error_and_negotiation_follows)
{
	struct h h;
	h_init(&h);
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_CREATE, 1, "{\"ContainerId\":\"c1\"}", &f));
	EXPECT_EQ(jint(f.json, "Result"), HR(HR_NOTIMPL));
	EXPECT_TRUE(strstr(jstr(f.json, "ErrorMessage"), "before NegotiateProtocol") != NULL);
	frame_free(&f);
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 2, "{}"), HR(HR_NOTIMPL));
	ASSERT_TRUE(h_negotiate(&h));
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 3, "{}"), 0);
	h_fini(&h);
}

TEST(negotiation_response_is_exact)
{
	struct h h;
	h_init(&h);
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_NEGOTIATE_PROTOCOL, 77,
			   "{\"ContainerId\":\"" NULL_ID "\",\"ActivityId\":\"" ACT_ID
			   "\",\"MinimumVersion\":4,\"MaximumVersion\":4}",
			   &f));
	EXPECT_EQ(f.hdr.type, 0x20100b01u);
	EXPECT_EQ(f.hdr.id, 77);
	EXPECT_EQ(f.hdr.size, 16 + strlen(f.body));
	EXPECT_STREQ(f.body,
		     "{\"Result\":0,\"ActivityId\":\"" ACT_ID "\",\"Version\":4,\"Capabilities\":"
		     "{\"SupportedSchemaVersions\":[{\"Major\":2,\"Minor\":1}],"
		     "\"RuntimeOsType\":\"Linux\",\"GuestDefinedCapabilities\":"
		     "{\"NamespaceAddRequestSupported\":true,\"SignalProcessSupported\":true,"
		     "\"DumpStacksSupported\":true,\"DeleteContainerStateSupported\":true}}}");
	frame_free(&f);
	EXPECT_EQ(dispatch_protocol_version(h.srv.dispatch), 4);
	h_fini(&h);
}

TEST(negotiation_rejects_versions_without_4)
{
	struct h h;
	h_init(&h);
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_NEGOTIATE_PROTOCOL, 1, "{\"MinimumVersion\":5,\"MaximumVersion\":6}",
			   &f));
	EXPECT_EQ(jint(f.json, "Result"), HR(HR_UNSUPPORTED_PROTOCOL));
	/* An error response carries no Version or Capabilities. */
	EXPECT_TRUE(json_object_get(f.json, "Capabilities") == NULL);
	frame_free(&f);
	EXPECT_EQ(h_result(&h, MSG_NEGOTIATE_PROTOCOL, 2, "{\"MinimumVersion\":1,\"MaximumVersion\":3}"),
		  HR(HR_UNSUPPORTED_PROTOCOL));
	EXPECT_EQ(h_result(&h, MSG_NEGOTIATE_PROTOCOL, 3, "{}"), HR(HR_UNSUPPORTED_PROTOCOL));
	EXPECT_EQ(dispatch_protocol_version(h.srv.dispatch), 0);
	ASSERT_TRUE(h_call(&h, MSG_NEGOTIATE_PROTOCOL, 4, "{\"MinimumVersion\":3,\"MaximumVersion\":9}",
			   &f));
	EXPECT_EQ(jint(f.json, "Result"), 0);
	EXPECT_EQ(jint(f.json, "Version"), 4);
	frame_free(&f);
	/* Like hcsshim, only an un-negotiated bridge takes NegotiateProtocol. */
	EXPECT_EQ(h_result(&h, MSG_NEGOTIATE_PROTOCOL, 5, "{\"MinimumVersion\":4,\"MaximumVersion\":4}"),
		  HR(HR_NOTIMPL));
	h_fini(&h);
}

TEST(error_responses_carry_error_records)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_START, 8, "{\"ContainerId\":\"nope\",\"ActivityId\":\"" ACT_ID "\"}",
			   &f));
	EXPECT_EQ(jint(f.json, "Result"), HR(HR_SYSTEM_NOT_FOUND));
	EXPECT_STREQ(jstr(f.json, "ActivityId"), ACT_ID);
	EXPECT_TRUE(strstr(jstr(f.json, "ErrorMessage"), "nope") != NULL);
	json_t *recs = json_object_get(f.json, "ErrorRecords");
	ASSERT_EQ(json_array_size(recs), 1);
	json_t *r = json_array_get(recs, 0);
	EXPECT_EQ(jint(r, "Result"), HR(HR_SYSTEM_NOT_FOUND));
	EXPECT_STREQ(jstr(r, "Message"), jstr(f.json, "ErrorMessage"));
	EXPECT_STREQ(jstr(r, "ModuleName"), "gcs");
	EXPECT_TRUE(strstr(jstr(r, "FileName"), "handlers.c") != NULL);
	EXPECT_GT(jint(r, "Line"), 0);
	EXPECT_STREQ(jstr(r, "FunctionName"), "start");
	frame_free(&f);
	/* A success has none of that, and no ActivityId when none came. */
	ASSERT_TRUE(h_call(&h, MSG_START, 9, "{\"ContainerId\":\"" NULL_ID "\"}", &f));
	EXPECT_STREQ(f.body, "{\"Result\":0}");
	frame_free(&f);
	h_fini(&h);
}

TEST(a_response_too_big_for_a_frame_becomes_an_error_that_fits)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	/* A 65400 byte ActivityId fits in the request; echoed next to an
	 * error message it pushes the response over the frame limit. */
	size_t n = 65400;
	char *body = malloc(n + 64);
	int k = snprintf(body, n + 64, "{\"ContainerId\":\"nope\",\"ActivityId\":\"");
	memset(body + k, 'a', n);
	strcpy(body + k + n, "\"}");
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_START, 5, body, &f));
	EXPECT_EQ(jint(f.json, "Result"), HR(HR_FAIL));
	EXPECT_TRUE(strstr(jstr(f.json, "ErrorMessage"), "exceeds the bridge frame limit") != NULL);
	EXPECT_TRUE(json_object_get(f.json, "ActivityId") == NULL);
	EXPECT_LE(f.hdr.size, BRIDGE_MAX_FRAME);
	frame_free(&f);
	free(body);
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 6, "{}"), 0);
	h_fini(&h);
}

TEST(start_is_a_noop_for_known_containers_only)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "c1", "", NULL, NULL), 0);
	EXPECT_EQ(h_result(&h, MSG_START, 2, "{\"ContainerId\":\"c1\"}"), 0);
	EXPECT_EQ(h_result(&h, MSG_START, 3, "{\"ContainerId\":\"c2\"}"), HR(HR_SYSTEM_NOT_FOUND));
	EXPECT_EQ(h_result(&h, MSG_START, 4, "{}"), HR(HR_SYSTEM_NOT_FOUND));
	h_fini(&h);
}

TEST(dump_stacks_reports_agent_state)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	struct container *c;
	struct process *p;
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "dump-c1", "", &c, NULL), 0);
	ASSERT_EQ(runtime_add_process(&h.srv.rt, c, 4242, true, &p, NULL), 0);
	/* A pending wait to show up in the dump. */
	ASSERT_EQ(h_send(&h, MSG_WAIT_FOR_PROCESS, 50,
			 "{\"ContainerId\":\"dump-c1\",\"ProcessId\":4242,\"TimeoutInMs\":4294967295}"),
		  0);
	ASSERT_TRUE(peer_quiet(&h.loop, &h.peer, 50));
	EXPECT_EQ(h_result(&h, 0x10100e01, 51, "{}"), HR(HR_NOTIMPL));

	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_DUMP_STACKS, 52, "{\"ContainerId\":\"" NULL_ID "\"}", &f));
	EXPECT_EQ(jint(f.json, "Result"), 0);
	const char *s = jstr(f.json, "GuestStacks");
	TAP_DIAG("%s", s);
	EXPECT_TRUE(strstr(s, "bridge: connected to fd:") != NULL);
	EXPECT_TRUE(strstr(s, "protocol version 4") != NULL);
	EXPECT_TRUE(strstr(s, "NegotiateProtocol: 1") != NULL);
	EXPECT_TRUE(strstr(s, "WaitForProcess: 1") != NULL);
	EXPECT_TRUE(strstr(s, "unknown type 1") != NULL);
	EXPECT_TRUE(strstr(s, "container dump-c1: running") != NULL);
	EXPECT_TRUE(strstr(s, "process 4242 (init): running, 1 waiter(s)") != NULL);
	EXPECT_TRUE(strstr(s, "pending requests: 1") != NULL);
	EXPECT_TRUE(strstr(s, "id 50 WaitForProcess container dump-c1 process 4242") != NULL);
	EXPECT_TRUE(strstr(s, "connection: fd") != NULL);
	frame_free(&f);
	h_fini(&h);
}

TEST(shutdown_forced_of_the_vm_powers_off_without_reply)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	ASSERT_EQ(h_send(&h, MSG_SHUTDOWN_FORCED, 10, "{\"ContainerId\":\"" NULL_ID "\"}"), 0);
	ASSERT_TRUE(peer_quiet(&h.loop, &h.peer, 100));
	EXPECT_EQ(h.poweroffs, 1);
	/* The next frame from the agent answers the next request. */
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_DUMP_STACKS, 11, "{}", &f));
	EXPECT_EQ(f.hdr.id, 11);
	frame_free(&f);
	EXPECT_EQ(h.poweroffs, 1);
	h_fini(&h);
}

TEST(shutdown_graceful_of_the_vm_replies_then_powers_off)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	EXPECT_EQ(h.poweroffs, 0);
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_SHUTDOWN_GRACEFUL, 12,
			   "{\"ContainerId\":\"" NULL_ID "\",\"ActivityId\":\"" ACT_ID "\"}", &f));
	EXPECT_EQ(jint(f.json, "Result"), 0);
	EXPECT_STREQ(jstr(f.json, "ActivityId"), ACT_ID);
	frame_free(&f);
	EXPECT_EQ(h.poweroffs, 1);
	h_fini(&h);
}

TEST(shutdown_of_a_container)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	EXPECT_EQ(h_result(&h, MSG_SHUTDOWN_FORCED, 2, "{\"ContainerId\":\"c9\"}"),
		  HR(HR_SYSTEM_NOT_FOUND));
	EXPECT_EQ(h_result(&h, MSG_SHUTDOWN_GRACEFUL, 3, "{\"ContainerId\":\"c9\"}"),
		  HR(HR_SYSTEM_NOT_FOUND));
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "c9", "", NULL, NULL), 0);
	EXPECT_EQ(h_result(&h, MSG_SHUTDOWN_GRACEFUL, 4, "{\"ContainerId\":\"c9\"}"), HR(HR_NOTIMPL));
	EXPECT_EQ(h.poweroffs, 0);
	h_fini(&h);
}

#define CFG21 "{\\\"SchemaVersion\\\":{\\\"Major\\\":2,\\\"Minor\\\":1},\\\"OciSpecification\\\":{}}"
#define PARAMS "{\\\"CommandArgs\\\":[\\\"/bin/sh\\\"],\\\"CreateStdOutPipe\\\":true}"

/* Every request type, valid, after negotiation: a well-formed response of
 * the right type and ID with a clean HRESULT. */
TEST(every_request_type_is_answered)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	struct container *c;
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "known", "", &c, NULL), 0);
	ASSERT_EQ(runtime_add_process(&h.srv.rt, c, 100, true, NULL, NULL), 0);
	const struct {
		uint32_t type;
		const char *body;
		int64_t result;
	} cases[] = {
		{ MSG_CREATE, "{\"ContainerId\":\"new\",\"ContainerConfig\":\"" CFG21 "\"}", HR(HR_NOTIMPL) },
		{ MSG_START, "{\"ContainerId\":\"known\"}", 0 },
		{ MSG_SHUTDOWN_GRACEFUL, "{\"ContainerId\":\"known\"}", HR(HR_NOTIMPL) },
		{ MSG_SHUTDOWN_FORCED, "{\"ContainerId\":\"known\"}", HR(HR_NOTIMPL) },
		{ MSG_EXECUTE_PROCESS,
		  "{\"ContainerId\":\"known\",\"Settings\":{\"ProcessParameters\":\"" PARAMS
		  "\",\"VsockStdioRelaySettings\":{\"StdOut\":1073741825}}}",
		  HR(HR_NOTIMPL) },
		{ MSG_WAIT_FOR_PROCESS, "{\"ContainerId\":\"known\",\"ProcessId\":5,\"TimeoutInMs\":10}",
		  HR(HR_NOT_FOUND) },
		{ MSG_SIGNAL_PROCESS, "{\"ContainerId\":\"known\",\"ProcessId\":100,\"Options\":{\"Signal\":15}}",
		  HR(HR_NOTIMPL) },
		{ MSG_RESIZE_CONSOLE, "{\"ContainerId\":\"known\",\"ProcessId\":100,\"Height\":24,\"Width\":80}",
		  HR(HR_NOTIMPL) },
		{ MSG_GET_PROPERTIES,
		  "{\"ContainerId\":\"known\",\"Query\":\"{\\\"PropertyTypes\\\":[\\\"ProcessList\\\"]}\"}",
		  HR(HR_NOTIMPL) },
		{ MSG_MODIFY_SETTINGS,
		  "{\"ContainerId\":\"" NULL_ID "\",\"Request\":{\"ResourceType\":\"MappedDirectory\","
		  "\"Settings\":{\"MountPath\":\"/m\",\"Port\":564,\"ShareName\":\"s\"}}}",
		  HR(HR_NOTIMPL) },
		{ MSG_NEGOTIATE_PROTOCOL, "{\"MinimumVersion\":4,\"MaximumVersion\":4}", HR(HR_NOTIMPL) },
		{ MSG_DUMP_STACKS, "{}", 0 },
		{ MSG_DELETE_CONTAINER_STATE, "{\"ContainerId\":\"known\"}", HR(HR_NOTIMPL) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct frame f = { 0 };
		uint64_t id = 1000 + i;
		bool ok = h_call(&h, cases[i].type, id, cases[i].body, &f);
		EXPECT_TRUE(ok);
		if (!ok) {
			TAP_DIAG("no response to %s", bridge_msg_name(cases[i].type));
			continue;
		}
		EXPECT_EQ(f.hdr.size, 16 + strlen(f.body));
		EXPECT_TRUE(json_is_integer(json_object_get(f.json, "Result")));
		EXPECT_EQ(jint(f.json, "Result"), cases[i].result);
		if (jint(f.json, "Result") != cases[i].result)
			TAP_DIAG("%s: %s", bridge_msg_name(cases[i].type), f.body);
		if (cases[i].result)
			EXPECT_TRUE(*jstr(f.json, "ErrorMessage") != '\0');
		frame_free(&f);
	}
	h_fini(&h);
}

TEST(requests_validate_before_they_fail)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "known", "", NULL, NULL), 0);
	const struct {
		uint32_t type;
		const char *body;
		int64_t result;
	} cases[] = {
		/* Create */
		{ MSG_CREATE, "{\"ContainerId\":\"new\"}", HR(HR_INVALID_JSON) },
		{ MSG_CREATE, "{\"ContainerId\":\"new\",\"ContainerConfig\":{}}", HR(HR_INVALID_JSON) },
		{ MSG_CREATE, "{\"ContainerId\":\"new\",\"ContainerConfig\":\"{\\\"SchemaVersion\\\":"
			      "{\\\"Major\\\":2,\\\"Minor\\\":0}}\"}", HR(HR_INVALID_JSON) },
		{ MSG_CREATE, "{\"ContainerId\":\"new\",\"ContainerConfig\":\"{nope\"}", HR(HR_INVALID_JSON) },
		{ MSG_CREATE, "{\"ContainerId\":\"known\",\"ContainerConfig\":\"" CFG21 "\"}",
		  HR(HR_ALREADY_EXISTS) },
		/* ExecuteProcess */
		{ MSG_EXECUTE_PROCESS, "{\"ContainerId\":\"known\",\"Settings\":{\"ProcessParameters\":{}}}",
		  HR(HR_INVALID_JSON) },
		{ MSG_EXECUTE_PROCESS, "{\"ContainerId\":\"known\",\"Settings\":{\"ProcessParameters\":\"[\"}}",
		  HR(HR_INVALID_JSON) },
		{ MSG_EXECUTE_PROCESS, "{\"ContainerId\":\"gone\",\"Settings\":{\"ProcessParameters\":\"" PARAMS
				       "\"}}", HR(HR_SYSTEM_NOT_FOUND) },
		{ MSG_EXECUTE_PROCESS, "{\"ContainerId\":\"" NULL_ID "\",\"Settings\":{\"ProcessParameters\":\""
				       PARAMS "\"}}", HR(HR_NOTIMPL) },
		/* WaitForProcess / SignalProcess / ResizeConsole */
		{ MSG_WAIT_FOR_PROCESS, "{\"ContainerId\":\"gone\",\"ProcessId\":1}", HR(HR_SYSTEM_NOT_FOUND) },
		{ MSG_WAIT_FOR_PROCESS, "{\"ContainerId\":\"" NULL_ID "\",\"ProcessId\":1}", HR(HR_NOT_FOUND) },
		{ MSG_SIGNAL_PROCESS, "{\"ContainerId\":\"known\",\"ProcessId\":1,\"Options\":{\"Signal\":99}}",
		  HR(HR_INVALIDARG) },
		{ MSG_SIGNAL_PROCESS, "{\"ContainerId\":\"known\",\"ProcessId\":1,\"Options\":[]}",
		  HR(HR_INVALID_JSON) },
		{ MSG_RESIZE_CONSOLE, "{\"ContainerId\":\"known\",\"ProcessId\":1,\"Height\":70000}",
		  HR(HR_INVALID_JSON) },
		{ MSG_RESIZE_CONSOLE, "{\"ContainerId\":\"known\",\"ProcessId\":1}", HR(HR_NOT_FOUND) },
		/* GetProperties */
		{ MSG_GET_PROPERTIES, "{\"ContainerId\":\"known\",\"Query\":\"{]\"}", HR(HR_INVALID_JSON) },
		{ MSG_GET_PROPERTIES, "{\"ContainerId\":\"" NULL_ID "\"}", HR(HR_FAIL) },
		{ MSG_GET_PROPERTIES, "{\"ContainerId\":\"gone\"}", HR(HR_SYSTEM_NOT_FOUND) },
		/* ModifySettings */
		{ MSG_MODIFY_SETTINGS, "{\"ContainerId\":\"" NULL_ID "\"}", HR(HR_INVALID_JSON) },
		{ MSG_MODIFY_SETTINGS, "{\"ContainerId\":\"" NULL_ID "\",\"Request\":{\"ResourceType\":\"Bogus\"}}",
		  HR(HR_FAIL) },
		{ MSG_MODIFY_SETTINGS, "{\"ContainerId\":\"" NULL_ID "\",\"Request\":{\"ResourceType\":"
				       "\"MappedVirtualDisk\",\"Settings\":{\"Lun\":\"0\"}}}", HR(HR_INVALID_JSON) },
		{ MSG_MODIFY_SETTINGS, "{\"ContainerId\":\"gone\",\"Request\":{\"ResourceType\":\"Network\","
				       "\"Settings\":{}}}", HR(HR_SYSTEM_NOT_FOUND) },
		{ MSG_MODIFY_SETTINGS, "{\"ContainerId\":\"" NULL_ID "\",\"Request\":{\"RequestType\":\"Add\","
				       "\"ResourceType\":\"CombinedLayers\",\"Settings\":{\"ContainerRootPath\":"
				       "\"/r\",\"Layers\":[{\"Path\":\"/l\"}],\"ScratchPath\":\"/s\"}}}",
		  HR(HR_NOTIMPL) },
		{ MSG_MODIFY_SETTINGS, "{\"ContainerId\":\"" NULL_ID "\",\"Request\":{\"ResourceType\":"
				       "\"VPMemDevice\",\"Settings\":{\"DeviceNumber\":0,\"MountPath\":\"/p\"}}}",
		  HR(HR_NOTIMPL) },
		/* DeleteContainerState */
		{ MSG_DELETE_CONTAINER_STATE, "{\"ContainerId\":\"gone\"}", HR(HR_SYSTEM_NOT_FOUND) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct frame f = { 0 };
		bool ok = h_call(&h, cases[i].type, 2000 + i, cases[i].body, &f);
		EXPECT_TRUE(ok);
		if (ok && jint(f.json, "Result") != cases[i].result) {
			TAP_DIAG("case %zu %s: %s", i, bridge_msg_name(cases[i].type), f.body);
			EXPECT_EQ(jint(f.json, "Result"), cases[i].result);
		}
		frame_free(&f);
	}
	h_fini(&h);
}

TEST(wait_for_process_is_answered_when_the_process_exits)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	struct container *c;
	struct process *p, *q;
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "w", "act-create", &c, NULL), 0);
	ASSERT_EQ(runtime_add_process(&h.srv.rt, c, 10, true, &p, NULL), 0);
	ASSERT_EQ(runtime_add_process(&h.srv.rt, c, 11, false, &q, NULL), 0);

	ASSERT_EQ(h_send(&h, MSG_WAIT_FOR_PROCESS, 20,
			 "{\"ContainerId\":\"w\",\"ProcessId\":11,\"TimeoutInMs\":4294967295,"
			 "\"ActivityId\":\"" ACT_ID "\"}"), 0);
	/* Other requests are answered while the wait is pending. */
	ASSERT_TRUE(peer_quiet(&h.loop, &h.peer, 50));
	EXPECT_EQ(h_result(&h, MSG_DUMP_STACKS, 21, "{}"), 0);

	runtime_process_exited(&h.srv.rt, q, 9 /* killed by SIGKILL */);
	struct frame f = { 0 };
	ASSERT_TRUE(peer_recv(&h.loop, &h.peer, &f, 1000));
	EXPECT_EQ(f.hdr.type, bridge_response_type(MSG_WAIT_FOR_PROCESS));
	EXPECT_EQ(f.hdr.id, 20);
	EXPECT_EQ(jint(f.json, "Result"), 0);
	EXPECT_EQ(jint(f.json, "ExitCode"), 128 + 9);
	EXPECT_STREQ(jstr(f.json, "ActivityId"), ACT_ID);
	frame_free(&f);

	/* Waiting on an exited process answers at once. */
	ASSERT_TRUE(h_call(&h, MSG_WAIT_FOR_PROCESS, 22, "{\"ContainerId\":\"w\",\"ProcessId\":11}", &f));
	EXPECT_EQ(jint(f.json, "ExitCode"), 137);
	frame_free(&f);
	h_fini(&h);
}

TEST(wait_for_process_times_out_with_0xC0370109)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	struct container *c;
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "t", "", &c, NULL), 0);
	ASSERT_EQ(runtime_add_process(&h.srv.rt, c, 10, true, NULL, NULL), 0);
	int64_t t0 = now_ms();
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_WAIT_FOR_PROCESS, 30,
			   "{\"ContainerId\":\"t\",\"ProcessId\":10,\"TimeoutInMs\":80}", &f));
	EXPECT_GE(now_ms() - t0, 75);
	EXPECT_EQ(jint(f.json, "Result"), HR(HR_TIMEOUT));
	frame_free(&f);
	EXPECT_EQ(h.srv.rt.n_waiters, 0);
	h_fini(&h);
}

TEST(removing_a_container_answers_its_pending_waits)
{
	struct h h;
	h_init(&h);
	ASSERT_TRUE(h_negotiate(&h));
	struct container *c;
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "r", "", &c, NULL), 0);
	ASSERT_EQ(runtime_add_process(&h.srv.rt, c, 10, true, NULL, NULL), 0);
	ASSERT_EQ(h_send(&h, MSG_WAIT_FOR_PROCESS, 40,
			 "{\"ContainerId\":\"r\",\"ProcessId\":10,\"TimeoutInMs\":60000}"), 0);
	ASSERT_TRUE(peer_quiet(&h.loop, &h.peer, 30));
	runtime_remove_container(&h.srv.rt, c);
	struct frame f = { 0 };
	ASSERT_TRUE(peer_recv(&h.loop, &h.peer, &f, 1000));
	EXPECT_EQ(f.hdr.id, 40);
	EXPECT_EQ(jint(f.json, "Result"), HR(HR_NOT_FOUND));
	frame_free(&f);
	EXPECT_EQ(h.srv.rt.n_waiters, 0);
	EXPECT_EQ(dispatch_stats(h.srv.dispatch)->async_completed, 1);
	/* The timer died with the wait: nothing arrives later. */
	EXPECT_TRUE(peer_quiet(&h.loop, &h.peer, 50));
	h_fini(&h);
}

TEST(container_exit_notification)
{
	struct h h;
	h_init(&h);
	struct container *c;
	struct process *p;
	ASSERT_EQ(runtime_add_container(&h.srv.rt, "n1", "act-n1", &c, NULL), 0);
	ASSERT_EQ(runtime_add_process(&h.srv.rt, c, 10, true, &p, NULL), 0);
	/* Before negotiation the notification waits... */
	runtime_process_exited(&h.srv.rt, p, 0);
	EXPECT_EQ(c->state, CONTAINER_STOPPED);
	ASSERT_TRUE(peer_quiet(&h.loop, &h.peer, 30));
	/* ...and follows the negotiation response. */
	struct frame f = { 0 };
	ASSERT_TRUE(h_call(&h, MSG_NEGOTIATE_PROTOCOL, 1, "{\"MinimumVersion\":4,\"MaximumVersion\":4}", &f));
	frame_free(&f);
	ASSERT_TRUE(peer_recv(&h.loop, &h.peer, &f, 1000));
	EXPECT_EQ(f.hdr.type, MSG_NOTIFY_CONTAINER);
	EXPECT_EQ(f.hdr.id, 0);
	EXPECT_STREQ(f.body, "{\"ContainerId\":\"n1\",\"ActivityId\":\"act-n1\","
			     "\"Type\":\"UnexpectedExit\",\"Operation\":\"None\",\"Result\":0}");
	frame_free(&f);

	/* Negotiated: straight out. */
	struct error err = { 0 };
	ASSERT_EQ(dispatch_notify_container(h.srv.dispatch, "n2", "", "GracefulExit", 0, &err), 0);
	ASSERT_TRUE(peer_recv(&h.loop, &h.peer, &f, 1000));
	EXPECT_EQ(f.hdr.type, 0x30100101u);
	EXPECT_STREQ(jstr(f.json, "Type"), "GracefulExit");
	frame_free(&f);
	h_fini(&h);
}

TEST(back_pressure_stops_reading_when_the_host_does_not)
{
	struct h h;
	h_init(&h);
	log_set_level(LOG_ERROR);
	int small = 16384;
	setsockopt(h.peer.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ASSERT_TRUE(h_negotiate(&h));

	/* Many DumpStacks (big responses) while the peer reads nothing. */
	const int n = 3000;
	uint8_t req[64];
	ASSERT_EQ(bridge_frame_encode(MSG_DUMP_STACKS, 0, "{}", 2, req, sizeof(req)), 0);
	int sent = 0;
	int64_t deadline = now_ms() + 3000;
	size_t max_queued = 0;
	while (sent < n && now_ms() < deadline) {
		struct bridge_header hd = { .type = MSG_DUMP_STACKS, .size = 18, .id = 100 + sent };
		bridge_header_encode(&hd, req);
		ssize_t w = send(h.peer.fd, req, 18, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w == 18)
			sent++;
		else
			ASSERT_TRUE(w < 0 && errno == EAGAIN);
		loop_run_once(&h.loop, w < 0 ? 5 : 0, NULL);
		if (h.srv.conn && conn_tx_queued(h.srv.conn) > max_queued)
			max_queued = conn_tx_queued(h.srv.conn);
	}
	/* The agent stopped taking requests: the peer could not send them all. */
	TAP_DIAG("sent %d of %d requests, agent queued at most %zu bytes", sent, n, max_queued);
	ASSERT_TRUE(h.srv.conn != NULL);
	EXPECT_LT(sent, n);
	EXPECT_GT(conn_stats(h.srv.conn)->pauses, 0);
	EXPECT_LE(max_queued, CONN_TX_PAUSE + BRIDGE_MAX_FRAME);

	/* Now read: every request gets its response, in order. */
	int got = 0;
	int64_t next = 100;
	deadline = now_ms() + 10000;
	while (got < n && now_ms() < deadline) {
		struct frame f = { 0 };
		if (sent < n) {
			struct bridge_header hd = { .type = MSG_DUMP_STACKS, .size = 18, .id = 100 + sent };
			bridge_header_encode(&hd, req);
			if (send(h.peer.fd, req, 18, MSG_DONTWAIT | MSG_NOSIGNAL) == 18)
				sent++;
		}
		if (peer_recv(&h.loop, &h.peer, &f, 20)) {
			EXPECT_EQ((int64_t)f.hdr.id, next);
			next++;
			got++;
			frame_free(&f);
		}
	}
	EXPECT_EQ(got, n);
	h_fini(&h);
}

TEST(a_host_that_never_reads_is_dropped_at_the_queue_limit)
{
	struct h h;
	h_init(&h);
	log_set_level(LOG_ERROR);
	ASSERT_TRUE(h_negotiate(&h));
	/* Notifications (not throttled by reading) pile up. */
	char id[4000];
	memset(id, 'n', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	struct error err = { 0 };
	int i;
	for (i = 0; i < 2000 && h.srv.conn; i++) {
		dispatch_notify_container(h.srv.dispatch, id, "", "ForcedExit", 0, &err);
		if (h.srv.conn)
			ASSERT_LE(conn_tx_queued(h.srv.conn), CONN_TX_LIMIT);
		loop_run_once(&h.loop, 0, NULL);
	}
	TAP_DIAG("dropped after %d notifications", i);
	EXPECT_TRUE(h.srv.conn == NULL);
	EXPECT_LT(i, 2000);
	EXPECT_TRUE(strstr(h_log(&h), "host is not reading") != NULL);
	h_fini(&h);
}

TAP_MAIN()
