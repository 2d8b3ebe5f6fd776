/* SPDX-License-Identifier: MIT */
/* Starting and describing init's children. */
#ifndef INIT_PROC_H
#define INIT_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "lcow/error.h"

/* "PROG exited with status N" or "PROG killed by signal N" for a waitpid()
 * status, into buf.  Returns the length, or -EINVAL for a status that is
 * neither (a stop report) -- buf then says so. */
int exit_status_format(char *buf, size_t size, const char *prog, int wstatus);

/* Copy the NULL-terminated env into out (room for max pointers, including
 * the final NULL), adding path_entry ("PATH=...") unless env has a PATH.
 * Entries that do not fit are dropped.  Returns the count stored. */
size_t env_with_default_path(char **out, size_t max, char *const *env, char *path_entry);

/* The shell's view of a wait status: the exit code, or 128 + N for death by
 * signal N. */
int exit_code(int wstatus);

/* Fork a child that resets every signal to its default action, unblocks all
 * signals, becomes a session leader (setsid) and execs argv (PATH search).
 * With tty, the child opens it as stdin/stdout/stderr and makes it its
 * controlling terminal (best effort: a shell without job control still
 * works); without, it keeps the caller's stdio.  If exec fails the child logs
 * why and _exit(127)s.  Returns the pid or a negative errno. */
pid_t spawn_process(char *const argv[], const char *tty, struct error *err);

#endif
