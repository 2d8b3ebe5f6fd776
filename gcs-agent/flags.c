/* SPDX-License-Identifier: MIT */
#include "flags.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/bridge.h"

enum flag_kind { FLAG_BOOL, FLAG_STRING, FLAG_U64, FLAG_U32, FLAG_INT, FLAG_LEVEL, FLAG_FORMAT };

struct flag {
	const char *name;
	enum flag_kind kind;
	size_t offset;
	const char *help;
};

#define F(name, kind, field, help) { name, kind, offsetof(struct gcs_flags, field), help }
static const struct flag flags[] = {
	F("loglevel", FLAG_LEVEL, log_level, "trace, debug, info, warning, error (default debug)"),
	F("log-format", FLAG_FORMAT, log_format, "json or text"),
	F("logfile", FLAG_STRING, log_file, "log to this file instead of stderr"),
	F("v4", FLAG_BOOL, v4, "bridge protocol v4 (the only one this agent speaks)"),
	F("disable-time-sync", FLAG_BOOL, disable_time_sync, "do not step and discipline the clock from the host's PTP clock"),
	F("scrub-logs", FLAG_BOOL, scrub_logs, "keep request bodies out of trace logs"),
	F("use-inouterr", FLAG_BOOL, use_inouterr, "accepted; the bridge is always vsock"),
	F("core-dump-location", FLAG_STRING, core_dump_location, "kernel core_pattern to set"),
	F("initial-policy-stance", FLAG_STRING, initial_policy_stance, "allow (no deny)"),
	F("root-mem-reserve-bytes", FLAG_U64, root_mem_reserve_bytes, "RAM kept out of the containers' reach: the pods cgroup's memory.max is the VM's RAM less this (0: no cap)"),
	F("gcs-mem-limit-bytes", FLAG_U64, gcs_mem_limit_bytes, "warn when the agent's cgroup (the agent and the utility VM's own processes) uses more memory than this; nothing is limited (0: no watch)"),
	F("kmsgLogLevel", FLAG_U64, kmsg_log_level, "forward kernel log records of this priority or more urgent (0 emerg .. 7 debug; default 4, warning) to the agent's log"),
	F("h", FLAG_BOOL, help, "print this help"),
	F("help", FLAG_BOOL, help, "print this help"),
	/* hidden, for tests */
	F("bridge-fd", FLAG_INT, bridge_fd, NULL),
	F("bridge-unix", FLAG_STRING, bridge_unix, NULL),
	F("bridge-cid", FLAG_U32, bridge_cid, NULL),
	F("bridge-port", FLAG_U32, bridge_port, NULL),
};
#undef F

void flags_defaults(struct gcs_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->log_level = LOG_DEBUG;
	f->log_format = LOG_FORMAT_JSON;
	f->scrub_logs = true;
	f->initial_policy_stance = "allow";
	f->root_mem_reserve_bytes = 75u * 1024 * 1024;
	f->gcs_mem_limit_bytes = 50u * 1024 * 1024;
	f->kmsg_log_level = 4;
	f->bridge_fd = -1;
	f->bridge_cid = 2;
	f->bridge_port = BRIDGE_PORT;
}

__attribute__((format(printf, 2, 3))) static void warn(struct gcs_flags *f, const char *fmt, ...)
{
	if (f->n_warnings >= FLAGS_MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->warnings[f->n_warnings++], sizeof(f->warnings[0]), fmt, ap);
	va_end(ap);
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const fa[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, fa[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* strconv.ParseUint(s, 0, 64): decimal, 0x hex, 0 octal. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int set_value(struct gcs_flags *f, const struct flag *fl, const char *v)
{
	void *p = (char *)f + fl->offset;
	uint64_t u;
	switch (fl->kind) {
	case FLAG_BOOL:
		return parse_bool(v, p);
	case FLAG_STRING:
		*(const char **)p = v;
		return 0;
	case FLAG_U64:
		if (parse_u64(v, UINT64_MAX, &u) < 0)
			return -EINVAL;
		*(uint64_t *)p = u;
		return 0;
	case FLAG_U32:
		if (parse_u64(v, UINT32_MAX, &u) < 0)
			return -EINVAL;
		*(uint32_t *)p = (uint32_t)u;
		return 0;
	case FLAG_INT:
		if (parse_u64(v, INT32_MAX, &u) < 0)
			return -EINVAL;
		*(int *)p = (int)u;
		return 0;
	case FLAG_LEVEL:
		return log_parse_level(v, p);
	case FLAG_FORMAT:
		if (strcmp(v, "json") == 0)
			*(enum log_format *)p = LOG_FORMAT_JSON;
		else if (strcmp(v, "text") == 0)
			*(enum log_format *)p = LOG_FORMAT_TEXT;
		else
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

void flags_parse(struct gcs_flags *f, int argc, char **argv)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;		/* first non-flag argument */
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct flag *fl = NULL;
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
			const char *fname = flags[k].name;
			if (strlen(fname) == nlen && strncmp(fname, name, nlen) == 0)
				fl = &flags[k];
		}
		if (!fl) {
			/* Its value, if it has one, cannot be told from the next
			 * flag: leave the next argument alone. */
			warn(f, "ignoring unknown flag %s", a);
			continue;
		}
		const char *v = eq ? eq + 1 : NULL;
		if (!v && fl->kind == FLAG_BOOL)
			v = "true";
		if (!v) {
			if (i + 1 >= argc) {
				warn(f, "flag -%s needs a value", fl->name);
				continue;
			}
			v = argv[++i];
		}
		if (set_value(f, fl, v) < 0)
			warn(f, "ignoring invalid value \"%s\" for flag -%s", v, fl->name);
	}
	if (i < argc)
		warn(f, "ignoring %d extra argument(s) starting at \"%s\"", argc - i, argv[i]);
}

void flags_usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [flags]\n", argv0);
	for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
		if (flags[k].help)
			fprintf(stderr, "  -%-24s %s\n", flags[k].name, flags[k].help);
}
