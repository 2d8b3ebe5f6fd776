/* SPDX-License-Identifier: MIT */
/*
 * vsock-probe: the guest side of tests/vm-smoke.sh (static, musl).
 *
 *   vsock-probe send PORT BYTES [CONNS]  open CONNS streams to the host (CID 2)
 *                                        PORT at once, send BYTES on each
 *   vsock-probe recv PORT [CONNS [DELAY_US]]  open CONNS streams, receive on
 *                                        each (sleeping DELAY_US after every
 *                                        read: a slow reader)
 *   vsock-probe serve PORT               listen; per connection: "DATA" ->
 *                                        receive, "GET <n>\n" -> send n bytes
 *   vsock-probe refused PORT             expect the host to refuse PORT
 *   vsock-probe control PORT TEXT        send "RESULT TEXT\n", print the
 *                                        host's answer, exit 0 on "DONE ok"
 *
 * A transfer is  "DATA <n>\n" <n bytes> "END <crc32>\n"  and the receiver
 * answers "OK <n> <crc32>\n" or "BAD ...\n"; crc32 is zlib's.  The payload
 * comes from a per-stream xorshift generator, so nothing is periodic and a
 * lost, duplicated or reordered block changes the checksum.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define HOST_CID 2
#define BUF_SIZE 16384
#define LINE_MAX_LEN 128
#define DEADLINE_S 600

static uint32_t crc_table[256];
static unsigned read_delay_us;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* zlib-compatible: crc32(prev, data) */
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint64_t gen_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum phase {
	/* sender */
	S_HDR,
	S_DATA,
	S_END,
	S_ANSWER,
	/* receiver */
	R_HDR,
	R_DATA,
	R_END,
	R_ANSWER,
	DONE,
};

struct stream {
	int fd;
	enum phase phase;
	uint64_t total, done;
	uint32_t crc;
	uint64_t gen;
	char out[LINE_MAX_LEN]; /* line being written */
	size_t outlen, outpos;
	uint8_t in[BUF_SIZE]; /* bytes read, not consumed */
	size_t inlen;
	uint8_t data[BUF_SIZE]; /* generated, not yet written */
	size_t datalen, datapos;
	int ok; /* 1 = verified, -1 = failed */
	char why[160];
};

static void fail(struct stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct stream *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	s->ok = -1;
	s->phase = DONE;
}

static void set_line(struct stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_line(struct stream *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->out, sizeof(s->out), fmt, ap);
	va_end(ap);
	s->outlen = (size_t)n;
	s->outpos = 0;
}

static void stream_sender(struct stream *s, int fd, uint64_t n, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->phase = S_HDR;
	s->total = n;
	s->gen = seed * 0x9e3779b97f4a7c15ull + 1;
	set_line(s, "DATA %" PRIu64 "\n", n);
}

static void stream_receiver(struct stream *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->phase = R_HDR;
}

/* Take one '\n'-terminated line out of s->in; 1 = got it. */
static int take_line(struct stream *s, char *line)
{
	uint8_t *nl = memchr(s->in, '\n', s->inlen);
	if (!nl) {
		if (s->inlen >= LINE_MAX_LEN)
			fail(s, "line too long");
		return 0;
	}
	size_t len = (size_t)(nl - s->in);
	if (len >= LINE_MAX_LEN) {
		fail(s, "line too long");
		return 0;
	}
	memcpy(line, s->in, len);
	line[len] = '\0';
	memmove(s->in, nl + 1, s->inlen - len - 1);
	s->inlen -= len + 1;
	return 1;
}

/* Write the pending line; 1 when complete. */
static int flush_line(struct stream *s)
{
	while (s->outpos < s->outlen) {
		ssize_t w = send(s->fd, s->out + s->outpos, s->outlen - s->outpos, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN)
				fail(s, "write: %s", strerror(errno));
			return 0;
		}
		s->outpos += (size_t)w;
	}
	return 1;
}

/* Consume what is in s->in for the receive phases. */
static void consume_input(struct stream *s)
{
	char line[LINE_MAX_LEN];
	for (;;) {
		switch (s->phase) {
		case R_HDR:
			if (!take_line(s, line))
				return;
			if (sscanf(line, "DATA %" SCNu64, &s->total) != 1) {
				fail(s, "bad header '%s'", line);
				return;
			}
			s->phase = R_DATA;
			break;
		case R_DATA: {
			size_t k = s->inlen;
			if (k > s->total - s->done)
				k = (size_t)(s->total - s->done);
			s->crc = crc_update(s->crc, s->in, k);
			s->done += k;
			memmove(s->in, s->in + k, s->inlen - k);
			s->inlen -= k;
			if (s->done < s->total)
				return;
			s->phase = R_END;
			break;
		}
		case R_END: {
			if (!take_line(s, line))
				return;
			unsigned long want;
			if (sscanf(line, "END %lx", &want) != 1) {
				fail(s, "bad trailer '%s'", line);
				return;
			}
			if (want == s->crc) {
				s->ok = 1;
				set_line(s, "OK %" PRIu64 " %08x\n", s->total, s->crc);
			} else {
				s->ok = -1;
				snprintf(s->why, sizeof(s->why), "crc %08x, sender says %08lx", s->crc,
					 want);
				set_line(s, "BAD %" PRIu64 " %08x %08lx\n", s->total, s->crc, want);
			}
			s->phase = R_ANSWER;
			return;
		}
		case S_ANSWER: {
			if (!take_line(s, line))
				return;
			uint64_t n;
			unsigned crc;
			if (sscanf(line, "OK %" SCNu64 " %x", &n, &crc) == 2 && n == s->total &&
			    crc == s->crc)
				s->ok = 1;
			else
				fail(s, "answer '%s' (sent %" PRIu64 " bytes, crc %08x)", line,
				     s->total, s->crc);
			s->phase = DONE;
			return;
		}
		default:
			return;
		}
	}
}

/* Make progress on s; called when poll says its fd is ready. */
static void step(struct stream *s, short revents)
{
	if (s->phase == S_HDR && flush_line(s))
		s->phase = S_DATA;
	while (s->phase == S_DATA) {
		if (s->datapos == s->datalen) {
			if (s->done == s->total) {
				set_line(s, "END %08x\n", s->crc);
				s->phase = S_END;
				break;
			}
			size_t k = BUF_SIZE;
			if (k > s->total - s->done)
				k = (size_t)(s->total - s->done);
			for (size_t i = 0; i < k; i += 8) {
				uint64_t v = gen_next(&s->gen);
				memcpy(s->data + i, &v, k - i < 8 ? k - i : 8);
			}
			s->crc = crc_update(s->crc, s->data, k);
			s->datalen = k;
			s->datapos = 0;
			s->done += k;
		}
		ssize_t w = send(s->fd, s->data + s->datapos, s->datalen - s->datapos, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN)
				fail(s, "write: %s", strerror(errno));
			return;
		}
		s->datapos += (size_t)w;
	}
	if (s->phase == S_END && flush_line(s)) {
		shutdown(s->fd, SHUT_WR);
		s->phase = S_ANSWER;
	}
	if (s->phase == R_ANSWER) {
		if (flush_line(s))
			s->phase = DONE;
		return;
	}
	if ((s->phase == S_ANSWER || (s->phase >= R_HDR && s->phase <= R_END)) &&
	    (revents & (POLLIN | POLLHUP | POLLERR))) {
		for (;;) {
			ssize_t r = recv(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen, 0);
			if (r < 0) {
				if (errno != EAGAIN)
					fail(s, "read: %s", strerror(errno));
				return;
			}
			if (r == 0) {
				consume_input(s);
				if (s->phase != DONE && s->phase != R_ANSWER)
					fail(s, "EOF after %" PRIu64 " of %" PRIu64 " bytes", s->done,
					     s->total);
				return;
			}
			s->inlen += (size_t)r;
			consume_input(s);
			if (read_delay_us)
				usleep(read_delay_us);
			if (s->phase == DONE || s->phase == R_ANSWER)
				return;
		}
	}
}

static short want_events(const struct stream *s)
{
	switch (s->phase) {
	case S_HDR:
	case S_DATA:
	case S_END:
	case R_ANSWER:
		return POLLOUT;
	case DONE:
		return 0;
	default:
		return POLLIN;
	}
}

/* Drive every stream to DONE; returns the number that failed. */
static unsigned run(struct stream *ss, unsigned n)
{
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	double deadline = now_s() + DEADLINE_S;
	unsigned left = n;
	for (unsigned i = 0; i < n; i++)
		fcntl(ss[i].fd, F_SETFL, fcntl(ss[i].fd, F_GETFL) | O_NONBLOCK);
	/* Senders start writing before the first poll. */
	for (unsigned i = 0; i < n; i++)
		step(&ss[i], 0);
	while (left) {
		left = 0;
		for (unsigned i = 0; i < n; i++) {
			pfd[i].fd = ss[i].phase == DONE ? -1 : ss[i].fd;
			pfd[i].events = want_events(&ss[i]);
			left += ss[i].phase != DONE;
		}
		if (!left)
			break;
		if (now_s() > deadline) {
			for (unsigned i = 0; i < n; i++)
				if (ss[i].phase != DONE)
					fail(&ss[i], "timed out");
			break;
		}
		if (poll(pfd, n, 1000) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < n; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents)
				step(&ss[i], pfd[i].revents);
	}
	free(pfd);
	unsigned failed = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ss[i].ok != 1) {
			if (failed < 5)
				fprintf(stderr, "vsock-probe: stream %u: %s\n", i,
					ss[i].why[0] ? ss[i].why : "incomplete");
			failed++;
		}
	}
	return failed;
}

static int vsock_connect(unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = HOST_CID, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static unsigned parse_uint(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);
	if (*end || end == s) {
		fprintf(stderr, "vsock-probe: bad number '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

/* send/recv: CONNS streams to the host at once. */
static int cmd_transfer(bool sending, unsigned port, uint64_t bytes, unsigned conns)
{
	struct stream *ss = calloc(conns, sizeof(*ss));
	if (!ss)
		return 1;
	for (unsigned i = 0; i < conns; i++) {
		int fd = vsock_connect(port);
		if (fd < 0) {
			fprintf(stderr, "vsock-probe: connect %u (stream %u): %s\n", port, i,
				strerror(-fd));
			return 1;
		}
		if (sending)
			stream_sender(&ss[i], fd, bytes, i + 1);
		else
			stream_receiver(&ss[i], fd);
	}
	double t0 = now_s();
	unsigned failed = run(ss, conns);
	double secs = now_s() - t0;
	uint64_t total = 0;
	for (unsigned i = 0; i < conns; i++) {
		total += ss[i].total;
		close(ss[i].fd);
	}
	printf("vsock-probe: %s port %u: %u stream(s), %" PRIu64 " bytes, %u failed, %.2f s, "
	       "%.2f MB/s\n",
	       sending ? "send" : "recv", port, conns, total, failed, secs,
	       secs > 0 ? (double)total / secs / 1e6 : 0.0);
	fflush(stdout);
	free(ss);
	return failed ? 1 : 0;
}

static void serve_one(int fd)
{
	struct stream *s = calloc(1, sizeof(*s));
	char line[LINE_MAX_LEN];
	size_t len = 0;

	/* The first line says which way: byte by byte, so nothing behind it
	 * is consumed. */
	while (len < sizeof(line) - 1) {
		if (read(fd, line + len, 1) != 1)
			_exit(1);
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	unsigned long long want;
	if (sscanf(line, "GET %llu", &want) == 1) {
		stream_sender(s, fd, want, (uint64_t)getpid());
	} else {
		stream_receiver(s, fd);
		memcpy(s->in, line, len);
		s->inlen = len;
		consume_input(s);
	}
	_exit(run(s, 1) ? 1 : 0);
}

static int cmd_serve(unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 512) < 0) {
		fprintf(stderr, "vsock-probe: listen on %u: %s\n", port, strerror(errno));
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* children reap themselves */
	printf("vsock-probe: serving port %u\n", port);
	fflush(stdout);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "vsock-probe: accept: %s\n", strerror(errno));
			return 1;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			serve_one(fd);
		}
		close(fd);
	}
}

static int cmd_refused(unsigned port)
{
	int fd = vsock_connect(port);
	if (fd >= 0) {
		printf("vsock-probe: port %u accepted a connection, expected a refusal\n", port);
		close(fd);
		return 1;
	}
	printf("vsock-probe: port %u refused: %s\n", port, strerror(-fd));
	return fd == -ECONNRESET || fd == -ECONNREFUSED ? 0 : 1;
}

static int cmd_control(unsigned port, const char *text)
{
	char buf[4096];
	size_t len = 0;
	int fd = vsock_connect(port);
	if (fd < 0) {
		fprintf(stderr, "vsock-probe: control %u: %s\n", port, strerror(-fd));
		return 1;
	}
	dprintf(fd, "RESULT %s\n", text);
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	printf("%s", buf);
	return strstr(buf, "DONE ok") ? 0 : 1;
}

int main(int argc, char **argv)
{
	crc_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "send") == 0)
		return cmd_transfer(true, parse_uint(argv[2]), strtoull(argv[3], NULL, 0),
				    argc > 4 ? parse_uint(argv[4]) : 1);
	if (argc >= 3 && argc <= 5 && strcmp(argv[1], "recv") == 0) {
		read_delay_us = argc > 4 ? parse_uint(argv[4]) : 0;
		return cmd_transfer(false, parse_uint(argv[2]), 0,
				    argc > 3 ? parse_uint(argv[3]) : 1);
	}
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(parse_uint(argv[2]));
	if (argc == 3 && strcmp(argv[1], "refused") == 0)
		return cmd_refused(parse_uint(argv[2]));
	if (argc == 4 && strcmp(argv[1], "control") == 0)
		return cmd_control(parse_uint(argv[2]), argv[3]);
	fprintf(stderr, "usage: vsock-probe send PORT BYTES [CONNS] | recv PORT [CONNS [DELAY_US]] |\n"
			"       serve PORT | refused PORT | control PORT TEXT\n");
	return 2;
}
