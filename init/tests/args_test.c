/* SPDX-License-Identifier: MIT */
/* init's command line: what the host sends, and everything it must survive. */
#include "lcow/tap.h"

#include <errno.h>
#include <stdint.h>

#include "../args.h"
#include "../vsock.h"

/* Parse {"/init", ...}.  The words are copied to a static argv, which
 * outlives the call as the kernel's does (a->argv points into it). */
static char *parse_argv[64];
#define PARSE(a, ...) parse_words((a), (char *[]){ "/init", __VA_ARGS__, NULL })
static void parse_words(struct init_args *a, char **words)
{
	int n = 0;
	for (; words[n] && n < 63; n++)
		parse_argv[n] = words[n];
	parse_argv[n] = NULL;
	init_args_parse(a, n, parse_argv);
}

/* Is some warning containing `needle` there? */
static int has_warning(const struct init_args *a, const char *needle)
{
	for (unsigned i = 0; i < a->n_warnings; i++)
		if (strstr(a->warnings[i], needle))
			return 1;
	return 0;
}

static int argv_len(char **v)
{
	int n = 0;
	while (v[n])
		n++;
	return n;
}

TEST(host_command_line_as_sent_by_hcsshim)
{
	struct init_args a;
	char *v[] = { "/init", "-e", "1", "/bin/vsockexec", "-e", "109", "/bin/gcs", "-v4",
		      "-log-format", "json", "-loglevel", "debug", NULL };

	init_args_parse(&a, 12, v);
	ASSERT_TRUE(a.have_entropy_port);
	ASSERT_EQ(a.entropy_port, 1);
	ASSERT_FALSE(a.debug_shell);
	ASSERT_FALSE(a.writable_etc_var);
	/* The program's own -e 109 is not ours. */
	ASSERT_TRUE(a.argv == &v[3]);
	ASSERT_EQ(argv_len(a.argv), 9);
	ASSERT_STREQ(a.argv[2], "109");
	ASSERT_EQ(a.n_warnings, 0);
}

TEST(no_arguments_runs_gcs_without_arguments)
{
	struct init_args a;
	char *v[] = { "/init", NULL };

	init_args_parse(&a, 1, v);
	ASSERT_STREQ(a.argv[0], "/bin/gcs");
	ASSERT_TRUE(a.argv[1] == NULL);
	ASSERT_FALSE(a.have_entropy_port);
	ASSERT_EQ(a.n_warnings, 0);
}

TEST(options_without_program_run_gcs)
{
	struct init_args a;

	PARSE(&a, "-e", "1", "-w");
	ASSERT_STREQ(a.argv[0], "/bin/gcs");
	ASSERT_TRUE(a.argv[1] == NULL);
	ASSERT_TRUE(a.have_entropy_port);
	ASSERT_TRUE(a.writable_etc_var);
}

TEST(zero_argc_is_survived)
{
	struct init_args a;
	char *v[] = { NULL };

	init_args_parse(&a, 0, v);
	ASSERT_STREQ(a.argv[0], "/bin/gcs");
	init_args_parse(&a, 0, NULL);
	ASSERT_STREQ(a.argv[0], "/bin/gcs");
}

TEST(debug_and_writable_flags)
{
	struct init_args a;

	PARSE(&a, "-d", "-w", "/bin/sh");
	ASSERT_TRUE(a.debug_shell);
	ASSERT_TRUE(a.writable_etc_var);
	ASSERT_STREQ(a.argv[0], "/bin/sh");
	ASSERT_EQ(a.n_warnings, 0);
}

TEST(clustered_flags_and_attached_port)
{
	struct init_args a;

	PARSE(&a, "-dw", "-e42", "/bin/x");
	ASSERT_TRUE(a.debug_shell);
	ASSERT_TRUE(a.writable_etc_var);
	ASSERT_TRUE(a.have_entropy_port);
	ASSERT_EQ(a.entropy_port, 42);

	PARSE(&a, "-de", "7", "/bin/x");
	ASSERT_TRUE(a.debug_shell);
	ASSERT_EQ(a.entropy_port, 7);
	ASSERT_STREQ(a.argv[0], "/bin/x");
}

TEST(hex_port)
{
	struct init_args a;

	PARSE(&a, "-e", "0x40000000", "/bin/x");
	ASSERT_TRUE(a.have_entropy_port);
	ASSERT_EQ(a.entropy_port, 0x40000000);
}

TEST(e_without_port_at_the_end)
{
	struct init_args a;

	PARSE(&a, "-e");
	ASSERT_FALSE(a.have_entropy_port);
	ASSERT_TRUE(has_warning(&a, "missing port"));
	ASSERT_STREQ(a.argv[0], "/bin/gcs");
}

TEST(e_followed_by_program_does_not_eat_it)
{
	struct init_args a;

	PARSE(&a, "-e", "/bin/gcs", "-v4");
	ASSERT_FALSE(a.have_entropy_port);
	ASSERT_TRUE(has_warning(&a, "missing port"));
	ASSERT_STREQ(a.argv[0], "/bin/gcs");
	ASSERT_STREQ(a.argv[1], "-v4");
}

TEST(e_followed_by_option_does_not_eat_it)
{
	struct init_args a;

	PARSE(&a, "-e", "-d", "/bin/x");
	ASSERT_FALSE(a.have_entropy_port);
	ASSERT_TRUE(a.debug_shell);
	ASSERT_STREQ(a.argv[0], "/bin/x");
}

TEST(bad_port_numbers_are_warned_and_ignored)
{
	static const char *const bad[] = { "1x", "99999999999", "4294967296", "4294967295",
					   "0x", "0x1g", "12 " };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct init_args a;
		char *v[] = { "/init", "-e", (char *)bad[i], "/bin/x", NULL };
		init_args_parse(&a, 4, v);
		EXPECT_FALSE(a.have_entropy_port);
		EXPECT_TRUE(has_warning(&a, "bad port"));
		/* The bad word was the port, not the program. */
		EXPECT_TRUE(a.argv == &v[3]);
	}
}

TEST(attached_bad_port)
{
	struct init_args a;

	PARSE(&a, "-eabc", "/bin/x");
	ASSERT_FALSE(a.have_entropy_port);
	ASSERT_TRUE(has_warning(&a, "bad port `abc'"));
	ASSERT_STREQ(a.argv[0], "/bin/x");
}

TEST(non_numeric_port_word_is_a_leftover_not_the_program)
{
	struct init_args a;

	PARSE(&a, "-e", "abc", "/bin/x");
	ASSERT_FALSE(a.have_entropy_port);
	ASSERT_TRUE(has_warning(&a, "missing port"));
	ASSERT_TRUE(has_warning(&a, "`abc'"));
	ASSERT_STREQ(a.argv[0], "/bin/x");
}

TEST(repeated_e_last_valid_wins)
{
	struct init_args a;

	PARSE(&a, "-e", "1", "-e", "2", "/bin/x");
	ASSERT_EQ(a.entropy_port, 2);
	ASSERT_EQ(a.n_warnings, 0);

	PARSE(&a, "-e", "1", "-e", "2x", "/bin/x");
	ASSERT_TRUE(a.have_entropy_port);
	ASSERT_EQ(a.entropy_port, 1);
	ASSERT_TRUE(has_warning(&a, "bad port `2x'"));
}

TEST(repeated_flags_are_idempotent)
{
	struct init_args a;

	PARSE(&a, "-d", "-d", "-w", "-dw", "/bin/x");
	ASSERT_TRUE(a.debug_shell);
	ASSERT_TRUE(a.writable_etc_var);
	ASSERT_EQ(a.n_warnings, 0);
}

TEST(double_dash_ends_options)
{
	struct init_args a;

	PARSE(&a, "-e", "1", "--", "-d", "x");
	ASSERT_FALSE(a.debug_shell);
	ASSERT_STREQ(a.argv[0], "-d");
	ASSERT_STREQ(a.argv[1], "x");

	/* After --, a bare word is the program (PATH search). */
	PARSE(&a, "--", "sh", "-c", "true");
	ASSERT_STREQ(a.argv[0], "sh");
	ASSERT_EQ(argv_len(a.argv), 3);
	ASSERT_EQ(a.n_warnings, 0);
}

TEST(double_dash_at_the_end_runs_gcs)
{
	struct init_args a;

	PARSE(&a, "-d", "--");
	ASSERT_TRUE(a.debug_shell);
	ASSERT_STREQ(a.argv[0], "/bin/gcs");
}

TEST(unknown_options_are_warned_and_ignored)
{
	struct init_args a;

	PARSE(&a, "-x", "-dq", "-e", "3", "/bin/x", "-z");
	ASSERT_TRUE(has_warning(&a, "unknown option -x"));
	ASSERT_TRUE(has_warning(&a, "unknown option -q"));
	ASSERT_TRUE(a.debug_shell);
	ASSERT_EQ(a.entropy_port, 3);
	ASSERT_STREQ(a.argv[0], "/bin/x");
	/* The program's options are not ours. */
	ASSERT_STREQ(a.argv[1], "-z");
	ASSERT_EQ(a.n_warnings, 2);
}

TEST(kernel_leftovers_before_our_options_are_skipped)
{
	struct init_args a;

	/* "splash" is what the kernel passes on for an unknown parameter. */
	PARSE(&a, "splash", "-e", "1", "single", "/bin/vsockexec", "-e", "109", "/bin/gcs");
	ASSERT_TRUE(has_warning(&a, "`splash'"));
	ASSERT_TRUE(has_warning(&a, "`single'"));
	ASSERT_EQ(a.entropy_port, 1);
	ASSERT_STREQ(a.argv[0], "/bin/vsockexec");
	ASSERT_EQ(argv_len(a.argv), 4);

	PARSE(&a, "-", "", "/bin/x");
	ASSERT_EQ(a.n_warnings, 2);
	ASSERT_STREQ(a.argv[0], "/bin/x");
}

TEST(relative_program_path_counts_as_a_path)
{
	struct init_args a;

	PARSE(&a, "./prog", "-d");
	ASSERT_STREQ(a.argv[0], "./prog");
	ASSERT_FALSE(a.debug_shell);
}

TEST(warning_flood_is_bounded)
{
	struct init_args a;
	char *v[40];
	v[0] = "/init";
	for (int i = 1; i < 39; i++)
		v[i] = "-?";
	v[39] = NULL;

	init_args_parse(&a, 39, v);
	ASSERT_EQ(a.n_warnings, INIT_ARGS_MAX_WARNINGS);
	ASSERT_EQ(a.n_dropped, 38 - INIT_ARGS_MAX_WARNINGS);
	ASSERT_STREQ(a.argv[0], "/bin/gcs");
}

TEST(long_bad_port_warning_is_truncated_not_overflowed)
{
	struct init_args a;
	char big[600];
	memset(big, '7', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char *v[] = { "/init", "-e", big, NULL };

	init_args_parse(&a, 3, v);
	ASSERT_EQ(a.n_warnings, 1);
	ASSERT_LT(strlen(a.warnings[0]), INIT_ARGS_WARNING_LEN);
	ASSERT_FALSE(a.have_entropy_port);
}

TEST(vsock_port_parse_accepts_and_rejects)
{
	uint32_t p = 12345;

	ASSERT_EQ(vsock_port_parse("0", &p), 0);
	ASSERT_EQ(p, 0);
	ASSERT_EQ(vsock_port_parse("109", &p), 0);
	ASSERT_EQ(p, 109);
	ASSERT_EQ(vsock_port_parse("0x40000001", &p), 0);
	ASSERT_EQ(p, 0x40000001);
	ASSERT_EQ(vsock_port_parse("0XfFfFfFfE", &p), 0);
	ASSERT_EQ(p, 0xFFFFFFFE);
	ASSERT_EQ(vsock_port_parse("4294967294", &p), 0);
	ASSERT_EQ(p, 4294967294u);
	/* Leading zeros are decimal, not octal. */
	ASSERT_EQ(vsock_port_parse("010", &p), 0);
	ASSERT_EQ(p, 10);

	p = 77;
	EXPECT_EQ(vsock_port_parse("", &p), -EINVAL);
	EXPECT_EQ(vsock_port_parse(NULL, &p), -EINVAL);
	EXPECT_EQ(vsock_port_parse("-1", &p), -EINVAL);
	EXPECT_EQ(vsock_port_parse("+1", &p), -EINVAL);
	EXPECT_EQ(vsock_port_parse(" 1", &p), -EINVAL);
	EXPECT_EQ(vsock_port_parse("1 ", &p), -EINVAL);
	EXPECT_EQ(vsock_port_parse("0x", &p), -EINVAL);
	EXPECT_EQ(vsock_port_parse("12a", &p), -EINVAL);
	EXPECT_EQ(vsock_port_parse("4294967295", &p), -ERANGE);
	EXPECT_EQ(vsock_port_parse("0xFFFFFFFF", &p), -ERANGE);
	EXPECT_EQ(vsock_port_parse("4294967296", &p), -ERANGE);
	EXPECT_EQ(vsock_port_parse("0x100000000", &p), -ERANGE);
	EXPECT_EQ(vsock_port_parse("99999999999999999999999", &p), -ERANGE);
	/* Failures leave the output alone. */
	EXPECT_EQ(p, 77);
}

TAP_MAIN()
