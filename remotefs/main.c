/* SPDX-License-Identifier: MIT */
/* /bin/remotefs: see README.md and cli.c. */
#include <signal.h>
#include <sys/resource.h>

#include "rfs.h"

int main(int argc, char **argv)
{
	/* A host that stops reading gets a clean EPIPE error, not a death
	 * by signal it cannot interpret. */
	signal(SIGPIPE, SIG_IGN);
	/* Deep trees take one fd per level. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return rfs_main(argc, argv, 0, 1, 2);
}
