/* SPDX-License-Identifier: MIT */
/*
 * An output file written under a temporary name beside its destination
 * (`DIR/.NAME.XXXXXX`) and renamed over it only when complete.  Until then
 * an error, or SIGINT/SIGTERM/SIGHUP, removes the temporary file: a failed
 * or interrupted run never leaves a half-written output, nor an old output
 * replaced by a partial one.
 *
 * One output at a time per process: the signal handler needs static state.
 */
#ifndef LCOW_OUTFILE_H
#define LCOW_OUTFILE_H

#include "lcow/error.h"

/* Install the handlers that remove an open temporary file on a signal.
 * Call once from main() before outfile_create(). */
void outfile_handle_signals(void);

/* Create the temporary file next to output.  Returns its fd (O_CLOEXEC). */
int outfile_create(const char *output, struct error *err);

/* The temporary file's path while one is open (for tools that reopen it by
 * name, e.g. to run mke2fs on it). */
const char *outfile_tmp_path(void);

/* Finish: r is the caller's result so far.  When r >= 0, give the file the
 * mode 0666 & ~umask, fsync, close and rename it over output; when r < 0
 * or any of that fails, close and remove it.  fd is closed either way.
 * Returns r, or the error of the step that failed. */
int outfile_commit(int fd, const char *output, int r, struct error *err);

#endif
