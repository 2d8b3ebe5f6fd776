/* SPDX-License-Identifier: MIT */
/*
 * A small rtnetlink library: what the agent needs to give a container its
 * network adapter, without shelling out to ip(8).
 *
 * Two layers.  The message builders (nlm_*) are pure: they encode one
 * request into a caller's buffer and can be unit tested byte by byte.  The
 * socket layer (nl_*) sends a request, waits for its acknowledgement and
 * turns a kernel error into a negative errno; a socket is bound to the
 * network namespace it was created in (nl_open_in_netns()).
 */
#ifndef GCS_NETWORK_NETLINK_H
#define GCS_NETWORK_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

#include "lcow/error.h"

#define NLM_BUF_SIZE 1024

/* One request under construction. */
struct nlm {
	union {
		struct nlmsghdr hdr;
		uint8_t buf[NLM_BUF_SIZE];
	};
	bool overflow;			/* an attribute did not fit: refuse to send */
};

/* An address of either family: 4 or 16 bytes used. */
struct nl_addr {
	int family;			/* AF_INET, AF_INET6; 0 = none */
	uint8_t bytes[16];
};

/* "10.0.2.15", "fe80::1": 0 or -EINVAL. */
int nl_addr_parse(const char *text, struct nl_addr *out);
size_t nl_addr_len(const struct nl_addr *a);
/* a and b in the same prefix_len network. */
bool nl_addr_same_net(const struct nl_addr *a, const struct nl_addr *b, unsigned prefix_len);

/* Link changes for nlm_link_set(); a field left at its "unset" value is not
 * sent. */
struct nl_link_change {
	const char *name;		/* NULL: keep */
	int mtu;			/* 0: keep */
	int up;				/* 1 up, 0 down, -1 keep */
	int netns_fd;			/* -1: stay */
};
#define NL_LINK_CHANGE_INIT { .name = NULL, .mtu = 0, .up = -1, .netns_fd = -1 }

/* Builders.  Each starts a fresh request with NLM_F_REQUEST | NLM_F_ACK. */
void nlm_link_set(struct nlm *m, uint32_t seq, int ifindex, const struct nl_link_change *c);
void nlm_link_dump(struct nlm *m, uint32_t seq);
void nlm_addr_add(struct nlm *m, uint32_t seq, int ifindex, const struct nl_addr *a,
		  unsigned prefix_len);
/* dst NULL (or family 0) with dst_len 0: a default route.  gw may be NULL
 * (an on-link route).  table 0: the main table. */
void nlm_route_add(struct nlm *m, uint32_t seq, int ifindex, int family, const struct nl_addr *dst,
		   unsigned dst_len, const struct nl_addr *gw, uint32_t metric, uint32_t table);
/* "from src/len lookup table" at priority. */
void nlm_rule_add(struct nlm *m, uint32_t seq, const struct nl_addr *src, unsigned src_len,
		  uint32_t table, uint32_t priority);

/* A link as a dump reports it. */
struct nl_link {
	int ifindex;
	char name[16];
	uint8_t mac[6];
	bool has_mac;
	int mtu;
	unsigned flags;			/* IFF_* */
};
/* Decode one RTM_NEWLINK message: 0, or -EBADMSG when it is not one. */
int nl_parse_link(const struct nlmsghdr *h, struct nl_link *out);

/* The socket layer. */
struct nl {
	int fd;
	uint32_t seq;
};

int nl_open(struct nl *nl, struct error *err);
/* A socket(domain, type, protocol) of the network namespace netns_fd
 * refers to (the caller stays in its own): the fd, or -errno. */
int netns_socket(int netns_fd, int domain, int type, int protocol, struct error *err);
/* A socket in the network namespace netns_fd refers to (the caller stays in
 * its own namespace). */
int nl_open_in_netns(struct nl *nl, int netns_fd, struct error *err);
void nl_close(struct nl *nl);

/* Send m (its seq is set here) and wait for the kernel's answer: 0 or the
 * kernel's -errno (err says what failed, prefixed by the caller). */
int nl_call(struct nl *nl, struct nlm *m, struct error *err);
/* Every link of the socket's namespace: *out is malloc'd. */
int nl_links(struct nl *nl, struct nl_link **out, size_t *n, struct error *err);
int nl_link_by_name(struct nl *nl, const char *name, struct nl_link *out, struct error *err);
int nl_link_by_mac(struct nl *nl, const uint8_t mac[6], struct nl_link *out, struct error *err);

/* "00-15-5D-12-34-56" (Windows) or "00:15:5d:12:34:56": 0 or -EINVAL. */
int nl_mac_parse(const char *text, uint8_t mac[6]);

#endif
