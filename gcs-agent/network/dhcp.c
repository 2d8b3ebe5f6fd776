/* SPDX-License-Identifier: MIT */
#include "dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"

/* The BOOTP message (RFC 951, RFC 2131 figure 1): fixed offsets. */
#define OFF_OP 0
#define OFF_HTYPE 1
#define OFF_HLEN 2
#define OFF_XID 4
#define OFF_FLAGS 10
#define OFF_YIADDR 16
#define OFF_CHADDR 28
#define OFF_COOKIE 236
#define OFF_OPTIONS 240
#define BOOTP_MIN_LEN 300		/* what BOOTP relays and old servers expect */
#define BOOTREQUEST 1
#define BOOTREPLY 2
#define FLAG_BROADCAST 0x8000
#define PORT_SERVER 67
#define PORT_CLIENT 68

static const uint8_t cookie[4] = { 99, 130, 83, 99 };

enum {
	OPT_PAD = 0,
	OPT_NETMASK = 1,
	OPT_ROUTER = 3,
	OPT_DNS = 6,
	OPT_DOMAIN = 15,
	OPT_MTU = 26,
	OPT_REQUESTED_IP = 50,
	OPT_LEASE = 51,
	OPT_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_PARAMS = 55,
	OPT_MAX_SIZE = 57,
	OPT_CLIENT_ID = 61,
	OPT_END = 255,
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t dhcp_build(uint8_t *buf, int type, uint32_t xid, const uint8_t mac[6],
		  uint32_t requested_ip, uint32_t server_id)
{
	memset(buf, 0, DHCP_MSG_MAX);
	buf[OFF_OP] = BOOTREQUEST;
	buf[OFF_HTYPE] = 1;		/* Ethernet */
	buf[OFF_HLEN] = 6;
	put32(buf + OFF_XID, xid);
	buf[OFF_FLAGS] = FLAG_BROADCAST >> 8;
	memcpy(buf + OFF_CHADDR, mac, 6);
	memcpy(buf + OFF_COOKIE, cookie, sizeof(cookie));
	uint8_t *p = buf + OFF_OPTIONS;
	*p++ = OPT_TYPE;
	*p++ = 1;
	*p++ = (uint8_t)type;
	*p++ = OPT_CLIENT_ID;
	*p++ = 7;
	*p++ = 1;
	memcpy(p, mac, 6);
	p += 6;
	*p++ = OPT_MAX_SIZE;
	*p++ = 2;
	*p++ = DHCP_MSG_MAX >> 8;
	*p++ = DHCP_MSG_MAX & 0xff;
	if (requested_ip) {
		*p++ = OPT_REQUESTED_IP;
		*p++ = 4;
		memcpy(p, &requested_ip, 4);	/* already in network order */
		p += 4;
	}
	if (server_id) {
		*p++ = OPT_SERVER_ID;
		*p++ = 4;
		memcpy(p, &server_id, 4);
		p += 4;
	}
	static const uint8_t params[] = { OPT_NETMASK, OPT_ROUTER, OPT_DNS, OPT_DOMAIN,
					  OPT_MTU, OPT_LEASE };
	*p++ = OPT_PARAMS;
	*p++ = sizeof(params);
	memcpy(p, params, sizeof(params));
	p += sizeof(params);
	*p++ = OPT_END;
	size_t len = (size_t)(p - buf);
	return len < BOOTP_MIN_LEN ? BOOTP_MIN_LEN : len;
}

/* An address a server may hand out: not 0.0.0.0, loopback, multicast or
 * broadcast. */
static bool usable(uint32_t be)
{
	uint32_t a = ntohl(be);
	return a != 0 && (a >> 24) != 127 && (a >> 28) != 0xe && a != 0xffffffffu;
}

int dhcp_parse(const uint8_t *buf, size_t len, uint32_t xid, const uint8_t mac[6],
	       struct dhcp_reply *out)
{
	if (len < OFF_OPTIONS || buf[OFF_OP] != BOOTREPLY || buf[OFF_HTYPE] != 1 ||
	    buf[OFF_HLEN] != 6 || get32(buf + OFF_XID) != xid ||
	    memcmp(buf + OFF_CHADDR, mac, 6) != 0 ||
	    memcmp(buf + OFF_COOKIE, cookie, sizeof(cookie)) != 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(&out->yiaddr, buf + OFF_YIADDR, 4);
	size_t i = OFF_OPTIONS;
	bool ended = false;
	while (i < len && !ended) {
		uint8_t code = buf[i];
		if (code == OPT_PAD) {
			i++;
			continue;
		}
		if (code == OPT_END) {
			ended = true;
			break;
		}
		if (i + 2 > len || i + 2 + buf[i + 1] > len)
			return -EINVAL;	/* an option runs past the message */
		size_t l = buf[i + 1];
		const uint8_t *v = buf + i + 2;
		switch (code) {
		case OPT_TYPE:
			if (l != 1)
				return -EINVAL;
			out->type = v[0];
			break;
		case OPT_SERVER_ID:
			if (l != 4)
				return -EINVAL;
			memcpy(&out->server_id, v, 4);
			break;
		case OPT_NETMASK:
			if (l != 4)
				return -EINVAL;
			memcpy(&out->netmask, v, 4);
			break;
		case OPT_ROUTER:
			if (l < 4 || l % 4)
				return -EINVAL;
			memcpy(&out->router, v, 4);
			break;
		case OPT_DNS:
			if (l < 4 || l % 4)
				return -EINVAL;
			for (size_t k = 0; k < l / 4 && out->n_dns < DHCP_MAX_DNS; k++)
				memcpy(&out->dns[out->n_dns++], v + 4 * k, 4);
			break;
		case OPT_LEASE:
			if (l != 4)
				return -EINVAL;
			out->lease_s = get32(v);
			break;
		case OPT_MTU:
			if (l != 2)
				return -EINVAL;
			out->mtu = (uint16_t)(v[0] << 8 | v[1]);
			break;
		case OPT_DOMAIN: {
			/* Text for resolv.conf: printable, no blanks. */
			size_t n = 0;
			for (size_t k = 0; k < l && v[k]; k++) {
				if (v[k] <= ' ' || v[k] > '~')
					return -EINVAL;
				out->domain[n++] = (char)v[k];
			}
			out->domain[n] = '\0';
			break;
		}
		default:
			break;
		}
		i += 2 + l;
	}
	if (!out->type)
		return -EINVAL;
	if (out->type != DHCP_OFFER && out->type != DHCP_ACK && out->type != DHCP_NAK)
		return -ENOMSG;
	if (out->type == DHCP_NAK)
		return 0;
	/* RFC 2131: OFFER and ACK carry the server identifier. */
	if (!usable(out->yiaddr) || !out->server_id || dhcp_prefix_len(out->netmask) == -1)
		return -EINVAL;
	if (out->router && !usable(out->router))
		out->router = 0;
	return 0;
}

int dhcp_prefix_len(uint32_t netmask_be)
{
	uint32_t m = ntohl(netmask_be);
	if (m == 0)
		return 0;	/* none given: the caller picks the class default */
	int n = __builtin_popcount(m);
	/* Contiguous: ones from the top, then only zeros. */
	if (m != (uint32_t)(0xffffffffu << (32 - n)))
		return -1;
	return n;
}

/* --- the client ---------------------------------------------------------- */

enum state { SELECTING, REQUESTING };

struct dhcp_client {
	struct loop_source src;
	struct loop_timer resend, deadline;
	int fd;
	uint8_t mac[6];
	char ifname[16];
	uint32_t xid;
	enum state state;
	unsigned sends;			/* of the current message */
	unsigned naks;
	int last_send_errno;
	struct dhcp_reply offer;
	unsigned timeout_ms;
	dhcp_done_fn fn;
	void *arg;
};

static void new_xid(struct dhcp_client *c)
{
	if (getrandom(&c->xid, sizeof(c->xid), GRND_NONBLOCK) != sizeof(c->xid))
		c->xid ^= (uint32_t)getpid() * 2654435761u + c->naks + 1;
}

static void transmit(struct dhcp_client *c)
{
	uint8_t buf[DHCP_MSG_MAX];
	size_t len = c->state == SELECTING
			     ? dhcp_build(buf, DHCP_DISCOVER, c->xid, c->mac, 0, 0)
			     : dhcp_build(buf, DHCP_REQUEST, c->xid, c->mac, c->offer.yiaddr,
					  c->offer.server_id);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORT_SERVER),
				  .sin_addr.s_addr = htonl(INADDR_BROADCAST) };
	if (sendto(c->fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&to, sizeof(to)) < 0)
		c->last_send_errno = errno;	/* retried at the next tick */
	/* RFC 2131 4.1's backoff, shortened for a 30 s budget: 1, 2, 4, 4... s */
	unsigned ms = c->sends < 3 ? 1000u << c->sends : 4000u;
	c->sends++;
	struct error err = { 0 };
	if (loop_timer_arm(&c->resend, ms, &err) < 0)
		log_warning("DHCP: no retransmission timer", LOG_STR("ifname", c->ifname), LOG_ERR(&err));
}

/* Stop the exchange and report; the callback may dhcp_stop() c, so
 * nothing may touch c after finish() returns. */
static void finish(struct dhcp_client *c, int r, const struct dhcp_reply *lease,
		   const struct error *err)
{
	loop_timer_disarm(&c->resend);
	loop_timer_disarm(&c->deadline);
	if (c->src.added)
		loop_remove(&c->src);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->fn(c->arg, r, lease, err);
}

static void on_readable(struct loop_source *src, uint32_t events)
{
	struct dhcp_client *c = src->data;
	(void)events;
	for (int i = 0; i < 16; i++) {
		uint8_t buf[1500];
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0)
			return;	/* EAGAIN: wait for the next one */
		struct dhcp_reply r;
		if (dhcp_parse(buf, (size_t)n, c->xid, c->mac, &r) < 0)
			continue;	/* another client's, or garbage */
		if (c->state == SELECTING && r.type == DHCP_OFFER) {
			c->offer = r;
			c->state = REQUESTING;
			c->sends = 0;
			transmit(c);
		} else if (c->state == REQUESTING && r.type == DHCP_ACK &&
			   r.server_id == c->offer.server_id) {
			/* Last: the owner's callback may free c. */
			finish(c, 0, &r, NULL);
			return;
		} else if (c->state == REQUESTING && r.type == DHCP_NAK &&
			   (!r.server_id || r.server_id == c->offer.server_id)) {
			/* Start over, as RFC 2131 says; a server that keeps
			 * refusing ends it. */
			if (++c->naks >= 3) {
				struct error err = { 0 };
				error_setx(&err, ECONNREFUSED,
					   "the DHCP server refused the address %d times (DHCPNAK)",
					   c->naks);
				finish(c, -ECONNREFUSED, NULL, &err);
				return;
			}
			new_xid(c);
			c->state = SELECTING;
			c->sends = 0;
			transmit(c);
		}
	}
}

static void on_resend(struct loop_timer *t)
{
	transmit(t->data);
}

static void on_deadline(struct loop_timer *t)
{
	struct dhcp_client *c = t->data;
	struct error err = { 0 };
	error_setx(&err, ETIMEDOUT, "no DHCP lease on %s in %u s (%s)%s%s", c->ifname,
		   c->timeout_ms / 1000, c->state == SELECTING ? "no offer" : "no acknowledgement",
		   c->last_send_errno ? ": sending failed: " : "",
		   c->last_send_errno ? strerror(c->last_send_errno) : "");
	finish(c, -ETIMEDOUT, NULL, &err);
}

/* Port 68 on ifname, inside the namespace. */
static int open_socket(int netns_fd, const char *ifname, struct error *err)
{
	int fd = netns_socket(netns_fd, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, err);
	if (fd < 0)
		return error_prefix(err, fd, "DHCP socket");
	int e, one = 1;
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(PORT_CLIENT) };
	if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		e = errno;
		close(fd);
		return error_set(err, e, "DHCP socket on %s (port 68)", ifname);
	}
	return fd;
}

int dhcp_start(struct loop *loop, int netns_fd, const char *ifname, const uint8_t mac[6],
	       unsigned timeout_ms, dhcp_done_fn fn, void *arg, struct dhcp_client **out,
	       struct error *err)
{
	if (strlen(ifname) >= sizeof(((struct dhcp_client *)0)->ifname))
		return error_setx(err, EINVAL, "interface name %s too long", ifname);
	struct dhcp_client *c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(err, ENOMEM, "DHCP client");
	c->fd = -1;
	memcpy(c->mac, mac, 6);
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	c->timeout_ms = timeout_ms;
	c->fn = fn;
	c->arg = arg;
	int r;
	/* dhcp_stop undoes any prefix of these (a timer not yet made is
	 * zeroed: not added). */
	if ((r = loop_timer_init(loop, &c->resend, on_resend, c, err)) < 0 ||
	    (r = loop_timer_init(loop, &c->deadline, on_deadline, c, err)) < 0)
		goto fail;
	if ((c->fd = r = open_socket(netns_fd, ifname, err)) < 0)
		goto fail;
	if ((r = loop_add(loop, &c->src, c->fd, EPOLLIN, on_readable, c, err)) < 0)
		goto fail;
	if ((r = loop_timer_arm(&c->deadline, timeout_ms, err)) < 0)
		goto fail;
	new_xid(c);
	c->state = SELECTING;
	transmit(c);
	*out = c;
	return 0;
fail:
	dhcp_stop(c);
	return r;
}

void dhcp_stop(struct dhcp_client *c)
{
	if (!c)
		return;
	if (c->src.added)
		loop_remove(&c->src);
	if (c->fd >= 0)
		close(c->fd);
	loop_timer_fini(&c->resend);
	loop_timer_fini(&c->deadline);
	free(c);
}
