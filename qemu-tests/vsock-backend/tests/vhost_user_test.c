/* SPDX-License-Identifier: MIT */
/*
 * The whole back-end (vsockd: vhost-user + device + engine) driven by a fake
 * front-end over a socketpair: the test sends QEMU's messages, shares a
 * memfd as guest memory, and plays the guest driver on the rings in it.
 */
#include <endian.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <dirent.h>

#include "harness.h"
#include "lcow/fdpass.h"
#include "lcow/tap.h"
#include "log.h"
#include "vhost_user.h"
#include "vring.h"
#include "vsock_dev.h"
#include "vsockd.h"

#define GUEST_CID 42
#define MEM_SIZE (2u << 20)
#define UVA_BASE 0x7f0000000000ull
#define QSIZE 64
/* per queue: desc, avail, used, then buffers (8 KiB each) */
#define Q_OFF(q) (0x10000u + (q) * 0x80000u)
#define Q_DESC(q) Q_OFF(q)
#define Q_AVAIL(q) (Q_OFF(q) + 0x1000)
#define Q_USED(q) (Q_OFF(q) + 0x2000)
#define Q_BUF(q, i) (Q_OFF(q) + 0x4000 + (i) * 0x2000u)

struct fe {
	struct vsockd *d;
	int sock;    /* our end */
	int memfd;
	uint8_t *mem; /* our view of guest memory */
	int kick[2], call[2];
	uint16_t avail_idx[2];
	uint16_t used_seen[2];
	char base[200];
};

static void step(struct fe *f)
{
	for (int i = 0; i < 20; i++)
		vsockd_run_once(f->d, 0);
}

static int fe_init(struct fe *f, bool with_listener)
{
	struct error err = { 0 };
	int sv[2];
	vlog_init(NULL, 0);
	memset(f, 0, sizeof(*f));
	snprintf(f->base, sizeof(f->base), "%s/vu", th_dir());
	int lfd = -1;
	if (with_listener && (lfd = uds_listen(f->base, 64, &err)) < 0)
		return lfd;
	struct vsock_config cfg = { .guest_cid = GUEST_CID, .uds_base = f->base };
	if (vsockd_new(&f->d, &cfg, -1, lfd, &err) < 0) {
		TAP_DIAG("vsockd_new: %s", error_text(&err));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (vsockd_attach(f->d, sv[1], &err) < 0)
		return -1;
	f->sock = sv[0];
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(f->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	f->memfd = memfd_create("guest", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, MEM_SIZE) < 0)
		return -1;
	f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (f->mem == MAP_FAILED)
		return -1;
	for (int q = 0; q < 2; q++) {
		f->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	return 0;
}

static int fe_send(struct fe *f, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		   const int *fds, unsigned nfds)
{
	struct vhost_user_hdr h = { .request = req, .flags = VHOST_USER_VERSION | flags, .size = size };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, size } };
	return send_with_fds(f->sock, iov, size ? 2 : 1, fds, nfds, MSG_NOSIGNAL) ==
			       (ssize_t)(sizeof(h) + size)
		       ? 0
		       : -1;
}

/* Read one reply; returns its payload size or -1. */
static int fe_reply(struct fe *f, uint32_t req, void *payload, size_t cap)
{
	struct vhost_user_hdr h;
	step(f);
	if (recv(f->sock, &h, sizeof(h), MSG_WAITALL) != sizeof(h))
		return -1;
	if (h.request != req || !(h.flags & VHOST_USER_REPLY_MASK) || h.size > cap)
		return -1;
	if (h.size && recv(f->sock, payload, h.size, MSG_WAITALL) != (ssize_t)h.size)
		return -1;
	return (int)h.size;
}

/* Nothing came back (so far). */
static bool fe_no_reply(struct fe *f)
{
	step(f);
	char c;
	return recv(f->sock, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static uint64_t fe_get_u64(struct fe *f, uint32_t req)
{
	uint64_t v = UINT64_MAX;
	if (fe_send(f, req, 0, NULL, 0, NULL, 0) < 0 || fe_reply(f, req, &v, sizeof(v)) != 8)
		return UINT64_MAX;
	return v;
}

static int fe_u64(struct fe *f, uint32_t req, uint32_t flags, uint64_t v, const int *fds,
		  unsigned nfds)
{
	return fe_send(f, req, flags, &v, sizeof(v), fds, nfds);
}

/* With REPLY_ACK: send and return the ack value. */
static uint64_t fe_acked(struct fe *f, uint32_t req, const void *p, uint32_t size, const int *fds,
			 unsigned nfds)
{
	uint64_t v = UINT64_MAX;
	if (fe_send(f, req, VHOST_USER_NEED_REPLY_MASK, p, size, fds, nfds) < 0 ||
	    fe_reply(f, req, &v, sizeof(v)) != 8)
		return UINT64_MAX;
	return v;
}

static void fe_state(struct fe *f, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state st = { .index = index, .num = num };
	fe_send(f, req, 0, &st, sizeof(st), NULL, 0);
}

static void fe_mem_table(struct fe *f, uint64_t uva_base)
{
	/* Two regions of one memfd, like QEMU splitting RAM around a hole. */
	struct vhost_user_memory m = { .nregions = 2 };
	m.regions[0] = (struct vhost_user_mem_region){ 0, MEM_SIZE / 2, uva_base, 0 };
	m.regions[1] = (struct vhost_user_mem_region){ MEM_SIZE / 2, MEM_SIZE / 2,
						       uva_base + MEM_SIZE / 2, MEM_SIZE / 2 };
	int fds[2] = { f->memfd, f->memfd };
	fe_send(f, VHOST_USER_SET_MEM_TABLE, 0, &m, 8 + 2 * sizeof(m.regions[0]), fds, 2);
}

static void fe_vring_addr(struct fe *f, unsigned q, uint64_t uva_base)
{
	struct vhost_user_vring_addr a = {
		.index = q,
		.desc_user_addr = uva_base + Q_DESC(q),
		.avail_user_addr = uva_base + Q_AVAIL(q),
		.used_user_addr = uva_base + Q_USED(q),
	};
	fe_send(f, VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
}

static void fe_start_queue(struct fe *f, unsigned q, uint16_t base)
{
	fe_state(f, VHOST_USER_SET_VRING_NUM, q, QSIZE);
	fe_state(f, VHOST_USER_SET_VRING_BASE, q, base);
	fe_vring_addr(f, q, UVA_BASE);
	fe_u64(f, VHOST_USER_SET_VRING_KICK, 0, q, &f->kick[q], 1);
	fe_u64(f, VHOST_USER_SET_VRING_CALL, 0, q, &f->call[q], 1);
}

/* What QEMU does at device start, plus enabling the rings. */
static int fe_start(struct fe *f)
{
	uint64_t features = fe_get_u64(f, VHOST_USER_GET_FEATURES);
	if (features == UINT64_MAX)
		return -1;
	fe_u64(f, VHOST_USER_SET_FEATURES, 0, features, NULL, 0);
	uint64_t pf = fe_get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);
	fe_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0, pf, NULL, 0);
	fe_send(f, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	fe_mem_table(f, UVA_BASE);
	for (unsigned q = 0; q < 2; q++)
		fe_start_queue(f, q, 0);
	for (unsigned q = 0; q < 2; q++)
		fe_state(f, VHOST_USER_SET_VRING_ENABLE, q, 1);
	step(f);
	return 0;
}

/* ---- the guest driver on the shared memory ---- */

static struct vring_desc *gdesc(struct fe *f, unsigned q)
{
	return (struct vring_desc *)(f->mem + Q_DESC(q));
}

static void gpublish(struct fe *f, unsigned q, uint16_t head)
{
	struct vring_avail *av = (struct vring_avail *)(f->mem + Q_AVAIL(q));
	av->ring[f->avail_idx[q] % QSIZE] = htole16(head);
	f->avail_idx[q]++;
	__atomic_store_n(&av->idx, htole16(f->avail_idx[q]), __ATOMIC_RELEASE);
}

static void gkick(struct fe *f, unsigned q)
{
	uint64_t one = 1;
	if (write(f->kick[q], &one, 8) != 8)
		abort();
}

static bool gcalled(struct fe *f, unsigned q)
{
	uint64_t v;
	return read(f->call[q], &v, 8) == 8;
}

static uint16_t gused_idx(struct fe *f, unsigned q)
{
	struct vring_used *u = (struct vring_used *)(f->mem + Q_USED(q));
	return le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
}

static void gpost_rx(struct fe *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = f->avail_idx[VSOCK_VQ_RX] % QSIZE;
		struct vring_desc *d = &gdesc(f, VSOCK_VQ_RX)[slot];
		d->addr = htole64(Q_BUF(VSOCK_VQ_RX, slot));
		d->len = htole32(4096 + VSOCK_HDR_SIZE);
		d->flags = htole16(VRING_DESC_F_WRITE);
		gpublish(f, VSOCK_VQ_RX, slot);
	}
	gkick(f, VSOCK_VQ_RX);
}

static void gsend(struct fe *f, uint16_t op, uint32_t gport, uint32_t hport, const void *data,
		  uint32_t len)
{
	uint16_t slot = f->avail_idx[VSOCK_VQ_TX] % QSIZE;
	struct vsock_hdr h = { .src_cid = GUEST_CID,
			       .dst_cid = VSOCK_CID_HOST,
			       .src_port = gport,
			       .dst_port = hport,
			       .len = len,
			       .type = VSOCK_TYPE_STREAM,
			       .op = op,
			       .buf_alloc = 1 << 20 };
	uint8_t *p = f->mem + Q_BUF(VSOCK_VQ_TX, slot);
	vsock_hdr_encode(&h, p);
	if (len)
		memcpy(p + VSOCK_HDR_SIZE, data, len);
	struct vring_desc *d = &gdesc(f, VSOCK_VQ_TX)[slot];
	d->addr = htole64(Q_BUF(VSOCK_VQ_TX, slot));
	d->len = htole32(VSOCK_HDR_SIZE + len);
	d->flags = 0;
	gpublish(f, VSOCK_VQ_TX, slot);
	gkick(f, VSOCK_VQ_TX);
}

/* Next packet in the rx used ring, if any. */
static bool grecv(struct fe *f, struct vsock_hdr *h, uint8_t **payload)
{
	if (gused_idx(f, VSOCK_VQ_RX) == f->used_seen[VSOCK_VQ_RX])
		return false;
	struct vring_used *u = (struct vring_used *)(f->mem + Q_USED(VSOCK_VQ_RX));
	uint32_t id = le32toh(u->ring[f->used_seen[VSOCK_VQ_RX]++ % QSIZE].id);
	uint8_t *p = f->mem + Q_BUF(VSOCK_VQ_RX, id);
	vsock_hdr_decode(p, h);
	if (payload)
		*payload = p + VSOCK_HDR_SIZE;
	return true;
}

static unsigned count_fds(void)
{
	unsigned n = 0;
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return 0;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/* ---- tests ---- */

TEST(features_protocol_features_and_config)
{
	struct fe f;
	ASSERT_EQ(fe_init(&f, false), 0);
	uint64_t feat = fe_get_u64(&f, VHOST_USER_GET_FEATURES);
	EXPECT_TRUE(feat & (1ull << VIRTIO_F_VERSION_1));
	EXPECT_TRUE(feat & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	EXPECT_FALSE(feat & (1ull << VIRTIO_VSOCK_F_SEQPACKET));
	EXPECT_FALSE(feat & (1ull << 28)); /* no indirect descriptors */
	uint64_t pf = fe_get_u64(&f, VHOST_USER_GET_PROTOCOL_FEATURES);
	EXPECT_TRUE(pf & (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	EXPECT_TRUE(pf & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	EXPECT_EQ(fe_get_u64(&f, VHOST_USER_GET_QUEUE_NUM), 3);

	/* QEMU's vhost-user-vsock reads the CID with GET_CONFIG. */
	struct vhost_user_config c = { .offset = 0, .size = 8 };
	ASSERT_EQ(fe_send(&f, VHOST_USER_GET_CONFIG, 0, &c, VHOST_USER_CONFIG_HDR_SIZE + 8, NULL, 0),
		  0);
	struct vhost_user_config r;
	ASSERT_EQ(fe_reply(&f, VHOST_USER_GET_CONFIG, &r, sizeof(r)),
		  VHOST_USER_CONFIG_HDR_SIZE + 8);
	uint64_t cid;
	memcpy(&cid, r.region, 8);
	EXPECT_EQ(le64toh(cid), GUEST_CID);
	EXPECT_EQ(r.size, 8);
	/* Outside the 8-byte space: a reply without data. */
	c.offset = 4;
	ASSERT_EQ(fe_send(&f, VHOST_USER_GET_CONFIG, 0, &c, VHOST_USER_CONFIG_HDR_SIZE + 8, NULL, 0),
		  0);
	EXPECT_EQ(fe_reply(&f, VHOST_USER_GET_CONFIG, &r, sizeof(r)), VHOST_USER_CONFIG_HDR_SIZE);
	c.offset = 0;
	c.size = 100000;
	ASSERT_EQ(fe_send(&f, VHOST_USER_GET_CONFIG, 0, &c, VHOST_USER_CONFIG_HDR_SIZE, NULL, 0), 0);
	EXPECT_EQ(fe_reply(&f, VHOST_USER_GET_CONFIG, &r, sizeof(r)), VHOST_USER_CONFIG_HDR_SIZE);
}

TEST(reply_ack_reports_success_and_failure)
{
	struct fe f;
	ASSERT_EQ(fe_init(&f, false), 0);
	/* Before negotiation NEED_REPLY gets no answer. */
	fe_send(&f, VHOST_USER_SET_OWNER, VHOST_USER_NEED_REPLY_MASK, NULL, 0, NULL, 0);
	EXPECT_TRUE(fe_no_reply(&f));
	fe_u64(&f, VHOST_USER_SET_PROTOCOL_FEATURES, 0,
	       (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | (1ull << VHOST_USER_PROTOCOL_F_CONFIG),
	       NULL, 0);
	EXPECT_EQ(fe_acked(&f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	uint8_t cfg[VHOST_USER_CONFIG_HDR_SIZE + 8] = { 0 };
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_CONFIG, cfg, sizeof(cfg), NULL, 0), 0);
	EXPECT_NE(fe_acked(&f, 99, NULL, 0, NULL, 0), 0);
	uint64_t bad_features = 1ull << 5;
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_FEATURES, &bad_features, 8, NULL, 0), 0);
	uint64_t log = 0;
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_LOG_BASE, &log, 8, NULL, 0), 0);
	/* Still talking. */
	EXPECT_NE(fe_get_u64(&f, VHOST_USER_GET_FEATURES), UINT64_MAX);
	EXPECT_FALSE(vsockd_done(f.d));
}

TEST(bad_messages_are_refused_without_leaks)
{
	struct fe f;
	ASSERT_EQ(fe_init(&f, false), 0);
	fe_u64(&f, VHOST_USER_SET_PROTOCOL_FEATURES, 0, 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK,
	       NULL, 0);
	step(&f);
	unsigned before = count_fds();
	int efd = eventfd(0, EFD_CLOEXEC);
	int fds[3] = { efd, efd, efd };
	struct vhost_user_vring_state st;
	uint64_t v;

	/* Queue index out of range, bad sizes. */
	st = (struct vhost_user_vring_state){ .index = 7, .num = 64 };
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st = (struct vhost_user_vring_state){ .index = 0, .num = 100 };
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 65536;
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	/* Payload too short for the request. */
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_VRING_NUM, &st, 4, NULL, 0), 0);
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_FEATURES, &st, 2, NULL, 0), 0);
	/* Kick without its fd; kick for queue 200. */
	v = 1;
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_VRING_KICK, &v, 8, NULL, 0), 0);
	v = 200;
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_VRING_KICK, &v, 8, fds, 1), 0);
	/* Memory tables: too many regions, fd count mismatch, region beyond
	 * its file, overlapping regions. */
	struct vhost_user_memory m = { .nregions = 9 };
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_MEM_TABLE, &m, sizeof(m), NULL, 0), 0);
	m.nregions = 2;
	m.regions[0] = (struct vhost_user_mem_region){ 0, 4096, 0x1000000, 0 };
	m.regions[1] = (struct vhost_user_mem_region){ 8192, 4096, 0x2000000, 0 };
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 64, fds, 1), 0);
	int mfd[2] = { f.memfd, f.memfd };
	m.regions[1].mmap_offset = MEM_SIZE; /* past the end of the memfd */
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 64, mfd, 2), 0);
	m.regions[1].mmap_offset = 0;
	m.regions[1].guest_phys_addr = 2048; /* overlaps region 0 */
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 64, mfd, 2), 0);
	/* fds on a message that takes none; unknown requests with fds. */
	EXPECT_EQ(fe_acked(&f, VHOST_USER_SET_OWNER, NULL, 0, fds, 3), 0);
	EXPECT_NE(fe_acked(&f, 77, "junk", 4, fds, 2), 0);
	fe_send(&f, 1000, 0, "x", 1, fds, 1);
	/* Rings before memory: addresses cannot resolve. */
	fe_state(&f, VHOST_USER_SET_VRING_NUM, 0, 64);
	struct vhost_user_vring_addr a = { .index = 0, .desc_user_addr = 0x1234 };
	EXPECT_NE(fe_acked(&f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	EXPECT_TRUE(vsockd_vu(f.d)->q[0].vr.num == 0);
	step(&f);
	/* Every fd we passed was closed again. */
	EXPECT_EQ(count_fds(), before + 1);
	close(efd);
	EXPECT_NE(fe_get_u64(&f, VHOST_USER_GET_FEATURES), UINT64_MAX);
	EXPECT_FALSE(vsockd_done(f.d));
}

TEST(oversized_payload_drops_front_end)
{
	struct fe f;
	ASSERT_EQ(fe_init(&f, false), 0);
	struct vhost_user_hdr h = { .request = VHOST_USER_SET_OWNER,
				    .flags = VHOST_USER_VERSION,
				    .size = 1u << 30 };
	ASSERT_EQ(send(f.sock, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	step(&f);
	EXPECT_TRUE(vsockd_done(f.d));
	char c;
	EXPECT_EQ(recv(f.sock, &c, 1, 0), 0);
}

TEST(wrong_protocol_version_drops_front_end)
{
	struct fe f;
	ASSERT_EQ(fe_init(&f, false), 0);
	struct vhost_user_hdr h = { .request = VHOST_USER_GET_FEATURES, .flags = 2 };
	ASSERT_EQ(send(f.sock, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	step(&f);
	EXPECT_TRUE(vsockd_done(f.d));
}

TEST(message_split_across_reads)
{
	struct fe f;
	ASSERT_EQ(fe_init(&f, false), 0);
	struct vhost_user_hdr h = { .request = VHOST_USER_GET_FEATURES,
				    .flags = VHOST_USER_VERSION };
	ASSERT_EQ(send(f.sock, &h, 5, 0), 5);
	EXPECT_TRUE(fe_no_reply(&f));
	ASSERT_EQ(send(f.sock, (char *)&h + 5, sizeof(h) - 5, 0), (ssize_t)(sizeof(h) - 5));
	uint64_t v;
	EXPECT_EQ(fe_reply(&f, VHOST_USER_GET_FEATURES, &v, 8), 8);
}

TEST(datapath_through_shared_memory)
{
	struct fe f;
	struct vsock_hdr h;
	uint8_t *p;
	char path[256];
	struct error err = { 0 };
	ASSERT_EQ(fe_init(&f, true), 0);
	snprintf(path, sizeof(path), "%s_1024", f.base);
	int lfd = uds_listen(path, 8, &err);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(fe_start(&f), 0);

	gpost_rx(&f, 32);
	gsend(&f, VSOCK_OP_REQUEST, 5555, 1024, NULL, 0);
	step(&f);
	EXPECT_TRUE(gcalled(&f, VSOCK_VQ_RX));
	ASSERT_TRUE(grecv(&f, &h, NULL));
	EXPECT_EQ(h.op, VSOCK_OP_RESPONSE);
	EXPECT_EQ(h.dst_cid, GUEST_CID);
	EXPECT_EQ(gused_idx(&f, VSOCK_VQ_TX), 1);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_GE(fd, 0);

	gsend(&f, VSOCK_OP_RW, 5555, 1024, "ping", 4);
	step(&f);
	char buf[16] = { 0 };
	ASSERT_EQ(read(fd, buf, sizeof(buf)), 4);
	EXPECT_STREQ(buf, "ping");
	ASSERT_EQ(write(fd, "pong", 4), 4);
	step(&f);
	ASSERT_TRUE(grecv(&f, &h, &p));
	EXPECT_EQ(h.op, VSOCK_OP_RW);
	ASSERT_EQ(h.len, 4);
	EXPECT_EQ(memcmp(p, "pong", 4), 0);

	/* Host-initiated over the same device. */
	int hfd = th_connect(f.base, false);
	ASSERT_GE(hfd, 0);
	ASSERT_EQ(write(hfd, "CONNECT 700\n", 12), 12);
	step(&f);
	ASSERT_TRUE(grecv(&f, &h, NULL));
	EXPECT_EQ(h.op, VSOCK_OP_REQUEST);
	EXPECT_EQ(h.dst_port, 700);
	uint32_t local = h.src_port;
	gsend(&f, VSOCK_OP_RESPONSE, 700, local, NULL, 0);
	step(&f);
	char line[32] = { 0 }, want[32];
	snprintf(want, sizeof(want), "OK %u\n", local);
	ASSERT_TRUE(th_wait_readable(hfd, 1000));
	ASSERT_EQ(read(hfd, line, sizeof(line)), (ssize_t)strlen(want));
	EXPECT_STREQ(line, want);

	/* Stop the tx ring (GET_VRING_BASE): it reports where it stopped and
	 * processes nothing until restarted. */
	struct vhost_user_vring_state st = { .index = VSOCK_VQ_TX };
	fe_send(&f, VHOST_USER_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);
	ASSERT_EQ(fe_reply(&f, VHOST_USER_GET_VRING_BASE, &st, sizeof(st)), 8);
	EXPECT_EQ(st.index, VSOCK_VQ_TX);
	EXPECT_EQ(st.num, f.avail_idx[VSOCK_VQ_TX]);
	gsend(&f, VSOCK_OP_RW, 5555, 1024, "late", 4);
	step(&f);
	EXPECT_FALSE(th_wait_readable(fd, 50));
	EXPECT_EQ(gused_idx(&f, VSOCK_VQ_TX), st.num);
	/* Restart where it stopped; the pending packet goes through. */
	f.kick[VSOCK_VQ_TX] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f.call[VSOCK_VQ_TX] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fe_start_queue(&f, VSOCK_VQ_TX, (uint16_t)st.num);
	gkick(&f, VSOCK_VQ_TX);
	step(&f);
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	ASSERT_EQ(read(fd, buf, sizeof(buf)), 4);
	EXPECT_EQ(memcmp(buf, "late", 4), 0);

	/* The same memory table again (QEMU resends it): rings keep working. */
	fe_mem_table(&f, UVA_BASE);
	step(&f);
	gsend(&f, VSOCK_OP_RW, 5555, 1024, "again", 5);
	step(&f);
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	ASSERT_EQ(read(fd, buf, sizeof(buf)), 5);
	EXPECT_EQ(memcmp(buf, "again", 5), 0);

	/* The front-end leaves: every connection is closed, the daemon is done. */
	close(f.sock);
	step(&f);
	EXPECT_TRUE(vsockd_done(f.d));
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
	ASSERT_TRUE(th_wait_readable(hfd, 1000));
	EXPECT_EQ(read(hfd, buf, sizeof(buf)), 0);
}

TEST(rings_wait_for_enable_after_protocol_features)
{
	struct fe f;
	struct vsock_hdr h;
	ASSERT_EQ(fe_init(&f, false), 0);
	uint64_t features = fe_get_u64(&f, VHOST_USER_GET_FEATURES);
	fe_u64(&f, VHOST_USER_SET_FEATURES, 0, features, NULL, 0);
	fe_mem_table(&f, UVA_BASE);
	for (unsigned q = 0; q < 2; q++)
		fe_start_queue(&f, q, 0);
	gpost_rx(&f, 4);
	gsend(&f, VSOCK_OP_REQUEST, 1, 2, NULL, 0);
	step(&f);
	EXPECT_EQ(gused_idx(&f, VSOCK_VQ_TX), 0); /* disabled: untouched */
	for (unsigned q = 0; q < 2; q++)
		fe_state(&f, VHOST_USER_SET_VRING_ENABLE, q, 1);
	step(&f);
	EXPECT_EQ(gused_idx(&f, VSOCK_VQ_TX), 1);
	ASSERT_TRUE(grecv(&f, &h, NULL));
	EXPECT_EQ(h.op, VSOCK_OP_RST);
}

TEST(reset_owner_stops_rings_and_connections)
{
	struct fe f;
	struct vsock_hdr h;
	char path[256];
	struct error err = { 0 };
	ASSERT_EQ(fe_init(&f, false), 0);
	snprintf(path, sizeof(path), "%s_99", f.base);
	int lfd = uds_listen(path, 8, &err);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(fe_start(&f), 0);
	gpost_rx(&f, 4);
	gsend(&f, VSOCK_OP_REQUEST, 9, 99, NULL, 0);
	step(&f);
	ASSERT_TRUE(grecv(&f, &h, NULL));
	ASSERT_EQ(h.op, VSOCK_OP_RESPONSE);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_GE(fd, 0);

	fe_send(&f, VHOST_USER_RESET_OWNER, 0, NULL, 0, NULL, 0);
	step(&f);
	char c;
	ASSERT_TRUE(th_wait_readable(fd, 1000));
	EXPECT_EQ(read(fd, &c, 1), 0);
	EXPECT_TRUE(vu_dev_ring(vsockd_vu(f.d), VSOCK_VQ_TX) == NULL);
	EXPECT_FALSE(vsockd_done(f.d));
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

TEST(random_messages_never_crash)
{
	struct fe f;
	uint8_t payload[512], sink[4096];
	ASSERT_EQ(fe_init(&f, true), 0);
	if (getenv("VSOCKD_FUZZ_SEED"))
		rng = strtoull(getenv("VSOCKD_FUZZ_SEED"), NULL, 0) | 1;
	ASSERT_EQ(fe_start(&f), 0);
	unsigned before = count_fds();

	for (unsigned i = 0; i < 5000 && !vsockd_done(f.d); i++) {
		uint32_t req = (uint32_t)(rnd() % 42);
		uint32_t size = (uint32_t)(rnd() % 3 ? rnd() % 48 : rnd() % sizeof(payload));
		for (uint32_t k = 0; k < size; k += 8) {
			uint64_t v = rnd();
			/* Small numbers are the interesting ones (indexes, sizes). */
			if (rnd() % 2)
				v %= 300;
			memcpy(payload + k, &v, size - k < 8 ? size - k : 8);
		}
		int fds[2];
		unsigned nfds = (unsigned)(rnd() % 3);
		for (unsigned k = 0; k < nfds; k++)
			fds[k] = rnd() % 2 ? f.memfd : f.kick[k];
		uint32_t flags = rnd() % 2 ? VHOST_USER_NEED_REPLY_MASK : 0;
		ASSERT_EQ(fe_send(&f, req, flags, payload, size, fds, nfds), 0);
		step(&f);
		while (recv(f.sock, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		/* Keep the guest side busy too. */
		if (i % 16 == 0) {
			gpost_rx(&f, 1);
			gsend(&f, VSOCK_OP_REQUEST, (uint32_t)(rnd() % 4), (uint32_t)(rnd() % 3), NULL, 0);
		}
	}
	EXPECT_FALSE(vsockd_done(f.d));
	/* Still serving, no fds leaked (mappings and rings may differ). */
	EXPECT_NE(fe_get_u64(&f, VHOST_USER_GET_FEATURES), UINT64_MAX);
	step(&f);
	EXPECT_TRUE(count_fds() <= before + 4);
}

TAP_MAIN()
