/* SPDX-License-Identifier: MIT */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "lcow/cleanup.h"
#include "log.h"
#include "network/network.h"
#include "storage/storage.h"

struct runtime_waiter {
	struct runtime_waiter *next;
	struct runtime *rt;
	struct process *process;
	struct loop_timer timer;
	bool has_timer;
	runtime_wait_fn fn;
	void *arg;
};

void runtime_init(struct runtime *rt, struct loop *loop)
{
	memset(rt, 0, sizeof(*rt));
	rt->loop = loop;
}

static void unlink_waiter(struct runtime_waiter *w)
{
	for (struct runtime_waiter **pp = &w->process->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	w->rt->n_waiters--;
}

static void free_waiter(struct runtime_waiter *w)
{
	if (w->has_timer)
		loop_timer_fini(&w->timer);
	free(w);
}

static void free_process(struct runtime *rt, struct process *p)
{
	/* A wait on a process that goes away (its container's state deleted)
	 * ends with an error, so whoever asked gets an answer and nobody
	 * keeps a pointer to the waiter. */
	while (p->waiters) {
		struct runtime_waiter *w = p->waiters;
		p->waiters = w->next;
		rt->n_waiters--;
		runtime_wait_fn fn = w->fn;
		void *arg = w->arg;
		free_waiter(w);
		fn(arg, -ENOENT, 0);
	}
	rt->n_processes--;
	proc_impl_free(rt, p);
	free(p);
}

static void free_container(struct runtime *rt, struct container *c)
{
	while (c->processes) {
		struct process *p = c->processes;
		c->processes = p->next;
		free_process(rt, p);
	}
	container_impl_free(rt, c);
	free(c->id);
	free(c->activity_id);
	free(c);
}

void runtime_fini(struct runtime *rt)
{
	while (rt->containers) {
		struct container *c = rt->containers;
		rt->containers = c->next;
		rt->n_containers--;
		free_container(rt, c);
	}
	while (rt->uvm_processes) {
		struct process *p = rt->uvm_processes;
		rt->uvm_processes = p->next;
		free_process(rt, p);
	}
	if (rt->sys) {
		layers_fini(rt->sys);
		network_free(rt->sys->net);
		oom_watch_stop(rt->sys);
		mem_watch_stop(rt->sys);
		if (rt->sys->self_pidns_fd >= 0)
			close(rt->sys->self_pidns_fd);
		free(rt->sys);
		rt->sys = NULL;
	}
}

static void vsock_host_dialer(uint32_t port, struct dialer *d)
{
	dialer_vsock(d, 2 /* VMADDR_CID_HOST */, port);
}

int runtime_enable(struct runtime *rt, const struct runtime_config *cfg, struct error *err)
{
	struct runtime_system *sys = calloc(1, sizeof(*sys));
	if (!sys)
		return error_set(err, ENOMEM, "runtime");
	sys->dialer = cfg->dialer ? cfg->dialer : vsock_host_dialer;
	sys->storage = cfg->storage;
	sys->last_cap = 40;
	for (int i = 0; i < OOM_WATCHES; i++)
		sys->oom[i].fd = -1;
	sys->mem.dirfd = -1;
	/* To return to after forking into a container's pid namespace. */
	sys->self_pidns_fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (sys->self_pidns_fd < 0) {
		int e = errno;
		free(sys);
		return error_set(err, e, "open /proc/self/ns/pid");
	}
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[16] = "";
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			sys->last_cap = atoi(buf);
		close(fd);
	}
	if (cfg->setup_cgroups) {
		int r = cgroup_setup_agent(cfg->pods_mem_reserve, err);
		if (r < 0) {
			close(sys->self_pidns_fd);
			free(sys);
			return error_prefix(err, r, "agent cgroup");
		}
	}
	/* Without it containers still run, with lo only. */
	struct error nerr = { 0 };
	if (network_new(rt->loop, &sys->net, &nerr) < 0)
		log_warning("container networking is not available", LOG_ERR(&nerr));
	rt->sys = sys;
	if (cfg->setup_cgroups) {
		oom_watch_start(rt);
		mem_watch_start(rt, cfg->agent_mem_threshold);
	}
	return 0;
}

void runtime_forget_process(struct runtime *rt, struct process *p)
{
	struct process **head = p->container ? &p->container->processes : &rt->uvm_processes;
	for (struct process **pp = head; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			free_process(rt, p);
			return;
		}
	}
}

void runtime_process_waited(struct runtime *rt, struct process *p)
{
	/* Only real processes: registry-only entries (tests) stay. */
	if (p->impl && p->exited && !p->is_init)
		runtime_forget_process(rt, p);
}

struct container *runtime_find_container(struct runtime *rt, const char *id)
{
	for (struct container *c = rt->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

int runtime_add_container(struct runtime *rt, const char *id, const char *activity_id,
			  struct container **out, struct error *err)
{
	if (!*id || strcmp(id, UVM_CONTAINER_ID) == 0)
		return error_setx(err, EINVAL, "invalid container id \"%s\"", id);
	if (runtime_find_container(rt, id))
		return error_setx(err, EEXIST, "container %s already exists", id);
	_cleanup_free_ struct container *c = calloc(1, sizeof(*c));
	if (!c || !(c->id = strdup(id)) ||
	    !(c->activity_id = strdup(activity_id ? activity_id : ""))) {
		if (c)
			free(c->id);
		return error_set(err, ENOMEM, "register container %s", id);
	}
	c->state = CONTAINER_CREATED;
	c->exit_type = "UnexpectedExit";
	c->next = rt->containers;
	rt->containers = c;
	rt->n_containers++;
	if (out)
		*out = c;
	TAKE_PTR(c);
	return 0;
}

void runtime_remove_container(struct runtime *rt, struct container *c)
{
	for (struct container **pp = &rt->containers; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			rt->n_containers--;
			free_container(rt, c);
			return;
		}
	}
}

struct process *runtime_find_process(struct runtime *rt, struct container *c, uint32_t pid)
{
	for (struct process *p = c ? c->processes : rt->uvm_processes; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

int runtime_add_process(struct runtime *rt, struct container *c, uint32_t pid, bool is_init,
			struct process **out, struct error *err)
{
	if (runtime_find_process(rt, c, pid))
		return error_setx(err, EEXIST, "process %" PRIu32 " already registered", pid);
	if (is_init && (!c || c->init))
		return error_setx(err, EINVAL, "%s already has an init process",
				  c ? c->id : "the utility VM");
	struct process *p = calloc(1, sizeof(*p));
	if (!p)
		return error_set(err, ENOMEM, "register process %" PRIu32, pid);
	p->pid = pid;
	p->container = c;
	p->is_init = is_init;
	struct process **head = c ? &c->processes : &rt->uvm_processes;
	p->next = *head;
	*head = p;
	rt->n_processes++;
	if (is_init) {
		c->init = p;
		c->state = CONTAINER_RUNNING;
	}
	if (out)
		*out = p;
	return 0;
}

void runtime_process_exited(struct runtime *rt, struct process *p, int wait_status)
{
	if (p->exited)
		return;
	p->exited = true;
	if (WIFSIGNALED(wait_status))
		p->exit_code = 128u + (uint32_t)WTERMSIG(wait_status);
	else
		p->exit_code = (uint32_t)WEXITSTATUS(wait_status);

	/* Detach the list first: a callback may start or cancel other waits. */
	struct runtime_waiter *w = p->waiters;
	p->waiters = NULL;
	while (w) {
		struct runtime_waiter *next = w->next;
		rt->n_waiters--;
		runtime_wait_fn fn = w->fn;
		void *arg = w->arg;
		uint32_t code = p->exit_code;
		free_waiter(w);
		fn(arg, 0, code);
		w = next;
	}

	struct container *c = p->container;
	if (p->is_init && c && c->state != CONTAINER_STOPPED) {
		c->state = CONTAINER_STOPPED;
		if (rt->events.container_exited)
			rt->events.container_exited(rt->events.ctx, c);
	}
}

static void wait_timed_out(struct loop_timer *t)
{
	struct runtime_waiter *w = t->data;
	runtime_wait_fn fn = w->fn;
	void *arg = w->arg;
	unlink_waiter(w);
	free_waiter(w);
	fn(arg, -ETIMEDOUT, 0);
}

int runtime_wait(struct runtime *rt, struct process *p, uint32_t timeout_ms, runtime_wait_fn fn,
		 void *arg, struct runtime_waiter **out, struct error *err)
{
	if (p->exited)
		return 1;
	if (timeout_ms != MSG_WAIT_INFINITE && !rt->loop)
		return error_setx(err, EOPNOTSUPP, "timed waits need an event loop");
	_cleanup_free_ struct runtime_waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return error_set(err, ENOMEM, "allocate wait");
	w->rt = rt;
	w->process = p;
	w->fn = fn;
	w->arg = arg;
	if (timeout_ms != MSG_WAIT_INFINITE) {
		int r = loop_timer_init(rt->loop, &w->timer, wait_timed_out, w, err);
		if (r < 0)
			return r;
		w->has_timer = true;
		r = loop_timer_arm(&w->timer, timeout_ms, err);
		if (r < 0) {
			loop_timer_fini(&w->timer);
			return r;
		}
	}
	w->next = p->waiters;
	p->waiters = w;
	rt->n_waiters++;
	*out = TAKE_PTR(w);
	return 0;
}

void runtime_wait_cancel(struct runtime_waiter *w)
{
	unlink_waiter(w);
	free_waiter(w);
}

/*
 * The operations: refused until runtime_enable(), then handed to the
 * container and process code.
 */
static int not_enabled(struct error *err, const char *what)
{
	return error_setx(err, ENOSYS, "%s is not implemented by this agent here", what);
}

int runtime_create_container(struct runtime *rt, const char *id, const char *activity_id,
			     const struct msg_create *cfg, struct error *err)
{
	if (!rt->sys)
		return not_enabled(err, "creating containers");
	return container_create(rt, id, activity_id, cfg, err);
}

int runtime_signal_process(struct runtime *rt, struct process *p, int signo, struct error *err)
{
	if (!rt->sys)
		return not_enabled(err, "signalling processes");
	int r = proc_signal(p, signo, err);
	/* hcsshim: a signal that takes down an init sets the exit type. */
	if (r >= 0 && p->is_init && p->container) {
		if (signo == SIGTERM)
			p->container->exit_type = "GracefulExit";
		else if (signo == SIGKILL)
			p->container->exit_type = "ForcedExit";
	}
	return r;
}

int runtime_resize_console(struct runtime *rt, struct process *p, uint16_t height, uint16_t width,
			   struct error *err)
{
	if (!rt->sys)
		return not_enabled(err, "resizing consoles");
	return proc_resize(p, height, width, err);
}

int runtime_get_properties(struct runtime *rt, struct container *c,
			   const struct msg_get_properties *q, json_t **properties,
			   struct error *err)
{
	*properties = NULL;
	if (!rt->sys)
		return not_enabled(err, "container properties");
	return container_properties(rt, c, q, properties, err);
}

int runtime_modify_settings(struct runtime *rt, struct container *c, const struct msg_modify *m,
			    struct error *err)
{
	if (!rt->sys) {
		char what[160];
		snprintf(what, sizeof(what), "ModifySettings %s of %s",
			 m->request_type_name[0] ? m->request_type_name : "Add", m->resource_type);
		return not_enabled(err, what);
	}
	switch (m->resource) {
	case MSG_RESOURCE_MAPPED_VIRTUAL_DISK:
	case MSG_RESOURCE_MAPPED_DIRECTORY:
	case MSG_RESOURCE_VPMEM_DEVICE:
		if (!rt->sys->storage)
			return not_enabled(err, m->resource_type);
		return storage_modify(rt->sys->storage, m, err);
	case MSG_RESOURCE_COMBINED_LAYERS:
		return layers_modify(rt, m, err);
	case MSG_RESOURCE_NETWORK:
		/* hcsshim: an adapter of a network namespace id, for the UVM. */
		if (c)
			return error_setx(err, EINVAL, "the ResourceType Network is not supported for containers");
		if (!rt->sys->net)
			return not_enabled(err, m->resource_type);
		if (m->request_type != MSG_REQUEST_ADD && m->request_type != MSG_REQUEST_REMOVE)
			return error_setx(err, EINVAL, "the RequestType `%s` is not supported for Network",
					  m->request_type_name);
		return network_modify(rt->sys->net, m->request_type == MSG_REQUEST_ADD, m->settings, err);
	case MSG_RESOURCE_CONTAINER_CONSTRAINTS:
		if (!c)
			return error_setx(err, EINVAL, "ContainerConstraints need a container");
		return container_update(rt, c, m->settings, err);
	default:
		return error_setx(err, ENOSYS, "ModifySettings of %s is not implemented",
				  m->resource_type);
	}
}

int runtime_modify_settings_async(struct runtime *rt, struct container *c,
				  const struct msg_modify *m, runtime_modify_fn fn, void *arg,
				  void **op, struct error *err)
{
	*op = NULL;
	/* A Network Add may wait for its hot-added device. */
	if (rt->sys && rt->sys->net && !c && m->resource == MSG_RESOURCE_NETWORK &&
	    (m->request_type == MSG_REQUEST_ADD || m->request_type == MSG_REQUEST_REMOVE)) {
		struct network_op *nop = NULL;
		int r = network_modify_async(rt->sys->net, m->request_type == MSG_REQUEST_ADD,
					     m->settings, fn, arg, &nop, err);
		if (r == NETWORK_PENDING) {
			*op = nop;
			return RUNTIME_PENDING;
		}
		return r;
	}
	if (rt->sys && rt->sys->storage && storage_handles(m)) {
		struct storage_op *sop = NULL;
		int r = storage_modify_async(rt->sys->storage, m, fn, arg, &sop, err);
		if (r == STORAGE_PENDING) {
			*op = sop;
			return RUNTIME_PENDING;
		}
		return r;
	}
	return runtime_modify_settings(rt, c, m, err);
}

void runtime_modify_forget(struct runtime *rt, void *op)
{
	if (op && !(rt->sys && network_op_forget(rt->sys->net, op)))
		storage_op_forget(op);
}

int runtime_shutdown_container(struct runtime *rt, struct container *c, bool graceful,
			       struct error *err)
{
	if (!rt->sys)
		return not_enabled(err, graceful ? "graceful container shutdown"
						 : "forced container shutdown");
	return container_shutdown(rt, c, graceful, err);
}

int runtime_delete_container_state(struct runtime *rt, struct container *c, struct error *err)
{
	if (!rt->sys)
		return not_enabled(err, "deleting container state");
	return container_delete(rt, c, err);
}

const char *container_state_name(enum container_state s)
{
	switch (s) {
	case CONTAINER_CREATED: return "created";
	case CONTAINER_RUNNING: return "running";
	case CONTAINER_STOPPED: return "stopped";
	}
	return "?";
}

static void describe_processes(const struct process *p, FILE *out)
{
	for (; p; p = p->next) {
		size_t waits = 0;
		for (const struct runtime_waiter *w = p->waiters; w; w = w->next)
			waits++;
		fprintf(out, "    process %" PRIu32 "%s: ", p->pid, p->is_init ? " (init)" : "");
		if (p->exited)
			fprintf(out, "exited, code %" PRIu32, p->exit_code);
		else if (p->impl && p->impl->reaped)
			fprintf(out, "exited, draining %u output stream(s)", p->impl->open_outputs);
		else
			fprintf(out, "running");
		if (p->impl)
			fprintf(out, "%s", p->impl->pty_master >= 0 ? ", console" : "");
		fprintf(out, ", %zu waiter(s)\n", waits);
	}
}

void runtime_describe(const struct runtime *rt, FILE *out)
{
	fprintf(out, "containers: %zu, processes: %zu, waits: %zu\n", rt->n_containers,
		rt->n_processes, rt->n_waiters);
	for (const struct container *c = rt->containers; c; c = c->next) {
		fprintf(out, "  container %s: %s\n", c->id, container_state_name(c->state));
		describe_processes(c->processes, out);
	}
	if (rt->uvm_processes) {
		fprintf(out, "  utility VM processes:\n");
		describe_processes(rt->uvm_processes, out);
	}
	if (rt->sys) {
		for (const struct layer_mount *l = rt->sys->layers; l; l = l->next)
			fprintf(out, "  layers: %s (%zu layer(s), %s)\n", l->root, l->n_layers,
				*l->scratch ? l->scratch : "read-only");
		if (rt->sys->storage)
			storage_describe(rt->sys->storage, out);
	}
}
