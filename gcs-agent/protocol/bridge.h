/* SPDX-License-Identifier: MIT */
/*
 * GCS bridge protocol v4: the wire format shared by the agent (guest) and the
 * host client.  See ../shared/spec/gcs-protocol.md and hcsshim
 * internal/guest/prot/protocol.go.  Every constant here is a contract with
 * the Windows host.
 */
#ifndef GCS_BRIDGE_H
#define GCS_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#define BRIDGE_PORT 0x40000000u		/* guest dials host CID 2 here */
#define BRIDGE_STDIO_PORT_BASE 0x40000001u
#define BRIDGE_ENTROPY_PORT 1u
#define BRIDGE_LOG_PORT 109u
#define BRIDGE_PLAN9_PORT 564u
#define VSOCK_HOST_CID 2u

#define BRIDGE_PROTOCOL_VERSION 4u
#define BRIDGE_HEADER_SIZE 16u
#define BRIDGE_MAX_FRAME 0x10000u		/* Size incl. header, host limit */

/* The frame header, little-endian on the wire.  Decode with
 * bridge_header_decode(), never by casting a buffer. */
struct bridge_header {
	uint32_t type;
	uint32_t size;	/* whole frame, header included */
	uint64_t id;	/* request sequence; echoed; 0 for notifications */
};
_Static_assert(sizeof(struct bridge_header) == BRIDGE_HEADER_SIZE, "bridge header is 16 bytes");

/* Identifier layout: T(4) | Category(8) | Id(12) | Version(8). */
#define MSG_TYPE_MASK 0xF0000000u
#define MSG_CATEGORY_MASK 0x0FF00000u
#define MSG_ID_MASK 0x000FFF00u
#define MSG_VERSION_MASK 0x000000FFu

#define MSG_TYPE_REQUEST 0x10000000u
#define MSG_TYPE_RESPONSE 0x20000000u
#define MSG_TYPE_NOTIFY 0x30000000u
#define MSG_CATEGORY_COMPUTE_SYSTEM 0x00100000u

enum bridge_msg {
	MSG_CREATE = 0x10100101u,
	MSG_START = 0x10100201u,
	MSG_SHUTDOWN_GRACEFUL = 0x10100301u,
	MSG_SHUTDOWN_FORCED = 0x10100401u,
	MSG_EXECUTE_PROCESS = 0x10100501u,
	MSG_WAIT_FOR_PROCESS = 0x10100601u,
	MSG_SIGNAL_PROCESS = 0x10100701u,
	MSG_RESIZE_CONSOLE = 0x10100801u,
	MSG_GET_PROPERTIES = 0x10100901u,
	MSG_MODIFY_SETTINGS = 0x10100a01u,
	MSG_NEGOTIATE_PROTOCOL = 0x10100b01u,
	MSG_DUMP_STACKS = 0x10100c01u,
	MSG_DELETE_CONTAINER_STATE = 0x10100d01u,
	MSG_NOTIFY_CONTAINER = 0x30100101u,
};

static inline uint32_t bridge_response_type(uint32_t request_type)
{
	return MSG_TYPE_RESPONSE | (request_type & ~MSG_TYPE_MASK);
}

/* HRESULTs, as int32 in JSON "Result". */
#define HR_OK 0
#define HR_NOTIMPL ((int32_t)0x80004001u)
#define HR_FAIL ((int32_t)0x80004005u)
#define HR_NOT_FOUND ((int32_t)0x80070490u)
#define HR_INVALIDARG ((int32_t)0x80070057u)
#define HR_INVALID_JSON ((int32_t)0xC037010Du)
#define HR_SYSTEM_NOT_FOUND ((int32_t)0xC037010Eu)
#define HR_ALREADY_EXISTS ((int32_t)0xC037010Fu)
#define HR_UNSUPPORTED_PROTOCOL ((int32_t)0xC037010Cu)
#define HR_UNKNOWN_MESSAGE ((int32_t)0xC037010Bu)
#define HR_INVALID_STATE ((int32_t)0x80370105u)
#define HR_ALREADY_STOPPED ((int32_t)0xC0370110u)
#define HR_TIMEOUT ((int32_t)0xC0370109u)

#define UVM_CONTAINER_ID "00000000-0000-0000-0000-000000000000"

/* Name of a request type ("Create", ...) or NULL when unknown. */
const char *bridge_msg_name(uint32_t type);

/* Encode hdr into out[16] (little-endian). */
void bridge_header_encode(const struct bridge_header *hdr, uint8_t out[BRIDGE_HEADER_SIZE]);

/* Decode in[16]; returns 0, or -EPROTO when Size is < 16 or > 64 KiB (the
 * caller logs and drops the connection, never allocates Size bytes). */
int bridge_header_decode(const uint8_t in[BRIDGE_HEADER_SIZE], struct bridge_header *hdr);

/* Identifier fields (T / Category / Id / Version). */
static inline uint32_t bridge_msg_kind(uint32_t type)
{
	return type & MSG_TYPE_MASK;
}

static inline uint32_t bridge_msg_category(uint32_t type)
{
	return type & MSG_CATEGORY_MASK;
}

static inline uint32_t bridge_msg_id(uint32_t type)
{
	return (type & MSG_ID_MASK) >> 8;
}

static inline uint32_t bridge_msg_version(uint32_t type)
{
	return type & MSG_VERSION_MASK;
}

/* Look for one frame at the start of buf[0..len): returns the frame's length
 * (> 0, hdr filled) when it is complete, 0 when more bytes are needed, or
 * -EPROTO when the header's Size is out of range (hdr still filled, so the
 * caller can say what it saw).  Never reads past len. */
long bridge_frame_scan(const uint8_t *buf, size_t len, struct bridge_header *hdr);

/* Write header + body into out (BRIDGE_HEADER_SIZE + body_len bytes);
 * -EMSGSIZE when the frame would exceed BRIDGE_MAX_FRAME. */
int bridge_frame_encode(uint32_t type, uint64_t id, const void *body, size_t body_len,
			uint8_t *out, size_t out_size);

#endif
