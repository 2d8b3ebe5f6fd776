/* SPDX-License-Identifier: MIT */
/*
 * The agent's command line, parsed the way Go's flag package parses
 * hcsshim's gcs: -name, --name, -name=value, -name value (not for bools),
 * parsing stops at "--" or the first non-flag argument.  Unlike Go, an
 * unknown flag or a bad value never stops the agent: it becomes a warning
 * (logged once logging is set up) and the default stays.
 */
#ifndef GCS_FLAGS_H
#define GCS_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

#define FLAGS_MAX_WARNINGS 16

struct gcs_flags {
	/* hcsshim's cmd/gcs flags */
	enum log_level log_level;		/* -loglevel (default debug, as hcsshim) */
	enum log_format log_format;		/* -log-format json|text */
	const char *log_file;			/* -logfile */
	bool v4;				/* -v4 */
	bool disable_time_sync;			/* -disable-time-sync */
	bool scrub_logs;			/* -scrub-logs (default true) */
	bool use_inouterr;			/* -use-inouterr */
	const char *core_dump_location;		/* -core-dump-location */
	const char *initial_policy_stance;	/* -initial-policy-stance allow|deny */
	uint64_t root_mem_reserve_bytes;	/* -root-mem-reserve-bytes */
	uint64_t gcs_mem_limit_bytes;		/* -gcs-mem-limit-bytes */
	uint64_t kmsg_log_level;		/* -kmsgLogLevel */
	bool help;				/* -h, -help */

	/* Hidden, for tests: serve an inherited socket, or dial a unix
	 * socket or another vsock port instead of the host's bridge. */
	int bridge_fd;				/* -bridge-fd N (-1: dial) */
	const char *bridge_unix;		/* -bridge-unix PATH */
	uint32_t bridge_cid, bridge_port;	/* -bridge-cid, -bridge-port */

	char warnings[FLAGS_MAX_WARNINGS][160];
	unsigned n_warnings;
};

void flags_defaults(struct gcs_flags *f);
/* Never fails: problems land in f->warnings. */
void flags_parse(struct gcs_flags *f, int argc, char **argv);
void flags_usage(const char *argv0);

#endif
