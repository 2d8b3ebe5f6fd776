/* SPDX-License-Identifier: MIT */
/*
 * The OOM killer's visits, reported.  hcsshim's guest watches the pods
 * cgroup's OOM events and logs a warning for each; here memory.events of
 * the agent's cgroup (itself and the utility VM's processes) and of the
 * pods cgroup (every container below it) are watched on the event loop:
 * the kernel marks the file (EPOLLPRI) when a counter changes, and every
 * kill of a process in the subtree, by a cgroup limit or by the whole VM
 * running out of memory, counts in "oom_kill".  The victim's exit status
 * (137) still reaches the host through WaitForProcess and the container's
 * exit notification; this is the line that says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "internal.h"
#include "log.h"

static uint64_t event_count(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;
	while (*p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
			return strtoull(p + klen + 1, NULL, 10);
		const char *nl = strchr(p, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

/* Read the file again (which also re-arms the kernel's change mark). */
static int read_events(struct oom_watch *w, uint64_t *kills)
{
	char buf[512];
	ssize_t n = pread(w->fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*kills = event_count(buf, "oom_kill");
	return 0;
}

static void on_events(struct loop_source *src, uint32_t events)
{
	struct oom_watch *w = src->data;
	(void)events;
	uint64_t kills;
	if (read_events(w, &kills) < 0 || kills <= w->oom_kill)
		return;
	log_warning("out of memory: the OOM killer killed a process",
		    LOG_STR("cgroup", w->cgroup), LOG_U64("killed", kills - w->oom_kill),
		    LOG_U64("oom_kill_total", kills));
	w->oom_kill = kills;
}

void oom_watch_start(struct runtime *rt)
{
	static const char *const cgroups[OOM_WATCHES] = { "/" CGROUP_AGENT, "/" CGROUP_PODS };
	struct runtime_system *sys = rt->sys;
	for (int i = 0; i < OOM_WATCHES; i++) {
		struct oom_watch *w = &sys->oom[i];
		char path[128];
		w->cgroup = cgroups[i];
		snprintf(path, sizeof(path), CGROUP_ROOT "%s/memory.events", cgroups[i]);
		w->fd = open(path, O_RDONLY | O_CLOEXEC);
		struct error err = { 0 };
		/* Without the memory controller there is nothing to watch;
		 * the agent works on without the report. */
		if (w->fd < 0 || read_events(w, &w->oom_kill) < 0 || !rt->loop ||
		    loop_add(rt->loop, &w->src, w->fd, EPOLLPRI, on_events, w, &err) < 0) {
			log_warning("OOM kills will not be reported", LOG_STR("file", path),
				    LOG_STR("error", err.errnum ? error_text(&err) : strerror(errno)));
			if (w->fd >= 0)
				close(w->fd);
			w->fd = -1;
		}
	}
}

void oom_watch_stop(struct runtime_system *sys)
{
	for (int i = 0; i < OOM_WATCHES; i++) {
		struct oom_watch *w = &sys->oom[i];
		if (w->fd < 0)
			continue;
		loop_remove(&w->src);
		close(w->fd);
		w->fd = -1;
	}
}
