/* SPDX-License-Identifier: MIT */
/*
 * `lcowctl exec`: what `docker exec` does through hcsshim.  Listen on three
 * stdio ports, ExecuteProcess, relay our stdio to the guest's connections,
 * WaitForProcess, exit with the process's code.  A small poll() loop: it
 * also copes with stdin/stdout being regular files (always ready).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "ctl.h"
#include "gcs-client.h"
#include "lcowctl.h"
#include "transport.h"

#define RELAY_BUF 65536
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* One direction of one stdio stream. */
struct relay {
	const char *name;
	bool used;     /* the process has this stream */
	bool to_guest; /* stdin: local → guest; else guest → local */
	uint32_t port;
	int lfd;    /* listener until the guest dials in */
	char *path; /* its unix socket, unlinked once accepted */
	int gfd;    /* the guest's connection */
	int local;  /* our 0/1/2, -1 when closed */
	bool connected;
	bool src_eof;	 /* nothing more will be read */
	bool dst_broken; /* writes fail: discard */
	bool done;
	char *buf;
	size_t off, len;
};

struct exec_state {
	struct ctl_client cc;
	struct relay r[3];
	int sfd;
	bool tty;
	uint32_t pid;
	bool have_pid, waited;
	uint32_t exit_code;
	int signals;
	const char *id;
	const char *pid_file; /* --pid-file: written once the process runs */
	/* Restored at exit. */
	bool raw;
	struct termios saved_tio;
	int saved_fl[3];
};

static void relay_close_guest(struct relay *r)
{
	if (r->gfd >= 0)
		close(r->gfd);
	r->gfd = -1;
}

static void exec_cleanup(struct exec_state *st)
{
	for (int i = 0; i < 3; i++) {
		struct relay *r = &st->r[i];
		if (r->lfd >= 0)
			close(r->lfd);
		if (r->path)
			unlink(r->path);
		free(r->path);
		relay_close_guest(r);
		free(r->buf);
		if (st->saved_fl[i] >= 0)
			fcntl(i, F_SETFL, st->saved_fl[i]);
	}
	if (st->raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &st->saved_tio);
	if (st->sfd >= 0)
		close(st->sfd);
	ctl_client_close(&st->cc);
}

static int send_ctl(struct exec_state *st, const char *tag, uint32_t type, json_t *body)
{
	struct error err = {0};
	_cleanup_(json_decrefp) json_t *req =
	    json_pack("{s:s, s:s, s:I, s:O}", "op", "request", "tag", tag, "type", (json_int_t)type,
		      "body", body);
	if (!req || ctl_client_send(&st->cc, req, &err) < 0) {
		fprintf(stderr, "lcowctl exec: %s\n", req ? error_text(&err) : "out of memory");
		return EXIT_TRANSPORT;
	}
	return 0;
}

static bool window_size(uint16_t *h, uint16_t *w)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return false;
	*h = ws.ws_row;
	*w = ws.ws_col;
	return ws.ws_row && ws.ws_col;
}

static int send_resize(struct exec_state *st)
{
	uint16_t h, w;
	if (!st->have_pid || !window_size(&h, &w))
		return 0;
	struct error err = {0};
	_cleanup_(json_decrefp) json_t *body = NULL;
	if (gcs_build_resize(&body, st->id, st->pid, h, w, &err) < 0)
		return 0; /* a missed resize is cosmetic */
	return send_ctl(st, "resize", MSG_RESIZE_CONSOLE, body);
}

/* A control reply: the answers to our tagged requests. */
/* The pid once ExecuteProcess is answered (the process runs; for a
 * container's first process, the container has started), written to a
 * temporary name and renamed so a reader never sees half a number. */
static int write_pid_file(const char *path, uint32_t pid)
{
	size_t n = strlen(path);
	_cleanup_free_ char *tmp = malloc(n + 8);
	if (!tmp)
		return EXIT_TRANSPORT;
	snprintf(tmp, n + 8, "%s.tmp", path);
	_cleanup_fclose_ FILE *f = fopen(tmp, "we");
	if (!f || fprintf(f, "%" PRIu32 "\n", pid) < 0 || fflush(f) != 0) {
		fprintf(stderr, "lcowctl exec: --pid-file %s: %m\n", tmp);
		return EXIT_TRANSPORT;
	}
	if (rename(tmp, path) < 0) {
		fprintf(stderr, "lcowctl exec: --pid-file %s: %m\n", path);
		unlink(tmp);
		return EXIT_TRANSPORT;
	}
	return 0;
}

static int handle_reply(struct exec_state *st, json_t *reply)
{
	const char *tag = json_string_value(json_object_get(reply, "tag"));
	if (!tag)
		return 0;
	bool ok = json_is_true(json_object_get(reply, "ok"));
	json_t *resp = json_object_get(reply, "response");
	bool essential = strcmp(tag, "exec") == 0 || strcmp(tag, "wait") == 0;
	if (!ok || !json_is_object(resp)) {
		if (!essential)
			return 0;
		const char *msg = json_string_value(json_object_get(reply, "error"));
		fprintf(stderr, "lcowctl exec: %s\n", msg ? msg : "bad reply from serve");
		return EXIT_TRANSPORT;
	}
	if (!essential)
		return 0;
	int r = client_result_exit(resp);
	if (r)
		return r;

	if (strcmp(tag, "exec") == 0) {
		json_t *pid = json_object_get(resp, "ProcessId");
		if (!json_is_integer(pid) || json_integer_value(pid) < 0 ||
		    json_integer_value(pid) > UINT32_MAX) {
			fprintf(stderr,
				"lcowctl exec: ExecuteProcess response without a ProcessId\n");
			return EXIT_TRANSPORT;
		}
		st->pid = (uint32_t)json_integer_value(pid);
		st->have_pid = true;
		if (st->pid_file && (r = write_pid_file(st->pid_file, st->pid)))
			return r;
		if (st->tty && (r = send_resize(st)))
			return r;
		/* Answered once the process exits and its output drained. */
		struct error err = {0};
		_cleanup_(json_decrefp) json_t *body = NULL;
		if (gcs_build_wait(&body, st->id, st->pid, GCS_INFINITE, &err) < 0) {
			fprintf(stderr, "lcowctl exec: %s\n", error_text(&err));
			return EXIT_TRANSPORT;
		}
		return send_ctl(st, "wait", MSG_WAIT_FOR_PROCESS, body);
	}
	json_t *code = json_object_get(resp, "ExitCode");
	st->exit_code = json_is_integer(code) ? (uint32_t)json_integer_value(code) : 255;
	st->waited = true;
	return 0;
}

static int handle_signal(struct exec_state *st)
{
	struct signalfd_siginfo si;
	while (read(st->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGWINCH) {
			int r = st->tty ? send_resize(st) : 0;
			if (r)
				return r;
			continue;
		}
		/* First SIGINT/SIGTERM/SIGHUP goes to the process (as docker's
		 * sig-proxy); a second one, or one before it exists, ends us. */
		if (!st->have_pid || ++st->signals > 1)
			return 128 + sig;
		struct error err = {0};
		_cleanup_(json_decrefp) json_t *body = NULL;
		if (gcs_build_signal(&body, st->id, st->pid, sig, &err) == 0) {
			int r = send_ctl(st, "signal", MSG_SIGNAL_PROCESS, body);
			if (r)
				return r;
		}
	}
	return 0;
}

/* Source and destination fds of a relay right now (-1 = none yet). */
static int relay_src(const struct relay *r)
{
	return r->to_guest ? r->local : r->gfd;
}

static int relay_dst(const struct relay *r)
{
	return r->to_guest ? r->gfd : r->local;
}

static void relay_finish(struct relay *r)
{
	if (r->to_guest && r->gfd >= 0)
		shutdown(r->gfd, SHUT_WR); /* the process sees EOF on stdin */
	if (!r->to_guest)
		relay_close_guest(r);
	r->done = true;
}

static void relay_read(struct relay *r)
{
	if (r->off > 0 && r->off == r->len)
		r->off = r->len = 0;
	if (r->len == RELAY_BUF && r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	if (r->len == RELAY_BUF)
		return;
	ssize_t n = read(relay_src(r), r->buf + r->len, RELAY_BUF - r->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n < 0 && !r->to_guest)
			fprintf(stderr, "lcowctl exec: guest %s: %m\n", r->name);
		r->src_eof = true;
		return;
	}
	r->len += (size_t)n;
	if (r->dst_broken)
		r->off = r->len = 0;
}

static void relay_write(struct relay *r)
{
	while (r->off < r->len) {
		ssize_t n = write(relay_dst(r), r->buf + r->off, r->len - r->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			/* The reader went away: stop sending; for output keep
			 * draining the guest so it never blocks on us. */
			r->dst_broken = true;
			r->off = r->len = 0;
			if (r->to_guest)
				r->src_eof = true;
			return;
		}
		r->off += (size_t)n;
	}
}

static void relay_accept(struct relay *r)
{
	int fd;
	struct error err = {0};
	if (accept_conn(r->lfd, &fd, &err) < 0)
		return;
	/* One connection per stream, as hcsshim: stop listening. */
	close(r->lfd);
	r->lfd = -1;
	if (r->path)
		unlink(r->path);
	r->gfd = fd;
	r->connected = true;
}

static bool finished(const struct exec_state *st)
{
	if (!st->waited)
		return false;
	for (int i = 1; i < 3; i++) {
		const struct relay *r = &st->r[i];
		if (r->used && r->connected && !(r->done && r->off == r->len))
			return false;
	}
	return true;
}

static int exec_loop(struct exec_state *st)
{
	for (;;) {
		struct pollfd pfd[12];
		int idx[12]; /* what each entry is: -1 ctl, -2 signals, 10+i listener, 20+i src,
				30+i dst */
		int n = 0;
		pfd[n] = (struct pollfd){.fd = st->cc.fd, .events = POLLIN};
		idx[n++] = -1;
		pfd[n] = (struct pollfd){.fd = st->sfd, .events = POLLIN};
		idx[n++] = -2;
		for (int i = 0; i < 3; i++) {
			struct relay *r = &st->r[i];
			if (!r->used || r->done)
				continue;
			if (r->lfd >= 0) {
				pfd[n] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
				idx[n++] = 10 + i;
			}
			if (!r->src_eof && relay_src(r) >= 0 &&
			    (r->len < RELAY_BUF || r->off > 0)) {
				pfd[n] = (struct pollfd){.fd = relay_src(r), .events = POLLIN};
				idx[n++] = 20 + i;
			}
			if (r->len > r->off && relay_dst(r) >= 0) {
				pfd[n] = (struct pollfd){.fd = relay_dst(r), .events = POLLOUT};
				idx[n++] = 30 + i;
			}
		}

		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "lcowctl exec: poll: %m\n");
			return EXIT_TRANSPORT;
		}
		for (int k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			int what = idx[k];
			if (what == -1) {
				struct error err = {0};
				int r = ctl_client_read_some(&st->cc, &err);
				json_t *reply;
				while (r >= 0 && (r = ctl_client_next(&st->cc, &reply, &err)) > 0) {
					int code = handle_reply(st, reply);
					json_decref(reply);
					if (code)
						return code;
				}
				if (r < 0) {
					fprintf(stderr, "lcowctl exec: %s\n", error_text(&err));
					return EXIT_TRANSPORT;
				}
			} else if (what == -2) {
				int code = handle_signal(st);
				if (code)
					return code;
			} else if (what >= 30) {
				relay_write(&st->r[what - 30]);
			} else if (what >= 20) {
				relay_read(&st->r[what - 20]);
			} else {
				relay_accept(&st->r[what - 10]);
			}
		}
		for (int i = 0; i < 3; i++) {
			struct relay *r = &st->r[i];
			if (!r->used || r->done)
				continue;
			/* Pass on what we read right away (often possible). */
			if (r->len > r->off && relay_dst(r) >= 0)
				relay_write(r);
			if (r->src_eof && r->off == r->len && (r->connected || !r->to_guest))
				relay_finish(r);
		}
		if (finished(st))
			return EXIT_OK;
	}
}

static void exec_usage(FILE *f)
{
	fputs("usage: lcowctl exec [ID] [--uvm] [-t|--tty] [-n|--no-stdin] [--cwd DIR] [--env "
	      "K=V]...\n"
	      "                    [--user U] [--pid-file F] -- CMD [ARG...]\n"
	      "\n"
	      "Run CMD in container ID (or, with --uvm, in the utility VM; ID then defaults\n"
	      "to the VM) like `docker exec`: relays this process's stdin/stdout/stderr\n"
	      "to the process over stdio ports that serve hands out, waits for it and\n"
	      "exits with its exit code.  stdin EOF closes the process's stdin.\n"
	      "\n"
	      "  --uvm            CreateInUtilityVM (else an OciProcess for the container)\n"
	      "  -t, --tty        EmulateConsole: a pty in the guest; the local terminal goes\n"
	      "                   raw and SIGWINCH becomes ResizeConsole\n"
	      "  -n, --no-stdin   no stdin pipe (CreateStdInPipe false)\n"
	      "  --cwd DIR        working directory (default /)\n"
	      "  -e, --env K=V    environment (repeatable; PATH has a default)\n"
	      "  -u, --user U     uid[:gid] or a user name\n"
	      "  --pid-file F     write the process's pid to F once it runs (the guest\n"
	      "                   answered ExecuteProcess)\n"
	      "Exit status: the process's exit code; 1 if the guest refused, 2 usage,\n"
	      "3 transport.  SIGINT/SIGTERM are passed to the process once.\n"
	      "\ncommon options:\n" CLIENT_COMMON_HELP,
	      f);
}

static int setup_relays(struct exec_state *st, json_t *ports_reply)
{
	json_t *ports = json_object_get(ports_reply, "ports");
	const char *transport = json_string_value(json_object_get(ports_reply, "transport"));
	struct transport t = {
	    .vsock = transport && strcmp(transport, "vsock") == 0,
	    .base = json_string_value(json_object_get(ports_reply, "base")),
	};
	if (json_array_size(ports) != 3 || (!t.vsock && !t.base)) {
		fprintf(stderr, "lcowctl exec: bad port reply from serve\n");
		return EXIT_TRANSPORT;
	}
	for (int i = 0; i < 3; i++) {
		struct relay *r = &st->r[i];
		if (!r->used)
			continue;
		r->port = (uint32_t)json_integer_value(json_array_get(ports, (size_t)i));
		struct error err = {0};
		if (transport_listen(&t, r->port, &r->lfd, &r->path, &err) < 0) {
			fprintf(stderr, "lcowctl exec: %s listener: %s\n", r->name,
				error_text(&err));
			return EXIT_TRANSPORT;
		}
		r->buf = malloc(RELAY_BUF);
		if (!r->buf) {
			fprintf(stderr, "lcowctl exec: out of memory\n");
			return EXIT_TRANSPORT;
		}
	}
	return 0;
}

/* Local side: non-blocking stdio (restored at exit), raw tty, signals. */
static int setup_local(struct exec_state *st)
{
	for (int i = 0; i < 3; i++) {
		if (!st->r[i].used)
			continue;
		st->saved_fl[i] = fcntl(i, F_GETFL);
		if (st->saved_fl[i] < 0) {
			st->r[i].local = -1; /* closed: EOF / discard */
			if (i == 0)
				st->r[i].src_eof = true;
			else
				st->r[i].dst_broken = true;
			continue;
		}
		fcntl(i, F_SETFL, st->saved_fl[i] | O_NONBLOCK);
	}
	if (st->tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &st->saved_tio) == 0) {
		struct termios raw = st->saved_tio;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
			st->raw = true;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	st->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (st->sfd < 0) {
		fprintf(stderr, "lcowctl exec: signalfd: %m\n");
		return EXIT_TRANSPORT;
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int cmd_exec(int argc, char **argv, struct client_opts *g)
{
	static const struct option opts[] = {
	    CLIENT_COMMON_LONGOPTS,
	    {"uvm", no_argument, NULL, 'U'},
	    {"tty", no_argument, NULL, 't'},
	    {"no-stdin", no_argument, NULL, 'n'},
	    {"cwd", required_argument, NULL, 'w'},
	    {"env", required_argument, NULL, 'e'},
	    {"user", required_argument, NULL, 'u'},
	    {"pid-file", required_argument, NULL, 'P'},
	    {0},
	};
	struct gcs_process_spec spec = {.stdin_pipe = true, .stdout_pipe = true};
	_cleanup_free_ const char **env = calloc((size_t)argc + 2, sizeof(char *));
	if (!env)
		return EXIT_TRANSPORT;
	bool no_stdin = false;
	const char *pid_file = NULL;

	/* Options end at "--"; before it at most the ID is positional. */
	int dd = argc;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	optind = 0; /* 0: glibc re-initialises its getopt state */
	opterr = 0;
	int c;
	/* Without "--", stop at the first positional: ID, then the command. */
	const char *shortopts = dd < argc ? ":c:htnw:e:u:" : "+:c:htnw:e:u:";
	while ((c = getopt_long(dd, argv, shortopts, opts, NULL)) != -1) {
		int code = -1;
		switch (c) {
		case 'h':
			exec_usage(stdout);
			return EXIT_OK;
		case 'U':
			spec.in_uvm = true;
			break;
		case 't':
			spec.tty = true;
			break;
		case 'n':
			no_stdin = true;
			break;
		case 'w':
			spec.cwd = optarg;
			break;
		case 'e':
			env[spec.nenv++] = optarg;
			break;
		case 'u':
			spec.user = optarg;
			break;
		case 'P':
			pid_file = optarg;
			break;
		case '?':
		case ':':
			fprintf(stderr,
				"lcowctl exec: %s option `%s`\n(try `lcowctl exec --help`)\n",
				c == ':' ? "missing value for" : "unknown", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			if (client_common_opt(g, c, optarg, &code) && code >= 0)
				return code;
		}
	}
	int npos = dd - optind;
	char **cmdv;
	int cmdc;
	const char *id = NULL;
	if (dd < argc) {
		if (npos > 1 || (npos == 0 && !spec.in_uvm)) {
			fprintf(stderr, "lcowctl exec: expected ID -- CMD [ARG...]\n");
			return EXIT_USAGE;
		}
		id = npos ? argv[optind] : NULL;
		cmdv = argv + dd + 1;
		cmdc = argc - dd - 1;
	} else {
		/* No "--": [ID] CMD ARG..., the ID only without --uvm. */
		int k = optind;
		if (!spec.in_uvm && k < argc)
			id = argv[k++];
		cmdv = argv + k;
		cmdc = argc - k;
	}
	if (!id && !spec.in_uvm) {
		fprintf(stderr, "lcowctl exec: missing container ID (or --uvm)\n");
		return EXIT_USAGE;
	}
	if (cmdc < 1) {
		fprintf(stderr, "lcowctl exec: missing the command (after --)\n");
		return EXIT_USAGE;
	}
	bool has_path = false, has_term = false;
	for (size_t i = 0; i < spec.nenv; i++) {
		has_path |= strncmp(env[i], "PATH=", 5) == 0;
		has_term |= strncmp(env[i], "TERM=", 5) == 0;
	}
	if (!has_path)
		env[spec.nenv++] = DEFAULT_PATH;
	if (spec.tty && !has_term)
		env[spec.nenv++] = "TERM=xterm";
	spec.env = env;
	spec.args = (const char *const *)cmdv;
	spec.nargs = (size_t)cmdc;
	spec.stdin_pipe = !no_stdin;
	spec.stderr_pipe = !spec.tty; /* a pty carries stderr on stdout */
	if (spec.tty)
		window_size(&spec.tty_height, &spec.tty_width);

	struct error err = {0};
	/* All owned JSON up front: the gotos below must not skip a cleanup
	 * variable's initialisation. */
	_cleanup_(json_decrefp) json_t *params = NULL;
	_cleanup_(json_decrefp) json_t *ports_req = NULL;
	_cleanup_(json_decrefp) json_t *ports = NULL;
	_cleanup_(json_decrefp) json_t *body = NULL;
	if (gcs_build_process_params(&params, &spec, &err) < 0) {
		fprintf(stderr, "lcowctl exec: %s\n", error_text(&err));
		return err.errnum == EINVAL ? EXIT_USAGE : EXIT_TRANSPORT;
	}

	struct exec_state st = {.sfd = -1, .tty = spec.tty, .id = id, .pid_file = pid_file, .saved_fl = {-1, -1, -1}};
	static const char *const names[] = {"stdin", "stdout", "stderr"};
	bool used[3] = {spec.stdin_pipe, spec.stdout_pipe, spec.stderr_pipe};
	for (int i = 0; i < 3; i++)
		st.r[i] = (struct relay){.name = names[i],
					 .used = used[i],
					 .to_guest = i == 0,
					 .lfd = -1,
					 .gfd = -1,
					 .local = i};
	st.cc.fd = -1;

	int code = client_connect(g, &st.cc);
	if (code)
		return code;
	ports_req = json_pack("{s:s, s:i}", "op", "alloc-ports", "count", 3);
	if (ctl_client_send(&st.cc, ports_req, &err) < 0 ||
	    ctl_client_recv(&st.cc, &ports, g->rpc_timeout_ms, &err) < 0) {
		fprintf(stderr, "lcowctl exec: %s\n", error_text(&err));
		code = EXIT_TRANSPORT;
		goto out;
	}
	if (!json_is_true(json_object_get(ports, "ok"))) {
		const char *msg = json_string_value(json_object_get(ports, "error"));
		fprintf(stderr, "lcowctl exec: %s\n", msg ? msg : "serve refused stdio ports");
		code = EXIT_TRANSPORT;
		goto out;
	}
	if ((code = setup_relays(&st, ports)) || (code = setup_local(&st)))
		goto out;

	if (gcs_build_execute(&body, id, params, st.r[0].used ? st.r[0].port : 0,
			      st.r[1].used ? st.r[1].port : 0, st.r[2].used ? st.r[2].port : 0,
			      &err) < 0) {
		fprintf(stderr, "lcowctl exec: %s\n", error_text(&err));
		code = EXIT_TRANSPORT;
		goto out;
	}
	if ((code = send_ctl(&st, "exec", MSG_EXECUTE_PROCESS, body)))
		goto out;
	code = exec_loop(&st);
	if (code == EXIT_OK)
		code = st.exit_code > 255 ? 255 : (int)st.exit_code;
out:
	exec_cleanup(&st);
	return code;
}
