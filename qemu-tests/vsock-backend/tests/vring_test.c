/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues against a fake guest: the test lays out the descriptor
 * table, avail and used rings and buffers in a malloc'd "guest memory" and
 * plays the driver, including a hostile one.  The last tests run the
 * virtio-vsock device glue (rings <-> connection engine) the same way.
 */
#include <endian.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "evloop.h"
#include "harness.h"
#include "iov.h"
#include "lcow/tap.h"
#include "log.h"
#include "vring.h"
#include "vsock.h"
#include "vsock_dev.h"

#define MEM_SIZE (1u << 20)
#define GPA_BASE 0x100000ull
#define UVA_BASE 0x7f1200000000ull
#define DESC_OFF 0x0
#define AVAIL_OFF 0x4000
#define USED_OFF 0x8000
#define DATA_OFF 0x10000

struct fake {
	uint8_t *mem;
	struct gmem gm;
	struct vring vr;
	unsigned num;
	uint16_t avail_idx; /* driver's shadow */
	uint16_t used_seen; /* driver's last seen used idx */
};

static struct vring_desc *fdesc(struct fake *f)
{
	return (struct vring_desc *)(f->mem + DESC_OFF);
}

static struct vring_avail *favail(struct fake *f)
{
	return (struct vring_avail *)(f->mem + AVAIL_OFF);
}

static struct vring_used *fused(struct fake *f)
{
	return (struct vring_used *)(f->mem + USED_OFF);
}

static int fake_init(struct fake *f, unsigned num)
{
	struct error err = { 0 };
	vlog_init(NULL, 0);
	memset(f, 0, sizeof(*f));
	f->num = num;
	f->mem = aligned_alloc(4096, MEM_SIZE);
	if (!f->mem)
		return -ENOMEM;
	memset(f->mem, 0, MEM_SIZE);
	gmem_init(&f->gm);
	struct gmem_region r = { .gpa = GPA_BASE, .uva = UVA_BASE, .size = MEM_SIZE, .host = f->mem };
	int ret = gmem_add(&f->gm, &r, &err);
	if (ret < 0)
		return ret;
	f->vr.call_fd = -1;
	return vring_setup(&f->vr, num, f->mem + DESC_OFF, f->mem + AVAIL_OFF, f->mem + USED_OFF, 0,
			   &err);
}

static void set_desc(struct fake *f, unsigned i, uint64_t gpa, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc *d = &fdesc(f)[i];
	d->addr = htole64(gpa);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/* Driver: make head available. */
static void publish(struct fake *f, uint16_t head)
{
	favail(f)->ring[f->avail_idx % f->num] = htole16(head);
	f->avail_idx++;
	__atomic_store_n(&favail(f)->idx, htole16(f->avail_idx), __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct fake *f)
{
	return le16toh(__atomic_load_n(&fused(f)->idx, __ATOMIC_ACQUIRE));
}

static struct vring_used_elem used_elem(struct fake *f, uint16_t i)
{
	struct vring_used_elem e = fused(f)->ring[i % f->num];
	e.id = le32toh(e.id);
	e.len = le32toh(e.len);
	return e;
}

static uint64_t data_gpa(unsigned off)
{
	return GPA_BASE + DATA_OFF + off;
}

TEST(setup_rejects_bad_sizes_and_alignment)
{
	struct fake f;
	struct vring vr = { .call_fd = -1 };
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 16), 0);
	EXPECT_TRUE(vring_setup(&vr, 0, f.mem, f.mem + AVAIL_OFF, f.mem + USED_OFF, 0, &err) < 0);
	EXPECT_TRUE(vring_setup(&vr, 12, f.mem, f.mem + AVAIL_OFF, f.mem + USED_OFF, 0, &err) < 0);
	EXPECT_TRUE(vring_setup(&vr, 65536, f.mem, f.mem + AVAIL_OFF, f.mem + USED_OFF, 0, &err) <
		    0);
	EXPECT_TRUE(vring_setup(&vr, 16, f.mem + 8, f.mem + AVAIL_OFF, f.mem + USED_OFF, 0, &err) <
		    0);
	EXPECT_TRUE(vring_setup(&vr, 16, f.mem, f.mem + AVAIL_OFF + 1, f.mem + USED_OFF, 0, &err) <
		    0);
	EXPECT_TRUE(vring_setup(&vr, 16, f.mem, f.mem + AVAIL_OFF, f.mem + USED_OFF + 2, 0, &err) <
		    0);
	EXPECT_TRUE(vring_setup(&vr, 16, NULL, f.mem + AVAIL_OFF, f.mem + USED_OFF, 0, &err) < 0);
	EXPECT_EQ(vring_setup(&vr, 16, f.mem, f.mem + AVAIL_OFF, f.mem + USED_OFF, 0, &err), 0);
}

TEST(guest_memory_translation_is_bounds_checked)
{
	struct fake f;
	struct iovec iov[4];
	ASSERT_EQ(fake_init(&f, 16), 0);
	EXPECT_TRUE(gmem_uva_ptr(&f.gm, UVA_BASE, MEM_SIZE) == f.mem);
	EXPECT_TRUE(gmem_uva_ptr(&f.gm, UVA_BASE + 16, 16) == f.mem + 16);
	EXPECT_TRUE(gmem_uva_ptr(&f.gm, UVA_BASE, MEM_SIZE + 1) == NULL);
	EXPECT_TRUE(gmem_uva_ptr(&f.gm, UVA_BASE - 1, 2) == NULL);
	EXPECT_TRUE(gmem_uva_ptr(&f.gm, UVA_BASE + MEM_SIZE, 1) == NULL);
	EXPECT_TRUE(gmem_uva_ptr(&f.gm, UINT64_MAX, 2) == NULL);
	EXPECT_TRUE(gmem_gpa_ptr(&f.gm, GPA_BASE + MEM_SIZE - 4, 4) == f.mem + MEM_SIZE - 4);
	EXPECT_TRUE(gmem_gpa_ptr(&f.gm, GPA_BASE + MEM_SIZE - 4, 5) == NULL);
	EXPECT_EQ(gmem_gpa_iov(&f.gm, GPA_BASE, 0, iov, 4), 0);
	EXPECT_EQ(gmem_gpa_iov(&f.gm, GPA_BASE + 100, 200, iov, 4), 1);
	EXPECT_TRUE(iov[0].iov_base == f.mem + 100 && iov[0].iov_len == 200);
	EXPECT_EQ(gmem_gpa_iov(&f.gm, 0, 16, iov, 4), -EFAULT);
	EXPECT_EQ(gmem_gpa_iov(&f.gm, UINT64_MAX - 8, 16, iov, 4), -EFAULT);
	EXPECT_EQ(gmem_gpa_iov(&f.gm, GPA_BASE, 0xffffffffu, iov, 4), -EFAULT);
}

TEST(overlapping_regions_are_rejected)
{
	struct gmem gm;
	struct error err = { 0 };
	static uint8_t a[8192];
	gmem_init(&gm);
	struct gmem_region r1 = { .gpa = 0, .uva = 0x10000, .size = 4096, .host = a };
	struct gmem_region r2 = { .gpa = 2048, .uva = 0x20000, .size = 4096, .host = a + 4096 };
	struct gmem_region r3 = { .gpa = 8192, .uva = 0x10800, .size = 4096, .host = a + 4096 };
	struct gmem_region r4 = { .gpa = UINT64_MAX - 10, .uva = 0x90000, .size = 4096, .host = a };
	EXPECT_EQ(gmem_add(&gm, &r1, &err), 0);
	EXPECT_TRUE(gmem_add(&gm, &r2, &err) < 0);
	EXPECT_TRUE(gmem_add(&gm, &r3, &err) < 0);
	EXPECT_TRUE(gmem_add(&gm, &r4, &err) < 0);
	EXPECT_EQ(gm.n, 1);
}

TEST(pop_chain_readable_then_writable)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 16), 0);

	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 0); /* empty */
	set_desc(&f, 3, data_gpa(0), 44, VRING_DESC_F_NEXT, 7);
	set_desc(&f, 7, data_gpa(100), 10, VRING_DESC_F_NEXT, 1);
	set_desc(&f, 1, data_gpa(4096), 4096, VRING_DESC_F_WRITE, 0);
	publish(&f, 3);
	ASSERT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 1);
	EXPECT_EQ(ch.head, 3);
	ASSERT_EQ(ch.nout, 2);
	ASSERT_EQ(ch.nin, 1);
	EXPECT_EQ(ch.out_len, 54);
	EXPECT_EQ(ch.in_len, 4096);
	EXPECT_TRUE(ch.iov[0].iov_base == f.mem + DATA_OFF && ch.iov[0].iov_len == 44);
	EXPECT_TRUE(ch.iov[1].iov_base == f.mem + DATA_OFF + 100 && ch.iov[1].iov_len == 10);
	EXPECT_TRUE(ch.iov[2].iov_base == f.mem + DATA_OFF + 4096);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 0);

	/* Completion shows up in the used ring. */
	vring_push(&f.vr, ch.head, 77);
	ASSERT_EQ(used_idx(&f), 1);
	EXPECT_EQ(used_elem(&f, 0).id, 3);
	EXPECT_EQ(used_elem(&f, 0).len, 77);
}

TEST(unpop_returns_the_same_chain)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 8), 0);
	set_desc(&f, 5, data_gpa(0), 4096, VRING_DESC_F_WRITE, 0);
	publish(&f, 5);
	ASSERT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 1);
	vring_unpop(&f.vr);
	EXPECT_EQ(used_idx(&f), 0);
	ASSERT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 1);
	EXPECT_EQ(ch.head, 5);
}

TEST(indexes_wrap_around_16_bits)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 4), 0);
	for (unsigned i = 0; i < 70000; i++) {
		uint16_t head = (uint16_t)(i % 4);
		set_desc(&f, head, data_gpa(head * 64), 64, VRING_DESC_F_WRITE, 0);
		publish(&f, head);
		if (vring_pop(&f.vr, &f.gm, &ch, &err) != 1 || ch.head != head) {
			TAP_DIAG("pop %u failed", i);
			*_tap_failed = 1;
			return;
		}
		vring_push(&f.vr, ch.head, 1);
	}
	EXPECT_EQ(used_idx(&f), (uint16_t)70000);
}

TEST(notify_honours_no_interrupt_and_late_call_fd)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	uint64_t v;
	ASSERT_EQ(fake_init(&f, 8), 0);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_GE(efd, 0);

	set_desc(&f, 0, data_gpa(0), 64, VRING_DESC_F_WRITE, 0);
	publish(&f, 0);
	ASSERT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 1);
	vring_push(&f.vr, ch.head, 1);
	/* No call fd yet: the interrupt is owed, not lost. */
	EXPECT_EQ(vring_notify(&f.vr), 0);
	f.vr.call_fd = efd;
	EXPECT_EQ(vring_notify(&f.vr), 1);
	ASSERT_EQ(read(efd, &v, sizeof(v)), 8);
	EXPECT_EQ(v, 1);
	/* Nothing new: no interrupt. */
	EXPECT_EQ(vring_notify(&f.vr), 0);
	/* The guest suppresses interrupts. */
	favail(&f)->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	publish(&f, 0);
	ASSERT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 1);
	vring_push(&f.vr, ch.head, 1);
	EXPECT_EQ(vring_notify(&f.vr), 0);
	EXPECT_TRUE(read(efd, &v, sizeof(v)) < 0 && errno == EAGAIN);
	close(efd);
}

TEST(head_index_out_of_range_is_dropped)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 8), 0);
	publish(&f, 8);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "out of range") != NULL);
	EXPECT_EQ(used_idx(&f), 0);
	/* The ring keeps working. */
	set_desc(&f, 2, data_gpa(0), 64, VRING_DESC_F_WRITE, 0);
	publish(&f, 2);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 1);
	EXPECT_EQ(ch.head, 2);
}

TEST(next_index_out_of_range_fails_chain)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 8), 0);
	set_desc(&f, 1, data_gpa(0), 64, VRING_DESC_F_NEXT, 9);
	publish(&f, 1);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), -EINVAL);
	/* The buffer goes back to the guest, marked empty. */
	ASSERT_EQ(used_idx(&f), 1);
	EXPECT_EQ(used_elem(&f, 0).id, 1);
	EXPECT_EQ(used_elem(&f, 0).len, 0);
}

TEST(descriptor_loop_is_detected)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 8), 0);
	set_desc(&f, 0, data_gpa(0), 8, VRING_DESC_F_NEXT, 1);
	set_desc(&f, 1, data_gpa(8), 8, VRING_DESC_F_NEXT, 2);
	set_desc(&f, 2, data_gpa(16), 8, VRING_DESC_F_NEXT, 0);
	publish(&f, 0);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), -ELOOP);
	EXPECT_EQ(used_idx(&f), 1);
	/* A self loop too. */
	set_desc(&f, 4, data_gpa(0), 8, VRING_DESC_F_NEXT, 4);
	publish(&f, 4);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), -ELOOP);
}

TEST(overlong_chain_is_rejected)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 256), 0);
	/* 200 distinct descriptors, no loop, but beyond VRING_MAX_CHAIN. */
	for (unsigned i = 0; i < 200; i++)
		set_desc(&f, i, data_gpa(i * 8), 8, i < 199 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	publish(&f, 0);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), -ELOOP);
	/* VRING_MAX_CHAIN descriptors are fine. */
	set_desc(&f, VRING_MAX_CHAIN - 1, data_gpa(0), 8, 0, 0);
	publish(&f, 0);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 1);
	EXPECT_EQ(ch.nout, VRING_MAX_CHAIN);
}

TEST(addresses_outside_guest_memory_fail)
{
	static const struct {
		uint64_t gpa;
		uint32_t len;
	} bad[] = {
		{ 0, 16 },				/* below */
		{ GPA_BASE - 8, 16 },			/* straddles the start */
		{ GPA_BASE + MEM_SIZE - 8, 16 },	/* straddles the end */
		{ GPA_BASE + MEM_SIZE, 1 },		/* just past */
		{ UINT64_MAX - 4, 16 },			/* wraps */
		{ GPA_BASE, 0xffffffffu },		/* huge length */
		{ GPA_BASE + DATA_OFF, MEM_SIZE },	/* longer than the region */
	};
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 16), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_desc(&f, 2, data_gpa(0), 44, VRING_DESC_F_NEXT, 3);
		set_desc(&f, 3, bad[i].gpa, bad[i].len, 0, 0);
		publish(&f, 2);
		int r = vring_pop(&f.vr, &f.gm, &ch, &err);
		if (r != -EFAULT) {
			TAP_DIAG("case %u: vring_pop = %d", i, r);
			*_tap_failed = 1;
		}
	}
	EXPECT_EQ(used_idx(&f), sizeof(bad) / sizeof(bad[0]));
	EXPECT_FALSE(f.vr.broken);
}

TEST(readable_after_writable_and_indirect_fail)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 8), 0);
	set_desc(&f, 0, data_gpa(0), 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(&f, 1, data_gpa(8), 8, 0, 0);
	publish(&f, 0);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), -EINVAL);
	set_desc(&f, 2, data_gpa(0), 16, VRING_DESC_F_INDIRECT, 0);
	publish(&f, 2);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), -EINVAL);
	EXPECT_EQ(used_idx(&f), 2);
}

TEST(avail_index_jump_breaks_ring)
{
	struct fake f;
	struct vring_chain ch;
	struct error err = { 0 };
	ASSERT_EQ(fake_init(&f, 8), 0);
	favail(&f)->idx = htole16(100);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), -EIO);
	EXPECT_TRUE(f.vr.broken);
	EXPECT_EQ(vring_pop(&f.vr, &f.gm, &ch, &err), 0);
}

TEST(descriptor_spanning_two_regions_is_split)
{
	struct gmem gm;
	struct vring vr = { .call_fd = -1 };
	struct vring_chain ch;
	struct error err = { 0 };
	uint8_t *a = aligned_alloc(4096, 65536), *b = aligned_alloc(4096, 65536);
	ASSERT_TRUE(a && b);
	memset(a, 0, 65536);
	gmem_init(&gm);
	/* Adjacent in guest-physical space, unrelated here. */
	struct gmem_region r1 = { .gpa = 0x10000, .uva = 0x500000, .size = 65536, .host = a };
	struct gmem_region r2 = { .gpa = 0x20000, .uva = 0x900000, .size = 65536, .host = b };
	ASSERT_EQ(gmem_add(&gm, &r1, &err), 0);
	ASSERT_EQ(gmem_add(&gm, &r2, &err), 0);
	ASSERT_EQ(vring_setup(&vr, 8, a, a + 0x1000, a + 0x2000, 0, &err), 0);
	struct vring_desc *d = (struct vring_desc *)a;
	d[0].addr = htole64(0x1fff0);
	d[0].len = htole32(32);
	d[0].flags = htole16(VRING_DESC_F_WRITE);
	struct vring_avail *av = (struct vring_avail *)(a + 0x1000);
	av->ring[0] = 0;
	av->idx = htole16(1);
	ASSERT_EQ(vring_pop(&vr, &gm, &ch, &err), 1);
	ASSERT_EQ(ch.nin, 2);
	EXPECT_TRUE(ch.iov[0].iov_base == a + 0xfff0 && ch.iov[0].iov_len == 16);
	EXPECT_TRUE(ch.iov[1].iov_base == b && ch.iov[1].iov_len == 16);
	free(a);
	free(b);
}

/* ---- the device: rings <-> engine ---- */

struct dev {
	struct fake rx, tx;
	int epfd;
	struct vsock *vs;
	char base[200];
	struct vring_chain ch;
	unsigned rx_next; /* next rx buffer slot the driver hands out */
};

static int dev_init(struct dev *d)
{
	struct error err = { 0 };
	if (fake_init(&d->rx, 64) < 0 || fake_init(&d->tx, 64) < 0)
		return -1;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	snprintf(d->base, sizeof(d->base), "%s/dev", th_dir());
	struct vsock_config cfg = { .guest_cid = 3, .uds_base = d->base };
	return vsock_new(&d->vs, &cfg, d->epfd, -1, &err);
}

/* Driver: post n rx buffers of 4096 + 44 bytes, one descriptor each. */
static void post_rx(struct dev *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned slot = d->rx_next++ % 64;
		set_desc(&d->rx, slot, data_gpa(slot * 8192), 4096 + 44, VRING_DESC_F_WRITE, 0);
		publish(&d->rx, (uint16_t)slot);
	}
}

/* Driver: send one packet as header + payload descriptors. */
static void post_tx(struct dev *d, const struct vsock_hdr *h, const void *payload, unsigned slot)
{
	uint8_t *p = d->tx.mem + DATA_OFF + slot * 8192;
	vsock_hdr_encode(h, p);
	if (h->len)
		memcpy(p + 4096, payload, h->len);
	set_desc(&d->tx, slot * 2, data_gpa(slot * 8192), VSOCK_HDR_SIZE,
		 h->len ? VRING_DESC_F_NEXT : 0, (uint16_t)(slot * 2 + 1));
	set_desc(&d->tx, slot * 2 + 1, data_gpa(slot * 8192 + 4096), h->len, 0, 0);
	publish(&d->tx, (uint16_t)(slot * 2));
}

static struct vsock_hdr guest_hdr(uint16_t op, uint32_t gport, uint32_t hport, uint32_t len)
{
	return (struct vsock_hdr){ .src_cid = 3,
				   .dst_cid = 2,
				   .src_port = gport,
				   .dst_port = hport,
				   .len = len,
				   .type = VSOCK_TYPE_STREAM,
				   .op = op,
				   .buf_alloc = 65536 };
}

/* Driver: read the packet in used rx entry i. */
static struct vsock_hdr rx_packet(struct dev *d, uint16_t i, uint32_t *used_len, uint8_t **payload)
{
	struct vring_used_elem e = used_elem(&d->rx, i);
	struct vsock_hdr h;
	uint8_t *p = d->rx.mem + DATA_OFF + e.id * 8192;
	vsock_hdr_decode(p, &h);
	*used_len = e.len;
	if (payload)
		*payload = p + VSOCK_HDR_SIZE;
	return h;
}

TEST(device_request_to_missing_port_gets_rst_in_rx_ring)
{
	struct dev d;
	ASSERT_EQ(dev_init(&d), 0);
	post_rx(&d, 4);
	struct vsock_hdr h = guest_hdr(VSOCK_OP_REQUEST, 1234, 4321, 0);
	post_tx(&d, &h, NULL, 0);

	EXPECT_EQ(vsock_dev_tx(&d.tx.vr, &d.tx.gm, d.vs, &d.ch, 64), 1);
	EXPECT_EQ(used_idx(&d.tx), 1);
	EXPECT_EQ(vsock_dev_rx(&d.rx.vr, &d.rx.gm, d.vs, &d.ch, 64), 1);
	ASSERT_EQ(used_idx(&d.rx), 1);
	uint32_t len;
	struct vsock_hdr r = rx_packet(&d, 0, &len, NULL);
	EXPECT_EQ(len, VSOCK_HDR_SIZE);
	EXPECT_EQ(r.op, VSOCK_OP_RST);
	EXPECT_EQ(r.src_port, 4321);
	EXPECT_EQ(r.dst_port, 1234);
	EXPECT_EQ(r.dst_cid, 3);
}

TEST(device_data_flows_through_rings_and_waits_for_rx_buffers)
{
	struct dev d;
	char path[256];
	struct error err = { 0 };
	ASSERT_EQ(dev_init(&d), 0);
	snprintf(path, sizeof(path), "%s_80", d.base);
	int lfd = uds_listen(path, 4, &err);
	ASSERT_GE(lfd, 0);

	struct vsock_hdr h = guest_hdr(VSOCK_OP_REQUEST, 2000, 80, 0);
	post_tx(&d, &h, NULL, 0);
	vsock_dev_tx(&d.tx.vr, &d.tx.gm, d.vs, &d.ch, 64);
	/* No rx buffers yet: nothing happens, the packet waits. */
	EXPECT_EQ(vsock_dev_rx(&d.rx.vr, &d.rx.gm, d.vs, &d.ch, 64), 0);
	EXPECT_TRUE(vsock_pending(d.vs));
	post_rx(&d, 1);
	EXPECT_EQ(vsock_dev_rx(&d.rx.vr, &d.rx.gm, d.vs, &d.ch, 64), 1);
	uint32_t len;
	EXPECT_EQ(rx_packet(&d, 0, &len, NULL).op, VSOCK_OP_RESPONSE);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_GE(fd, 0);

	/* Guest -> host, payload in its own descriptor. */
	h = guest_hdr(VSOCK_OP_RW, 2000, 80, 11);
	post_tx(&d, &h, "hello host\n", 1);
	vsock_dev_tx(&d.tx.vr, &d.tx.gm, d.vs, &d.ch, 64);
	char buf[64] = { 0 };
	ASSERT_EQ(read(fd, buf, sizeof(buf)), 11);
	EXPECT_STREQ(buf, "hello host\n");

	/* Host -> guest: 10000 bytes fill three 4 KiB rx buffers, in order. */
	uint8_t data[10000];
	th_fill(data, sizeof(data), 9, 0);
	ASSERT_EQ(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 10; i++)
		evloop_dispatch(d.epfd, 10);
	post_rx(&d, 2);
	EXPECT_EQ(vsock_dev_rx(&d.rx.vr, &d.rx.gm, d.vs, &d.ch, 64), 2);
	post_rx(&d, 4);
	EXPECT_EQ(vsock_dev_rx(&d.rx.vr, &d.rx.gm, d.vs, &d.ch, 64), 1);
	ASSERT_EQ(used_idx(&d.rx), 4);
	uint64_t off = 0;
	for (uint16_t i = 1; i < 4; i++) {
		uint8_t *p;
		struct vsock_hdr r = rx_packet(&d, i, &len, &p);
		EXPECT_EQ(r.op, VSOCK_OP_RW);
		EXPECT_EQ(len, VSOCK_HDR_SIZE + r.len);
		EXPECT_TRUE(r.len <= 4096);
		EXPECT_EQ(th_check(p, r.len, 9, off), -1);
		off += r.len;
	}
	EXPECT_EQ(off, 10000);
}

TEST(device_malformed_tx_packets_are_dropped)
{
	struct dev d;
	ASSERT_EQ(dev_init(&d), 0);
	post_rx(&d, 8);

	/* Shorter than a header. */
	set_desc(&d.tx, 0, data_gpa(0), 20, 0, 0);
	publish(&d.tx, 0);
	/* Header claims more payload than the chain holds. */
	struct vsock_hdr h = guest_hdr(VSOCK_OP_RW, 1, 2, 60000);
	vsock_hdr_encode(&h, d.tx.mem + DATA_OFF + 8192);
	set_desc(&d.tx, 1, data_gpa(8192), VSOCK_HDR_SIZE + 100, 0, 0);
	publish(&d.tx, 1);
	/* Header split across two descriptors, 40 + 4 bytes: valid. */
	h = guest_hdr(VSOCK_OP_REQUEST, 7, 8, 0);
	vsock_hdr_encode(&h, d.tx.mem + DATA_OFF + 16384);
	set_desc(&d.tx, 2, data_gpa(16384), 40, VRING_DESC_F_NEXT, 3);
	set_desc(&d.tx, 3, data_gpa(16384 + 40), 4, 0, 0);
	publish(&d.tx, 2);
	/* Pointer outside guest memory. */
	set_desc(&d.tx, 4, 0xdead0000000ull, 64, 0, 0);
	publish(&d.tx, 4);

	EXPECT_EQ(vsock_dev_tx(&d.tx.vr, &d.tx.gm, d.vs, &d.ch, 64), 4);
	EXPECT_EQ(used_idx(&d.tx), 4);
	/* Only the split REQUEST produced an answer (RST: nobody listens). */
	EXPECT_EQ(vsock_dev_rx(&d.rx.vr, &d.rx.gm, d.vs, &d.ch, 64), 1);
	uint32_t len;
	struct vsock_hdr r = rx_packet(&d, 0, &len, NULL);
	EXPECT_EQ(r.op, VSOCK_OP_RST);
	EXPECT_EQ(r.dst_port, 7);
}

TEST(device_rx_buffers_too_small_or_readable_are_returned)
{
	struct dev d;
	ASSERT_EQ(dev_init(&d), 0);
	struct vsock_hdr h = guest_hdr(VSOCK_OP_REQUEST, 5, 6, 0);
	post_tx(&d, &h, NULL, 0);
	vsock_dev_tx(&d.tx.vr, &d.tx.gm, d.vs, &d.ch, 64);

	set_desc(&d.rx, 0, data_gpa(0), 30, VRING_DESC_F_WRITE, 0); /* < header */
	publish(&d.rx, 0);
	set_desc(&d.rx, 1, data_gpa(8192), 100, 0, 0); /* device-readable */
	publish(&d.rx, 1);
	set_desc(&d.rx, 2, data_gpa(16384), 20, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	set_desc(&d.rx, 3, data_gpa(16384 + 20), 24, VRING_DESC_F_WRITE, 0); /* 44 in two */
	publish(&d.rx, 2);
	EXPECT_EQ(vsock_dev_rx(&d.rx.vr, &d.rx.gm, d.vs, &d.ch, 64), 3);
	ASSERT_EQ(used_idx(&d.rx), 3);
	EXPECT_EQ(used_elem(&d.rx, 0).len, 0);
	EXPECT_EQ(used_elem(&d.rx, 1).len, 0);
	EXPECT_EQ(used_elem(&d.rx, 2).len, VSOCK_HDR_SIZE);
	struct vsock_hdr r;
	vsock_hdr_decode(d.rx.mem + DATA_OFF + 16384, &r);
	EXPECT_EQ(r.op, VSOCK_OP_RST);
	EXPECT_EQ(r.dst_port, 5);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Mostly plausible values with garbage mixed in.  Buffers never point at
 * the rings themselves: a guest may do that, but then the used ring holds
 * whatever it asked us to write there, and the check below could not tell. */
static uint64_t rnd_gpa(void)
{
	switch (rnd() % 5) {
	case 0:
		return rnd();
	case 1:
		return GPA_BASE - 1 - rnd() % 2048; /* before memory */
	case 2:
		return GPA_BASE + DATA_OFF + rnd() % (MEM_SIZE - DATA_OFF + 4096); /* past the end */
	default:
		return data_gpa((unsigned)(rnd() % (MEM_SIZE - DATA_OFF - 8192)));
	}
}

TEST(device_survives_random_garbage_rings)
{
	struct dev d;
	char path[256];
	struct error err = { 0 };
	int hostfds[64];
	unsigned nhost = 0;
	uint8_t junk[4096];
	ASSERT_EQ(dev_init(&d), 0);
	/* Fixed by default so runs repeat; VSOCKD_FUZZ_SEED explores. */
	if (getenv("VSOCKD_FUZZ_SEED"))
		rng_state = strtoull(getenv("VSOCKD_FUZZ_SEED"), NULL, 0) | 1;
	/* A host service on port 1, so some requests connect and carry data. */
	snprintf(path, sizeof(path), "%s_1", d.base);
	int lfd = uds_listen(path, 64, &err);
	ASSERT_GE(lfd, 0);
	unsigned consumed_tx = 0, consumed_rx = 0;
	memset(junk, 0x5a, sizeof(junk));

	for (unsigned round = 0; round < 20000; round++) {
		struct fake *f = rnd() & 1 ? &d.tx : &d.rx;
		/* Scribble over some descriptors; on tx, often put a plausible
		 * packet where one points. */
		for (unsigned k = 0; k < 4; k++) {
			unsigned i = (unsigned)(rnd() % 64);
			uint16_t flags = (uint16_t)(rnd() % 8);
			if (rnd() % 2)
				flags &= VRING_DESC_F_NEXT | (f == &d.rx ? VRING_DESC_F_WRITE : 0);
			uint32_t len = rnd() % 3 ? (uint32_t)(rnd() % 9000) : (uint32_t)rnd();
			uint64_t gpa = rnd_gpa();
			set_desc(f, i, gpa, len, flags, (uint16_t)(rnd() % 80));
			if (f == &d.tx && len >= VSOCK_HDR_SIZE && rnd() % 3 &&
			    gmem_gpa_ptr(&f->gm, gpa, VSOCK_HDR_SIZE)) {
				struct vsock_hdr h = guest_hdr((uint16_t)(rnd() % 9),
							       (uint32_t)(rnd() % 4),
							       (uint32_t)(rnd() % 3),
							       (uint32_t)(rnd() % 2 ? rnd() % 300 : rnd()));
				if (rnd() % 8 == 0)
					h.type = (uint16_t)(rnd() % 3);
				h.flags = (uint32_t)(rnd() % 4);
				h.buf_alloc = (uint32_t)(rnd() % 2 ? 65536 : rnd());
				h.fwd_cnt = (uint32_t)rnd();
				vsock_hdr_encode(&h, gmem_gpa_ptr(&f->gm, gpa, VSOCK_HDR_SIZE));
			}
		}
		/* Publish heads, some out of range; rarely a wild avail index. */
		unsigned n = (unsigned)(rnd() % 4);
		for (unsigned k = 0; k < n; k++)
			publish(f, (uint16_t)(rnd() % 70));
		if (rnd() % 2000 == 0) {
			f->avail_idx = (uint16_t)rnd();
			favail(f)->idx = htole16(f->avail_idx);
		}
		favail(f)->flags = htole16((uint16_t)(rnd() % 2));

		/* The host side: accept, write, close at random. */
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			if (nhost < 64)
				hostfds[nhost++] = fd;
			else
				close(fd);
		}
		if (nhost) {
			unsigned i = (unsigned)(rnd() % nhost);
			if (rnd() % 4 == 0) {
				close(hostfds[i]);
				hostfds[i] = hostfds[--nhost];
			} else if (send(hostfds[i], junk, (size_t)(rnd() % sizeof(junk)),
					MSG_NOSIGNAL) < 0 &&
				   errno != EAGAIN) {
				close(hostfds[i]);
				hostfds[i] = hostfds[--nhost];
			} else {
				while (recv(hostfds[i], junk, sizeof(junk), MSG_DONTWAIT) > 0)
					;
				memset(junk, 0x5a, sizeof(junk));
			}
		}

		consumed_tx += vsock_dev_tx(&d.tx.vr, &d.tx.gm, d.vs, &d.ch, 64);
		evloop_dispatch(d.epfd, 0);
		consumed_rx += vsock_dev_rx(&d.rx.vr, &d.rx.gm, d.vs, &d.ch, 64);
		vsock_reap(d.vs);

		/* A broken ring is set up afresh, as a device reset would. */
		for (int q = 0; q < 2; q++) {
			struct fake *r = q ? &d.tx : &d.rx;
			if (r->vr.broken) {
				memset(r->mem + AVAIL_OFF, 0, 0x8000);
				r->avail_idx = 0;
				ASSERT_EQ(vring_setup(&r->vr, 64, r->mem + DESC_OFF, r->mem + AVAIL_OFF,
						      r->mem + USED_OFF, 0, &err),
					  0);
			}
		}
		/* Whatever the guest did, we only ever return ids it could own. */
		for (int q = 0; q < 2; q++) {
			struct fake *r = q ? &d.tx : &d.rx;
			uint16_t u = used_idx(r);
			for (uint16_t i = (uint16_t)(u - 4); i != u; i++)
				if (used_elem(r, i).id >= 64 && used_elem(r, i).len) {
					TAP_DIAG("used id %u out of range", used_elem(r, i).id);
					*_tap_failed = 1;
					return;
				}
		}
	}
	TAP_DIAG("consumed %u tx and %u rx chains, %u connections left", consumed_tx, consumed_rx,
		 vsock_nconns(d.vs));
	EXPECT_GE(consumed_tx, 1000);
	EXPECT_GE(consumed_rx, 1000);
	vsock_free(d.vs);
}

TAP_MAIN()
