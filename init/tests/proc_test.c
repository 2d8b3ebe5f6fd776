/* SPDX-License-Identifier: MIT */
/* How init describes exits and how it starts its children.  The spawned
 * child is this test binary again, in a --report mode that writes what it
 * inherited to a file. */
#include "lcow/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../proc.h"

/* Wait status of a real child that runs fn. */
static int status_of(void (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(99);
	}
	waitpid(pid, &status, 0);
	return status;
}

static void exit_0(void) { _exit(0); }
static void exit_3(void) { _exit(3); }
static void exit_255(void) { _exit(255); }
static void die_segv(void)
{
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
}
static void die_kill(void) { raise(SIGKILL); }

TEST(exit_status_line_for_exits)
{
	char buf[128];

	ASSERT_EQ(exit_status_format(buf, sizeof(buf), "/bin/gcs", status_of(exit_0)),
		  (int)strlen("/bin/gcs exited with status 0"));
	ASSERT_STREQ(buf, "/bin/gcs exited with status 0");
	exit_status_format(buf, sizeof(buf), "/bin/gcs", status_of(exit_3));
	ASSERT_STREQ(buf, "/bin/gcs exited with status 3");
	exit_status_format(buf, sizeof(buf), "/bin/sh", status_of(exit_255));
	ASSERT_STREQ(buf, "/bin/sh exited with status 255");
}

TEST(exit_status_line_for_signals)
{
	char buf[128];

	exit_status_format(buf, sizeof(buf), "/bin/gcs", status_of(die_segv));
	ASSERT_STREQ(buf, "/bin/gcs killed by signal 11");
	exit_status_format(buf, sizeof(buf), "/bin/vsockexec", status_of(die_kill));
	ASSERT_STREQ(buf, "/bin/vsockexec killed by signal 9");
}

TEST(exit_status_line_for_a_stop_report_is_an_error)
{
	char buf[128];

	/* 0x137f: stopped by SIGSTOP, as waitpid(WUNTRACED) would say. */
	ASSERT_EQ(exit_status_format(buf, sizeof(buf), "/x", 0x137f), -EINVAL);
	ASSERT_TRUE(strstr(buf, "/x") != NULL);
}

TEST(exit_status_line_is_truncated_not_overflowed)
{
	char buf[16];
	char prog[200];
	memset(prog, 'p', sizeof(prog) - 1);
	prog[sizeof(prog) - 1] = '\0';

	exit_status_format(buf, sizeof(buf), prog, 0);
	ASSERT_EQ(strlen(buf), sizeof(buf) - 1);
}

TEST(exit_code_uses_128_plus_signal)
{
	ASSERT_EQ(exit_code(status_of(exit_3)), 3);
	ASSERT_EQ(exit_code(status_of(die_kill)), 128 + 9);
	ASSERT_EQ(exit_code(status_of(die_segv)), 128 + 11);
}

TEST(env_gets_a_path_unless_it_has_one)
{
	char path[] = "PATH=/bin";
	char *out[8];
	char *env1[] = { "HOME=/", "TERM=linux", NULL };
	char *env2[] = { "PATH=/x", "HOME=/", NULL };

	ASSERT_EQ(env_with_default_path(out, 8, env1, path), 3);
	ASSERT_STREQ(out[0], "HOME=/");
	ASSERT_STREQ(out[2], "PATH=/bin");
	ASSERT_TRUE(out[3] == NULL);

	ASSERT_EQ(env_with_default_path(out, 8, env2, path), 2);
	ASSERT_STREQ(out[0], "PATH=/x");
	ASSERT_TRUE(out[2] == NULL);

	ASSERT_EQ(env_with_default_path(out, 8, NULL, path), 1);
	ASSERT_STREQ(out[0], "PATH=/bin");

	/* Too many: truncated, still terminated. */
	ASSERT_EQ(env_with_default_path(out, 2, env1, path), 1);
	ASSERT_TRUE(out[1] == NULL);
	ASSERT_EQ(env_with_default_path(out, 0, env1, path), 0);
}

/* The child's side: what did it inherit? */
static int report(const char *file, int watched_fd)
{
	sigset_t cur;
	struct sigaction sa;
	struct stat st, null_st;
	int blocked = 0;

	sigprocmask(SIG_BLOCK, NULL, &cur);
	for (int s = 1; s < NSIG; s++)
		blocked += sigismember(&cur, s) == 1;
	sigaction(SIGUSR1, NULL, &sa);
	int leaked = fcntl(watched_fd, F_GETFD) >= 0;
	int stdin_null = fstat(0, &st) == 0 && stat("/dev/null", &null_st) == 0 &&
			 S_ISCHR(st.st_mode) && st.st_rdev == null_st.st_rdev;

	FILE *f = fopen(file, "we");
	if (!f)
		return 1;
	fprintf(f, "blocked=%d usr1_default=%d leader=%d leaked=%d stdin_null=%d", blocked,
		sa.sa_handler == SIG_DFL, getsid(0) == getpid(), leaked, stdin_null);
	fclose(f);
	return 0;
}

static char report_file[64];

/* Spawn ourselves in --report mode from a process that blocks everything and
 * ignores SIGUSR1, as init does (minus the ignore), and with an fd open. */
static int spawn_and_report(const char *tty, char *out, size_t size)
{
	char fdnum[16];
	int status;
	sigset_t all;

	snprintf(report_file, sizeof(report_file), "/tmp/init-proc-test.%d", (int)getpid());
	int watched = open("/dev/null", O_RDONLY | O_CLOEXEC);
	snprintf(fdnum, sizeof(fdnum), "%d", watched);
	char *argv[] = { "/proc/self/exe", "--report", report_file, fdnum, NULL };

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	signal(SIGUSR1, SIG_IGN);

	pid_t pid = spawn_process(argv, tty, NULL);
	if (pid < 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -2;
	int fd = open(report_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -3;
	ssize_t n = read(fd, out, size - 1);
	close(fd);
	unlink(report_file);
	if (n < 0)
		return -4;
	out[n] = '\0';
	close(watched);
	return 0;
}

TEST(spawned_program_starts_clean)
{
	char out[256];

	ASSERT_EQ(spawn_and_report(NULL, out, sizeof(out)), 0);
	TAP_DIAG("child: %s", out);
	ASSERT_TRUE(strstr(out, "blocked=0 ") != NULL);
	ASSERT_TRUE(strstr(out, "usr1_default=1 ") != NULL);
	ASSERT_TRUE(strstr(out, "leader=1 ") != NULL);
	ASSERT_TRUE(strstr(out, "leaked=0 ") != NULL);
}

TEST(spawned_with_tty_gets_it_as_stdio)
{
	char out[256];

	ASSERT_EQ(spawn_and_report("/dev/null", out, sizeof(out)), 0);
	ASSERT_TRUE(strstr(out, "stdin_null=1") != NULL);
	ASSERT_TRUE(strstr(out, "leaked=0 ") != NULL);
}

TEST(exec_failure_is_logged_and_exits_127)
{
	char log[64], buf[256];
	int status;
	char *argv[] = { "/nonexistent/program", NULL };

	/* The child logs to stderr here (no /dev/kmsg open): catch it. */
	snprintf(log, sizeof(log), "/tmp/init-proc-test-log.%d", (int)getpid());
	int fd = open(log, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	int saved = fcntl(2, F_DUPFD_CLOEXEC, 10);
	dup2(fd, 2);
	pid_t pid = spawn_process(argv, NULL, NULL);
	dup2(saved, 2);
	ASSERT_GT(pid, 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 127);

	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(log);
	ASSERT_GT(n, 0);
	buf[n] = '\0';
	ASSERT_STREQ(buf, "init: exec /nonexistent/program: No such file or directory\n");
}

TEST(spawn_without_program_is_an_error)
{
	struct error err = { 0 };
	char *empty[] = { "", NULL };
	char *none[] = { NULL };

	ASSERT_EQ(spawn_process(NULL, NULL, &err), -EINVAL);
	ASSERT_EQ(spawn_process(none, NULL, &err), -EINVAL);
	ASSERT_EQ(spawn_process(empty, NULL, &err), -EINVAL);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--report") == 0)
		return report(argv[2], atoi(argv[3]));
	return tap_main(argc, argv);
}
