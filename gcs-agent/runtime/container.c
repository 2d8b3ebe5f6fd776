/* SPDX-License-Identifier: MIT */
/*
 * Containers: Create (spec, seccomp, cgroup), the init's namespaces,
 * shutdown, state deletion, properties, and the CombinedLayers overlays
 * their root file systems are made of.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devcg.h"
#include "internal.h"
#include "lcow/cleanup.h"
#include "lcow/fs.h"
#include "log.h"
#include "network/network.h"
#include "protocol/json.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

const int ns_clone_flag[NS_COUNT] = {
	[NS_MNT] = CLONE_NEWNS,	  [NS_UTS] = CLONE_NEWUTS,	 [NS_IPC] = CLONE_NEWIPC,
	[NS_NET] = CLONE_NEWNET,  [NS_CGROUP] = CLONE_NEWCGROUP, [NS_PID] = CLONE_NEWPID,
};
const char *const ns_proc_name[NS_COUNT] = {
	[NS_MNT] = "mnt", [NS_UTS] = "uts",	  [NS_IPC] = "ipc",
	[NS_NET] = "net", [NS_CGROUP] = "cgroup", [NS_PID] = "pid",
};

/* hcsshim's guest accepts container ids of this shape; anything else
 * would be a path component of a cgroup and a log field. */
static bool valid_id(const char *id)
{
	size_t n = strlen(id);
	if (!n || n > 128 || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
			       (id[0] >= '0' && id[0] <= '9')))
		return false;
	for (const char *p = id; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
			return false;
	return true;
}

/* A path the agent may delete recursively: its own state under /run. */
static bool deletable(const char *path)
{
	return path && strncmp(path, RUNTIME_STATE_PREFIX, strlen(RUNTIME_STATE_PREFIX)) == 0 &&
	       !strstr(path, "/../") && !strstr(path, "/./") &&
	       strlen(path) > strlen(RUNTIME_STATE_PREFIX);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void remove_tree(const char *path)
{
	/* FTW_MOUNT: never into another file system (a mount left behind
	 * is unmounted first, never emptied). */
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char *read_mountinfo(void)
{
	_cleanup_close_ int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* Unmount everything at or below dir, deepest first. */
static int unmount_under(const char *dir, struct error *err)
{
	_cleanup_free_ char *info = read_mountinfo();
	if (!info)
		return error_set(err, errno ? errno : EIO, "read /proc/self/mountinfo");
	char *paths[256];
	size_t n = 0;
	size_t dlen = strlen(dir);
	for (char *line = info, *next; line && *line && n < ARRAY_SIZE(paths); line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *save = NULL, *p = line, *tok = NULL;
		for (int f = 0; f < 5 && (tok = strtok_r(p, " ", &save)); f++, p = NULL)
			;
		if (!tok)
			continue;
		/* Paths with escaped characters are not ours. */
		if (strncmp(tok, dir, dlen) == 0 && (tok[dlen] == '/' || tok[dlen] == '\0'))
			paths[n++] = tok;
	}
	int first = 0;
	/* mountinfo lists parents before children: unmount in reverse. */
	for (size_t i = n; i-- > 0;) {
		if (umount2(paths[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT &&
		    !first)
			first = error_set(err, errno, "unmount %s", paths[i]);
	}
	return first;
}

void container_impl_free(struct runtime *rt, struct container *c)
{
	(void)rt;
	struct container_impl *ci = c->impl;
	if (!ci)
		return;
	for (int i = 0; i < NS_COUNT; i++)
		if (ci->ns_fd[i] >= 0)
			close(ci->ns_fd[i]);
	if (ci->netns_fd >= 0) {
		close(ci->netns_fd);
		if (rt && rt->sys)
			network_detach(rt->sys->net, ci->net_id);
	}
	if (ci->cgroup_fd >= 0)
		close(ci->cgroup_fd);
	if (ci->cgroup_procs_fd >= 0)
		close(ci->cgroup_procs_fd);
	if (ci->has_seccomp)
		seccomp_program_free(&ci->seccomp);
	oci_spec_free(&ci->spec);
	free(ci->rootfs);
	free(ci->bundle);
	free(ci->scratch);
	free(ci);
	c->impl = NULL;
}

static int write_text(const char *path, const char *text, struct error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
				      0644);
	if (fd < 0)
		return error_set(err, errno, "create %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return error_set(err, errno ? errno : EIO, "write %s", path);
	return 0;
}

static bool has_mount(const json_t *mounts, const char *dest)
{
	size_t i;
	json_t *m;
	json_array_foreach(mounts, i, m)
	{
		const char *d = json_string_value(json_object_get(m, "destination"));
		if (d && strcmp(d, dest) == 0)
			return true;
	}
	return false;
}

/* hcsshim's guest gives a standalone container /etc/hostname, /etc/hosts
 * and /etc/resolv.conf of its own, written to the bundle and bind-mounted,
 * unless the spec mounts something there already. */
static int add_etc_files(json_t *spec, const char *bundle, const char *resolv, struct error *err)
{
	/* Where the root will be: a mount point must exist in it, or be
	 * creatable (not on a read-only root without the file). */
	char etc[PATH_MAX - 64];
	const char *root = json_string_value(json_object_get(json_object_get(spec, "root"), "path"));
	if (!root || !*root)
		return 0;
	snprintf(etc, sizeof(etc), "%s%s%s/etc", root[0] == '/' ? "" : bundle,
		 root[0] == '/' ? "" : "/", root);
	bool etc_writable = access(etc, W_OK) == 0;
	char hostname[256] = "";
	const char *h = json_string_value(json_object_get(spec, "hostname"));
	if (h && *h)
		snprintf(hostname, sizeof(hostname), "%s", h);
	else if (gethostname(hostname, sizeof(hostname) - 1) < 0)
		return error_set(err, errno, "gethostname");
	char hosts[1024];
	const char *dot = strchr(hostname, '.');
	if (dot)
		snprintf(hosts, sizeof(hosts), "127.0.0.1 localhost\n127.0.0.1 %s %.*s\n", hostname,
			 (int)(dot - hostname), hostname);
	else
		snprintf(hosts, sizeof(hosts), "127.0.0.1 localhost\n127.0.0.1 %s\n", hostname);
	strncat(hosts,
		"\n# The following lines are desirable for IPv6 capable hosts\n"
		"::1     ip6-localhost ip6-loopback\nfe00::0 ip6-localnet\n"
		"ff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n",
		sizeof(hosts) - strlen(hosts) - 1);
	char host_line[300];
	snprintf(host_line, sizeof(host_line), "%s\n", hostname);
	/* resolv.conf: the DNS settings of the adapters of the container's
	 * network namespace id (added before Create, as hcsshim expects). */
	const struct {
		const char *name, *text;
	} files[] = { { "hostname", host_line }, { "hosts", hosts }, { "resolv.conf", resolv } };
	json_t *mounts = json_object_get(spec, "mounts");
	if (!json_is_array(mounts)) {
		mounts = json_array();
		if (!mounts || json_object_set_new(spec, "mounts", mounts) < 0)
			return error_set(err, ENOMEM, "mounts");
	}
	bool ro = json_is_true(json_object_get(json_object_get(spec, "root"), "readonly"));
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char dest[64], path[PATH_MAX];
		snprintf(dest, sizeof(dest), "/etc/%s", files[i].name);
		if (has_mount(mounts, dest))
			continue;
		if (snprintf(path, sizeof(path), "%.4000s/%s", etc, files[i].name) >= (int)sizeof(path))
			continue;
		if (!etc_writable && access(path, F_OK) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", bundle, files[i].name);
		int r = write_text(path, files[i].text, err);
		if (r < 0)
			return r;
		json_t *m = json_pack("{s:s, s:s, s:s, s:[s]}", "destination", dest, "type", "bind",
				      "source", path, "options", "bind");
		if (m && ro)
			json_array_append_new(json_object_get(m, "options"), json_string("ro"));
		if (!m || json_array_append_new(mounts, m) < 0)
			return error_set(err, ENOMEM, "mounts");
	}
	return 0;
}

int container_refresh_resolv_conf(struct runtime *rt, struct container *c, struct error *err)
{
	struct container_impl *ci = c->impl;
	if (!ci || !ci->bundle || !*ci->bundle || !ci->net_id[0] || !rt->sys || !rt->sys->net)
		return 0;
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/resolv.conf", ci->bundle) >= (int)sizeof(path) ||
	    access(path, F_OK) < 0)
		return 0;	/* the spec mounts its own, or nothing could be placed */
	_cleanup_free_ char *resolv = NULL;
	int r = network_resolv_conf(rt->sys->net, ci->net_id, &resolv, err);
	if (r < 0)
		return r;
	return write_text(path, resolv, err);
}

static uint64_t all_caps(void)
{
	return ~0ull;
}

int container_create(struct runtime *rt, const char *id, const char *activity_id,
		     const struct msg_create *m, struct error *err)
{
	int r;
	if (!valid_id(id))
		return error_setx(err, EINVAL, "invalid container id `%s`", id);
	if (!m->oci_spec)
		return error_setx(err, EINVAL, "ContainerConfig has no OciSpecification");
	struct container_impl *ci = calloc(1, sizeof(*ci));
	if (!ci)
		return error_set(err, ENOMEM, "container");
	ci->cgroup_fd = ci->cgroup_procs_fd = -1;
	ci->netns_fd = -1;
	for (int i = 0; i < NS_COUNT; i++)
		ci->ns_fd[i] = -1;
	struct container *c = NULL;
	network_spec_namespace_id(m->oci_spec, ci->net_id, sizeof(ci->net_id));

	const char *bundle = m->oci_bundle_path ? m->oci_bundle_path : "";
	bool made_bundle = false;
	if (*bundle) {
		made_bundle = access(bundle, F_OK) < 0;
		if ((r = mkdir_p(bundle, 0700, err)) < 0)
			goto out_free;
	}
	{
		_cleanup_json_ json_t *spec = json_deep_copy(m->oci_spec);
		if (!spec) {
			r = error_set(err, ENOMEM, "OCI specification");
			goto out_free;
		}
		_cleanup_free_ char *resolv = NULL;
		if (rt->sys->net && (r = network_resolv_conf(rt->sys->net, ci->net_id, &resolv, err)) < 0)
			goto out_free;
		if (*bundle && (r = add_etc_files(spec, bundle, resolv ? resolv : "", err)) < 0)
			goto out_free;
		if ((r = oci_spec_parse(spec, &ci->spec, err)) < 0)
			goto out_free;
	}
	const char *root = ci->spec.root_path;
	if (!*root) {
		r = error_setx(err, EINVAL, "the OCI specification has no root.path");
		goto out_free;
	}
	if (root[0] == '/')
		ci->rootfs = strdup(root);
	else if (asprintf(&ci->rootfs, "%s/%s", bundle, root) < 0)
		ci->rootfs = NULL;
	ci->bundle = strdup(bundle);
	ci->scratch = strdup(m->scratch_dir_path ? m->scratch_dir_path : "");
	if (!ci->rootfs || !ci->bundle || !ci->scratch) {
		r = error_set(err, ENOMEM, "container paths");
		goto out_free;
	}
	struct stat st;
	if (stat(ci->rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = error_set(err, errno ? errno : ENOTDIR, "root file system %s", ci->rootfs);
		goto out_free;
	}
	for (size_t i = 0; i < ci->spec.n_ns; i++) {
		const struct oci_namespace *ns = &ci->spec.ns[i];
		if (*ns->path && access(ns->path, F_OK) < 0) {
			r = error_set(err, errno, "namespace %s", ns->path);
			goto out_free;
		}
	}
	/* A new network namespace is made here, not by the init: its
	 * adapters are in place before the container's first process runs
	 * (hcsshim configures them between runc create and start). */
	const struct oci_namespace *netns = oci_spec_namespace(&ci->spec, CLONE_NEWNET);
	if (netns && !*netns->path && rt->sys->net) {
		if ((r = network_create_netns(&ci->netns_fd, err)) < 0 ||
		    (r = network_attach(rt->sys->net, ci->net_id, ci->netns_fd, err)) < 0) {
			ci->net_id[0] = '\0';	/* nothing attached to detach */
			error_prefix(err, r, "network namespace");
			goto out_free;
		}
	}
	if (ci->spec.seccomp) {
		uint64_t bounding = ci->spec.process.has_caps ? ci->spec.process.caps.bounding
							       : all_caps();
		if ((r = seccomp_compile(ci->spec.seccomp, bounding, NULL, &ci->seccomp, err)) < 0)
			goto out_free;
		ci->has_seccomp = true;
	}
	/* hcsshim's guest puts a standalone container in /pods/<id>. */
	snprintf(ci->cgroup_name, sizeof(ci->cgroup_name), "%s", id);
	if ((r = cgroup_create(ci->cgroup_name, &ci->cgroup_fd, err)) < 0)
		goto out_free;
	ci->cgroup_procs_fd = openat(ci->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (ci->cgroup_procs_fd < 0) {
		r = error_set(err, errno, "open cgroup.procs");
		goto out_cgroup;
	}
	if ((r = cgroup_apply(ci->cgroup_fd, &ci->spec.resources, err)) < 0) {
		error_prefix(err, r, "cgroup resources");
		goto out_cgroup;
	}
	/* cgroup v2 has no devices controller: the rules become an eBPF
	 * program on the cgroup, which goes away with it. */
	json_t *devices = json_object_get(
		json_object_get(json_object_get(ci->spec.doc, "linux"), "resources"), "devices");
	struct devcg_program dp;
	if ((r = devcg_compile(devices, &dp, err)) < 0)
		goto out_cgroup;
	r = devcg_attach(&dp, ci->cgroup_fd, err);
	devcg_free(&dp);
	if (r < 0)
		goto out_cgroup;
	if ((r = runtime_add_container(rt, id, activity_id, &c, err)) < 0)
		goto out_cgroup;
	c->impl = ci;
	log_info("container created", LOG_STR("container", id), LOG_STR("rootfs", ci->rootfs),
		 LOG_BOOL("seccomp", ci->has_seccomp));
	return 0;

out_cgroup:
	close(ci->cgroup_procs_fd);
	ci->cgroup_procs_fd = -1;
	close(ci->cgroup_fd);
	ci->cgroup_fd = -1;
	cgroup_remove(ci->cgroup_name, NULL);
out_free:
	if (made_bundle && deletable(bundle))
		remove_tree(bundle);
	{
		struct container tmp = { .impl = ci };
		container_impl_free(rt, &tmp);
	}
	return r;
}

void container_spawn_config(struct runtime *rt, struct container *c, bool is_init,
			    struct spawn_config *cfg)
{
	(void)rt;
	struct container_impl *ci = c->impl;
	cfg->cgroup_fd = ci->cgroup_procs_fd;
	cfg->seccomp = ci->has_seccomp ? &ci->seccomp : NULL;
	cfg->pidns_fd = -1;
	if (is_init) {
		cfg->spec = &ci->spec;
		cfg->rootfs = ci->rootfs;
		/* A container always has its own mount namespace. */
		cfg->unshare_flags = CLONE_NEWNS;
		for (int i = 0; i < NS_COUNT; i++) {
			const struct oci_namespace *ns = oci_spec_namespace(&ci->spec, ns_clone_flag[i]);
			if (!ns)
				continue;
			ci->own_ns[i] = true;
			if (i == NS_NET && ci->netns_fd >= 0 && cfg->n_join < SPAWN_MAX_JOIN) {
				cfg->join_fd[cfg->n_join] = ci->netns_fd;
				cfg->join_type[cfg->n_join++] = CLONE_NEWNET;
			} else if (*ns->path) {
				int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					continue;	/* checked at Create; gone now: setns fails loud */
				if (i == NS_PID) {
					cfg->pidns_fd = fd;
					ci->ns_fd[NS_PID] = fd;	/* closed with the container */
				} else if (cfg->n_join < SPAWN_MAX_JOIN) {
					cfg->join_fd[cfg->n_join] = fd;
					cfg->join_type[cfg->n_join++] = ns_clone_flag[i];
					ci->ns_fd[i] = fd;
				}
			} else if (i == NS_PID) {
				cfg->new_pidns = true;
			} else if (i == NS_CGROUP) {
				cfg->new_cgroupns = true;
			} else {
				cfg->unshare_flags |= ns_clone_flag[i];
			}
		}
		ci->own_ns[NS_MNT] = true;
		return;
	}
	/* An exec joins the init's namespaces (those that are not the VM's). */
	for (int i = 0; i < NS_COUNT; i++) {
		if (!ci->own_ns[i] || ci->ns_fd[i] < 0)
			continue;
		if (i == NS_PID) {
			cfg->pidns_fd = ci->ns_fd[i];
		} else if (cfg->n_join < SPAWN_MAX_JOIN) {
			cfg->join_fd[cfg->n_join] = ci->ns_fd[i];
			cfg->join_type[cfg->n_join++] = ns_clone_flag[i];
		}
	}
}

void container_init_started(struct container *c, pid_t pid)
{
	struct container_impl *ci = c->impl;
	for (int i = 0; i < NS_COUNT; i++) {
		if (!ci->own_ns[i])
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns_proc_name[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;	/* already gone: execs will fail cleanly */
		if (ci->ns_fd[i] >= 0)
			close(ci->ns_fd[i]);
		ci->ns_fd[i] = fd;
	}
}

void container_process_exited(struct runtime *rt, struct container *c, struct process *p)
{
	(void)rt;
	struct container_impl *ci = c->impl;
	if (!ci || ci->cgroup_fd < 0)
		return;
	uint64_t kills = cgroup_oom_kills(ci->cgroup_fd);
	if (kills > ci->oom_kills) {
		log_warning("the OOM killer killed a process of the container",
			    LOG_STR("container", c->id), LOG_U64("pid", p->pid),
			    LOG_U64("oom_kills", kills));
		ci->oom_kills = kills;
	}
	if (p->is_init) {
		/* The init is gone, and with its pid namespace everything in
		 * it; without one, what is left in the cgroup goes too. */
		if (!ci->own_ns[NS_PID])
			cgroup_kill(ci->cgroup_fd, NULL);
		for (int i = 0; i < NS_COUNT; i++) {
			if (ci->ns_fd[i] >= 0)
				close(ci->ns_fd[i]);
			ci->ns_fd[i] = -1;
		}
	}
}

struct exited_defer {
	struct loop_defer d;
	struct runtime *rt;
	char *id;
};

static void notify_unstarted_exit(struct loop_defer *d)
{
	struct exited_defer *e = d->data;
	struct container *c = runtime_find_container(e->rt, e->id);
	if (c && c->state == CONTAINER_STOPPED && e->rt->events.container_exited)
		e->rt->events.container_exited(e->rt->events.ctx, c);
	free(e->id);
	free(e);
}

int container_shutdown(struct runtime *rt, struct container *c, bool graceful, struct error *err)
{
	struct container_impl *ci = c->impl;
	int sig = graceful ? SIGTERM : SIGKILL;
	if (c->state == CONTAINER_STOPPED)
		return error_setx(err, EALREADY, "container %s has already stopped", c->id);
	/* hcsshim: the exit notification names what the host asked for. */
	c->exit_type = graceful ? "GracefulExit" : "ForcedExit";
	if (!c->init) {
		if (ci && ci->starting)
			return error_setx(err, EBUSY, "container %s is starting", c->id);
		/* Never started: nothing runs; it stops now. */
		c->state = CONTAINER_STOPPED;
		struct exited_defer *e = calloc(1, sizeof(*e));
		if (e && (e->id = strdup(c->id))) {
			e->rt = rt;
			loop_defer(rt->loop, &e->d, notify_unstarted_exit, e);
		} else {
			free(e);
		}
		return 0;
	}
	int r = proc_signal(c->init, sig, err);
	if (r == -ENOENT)
		return error_setx(err, EALREADY, "container %s has already stopped", c->id);
	if (r < 0)
		return r;
	if (!graceful && ci)
		cgroup_kill(ci->cgroup_fd, NULL);
	return 0;
}

int container_delete(struct runtime *rt, struct container *c, struct error *err)
{
	struct container_impl *ci = c->impl;
	int r;
	if (!ci)
		return error_setx(err, ENOSYS, "container %s is not managed by this agent", c->id);
	if (ci->pending)
		return error_setx(err, EBUSY, "container %s has a request in flight", c->id);
	if (c->state == CONTAINER_RUNNING)
		return error_setx(err, EBADFD, "container %s is running", c->id);
	/* Processes still on their way out (killed with the pid namespace,
	 * not reaped yet) keep the cgroup busy. */
	for (struct process *p = c->processes; p; p = p->next)
		if (p->impl && !p->impl->reaped)
			return error_setx(err, EBUSY, "container %s: process %" PRIu32 " still exiting",
					  c->id, p->pid);
	cgroup_kill(ci->cgroup_fd, NULL);
	close(ci->cgroup_procs_fd);
	ci->cgroup_procs_fd = -1;
	close(ci->cgroup_fd);
	ci->cgroup_fd = -1;
	if ((r = cgroup_remove(ci->cgroup_name, err)) < 0)
		return error_prefix(err, r, "cgroup of %s", c->id);
	/* What the container left mounted in its state directories (its
	 * overlay, if the host did not remove it), then the directories. */
	const char *dirs[] = { ci->scratch, ci->bundle };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!deletable(dirs[i]))
			continue;
		if ((r = unmount_under(dirs[i], err)) < 0)
			return r;
		remove_tree(dirs[i]);
	}
	for (struct layer_mount **pp = &rt->sys->layers; *pp;) {
		struct layer_mount *l = *pp;
		if (strcmp(l->root, ci->rootfs) == 0 && access(l->root, F_OK) < 0) {
			*pp = l->next;
			free(l->root);
			free(l->scratch);
			free(l);
		} else {
			pp = &l->next;
		}
	}
	log_info("container state deleted", LOG_STR("container", c->id));
	runtime_remove_container(rt, c);
	return 0;
}

int container_properties(struct runtime *rt, struct container *c,
			 const struct msg_get_properties *q, json_t **out, struct error *err)
{
	(void)rt;
	struct container_impl *ci = c->impl;
	if (!ci)
		return error_setx(err, ENOSYS, "container %s is not managed by this agent", c->id);
	/* Built as text: the metrics hold uint64 values (2^64-1 for "max")
	 * that a JSON library's int64 cannot carry. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return error_set(err, ENOMEM, "properties");
	int r = 0;
	bool first = true;
	fputc('{', f);
	if (q->properties & MSG_PROPERTY_PROCESS_LIST) {
		_cleanup_free_ int *pids = NULL;
		size_t n = 0;
		if (ci->cgroup_fd >= 0 && (r = cgroup_pids(ci->cgroup_fd, &pids, &n, err)) < 0)
			goto out;
		fputs("\"ProcessList\":[", f);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s{\"ProcessId\":%d}", i ? "," : "", pids[i]);
		fputc(']', f);
		first = false;
	}
	if (q->properties & MSG_PROPERTY_STATISTICS) {
		if (ci->cgroup_fd < 0) {
			r = error_setx(err, EBADFD, "container %s has no cgroup", c->id);
			goto out;
		}
		fprintf(f, "%s\"LCOWMetrics\":", first ? "" : ",");
		if ((r = cgroup_write_metrics(ci->cgroup_fd, f, err)) < 0)
			goto out;
	}
	fputc('}', f);
out:
	fclose(f);
	if (r < 0) {
		free(text);
		return r;
	}
	/* Handed over as the JSON text itself (a json string): the
	 * dispatcher puts it in Properties unchanged. */
	*out = json_string(text);
	free(text);
	if (!*out)
		return error_set(err, ENOMEM, "properties");
	return 0;
}

int container_update(struct runtime *rt, struct container *c, const json_t *settings,
		     struct error *err)
{
	(void)rt;
	struct container_impl *ci = c->impl;
	if (!ci)
		return error_setx(err, ENOSYS, "container %s is not managed by this agent", c->id);
	/* LCOWContainerConstraints {Windows, Linux: LinuxResources}. */
	json_t *lx = json_is_object(settings) ? jf_lookup(settings, "Linux") : NULL;
	if (!json_is_object(lx))
		return error_setx(err, EINVAL, "ContainerConstraints without Linux resources");
	_cleanup_json_ json_t *wrap = json_pack("{s:{s:O}}", "linux", "resources", lx);
	struct oci_spec tmp;
	int r = oci_spec_parse(wrap, &tmp, err);
	if (r < 0)
		return r;
	r = cgroup_apply(ci->cgroup_fd, &tmp.resources, err);
	oci_spec_free(&tmp);
	return r;
}

/* ---- CombinedLayers ---- */

/* hcsshim builds these paths with path.Join, which never leaves a "." or
 * ".." component: one that has it is not what it looks like (a root
 * "under /run/gcs/c" that is /etc), so it is refused. */
static int check_layer_path(const char *what, const char *p, struct error *err)
{
	for (const char *c = p; c && *c;) {
		while (*c == '/')
			c++;
		size_t len = strcspn(c, "/");
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return error_setx(err, EINVAL, "%s `%s`: a '.' or '..' component is not allowed",
					  what, p);
		c += len;
	}
	return 0;
}

int layers_modify(struct runtime *rt, const struct msg_modify *m, struct error *err)
{
	struct runtime_system *sys = rt->sys;
	const struct msg_combined_layers *cl = &m->layers;
	const char *root = cl->container_root_path ? cl->container_root_path : "";
	int r;
	if (root[0] != '/' || strcmp(root, "/") == 0)
		return error_setx(err, EINVAL, "ContainerRootPath `%s` is not an absolute path", root);
	if ((r = check_layer_path("ContainerRootPath", root, err)) < 0)
		return r;
	if (m->request_type == MSG_REQUEST_REMOVE) {
		if (umount2(root, 0) < 0 && errno != EINVAL && errno != ENOENT)
			return error_set(err, errno, "unmount %s", root);
		/* hcsshim removes the mount point with the mount. */
		if (rmdir(root) < 0 && errno != ENOENT)
			log_warning("cannot remove the root mount point", LOG_STR("path", root),
				    LOG_STR("error", strerror(errno)));
		for (struct layer_mount **pp = &sys->layers; *pp; pp = &(*pp)->next) {
			if (strcmp((*pp)->root, root) == 0) {
				struct layer_mount *l = *pp;
				*pp = l->next;
				free(l->root);
				free(l->scratch);
				free(l);
				break;
			}
		}
		log_info("layers removed", LOG_STR("root", root));
		return 0;
	}
	if (m->request_type != MSG_REQUEST_ADD)
		return error_setx(err, EINVAL, "the RequestType `%s` is not supported for CombinedLayers",
				  m->request_type_name);
	size_t n = cl->n_layers;
	_cleanup_free_ const char **lower = calloc(n + 1, sizeof(char *));
	if (!lower)
		return error_set(err, ENOMEM, "layers");
	for (size_t i = 0; i < n; i++) {
		json_t *l = json_array_get(cl->layers, i);
		const char *p = json_string_value(jf_lookup(l, "Path"));
		if (!p || !*p)
			return error_setx(err, EINVAL, "Layers[%zu] has no Path", i);
		if ((r = check_layer_path("layer", p, err)) < 0)
			return r;
		lower[i] = p;
	}
	const char *scratch = cl->scratch_path ? cl->scratch_path : "";
	char upper[PATH_MAX], work[PATH_MAX];
	bool ro = !*scratch;
	if ((r = check_layer_path("ScratchPath", scratch, err)) < 0)
		return r;
	if (!ro) {
		if (snprintf(upper, sizeof(upper), "%s/upper", scratch) >= (int)sizeof(upper) ||
		    snprintf(work, sizeof(work), "%s/work", scratch) >= (int)sizeof(work))
			return error_set(err, ENAMETOOLONG, "ScratchPath");
	}
	_cleanup_free_ char *data = NULL;
	if ((r = overlay_options(lower, n, ro ? NULL : upper, ro ? NULL : work, &data, err)) < 0)
		return r;
	struct layer_mount *lm = calloc(1, sizeof(*lm));
	if (!lm || !(lm->root = strdup(root)) || !(lm->scratch = strdup(scratch))) {
		if (lm)
			free(lm->root);
		free(lm);
		return error_set(err, ENOMEM, "layers");
	}
	lm->n_layers = n;
	if (!ro && ((r = mkdir_p(upper, 0755, err)) < 0 || (r = mkdir_p(work, 0755, err)) < 0))
		goto out_free;
	bool made_root = access(root, F_OK) < 0;
	if ((r = mkdir_p(root, 0755, err)) < 0)
		goto out_free;
	if (ro && n == 1) {
		/* overlayfs refuses a single lower layer without an upper
		 * one; a read-only bind of that layer is the same view. */
		if (mount(lower[0], root, NULL, MS_BIND, NULL) < 0) {
			r = error_set(err, errno, "bind %s on %s", lower[0], root);
			goto out_rmdir;
		}
		if (mount(NULL, root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
			r = error_set(err, errno, "make %s read-only", root);
			umount2(root, MNT_DETACH);
			goto out_rmdir;
		}
	} else if (mount("overlay", root, "overlay", ro ? MS_RDONLY : 0, data) < 0) {
		r = error_set(err, errno, "mount overlay on %s (%s)", root, data);
		goto out_rmdir;
	}
	lm->next = sys->layers;
	sys->layers = lm;
	log_info("layers mounted", LOG_STR("root", root), LOG_U64("layers", n), LOG_BOOL("ro", ro));
	return 0;

out_rmdir:
	if (made_root)
		rmdir(root);
out_free:
	free(lm->root);
	free(lm->scratch);
	free(lm);
	return r;
}

void layers_fini(struct runtime_system *sys)
{
	while (sys->layers) {
		struct layer_mount *l = sys->layers;
		sys->layers = l->next;
		free(l->root);
		free(l->scratch);
		free(l);
	}
}
