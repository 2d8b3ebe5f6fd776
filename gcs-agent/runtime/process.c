/* SPDX-License-Identifier: MIT */
/*
 * ExecuteProcess end to end: the plan (what to run, from
 * ProcessParameters and the OCI process), the stdio dial, the fork (the
 * child reports back over its error pipe), then the process's life:
 * relays, its pidfd, the exit once the output relays have drained.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"
#include "lcow/cleanup.h"
#include "log.h"
#include "network/network.h"
#include "protocol/json.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

struct runtime_exec {
	struct runtime *rt;
	struct container *c;		/* NULL: the utility VM */
	bool is_init;
	bool cancelled;
	runtime_exec_fn fn;
	void *arg;

	/* The plan. */
	struct oci_process proc;	/* container processes */
	bool has_proc;
	char **split;			/* CommandLine split (one block) */
	const char **argv;		/* borrowed or owned (uvm_argv) */
	const char **uvm_argv;
	char **uvm_env;			/* "K=V" strings, owned */
	const char *cwd;
	bool tty;
	uint16_t rows, cols;
	uint32_t ports[3];
	json_t *doc;			/* ProcessParameters, kept for borrowed strings */

	/* In flight. */
	struct network_op *net_wait;	/* the init waits for its DHCP leases */
	struct stdio_dial *dial;
	int sock[3];
	int child_fd[3];		/* the child's ends, closed after the fork */
	int parent_fd[3];		/* stdin write end, stdout/stderr read ends */
	int pty_master;
	pid_t pid;
	int pidfd, errpipe;
	struct loop_source err_src;
	struct loop_defer defer;
	int result;
	struct error err;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void op_free(struct runtime_exec *op)
{
	loop_remove(&op->err_src);
	loop_cancel_defer(op->rt->loop, &op->defer);
	stdio_dial_free(op->dial);
	for (int i = 0; i < 3; i++) {
		close_fd(&op->sock[i]);
		close_fd(&op->child_fd[i]);
		close_fd(&op->parent_fd[i]);
	}
	close_fd(&op->pty_master);
	close_fd(&op->pidfd);
	close_fd(&op->errpipe);
	if (op->has_proc)
		oci_process_free(&op->proc);
	free(op->split);
	free(op->uvm_argv);
	for (size_t i = 0; op->uvm_env && op->uvm_env[i]; i++)
		free(op->uvm_env[i]);
	free(op->uvm_env);
	if (op->doc)
		json_decref(op->doc);
	free(op);
}

static void op_complete(struct runtime_exec *op, int r, uint32_t pid)
{
	if (op->c && op->c->impl) {
		op->c->impl->pending--;
		if (op->is_init)
			op->c->impl->starting = false;
	}
	if (!op->cancelled)
		op->fn(op->arg, r, pid, &op->err);
	op_free(op);
}

void runtime_exec_cancel(struct runtime_exec *op)
{
	op->cancelled = true;
}

/* ---- the process's life ---- */

static void maybe_exited(struct proc_impl *pi)
{
	if (!pi->reaped || pi->open_outputs)
		return;
	struct runtime *rt = pi->rt;
	struct process *p = pi->p;
	/* stdin is of no use once the process is gone (hcsshim: CloseRead). */
	if (pi->relay[0]) {
		relay_abort(pi->relay[0]);
		free(pi->relay[0]);
		pi->relay[0] = NULL;
	}
	close_fd(&pi->pty_master);
	log_info("process exited", LOG_U64("pid", p->pid),
		 LOG_STR("container", p->container ? p->container->id : "uvm"),
		 LOG_I64("status", pi->status));
	bool had_waiters = p->waiters != NULL;
	struct container *c = p->container;
	runtime_process_exited(rt, p, pi->status);
	if (c)
		container_process_exited(rt, c, p);
	/* A process whose exit code went to a waiter is forgotten, as
	 * hcsshim's guest drops it once a wait has read it; an init stays
	 * with its container. */
	if (had_waiters && !p->is_init)
		runtime_forget_process(rt, p);
}

static void relay_done(struct relay *r, void *ctx)
{
	struct proc_impl *pi = ctx;
	if (r == pi->relay[0])
		return;
	pi->open_outputs--;
	maybe_exited(pi);
}

static void on_pid_exit(struct loop_source *src, uint32_t events)
{
	struct proc_impl *pi = src->data;
	(void)events;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)pi->pidfd, &si, WEXITED | WNOHANG) < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		log_error("waitid on a pidfd failed", LOG_U64("pid", pi->pid),
			  LOG_STR("error", strerror(errno)));
		si.si_code = CLD_KILLED;
		si.si_status = SIGKILL;
	} else if (si.si_pid == 0) {
		return;	/* not yet */
	}
	loop_remove(&pi->pid_src);
	close_fd(&pi->pidfd);
	pi->reaped = true;
	if (si.si_code == CLD_EXITED)
		pi->status = (si.si_status & 0xff) << 8;
	else
		pi->status = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
	maybe_exited(pi);
}

void proc_impl_free(struct runtime *rt, struct process *p)
{
	(void)rt;
	struct proc_impl *pi = p->impl;
	if (!pi)
		return;
	for (int i = 0; i < 3; i++) {
		if (pi->relay[i]) {
			relay_abort(pi->relay[i]);
			free(pi->relay[i]);
		}
	}
	loop_remove(&pi->pid_src);
	if (!pi->reaped && pi->pidfd >= 0) {
		/* Gone from the registry while alive (agent shutdown): it must
		 * not linger as a zombie of the agent. */
		syscall(SYS_pidfd_send_signal, pi->pidfd, SIGKILL, NULL, 0);
		siginfo_t si;
		waitid(P_PIDFD, (id_t)pi->pidfd, &si, WEXITED);
	}
	close_fd(&pi->pidfd);
	close_fd(&pi->pty_master);
	free(pi);
	p->impl = NULL;
}

int proc_signal(struct process *p, int signo, struct error *err)
{
	struct proc_impl *pi = p->impl;
	if (!pi)
		return error_setx(err, ENOSYS, "process %" PRIu32 " is not managed by this agent",
				  p->pid);
	if (pi->reaped || pi->pidfd < 0)
		return error_setx(err, ENOENT, "process %" PRIu32 " has exited", p->pid);
	if (syscall(SYS_pidfd_send_signal, pi->pidfd, signo, NULL, 0) < 0) {
		if (errno == ESRCH)
			return error_setx(err, ENOENT, "process %" PRIu32 " has exited", p->pid);
		return error_set(err, errno, "kill");
	}
	return 0;
}

int proc_resize(struct process *p, uint16_t height, uint16_t width, struct error *err)
{
	struct proc_impl *pi = p->impl;
	if (!pi)
		return error_setx(err, ENOSYS, "process %" PRIu32 " is not managed by this agent",
				  p->pid);
	if (pi->pty_master < 0) {
		/* hcsshim's guest: a process without a tty cannot be resized;
		 * once its console is closed a resize is a no-op. */
		if (pi->reaped)
			return 0;
		return error_setx(err, EINVAL, "process %" PRIu32 " has no console to resize",
				  p->pid);
	}
	struct winsize ws = { .ws_row = height, .ws_col = width };
	if (ioctl(pi->pty_master, TIOCSWINSZ, &ws) < 0)
		return error_set(err, errno, "TIOCSWINSZ");
	return 0;
}

/* ---- the exec ---- */

static int start_relays(struct runtime_exec *op, struct proc_impl *pi, struct error *err)
{
	static const char *const names[] = { "stdin", "stdout", "stderr" };
	for (int i = 0; i < 3; i++) {
		if (op->sock[i] < 0)
			continue;
		int local;
		if (op->tty) {
			if (i == 2)
				continue;	/* the pty carries stderr on stdout */
			local = fcntl(pi->pty_master, F_DUPFD_CLOEXEC, 3);
			if (local < 0)
				return error_set(err, errno, "dup the pty");
		} else {
			local = op->parent_fd[i];
			op->parent_fd[i] = -1;
		}
		struct relay *r = malloc(sizeof(*r));
		if (!r) {
			close(local);
			return error_set(err, ENOMEM, "stdio relay");
		}
		int sock = op->sock[i];
		op->sock[i] = -1;
		int rr = i == 0 ? relay_start(r, op->rt->loop, sock, local, false, names[i],
					      relay_done, pi, err)
				: relay_start(r, op->rt->loop, local, sock, true, names[i], relay_done,
					      pi, err);
		if (rr < 0) {
			free(r);
			return rr;
		}
		pi->relay[i] = r;
		if (i)
			pi->open_outputs++;
	}
	return 0;
}

static void spawn_finished(struct runtime_exec *op, int r)
{
	struct runtime *rt = op->rt;
	loop_remove(&op->err_src);
	close_fd(&op->errpipe);
	if (r < 0) {
		/* The child wrote its error and exits with 127; reap it now
		 * (it is at most a few instructions from _exit). */
		siginfo_t si;
		syscall(SYS_pidfd_send_signal, op->pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)op->pidfd, &si, WEXITED);
		op_complete(op, r, 0);
		return;
	}
	struct proc_impl *pi = calloc(1, sizeof(*pi));
	struct process *p = NULL;
	if (!pi) {
		r = error_set(&op->err, ENOMEM, "process state");
		goto out_kill;
	}
	pi->rt = rt;
	pi->pid = op->pid;
	pi->pidfd = -1;
	pi->pty_master = -1;
	r = runtime_add_process(rt, op->c, (uint32_t)op->pid, op->is_init, &p, &op->err);
	if (r < 0)
		goto out_kill;
	p->impl = pi;
	pi->p = p;
	pi->pidfd = TAKE_FD(op->pidfd);
	if (op->tty)
		pi->pty_master = TAKE_FD(op->pty_master);
	if ((r = loop_add(rt->loop, &pi->pid_src, pi->pidfd, EPOLLIN, on_pid_exit, pi, &op->err)) < 0 ||
	    (r = start_relays(op, pi, &op->err)) < 0) {
		/* The process runs but cannot be served: kill it; its exit
		 * still comes through the registry if the pidfd is watched. */
		proc_signal(p, SIGKILL, NULL);
		op_complete(op, r, 0);
		return;
	}
	if (op->is_init)
		container_init_started(op->c, op->pid);
	log_info("process started", LOG_U64("pid", op->pid),
		 LOG_STR("container", op->c ? op->c->id : "uvm"), LOG_STR("command", op->argv[0]),
		 LOG_BOOL("init", op->is_init), LOG_BOOL("tty", op->tty));
	op_complete(op, 0, (uint32_t)op->pid);
	return;

out_kill:
	free(pi);
	syscall(SYS_pidfd_send_signal, op->pidfd, SIGKILL, NULL, 0);
	{
		siginfo_t si;
		waitid(P_PIDFD, (id_t)op->pidfd, &si, WEXITED);
	}
	op_complete(op, r, 0);
}

static void on_errpipe(struct loop_source *src, uint32_t events)
{
	struct runtime_exec *op = src->data;
	(void)events;
	int r = spawn_read_result(op->errpipe, &op->pty_master, &op->err);
	if (r == -EAGAIN)
		return;
	if (r == 0 && op->tty && op->pty_master < 0)
		r = error_setx(&op->err, EIO, "the process started without its console");
	spawn_finished(op, r);
}

static int make_pty(struct runtime_exec *op, int *slave, struct error *err)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return error_set(err, errno, "open /dev/ptmx");
	op->pty_master = m;
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		return error_set(err, errno, "unlock the pty");
	char name[64];
	if (ptsname_r(m, name, sizeof(name)) != 0)
		return error_set(err, errno, "ptsname");
	int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return error_set(err, errno, "open %s", name);
	if (op->rows && op->cols) {
		struct winsize ws = { .ws_row = op->rows, .ws_col = op->cols };
		ioctl(s, TIOCSWINSZ, &ws);
	}
	*slave = s;
	return 0;
}

static int spawn_now(struct runtime_exec *op, struct error *err)
{
	struct runtime *rt = op->rt;
	int r;
	for (int i = 0; i < 3; i++)
		op->sock[i] = stdio_dial_take(op->dial, i);
	stdio_dial_free(op->dial);
	op->dial = NULL;

	struct spawn_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.pidns_fd = -1;
	cfg.cgroup_fd = -1;
	if (op->c)
		container_spawn_config(rt, op->c, op->is_init, &cfg);
	cfg.last_cap = rt->sys->last_cap;
	cfg.argv = op->argv;
	cfg.envp = op->has_proc ? op->proc.env : (const char *const *)op->uvm_env;
	cfg.cwd = op->cwd;
	cfg.proc = op->has_proc ? &op->proc : NULL;
	cfg.terminal = op->tty;
	for (int i = 0; i < 3; i++)
		cfg.stdio[i] = -1;
	if (op->tty && op->c) {
		/* The child opens it inside the container and sends the
		 * master back. */
		cfg.container_pty = true;
		cfg.pty_rows = op->rows;
		cfg.pty_cols = op->cols;
	} else if (op->tty) {
		int slave = -1;
		if ((r = make_pty(op, &slave, err)) < 0)
			return r;
		op->child_fd[0] = slave;
		for (int i = 0; i < 3; i++)
			cfg.stdio[i] = slave;
	} else {
		for (int i = 0; i < 3; i++) {
			if (op->sock[i] < 0)
				continue;
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0)
				return error_set(err, errno, "pipe");
			op->child_fd[i] = i == 0 ? p[0] : p[1];
			op->parent_fd[i] = i == 0 ? p[1] : p[0];
			cfg.stdio[i] = op->child_fd[i];
		}
	}
	r = spawn_start(&cfg, rt->sys->self_pidns_fd, &op->pid, &op->pidfd, &op->errpipe, err);
	for (int i = 0; i < 3; i++)
		close_fd(&op->child_fd[i]);
	if (r < 0)
		return r;
	return loop_add(rt->loop, &op->err_src, op->errpipe, EPOLLIN, on_errpipe, op, err);
}

static void on_net_ready(void *ctx, int r, const struct error *err)
{
	struct runtime_exec *op = ctx;
	op->net_wait = NULL;
	if (r < 0) {
		op->err = *err;
		error_prefix(&op->err, r, "container %s's network", op->c->id);
		op_complete(op, r, 0);
		return;
	}
	/* The leases may have brought DNS servers the host did not give. */
	if ((r = container_refresh_resolv_conf(op->rt, op->c, &op->err)) < 0 ||
	    (r = spawn_now(op, &op->err)) < 0)
		op_complete(op, r, 0);
}

static void on_dialed(void *ctx, int r, const struct error *err)
{
	struct runtime_exec *op = ctx;
	if (r < 0) {
		op->err = *err;
		op_complete(op, r, 0);
		return;
	}
	/* hcsshim configures a container's adapters, DHCP included, before
	 * its init runs: the init waits for the leases of its namespace. */
	if (op->is_init && op->c->impl->net_id[0]) {
		r = network_wait_ready(op->rt->sys->net, op->c->impl->net_id, on_net_ready, op,
				       &op->net_wait, &op->err);
		if (r == NETWORK_PENDING)
			return;
		if (r < 0) {
			on_net_ready(op, r, &op->err);
			return;
		}
		if ((r = container_refresh_resolv_conf(op->rt, op->c, &op->err)) < 0) {
			op_complete(op, r, 0);
			return;
		}
	}
	r = spawn_now(op, &op->err);
	if (r < 0)
		op_complete(op, r, 0);
}

/* Environment map -> "K=V" strings. */
static int env_from_map(const json_t *map, char ***out, struct error *err)
{
	size_t n = map ? json_object_size(map) : 0;
	char **env = calloc(n + 1, sizeof(char *));
	if (!env)
		return error_set(err, ENOMEM, "environment");
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)map, k, v)
	{
		const char *val = json_string_value(v);
		if (asprintf(&env[i], "%s=%s", k, val ? val : "") < 0) {
			env[i] = NULL;
			for (size_t j = 0; j < i; j++)
				free(env[j]);
			free(env);
			return error_set(err, ENOMEM, "environment");
		}
		i++;
	}
	*out = env;
	return 0;
}

static int plan_args(struct runtime_exec *op, const struct msg_process_params *pp,
		     struct error *err)
{
	size_t n = pp->command_args ? json_array_size(pp->command_args) : 0;
	if (n) {
		op->uvm_argv = calloc(n + 1, sizeof(char *));
		if (!op->uvm_argv)
			return error_set(err, ENOMEM, "arguments");
		for (size_t i = 0; i < n; i++) {
			const char *s = json_string_value(json_array_get(pp->command_args, i));
			op->uvm_argv[i] = s ? s : "";
		}
		op->argv = op->uvm_argv;
		return 0;
	}
	size_t argc = 0;
	if (pp->command_line && *pp->command_line) {
		int r = spawn_split_command_line(pp->command_line, &op->split, &argc, err);
		if (r < 0)
			return r;
	}
	if (!argc)
		return error_setx(err, EINVAL, "no command: CommandArgs and CommandLine are empty");
	op->argv = (const char **)op->split;
	return 0;
}

/* The container process: the container's OCI process as the base, the
 * request's OciProcess fields over it (the host may send a whole process
 * or, like lcowctl, just args/env/cwd/user), or the legacy
 * CommandArgs/Environment/WorkingDirectory fields. */
static int plan_container(struct runtime_exec *op, const struct msg_process_params *pp,
			  struct error *err)
{
	struct container_impl *ci = op->c->impl;
	json_t *base = json_object_get(ci->spec.doc, "process");
	_cleanup_json_ json_t *doc = json_is_object(base) ? json_deep_copy(base) : json_object();
	if (!doc)
		return error_set(err, ENOMEM, "process");
	if (pp->oci_process) {
		if (json_object_update(doc, pp->oci_process) < 0)
			return error_set(err, ENOMEM, "process");
	} else if (!op->is_init) {
		int r = plan_args(op, pp, err);
		if (r < 0)
			return r;
		json_t *args = json_array();
		for (size_t i = 0; args && op->argv[i]; i++)
			json_array_append_new(args, json_string(op->argv[i]));
		if (!args || json_object_set_new(doc, "args", args) < 0)
			return error_set(err, ENOMEM, "process");
		if (pp->environment) {
			json_t *env = json_array();
			const char *k;
			json_t *v;
			json_object_foreach(pp->environment, k, v)
			{
				char *kv;
				if (asprintf(&kv, "%s=%s", k, json_string_value(v) ? json_string_value(v)
										      : "") < 0)
					return error_set(err, ENOMEM, "environment");
				json_array_append_new(env, json_string(kv));
				free(kv);
			}
			json_object_set_new(doc, "env", env);
		}
		if (pp->working_directory && *pp->working_directory)
			json_object_set_new(doc, "cwd", json_string(pp->working_directory));
		json_object_set_new(doc, "terminal", json_boolean(pp->emulate_console));
	}
	int r = oci_process_parse(doc, &op->proc, err);
	if (r < 0)
		return r;
	op->has_proc = true;
	if (!op->proc.n_args)
		return error_setx(err, EINVAL, "the process has no args");
	op->argv = op->proc.args;
	op->cwd = op->proc.cwd;
	op->tty = op->proc.terminal;
	op->rows = op->proc.console_height;
	op->cols = op->proc.console_width;
	return 0;
}

int runtime_exec_process(struct runtime *rt, struct container *c, const struct msg_execute *m,
			 runtime_exec_fn fn, void *arg, struct runtime_exec **out,
			 struct error *err)
{
	if (!rt->sys)
		return error_setx(err, ENOSYS, "%s is not implemented by this agent here",
				  c ? "starting container processes"
				    : "starting processes in the utility VM");
	struct container_impl *ci = c ? c->impl : NULL;
	if (c && !ci)
		return error_setx(err, ENOSYS, "container %s is not managed by this agent", c->id);
	if (c && c->state == CONTAINER_STOPPED)
		return error_setx(err, EBADFD, "container %s has exited", c->id);
	if (c && !c->init && ci->starting)
		return error_setx(err, EBUSY, "container %s: its init process is being started",
				  c->id);
	struct runtime_exec *op = calloc(1, sizeof(*op));
	if (!op)
		return error_set(err, ENOMEM, "exec");
	op->rt = rt;
	op->c = c;
	op->fn = fn;
	op->arg = arg;
	op->pty_master = op->pidfd = op->errpipe = -1;
	for (int i = 0; i < 3; i++)
		op->sock[i] = op->child_fd[i] = op->parent_fd[i] = -1;
	op->doc = json_incref(m->params.doc);
	op->is_init = c && !c->init;
	const struct msg_process_params *pp = &m->params;
	int r;
	if (c) {
		r = plan_container(op, pp, err);
	} else {
		r = plan_args(op, pp, err);
		if (r >= 0)
			r = env_from_map(pp->environment, &op->uvm_env, err);
		op->cwd = pp->working_directory && *pp->working_directory ? pp->working_directory
									  : "/";
		op->tty = pp->emulate_console;
	}
	if (r < 0) {
		op_free(op);
		return r;
	}
	/* As hcsshim's guest: a stream is connected only when its pipe was
	 * asked for; a console has no separate stderr. */
	op->ports[0] = pp->create_stdin ? m->ports.in : 0;
	op->ports[1] = pp->create_stdout ? m->ports.out : 0;
	op->ports[2] = pp->create_stderr && !op->tty ? m->ports.err : 0;
	r = stdio_dial_start(rt->loop, rt->sys->dialer, op->ports, on_dialed, op, &op->dial, err);
	if (r < 0) {
		op_free(op);
		return r;
	}
	if (ci) {
		ci->pending++;
		if (op->is_init)
			ci->starting = true;
	}
	*out = op;
	return 0;
}
