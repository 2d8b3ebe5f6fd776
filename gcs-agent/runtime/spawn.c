/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "lcow/fdpass.h"
#include "lcow/fs.h"
#include "user.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the child sends: its pty master (kind 'P', the fd attached), or
 * its failure (kind 'E'). */
struct spawn_report {
	int32_t kind;
	int32_t errnum;
	char msg[ERROR_MSG_MAX];
};

static int send_report(int sock, const struct spawn_report *rep, int fd)
{
	struct iovec iov = { .iov_base = (void *)rep, .iov_len = sizeof(*rep) };
	return send_with_fds(sock, &iov, 1, &fd, fd >= 0 ? 1 : 0, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* The report socket, for child_setup's pty (set by child_main). */
static int report_sock = -1;

/* ---- pure helpers ---- */

int spawn_split_command_line(const char *line, char ***argv, size_t *argc, struct error *err)
{
	size_t len = strlen(line);
	/* Worst case: every other byte starts a word. */
	size_t max_words = len / 2 + 2;
	char **v = malloc(max_words * sizeof(char *) + len + 1);
	if (!v)
		return error_set(err, ENOMEM, "split command line");
	char *out = (char *)(v + max_words);
	size_t n = 0;
	const char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		v[n++] = out;
		char quote = 0;
		for (; *p; p++) {
			if (quote) {
				if (*p == quote)
					quote = 0;
				else if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\' ||
									 p[1] == '$' || p[1] == '`')) {
					*out++ = *++p;
				} else
					*out++ = *p;
				continue;
			}
			if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				break;
			if (*p == '\'' || *p == '"')
				quote = *p;
			else if (*p == '\\' && p[1])
				*out++ = *++p;
			else
				*out++ = *p;
		}
		if (quote) {
			free(v);
			return error_setx(err, EINVAL, "unterminated quote in command line `%s`", line);
		}
		*out++ = '\0';
	}
	v[n] = NULL;
	*argv = v;
	*argc = n;
	return 0;
}

int spawn_resolve_in_root(const char *root, const char *path, char *out, size_t len,
			  struct error *err)
{
	/* cur: the resolved part, relative to root, "" or "/a/b". todo: what
	 * is left, a '/'-separated list consumed from the front. */
	char cur[PATH_MAX] = "", todo[PATH_MAX], link[PATH_MAX], probe[PATH_MAX];
	int links = 0;
	if (snprintf(todo, sizeof(todo), "%s", path) >= (int)sizeof(todo))
		return error_set(err, ENAMETOOLONG, "resolve %s", path);
	char *p = todo;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *end = strchr(p, '/');
		size_t clen = end ? (size_t)(end - p) : strlen(p);
		char comp[NAME_MAX + 1];
		if (clen > NAME_MAX)
			return error_set(err, ENAMETOOLONG, "resolve %s", path);
		memcpy(comp, p, clen);
		comp[clen] = '\0';
		p += clen;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			/* Never above the root. */
			char *slash = strrchr(cur, '/');
			if (slash)
				*slash = '\0';
			continue;
		}
		if (snprintf(probe, sizeof(probe), "%s%s/%s", root, cur, comp) >= (int)sizeof(probe))
			return error_set(err, ENAMETOOLONG, "resolve %s", path);
		struct stat st;
		if (lstat(probe, &st) == 0 && S_ISLNK(st.st_mode)) {
			if (++links > 40)
				return error_set(err, ELOOP, "resolve %s in %s", path, root);
			ssize_t n = readlink(probe, link, sizeof(link) - 1);
			if (n < 0)
				return error_set(err, errno, "readlink %s", probe);
			link[n] = '\0';
			/* The link's target, then what was left. */
			char rest[PATH_MAX];
			snprintf(rest, sizeof(rest), "%s", p);
			if (snprintf(todo, sizeof(todo), "%s/%s", link, rest) >= (int)sizeof(todo))
				return error_set(err, ENAMETOOLONG, "resolve %s", path);
			p = todo;
			if (link[0] == '/')
				cur[0] = '\0';
			continue;
		}
		size_t cl = strlen(cur);
		if (cl + 1 + clen + 1 > sizeof(cur))
			return error_set(err, ENAMETOOLONG, "resolve %s", path);
		cur[cl] = '/';
		memcpy(cur + cl + 1, comp, clen + 1);
	}
	if (snprintf(out, len, "%s%s", root, *cur ? cur : "") >= (int)len)
		return error_set(err, ENAMETOOLONG, "resolve %s", path);
	return 0;
}

/* ---- the child ---- */

static int write_file(const char *path, const char *value, struct error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open %s", path);
	if (write(fd, value, strlen(value)) < 0)
		return error_set(err, errno, "write %s", path);
	return 0;
}

/* A whole small file (passwd, group), or NULL when it does not exist. */
static int read_small(const char *path, char **out, struct error *err)
{
	*out = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : error_set(err, errno, "open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return error_set(err, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > USER_FILE_MAX)
		return error_setx(err, EINVAL, "%s is not a regular file of at most %u bytes", path,
				  USER_FILE_MAX);
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return error_set(err, ENOMEM, "read %s", path);
	size_t len = 0;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int mount_one(const char *rootfs, const struct oci_mount *m, struct error *err)
{
	char target[PATH_MAX];
	int r = spawn_resolve_in_root(rootfs, m->destination, target, sizeof(target), err);
	if (r < 0)
		return r;
	const struct mount_opts *o = &m->opts;
	bool is_dir = true;
	if (o->bind) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			return error_set(err, errno, "bind source %s", m->source);
		is_dir = S_ISDIR(st.st_mode);
	}
	if (is_dir) {
		if ((r = mkdir_p(target, 0755, err)) < 0)
			return r;
	} else {
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", target);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			if ((r = mkdir_p(parent, 0755, err)) < 0)
				return r;
		}
		int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			return error_set(err, errno, "create mount point %s", target);
		if (fd >= 0)
			close(fd);
	}
	unsigned long remount = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
				MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
	if (o->bind) {
		if (mount(m->source, target, NULL, MS_BIND | (o->recursive ? MS_REC : 0), NULL) < 0)
			return error_set(err, errno, "bind %s on %s", m->source, m->destination);
		/* A bind mount takes its flags only on a remount. */
		if (o->flags & remount &&
		    mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | (o->flags & remount), NULL) < 0)
			return error_set(err, errno, "remount %s with its options", m->destination);
	} else {
		const char *type = m->type;
		/* cgroup v2 only: a "cgroup" mount is the unified hierarchy,
		 * rooted at the container's cgroup namespace. */
		if (strcmp(type, "cgroup") == 0)
			type = "cgroup2";
		const char *source = *m->source ? m->source : type;
		if (mount(source, target, type, o->flags & ~MS_REMOUNT, o->data[0] ? o->data : NULL) < 0)
			return error_set(err, errno, "mount %s on %s", type, m->destination);
	}
	if (o->propagation && mount(NULL, target, NULL, o->propagation, NULL) < 0)
		return error_set(err, errno, "set propagation of %s", m->destination);
	return 0;
}

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
	{ "/dev/null", 1, 3 }, { "/dev/zero", 1, 5 },	{ "/dev/full", 1, 7 },
	{ "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
};

static int make_device(const char *rootfs, const char *path, mode_t type, dev_t dev, mode_t mode,
		       uid_t uid, gid_t gid, struct error *err)
{
	char target[PATH_MAX];
	int r = spawn_resolve_in_root(rootfs, path, target, sizeof(target), err);
	if (r < 0)
		return r;
	if (mknod(target, type | mode, dev) < 0) {
		if (errno == EEXIST)
			return 0;
		return error_set(err, errno, "mknod %s", path);
	}
	if (chown(target, uid, gid) < 0)
		return error_set(err, errno, "chown %s", path);
	return 0;
}

static int setup_dev(const struct oci_spec *spec, const char *rootfs, struct error *err)
{
	char path[PATH_MAX];
	int r;
	snprintf(path, sizeof(path), "%s/dev", rootfs);
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++)
		if ((r = make_device(rootfs, default_devices[i].path, S_IFCHR,
				     makedev(default_devices[i].major, default_devices[i].minor), 0666, 0,
				     0, err)) < 0)
			return r;
	for (size_t i = 0; i < spec->n_devices; i++) {
		const struct oci_device *d = &spec->devices[i];
		mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
		if ((r = make_device(rootfs, d->path, type,
				     makedev((unsigned)d->major, (unsigned)d->minor),
				     d->mode ? (d->mode & 07777) : 0666, d->uid, d->gid, err)) < 0)
			return r;
	}
	static const struct {
		const char *target, *link;
	} links[] = {
		{ "/proc/self/fd", "/dev/fd" },	      { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		snprintf(path, sizeof(path), "%s%s", rootfs, links[i].link);
		if (symlink(links[i].target, path) < 0 && errno != EEXIST)
			return error_set(err, errno, "symlink %s", links[i].link);
	}
	snprintf(path, sizeof(path), "%s/dev/pts/ptmx", rootfs);
	if (access(path, F_OK) == 0) {
		snprintf(path, sizeof(path), "%s/dev/ptmx", rootfs);
		if (symlink("pts/ptmx", path) < 0 && errno != EEXIST)
			return error_set(err, errno, "symlink /dev/ptmx");
	}
	return 0;
}

/* Undo an octal escape of /proc/self/mountinfo ("\040" is a space). */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else
			*o++ = *p;
	}
	*o = '\0';
}

/* Before moving the root over "/": detach every mount of this (copied)
 * namespace that is neither the container's root, inside it, nor above
 * it, so the container pins no other mount of the utility VM (disks the
 * host wants to unplug, other containers' layers). */
static int detach_foreign_mounts(const char *rootfs, struct error *err)
{
	_cleanup_free_ char *info = NULL;
	int r = read_small("/proc/self/mountinfo", &info, err);
	if (r < 0 || !info)
		return r < 0 ? r : error_setx(err, ENOENT, "no /proc/self/mountinfo");
	for (char *line = info, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* id parent major:minor root mountpoint ... */
		char *f[5];
		char *save = NULL, *p = line;
		size_t n = 0;
		for (char *tok; n < 5 && (tok = strtok_r(p, " ", &save)); p = NULL)
			f[n++] = tok;
		if (n < 5)
			continue;
		char *mp = f[4];
		unescape(mp);
		if (under(mp, rootfs) || under(rootfs, mp) || strcmp(mp, "/") == 0)
			continue;
		/* A parent detached first took this one with it. */
		if (umount2(mp, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			return error_set(err, errno, "detach %s", mp);
	}
	return 0;
}

static int switch_root(const char *rootfs, struct error *err)
{
	if (chdir(rootfs) < 0)
		return error_set(err, errno, "chdir %s", rootfs);
	/* pivot_root(".", "."): the old root lands on top of the new one and
	 * is detached right away. */
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			return error_set(err, errno, "detach the old root");
	} else if (errno == EINVAL) {
		/* The utility VM runs from its initramfs, which pivot_root
		 * cannot leave: move the root over "/" and chroot, like
		 * `runc --no-pivot`, with everything else detached first. */
		int r = detach_foreign_mounts(rootfs, err);
		if (r < 0)
			return r;
		if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
			return error_set(err, errno, "move %s over /", rootfs);
		if (chroot(".") < 0)
			return error_set(err, errno, "chroot");
	} else {
		return error_set(err, errno, "pivot_root to %s", rootfs);
	}
	if (chdir("/") < 0)
		return error_set(err, errno, "chdir /");
	return 0;
}

static int mask_paths(const struct oci_spec *spec, struct error *err)
{
	for (size_t i = 0; i < spec->n_masked; i++) {
		const char *p = spec->masked_paths[i];
		struct stat st;
		if (stat(p, &st) < 0)
			continue;	/* nothing to hide */
		int rr = S_ISDIR(st.st_mode)
				 ? mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL)
				 : mount("/dev/null", p, NULL, MS_BIND, NULL);
		if (rr < 0)
			return error_set(err, errno, "mask %s", p);
	}
	for (size_t i = 0; i < spec->n_readonly; i++) {
		const char *p = spec->readonly_paths[i];
		if (access(p, F_OK) < 0)
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0)
			return error_set(err, errno, "make %s read-only", p);
	}
	return 0;
}

static int setup_rootfs(const struct spawn_config *cfg, struct error *err)
{
	const struct oci_spec *spec = cfg->spec;
	const char *rootfs = cfg->rootfs;
	int r;
	unsigned long prop = spec->rootfs_propagation ? spec->rootfs_propagation
						      : MS_SLAVE | MS_REC;
	/* Nothing mounted here may propagate back to the utility VM. */
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return error_set(err, errno, "set the propagation of /");
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return error_set(err, errno, "bind the root file system %s", rootfs);
	for (size_t i = 0; i < spec->n_mounts; i++)
		if ((r = mount_one(rootfs, &spec->mounts[i], err)) < 0)
			return r;
	if ((r = setup_dev(spec, rootfs, err)) < 0)
		return r;
	if ((r = switch_root(rootfs, err)) < 0)
		return r;
	if ((r = mask_paths(spec, err)) < 0)
		return r;
	for (size_t i = 0; i < spec->n_sysctl; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "/proc/sys/%s", spec->sysctl[i].key);
		for (char *p = path + strlen("/proc/sys/"); *p; p++)
			if (*p == '.')
				*p = '/';
		if ((r = write_file(path, spec->sysctl[i].value, err)) < 0)
			return error_prefix(err, r, "sysctl %s", spec->sysctl[i].key);
	}
	if (spec->root_readonly &&
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return error_set(err, errno, "make the root file system read-only");
	if (*spec->hostname && (cfg->unshare_flags & CLONE_NEWUTS) &&
	    sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return error_set(err, errno, "sethostname %s", spec->hostname);
	return 0;
}

static const char *env_get(const char *const *envp, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], key, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

static int exec_path(const char *file, const char *const *argv, const char *const *envp,
		     struct error *err)
{
	if (strchr(file, '/')) {
		execve(file, (char *const *)argv, (char *const *)envp);
		return error_set(err, errno, "exec \"%s\"", file);
	}
	const char *path = env_get(envp, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	int saved = ENOENT;
	char buf[PATH_MAX];
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(end - p), p,
				 end == p ? "" : "/", file);
		if (n > 0 && n < (int)sizeof(buf)) {
			execve(buf, (char *const *)argv, (char *const *)envp);
			/* Like execvp: a later directory may still have it,
			 * but "found but not runnable" is the better error. */
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
		}
		if (!*end)
			break;
		p = end;
	}
	if (saved == ENOENT)
		return error_setx(err, ENOENT,
				  "exec \"%s\": executable file not found in $PATH", file);
	return error_set(err, saved, "exec \"%s\"", file);
}

static int set_user(const struct spawn_config *cfg, struct user_result *u, struct error *err)
{
	const struct oci_process *p = cfg->proc;
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	int r;
	if ((r = read_small("/etc/passwd", &passwd, err)) < 0 ||
	    (r = read_small("/etc/group", &group, err)) < 0)
		return r;
	struct user_request req = {
		.userstr = p->username,
		.uid = p->uid,
		.gid = p->gid,
		.additional_gids = p->additional_gids,
		.n_additional_gids = p->n_additional_gids,
	};
	return user_resolve(passwd, group, &req, u, err);
}

/* The pty from the container's own devpts: the process's stdio and
 * controlling terminal; an init also gets it as /dev/console.  The master
 * goes to the agent over the report socket. */
static int container_pty(const struct spawn_config *cfg, struct error *err)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return error_set(err, errno, "open /dev/ptmx in the container");
	char name[64];
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0)
		return error_set(err, errno, "unlock the pty");
	int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return error_set(err, errno, "open %s", name);
	if (cfg->pty_rows && cfg->pty_cols) {
		struct winsize ws = { .ws_row = cfg->pty_rows, .ws_col = cfg->pty_cols };
		ioctl(s, TIOCSWINSZ, &ws);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(s, i) < 0)
			return error_set(err, errno, "dup2 the pty");
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		return error_set(err, errno, "set the controlling terminal");
	if (cfg->spec) {
		/* runc's /dev/console: the pty's slave, bind-mounted. */
		int fd = open("/dev/console", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			close(fd);
			if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
				return error_set(err, errno, "bind %s on /dev/console", name);
		}
	}
	struct spawn_report rep = { .kind = 'P' };
	int r = send_report(report_sock, &rep, m);
	close(m);
	close(s);
	if (r < 0)
		return error_set(err, -r, "send the pty to the agent");
	return 0;
}

static int child_setup(const struct spawn_config *cfg, struct error *err)
{
	int r;
	/* The agent blocks and ignores signals (SIGTERM, SIGPIPE) for its own
	 * reasons; an ignored signal would survive exec. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	umask(0);

	/* The agent itself is exempt from the OOM killer; its children are
	 * not (a -1000 would make a container's memory limit unkillable). */
	char oom[16];
	snprintf(oom, sizeof(oom), "%d",
		 cfg->proc && cfg->proc->has_oom_score_adj ? cfg->proc->oom_score_adj : 0);
	if ((r = write_file("/proc/self/oom_score_adj", oom, err)) < 0)
		return r;

	if (setsid() < 0)
		return error_set(err, errno, "setsid");
	/* A source already at 0..2 would be overwritten by an earlier dup2:
	 * lift them all above 2 first (close-on-exec copies). */
	int src[3];
	for (int i = 0; i < 3; i++) {
		src[i] = cfg->stdio[i];
		if (src[i] >= 0 && src[i] < 3 && (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3)) < 0)
			return error_set(err, errno, "dup stdio");
	}
	int devnull = -1;
	/* A container pty comes later, from inside; until then /dev/null. */
	for (int i = 0; i < 3; i++) {
		int fd = cfg->container_pty ? -1 : src[i];
		if (fd < 0) {
			if (devnull < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
				return error_set(err, errno, "open /dev/null");
			fd = devnull;
		}
		if (dup2(fd, i) < 0)
			return error_set(err, errno, "dup2 stdio");
	}
	if (cfg->terminal && !cfg->container_pty && ioctl(0, TIOCSCTTY, 0) < 0)
		return error_set(err, errno, "set the controlling terminal");

	if (cfg->cgroup_fd >= 0 && write(cfg->cgroup_fd, "0", 1) < 0)
		return error_set(err, errno, "enter the container's cgroup");
	if (cfg->unshare_flags && unshare(cfg->unshare_flags) < 0)
		return error_set(err, errno, "create namespaces");
	for (size_t i = 0; i < cfg->n_join; i++)
		if (setns(cfg->join_fd[i], cfg->join_type[i]) < 0)
			return error_set(err, errno, "join namespace %zu", i);
	if (cfg->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		return error_set(err, errno, "create the cgroup namespace");
	if (cfg->spec && (r = setup_rootfs(cfg, err)) < 0)
		return r;
	if (cfg->container_pty && (r = container_pty(cfg, err)) < 0)
		return r;

	const struct oci_process *p = cfg->proc;
	for (size_t i = 0; p && i < p->n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return error_set(err, errno, "setrlimit %d", p->rlimits[i].resource);
	}

	struct user_result u = { .home = "/" };
	if (p && (r = set_user(cfg, &u, err)) < 0)
		return r;

	const char *cwd = cfg->cwd && *cfg->cwd ? cfg->cwd : "/";
	/* A missing working directory is created, as runc does for a
	 * Dockerfile WORKDIR that no layer has. */
	if (chdir(cwd) < 0) {
		if (errno != ENOENT || (r = mkdir_p(cwd, 0755, err)) < 0 || chdir(cwd) < 0)
			return r < 0 ? r : error_set(err, errno, "chdir %s", cwd);
	}

	/* HOME from passwd unless the process has one. */
	const char *const *envp = cfg->envp;
	size_t n_env = 0;
	while (envp && envp[n_env])
		n_env++;
	const char **env = calloc(n_env + 2, sizeof(char *));
	if (!env)
		return error_set(err, ENOMEM, "environment");
	for (size_t i = 0; i < n_env; i++)
		env[i] = envp[i];
	char home[300];
	if (p && !env_get(envp, "HOME")) {
		snprintf(home, sizeof(home), "HOME=%s", u.home);
		env[n_env++] = home;
	}

	bool nnp = p && p->no_new_privileges;
	if (cfg->seccomp && !nnp && (r = seccomp_load(cfg->seccomp, err)) < 0)
		return r;
	if (p) {
		if (p->has_caps) {
			if ((r = caps_drop_bounding(p->caps.bounding, cfg->last_cap, err)) < 0)
				return r;
			if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
				return error_set(err, errno, "PR_SET_KEEPCAPS");
		}
		gid_t groups[USER_MAX_GROUPS];
		for (size_t i = 0; i < u.n_groups; i++)
			groups[i] = u.groups[i];
		if (setgroups(u.n_groups, groups) < 0)
			return error_set(err, errno, "setgroups");
		if (setresgid(u.gid, u.gid, u.gid) < 0)
			return error_set(err, errno, "setgid %u", u.gid);
		if (setresuid(u.uid, u.uid, u.uid) < 0)
			return error_set(err, errno, "setuid %u", u.uid);
		if (p->has_caps) {
			if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
				return error_set(err, errno, "PR_SET_KEEPCAPS");
			if ((r = caps_apply(&p->caps, cfg->last_cap, err)) < 0)
				return r;
		}
	}
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_set(err, errno, "PR_SET_NO_NEW_PRIVS");
	if (cfg->seccomp && nnp && (r = seccomp_load(cfg->seccomp, err)) < 0)
		return r;
	umask(022);
	return exec_path(cfg->argv[0], cfg->argv, env, err);
}

static void __attribute__((noreturn)) child_main(const struct spawn_config *cfg, int errfd)
{
	struct error err = { 0 };
	/* The report socket must survive the dup2s onto 0..2. */
	if (errfd < 3) {
		int fd = fcntl(errfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			_exit(127);
		errfd = fd;
	}
	report_sock = errfd;
	int r = child_setup(cfg, &err);
	struct spawn_report rep = { .kind = 'E', .errnum = r < 0 ? -r : EIO };
	snprintf(rep.msg, sizeof(rep.msg), "%s", error_text(&err));
	/* One datagram: the parent reads it whole or not at all. */
	send_report(errfd, &rep, -1);
	_exit(127);
}

int spawn_start(const struct spawn_config *cfg, int self_pidns_fd, pid_t *pid, int *pidfd,
		int *errpipe, struct error *err)
{
	if (!cfg->argv || !cfg->argv[0] || !*cfg->argv[0])
		return error_setx(err, EINVAL, "no command to run");
	int p[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
		return error_set(err, errno, "socketpair");
	_cleanup_close_ int rd = p[0], wr = p[1];

	/* PID namespaces apply to children: the agent switches its own
	 * pid_for_children around the fork and back. */
	bool switched = false;
	if (cfg->new_pidns) {
		if (unshare(CLONE_NEWPID) < 0)
			return error_set(err, errno, "create the pid namespace");
		switched = true;
	} else if (cfg->pidns_fd >= 0) {
		if (setns(cfg->pidns_fd, CLONE_NEWPID) < 0)
			return error_set(err, errno, "join the container's pid namespace");
		switched = true;
	}
	pid_t child = fork();
	int fork_errno = errno;
	if (child == 0)
		child_main(cfg, wr);
	if (switched && setns(self_pidns_fd, CLONE_NEWPID) < 0) {
		/* Every later child would land in the container. */
		int e = errno;
		if (child > 0)
			kill(child, SIGKILL);
		return error_set(err, e, "restore the agent's pid namespace");
	}
	if (child < 0)
		return error_set(err, fork_errno, "fork");
	int fd = (int)syscall(SYS_pidfd_open, child, 0);
	if (fd < 0) {
		int e = errno;
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return error_set(err, e, "pidfd_open");
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(rd, F_SETFL, O_NONBLOCK);
	*pid = child;
	*pidfd = fd;
	*errpipe = TAKE_FD(rd);
	return 0;
}

int spawn_read_result(int errpipe, int *pty_master, struct error *err)
{
	for (;;) {
		struct spawn_report rep;
		struct iovec iov = { .iov_base = &rep, .iov_len = sizeof(rep) };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				      .msg_controllen = sizeof(u.buf) };
		ssize_t n = recvmsg(errpipe, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN
					       : error_set(err, errno, "read the child's report");
		if (n == 0)
			return 0;
		int fd = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
		if ((size_t)n != sizeof(rep)) {
			if (fd >= 0)
				close(fd);
			return error_setx(err, EIO, "truncated report from the child");
		}
		if (rep.kind == 'P' && fd >= 0) {
			if (*pty_master >= 0)
				close(*pty_master);
			*pty_master = fd;
			continue;
		}
		if (fd >= 0)
			close(fd);
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		int e = rep.errnum > 0 ? rep.errnum : EIO;
		error_setx(err, e, "%s", rep.msg);
		return -e;
	}
}
