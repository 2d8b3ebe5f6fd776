/* SPDX-License-Identifier: MIT */
#include "vhost_user.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

const char *vhost_user_request_name(uint32_t req)
{
	static const char *const names[] = {
		[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
		[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
		[VHOST_USER_SET_OWNER] = "SET_OWNER",
		[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
		[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
		[VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
		[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
		[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
		[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
		[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
		[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
		[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VHOST_USER_SEND_RARP] = "SEND_RARP",
		[VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
		[VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
		[VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
		[VHOST_USER_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
		[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
		[VHOST_USER_SET_CONFIG] = "SET_CONFIG",
		[VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
		[VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	};
	if (req < sizeof(names) / sizeof(names[0]) && names[req])
		return names[req];
	return "unknown";
}

static void close_msg_fds(struct vhost_user_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* Take the message's single fd (ownership passes to the caller). */
static int msg_take_fd(struct vhost_user_msg *m)
{
	if (m->nfds != 1)
		return -1;
	int fd = m->fds[0];
	m->fds[0] = -1;
	m->nfds = 0;
	return fd;
}

/* ---- queues ---- */

static void queue_set_kick(struct vu_queue *q, int fd)
{
	struct vu_dev *d = q->dev;
	if (q->kick_fd >= 0) {
		evloop_del(d->epfd, q->kick_fd);
		close(q->kick_fd);
	}
	q->kick_fd = fd;
}

static void queue_set_call(struct vu_queue *q, int fd)
{
	if (q->call_fd >= 0)
		close(q->call_fd);
	q->call_fd = fd;
	q->vr.call_fd = fd;
}

/* Resolve the ring addresses against the current memory table. */
static int queue_translate(struct vu_queue *q, struct error *err)
{
	struct vu_dev *d = q->dev;
	int call_fd = q->vr.call_fd;
	uint16_t last_avail = q->vr.num ? q->vr.last_avail : q->base;

	q->vr = (struct vring){ .call_fd = call_fd };
	if (!q->addr_set || !q->num)
		return 0;
	void *desc = gmem_uva_ptr(&d->mem, q->desc_uva, vring_desc_bytes(q->num));
	void *avail = gmem_uva_ptr(&d->mem, q->avail_uva, vring_avail_bytes(q->num));
	void *used = gmem_uva_ptr(&d->mem, q->used_uva, vring_used_bytes(q->num));
	int r = vring_setup(&q->vr, q->num, desc, avail, used, last_avail, err);
	q->vr.call_fd = call_fd;
	if (r < 0)
		return error_prefix(err, r, "queue %u", q->idx);
	return 0;
}

static void queue_reset(struct vu_queue *q)
{
	queue_set_kick(q, -1);
	queue_set_call(q, -1);
	q->vr = (struct vring){ .call_fd = -1 };
	q->num = 0;
	q->base = 0;
	q->addr_set = false;
	q->started = false;
	q->enabled = false;
}

static void kick_event(struct evsrc *src, uint32_t events)
{
	struct vu_queue *q = container_of(src, struct vu_queue, kick_ev);
	uint64_t v;
	(void)events;

	/* Only clears the eventfd; the loop services every ready queue after
	 * each batch of events. */
	if (read(q->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("queue %u: kick read: %s", q->idx, strerror(errno));
	q->dev->kicked = true;
}

struct vring *vu_dev_ring(struct vu_dev *d, unsigned idx)
{
	if (idx >= VU_MAX_QUEUES || d->fd < 0)
		return NULL;
	struct vu_queue *q = &d->q[idx];
	/* Without PROTOCOL_FEATURES rings start enabled; with it they wait for
	 * SET_VRING_ENABLE. */
	bool enabled = q->enabled || !(d->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	if (!q->started || !enabled || !vring_ready(&q->vr))
		return NULL;
	return &q->vr;
}

/* ---- messages ---- */

/* 1 = a whole message is in d->msg, 0 = wait for more, -EPIPE = the
 * front-end closed, other -errno = broken stream. */
static int read_msg(struct vu_dev *d, struct error *err)
{
	struct vhost_user_msg *m = d->msg;
	const size_t hsz = sizeof(m->hdr);

	for (;;) {
		uint8_t *dst;
		size_t want;
		if (d->got < hsz) {
			dst = (uint8_t *)&m->hdr + d->got;
			want = hsz - d->got;
		} else {
			if ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
				return error_setx(err, EPROTO, "protocol version %u",
						  m->hdr.flags & VHOST_USER_VERSION_MASK);
			if (m->hdr.size > VHOST_USER_MAX_PAYLOAD)
				return error_setx(err, EMSGSIZE, "%s with a %u-byte payload",
						  vhost_user_request_name(m->hdr.request),
						  m->hdr.size);
			size_t have = d->got - hsz;
			if (have == m->hdr.size)
				return 1;
			dst = m->p.raw + have;
			want = m->hdr.size - have;
		}

		struct iovec iov = { .iov_base = dst, .iov_len = want };
		union {
			char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
			struct cmsghdr align;
		} cbuf;
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf.buf,
			.msg_controllen = sizeof(cbuf.buf),
		};
		ssize_t n = recvmsg(d->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return error_set(err, errno, "recvmsg");
		}
		bool overflow = false;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (m->nfds < VHOST_USER_MAX_FDS) {
					m->fds[m->nfds++] = fd;
				} else {
					close(fd);
					overflow = true;
				}
			}
		}
		if (overflow || (mh.msg_flags & MSG_CTRUNC))
			return error_setx(err, EPROTO, "more than %d fds with one message",
					  VHOST_USER_MAX_FDS);
		if (n == 0)
			return d->got ? error_setx(err, EPIPE, "front-end closed mid-message")
				      : -EPIPE;
		d->got += (size_t)n;
	}
}

static int send_reply(struct vu_dev *d, const void *payload, uint32_t size, struct error *err)
{
	struct vhost_user_hdr h = {
		.request = d->msg->hdr.request,
		.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	ssize_t n;
	do
		n = sendmsg(d->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	/* Replies are tiny and QEMU waits for them; a full socket means the
	 * front-end is wedged. */
	if (n != (ssize_t)(sizeof(h) + size)) {
		error_set(err, n < 0 ? errno : EIO, "send %s reply",
			  vhost_user_request_name(h.request));
		return -ECONNRESET;
	}
	return 0;
}

static int send_u64(struct vu_dev *d, uint64_t v, struct error *err)
{
	return send_reply(d, &v, sizeof(v), err);
}

static int need_size(const struct vhost_user_msg *m, uint32_t size, struct error *err)
{
	if (m->hdr.size < size)
		return error_setx(err, EINVAL, "payload of %u bytes, want %u", m->hdr.size, size);
	return 0;
}

static struct vu_queue *msg_queue(struct vu_dev *d, uint32_t idx, struct error *err)
{
	if (idx >= VU_MAX_QUEUES || idx >= d->ops->num_queues) {
		error_setx(err, EINVAL, "queue index %u out of range", idx);
		return NULL;
	}
	return &d->q[idx];
}

static int handle_set_mem_table(struct vu_dev *d, struct error *err)
{
	struct vhost_user_msg *m = d->msg;
	struct gmem mem;
	int r = need_size(m, 8, err);
	if (r < 0)
		return r;
	uint32_t n = m->p.memory.nregions;
	if (n == 0 || n > VHOST_USER_MAX_REGIONS)
		return error_setx(err, EINVAL, "%u memory regions", n);
	if ((r = need_size(m, 8 + n * (uint32_t)sizeof(struct vhost_user_mem_region), err)) < 0)
		return r;
	if (m->nfds != n)
		return error_setx(err, EINVAL, "%u memory regions but %u fds", n, m->nfds);

	/* All or nothing: build the new table aside, then switch. */
	gmem_init(&mem);
	for (uint32_t i = 0; i < n; i++) {
		const struct vhost_user_mem_region *reg = &m->p.memory.regions[i];
		struct gmem_region gr;
		r = gmem_map_region(&gr, m->fds[i], reg->guest_phys_addr, reg->memory_size,
				    reg->userspace_addr, reg->mmap_offset, err);
		if (r == 0) {
			r = gmem_add(&mem, &gr, err);
			if (r < 0)
				munmap(gr.map, gr.map_len);
		}
		if (r < 0) {
			gmem_clear(&mem);
			return error_prefix(err, r, "region %u", i);
		}
		log_debug("region %u: gpa 0x%llx size 0x%llx uva 0x%llx offset 0x%llx", i,
			  (unsigned long long)reg->guest_phys_addr,
			  (unsigned long long)reg->memory_size,
			  (unsigned long long)reg->userspace_addr,
			  (unsigned long long)reg->mmap_offset);
	}
	struct gmem old = d->mem;
	d->mem = mem;
	/* Rings hold pointers into the old mappings: re-resolve them first. */
	int ret = 0;
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		struct error qerr = { 0 };
		if (queue_translate(&d->q[i], &qerr) < 0 && ret == 0) {
			*err = qerr;
			ret = -qerr.errnum;
		}
	}
	gmem_clear(&old);
	return ret;
}

static int handle_vring_fd(struct vu_dev *d, struct error *err)
{
	struct vhost_user_msg *m = d->msg;
	int r = need_size(m, 8, err);
	if (r < 0)
		return r;
	struct vu_queue *q = msg_queue(d, (uint32_t)(m->p.u64 & VHOST_USER_VRING_IDX_MASK), err);
	if (!q)
		return -EINVAL;
	bool nofd = m->p.u64 & VHOST_USER_VRING_NOFD_MASK;
	int fd = -1;
	if (!nofd) {
		fd = msg_take_fd(m);
		if (fd < 0)
			return error_setx(err, EINVAL, "%s for queue %u without an fd",
					  vhost_user_request_name(m->hdr.request), q->idx);
	}

	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_KICK:
		queue_set_kick(q, fd);
		if (fd >= 0) {
			r = evloop_add(d->epfd, fd, EPOLLIN, &q->kick_ev);
			if (r < 0)
				return error_set(err, -r, "epoll add kick fd");
		} else {
			log_warn("queue %u: no kick fd, only serviced on other events", q->idx);
		}
		/* The ring starts with its kick fd. */
		q->started = true;
		d->kicked = true;
		return 0;
	case VHOST_USER_SET_VRING_CALL:
		queue_set_call(q, fd);
		/* Interrupts owed while there was no call fd go out now. */
		vring_notify(&q->vr);
		return 0;
	default: /* SET_VRING_ERR: we never report ring errors that way */
		if (fd >= 0)
			close(fd);
		return 0;
	}
}

static int handle_get_config(struct vu_dev *d, struct error *err)
{
	struct vhost_user_msg *m = d->msg;
	struct vhost_user_config reply;
	int r = need_size(m, VHOST_USER_CONFIG_HDR_SIZE, err);
	if (r < 0)
		return r;
	reply.offset = m->p.config.offset;
	reply.size = m->p.config.size;
	reply.flags = 0;
	if (reply.size > VHOST_USER_MAX_CONFIG_SIZE || !d->ops->get_config ||
	    d->ops->get_config(d->opaque, reply.offset, reply.region, reply.size, err) < 0) {
		if (!err || !err->msg[0])
			error_setx(err, EINVAL, "config bytes %u+%u", reply.offset, reply.size);
		/* A reply of the wrong size is how the front-end learns of the
		 * failure. */
		reply.size = 0;
		struct error serr = { 0 };
		r = send_reply(d, &reply, VHOST_USER_CONFIG_HDR_SIZE, &serr);
		return r < 0 ? (*err = serr, r) : -EINVAL;
	}
	return send_reply(d, &reply, VHOST_USER_CONFIG_HDR_SIZE + reply.size, err);
}

/* Handle d->msg.  *replied tells whether the request has its own reply (so
 * REPLY_ACK is not needed).  Returns -ECONNRESET when a reply could not be
 * sent: the connection is unusable. */
static int handle_msg(struct vu_dev *d, bool *replied, struct error *err)
{
	struct vhost_user_msg *m = d->msg;
	struct vu_queue *q;
	int r;

	*replied = true;
	switch (m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		return send_u64(d, d->ops->features | (1ull << VHOST_USER_F_PROTOCOL_FEATURES), err);
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		return send_u64(d, d->ops->protocol_features, err);
	case VHOST_USER_GET_QUEUE_NUM:
		return send_u64(d, d->ops->num_queues, err);
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		return send_u64(d, VHOST_USER_MAX_REGIONS, err);
	case VHOST_USER_GET_CONFIG:
		return handle_get_config(d, err);
	case VHOST_USER_GET_VRING_BASE: {
		if ((r = need_size(m, sizeof(m->p.state), err)) < 0)
			return r;
		if (!(q = msg_queue(d, m->p.state.index, err)))
			return -EINVAL;
		/* Stop the ring: no more processing until it is started
		 * again; the front-end resends kick and call. */
		struct vhost_user_vring_state st = {
			.index = q->idx,
			.num = q->vr.num ? q->vr.last_avail : q->base,
		};
		q->base = (uint16_t)st.num;
		q->started = false;
		queue_set_kick(q, -1);
		queue_set_call(q, -1);
		return send_reply(d, &st, sizeof(st), err);
	}
	default:
		break;
	}

	*replied = false;
	switch (m->hdr.request) {
	case VHOST_USER_SET_FEATURES: {
		if ((r = need_size(m, 8, err)) < 0)
			return r;
		uint64_t offered = d->ops->features | (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
		if (m->p.u64 & ~offered)
			return error_setx(err, EINVAL, "features 0x%llx were not offered",
					  (unsigned long long)(m->p.u64 & ~offered));
		d->features = m->p.u64;
		return 0;
	}
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if ((r = need_size(m, 8, err)) < 0)
			return r;
		if (m->p.u64 & ~d->ops->protocol_features)
			return error_setx(err, EINVAL, "protocol features 0x%llx were not offered",
					  (unsigned long long)(m->p.u64 & ~d->ops->protocol_features));
		d->protocol_features = m->p.u64;
		return 0;
	case VHOST_USER_SET_OWNER:
		return 0;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
			queue_reset(&d->q[i]);
		d->features = 0;
		if (d->ops->reset)
			d->ops->reset(d->opaque);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return handle_set_mem_table(d, err);
	case VHOST_USER_SET_VRING_NUM:
		if ((r = need_size(m, sizeof(m->p.state), err)) < 0)
			return r;
		if (!(q = msg_queue(d, m->p.state.index, err)))
			return -EINVAL;
		if (m->p.state.num == 0 || m->p.state.num > VRING_MAX_SIZE ||
		    (m->p.state.num & (m->p.state.num - 1)))
			return error_setx(err, EINVAL, "queue %u: size %u", q->idx,
					  m->p.state.num);
		q->num = m->p.state.num;
		return queue_translate(q, err);
	case VHOST_USER_SET_VRING_BASE:
		if ((r = need_size(m, sizeof(m->p.state), err)) < 0)
			return r;
		if (!(q = msg_queue(d, m->p.state.index, err)))
			return -EINVAL;
		q->base = (uint16_t)m->p.state.num;
		if (q->vr.num)
			q->vr.last_avail = q->base;
		return 0;
	case VHOST_USER_SET_VRING_ADDR:
		if ((r = need_size(m, sizeof(m->p.addr), err)) < 0)
			return r;
		if (!(q = msg_queue(d, m->p.addr.index, err)))
			return -EINVAL;
		if (m->p.addr.flags & 1)
			return error_setx(err, ENOTSUP, "queue %u: dirty logging", q->idx);
		q->desc_uva = m->p.addr.desc_user_addr;
		q->avail_uva = m->p.addr.avail_user_addr;
		q->used_uva = m->p.addr.used_user_addr;
		q->addr_set = true;
		q->vr.last_avail = q->base; /* resume where SET_VRING_BASE said */
		q->vr.num = 0;
		return queue_translate(q, err);
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return handle_vring_fd(d, err);
	case VHOST_USER_SET_VRING_ENABLE:
		if ((r = need_size(m, sizeof(m->p.state), err)) < 0)
			return r;
		if (!(q = msg_queue(d, m->p.state.index, err)))
			return -EINVAL;
		q->enabled = m->p.state.num != 0;
		d->kicked = true;
		return 0;
	case VHOST_USER_SET_CONFIG:
		return error_setx(err, EPERM, "config space is read-only");
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_SET_LOG_FD:
		return error_setx(err, ENOTSUP, "dirty logging not offered");
	default:
		return error_setx(err, ENOTSUP, "request %u (%s) not supported", m->hdr.request,
				  vhost_user_request_name(m->hdr.request));
	}
}

static void vu_event(struct evsrc *src, uint32_t events)
{
	struct vu_dev *d = container_of(src, struct vu_dev, ev);
	(void)events;

	while (d->fd >= 0) {
		struct error err = { 0 };
		int r = read_msg(d, &err);
		if (r == 0)
			return;
		if (r < 0) {
			if (r == -EPIPE && !err.msg[0])
				log_info("front-end disconnected");
			else
				log_err("vhost-user: %s; dropping the front-end", error_text(&err));
			vu_dev_detach(d);
			d->disconnected = true;
			return;
		}

		struct vhost_user_msg *m = d->msg;
		bool replied;
		log_debug("vhost-user %s (flags 0x%x, %u bytes, %u fds)",
			  vhost_user_request_name(m->hdr.request), m->hdr.flags, m->hdr.size,
			  m->nfds);
		r = handle_msg(d, &replied, &err);
		if (r < 0)
			log_err("vhost-user %s: %s", vhost_user_request_name(m->hdr.request),
				error_text(&err));
		if (!replied && (m->hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
		    (d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK))) {
			struct error serr = { 0 };
			if (send_u64(d, r < 0 ? 1 : 0, &serr) < 0) {
				err = serr;
				r = -ECONNRESET;
			}
		}
		close_msg_fds(m);
		d->got = 0;
		if (r == -ECONNRESET) {
			log_err("vhost-user: %s; dropping the front-end", error_text(&err));
			vu_dev_detach(d);
			d->disconnected = true;
			return;
		}
	}
}

int vu_dev_init(struct vu_dev *d, int epfd, const struct vu_dev_ops *ops, void *opaque,
		struct error *err)
{
	*d = (struct vu_dev){ .epfd = epfd, .fd = -1, .ops = ops, .opaque = opaque };
	d->ev.handler = vu_event;
	gmem_init(&d->mem);
	d->msg = calloc(1, sizeof(*d->msg));
	if (!d->msg)
		return error_set(err, ENOMEM, "allocate message buffer");
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		struct vu_queue *q = &d->q[i];
		q->dev = d;
		q->idx = i;
		q->kick_fd = -1;
		q->call_fd = -1;
		q->vr.call_fd = -1;
		q->kick_ev.handler = kick_event;
	}
	return 0;
}

int vu_dev_attach(struct vu_dev *d, int fd, struct error *err)
{
	if (d->fd >= 0)
		return error_setx(err, EBUSY, "a front-end is already connected");
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return error_set(err, errno, "make the front-end socket non-blocking");
	int r = evloop_add(d->epfd, fd, EPOLLIN, &d->ev);
	if (r < 0)
		return error_set(err, -r, "epoll add front-end");
	d->fd = fd;
	d->got = 0;
	d->msg->nfds = 0;
	return 0;
}

void vu_dev_detach(struct vu_dev *d)
{
	if (d->fd >= 0) {
		evloop_del(d->epfd, d->fd);
		close(d->fd);
		d->fd = -1;
	}
	if (d->msg)
		close_msg_fds(d->msg);
	d->got = 0;
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		queue_reset(&d->q[i]);
	gmem_clear(&d->mem);
	d->features = 0;
	d->protocol_features = 0;
	if (d->ops && d->ops->reset)
		d->ops->reset(d->opaque);
}

void vu_dev_destroy(struct vu_dev *d)
{
	vu_dev_detach(d);
	free(d->msg);
	d->msg = NULL;
}
