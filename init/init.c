/* SPDX-License-Identifier: MIT */
/*
 * /init: PID 1 of the LCOW utility VM.
 *
 * Sets the system up (file systems, console, lo, limits), starts THE
 * program -- normally `/bin/vsockexec -e 109 /bin/gcs ...` -- and from then on
 * only reaps: all signals are blocked and arrive through one signalfd; every
 * SIGCHLD is answered by waitpid(-1, WNOHANG) until nothing is left, so no
 * orphan stays a zombie.  When the program exits, init logs one line saying
 * how, stops everything else (SIGTERM, a grace period that ends as soon as the
 * last child is gone, SIGKILL) and powers the VM off.  init never exits: PID
 * 1 dying panics the kernel.
 *
 * SIGTERM, SIGINT (Ctrl-Alt-Del, which reboot(RB_DISABLE_CAD) turns into a
 * signal) and SIGPWR to init are forwarded as SIGTERM to the program alone:
 * the agent owns the containers and knows how to stop them; its exit then
 * powers the VM off as usual.  Everything else is ignored.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "lcow/error.h"
#include "args.h"
#include "log.h"
#include "mounts.h"
#include "proc.h"
#include "setup.h"

#define CONSOLE "/dev/console"
#define DEBUG_SHELL "/bin/sh"
#define OVERLAY_STATE_DIR "/run/init/overlay"
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The kernel hands init at most 32 environment strings. */
#define MAX_ENV 40
#define CGROUP_ROOT "/sys/fs/cgroup"
/* How long leftovers get after SIGTERM, and after SIGKILL (a process in
 * uninterruptible sleep must not keep the VM up forever).  Both end early
 * once init has no children left. */
#define TERM_GRACE_MS 2000
#define KILL_GRACE_MS 2000

struct init {
	int sfd;		/* signalfd; -1: fall back to sigtimedwait() */
	pid_t program;		/* 0 once reaped */
	pid_t shell;		/* -d shell, 0 if none */
	const char *program_path;
	struct entropy_read entropy;	/* -e, read beside the program's start */
};

static void setup_filesystems(const struct init_args *a)
{
	struct error err = { 0 };
	int r;

	for (size_t i = 0; i < init_mounts_count; i++) {
		error_clear(&err);
		r = mount_entry_apply(&init_mounts[i], &err);
		/* Right after /dev exists; kmsg stays open from then on. */
		if (log_fd() < 0)
			log_open();
		if (r < 0)
			log_err("%s", error_text(&err));
		else if (r == MOUNT_ALREADY)
			log_debug("%s already mounted", init_mounts[i].target);
		else if (r == MOUNT_DONE_NO_DATA)
			log_warning("%s mounted without `%s' (not supported)", init_mounts[i].target,
				    init_mounts[i].data);
	}
	if (log_fd() < 0)
		log_warning("cannot open /dev/kmsg, logging to stderr");

	error_clear(&err);
	r = devkmsg_unlimit(&err);
	if (r < 0)
		log_warning("printk_devkmsg: %s", error_text(&err));

	for (size_t i = 0; i < init_symlinks_count; i++) {
		error_clear(&err);
		if (symlink_entry_apply(&init_symlinks[i], &err) < 0)
			log_warning("%s", error_text(&err));
	}

	char enabled[128];
	error_clear(&err);
	r = cgroup_enable_controllers(CGROUP_ROOT, enabled, sizeof(enabled), &err);
	if (r < 0)
		log_warning("cgroup controllers: %s%s%s", error_text(&err),
			    enabled[0] ? "; enabled: " : "", enabled);
	else
		log_info("cgroup controllers enabled: %s", r ? enabled : "none");

	if (a->writable_etc_var) {
		static const char *const dirs[] = { "/etc", "/var" };
		for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
			error_clear(&err);
			if (overlay_make_writable(dirs[i], OVERLAY_STATE_DIR, &err) < 0)
				log_err("-w: %s", error_text(&err));
		}
	}
}

/* Give the program a console on the stdio fds the kernel left closed (held
 * since the start), or /dev/null: never a closed one, or its first open()
 * would become its stdin. */
static void setup_stdio(int held, const struct error *hold_err)
{
	struct error err = { 0 };

	if (held < 0) {
		log_err("stdio: %s", error_text(hold_err));
		return;
	}
	int r = stdio_fill((unsigned)held, CONSOLE, &err);
	if (r < 0) {
		log_warning("stdio: %s; using /dev/null", error_text(&err));
		error_clear(&err);
		r = stdio_fill((unsigned)held, "/dev/null", &err);
		if (r < 0)
			log_err("stdio: %s", error_text(&err));
	} else if (r > 0) {
		log_info("stdio: opened %s for %d closed descriptor(s)", CONSOLE, r);
	}
}

static void setup_system(void)
{
	struct error err = { 0 };
	unsigned long nofile;

	if (netif_up("lo", &err) < 0)
		log_warning("lo: %s", error_text(&err));

	error_clear(&err);
	if (nofile_raise(&nofile, &err) < 0)
		log_warning("%s", error_text(&err));

	/* Ctrl-Alt-Del becomes SIGINT to init instead of an instant reboot. */
	if (reboot(RB_DISABLE_CAD) < 0)
		log_warning("disable Ctrl-Alt-Del: %s", strerror(errno));

	if (chdir("/") < 0)
		log_warning("chdir /: %s", strerror(errno));
}

static void entropy_report(uint32_t port, int r, size_t got, const struct error *err)
{
	if (r < 0)
		log_warning("entropy from vsock port %u: %s", port, error_text(err));
	else
		log_info("added %zu bytes of entropy from vsock port %u", got, port);
}

/* Dial the entropy port without waiting: the program starts meanwhile.  The
 * kernel's pool is already seeded (RDRAND, the boot loader's seed), so
 * nothing the program does waits for these bytes; they only add to it. */
static void entropy_start(struct init *in, uint32_t port)
{
	struct error err = { 0 };

	int r = entropy_begin(&in->entropy, port, &err);
	if (r < 0)
		entropy_report(port, r, 0, &err);
}

/* The entropy socket was ready, or its time ran out. */
static void entropy_step(struct init *in)
{
	struct error err = { 0 };
	size_t got;

	int r = entropy_continue(&in->entropy, &got, &err);
	if (r <= 0)
		entropy_report(in->entropy.port, r, got, &err);
}

/* Wait for the next signal(s) for at most timeout_ms (-1: forever) and
 * forward termination requests; SIGCHLD is left to reap(). */
static void wait_event(struct init *in, int timeout_ms);

/* Reap every child that has exited.  Returns true when init has no children
 * left at all. */
static bool reap(struct init *in);

static void kill_all_and_wait(struct init *in, int sig, int grace_ms)
{
	if (kill(-1, sig) < 0 && errno != ESRCH)
		log_warning("kill(-1, %d): %s", sig, strerror(errno));
	long long deadline = monotonic_ms() + grace_ms;
	while (!reap(in)) {
		long long left = deadline - monotonic_ms();
		if (left <= 0)
			return;
		wait_event(in, (int)left);
	}
}

static _Noreturn void power_off(struct init *in, const char *why)
{
	log_notice("%s; powering off", why);
	in->program = 0;
	/* A program that exits at once must not leave the entropy port (the
	 * host's connection) half done; this takes at most its deadline. */
	while (in->entropy.fd >= 0) {
		struct pollfd pfd = { .fd = in->entropy.fd, .events = entropy_events(&in->entropy) };
		if (poll(&pfd, 1, entropy_left_ms(&in->entropy)) < 0 && errno != EINTR)
			entropy_end(&in->entropy);
		else
			entropy_step(in);
	}

	kill_all_and_wait(in, SIGTERM, TERM_GRACE_MS);
	if (!reap(in)) {
		kill_all_and_wait(in, SIGKILL, KILL_GRACE_MS);
		if (!reap(in))
			log_warning("processes left after SIGKILL; powering off anyway");
	}
	sync();
	reboot(RB_POWER_OFF);
	/* Never exit: PID 1 exiting panics the kernel.  Keep reaping. */
	log_err("power off: %s", strerror(errno));
	for (;;) {
		wait_event(in, -1);
		reap(in);
	}
}

static void child_exited(struct init *in, pid_t pid, int status)
{
	char line[512];

	if (in->program > 0 && pid == in->program) {
		in->program = 0;
		exit_status_format(line, sizeof(line), in->program_path, status);
		power_off(in, line);
	}
	if (in->shell > 0 && pid == in->shell) {
		in->shell = 0;
		exit_status_format(line, sizeof(line), "debug shell " DEBUG_SHELL, status);
		log_info("%s", line);
		return;
	}
	log_debug("reaped orphan %d status %d", (int)pid, exit_code(status));
}

static bool reap(struct init *in)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			child_exited(in, pid, status);
			continue;
		}
		if (pid == 0)
			return false;
		if (errno == EINTR)
			continue;
		if (errno != ECHILD)
			log_err("waitpid: %s", strerror(errno));
		return true;
	}
}

static void forward_termination(struct init *in, int sig)
{
	if (in->program <= 0)
		return;
	log_info("got signal %d; sending SIGTERM to %s", sig, in->program_path);
	if (kill(in->program, SIGTERM) < 0)
		log_warning("kill %d: %s", (int)in->program, strerror(errno));
}

static void wait_event(struct init *in, int timeout_ms)
{
	struct signalfd_siginfo si[8];

	if (in->sfd < 0) {
		/* Degraded mode: the same blocked signals, taken one at a time. */
		struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };
		sigset_t all;
		sigfillset(&all);
		int sig = sigtimedwait(&all, NULL, timeout_ms < 0 ? NULL : &ts);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGPWR)
			forward_termination(in, sig);
		return;
	}
	if (in->entropy.fd >= 0) {
		struct pollfd pfd[2] = {
			{ .fd = in->sfd, .events = POLLIN },
			{ .fd = in->entropy.fd, .events = entropy_events(&in->entropy) },
		};
		int left = entropy_left_ms(&in->entropy);
		int r = poll(pfd, 2, timeout_ms < 0 || left < timeout_ms ? left : timeout_ms);
		if (r < 0)
			return;
		if (pfd[1].revents || left == 0)
			entropy_step(in);
		if (!(pfd[0].revents & POLLIN))
			return;
	} else if (timeout_ms >= 0) {
		struct pollfd pfd = { .fd = in->sfd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return;
	}
	ssize_t n = read(in->sfd, si, sizeof(si));
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN) {
			log_err("signalfd read: %s; reaping without it", strerror(errno));
			in->sfd = -1;
		}
		return;
	}
	for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
		int sig = (int)si[i].ssi_signo;
		switch (sig) {
		case SIGCHLD:
			break; /* reaped by the caller */
		case SIGTERM:
		case SIGINT:
		case SIGPWR:
			forward_termination(in, sig);
			break;
		default:
			log_debug("ignoring signal %d from pid %u", sig, si[i].ssi_pid);
			break;
		}
	}
}

static void start_debug_shell(struct init *in)
{
	static char sh[] = DEBUG_SHELL;
	static char *argv[] = { sh, NULL };
	struct error err = { 0 };

	pid_t pid = spawn_process(argv, CONSOLE, &err);
	if (pid < 0) {
		log_err("debug shell: %s", error_text(&err));
		return;
	}
	in->shell = pid;
	log_info("debug shell %s started, pid %d", DEBUG_SHELL, (int)pid);
}

int main(int argc, char **argv)
{
	struct init_args args;
	struct init in = { .sfd = -1, .entropy = { .fd = -1 } };
	struct error err = { 0 };
	sigset_t all;

	if (getpid() != 1) {
		/* kill(-1) at power-off would take the whole host with it. */
		fprintf(stderr, "init: must run as PID 1\n");
		return 1;
	}
	/* Before anything else opens a file. */
	struct error hold_err = { 0 };
	int held = stdio_hold_closed(&hold_err);
	init_args_parse(&args, argc, argv);
	in.program_path = args.argv[0];

	/* Before anything can fork: signals sent from now on queue up for the
	 * signalfd, none is lost. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	in.sfd = signalfd(-1, &all, SFD_CLOEXEC);
	int sfd_errno = errno;

	/* The kernel gives init no PATH; children get a usual one.  A static
	 * array: setenv() would pull malloc into a binary that needs none. */
	static char path_entry[] = DEFAULT_PATH;
	static char *env[MAX_ENV];
	env_with_default_path(env, ARRAY_SIZE(env), environ, path_entry);
	environ = env;

	umask(022);
	setup_filesystems(&args);
	setup_stdio(held, &hold_err);
	if (in.sfd < 0)
		log_err("signalfd: %s; reaping without it", strerror(sfd_errno));
	for (unsigned i = 0; i < args.n_warnings; i++)
		log_warning("%s", args.warnings[i]);
	if (args.n_dropped)
		log_warning("%u more argument warnings", args.n_dropped);
	setup_system();
	/* Without a signalfd there is no event loop to take the entropy in
	 * beside the program: take it first, as before. */
	if (args.have_entropy_port && in.sfd < 0) {
		size_t got;
		error_clear(&err);
		int r = entropy_from_host(args.entropy_port, &got, &err);
		entropy_report(args.entropy_port, r, got, &err);
	}

	if (args.debug_shell)
		start_debug_shell(&in);

	in.program = spawn_process(args.argv, NULL, &err);
	if (in.program < 0) {
		char line[ERROR_MSG_MAX + 64];
		in.program = 0;
		snprintf(line, sizeof(line), "cannot start %s: %s", in.program_path,
			 error_text(&err));
		power_off(&in, line);
	}
	log_info("started %s, pid %d", in.program_path, (int)in.program);
	if (args.have_entropy_port && in.sfd >= 0)
		entropy_start(&in, args.entropy_port);

	for (;;) {
		reap(&in);
		wait_event(&in, -1);
	}
}
