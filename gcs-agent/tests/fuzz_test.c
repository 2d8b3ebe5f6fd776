/* SPDX-License-Identifier: MIT */
/*
 * The fuzz entry point on crafted inputs and on a few thousand seeded
 * mutations of valid request streams (ASan/UBSan under SANITIZE=1).  The
 * sink inside gcs_fuzz_input() aborts on any malformed output.
 */
#include "fuzz.h"
#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "tap_extra.h"
#include "protocol/bridge.h"

static size_t add_frame(uint8_t *buf, size_t off, size_t cap, uint32_t type, uint64_t id,
			const char *body)
{
	size_t len = strlen(body);
	if (off + 16 + len > cap)
		return off;
	bridge_frame_encode(type, id, body, len, buf + off, cap - off);
	return off + 16 + len;
}

#define NEG "{\"MinimumVersion\":4,\"MaximumVersion\":4}"

TEST(valid_stream_is_answered_frame_by_frame)
{
	uint8_t buf[4096];
	size_t n = 0;
	n = add_frame(buf, n, sizeof(buf), MSG_NEGOTIATE_PROTOCOL, 1, NEG);
	n = add_frame(buf, n, sizeof(buf), MSG_DUMP_STACKS, 2, "{}");
	n = add_frame(buf, n, sizeof(buf), MSG_WAIT_FOR_PROCESS, 3,
		      "{\"ContainerId\":\"fuzz\",\"ProcessId\":2}");
	n = add_frame(buf, n, sizeof(buf), MSG_WAIT_FOR_PROCESS, 4,
		      "{\"ContainerId\":\"fuzz\",\"ProcessId\":1,\"TimeoutInMs\":4294967295}");
	struct gcs_fuzz_result r;
	ASSERT_EQ(gcs_fuzz_input(buf, n, &r), 0);
	EXPECT_EQ(r.frames, 4);
	/* The last wait stays pending (and is cancelled at the end). */
	EXPECT_EQ(r.responses, 3);
	EXPECT_EQ(r.dropped, 0);
}

TEST(shutdown_forced_counts_a_poweroff_and_no_response)
{
	uint8_t buf[512];
	size_t n = 0;
	n = add_frame(buf, n, sizeof(buf), MSG_NEGOTIATE_PROTOCOL, 1, NEG);
	n = add_frame(buf, n, sizeof(buf), MSG_SHUTDOWN_FORCED, 2,
		      "{\"ContainerId\":\"00000000-0000-0000-0000-000000000000\"}");
	struct gcs_fuzz_result r;
	ASSERT_EQ(gcs_fuzz_input(buf, n, &r), 0);
	EXPECT_EQ(r.responses, 1);
	EXPECT_EQ(r.poweroffs, 1);
}

TEST(bad_size_stops_like_a_dropped_connection)
{
	uint8_t buf[128];
	size_t n = add_frame(buf, 0, sizeof(buf), MSG_NEGOTIATE_PROTOCOL, 1, NEG);
	struct bridge_header h = { .type = MSG_DUMP_STACKS, .size = 8, .id = 2 };
	bridge_header_encode(&h, buf + n);
	struct gcs_fuzz_result r;
	ASSERT_EQ(gcs_fuzz_input(buf, n + 16, &r), 0);
	EXPECT_EQ(r.frames, 1);
	EXPECT_EQ(r.dropped, 1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

TEST(seeded_mutations_never_break_an_invariant)
{
	static const struct {
		uint32_t type;
		const char *body;
	} seeds[] = {
		{ MSG_CREATE, "{\"ContainerId\":\"x\",\"ContainerConfig\":\"{\\\"SchemaVersion\\\":"
			      "{\\\"Major\\\":2,\\\"Minor\\\":1},\\\"OciSpecification\\\":{}}\"}" },
		{ MSG_EXECUTE_PROCESS, "{\"ContainerId\":\"fuzz\",\"Settings\":{\"ProcessParameters\":"
				       "\"{\\\"CommandArgs\\\":[\\\"a\\\"],\\\"Environment\\\":{\\\"K\\\":"
				       "\\\"V\\\"}}\",\"VsockStdioRelaySettings\":{\"StdIn\":1}}}" },
		{ MSG_WAIT_FOR_PROCESS, "{\"ContainerId\":\"fuzz\",\"ProcessId\":1,\"TimeoutInMs\":5}" },
		{ MSG_SIGNAL_PROCESS, "{\"ContainerId\":\"fuzz\",\"ProcessId\":1,\"Options\":{\"Signal\":9}}" },
		{ MSG_RESIZE_CONSOLE, "{\"ContainerId\":\"fuzz\",\"ProcessId\":1,\"Height\":1,\"Width\":2}" },
		{ MSG_GET_PROPERTIES, "{\"ContainerId\":\"fuzz\",\"Query\":\"{\\\"PropertyTypes\\\":"
				      "[\\\"ProcessList\\\"]}\"}" },
		{ MSG_MODIFY_SETTINGS, "{\"ContainerId\":\"00000000-0000-0000-0000-000000000000\","
				       "\"Request\":{\"ResourceType\":\"CombinedLayers\",\"Settings\":"
				       "{\"Layers\":[{\"Path\":\"/a\"}],\"ScratchPath\":\"/s\"}}}" },
		{ MSG_DELETE_CONTAINER_STATE, "{\"ContainerId\":\"fuzz\"}" },
		{ MSG_START, "{\"ContainerId\":\"fuzz\",\"ActivityId\":\"a\"}" },
		{ MSG_SHUTDOWN_GRACEFUL, "{\"ContainerId\":\"fuzz\"}" },
		{ MSG_DUMP_STACKS, "{}" },
	};
	static const char specials[] = "{}[]\",:\\0\x80\xff";
	static uint8_t buf[8192];
	unsigned total_frames = 0, total_responses = 0;
	for (int iter = 0; iter < 4000; iter++) {
		size_t n = add_frame(buf, 0, sizeof(buf), MSG_NEGOTIATE_PROTOCOL, 1, NEG);
		int k = 1 + (int)(next_rand() % 4);
		for (int i = 0; i < k; i++) {
			size_t s = next_rand() % ARRAY_SIZE(seeds);
			n = add_frame(buf, n, sizeof(buf), seeds[s].type, 2 + i, seeds[s].body);
		}
		/* Flip, insert or truncate a few bytes anywhere, header
		 * included. */
		int muts = 1 + (int)(next_rand() % 6);
		for (int m = 0; m < muts && n > 0; m++) {
			size_t pos = next_rand() % n;
			switch (next_rand() % 4) {
			case 0:
				buf[pos] ^= (uint8_t)(1u << (next_rand() % 8));
				break;
			case 1:
				buf[pos] = (uint8_t)next_rand();
				break;
			case 2:
				buf[pos] = (uint8_t)specials[next_rand() % (sizeof(specials) - 1)];
				break;
			default:
				n = pos;
				break;
			}
		}
		struct gcs_fuzz_result r;
		ASSERT_EQ(gcs_fuzz_input(buf, n, &r), 0);
		total_frames += r.frames;
		total_responses += r.responses;
		/* Never more answers than questions (plus queued
		 * notifications, which this seed set does not raise). */
		ASSERT_LE(r.responses, r.frames);
	}
	TAP_DIAG("%u frames, %u responses", total_frames, total_responses);
	EXPECT_GT(total_frames, 4000);
}

TEST(random_bytes)
{
	static uint8_t buf[4096];
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = next_rand() % sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)next_rand();
		/* Make some headers plausible so bodies get parsed. */
		if (n >= 16 && (iter & 1)) {
			struct bridge_header h = { .type = MSG_NEGOTIATE_PROTOCOL, .size = (uint32_t)n,
						   .id = 1 };
			bridge_header_encode(&h, buf);
		}
		struct gcs_fuzz_result r;
		ASSERT_EQ(gcs_fuzz_input(buf, n, &r), 0);
	}
}

TAP_MAIN()
