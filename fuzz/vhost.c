/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: lcow-vsockd as QEMU sees it (vsockd.c): vhost-user
 * messages from the front-end (vhost_user.c: memory tables mapped from a
 * memfd with the offsets and sizes the message gives, ring addresses
 * translated from QEMU's address space, queue sizes, bases, kick and call
 * fds), then kicks, so the device reads whatever rings the messages
 * pointed at in guest memory.
 *
 * Input: le16 L, then L bytes of messages, each a 12-byte header (request,
 * flags, size) and up to size bytes of payload, sent as they are; the
 * target attaches the fds a message needs (SET_MEM_TABLE: one per region,
 * all the guest memory memfd; SET_VRING_KICK/CALL/ERR: an eventfd unless
 * the NOFD bit is set).  The rest of the input is the guest memory: a
 * 64 KiB memfd.  After the messages every kick fd is signalled, then the
 * front-end hangs up.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_NAME "vhost"
#include "target.h"
#include "lcow/fdpass.h"
#include "log.h"
#include "vhost_user.h"
#include "vsockd.h"

#define MEM_SIZE (64u << 10)
#define MAX_KICKS 16

static char dir[] = "/tmp/lcow-fuzz-vhost.XXXXXX";
static char base[96];
static int memfd = -1;

static void cleanup(void)
{
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_abort_on_sigpipe();
	(void)argc;
	(void)argv;
	/* FUZZ_VHOST_LOG=1 shows the daemon's log (to see what an input does). */
	if (getenv("FUZZ_VHOST_LOG"))
		vlog_init(NULL, 1);
	else
		vlog_init(fopen("/dev/null", "we"), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	/* Nobody listens here: every connection the guest asks for is refused. */
	snprintf(base, sizeof(base), "%s/v", dir);
	memfd = memfd_create("guest", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("memfd_create");
		exit(1);
	}
	return 0;
}

static void run(struct vsockd *d, int fe)
{
	char junk[4096];
	for (int i = 0; i < 4; i++)
		if (vsockd_run_once(d, 0) <= 0)
			break;
	/* Replies: read and dropped, so the socket never fills. */
	while (fe >= 0 && read(fe, junk, sizeof(junk)) > 0)
		;
}

static void send_msg(int fe, const uint8_t *msg, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	_Static_assert(VHOST_USER_MAX_FDS <= LCOW_FDPASS_MAX, "fds per message");
	if (send_with_fds(fe, &iov, 1, fds, nfds, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t L = (size_t)(data[0] | data[1] << 8);
	if (L > size - 2)
		L = size - 2;
	const uint8_t *msgs = data + 2, *image = data + 2 + L;
	size_t image_len = size - 2 - L;

	CHECK(ftruncate(memfd, 0) == 0 && ftruncate(memfd, MEM_SIZE) == 0);
	if (image_len)
		CHECK(pwrite(memfd, image, image_len < MEM_SIZE ? image_len : MEM_SIZE, 0) >= 0);

	struct vsock_config cfg = { .guest_cid = 3, .uds_base = base, .buf_alloc = 4096,
				    .max_conns = 8 };
	struct vsockd *d;
	struct error err = { 0 };
	CHECK(vsockd_new(&d, &cfg, -1, -1, &err) == 0);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK(vsockd_attach(d, sv[1], &err) == 0);
	int fe = sv[0];

	int kicks[MAX_KICKS];
	unsigned n_kicks = 0;
	size_t off = 0;
	while (off < L) {
		const uint8_t *m = msgs + off;
		size_t avail = L - off;
		struct vhost_user_hdr h = { 0 };
		memcpy(&h, m, avail < sizeof(h) ? avail : sizeof(h));
		size_t len = avail < sizeof(h) ? avail : sizeof(h) + (h.size < avail - sizeof(h)
									      ? h.size
									      : avail - sizeof(h));
		const uint8_t *p = m + sizeof(h);
		size_t plen = len > sizeof(h) ? len - sizeof(h) : 0;
		int fds[VHOST_USER_MAX_FDS];
		unsigned nfds = 0;
		if (h.request == VHOST_USER_SET_MEM_TABLE && plen >= 4) {
			uint32_t n;
			memcpy(&n, p, 4);
			n = le32toh(n);
			nfds = n < VHOST_USER_MAX_FDS ? n : VHOST_USER_MAX_FDS;
			for (unsigned i = 0; i < nfds; i++)
				fds[i] = memfd;
		} else if ((h.request == VHOST_USER_SET_VRING_KICK ||
			    h.request == VHOST_USER_SET_VRING_CALL ||
			    h.request == VHOST_USER_SET_VRING_ERR) && plen >= 8) {
			uint64_t v;
			memcpy(&v, p, 8);
			if (!(le64toh(v) & VHOST_USER_VRING_NOFD_MASK) && n_kicks < MAX_KICKS) {
				fds[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
				CHECK(fds[0] >= 0);
				nfds = 1;
				kicks[n_kicks++] = fds[0];
			}
		}
		send_msg(fe, m, len, fds, nfds);
		run(d, fe);
		off += len;
	}
	/* The guest kicks every queue it was given a kick fd for. */
	uint64_t one = 1;
	for (unsigned i = 0; i < n_kicks; i++)
		if (write(kicks[i], &one, sizeof(one)) < 0)
			CHECK(errno == EAGAIN);
	run(d, fe);
	run(d, fe);
	close(fe);
	run(d, -1);
	for (unsigned i = 0; i < n_kicks; i++)
		close(kicks[i]);
	vsockd_free(d);
	return 0;
}
