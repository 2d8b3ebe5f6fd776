/* SPDX-License-Identifier: MIT */
/*
 * Device side of a split virtqueue (virtio 1.x, 2.7), in guest memory that
 * the guest may scribble on at any time.  Every index, address and length
 * read from the ring is checked before use, and read once (a second read
 * could see a different value).
 */
#ifndef VSOCKD_VRING_H
#define VSOCKD_VRING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"
#include "lcow/error.h"

/* Wire format (little-endian, virtio 1.x). */
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

struct vring_desc {
	uint64_t addr; /* le, guest-physical */
	uint32_t len;  /* le */
	uint16_t flags; /* le */
	uint16_t next;  /* le */
};
_Static_assert(sizeof(struct vring_desc) == 16, "vring_desc is 16 bytes");

struct vring_avail {
	uint16_t flags; /* le */
	uint16_t idx;   /* le, free-running */
	uint16_t ring[];
};
_Static_assert(sizeof(struct vring_avail) == 4, "vring_avail header is 4 bytes");

struct vring_used_elem {
	uint32_t id;  /* le, head of the chain */
	uint32_t len; /* le, bytes written into the chain */
};
_Static_assert(sizeof(struct vring_used_elem) == 8, "vring_used_elem is 8 bytes");

struct vring_used {
	uint16_t flags; /* le */
	uint16_t idx;   /* le */
	struct vring_used_elem ring[];
};
_Static_assert(sizeof(struct vring_used) == 4, "vring_used header is 4 bytes");

#define VRING_MAX_SIZE 32768
/* Longest chain accepted; vsock needs 1-2 descriptors per packet (more for
 * zero-copy tx), so anything longer is a guest bug or a loop. */
#define VRING_MAX_CHAIN 128
/* iovecs after splitting descriptors at region boundaries */
#define VRING_MAX_IOV 256

static inline uint64_t vring_desc_bytes(unsigned num)
{
	return 16ull * num;
}

static inline uint64_t vring_avail_bytes(unsigned num)
{
	return 4 + 2ull * num;
}

static inline uint64_t vring_used_bytes(unsigned num)
{
	return 4 + 8ull * num;
}

struct vring {
	unsigned num; /* 0 = not set up */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail; /* next avail entry we will take */
	uint16_t used_idx;   /* next used entry we will fill */
	bool broken;	     /* the guest corrupted the ring; stop until reset */
	bool need_call;	     /* used entries the guest was not told about */
	int call_fd;	     /* eventfd, -1 = none (not owned here) */
};

/* A descriptor chain: readable buffers first (iov[0..nout)), then the
 * writable ones (iov[nout..nout + nin)). */
struct vring_chain {
	uint16_t head;
	unsigned nout, nin;
	size_t out_len, in_len;
	struct iovec iov[VRING_MAX_IOV];
};

/* Point vr at rings already translated to host pointers.  num must be a
 * power of 2 up to VRING_MAX_SIZE; pointers must be aligned as virtio
 * requires (16/2/4).  used_idx is taken from the ring itself so a restarted
 * queue resumes where the guest sees it. */
int vring_setup(struct vring *vr, unsigned num, void *desc, void *avail, void *used,
		uint16_t last_avail, struct error *err);

static inline bool vring_ready(const struct vring *vr)
{
	return vr->num && !vr->broken;
}

/*
 * Take the next available chain.  Returns 1 with *ch filled, 0 when the ring
 * is empty, or -errno for a malformed chain: such a chain has already been
 * handed back to the guest as used with length 0 (when its head index is
 * valid), so the caller just logs err and carries on.  A corrupted avail
 * index marks the ring broken (-EIO); it stays silent until set up again.
 */
int vring_pop(struct vring *vr, const struct gmem *gm, struct vring_chain *ch, struct error *err);

/* Put the last popped chain back (the device had nothing to put in it). */
static inline void vring_unpop(struct vring *vr)
{
	vr->last_avail--;
}

/* Return a chain to the guest with len bytes written into it. */
void vring_push(struct vring *vr, uint16_t head, uint32_t len);

/* Interrupt the guest if used entries were added since the last call and it
 * did not suppress interrupts.  Returns 1 if the call eventfd was written. */
int vring_notify(struct vring *vr);

#endif
