/* SPDX-License-Identifier: MIT */
/*
 * iso-probe: what a process inside a container may do, for
 * isolation_test.sh (built there, static, with musl-gcc; put in a layer).
 * Each operation prints "<op>: OK" or "<op>: <ERRNO NAME>" and exits 0.
 *
 *   iso-probe mount DIR     mount a tmpfs on DIR
 *   iso-probe keyctl        join a new session keyring
 *   iso-probe ptrace PID    PTRACE_ATTACH to PID (detached again on success)
 *   iso-probe fds           the open fds, besides the one listing them
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEYCTL_JOIN_SESSION_KEYRING 1

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	case EROFS: return "EROFS";
	default: return "EOTHER";
	}
}

static int report(const char *op, int r)
{
	if (r < 0)
		printf("%s: %s\n", op, errname(errno));
	else
		printf("%s: OK\n", op);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "mount") == 0)
		return report("mount", mount("none", argv[2], "tmpfs", 0, NULL));
	if (argc >= 2 && strcmp(argv[1], "keyctl") == 0)
		return report("keyctl", (int)syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL));
	if (argc >= 3 && strcmp(argv[1], "ptrace") == 0) {
		pid_t pid = (pid_t)atoi(argv[2]);
		long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
		int e = errno;
		if (r == 0) {
			waitpid(pid, NULL, __WALL);
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
		}
		errno = e;
		return report("ptrace", r < 0 ? -1 : 0);
	}
	if (argc >= 2 && strcmp(argv[1], "fds") == 0) {
		DIR *d = opendir("/proc/self/fd");
		if (!d)
			return report("fds", -1);
		struct dirent *de;
		printf("fds:");
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
				printf(" %s", de->d_name);
		printf("\n");
		closedir(d);
		return 0;
	}
	fprintf(stderr, "usage: iso-probe mount DIR | keyctl | ptrace PID | fds\n");
	return 2;
}
