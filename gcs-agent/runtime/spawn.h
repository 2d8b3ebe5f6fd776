/* SPDX-License-Identifier: MIT */
/*
 * Starting a process: fork, set the child up (namespaces, the container's
 * root file system, user, capabilities, seccomp, ...) and exec.  The child
 * reports over a close-on-exec SOCK_SEQPACKET socket: the master of a pty
 * it opened inside the container (as runc's console socket), then either
 * its error (errno and message) or, when exec succeeded, nothing: EOF.
 * The parent never blocks on it: spawn_start() returns the socket, the
 * caller watches it in the event loop and calls spawn_read_result() when
 * it is readable.
 */
#ifndef GCS_RUNTIME_SPAWN_H
#define GCS_RUNTIME_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "lcow/error.h"
#include "oci.h"
#include "seccomp.h"

#define SPAWN_MAX_JOIN 8

struct spawn_config {
	const char *const *argv;	/* argv[0] is looked up in the env's PATH */
	const char *const *envp;
	const char *cwd;		/* created when missing (Dockerfile WORKDIR) */
	int stdio[3];			/* the child's 0, 1, 2; -1: /dev/null */
	bool terminal;			/* stdio[0] is a pty slave: setsid + TIOCSCTTY */
	/* Open the pty in the container's own devpts once inside it (the
	 * process sees a real /dev/pts/N; an init gets it as /dev/console)
	 * and send the master back; stdio[] is then ignored. */
	bool container_pty;
	uint16_t pty_rows, pty_cols;

	/* Container processes (NULL/0/-1 for a utility VM process). */
	const struct oci_process *proc;	/* user, capabilities, rlimits, nnp, oom */
	const struct seccomp_program *seccomp;
	int unshare_flags;		/* CLONE_NEW* to create in the child (not PID) */
	bool new_pidns;			/* the child is the init of a new pid namespace */
	int pidns_fd;			/* or joins this one (-1: the VM's) */
	int join_fd[SPAWN_MAX_JOIN];	/* setns() in the child, in order */
	int join_type[SPAWN_MAX_JOIN];
	size_t n_join;
	int cgroup_fd;			/* enter this cgroup (-1: stay) */
	bool new_cgroupns;		/* after entering the cgroup */
	const struct oci_spec *spec;	/* an init: build the root file system */
	const char *rootfs;
	int last_cap;			/* /proc/sys/kernel/cap_last_cap */
};

/* Fork the child.  Returns its pid, a pidfd for it and the read end of
 * its error pipe (non-blocking, close-on-exec). */
int spawn_start(const struct spawn_config *cfg, int self_pidns_fd, pid_t *pid, int *pidfd,
		int *errpipe, struct error *err);

/* The child's verdict once errpipe is readable: 0 (exec succeeded: EOF),
 * -EAGAIN (nothing more yet; *pty_master may have been set), or the
 * child's error. */
int spawn_read_result(int errpipe, int *pty_master, struct error *err);

/* "a b 'c d'" as Go's shellwords splits hcsshim's CommandLine; *argv is
 * one malloc'd block (array and strings), NULL-terminated. */
int spawn_split_command_line(const char *line, char ***argv, size_t *argc, struct error *err);

/* Resolve a path inside root (both absolute), following symlinks as if
 * root were "/": the result never leaves root.  out gets root + path. */
int spawn_resolve_in_root(const char *root, const char *path, char *out, size_t len,
			  struct error *err);

#endif
