/* SPDX-License-Identifier: MIT */
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"

/* An unsigned decimal filling [s, end) exactly. */
static bool dec(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	if (s == end)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

int kmsg_parse(const char *rec, size_t len, struct kmsg_entry *e)
{
	const char *semi = memchr(rec, ';', len);
	if (!semi)
		return -EINVAL;
	/* The header before ';': prefix,seq,usec,flags[,more...] */
	const char *f[5];
	size_t nf = 0;
	f[nf++] = rec;
	for (const char *p = rec; p < semi && nf < 5; p++)
		if (*p == ',')
			f[nf++] = p + 1;
	if (nf < 4)
		return -EINVAL;
	const char *flags_end = nf > 4 ? f[4] - 1 : semi;
	uint64_t prefix, seq, usec;
	if (!dec(f[0], f[1] - 1, &prefix) || prefix > 0xffff || !dec(f[1], f[2] - 1, &seq) ||
	    !dec(f[2], f[3] - 1, &usec))
		return -EINVAL;
	size_t flen = (size_t)(flags_end - f[3]);
	if (flen == 0 || flen >= sizeof(e->flags))
		return -EINVAL;
	/* Printable, as the kernel writes them ('-', 'c', '+'): a NUL or a
	 * control byte there is not a record (found by fuzz/kmsg.c). */
	for (size_t i = 0; i < flen; i++)
		if (f[3][i] <= ' ' || f[3][i] > '~')
			return -EINVAL;
	memcpy(e->flags, f[3], flen);
	e->flags[flen] = '\0';
	e->priority = (unsigned)(prefix & 7);
	e->facility = (unsigned)(prefix >> 3);
	e->seq = seq;
	e->usec = usec;
	e->msg = semi + 1;
	const char *end = rec + len;
	const char *nl = memchr(e->msg, '\n', (size_t)(end - e->msg));
	e->msg_len = (size_t)((nl ? nl : end) - e->msg);
	/* Surrounding blanks, as hcsshim trims. */
	while (e->msg_len && (*e->msg == ' ' || *e->msg == '\t')) {
		e->msg++;
		e->msg_len--;
	}
	while (e->msg_len && (e->msg[e->msg_len - 1] == ' ' || e->msg[e->msg_len - 1] == '\t' ||
			      e->msg[e->msg_len - 1] == '\r'))
		e->msg_len--;
	return 0;
}

const char *kmsg_priority_name(unsigned priority)
{
	static const char *const names[8] = { "Emerg",	"Alert",  "Crit", "Err",
					      "Warning", "Notice", "Info", "Debug" };
	return priority < 8 ? names[priority] : "?";
}

static void forward(struct kmsg_reader *r, const char *rec, size_t len)
{
	struct kmsg_entry e;
	if (kmsg_parse(rec, len, &e) < 0) {
		char shown[128];
		size_t n = len < sizeof(shown) - 1 ? len : sizeof(shown) - 1;
		memcpy(shown, rec, n);
		shown[n] = '\0';
		log_error("failed to parse kmsg entry", LOG_STR("line", shown));
		return;
	}
	if (e.priority > r->max_priority)
		return;
	char msg[1024];
	size_t n = e.msg_len < sizeof(msg) - 1 ? e.msg_len : sizeof(msg) - 1;
	memcpy(msg, e.msg, n);
	msg[n] = '\0';
	r->forwarded++;
	log_info("kmsg read", LOG_STR("priority", kmsg_priority_name(e.priority)),
		 LOG_U64("facility", e.facility), LOG_U64("seq", e.seq),
		 LOG_U64("timesincebootmicro", e.usec), LOG_STR("flags", e.flags),
		 LOG_STR("message", msg));
}

static void on_readable(struct loop_source *src, uint32_t events)
{
	struct kmsg_reader *r = src->data;
	(void)events;
	/* A record is at most ~8 KB with its dictionary; a bounded batch per
	 * wake-up keeps a kernel log storm from starving the bridge. */
	char buf[8192];
	for (int i = 0; i < 64; i++) {
		ssize_t n = read(r->fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			forward(r, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE) {
			/* The ring overwrote records before they were read;
			 * the next read starts at the oldest one kept. */
			r->lost++;
			log_warning("kmsg entry overwritten; skipping entry");
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		log_error("kmsg read failure: the kernel log is no longer forwarded",
			  LOG_STR("error", n < 0 ? strerror(errno) : "end of file"));
		kmsg_stop(r);
		return;
	}
}

int kmsg_start(struct kmsg_reader *r, struct loop *loop, const char *path, unsigned max_priority,
	       struct error *err)
{
	r->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (r->fd < 0)
		return error_set(err, errno, "open %s", path);
	r->max_priority = max_priority;
	int ret = loop_add(loop, &r->src, r->fd, EPOLLIN, on_readable, r, err);
	if (ret < 0) {
		close(r->fd);
		r->fd = -1;
		return ret;
	}
	return 0;
}

void kmsg_stop(struct kmsg_reader *r)
{
	if (r->fd < 0)
		return;
	loop_remove(&r->src);
	close(r->fd);
	r->fd = -1;
}
