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
 * The registry and waits are complete; the operations that create or
 * touch real containers and processes (create, exec, signal, resize,
 * properties, modify, shutdown, delete) are the next issues and return
 * -ENOSYS today.
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

struct runtime;
struct runtime_waiter;

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
};

struct container {
	struct container *next;
	char *id;
	enum container_state state;
	struct process *processes;
	struct process *init;
	char *activity_id;		/* Create's, echoed in the exit notification */
	const char *exit_type;		/* "UnexpectedExit" unless a shutdown said otherwise */
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
};

void runtime_init(struct runtime *rt, struct loop *loop);
void runtime_fini(struct runtime *rt);

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

/* Operations (c == NULL: the utility VM).  All -ENOSYS for now. */
int runtime_create_container(struct runtime *rt, const char *id, const char *activity_id,
			     const struct msg_create *cfg, struct error *err);
int runtime_exec_process(struct runtime *rt, struct container *c, const struct msg_execute *m,
			 uint32_t *pid, struct error *err);
int runtime_signal_process(struct runtime *rt, struct process *p, int signo, struct error *err);
int runtime_resize_console(struct runtime *rt, struct process *p, uint16_t height, uint16_t width,
			   struct error *err);
int runtime_get_properties(struct runtime *rt, struct container *c,
			   const struct msg_get_properties *q, json_t **properties,
			   struct error *err);
int runtime_modify_settings(struct runtime *rt, struct container *c, const struct msg_modify *m,
			    struct error *err);
int runtime_shutdown_container(struct runtime *rt, struct container *c, bool graceful,
			       struct error *err);
int runtime_delete_container_state(struct runtime *rt, struct container *c, struct error *err);

/* The registry as text, for DumpStacks. */
void runtime_describe(const struct runtime *rt, FILE *out);

const char *container_state_name(enum container_state s);

#endif
