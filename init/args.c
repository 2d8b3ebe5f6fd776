/* SPDX-License-Identifier: MIT */
#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vsock.h"

static char default_program[] = INIT_DEFAULT_PROGRAM;
static char *default_argv[] = { default_program, NULL };

__attribute__((format(printf, 2, 3))) static void warn(struct init_args *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n_warnings >= INIT_ARGS_MAX_WARNINGS) {
		a->n_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(a->warnings[a->n_warnings++], INIT_ARGS_WARNING_LEN, fmt, ap);
	va_end(ap);
}

static void set_entropy_port(struct init_args *a, const char *value)
{
	uint32_t port;
	int r = vsock_port_parse(value, &port);

	if (r < 0) {
		warn(a, "-e: bad port `%s' (%s), ignored", value,
		     r == -ERANGE ? "out of range" : "not a number");
		return;
	}
	a->have_entropy_port = true;
	a->entropy_port = port;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Handle one option word such as "-dw" or "-e1"; returns how many further
 * words it consumed (0 or 1). */
static int parse_cluster(struct init_args *a, const char *word, const char *next)
{
	for (const char *p = word + 1; *p; p++) {
		switch (*p) {
		case 'd':
			a->debug_shell = true;
			break;
		case 'w':
			a->writable_etc_var = true;
			break;
		case 'e':
			if (p[1]) {
				set_entropy_port(a, p + 1);
				return 0;
			}
			if (next && is_digit(next[0])) {
				set_entropy_port(a, next);
				return 1;
			}
			warn(a, "-e: missing port, ignored");
			return 0;
		default:
			warn(a, "unknown option -%c, ignored", *p);
			break;
		}
	}
	return 0;
}

void init_args_parse(struct init_args *a, int argc, char **argv)
{
	int i = 1;

	memset(a, 0, sizeof(*a));
	a->argv = default_argv;
	if (argc < 1 || !argv)
		return;

	while (i < argc) {
		const char *w = argv[i];

		if (strcmp(w, "--") == 0) {
			i++;
			break;
		}
		if (w[0] == '-' && w[1]) {
			i += 1 + parse_cluster(a, w, i + 1 < argc ? argv[i + 1] : NULL);
			continue;
		}
		if (strchr(w, '/'))
			break;
		warn(a, "ignoring `%s': not a program path (kernel parameter?)", w);
		i++;
	}
	if (i < argc)
		a->argv = &argv[i];
}
