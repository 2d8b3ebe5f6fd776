/* SPDX-License-Identifier: MIT */
/*
 * DHCPv4 for an adapter the host sends without an IP configuration.
 * hcsshim's guest runs `udhcpc -q -i IF -s /sbin/udhcpc_config.script` in
 * the container's network namespace with a 30 s limit, fails the request
 * when no lease comes, and never renews (udhcpc -q quits once bound); this
 * does the same exchange on the agent's loop.
 *
 * Without AF_PACKET: the kernel has no packet sockets (they are attack
 * surface, and nothing else needs them).  A UDP socket bound to port 68 on
 * the interface sends from 0.0.0.0 to 255.255.255.255, and every request
 * sets the BROADCAST flag, so the server broadcasts its answers (RFC 2131
 * 4.1) and the interface, still without an address, takes them.
 *
 * Two layers, as netlink.h: the message codec (dhcp_build, dhcp_parse) is
 * pure and unit tested byte by byte; the client (dhcp_start) owns a socket
 * and a timer on the loop and reports once.
 */
#ifndef GCS_NETWORK_DHCP_H
#define GCS_NETWORK_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"
#include "loop.h"

/* Message types (option 53). */
enum {
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
};

#define DHCP_MAX_DNS 4
/* BOOTP's fixed part, the magic cookie and room for options. */
#define DHCP_MSG_MAX 576
/* The smallest interface MTU option 26 may carry (RFC 2132, 5.1). */
#define DHCP_MIN_MTU 68

/* What a server's OFFER or ACK says (addresses in network byte order). */
struct dhcp_reply {
	int type;			/* DHCP_OFFER, DHCP_ACK, DHCP_NAK */
	uint32_t yiaddr;		/* the address offered */
	uint32_t server_id;		/* option 54 */
	uint32_t netmask;		/* option 1; 0: none */
	uint32_t router;		/* option 3, the first; 0: none */
	uint32_t dns[DHCP_MAX_DNS];	/* option 6 */
	size_t n_dns;
	uint32_t lease_s;		/* option 51; 0: none */
	uint16_t mtu;			/* option 26; 0: none */
	char domain[256];		/* option 15; "": none */
};

/* A DISCOVER (requested_ip and server_id 0) or a REQUEST (both set, as in
 * the SELECTING state) from mac with transaction id xid, into buf
 * (DHCP_MSG_MAX bytes).  Returns its length. */
size_t dhcp_build(uint8_t *buf, int type, uint32_t xid, const uint8_t mac[6],
		  uint32_t requested_ip, uint32_t server_id);

/* A server's message: 0 and *out, or -EINVAL when it is not a well-formed
 * BOOTREPLY with the magic cookie for (xid, mac), or -ENOMSG when it is
 * one but of a type this client does not take. */
int dhcp_parse(const uint8_t *buf, size_t len, uint32_t xid, const uint8_t mac[6],
	       struct dhcp_reply *out);

/* The prefix length of a contiguous netmask; -1 when it is not one. */
int dhcp_prefix_len(uint32_t netmask_be);

/* The client. */
#define DHCP_TIMEOUT_MS 30000		/* hcsshim's udhcpc limit */

struct dhcp_client;
/* r == 0: *lease is the ACK (bound); r < 0: no lease, err says why. */
typedef void (*dhcp_done_fn)(void *arg, int r, const struct dhcp_reply *lease,
			     const struct error *err);

/* Run DISCOVER -> OFFER -> REQUEST -> ACK on ifname (with mac) inside the
 * network namespace netns_fd, retransmitting at 1, 2, 4, 4... s, for up to
 * timeout_ms; fn runs once from the loop unless dhcp_stop() comes first,
 * and may itself dhcp_stop() the finished client. */
int dhcp_start(struct loop *loop, int netns_fd, const char *ifname, const uint8_t mac[6],
	       unsigned timeout_ms, dhcp_done_fn fn, void *arg, struct dhcp_client **out,
	       struct error *err);
void dhcp_stop(struct dhcp_client *c);

#endif
