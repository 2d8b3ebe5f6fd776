/* SPDX-License-Identifier: MIT */
/*
 * A tiny kselftest-style unit test harness that speaks TAP.
 *
 *   #include "lcow/tap.h"
 *   TEST(frame_rejects_short_size) { ASSERT_EQ(decode(...), -EPROTO); }
 *   TAP_MAIN()
 *
 * Each TEST runs in a forked child, so a crash (SIGSEGV, abort, sanitizer
 * report) fails that test only and is reported as such.  A test fails on the
 * first failed ASSERT_* and continues after a failed EXPECT_*.
 * Output: "1..N", then "ok K - name" / "not ok K - name", then the closing
 * line "N passed, N failed" that scripts/run-tests totals up.
 *
 * Define TAP_NO_FORK before including to run tests in-process (for
 * debugging under gdb).
 */
#ifndef LCOW_TAP_H
#define LCOW_TAP_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct tap_test {
	const char *name;
	void (*fn)(int *failed);
	struct tap_test *next;
};

static struct tap_test *tap_head, **tap_tail = &tap_head;
static unsigned tap_count;

static inline void tap_register(struct tap_test *t)
{
	*tap_tail = t;
	tap_tail = &t->next;
	tap_count++;
}

#define TEST(name)                                                           \
	static void tap_fn_##name(int *_tap_failed);                         \
	static struct tap_test tap_t_##name = { #name, tap_fn_##name, NULL }; \
	__attribute__((constructor)) static void tap_reg_##name(void)        \
	{                                                                    \
		tap_register(&tap_t_##name);                                 \
	}                                                                    \
	static void tap_fn_##name(int *_tap_failed __attribute__((unused)))

#define TAP_DIAG(...)                                  \
	do {                                           \
		fprintf(stdout, "# ");                 \
		fprintf(stdout, __VA_ARGS__);          \
		fprintf(stdout, "\n");                 \
		fflush(stdout);                        \
	} while (0)

#define TAP_CHECK_(cond, fatal, ...)                                                 \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stdout, "# %s:%d: check failed: ", __FILE__, __LINE__); \
			fprintf(stdout, __VA_ARGS__);                                \
			fprintf(stdout, "\n");                                       \
			fflush(stdout);                                              \
			*_tap_failed = 1;                                            \
			if (fatal)                                                   \
				return;                                              \
		}                                                                    \
	} while (0)

#define ASSERT_TRUE(c) TAP_CHECK_((c), 1, "%s", #c)
#define EXPECT_TRUE(c) TAP_CHECK_((c), 0, "%s", #c)
#define ASSERT_FALSE(c) TAP_CHECK_(!(c), 1, "!(%s)", #c)
#define EXPECT_FALSE(c) TAP_CHECK_(!(c), 0, "!(%s)", #c)
#define TAP_CMP_(a, op, b, fatal)                                                         \
	do {                                                                              \
		long long _a = (long long)(a), _b = (long long)(b);                       \
		TAP_CHECK_(_a op _b, fatal, "%s %s %s (%lld vs %lld)", #a, #op, #b, _a, _b); \
	} while (0)
#define ASSERT_EQ(a, b) TAP_CMP_(a, ==, b, 1)
#define EXPECT_EQ(a, b) TAP_CMP_(a, ==, b, 0)
#define ASSERT_NE(a, b) TAP_CMP_(a, !=, b, 1)
#define EXPECT_NE(a, b) TAP_CMP_(a, !=, b, 0)
#define ASSERT_LT(a, b) TAP_CMP_(a, <, b, 1)
#define ASSERT_LE(a, b) TAP_CMP_(a, <=, b, 1)
#define ASSERT_GE(a, b) TAP_CMP_(a, >=, b, 1)
#define ASSERT_GT(a, b) TAP_CMP_(a, >, b, 1)
#define EXPECT_GE(a, b) TAP_CMP_(a, >=, b, 0)
#define TAP_STR_(a, b, fatal)                                                               \
	do {                                                                                \
		const char *_a = (a), *_b = (b);                                            \
		TAP_CHECK_(_a && _b && strcmp(_a, _b) == 0, fatal, "%s == %s (\"%s\" vs \"%s\")", \
			   #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");                 \
	} while (0)
#define ASSERT_STREQ(a, b) TAP_STR_(a, b, 1)
#define EXPECT_STREQ(a, b) TAP_STR_(a, b, 0)

static inline int tap_run_one(struct tap_test *t)
{
	int failed = 0;
#ifdef TAP_NO_FORK
	t->fn(&failed);
	return failed;
#else
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		t->fn(&failed);
		fflush(stdout);
		_exit(failed ? 1 : 0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFSIGNALED(status)) {
		printf("# %s: killed by signal %d (%s)\n", t->name, WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
		return 1;
	}
	return WEXITSTATUS(status) != 0;
#endif
}

static inline int tap_main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0, n = 0;
	const char *only = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	unsigned total = 0;
	for (struct tap_test *t = tap_head; t; t = t->next)
		if (!only || strcmp(only, t->name) == 0)
			total++;
	printf("1..%u\n", total);
	for (struct tap_test *t = tap_head; t; t = t->next) {
		if (only && strcmp(only, t->name) != 0)
			continue;
		n++;
		if (tap_run_one(t)) {
			failed++;
			printf("not ok %u - %s\n", n, t->name);
		} else {
			passed++;
			printf("ok %u - %s\n", n, t->name);
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define TAP_MAIN()                               \
	int main(int argc, char **argv)          \
	{                                        \
		return tap_main(argc, argv);     \
	}

#endif
