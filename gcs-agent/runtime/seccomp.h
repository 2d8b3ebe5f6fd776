/* SPDX-License-Identifier: MIT */
/*
 * A seccomp profile compiler: the OCI linux.seccomp object (or moby's
 * profile format, with archMap/includes/excludes, as in Docker's
 * profiles/seccomp/default.json) into a classic BPF program for x86_64,
 * without libseccomp.
 *
 * The program:
 *   - kills the process for any architecture but x86_64 and for x32
 *     system call numbers (bit 30), as libseccomp's "bad arch" action;
 *   - per system call named in the profile: its conditional rules in
 *     profile order (all args conditions must hold: AND), then its
 *     unconditional rule if any, else the default action;
 *   - the default action for everything else.
 * Argument conditions compare the full 64-bit argument, in two 32-bit
 * halves, as libseccomp does: SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT and
 * _MASKED_EQ (value is the mask, valueTwo the expected value).
 * Names unknown on x86_64 (other architectures' calls) are skipped.
 */
#ifndef GCS_RUNTIME_SECCOMP_H
#define GCS_RUNTIME_SECCOMP_H

#include <jansson.h>
#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"

struct seccomp_program {
	struct sock_filter *insns;
	size_t len;
	unsigned int flags;	/* SECCOMP_FILTER_FLAG_* */
};

/* The x86_64 number of a system call name, or -1. */
int seccomp_syscall_nr(const char *name);

/* bounding: the process's bounding capability mask, for moby's
 * includes/excludes "caps"; kernel: "6.1.0" for "minKernel" (NULL: the
 * running kernel). */
int seccomp_compile(const json_t *profile, uint64_t bounding, const char *kernel,
		    struct seccomp_program *out, struct error *err);
void seccomp_program_free(struct seccomp_program *p);

/* Install in the calling process (NO_NEW_PRIVS or CAP_SYS_ADMIN needed). */
int seccomp_load(const struct seccomp_program *p, struct error *err);

#endif
