/* SPDX-License-Identifier: MIT */
/* vsockexec: its usage, which stream gets which connection, and that only
 * 0..2 reach the program.  Socketpairs stand in for vsock connections. */
#include "lcow/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../vsockexec.h"

static int parse(struct vsockexec_args *a, struct error *err, char **v)
{
	int n = 0;
	while (v[n])
		n++;
	return vsockexec_parse(a, n, v, err);
}

TEST(parse_the_host_command_line)
{
	struct vsockexec_args a;
	struct error err = { 0 };
	char *v[] = { "/bin/vsockexec", "-e", "109", "/bin/gcs", "-v4", "-e", "1", NULL };

	ASSERT_EQ(parse(&a, &err, v), 0);
	ASSERT_FALSE(a.has_port[0]);
	ASSERT_FALSE(a.has_port[1]);
	ASSERT_TRUE(a.has_port[2]);
	ASSERT_EQ(a.port[2], 109);
	/* The program's -e is its own. */
	ASSERT_TRUE(a.argv == &v[3]);
	ASSERT_STREQ(a.argv[3], "1");
}

TEST(parse_all_three_attached_and_hex)
{
	struct vsockexec_args a;
	struct error err = { 0 };
	char *v[] = { "vsockexec", "-i0x40000001", "-o", "7", "-e8", "--", "-prog", NULL };

	ASSERT_EQ(parse(&a, &err, v), 0);
	ASSERT_EQ(a.port[0], 0x40000001);
	ASSERT_EQ(a.port[1], 7);
	ASSERT_EQ(a.port[2], 8);
	ASSERT_STREQ(a.argv[0], "-prog");
}

TEST(parse_no_options_is_plain_exec)
{
	struct vsockexec_args a;
	struct error err = { 0 };
	char *v[] = { "vsockexec", "/bin/true", NULL };

	ASSERT_EQ(parse(&a, &err, v), 0);
	ASSERT_FALSE(a.has_port[0] || a.has_port[1] || a.has_port[2]);
	ASSERT_STREQ(a.argv[0], "/bin/true");
}

TEST(parse_rejects_bad_usage_with_a_reason)
{
	static const struct {
		char *v[8];
		const char *why;
	} bad[] = {
		{ { "vsockexec", NULL }, "no program" },
		{ { "vsockexec", "-e", "109", NULL }, "no program" },
		{ { "vsockexec", "-e", "109", "--", NULL }, "no program" },
		{ { "vsockexec", "", NULL }, "no program" },
		{ { "vsockexec", "-e", NULL }, "-e needs a port" },
		{ { "vsockexec", "-x", "1", "prog", NULL }, "unknown option `-x'" },
		{ { "vsockexec", "-ex", "prog", NULL }, "-e: bad port `x'" },
		{ { "vsockexec", "-o", "-1", "prog", NULL }, "-o: bad port `-1'" },
		{ { "vsockexec", "-i", "4294967295", "prog", NULL }, "out of range" },
		{ { "vsockexec", "-o", "1", "-o", "2", "prog", NULL }, "-o given twice" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vsockexec_args a;
		struct error err = { 0 };
		EXPECT_EQ(parse(&a, &err, (char **)bad[i].v), -EINVAL);
		if (!strstr(error_text(&err), bad[i].why)) {
			TAP_DIAG("case %zu: \"%s\" lacks \"%s\"", i, error_text(&err), bad[i].why);
			EXPECT_TRUE(0);
		}
	}
}

static void plan_for(struct vsockexec_plan *p, int in, int out, int err_port)
{
	struct vsockexec_args a = { 0 };
	int ports[3] = { in, out, err_port };
	for (int s = 0; s < 3; s++) {
		a.has_port[s] = ports[s] >= 0;
		a.port[s] = ports[s] >= 0 ? (uint32_t)ports[s] : 0;
	}
	vsockexec_make_plan(&a, p);
}

TEST(plan_shares_one_connection_per_port)
{
	struct vsockexec_plan p;

	plan_for(&p, -1, 109, 109);
	ASSERT_EQ(p.n_conns, 1);
	ASSERT_EQ(p.conn_port[0], 109);
	ASSERT_EQ(p.stream_conn[0], -1);
	ASSERT_EQ(p.stream_conn[1], 0);
	ASSERT_EQ(p.stream_conn[2], 0);

	plan_for(&p, 5, 5, 5);
	ASSERT_EQ(p.n_conns, 1);
	ASSERT_TRUE(p.stream_conn[0] == 0 && p.stream_conn[1] == 0 && p.stream_conn[2] == 0);

	plan_for(&p, 1, 2, 1);
	ASSERT_EQ(p.n_conns, 2);
	ASSERT_EQ(p.conn_port[0], 1);
	ASSERT_EQ(p.conn_port[1], 2);
	ASSERT_EQ(p.stream_conn[0], 0);
	ASSERT_EQ(p.stream_conn[1], 1);
	ASSERT_EQ(p.stream_conn[2], 0);

	plan_for(&p, 1, 2, 3);
	ASSERT_EQ(p.n_conns, 3);
	ASSERT_EQ(p.stream_conn[2], 2);

	/* Port 0 is a port like any other, not "unset". */
	plan_for(&p, 0, -1, 0);
	ASSERT_EQ(p.n_conns, 1);
	ASSERT_EQ(p.stream_conn[1], -1);
	ASSERT_EQ(p.stream_conn[2], 0);

	plan_for(&p, -1, -1, -1);
	ASSERT_EQ(p.n_conns, 0);
	ASSERT_TRUE(p.stream_conn[0] == -1 && p.stream_conn[1] == -1 && p.stream_conn[2] == -1);
}

TEST(conn_streams_names_for_messages)
{
	struct vsockexec_plan p;
	char buf[64];

	plan_for(&p, 1, 2, 1);
	vsockexec_conn_streams(&p, 0, buf, sizeof(buf));
	ASSERT_STREQ(buf, "stdin and stderr");
	vsockexec_conn_streams(&p, 1, buf, sizeof(buf));
	ASSERT_STREQ(buf, "stdout");
	plan_for(&p, 4, 4, 4);
	vsockexec_conn_streams(&p, 0, buf, sizeof(buf));
	ASSERT_STREQ(buf, "stdin, stdout and stderr");
}

static ino_t ino_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static int is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Bitmap of the open fds among 3..19. */
static unsigned open_above_stdio(void)
{
	unsigned m = 0;
	for (int fd = 3; fd < 20; fd++)
		if (is_open(fd))
			m |= 1u << fd;
	return m;
}

/* Save 0..2 above 20 and put them back, so the test can report. */
static void save_stdio(int saved[3])
{
	for (int i = 0; i < 3; i++)
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 20);
}

static void restore_stdio(int saved[3])
{
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
}

TEST(apply_shared_connection_onto_stdout_and_stderr)
{
	int saved[3], sp[2];
	struct vsockexec_plan p;
	struct error err = { 0 };

	plan_for(&p, -1, 109, 109);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ino_t sock_ino = ino_of(sp[0]);
	ino_t stdin_ino = ino_of(0);
	int conn[3] = { sp[0], -1, -1 };
	int conn_fd = sp[0];

	save_stdio(saved);
	int r = vsockexec_apply(&p, conn, &err);
	ino_t i0 = ino_of(0), i1 = ino_of(1), i2 = ino_of(2);
	int fl1 = fcntl(1, F_GETFD), fl2 = fcntl(2, F_GETFD);
	int conn_still_open = is_open(conn_fd);
	restore_stdio(saved);

	ASSERT_EQ(r, 0);
	ASSERT_EQ(i0, stdin_ino);
	ASSERT_EQ(i1, sock_ino);
	ASSERT_EQ(i2, sock_ino);
	ASSERT_EQ(fl1, 0); /* survives exec */
	ASSERT_EQ(fl2, 0);
	ASSERT_FALSE(conn_still_open);
	ASSERT_EQ(conn[0], -1);
	close(sp[1]);
}

TEST(apply_keeps_inherited_stream_when_connect_failed)
{
	int saved[3], sp[2];
	struct vsockexec_plan p;
	struct error err = { 0 };

	/* stdin on port 1 (connected), stderr on port 2 (failed). */
	plan_for(&p, 1, -1, 2);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ino_t sock_ino = ino_of(sp[0]);
	ino_t stderr_ino = ino_of(2);
	int conn[3] = { sp[0], -1, -1 };

	save_stdio(saved);
	int r = vsockexec_apply(&p, conn, &err);
	ino_t i0 = ino_of(0), i2 = ino_of(2);
	restore_stdio(saved);

	ASSERT_EQ(r, 0);
	ASSERT_EQ(i0, sock_ino);
	ASSERT_EQ(i2, stderr_ino);
	close(sp[1]);
}

TEST(apply_when_the_sockets_landed_on_closed_stdio_slots)
{
	int saved[3], sp_out[2], sp_in[2];
	struct vsockexec_plan p;
	struct error err = { 0 };

	/* stdin and stdout were closed on entry, so the sockets took those
	 * slots -- crosswise: the stdout connection sits on 0, the stdin one
	 * on 1.  A naive dup3 onto 0 would close the stdout connection. */
	plan_for(&p, 8, 7, -1);
	ASSERT_EQ(p.conn_port[0], 8);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp_out), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp_in), 0);
	ino_t out_ino = ino_of(sp_out[0]), in_ino = ino_of(sp_in[0]);

	save_stdio(saved);
	dup3(sp_out[0], 0, O_CLOEXEC);
	dup3(sp_in[0], 1, O_CLOEXEC);
	close(sp_out[0]);
	close(sp_in[0]);
	int conn[3] = { 1, 0, -1 };
	unsigned before = open_above_stdio();
	int r = vsockexec_apply(&p, conn, &err);
	unsigned after = open_above_stdio();
	ino_t i0 = ino_of(0), i1 = ino_of(1);
	int fl0 = fcntl(0, F_GETFD), fl1 = fcntl(1, F_GETFD);
	restore_stdio(saved);

	ASSERT_EQ(r, 0);
	ASSERT_EQ(i0, in_ino);
	ASSERT_EQ(i1, out_ino);
	ASSERT_EQ(fl0, 0);
	ASSERT_EQ(fl1, 0);
	/* The sockets moved out of the way were closed again. */
	ASSERT_EQ(after, before);
	close(sp_out[1]);
	close(sp_in[1]);
}

/* --fds mode: report which fds are open and whether 1 and 2 share a socket,
 * on stdout (the socket under test). */
static int report_fds(void)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "open=");
	for (int fd = 0; fd < 1024; fd++)
		if (is_open(fd))
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%d", n > 5 ? "," : "", fd);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, " shared=%d\n",
		      ino_of(1) != 0 && ino_of(1) == ino_of(2));
	return write(1, buf, (size_t)n) == n ? 0 : 1;
}

TEST(only_stdio_reaches_the_program)
{
	int sp[2], status;
	char buf[256];

	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* What vsockexec sees: stdio plus its own close-on-exec
		 * sockets.  Drop whatever the test runner leaked to us. */
		struct vsockexec_plan p;
		struct error err = { 0 };
		int extra = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		dup3(nul, 0, 0);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != sp[0] && fd != extra)
				close(fd);
		plan_for(&p, -1, 109, 109);
		int conn[3] = { sp[0], -1, -1 };
		if (vsockexec_apply(&p, conn, &err) < 0)
			_exit(3);
		execl("/proc/self/exe", "vsockexec_test", "--fds", (char *)NULL);
		_exit(127);
	}
	close(sp[0]);
	ssize_t n = read(sp[1], buf, sizeof(buf) - 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_GT(n, 0);
	buf[n] = '\0';
	ASSERT_STREQ(buf, "open=0,1,2 shared=1\n");
	close(sp[1]);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--fds") == 0)
		return report_fds();
	return tap_main(argc, argv);
}
