/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock device proper: moves packets between the split
 * virtqueues and the connection engine.  Queue 0 (rx) carries packets to
 * the guest, queue 1 (tx) packets from it; queue 2 (event) stays with QEMU.
 */
#ifndef VSOCKD_VSOCK_DEV_H
#define VSOCKD_VSOCK_DEV_H

#include "guest_mem.h"
#include "vring.h"
#include "vsock.h"

enum {
	VSOCK_VQ_RX = 0,
	VSOCK_VQ_TX = 1,
	VSOCK_VQ_EVENT = 2,
	VSOCK_NUM_VQS = 3,
};

/* Hand up to budget packets from the tx ring to the engine; malformed ones
 * are logged and dropped.  Returns the chains consumed. */
unsigned vsock_dev_tx(struct vring *tx, const struct gmem *gm, struct vsock *vs,
		      struct vring_chain *ch, unsigned budget);

/* Fill up to budget rx buffers with packets from the engine.  Stops when the
 * engine has nothing or the guest has no buffers (its next kick resumes).
 * Returns the chains used. */
unsigned vsock_dev_rx(struct vring *rx, const struct gmem *gm, struct vsock *vs,
		      struct vring_chain *ch, unsigned budget);

#endif
