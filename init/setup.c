/* SPDX-License-Identifier: MIT */
#include "setup.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/random.h>

#include "lcow/cleanup.h"
#include "vsock.h"

int read_text_file(const char *path, char *buf, size_t size, struct error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = 0;

	if (size == 0)
		return error_setx(err, EINVAL, "read %s: no buffer", path);
	if (fd < 0)
		return error_set(err, errno, "open %s", path);
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set(err, errno, "read %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (int)len;
}

int write_text_file(const char *path, const char *text, struct error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = strlen(text);

	if (fd < 0)
		return error_set(err, errno, "open %s", path);
	/* sysfs, procfs and cgroupfs files take one write() per value. */
	ssize_t n = write(fd, text, len);
	if (n < 0)
		return error_set(err, errno, "write %s", path);
	if ((size_t)n != len)
		return error_set(err, EIO, "write %s: short write", path);
	return 0;
}

int stdio_hold_closed(struct error *err)
{
	unsigned mask = 0;

	for (int i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* open() takes the lowest free slot: this one. */
		int fd = open("/", O_PATH | O_CLOEXEC);
		if (fd < 0)
			return error_set(err, errno, "hold fd %d", i);
		if (fd != i) {
			close(fd);
			return error_setx(err, EBADF, "hold fd %d: got %d", i, fd);
		}
		mask |= 1u << i;
	}
	return (int)mask;
}

int stdio_fill(unsigned mask, const char *tty, struct error *err)
{
	int n = 0;

	if (!(mask & 7))
		return 0;
	_cleanup_close_ int fd = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open %s", tty);
	for (int i = 0; i < 3; i++) {
		if (!(mask & (1u << i)))
			continue;
		/* The placeholders keep 0..2 taken, so fd is above them. */
		if (dup3(fd, i, 0) < 0)
			return error_set(err, errno, "dup3 %s to %d", tty, i);
		n++;
	}
	return n;
}

int netif_up(const char *name, struct error *err)
{
	struct ifreq ifr = { 0 };
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* Interface ioctls work on any socket; AF_UNIX for a kernel without
	 * IPv4. */
	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "socket");
	if (strlen(name) >= sizeof(ifr.ifr_name))
		return error_set(err, ENAMETOOLONG, "interface %s", name);
	strcpy(ifr.ifr_name, name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return error_set(err, errno, "get flags of %s", name);
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return error_set(err, errno, "bring %s up", name);
	return 0;
}

unsigned long nofile_target(const char *nr_open_text)
{
	char *end;

	if (!nr_open_text || nr_open_text[0] < '0' || nr_open_text[0] > '9')
		return NOFILE_FALLBACK;
	errno = 0;
	unsigned long v = strtoul(nr_open_text, &end, 10);
	if (errno || v == 0 || (*end && *end != '\n'))
		return NOFILE_FALLBACK;
	return v;
}

int nofile_raise(unsigned long *limit, struct error *err)
{
	char text[32];
	struct rlimit rl;

	int r = read_text_file("/proc/sys/fs/nr_open", text, sizeof(text), NULL);
	unsigned long want = nofile_target(r < 0 ? NULL : text);

	rl.rlim_cur = rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return error_set(err, errno, "setrlimit NOFILE %lu", want);
	*limit = want;
	return 0;
}

/* RNDADDENTROPY's argument: struct rand_pool_info with its buffer. */
struct entropy_pool {
	int32_t entropy_count; /* bits credited */
	int32_t buf_size;      /* bytes in buf */
	uint8_t buf[ENTROPY_BYTES];
};
_Static_assert(offsetof(struct entropy_pool, buf) == sizeof(struct rand_pool_info),
	       "entropy_pool must start like struct rand_pool_info");
_Static_assert(sizeof(struct entropy_pool) == 8 + ENTROPY_BYTES, "no padding");

long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int entropy_fail(struct entropy_read *e, int r)
{
	entropy_end(e);
	return r;
}

int entropy_begin(struct entropy_read *e, uint32_t port, struct error *err)
{
	bool in_progress;

	e->port = port;
	e->len = 0;
	e->deadline_ms = monotonic_ms() + ENTROPY_TIMEOUT_MS;
	e->fd = vsock_connect_host_nonblock(port, &in_progress, err);
	e->connecting = in_progress;
	return e->fd < 0 ? e->fd : 0;
}

short entropy_events(const struct entropy_read *e)
{
	return e->connecting ? POLLOUT : POLLIN;
}

int entropy_left_ms(const struct entropy_read *e)
{
	long long left = e->deadline_ms - monotonic_ms();
	return left <= 0 ? 0 : left > ENTROPY_TIMEOUT_MS ? ENTROPY_TIMEOUT_MS : (int)left;
}

void entropy_end(struct entropy_read *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

/* Credit what arrived; the socket is done with either way. */
static int entropy_credit(struct entropy_read *e, size_t *got, struct error *err)
{
	struct entropy_pool pool = { 0 };

	entropy_end(e);
	if (e->len == 0)
		return error_setx(err, ENODATA, "host closed the entropy port without data");
	_cleanup_close_ int rnd = open("/dev/random", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (rnd < 0)
		return error_set(err, errno, "open /dev/random");
	memcpy(pool.buf, e->buf, e->len);
	pool.buf_size = (int32_t)e->len;
	pool.entropy_count = (int32_t)(e->len * 8);
	int r = ioctl(rnd, RNDADDENTROPY, &pool);
	explicit_bzero(&pool, sizeof(pool));
	explicit_bzero(e->buf, sizeof(e->buf));
	if (r < 0)
		return error_set(err, errno, "RNDADDENTROPY");
	*got = e->len;
	return 0;
}

int entropy_continue(struct entropy_read *e, size_t *got, struct error *err)
{
	*got = 0;
	if (e->fd < 0)
		return error_setx(err, EBADF, "entropy: not started");
	if (e->connecting) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr)
			return entropy_fail(e, error_set(err, soerr, "connect to host vsock port %u",
							   e->port));
		/* Still connecting (woken by the deadline, or spuriously)? */
		struct pollfd pfd = { .fd = e->fd, .events = POLLOUT };
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT))
			e->connecting = false;
		else if (entropy_left_ms(e) == 0)
			return entropy_fail(e, error_set(err, ETIMEDOUT, "connect to host vsock port %u",
							   e->port));
		else
			return 1;
	}
	while (e->len < sizeof(e->buf)) {
		ssize_t n = read(e->fd, e->buf + e->len, sizeof(e->buf) - e->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (entropy_left_ms(e) == 0)
				return entropy_fail(e, error_set(err, ETIMEDOUT,
								 "read entropy (%zu bytes so far)",
								 e->len));
			return 1;
		}
		if (n < 0)
			return entropy_fail(e, error_set(err, errno, "read entropy"));
		if (n == 0)
			break;
		e->len += (size_t)n;
	}
	return entropy_credit(e, got, err);
}

int entropy_from_host(uint32_t port, size_t *got, struct error *err)
{
	struct entropy_read e;

	*got = 0;
	int r = entropy_begin(&e, port, err);
	while (r >= 0) {
		struct pollfd pfd = { .fd = e.fd, .events = entropy_events(&e) };
		if (poll(&pfd, 1, entropy_left_ms(&e)) < 0 && errno != EINTR) {
			r = error_set(err, errno, "poll");
			entropy_end(&e);
			break;
		}
		r = entropy_continue(&e, got, err);
		if (r == 0)
			break;
	}
	return r;
}

/* The controllers containers are limited with; others (rdma, hugetlb, misc)
 * stay off. */
static const char *const wanted_controllers[] = { "cpuset", "cpu", "io", "memory", "pids" };

static bool word_in(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; *p;) {
		p += strspn(p, " \t\n");
		size_t n = strcspn(p, " \t\n");
		if (n == wl && memcmp(p, word, n) == 0)
			return true;
		p += n;
	}
	return false;
}

size_t cgroup_select_controllers(const char *available, const char **out, size_t max)
{
	size_t n = 0;

	if (!available)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(wanted_controllers) && n < max; i++)
		if (word_in(available, wanted_controllers[i]))
			out[n++] = wanted_controllers[i];
	return n;
}

int cgroup_enable_controllers(const char *cgroup_root, char *enabled, size_t enabled_len,
			      struct error *err)
{
	char path[256], available[512], cmd[32];
	const char *sel[ARRAY_SIZE(wanted_controllers)];
	int first_error = 0, count = 0;
	size_t used = 0;

	if (enabled_len)
		enabled[0] = '\0';
	snprintf(path, sizeof(path), "%s/cgroup.controllers", cgroup_root);
	int r = read_text_file(path, available, sizeof(available), err);
	if (r < 0)
		return r;

	size_t n = cgroup_select_controllers(available, sel, ARRAY_SIZE(sel));
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cgroup_root);
	for (size_t i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd), "+%s", sel[i]);
		struct error e = { 0 };
		r = write_text_file(path, cmd, &e);
		if (r < 0) {
			if (!first_error) {
				first_error = r;
				error_setx(err, -r, "enable %s: %s", sel[i], error_text(&e));
			}
			continue;
		}
		count++;
		int m = snprintf(enabled + used, enabled_len - used, "%s%s", used ? " " : "", sel[i]);
		if (m > 0 && (size_t)m < enabled_len - used)
			used += (size_t)m;
	}
	return first_error ? first_error : count;
}

int devkmsg_unlimit(struct error *err)
{
	static const char path[] = "/proc/sys/kernel/printk_devkmsg";
	char cur[32];

	int r = read_text_file(path, cur, sizeof(cur), err);
	if (r < 0)
		return r;
	if (strcmp(cur, "ratelimit\n") != 0)
		return 0;
	/* The newline is required: the kernel rejects a write whose length is
	 * not exactly the keyword plus one.  EINVAL also means printk.devkmsg=
	 * on the command line locked the setting. */
	r = write_text_file(path, "on\n", err);
	if (r == -EINVAL)
		return 0;
	return r < 0 ? r : 1;
}
