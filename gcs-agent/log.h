/* SPDX-License-Identifier: MIT */
/*
 * The agent's log: one JSON object per line on stderr (hvsock port 109 in the
 * VM), in the shape hcsshim's host side parses as logrus entries:
 *   {"time":"2024-01-02T03:04:05.123456789Z","level":"info","msg":"...","k":"v"}
 *
 *   log_info("bridge connected", LOG_STR("peer", "vsock"), LOG_U64("gen", 3));
 *
 * Only main() and the request dispatcher (and the event handlers they own)
 * log; helpers return errors instead.
 */
#ifndef GCS_LOG_H
#define GCS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lcow/error.h"

enum log_level {
	LOG_TRACE,
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARNING,
	LOG_ERROR,
	LOG_OFF,	/* nothing (the fuzzer); not a -loglevel value */
};

enum log_format {
	LOG_FORMAT_JSON,
	LOG_FORMAT_TEXT,	/* logrus' text formatter: time="..." level=info msg="..." */
};

enum log_field_type {
	LOG_FIELD_NONE,
	LOG_FIELD_STR,
	LOG_FIELD_I64,
	LOG_FIELD_U64,
	LOG_FIELD_BOOL,
	LOG_FIELD_HEX,	/* u64 rendered as a "0x..." string */
};

struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *s;
		int64_t i;
		uint64_t u;
		bool b;
	};
};

#define LOG_STR(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_STR, .s = (v) })
#define LOG_I64(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_I64, .i = (int64_t)(v) })
#define LOG_U64(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_U64, .u = (uint64_t)(v) })
#define LOG_BOOL(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_BOOL, .b = (v) })
#define LOG_HEX(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_HEX, .u = (uint64_t)(v) })
#define LOG_ERR(e) LOG_STR("error", error_text(e))

/* Where lines go (fd is not closed), the minimum level, the format. */
void log_setup(int fd, enum log_level min, enum log_format format);
void log_set_level(enum log_level min);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* "trace", "debug", "info", "warning"/"warn", "error"; "fatal" and "panic"
 * (logrus levels the agent never emits) filter like "error".  -EINVAL for
 * anything else. */
int log_parse_level(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Format one line into buf (always NUL-terminated and newline-ended, cut to
 * fit); returns its length.  Exposed for tests. */
size_t log_format_line(char *buf, size_t size, enum log_format format, const struct timespec *now,
		       enum log_level level, const char *msg, const struct log_field *fields,
		       size_t n);

void log_emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n);

/* Lines the sink refused because it was full (never blocks the agent). */
uint64_t log_dropped(void);

#define LOG_FIELDS_(...) ((const struct log_field[]){ { 0 }, ##__VA_ARGS__ })
#define log_at(level, msg, ...)                                                     \
	do {                                                                        \
		if (log_enabled(level))                                             \
			log_emit((level), (msg), LOG_FIELDS_(__VA_ARGS__) + 1,      \
				 sizeof(LOG_FIELDS_(__VA_ARGS__)) / sizeof(struct log_field) - 1); \
	} while (0)

#define log_trace(msg, ...) log_at(LOG_TRACE, msg, ##__VA_ARGS__)
#define log_debug(msg, ...) log_at(LOG_DEBUG, msg, ##__VA_ARGS__)
#define log_info(msg, ...) log_at(LOG_INFO, msg, ##__VA_ARGS__)
#define log_warning(msg, ...) log_at(LOG_WARNING, msg, ##__VA_ARGS__)
#define log_error(msg, ...) log_at(LOG_ERROR, msg, ##__VA_ARGS__)

#endif
