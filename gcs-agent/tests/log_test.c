/* SPDX-License-Identifier: MIT */
/* The JSON log lines the host parses as logrus entries. */
#include <jansson.h>
#include <regex.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "tap_extra.h"
#include "log.h"

static const struct timespec when = { .tv_sec = 1700000000, .tv_nsec = 123456789 };

static json_t *parse_line(const char *line, size_t len)
{
	json_error_t e;
	/* One object, then exactly one newline. */
	if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		return NULL;
	return json_loadb(line, len - 1, 0, &e);
}

TEST(line_has_time_level_msg_and_fields)
{
	char buf[1024];
	struct log_field f[] = { LOG_STR("cid", "c1"), LOG_U64("n", 42), LOG_BOOL("ok", true),
				 LOG_I64("neg", -5), LOG_HEX("type", 0x10100b01) };
	size_t n = log_format_line(buf, sizeof(buf), LOG_FORMAT_JSON, &when, LOG_WARNING, "hello", f,
				   ARRAY_SIZE(f));
	json_t *j = parse_line(buf, n);
	ASSERT_TRUE(j != NULL);
	EXPECT_STREQ(json_string_value(json_object_get(j, "time")), "2023-11-14T22:13:20.123456789Z");
	EXPECT_STREQ(json_string_value(json_object_get(j, "level")), "warning");
	EXPECT_STREQ(json_string_value(json_object_get(j, "msg")), "hello");
	EXPECT_STREQ(json_string_value(json_object_get(j, "cid")), "c1");
	EXPECT_EQ(json_integer_value(json_object_get(j, "n")), 42);
	EXPECT_TRUE(json_is_true(json_object_get(j, "ok")));
	EXPECT_EQ(json_integer_value(json_object_get(j, "neg")), -5);
	EXPECT_STREQ(json_string_value(json_object_get(j, "type")), "0x10100b01");
	/* The first key is time, as in the documented shape. */
	EXPECT_EQ(strncmp(buf, "{\"time\":", 8), 0);
	json_decref(j);
}

TEST(hostile_strings_stay_valid_json)
{
	char buf[512];
	const char *nasty = "q\"b\\s\n\t\x01\x7f inv\xff\xfe utf8 \xc3\xa9 trunc\xe2\x82";
	struct log_field f[] = { LOG_STR("v", nasty) };
	size_t n = log_format_line(buf, sizeof(buf), LOG_FORMAT_JSON, &when, LOG_INFO, nasty, f, 1);
	json_t *j = parse_line(buf, n);
	ASSERT_TRUE(j != NULL);
	const char *m = json_string_value(json_object_get(j, "msg"));
	ASSERT_TRUE(m != NULL);
	EXPECT_TRUE(strstr(m, "q\"b\\s\n\t\x01\x7f") != NULL);
	EXPECT_TRUE(strstr(m, "\xc3\xa9") != NULL);	/* valid UTF-8 kept */
	EXPECT_TRUE(strstr(m, "\xef\xbf\xbd") != NULL);	/* invalid -> U+FFFD */
	json_decref(j);
}

TEST(overlong_lines_are_cut_but_valid)
{
	static char big[10000];
	memset(big, 'x', sizeof(big) - 1);
	for (size_t i = 0; i < sizeof(big) - 1; i += 7)
		big[i] = '"';	/* escapes straddle the cut */
	char buf[700];
	struct log_field f[] = { LOG_STR("a", "short"), LOG_STR("b", big), LOG_U64("c", 1) };
	for (size_t size = 64; size <= sizeof(buf); size += 37) {
		size_t n = log_format_line(buf, size, LOG_FORMAT_JSON, &when, LOG_ERROR, "m", f, 3);
		ASSERT_LT(n, size);
		json_t *j = parse_line(buf, n);
		ASSERT_TRUE(j != NULL);
		EXPECT_STREQ(json_string_value(json_object_get(j, "level")), "error");
		json_decref(j);
		/* And a message too long for the line. */
		n = log_format_line(buf, size, LOG_FORMAT_JSON, &when, LOG_ERROR, big, f, 3);
		j = parse_line(buf, n);
		ASSERT_TRUE(j != NULL);
		json_decref(j);
	}
}

TEST(text_format_is_logrus_like)
{
	char buf[256];
	struct log_field f[] = { LOG_STR("k", "v w") };
	log_format_line(buf, sizeof(buf), LOG_FORMAT_TEXT, &when, LOG_INFO, "hi", f, 1);
	EXPECT_STREQ(buf, "time=\"2023-11-14T22:13:20.123456789Z\" level=info msg=\"hi\" k=\"v w\"\n");
}

TEST(levels_filter_and_parse)
{
	enum log_level l;
	EXPECT_EQ(log_parse_level("debug", &l), 0);
	EXPECT_EQ(l, LOG_DEBUG);
	EXPECT_EQ(log_parse_level("warn", &l), 0);
	EXPECT_EQ(l, LOG_WARNING);
	EXPECT_EQ(log_parse_level("WARNING", &l), 0);
	EXPECT_EQ(log_parse_level("trace", &l), 0);
	EXPECT_EQ(l, LOG_TRACE);
	EXPECT_EQ(log_parse_level("fatal", &l), 0);
	EXPECT_EQ(l, LOG_ERROR);
	EXPECT_TRUE(log_parse_level("verbose", &l) < 0);

	int fd = memfd_create("log", MFD_CLOEXEC);
	ASSERT_GE(fd, 0);
	log_setup(fd, LOG_INFO, LOG_FORMAT_JSON);
	log_debug("hidden");
	log_info("shown", LOG_STR("k", "v"));
	log_error("also shown");
	char buf[1024] = { 0 };
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	ASSERT_GT(n, 0);
	EXPECT_TRUE(strstr(buf, "hidden") == NULL);
	EXPECT_TRUE(strstr(buf, "\"msg\":\"shown\",\"uptime_ns\":") != NULL);
	EXPECT_TRUE(strstr(buf, ",\"k\":\"v\"}") != NULL);
	EXPECT_TRUE(strstr(buf, "\"level\":\"error\"") != NULL);
	/* Each line is one object. */
	char *save, *line = strtok_r(buf, "\n", &save);
	int lines = 0;
	for (; line; line = strtok_r(NULL, "\n", &save), lines++) {
		json_error_t e;
		json_t *j = json_loads(line, 0, &e);
		EXPECT_TRUE(j != NULL);
		json_decref(j);
	}
	EXPECT_EQ(lines, 2);
	close(fd);
}

/* Every emitted line carries the guest's CLOCK_BOOTTIME in ns as the first
 * field after msg (boot milestones are read off it under QEMU -icount). */
TEST(every_line_has_uptime_ns)
{
	int fd = memfd_create("log", MFD_CLOEXEC);
	ASSERT_GE(fd, 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_BOOTTIME, &t0);
	log_setup(fd, LOG_INFO, LOG_FORMAT_JSON);
	log_info("no fields");
	log_info("fields", LOG_STR("k", "v"), LOG_U64("n", 1));
	log_setup(fd, LOG_INFO, LOG_FORMAT_TEXT);
	log_info("text");
	clock_gettime(CLOCK_BOOTTIME, &t1);
	int64_t lo = (int64_t)t0.tv_sec * 1000000000 + t0.tv_nsec;
	int64_t hi = (int64_t)t1.tv_sec * 1000000000 + t1.tv_nsec;
	char buf[2048] = { 0 };
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	ASSERT_GT(n, 0);
	char *save, *line = strtok_r(buf, "\n", &save);
	int64_t prev = 0;
	for (int i = 0; i < 2; i++, line = strtok_r(NULL, "\n", &save)) {
		ASSERT_TRUE(line != NULL);
		json_error_t e;
		json_t *j = json_loads(line, 0, &e);
		ASSERT_TRUE(j != NULL);
		json_t *u = json_object_get(j, "uptime_ns");
		ASSERT_TRUE(json_is_integer(u));
		int64_t v = json_integer_value(u);
		EXPECT_GE(v, lo);
		EXPECT_LE(v, hi);
		EXPECT_GE(v, prev);
		prev = v;
		EXPECT_TRUE(strstr(line, "\",\"uptime_ns\":") != NULL);
		json_decref(j);
	}
	ASSERT_TRUE(line != NULL);
	EXPECT_TRUE(strstr(line, "msg=\"text\" uptime_ns=") != NULL);
	close(fd);
	log_setup(2, LOG_INFO, LOG_FORMAT_JSON);
}

TEST(full_socket_drops_lines_instead_of_blocking)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	log_setup(sv[0], LOG_INFO, LOG_FORMAT_JSON);
	/* Nobody reads sv[1]: this would hang if logging blocked. */
	for (int i = 0; i < 5000; i++)
		log_info("filling the log socket", LOG_I64("i", i));
	EXPECT_GT(log_dropped(), 0);
	/* What did get through is whole lines. */
	static char buf[1 << 20];
	ssize_t n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ASSERT_GT(n, 0);
	EXPECT_EQ(buf[n - 1], '\n');
	/* The next line that fits says how many were lost. */
	log_info("after");
	n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ASSERT_GT(n, 0);
	buf[n] = '\0';
	EXPECT_TRUE(strstr(buf, "log_lines_dropped") != NULL);
	close(sv[0]);
	close(sv[1]);
}

TAP_MAIN()
