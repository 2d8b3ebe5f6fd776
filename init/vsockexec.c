/* SPDX-License-Identifier: MIT */
/*
 * /bin/vsockexec: the host reads the agent's log from vsock port 109 with
 * `/bin/vsockexec -e 109 /bin/gcs ...`.
 *
 * A connection that cannot be made is not fatal: vsockexec says so on the
 * inherited stderr and the streams of that connection keep their inherited
 * fds (normally the console), so the agent still starts when the host does
 * not serve its log port.  Bad usage exits 2; a failed exec 127.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lcow/error.h"
#include "vsock.h"
#include "vsockexec.h"

#define USAGE "usage: vsockexec [-i PORT] [-o PORT] [-e PORT] PROGRAM [ARGS...]\n"

int main(int argc, char **argv)
{
	struct vsockexec_args args;
	struct vsockexec_plan plan;
	struct error err = { 0 };
	int conn_fd[VSOCKEXEC_STREAMS] = { -1, -1, -1 };

	if (vsockexec_parse(&args, argc, argv, &err) < 0) {
		fprintf(stderr, "vsockexec: %s\n" USAGE, error_text(&err));
		return 2;
	}
	vsockexec_make_plan(&args, &plan);

	/* Connect everything first, so failures are still reported on the
	 * stderr we were given. */
	for (unsigned k = 0; k < plan.n_conns; k++) {
		char streams[64];
		error_clear(&err);
		conn_fd[k] = vsock_connect_host(plan.conn_port[k], &err);
		if (conn_fd[k] >= 0)
			continue;
		vsockexec_conn_streams(&plan, k, streams, sizeof(streams));
		fprintf(stderr, "vsockexec: %s; keeping the inherited %s\n", error_text(&err),
			streams);
	}

	error_clear(&err);
	if (vsockexec_apply(&plan, conn_fd, &err) < 0) {
		fprintf(stderr, "vsockexec: %s\n", error_text(&err));
		return 1;
	}
	execvp(args.argv[0], args.argv);
	fprintf(stderr, "vsockexec: exec %s: %s\n", args.argv[0], strerror(errno));
	return 127;
}
