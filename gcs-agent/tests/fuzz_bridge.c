/* SPDX-License-Identifier: MIT */
/* libFuzzer target: make gcs-agent-fuzz; out/build/fuzz/gcs-agent/fuzz_bridge [corpus] */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gcs_fuzz_result r;
	gcs_fuzz_input(data, size, &r);
	return 0;
}
