/* SPDX-License-Identifier: MIT */
#include "oci.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mount.h>

#include "lcow/cleanup.h"
#include "protocol/json.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define TRY(expr)                       \
	do {                            \
		int r_ = (expr);        \
		if (r_ < 0)             \
			return r_;      \
	} while (0)

static const struct {
	const char *name;
	int type;
} namespaces[] = {
	{ "mount", CLONE_NEWNS },   { "pid", CLONE_NEWPID },     { "uts", CLONE_NEWUTS },
	{ "ipc", CLONE_NEWIPC },    { "network", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP },
	{ "user", CLONE_NEWUSER },  { "time", CLONE_NEWTIME },
};

int oci_namespace_type(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++)
		if (strcmp(namespaces[i].name, name) == 0)
			return namespaces[i].type;
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "RLIMIT_AS", RLIMIT_AS },	     { "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },	     { "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },    { "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },	     { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },    { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

int oci_rlimit_type(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++)
		if (strcmp(rlimits[i].name, name) == 0)
			return rlimits[i].resource;
	return -1;
}

/* []string into a NULL-terminated array of borrowed strings. */
static int string_list(const json_t *obj, const char *name, const char ***out, size_t *n,
		       struct error *err)
{
	json_t *arr;
	*out = NULL;
	*n = 0;
	TRY(jf_string_array(obj, name, &arr, err));
	size_t len = arr ? json_array_size(arr) : 0;
	const char **v = calloc(len + 1, sizeof(*v));
	if (!v)
		return error_set(err, ENOMEM, "field %s", name);
	for (size_t i = 0; i < len; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		v[i] = s ? s : "";
	}
	*out = v;
	*n = len;
	return 0;
}

static int parse_caps_list(const json_t *obj, const char *name, uint64_t *mask, struct error *err)
{
	json_t *arr;
	*mask = 0;
	TRY(jf_string_array(obj, name, &arr, err));
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		int cap = caps_from_name(json_string_value(v));
		/* Unknown names (newer kernels' caps) are skipped, as runc
		 * does with a warning. */
		if (cap >= 0 && cap < CAPS_MAX)
			*mask |= 1ull << cap;
	}
	return 0;
}

static int parse_user(const json_t *proc, struct oci_process *p, struct error *err)
{
	json_t *user, *gids;
	TRY(jf_object(proc, "user", &user, err));
	p->username = "";
	if (!user)
		return 0;
	TRY(jf_u32(user, "uid", &p->uid, err));
	TRY(jf_u32(user, "gid", &p->gid, err));
	TRY(jf_string(user, "username", &p->username, err));
	TRY(jf_array(user, "additionalGids", &gids, err));
	size_t n = gids ? json_array_size(gids) : 0;
	if (n) {
		p->additional_gids = calloc(n, sizeof(uint32_t));
		if (!p->additional_gids)
			return error_set(err, ENOMEM, "additionalGids");
		for (size_t i = 0; i < n; i++) {
			json_t *g = json_array_get(gids, i);
			if (!json_is_integer(g) || json_integer_value(g) < 0 ||
			    json_integer_value(g) > UINT32_MAX)
				return error_setx(err, EBADMSG, "field additionalGids[%zu]: not a gid", i);
			p->additional_gids[i] = (uint32_t)json_integer_value(g);
		}
		p->n_additional_gids = n;
	}
	return 0;
}

static int parse_process(const json_t *proc, struct oci_process *p, struct error *err)
{
	json_t *caps, *rl, *console;
	TRY(string_list(proc, "args", &p->args, &p->n_args, err));
	TRY(string_list(proc, "env", &p->env, &p->n_env, err));
	TRY(jf_string(proc, "cwd", &p->cwd, err));
	TRY(jf_bool(proc, "terminal", &p->terminal, err));
	TRY(jf_object(proc, "consoleSize", &console, err));
	if (console) {
		uint32_t h = 0, w = 0;
		TRY(jf_u32(console, "height", &h, err));
		TRY(jf_u32(console, "width", &w, err));
		p->console_height = h > UINT16_MAX ? UINT16_MAX : (uint16_t)h;
		p->console_width = w > UINT16_MAX ? UINT16_MAX : (uint16_t)w;
	}
	TRY(parse_user(proc, p, err));
	TRY(jf_object(proc, "capabilities", &caps, err));
	if (caps) {
		p->has_caps = true;
		TRY(parse_caps_list(caps, "bounding", &p->caps.bounding, err));
		TRY(parse_caps_list(caps, "effective", &p->caps.effective, err));
		TRY(parse_caps_list(caps, "permitted", &p->caps.permitted, err));
		TRY(parse_caps_list(caps, "inheritable", &p->caps.inheritable, err));
		TRY(parse_caps_list(caps, "ambient", &p->caps.ambient, err));
	}
	TRY(jf_array(proc, "rlimits", &rl, err));
	size_t n = rl ? json_array_size(rl) : 0;
	if (n) {
		p->rlimits = calloc(n, sizeof(*p->rlimits));
		if (!p->rlimits)
			return error_set(err, ENOMEM, "rlimits");
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(rl, i);
			const char *type = "";
			if (!json_is_object(e))
				return error_setx(err, EBADMSG, "field rlimits[%zu]: expected object", i);
			TRY(jf_string(e, "type", &type, err));
			TRY(jf_u64(e, "soft", &p->rlimits[i].soft, err));
			TRY(jf_u64(e, "hard", &p->rlimits[i].hard, err));
			p->rlimits[i].resource = oci_rlimit_type(type);
			if (p->rlimits[i].resource < 0)
				return error_setx(err, EINVAL, "unknown rlimit type `%s`", type);
		}
		p->n_rlimits = n;
	}
	TRY(jf_bool(proc, "noNewPrivileges", &p->no_new_privileges, err));
	json_t *oom = jf_lookup(proc, "oomScoreAdj");
	if (oom && !json_is_null(oom)) {
		int32_t v;
		TRY(jf_i32(proc, "oomScoreAdj", &v, err));
		if (v < -1000 || v > 1000)
			return error_setx(err, EINVAL, "oomScoreAdj %d out of -1000..1000", (int)v);
		p->has_oom_score_adj = true;
		p->oom_score_adj = v;
	}
	if (!p->cwd || !*p->cwd)
		p->cwd = "/";
	if (p->cwd[0] != '/')
		return error_setx(err, EINVAL, "cwd `%s` is not an absolute path", p->cwd);
	return 0;
}

void oci_process_free(struct oci_process *p)
{
	free(p->args);
	free(p->env);
	free(p->additional_gids);
	free(p->rlimits);
	if (p->doc)
		json_decref(p->doc);
	memset(p, 0, sizeof(*p));
}

int oci_process_parse(json_t *doc, struct oci_process *p, struct error *err)
{
	memset(p, 0, sizeof(*p));
	if (!json_is_object(doc))
		return error_setx(err, EBADMSG, "OCI process: expected object");
	p->doc = json_incref(doc);
	int r = parse_process(doc, p, err);
	if (r < 0) {
		oci_process_free(p);
		return error_prefix(err, r, "OCI process");
	}
	return 0;
}

static int parse_mounts(const json_t *spec, struct oci_spec *s, struct error *err)
{
	json_t *arr;
	TRY(jf_array(spec, "mounts", &arr, err));
	size_t n = arr ? json_array_size(arr) : 0;
	if (!n)
		return 0;
	s->mounts = calloc(n, sizeof(*s->mounts));
	if (!s->mounts)
		return error_set(err, ENOMEM, "mounts");
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(arr, i);
		struct oci_mount *om = &s->mounts[i];
		_cleanup_free_ const char **opts = NULL;
		size_t n_opts;
		int r;
		if (!json_is_object(m))
			return error_setx(err, EBADMSG, "field mounts[%zu]: expected object", i);
		if ((r = jf_string(m, "destination", &om->destination, err)) < 0 ||
		    (r = jf_string(m, "type", &om->type, err)) < 0 ||
		    (r = jf_string(m, "source", &om->source, err)) < 0 ||
		    (r = string_list(m, "options", &opts, &n_opts, err)) < 0 ||
		    (r = mount_opts_parse(opts, n_opts, &om->opts, err)) < 0)
			return error_prefix(err, r, "mounts[%zu]", i);
		if (!om->type)
			om->type = "";
		if (!om->source)
			om->source = "";
		if (!om->destination || om->destination[0] != '/')
			return error_setx(err, EINVAL, "mounts[%zu]: destination `%s` is not absolute",
					  i, om->destination ? om->destination : "");
		/* type "bind" without a bind option is still a bind mount. */
		if (strcmp(om->type, "bind") == 0)
			om->opts.bind = true;
		s->n_mounts++;
	}
	return 0;
}

static int parse_resources(const json_t *lx, struct cgroup_resources *res, struct error *err)
{
	json_t *r, *mem, *cpu, *pids, *blkio;
	TRY(jf_object(lx, "resources", &r, err));
	if (!r)
		return 0;
	TRY(jf_object(r, "memory", &mem, err));
	if (mem) {
		json_t *v;
		if ((v = jf_lookup(mem, "limit")) && json_is_integer(v)) {
			res->has_memory_limit = true;
			res->memory_limit = json_integer_value(v);
		}
		if ((v = jf_lookup(mem, "swap")) && json_is_integer(v)) {
			res->has_memory_swap = true;
			res->memory_swap = json_integer_value(v);
		}
		if ((v = jf_lookup(mem, "reservation")) && json_is_integer(v)) {
			res->has_memory_reservation = true;
			res->memory_reservation = json_integer_value(v);
		}
	}
	TRY(jf_object(r, "cpu", &cpu, err));
	if (cpu) {
		json_t *v;
		TRY(jf_u64(cpu, "shares", &res->cpu_shares, err));
		TRY(jf_u64(cpu, "period", &res->cpu_period, err));
		if ((v = jf_lookup(cpu, "quota")) && json_is_integer(v)) {
			res->has_cpu_quota = true;
			res->cpu_quota = json_integer_value(v);
		}
		TRY(jf_string(cpu, "cpus", &res->cpuset_cpus, err));
		TRY(jf_string(cpu, "mems", &res->cpuset_mems, err));
	}
	TRY(jf_object(r, "pids", &pids, err));
	if (pids) {
		json_t *v = jf_lookup(pids, "limit");
		if (v && json_is_integer(v)) {
			res->has_pids_limit = true;
			res->pids_limit = json_integer_value(v);
		}
	}
	TRY(jf_object(r, "blockIO", &blkio, err));
	if (blkio)
		TRY(jf_u16(blkio, "weight", &res->blkio_weight, err));
	return 0;
}

static int parse_namespaces(const json_t *lx, struct oci_spec *s, struct error *err)
{
	json_t *arr;
	TRY(jf_array(lx, "namespaces", &arr, err));
	size_t i;
	json_t *ns;
	json_array_foreach(arr, i, ns)
	{
		const char *type = "", *path = "";
		if (!json_is_object(ns))
			return error_setx(err, EBADMSG, "field namespaces[%zu]: expected object", i);
		TRY(jf_string(ns, "type", &type, err));
		TRY(jf_string(ns, "path", &path, err));
		int t = oci_namespace_type(type ? type : "");
		if (!t)
			return error_setx(err, EINVAL, "unknown namespace type `%s`", type ? type : "");
		if (t == CLONE_NEWUSER || t == CLONE_NEWTIME)
			return error_setx(err, EOPNOTSUPP, "%s namespaces are not supported", type);
		for (size_t k = 0; k < s->n_ns; k++)
			if (s->ns[k].type == t)
				return error_setx(err, EINVAL, "namespace `%s` listed twice", type);
		if (s->n_ns == OCI_MAX_NAMESPACES)
			return error_setx(err, EINVAL, "too many namespaces");
		s->ns[s->n_ns].type = t;
		s->ns[s->n_ns].path = path ? path : "";
		s->n_ns++;
	}
	return 0;
}

static int parse_devices(const json_t *lx, struct oci_spec *s, struct error *err)
{
	json_t *arr;
	TRY(jf_array(lx, "devices", &arr, err));
	size_t n = arr ? json_array_size(arr) : 0;
	if (!n)
		return 0;
	s->devices = calloc(n, sizeof(*s->devices));
	if (!s->devices)
		return error_set(err, ENOMEM, "devices");
	for (size_t i = 0; i < n; i++) {
		json_t *d = json_array_get(arr, i), *v;
		struct oci_device *od = &s->devices[i];
		const char *type = "";
		if (!json_is_object(d))
			return error_setx(err, EBADMSG, "field devices[%zu]: expected object", i);
		TRY(jf_string(d, "path", &od->path, err));
		TRY(jf_string(d, "type", &type, err));
		if ((v = jf_lookup(d, "major")) && json_is_integer(v))
			od->major = json_integer_value(v);
		if ((v = jf_lookup(d, "minor")) && json_is_integer(v))
			od->minor = json_integer_value(v);
		TRY(jf_u32(d, "fileMode", &od->mode, err));
		TRY(jf_u32(d, "uid", &od->uid, err));
		TRY(jf_u32(d, "gid", &od->gid, err));
		if (!od->path || od->path[0] != '/' || !type || strlen(type) != 1 ||
		    !strchr("cbup", type[0]))
			return error_setx(err, EINVAL, "devices[%zu]: bad path or type", i);
		od->type = type[0];
		s->n_devices++;
	}
	return 0;
}

static int parse_linux(const json_t *spec, struct oci_spec *s, struct error *err)
{
	json_t *lx, *sysctl;
	const char *prop = "";
	TRY(jf_object(spec, "linux", &lx, err));
	if (!lx)
		return 0;
	TRY(parse_namespaces(lx, s, err));
	TRY(parse_resources(lx, &s->resources, err));
	TRY(string_list(lx, "maskedPaths", &s->masked_paths, &s->n_masked, err));
	TRY(string_list(lx, "readonlyPaths", &s->readonly_paths, &s->n_readonly, err));
	TRY(parse_devices(lx, s, err));
	TRY(jf_string_map(lx, "sysctl", &sysctl, err));
	size_t n = sysctl ? json_object_size(sysctl) : 0;
	if (n) {
		s->sysctl = calloc(n, sizeof(*s->sysctl));
		if (!s->sysctl)
			return error_set(err, ENOMEM, "sysctl");
		const char *k;
		json_t *v;
		json_object_foreach(sysctl, k, v)
		{
			if (strstr(k, "..") || strchr(k, '/'))
				return error_setx(err, EINVAL, "invalid sysctl `%s`", k);
			s->sysctl[s->n_sysctl].key = k;
			s->sysctl[s->n_sysctl].value = json_string_value(v) ? json_string_value(v) : "";
			s->n_sysctl++;
		}
	}
	TRY(jf_string(lx, "rootfsPropagation", &prop, err));
	if (prop && *prop) {
		const char *opts[] = { prop };
		struct mount_opts mo;
		if (mount_opts_parse(opts, 1, &mo, err) < 0 || !mo.propagation)
			return error_setx(err, EINVAL, "invalid rootfsPropagation `%s`", prop);
		s->rootfs_propagation = mo.propagation;
	}
	TRY(jf_object(lx, "seccomp", &s->seccomp, err));
	return 0;
}

static int parse_spec(const json_t *doc, struct oci_spec *s, struct error *err)
{
	json_t *proc, *root;
	TRY(jf_object(doc, "process", &proc, err));
	if (proc) {
		s->has_process = true;
		int r = parse_process(proc, &s->process, err);
		if (r < 0)
			return error_prefix(err, r, "process");
	}
	TRY(jf_object(doc, "root", &root, err));
	if (root) {
		TRY(jf_string(root, "path", &s->root_path, err));
		TRY(jf_bool(root, "readonly", &s->root_readonly, err));
	}
	if (!s->root_path)
		s->root_path = "";
	TRY(jf_string(doc, "hostname", &s->hostname, err));
	if (!s->hostname)
		s->hostname = "";
	if (strlen(s->hostname) > 64)
		return error_setx(err, EINVAL, "hostname `%s` is longer than 64 bytes", s->hostname);
	TRY(parse_mounts(doc, s, err));
	TRY(parse_linux(doc, s, err));
	return 0;
}

int oci_spec_parse(json_t *doc, struct oci_spec *spec, struct error *err)
{
	memset(spec, 0, sizeof(*spec));
	if (!json_is_object(doc))
		return error_setx(err, EBADMSG, "OCI specification: expected object");
	spec->doc = json_incref(doc);
	int r = parse_spec(doc, spec, err);
	if (r < 0) {
		oci_spec_free(spec);
		return error_prefix(err, r, "OCI specification");
	}
	return 0;
}

void oci_spec_free(struct oci_spec *s)
{
	/* The process's own doc is the spec's: it holds no reference. */
	s->process.doc = NULL;
	oci_process_free(&s->process);
	free(s->mounts);
	free(s->masked_paths);
	free(s->readonly_paths);
	free(s->devices);
	free(s->sysctl);
	if (s->doc)
		json_decref(s->doc);
	memset(s, 0, sizeof(*s));
}

const struct oci_namespace *oci_spec_namespace(const struct oci_spec *spec, int type)
{
	for (size_t i = 0; i < spec->n_ns; i++)
		if (spec->ns[i].type == type)
			return &spec->ns[i];
	return NULL;
}
