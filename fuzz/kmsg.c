/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the agent's /dev/kmsg record parser
 * (gcs-agent/kmsg/kmsg.c), which reads what the kernel (and anything
 * allowed to write /dev/kmsg) logs.  Input: one record, as one read(2) of
 * the device returns it.
 *
 * Invariants: a parsed record has a priority 0-7, non-empty NUL-terminated
 * flags, and a message inside the record that holds no line break.
 */
#include <string.h>

#define FUZZ_NAME "kmsg"
#include "target.h"
#include "kmsg/kmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan sees any read past the record. */
	char *rec = malloc(size ? size : 1);
	CHECK(rec);
	memcpy(rec, data, size);
	struct kmsg_entry e;
	if (kmsg_parse(rec, size, &e) == 0) {
		CHECK(e.priority < 8);
		CHECK(e.flags[0] && memchr(e.flags, '\0', sizeof(e.flags)));
		CHECK(e.msg >= rec && e.msg + e.msg_len <= rec + size);
		CHECK(!memchr(e.msg, '\n', e.msg_len));
		CHECK(strcmp(kmsg_priority_name(e.priority), "?") != 0);
	}
	free(rec);
	return 0;
}
