/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the agent's DHCP reply parser
 * (gcs-agent/network/dhcp.c), which reads what anything on the adapter's
 * link broadcasts to port 68.  Input: one UDP payload; the transaction id
 * and MAC the client expects are taken from the input's own header, so
 * mutations get past that check to the options.
 *
 * Invariants: a parsed reply is an OFFER, ACK or NAK; an OFFER or ACK
 * has a usable address, a server id and a contiguous netmask; at most
 * DHCP_MAX_DNS servers; the domain is printable text without blanks.
 */
#include <string.h>

#define FUZZ_NAME "dhcp"
#include "target.h"
#include "network/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *msg = malloc(size ? size : 1);	/* exact size: ASan sees overreads */
	CHECK(msg);
	memcpy(msg, data, size);
	uint32_t xid = 0;
	uint8_t mac[6] = { 0 };
	if (size >= 34) {
		xid = (uint32_t)msg[4] << 24 | (uint32_t)msg[5] << 16 | (uint32_t)msg[6] << 8 | msg[7];
		memcpy(mac, msg + 28, 6);
	}
	struct dhcp_reply r;
	if (dhcp_parse(msg, size, xid, mac, &r) == 0) {
		CHECK(r.type == DHCP_OFFER || r.type == DHCP_ACK || r.type == DHCP_NAK);
		if (r.type != DHCP_NAK) {
			CHECK(r.yiaddr != 0 && r.yiaddr != 0xffffffffu && r.server_id != 0);
			CHECK(dhcp_prefix_len(r.netmask) >= 0);
		}
		CHECK(r.n_dns <= DHCP_MAX_DNS);
		size_t n = strnlen(r.domain, sizeof(r.domain));
		CHECK(n < sizeof(r.domain));
		for (size_t i = 0; i < n; i++)
			CHECK(r.domain[i] > ' ' && r.domain[i] <= '~');
	}
	free(msg);
	return 0;
}
