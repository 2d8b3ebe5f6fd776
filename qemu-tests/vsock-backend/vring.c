/* SPDX-License-Identifier: MIT */
#include "vring.h"

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

int vring_setup(struct vring *vr, unsigned num, void *desc, void *avail, void *used,
		uint16_t last_avail, struct error *err)
{
	if (num == 0 || num > VRING_MAX_SIZE || (num & (num - 1)))
		return error_setx(err, EINVAL, "ring size %u is not a power of 2 <= %u", num,
				  VRING_MAX_SIZE);
	if (!desc || !avail || !used)
		return error_setx(err, EFAULT, "ring outside guest memory");
	if (((uintptr_t)desc & 15) || ((uintptr_t)avail & 1) || ((uintptr_t)used & 3))
		return error_setx(err, EINVAL, "misaligned ring");
	vr->num = num;
	vr->desc = desc;
	vr->avail = avail;
	vr->used = used;
	vr->last_avail = last_avail;
	vr->used_idx = le16toh(__atomic_load_n(&vr->used->idx, __ATOMIC_RELAXED));
	vr->broken = false;
	vr->need_call = false;
	return 0;
}

/* A bad chain goes back to the guest at once so it does not leak the
 * buffers; the guest learns nothing was written. */
static int chain_fail(struct vring *vr, struct vring_chain *ch, int r)
{
	vring_push(vr, ch->head, 0);
	return r;
}

int vring_pop(struct vring *vr, const struct gmem *gm, struct vring_chain *ch, struct error *err)
{
	if (!vring_ready(vr))
		return 0;

	/* Acquire: the ring entry and descriptors the guest wrote before
	 * publishing the index must be read after it. */
	uint16_t avail_idx = le16toh(__atomic_load_n(&vr->avail->idx, __ATOMIC_ACQUIRE));
	uint16_t pending = (uint16_t)(avail_idx - vr->last_avail);
	if (pending == 0)
		return 0;
	if (pending > vr->num) {
		vr->broken = true;
		return error_setx(err, EIO, "avail index %u is %u entries ahead of %u (ring size %u)",
				  avail_idx, pending, vr->last_avail, vr->num);
	}

	uint16_t head = le16toh(__atomic_load_n(&vr->avail->ring[vr->last_avail & (vr->num - 1)],
						__ATOMIC_RELAXED));
	vr->last_avail++;
	ch->head = head;
	ch->nout = ch->nin = 0;
	ch->out_len = ch->in_len = 0;
	if (head >= vr->num) {
		/* No valid id to return it under; dropping it is all we can do. */
		return error_setx(err, EINVAL, "avail head %u out of range (ring size %u)", head,
				  vr->num);
	}

	unsigned idx = head, count = 0;
	unsigned max_chain = vr->num < VRING_MAX_CHAIN ? vr->num : VRING_MAX_CHAIN;
	for (;;) {
		const struct vring_desc *d = &vr->desc[idx];
		uint64_t addr = le64toh(__atomic_load_n(&d->addr, __ATOMIC_RELAXED));
		uint32_t len = le32toh(__atomic_load_n(&d->len, __ATOMIC_RELAXED));
		uint16_t flags = le16toh(__atomic_load_n(&d->flags, __ATOMIC_RELAXED));
		uint16_t next = le16toh(__atomic_load_n(&d->next, __ATOMIC_RELAXED));

		if (++count > max_chain)
			return chain_fail(vr, ch,
					  error_setx(err, ELOOP,
						     "chain at head %u longer than %u (loop?)", head,
						     max_chain));
		if (flags & VRING_DESC_F_INDIRECT)
			return chain_fail(vr, ch,
					  error_setx(err, EINVAL,
						     "indirect descriptor %u not negotiated", idx));
		bool writable = flags & VRING_DESC_F_WRITE;
		if (!writable && ch->nin)
			return chain_fail(vr, ch,
					  error_setx(err, EINVAL,
						     "readable descriptor %u after a writable one",
						     idx));
		unsigned used = ch->nout + ch->nin;
		int n = gmem_gpa_iov(gm, addr, len, ch->iov + used, VRING_MAX_IOV - used);
		if (n < 0)
			return chain_fail(vr, ch,
					  error_setx(err, -n == EFAULT ? EFAULT : E2BIG,
						     "descriptor %u: 0x%llx+%u %s", idx,
						     (unsigned long long)addr, len,
						     n == -EFAULT ? "is outside guest memory"
								  : "is too fragmented"));
		if (writable) {
			ch->nin += (unsigned)n;
			ch->in_len += len;
		} else {
			ch->nout += (unsigned)n;
			ch->out_len += len;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (next >= vr->num)
			return chain_fail(vr, ch,
					  error_setx(err, EINVAL,
						     "descriptor %u: next %u out of range (ring size %u)",
						     idx, next, vr->num));
		idx = next;
	}
	return 1;
}

void vring_push(struct vring *vr, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &vr->used->ring[vr->used_idx & (vr->num - 1)];
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
	vr->used_idx++;
	/* Release: the element (and the data written into the buffers) must
	 * be visible before the guest sees the new index. */
	__atomic_store_n(&vr->used->idx, htole16(vr->used_idx), __ATOMIC_RELEASE);
	vr->need_call = true;
}

int vring_notify(struct vring *vr)
{
	if (!vr->need_call || !vr->num)
		return 0;
	/* Full barrier between publishing used->idx and reading the guest's
	 * suppression flag, else we can miss a guest that just re-enabled
	 * interrupts after finding the ring empty. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t flags = le16toh(__atomic_load_n(&vr->avail->flags, __ATOMIC_RELAXED));
	if (flags & VRING_AVAIL_F_NO_INTERRUPT) {
		vr->need_call = false;
		return 0;
	}
	if (vr->call_fd < 0)
		return 0; /* keep need_call: signal once the fd arrives */
	vr->need_call = false;
	uint64_t one = 1;
	/* EAGAIN means the counter is saturated: the guest gets its interrupt. */
	if (write(vr->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}
