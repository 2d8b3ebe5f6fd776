/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the host bridge client: framing, ID matching, malformed
 * frames, notifications, request builders.  The "guest" is the other end
 * of a socketpair driven by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "../ctl.h"
#include "../gcs-client.h"

/* What the callbacks saw. */
struct seen {
	int replies, written, failures, notes, warnings;
	uint64_t ids[16];
	int32_t results[16];
	char markers[16][32];
	char last_error[256];
	uint32_t note_type;
	char note_container[64];
};

static void on_reply(void *ud, const struct gcs_response *resp, const struct error *err)
{
	struct seen *s = ud;
	if (err) {
		s->failures++;
		snprintf(s->last_error, sizeof(s->last_error), "%s", error_text(err));
		return;
	}
	if (!resp) {
		s->written++;
		return;
	}
	int i = s->replies++;
	s->ids[i] = resp->id;
	s->results[i] = resp->result;
	const char *m = json_string_value(json_object_get(resp->body, "Marker"));
	snprintf(s->markers[i], sizeof(s->markers[i]), "%s", m ? m : "");
}

static void on_notify(void *ud, uint32_t type, json_t *body)
{
	struct seen *s = ud;
	s->notes++;
	s->note_type = type;
	const char *c = json_string_value(json_object_get(body, "ContainerId"));
	snprintf(s->note_container, sizeof(s->note_container), "%s", c ? c : "");
}

static void on_warn(void *ud, const char *msg)
{
	(void)msg;
	((struct seen *)ud)->warnings++;
}

struct fixture {
	struct gcs_client *c;
	int guest; /* the test's end */
	struct seen seen;
};

static int setup(struct fixture *f)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	memset(f, 0, sizeof(*f));
	f->guest = sv[1];
	struct gcs_client_ops ops = {on_notify, on_warn, &f->seen};
	return gcs_client_new(&f->c, sv[0], &ops, NULL);
}

/* Read one frame the host wrote; returns the body (NUL-terminated). */
static char *guest_read(struct fixture *f, struct bridge_header *h)
{
	uint8_t hdr[BRIDGE_HEADER_SIZE];
	if (read(f->guest, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		return NULL;
	if (bridge_header_decode(hdr, h) < 0)
		return NULL;
	size_t len = h->size - BRIDGE_HEADER_SIZE;
	char *body = calloc(1, len + 1);
	size_t got = 0;
	while (body && got < len) {
		ssize_t n = read(f->guest, body + got, len - got);
		if (n <= 0) {
			free(body);
			return NULL;
		}
		got += (size_t)n;
	}
	return body;
}

static void guest_send_raw(struct fixture *f, uint32_t type, uint32_t size, uint64_t id,
			   const char *body, size_t len)
{
	uint8_t hdr[BRIDGE_HEADER_SIZE];
	struct bridge_header h = {type, size, id};
	bridge_header_encode(&h, hdr);
	write_all(f->guest, hdr, sizeof(hdr));
	if (len)
		write_all(f->guest, body, len);
}

static void guest_send(struct fixture *f, uint32_t type, uint64_t id, const char *body)
{
	size_t len = strlen(body);
	guest_send_raw(f, type, (uint32_t)(BRIDGE_HEADER_SIZE + len), id, body, len);
}

/* Let the client read what is buffered. */
static int pump(struct fixture *f)
{
	return gcs_client_process(f->c, EPOLLIN | EPOLLOUT, NULL);
}

static int send_simple(struct fixture *f, uint32_t type, uint64_t *id)
{
	_cleanup_(json_decrefp) json_t *body = NULL;
	int r = gcs_build_base(&body, "c1", NULL);
	if (r < 0)
		return r;
	return gcs_client_send(f->c, type, body, 0, on_reply, &f->seen, id, NULL);
}

TEST(frame_header_and_body_are_what_hcsshim_sends)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id;
	ASSERT_EQ(send_simple(&f, MSG_START, &id), 0);
	struct bridge_header h;
	_cleanup_free_ char *body = guest_read(&f, &h);
	ASSERT_TRUE(body != NULL);
	EXPECT_EQ(h.type, MSG_START);
	EXPECT_EQ(h.id, id);
	EXPECT_EQ(h.size, BRIDGE_HEADER_SIZE + strlen(body));
	/* Go's json.Encoder ends the body with a newline. */
	EXPECT_EQ(body[strlen(body) - 1], '\n');
	json_t *j = json_loads(body, 0, NULL);
	ASSERT_TRUE(json_is_object(j));
	EXPECT_STREQ(json_string_value(json_object_get(j, "ContainerId")), "c1");
	EXPECT_TRUE(json_is_string(json_object_get(j, "ActivityId")));
	json_decref(j);
	gcs_client_free(f.c);
}

TEST(request_ids_are_unique_and_increasing)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t a, b, c;
	ASSERT_EQ(send_simple(&f, MSG_START, &a), 0);
	ASSERT_EQ(send_simple(&f, MSG_START, &b), 0);
	ASSERT_EQ(send_simple(&f, MSG_START, &c), 0);
	EXPECT_TRUE(a < b && b < c);
	EXPECT_NE(a, 0); /* 0 is what notifications carry */
	EXPECT_EQ(gcs_client_pending(f.c), 3);
	gcs_client_free(f.c);
}

TEST(out_of_order_responses_reach_their_requests)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id[3];
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(send_simple(&f, MSG_GET_PROPERTIES, &id[i]), 0);
	char buf[128];
	/* Answer 3rd, 1st, 2nd. */
	int order[3] = {2, 0, 1};
	for (int k = 0; k < 3; k++) {
		int i = order[k];
		snprintf(buf, sizeof(buf), "{\"Result\":0,\"Marker\":\"m%d\"}", i);
		guest_send(&f, bridge_response_type(MSG_GET_PROPERTIES), id[i], buf);
	}
	ASSERT_EQ(pump(&f), 0);
	ASSERT_EQ(f.seen.replies, 3);
	for (int k = 0; k < 3; k++) {
		int i = order[k];
		EXPECT_EQ(f.seen.ids[k], id[i]);
		snprintf(buf, sizeof(buf), "m%d", i);
		EXPECT_STREQ(f.seen.markers[k], buf);
	}
	EXPECT_EQ(gcs_client_pending(f.c), 0);
	gcs_client_free(f.c);
}

TEST(a_frame_split_into_single_bytes_is_reassembled)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id;
	ASSERT_EQ(send_simple(&f, MSG_START, &id), 0);
	const char *body = "{\"Result\":0,\"Marker\":\"split\"}";
	uint8_t frame[128];
	struct bridge_header h = {bridge_response_type(MSG_START), (uint32_t)(16 + strlen(body)),
				  id};
	bridge_header_encode(&h, frame);
	memcpy(frame + 16, body, strlen(body));
	for (size_t i = 0; i < h.size; i++) {
		ASSERT_EQ(write(f.guest, frame + i, 1), 1);
		ASSERT_EQ(pump(&f), 0);
		EXPECT_EQ(f.seen.replies, i + 1 == h.size ? 1 : 0);
	}
	EXPECT_STREQ(f.seen.markers[0], "split");
	gcs_client_free(f.c);
}

TEST(hresult_and_error_message_are_decoded)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id;
	ASSERT_EQ(send_simple(&f, MSG_START, &id), 0);
	/* The unsigned spelling of 0xC037010E is accepted as well. */
	guest_send(&f, bridge_response_type(MSG_START), id,
		   "{\"Result\":3224830222,\"ErrorMessage\":\"container c1 not found\"}");
	ASSERT_EQ(pump(&f), 0);
	ASSERT_EQ(f.seen.replies, 1);
	EXPECT_EQ(f.seen.results[0], HR_SYSTEM_NOT_FOUND);
	gcs_client_free(f.c);
}

TEST(size_below_16_is_a_protocol_error)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	struct error err = {0};
	guest_send_raw(&f, 0x20100201, 8, 1, NULL, 0);
	EXPECT_EQ(gcs_client_process(f.c, EPOLLIN, &err), -EPROTO);
	EXPECT_TRUE(strstr(err.msg, "Size 8") != NULL);
	gcs_client_free(f.c);
}

TEST(size_above_64k_is_rejected_before_any_body_arrives)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	struct error err = {0};
	/* Only the header: the client must not wait for (or allocate) 4 GiB. */
	guest_send_raw(&f, 0x20100201, 0xFFFFFFFFu, 1, NULL, 0);
	EXPECT_EQ(gcs_client_process(f.c, EPOLLIN, &err), -EPROTO);
	error_clear(&err);
	gcs_client_free(f.c);
	ASSERT_EQ(setup(&f), 0);
	guest_send_raw(&f, 0x20100201, BRIDGE_MAX_FRAME + 1, 1, NULL, 0);
	EXPECT_EQ(gcs_client_process(f.c, EPOLLIN, &err), -EPROTO);
	gcs_client_free(f.c);
}

TEST(a_64k_frame_is_accepted)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id;
	ASSERT_EQ(send_simple(&f, MSG_DUMP_STACKS, &id), 0);
	size_t len = BRIDGE_MAX_FRAME - BRIDGE_HEADER_SIZE;
	char *body = malloc(len + 1);
	ASSERT_TRUE(body != NULL);
	const char *pre = "{\"Result\":0,\"GuestStacks\":\"";
	memcpy(body, pre, strlen(pre));
	memset(body + strlen(pre), 'x', len - strlen(pre) - 2);
	memcpy(body + len - 2, "\"}", 2);
	body[len] = '\0';
	guest_send_raw(&f, bridge_response_type(MSG_DUMP_STACKS), BRIDGE_MAX_FRAME, id, body, len);
	free(body);
	/* Several reads may be needed for 64 KiB on a socketpair. */
	for (int i = 0; i < 100 && f.seen.replies == 0; i++)
		ASSERT_EQ(pump(&f), 0);
	EXPECT_EQ(f.seen.replies, 1);
	gcs_client_free(f.c);
}

TEST(invalid_json_response_fails_the_request_and_the_connection)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id;
	ASSERT_EQ(send_simple(&f, MSG_START, &id), 0);
	guest_send(&f, bridge_response_type(MSG_START), id, "{not json");
	struct error err = {0};
	EXPECT_EQ(gcs_client_process(f.c, EPOLLIN, &err), -EPROTO);
	EXPECT_EQ(f.seen.failures, 1);
	EXPECT_EQ(f.seen.replies, 0);
	EXPECT_TRUE(strstr(f.seen.last_error, "invalid JSON") != NULL);
	gcs_client_free(f.c);
}

TEST(response_of_the_wrong_type_is_an_error)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id;
	ASSERT_EQ(send_simple(&f, MSG_START, &id), 0);
	guest_send(&f, bridge_response_type(MSG_CREATE), id, "{\"Result\":0}");
	EXPECT_EQ(gcs_client_process(f.c, EPOLLIN, NULL), -EPROTO);
	EXPECT_EQ(f.seen.failures, 1);
	gcs_client_free(f.c);
}

TEST(response_for_an_unknown_id_is_ignored_with_a_warning)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id;
	ASSERT_EQ(send_simple(&f, MSG_START, &id), 0);
	guest_send(&f, bridge_response_type(MSG_START), id + 77, "{\"Result\":0}");
	guest_send(&f, bridge_response_type(MSG_START), id, "{\"Result\":0,\"Marker\":\"real\"}");
	ASSERT_EQ(pump(&f), 0);
	EXPECT_EQ(f.seen.warnings, 1);
	ASSERT_EQ(f.seen.replies, 1);
	EXPECT_STREQ(f.seen.markers[0], "real");
	gcs_client_free(f.c);
}

TEST(notification_goes_to_the_callback)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	guest_send(&f, MSG_NOTIFY_CONTAINER, 0,
		   "{\"ContainerId\":\"c9\",\"Type\":\"GracefulExit\",\"Operation\":\"None\","
		   "\"Result\":0}");
	ASSERT_EQ(pump(&f), 0);
	EXPECT_EQ(f.seen.notes, 1);
	EXPECT_EQ(f.seen.note_type, MSG_NOTIFY_CONTAINER);
	EXPECT_STREQ(f.seen.note_container, "c9");
	/* A notification that is not JSON is dropped, the connection kept. */
	guest_send(&f, MSG_NOTIFY_CONTAINER, 0, "[[[");
	EXPECT_EQ(pump(&f), 0);
	EXPECT_EQ(f.seen.notes, 1);
	EXPECT_EQ(f.seen.warnings, 1);
	gcs_client_free(f.c);
}

TEST(peer_close_ends_the_connection_and_fails_pending_requests)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	uint64_t id;
	ASSERT_EQ(send_simple(&f, MSG_START, &id), 0);
	close(f.guest);
	struct error err = {0};
	EXPECT_EQ(gcs_client_process(f.c, EPOLLIN | EPOLLHUP, &err), -ECONNRESET);
	EXPECT_EQ(f.seen.failures, 0);
	gcs_client_close(f.c, "test over");
	EXPECT_EQ(f.seen.failures, 1);
	EXPECT_TRUE(strstr(f.seen.last_error, "test over") != NULL);
}

TEST(no_reply_request_completes_once_written)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	_cleanup_(json_decrefp) json_t *body = NULL;
	ASSERT_EQ(gcs_build_base(&body, NULL, NULL), 0);
	ASSERT_EQ(gcs_client_send(f.c, MSG_SHUTDOWN_FORCED, body, GCS_SEND_NO_REPLY, on_reply,
				  &f.seen, NULL, NULL),
		  0);
	/* Never from inside send(): the loop is told to come back. */
	EXPECT_EQ(f.seen.written, 0);
	EXPECT_TRUE(gcs_client_poll_events(f.c) & EPOLLOUT);
	ASSERT_EQ(gcs_client_process(f.c, EPOLLOUT, NULL), 0);
	EXPECT_EQ(f.seen.written, 1);
	EXPECT_EQ(gcs_client_pending(f.c), 0);
	EXPECT_FALSE(gcs_client_poll_events(f.c) & EPOLLOUT);
	gcs_client_free(f.c);
	EXPECT_EQ(f.seen.failures, 0);
}

TEST(body_larger_than_a_frame_is_refused)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	char *big = malloc(70000);
	ASSERT_TRUE(big != NULL);
	memset(big, 'a', 69999);
	big[69999] = '\0';
	_cleanup_(json_decrefp) json_t *body = json_pack("{s:s}", "X", big);
	free(big);
	EXPECT_EQ(gcs_client_send(f.c, MSG_START, body, 0, on_reply, &f.seen, NULL, NULL),
		  -EMSGSIZE);
	EXPECT_EQ(gcs_client_pending(f.c), 0);
	gcs_client_free(f.c);
}

TEST(negotiate_sends_4_4_and_records_the_result)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	ASSERT_EQ(gcs_client_negotiate(f.c, on_reply, &f.seen, NULL), 0);
	struct bridge_header h;
	_cleanup_free_ char *body = guest_read(&f, &h);
	ASSERT_TRUE(body != NULL);
	EXPECT_EQ(h.type, MSG_NEGOTIATE_PROTOCOL);
	json_t *j = json_loads(body, 0, NULL);
	EXPECT_EQ(json_integer_value(json_object_get(j, "MinimumVersion")), 4);
	EXPECT_EQ(json_integer_value(json_object_get(j, "MaximumVersion")), 4);
	EXPECT_STREQ(json_string_value(json_object_get(j, "ContainerId")), UVM_CONTAINER_ID);
	json_decref(j);
	EXPECT_FALSE(gcs_client_negotiated(f.c));
	guest_send(&f, bridge_response_type(MSG_NEGOTIATE_PROTOCOL), h.id,
		   "{\"Result\":0,\"Version\":4,\"Capabilities\":{\"RuntimeOsType\":\"Linux\"}}");
	ASSERT_EQ(pump(&f), 0);
	EXPECT_EQ(f.seen.replies, 1);
	EXPECT_TRUE(gcs_client_negotiated(f.c));
	EXPECT_EQ(gcs_client_version(f.c), 4);
	ASSERT_TRUE(gcs_client_negotiation(f.c) != NULL);
	gcs_client_free(f.c);
}

TEST(refused_negotiation_is_not_negotiated)
{
	struct fixture f;
	ASSERT_EQ(setup(&f), 0);
	ASSERT_EQ(gcs_client_negotiate(f.c, on_reply, &f.seen, NULL), 0);
	struct bridge_header h;
	free(guest_read(&f, &h));
	guest_send(&f, bridge_response_type(MSG_NEGOTIATE_PROTOCOL), h.id,
		   "{\"Result\":-1070137076,\"ErrorMessage\":\"unsupported\"}");
	ASSERT_EQ(pump(&f), 0);
	EXPECT_FALSE(gcs_client_negotiated(f.c));
	EXPECT_EQ(f.seen.results[0], HR_UNSUPPORTED_PROTOCOL);
	gcs_client_free(f.c);
}

/* --- builders ------------------------------------------------------------ */

/* The object's keys, sorted and comma-joined. */
static char *keys_of(json_t *o)
{
	static char buf[512];
	const char *names[32];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		(void)v;
		if (n < 32)
			names[n++] = k;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(names[j], names[i]) < 0) {
				const char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(buf, ",");
		strcat(buf, names[i]);
	}
	return buf;
}

static bool is_guid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return false;
	}
	return true;
}

TEST(activity_ids_are_fresh_guids)
{
	json_t *a = NULL, *b = NULL;
	ASSERT_EQ(gcs_build_base(&a, "c1", NULL), 0);
	ASSERT_EQ(gcs_build_base(&b, "c1", NULL), 0);
	const char *ga = json_string_value(json_object_get(a, "ActivityId"));
	const char *gb = json_string_value(json_object_get(b, "ActivityId"));
	EXPECT_TRUE(is_guid(ga));
	EXPECT_TRUE(is_guid(gb));
	EXPECT_TRUE(ga && gb && strcmp(ga, gb) != 0);
	EXPECT_EQ(ga[14], '4'); /* version 4 */
	json_decref(a);
	json_decref(b);
}

TEST(create_carries_the_config_as_a_json_string)
{
	json_t *cfg = json_pack("{s:{s:i,s:i}, s:s}", "SchemaVersion", "Major", 2, "Minor", 1,
				"OciBundlePath", "/b");
	json_t *o = NULL;
	ASSERT_EQ(gcs_build_create(&o, "c1", cfg, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerConfig,ContainerId");
	const char *text = json_string_value(json_object_get(o, "ContainerConfig"));
	ASSERT_TRUE(text != NULL);
	json_t *back = json_loads(text, 0, NULL);
	EXPECT_TRUE(json_equal(back, cfg));
	json_decref(back);
	json_decref(o);
	json_decref(cfg);
	json_t *arr = json_array();
	EXPECT_EQ(gcs_build_create(&o, "c1", arr, NULL), -EINVAL);
	json_decref(arr);
}

TEST(every_request_has_the_field_names_of_the_spec)
{
	json_t *o;
	ASSERT_EQ(gcs_build_negotiate(&o, 4, 4, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerId,MaximumVersion,MinimumVersion");
	json_decref(o);

	ASSERT_EQ(gcs_build_base(&o, NULL, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerId");
	EXPECT_STREQ(json_string_value(json_object_get(o, "ContainerId")), UVM_CONTAINER_ID);
	json_decref(o);

	ASSERT_EQ(gcs_build_wait(&o, "c1", 42, GCS_INFINITE, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerId,ProcessId,TimeoutInMs");
	EXPECT_EQ(json_integer_value(json_object_get(o, "TimeoutInMs")), 0xFFFFFFFFll);
	json_decref(o);

	ASSERT_EQ(gcs_build_signal(&o, "c1", 42, 15, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerId,Options,ProcessId");
	EXPECT_STREQ(keys_of(json_object_get(o, "Options")), "Signal");
	EXPECT_EQ(json_integer_value(json_object_get(json_object_get(o, "Options"), "Signal")), 15);
	json_decref(o);

	ASSERT_EQ(gcs_build_resize(&o, "c1", 42, 24, 80, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerId,Height,ProcessId,Width");
	json_decref(o);

	const char *types[] = {"ProcessList", "Statistics"};
	ASSERT_EQ(gcs_build_properties(&o, "c1", types, 2, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerId,Query");
	EXPECT_STREQ(json_string_value(json_object_get(o, "Query")),
		     "{\"PropertyTypes\":[\"ProcessList\",\"Statistics\"]}");
	json_decref(o);

	json_t *settings = json_pack("{s:s, s:i}", "MountPath", "/m", "Lun", 1);
	ASSERT_EQ(gcs_build_modify(&o, "c1", NULL, "MappedVirtualDisk", settings, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerId,Request");
	json_t *req = json_object_get(o, "Request");
	ASSERT_TRUE(json_is_object(req)); /* a real object, not a string */
	EXPECT_STREQ(keys_of(req), "RequestType,ResourceType,Settings");
	EXPECT_STREQ(json_string_value(json_object_get(req, "RequestType")), "Add");
	EXPECT_TRUE(json_equal(json_object_get(req, "Settings"), settings));
	json_decref(o);
	json_decref(settings);
}

TEST(execute_process_for_the_uvm)
{
	const char *args[] = {"ls", "-l"};
	const char *env[] = {"A=1", "B=x=y"};
	struct gcs_process_spec spec = {.args = args,
					.nargs = 2,
					.env = env,
					.nenv = 2,
					.cwd = "/tmp",
					.in_uvm = true,
					.stdin_pipe = true,
					.stdout_pipe = true,
					.stderr_pipe = true};
	json_t *params = NULL, *o = NULL;
	ASSERT_EQ(gcs_build_process_params(&params, &spec, NULL), 0);
	EXPECT_STREQ(keys_of(params),
		     "CommandArgs,CreateInUtilityVM,CreateStdErrPipe,CreateStdInPipe,"
		     "CreateStdOutPipe,EmulateConsole,Environment,WorkingDirectory");
	EXPECT_STREQ(
	    json_string_value(json_object_get(json_object_get(params, "Environment"), "B")), "x=y");
	ASSERT_EQ(gcs_build_execute(&o, NULL, params, 0x40000001, 0x40000002, 0, NULL), 0);
	EXPECT_STREQ(keys_of(o), "ActivityId,ContainerId,Settings");
	json_t *settings = json_object_get(o, "Settings");
	EXPECT_STREQ(keys_of(settings), "ProcessParameters,VsockStdioRelaySettings");
	/* Zero ports are left out, as hcsshim's omitempty does. */
	EXPECT_STREQ(keys_of(json_object_get(settings, "VsockStdioRelaySettings")), "StdIn,StdOut");
	const char *text = json_string_value(json_object_get(settings, "ProcessParameters"));
	ASSERT_TRUE(text != NULL);
	json_t *back = json_loads(text, 0, NULL);
	EXPECT_TRUE(json_equal(back, params));
	json_decref(back);
	json_decref(o);
	json_decref(params);
}

TEST(execute_process_in_a_container_sends_an_oci_process)
{
	const char *args[] = {"sh"};
	struct gcs_process_spec spec = {.args = args,
					.nargs = 1,
					.user = "1000:100",
					.tty = true,
					.stdin_pipe = true,
					.stdout_pipe = true,
					.tty_height = 24,
					.tty_width = 80};
	json_t *params = NULL;
	ASSERT_EQ(gcs_build_process_params(&params, &spec, NULL), 0);
	EXPECT_STREQ(keys_of(params),
		     "CreateStdErrPipe,CreateStdInPipe,CreateStdOutPipe,EmulateConsole,OciProcess");
	json_t *proc = json_object_get(params, "OciProcess");
	EXPECT_STREQ(keys_of(proc), "args,consoleSize,cwd,env,terminal,user");
	EXPECT_EQ(json_integer_value(json_object_get(json_object_get(proc, "user"), "uid")), 1000);
	EXPECT_EQ(json_integer_value(json_object_get(json_object_get(proc, "user"), "gid")), 100);
	EXPECT_TRUE(json_is_true(json_object_get(params, "EmulateConsole")));
	json_decref(params);

	spec.user = "alice";
	ASSERT_EQ(gcs_build_process_params(&params, &spec, NULL), 0);
	EXPECT_STREQ(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(params, "OciProcess"), "user"), "username")),
	    "alice");
	json_decref(params);

	const char *bad_env[] = {"NOEQUALS"};
	spec.env = bad_env;
	spec.nenv = 1;
	EXPECT_EQ(gcs_build_process_params(&params, &spec, NULL), -EINVAL);
	spec.nenv = 0;
	spec.nargs = 0;
	EXPECT_EQ(gcs_build_process_params(&params, &spec, NULL), -EINVAL);
}

TEST(fill_base_adds_only_what_is_missing)
{
	json_t *o = json_pack("{s:s}", "ContainerId", "mine");
	ASSERT_EQ(gcs_fill_base(o, NULL), 0);
	EXPECT_STREQ(json_string_value(json_object_get(o, "ContainerId")), "mine");
	EXPECT_TRUE(is_guid(json_string_value(json_object_get(o, "ActivityId"))));
	json_decref(o);
	o = json_object();
	ASSERT_EQ(gcs_fill_base(o, NULL), 0);
	EXPECT_STREQ(json_string_value(json_object_get(o, "ContainerId")), UVM_CONTAINER_ID);
	json_decref(o);
}

TEST(message_names_and_numbers_parse)
{
	uint32_t t;
	ASSERT_EQ(gcs_msg_parse("DumpStacks", &t, NULL), 0);
	EXPECT_EQ(t, MSG_DUMP_STACKS);
	ASSERT_EQ(gcs_msg_parse("deletecontainerstate", &t, NULL), 0);
	EXPECT_EQ(t, MSG_DELETE_CONTAINER_STATE);
	ASSERT_EQ(gcs_msg_parse("0x10100c01", &t, NULL), 0);
	EXPECT_EQ(t, MSG_DUMP_STACKS);
	ASSERT_EQ(gcs_msg_parse("269484289", &t, NULL), 0);
	EXPECT_EQ(t, 0x10100101u);
	EXPECT_EQ(gcs_msg_parse("Bogus", &t, NULL), -EINVAL);
	EXPECT_EQ(gcs_msg_parse("0x1FFFFFFFF", &t, NULL), -EINVAL);
	EXPECT_EQ(gcs_msg_parse("12abc", &t, NULL), -EINVAL);
}

/* --- control-socket line buffer ------------------------------------------ */

TEST(linebuf_splits_lines_and_keeps_the_partial_tail)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct linebuf lb;
	linebuf_init(&lb, 64);
	ASSERT_EQ(write(sv[1], "one\ntwo\nthr", 11), 11);
	ASSERT_EQ(linebuf_fill(&lb, sv[0]), 11);
	size_t len;
	char *l = linebuf_next(&lb, &len);
	ASSERT_TRUE(l != NULL);
	EXPECT_STREQ(l, "one");
	l = linebuf_next(&lb, &len);
	ASSERT_TRUE(l != NULL);
	EXPECT_STREQ(l, "two");
	EXPECT_TRUE(linebuf_next(&lb, &len) == NULL);
	ASSERT_EQ(write(sv[1], "ee\n", 3), 3);
	ASSERT_EQ(linebuf_fill(&lb, sv[0]), 3);
	l = linebuf_next(&lb, &len);
	ASSERT_TRUE(l != NULL);
	EXPECT_STREQ(l, "three");
	ASSERT_EQ(write(sv[1], "tail", 4), 4);
	close(sv[1]);
	ASSERT_EQ(linebuf_fill(&lb, sv[0]), 4);
	EXPECT_EQ(linebuf_fill(&lb, sv[0]), 0);
	l = linebuf_rest(&lb, &len);
	ASSERT_TRUE(l != NULL);
	EXPECT_STREQ(l, "tail");
	EXPECT_TRUE(linebuf_rest(&lb, &len) == NULL);
	linebuf_free(&lb);
	close(sv[0]);
}

TEST(linebuf_refuses_to_grow_past_its_limit)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct linebuf lb;
	linebuf_init(&lb, 16);
	char junk[40];
	memset(junk, 'x', sizeof(junk));
	ASSERT_EQ(write(sv[1], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	ssize_t total = 0, n;
	while ((n = linebuf_fill(&lb, sv[0])) > 0)
		total += n;
	EXPECT_EQ(n, -ENOBUFS);
	EXPECT_EQ(total, 16);
	linebuf_free(&lb);
	close(sv[0]);
	close(sv[1]);
}

TAP_MAIN()
