/* SPDX-License-Identifier: MIT */
/*
 * The real /bin/gcs (the static musl build) run on the host with its
 * hidden test transports (-bridge-unix, -bridge-fd), which also turn the
 * power-off into a plain exit: this test never reboots the machine.
 */
#include <dirent.h>
#include <elf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "harness.h"
#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "tap_extra.h"

#ifndef GCS_BINARY
#define GCS_BINARY "out/build/guest/gcs-agent/gcs"
#endif

static const char *binary(void)
{
	const char *b = getenv("GCS_BINARY");
	return b && *b ? b : GCS_BINARY;
}

struct agent {
	pid_t pid;
	int log_fd;	/* read end of its stderr */
	char path[108];
	int lfd;	/* listener, -1 in fd mode */
};

static int listen_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)
		abort();
	return fd;
}

/* Start the agent; bridge_fd >= 0 is passed as fd 3 with -bridge-fd 3. */
static void agent_start(struct agent *a, const char *name, int bridge_fd, const char **extra)
{
	memset(a, 0, sizeof(*a));
	a->lfd = -1;
	int lp[2];
	if (pipe2(lp, O_CLOEXEC) < 0)
		abort();
	const char *argv[32] = { binary(), "-v4", "-log-format", "json", "-loglevel", "debug" };
	int n = 6;
	if (bridge_fd >= 0) {
		argv[n++] = "-bridge-fd";
		argv[n++] = "3";
	} else {
		snprintf(a->path, sizeof(a->path), "/tmp/gcs-agent-test-%d-%s.sock", (int)getpid(),
			 name);
		a->lfd = listen_unix(a->path);
		argv[n++] = "-bridge-unix";
		argv[n++] = a->path;
	}
	for (; extra && *extra; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	a->pid = fork();
	if (a->pid < 0)
		abort();
	if (a->pid == 0) {
		dup2(lp[1], 2);
		/* dup2() onto itself would keep close-on-exec. */
		if (bridge_fd == 3)
			fcntl(3, F_SETFD, 0);
		else if (bridge_fd >= 0)
			dup2(bridge_fd, 3);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(lp[1]);
	a->log_fd = lp[0];
	set_nonblock(a->log_fd);
}

static int agent_accept(struct agent *a, int ms)
{
	int64_t deadline = now_ms() + ms;
	while (now_ms() < deadline) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			return fd;
		poll(&(struct pollfd){ .fd = a->lfd, .events = POLLIN }, 1, 10);
	}
	return -1;
}

/* Wait for exit; the status, or -1 on timeout (then it is killed). */
static int agent_wait(struct agent *a, int ms)
{
	int64_t deadline = now_ms() + ms;
	int st;
	while (now_ms() < deadline) {
		pid_t r = waitpid(a->pid, &st, WNOHANG);
		if (r == a->pid)
			return st;
		poll(NULL, 0, 5);
	}
	kill(a->pid, SIGKILL);
	waitpid(a->pid, &st, 0);
	return -1;
}

/* Everything it logged (after it exited). */
static char *agent_log(struct agent *a)
{
	static char buf[1 << 18];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(a->log_fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static void agent_cleanup(struct agent *a)
{
	close(a->log_fd);
	if (a->lfd >= 0) {
		close(a->lfd);
		unlink(a->path);
	}
}

static int64_t call(struct peer *p, uint32_t type, uint64_t id, const char *body, struct frame *out)
{
	struct frame f = { 0 };
	int64_t r = 12345;
	if (peer_send(NULL, p->fd, type, id, body) == 0 && peer_recv(NULL, p, &f, 3000) &&
	    f.hdr.type == bridge_response_type(type) && f.hdr.id == id && f.json)
		r = jint(f.json, "Result");
	if (out)
		*out = f;
	else
		frame_free(&f);
	return r;
}

#define NEGOTIATE "{\"ContainerId\":\"" NULL_ID "\",\"ActivityId\":\"" ACT_ID "\",\"MinimumVersion\":4,\"MaximumVersion\":4}"

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

TEST(binary_is_static_stripped_and_small)
{
	struct stat st;
	ASSERT_EQ(stat(binary(), &st), 0);
	TAP_DIAG("%s: %lld bytes", binary(), (long long)st.st_size);
	EXPECT_LE(st.st_size, 300 * 1024);
	FILE *f = fopen(binary(), "re");
	ASSERT_TRUE(f != NULL);
	Elf64_Ehdr eh;
	ASSERT_EQ(fread(&eh, sizeof(eh), 1, f), 1);
	ASSERT_EQ(memcmp(eh.e_ident, ELFMAG, SELFMAG), 0);
	bool interp = false, symtab = false;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		fseek(f, (long)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize), SEEK_SET);
		ASSERT_EQ(fread(&ph, sizeof(ph), 1, f), 1);
		interp |= ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC;
	}
	for (int i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		fseek(f, (long)(eh.e_shoff + (Elf64_Off)i * eh.e_shentsize), SEEK_SET);
		ASSERT_EQ(fread(&sh, sizeof(sh), 1, f), 1);
		symtab |= sh.sh_type == SHT_SYMTAB;
	}
	fclose(f);
	EXPECT_FALSE(interp);	/* static */
	EXPECT_FALSE(symtab);	/* stripped */
}

TEST(serves_the_bridge_logs_json_and_exits_on_sigterm)
{
	struct agent a;
	const char *extra[] = { "-disable-time-sync", "-bogus-flag", "--scrub-logs=false", NULL };
	agent_start(&a, "serve", -1, extra);
	static struct peer p;
	memset(&p, 0, sizeof(p));
	p.fd = agent_accept(&a, 3000);
	ASSERT_GE(p.fd, 0);
	struct frame f = { 0 };
	ASSERT_EQ(call(&p, MSG_NEGOTIATE_PROTOCOL, 1, NEGOTIATE, &f), 0);
	EXPECT_STREQ(f.body,
		     "{\"Result\":0,\"ActivityId\":\"" ACT_ID "\",\"Version\":4,\"Capabilities\":"
		     "{\"SupportedSchemaVersions\":[{\"Major\":2,\"Minor\":1}],"
		     "\"RuntimeOsType\":\"Linux\",\"GuestDefinedCapabilities\":"
		     "{\"NamespaceAddRequestSupported\":true,\"SignalProcessSupported\":true,"
		     "\"DumpStacksSupported\":true,\"DeleteContainerStateSupported\":true}}}");
	frame_free(&f);
	ASSERT_EQ(call(&p, MSG_DUMP_STACKS, 2, "{}", &f), 0);
	EXPECT_TRUE(strstr(jstr(f.json, "GuestStacks"), "protocol version 4") != NULL);
	frame_free(&f);
	EXPECT_EQ(call(&p, 0x10100e01, 3, "{}", NULL), HR(HR_NOTIMPL));

	/* Every fd the agent opened is close-on-exec: nothing leaks into
	 * the processes it will start. */
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)a.pid);
	DIR *dp = opendir(dir);
	ASSERT_TRUE(dp != NULL);
	int checked = 0;
	for (struct dirent *de; (de = readdir(dp));) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd <= 2)
			continue;
		char path[384], line[128];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *fi = fopen(path, "re");
		unsigned long flags = 0;
		while (fi && fgets(line, sizeof(line), fi))
			if (sscanf(line, "flags: %lo", &flags) == 1)
				break;
		if (fi)
			fclose(fi);
		EXPECT_TRUE(flags & O_CLOEXEC);
		if (!(flags & O_CLOEXEC))
			TAP_DIAG("fd %d of the agent lacks O_CLOEXEC", fd);
		checked++;
	}
	closedir(dp);
	TAP_DIAG("%d agent fds checked for O_CLOEXEC", checked);
	EXPECT_GE(checked, 4);	/* epoll, signalfd, timerfd, the bridge socket */

	long kb = rss_kb(a.pid);
	TAP_DIAG("RSS after negotiation: %ld kB", kb);
	EXPECT_GT(kb, 0);
	EXPECT_LE(kb, 1024);

	kill(a.pid, SIGTERM);
	int st = agent_wait(&a, 3000);
	EXPECT_TRUE(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	char *log = agent_log(&a);
	int lines = 0, bad = 0;
	char *save, *line = strtok_r(log, "\n", &save);
	bool warned = false, term = false, traced = false;
	for (; line; line = strtok_r(NULL, "\n", &save), lines++) {
		json_error_t e;
		json_t *j = json_loads(line, 0, &e);
		if (!j || !json_is_string(json_object_get(j, "time")) ||
		    !json_is_string(json_object_get(j, "level")) ||
		    !json_is_string(json_object_get(j, "msg"))) {
			bad++;
			TAP_DIAG("bad log line: %s", line);
		}
		const char *msg = j ? jstr(j, "msg") : "";
		warned |= strstr(msg, "ignoring unknown flag -bogus-flag") != NULL &&
			  strcmp(jstr(j, "level"), "warning") == 0;
		term |= strstr(msg, "signal received") != NULL;
		/* -loglevel debug: trace bodies stay out even with scrubbing off. */
		traced |= strcmp(j ? jstr(j, "level") : "", "trace") == 0;
		if (j)
			json_decref(j);
	}
	EXPECT_GT(lines, 3);
	EXPECT_EQ(bad, 0);
	EXPECT_TRUE(warned);
	EXPECT_TRUE(term);
	EXPECT_FALSE(traced);
	close(p.fd);
	agent_cleanup(&a);
}

TEST(survives_a_bad_frame_and_redials_unnegotiated)
{
	struct agent a;
	agent_start(&a, "redial", -1, NULL);
	static struct peer p;
	memset(&p, 0, sizeof(p));
	p.fd = agent_accept(&a, 3000);
	ASSERT_GE(p.fd, 0);
	ASSERT_EQ(call(&p, MSG_NEGOTIATE_PROTOCOL, 1, NEGOTIATE, NULL), 0);
	/* Size 5: the agent drops this connection... */
	uint8_t hdr[16];
	struct bridge_header h = { .type = MSG_DUMP_STACKS, .size = 5, .id = 2 };
	bridge_header_encode(&h, hdr);
	ASSERT_EQ(peer_write_all(NULL, p.fd, hdr, 16), 0);
	ASSERT_TRUE(peer_wait_eof(NULL, &p, 3000));
	close(p.fd);
	/* ...and dials again; the new connection must negotiate. */
	memset(&p, 0, sizeof(p));
	p.fd = agent_accept(&a, 3000);
	ASSERT_GE(p.fd, 0);
	EXPECT_EQ(call(&p, MSG_DUMP_STACKS, 3, "{}", NULL), HR(HR_NOTIMPL));
	EXPECT_EQ(call(&p, MSG_NEGOTIATE_PROTOCOL, 4, NEGOTIATE, NULL), 0);
	EXPECT_EQ(call(&p, MSG_DUMP_STACKS, 5, "{}", NULL), 0);
	/* A plain close: dial again. */
	close(p.fd);
	memset(&p, 0, sizeof(p));
	p.fd = agent_accept(&a, 3000);
	ASSERT_GE(p.fd, 0);
	EXPECT_EQ(call(&p, MSG_NEGOTIATE_PROTOCOL, 6, NEGOTIATE, NULL), 0);
	kill(a.pid, SIGTERM);
	EXPECT_EQ(agent_wait(&a, 3000), 0);
	EXPECT_TRUE(strstr(agent_log(&a), "invalid frame size 5") != NULL);
	close(p.fd);
	agent_cleanup(&a);
}

TEST(graceful_vm_shutdown_replies_then_the_test_build_exits)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct agent a;
	agent_start(&a, "fd", sv[0], NULL);
	close(sv[0]);
	set_nonblock(sv[1]);
	static struct peer p;
	memset(&p, 0, sizeof(p));
	p.fd = sv[1];
	ASSERT_EQ(call(&p, MSG_NEGOTIATE_PROTOCOL, 1, NEGOTIATE, NULL), 0);
	struct frame f = { 0 };
	ASSERT_EQ(call(&p, MSG_SHUTDOWN_GRACEFUL, 2,
		       "{\"ContainerId\":\"" NULL_ID "\",\"ActivityId\":\"" ACT_ID "\"}", &f), 0);
	EXPECT_STREQ(f.body, "{\"Result\":0,\"ActivityId\":\"" ACT_ID "\"}");
	frame_free(&f);
	EXPECT_EQ(agent_wait(&a, 3000), 0);
	EXPECT_TRUE(strstr(agent_log(&a), "exiting instead of powering off") != NULL);
	close(p.fd);
	agent_cleanup(&a);
}

TEST(fd_mode_exits_when_the_peer_closes)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct agent a;
	agent_start(&a, "fd2", sv[0], NULL);
	close(sv[0]);
	static struct peer p;
	memset(&p, 0, sizeof(p));
	p.fd = sv[1];
	set_nonblock(p.fd);
	ASSERT_EQ(call(&p, MSG_NEGOTIATE_PROTOCOL, 1, NEGOTIATE, NULL), 0);
	close(p.fd);
	EXPECT_EQ(agent_wait(&a, 3000), 0);
	agent_cleanup(&a);
}

TAP_MAIN()
