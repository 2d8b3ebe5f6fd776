/* SPDX-License-Identifier: MIT */
/*
 * Races: while another process keeps swapping a real directory `d` and a
 * symlink `s -> ../outside` (renameat2 RENAME_EXCHANGE, so every instant
 * `d` is one or the other), every command runs in a loop on paths below
 * `d`.  Naive path resolution would now and then act on ../outside; here
 * nothing outside the root may ever be read, written, created, removed or
 * changed.  Both outcomes must be seen (the race really happened).
 */
#include "lcow/tap.h"
#include "lcow/cleanup.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "helpers.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define ROUNDS 400
#define OUTSIDE_TEXT "OUTSIDE-CONTENT-0123456789"

/* A child swapping DIR/d and DIR/s until killed; it dies with the test
 * (PR_SET_PDEATHSIG) even if the test itself crashes. */
static pid_t start_flipper(const char *dir)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (;;)
		syscall(SYS_renameat2, dfd, "d", dfd, "s", RENAME_EXCHANGE);
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void stopp(pid_t *pid)
{
	if (*pid > 0)
		stop(*pid);
	*pid = -1;
}

/* The outside tree as text: names, types, modes, owners, sizes, content. */
static char *snapshot(const struct fixture *fx)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && find . -printf '%%p %%y %%m %%U %%s\\n' | sort && cat f victim/v only-outside",
		 fx->outside);
	FILE *p = popen(cmd, "r");
	if (!p)
		abort();
	char *buf = calloc(1, 65536);
	size_t n = fread(buf, 1, 65535, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

struct tally {
	int ok, failed;
};

static void count(struct tally *t, const struct result *r)
{
	if (r->err[0])
		t->failed++;
	else
		t->ok++;
}

TEST(no_command_ever_reaches_outside_while_d_and_a_symlink_swap)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("set -e; cd %s; echo -n '%s' > outside/f; mkdir outside/victim;"
		     "echo v > outside/victim/v; echo only > outside/only-outside;"
		     "mkdir root/d; echo -n inside > root/d/f; ln -s ../outside root/s",
		     fx.base, OUTSIDE_TEXT),
		  0);
	char *before = snapshot(&fx);
	/* The real directory, whatever its name at the moment. */
	_cleanup_close_ int real = open(fx_path(&fx, "root/d"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(real, 0);
	_cleanup_close_ int real_rw = openat(real, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* A small archive for extractarchive: x/planted. */
	size_t opts_len;
	char *empty_opts = tar_opts("{}", NULL, 0, &opts_len);
	char tarbuf[4096];
	size_t tar_len;
	{
		ASSERT_EQ(sh("mkdir -p %s/x && echo p > %s/x/planted", fx.base, fx.base), 0);
		ASSERT_EQ(sh("tar -cf %s/p.tar -C %s x", fx.base, fx.base), 0);
		int fd = open(fx_path(&fx, "p.tar"), O_RDONLY | O_CLOEXEC);
		ssize_t n = read(fd, tarbuf, sizeof(tarbuf));
		close(fd);
		ASSERT_GT(n, 0);
		tar_len = (size_t)n;
	}
	size_t ex_len;
	char *ex_in = tar_opts("{}", tarbuf, tar_len, &ex_len);

	struct tally t_read = { 0 }, t_stat = { 0 }, t_write = { 0 }, t_arch = { 0 }, t_ext = { 0 };
	int leaks = 0;
	_cleanup_(stopp) pid_t flipper = start_flipper(fx.root);
	ASSERT_GT(flipper, 0);
	for (int i = 0; i < ROUNDS; i++) {
		/* Things to remove, recreated in the real directory. */
		mkdirat(real_rw, "victim", 0755);
		close(openat(real_rw, "victim/v", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));

		struct result r = RUN(fx.root, "readfile", "d/f");
		count(&t_read, &r);
		if (strstr(r.out, "OUTSIDE"))
			leaks++;
		result_free(&r);

		r = RUN(fx.root, "stat", "/d/f");
		count(&t_stat, &r);
		if (strstr(r.out, "\"SizeVar\":26"))
			leaks++;
		result_free(&r);

		r = RUN_IN(fx.root, "W", 1, "writefile", "d/w", "644");
		count(&t_write, &r);
		result_free(&r);

		r = RUN_IN(fx.root, empty_opts, opts_len, "archivepath", "/d");
		count(&t_arch, &r);
		if (memmem(r.out, r.out_len, "OUTSIDE", 7) || memmem(r.out, r.out_len, "only-outside", 12))
			leaks++;
		result_free(&r);

		r = RUN_IN(fx.root, ex_in, ex_len, "extractarchive", "/d");
		count(&t_ext, &r);
		result_free(&r);

		const char *const cmds[][5] = {
			{ "mkdirall", "d/m/n", "755" },
			{ "mkdir", "d/k", "755" },
			{ "removeall", "d/victim" },
			{ "remove", "d/w" },
			{ "lchmod", "d/f", "600" },
			{ "lchown", "d/f", "4321", "4321" },
			{ "link", "d/f", "d/hl" },
			{ "symlink", "/etc", "d/sl" },
			{ "mkfifo", "d/p", "600" },
			{ "readdir", "d", "0" },
			{ "lstat", "d/f" },
			{ "readlink", "d/sl" },
			{ "removeall", "d/m" },
			{ "remove", "d/hl" },
			{ "remove", "d/sl" },
			{ "remove", "d/p" },
			{ "removeall", "d/x" },
		};
		for (size_t c = 0; c < ARRAY_SIZE(cmds); c++) {
			r = run_in(fx.root, NULL, 0, cmds[c]);
			if (memmem(r.out, r.out_len, "only-outside", 12) ||
			    memmem(r.out, r.out_len, "OUTSIDE", 7))
				leaks++;
			result_free(&r);
		}
		/* Checked every round: a leak is seen when it happens. */
		if (i % 50 == 0) {
			char *now = snapshot(&fx);
			if (strcmp(now, before) != 0)
				leaks++;
			free(now);
		}
	}
	stopp(&flipper);

	char *after = snapshot(&fx);
	EXPECT_STREQ(after, before);
	EXPECT_EQ(leaks, 0);
	EXPECT_FALSE(exists(fx_path(&fx, "outside/w")));
	EXPECT_FALSE(exists(fx_path(&fx, "outside/m")));
	EXPECT_FALSE(exists(fx_path(&fx, "outside/x")));
	/* The race happened: each command saw both the directory and the
	 * symlink (then failing with "file does not exist"). */
	TAP_DIAG("readfile %d ok / %d failed, stat %d/%d, writefile %d/%d, archivepath %d/%d, "
		 "extractarchive %d/%d",
		 t_read.ok, t_read.failed, t_stat.ok, t_stat.failed, t_write.ok, t_write.failed,
		 t_arch.ok, t_arch.failed, t_ext.ok, t_ext.failed);
	EXPECT_GT(t_read.ok, 0);
	EXPECT_GT(t_read.failed, 0);
	EXPECT_GT(t_write.ok, 0);
	EXPECT_GT(t_write.failed, 0);
	EXPECT_GT(t_ext.ok + t_ext.failed, 0);
	free(before);
	free(after);
	free(empty_opts);
	free(ex_in);
}

/* The same swap one level down, during a recursive walk: archivepath and
 * removeall of the parent must never descend through the symlink. */
TEST(recursive_walks_never_follow_a_swapped_in_symlink)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("set -e; cd %s; echo -n '%s' > outside/f; mkdir outside/victim;"
		     "echo v > outside/victim/v; echo only > outside/only-outside;"
		     "mkdir -p root/top/d/deep; echo -n inside > root/top/d/f; ln -s ../../outside root/top/s;"
		     "ln -s top/d root/d",
		     fx.base, OUTSIDE_TEXT),
		  0);
	char *before = snapshot(&fx);
	size_t opts_len;
	char *opts = tar_opts("{}", NULL, 0, &opts_len);
	_cleanup_(stopp) pid_t pid = start_flipper(fx_path(&fx, "root/top"));
	ASSERT_GT(pid, 0);
	int leaks = 0;
	for (int i = 0; i < ROUNDS; i++) {
		struct result r = RUN_IN(fx.root, opts, opts_len, "archivepath", "/top");
		if (memmem(r.out, r.out_len, "OUTSIDE", 7) || memmem(r.out, r.out_len, "only-outside", 12))
			leaks++;
		result_free(&r);
	}
	/* removeall of the parent while swapping: removes the inside
	 * directory and the link, never the outside's content. */
	struct result r = RUN(fx.root, "removeall", "/top");
	EXPECT_STREQ(r.err, "");
	result_free(&r);
	stopp(&pid);
	EXPECT_EQ(leaks, 0);
	char *after = snapshot(&fx);
	EXPECT_STREQ(after, before);
	EXPECT_FALSE(exists(fx_path(&fx, "root/top")));
	free(before);
	free(after);
	free(opts);
}

TAP_MAIN()
