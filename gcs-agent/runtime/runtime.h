/* SPDX-License-Identifier: MIT */
/*
 * The container runtime behind the bridge: a registry of containers and
 * their processes, process waits with timeouts, and the operations the
 * dispatcher calls once a request is parsed and validated.
 *
 * Boundary: the runtime sees parsed requests (protocol/messages.h) and the
 * event loop; it knows nothing of frames, connections or HRESULTs.  It
 * reports failures as negative errnos with the reserved meanings listed in
 * protocol/hresult.h (-ESRCH no such container, -ENOENT no such process,
 * -ENOSYS not implemented, ...), and tells its owner about container exits
 * through struct runtime_events.
 *
 * The registry and waits work anywhere; the operations that touch the
 * system (create, exec, signal, resize, properties, modify, shutdown,
 * delete) only once runtime_enable() was called, which only the real
 * agent in the VM does.  Until then they answer -ENOSYS, so unit tests and
 * the fuzzer drive the dispatcher on a build host without ever mounting,
 * signalling or spawning anything.
 *
 * Files: runtime.c (registry, waits, the operations' entry points),
 * container.c (create, init start, shutdown, delete, CombinedLayers),
 * process.c (exec, stdio, exits, signals), spawn.c (the forked child),
 * relay.c (stdio relays), oci.c, user.c, mountopt.c, caps.c, cgroup.c,
 * seccomp.c (pure pieces).
 */
#ifndef GCS_RUNTIME_H
#define GCS_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lcow/error.h"
#include "loop.h"
#include "protocol/bridge.h"
#include "protocol/messages.h"
#include "relay.h"

struct runtime;
struct runtime_waiter;
struct runtime_exec;
struct proc_impl;
struct container_impl;
struct runtime_system;
struct storage;

enum container_state {
	CONTAINER_CREATED,	/* Create done, init process not started */
	CONTAINER_RUNNING,
	CONTAINER_STOPPED,	/* init exited; state kept until DeleteContainerState */
};

struct process {
	struct process *next;
	struct container *container;	/* NULL: runs in the utility VM itself */
	uint32_t pid;
	bool is_init;
	bool exited;
	uint32_t exit_code;		/* 128+N for death by signal N */
	struct runtime_waiter *waiters;
	struct proc_impl *impl;		/* a real process (NULL: registry only) */
};

struct container {
	struct container *next;
	char *id;
	enum container_state state;
	struct process *processes;
	struct process *init;
	char *activity_id;		/* Create's, echoed in the exit notification */
	const char *exit_type;		/* "UnexpectedExit" unless a shutdown said otherwise */
	struct container_impl *impl;	/* NULL: registry only */
};

struct runtime_events {
	/* A container's init process exited. */
	void (*container_exited)(void *ctx, struct container *c);
	void *ctx;
};

struct runtime {
	struct loop *loop;		/* NULL: waits with a timeout are refused */
	struct container *containers;
	struct process *uvm_processes;
	size_t n_containers, n_processes, n_waiters;
	struct runtime_events events;
	struct runtime_system *sys;	/* NULL until runtime_enable() */
};

void runtime_init(struct runtime *rt, struct loop *loop);
void runtime_fini(struct runtime *rt);

/* Let the operations touch the system (the agent in the VM only). */
struct runtime_config {
	/* How to reach a stdio port of the host; NULL: vsock CID 2. */
	stdio_dialer_fn dialer;
	/* Where MappedVirtualDisk, MappedDirectory, VPMemDevice go. */
	struct storage *storage;
	/* Put the agent in its own cgroup with oom_score_adj -1000 and
	 * prepare the containers' parent cgroup. */
	bool setup_cgroups;
	/* With setup_cgroups: RAM kept out of the pods cgroup's reach
	 * (-root-mem-reserve-bytes); 0: no cap. */
	uint64_t pods_mem_reserve;
	/* With setup_cgroups: warn when the agent's cgroup uses more than
	 * this (-gcs-mem-limit-bytes); 0: no watch. */
	uint64_t agent_mem_threshold;
};
int runtime_enable(struct runtime *rt, const struct runtime_config *cfg, struct error *err);

/* Registry. */
struct container *runtime_find_container(struct runtime *rt, const char *id);
/* -EEXIST when id is taken, -EINVAL for the utility VM's own id. */
int runtime_add_container(struct runtime *rt, const char *id, const char *activity_id,
			  struct container **out, struct error *err);
void runtime_remove_container(struct runtime *rt, struct container *c);

/* c == NULL: a process of the utility VM. */
struct process *runtime_find_process(struct runtime *rt, struct container *c, uint32_t pid);
int runtime_add_process(struct runtime *rt, struct container *c, uint32_t pid, bool is_init,
			struct process **out, struct error *err);

/* A process ended (status as from waitpid): completes its waits and, for
 * an init process, stops the container and raises container_exited. */
void runtime_process_exited(struct runtime *rt, struct process *p, int wait_status);

/* Wait for p to exit.  Returns 1 when it already has (read p->exit_code;
 * fn is not called), 0 when fn(arg, r, exit_code) will be called exactly
 * once later: r = 0 with the exit code, -ETIMEDOUT, or -ENOENT when the
 * process is removed from the registry first.  timeout_ms
 * MSG_WAIT_INFINITE waits forever.  Cancelling with runtime_wait_cancel()
 * means fn is never called. */
typedef void (*runtime_wait_fn)(void *arg, int r, uint32_t exit_code);
int runtime_wait(struct runtime *rt, struct process *p, uint32_t timeout_ms, runtime_wait_fn fn,
		 void *arg, struct runtime_waiter **out, struct error *err);
void runtime_wait_cancel(struct runtime_waiter *w);

/* A wait answered by the dispatcher itself (the process had exited): the
 * runtime may now forget a non-init process. */
void runtime_process_waited(struct runtime *rt, struct process *p);

/* Operations (c == NULL: the utility VM).  -ENOSYS unless enabled. */
int runtime_create_container(struct runtime *rt, const char *id, const char *activity_id,
			     const struct msg_create *cfg, struct error *err);

/* ExecuteProcess is asynchronous (stdio is dialed, the child sets itself
 * up): < 0 is an immediate failure; 0 means fn(arg, r, pid, err) runs
 * later, exactly once, from the loop, unless runtime_exec_cancel(*op)
 * comes first (then never; a process already started keeps running). */
typedef void (*runtime_exec_fn)(void *arg, int r, uint32_t pid, const struct error *err);
int runtime_exec_process(struct runtime *rt, struct container *c, const struct msg_execute *m,
			 runtime_exec_fn fn, void *arg, struct runtime_exec **op,
			 struct error *err);
void runtime_exec_cancel(struct runtime_exec *op);
int runtime_signal_process(struct runtime *rt, struct process *p, int signo, struct error *err);
int runtime_resize_console(struct runtime *rt, struct process *p, uint16_t height, uint16_t width,
			   struct error *err);
int runtime_get_properties(struct runtime *rt, struct container *c,
			   const struct msg_get_properties *q, json_t **properties,
			   struct error *err);
int runtime_modify_settings(struct runtime *rt, struct container *c, const struct msg_modify *m,
			    struct error *err);
/* The same, for requests that may finish later (storage waits for a
 * hot-added device, runs mkfs): returns 0 (done), < 0 (failed) or
 * RUNTIME_PENDING, and then fn(arg, r, err) runs once from the loop unless
 * runtime_modify_forget(*op) comes first. */
#define RUNTIME_PENDING 1
typedef void (*runtime_modify_fn)(void *arg, int r, const struct error *err);
int runtime_modify_settings_async(struct runtime *rt, struct container *c,
				  const struct msg_modify *m, runtime_modify_fn fn, void *arg,
				  void **op, struct error *err);
void runtime_modify_forget(struct runtime *rt, void *op);

int runtime_shutdown_container(struct runtime *rt, struct container *c, bool graceful,
			       struct error *err);
int runtime_delete_container_state(struct runtime *rt, struct container *c, struct error *err);

/* The registry as text, for DumpStacks. */
void runtime_describe(const struct runtime *rt, FILE *out);

const char *container_state_name(enum container_state s);

#endif
