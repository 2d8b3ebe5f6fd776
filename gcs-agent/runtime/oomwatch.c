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
 *
 * Also the agent's own threshold (-gcs-mem-limit-bytes): hcsshim's guest
 * warns when its /gcs cgroup's usage passes it.  cgroup v2 marks no file
 * for that without memory.high (which throttles), so memory.current is
 * read once a second, as hcsshim does on v2.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "internal.h"
#include "lcow/cleanup.h"
#include "log.h"

/* Read the file again (which also re-arms the kernel's change mark). */
static int read_events(struct oom_watch *w, uint64_t *kills)
{
	char buf[512];
	ssize_t n = pread(w->fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*kills = cgroup_kv(buf, "oom_kill");
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

/* The agent's memory threshold.  hcsshim's guest on cgroup v2 reads
 * /gcs's memory.current every second; so does this, on the loop. */
static void on_mem_tick(struct loop_timer *timer)
{
	struct mem_watch *m = timer->data;
	uint64_t current = cgroup_read_u64(m->dirfd, "memory.current");
	if (cgroup_threshold_crossed(&m->t, current)) {
		/* What the memory is: memory.stat's main lines. */
		_cleanup_free_ char *stat = cgroup_read(m->dirfd, "memory.stat");
		log_warning("memory usage for cgroup exceeded threshold",
			    LOG_STR("cgroup", "/" CGROUP_AGENT), LOG_U64("threshold_bytes", m->t.threshold),
			    LOG_U64("current_bytes", current), LOG_U64("count", m->t.crossings),
			    LOG_U64("anon_bytes", cgroup_kv(stat, "anon")),
			    LOG_U64("file_bytes", cgroup_kv(stat, "file")),
			    LOG_U64("kernel_bytes", cgroup_kv(stat, "kernel")));
	}
	struct error err = { 0 };
	if (loop_timer_arm(timer, MEM_WATCH_PERIOD_MS, &err) < 0)
		log_warning("the agent's memory threshold is no longer watched", LOG_ERR(&err));
}

void mem_watch_start(struct runtime *rt, uint64_t threshold)
{
	struct mem_watch *m = &rt->sys->mem;
	if (!threshold || !rt->loop)
		return;
	struct error err = { 0 };
	const char *path = CGROUP_ROOT "/" CGROUP_AGENT;
	m->t = (struct cgroup_threshold){ .threshold = threshold };
	m->dirfd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (m->dirfd < 0) {
		log_warning("the agent's memory threshold will not be watched", LOG_STR("cgroup", path),
			    LOG_STR("error", strerror(errno)));
		return;
	}
	if (loop_timer_init(rt->loop, &m->timer, on_mem_tick, m, &err) < 0 ||
	    loop_timer_arm(&m->timer, MEM_WATCH_PERIOD_MS, &err) < 0) {
		log_warning("the agent's memory threshold will not be watched", LOG_ERR(&err));
		mem_watch_stop(rt->sys);
	}
}

void mem_watch_stop(struct runtime_system *sys)
{
	struct mem_watch *m = &sys->mem;
	if (m->dirfd < 0)
		return;
	loop_timer_fini(&m->timer);
	close(m->dirfd);
	m->dirfd = -1;
}
