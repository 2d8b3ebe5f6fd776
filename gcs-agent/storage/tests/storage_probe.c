/* SPDX-License-Identifier: MIT */
/*
 * storage-probe: the storage module alone, in the VM, for the integration
 * test (qemu-tests/tests/storage_devices_test.sh), which has no agent
 * routing to lean on.  It reads a script (file argument or stdin), one
 * step a line:
 *   {JSON}          a ModifySettings Request object ({"RequestType",
 *                   "ResourceType", "Settings"}), parsed by the agent's own
 *                   parser and run through storage_modify_async() on an
 *                   event loop, as the agent would
 *   sync {JSON}     the same through the synchronous storage_modify()
 *   sh COMMAND      /bin/sh -c COMMAND (checks between steps)
 *   wait MS         from now on, wait at most MS for a device (a new
 *                   storage instance; the agent's bound is 5000)
 *   # ...           a comment
 * and prints one line a step on stdout:
 *   ok <n> [pending] <ms>ms   (pending: it had to wait for a device)
 *   error <n> errno=<e> <ms>ms: <the message the host would get>
 *   sh <n> rc=<status>
 * then storage_describe().  Exit status: the number of failed requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "lcow/cleanup.h"
#include "loop.h"
#include "protocol/json.h"
#include "protocol/messages.h"
#include "storage/storage.h"

struct outcome {
	bool done;
	int r;
	struct error err;
};

static void on_done(void *arg, int r, const struct error *err)
{
	struct outcome *o = arg;
	o->done = true;
	o->r = r;
	if (err)
		o->err = *err;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(int n, int r, const struct error *err, bool pending, long long ms)
{
	if (r >= 0)
		printf("ok %d%s %lldms\n", n, pending ? " pending" : "", ms);
	else
		printf("error %d errno=%d %lldms: %s\n", n, -r, ms, error_text(err));
	fflush(stdout);
}

static int run_request(struct loop *loop, struct storage *st, const char *text, bool sync,
		       bool *pending, struct error *err)
{
	json_error_t jerr;
	json_t *req = json_loads(text, 0, &jerr);
	if (!req)
		return error_setx(err, EBADMSG, "bad JSON: %s", jerr.text);
	json_t *root = json_pack("{s:o}", "Request", req);
	struct msg_modify m;
	int r = msg_parse_modify(root, &m, err);
	if (r >= 0 && sync) {
		r = storage_modify(st, &m, err);
	} else if (r >= 0) {
		struct outcome o = { 0 };
		struct storage_op *op;
		r = storage_modify_async(st, &m, on_done, &o, &op, err);
		if (r == STORAGE_PENDING) {
			*pending = true;
			while (!o.done && loop_run_once(loop, -1, err) >= 0)
				;
			r = o.r;
			*err = o.err;
		}
	}
	json_decref(root);
	return r;
}

int main(int argc, char **argv)
{
	struct loop loop;
	struct storage *st;
	struct error err = { 0 };
	FILE *in = argc > 1 ? fopen(argv[1], "re") : stdin;
	if (!in) {
		perror(argv[1]);
		return 125;
	}
	if (loop_init(&loop, &err) < 0 || storage_new(&loop, &st, &err) < 0) {
		fprintf(stderr, "storage-probe: %s\n", error_text(&err));
		return 125;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int failed = 0, n = 0;
	char line[8192];
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		n++;
		if (strncmp(line, "wait ", 5) == 0) {
			struct storage_config cfg = { .device_wait_ms = (unsigned)atoi(line + 5) };
			storage_free(st);
			if (storage_new_config(&loop, &cfg, &st, &err) < 0) {
				fprintf(stderr, "storage-probe: %s\n", error_text(&err));
				return 125;
			}
			printf("wait %d %ums\n", n, cfg.device_wait_ms);
			continue;
		}
		if (strncmp(line, "sh ", 3) == 0) {
			fflush(stdout);
			int status = system(line + 3);
			printf("sh %d rc=%d\n", n, WIFEXITED(status) ? WEXITSTATUS(status) : 128);
			continue;
		}
		bool sync = strncmp(line, "sync ", 5) == 0;
		bool pending = false;
		error_clear(&err);
		long long t0 = now_ms();
		int r = run_request(&loop, st, sync ? line + 5 : line, sync, &pending, &err);
		report(n, r, &err, pending, now_ms() - t0);
		failed += r < 0;
	}
	storage_describe(st, stdout);
	storage_free(st);
	loop_fini(&loop);
	return failed;
}
