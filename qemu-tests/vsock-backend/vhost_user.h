/* SPDX-License-Identifier: MIT */
/*
 * The back-end side of the vhost-user protocol (QEMU docs/interop/
 * vhost-user.rst): QEMU, the front-end, shares guest memory and the
 * virtqueues over a unix socket, we process the queues.  Messages are in
 * the host's native byte order (the protocol says so); file descriptors ride
 * along as SCM_RIGHTS.
 */
#ifndef VSOCKD_VHOST_USER_H
#define VSOCKD_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "evloop.h"
#include "guest_mem.h"
#include "lcow/error.h"
#include "vring.h"

enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_RESET_DEVICE = 34,
};

/* header flags */
#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY_MASK (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)

/* virtio feature bit: the protocol-feature handshake is available */
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1 32

/* protocol feature bits */
#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_CONFIG 9
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE 13

/* SET_VRING_KICK/CALL/ERR payload */
#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD_MASK (1u << 8)

#define VHOST_USER_MAX_FDS 8
#define VHOST_USER_MAX_REGIONS 8
#define VHOST_USER_MAX_CONFIG_SIZE 256
/* The largest message we understand is ~270 bytes; refuse anything that
 * would make us buffer more. */
#define VHOST_USER_MAX_PAYLOAD 4096

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes after the header */
} __attribute__((packed));
_Static_assert(sizeof(struct vhost_user_hdr) == 12, "vhost-user header is 12 bytes");

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
};
_Static_assert(sizeof(struct vhost_user_vring_state) == 8, "vring state is 8 bytes");

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags; /* bit 0: log writes (not supported) */
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};
_Static_assert(sizeof(struct vhost_user_vring_addr) == 40, "vring address is 40 bytes");

struct vhost_user_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vhost_user_mem_region) == 32, "memory region is 32 bytes");

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region regions[VHOST_USER_MAX_REGIONS];
};
_Static_assert(sizeof(struct vhost_user_memory) == 8 + 32 * 8, "memory table is 264 bytes");

struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VHOST_USER_MAX_CONFIG_SIZE];
};
#define VHOST_USER_CONFIG_HDR_SIZE 12
_Static_assert(sizeof(struct vhost_user_config) == 12 + 256, "config message is 268 bytes");

struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_user_vring_state state;
		struct vhost_user_vring_addr addr;
		struct vhost_user_memory memory;
		struct vhost_user_config config;
		uint8_t raw[VHOST_USER_MAX_PAYLOAD];
	} p;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
};

#define VU_MAX_QUEUES 3

struct vu_dev;

struct vu_queue {
	struct vu_dev *dev;
	unsigned idx;
	struct vring vr;
	unsigned num;  /* SET_VRING_NUM */
	uint16_t base; /* SET_VRING_BASE: where to resume */
	uint64_t desc_uva, avail_uva, used_uva;
	bool addr_set;
	bool started; /* kick fd received, not stopped by GET_VRING_BASE */
	bool enabled; /* SET_VRING_ENABLE */
	int kick_fd, call_fd;
	struct evsrc kick_ev;
};

struct vu_dev_ops {
	uint64_t features;	    /* virtio features offered (PROTOCOL_FEATURES is added) */
	uint64_t protocol_features; /* protocol features offered */
	unsigned num_queues;
	/* Read len bytes of config space at offset into buf. */
	int (*get_config)(void *opaque, uint32_t offset, void *buf, uint32_t len,
			  struct error *err);
	/* The device was reset or the front-end left. */
	void (*reset)(void *opaque);
};

struct vu_dev {
	struct evsrc ev;
	int epfd;
	int fd; /* the front-end connection, -1 when none */
	const struct vu_dev_ops *ops;
	void *opaque;
	struct gmem mem;
	uint64_t features, protocol_features;
	struct vu_queue q[VU_MAX_QUEUES];
	struct vhost_user_msg *msg; /* being received */
	size_t got;		    /* bytes of it so far */
	bool disconnected;	    /* the front-end came and went */
	bool kicked;		    /* a queue was kicked since vu_dev_take_kicks() */
};

int vu_dev_init(struct vu_dev *d, int epfd, const struct vu_dev_ops *ops, void *opaque,
		struct error *err);
/* Serve the connected front-end socket fd (ownership passes here). */
int vu_dev_attach(struct vu_dev *d, int fd, struct error *err);
/* Drop the front-end: close its fds, unmap memory, reset the device. */
void vu_dev_detach(struct vu_dev *d);
void vu_dev_destroy(struct vu_dev *d);

/* The ring of queue idx if the guest may use it now, else NULL. */
struct vring *vu_dev_ring(struct vu_dev *d, unsigned idx);

const char *vhost_user_request_name(uint32_t req);

#endif
