/* SPDX-License-Identifier: MIT */
/*
 * One handler per request.  Each parses and validates its body first (any
 * JSON or type error: 0xC037010D), then resolves the container (unknown:
 * 0xC037010E) and process (unknown: 0x80070490), then hands the request
 * to the runtime.  The order follows hcsshim's guest bridge, so the host
 * sees the same HRESULT for the same bad request.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lcow/cleanup.h"
#include "protocol/json.h"

static bool is_uvm(const char *id)
{
	return strcmp(id, UVM_CONTAINER_ID) == 0;
}

static int find_container(struct request *req, struct container **out, struct error *err)
{
	*out = runtime_find_container(req->d->rt, req->base.container_id);
	if (!*out)
		return error_setx(err, ESRCH, "container \"%s\" not found", req->base.container_id);
	return 0;
}

/* The process pid of the request's container, or of the utility VM itself
 * for the null container id. */
static int find_process(struct request *req, uint32_t pid, struct process **out,
			struct error *err)
{
	struct container *c = NULL;
	if (!is_uvm(req->base.container_id)) {
		int r = find_container(req, &c, err);
		if (r < 0)
			return r;
	}
	*out = runtime_find_process(req->d->rt, c, pid);
	if (!*out)
		return error_setx(err, ENOENT, "process %" PRIu32 " not found in %s%s", pid,
				  c ? "container " : "the utility VM", c ? c->id : "");
	return 0;
}

static int negotiate_protocol(struct request *req, struct error *err)
{
	struct msg_negotiate m;
	int r = msg_parse_negotiate(req->root, &m, err);
	if (r < 0)
		return req_error(req, r);
	if (m.maximum_version < BRIDGE_PROTOCOL_VERSION ||
	    m.minimum_version > BRIDGE_PROTOCOL_VERSION)
		return req_error_hr(req, HR_UNSUPPORTED_PROTOCOL,
				    error_setx(err, EPROTONOSUPPORT,
					       "protocol versions %" PRIu32 "..%" PRIu32
					       " are not supported: this guest speaks version %u",
					       m.minimum_version, m.maximum_version,
					       BRIDGE_PROTOCOL_VERSION));
	/* The highest both sides speak; with a single version, that one. */
	uint32_t version = m.maximum_version < BRIDGE_PROTOCOL_VERSION ? m.maximum_version
								       : BRIDGE_PROTOCOL_VERSION;
	req->resp = msg_negotiate_response(version);
	if (!req->resp)
		return req_error(req, error_set(err, ENOMEM, "encode capabilities"));
	req->d->version = version;
	req->d->stats.negotiations++;
	return 0;
}

static int create(struct request *req, struct error *err)
{
	_cleanup_(msg_create_release) struct msg_create m = { 0 };
	int r = msg_parse_create(req->root, &m, err);
	if (r < 0)
		return req_error(req, r);
	if (m.schema.major < 2 || (m.schema.major == 2 && m.schema.minor < 1))
		return req_error_hr(req, HR_INVALID_JSON,
				    error_setx(err, EBADMSG,
					       "invalid schema version %" PRIu32 ".%" PRIu32
					       ": 2.1 or later is required",
					       m.schema.major, m.schema.minor));
	if (runtime_find_container(req->d->rt, req->base.container_id))
		return req_error(req, error_setx(err, EEXIST, "container \"%s\" already exists",
						 req->base.container_id));
	r = runtime_create_container(req->d->rt, req->base.container_id, req->base.activity_id, &m,
				     err);
	if (r < 0)
		return req_error(req, error_prefix(err, r, "create container %s",
						   req->base.container_id));
	/* hcsshim's guest answers Create with a zero SelectedProtocolVersion
	 * (the field is for protocol v3 and older; the host ignores it). */
	req->resp = json_pack("{s:i}", "SelectedProtocolVersion", 0);
	return 0;
}

static int start(struct request *req, struct error *err)
{
	/* A no-op for Linux: a container starts with its first exec. */
	struct container *c;
	if (is_uvm(req->base.container_id))
		return 0;
	int r = find_container(req, &c, err);
	if (r < 0)
		return req_error(req, r);
	return 0;
}

static int shutdown_common(struct request *req, bool graceful, struct error *err)
{
	if (is_uvm(req->base.container_id)) {
		/* The VM itself.  Forced: power off now, no reply (the host
		 * watches the VM stop).  Graceful: reply, then power off once
		 * the reply is on the wire. */
		req->poweroff = true;
		req->no_reply = !graceful;
		return 0;
	}
	struct container *c;
	int r = find_container(req, &c, err);
	if (r < 0)
		return req_error(req, r);
	r = runtime_shutdown_container(req->d->rt, c, graceful, err);
	if (r < 0)
		return req_error(req, error_prefix(err, r, "shut down container %s", c->id));
	return 0;
}

static int shutdown_graceful(struct request *req, struct error *err)
{
	return shutdown_common(req, true, err);
}

static int shutdown_forced(struct request *req, struct error *err)
{
	return shutdown_common(req, false, err);
}

struct exec_request {
	struct runtime_exec *op;
	char where[200];
};

static void exec_done(void *arg, int r, uint32_t pid, const struct error *err)
{
	struct pending *p = arg;
	struct exec_request *x = p->data;
	if (r < 0) {
		struct error e = *err;
		error_prefix(&e, r, "execute process in %s", x->where);
		free(x);
		p->data = NULL;
		dispatch_complete(p, r, NULL, &e);
		return;
	}
	free(x);
	p->data = NULL;
	dispatch_complete(p, 0, json_pack("{s:I}", "ProcessId", (json_int_t)pid), NULL);
}

static void exec_cancel(struct pending *p)
{
	struct exec_request *x = p->data;
	if (!x)
		return;
	/* The process (if it starts) runs on; only the answer is dropped. */
	runtime_exec_cancel(x->op);
	free(x);
	p->data = NULL;
}

static int execute_process(struct request *req, struct error *err)
{
	_cleanup_(msg_execute_release) struct msg_execute m = { 0 };
	int r = msg_parse_execute(req->root, &m, err);
	if (r < 0)
		return req_error(req, r);
	struct container *c = NULL;
	if (!is_uvm(req->base.container_id) && !m.params.in_utility_vm) {
		r = find_container(req, &c, err);
		if (r < 0)
			return req_error(req, r);
	}
	/* Dialing the host's stdio ports and the child's setup take a
	 * while: the answer comes from the loop. */
	struct exec_request *x = calloc(1, sizeof(*x));
	if (!x)
		return req_error(req, error_set(err, ENOMEM, "exec request"));
	snprintf(x->where, sizeof(x->where), "%s", c ? c->id : "the utility VM");
	struct pending *p = dispatch_go_async(req, err);
	if (!p) {
		free(x);
		return req_error(req, -(err->errnum ? err->errnum : EBUSY));
	}
	p->data = x;
	r = runtime_exec_process(req->d->rt, c, &m, exec_done, p, &x->op, err);
	if (r < 0) {
		free(x);
		p->data = NULL;
		dispatch_forget(p);
		return req_error(req, error_prefix(err, r, "execute process in %s",
						   c ? c->id : "the utility VM"));
	}
	p->cancel = exec_cancel;
	return DISPATCH_ASYNC;
}

static void wait_done(void *arg, int r, uint32_t exit_code)
{
	struct pending *p = arg;
	if (r < 0) {
		struct error err = { 0 };
		if (r == -ETIMEDOUT)
			error_setx(&err, ETIMEDOUT, "timed out waiting for process %" PRIu32,
				   p->process_id);
		else
			error_set(&err, -r, "wait for process %" PRIu32, p->process_id);
		dispatch_complete(p, r, NULL, &err);
		return;
	}
	dispatch_complete(p, 0, json_pack("{s:I}", "ExitCode", (json_int_t)exit_code), NULL);
}

static void wait_cancel(struct pending *p)
{
	runtime_wait_cancel(p->data);
}

static int wait_for_process(struct request *req, struct error *err)
{
	struct msg_wait m;
	struct process *proc;
	int r = msg_parse_wait(req->root, &m, err);
	if (r < 0)
		return req_error(req, r);
	r = find_process(req, m.process_id, &proc, err);
	if (r < 0)
		return req_error(req, r);
	if (proc->exited) {
		req->resp = json_pack("{s:I}", "ExitCode", (json_int_t)proc->exit_code);
		runtime_process_waited(req->d->rt, proc);
		return 0;
	}
	/* Never block the bridge: the answer goes out when the process
	 * exits or the timeout fires. */
	struct pending *p = dispatch_go_async(req, err);
	if (!p)
		return req_error(req, -(err->errnum ? err->errnum : EBUSY));
	p->process_id = m.process_id;
	struct runtime_waiter *w;
	r = runtime_wait(req->d->rt, proc, m.timeout_ms, wait_done, p, &w, err);
	if (r < 0) {
		dispatch_forget(p);
		return req_error(req, error_prefix(err, r, "wait for process %" PRIu32,
						   m.process_id));
	}
	p->data = w;
	p->cancel = wait_cancel;
	return DISPATCH_ASYNC;
}

static int signal_process(struct request *req, struct error *err)
{
	struct msg_signal m;
	struct process *proc;
	int r = msg_parse_signal(req->root, &m, err);
	if (r < 0)
		return req_error(req, r);
	int signo = m.signal == 0 ? SIGKILL : m.signal;
	if (signo < 1 || signo > SIGRTMAX)
		return req_error(req, error_setx(err, EINVAL, "invalid signal %" PRId32, m.signal));
	r = find_process(req, m.process_id, &proc, err);
	if (r < 0)
		return req_error(req, r);
	r = runtime_signal_process(req->d->rt, proc, signo, err);
	if (r < 0)
		return req_error(req, error_prefix(err, r, "signal %d to process %" PRIu32, signo,
						   m.process_id));
	return 0;
}

static int resize_console(struct request *req, struct error *err)
{
	struct msg_resize m;
	struct process *proc;
	int r = msg_parse_resize(req->root, &m, err);
	if (r < 0)
		return req_error(req, r);
	r = find_process(req, m.process_id, &proc, err);
	if (r < 0)
		return req_error(req, r);
	r = runtime_resize_console(req->d->rt, proc, m.height, m.width, err);
	if (r < 0)
		return req_error(req, error_prefix(err, r, "resize console of process %" PRIu32,
						   m.process_id));
	return 0;
}

static int get_properties(struct request *req, struct error *err)
{
	_cleanup_(msg_get_properties_release) struct msg_get_properties m = { 0 };
	int r = msg_parse_get_properties(req->root, &m, err);
	if (r < 0)
		return req_error(req, r);
	if (is_uvm(req->base.container_id))
		return req_error_hr(req, HR_FAIL,
				    error_setx(err, EINVAL,
					       "GetProperties is not supported against the UVM"));
	struct container *c;
	r = find_container(req, &c, err);
	if (r < 0)
		return req_error(req, r);
	_cleanup_json_ json_t *props = NULL;
	r = runtime_get_properties(req->d->rt, c, &m, &props, err);
	if (r < 0)
		return req_error(req, error_prefix(err, r, "properties of container %s", c->id));
	/* Properties is a JSON document carried as a string; the runtime
	 * may hand over that text itself (its metrics hold uint64 values). */
	_cleanup_free_ char *text = json_is_string(props) ? strdup(json_string_value(props))
				    : props		  ? json_dumps(props, JSON_COMPACT)
							  : strdup("{}");
	if (!text)
		return req_error(req, error_set(err, ENOMEM, "encode properties"));
	req->resp = json_pack("{s:s}", "Properties", text);
	return 0;
}

struct modify_request {
	void *op;
	char what[200];
};

static void modify_done(void *arg, int r, const struct error *err)
{
	struct pending *p = arg;
	struct modify_request *x = p->data;
	struct error e = { 0 };
	if (r < 0) {
		e = *err;
		error_prefix(&e, r, "%s", x->what);
	}
	free(x);
	p->data = NULL;
	dispatch_complete(p, r < 0 ? r : 0, NULL, r < 0 ? &e : NULL);
}

static void modify_cancel(struct pending *p)
{
	struct modify_request *x = p->data;
	if (!x)
		return;
	runtime_modify_forget(p->d->rt, x->op);
	free(x);
	p->data = NULL;
}

static int modify_settings(struct request *req, struct error *err)
{
	struct msg_modify m;
	int r = msg_parse_modify(req->root, &m, err);
	if (r < 0)
		return req_error(req, r);
	if (m.resource == MSG_RESOURCE_UNKNOWN)
		return req_error_hr(req, HR_FAIL,
				    error_setx(err, EINVAL, "invalid ResourceType '%s'",
					       m.resource_type));
	struct container *c = NULL;
	if (!is_uvm(req->base.container_id)) {
		r = find_container(req, &c, err);
		if (r < 0)
			return req_error(req, r);
	}
	/* Storage may have to wait for a hot-added device: the answer can
	 * come from the loop. */
	struct modify_request *x = calloc(1, sizeof(*x));
	if (!x)
		return req_error(req, error_set(err, ENOMEM, "modify request"));
	snprintf(x->what, sizeof(x->what), "modify %s of %s", m.resource_type,
		 c ? c->id : "the utility VM");
	struct pending *p = dispatch_go_async(req, err);
	if (!p) {
		free(x);
		return req_error(req, -(err->errnum ? err->errnum : EBUSY));
	}
	p->data = x;
	r = runtime_modify_settings_async(req->d->rt, c, &m, modify_done, p, &x->op, err);
	if (r == RUNTIME_PENDING) {
		p->cancel = modify_cancel;
		return DISPATCH_ASYNC;
	}
	p->data = NULL;
	dispatch_forget(p);
	if (r < 0) {
		r = error_prefix(err, r, "%s", x->what);
		free(x);
		return req_error(req, r);
	}
	free(x);
	return 0;
}

static int dump_stacks(struct request *req, struct error *err)
{
	_cleanup_free_ char *text = NULL;
	int r = dispatch_dump_state(req->d, &text, err);
	if (r < 0)
		return req_error(req, r);
	req->resp = json_pack("{s:s}", "GuestStacks", text);
	if (!req->resp)
		return req_error(req, error_set(err, ENOMEM, "encode agent state"));
	return 0;
}

static int delete_container_state(struct request *req, struct error *err)
{
	struct container *c;
	int r = find_container(req, &c, err);
	if (r < 0)
		return req_error(req, r);
	r = runtime_delete_container_state(req->d->rt, c, err);
	if (r < 0)
		return req_error(req, error_prefix(err, r, "delete state of container %s",
						   req->base.container_id));
	return 0;
}

const struct handler dispatch_handlers[] = {
	{ MSG_CREATE, "Create", create },
	{ MSG_START, "Start", start },
	{ MSG_SHUTDOWN_GRACEFUL, "ShutdownGraceful", shutdown_graceful },
	{ MSG_SHUTDOWN_FORCED, "ShutdownForced", shutdown_forced },
	{ MSG_EXECUTE_PROCESS, "ExecuteProcess", execute_process },
	{ MSG_WAIT_FOR_PROCESS, "WaitForProcess", wait_for_process },
	{ MSG_SIGNAL_PROCESS, "SignalProcess", signal_process },
	{ MSG_RESIZE_CONSOLE, "ResizeConsole", resize_console },
	{ MSG_GET_PROPERTIES, "GetProperties", get_properties },
	{ MSG_MODIFY_SETTINGS, "ModifySettings", modify_settings },
	{ MSG_NEGOTIATE_PROTOCOL, "NegotiateProtocol", negotiate_protocol },
	{ MSG_DUMP_STACKS, "DumpStacks", dump_stacks },
	{ MSG_DELETE_CONTAINER_STATE, "DeleteContainerState", delete_container_state },
};
const size_t dispatch_n_handlers = ARRAY_SIZE(dispatch_handlers);
