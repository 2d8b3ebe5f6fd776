/* SPDX-License-Identifier: MIT */
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "lcow/cleanup.h"

int nl_addr_parse(const char *text, struct nl_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return -EINVAL;
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

size_t nl_addr_len(const struct nl_addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
}

bool nl_addr_same_net(const struct nl_addr *a, const struct nl_addr *b, unsigned prefix_len)
{
	if (a->family != b->family || prefix_len > nl_addr_len(a) * 8)
		return false;
	unsigned full = prefix_len / 8, rest = prefix_len % 8;
	if (memcmp(a->bytes, b->bytes, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a->bytes[full] & mask) == (b->bytes[full] & mask);
}

int nl_mac_parse(const char *text, uint8_t mac[6])
{
	if (!text || strlen(text) != 17)
		return -EINVAL;
	char sep = text[2];
	if (sep != '-' && sep != ':')
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = text + i * 3;
		if (i < 5 && p[2] != sep)
			return -EINVAL;
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = p[k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		mac[i] = (uint8_t)v;
	}
	return 0;
}

/* ---- message building ---- */

static void *nlm_tail(struct nlm *m)
{
	return m->buf + NLMSG_ALIGN(m->hdr.nlmsg_len);
}

static void nlm_start(struct nlm *m, uint16_t type, uint16_t flags, uint32_t seq, const void *body,
		      size_t body_len)
{
	memset(m, 0, sizeof(*m));
	m->hdr.nlmsg_len = (uint32_t)NLMSG_LENGTH(body_len);
	m->hdr.nlmsg_type = type;
	m->hdr.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	m->hdr.nlmsg_seq = seq;
	memcpy(NLMSG_DATA(&m->hdr), body, body_len);
}

static void nlm_put(struct nlm *m, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(m->hdr.nlmsg_len);
	size_t alen = RTA_LENGTH(len);
	if (off + RTA_ALIGN(alen) > sizeof(m->buf)) {
		m->overflow = true;
		return;
	}
	struct rtattr *rta = nlm_tail(m);
	rta->rta_type = type;
	rta->rta_len = (unsigned short)alen;
	memcpy(RTA_DATA(rta), data, len);
	m->hdr.nlmsg_len = (uint32_t)(off + RTA_ALIGN(alen));
}

static void nlm_put_u32(struct nlm *m, uint16_t type, uint32_t v)
{
	nlm_put(m, type, &v, sizeof(v));
}

void nlm_link_set(struct nlm *m, uint32_t seq, int ifindex, const struct nl_link_change *c)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	if (c->up >= 0) {
		ifi.ifi_change = IFF_UP;
		ifi.ifi_flags = c->up ? IFF_UP : 0;
	}
	nlm_start(m, RTM_NEWLINK, NLM_F_ACK, seq, &ifi, sizeof(ifi));
	if (c->name)
		nlm_put(m, IFLA_IFNAME, c->name, strlen(c->name) + 1);
	if (c->mtu > 0)
		nlm_put_u32(m, IFLA_MTU, (uint32_t)c->mtu);
	if (c->netns_fd >= 0)
		nlm_put_u32(m, IFLA_NET_NS_FD, (uint32_t)c->netns_fd);
}

void nlm_link_dump(struct nlm *m, uint32_t seq)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	nlm_start(m, RTM_GETLINK, NLM_F_DUMP, seq, &ifi, sizeof(ifi));
}

void nlm_addr_add(struct nlm *m, uint32_t seq, int ifindex, const struct nl_addr *a,
		  unsigned prefix_len)
{
	struct ifaddrmsg ifa = {
		.ifa_family = (uint8_t)a->family,
		.ifa_prefixlen = (uint8_t)prefix_len,
		.ifa_scope = RT_SCOPE_UNIVERSE,
		.ifa_index = (uint32_t)ifindex,
	};
	/* The kernel wants host scope for 127/8, as ip(8) gives it. */
	if (a->family == AF_INET && a->bytes[0] == 127)
		ifa.ifa_scope = RT_SCOPE_HOST;
	nlm_start(m, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, &ifa, sizeof(ifa));
	nlm_put(m, IFA_LOCAL, a->bytes, nl_addr_len(a));
	nlm_put(m, IFA_ADDRESS, a->bytes, nl_addr_len(a));
	if (a->family == AF_INET && prefix_len < 31) {
		/* ip(8) adds the broadcast address too; the kernel does not. */
		struct nl_addr brd = *a;
		for (unsigned bit = prefix_len; bit < 32; bit++)
			brd.bytes[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		nlm_put(m, IFA_BROADCAST, brd.bytes, 4);
	}
}

void nlm_route_add(struct nlm *m, uint32_t seq, int ifindex, int family, const struct nl_addr *dst,
		   unsigned dst_len, const struct nl_addr *gw, uint32_t metric, uint32_t table)
{
	struct rtmsg rtm = {
		.rtm_family = (uint8_t)family,
		.rtm_dst_len = (uint8_t)dst_len,
		.rtm_table = table < 256 ? (uint8_t)(table ? table : RT_TABLE_MAIN) : RT_TABLE_UNSPEC,
		.rtm_protocol = RTPROT_STATIC,
		.rtm_scope = gw && gw->family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
		.rtm_type = RTN_UNICAST,
	};
	nlm_start(m, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, &rtm, sizeof(rtm));
	if (table >= 256)
		nlm_put_u32(m, RTA_TABLE, table);
	if (dst && dst->family && dst_len)
		nlm_put(m, RTA_DST, dst->bytes, nl_addr_len(dst));
	if (gw && gw->family)
		nlm_put(m, RTA_GATEWAY, gw->bytes, nl_addr_len(gw));
	nlm_put_u32(m, RTA_OIF, (uint32_t)ifindex);
	if (metric)
		nlm_put_u32(m, RTA_PRIORITY, metric);
}

void nlm_rule_add(struct nlm *m, uint32_t seq, const struct nl_addr *src, unsigned src_len,
		  uint32_t table, uint32_t priority)
{
	struct fib_rule_hdr frh = {
		.family = (uint8_t)src->family,
		.src_len = (uint8_t)src_len,
		.table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC,
		.action = FR_ACT_TO_TBL,
	};
	nlm_start(m, RTM_NEWRULE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, &frh, sizeof(frh));
	nlm_put(m, FRA_SRC, src->bytes, nl_addr_len(src));
	nlm_put_u32(m, FRA_TABLE, table);
	nlm_put_u32(m, FRA_PRIORITY, priority);
}

int nl_parse_link(const struct nlmsghdr *h, struct nl_link *out)
{
	memset(out, 0, sizeof(*out));
	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return -EBADMSG;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	out->ifindex = ifi->ifi_index;
	out->flags = ifi->ifi_flags;
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));
	for (const struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		size_t plen = RTA_PAYLOAD(rta);
		switch (rta->rta_type) {
		case IFLA_IFNAME:
			if (plen == 0 || plen > sizeof(out->name))
				return -EBADMSG;
			memcpy(out->name, RTA_DATA(rta), plen);
			out->name[sizeof(out->name) - 1] = '\0';
			break;
		case IFLA_ADDRESS:
			if (plen == 6) {
				memcpy(out->mac, RTA_DATA(rta), 6);
				out->has_mac = true;
			}
			break;
		case IFLA_MTU:
			if (plen == 4)
				memcpy(&out->mtu, RTA_DATA(rta), 4);
			break;
		}
	}
	return out->name[0] ? 0 : -EBADMSG;
}

/* ---- the socket ---- */

int netns_socket(int netns_fd, int domain, int type, int protocol, struct error *err)
{
	/* The agent is single-threaded: a moment in the other namespace
	 * only to create the socket, which stays bound to it. */
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return error_set(err, errno, "open /proc/self/ns/net");
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return error_set(err, errno, "enter the network namespace");
	int fd = socket(domain, type, protocol);
	int e = errno;
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Not back home: everything after this would be wrong. */
		abort();
	}
	return fd < 0 ? error_set(err, e, "socket in the network namespace") : fd;
}

/* fd: a new NETLINK_ROUTE socket (or < 0: its error, already set). */
static int nl_init(struct nl *nl, int fd, struct error *err)
{
	nl->seq = 1;
	nl->fd = fd;
	if (fd < 0)
		return fd;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1;
	/* Extended acks carry the kernel's own message ("Invalid prefix"...). */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		nl_close(nl);
		return error_set(err, e, "bind netlink socket");
	}
	return 0;
}

int nl_open(struct nl *nl, struct error *err)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	return nl_init(nl, fd < 0 ? error_set(err, errno, "netlink socket") : fd, err);
}

int nl_open_in_netns(struct nl *nl, int netns_fd, struct error *err)
{
	return nl_init(nl, netns_socket(netns_fd, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE, err),
		       err);
}

void nl_close(struct nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

static const char *ext_ack_msg(const struct nlmsghdr *h)
{
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = NLMSG_LENGTH(sizeof(*e));
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	off = NLMSG_ALIGN(off);
	int len = (int)h->nlmsg_len - (int)off;
	for (const struct rtattr *rta = (const void *)((const uint8_t *)h + off); len > 0 && RTA_OK(rta, len);
	     rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(rta) > 0) {
			const char *s = RTA_DATA(rta);
			if (s[RTA_PAYLOAD(rta) - 1] == '\0')
				return s;
		}
	}
	return NULL;
}

static int nl_send(struct nl *nl, struct nlm *m, struct error *err)
{
	if (m->overflow)
		return error_setx(err, EMSGSIZE, "netlink request too large");
	m->hdr.nlmsg_seq = ++nl->seq;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n = sendto(nl->fd, m->buf, m->hdr.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa));
	if (n < 0)
		return error_set(err, errno, "netlink send");
	if ((size_t)n != m->hdr.nlmsg_len)
		return error_setx(err, EIO, "netlink send: short write");
	return 0;
}

/* Receive until the answer to seq is complete; each RTM_* message of a
 * dump goes to fn. */
static int nl_recv(struct nl *nl, uint32_t seq, int (*fn)(const struct nlmsghdr *, void *),
		   void *arg, struct error *err)
{
	_cleanup_free_ uint8_t *buf = malloc(32768);
	if (!buf)
		return error_set(err, ENOMEM, "netlink buffer");
	for (;;) {
		struct sockaddr_nl sa;
		socklen_t salen = sizeof(sa);
		ssize_t n = recvfrom(nl->fd, buf, 32768, 0, (struct sockaddr *)&sa, &salen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, errno, "netlink receive");
		}
		if (sa.nl_pid != 0)
			continue;	/* not the kernel */
		int len = (int)n;
		for (const struct nlmsghdr *h = (const void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return error_setx(err, EBADMSG, "netlink: short error message");
				if (e->error == 0)
					return 0;
				const char *msg = ext_ack_msg(h);
				if (msg)
					return error_setx(err, -e->error, "%s (%s)", strerror(-e->error), msg);
				return error_set(err, -e->error, "netlink");
			}
			if (fn) {
				int r = fn(h, arg);
				if (r < 0)
					return error_set(err, -r, "netlink message");
			}
			if (!(h->nlmsg_flags & NLM_F_MULTI))
				return 0;
		}
	}
}

int nl_call(struct nl *nl, struct nlm *m, struct error *err)
{
	int r = nl_send(nl, m, err);
	if (r < 0)
		return r;
	return nl_recv(nl, m->hdr.nlmsg_seq, NULL, NULL, err);
}

struct link_list {
	struct nl_link *v;
	size_t n, cap;
};

static int collect_link(const struct nlmsghdr *h, void *arg)
{
	struct link_list *l = arg;
	struct nl_link link;
	if (nl_parse_link(h, &link) < 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct nl_link *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = link;
	return 0;
}

int nl_links(struct nl *nl, struct nl_link **out, size_t *n, struct error *err)
{
	struct nlm m;
	nlm_link_dump(&m, 0);
	int r = nl_send(nl, &m, err);
	if (r < 0)
		return r;
	struct link_list l = { 0 };
	r = nl_recv(nl, m.hdr.nlmsg_seq, collect_link, &l, err);
	if (r < 0) {
		free(l.v);
		return error_prefix(err, r, "list links");
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

static int link_find(struct nl *nl, const char *name, const uint8_t *mac, struct nl_link *out,
		     struct error *err)
{
	_cleanup_free_ struct nl_link *v = NULL;
	size_t n = 0;
	int r = nl_links(nl, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((name && strcmp(v[i].name, name) == 0) ||
		    (mac && v[i].has_mac && memcmp(v[i].mac, mac, 6) == 0)) {
			*out = v[i];
			return 0;
		}
	}
	return -ENODEV;
}

int nl_link_by_name(struct nl *nl, const char *name, struct nl_link *out, struct error *err)
{
	int r = link_find(nl, name, NULL, out, err);
	if (r == -ENODEV)
		return error_setx(err, ENODEV, "no network interface %s", name);
	return r;
}

int nl_link_by_mac(struct nl *nl, const uint8_t mac[6], struct nl_link *out, struct error *err)
{
	int r = link_find(nl, NULL, mac, out, err);
	if (r == -ENODEV)
		return error_setx(err, ENODEV,
				  "no network interface with MAC address %02x:%02x:%02x:%02x:%02x:%02x",
				  mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return r;
}
