/* SPDX-License-Identifier: MIT */
/*
 * init's command line.  The kernel runs /init with the words that follow `--`
 * on its command line, after any boot parameters it did not recognise:
 *
 *   /init [LEFTOVERS...] [-e PORT] [-d] [-w] [--] [PROGRAM [ARGS...]]
 *
 *   -e PORT  read entropy from host vsock PORT into the kernel pool
 *   -d       also run /bin/sh on /dev/console (debug)
 *   -w       writable tmpfs-backed overlays on /etc and /var
 *
 * Parsing never fails, because PID 1 must always come up: every problem
 * becomes a warning for main() to log.
 *  - Options stop at the first program path (getopt's "+"), so the
 *    program's own options are never ours.  Flags may be clustered (-dw) and
 *    the port attached (-e1).  Repeated flags are idempotent; for -e the last
 *    valid port wins.
 *  - `-e` takes the next word only if it starts with a digit, so `-e
 *    /bin/gcs` warns about a missing port and still runs /bin/gcs; a word
 *    that starts with a digit but is not a port is consumed and ignored.
 *  - Unknown options are ignored with a warning (they take no argument).
 *  - A bare word without a '/' before the program is a kernel leftover (the
 *    kernel hands unknown boot parameters such as `splash` to init as
 *    arguments): ignored with a warning.  So the program must be named by a
 *    path, as the host always does ("/bin/gcs") -- unless it follows an
 *    explicit `--`, after which the next word is the program, verbatim.
 *  - No program: /bin/gcs without arguments.
 */
#ifndef INIT_ARGS_H
#define INIT_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#define INIT_DEFAULT_PROGRAM "/bin/gcs"
#define INIT_ARGS_MAX_WARNINGS 8
#define INIT_ARGS_WARNING_LEN 160

struct init_args {
	bool debug_shell;	/* -d */
	bool writable_etc_var;	/* -w */
	bool have_entropy_port;	/* -e */
	uint32_t entropy_port;
	char **argv;		/* the program and its arguments, NULL-terminated */
	unsigned n_warnings;	/* stored in warnings[] */
	unsigned n_dropped;	/* further warnings that did not fit */
	char warnings[INIT_ARGS_MAX_WARNINGS][INIT_ARGS_WARNING_LEN];
};

/* Fill *a from init's argv (argv[0] is init itself; argv[argc] must be NULL,
 * as execve guarantees).  a->argv points into argv, or at a static default. */
void init_args_parse(struct init_args *a, int argc, char **argv);

#endif
