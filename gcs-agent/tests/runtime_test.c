/* SPDX-License-Identifier: MIT */
/*
 * The runtime's pure parts: mount options and overlay strings, user and
 * group resolution, cgroup value conversions, OCI spec parsing, command
 * line splitting, path resolution inside a root, and the seccomp compiler
 * (its programs run under the kernel's own filter in a forked child).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "runtime/cgroup.h"
#include "runtime/devcg.h"
#include "runtime/mountopt.h"
#include "runtime/oci.h"
#include "runtime/seccomp.h"
#include "runtime/spawn.h"
#include "runtime/user.h"

/* ---- mount options ---- */

TEST(mount_opts_flags_propagation_and_data)
{
	const char *opts[] = { "nosuid", "ro", "rbind", "rslave", "size=64m", "mode=755", "rw",
			       "noexec" };
	struct mount_opts o;
	ASSERT_EQ(mount_opts_parse(opts, ARRAY_SIZE(opts), &o, NULL), 0);
	EXPECT_EQ(o.flags, MS_NOSUID | MS_NOEXEC);	/* "rw" after "ro" clears it */
	EXPECT_TRUE(o.bind);
	EXPECT_TRUE(o.recursive);
	EXPECT_EQ(o.propagation, MS_SLAVE | MS_REC);
	EXPECT_STREQ(o.data, "size=64m,mode=755");
}

TEST(mount_opts_reject_empty_and_overlong)
{
	const char *empty[] = { "ro", "" };
	struct mount_opts o;
	EXPECT_EQ(mount_opts_parse(empty, 2, &o, NULL), -EINVAL);
	static char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	const char *over[] = { big };
	EXPECT_EQ(mount_opts_parse(over, 1, &o, NULL), -EINVAL);
}

TEST(overlay_options_order_and_readonly)
{
	const char *layers[] = { "/run/layers/top", "/run/layers/base" };
	char *s = NULL;
	ASSERT_EQ(overlay_options(layers, 2, "/run/s/upper", "/run/s/work", &s, NULL), 0);
	EXPECT_STREQ(s, "lowerdir=/run/layers/top:/run/layers/base,upperdir=/run/s/upper,workdir=/run/s/work");
	free(s);
	ASSERT_EQ(overlay_options(layers, 2, NULL, NULL, &s, NULL), 0);
	EXPECT_STREQ(s, "lowerdir=/run/layers/top:/run/layers/base");
	free(s);
}

TEST(overlay_options_reject_bad_paths)
{
	char *s = NULL;
	const char *comma[] = { "/a,b" }, *colon[] = { "/a:b" }, *rel[] = { "a" };
	struct error err = { 0 };
	EXPECT_EQ(overlay_options(comma, 1, NULL, NULL, &s, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "contains") != NULL);
	EXPECT_EQ(overlay_options(colon, 1, NULL, NULL, &s, NULL), -EINVAL);
	EXPECT_EQ(overlay_options(rel, 1, NULL, NULL, &s, NULL), -EINVAL);
	EXPECT_EQ(overlay_options(NULL, 0, NULL, NULL, &s, NULL), -EINVAL);
	const char *one[] = { "/a" };
	EXPECT_EQ(overlay_options(one, 1, "/u", NULL, &s, NULL), -EINVAL);
	/* One page is all mount(2) takes. */
	static char path[200];
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	const char *many[40];
	for (int i = 0; i < 40; i++)
		many[i] = path;
	EXPECT_EQ(overlay_options(many, 40, NULL, NULL, &s, NULL), -E2BIG);
}

/* ---- users ---- */

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "# a comment\n"
			     "app:x:1000:1000:App:/home/app:/bin/sh\n"
			     "nobody:x:65534:65534::/nonexistent:/bin/false\n"
			     "broken line\n";
static const char group[] = "root:x:0:\n"
			    "wheel:x:10:app,root\n"
			    "app:x:1000:\n"
			    "audio:x:29: app\n"
			    "staff:x:50:other\n";

TEST(user_by_name_gets_passwd_ids_home_and_member_groups)
{
	struct user_request req = { .userstr = "app" };
	struct user_result u;
	ASSERT_EQ(user_resolve(passwd, group, &req, &u, NULL), 0);
	EXPECT_EQ(u.uid, 1000);
	EXPECT_EQ(u.gid, 1000);
	EXPECT_STREQ(u.home, "/home/app");
	ASSERT_EQ(u.n_groups, 2);
	EXPECT_EQ(u.groups[0], 10);
	EXPECT_EQ(u.groups[1], 29);
}

TEST(user_name_group_and_numeric_forms)
{
	struct user_result u;
	struct user_request req = { .userstr = "app:staff" };
	ASSERT_EQ(user_resolve(passwd, group, &req, &u, NULL), 0);
	EXPECT_EQ(u.uid, 1000);
	EXPECT_EQ(u.gid, 50);
	EXPECT_EQ(u.n_groups, 0);	/* explicit group: no implicit membership */

	req.userstr = "1000:29";
	ASSERT_EQ(user_resolve(passwd, group, &req, &u, NULL), 0);
	EXPECT_EQ(u.uid, 1000);
	EXPECT_EQ(u.gid, 29);
	EXPECT_STREQ(u.home, "/home/app");

	/* A uid with no entry: gid 0, HOME "/", as hcsshim's guest. */
	req.userstr = "4242";
	ASSERT_EQ(user_resolve(passwd, group, &req, &u, NULL), 0);
	EXPECT_EQ(u.uid, 4242);
	EXPECT_EQ(u.gid, 0);
	EXPECT_STREQ(u.home, "/");

	req.userstr = "1000";
	ASSERT_EQ(user_resolve(passwd, group, &req, &u, NULL), 0);
	EXPECT_EQ(u.gid, 1000);
	EXPECT_EQ(u.n_groups, 2);
}

TEST(user_oci_numbers_and_additional_gids)
{
	uint32_t extra[] = { 7, 8, 7 };
	struct user_request req = { .uid = 1000, .gid = 1000, .additional_gids = extra,
				    .n_additional_gids = 3 };
	struct user_result u;
	ASSERT_EQ(user_resolve(passwd, group, &req, &u, NULL), 0);
	EXPECT_EQ(u.uid, 1000);
	EXPECT_EQ(u.gid, 1000);
	ASSERT_EQ(u.n_groups, 2);	/* deduplicated, no implicit membership */
	EXPECT_EQ(u.groups[0], 7);
	EXPECT_EQ(u.groups[1], 8);
	EXPECT_STREQ(u.home, "/home/app");
}

TEST(user_unknown_names_fail_with_a_message)
{
	struct user_result u;
	struct error err = { 0 };
	struct user_request req = { .userstr = "ghost" };
	EXPECT_EQ(user_resolve(passwd, group, &req, &u, &err), -ENOENT);
	EXPECT_TRUE(strstr(err.msg, "ghost") != NULL);
	req.userstr = "app:ghosts";
	EXPECT_EQ(user_resolve(passwd, group, &req, &u, NULL), -ENOENT);
	req.userstr = "app";
	EXPECT_EQ(user_resolve(NULL, NULL, &req, &u, NULL), -ENOENT);
	req.userstr = "a:b:c";
	EXPECT_EQ(user_resolve(passwd, group, &req, &u, NULL), -EINVAL);
	req.userstr = ":1";
	EXPECT_EQ(user_resolve(passwd, group, &req, &u, NULL), -EINVAL);
	req.userstr = "99999999999";	/* not a uint32: a name, and no such user */
	EXPECT_EQ(user_resolve(passwd, group, &req, &u, NULL), -ENOENT);
}

/* ---- cgroup conversions ---- */

TEST(cgroup_shares_to_weight_follows_runc)
{
	EXPECT_EQ(cgroup_shares_to_weight(0), 0);
	EXPECT_EQ(cgroup_shares_to_weight(2), 1);
	EXPECT_EQ(cgroup_shares_to_weight(1024), 39);
	EXPECT_EQ(cgroup_shares_to_weight(262144), 10000);
	EXPECT_EQ(cgroup_shares_to_weight(1), 1);
	EXPECT_EQ(cgroup_blkio_to_io_weight(10), 1);
	EXPECT_EQ(cgroup_blkio_to_io_weight(1000), 10000);
	EXPECT_EQ(cgroup_blkio_to_io_weight(500), 4950);
}

TEST(cgroup_pods_limit_is_ram_less_the_reserve)
{
	uint64_t limit = 1;
	/* hcsshim's default: 75 MiB kept back. */
	ASSERT_TRUE(cgroup_pods_limit(512ull << 20, 75ull << 20, &limit));
	EXPECT_EQ(limit, 437ull << 20);
	ASSERT_TRUE(cgroup_pods_limit(1, 0, &limit));
	EXPECT_EQ(limit, 1);
	/* A reserve of all the RAM or more: no cap (hcsshim's unsigned
	 * subtraction would wrap to an absurd limit). */
	limit = 7;
	EXPECT_FALSE(cgroup_pods_limit(75ull << 20, 75ull << 20, &limit));
	EXPECT_FALSE(cgroup_pods_limit(64ull << 20, 75ull << 20, &limit));
	EXPECT_EQ(limit, 7);
}

TEST(cgroup_threshold_counts_each_upward_crossing_once)
{
	struct cgroup_threshold t = { .threshold = 50ull << 20 };
	EXPECT_FALSE(cgroup_threshold_crossed(&t, 10ull << 20));
	EXPECT_FALSE(cgroup_threshold_crossed(&t, 50ull << 20)); /* at it: not past */
	EXPECT_TRUE(cgroup_threshold_crossed(&t, (50ull << 20) + 1));
	/* Still above, even growing: the same crossing. */
	EXPECT_FALSE(cgroup_threshold_crossed(&t, 60ull << 20));
	EXPECT_FALSE(cgroup_threshold_crossed(&t, 90ull << 20));
	EXPECT_EQ(t.crossings, 1);
	/* Back down, then up again: a second one. */
	EXPECT_FALSE(cgroup_threshold_crossed(&t, 40ull << 20));
	EXPECT_TRUE(cgroup_threshold_crossed(&t, 70ull << 20));
	EXPECT_EQ(t.crossings, 2);
	/* Threshold 0: the watch is off, nothing ever crosses. */
	struct cgroup_threshold off = { 0 };
	EXPECT_FALSE(cgroup_threshold_crossed(&off, UINT64_MAX));
	EXPECT_EQ(off.crossings, 0);
}

TEST(cgroup_swap_and_cpu_max)
{
	int64_t v;
	EXPECT_EQ(cgroup_swap_to_v2(200, 100, &v, NULL), 0);
	EXPECT_EQ(v, 100);
	EXPECT_EQ(cgroup_swap_to_v2(100, 100, &v, NULL), 0);
	EXPECT_EQ(v, 0);
	EXPECT_EQ(cgroup_swap_to_v2(-1, 100, &v, NULL), 0);
	EXPECT_EQ(v, -1);
	EXPECT_EQ(cgroup_swap_to_v2(0, -1, &v, NULL), 0);
	EXPECT_EQ(v, -1);
	EXPECT_EQ(cgroup_swap_to_v2(50, 100, &v, NULL), -EINVAL);
	EXPECT_EQ(cgroup_swap_to_v2(50, 0, &v, NULL), -EINVAL);
	char buf[64];
	cgroup_cpu_max(true, 50000, 100000, buf, sizeof(buf));
	EXPECT_STREQ(buf, "50000 100000");
	cgroup_cpu_max(false, 0, 0, buf, sizeof(buf));
	EXPECT_STREQ(buf, "max 100000");
	cgroup_cpu_max(true, -1, 20000, buf, sizeof(buf));
	EXPECT_STREQ(buf, "max 20000");
}

/* ---- OCI spec ---- */

static const char spec_json[] =
	"{\"ociVersion\":\"1.1.0\","
	"\"process\":{\"terminal\":true,\"consoleSize\":{\"height\":30,\"width\":100},"
	"\"user\":{\"uid\":1000,\"gid\":1000,\"additionalGids\":[4,5],\"username\":\"app\"},"
	"\"args\":[\"sh\",\"-c\",\"echo hi\"],\"env\":[\"PATH=/bin\",\"A=b\"],\"cwd\":\"/work\","
	"\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_FUTURE\"],"
	"\"effective\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"],\"ambient\":[]},"
	"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":512}],"
	"\"noNewPrivileges\":true,\"oomScoreAdj\":-5},"
	"\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"box\","
	"\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\","
	"\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
	"{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/run/d\",\"options\":[\"rbind\",\"ro\"]}],"
	"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/run/netns/x\"},"
	"{\"type\":\"mount\"}],"
	"\"resources\":{\"memory\":{\"limit\":67108864,\"swap\":134217728},"
	"\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0\"},"
	"\"pids\":{\"limit\":64},\"blockIO\":{\"weight\":500}},"
	"\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"],"
	"\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},\"rootfsPropagation\":\"rprivate\","
	"\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229}],"
	"\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"}}}";

TEST(oci_spec_parses_what_the_runtime_uses)
{
	json_t *doc = json_loads(spec_json, 0, NULL);
	ASSERT_TRUE(doc != NULL);
	struct oci_spec s;
	struct error err = { 0 };
	int r = oci_spec_parse(doc, &s, &err);
	json_decref(doc);
	if (r < 0)
		TAP_DIAG("%s", err.msg);
	ASSERT_EQ(r, 0);
	EXPECT_TRUE(s.has_process);
	EXPECT_EQ(s.process.n_args, 3);
	EXPECT_STREQ(s.process.args[2], "echo hi");
	EXPECT_TRUE(s.process.args[3] == NULL);
	EXPECT_STREQ(s.process.env[1], "A=b");
	EXPECT_STREQ(s.process.cwd, "/work");
	EXPECT_TRUE(s.process.terminal);
	EXPECT_EQ(s.process.console_height, 30);
	EXPECT_EQ(s.process.uid, 1000);
	EXPECT_EQ(s.process.n_additional_gids, 2);
	EXPECT_STREQ(s.process.username, "app");
	EXPECT_TRUE(s.process.has_caps);
	EXPECT_EQ(s.process.caps.bounding, (1ull << 0) | (1ull << 5));	/* unknown name skipped */
	EXPECT_EQ(s.process.caps.effective, 1ull << 5);
	EXPECT_EQ(s.process.n_rlimits, 1);
	EXPECT_EQ(s.process.rlimits[0].soft, 512);
	EXPECT_TRUE(s.process.no_new_privileges);
	EXPECT_EQ(s.process.oom_score_adj, -5);
	EXPECT_STREQ(s.root_path, "rootfs");
	EXPECT_TRUE(s.root_readonly);
	EXPECT_STREQ(s.hostname, "box");
	ASSERT_EQ(s.n_mounts, 2);
	EXPECT_EQ(s.mounts[0].opts.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV);
	EXPECT_TRUE(s.mounts[1].opts.bind && s.mounts[1].opts.recursive);
	EXPECT_EQ(s.mounts[1].opts.flags, MS_RDONLY);
	EXPECT_EQ(s.n_ns, 3);
	EXPECT_TRUE(oci_spec_namespace(&s, CLONE_NEWPID) != NULL);
	EXPECT_STREQ(oci_spec_namespace(&s, CLONE_NEWNET)->path, "/run/netns/x");
	EXPECT_TRUE(oci_spec_namespace(&s, CLONE_NEWUTS) == NULL);
	EXPECT_EQ(s.resources.memory_limit, 67108864);
	EXPECT_EQ(s.resources.memory_swap, 134217728);
	EXPECT_EQ(s.resources.cpu_shares, 512);
	EXPECT_EQ(s.resources.cpu_quota, 50000);
	EXPECT_STREQ(s.resources.cpuset_cpus, "0");
	EXPECT_EQ(s.resources.pids_limit, 64);
	EXPECT_EQ(s.resources.blkio_weight, 500);
	EXPECT_EQ(s.n_masked, 1);
	EXPECT_EQ(s.n_readonly, 1);
	EXPECT_EQ(s.n_sysctl, 1);
	EXPECT_EQ(s.rootfs_propagation, MS_PRIVATE | MS_REC);
	EXPECT_EQ(s.n_devices, 1);
	EXPECT_EQ(s.devices[0].minor, 229);
	EXPECT_TRUE(s.seccomp != NULL);
	oci_spec_free(&s);
}

static int parse_str(const char *text, struct error *err)
{
	json_t *doc = json_loads(text, 0, NULL);
	if (!doc)
		return -999;
	struct oci_spec s;
	int r = oci_spec_parse(doc, &s, err);
	json_decref(doc);
	if (r == 0)
		oci_spec_free(&s);
	return r;
}

TEST(oci_spec_rejects_bad_input)
{
	struct error err = { 0 };
	EXPECT_EQ(parse_str("{\"process\":{\"args\":\"sh\"}}", &err), -EBADMSG);
	EXPECT_EQ(parse_str("{\"process\":{\"cwd\":\"relative\"}}", NULL), -EINVAL);
	EXPECT_EQ(parse_str("{\"mounts\":[{\"destination\":\"rel\"}]}", NULL), -EINVAL);
	EXPECT_EQ(parse_str("{\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}", NULL), -EINVAL);
	EXPECT_EQ(parse_str("{\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}", NULL), -EOPNOTSUPP);
	EXPECT_EQ(parse_str("{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
			    NULL), -EINVAL);
	EXPECT_EQ(parse_str("{\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_NOPE\"}]}}", NULL), -EINVAL);
	EXPECT_EQ(parse_str("{\"process\":{\"oomScoreAdj\":5000}}", NULL), -EINVAL);
	EXPECT_EQ(parse_str("{\"linux\":{\"sysctl\":{\"../x\":\"1\"}}}", NULL), -EINVAL);
	EXPECT_EQ(parse_str("[]", NULL), -EBADMSG);
	EXPECT_EQ(parse_str("{}", NULL), 0);
}

/* ---- command lines and paths ---- */

TEST(command_line_splits_like_shellwords)
{
	char **argv;
	size_t argc;
	ASSERT_EQ(spawn_split_command_line("  sh -c 'echo \"a b\"'  x\\ y \"q\\\"z\"", &argv, &argc, NULL), 0);
	ASSERT_EQ(argc, 5);
	EXPECT_STREQ(argv[0], "sh");
	EXPECT_STREQ(argv[2], "echo \"a b\"");
	EXPECT_STREQ(argv[3], "x y");
	EXPECT_STREQ(argv[4], "q\"z");
	free(argv);
	ASSERT_EQ(spawn_split_command_line("a \"b\\\"c\" d", &argv, &argc, NULL), 0);
	EXPECT_EQ(argc, 3);
	EXPECT_STREQ(argv[1], "b\"c");
	free(argv);
	EXPECT_EQ(spawn_split_command_line("echo 'open", &argv, &argc, NULL), -EINVAL);
	ASSERT_EQ(spawn_split_command_line("   ", &argv, &argc, NULL), 0);
	EXPECT_EQ(argc, 0);
	free(argv);
}

TEST(resolve_in_root_never_leaves_the_root)
{
	char root[] = "/tmp/gcs-root-XXXXXX";
	ASSERT_TRUE(mkdtemp(root) != NULL);
	char p[512], out[512];
	snprintf(p, sizeof(p), "%s/etc", root);
	ASSERT_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/abs", root);
	ASSERT_EQ(symlink("/etc", p), 0);	/* absolute: means <root>/etc */
	snprintf(p, sizeof(p), "%s/up", root);
	ASSERT_EQ(symlink("../../../..", p), 0);
	snprintf(p, sizeof(p), "%s/etc/loop", root);
	ASSERT_EQ(symlink("loop", p), 0);

	ASSERT_EQ(spawn_resolve_in_root(root, "/abs/passwd", out, sizeof(out), NULL), 0);
	snprintf(p, sizeof(p), "%s/etc/passwd", root);
	EXPECT_STREQ(out, p);
	ASSERT_EQ(spawn_resolve_in_root(root, "/up/etc/shadow", out, sizeof(out), NULL), 0);
	snprintf(p, sizeof(p), "%s/etc/shadow", root);
	EXPECT_STREQ(out, p);
	ASSERT_EQ(spawn_resolve_in_root(root, "/../../x/./y/../z", out, sizeof(out), NULL), 0);
	snprintf(p, sizeof(p), "%s/x/z", root);
	EXPECT_STREQ(out, p);
	EXPECT_EQ(spawn_resolve_in_root(root, "/etc/loop/x", out, sizeof(out), NULL), -ELOOP);
	ASSERT_EQ(spawn_resolve_in_root(root, "/", out, sizeof(out), NULL), 0);
	EXPECT_STREQ(out, root);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	EXPECT_EQ(system(cmd), 0);
}

/* ---- seccomp ---- */

static json_t *profile(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fprintf(stdout, "# bad test JSON: %s\n", e.text);
	return j;
}

/* Run the program in a forked child with the kernel's filter and report
 * what each probe returned: bit i set when probe i failed with want[i]. */
static int run_filtered(const struct seccomp_program *p, int (*probe)(int i), const int *want,
			int n)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(p, NULL) < 0)
			_exit(255);
		int bits = 0;
		for (int i = 0; i < n; i++) {
			errno = 0;
			int r = probe(i);
			if ((want[i] == 0 && r >= 0) || (want[i] && r < 0 && errno == want[i]))
				bits |= 1 << i;
		}
		_exit(bits);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 256 + WTERMSIG(st);
}

static int probe_basic(int i)
{
	switch (i) {
	case 0: return (int)syscall(SYS_getpid);
	case 1: return (int)syscall(SYS_mkdir, "/nonexistent-dir/x", 0755);
	case 2: return (int)syscall(SYS_personality, 0xffffffffUL);	/* query: allowed */
	case 3: return (int)syscall(SYS_personality, 0x0008UL);		/* not allowed */
	case 4: return (int)syscall(SYS_getppid);
	case 5: return (int)syscall(SYS_socket, 40 /* AF_VSOCK */, 1, 0);
	}
	return -1;
}

TEST(seccomp_actions_errno_and_arg_conditions_are_enforced)
{
	json_t *j = profile(
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
		"\"syscalls\":["
		"{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":99},"
		"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
		" \"args\":[{\"index\":0,\"value\":4294967295,\"op\":\"SCMP_CMP_EQ\"}]},"
		"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\"},"
		"{\"names\":[\"getppid\",\"not_a_syscall_here\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":7},"
		"{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
		" \"args\":[{\"index\":0,\"value\":40,\"op\":\"SCMP_CMP_EQ\"}]}]}");
	ASSERT_TRUE(j != NULL);
	struct seccomp_program p;
	struct error err = { 0 };
	int r = seccomp_compile(j, ~0ull, "6.1", &p, &err);
	json_decref(j);
	if (r < 0)
		TAP_DIAG("%s", err.msg);
	ASSERT_EQ(r, 0);
	/* personality's fallback is its unconditional ERRNO rule: EPERM. */
	const int want[] = { 0, 99, 0, EPERM, 7, 13 };
	int bits = run_filtered(&p, probe_basic, want, 6);
	seccomp_program_free(&p);
	EXPECT_EQ(bits, 0x3f);
}

static int probe_cmp(int i)
{
	/* dup2(oldfd, newfd) with oldfd 0 exists; compare on newfd. */
	static const long newfd[] = { 5, 10, 11, 12, 0x100000000L + 11, 3 };
	return (int)syscall(SYS_dup3, 0, newfd[i], 0) >= 0 ? 0 : -1;
}

TEST(seccomp_ordered_comparisons_use_all_64_bits)
{
	/* dup3 is denied (EXDEV) when newfd > 10 and newfd <= 11, or when
	 * (newfd & 0xff) == 0x03 ... only GT/LE/MASKED_EQ combine here. */
	json_t *j = profile(
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
		"{\"names\":[\"dup3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18,"
		" \"args\":[{\"index\":1,\"value\":10,\"op\":\"SCMP_CMP_GT\"},"
		"           {\"index\":1,\"value\":11,\"op\":\"SCMP_CMP_LE\"}]},"
		"{\"names\":[\"dup3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18,"
		" \"args\":[{\"index\":1,\"value\":255,\"valueTwo\":3,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}");
	ASSERT_TRUE(j != NULL);
	struct seccomp_program p;
	ASSERT_EQ(seccomp_compile(j, ~0ull, "6.1", &p, NULL), 0);
	json_decref(j);
	/* 5 ok, 10 ok, 11 denied, 12 ok, 2^32+11 not denied (the high
	 * half differs; the kernel then truncates newfd to 11), 3 denied. */
	const int want[] = { 0, 0, 18, 0, 0, 18 };
	int bits = run_filtered(&p, probe_cmp, want, 6);
	seccomp_program_free(&p);
	EXPECT_EQ(bits, 0x3f);
}

static int probe_docker(int i)
{
	switch (i) {
	case 0: return unshare(CLONE_NEWUTS);
	case 1: return (int)syscall(SYS_clone3, NULL, 0);
	case 2: return (int)syscall(SYS_getpid);
	case 3: return (int)syscall(SYS_keyctl, 0, 0, 0, 0, 0);
	case 4: return (int)syscall(SYS_chroot, "/nonexistent");
	}
	return -1;
}

/* moby's profile shape: archMap, includes/excludes on caps. */
static const char docker_like[] =
	"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
	"\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]}],"
	"\"syscalls\":["
	/* exit, write and what a sanitizer runtime needs in the probe child */
	"{\"names\":[\"getpid\",\"exit_group\",\"exit\",\"write\",\"sigaltstack\",\"mmap\","
	"\"munmap\",\"madvise\",\"mprotect\",\"rt_sigaction\",\"rt_sigprocmask\",\"prctl\","
	"\"getrlimit\",\"prlimit64\",\"read\",\"openat\",\"close\",\"fstat\",\"newfstatat\","
	"\"readlink\",\"futex\",\"sched_yield\",\"gettid\",\"tgkill\",\"brk\"],"
	"\"action\":\"SCMP_ACT_ALLOW\"},"
	"{\"names\":[\"unshare\",\"mount\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
	"{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38,\"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
	"{\"names\":[\"chroot\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_CHROOT\"],\"minKernel\":\"4.8\"}},"
	"{\"names\":[\"arch_prctl\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"amd64\",\"x32\"]}},"
	"{\"names\":[\"s390_runtime_instr\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"s390x\"]}}]}";

TEST(seccomp_moby_profile_includes_follow_the_bounding_set)
{
	json_t *j = profile(docker_like);
	ASSERT_TRUE(j != NULL);
	struct seccomp_program p;
	/* docker's default capabilities: CHROOT, no SYS_ADMIN */
	uint64_t caps = 1ull << 18 /* CAP_SYS_CHROOT */;
	ASSERT_EQ(seccomp_compile(j, caps, "6.1", &p, NULL), 0);
	const int want[] = { EPERM, ENOSYS, 0, EPERM, ENOENT };
	int bits = run_filtered(&p, probe_docker, want, 5);
	seccomp_program_free(&p);
	EXPECT_EQ(bits, 0x1f);
	/* With CAP_SYS_ADMIN unshare passes the filter (the test runs as
	 * root in its own process: EPERM only without privileges). */
	ASSERT_EQ(seccomp_compile(j, ~0ull, "6.1", &p, NULL), 0);
	json_decref(j);
	/* clone3 is no longer ENOSYS but the default EPERM. */
	const int want2[] = { geteuid() == 0 ? 0 : EPERM, EPERM };
	bits = run_filtered(&p, probe_docker, want2, 2);
	seccomp_program_free(&p);
	EXPECT_EQ(bits, 0x3);
}

TEST(seccomp_rejects_bad_profiles)
{
	const char *bad[] = {
		"{\"defaultAction\":\"SCMP_ACT_BOGUS\"}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\","
		"\"args\":[{\"index\":7,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\","
		"\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_NOPE\"}]}]}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_AARCH64\"]}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}",
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_NOPE\"]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *j = profile(bad[i]);
		ASSERT_TRUE(j != NULL);
		struct seccomp_program p;
		struct error err = { 0 };
		int r = seccomp_compile(j, ~0ull, "6.1", &p, &err);
		json_decref(j);
		EXPECT_TRUE(r < 0);
		if (r >= 0) {
			TAP_DIAG("profile %zu compiled", i);
			seccomp_program_free(&p);
		}
	}
	EXPECT_EQ(seccomp_syscall_nr("read"), 0);
	EXPECT_EQ(seccomp_syscall_nr("keyctl"), SYS_keyctl);
	EXPECT_EQ(seccomp_syscall_nr("arm_fadvise64_64"), -1);
}

/* Found by fuzz/oci.c: a profile without syscalls once handed qsort() a
 * NULL array (undefined behaviour).  It is just the default action. */
TEST(seccomp_profile_without_syscalls_is_its_default_action)
{
	json_t *j = profile("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38}");
	ASSERT_TRUE(j != NULL);
	struct seccomp_program p;
	struct error err = { 0 };
	int r = seccomp_compile(j, ~0ull, "6.1", &p, &err);
	json_decref(j);
	if (r < 0)
		TAP_DIAG("%s", err.msg);
	ASSERT_EQ(r, 0);
	ASSERT_TRUE(p.len > 0);
	EXPECT_EQ(p.insns[p.len - 1].code, BPF_RET | BPF_K);
	EXPECT_EQ(p.insns[p.len - 1].k, SECCOMP_RET_ERRNO | 38u);
	seccomp_program_free(&p);
}

/* ---- device rules ---- */

TEST(device_rules_compile_to_a_program_the_verifier_accepts)
{
	json_t *rules = json_loads(
		"[{\"allow\":false,\"access\":\"rwm\"},"
		"{\"allow\":true,\"type\":\"c\",\"access\":\"m\"},"
		"{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"},"
		"{\"allow\":true,\"type\":\"c\",\"major\":136,\"access\":\"rw\"}]", 0, NULL);
	ASSERT_TRUE(rules != NULL);
	struct devcg_program p;
	struct error err = { 0 };
	ASSERT_EQ(devcg_compile(rules, &p, &err), 0);
	/* 6 loads, then per rule (last first): 136 rw: type, access (3),
	 * major, return (2) = 7; 1:3 rwm: type, major, minor, return = 5;
	 * c m: type, access, return = 6; deny all: return = 2, which
	 * decides everything left (no default after it). */
	EXPECT_EQ(p.len, 6 + 7 + 5 + 6 + 2);
	/* The last rule is checked first, its allow is the first "r0 = 1". */
	EXPECT_EQ(p.insns[6].code, BPF_JMP | BPF_JNE | BPF_K);
	EXPECT_EQ(p.insns[6].imm, BPF_DEVCG_DEV_CHAR);
	EXPECT_EQ(p.insns[6].off, 6);	/* to the next rule */
	int r = devcg_attach(&p, -1, &err);
	if (r == -EPERM || r == -EACCES)
		TAP_DIAG("not allowed to load BPF here: verifier check skipped");
	else if (r != 0)
		TAP_DIAG("%s", err.msg);
	EXPECT_TRUE(r == 0 || r == -EPERM || r == -EACCES);
	devcg_free(&p);
	json_decref(rules);

	json_t *bad = json_loads("[{\"allow\":true,\"type\":\"x\"}]", 0, NULL);
	EXPECT_EQ(devcg_compile(bad, &p, NULL), -EINVAL);
	json_decref(bad);
	bad = json_loads("[{\"allow\":true,\"access\":\"rwz\"}]", 0, NULL);
	EXPECT_EQ(devcg_compile(bad, &p, NULL), -EINVAL);
	json_decref(bad);
	EXPECT_EQ(devcg_compile(NULL, &p, NULL), 0);
	EXPECT_EQ(p.len, 0);
}

TAP_MAIN()
