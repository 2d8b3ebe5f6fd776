/* SPDX-License-Identifier: MIT */
/* The frame header codec and the message identifier arithmetic. */
#include <errno.h>

#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "tap_extra.h"
#include "protocol/bridge.h"

TEST(header_encodes_little_endian)
{
	struct bridge_header h = { .type = 0x10100b01, .size = 0x0102, .id = 0x0807060504030201ull };
	uint8_t b[16];
	bridge_header_encode(&h, b);
	const uint8_t want[16] = { 0x01, 0x0b, 0x10, 0x10, 0x02, 0x01, 0x00, 0x00,
				   0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	ASSERT_EQ(memcmp(b, want, 16), 0);
}

TEST(header_round_trips)
{
	struct bridge_header h = { .type = 0x20100c01, .size = 0x10000, .id = UINT64_MAX }, g;
	uint8_t b[16];
	bridge_header_encode(&h, b);
	ASSERT_EQ(bridge_header_decode(b, &g), 0);
	EXPECT_EQ(g.type, h.type);
	EXPECT_EQ(g.size, h.size);
	EXPECT_TRUE(g.id == h.id);
}

static int decode_size(uint32_t size)
{
	struct bridge_header h = { .type = MSG_DUMP_STACKS, .size = size, .id = 1 }, g;
	uint8_t b[16];
	bridge_header_encode(&h, b);
	return bridge_header_decode(b, &g);
}

TEST(header_rejects_size_below_16)
{
	EXPECT_EQ(decode_size(0), -EPROTO);
	EXPECT_EQ(decode_size(15), -EPROTO);
	EXPECT_EQ(decode_size(16), 0);
}

TEST(header_rejects_size_above_64k)
{
	EXPECT_EQ(decode_size(0x10000), 0);
	EXPECT_EQ(decode_size(0x10001), -EPROTO);
	EXPECT_EQ(decode_size(UINT32_MAX), -EPROTO);
}

TEST(response_type_of_every_request)
{
	const uint32_t req[] = { MSG_CREATE, MSG_START, MSG_SHUTDOWN_GRACEFUL, MSG_SHUTDOWN_FORCED,
				 MSG_EXECUTE_PROCESS, MSG_WAIT_FOR_PROCESS, MSG_SIGNAL_PROCESS,
				 MSG_RESIZE_CONSOLE, MSG_GET_PROPERTIES, MSG_MODIFY_SETTINGS,
				 MSG_NEGOTIATE_PROTOCOL, MSG_DUMP_STACKS,
				 MSG_DELETE_CONTAINER_STATE };
	for (size_t i = 0; i < ARRAY_SIZE(req); i++) {
		uint32_t r = bridge_response_type(req[i]);
		EXPECT_EQ(r, 0x20000000u | (req[i] & 0x0FFFFFFFu));
		EXPECT_EQ(bridge_msg_kind(r), MSG_TYPE_RESPONSE);
		/* Message Id i+1, category ComputeSystem, version 1. */
		EXPECT_EQ(bridge_msg_id(req[i]), i + 1);
		EXPECT_EQ(bridge_msg_category(req[i]), MSG_CATEGORY_COMPUTE_SYSTEM);
		EXPECT_EQ(bridge_msg_version(req[i]), 1);
		EXPECT_TRUE(bridge_msg_name(req[i]) != NULL);
	}
	EXPECT_EQ(bridge_response_type(MSG_NEGOTIATE_PROTOCOL), 0x20100b01u);
	/* Whatever the high nibble was, the response's is 2. */
	EXPECT_EQ(bridge_response_type(0xF0100b01u), 0x20100b01u);
	EXPECT_EQ(bridge_response_type(0x00000000u), 0x20000000u);
}

TEST(notification_identifier_fields)
{
	EXPECT_EQ(bridge_msg_kind(MSG_NOTIFY_CONTAINER), MSG_TYPE_NOTIFY);
	EXPECT_EQ(bridge_msg_category(MSG_NOTIFY_CONTAINER), MSG_CATEGORY_COMPUTE_SYSTEM);
	EXPECT_EQ(bridge_msg_id(MSG_NOTIFY_CONTAINER), 1);
	EXPECT_TRUE(bridge_msg_name(0x10100e01) == NULL);
	EXPECT_STREQ(bridge_msg_name(MSG_NEGOTIATE_PROTOCOL), "NegotiateProtocol");
}

TEST(frame_scan_needs_whole_frame)
{
	uint8_t buf[64];
	ASSERT_EQ(bridge_frame_encode(MSG_START, 7, "{}", 2, buf, sizeof(buf)), 0);
	struct bridge_header h;
	for (size_t n = 0; n < 18; n++)
		EXPECT_EQ(bridge_frame_scan(buf, n, &h), 0);
	ASSERT_EQ(bridge_frame_scan(buf, 18, &h), 18);
	EXPECT_EQ(h.type, MSG_START);
	EXPECT_EQ(h.id, 7);
	/* Extra bytes belong to the next frame. */
	EXPECT_EQ(bridge_frame_scan(buf, sizeof(buf), &h), 18);
}

TEST(frame_scan_rejects_bad_size_from_header_alone)
{
	uint8_t buf[16];
	struct bridge_header h = { .type = MSG_START, .size = 0x7fffffff, .id = 3 }, g;
	bridge_header_encode(&h, buf);
	/* Decided on the 16 header bytes: nothing waits for 2 GiB. */
	EXPECT_EQ(bridge_frame_scan(buf, 16, &g), -EPROTO);
	EXPECT_EQ(g.size, 0x7fffffffu);
	h.size = 3;
	bridge_header_encode(&h, buf);
	EXPECT_EQ(bridge_frame_scan(buf, 16, &g), -EPROTO);
}

TEST(frame_encode_enforces_limit)
{
	static uint8_t body[BRIDGE_MAX_FRAME], out[BRIDGE_MAX_FRAME + 16];
	EXPECT_EQ(bridge_frame_encode(1, 1, body, BRIDGE_MAX_FRAME - 16, out, sizeof(out)), 0);
	EXPECT_EQ(bridge_frame_encode(1, 1, body, BRIDGE_MAX_FRAME - 15, out, sizeof(out)), -EMSGSIZE);
	EXPECT_EQ(bridge_frame_encode(1, 1, body, 10, out, 20), -EMSGSIZE);
}

TAP_MAIN()
