/* SPDX-License-Identifier: MIT */
/*
 * Logging for lcow-vsockd: one line per message on stderr or the --log file.
 * Only the event loop's top level (handlers, main) logs; helpers return
 * errors through struct error.
 */
#ifndef VSOCKD_LOG_H
#define VSOCKD_LOG_H

#include <stdio.h>

enum vlog_level {
	VLOG_ERR,
	VLOG_WARN,
	VLOG_INFO,
	VLOG_DEBUG,
};

/* f == NULL means stderr.  verbose > 0 adds debug messages. */
void vlog_init(FILE *f, int verbose);

/* Errors and warnings are rate limited: a hostile guest can trigger them at
 * will and must not be able to fill the disk. */
void vlog(enum vlog_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) vlog(VLOG_ERR, __VA_ARGS__)
#define log_warn(...) vlog(VLOG_WARN, __VA_ARGS__)
#define log_info(...) vlog(VLOG_INFO, __VA_ARGS__)
#define log_debug(...) vlog(VLOG_DEBUG, __VA_ARGS__)

#endif
