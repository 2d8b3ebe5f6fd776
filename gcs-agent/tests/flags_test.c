/* SPDX-License-Identifier: MIT */
/* The command line hcsshim gives the agent, and what it must survive. */
#include "flags.h"
#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "tap_extra.h"
#include "protocol/bridge.h"

#define PARSE(f, ...)                                                        \
	do {                                                                 \
		char *argv_[] = { "gcs", __VA_ARGS__, NULL };                \
		flags_defaults(f);                                           \
		flags_parse(f, (int)ARRAY_SIZE(argv_) - 1, argv_);           \
	} while (0)

TEST(hcsshim_command_line)
{
	struct gcs_flags f;
	PARSE(&f, "-v4", "-log-format", "json", "-loglevel", "debug", "-disable-time-sync");
	EXPECT_TRUE(f.v4);
	EXPECT_EQ(f.log_format, LOG_FORMAT_JSON);
	EXPECT_EQ(f.log_level, LOG_DEBUG);
	EXPECT_TRUE(f.disable_time_sync);
	EXPECT_EQ(f.n_warnings, 0);
	EXPECT_EQ(f.bridge_fd, -1);
	EXPECT_EQ(f.bridge_port, BRIDGE_PORT);
	EXPECT_EQ(f.bridge_cid, 2);
}

TEST(go_flag_syntax)
{
	struct gcs_flags f;
	PARSE(&f, "--loglevel=warning", "-scrub-logs=false", "-gcs-mem-limit-bytes", "0x100",
	      "-log-format=text");
	EXPECT_EQ(f.log_level, LOG_WARNING);
	EXPECT_FALSE(f.scrub_logs);
	EXPECT_EQ(f.gcs_mem_limit_bytes, 256);
	EXPECT_EQ(f.log_format, LOG_FORMAT_TEXT);
	EXPECT_EQ(f.n_warnings, 0);
}

TEST(defaults_match_hcsshim)
{
	struct gcs_flags f;
	PARSE(&f, "-v4");
	EXPECT_EQ(f.log_level, LOG_DEBUG);
	EXPECT_TRUE(f.scrub_logs);
	EXPECT_EQ(f.root_mem_reserve_bytes, 75u * 1024 * 1024);
	EXPECT_STREQ(f.initial_policy_stance, "allow");
}

TEST(unknown_flags_warn_and_parsing_continues)
{
	struct gcs_flags f;
	PARSE(&f, "-bogus", "-v4", "--also-bogus=3", "-loglevel", "error");
	EXPECT_TRUE(f.v4);
	EXPECT_EQ(f.log_level, LOG_ERROR);
	ASSERT_EQ(f.n_warnings, 2);
	EXPECT_TRUE(strstr(f.warnings[0], "-bogus") != NULL);
	EXPECT_TRUE(strstr(f.warnings[1], "--also-bogus=3") != NULL);
}

TEST(bad_values_keep_defaults)
{
	struct gcs_flags f;
	PARSE(&f, "-loglevel", "loud", "-log-format", "xml", "-v4=maybe", "-gcs-mem-limit-bytes", "-1");
	EXPECT_EQ(f.log_level, LOG_DEBUG);
	EXPECT_EQ(f.log_format, LOG_FORMAT_JSON);
	EXPECT_FALSE(f.v4);
	EXPECT_EQ(f.gcs_mem_limit_bytes, 50u * 1024 * 1024);
	EXPECT_EQ(f.n_warnings, 4);
}

TEST(missing_value_and_extra_arguments)
{
	struct gcs_flags f;
	PARSE(&f, "-v4", "stray", "-loglevel", "error");
	/* Parsing stops at the first non-flag, like Go. */
	EXPECT_EQ(f.log_level, LOG_DEBUG);
	EXPECT_EQ(f.n_warnings, 1);
	PARSE(&f, "-loglevel");
	EXPECT_EQ(f.n_warnings, 1);
	PARSE(&f, "--", "-loglevel", "error");
	EXPECT_EQ(f.log_level, LOG_DEBUG);
}

TEST(hidden_test_flags)
{
	struct gcs_flags f;
	PARSE(&f, "-bridge-fd", "7", "-bridge-unix", "/tmp/s", "-bridge-port=1234");
	EXPECT_EQ(f.bridge_fd, 7);
	EXPECT_STREQ(f.bridge_unix, "/tmp/s");
	EXPECT_EQ(f.bridge_port, 1234);
}

TAP_MAIN()
