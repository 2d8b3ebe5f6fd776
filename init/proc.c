/* SPDX-License-Identifier: MIT */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

int exit_status_format(char *buf, size_t size, const char *prog, int wstatus)
{
	if (WIFEXITED(wstatus))
		return snprintf(buf, size, "%s exited with status %d", prog, WEXITSTATUS(wstatus));
	if (WIFSIGNALED(wstatus))
		return snprintf(buf, size, "%s killed by signal %d", prog, WTERMSIG(wstatus));
	snprintf(buf, size, "%s changed state (wait status 0x%x)", prog, (unsigned)wstatus);
	return -EINVAL;
}

size_t env_with_default_path(char **out, size_t max, char *const *env, char *path_entry)
{
	size_t n = 0;
	bool have_path = false;

	if (max == 0)
		return 0;
	for (; env && *env && n < max - 1; env++) {
		if (strncmp(*env, "PATH=", 5) == 0)
			have_path = true;
		out[n++] = *env;
	}
	if (!have_path && n < max - 1)
		out[n++] = path_entry;
	out[n] = NULL;
	return n;
}

int exit_code(int wstatus)
{
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WEXITSTATUS(wstatus);
}

static void child_take_tty(const char *tty)
{
	int fd = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		log_warning("open %s: %s", tty, strerror(errno));
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (i == fd)
			fcntl(i, F_SETFD, 0);
		else
			dup3(fd, i, 0);
	}
	if (fd > 2)
		close(fd);
	/* 1: steal it from a session that may still hold it. */
	ioctl(STDIN_FILENO, TIOCSCTTY, 1);
}

pid_t spawn_process(char *const argv[], const char *tty, struct error *err)
{
	if (!argv || !argv[0] || !argv[0][0])
		return error_setx(err, EINVAL, "spawn: no program");

	pid_t pid = fork();
	if (pid < 0)
		return error_set(err, errno, "fork for %s", argv[0]);
	if (pid > 0)
		return pid;

	/* Child.  Handlers first, then the mask, so nothing pending runs a
	 * handler of init's (init has none, but callers in tests may). */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* fails harmlessly for KILL, STOP, libc's own */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (tty)
		child_take_tty(tty);
	execvp(argv[0], argv);
	log_err("exec %s: %s", argv[0], strerror(errno));
	_exit(127);
}
