/* SPDX-License-Identifier: MIT */
/*
 * lcow-vsockd as a process: command line, the ready line, exit status on
 * SIGTERM and on front-end disconnect, socket files, close-on-exec fds.
 * VSOCKD_BIN is the binary under test (set by build.mk).
 */
#include <dirent.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "harness.h"
#include "lcow/fdpass.h"
#include "lcow/tap.h"
#include "vhost_user.h"
#include "vsock.h"

struct daemon {
	pid_t pid;
	FILE *out; /* its stdout */
	char sock[200], base[200];
};

/* Start lcow-vsockd with extra args; stdout piped, stderr to a log. */
static int start(struct daemon *d, const char *const *extra)
{
	int pfd[2];
	snprintf(d->sock, sizeof(d->sock), "%s/vhost.sock", th_dir());
	snprintf(d->base, sizeof(d->base), "%s/vm.sock", th_dir());
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	d->pid = fork();
	if (d->pid == 0) {
		const char *argv[16] = { VSOCKD_BIN, "--socket", d->sock, "--uds", d->base };
		int n = 5;
		for (; extra && *extra; extra++)
			argv[n++] = *extra;
		argv[n] = NULL;
		char log[256];
		snprintf(log, sizeof(log), "%s/vsockd.log", th_dir());
		int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		dup2(pfd[1], 1);
		dup2(lfd, 2);
		/* Only the daemon's own fds should be seen below. */
		close_range(3, ~0u, 0);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(pfd[1]);
	d->out = fdopen(pfd[0], "r");
	return d->pid > 0 ? 0 : -1;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	int status;
	for (int i = 0; i < timeout_ms / 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int run_status(const char *const *argv)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	return wait_exit(pid, 5000);
}

TEST(usage_errors_exit_2)
{
	const char *none[] = { VSOCKD_BIN, NULL };
	const char *no_uds[] = { VSOCKD_BIN, "--socket", "/tmp/x", NULL };
	const char *bad_cid[] = { VSOCKD_BIN, "--socket", "/tmp/x", "--uds", "/tmp/y", "--guest-cid",
				  "2", NULL };
	const char *junk_cid[] = { VSOCKD_BIN, "--socket", "/tmp/x", "--uds", "/tmp/y",
				   "--guest-cid", "3x", NULL };
	const char *extra[] = { VSOCKD_BIN, "--socket", "/tmp/x", "--uds", "/tmp/y", "stray", NULL };
	EXPECT_EQ(run_status(none), 2);
	EXPECT_EQ(run_status(no_uds), 2);
	EXPECT_EQ(run_status(bad_cid), 2);
	EXPECT_EQ(run_status(junk_cid), 2);
	EXPECT_EQ(run_status(extra), 2);
}

TEST(ready_after_sockets_exist_and_sigterm_exits_0)
{
	struct daemon d;
	char line[128];
	ASSERT_EQ(start(&d, NULL), 0);
	ASSERT_TRUE(fgets(line, sizeof(line), d.out) != NULL);
	EXPECT_STREQ(line, "lcow-vsockd: ready\n");
	/* Both sockets exist by the time the line is out; both accept. */
	EXPECT_TRUE(exists(d.sock));
	EXPECT_TRUE(exists(d.base));
	int a = th_connect(d.base, false);
	EXPECT_GE(a, 0);
	close(a);
	kill(d.pid, SIGTERM);
	EXPECT_EQ(wait_exit(d.pid, 5000), 0);
	/* It cleans up after itself. */
	EXPECT_FALSE(exists(d.sock));
	EXPECT_FALSE(exists(d.base));
}

TEST(sigint_exits_0)
{
	struct daemon d;
	char line[128];
	ASSERT_EQ(start(&d, NULL), 0);
	ASSERT_TRUE(fgets(line, sizeof(line), d.out) != NULL);
	kill(d.pid, SIGINT);
	EXPECT_EQ(wait_exit(d.pid, 5000), 0);
}

TEST(stale_socket_replaced_but_regular_file_kept)
{
	struct daemon d;
	char line[128];
	struct error err = { 0 };
	snprintf(d.sock, sizeof(d.sock), "%s/vhost.sock", th_dir());
	int stale = uds_listen(d.sock, 1, &err); /* a leftover socket file */
	ASSERT_GE(stale, 0);
	close(stale);
	ASSERT_EQ(start(&d, NULL), 0);
	ASSERT_TRUE(fgets(line, sizeof(line), d.out) != NULL);
	EXPECT_STREQ(line, "lcow-vsockd: ready\n");
	kill(d.pid, SIGTERM);
	EXPECT_EQ(wait_exit(d.pid, 5000), 0);

	/* A regular file in the way is not clobbered. */
	int fd = open(d.sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(start(&d, NULL), 0);
	EXPECT_TRUE(fgets(line, sizeof(line), d.out) == NULL);
	EXPECT_EQ(wait_exit(d.pid, 5000), 1);
	struct stat st;
	ASSERT_EQ(stat(d.sock, &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
}

static bool all_fds_cloexec(pid_t pid, unsigned *count)
{
	char dir[64], path[384], buf[256];
	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)pid);
	DIR *dp = opendir(dir);
	struct dirent *de;
	bool ok = true;
	*count = 0;
	while (dp && (de = readdir(dp))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd <= 2)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(buf, sizeof(buf), f)) {
			unsigned long flags;
			if (sscanf(buf, "flags: %lo", &flags) == 1) {
				(*count)++;
				if (!(flags & O_CLOEXEC)) {
					char link[128], target[256] = "?";
					snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
					ssize_t k = readlink(link, target, sizeof(target) - 1);
					target[k > 0 ? k : 1] = '\0';
					TAP_DIAG("fd %d (%s) is not close-on-exec", fd, target);
					ok = false;
				}
			}
		}
		fclose(f);
	}
	if (dp)
		closedir(dp);
	return ok;
}

static int send_msg(int sock, uint32_t req, const void *p, uint32_t size, const int *fds,
		    unsigned nfds)
{
	struct vhost_user_hdr h = { .request = req, .flags = VHOST_USER_VERSION, .size = size };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)p, size } };
	return send_with_fds(sock, iov, size ? 2 : 1, fds, nfds, 0) < 0 ? -1 : 0;
}

TEST(front_end_disconnect_exits_0_and_every_fd_is_cloexec)
{
	struct daemon d;
	char line[128];
	ASSERT_EQ(start(&d, NULL), 0);
	ASSERT_TRUE(fgets(line, sizeof(line), d.out) != NULL);
	int s = th_connect(d.sock, false);
	ASSERT_GE(s, 0);
	/* Hand it fds the way QEMU does: memory, kick and call eventfds. */
	int memfd = memfd_create("ram", 0); /* deliberately without CLOEXEC */
	ASSERT_EQ(ftruncate(memfd, 1 << 20), 0);
	struct vhost_user_memory m = { .nregions = 1 };
	m.regions[0] = (struct vhost_user_mem_region){ 0, 1 << 20, 0x7f0000000000ull, 0 };
	ASSERT_EQ(send_msg(s, VHOST_USER_SET_MEM_TABLE, &m, 8 + 32, &memfd, 1), 0);
	int kick = eventfd(0, 0), call = eventfd(0, 0);
	uint64_t q = 0;
	ASSERT_EQ(send_msg(s, VHOST_USER_SET_VRING_KICK, &q, 8, &kick, 1), 0);
	ASSERT_EQ(send_msg(s, VHOST_USER_SET_VRING_CALL, &q, 8, &call, 1), 0);
	/* A host client too. */
	int h = th_connect(d.base, false);
	ASSERT_GE(h, 0);
	/* Round trip so everything above was processed. */
	ASSERT_EQ(send_msg(s, VHOST_USER_GET_FEATURES, NULL, 0, NULL, 0), 0);
	struct vhost_user_hdr rh;
	uint64_t feat;
	ASSERT_EQ(recv(s, &rh, sizeof(rh), MSG_WAITALL), (ssize_t)sizeof(rh));
	ASSERT_EQ(recv(s, &feat, sizeof(feat), MSG_WAITALL), (ssize_t)sizeof(feat));

	unsigned n;
	EXPECT_TRUE(all_fds_cloexec(d.pid, &n));
	EXPECT_GE(n, 7); /* epoll, signalfd, 2 listeners, timerfd, front-end, kick, call, host */

	close(s);
	EXPECT_EQ(wait_exit(d.pid, 5000), 0);
	/* And the host client was closed on the way out. */
	ASSERT_TRUE(th_wait_readable(h, 1000));
	char c;
	EXPECT_EQ(read(h, &c, 1), 0);
}

TAP_MAIN()
