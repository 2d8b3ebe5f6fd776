/* SPDX-License-Identifier: MIT */
#include "vsockd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "log.h"
#include "vsock_dev.h"

/* Chains per queue per loop pass: keeps one busy direction from starving
 * the other and the unix sockets. */
#define SERVICE_BUDGET 256

struct vsockd {
	int epfd;
	int listen_fd;
	struct evsrc listen_ev;
	struct vu_dev vu;
	struct vsock *vs;
	struct vring_chain chain;
	bool more_work;
	uint64_t guest_cid;
};

static int vsockd_get_config(void *opaque, uint32_t offset, void *buf, uint32_t len,
			     struct error *err)
{
	struct vsockd *d = opaque;
	struct vsock_wire_config cfg = { .guest_cid = htole64(d->guest_cid) };

	if (offset > sizeof(cfg) || len > sizeof(cfg) - offset)
		return error_setx(err, EINVAL, "config bytes %u+%u beyond the %zu-byte space",
				  offset, len, sizeof(cfg));
	memcpy(buf, (uint8_t *)&cfg + offset, len);
	return 0;
}

static void vsockd_reset(void *opaque)
{
	struct vsockd *d = opaque;
	if (d->vs)
		vsock_reset(d->vs);
}

static const struct vu_dev_ops vsockd_vu_ops = {
	.features = 1ull << VIRTIO_F_VERSION_1,
	.protocol_features =
		(1ull << VHOST_USER_PROTOCOL_F_CONFIG) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK),
	.num_queues = VSOCK_NUM_VQS,
	.get_config = vsockd_get_config,
	.reset = vsockd_reset,
};

static void listen_event(struct evsrc *src, uint32_t events)
{
	struct vsockd *d = container_of(src, struct vsockd, listen_ev);
	(void)events;

	for (;;) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_err("accept front-end: %s", strerror(errno));
			return;
		}
		struct error err = { 0 };
		if (d->vu.fd >= 0 || d->vu.disconnected) {
			log_warn("refusing a second front-end connection");
			close(fd);
			continue;
		}
		if (vu_dev_attach(&d->vu, fd, &err) < 0) {
			log_err("front-end: %s", error_text(&err));
			close(fd);
			continue;
		}
		log_info("front-end connected");
	}
}

int vsockd_new(struct vsockd **out, const struct vsock_config *cfg, int vu_listen_fd,
	       int uds_listen_fd, struct error *err)
{
	_cleanup_close_ int lfd = vu_listen_fd;
	_cleanup_close_ int ufd = uds_listen_fd;
	int r;

	struct vsockd *d = calloc(1, sizeof(*d));
	if (!d)
		return error_set(err, ENOMEM, "allocate");
	d->listen_fd = -1;
	d->guest_cid = cfg->guest_cid;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0) {
		r = error_set(err, errno, "epoll_create1");
		free(d);
		return r;
	}
	r = vu_dev_init(&d->vu, d->epfd, &vsockd_vu_ops, d, err);
	if (r < 0)
		goto fail;
	r = vsock_new(&d->vs, cfg, d->epfd, TAKE_FD(ufd), err);
	if (r < 0)
		goto fail;
	if (lfd >= 0) {
		d->listen_ev.handler = listen_event;
		r = evloop_add(d->epfd, lfd, EPOLLIN, &d->listen_ev);
		if (r < 0) {
			error_set(err, -r, "epoll add vhost-user listener");
			goto fail;
		}
		d->listen_fd = TAKE_FD(lfd);
	}
	*out = d;
	return 0;
fail:
	vsockd_free(d);
	return r;
}

void vsockd_free(struct vsockd *d)
{
	if (!d)
		return;
	vu_dev_destroy(&d->vu);
	vsock_free(d->vs);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	close(d->epfd);
	free(d);
}

int vsockd_attach(struct vsockd *d, int fd, struct error *err)
{
	return vu_dev_attach(&d->vu, fd, err);
}

int vsockd_epfd(const struct vsockd *d)
{
	return d->epfd;
}

static void vsockd_service(struct vsockd *d)
{
	struct vring *tx = vu_dev_ring(&d->vu, VSOCK_VQ_TX);
	struct vring *rx = vu_dev_ring(&d->vu, VSOCK_VQ_RX);

	d->more_work = false;
	d->vu.kicked = false;
	/* Guest packets first: they free credit and ask for replies. */
	if (tx && vsock_dev_tx(tx, &d->vu.mem, d->vs, &d->chain, SERVICE_BUDGET) >= SERVICE_BUDGET)
		d->more_work = true;
	if (rx && vsock_dev_rx(rx, &d->vu.mem, d->vs, &d->chain, SERVICE_BUDGET) >= SERVICE_BUDGET)
		d->more_work = true;
	if (tx)
		vring_notify(tx);
	if (rx)
		vring_notify(rx);
	vsock_reap(d->vs);
}

int vsockd_run_once(struct vsockd *d, int timeout_ms)
{
	int n = evloop_dispatch(d->epfd, d->more_work ? 0 : timeout_ms);
	vsockd_service(d);
	return n;
}

bool vsockd_done(const struct vsockd *d)
{
	return d->vu.disconnected;
}

struct vsock *vsockd_vsock(struct vsockd *d)
{
	return d->vs;
}

struct vu_dev *vsockd_vu(struct vsockd *d)
{
	return &d->vu;
}
