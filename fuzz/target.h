/* SPDX-License-Identifier: MIT */
/*
 * What the libFuzzer targets share.  A target defines FUZZ_NAME (its name,
 * a string) before including this.
 */
#ifndef LCOW_FUZZ_TARGET_H
#define LCOW_FUZZ_TARGET_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef FUZZ_NAME
#error "define FUZZ_NAME before including target.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: abort() makes libFuzzer keep the
 * input. */
#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz " FUZZ_NAME ": invariant failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                             \
			abort();                                                        \
		}                                                                       \
	} while (0)

static inline void fuzz_on_sigpipe(int sig)
{
	(void)sig;
	static const char msg[] =
		"fuzz " FUZZ_NAME ": SIGPIPE: a socket write without MSG_NOSIGNAL\n";
	if (write(2, msg, sizeof(msg) - 1) < 0)
		abort();
	abort();
}

/* For code that sends with MSG_NOSIGNAL everywhere: a SIGPIPE is a
 * finding, and abort() makes libFuzzer keep the input. */
static inline void fuzz_abort_on_sigpipe(void)
{
	signal(SIGPIPE, fuzz_on_sigpipe);
}

#endif
