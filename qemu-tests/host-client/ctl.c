/* SPDX-License-Identifier: MIT */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "transport.h"

void linebuf_init(struct linebuf *lb, size_t max)
{
	*lb = (struct linebuf){.max = max};
}

void linebuf_free(struct linebuf *lb)
{
	free(lb->data);
	lb->data = NULL;
	lb->off = lb->len = lb->cap = 0;
}

ssize_t linebuf_fill(struct linebuf *lb, int fd)
{
	if (lb->off > 0) {
		memmove(lb->data, lb->data + lb->off, lb->len - lb->off);
		lb->len -= lb->off;
		lb->off = 0;
	}
	if (lb->len >= lb->max)
		return -ENOBUFS;
	/* One spare byte so linebuf_rest() can always NUL-terminate. */
	if (lb->cap < lb->max + 1) {
		size_t want = lb->len + 65536 + 1;
		if (want > lb->max + 1)
			want = lb->max + 1;
		if (want > lb->cap) {
			char *p = realloc(lb->data, want);
			if (!p)
				return -ENOMEM;
			lb->data = p;
			lb->cap = want;
		}
	}
	size_t room = lb->cap - 1 - lb->len;
	if (room == 0)
		return -ENOBUFS;
	for (;;) {
		ssize_t n = read(fd, lb->data + lb->len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		lb->len += (size_t)n;
		return n;
	}
}

char *linebuf_next(struct linebuf *lb, size_t *len)
{
	if (lb->off >= lb->len)
		return NULL;
	char *start = lb->data + lb->off;
	char *nl = memchr(start, '\n', lb->len - lb->off);
	if (!nl)
		return NULL;
	*nl = '\0';
	*len = (size_t)(nl - start);
	lb->off += *len + 1;
	return start;
}

char *linebuf_rest(struct linebuf *lb, size_t *len)
{
	if (lb->off >= lb->len)
		return NULL;
	char *start = lb->data + lb->off;
	*len = lb->len - lb->off;
	lb->data[lb->len] = '\0'; /* cap > len always (spare byte) */
	lb->off = lb->len = 0;
	return start;
}

void outbuf_free(struct outbuf *b)
{
	free(b->data);
	*b = (struct outbuf){0};
}

int outbuf_append(struct outbuf *b, const void *p, size_t n)
{
	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len < n && b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int outbuf_flush(struct outbuf *b, int fd)
{
	while (b->off < b->len) {
		ssize_t n = write(fd, b->data + b->off, b->len - b->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b->off += (size_t)n;
	}
	b->off = b->len = 0;
	return 0;
}

int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = {.fd = fd, .events = POLLOUT};
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return -errno;
				continue;
			}
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int ctl_path_from(const char *control, const char *base, char **out, struct error *err)
{
	if (control) {
		*out = strdup(control);
	} else if (base) {
		if (asprintf(out, "%s.ctl", base) < 0)
			*out = NULL;
	} else {
		return error_setx(err, EINVAL, "no control socket: give -c PATH or --uds BASE");
	}
	if (!*out)
		return error_set(err, ENOMEM, "control path");
	return 0;
}

int ctl_client_open(struct ctl_client *cc, const char *path, struct error *err)
{
	cc->fd = -1;
	linebuf_init(&cc->in, CTL_MAX_LINE);
	int r = unix_connect(path, &cc->fd, err);
	if (r < 0)
		return error_prefix(err, r, "cannot reach `lcowctl serve`");
	return 0;
}

void ctl_client_close(struct ctl_client *cc)
{
	if (cc->fd >= 0)
		close(cc->fd);
	cc->fd = -1;
	linebuf_free(&cc->in);
}

int ctl_client_send(struct ctl_client *cc, json_t *msg, struct error *err)
{
	_cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return error_set(err, ENOMEM, "encode control request");
	size_t n = strlen(text);
	text[n] = '\n'; /* replaces the NUL; length is explicit below */
	int r = write_all(cc->fd, text, n + 1);
	if (r < 0)
		return error_set(err, -r, "write to control socket");
	return 0;
}

int ctl_client_next(struct ctl_client *cc, json_t **out, struct error *err)
{
	size_t len;
	char *line = linebuf_next(&cc->in, &len);
	if (!line)
		return 0;
	json_error_t jerr;
	json_t *j = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		return error_setx(err, EPROTO, "bad reply from serve: %s",
				  j ? "not an object" : jerr.text);
	}
	*out = j;
	return 1;
}

int ctl_client_read_some(struct ctl_client *cc, struct error *err)
{
	ssize_t n = linebuf_fill(&cc->in, cc->fd);
	if (n == -EAGAIN)
		return 0;
	if (n == -ENOBUFS)
		return error_setx(err, EPROTO, "reply from serve longer than %u bytes",
				  CTL_MAX_LINE);
	if (n < 0)
		return error_set(err, (int)-n, "read from control socket");
	if (n == 0)
		return error_setx(err, ECONNRESET, "serve closed the control connection");
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_client_recv(struct ctl_client *cc, json_t **out, int timeout_ms, struct error *err)
{
	long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
	for (;;) {
		int r = ctl_client_next(cc, out, err);
		if (r != 0)
			return r < 0 ? r : 0;
		int wait = -1;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return error_setx(err, ETIMEDOUT, "timed out waiting for serve");
			wait = left > 1000000 ? 1000000 : (int)left;
		}
		struct pollfd pfd = {.fd = cc->fd, .events = POLLIN};
		r = poll(&pfd, 1, wait);
		if (r < 0 && errno != EINTR)
			return error_set(err, errno, "poll control socket");
		if (r <= 0)
			continue;
		r = ctl_client_read_some(cc, err);
		if (r < 0)
			return r;
	}
}
