/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: lcow-vsockd's descriptor handling.  A fake guest
 * memory (two regions, adjacent or not) holds the tx and rx split
 * virtqueues and their buffers exactly as the input lays them out; the
 * device glue (vsock_dev.c) pops descriptor chains (vring.c: indexes,
 * chains, loops, indirect and out-of-range descriptors), decodes packet
 * headers and feeds the real connection engine (vsock.c), whose packets
 * come back through the rx queue.  The guest may dial port 1234 (a unix
 * listener is there, which answers "pong") or any other (nobody: RST); a
 * host client may dial the guest with its own CONNECT line (and data).
 *
 * Input:
 *   0      tx ring size, 2^(b % 7)      1  rx ring size, same
 *   2      flags: 1 regions adjacent, 2 a host client writes the line,
 *          4 reset the engine between rounds
 *   3      rounds - 1 (% 4)             4, 5  tx, rx budget (0 = 64)
 *   6..7   le16 avail index the device starts from (both rings)
 *   8..23  the host client's line (up to the first NUL)
 *   24...  guest memory from GPA 0x10000 on: region 0 is 8 KiB, then
 *          region 1 (8 KiB).  In region 0: tx desc 0x0, avail 0x400;
 *          rx desc 0x800, avail 0xc00.
 * The used rings are outside guest memory: a guest may point a write-only
 * buffer at its own used ring, and the device's packet data then
 * overwrites entries it wrote before (the guest's loss, nothing the device
 * reads back), which would make the invariant read guest data.
 * Invariant: every used entry the device wrote names a valid head.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FUZZ_NAME "vsock"
#include "target.h"
#include "evloop.h"
#include "log.h"
#include "vring.h"
#include "vsock.h"
#include "vsock_dev.h"

#define HDR 24
#define REGION 0x2000u
#define GPA0 0x10000ull
#define UVA0 0x7f0000000000ull
#define TX_DESC 0x000
#define TX_AVAIL 0x400
#define RX_DESC 0x800
#define RX_AVAIL 0xc00
#define GUEST_CID 3
#define LISTEN_PORT 1234

static char dir[] = "/tmp/lcow-fuzz-vsock.XXXXXX";
static char base[96], port_path[112];
/* The tx and rx used rings: up to 64 entries of 8 bytes and 6 more,
 * each 4-byte aligned as the ring requires. */
static uint8_t used_rings[2][(4 + 8 * 64 + 2 + 3) & ~3] __attribute__((aligned(4)));
static int host_listen = -1;	/* the engine's listener (dup'd per run) */
static int port_listen = -1;	/* <base>_1234: a host service the guest dials */
static uint8_t *mem;

static void cleanup(void)
{
	unlink(base);
	unlink(port_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_abort_on_sigpipe();
	(void)argc;
	(void)argv;
	struct error err = { 0 };
	/* The engine logs every bad packet (rate limited); not here. */
	vlog_init(fopen("/dev/null", "we"), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	snprintf(base, sizeof(base), "%s/v", dir);
	snprintf(port_path, sizeof(port_path), "%s_%u", base, LISTEN_PORT);
	host_listen = uds_listen(base, 128, &err);
	port_listen = host_listen < 0 ? -1 : uds_listen(port_path, 128, &err);
	mem = aligned_alloc(4096, 2 * REGION);
	if (port_listen < 0 || !mem) {
		fprintf(stderr, "fuzz vsock: setup: %s\n", err.msg);
		exit(1);
	}
	return 0;
}

/* Close whatever the engine's connections left in the listeners' queues. */
static void drain(int lfd)
{
	for (int fd; (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
		close(fd);
}

/* The host service at port 1234 answers every connection with a few
 * bytes (they travel to the guest through the rx queue). */
#define MAX_PEERS 16
static int peers[MAX_PEERS];
static unsigned n_peers;

static void serve(void)
{
	int fd;
	while (n_peers < MAX_PEERS &&
	       (fd = accept4(port_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		peers[n_peers++] = fd;
		/* The engine may have hung up already. */
		if (send(fd, "pong\n", 5, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
	}
}

static void pump(int epfd, struct vsock *vs)
{
	for (int i = 0; i < 16; i++)
		if (evloop_dispatch(epfd, 0) <= 0)
			break;
	vsock_reap(vs);
}

static void check_used(const struct vring *vr, uint16_t from)
{
	for (uint16_t i = from; i != vr->used_idx; i++) {
		const struct vring_used_elem *e = &vr->used->ring[i & (vr->num - 1)];
		CHECK(le32toh(e->id) < vr->num);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t h[HDR] = { 0 };
	memcpy(h, data, size < HDR ? size : HDR);
	memset(mem, 0, 2 * REGION);
	if (size > HDR)
		memcpy(mem, data + HDR, size - HDR < 2 * REGION ? size - HDR : 2 * REGION);

	unsigned tx_num = 1u << (h[0] % 7), rx_num = 1u << (h[1] % 7);
	uint8_t flags = h[2];
	unsigned rounds = 1 + h[3] % 4;
	unsigned tx_budget = h[4] ? h[4] : 64, rx_budget = h[5] ? h[5] : 64;
	uint16_t start = (uint16_t)(h[6] | h[7] << 8);

	struct gmem gm;
	struct error err = { 0 };
	gmem_init(&gm);
	struct gmem_region r0 = { .gpa = GPA0, .uva = UVA0, .size = REGION, .host = mem };
	uint64_t gap = flags & 1 ? 0 : 0x1000;
	struct gmem_region r1 = { .gpa = GPA0 + REGION + gap, .uva = UVA0 + 0x100000,
				  .size = REGION, .host = mem + REGION };
	CHECK(gmem_add(&gm, &r0, &err) == 0 && gmem_add(&gm, &r1, &err) == 0);

	struct vring tx = { .call_fd = -1 }, rx = { .call_fd = -1 };
	memset(used_rings, 0, sizeof(used_rings));
	CHECK(vring_setup(&tx, tx_num, mem + TX_DESC, mem + TX_AVAIL, used_rings[0], start,
			  &err) == 0);
	CHECK(vring_setup(&rx, rx_num, mem + RX_DESC, mem + RX_AVAIL, used_rings[1], start,
			  &err) == 0);

	int epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(epfd >= 0);
	int lfd = fcntl(host_listen, F_DUPFD_CLOEXEC, 0);
	CHECK(lfd >= 0);
	struct vsock_config cfg = {
		.guest_cid = GUEST_CID,
		.uds_base = base,
		.buf_alloc = 4096,
		.max_conns = 8,
	};
	struct vsock *vs;
	CHECK(vsock_new(&vs, &cfg, epfd, lfd, &err) == 0);

	int client = -1;
	if (flags & 2) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", base);
		client = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		CHECK(client >= 0);
		if (connect(client, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			size_t n = strnlen((const char *)h + 8, 16);
			if (n && send(client, h + 8, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
		}
		pump(epfd, vs);
	}

	struct vring_chain *ch = malloc(sizeof(*ch));
	CHECK(ch);
	for (unsigned round = 0; round < rounds; round++) {
		uint16_t tx_from = tx.used_idx, rx_from = rx.used_idx;
		vsock_dev_tx(&tx, &gm, vs, ch, tx_budget);
		check_used(&tx, tx_from);
		pump(epfd, vs);
		serve();
		pump(epfd, vs);
		vsock_dev_rx(&rx, &gm, vs, ch, rx_budget);
		check_used(&rx, rx_from);
		vring_notify(&tx);
		vring_notify(&rx);
		pump(epfd, vs);
		if (flags & 4)
			vsock_reset(vs);
	}
	free(ch);
	if (client >= 0)
		close(client);
	vsock_free(vs);
	close(epfd);
	for (unsigned i = 0; i < n_peers; i++)
		close(peers[i]);
	n_peers = 0;
	drain(host_listen);
	drain(port_listen);
	return 0;
}
