/* SPDX-License-Identifier: MIT */
/*
 * The agent assembled: transport (or one given fd) -> conn (frames) ->
 * dispatch (protocol) -> runtime (containers), all on one loop.  main()
 * builds one over vsock; the tests build one over a socketpair or a unix
 * socket and drive the loop themselves.
 */
#ifndef GCS_SERVER_H
#define GCS_SERVER_H

#include <stdbool.h>

#include "conn.h"
#include "dispatch/dispatch.h"
#include "lcow/error.h"
#include "loop.h"
#include "runtime/runtime.h"
#include "transport.h"

struct server_config {
	/* Dial and re-dial this; or, when NULL, serve the connected socket
	 * fd (taken over) and quit the loop when it closes. */
	const struct dialer *dialer;
	int fd;
	unsigned retry_ms;	/* 0: TRANSPORT_RETRY_MS */
	void (*poweroff)(void *ctx);
	void *poweroff_ctx;
	bool log_bodies;
	/* Let the runtime touch the system (containers, processes, mounts,
	 * cgroups): the agent in the VM only, never a test on a build host. */
	bool manage_system;
	/* With manage_system: -root-mem-reserve-bytes (the pods cgroup gets
	 * the VM's RAM less this). */
	uint64_t pods_mem_reserve;
	/* With manage_system: -gcs-mem-limit-bytes (warn above it). */
	uint64_t agent_mem_threshold;
};

struct server {
	struct loop *loop;
	struct runtime rt;
	struct dispatch *dispatch;
	bool dialing;
	struct transport transport;
	struct conn *conn;
	int early_fd;		/* connected before the dispatcher was ready */
	void (*poweroff)(void *ctx);
	void *poweroff_ctx;
	struct storage *storage;
};

int server_init(struct server *s, struct loop *l, const struct server_config *cfg,
		struct error *err);
void server_fini(struct server *s);

#endif
