/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static struct {
	int fd;
	enum log_level min;
	enum log_format format;
	int is_socket;	/* -1 unknown, 0 no, 1 yes */
	uint64_t dropped;
	uint64_t dropped_reported;
} logger = { .fd = 2, .min = LOG_INFO, .format = LOG_FORMAT_JSON, .is_socket = -1 };

static const char *const level_names[] = {
	[LOG_TRACE] = "trace",
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARNING] = "warning",
	[LOG_ERROR] = "error",
};

void log_setup(int fd, enum log_level min, enum log_format format)
{
	logger.fd = fd;
	logger.min = min;
	logger.format = format;
	logger.is_socket = -1;
}

void log_set_level(enum log_level min)
{
	logger.min = min;
}

enum log_level log_get_level(void)
{
	return logger.min;
}

bool log_enabled(enum log_level level)
{
	return level >= logger.min;
}

uint64_t log_dropped(void)
{
	return logger.dropped;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
		return level_names[level];
	return "info";
}

int log_parse_level(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "trace", LOG_TRACE }, { "debug", LOG_DEBUG },	    { "info", LOG_INFO },
		{ "warning", LOG_WARNING }, { "warn", LOG_WARNING }, { "error", LOG_ERROR },
		{ "fatal", LOG_ERROR },	    { "panic", LOG_ERROR },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

/* A bounded line builder.  Every append is all-or-nothing, so a line that
 * runs out of room is cut between tokens and stays well-formed; `cut` says
 * that something did not fit. */
struct line {
	char *buf;
	size_t size;	/* usable bytes, the closing reserve excluded */
	size_t len;
	bool cut;
};

static bool put(struct line *l, const char *s, size_t n)
{
	if (l->cut || n > l->size - l->len) {
		l->cut = true;
		return false;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return true;
}

static bool puts_(struct line *l, const char *s)
{
	return put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A JSON string literal; invalid UTF-8 becomes U+FFFD so the host's decoder
 * never chokes on a line.  A string that does not fit is cut at a character
 * boundary and still closed. */
static void put_quoted(struct line *l, const char *s)
{
	if (!put(l, "\"", 1))
		return;
	l->size--;	/* keep room for the closing quote */
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t left = strlen((const char *)p);
	while (left && !l->cut) {
		unsigned char c = *p;
		size_t n = 1;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c == '\n') {
			put(l, "\\n", 2);
		} else if (c == '\t') {
			put(l, "\\t", 2);
		} else if (c == '\r') {
			put(l, "\\r", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(l, esc, 6);
		} else if (c >= 0x80) {
			n = utf8_seq(p, left);
			if (!n) {
				put(l, "\\ufffd", 6);
				n = 1;
			} else {
				put(l, (const char *)p, n);
			}
		} else {
			put(l, (const char *)p, 1);
		}
		p += n;
		left -= n;
	}
	l->size++;
	l->buf[l->len++] = '"';
}

static void put_value(struct line *l, const struct log_field *f)
{
	char num[32];
	switch (f->type) {
	case LOG_FIELD_STR:
		put_quoted(l, f->s);
		return;
	case LOG_FIELD_I64:
		snprintf(num, sizeof(num), "%" PRId64, f->i);
		break;
	case LOG_FIELD_U64:
		snprintf(num, sizeof(num), "%" PRIu64, f->u);
		break;
	case LOG_FIELD_BOOL:
		snprintf(num, sizeof(num), "%s", f->b ? "true" : "false");
		break;
	case LOG_FIELD_HEX:
		snprintf(num, sizeof(num), "\"0x%" PRIx64 "\"", f->u);
		break;
	default:
		snprintf(num, sizeof(num), "null");
		break;
	}
	puts_(l, num);
}

size_t log_format_line(char *buf, size_t size, enum log_format format, const struct timespec *now,
		       enum log_level level, const char *msg, const struct log_field *fields,
		       size_t n)
{
	/* The closing "}\n" and the NUL are reserved. */
	if (size < 64) {
		if (size)
			buf[0] = '\0';
		return 0;
	}
	struct line l = { .buf = buf, .size = size - 3 };

	struct tm tm;
	char ts[48];
	time_t secs = now->tv_sec;
	gmtime_r(&secs, &tm);
	size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + tl, sizeof(ts) - tl, ".%09ldZ", (long)now->tv_nsec);

	bool json = format == LOG_FORMAT_JSON;
	puts_(&l, json ? "{\"time\":" : "time=");
	put_quoted(&l, ts);
	puts_(&l, json ? ",\"level\":" : " level=");
	if (json)
		put_quoted(&l, log_level_name(level));
	else
		puts_(&l, log_level_name(level));
	puts_(&l, json ? ",\"msg\":" : " msg=");
	/* The message may be cut, but then nothing more goes on the line. */
	put_quoted(&l, msg);
	for (size_t i = 0; i < n && !l.cut; i++) {
		if (!fields[i].key || fields[i].type == LOG_FIELD_NONE)
			continue;
		size_t mark = l.len;
		if (json) {
			puts_(&l, ",");
			put_quoted(&l, fields[i].key);
			puts_(&l, ":");
		} else {
			puts_(&l, " ");
			puts_(&l, fields[i].key);
			puts_(&l, "=");
		}
		put_value(&l, &fields[i]);
		if (l.cut)
			l.len = mark;	/* a field goes whole or not at all */
	}
	if (json)
		buf[l.len++] = '}';
	buf[l.len++] = '\n';
	buf[l.len] = '\0';
	return l.len;
}

static void sink_write(const char *buf, size_t len)
{
	size_t off = 0;
	int flags = MSG_DONTWAIT | MSG_NOSIGNAL;
	while (off < len) {
		ssize_t n;
		if (logger.is_socket != 0) {
			n = send(logger.fd, buf + off, len - off, flags);
			if (n < 0 && errno == ENOTSOCK) {
				logger.is_socket = 0;
				continue;
			}
			if (n >= 0)
				logger.is_socket = 1;
		} else {
			n = write(logger.fd, buf + off, len - off);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && off == 0) {
				/* The host stopped reading the log stream: drop the
				 * line rather than stall the bridge. */
				logger.dropped++;
				return;
			}
			if (errno == EAGAIN) {
				/* Half a line is out: finish it, or the host's
				 * decoder loses every line after. */
				flags = MSG_NOSIGNAL;
				continue;
			}
			logger.dropped++;
			return;
		}
		off += (size_t)n;
	}
}

void log_emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
	if (!log_enabled(level))
		return;
	int saved = errno;
	char buf[LOG_LINE_MAX];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);

	/* Every line carries the guest's own clock, ahead of the caller's
	 * fields (CLOCK_BOOTTIME: under QEMU's -icount it counts guest
	 * instructions, so boot milestones can be read off the log).  Then,
	 * once, on the next line that gets through, how many were lost. */
	struct timespec up = { 0 };
	clock_gettime(CLOCK_BOOTTIME, &up);
	struct log_field extra[32];
	if (n <= sizeof(extra) / sizeof(extra[0]) - 2) {
		extra[0] = LOG_U64("uptime_ns",
				   (uint64_t)up.tv_sec * 1000000000u + (uint64_t)up.tv_nsec);
		if (n)
			memcpy(extra + 1, fields, n * sizeof(*fields));
		n++;
		if (logger.dropped != logger.dropped_reported)
			extra[n++] = LOG_U64("log_lines_dropped", logger.dropped);
		fields = extra;
	}
	uint64_t before = logger.dropped;
	size_t len = log_format_line(buf, sizeof(buf), logger.format, &now, level, msg, fields, n);
	sink_write(buf, len);
	if (logger.dropped == before)
		logger.dropped_reported = logger.dropped;
	errno = saved;
}
