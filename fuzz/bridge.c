/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the GCS bridge.  Bytes go through the frame decoder and
 * the dispatcher into a sink that aborts on any malformed response
 * (gcs-agent/fuzz.c); every request type's JSON parser runs behind it.
 *
 * Input, by its first byte:
 *   even ('R')  raw: the rest is the byte stream as read from the bridge
 *               (headers, sizes and all), so the frame decoder is fuzzed;
 *   odd         structured: the rest is one request per line, "<t><json>",
 *               framed here with the right sizes, so that mutations of the
 *               JSON stay inside valid frames.  t 'a'..'z' is the request of
 *               message Id 1..26 ('a' Create ... 'k' NegotiateProtocol ...
 *               'm' DeleteContainerState, later letters unknown), 'A'..'Z'
 *               the same Ids as responses (wrong direction), anything else
 *               a garbage type.  Bit 1 of the first byte ('S') puts a
 *               NegotiateProtocol first, without it ('Q') none.  At most
 *               RECORDS_MAX lines count.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "protocol/bridge.h"

#define STREAM_MAX (1u << 20)
/* More requests per input only make each run slower (every request costs
 * its JSON twice under ASan), not the search better. */
#define RECORDS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t record_type(uint8_t t)
{
	if (t >= 'a' && t <= 'z')
		return MSG_TYPE_REQUEST | MSG_CATEGORY_COMPUTE_SYSTEM | (uint32_t)(t - 'a' + 1) << 8 | 1;
	if (t >= 'A' && t <= 'Z')
		return MSG_TYPE_RESPONSE | MSG_CATEGORY_COMPUTE_SYSTEM | (uint32_t)(t - 'A' + 1) << 8 | 1;
	return (uint32_t)t * 0x01010101u;
}

static size_t put_frame(uint8_t *out, size_t off, uint32_t type, uint64_t id, const uint8_t *body,
			size_t len)
{
	if (off + BRIDGE_HEADER_SIZE + len > STREAM_MAX)
		return off;
	if (bridge_frame_encode(type, id, body, len, out + off, STREAM_MAX - off) == 0)
		return off + BRIDGE_HEADER_SIZE + len;
	/* Too big for a frame: send the header the host would (the decoder
	 * must drop the connection, not allocate). */
	struct bridge_header h = { .type = type, .size = (uint32_t)(BRIDGE_HEADER_SIZE + len), .id = id };
	bridge_header_encode(&h, out + off);
	return off + BRIDGE_HEADER_SIZE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t stream[STREAM_MAX];
	struct gcs_fuzz_result r;

	if (size == 0)
		return 0;
	if (!(data[0] & 1)) {
		gcs_fuzz_input(data + 1, size - 1, &r);
		return 0;
	}
	size_t n = 0;
	uint64_t id = 1;
	if (data[0] & 2) {
		static const char neg[] = "{\"MaximumVersion\":4,\"MinimumVersion\":4}";
		n = put_frame(stream, n, MSG_NEGOTIATE_PROTOCOL, id++, (const uint8_t *)neg,
			      sizeof(neg) - 1);
	}
	const uint8_t *p = data + 1, *end = data + size;
	for (unsigned k = 0; p < end && k < RECORDS_MAX; k++) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *stop = nl ? nl : end;
		if (stop > p)
			n = put_frame(stream, n, record_type(p[0]), id++, p + 1, (size_t)(stop - p - 1));
		p = stop + 1;
	}
	gcs_fuzz_input(stream, n, &r);
	return 0;
}
