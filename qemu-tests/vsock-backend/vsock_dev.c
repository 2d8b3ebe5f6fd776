/* SPDX-License-Identifier: MIT */
#include "vsock_dev.h"

#include "iov.h"
#include "log.h"

unsigned vsock_dev_tx(struct vring *tx, const struct gmem *gm, struct vsock *vs,
		      struct vring_chain *ch, unsigned budget)
{
	unsigned done = 0;

	while (done < budget) {
		struct error err = { 0 };
		int r = vring_pop(tx, gm, ch, &err);
		if (r == 0)
			break;
		done++;
		if (r < 0) {
			log_warn("tx queue: %s", error_text(&err));
			if (tx->broken)
				break;
			continue;
		}

		/* Read the header once into our memory: the guest can change
		 * its copy under us. */
		uint8_t raw[VSOCK_HDR_SIZE];
		if (iov_to_buf(ch->iov, ch->nout, 0, raw, sizeof(raw)) < sizeof(raw)) {
			log_warn("tx queue: %zu-byte packet is shorter than a header", ch->out_len);
			vring_push(tx, ch->head, 0);
			continue;
		}
		struct vsock_hdr h;
		vsock_hdr_decode(raw, &h);
		if (h.len > ch->out_len - VSOCK_HDR_SIZE) {
			log_warn("tx queue: %s claims %u payload bytes, buffer holds %zu",
				 vsock_op_name(h.op), h.len, ch->out_len - VSOCK_HDR_SIZE);
			vring_push(tx, ch->head, 0);
			continue;
		}
		struct iovec payload[VRING_MAX_IOV];
		unsigned np = iov_slice(ch->iov, ch->nout, VSOCK_HDR_SIZE, h.len, payload,
					VRING_MAX_IOV);
		if (vsock_recv(vs, &h, payload, np, &err) < 0)
			log_warn("tx queue: %s", error_text(&err));
		vring_push(tx, ch->head, 0);
	}
	return done;
}

unsigned vsock_dev_rx(struct vring *rx, const struct gmem *gm, struct vsock *vs,
		      struct vring_chain *ch, unsigned budget)
{
	unsigned done = 0;

	while (done < budget && vsock_pending(vs)) {
		struct error err = { 0 };
		int r = vring_pop(rx, gm, ch, &err);
		if (r == 0)
			break;
		done++;
		if (r < 0) {
			log_warn("rx queue: %s", error_text(&err));
			if (rx->broken)
				break;
			continue;
		}
		if (ch->nout || ch->in_len < VSOCK_HDR_SIZE) {
			log_warn("rx queue: buffer with %zu readable and %zu writable bytes",
				 ch->out_len, ch->in_len);
			vring_push(rx, ch->head, 0);
			continue;
		}

		struct iovec space[VRING_MAX_IOV];
		size_t room = ch->in_len - VSOCK_HDR_SIZE;
		unsigned ns = iov_slice(ch->iov, ch->nin, VSOCK_HDR_SIZE, room, space,
					VRING_MAX_IOV);
		struct vsock_hdr h;
		if (!vsock_send(vs, &h, space, ns, room)) {
			vring_unpop(rx);
			done--;
			break;
		}
		uint8_t raw[VSOCK_HDR_SIZE];
		vsock_hdr_encode(&h, raw);
		iov_from_buf(ch->iov, ch->nin, 0, raw, sizeof(raw));
		vring_push(rx, ch->head, (uint32_t)(VSOCK_HDR_SIZE + h.len));
	}
	return done;
}
