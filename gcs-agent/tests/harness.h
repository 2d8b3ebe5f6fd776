/* SPDX-License-Identifier: MIT */
/*
 * Test side of the bridge: write frames as the host would, read what the
 * agent answers, and run the agent's loop (in-process) until an answer is
 * there.  Peer fds are non-blocking; every wait has a deadline.
 */
#ifndef GCS_TESTS_HARNESS_H
#define GCS_TESTS_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "protocol/bridge.h"

#define NULL_ID "00000000-0000-0000-0000-000000000000"
#define ACT_ID "11111111-2222-3333-4444-555555555555"

static inline int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Write all of buf, running the agent's loop (if any) while the socket is
 * full.  Returns 0, or -1 when the peer is gone or the deadline passed. */
static inline int peer_write_all(struct loop *l, int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int64_t deadline = now_ms() + 5000;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (now_ms() > deadline)
			return -1;
		if (l)
			loop_run_once(l, 10, NULL);
		else
			poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 10);
	}
	return 0;
}

static inline int peer_send(struct loop *l, int fd, uint32_t type, uint64_t id, const char *body)
{
	size_t len = body ? strlen(body) : 0;
	uint8_t *buf = malloc(BRIDGE_HEADER_SIZE + len);
	if (!buf)
		return -1;
	struct bridge_header h = { .type = type, .size = (uint32_t)(BRIDGE_HEADER_SIZE + len), .id = id };
	bridge_header_encode(&h, buf);
	memcpy(buf + BRIDGE_HEADER_SIZE, body, len);
	int r = peer_write_all(l, fd, buf, BRIDGE_HEADER_SIZE + len);
	free(buf);
	return r;
}

/* Bytes received from the agent, split into frames. */
struct peer {
	int fd;
	uint8_t buf[2 * BRIDGE_MAX_FRAME];
	size_t len;
	bool eof;
};

struct frame {
	struct bridge_header hdr;
	char *body;	/* NUL-terminated */
	json_t *json;	/* parsed body, NULL if not JSON */
};

static inline void frame_free(struct frame *f)
{
	free(f->body);
	if (f->json)
		json_decref(f->json);
	memset(f, 0, sizeof(*f));
}

/* Take one complete frame out of p->buf, if there is one. */
static inline bool peer_take(struct peer *p, struct frame *f)
{
	struct bridge_header h;
	long n = bridge_frame_scan(p->buf, p->len, &h);
	if (n <= 0)
		return false;
	f->hdr = h;
	size_t blen = (size_t)n - BRIDGE_HEADER_SIZE;
	f->body = malloc(blen + 1);
	memcpy(f->body, p->buf + BRIDGE_HEADER_SIZE, blen);
	f->body[blen] = '\0';
	json_error_t jerr;
	f->json = json_loadb(f->body, blen, 0, &jerr);
	memmove(p->buf, p->buf + n, p->len - (size_t)n);
	p->len -= (size_t)n;
	return true;
}

static inline void peer_read_some(struct peer *p)
{
	while (p->len < sizeof(p->buf)) {
		ssize_t n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);
		if (n > 0) {
			p->len += (size_t)n;
			continue;
		}
		if (n == 0)
			p->eof = true;
		break;
	}
}

/* Wait up to ms for a frame (running the loop l, if given). */
static inline bool peer_recv(struct loop *l, struct peer *p, struct frame *f, int ms)
{
	int64_t deadline = now_ms() + ms;
	for (;;) {
		if (peer_take(p, f))
			return true;
		peer_read_some(p);
		if (peer_take(p, f))
			return true;
		if (p->eof || now_ms() > deadline)
			return false;
		if (l)
			loop_run_once(l, 5, NULL);
		else
			poll(&(struct pollfd){ .fd = p->fd, .events = POLLIN }, 1, 5);
	}
}

/* Run the loop for ms; true if the agent sent nothing meanwhile. */
static inline bool peer_quiet(struct loop *l, struct peer *p, int ms)
{
	int64_t deadline = now_ms() + ms;
	while (now_ms() < deadline) {
		if (l)
			loop_run_once(l, 5, NULL);
		else
			poll(NULL, 0, 5);
		peer_read_some(p);
		if (p->len)
			return false;
	}
	return true;
}

/* Run the loop until the agent closes its end (EOF at the peer). */
static inline bool peer_wait_eof(struct loop *l, struct peer *p, int ms)
{
	int64_t deadline = now_ms() + ms;
	while (now_ms() < deadline) {
		peer_read_some(p);
		if (p->eof)
			return true;
		if (l)
			loop_run_once(l, 5, NULL);
		else
			poll(&(struct pollfd){ .fd = p->fd, .events = POLLIN }, 1, 5);
	}
	return false;
}

static inline int64_t jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static inline const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* HRESULT as the JSON carries it (int32). */
#define HR(x) ((int64_t)(int32_t)(x))

#endif
