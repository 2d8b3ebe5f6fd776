/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 for containers: one leaf cgroup per container under
 * /sys/fs/cgroup/pods (as hcsshim's guest places standalone containers),
 * the agent itself in /sys/fs/cgroup/gcs; OCI linux.resources written as
 * v2 values; statistics in the shape the host decodes (hcsshim's
 * LCOWMetrics: containerd's cgroup1 stats.Metrics, converted from v2 as
 * hcsshim's guest does).
 *
 * The conversions are pure and unit-tested; the rest touches cgroupfs.
 */
#ifndef GCS_RUNTIME_CGROUP_H
#define GCS_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lcow/error.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_AGENT "gcs"
#define CGROUP_PODS "pods"

/* OCI linux.resources, the parts that map onto v2. */
struct cgroup_resources {
	bool has_memory_limit, has_memory_swap, has_memory_reservation;
	int64_t memory_limit, memory_swap, memory_reservation;	/* -1 = unlimited */
	uint64_t cpu_shares;		/* 0 = unset */
	bool has_cpu_quota;
	int64_t cpu_quota;		/* -1 or <= 0 = unlimited */
	uint64_t cpu_period;		/* 0 = unset */
	const char *cpuset_cpus, *cpuset_mems;	/* NULL/"" = unset */
	bool has_pids_limit;
	int64_t pids_limit;		/* <= 0 = unlimited */
	uint16_t blkio_weight;		/* 0 = unset, else 10..1000 */
};

/* cpu.shares (2..262144, v1) -> cpu.weight (1..10000), runc's formula;
 * 0 stays 0 (unset). */
uint64_t cgroup_shares_to_weight(uint64_t shares);
/* blkio.weight (10..1000) -> io.weight (1..10000), runc's formula. */
uint64_t cgroup_blkio_to_io_weight(uint64_t weight);
/* OCI memory.swap is memory+swap (v1 memsw); v2 memory.swap.max is swap
 * alone.  *out: -1 = "max", 0 = leave unset, else bytes.  runc's rules. */
int cgroup_swap_to_v2(int64_t swap, int64_t limit, int64_t *out, struct error *err);
/* The cpu.max line: "max 100000", "50000 100000". */
void cgroup_cpu_max(bool has_quota, int64_t quota, uint64_t period, char *buf, size_t len);

/* The pods cgroup's memory.max, as hcsshim's guest sets it: all of the
 * VM's RAM but `reserve` bytes kept for the agent and the VM itself
 * (-root-mem-reserve-bytes, 75 MiB by default).  False when the reserve
 * leaves nothing (then no cap is set). */
bool cgroup_pods_limit(uint64_t total_ram, uint64_t reserve, uint64_t *limit);

/* The agent's memory threshold (-gcs-mem-limit-bytes, 50 MiB by default):
 * hcsshim's guest registers a threshold event on its /gcs cgroup and logs
 * a warning each time usage passes it; nothing is limited.  Fed the
 * cgroup's memory.current at each look, cgroup_threshold_crossed says
 * whether this look crossed it upwards (once per crossing: usage must fall
 * back to or below the threshold before the next one counts). */
struct cgroup_threshold {
	uint64_t threshold;		/* 0: never crossed */
	bool above;
	uint64_t crossings;
};
bool cgroup_threshold_crossed(struct cgroup_threshold *t, uint64_t current);

/* A cgroup file of dirfd's: the whole (small) text, malloc'd (NULL when
 * unreadable); a number ("max": UINT64_MAX; 0 when unreadable); the value
 * of key in "key value" lines (cpu.stat, memory.stat, memory.events; 0
 * when absent). */
char *cgroup_read(int dirfd, const char *file);
uint64_t cgroup_read_u64(int dirfd, const char *file);
uint64_t cgroup_kv(const char *text, const char *key);

/* Put the agent in CGROUP_AGENT with oom_score_adj -1000 and prepare the
 * pods cgroup: controllers enabled for its children, memory capped at the
 * VM's RAM less pods_reserve (0: no cap).  A cap that cannot be set is
 * logged, not fatal. */
int cgroup_setup_agent(uint64_t pods_reserve, struct error *err);

/* Create CGROUP_PODS/<name>; *dirfd is an O_PATH-free directory fd
 * (for CLONE_INTO_CGROUP and writes). */
int cgroup_create(const char *name, int *dirfd, struct error *err);
int cgroup_apply(int dirfd, const struct cgroup_resources *res, struct error *err);
/* SIGKILL every process in it (cgroup.kill). */
int cgroup_kill(int dirfd, struct error *err);
/* rmdir; -EBUSY while processes remain. */
int cgroup_remove(const char *name, struct error *err);
/* The pids of the processes in it, as the VM sees them. */
int cgroup_pids(int dirfd, int **pids, size_t *n, struct error *err);
/* "oom_kill N" of memory.events. */
uint64_t cgroup_oom_kills(int dirfd);

/* LCOWMetrics as JSON text into out: {"pids":..,"cpu":..,"memory":..,
 * "memory_oom_control":..,"blkio":{}}.  Zero fields are left out as Go's
 * omitempty does; "max" reads as 2^64-1 as containerd's reader does. */
int cgroup_write_metrics(int dirfd, FILE *out, struct error *err);

#endif
