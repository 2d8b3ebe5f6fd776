/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <time.h>

/* At most this many errors/warnings per second; the rest are counted. */
#define VLOG_BURST 100

static FILE *log_file;
static int log_verbose;
static time_t log_window;
static unsigned log_in_window, log_suppressed;

void vlog_init(FILE *f, int verbose)
{
	log_file = f;
	log_verbose = verbose;
}

static const char *const level_names[] = {
	[VLOG_ERR] = "error",
	[VLOG_WARN] = "warning",
	[VLOG_INFO] = "info",
	[VLOG_DEBUG] = "debug",
};

void vlog(enum vlog_level lvl, const char *fmt, ...)
{
	FILE *f = log_file ? log_file : stderr;
	struct timespec ts;

	if (lvl == VLOG_DEBUG && log_verbose <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (lvl <= VLOG_WARN) {
		if (ts.tv_sec != log_window) {
			if (log_suppressed)
				fprintf(f, "[%lld.%03ld] lcow-vsockd: warning: %u messages suppressed\n",
					(long long)ts.tv_sec, ts.tv_nsec / 1000000, log_suppressed);
			log_window = ts.tv_sec;
			log_in_window = 0;
			log_suppressed = 0;
		}
		if (++log_in_window > VLOG_BURST) {
			log_suppressed++;
			return;
		}
	}

	va_list ap;
	va_start(ap, fmt);
	fprintf(f, "[%lld.%03ld] lcow-vsockd: %s: ", (long long)ts.tv_sec, ts.tv_nsec / 1000000,
		level_names[lvl]);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fflush(f);
	va_end(ap);
}
