/* SPDX-License-Identifier: MIT */
/*
 * A fuzz-friendly entry point: bytes as if read from the bridge, through
 * the frame decoder and the dispatcher, answered into a sink that checks
 * every response is a well-formed frame with a JSON body carrying Result.
 * No fds, no loop, nothing left behind: one call per input.
 *
 * Used by the unit tests and by the libFuzzer target (make gcs-agent-fuzz).
 */
#ifndef GCS_FUZZ_H
#define GCS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct gcs_fuzz_result {
	unsigned frames;	/* frames dispatched */
	unsigned responses;	/* frames the agent sent back */
	unsigned poweroffs;	/* power-off hook calls */
	int dropped;		/* the input would have dropped the connection */
};

/* Returns 0, or aborts on a broken invariant (that is the finding). */
int gcs_fuzz_input(const uint8_t *data, size_t size, struct gcs_fuzz_result *res);

#endif
