/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock wire format (virtio 1.x, 5.10; Linux uapi virtio_vsock.h).
 * Every packet on the rx and tx queues starts with this 44-byte header,
 * little-endian; the engine works on the decoded host-order form.
 */
#ifndef VSOCKD_VSOCK_PROTO_H
#define VSOCKD_VSOCK_PROTO_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#define VSOCK_CID_HOST 2
#define VSOCK_PORT_ANY 0xffffffffu

enum vsock_type {
	VSOCK_TYPE_STREAM = 1,
	VSOCK_TYPE_SEQPACKET = 2,
};

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive / send no more */
#define VSOCK_SHUTDOWN_RCV 1u
#define VSOCK_SHUTDOWN_SEND 2u
#define VSOCK_SHUTDOWN_MASK (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)

/* The device-specific feature bit we do not offer. */
#define VIRTIO_VSOCK_F_SEQPACKET 1

struct vsock_wire_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_wire_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

#define VSOCK_HDR_SIZE sizeof(struct vsock_wire_hdr)

/* Host byte order. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

static inline void vsock_hdr_decode(const void *wire, struct vsock_hdr *h)
{
	struct vsock_wire_hdr w;
	memcpy(&w, wire, sizeof(w));
	h->src_cid = le64toh(w.src_cid);
	h->dst_cid = le64toh(w.dst_cid);
	h->src_port = le32toh(w.src_port);
	h->dst_port = le32toh(w.dst_port);
	h->len = le32toh(w.len);
	h->type = le16toh(w.type);
	h->op = le16toh(w.op);
	h->flags = le32toh(w.flags);
	h->buf_alloc = le32toh(w.buf_alloc);
	h->fwd_cnt = le32toh(w.fwd_cnt);
}

static inline void vsock_hdr_encode(const struct vsock_hdr *h, void *wire)
{
	struct vsock_wire_hdr w = {
		.src_cid = htole64(h->src_cid),
		.dst_cid = htole64(h->dst_cid),
		.src_port = htole32(h->src_port),
		.dst_port = htole32(h->dst_port),
		.len = htole32(h->len),
		.type = htole16(h->type),
		.op = htole16(h->op),
		.flags = htole32(h->flags),
		.buf_alloc = htole32(h->buf_alloc),
		.fwd_cnt = htole32(h->fwd_cnt),
	};
	memcpy(wire, &w, sizeof(w));
}

/* Device configuration space: le64 guest_cid. */
struct vsock_wire_config {
	uint64_t guest_cid;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_wire_config) == 8, "virtio_vsock_config is 8 bytes");

static inline const char *vsock_op_name(uint16_t op)
{
	static const char *const names[] = {
		"INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW", "CREDIT_UPDATE",
		"CREDIT_REQUEST",
	};
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

#endif
