/* SPDX-License-Identifier: MIT */
/*
 * /bin/gcs: the guest compute service of the LCOW utility VM.  Dials the
 * host's bridge over vsock and serves the bridge protocol v4 on a single
 * thread.  See server.h for the pieces.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "flags.h"
#include "lcow/cleanup.h"
#include "log.h"
#include "loop.h"
#include "server.h"
#include "kmsg/kmsg.h"
#include "timesync/timesync.h"

struct signals {
	struct loop_source src;
	int fd;
};

static void on_signal(struct loop_source *src, uint32_t events)
{
	(void)events;
	struct signalfd_siginfo si;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("signal received, exiting",
				 LOG_STR("signal", strsignal((int)si.ssi_signo)));
			loop_quit(src->loop, 0);
		}
	}
}

static int setup_signals(struct loop *l, struct signals *s, struct error *err)
{
	/* SIGPIPE: a host that hangs up mid-write is an error return, never
	 * a death. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return error_set(err, errno, "block signals");
	s->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->fd < 0)
		return error_set(err, errno, "signalfd");
	int r = loop_add(l, &s->src, s->fd, EPOLLIN, on_signal, s, err);
	if (r < 0) {
		close(s->fd);
		return r;
	}
	return 0;
}

struct power {
	struct loop *loop;
	bool for_real;	/* false with a test transport: never reboot a test host */
};

static void poweroff(void *ctx)
{
	struct power *p = ctx;
	if (!p->for_real) {
		log_info("test transport: exiting instead of powering off");
		loop_quit(p->loop, 0);
		return;
	}
	sync();
	reboot(RB_POWER_OFF);
	/* Still here: not allowed to (not root, or not in a VM). */
	log_error("power off failed", LOG_STR("error", strerror(errno)));
}

/* Whatever the agent inherited beyond stdio (from vsockexec, a debug
 * shell, a test harness) must not reach the processes it starts. */
static void cloexec_inherited_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		for (int fd = 3; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		return;
	}
	for (struct dirent *de; (de = readdir(d));) {
		int fd = atoi(de->d_name);
		if (fd > 2 && fd != dirfd(d))
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

static void apply_core_pattern(const char *pattern)
{
	_cleanup_close_ int fd = open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, pattern, strlen(pattern)) < 0)
		log_warning("cannot set the core dump location", LOG_STR("pattern", pattern),
			    LOG_STR("error", strerror(errno)));
}

int main(int argc, char **argv)
{
	cloexec_inherited_fds();

	struct gcs_flags f;
	flags_defaults(&f);
	flags_parse(&f, argc, argv);
	if (f.help) {
		flags_usage(argv[0]);
		return 0;
	}

	int log_fd = 2;
	const char *log_file_error = NULL;
	if (f.log_file && *f.log_file) {
		int fd = open(f.log_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0)
			log_fd = fd;
		else
			log_file_error = strerror(errno);
	}
	log_setup(log_fd, f.log_level, f.log_format);
	log_info("gcs started", LOG_STR("loglevel", log_level_name(f.log_level)),
		 LOG_BOOL("v4", f.v4), LOG_I64("pid", getpid()));
	for (unsigned i = 0; i < f.n_warnings; i++)
		log_warning(f.warnings[i]);
	if (log_file_error)
		log_warning("cannot open the log file, logging to stderr",
			    LOG_STR("path", f.log_file), LOG_STR("error", log_file_error));
	if (!f.v4)
		log_info("-v4 not given; serving bridge protocol v4 regardless");
	if (f.use_inouterr)
		log_warning("-use-inouterr is not supported; dialing the bridge over vsock");
	if (f.initial_policy_stance && strcmp(f.initial_policy_stance, "allow") != 0)
		log_warning("security policies are not supported; running with an open policy",
			    LOG_STR("initial-policy-stance", f.initial_policy_stance));
	if (f.core_dump_location && *f.core_dump_location)
		apply_core_pattern(f.core_dump_location);

	struct error err = { 0 };
	struct loop loop;
	struct signals sig;
	struct server srv;
	struct dialer dialer;
	int r;

	if ((r = loop_init(&loop, &err)) < 0 || (r = setup_signals(&loop, &sig, &err)) < 0) {
		log_error("startup failed", LOG_ERR(&err));
		return 1;
	}
	/* Only the real bridge may power the machine off: the hidden test
	 * transports run on developer machines and CI, as root. */
	struct power power = {
		.loop = &loop,
		.for_real = f.bridge_fd < 0 && !f.bridge_unix,
	};
	struct server_config cfg = {
		.poweroff = poweroff,
		.poweroff_ctx = &power,
		.log_bodies = !f.scrub_logs,
		/* Containers only for real: a test transport means a build
		 * host, where the agent must not mount or spawn anything. */
		.manage_system = power.for_real,
		.pods_mem_reserve = f.root_mem_reserve_bytes,
		.agent_mem_threshold = f.gcs_mem_limit_bytes,
	};
	if (f.bridge_fd >= 0) {
		cfg.fd = f.bridge_fd;
	} else if (f.bridge_unix) {
		if (dialer_unix(&dialer, f.bridge_unix, &err) < 0) {
			log_error("startup failed", LOG_ERR(&err));
			return 1;
		}
		cfg.dialer = &dialer;
	} else {
		dialer_vsock(&dialer, f.bridge_cid, f.bridge_port);
		cfg.dialer = &dialer;
	}
	if ((r = server_init(&srv, &loop, &cfg, &err)) < 0) {
		log_error("startup failed", LOG_ERR(&err));
		return 1;
	}

	/* The kernel's log into the agent's, as hcsshim's gcs does. */
	struct kmsg_reader kmsg = { .fd = -1 };
	if (power.for_real) {
		unsigned level = f.kmsg_log_level > 7 ? 7 : (unsigned)f.kmsg_log_level;
		if (kmsg_start(&kmsg, &loop, "/dev/kmsg", level, &err) < 0)
			log_warning("the kernel log is not forwarded", LOG_ERR(&err));
		error_clear(&err);
	}

	/* hcsshim's gcs starts chronyd on the hyperv PTP clock here. */
	struct timesync ts = { .ptp_fd = -1 };
	if (f.disable_time_sync) {
		log_info("time sync disabled (-disable-time-sync)");
	} else if (power.for_real) {
		r = timesync_start(&ts, &loop, &err);
		if (r == -ENOENT)
			log_info("time sync: no PTP clock of the host (hyperv, KVM); the clock is not synchronized");
		else if (r < 0)
			log_warning("time sync not started", LOG_ERR(&err));
		error_clear(&err);
	}

	r = loop_run(&loop, &err);
	if (r < 0)
		log_error("event loop failed", LOG_ERR(&err));
	timesync_stop(&ts);
	kmsg_stop(&kmsg);
	server_fini(&srv);
	loop_remove(&sig.src);
	close(sig.fd);
	loop_fini(&loop);
	log_info("gcs exiting", LOG_I64("status", r < 0 ? 1 : r));
	return r < 0 ? 1 : r;
}
