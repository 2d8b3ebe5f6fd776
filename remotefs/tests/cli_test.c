/* SPDX-License-Identifier: MIT */
/* The real binary (the host build of the same sources): exit statuses,
 * options, and data through pipes as the host's stdio relay gives it. */
#include "lcow/tap.h"
#include "lcow/cleanup.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "helpers.h"

#ifndef REMOTEFS_BINARY
#error "REMOTEFS_BINARY must name the host build of remotefs"
#endif

struct proc {
	int status; /* exit status, or 128+signal */
	char *out, *err;
	size_t out_len;
};

/* Run the binary with stdin from `in` (a pipe, written while reading the
 * outputs), collecting stdout and stderr; close_out_after closes our end
 * of stdout once that many bytes were read (a host that stops reading). */
static struct proc spawn(const char *const *args, const void *in, size_t in_len,
			 size_t close_out_after)
{
	int pin[2], pout[2], perr[2];
	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		char *argv[32];
		int n = 0;
		argv[n++] = REMOTEFS_BINARY;
		for (; *args && n < 31; args++)
			argv[n++] = (char *)*args;
		argv[n] = NULL;
		execv(argv[0], argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	signal(SIGPIPE, SIG_IGN);
	struct proc p = { 0 };
	size_t out_cap = 1 << 16, err_cap = 4096, err_len = 0, in_off = 0;
	p.out = malloc(out_cap);
	p.err = malloc(err_cap);
	int in_fd = pin[1], out_fd = pout[0], err_fd = perr[0];
	if (in_len == 0) {
		close(in_fd);
		in_fd = -1;
	}
	while (out_fd >= 0 || err_fd >= 0) {
		struct pollfd fds[3] = { { in_fd, POLLOUT, 0 }, { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
		if (poll(fds, 3, 10000) <= 0)
			break;
		if (in_fd >= 0 && fds[0].revents) {
			ssize_t n = write(in_fd, (const char *)in + in_off,
					  in_len - in_off > 65536 ? 65536 : in_len - in_off);
			if (n > 0)
				in_off += (size_t)n;
			if (n < 0 || in_off == in_len) {
				close(in_fd);
				in_fd = -1;
			}
		}
		if (out_fd >= 0 && fds[1].revents) {
			if (p.out_len == out_cap)
				p.out = realloc(p.out, out_cap *= 2);
			ssize_t n = read(out_fd, p.out + p.out_len, out_cap - p.out_len);
			if (n > 0)
				p.out_len += (size_t)n;
			if (n <= 0 || (close_out_after && p.out_len >= close_out_after)) {
				close(out_fd);
				out_fd = -1;
			}
		}
		if (err_fd >= 0 && fds[2].revents) {
			if (err_len + 1 >= err_cap)
				p.err = realloc(p.err, err_cap *= 2);
			ssize_t n = read(err_fd, p.err + err_len, err_cap - err_len - 1);
			if (n > 0)
				err_len += (size_t)n;
			else {
				close(err_fd);
				err_fd = -1;
			}
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	p.err[err_len] = '\0';
	int st;
	waitpid(pid, &st, 0);
	p.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return p;
}

#define SPAWN(in, len, ...) spawn((const char *const[]){ __VA_ARGS__, NULL }, (in), (len), 0)

static void proc_free(struct proc *p)
{
	free(p->out);
	free(p->err);
}

TEST(exit_statuses)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	struct proc p = SPAWN(NULL, 0, "--root", fx.root, "stat", "/missing");
	EXPECT_EQ(p.status, 0); /* a failed command: 0 + JSON, as opengcs */
	EXPECT_STREQ(p.err, "{\"ErrString\":\"file does not exist\"}");
	proc_free(&p);
	p = SPAWN(NULL, 0, "--root", fx.root, "stat");
	EXPECT_EQ(p.status, 1);
	EXPECT_TRUE(strstr(p.err, "usage") != NULL);
	proc_free(&p);
	p = SPAWN(NULL, 0, "frobnicate", "x");
	EXPECT_EQ(p.status, 1);
	EXPECT_TRUE(strstr(p.err, "unknown command: frobnicate") != NULL);
	proc_free(&p);
	p = SPAWN(NULL, 0, "--bogus", "stat", "/");
	EXPECT_EQ(p.status, 2);
	proc_free(&p);
	p = SPAWN(NULL, 0, "--root", "/nonexistent-root", "stat", "/");
	EXPECT_EQ(p.status, 0);
	EXPECT_STREQ(p.err, "{\"ErrString\":\"file does not exist\"}");
	proc_free(&p);
}

TEST(option_forms)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(put_file(fx_path(&fx, "root/f"), "x", 0644), 0);
	char eq[200];
	snprintf(eq, sizeof(eq), "--root=%s", fx.root);
	const char *const *forms[] = {
		(const char *const[]){ "--root", fx.root, "readfile", "/f", NULL },
		(const char *const[]){ "-root", fx.root, "readfile", "/f", NULL },
		(const char *const[]){ eq, "readfile", "/f", NULL },
		(const char *const[]){ "-loglevel", "debug", "-logfile", "/tmp/x", "--root", fx.root,
				       "readfile", "/f", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		struct proc p = spawn(forms[i], NULL, 0, 0);
		EXPECT_EQ(p.status, 0);
		EXPECT_EQ(p.out_len, 1);
		EXPECT_STREQ(p.err, "");
		proc_free(&p);
	}
	/* No --root: paths are the VM's own, as opengcs took them. */
	char abs[300];
	snprintf(abs, sizeof(abs), "%s/f", fx.root);
	struct proc p = SPAWN(NULL, 0, "readfile", abs);
	EXPECT_EQ(p.out_len, 1);
	proc_free(&p);
}

TEST(big_data_through_pipes_is_byte_exact)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	size_t len = 5 * 1024 * 1024 + 123;
	unsigned char *data = malloc(len);
	unsigned seed = 7;
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)rand_r(&seed);
	struct proc p = SPAWN(data, len, "--root", fx.root, "writefile", "/big", "644");
	EXPECT_EQ(p.status, 0);
	EXPECT_STREQ(p.err, "");
	proc_free(&p);
	p = SPAWN(NULL, 0, "--root", fx.root, "readfile", "/big");
	EXPECT_EQ(p.status, 0);
	ASSERT_EQ(p.out_len, len);
	EXPECT_TRUE(memcmp(p.out, data, len) == 0);
	proc_free(&p);
	free(data);
}

TEST(a_host_that_stops_reading_gets_an_error_not_a_signal)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("head -c 4000000 /dev/zero > %s/zero", fx.root), 0);
	struct proc p = spawn((const char *const[]){ "--root", fx.root, "readfile", "/zero", NULL },
			      NULL, 0, 1000);
	EXPECT_EQ(p.status, 0);
	EXPECT_TRUE(strstr(p.err, "broken pipe") != NULL);
	proc_free(&p);
}

TEST(archive_round_trip_through_pipes)
{
	_cleanup_(fx_cleanup) struct fixture fx;
	fx_init(&fx);
	ASSERT_EQ(sh("set -e; cd %s; mkdir -p src/a/b dst; head -c 1000000 /dev/urandom > src/a/b/r;"
		     "echo x > src/x",
		     fx.root),
		  0);
	size_t olen;
	char *opts = tar_opts("{}", NULL, 0, &olen);
	struct proc a = SPAWN(opts, olen, "--root", fx.root, "archivepath", "/src");
	EXPECT_EQ(a.status, 0);
	EXPECT_STREQ(a.err, "");
	free(opts);
	size_t elen;
	char *in = tar_opts("{}", a.out, a.out_len, &elen);
	struct proc e = SPAWN(in, elen, "--root", fx.root, "extractarchive", "/dst");
	EXPECT_EQ(e.status, 0);
	EXPECT_STREQ(e.err, "");
	EXPECT_EQ(sh("cmp %s/src/a/b/r %s/dst/a/b/r", fx.root, fx.root), 0);
	proc_free(&a);
	proc_free(&e);
	free(in);
}

TAP_MAIN()
