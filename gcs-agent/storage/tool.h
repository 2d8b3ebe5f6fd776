/* SPDX-License-Identifier: MIT */
/*
 * Running an external program of the VM (mkfs.ext4) without blocking the
 * agent and without racing the runtime's reaper.
 *
 * The agent's child is a "keeper" made with clone3(CLONE_PIDFD) and exit
 * signal 0 that never execs: such a clone child sends no SIGCHLD and
 * waitpid(-1) without __WALL never reaps it, so whoever reaps container
 * processes cannot steal its status.  (exec would reset the exit signal to
 * SIGCHLD, hence the keeper.)  The keeper forks the program, waits for it
 * and exits with its status (128+N for signal N); the program dies with
 * the keeper (PR_SET_PDEATHSIG).  The agent waits on the keeper's pidfd
 * only: poll it in the loop, then tool_reap().  The program's stdout and
 * stderr go to a memfd, whose tail becomes the error message.
 */
#ifndef GCS_STORAGE_TOOL_H
#define GCS_STORAGE_TOOL_H

#include <stddef.h>
#include <sys/types.h>

#include "lcow/error.h"

struct tool {
	pid_t pid;
	int pidfd;		/* readable once the child has exited */
	int outfd;		/* memfd with its stdout + stderr */
	const char *name;	/* argv[0], for messages */
};

#define TOOL_INIT { .pid = -1, .pidfd = -1, .outfd = -1, .name = "" }

/* Start path with argv (argv[0] names it); environment: PATH only. */
int tool_start(struct tool *t, const char *path, char *const argv[], struct error *err);

/* Collect the exited child (pidfd readable; with block, wait for it).
 * 0 when it exited with status 0; -EAGAIN when not yet (block == 0);
 * otherwise -EIO with "NAME exited with status N: <last output>" (status
 * 127: could not be run; 128+N: killed by signal N). */
int tool_reap(struct tool *t, int block, struct error *err);

/* Kill a child still running and collect it; close the fds. */
void tool_release(struct tool *t);

#endif
