/* SPDX-License-Identifier: MIT */
/*
 * The client subcommands: each sends one control request to a running
 * `lcowctl serve` and prints the JSON answer.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcow/cleanup.h"
#include "ctl.h"
#include "gcs-client.h"
#include "lcowctl.h"

#define JSON_AUTO _cleanup_(json_decrefp) json_t

static void usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "lcowctl %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n(try `lcowctl %s --help`)\n", cmd);
	va_end(ap);
}

void print_json_line(FILE *f, json_t *j)
{
	json_dumpf(j, f, JSON_COMPACT);
	fputc('\n', f);
	fflush(f);
}

bool client_common_opt(struct client_opts *g, int c, const char *arg, int *exit_code)
{
	switch (c) {
	case 'c':
		g->control = arg;
		return true;
	case 0x100:
		g->base = arg;
		return true;
	case 0x101: {
		char *end;
		double sec = strtod(arg, &end);
		if (*end || sec <= 0 || sec > 1e6) {
			fprintf(stderr, "lcowctl: bad --rpc-timeout `%s`\n", arg);
			*exit_code = EXIT_USAGE;
		} else {
			g->rpc_timeout_ms = (int)(sec * 1000);
		}
		return true;
	}
	case 0x102:
		/* Accepted for symmetry with serve; clients ask serve which
		 * transport it uses. */
		return true;
	}
	return false;
}

int client_connect(struct client_opts *g, struct ctl_client *cc)
{
	struct error err = {0};
	_cleanup_free_ char *path = NULL;
	const char *control =
	    g->control ? g->control : (g->base ? NULL : getenv("LCOWCTL_CONTROL"));
	if (ctl_path_from(control, g->base, &path, &err) < 0) {
		fprintf(stderr, "lcowctl: %s\n", error_text(&err));
		return EXIT_USAGE;
	}
	if (ctl_client_open(cc, path, &err) < 0) {
		fprintf(stderr, "lcowctl: %s (is `lcowctl serve` running?)\n", error_text(&err));
		return EXIT_TRANSPORT;
	}
	return 0;
}

/* Send req, return the first reply whatever its "ok". */
static int client_roundtrip(struct client_opts *g, struct ctl_client *cc, json_t *req,
			    json_t **reply)
{
	struct error err = {0};
	int r = ctl_client_send(cc, req, &err);
	if (r >= 0)
		r = ctl_client_recv(cc, reply, g->rpc_timeout_ms, &err);
	if (r < 0) {
		fprintf(stderr, "lcowctl: %s\n", error_text(&err));
		return EXIT_TRANSPORT;
	}
	return 0;
}

/* A reply with ok:false → message and exit code. */
static int reply_failed(json_t *reply)
{
	if (json_is_true(json_object_get(reply, "ok")))
		return 0;
	const char *msg = json_string_value(json_object_get(reply, "error"));
	const char *kind = json_string_value(json_object_get(reply, "kind"));
	fprintf(stderr, "lcowctl: %s\n", msg ? msg : "serve reported an error");
	return kind && strcmp(kind, "usage") == 0 ? EXIT_USAGE : EXIT_TRANSPORT;
}

int client_call(struct client_opts *g, json_t *req, json_t **reply)
{
	struct ctl_client cc;
	int r = client_connect(g, &cc);
	if (r)
		return r;
	r = client_roundtrip(g, &cc, req, reply);
	ctl_client_close(&cc);
	if (r)
		return r;
	r = reply_failed(*reply);
	if (r) {
		json_decref(*reply);
		*reply = NULL;
	}
	return r;
}

int client_result_exit(json_t *response)
{
	json_t *res = json_object_get(response, "Result");
	json_int_t v = json_is_integer(res) ? json_integer_value(res) : 0;
	if (v == 0)
		return EXIT_OK;
	const char *msg = json_string_value(json_object_get(response, "ErrorMessage"));
	fprintf(stderr, "error: 0x%08" PRIx32 ": %s\n", (uint32_t)v, msg ? msg : "");
	return EXIT_HRESULT;
}

int client_print_response(json_t *response)
{
	print_json_line(stdout, response);
	return client_result_exit(response);
}

int parse_user_json(const char *what, const char *text, json_t **out)
{
	json_error_t jerr;
	json_t *j;
	if (text[0] == '@')
		j = json_load_file(text + 1, JSON_DECODE_ANY, &jerr);
	else
		j = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!j) {
		fprintf(stderr, "lcowctl: %s is not valid JSON: %s (line %d, column %d)\n", what,
			jerr.text, jerr.line, jerr.column);
		return EXIT_USAGE;
	}
	*out = j;
	return 0;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return false;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_signal(const char *s, int *out)
{
	uint32_t v;
	if (parse_u32(s, &v)) {
		if (v >= 65)
			return false;
		*out = (int)v;
		return true;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);
		if (name && strcasecmp(name, s) == 0) {
			*out = i;
			return true;
		}
	}
	return false;
}

/* Send a bridge request through serve and print its response. */
static int do_request(struct client_opts *g, uint32_t type, json_t *body, bool no_reply,
		      json_t **response_out)
{
	JSON_AUTO *req = json_pack("{s:s, s:I, s:O, s:b}", "op", "request", "type",
				   (json_int_t)type, "body", body, "no_reply", no_reply);
	if (!req) {
		fprintf(stderr, "lcowctl: out of memory\n");
		return EXIT_TRANSPORT;
	}
	JSON_AUTO *reply = NULL;
	int r = client_call(g, req, &reply);
	if (r)
		return r;
	json_t *resp = json_object_get(reply, "response");
	if (no_reply) {
		*response_out = json_incref(reply);
		return 0;
	}
	if (!json_is_object(resp)) {
		fprintf(stderr, "lcowctl: serve sent no response object\n");
		return EXIT_TRANSPORT;
	}
	*response_out = json_incref(resp);
	return 0;
}

/* do_request + print + exit code; the common tail of most subcommands. */
static int request_and_print(struct client_opts *g, uint32_t type, json_t *body)
{
	JSON_AUTO *resp = NULL;
	int r = do_request(g, type, body, false, &resp);
	if (r)
		return r;
	return client_print_response(resp);
}

static int build_failed(const struct error *err)
{
	fprintf(stderr, "lcowctl: %s\n", error_text(err));
	return err->errnum == EINVAL ? EXIT_USAGE : EXIT_TRANSPORT;
}

/* --- option parsing ---------------------------------------------------- */

struct cmd;
typedef int cmd_fn(const struct cmd *cmd, int argc, char **argv, struct client_opts *g);

struct cmd {
	const char *name;
	cmd_fn *fn;
	const char *synopsis;
	const char *help;
	int min_args, max_args; /* positionals; -1 = unbounded */
};

/* Command-specific options seen while parsing. */
struct cmd_opts {
	double timeout; /* wait-ready --timeout SEC */
	bool timeout_set;
	uint32_t connections; /* wait-ready --connections N */
	uint32_t wait_ms;     /* wait --timeout MS */
	const char *config, *type, *request, *settings;
	bool wait, follow, no_reply;
};

static void cmd_usage(const struct cmd *cmd, FILE *f)
{
	fprintf(f, "usage: lcowctl %s %s\n\n%s\ncommon options:\n%s", cmd->name, cmd->synopsis,
		cmd->help, CLIENT_COMMON_HELP);
}

/* Parse argv of one subcommand: options into *o, positionals left in
 * argv[*first..argc).  Returns -1 to go on, else an exit code. */
static int parse_cmd(const struct cmd *cmd, int argc, char **argv, struct client_opts *g,
		     struct cmd_opts *o, int *first)
{
	static const struct option opts[] = {
	    CLIENT_COMMON_LONGOPTS,
	    {"timeout", required_argument, NULL, 't'},
	    {"connections", required_argument, NULL, 'n'},
	    {"config", required_argument, NULL, 'C'},
	    {"type", required_argument, NULL, 'T'},
	    {"request", required_argument, NULL, 'R'},
	    {"settings", required_argument, NULL, 'S'},
	    {"wait", no_argument, NULL, 'w'},
	    {"follow", no_argument, NULL, 'f'},
	    {"no-reply", no_argument, NULL, 'N'},
	    {0},
	};
	/* Which of the specific options each command takes. */
	static const struct {
		const char *cmd;
		const char *opts;
	} allowed[] = {
	    {"wait-ready", "tn"},
	    {"wait", "t"},
	    {"create", "C"},
	    {"modify", "TRS"},
	    {"shutdown-graceful", "w"},
	    {"shutdown-forced", "w"},
	    {"events", "f"},
	    {"request", "N"},
	};
	const char *mine = "";
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		if (strcmp(allowed[i].cmd, cmd->name) == 0)
			mine = allowed[i].opts;

	*o = (struct cmd_opts){.wait_ms = GCS_INFINITE};
	optind = 0; /* 0: glibc re-initialises its getopt state */
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":c:hft:n:w", opts, NULL)) != -1) {
		int code = -1;
		if (c == 'h') {
			cmd_usage(cmd, stdout);
			return EXIT_OK;
		}
		if (c == '?' || c == ':') {
			usage_error(cmd->name, "%s option `%s`",
				    c == ':' ? "missing value for" : "unknown", argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (client_common_opt(g, c, optarg, &code)) {
			if (code >= 0)
				return code;
			continue;
		}
		if (!strchr(mine, c)) {
			usage_error(cmd->name, "option `%s` does not apply here", argv[optind - 1]);
			return EXIT_USAGE;
		}
		switch (c) {
		case 't':
			if (strcmp(cmd->name, "wait") == 0) {
				if (!parse_u32(optarg, &o->wait_ms)) {
					usage_error(cmd->name, "bad --timeout `%s` (milliseconds)",
						    optarg);
					return EXIT_USAGE;
				}
			} else {
				char *end;
				o->timeout = strtod(optarg, &end);
				if (*end || o->timeout < 0 || o->timeout > 1e6) {
					usage_error(cmd->name, "bad --timeout `%s` (seconds)",
						    optarg);
					return EXIT_USAGE;
				}
				o->timeout_set = true;
			}
			break;
		case 'n':
			if (!parse_u32(optarg, &o->connections) || o->connections == 0) {
				usage_error(cmd->name, "bad --connections `%s`", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'C':
			o->config = optarg;
			break;
		case 'T':
			o->type = optarg;
			break;
		case 'R':
			o->request = optarg;
			break;
		case 'S':
			o->settings = optarg;
			break;
		case 'w':
			o->wait = true;
			break;
		case 'f':
			o->follow = true;
			break;
		case 'N':
			o->no_reply = true;
			break;
		}
	}
	/* GNU getopt has moved the positionals, in order, to the end. */
	int npos = argc - optind;
	*first = optind;
	if (npos < cmd->min_args || (cmd->max_args >= 0 && npos > cmd->max_args)) {
		usage_error(cmd->name, "expected %s", cmd->synopsis);
		return EXIT_USAGE;
	}
	return -1;
}

/* --- the commands -------------------------------------------------------- */

#define CMD(name)                                                                                  \
	static int name(const struct cmd *cmd, int argc, char **argv, struct client_opts *g)
#define PARSE()                                                                                    \
	struct cmd_opts o;                                                                         \
	int first;                                                                                 \
	int pr = parse_cmd(cmd, argc, argv, g, &o, &first);                                        \
	if (pr >= 0)                                                                               \
		return pr;                                                                         \
	char **pos = argv + first;                                                                 \
	int npos = argc - first;                                                                   \
	(void)pos;                                                                                 \
	(void)npos;

CMD(cmd_wait_ready)
{
	PARSE();
	JSON_AUTO *req = json_pack("{s:s, s:I}", "op", "wait-ready", "connections",
				   (json_int_t)(o.connections ? o.connections : 1));
	struct ctl_client cc;
	int r = client_connect(g, &cc);
	if (r)
		return r;
	struct error err = {0};
	JSON_AUTO *reply = NULL;
	int timeout_ms = o.timeout_set && o.timeout > 0 ? (int)(o.timeout * 1000) : -1;
	r = ctl_client_send(&cc, req, &err);
	if (r >= 0)
		r = ctl_client_recv(&cc, &reply, timeout_ms, &err);
	ctl_client_close(&cc);
	if (r == -ETIMEDOUT) {
		fprintf(stderr,
			"lcowctl: timed out after %gs waiting for bridge connection %" PRIu32
			" to be negotiated\n",
			o.timeout, o.connections ? o.connections : 1);
		return EXIT_TRANSPORT;
	}
	if (r < 0) {
		fprintf(stderr, "lcowctl: %s\n", error_text(&err));
		return EXIT_TRANSPORT;
	}
	if ((r = reply_failed(reply)))
		return r;
	return client_print_response(json_object_get(reply, "response"));
}

CMD(cmd_status)
{
	PARSE();
	JSON_AUTO *req = json_pack("{s:s}", "op", "status");
	JSON_AUTO *reply = NULL;
	int r = client_call(g, req, &reply);
	if (r)
		return r;
	json_object_del(reply, "ok");
	print_json_line(stdout, reply);
	return EXIT_OK;
}

CMD(cmd_negotiate)
{
	PARSE();
	JSON_AUTO *req = json_pack("{s:s}", "op", "negotiate");
	JSON_AUTO *reply = NULL;
	int r = client_call(g, req, &reply);
	if (r)
		return r;
	return client_print_response(json_object_get(reply, "response"));
}

CMD(cmd_request)
{
	PARSE();
	uint32_t type;
	struct error err = {0};
	if (gcs_msg_parse(pos[0], &type, &err) < 0) {
		usage_error(cmd->name, "%s", error_text(&err));
		return EXIT_USAGE;
	}
	JSON_AUTO *body = NULL;
	int r = npos > 1 ? parse_user_json("the request body", pos[1], &body) : 0;
	if (r)
		return r;
	if (!body)
		body = json_object();
	if (!json_is_object(body)) {
		usage_error(cmd->name, "the request body must be a JSON object");
		return EXIT_USAGE;
	}
	if (gcs_fill_base(body, &err) < 0)
		return build_failed(&err);
	/* The VM's forced shutdown is never answered. */
	const char *id = json_string_value(json_object_get(body, "ContainerId"));
	bool no_reply =
	    o.no_reply || (type == MSG_SHUTDOWN_FORCED && id && strcmp(id, UVM_CONTAINER_ID) == 0);
	JSON_AUTO *resp = NULL;
	r = do_request(g, type, body, no_reply, &resp);
	if (r)
		return r;
	if (no_reply) {
		json_object_del(resp, "ok");
		print_json_line(stdout, resp);
		return EXIT_OK;
	}
	return client_print_response(resp);
}

CMD(cmd_create)
{
	PARSE();
	if (!o.config) {
		usage_error(cmd->name, "--config JSON is required");
		return EXIT_USAGE;
	}
	JSON_AUTO *config = NULL;
	int r = parse_user_json("--config", o.config, &config);
	if (r)
		return r;
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_create(&body, pos[0], config, &err) < 0)
		return build_failed(&err);
	return request_and_print(g, MSG_CREATE, body);
}

/* Start, DeleteContainerState: base fields only. */
static int base_only(struct client_opts *g, uint32_t type, const char *id)
{
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_base(&body, id, &err) < 0)
		return build_failed(&err);
	return request_and_print(g, type, body);
}

CMD(cmd_start)
{
	PARSE();
	return base_only(g, MSG_START, pos[0]);
}

CMD(cmd_delete)
{
	PARSE();
	return base_only(g, MSG_DELETE_CONTAINER_STATE, pos[0]);
}

/* Wait until bridge connection no is gone. */
static int wait_closed(struct client_opts *g, json_int_t no)
{
	JSON_AUTO *req = json_pack("{s:s, s:I}", "op", "wait-closed", "connection", no);
	JSON_AUTO *reply = NULL;
	int r = client_call(g, req, &reply);
	if (r)
		return r;
	json_object_del(reply, "ok");
	print_json_line(stdout, reply);
	return EXIT_OK;
}

static int shutdown_cmd(const struct cmd *cmd, int argc, char **argv, struct client_opts *g,
			uint32_t type)
{
	PARSE();
	const char *id = npos > 0 ? pos[0] : UVM_CONTAINER_ID;
	bool vm = strcmp(id, UVM_CONTAINER_ID) == 0;
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_base(&body, id, &err) < 0)
		return build_failed(&err);
	if (!vm)
		return request_and_print(g, type, body);

	/* The VM itself: ShutdownForced is never answered, and a graceful
	 * shutdown may close the connection before its answer leaves. */
	JSON_AUTO *req =
	    json_pack("{s:s, s:I, s:O, s:b}", "op", "request", "type", (json_int_t)type, "body",
		      body, "no_reply", type == MSG_SHUTDOWN_FORCED);
	struct ctl_client cc;
	int r = client_connect(g, &cc);
	if (r)
		return r;
	JSON_AUTO *reply = NULL;
	r = client_roundtrip(g, &cc, req, &reply);
	ctl_client_close(&cc);
	if (r)
		return r;
	json_int_t no = json_integer_value(json_object_get(reply, "connection"));
	const char *kind = json_string_value(json_object_get(reply, "kind"));
	if (!json_is_true(json_object_get(reply, "ok")) && !(kind && strcmp(kind, "closed") == 0))
		return reply_failed(reply);
	json_t *resp = json_object_get(reply, "response");
	if (resp) {
		print_json_line(stdout, resp);
		r = client_result_exit(resp);
		if (r)
			return r;
	} else {
		json_t *out =
		    json_pack("{s:b, s:I}", kind ? "closed" : "sent", 1, "connection", no);
		print_json_line(stdout, out);
		json_decref(out);
		if (kind)
			return EXIT_OK;
	}
	return o.wait ? wait_closed(g, no) : EXIT_OK;
}

CMD(cmd_shutdown_graceful)
{
	return shutdown_cmd(cmd, argc, argv, g, MSG_SHUTDOWN_GRACEFUL);
}

CMD(cmd_shutdown_forced)
{
	return shutdown_cmd(cmd, argc, argv, g, MSG_SHUTDOWN_FORCED);
}

static bool parse_pid(const struct cmd *cmd, const char *s, uint32_t *pid)
{
	if (parse_u32(s, pid))
		return true;
	usage_error(cmd->name, "bad process id `%s`", s);
	return false;
}

CMD(cmd_wait)
{
	PARSE();
	uint32_t pid;
	if (!parse_pid(cmd, pos[1], &pid))
		return EXIT_USAGE;
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_wait(&body, pos[0], pid, o.wait_ms, &err) < 0)
		return build_failed(&err);
	return request_and_print(g, MSG_WAIT_FOR_PROCESS, body);
}

CMD(cmd_signal)
{
	PARSE();
	uint32_t pid;
	int sig;
	if (!parse_pid(cmd, pos[1], &pid))
		return EXIT_USAGE;
	if (!parse_signal(pos[2], &sig)) {
		usage_error(cmd->name, "bad signal `%s` (a number or a name such as TERM)", pos[2]);
		return EXIT_USAGE;
	}
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_signal(&body, pos[0], pid, sig, &err) < 0)
		return build_failed(&err);
	return request_and_print(g, MSG_SIGNAL_PROCESS, body);
}

CMD(cmd_resize)
{
	PARSE();
	uint32_t pid, h, w;
	if (!parse_pid(cmd, pos[1], &pid))
		return EXIT_USAGE;
	if (!parse_u32(pos[2], &h) || !parse_u32(pos[3], &w) || h > 0xFFFF || w > 0xFFFF) {
		usage_error(cmd->name, "height and width must be 0..65535");
		return EXIT_USAGE;
	}
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_resize(&body, pos[0], pid, (uint16_t)h, (uint16_t)w, &err) < 0)
		return build_failed(&err);
	return request_and_print(g, MSG_RESIZE_CONSOLE, body);
}

CMD(cmd_properties)
{
	PARSE();
	static const char *const defaults[] = {"ProcessList", "Statistics"};
	const char *const *types = npos > 1 ? (const char *const *)pos + 1 : defaults;
	size_t n = npos > 1 ? (size_t)(npos - 1) : ARRAY_SIZE(defaults);
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_properties(&body, pos[0], types, n, &err) < 0)
		return build_failed(&err);
	JSON_AUTO *resp = NULL;
	int r = do_request(g, MSG_GET_PROPERTIES, body, false, &resp);
	if (r)
		return r;
	/* Properties is a JSON document in a string: show it decoded.  Its
	 * metrics carry uint64 values (2^64-1 for "max") that jansson's
	 * int64 cannot hold, so the document is checked (integers read as
	 * reals) and then printed as the guest sent it, not re-encoded. */
	const char *text = json_string_value(json_object_get(resp, "Properties"));
	JSON_AUTO *check = text ? json_loads(text, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
	if (!json_is_object(check))
		return client_print_response(resp);
	_cleanup_free_ char *props = strdup(text);
	JSON_AUTO *rest = json_deep_copy(resp);
	if (!props || !rest || json_object_del(rest, "Properties") < 0)
		return client_print_response(resp);
	_cleanup_free_ char *head = json_dumps(rest, JSON_COMPACT);
	size_t hlen = head ? strlen(head) : 0;
	if (hlen < 2)
		return client_print_response(resp);
	/* One line per response: valid JSON has no raw line breaks inside
	 * strings, so any outside them are only whitespace. */
	for (char *p = props; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	printf("%.*s%s\"Properties\":%s}\n", (int)(hlen - 1), head, hlen > 2 ? "," : "", props);
	fflush(stdout);
	return client_result_exit(resp);
}

CMD(cmd_modify)
{
	PARSE();
	if (!o.type || !o.settings) {
		usage_error(cmd->name, "--type RESOURCETYPE and --settings JSON are required");
		return EXIT_USAGE;
	}
	const char *rt = o.request ? o.request : "Add";
	if (strcmp(rt, "Add") && strcmp(rt, "Remove") && strcmp(rt, "Update")) {
		usage_error(cmd->name, "--request must be Add, Remove or Update");
		return EXIT_USAGE;
	}
	JSON_AUTO *settings = NULL;
	int r = parse_user_json("--settings", o.settings, &settings);
	if (r)
		return r;
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_modify(&body, pos[0], rt, o.type, settings, &err) < 0)
		return build_failed(&err);
	return request_and_print(g, MSG_MODIFY_SETTINGS, body);
}

CMD(cmd_dump_stacks)
{
	PARSE();
	struct error err = {0};
	JSON_AUTO *body = NULL;
	if (gcs_build_base(&body, NULL, &err) < 0)
		return build_failed(&err);
	JSON_AUTO *resp = NULL;
	int r = do_request(g, MSG_DUMP_STACKS, body, false, &resp);
	if (r)
		return r;
	r = client_result_exit(resp);
	if (r)
		return r;
	const char *text = json_string_value(json_object_get(resp, "GuestStacks"));
	if (!text) {
		fprintf(stderr, "lcowctl: the response has no GuestStacks text\n");
		return EXIT_TRANSPORT;
	}
	fputs(text, stdout);
	if (*text && text[strlen(text) - 1] != '\n')
		fputc('\n', stdout);
	return EXIT_OK;
}

CMD(cmd_events)
{
	PARSE();
	JSON_AUTO *req = json_pack("{s:s, s:b}", "op", "events", "follow", o.follow);
	struct ctl_client cc;
	int r = client_connect(g, &cc);
	if (r)
		return r;
	struct error err = {0};
	r = ctl_client_send(&cc, req, &err);
	bool done = false;
	while (r >= 0) {
		JSON_AUTO *line = NULL;
		r = ctl_client_recv(&cc, &line, done ? -1 : g->rpc_timeout_ms, &err);
		if (r < 0)
			break;
		json_t *ev = json_object_get(line, "event");
		if (ev) {
			print_json_line(stdout, ev);
			continue;
		}
		if ((r = reply_failed(line))) {
			ctl_client_close(&cc);
			return r;
		}
		if (!o.follow) {
			ctl_client_close(&cc);
			return EXIT_OK;
		}
		done = true;
	}
	ctl_client_close(&cc);
	if (o.follow && err.errnum == ECONNRESET)
		return EXIT_OK; /* serve went away: the stream ended */
	fprintf(stderr, "lcowctl: %s\n", error_text(&err));
	return EXIT_TRANSPORT;
}

CMD(cmd_drop_bridge)
{
	PARSE();
	JSON_AUTO *req = json_pack("{s:s}", "op", "drop-bridge");
	JSON_AUTO *reply = NULL;
	int r = client_call(g, req, &reply);
	if (r)
		return r;
	json_object_del(reply, "ok");
	print_json_line(stdout, reply);
	return EXIT_OK;
}

static const struct cmd commands[] = {
    {"wait-ready", cmd_wait_ready, "[--timeout SEC] [--connections N]",
     "Block until a bridge connection is negotiated (with --connections N: the Nth\n"
     "connection since serve started) and print the NegotiateProtocol response.\n"
     "--timeout SEC: give up after SEC seconds (exit 3); default: wait forever.\n",
     0, 0},
    {"status", cmd_status, "",
     "Print serve's state: connection count, the current connection, whether it is\n"
     "negotiated, version, capabilities, the negotiation response.\n",
     0, 0},
    {"negotiate", cmd_negotiate, "",
     "Send NegotiateProtocol (4..4) again on the current connection; print the response.\n", 0, 0},
    {"request", cmd_request, "[--no-reply] TYPE [JSON]",
     "Send a raw request.  TYPE: a message name (Create, DumpStacks, ...) or a number\n"
     "(0x10100c01).  JSON: the body object (or @FILE); ContainerId (default: the\n"
     "utility VM) and ActivityId are added when missing.  Prints the response.\n"
     "--no-reply: do not wait for an answer (implied for ShutdownForced of the VM).\n",
     1, 2},
    {"create", cmd_create, "ID --config JSON",
     "Create a container.  JSON (or @FILE): the ContainerConfig document\n"
     "{SchemaVersion, OciBundlePath, OciSpecification, ScratchDirPath}.\n",
     1, 1},
    {"start", cmd_start, "ID", "Start a container.\n", 1, 1},
    {"shutdown-graceful", cmd_shutdown_graceful, "[--wait] [ID]",
     "SIGTERM a container's processes; without ID shut the VM down.  For the VM,\n"
     "--wait also waits until the bridge connection closes.\n",
     0, 1},
    {"shutdown-forced", cmd_shutdown_forced, "[--wait] [ID]",
     "SIGKILL a container's processes; without ID power the VM off (the guest does\n"
     "not answer: returns once the request is written; --wait: once the bridge\n"
     "connection has closed).\n",
     0, 1},
    {"wait", cmd_wait, "ID PID [--timeout MS]",
     "WaitForProcess: print {ExitCode} once the process exits (--timeout MS:\n"
     "TimeoutInMs, default infinite).\n",
     2, 2},
    {"signal", cmd_signal, "ID PID SIG", "Send signal SIG (number or name; 0 = SIGKILL).\n", 3, 3},
    {"resize", cmd_resize, "ID PID HEIGHT WIDTH", "Resize a process's console.\n", 4, 4},
    {"properties", cmd_properties, "ID [TYPE...]",
     "GetProperties; TYPEs default to ProcessList Statistics.  Properties is printed\n"
     "decoded.\n",
     1, -1},
    {"modify", cmd_modify, "ID --type RESOURCETYPE [--request Add|Remove|Update] --settings JSON",
     "ModifySettings: {Request: {RequestType, ResourceType, Settings}}.\n", 1, 1},
    {"dump-stacks", cmd_dump_stacks, "", "Print the agent's GuestStacks text.\n", 0, 0},
    {"delete", cmd_delete, "ID", "DeleteContainerState.\n", 1, 1},
    {"events", cmd_events, "[--follow]",
     "Print the notifications received so far, one JSON object per line;\n"
     "--follow: keep printing new ones.\n",
     0, 0},
    {"drop-bridge", cmd_drop_bridge, "",
     "Close the current bridge connection from the host side (the agent must\n"
     "reconnect).\n",
     0, 0},
};

bool client_command_exists(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return true;
	return false;
}

int cmd_client(const char *name, int argc, char **argv, struct client_opts *g)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].fn(&commands[i], argc, argv, g);
	return EXIT_USAGE;
}

void client_list_commands(FILE *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %s %s\n", commands[i].name, commands[i].synopsis);
}
