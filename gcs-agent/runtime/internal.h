/* SPDX-License-Identifier: MIT */
/* Between the runtime's files: what a live runtime, container and process
 * carry beyond the registry entries of runtime.h. */
#ifndef GCS_RUNTIME_INTERNAL_H
#define GCS_RUNTIME_INTERNAL_H

#include <sys/types.h>

#include "oci.h"
#include "relay.h"
#include "runtime.h"
#include "seccomp.h"
#include "spawn.h"

/* The base of a container's state under /run, the only tree the agent
 * deletes recursively (host paths outside it are only unmounted). */
#define RUNTIME_STATE_PREFIX "/run/"

struct layer_mount {
	struct layer_mount *next;
	char *root;			/* ContainerRootPath */
	char *scratch;			/* "" for a read-only overlay */
	size_t n_layers;
};

/* oomwatch.c: memory.events of the agent's and the pods' cgroups. */
#define OOM_WATCHES 2
struct oom_watch {
	struct loop_source src;
	int fd;				/* -1: not watched */
	uint64_t oom_kill;		/* at the last look */
	const char *cgroup;
};

/* oomwatch.c: the agent cgroup's memory.current against
 * -gcs-mem-limit-bytes, looked at every MEM_WATCH_PERIOD_MS (cgroup v2 has
 * no threshold event that does not throttle: memory.high would). */
#define MEM_WATCH_PERIOD_MS 1000
struct mem_watch {
	struct loop_timer timer;
	int dirfd;			/* the agent's cgroup; -1: not watched */
	struct cgroup_threshold t;
};

struct runtime_system {
	stdio_dialer_fn dialer;
	struct storage *storage;
	int self_pidns_fd;		/* to return to after a container's */
	int last_cap;
	struct layer_mount *layers;
	struct oom_watch oom[OOM_WATCHES];
	struct mem_watch mem;
	struct network *net;		/* network adapters and their namespaces */
};

enum { NS_MNT, NS_UTS, NS_IPC, NS_NET, NS_CGROUP, NS_PID, NS_COUNT };
extern const int ns_clone_flag[NS_COUNT];
extern const char *const ns_proc_name[NS_COUNT];

struct container_impl {
	struct oci_spec spec;
	struct seccomp_program seccomp;
	bool has_seccomp;
	char *rootfs;			/* absolute */
	char *bundle, *scratch;		/* OciBundlePath, ScratchDirPath ("" if none) */
	char cgroup_name[160];
	int cgroup_fd, cgroup_procs_fd;
	int ns_fd[NS_COUNT];		/* the init's namespaces, for execs; -1: the VM's */
	bool own_ns[NS_COUNT];		/* the container has its own (created or joined) */
	unsigned pending;		/* ExecuteProcess requests in flight */
	bool starting;			/* the init's is one of them */
	uint64_t oom_kills;		/* memory.events oom_kill at the last look */
	char net_id[64];		/* windows.network.networkNamespace, lower case */
	int netns_fd;			/* the network namespace made at Create, or -1 */
};

struct proc_impl {
	struct runtime *rt;
	struct process *p;
	pid_t pid;
	int pidfd;
	struct loop_source pid_src;
	int pty_master;			/* -1 without a console */
	struct relay *relay[3];		/* stdin, stdout, stderr; NULL if none */
	unsigned open_outputs;		/* stdout/stderr relays not done yet */
	bool reaped;
	int status;			/* wait status */
	bool waited;			/* a WaitForProcess got the exit code */
};

/* oomwatch.c: log every OOM kill in the VM's cgroups (after
 * cgroup_setup_agent). */
void oom_watch_start(struct runtime *rt);
void oom_watch_stop(struct runtime_system *sys);
/* ... and warn when the agent's cgroup passes threshold bytes (0: off). */
void mem_watch_start(struct runtime *rt, uint64_t threshold);
void mem_watch_stop(struct runtime_system *sys);

/* container.c */
int container_create(struct runtime *rt, const char *id, const char *activity_id,
		     const struct msg_create *m, struct error *err);
void container_impl_free(struct runtime *rt, struct container *c);
int container_shutdown(struct runtime *rt, struct container *c, bool graceful, struct error *err);
int container_delete(struct runtime *rt, struct container *c, struct error *err);
int container_properties(struct runtime *rt, struct container *c,
			 const struct msg_get_properties *q, json_t **out, struct error *err);
int container_update(struct runtime *rt, struct container *c, const json_t *settings,
		     struct error *err);
/* The spawn configuration of an init (is_init) or an exec in c. */
void container_spawn_config(struct runtime *rt, struct container *c, bool is_init,
			    struct spawn_config *cfg);
/* The init is running: keep its namespaces for later execs. */
void container_init_started(struct container *c, pid_t pid);
/* The container's /etc/resolv.conf (when the agent wrote one) again from
 * its adapters' DNS settings: a DHCP lease may have brought some. */
int container_refresh_resolv_conf(struct runtime *rt, struct container *c, struct error *err);
void container_process_exited(struct runtime *rt, struct container *c, struct process *p);
int layers_modify(struct runtime *rt, const struct msg_modify *m, struct error *err);
void layers_fini(struct runtime_system *sys);

/* process.c */
void proc_impl_free(struct runtime *rt, struct process *p);
int proc_signal(struct process *p, int signo, struct error *err);
int proc_resize(struct process *p, uint16_t height, uint16_t width, struct error *err);

/* runtime.c */
void runtime_forget_process(struct runtime *rt, struct process *p);

#endif
