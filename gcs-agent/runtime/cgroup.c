/* SPDX-License-Identifier: MIT */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "log.h"

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cgroup_blkio_to_io_weight(uint64_t weight)
{
	if (weight == 0)
		return 0;
	if (weight < 10)
		weight = 10;
	if (weight > 1000)
		weight = 1000;
	return 1 + ((weight - 10) * 9999) / 990;
}

int cgroup_swap_to_v2(int64_t swap, int64_t limit, int64_t *out, struct error *err)
{
	/* Unlimited memory and no swap setting: both unlimited, as v1 did. */
	if (limit == -1 && swap == 0) {
		*out = -1;
		return 0;
	}
	if (swap == -1 || swap == 0) {
		*out = swap;
		return 0;
	}
	if (limit == 0 || limit == -1)
		return error_setx(err, EINVAL, "a swap limit needs a memory limit");
	if (limit < 0 || swap < 0)
		return error_setx(err, EINVAL, "invalid memory %" PRId64 " / swap %" PRId64, limit,
				  swap);
	if (swap < limit)
		return error_setx(err, EINVAL,
				  "memory+swap limit %" PRId64 " is below the memory limit %" PRId64,
				  swap, limit);
	*out = swap - limit;
	return 0;
}

void cgroup_cpu_max(bool has_quota, int64_t quota, uint64_t period, char *buf, size_t len)
{
	if (period == 0)
		period = 100000;
	if (has_quota && quota > 0)
		snprintf(buf, len, "%" PRId64 " %" PRIu64, quota, period);
	else
		snprintf(buf, len, "max %" PRIu64, period);
}

/* cgroupfs files take one write() per value. */
static int write_at(int dirfd, const char *file, const char *value, struct error *err)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open %s", file);
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n < 0)
		return error_set(err, errno, "write `%s` to %s", value, file);
	if ((size_t)n != len)
		return error_setx(err, EIO, "short write to %s", file);
	return 0;
}

static int write_path(const char *path, const char *value, struct error *err)
{
	return write_at(AT_FDCWD, path, value, err);
}

static void enable_controllers(const char *subtree_control)
{
	/* One at a time: a controller the kernel lacks must not stop the
	 * others. */
	static const char *const ctl[] = { "+cpu", "+memory", "+pids", "+cpuset", "+io" };
	for (size_t i = 0; i < ARRAY_SIZE(ctl); i++)
		write_path(subtree_control, ctl[i], NULL);
}

bool cgroup_pods_limit(uint64_t total_ram, uint64_t reserve, uint64_t *limit)
{
	if (reserve >= total_ram)
		return false;
	*limit = total_ram - reserve;
	return true;
}

bool cgroup_threshold_crossed(struct cgroup_threshold *t, uint64_t current)
{
	if (!t->threshold || current <= t->threshold) {
		t->above = false;
		return false;
	}
	if (t->above)
		return false;
	t->above = true;
	t->crossings++;
	return true;
}

/* A workload that takes all of the VM's memory must not take the agent's
 * (and the host's bridge) with it: hcsshim's guest caps /pods the same
 * way.  The OOM killer then picks inside /pods before the VM runs out. */
static void cap_pods_memory(uint64_t reserve)
{
	struct sysinfo si;
	uint64_t limit;
	if (sysinfo(&si) < 0) {
		log_warning("pods cgroup left without a memory cap", LOG_STR("error", strerror(errno)));
		return;
	}
	uint64_t total = (uint64_t)si.totalram * (si.mem_unit ? si.mem_unit : 1);
	if (!cgroup_pods_limit(total, reserve, &limit)) {
		log_warning("pods cgroup left without a memory cap: the reserve is all of the RAM",
			    LOG_U64("total_ram_bytes", total), LOG_U64("reserve_bytes", reserve));
		return;
	}
	char v[32];
	snprintf(v, sizeof(v), "%" PRIu64, limit);
	struct error err = { 0 };
	if (write_path(CGROUP_ROOT "/" CGROUP_PODS "/memory.max", v, &err) < 0) {
		log_warning("pods cgroup left without a memory cap", LOG_ERR(&err));
		return;
	}
	log_info("pods cgroup memory capped", LOG_U64("limit_bytes", limit),
		 LOG_U64("total_ram_bytes", total), LOG_U64("reserve_bytes", reserve));
}

int cgroup_setup_agent(uint64_t pods_reserve, struct error *err)
{
	int r;
	if (mkdir(CGROUP_ROOT "/" CGROUP_AGENT, 0755) < 0 && errno != EEXIST)
		return error_set(err, errno, "mkdir %s", CGROUP_ROOT "/" CGROUP_AGENT);
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if ((r = write_path(CGROUP_ROOT "/" CGROUP_AGENT "/cgroup.procs", pid, err)) < 0)
		return error_prefix(err, r, "move the agent to its cgroup");
	/* The OOM killer must never pick the agent: without it the host
	 * loses the VM. */
	if ((r = write_path("/proc/self/oom_score_adj", "-1000", err)) < 0)
		return r;
	if (mkdir(CGROUP_ROOT "/" CGROUP_PODS, 0755) < 0 && errno != EEXIST)
		return error_set(err, errno, "mkdir %s", CGROUP_ROOT "/" CGROUP_PODS);
	enable_controllers(CGROUP_ROOT "/" CGROUP_PODS "/cgroup.subtree_control");
	if (pods_reserve)
		cap_pods_memory(pods_reserve);
	return 0;
}

int cgroup_create(const char *name, int *dirfd, struct error *err)
{
	char path[512];
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return error_setx(err, EINVAL, "invalid cgroup name `%s`", name);
	snprintf(path, sizeof(path), "%s/%s/%s", CGROUP_ROOT, CGROUP_PODS, name);
	if (mkdir(path, 0755) < 0)
		return error_set(err, errno, "mkdir %s", path);
	int fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		rmdir(path);
		return error_set(err, e, "open %s", path);
	}
	*dirfd = fd;
	return 0;
}

int cgroup_apply(int dirfd, const struct cgroup_resources *res, struct error *err)
{
	char v[64];
	int r;
	if (res->cpuset_cpus && *res->cpuset_cpus &&
	    (r = write_at(dirfd, "cpuset.cpus", res->cpuset_cpus, err)) < 0)
		return r;
	if (res->cpuset_mems && *res->cpuset_mems &&
	    (r = write_at(dirfd, "cpuset.mems", res->cpuset_mems, err)) < 0)
		return r;
	if (res->has_memory_reservation && res->memory_reservation != 0) {
		if (res->memory_reservation < 0)
			snprintf(v, sizeof(v), "max");
		else
			snprintf(v, sizeof(v), "%" PRId64, res->memory_reservation);
		if ((r = write_at(dirfd, "memory.low", v, err)) < 0)
			return r;
	}
	if (res->has_memory_limit && res->memory_limit != 0) {
		if (res->memory_limit < 0)
			snprintf(v, sizeof(v), "max");
		else
			snprintf(v, sizeof(v), "%" PRId64, res->memory_limit);
		if ((r = write_at(dirfd, "memory.max", v, err)) < 0)
			return r;
	}
	if (res->has_memory_swap || res->has_memory_limit) {
		int64_t swap;
		if ((r = cgroup_swap_to_v2(res->has_memory_swap ? res->memory_swap : 0,
					   res->has_memory_limit ? res->memory_limit : 0, &swap,
					   err)) < 0)
			return r;
		if (swap != 0) {
			if (swap < 0)
				snprintf(v, sizeof(v), "max");
			else
				snprintf(v, sizeof(v), "%" PRId64, swap);
			/* No swap accounting (no swap configured in the VM):
			 * a zero swap limit is what it already is. */
			r = write_at(dirfd, "memory.swap.max", v, err);
			if (r == -ENOENT && (swap == 0 || swap == -1))
				r = 0;
			if (r < 0)
				return r;
		}
	}
	if (res->cpu_shares) {
		snprintf(v, sizeof(v), "%" PRIu64, cgroup_shares_to_weight(res->cpu_shares));
		if ((r = write_at(dirfd, "cpu.weight", v, err)) < 0)
			return r;
	}
	if (res->has_cpu_quota || res->cpu_period) {
		cgroup_cpu_max(res->has_cpu_quota, res->cpu_quota, res->cpu_period, v, sizeof(v));
		if ((r = write_at(dirfd, "cpu.max", v, err)) < 0)
			return r;
	}
	if (res->has_pids_limit) {
		if (res->pids_limit <= 0)
			snprintf(v, sizeof(v), "max");
		else
			snprintf(v, sizeof(v), "%" PRId64, res->pids_limit);
		if ((r = write_at(dirfd, "pids.max", v, err)) < 0)
			return r;
	}
	if (res->blkio_weight) {
		/* BFQ takes the v1 range as is; iocost's io.weight is wider. */
		snprintf(v, sizeof(v), "%u", res->blkio_weight);
		r = write_at(dirfd, "io.bfq.weight", v, NULL);
		if (r == -ENOENT) {
			snprintf(v, sizeof(v), "default %" PRIu64,
				 cgroup_blkio_to_io_weight(res->blkio_weight));
			r = write_at(dirfd, "io.weight", v, err);
		}
		if (r < 0)
			return error_prefix(err, r, "blkio weight (the kernel needs BFQ or iocost)");
	}
	return 0;
}

int cgroup_kill(int dirfd, struct error *err)
{
	return write_at(dirfd, "cgroup.kill", "1", err);
}

int cgroup_remove(const char *name, struct error *err)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/%s", CGROUP_ROOT, CGROUP_PODS, name);
	if (rmdir(path) < 0 && errno != ENOENT)
		return error_set(err, errno, "rmdir %s", path);
	return 0;
}

/* The whole (small) file, NUL-terminated, malloc'd. */
char *cgroup_read(int dirfd, const char *file)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 >= cap) {
			if (cap >= (1u << 20))
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

uint64_t cgroup_read_u64(int dirfd, const char *file)
{
	_cleanup_free_ char *s = cgroup_read(dirfd, file);
	if (!s)
		return 0;
	if (strncmp(s, "max", 3) == 0)
		return UINT64_MAX;
	return strtoull(s, NULL, 10);
}

/* "key value" lines (cpu.stat, memory.stat, memory.events). */
uint64_t cgroup_kv(const char *text, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
			return strtoull(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

uint64_t cgroup_oom_kills(int dirfd)
{
	_cleanup_free_ char *ev = cgroup_read(dirfd, "memory.events");
	return ev ? cgroup_kv(ev, "oom_kill") : 0;
}

int cgroup_pids(int dirfd, int **pids, size_t *n, struct error *err)
{
	_cleanup_free_ char *procs = cgroup_read(dirfd, "cgroup.procs");
	if (!procs)
		return error_set(err, errno ? errno : EIO, "read cgroup.procs");
	size_t count = 0, cap = 16;
	_cleanup_free_ int *v = malloc(cap * sizeof(int));
	if (!v)
		return error_set(err, ENOMEM, "pid list");
	for (char *p = procs; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (count == cap) {
			int *nv = realloc(v, cap * 2 * sizeof(int));
			if (!nv)
				return error_set(err, ENOMEM, "pid list");
			v = nv;
			cap *= 2;
		}
		v[count++] = (int)pid;
		p = end;
		while (*p == '\n')
			p++;
	}
	*pids = TAKE_PTR(v);
	*n = count;
	return 0;
}

/* A JSON object writer that leaves zero values out, as Go's omitempty. */
struct jw {
	FILE *f;
	bool first;
};

static void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	if (!v)
		return;
	fprintf(w->f, "%s\"%s\":%" PRIu64, w->first ? "" : ",", key, v);
	w->first = false;
}

static void jw_open(struct jw *outer, struct jw *inner, const char *key)
{
	fprintf(outer->f, "%s\"%s\":{", outer->first ? "" : ",", key);
	outer->first = false;
	inner->f = outer->f;
	inner->first = true;
}

static void jw_close(struct jw *w)
{
	fputc('}', w->f);
}

int cgroup_write_metrics(int dirfd, FILE *out, struct error *err)
{
	_cleanup_free_ char *cpu = cgroup_read(dirfd, "cpu.stat");
	_cleanup_free_ char *mem = cgroup_read(dirfd, "memory.stat");
	_cleanup_free_ char *events = cgroup_read(dirfd, "memory.events");
	if (!cpu && !mem)
		return error_set(err, errno ? errno : EIO, "read the cgroup's statistics");
	struct jw top = { out, true }, a, b;
	fputc('{', out);

	jw_open(&top, &a, "pids");
	jw_u64(&a, "current", cgroup_read_u64(dirfd, "pids.current"));
	jw_u64(&a, "limit", cgroup_read_u64(dirfd, "pids.max"));
	jw_close(&a);

	/* v2 counts microseconds; the v1 shape nanoseconds. */
	jw_open(&top, &a, "cpu");
	jw_open(&a, &b, "usage");
	jw_u64(&b, "total", cgroup_kv(cpu, "usage_usec") * 1000);
	jw_u64(&b, "kernel", cgroup_kv(cpu, "system_usec") * 1000);
	jw_u64(&b, "user", cgroup_kv(cpu, "user_usec") * 1000);
	jw_close(&b);
	jw_open(&a, &b, "throttling");
	jw_u64(&b, "periods", cgroup_kv(cpu, "nr_periods"));
	jw_u64(&b, "throttled_periods", cgroup_kv(cpu, "nr_throttled"));
	jw_u64(&b, "throttled_time", cgroup_kv(cpu, "throttled_usec") * 1000);
	jw_close(&b);
	jw_close(&a);

	uint64_t limit = cgroup_read_u64(dirfd, "memory.max");
	uint64_t swap_limit = cgroup_read_u64(dirfd, "memory.swap.max");
	/* The v1 shape's names for memory.stat's v2 keys, in its order. */
	static const struct {
		const char *name, *key;
	} mem_stats[] = {
		{ "cache", "file" },
		{ "rss", "anon" },
		{ "mapped_file", "file_mapped" },
		{ "dirty", "file_dirty" },
		{ "writeback", "file_writeback" },
		{ "pg_fault", "pgfault" },
		{ "pg_maj_fault", "pgmajfault" },
		{ "inactive_anon", "inactive_anon" },
		{ "active_anon", "active_anon" },
		{ "inactive_file", "inactive_file" },
		{ "active_file", "active_file" },
		{ "unevictable", "unevictable" },
	};
	jw_open(&top, &a, "memory");
	for (size_t i = 0; i < ARRAY_SIZE(mem_stats); i++)
		jw_u64(&a, mem_stats[i].name, cgroup_kv(mem, mem_stats[i].key));
	jw_u64(&a, "hierarchical_memory_limit", limit);
	jw_u64(&a, "hierarchical_swap_limit", swap_limit);
	jw_open(&a, &b, "usage");
	jw_u64(&b, "limit", limit);
	jw_u64(&b, "usage", cgroup_read_u64(dirfd, "memory.current"));
	jw_u64(&b, "max", cgroup_read_u64(dirfd, "memory.peak"));
	jw_close(&b);
	jw_open(&a, &b, "swap");
	jw_u64(&b, "limit", swap_limit);
	jw_u64(&b, "usage", cgroup_read_u64(dirfd, "memory.swap.current"));
	jw_u64(&b, "max", cgroup_read_u64(dirfd, "memory.swap.peak"));
	jw_close(&b);
	jw_open(&a, &b, "kernel");
	jw_u64(&b, "usage", cgroup_kv(mem, "kernel_stack"));
	jw_close(&b);
	jw_open(&a, &b, "kernel_tcp");
	jw_u64(&b, "usage", cgroup_kv(mem, "sock"));
	jw_close(&b);
	jw_close(&a);

	/* hcsshim's guest empties blkio before answering (the host reads
	 * only cpu and memory, and blkio grows with the layer count). */
	jw_open(&top, &a, "blkio");
	jw_close(&a);

	if (events) {
		jw_open(&top, &a, "memory_oom_control");
		jw_u64(&a, "oom_kill", cgroup_kv(events, "oom_kill"));
		jw_close(&a);
	}
	fputc('}', out);
	return 0;
}
