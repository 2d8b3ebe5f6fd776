/* SPDX-License-Identifier: MIT */
/*
 * The OCI device rules (linux.resources.devices) for cgroup v2, which has
 * no devices controller: an eBPF program of type CGROUP_DEVICE attached to
 * the container's cgroup, as runc and crun do.  Rules are checked last to
 * first, the first match decides (so the last matching rule in the spec
 * wins, the OCI semantics); no match denies.
 */
#ifndef GCS_RUNTIME_DEVCG_H
#define GCS_RUNTIME_DEVCG_H

#include <jansson.h>
#include <linux/bpf.h>
#include <stddef.h>

#include "lcow/error.h"

struct devcg_program {
	struct bpf_insn *insns;
	size_t len;
};

/* rules: the JSON array; an empty or missing one gives no program
 * (out->len 0: every device allowed, as without rules). */
int devcg_compile(const json_t *rules, struct devcg_program *out, struct error *err);
void devcg_free(struct devcg_program *p);
/* Load and attach to the cgroup directory fd (-1: load only, to have the
 * kernel's verifier check it). */
int devcg_attach(const struct devcg_program *p, int cgroup_fd, struct error *err);

#endif
