/* SPDX-License-Identifier: MIT */
/*
 * lcow-vsockd: a vhost-user back-end for QEMU's vhost-user-vsock-pci that
 * maps guest vsock streams onto unix sockets (the hybrid convention), so the
 * LCOW image can be tested where there is no /dev/vhost-vsock.
 *
 *   lcow-vsockd --socket VHOST_USER_PATH --uds BASE_PATH [--guest-cid N]
 *               [--log FILE] [-v]
 *
 * Prints "lcow-vsockd: ready" once both sockets exist; exits 0 when QEMU
 * disconnects or on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "lcow/error.h"
#include "log.h"
#include "vsockd.h"

struct sigsrc {
	struct evsrc ev;
	int fd;
	int signo; /* 0 until a signal arrives */
};

static void sig_event(struct evsrc *src, uint32_t events)
{
	struct sigsrc *s = container_of(src, struct sigsrc, ev);
	struct signalfd_siginfo si;
	(void)events;

	while (read(s->fd, &si, sizeof(si)) == sizeof(si))
		s->signo = (int)si.ssi_signo;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: lcow-vsockd --socket VHOST_USER_PATH --uds BASE_PATH [--guest-cid N]\n"
		   "                   [--log FILE] [-v]\n"
		   "  --socket PATH   listen here for QEMU's vhost-user-vsock-pci chardev\n"
		   "  --uds BASE      host side: guest port P dials BASE_P; clients connect to\n"
		   "                  BASE and write \"CONNECT <port>\\n\" to reach the guest\n"
		   "  --guest-cid N   the guest's CID (default 3)\n"
		   "  --log FILE      append log lines here instead of stderr\n"
		   "  -v              debug logging\n");
}

static int parse_cid(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v <= 2 || v >= 0xffffffffull)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Each connection holds one fd; make room for thousands. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "uds", required_argument, NULL, 'u' },
		{ "guest-cid", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = NULL, *uds_base = NULL, *log_path = NULL;
	struct vsock_config cfg = { .guest_cid = 3 };
	int verbose = 0, opt;

	while ((opt = getopt_long(argc, argv, "s:u:c:l:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'u':
			uds_base = optarg;
			break;
		case 'c':
			if (parse_cid(optarg, &cfg.guest_cid) < 0) {
				fprintf(stderr, "lcow-vsockd: bad guest cid '%s'\n", optarg);
				return 2;
			}
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!socket_path || !uds_base || optind != argc) {
		usage(stderr);
		return 2;
	}
	cfg.uds_base = uds_base;

	_cleanup_fclose_ FILE *logf = NULL;
	if (log_path) {
		logf = fopen(log_path, "ae");
		if (!logf) {
			fprintf(stderr, "lcow-vsockd: open %s: %s\n", log_path, strerror(errno));
			return 1;
		}
	}
	vlog_init(logf, verbose);

	/* Signals arrive through the loop; SIGPIPE never (sends use
	 * MSG_NOSIGNAL, but be sure). */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	struct sigsrc sig = { .ev.handler = sig_event };
	sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig.fd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return 1;
	}

	struct error err = { 0 };
	int vu_fd = uds_listen(socket_path, 1, &err);
	if (vu_fd < 0) {
		log_err("vhost-user socket: %s", error_text(&err));
		return 1;
	}
	int uds_fd = uds_listen(uds_base, SOMAXCONN, &err);
	if (uds_fd < 0) {
		log_err("host socket: %s", error_text(&err));
		close(vu_fd);
		unlink(socket_path);
		return 1;
	}

	struct vsockd *d;
	int r = vsockd_new(&d, &cfg, vu_fd, uds_fd, &err);
	if (r < 0) {
		log_err("%s", error_text(&err));
		unlink(socket_path);
		unlink(uds_base);
		return 1;
	}
	r = evloop_add(vsockd_epfd(d), sig.fd, EPOLLIN, &sig.ev);
	if (r < 0) {
		log_err("epoll add signalfd: %s", strerror(-r));
		goto out;
	}

	printf("lcow-vsockd: ready\n");
	fflush(stdout);
	log_info("listening on %s (vhost-user) and %s (host), guest cid %llu", socket_path,
		 uds_base, (unsigned long long)cfg.guest_cid);

	while (!sig.signo && !vsockd_done(d)) {
		r = vsockd_run_once(d, -1);
		if (r < 0) {
			log_err("epoll_wait: %s", strerror(-r));
			break;
		}
	}
	if (sig.signo)
		log_info("%s, exiting", strsignal(sig.signo));
	else if (r >= 0)
		log_info("front-end gone, exiting");

out:
	vsockd_free(d);
	close(sig.fd);
	unlink(socket_path);
	unlink(uds_base);
	return r < 0 ? 1 : 0;
}
