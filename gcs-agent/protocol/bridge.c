/* SPDX-License-Identifier: MIT */
#include "bridge.h"

#include <errno.h>
#include <string.h>

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void bridge_header_encode(const struct bridge_header *hdr, uint8_t out[BRIDGE_HEADER_SIZE])
{
	put_le32(out, hdr->type);
	put_le32(out + 4, hdr->size);
	put_le64(out + 8, hdr->id);
}

int bridge_header_decode(const uint8_t in[BRIDGE_HEADER_SIZE], struct bridge_header *hdr)
{
	hdr->type = get_le32(in);
	hdr->size = get_le32(in + 4);
	hdr->id = get_le64(in + 8);
	if (hdr->size < BRIDGE_HEADER_SIZE || hdr->size > BRIDGE_MAX_FRAME)
		return -EPROTO;
	return 0;
}

const char *bridge_msg_name(uint32_t type)
{
	switch (type) {
	case MSG_CREATE: return "Create";
	case MSG_START: return "Start";
	case MSG_SHUTDOWN_GRACEFUL: return "ShutdownGraceful";
	case MSG_SHUTDOWN_FORCED: return "ShutdownForced";
	case MSG_EXECUTE_PROCESS: return "ExecuteProcess";
	case MSG_WAIT_FOR_PROCESS: return "WaitForProcess";
	case MSG_SIGNAL_PROCESS: return "SignalProcess";
	case MSG_RESIZE_CONSOLE: return "ResizeConsole";
	case MSG_GET_PROPERTIES: return "GetProperties";
	case MSG_MODIFY_SETTINGS: return "ModifySettings";
	case MSG_NEGOTIATE_PROTOCOL: return "NegotiateProtocol";
	case MSG_DUMP_STACKS: return "DumpStacks";
	case MSG_DELETE_CONTAINER_STATE: return "DeleteContainerState";
	case MSG_NOTIFY_CONTAINER: return "ContainerNotification";
	default: return NULL;
	}
}

long bridge_frame_scan(const uint8_t *buf, size_t len, struct bridge_header *hdr)
{
	if (len < BRIDGE_HEADER_SIZE)
		return 0;
	if (bridge_header_decode(buf, hdr) < 0)
		return -EPROTO;
	if (len < hdr->size)
		return 0;
	return (long)hdr->size;
}

int bridge_frame_encode(uint32_t type, uint64_t id, const void *body, size_t body_len,
			uint8_t *out, size_t out_size)
{
	if (body_len > BRIDGE_MAX_FRAME - BRIDGE_HEADER_SIZE ||
	    out_size < BRIDGE_HEADER_SIZE + body_len)
		return -EMSGSIZE;
	struct bridge_header hdr = {
		.type = type,
		.size = (uint32_t)(BRIDGE_HEADER_SIZE + body_len),
		.id = id,
	};
	bridge_header_encode(&hdr, out);
	if (body_len)
		memcpy(out + BRIDGE_HEADER_SIZE, body, body_len);
	return 0;
}
