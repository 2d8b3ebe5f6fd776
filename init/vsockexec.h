/* SPDX-License-Identifier: MIT */
/*
 * vsockexec [-i PORT] [-o PORT] [-e PORT] PROGRAM [ARGS...]
 *
 * Connects stdin (-i), stdout (-o) and stderr (-e) to host vsock ports, then
 * execs PROGRAM (PATH search).  Streams given the same port share one
 * connection.  The pieces below are pure or fd-only so host tests can drive
 * them; vsockexec.c does the connecting.
 */
#ifndef INIT_VSOCKEXEC_H
#define INIT_VSOCKEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"

#define VSOCKEXEC_STREAMS 3	/* stdin, stdout, stderr */

struct vsockexec_args {
	bool has_port[VSOCKEXEC_STREAMS];
	uint32_t port[VSOCKEXEC_STREAMS];
	char **argv;		/* PROGRAM and its arguments, NULL-terminated */
};

/* Parse the command line (argv[0] is vsockexec itself).  Options stop at the
 * first non-option or after `--`; a port may be attached (-e109).  Each
 * option at most once.  Returns 0, or -EINVAL with err saying what is wrong
 * with the usage. */
int vsockexec_parse(struct vsockexec_args *a, int argc, char **argv, struct error *err);

/* Which connection serves which stream. */
struct vsockexec_plan {
	unsigned n_conns;
	uint32_t conn_port[VSOCKEXEC_STREAMS];	/* in order of first use */
	int stream_conn[VSOCKEXEC_STREAMS];	/* index into conn_port, -1: inherited */
};

void vsockexec_make_plan(const struct vsockexec_args *a, struct vsockexec_plan *p);

/* "stdout and stderr": the streams connection conn serves, for messages. */
void vsockexec_conn_streams(const struct vsockexec_plan *p, unsigned conn, char *buf,
			    size_t size);

/* Put the connections onto their streams.  conn_fd[k] is connection k's
 * socket, or -1 when it could not be made: its streams keep the inherited
 * fds.  Afterwards 0, 1 and 2 are not close-on-exec where replaced, and the
 * conn_fd sockets are closed (set to -1) whatever happens: only 0..2 reach
 * PROGRAM.  Works whichever of 0..2 were closed on entry (the sockets may
 * then sit there).  Returns 0 or a negative errno. */
int vsockexec_apply(const struct vsockexec_plan *p, int conn_fd[VSOCKEXEC_STREAMS],
		    struct error *err);

#endif
