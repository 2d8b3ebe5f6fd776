/* SPDX-License-Identifier: MIT */
/*
 * bench-probe: the guest side of qemu-tests/bench/vsock-bench.sh (static,
 * musl).  Moves data over vsock (to the host, CID 2) and, as the baseline,
 * over a virtio-blk disk, and times it with the guest's CLOCK_MONOTONIC.
 *
 *   bench-probe vsock-send PORT BYTES [SEED]   guest -> host
 *   bench-probe vsock-recv PORT                host -> guest
 *   bench-probe vsock-ping PORT COUNT          1-byte ping-pong, the host echoes
 *   bench-probe blk-read DEV BYTES [OFFSET]    host -> guest: O_DIRECT reads
 *   bench-probe blk-write DEV BYTES [OFFSET [SEED]]  guest -> host: O_DIRECT
 *                                              writes, then fdatasync
 *   bench-probe blk-read-buffered ...          the same through the guest's
 *   bench-probe blk-write-buffered ...         page cache (dropped for the
 *                                              range first): one copy in the
 *                                              guest, like a socket
 *   bench-probe blk-ping DEV COUNT             one-sector O_DIRECT reads
 *   bench-probe clock                          the guest's clocks, for the
 *                                              boot phase benchmark
 *                                              (phases-bench.sh)
 *   bench-probe modules FILE.ko... PROGRAM [ARG...]
 *                                              load the kernel modules (the
 *                                              leading arguments ending in
 *                                              .ko) in that order, then exec
 *                                              PROGRAM (boot-bench.sh: a
 *                                              modular peer kernel's vsock;
 *                                              no "--": the kernel ends init's
 *                                              arguments at a second one)
 *
 * clock prints {tsc, boottime_ns, monotonic_ns} read back to back, TSC
 * first; the line is the process's first output (one write), so in a
 * container it stamps the first output byte.  Where /dev/kmsg can be
 * written (the UVM, not a container) it also maps the TSC onto the printk
 * clock: it writes a mark to /dev/kmsg between two TSC readings and reads
 * the record back for its timestamp (kmsg_us, the printk clock in us).
 * Under QEMU the TSC starts at 0 at reset, so these pin the kernel's clocks
 * on the reset-based timeline of the firmware and loader stamps.
 *
 * The vsock transfers speak vsock-probe's protocol (tests/vsock-host.py is
 * the host side):  "DATA <n>\n" <n bytes> "END <crc32>\n", answered with
 * "OK <n> <crc32>\n" or "BAD ...".  The CRC (zlib's crc32) is computed
 * outside the timed window: under TCG a byte-wise CRC is slower than the
 * transport, so computing it inline would measure the CRC, not the channel.
 * Every transfer moves CHUNK-sized system calls / requests.
 *
 * One JSON line per command on stdout, prefixed "bench-probe: "; exit 0 only
 * when the data arrived intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "lcow/cleanup.h"
#include "lcow/error.h"

#define HOST_CID 2
#define CHUNK (1u << 20)
#define SECTOR 512u
#define LINE_MAX_LEN 128
#define IO_TIMEOUT_S 120
#define PING_WARMUP 10

static uint32_t crc_tab[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] =
			    (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

/* zlib-compatible crc32 (slicing by 8; x86 is little-endian). */
static uint32_t crc32_buf(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n >= 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^
		    crc_tab[2][(hi >> 8) & 0xff] ^ crc_tab[1][(hi >> 16) & 0xff] ^
		    crc_tab[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* xorshift64*: nothing periodic, so a lost or repeated block changes the CRC. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < n; i += 8) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		uint64_t v = s * 2685821657736338717ull;
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct buf {
	uint8_t *p;
	size_t len;
};

static void buf_release(struct buf *b)
{
	if (b->p)
		munmap(b->p, b->len);
	b->p = NULL;
}

/* Page-aligned (O_DIRECT wants it), touched up front so page faults are
 * not timed. */
static int buf_alloc(struct buf *b, size_t len, struct error *err)
{
	size_t map = len ? len : 1;
	void *p = mmap(NULL, map, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return error_set(err, errno, "mmap %zu bytes", map);
	b->p = p;
	b->len = map;
	return 0;
}

static int vsock_dial(unsigned port, struct error *err)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = HOST_CID, .svm_port = port };
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "socket(AF_VSOCK)");
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return error_set(err, errno, "set socket timeouts");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_set(err, errno, "connect to host port %u", port);
	return TAKE_FD(fd);
}

static int write_all(int fd, const void *p, size_t n, struct error *err)
{
	const uint8_t *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, errno, "send");
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n, struct error *err)
{
	uint8_t *c = p;
	while (n) {
		ssize_t r = recv(fd, c, n > CHUNK ? CHUNK : n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, errno, "recv");
		}
		if (r == 0)
			return error_setx(err, EPIPE, "EOF with %zu bytes missing", n);
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One '\n'-terminated line, byte by byte so nothing behind it is consumed. */
static int read_line(int fd, char *line, size_t size, struct error *err)
{
	size_t len = 0;
	for (;;) {
		char ch;
		int r = read_all(fd, &ch, 1, err);
		if (r < 0)
			return error_prefix(err, r, "read a line");
		if (ch == '\n')
			break;
		if (len + 1 >= size)
			return error_setx(err, EPROTO, "line too long");
		line[len++] = ch;
	}
	line[len] = '\0';
	return 0;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bench-probe: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

static int cmd_vsock_send(unsigned port, size_t bytes, uint64_t seed, struct error *err)
{
	_cleanup_(buf_release) struct buf b = { 0 };
	int r = buf_alloc(&b, bytes, err);
	if (r < 0)
		return r;
	fill(b.p, bytes, seed);
	uint32_t crc = crc32_buf(b.p, bytes);
	_cleanup_close_ int fd = vsock_dial(port, err);
	if (fd < 0)
		return fd;

	char line[LINE_MAX_LEN];
	int n = snprintf(line, sizeof(line), "DATA %zu\n", bytes);
	int64_t t0 = now_ns();
	if ((r = write_all(fd, line, (size_t)n, err)) < 0)
		return error_prefix(err, r, "header");
	for (size_t off = 0; off < bytes; off += CHUNK) {
		size_t k = bytes - off < CHUNK ? bytes - off : CHUNK;
		if ((r = write_all(fd, b.p + off, k, err)) < 0)
			return error_prefix(err, r, "data at %zu", off);
	}
	n = snprintf(line, sizeof(line), "END %08x\n", crc);
	if ((r = write_all(fd, line, (size_t)n, err)) < 0)
		return error_prefix(err, r, "trailer");
	if ((r = read_line(fd, line, sizeof(line), err)) < 0)
		return error_prefix(err, r, "answer");
	int64_t t1 = now_ns();
	char want[LINE_MAX_LEN];
	snprintf(want, sizeof(want), "OK %zu %08x", bytes, crc);
	bool ok = strcmp(line, want) == 0;
	report("{\"op\":\"vsock-send\",\"port\":%u,\"bytes\":%zu,\"ns\":%" PRId64
	       ",\"crc\":\"%08x\",\"ok\":%s}",
	       port, bytes, t1 - t0, crc, ok ? "true" : "false");
	if (!ok)
		return error_setx(err, EBADMSG, "host answered '%s', expected '%s'", line, want);
	return 0;
}

static int cmd_vsock_recv(unsigned port, struct error *err)
{
	_cleanup_close_ int fd = vsock_dial(port, err);
	if (fd < 0)
		return fd;
	char line[LINE_MAX_LEN];
	int r = read_line(fd, line, sizeof(line), err);
	if (r < 0)
		return error_prefix(err, r, "header");
	/* The host starts sending as soon as it accepts: the clock starts at
	 * the header, the first bytes of the transfer. */
	int64_t t0 = now_ns();
	unsigned long long n;
	if (sscanf(line, "DATA %llu", &n) != 1 || n > (1ull << 32))
		return error_setx(err, EPROTO, "bad header '%s'", line);
	_cleanup_(buf_release) struct buf b = { 0 };
	if ((r = buf_alloc(&b, n, err)) < 0)
		return r;
	if ((r = read_all(fd, b.p, n, err)) < 0)
		return error_prefix(err, r, "data");
	int64_t t1 = now_ns();
	if ((r = read_line(fd, line, sizeof(line), err)) < 0)
		return error_prefix(err, r, "trailer");
	unsigned long want;
	if (sscanf(line, "END %lx", &want) != 1)
		return error_setx(err, EPROTO, "bad trailer '%s'", line);
	uint32_t crc = crc32_buf(b.p, n);
	bool ok = crc == want;
	int len = ok ? snprintf(line, sizeof(line), "OK %llu %08x\n", n, crc)
		     : snprintf(line, sizeof(line), "BAD %llu %08x %08lx\n", n, crc, want);
	if ((r = write_all(fd, line, (size_t)len, err)) < 0)
		return error_prefix(err, r, "answer");
	report("{\"op\":\"vsock-recv\",\"port\":%u,\"bytes\":%llu,\"ns\":%" PRId64
	       ",\"crc\":\"%08x\",\"ok\":%s}",
	       port, n, t1 - t0, crc, ok ? "true" : "false");
	if (!ok)
		return error_setx(err, EBADMSG, "crc %08x, host says %08lx", crc, want);
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void report_latency(const char *op, const char *where, int64_t *ns, unsigned count)
{
	qsort(ns, count, sizeof(*ns), cmp_i64);
	int64_t sum = 0;
	for (unsigned i = 0; i < count; i++)
		sum += ns[i];
	report("{\"op\":\"%s\",\"target\":\"%s\",\"count\":%u,\"min_ns\":%" PRId64
	       ",\"median_ns\":%" PRId64 ",\"p90_ns\":%" PRId64 ",\"p99_ns\":%" PRId64
	       ",\"max_ns\":%" PRId64 ",\"mean_ns\":%" PRId64 ",\"ok\":true}",
	       op, where, count, ns[0], ns[count / 2], ns[count * 9 / 10], ns[count * 99 / 100],
	       ns[count - 1], sum / count);
}

static int cmd_vsock_ping(unsigned port, unsigned count, struct error *err)
{
	_cleanup_free_ int64_t *ns = calloc(count, sizeof(*ns));
	if (!ns)
		return error_set(err, ENOMEM, "latency table");
	_cleanup_close_ int fd = vsock_dial(port, err);
	if (fd < 0)
		return fd;
	for (unsigned i = 0; i < count + PING_WARMUP; i++) {
		uint8_t out = (uint8_t)i, in;
		int64_t t0 = now_ns();
		int r = write_all(fd, &out, 1, err);
		if (r < 0 || (r = read_all(fd, &in, 1, err)) < 0)
			return error_prefix(err, r, "ping %u", i);
		int64_t t1 = now_ns();
		if (in != out)
			return error_setx(err, EBADMSG, "ping %u: sent %u, echo %u", i, out, in);
		if (i >= PING_WARMUP)
			ns[i - PING_WARMUP] = t1 - t0;
	}
	char where[32];
	snprintf(where, sizeof(where), "port %u", port);
	report_latency("vsock-ping", where, ns, count);
	return 0;
}

static int open_disk(const char *dev, int flags, struct error *err)
{
	int fd = open(dev, flags | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open %s", dev);
	return fd;
}

static int disk_io(bool writing, int fd, uint8_t *p, size_t n, off_t off, struct error *err)
{
	size_t done = 0;
	while (done < n) {
		size_t k = n - done < CHUNK ? n - done : CHUNK;
		ssize_t r = writing ? pwrite(fd, p + done, k, off + (off_t)done)
				    : pread(fd, p + done, k, off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, errno, "%s at %jd", writing ? "pwrite" : "pread",
					 (intmax_t)(off + (off_t)done));
		}
		if (r == 0)
			return error_setx(err, EIO, "short %s at %jd", writing ? "write" : "read",
					  (intmax_t)(off + (off_t)done));
		done += (size_t)r;
	}
	return 0;
}

static int cmd_blk(bool writing, bool direct, const char *dev, size_t bytes, off_t off,
		   uint64_t seed, struct error *err)
{
	if (bytes % SECTOR || off % SECTOR)
		return error_setx(err, EINVAL, "bytes and offset must be whole sectors");
	_cleanup_(buf_release) struct buf b = { 0 };
	int r = buf_alloc(&b, bytes, err);
	if (r < 0)
		return r;
	uint32_t crc = 0;
	if (writing) {
		fill(b.p, bytes, seed);
		crc = crc32_buf(b.p, bytes);
	}
	_cleanup_close_ int fd =
		open_disk(dev, (writing ? O_WRONLY : O_RDONLY) | (direct ? O_DIRECT : 0), err);
	if (fd < 0)
		return fd;
	/* Buffered: nothing of the range may be cached from an earlier run. */
	if (!direct && (r = posix_fadvise(fd, off, (off_t)bytes, POSIX_FADV_DONTNEED)) != 0)
		return error_set(err, r, "posix_fadvise %s", dev);
	int64_t t0 = now_ns();
	if ((r = disk_io(writing, fd, b.p, bytes, off, err)) < 0)
		return r;
	if (writing && fdatasync(fd) < 0)
		return error_set(err, errno, "fdatasync %s", dev);
	int64_t t1 = now_ns();
	if (!writing)
		crc = crc32_buf(b.p, bytes);
	report("{\"op\":\"%s%s\",\"dev\":\"%s\",\"offset\":%jd,\"bytes\":%zu,\"ns\":%" PRId64
	       ",\"crc\":\"%08x\",\"ok\":true}",
	       writing ? "blk-write" : "blk-read", direct ? "" : "-buffered", dev, (intmax_t)off,
	       bytes, t1 - t0, crc);
	return 0;
}

static int cmd_blk_ping(const char *dev, unsigned count, struct error *err)
{
	_cleanup_free_ int64_t *ns = calloc(count, sizeof(*ns));
	if (!ns)
		return error_set(err, ENOMEM, "latency table");
	_cleanup_(buf_release) struct buf b = { 0 };
	int r = buf_alloc(&b, SECTOR, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_disk(dev, O_RDONLY | O_DIRECT, err);
	if (fd < 0)
		return fd;
	for (unsigned i = 0; i < count + PING_WARMUP; i++) {
		int64_t t0 = now_ns();
		if ((r = disk_io(false, fd, b.p, SECTOR, 0, err)) < 0)
			return error_prefix(err, r, "read %u", i);
		int64_t t1 = now_ns();
		if (i >= PING_WARMUP)
			ns[i - PING_WARMUP] = t1 - t0;
	}
	report_latency("blk-ping", dev, ns, count);
	return 0;
}

static uint64_t read_tsc(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The printk timestamp (us) of a mark written to /dev/kmsg, with the TSC
 * just before and after the write. */
static int kmsg_mark(uint64_t *tsc0, uint64_t *tsc1, uint64_t *us, struct error *err)
{
	_cleanup_close_ int fd = open("/dev/kmsg", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return error_set(err, errno, "open /dev/kmsg");
	if (lseek(fd, 0, SEEK_END) < 0)
		return error_set(err, errno, "seek /dev/kmsg");
	char mark[64];
	int n = snprintf(mark, sizeof(mark), "bench-probe: clock mark %d\n", (int)getpid());
	*tsc0 = read_tsc();
	ssize_t w = write(fd, mark, (size_t)n);
	*tsc1 = read_tsc();
	if (w != n)
		return error_set(err, w < 0 ? errno : EIO, "write /dev/kmsg");
	/* Records: "PRIO,SEQ,USEC,FLAGS;TEXT\n"; ours is the first with the mark
	 * (later ones from other writers may follow; earlier ones were skipped
	 * by the seek). */
	mark[n - 1] = '\0';
	for (int i = 0; i < 64; i++) {
		char rec[1024];
		ssize_t r = read(fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue; /* overwritten records: read on */
		if (r < 0)
			return error_set(err, errno, "read /dev/kmsg");
		rec[r] = '\0';
		char *text = strchr(rec, ';');
		if (!text || strncmp(text + 1, mark, strlen(mark)) != 0)
			continue;
		unsigned long long prio, seq, usec;
		if (sscanf(rec, "%llu,%llu,%llu", &prio, &seq, &usec) != 3)
			return error_setx(err, EPROTO, "unparsable /dev/kmsg record: %.60s", rec);
		*us = usec;
		return 0;
	}
	return error_setx(err, ENOENT, "the mark did not come back from /dev/kmsg");
}

/* Never fails: without /dev/kmsg (a container) the mapping is left out. */
static void cmd_clock(void)
{
	uint64_t tsc = read_tsc();
	int64_t boot = clock_ns(CLOCK_BOOTTIME), mono = clock_ns(CLOCK_MONOTONIC);
	uint64_t t0 = 0, t1 = 0, us = 0;
	struct error kerr = { 0 };
	if (kmsg_mark(&t0, &t1, &us, &kerr) < 0) {
		report("{\"op\":\"clock\",\"tsc\":%" PRIu64 ",\"boottime_ns\":%" PRId64
		       ",\"monotonic_ns\":%" PRId64
		       ",\"kmsg\":false,\"kmsg_error\":\"%s\",\"ok\":true}",
		       tsc, boot, mono, error_text(&kerr));
		return;
	}
	report("{\"op\":\"clock\",\"tsc\":%" PRIu64 ",\"boottime_ns\":%" PRId64
	       ",\"monotonic_ns\":%" PRId64 ",\"kmsg\":true,\"kmsg_tsc0\":%" PRIu64
	       ",\"kmsg_tsc1\":%" PRIu64 ",\"kmsg_us\":%" PRIu64 ",\"ok\":true}",
	       tsc, boot, mono, t0, t1, us);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

/* A stock distribution kernel has virtio-pci and vsock as modules; the
 * benchmark loads them before the product's chain (vsockexec, the agent) as
 * its initramfs would.  finit_module(2) without parameters; a module that
 * is already there is fine. */
static int cmd_modules(char **files, int n, struct error *err)
{
	for (int i = 0; i < n; i++) {
		_cleanup_close_ int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return error_set(err, errno, "open %s", files[i]);
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			return error_set(err, errno, "load %s", files[i]);
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: bench-probe vsock-send PORT BYTES [SEED] | vsock-recv PORT |\n"
		"       vsock-ping PORT COUNT | blk-read[-buffered] DEV BYTES [OFFSET] |\n"
		"       blk-write[-buffered] DEV BYTES [OFFSET [SEED]] | blk-ping DEV COUNT |\n"
		"       clock | modules FILE.ko... PROGRAM [ARG...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct error err = { 0 };
	uint64_t a[3] = { 0, 0, 1 };	/* numeric arguments after the command's first */
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	crc_init();
	if (argc == 2 && strcmp(argv[1], "clock") == 0) {
		cmd_clock();
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "modules") == 0) {
		int prog = 2;
		for (size_t l; prog < argc && (l = strlen(argv[prog])) > 3 &&
			       strcmp(argv[prog] + l - 3, ".ko") == 0;)
			prog++;
		if (prog == 2 || prog >= argc)
			return usage();
		if (cmd_modules(&argv[2], prog - 2, &err) < 0) {
			fprintf(stderr, "bench-probe: modules: %s\n", error_text(&err));
			return 1;
		}
		execv(argv[prog], &argv[prog]);
		fprintf(stderr, "bench-probe: modules: exec %s: %s\n", argv[prog], strerror(errno));
		return 1;
	}
	if (argc < 3)
		return usage();
	const char *cmd = argv[1];
	bool is_blk = strncmp(cmd, "blk-", 4) == 0;
	bool direct = strstr(cmd, "-buffered") == NULL;
	/* argv[2] is a port (vsock) or a device (blk); the rest are numbers. */
	uint64_t port = 0;
	if (!is_blk && (parse_u64(argv[2], &port) < 0 || port > UINT32_MAX))
		return usage();
	for (int i = 3; i < argc; i++)
		if (i - 3 >= 3 || parse_u64(argv[i], &a[i - 3]) < 0)
			return usage();
	int nargs = argc - 3;

	if (strcmp(cmd, "vsock-send") == 0 && (nargs == 1 || nargs == 2))
		r = cmd_vsock_send((unsigned)port, a[0], nargs == 2 ? a[1] : 1, &err);
	else if (strcmp(cmd, "vsock-recv") == 0 && nargs == 0)
		r = cmd_vsock_recv((unsigned)port, &err);
	else if (strcmp(cmd, "vsock-ping") == 0 && nargs == 1 && a[0] > 0 && a[0] < (1u << 24))
		r = cmd_vsock_ping((unsigned)port, (unsigned)a[0], &err);
	else if ((strcmp(cmd, "blk-read") == 0 || strcmp(cmd, "blk-read-buffered") == 0) &&
		 (nargs == 1 || nargs == 2))
		r = cmd_blk(false, direct, argv[2], a[0], (off_t)a[1], 0, &err);
	else if ((strcmp(cmd, "blk-write") == 0 || strcmp(cmd, "blk-write-buffered") == 0) &&
		 nargs >= 1)
		r = cmd_blk(true, direct, argv[2], a[0], (off_t)a[1], nargs == 3 ? a[2] : 1,
			    &err);
	else if (strcmp(cmd, "blk-ping") == 0 && nargs == 1 && a[0] > 0 && a[0] < (1u << 24))
		r = cmd_blk_ping(argv[2], (unsigned)a[0], &err);
	else
		return usage();
	if (r < 0) {
		fprintf(stderr, "bench-probe: %s: %s\n", cmd, error_text(&err));
		report("{\"op\":\"%s\",\"ok\":false}", cmd);
		return 1;
	}
	return 0;
}
