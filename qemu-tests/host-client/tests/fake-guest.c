/* SPDX-License-Identifier: MIT */
/*
 * lcow-fake-guest: plays the guest side of the vsock ports for lcowctl's
 * tests, dialling "<BASE>_<port>" as lcow-vsockd would on the agent's
 * behalf.  Not an agent: it answers just enough of the protocol, records
 * every frame it receives, and misbehaves on request.
 *
 *   lcow-fake-guest entropy --uds BASE     read port 1 until EOF, print the count
 *   lcow-fake-guest log --uds BASE         copy stdin to port 109, then close
 *   lcow-fake-guest bridge --uds BASE [--record FILE] [--max-connections N]
 *                   [--negotiate-result HR]
 *   lcow-fake-guest raw PATH               stdin → unix socket PATH, half-close,
 *                                          then the socket → stdout (socat-like)
 *
 * bridge: dials port 0x40000000 (retrying every 100 ms like the agent),
 * answers requests, and re-dials whenever the host drops the connection.
 * A request body may carry "FakeGuest": {"Action": ...} to misbehave:
 *   hold        answer only after the next request has been answered
 *   notify      send a 0x30100101 notification first (ContainerId from
 *               FakeGuest.ContainerId or the request)
 *   bad-size    answer with a frame header whose Size is FakeGuest.Size
 *   bad-json    answer with a body that is not JSON
 *   unknown-id  first answer a request id nobody sent
 *   split       send the answer one byte per write
 *   disconnect  close the connection instead of answering
 *   result      answer Result FakeGuest.Result, ErrorMessage "fake failure"
 * ExecuteProcess forks a child that dials the stdio ports and runs
 * CommandArgs / OciProcess.args: "cat [CODE]" (stdin → stdout, exit CODE),
 * "echo ARGS", "stderr ARGS", "exit CODE", "sleep SEC".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "../ctl.h"
#include "../gcs-client.h"
#include "../transport.h"

static const char *base;
static int record_fd = -1;
static int32_t negotiate_result;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lcow-fake-guest: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Dial BASE_port; retry while nobody listens, as the agent does. */
static int dial(uint32_t port, int retry_ms)
{
	_cleanup_free_ char *path = NULL;
	struct error err = {0};
	if (transport_port_path(base, port, &path, &err) < 0)
		die("%s", error_text(&err));
	long long deadline = now_ms() + retry_ms;
	for (;;) {
		int fd;
		error_clear(&err);
		if (unix_connect(path, &fd, &err) == 0)
			return fd;
		if (now_ms() >= deadline)
			die("%s", error_text(&err));
		usleep(100 * 1000);
	}
}

/* Append j (taken) to the record file as one line. */
static void record(json_t *j)
{
	_cleanup_(json_decrefp) json_t *owned = j;
	if (record_fd < 0 || !owned)
		return;
	_cleanup_free_ char *text = json_dumps(owned, JSON_COMPACT);
	if (!text)
		return;
	size_t n = strlen(text);
	text[n] = '\n';
	if (write_all(record_fd, text, n + 1) < 0)
		die("write record: %m");
}

/* --- entropy / log ------------------------------------------------------ */

static int run_entropy(void)
{
	int fd = dial(BRIDGE_ENTROPY_PORT, 5000);
	char buf[4096];
	size_t total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	if (n < 0)
		die("read entropy: %m");
	printf("%zu\n", total);
	return 0;
}

static int run_log(void)
{
	int fd = dial(BRIDGE_LOG_PORT, 5000);
	char buf[4096];
	ssize_t n;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, (size_t)n) < 0)
			die("write log: %m");
	close(fd);
	return 0;
}

static int run_raw(const char *path)
{
	int fd;
	struct error err = {0};
	if (unix_connect(path, &fd, &err) < 0)
		die("%s", error_text(&err));
	char buf[4096];
	ssize_t n;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, (size_t)n) < 0)
			die("write: %m");
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			die("write: %m");
	return 0;
}

/* --- exec children ------------------------------------------------------ */

static void child_write(int fd, const char *s)
{
	if (fd >= 0)
		write_all(fd, s, strlen(s));
}

static __attribute__((noreturn)) void run_child(json_t *args, uint32_t ports[3])
{
	/* The parent blocks these for its signalfd; the process must not. */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	int fds[3] = {-1, -1, -1};
	for (int i = 0; i < 3; i++)
		if (ports[i])
			fds[i] = dial(ports[i], 2000);
	const char *cmd = json_string_value(json_array_get(args, 0));
	const char *arg1 = json_string_value(json_array_get(args, 1));
	int code = 0;
	if (!cmd) {
		child_write(fds[2], "fake-guest: no command\n");
		code = 127;
	} else if (strcmp(cmd, "cat") == 0) {
		char *buf = malloc(65536);
		ssize_t n;
		while (buf && fds[0] >= 0 && (n = read(fds[0], buf, 65536)) > 0)
			if (fds[1] >= 0 && write_all(fds[1], buf, (size_t)n) < 0)
				break;
		free(buf);
		code = arg1 ? atoi(arg1) : 0;
	} else if (strcmp(cmd, "echo") == 0 || strcmp(cmd, "stderr") == 0) {
		int fd = cmd[0] == 'e' ? fds[1] : fds[2];
		for (size_t i = 1; i < json_array_size(args); i++) {
			child_write(fd, i > 1 ? " " : "");
			child_write(fd, json_string_value(json_array_get(args, i)));
		}
		child_write(fd, "\n");
	} else if (strcmp(cmd, "exit") == 0) {
		code = arg1 ? atoi(arg1) : 0;
	} else if (strcmp(cmd, "sleep") == 0) {
		sleep(arg1 ? (unsigned)atoi(arg1) : 1);
	} else {
		child_write(fds[2], "fake-guest: unknown command\n");
		code = 127;
	}
	_exit(code);
}

/* --- bridge ------------------------------------------------------------- */

#define MAX_PROCS 64

struct proc {
	pid_t pid;
	bool exited;
	int code;
};

struct wait_req {
	uint64_t id;
	pid_t pid;
	long long deadline; /* -1 = forever */
	json_t *activity;
	bool used;
};

struct held {
	uint64_t id;
	uint32_t type;
	json_t *body;
	struct held *next;
};

struct conn {
	int fd;
	unsigned no;
	bool negotiated;
	bool closed;
	struct held *held;
};

static struct proc procs[MAX_PROCS];
static struct wait_req waits[MAX_PROCS];
static json_t *containers; /* object used as a set */

static void send_raw(struct conn *c, uint32_t type, uint32_t size, uint64_t id, const void *body,
		     size_t len, bool split)
{
	uint8_t hdr[BRIDGE_HEADER_SIZE];
	struct bridge_header h = {.type = type, .size = size, .id = id};
	bridge_header_encode(&h, hdr);
	_cleanup_free_ uint8_t *frame = malloc(sizeof(hdr) + len);
	if (!frame)
		die("out of memory");
	memcpy(frame, hdr, sizeof(hdr));
	memcpy(frame + sizeof(hdr), body, len);
	size_t total = sizeof(hdr) + len;
	if (!split) {
		if (write_all(c->fd, frame, total) < 0)
			c->closed = true;
		return;
	}
	for (size_t i = 0; i < total; i++) {
		if (write_all(c->fd, frame + i, 1) < 0) {
			c->closed = true;
			return;
		}
		usleep(200);
	}
}

static void send_json(struct conn *c, uint32_t type, uint64_t id, json_t *body, bool split)
{
	_cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
	if (!text)
		die("out of memory");
	size_t len = strlen(text);
	send_raw(c, type, (uint32_t)(BRIDGE_HEADER_SIZE + len), id, text, len, split);
}

/* A response body: extra fields + Result/ActivityId (+ error fields). */
static json_t *response(json_t *req, int32_t result, const char *msg, json_t *extra)
{
	json_t *r = extra ? extra : json_object();
	json_object_set_new(r, "Result", json_integer(result));
	json_t *act = json_object_get(req, "ActivityId");
	if (act)
		json_object_set(r, "ActivityId", act);
	if (result != 0) {
		json_object_set_new(r, "ErrorMessage", json_string(msg));
		json_object_set_new(r, "ErrorRecords",
				    json_pack("[{s:i, s:s, s:s, s:s, s:s, s:i}]", "Result", result,
					      "Message", msg, "StackTrace", "", "ModuleName",
					      "fake-guest", "FileName", "fake-guest.c", "Line", 0));
	}
	return r;
}

static void answer(struct conn *c, uint64_t id, uint32_t req_type, json_t *body, bool split)
{
	send_json(c, bridge_response_type(req_type), id, body, split);
	json_decref(body);
	/* Held answers go out after this one: out of order by design. */
	while (c->held && !c->closed) {
		struct held *h = c->held;
		c->held = h->next;
		send_json(c, bridge_response_type(h->type), h->id, h->body, false);
		json_decref(h->body);
		free(h);
	}
}

static struct proc *find_proc(pid_t pid)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static void answer_waits(struct conn *c)
{
	long long now = now_ms();
	for (int i = 0; i < MAX_PROCS; i++) {
		struct wait_req *w = &waits[i];
		if (!w->used)
			continue;
		struct proc *p = find_proc(w->pid);
		json_t *req = json_pack("{s:O}", "ActivityId", w->activity);
		json_t *body = NULL;
		if (p && p->exited)
			body = response(req, 0, NULL, json_pack("{s:i}", "ExitCode", p->code));
		else if (w->deadline >= 0 && now >= w->deadline)
			body = response(req, HR_TIMEOUT, "timed out waiting for the process", NULL);
		json_decref(req);
		if (!body)
			continue;
		answer(c, w->id, MSG_WAIT_FOR_PROCESS, body, false);
		json_decref(w->activity);
		w->used = false;
	}
}

static json_t *exec_process(struct conn *c, json_t *req)
{
	json_t *settings = json_object_get(req, "Settings");
	const char *text = json_string_value(json_object_get(settings, "ProcessParameters"));
	if (!text)
		return response(req, HR_INVALID_JSON, "ProcessParameters is not a string", NULL);
	_cleanup_(json_decrefp) json_t *params = json_loads(text, 0, NULL);
	if (!json_is_object(params))
		return response(req, HR_INVALID_JSON, "ProcessParameters is not a JSON object",
				NULL);
	json_t *args = json_object_get(params, "CommandArgs");
	if (!args)
		args = json_object_get(json_object_get(params, "OciProcess"), "args");
	json_t *relay = json_object_get(settings, "VsockStdioRelaySettings");
	uint32_t ports[3] = {
	    (uint32_t)json_integer_value(json_object_get(relay, "StdIn")),
	    (uint32_t)json_integer_value(json_object_get(relay, "StdOut")),
	    (uint32_t)json_integer_value(json_object_get(relay, "StdErr")),
	};
	struct proc *slot = find_proc(0);
	if (!slot)
		return response(req, HR_FAIL, "too many processes", NULL);
	pid_t pid = fork();
	if (pid < 0)
		return response(req, HR_FAIL, "fork failed", NULL);
	if (pid == 0) {
		close(c->fd);
		run_child(args, ports);
	}
	*slot = (struct proc){.pid = pid};
	return response(req, 0, NULL, json_pack("{s:i}", "ProcessId", (int)pid));
}

static json_t *negotiate(struct conn *c, json_t *req)
{
	json_int_t min = json_integer_value(json_object_get(req, "MinimumVersion"));
	json_int_t max = json_integer_value(json_object_get(req, "MaximumVersion"));
	if (negotiate_result)
		return response(req, negotiate_result, "negotiation refused (--negotiate-result)",
				NULL);
	if (max < 4 || min > 4)
		return response(req, HR_UNSUPPORTED_PROTOCOL, "unsupported protocol version", NULL);
	c->negotiated = true;
	return response(
	    req, 0, NULL,
	    json_pack("{s:i, s:{s:b, s:b, s:b, s:[{s:i, s:i}], s:s, s:{s:b, s:b, s:b, s:b}}}",
		      "Version", 4, "Capabilities", "SendHostCreateMessage", 0,
		      "SendHostStartMessage", 0, "HvSocketConfigOnStartup", 0,
		      "SupportedSchemaVersions", "Major", 2, "Minor", 1, "RuntimeOsType", "Linux",
		      "GuestDefinedCapabilities", "NamespaceAddRequestSupported", 1,
		      "SignalProcessSupported", 1, "DumpStacksSupported", 1,
		      "DeleteContainerStateSupported", 1));
}

/* The normal answer to a request; NULL = none (VM power-off). */
static json_t *handle_request(struct conn *c, uint32_t type, uint64_t id, json_t *req, bool *quit)
{
	const char *cid = json_string_value(json_object_get(req, "ContainerId"));
	bool uvm = cid && strcmp(cid, UVM_CONTAINER_ID) == 0;
	bool known = uvm || (cid && json_object_get(containers, cid));
	char msg[200];

	if (type == MSG_NEGOTIATE_PROTOCOL)
		return negotiate(c, req);
	if (!c->negotiated)
		return response(req, HR_INVALID_STATE, "NegotiateProtocol must come first", NULL);
	if (!cid)
		return response(req, HR_INVALID_JSON, "ContainerId missing", NULL);
	snprintf(msg, sizeof(msg), "container %s not found", cid);

	switch (type) {
	case MSG_CREATE: {
		const char *cfg = json_string_value(json_object_get(req, "ContainerConfig"));
		json_t *doc = cfg ? json_loads(cfg, 0, NULL) : NULL;
		bool ok = json_is_object(doc);
		json_decref(doc);
		if (!ok)
			return response(req, HR_INVALID_JSON,
					"ContainerConfig is not JSON in a string", NULL);
		if (json_object_get(containers, cid))
			return response(req, HR_ALREADY_EXISTS, "container already exists", NULL);
		json_object_set_new(containers, cid, json_true());
		return response(req, 0, NULL, json_pack("{s:i}", "SelectedProtocolVersion", 4));
	}
	case MSG_START:
	case MSG_RESIZE_CONSOLE:
	case MSG_MODIFY_SETTINGS:
		return known ? response(req, 0, NULL, NULL)
			     : response(req, HR_SYSTEM_NOT_FOUND, msg, NULL);
	case MSG_DELETE_CONTAINER_STATE:
		if (!known || uvm)
			return response(req, HR_SYSTEM_NOT_FOUND, msg, NULL);
		json_object_del(containers, cid);
		return response(req, 0, NULL, NULL);
	case MSG_SHUTDOWN_GRACEFUL:
	case MSG_SHUTDOWN_FORCED:
		if (uvm) {
			*quit = true;
			return type == MSG_SHUTDOWN_FORCED ? NULL : response(req, 0, NULL, NULL);
		}
		return known ? response(req, 0, NULL, NULL)
			     : response(req, HR_SYSTEM_NOT_FOUND, msg, NULL);
	case MSG_EXECUTE_PROCESS:
		if (!known)
			return response(req, HR_SYSTEM_NOT_FOUND, msg, NULL);
		return exec_process(c, req);
	case MSG_WAIT_FOR_PROCESS: {
		pid_t pid = (pid_t)json_integer_value(json_object_get(req, "ProcessId"));
		if (!find_proc(pid) || pid == 0)
			return response(req, HR_NOT_FOUND, "no such process", NULL);
		for (int i = 0; i < MAX_PROCS; i++) {
			if (waits[i].used)
				continue;
			json_int_t t = json_integer_value(json_object_get(req, "TimeoutInMs"));
			waits[i] = (struct wait_req){
			    .id = id,
			    .pid = pid,
			    .used = true,
			    .deadline = t == GCS_INFINITE ? -1 : now_ms() + t,
			    .activity = json_incref(json_object_get(req, "ActivityId"))};
			answer_waits(c);
			return NULL; /* answered asynchronously */
		}
		return response(req, HR_FAIL, "too many waits", NULL);
	}
	case MSG_SIGNAL_PROCESS: {
		pid_t pid = (pid_t)json_integer_value(json_object_get(req, "ProcessId"));
		int sig = (int)json_integer_value(
		    json_object_get(json_object_get(req, "Options"), "Signal"));
		struct proc *p = pid ? find_proc(pid) : NULL;
		if (!p || p->exited)
			return response(req, HR_NOT_FOUND, "no such process", NULL);
		kill(pid, sig ? sig : SIGKILL);
		return response(req, 0, NULL, NULL);
	}
	case MSG_GET_PROPERTIES: {
		if (!known)
			return response(req, HR_SYSTEM_NOT_FOUND, msg, NULL);
		json_t *list = json_array();
		for (int i = 0; i < MAX_PROCS; i++)
			if (procs[i].pid && !procs[i].exited)
				json_array_append_new(
				    list, json_pack("{s:i}", "ProcessId", (int)procs[i].pid));
		json_t *props = json_pack("{s:o}", "ProcessList", list);
		char *list_text = json_dumps(props, JSON_COMPACT);
		json_decref(props);
		/* Like the agent's: a uint64 "max" that no int64 carries. */
		char *text = NULL;
		if (list_text && asprintf(&text,
					  "%.*s,\"LCOWMetrics\":{\"memory\":{\"usage\":"
					  "{\"limit\":18446744073709551615}}}}",
					  (int)strlen(list_text) - 1, list_text) < 0)
			text = NULL;
		free(list_text);
		json_t *r =
		    response(req, 0, NULL, json_pack("{s:s}", "Properties", text ? text : "{}"));
		free(text);
		return r;
	}
	case MSG_DUMP_STACKS:
		return response(req, 0, NULL,
				json_pack("{s:s}", "GuestStacks",
					  "fake-guest: goroutine 1 [running]:\nmain.main()\n"));
	default:
		return response(req, HR_NOTIMPL, "not implemented", NULL);
	}
}

/* Read exactly n bytes (blocking); false on EOF/error. */
static bool read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* One frame from the host; false = connection over. */
static bool handle_frame(struct conn *c, bool *quit)
{
	uint8_t hdrb[BRIDGE_HEADER_SIZE];
	struct bridge_header h;
	if (!read_full(c->fd, hdrb, sizeof(hdrb)))
		return false;
	if (bridge_header_decode(hdrb, &h) < 0) {
		record(json_pack("{s:s, s:I, s:i}", "Event", "bad-frame", "Conn", (json_int_t)c->no,
				 "Size", (int)h.size));
		return false;
	}
	size_t len = h.size - BRIDGE_HEADER_SIZE;
	_cleanup_free_ char *buf = malloc(len + 1);
	if (!buf || !read_full(c->fd, buf, len))
		return false;
	json_t *req = json_loadb(buf, len, 0, NULL);
	char tbuf[11];
	record(json_pack("{s:I, s:s, s:s, s:I, s:o, s:b}", "Conn", (json_int_t)c->no, "Type",
			 (snprintf(tbuf, sizeof(tbuf), "0x%08" PRIx32, h.type), tbuf), "Name",
			 bridge_msg_name(h.type) ? bridge_msg_name(h.type) : "?", "Id",
			 (json_int_t)h.id, "Body", req ? json_incref(req) : json_null(),
			 "TrailingNewline", len > 0 && buf[len - 1] == '\n'));
	if (!json_is_object(req)) {
		json_decref(req);
		req = json_object();
	}

	json_t *fake = json_object_get(req, "FakeGuest");
	/* A copy: req is released before the last use. */
	char action[32];
	const char *a = json_string_value(json_object_get(fake, "Action"));
	snprintf(action, sizeof(action), "%s", a ? a : "");
	if (strcmp(action, "disconnect") == 0) {
		json_decref(req);
		return false;
	}
	if (strcmp(action, "bad-size") == 0) {
		uint32_t size = (uint32_t)json_integer_value(json_object_get(fake, "Size"));
		send_raw(c, bridge_response_type(h.type), size, h.id, "{}", 2, false);
		json_decref(req);
		/* Wait for the host to give up on us. */
		char sink[256];
		while (read(c->fd, sink, sizeof(sink)) > 0)
			;
		return false;
	}
	if (strcmp(action, "notify") == 0) {
		const char *cid = json_string_value(json_object_get(fake, "ContainerId"));
		if (!cid)
			cid = json_string_value(json_object_get(req, "ContainerId"));
		char guid[GCS_GUID_LEN + 1];
		gcs_new_guid(guid, NULL);
		json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:i}", "ContainerId", cid ? cid : "",
				      "ActivityId", guid, "Type", "GracefulExit", "Operation",
				      "None", "Result", 0);
		send_json(c, MSG_NOTIFY_CONTAINER, 0, n, false);
		json_decref(n);
	}
	if (strcmp(action, "bad-json") == 0) {
		static const char junk[] = "{this is not json";
		send_raw(c, bridge_response_type(h.type), BRIDGE_HEADER_SIZE + sizeof(junk) - 1,
			 h.id, junk, sizeof(junk) - 1, false);
		json_decref(req);
		return !c->closed;
	}
	if (strcmp(action, "unknown-id") == 0) {
		json_t *stray = response(req, 0, NULL, NULL);
		send_json(c, bridge_response_type(h.type), h.id + 1000, stray, false);
		json_decref(stray);
	}

	json_t *body;
	if (strcmp(action, "result") == 0)
		body = response(req, (int32_t)json_integer_value(json_object_get(fake, "Result")),
				"fake failure", NULL);
	else
		body = handle_request(c, h.type, h.id, req, quit);
	json_decref(req);
	if (!body)
		return !*quit;
	if (strcmp(action, "hold") == 0) {
		struct held *hd = calloc(1, sizeof(*hd));
		if (!hd)
			die("out of memory");
		*hd = (struct held){h.id, h.type, body, c->held};
		c->held = hd;
		return true;
	}
	answer(c, h.id, h.type, body, strcmp(action, "split") == 0);
	return !c->closed && !*quit;
}

static void reap(struct conn *c, int sfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGCHLD)
			exit(0); /* SIGTERM/SIGINT from the test */
	}
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct proc *p = find_proc(pid);
		if (!p)
			continue;
		p->exited = true;
		p->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (c)
		answer_waits(c);
}

static int run_bridge(unsigned max_connections)
{
	containers = json_object();
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd: %m");
	signal(SIGPIPE, SIG_IGN);

	for (unsigned no = 1; !max_connections || no <= max_connections; no++) {
		struct conn c = {.fd = dial(BRIDGE_PORT, 30000), .no = no};
		record(json_pack("{s:s, s:I}", "Event", "connected", "Conn", (json_int_t)no));
		bool quit = false;
		while (!c.closed && !quit) {
			struct pollfd pfd[2] = {{.fd = c.fd, .events = POLLIN},
						{.fd = sfd, .events = POLLIN}};
			int timeout = -1;
			for (int i = 0; i < MAX_PROCS; i++)
				if (waits[i].used && waits[i].deadline >= 0) {
					long long left = waits[i].deadline - now_ms();
					int l = left < 0 ? 0 : (int)left;
					if (timeout < 0 || l < timeout)
						timeout = l;
				}
			if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
				die("poll: %m");
			if (pfd[1].revents)
				reap(&c, sfd);
			if (pfd[0].revents && !handle_frame(&c, &quit))
				c.closed = true;
			answer_waits(&c);
		}
		close(c.fd);
		record(json_pack("{s:s, s:I}", "Event", "closed", "Conn", (json_int_t)no));
		while (c.held) {
			struct held *h = c.held;
			c.held = h->next;
			json_decref(h->body);
			free(h);
		}
		/* Waits belong to the connection that asked. */
		for (int i = 0; i < MAX_PROCS; i++)
			if (waits[i].used) {
				json_decref(waits[i].activity);
				waits[i].used = false;
			}
		if (quit)
			break;
		usleep(100 * 1000); /* the agent's re-dial interval */
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs("usage: lcow-fake-guest entropy|log|bridge --uds BASE [--record FILE]\n"
		      "       lcow-fake-guest raw SOCKET\n"
		      "                       [--max-connections N] [--negotiate-result HR]\n"
		      "A fake LCOW guest for lcowctl's tests (see the comment in fake-guest.c).\n",
		      argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *mode = argv[1];
	if (strcmp(mode, "raw") == 0) {
		if (argc != 3)
			die("usage: raw PATH");
		return run_raw(argv[2]);
	}
	unsigned max_connections = 0;
	/* Every option takes a value: they come in pairs. */
	for (int i = 2; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			die("option %s needs a value", argv[i]);
		if (strcmp(argv[i], "--uds") == 0)
			base = v;
		else if (strcmp(argv[i], "--record") == 0) {
			record_fd = open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
			if (record_fd < 0)
				die("open %s: %m", v);
		} else if (strcmp(argv[i], "--max-connections") == 0)
			max_connections = (unsigned)atoi(v);
		else if (strcmp(argv[i], "--negotiate-result") == 0)
			negotiate_result = (int32_t)strtoul(v, NULL, 0);
		else
			die("unknown option %s", argv[i]);
	}
	if (!base)
		die("--uds BASE is required");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "entropy") == 0)
		return run_entropy();
	if (strcmp(mode, "log") == 0)
		return run_log();
	if (strcmp(mode, "bridge") == 0)
		return run_bridge(max_connections);
	die("unknown mode %s", mode);
}
