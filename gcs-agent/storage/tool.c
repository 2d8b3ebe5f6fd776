/* SPDX-License-Identifier: MIT */
#include "storage/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lcow/cleanup.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif

/* Only what the child needs; never the agent's own environment. */
static char *const tool_env[] = { "PATH=/sbin:/usr/sbin:/bin:/usr/bin", NULL };

static _Noreturn void program(int outfd, const char *path, char *const argv[])
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		_exit(127);
	execve(path, argv, tool_env);
	_exit(127);
}

/* The keeper: runs in the agent's clone child, never execs. */
static _Noreturn void keeper(int outfd, const char *path, char *const argv[])
{
	/* The agent blocks signals for its signalfd: the program must not
	 * inherit that mask. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	pid_t keeper_pid = getpid();
	pid_t pid = fork();
	if (pid < 0)
		_exit(127);
	if (pid == 0) {
		/* Killing the keeper (tool_release) kills the program. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != keeper_pid)
			_exit(127);
		program(outfd, path, argv);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

int tool_start(struct tool *t, const char *path, char *const argv[], struct error *err)
{
	*t = (struct tool)TOOL_INIT;
	t->name = argv[0];
	_cleanup_close_ int outfd = (int)syscall(SYS_memfd_create, "storage-tool", MFD_CLOEXEC);
	if (outfd < 0)
		return error_set(err, errno, "memfd for %s", t->name);
	int pidfd = -1;
	struct clone_args args = {
		.flags = CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = 0,	/* a clone child: see tool.h */
	};
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		return error_set(err, errno, "start %s", t->name);
	if (pid == 0)
		keeper(outfd, path, argv);
	/* CLONE_PIDFD always returns a close-on-exec pidfd. */
	t->pid = (pid_t)pid;
	t->pidfd = pidfd;
	t->outfd = TAKE_FD(outfd);
	return 0;
}

/* The last line(s) of the tool's output, for the error message. */
static void output_tail(int fd, char *buf, size_t size)
{
	buf[0] = '\0';
	off_t end = lseek(fd, 0, SEEK_END);
	if (end <= 0)
		return;
	off_t start = end > (off_t)(size - 1) ? end - (off_t)(size - 1) : 0;
	ssize_t n = pread(fd, buf, size - 1, start);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Trim the trailing newline(s), make the rest one line. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
			buf[i] = ' ';
}

int tool_reap(struct tool *t, int block, struct error *err)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	int flags = WEXITED | __WALL | (block ? 0 : WNOHANG);
	for (;;) {
		if (syscall(SYS_waitid, P_PIDFD, t->pidfd, &si, flags, NULL) == 0)
			break;
		if (errno != EINTR)
			return error_set(err, errno, "wait for %s", t->name);
	}
	if (si.si_pid == 0)
		return -EAGAIN;	/* not exited yet (WNOHANG) */
	t->pid = -1;
	if (si.si_code == CLD_EXITED && si.si_status == 0)
		return 0;
	char tail[256];
	output_tail(t->outfd, tail, sizeof(tail));
	if (si.si_code == CLD_EXITED && si.si_status > 128)
		return error_setx(err, EIO, "%s killed by signal %d%s%s", t->name,
				  si.si_status - 128, tail[0] ? ": " : "", tail);
	if (si.si_code == CLD_EXITED)
		return error_setx(err, EIO, "%s exited with status %d%s%s", t->name, si.si_status,
				  tail[0] ? ": " : "", tail);
	return error_setx(err, EIO, "%s keeper killed by signal %d", t->name, si.si_status);
}

void tool_release(struct tool *t)
{
	if (t->pid > 0 && t->pidfd >= 0) {
		/* pidfd_send_signal: no pid-reuse race. */
		syscall(SYS_pidfd_send_signal, t->pidfd, SIGKILL, NULL, 0);
		tool_reap(t, 1, NULL);
	}
	if (t->pidfd >= 0)
		close(t->pidfd);
	if (t->outfd >= 0)
		close(t->outfd);
	t->pidfd = t->outfd = -1;
	t->pid = -1;
}
