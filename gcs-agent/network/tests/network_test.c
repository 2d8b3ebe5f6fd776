/* SPDX-License-Identifier: MIT */
/* Adapter settings (every shape hcsshim has sent), resolv.conf, rtnetlink
 * message encoding, the DHCP codec, and the socket layer and a DHCP
 * exchange against the real kernel in private network namespaces (skipped
 * where unshare is not allowed, or without ip(8) to make a veth pair). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "lcow/tap.h"
#include "loop.h"
#include "network/dhcp.h"
#include "network/network.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	if (!v)
		fprintf(stderr, "bad test JSON: %s\n", e.text);
	return v;
}

static int parse(const char *text, struct net_adapter *a, struct error *err)
{
	json_t *v = J(text);
	int r = net_adapter_parse(v, a, err);
	json_decref(v);
	return r;
}

static const char *ip_text(const struct nl_addr *a, char *buf)
{
	return inet_ntop(a->family, a->bytes, buf, INET6_ADDRSTRLEN);
}

TEST(adapter_current_shape_ipconfigs_and_routes)
{
	struct net_adapter a;
	struct error err = { 0 };
	char b[INET6_ADDRSTRLEN];
	ASSERT_EQ(parse("{\"NamespaceID\":\"ABCD-1\",\"ID\":\"1F2E-AA\",\"MacAddress\":\"00-15-5D-01-02-0A\","
			"\"DNSSuffix\":\"corp.example,Example.com\",\"DNSServerList\":\"10.0.0.10\","
			"\"EncapOverhead\":50,\"IPConfigs\":[{\"IPAddress\":\"10.0.0.5\",\"PrefixLength\":24},"
			"{\"IPAddress\":\"fd00::5\",\"PrefixLength\":64}],"
			"\"Routes\":[{\"NextHop\":\"10.0.0.1\",\"DestinationPrefix\":\"0.0.0.0/0\"},"
			"{\"NextHop\":\"::\",\"DestinationPrefix\":\"::/0\"},"
			"{\"NextHop\":\"10.0.0.254\",\"DestinationPrefix\":\"192.168.0.0/16\",\"Metric\":7}]}",
			&a, &err),
		  0);
	EXPECT_STREQ(a.namespace_id, "abcd-1");
	EXPECT_STREQ(a.id, "1f2e-aa");
	ASSERT_TRUE(a.has_mac);
	EXPECT_EQ(a.mac[0], 0x00);
	EXPECT_EQ(a.mac[2], 0x5d);
	EXPECT_EQ(a.mac[5], 0x0a);
	EXPECT_EQ(a.encap_overhead, 50);
	ASSERT_EQ(a.n_ips, 2u);
	EXPECT_STREQ(ip_text(&a.ips[0].addr, b), "10.0.0.5");
	EXPECT_EQ(a.ips[0].prefix_len, 24u);
	EXPECT_EQ(a.ips[1].addr.family, AF_INET6);
	/* The "::/0 via ::" route means no IPv6 gateway: dropped. */
	ASSERT_EQ(a.n_routes, 2u);
	EXPECT_EQ(a.routes[0].dst.family, 0);
	EXPECT_EQ(a.routes[0].dst_len, 0u);
	EXPECT_STREQ(ip_text(&a.routes[0].gw, b), "10.0.0.1");
	EXPECT_EQ(a.routes[0].metric, 0u);
	EXPECT_STREQ(ip_text(&a.routes[1].dst, b), "192.168.0.0");
	EXPECT_EQ(a.routes[1].dst_len, 16u);
	EXPECT_EQ(a.routes[1].metric, 7u);
}

TEST(adapter_low_metric_gives_unset_metrics_500)
{
	struct net_adapter a;
	struct error err = { 0 };
	ASSERT_EQ(parse("{\"ID\":\"x\",\"EnableLowMetric\":true,"
			"\"IPConfigs\":[{\"IPAddress\":\"10.1.0.5\",\"PrefixLength\":16}],"
			"\"Routes\":[{\"NextHop\":\"10.1.0.1\",\"DestinationPrefix\":\"0.0.0.0/0\"},"
			"{\"NextHop\":\"10.1.0.1\",\"DestinationPrefix\":\"10.9.0.0/16\",\"Metric\":3}]}",
			&a, &err),
		  0);
	ASSERT_EQ(a.n_routes, 2u);
	EXPECT_EQ(a.routes[0].metric, 500u);
	EXPECT_EQ(a.routes[1].metric, 3u);
}

TEST(adapter_legacy_v2_shape_becomes_address_and_default_route)
{
	struct net_adapter a;
	struct error err = { 0 };
	char b[INET6_ADDRSTRLEN];
	ASSERT_EQ(parse("{\"NamespaceID\":\"n\",\"ID\":\"i\",\"IPAddress\":\"172.20.1.7\",\"PrefixLength\":20,"
			"\"GatewayAddress\":\"172.20.0.1\",\"IPv6Address\":\"fd01::7\",\"IPv6PrefixLength\":64,"
			"\"IPv6GatewayAddress\":\"fd01::1\",\"DNSServerList\":\"1.1.1.1\"}",
			&a, &err),
		  0);
	ASSERT_EQ(a.n_ips, 2u);
	EXPECT_STREQ(ip_text(&a.ips[0].addr, b), "172.20.1.7");
	EXPECT_EQ(a.ips[0].prefix_len, 20u);
	EXPECT_STREQ(ip_text(&a.ips[1].addr, b), "fd01::7");
	ASSERT_EQ(a.n_routes, 2u);
	EXPECT_STREQ(ip_text(&a.routes[0].gw, b), "172.20.0.1");
	EXPECT_EQ(a.routes[0].metric, 1u);
	EXPECT_EQ(a.routes[1].family, AF_INET6);
	EXPECT_STREQ(ip_text(&a.routes[1].gw, b), "fd01::1");
}

TEST(adapter_v1_names_prot_networkadapter)
{
	struct net_adapter a;
	struct error err = { 0 };
	char b[INET6_ADDRSTRLEN];
	ASSERT_EQ(parse("{\"AdapterInstanceId\":\"AAAA-BBBB\",\"MacAddress\":\"52:54:00:12:34:56\","
			"\"AllocatedIpAddress\":\"10.0.2.15\",\"HostIpAddress\":\"10.0.2.2\",\"HostIpPrefixLength\":24,"
			"\"HostDnsServerList\":\"10.0.2.3\",\"HostDnsSuffix\":\"lan\",\"EnableLowMetric\":true}",
			&a, &err),
		  0);
	EXPECT_STREQ(a.id, "aaaa-bbbb");
	EXPECT_EQ(a.mac[5], 0x56);
	ASSERT_EQ(a.n_ips, 1u);
	EXPECT_STREQ(ip_text(&a.ips[0].addr, b), "10.0.2.15");
	EXPECT_EQ(a.ips[0].prefix_len, 24u);
	ASSERT_EQ(a.n_routes, 1u);
	EXPECT_STREQ(ip_text(&a.routes[0].gw, b), "10.0.2.2");
	EXPECT_EQ(a.routes[0].metric, 500u);
	EXPECT_STREQ(a.dns_servers, "10.0.2.3");
	EXPECT_STREQ(a.dns_suffix, "lan");
}

TEST(adapter_bad_input_is_a_clear_error)
{
	struct net_adapter a;
	struct error err = { 0 };
	EXPECT_EQ(parse("[1]", &a, &err), -EBADMSG);
	EXPECT_EQ(parse("{\"ID\":5}", &a, &err), -EBADMSG);
	EXPECT_EQ(parse("{}", &a, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "neither an ID nor a MacAddress") != NULL);
	EXPECT_EQ(parse("{\"ID\":\"i\",\"MacAddress\":\"00-15-5D\"}", &a, &err), -EINVAL);
	EXPECT_EQ(parse("{\"ID\":\"i\",\"IPConfigs\":[{\"IPAddress\":\"10.0.0.300\",\"PrefixLength\":8}]}", &a,
			&err),
		  -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "10.0.0.300") != NULL);
	EXPECT_EQ(parse("{\"ID\":\"i\",\"IPConfigs\":[{\"IPAddress\":\"10.0.0.3\",\"PrefixLength\":33}]}", &a,
			&err),
		  -EINVAL);
	EXPECT_EQ(parse("{\"ID\":\"i\",\"IPConfigs\":[{\"IPAddress\":\"10.0.0.3\",\"PrefixLength\":300}]}", &a,
			&err),
		  -EBADMSG);
	EXPECT_EQ(parse("{\"ID\":\"i\",\"Routes\":[{\"NextHop\":\"fd00::1\",\"DestinationPrefix\":\"10.0.0.0/8\"}]}",
			&a, &err),
		  -EINVAL);
	EXPECT_EQ(parse("{\"ID\":\"i\",\"Routes\":[{\"DestinationPrefix\":\"10.0.0.0/40\"}]}", &a, &err), -EINVAL);
	EXPECT_EQ(parse("{\"ID\":\"i\",\"Routes\":[{}]}", &a, &err), -EINVAL);
	EXPECT_EQ(parse("{\"ID\":\"i\",\"IPConfigs\":{}}", &a, &err), -EBADMSG);
}

TEST(resolv_conf_merges_adapters_without_duplicates)
{
	struct net_adapter a = { 0 }, b = { 0 };
	snprintf(a.dns_suffix, sizeof(a.dns_suffix), "corp.example, Lab.Example");
	snprintf(a.dns_servers, sizeof(a.dns_servers), "10.0.0.10,10.0.0.11");
	snprintf(b.dns_suffix, sizeof(b.dns_suffix), "lab.example");
	snprintf(b.dns_servers, sizeof(b.dns_servers), "10.0.0.11, FD00::53");
	const struct net_adapter *v[] = { &a, &b };
	struct error err = { 0 };
	char *text = NULL;
	ASSERT_EQ(net_resolv_conf(v, 2, &text, &err), 0);
	EXPECT_STREQ(text, "search corp.example lab.example\nnameserver 10.0.0.10\n"
			   "nameserver 10.0.0.11\nnameserver fd00::53\n");
	free(text);
	ASSERT_EQ(net_resolv_conf(v, 0, &text, &err), 0);
	EXPECT_STREQ(text, "");
	free(text);
	snprintf(a.dns_suffix, sizeof(a.dns_suffix), "a,b,c,d,e,f,g");
	EXPECT_EQ(net_resolv_conf(v, 1, &text, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "more than 6") != NULL);
}

TEST(mac_and_prefix_helpers)
{
	uint8_t mac[6];
	EXPECT_EQ(nl_mac_parse("00-15-5d-AB-cd-01", mac), 0);
	EXPECT_EQ(mac[3], 0xab);
	EXPECT_EQ(nl_mac_parse("00:15:5d:ab:cd:01", mac), 0);
	EXPECT_EQ(nl_mac_parse("00:15-5d:ab:cd:01", mac), -EINVAL);
	EXPECT_EQ(nl_mac_parse("00:15:5d:ab:cd:0g", mac), -EINVAL);
	struct nl_addr x, y;
	ASSERT_EQ(nl_addr_parse("10.0.2.15", &x), 0);
	ASSERT_EQ(nl_addr_parse("10.0.3.2", &y), 0);
	EXPECT_TRUE(nl_addr_same_net(&x, &y, 22));
	EXPECT_FALSE(nl_addr_same_net(&x, &y, 24));
	ASSERT_EQ(nl_addr_parse("fd00::1", &y), 0);
	EXPECT_FALSE(nl_addr_same_net(&x, &y, 0));
	EXPECT_EQ(nl_addr_parse("nonsense", &y), -EINVAL);
}

/* The attribute of type t in m (after a body of body_len), or NULL. */
static const struct rtattr *attr(const struct nlm *m, size_t body_len, int t)
{
	int len = (int)m->hdr.nlmsg_len - (int)NLMSG_LENGTH(body_len);
	const struct rtattr *rta = (const void *)((const uint8_t *)NLMSG_DATA(&m->hdr) + NLMSG_ALIGN(body_len));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == t)
			return rta;
	return NULL;
}

static uint32_t attr_u32(const struct rtattr *a)
{
	uint32_t v;
	memcpy(&v, RTA_DATA(a), 4);
	return v;
}

TEST(encode_link_set)
{
	struct nlm m;
	struct nl_link_change c = NL_LINK_CHANGE_INIT;
	c.name = "eth1";
	c.mtu = 1450;
	c.up = 1;
	c.netns_fd = 7;
	nlm_link_set(&m, 9, 3, &c);
	EXPECT_FALSE(m.overflow);
	EXPECT_EQ(m.hdr.nlmsg_type, RTM_NEWLINK);
	EXPECT_EQ(m.hdr.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	EXPECT_EQ(m.hdr.nlmsg_seq, 9u);
	const struct ifinfomsg *ifi = NLMSG_DATA(&m.hdr);
	EXPECT_EQ(ifi->ifi_index, 3);
	EXPECT_EQ(ifi->ifi_change, (unsigned)IFF_UP);
	EXPECT_EQ(ifi->ifi_flags, (unsigned)IFF_UP);
	const struct rtattr *a = attr(&m, sizeof(*ifi), IFLA_IFNAME);
	ASSERT_TRUE(a != NULL);
	EXPECT_STREQ((const char *)RTA_DATA(a), "eth1");
	ASSERT_TRUE((a = attr(&m, sizeof(*ifi), IFLA_MTU)) != NULL);
	EXPECT_EQ(attr_u32(a), 1450u);
	ASSERT_TRUE((a = attr(&m, sizeof(*ifi), IFLA_NET_NS_FD)) != NULL);
	EXPECT_EQ(attr_u32(a), 7u);
	/* Nothing to change but "down": no attributes at all. */
	struct nl_link_change d = NL_LINK_CHANGE_INIT;
	d.up = 0;
	nlm_link_set(&m, 1, 3, &d);
	EXPECT_EQ(m.hdr.nlmsg_len, NLMSG_LENGTH(sizeof(*ifi)));
	EXPECT_EQ(ifi->ifi_change, (unsigned)IFF_UP);
	EXPECT_EQ(ifi->ifi_flags, 0u);
}

TEST(encode_addr_add_v4_with_broadcast_and_v6)
{
	struct nlm m;
	struct nl_addr a;
	ASSERT_EQ(nl_addr_parse("10.0.2.15", &a), 0);
	nlm_addr_add(&m, 1, 4, &a, 24);
	EXPECT_EQ(m.hdr.nlmsg_type, RTM_NEWADDR);
	EXPECT_EQ(m.hdr.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	const struct ifaddrmsg *ifa = NLMSG_DATA(&m.hdr);
	EXPECT_EQ(ifa->ifa_family, AF_INET);
	EXPECT_EQ(ifa->ifa_prefixlen, 24);
	EXPECT_EQ(ifa->ifa_index, 4u);
	const struct rtattr *r = attr(&m, sizeof(*ifa), IFA_LOCAL);
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(RTA_PAYLOAD(r), 4u);
	EXPECT_EQ(memcmp(RTA_DATA(r), a.bytes, 4), 0);
	ASSERT_TRUE((r = attr(&m, sizeof(*ifa), IFA_BROADCAST)) != NULL);
	const uint8_t brd[4] = { 10, 0, 2, 255 };
	EXPECT_EQ(memcmp(RTA_DATA(r), brd, 4), 0);
	ASSERT_EQ(nl_addr_parse("fd00::5", &a), 0);
	nlm_addr_add(&m, 1, 4, &a, 64);
	EXPECT_EQ(ifa->ifa_family, AF_INET6);
	ASSERT_TRUE((r = attr(&m, sizeof(*ifa), IFA_LOCAL)) != NULL);
	EXPECT_EQ(RTA_PAYLOAD(r), 16u);
	EXPECT_TRUE(attr(&m, sizeof(*ifa), IFA_BROADCAST) == NULL);
}

TEST(encode_default_route_with_metric_and_big_table)
{
	struct nlm m;
	struct nl_addr gw;
	ASSERT_EQ(nl_addr_parse("10.0.2.2", &gw), 0);
	nlm_route_add(&m, 1, 5, AF_INET, NULL, 0, &gw, 500, 0);
	const struct rtmsg *rtm = NLMSG_DATA(&m.hdr);
	EXPECT_EQ(m.hdr.nlmsg_type, RTM_NEWROUTE);
	EXPECT_EQ(rtm->rtm_family, AF_INET);
	EXPECT_EQ(rtm->rtm_dst_len, 0);
	EXPECT_EQ(rtm->rtm_table, RT_TABLE_MAIN);
	EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
	EXPECT_TRUE(attr(&m, sizeof(*rtm), RTA_DST) == NULL);
	const struct rtattr *r = attr(&m, sizeof(*rtm), RTA_GATEWAY);
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(memcmp(RTA_DATA(r), gw.bytes, 4), 0);
	ASSERT_TRUE((r = attr(&m, sizeof(*rtm), RTA_OIF)) != NULL);
	EXPECT_EQ(attr_u32(r), 5u);
	ASSERT_TRUE((r = attr(&m, sizeof(*rtm), RTA_PRIORITY)) != NULL);
	EXPECT_EQ(attr_u32(r), 500u);
	/* An on-link prefix route in table 1000 (beyond rtm_table's byte). */
	struct nl_addr dst;
	ASSERT_EQ(nl_addr_parse("192.168.0.0", &dst), 0);
	nlm_route_add(&m, 1, 5, AF_INET, &dst, 16, NULL, 0, 1000);
	EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_LINK);
	EXPECT_EQ(rtm->rtm_table, RT_TABLE_UNSPEC);
	ASSERT_TRUE((r = attr(&m, sizeof(*rtm), RTA_TABLE)) != NULL);
	EXPECT_EQ(attr_u32(r), 1000u);
	EXPECT_TRUE(attr(&m, sizeof(*rtm), RTA_DST) != NULL);
	EXPECT_TRUE(attr(&m, sizeof(*rtm), RTA_PRIORITY) == NULL);
}

TEST(encode_rule_and_overflow_is_refused)
{
	struct nlm m;
	struct nl_addr src;
	ASSERT_EQ(nl_addr_parse("10.1.0.5", &src), 0);
	nlm_rule_add(&m, 1, &src, 32, 101, 5);
	const struct fib_rule_hdr *frh = NLMSG_DATA(&m.hdr);
	EXPECT_EQ(m.hdr.nlmsg_type, RTM_NEWRULE);
	EXPECT_EQ(frh->src_len, 32);
	EXPECT_EQ(frh->table, 101);
	EXPECT_EQ(frh->action, FR_ACT_TO_TBL);
	const struct rtattr *r = attr(&m, sizeof(*frh), FRA_PRIORITY);
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(attr_u32(r), 5u);
	char longname[2000];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	struct nl_link_change c = NL_LINK_CHANGE_INIT;
	c.name = longname;
	nlm_link_set(&m, 1, 1, &c);
	EXPECT_TRUE(m.overflow);
	struct nl nl;
	struct error err = { 0 };
	ASSERT_EQ(nl_open(&nl, &err), 0);
	EXPECT_EQ(nl_call(&nl, &m, &err), -EMSGSIZE);
	nl_close(&nl);
}

TEST(parse_link_message)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
		uint8_t attrs[64];
	} msg = { 0 };
	msg.h.nlmsg_type = RTM_NEWLINK;
	msg.ifi.ifi_index = 2;
	msg.ifi.ifi_flags = IFF_UP;
	uint8_t *p = msg.attrs;
	struct rtattr *a = (void *)p;
	a->rta_type = IFLA_IFNAME;
	a->rta_len = RTA_LENGTH(5);
	memcpy(RTA_DATA(a), "eth0", 5);
	p += RTA_ALIGN(a->rta_len);
	a = (void *)p;
	a->rta_type = IFLA_ADDRESS;
	a->rta_len = RTA_LENGTH(6);
	memcpy(RTA_DATA(a), "\x52\x54\x00\x12\x34\x56", 6);
	p += RTA_ALIGN(a->rta_len);
	a = (void *)p;
	a->rta_type = IFLA_MTU;
	a->rta_len = RTA_LENGTH(4);
	uint32_t mtu = 1500;
	memcpy(RTA_DATA(a), &mtu, 4);
	p += RTA_ALIGN(a->rta_len);
	msg.h.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(msg.ifi)) + (size_t)(p - msg.attrs));
	struct nl_link l;
	ASSERT_EQ(nl_parse_link(&msg.h, &l), 0);
	EXPECT_EQ(l.ifindex, 2);
	EXPECT_STREQ(l.name, "eth0");
	EXPECT_TRUE(l.has_mac);
	EXPECT_EQ(l.mac[5], 0x56);
	EXPECT_EQ(l.mtu, 1500);
	msg.h.nlmsg_type = RTM_NEWADDR;
	EXPECT_EQ(nl_parse_link(&msg.h, &l), -EBADMSG);
}

/* The socket layer against the kernel, in a network namespace of this
 * (forked) test's own. */
static bool private_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		TAP_DIAG("unshare(CLONE_NEWNET): %s: kernel part skipped", strerror(errno));
		return false;
	}
	return true;
}

TEST(kernel_lo_up_address_route_and_errors)
{
	if (!private_netns())
		return;
	struct error err = { 0 };
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(network_loopback_up(fd, &err), 0);
	struct nl nl;
	struct nl_link lo;
	ASSERT_EQ(nl_open_in_netns(&nl, fd, &err), 0);
	ASSERT_EQ(nl_link_by_name(&nl, "lo", &lo, &err), 0);
	EXPECT_TRUE(lo.flags & IFF_UP);
	struct nlm m;
	struct nl_addr a;
	ASSERT_EQ(nl_addr_parse("127.0.5.1", &a), 0);
	nlm_addr_add(&m, 0, lo.ifindex, &a, 8);
	EXPECT_EQ(nl_call(&nl, &m, &err), 0);
	nlm_addr_add(&m, 0, lo.ifindex, &a, 8);
	EXPECT_EQ(nl_call(&nl, &m, &err), -EEXIST);
	struct nl_addr dst;
	ASSERT_EQ(nl_addr_parse("198.51.100.0", &dst), 0);
	nlm_route_add(&m, 0, lo.ifindex, AF_INET, &dst, 24, NULL, 42, 0);
	EXPECT_EQ(nl_call(&nl, &m, &err), 0);
	/* A gateway nothing on the link reaches: the kernel's error. */
	struct nl_addr gw;
	ASSERT_EQ(nl_addr_parse("203.0.113.1", &gw), 0);
	nlm_route_add(&m, 0, lo.ifindex, AF_INET, NULL, 0, &gw, 0, 0);
	EXPECT_EQ(nl_call(&nl, &m, &err), -ENETUNREACH);
	struct nl_link none;
	EXPECT_EQ(nl_link_by_name(&nl, "eth9", &none, &err), -ENODEV);
	EXPECT_TRUE(strstr(err.msg, "eth9") != NULL);
	const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	EXPECT_EQ(nl_link_by_mac(&nl, mac, &none, &err), -ENODEV);
	nl_close(&nl);
	close(fd);
}

TEST(kernel_new_netns_has_lo_only_and_registry_rejects_missing_adapter)
{
	if (!private_netns())
		return;
	struct error err = { 0 };
	int fd = -1;
	ASSERT_EQ(network_create_netns(&fd, &err), 0);
	struct network *net = NULL;
	ASSERT_EQ(network_new(NULL, &net, &err), 0);
	ASSERT_EQ(network_attach(net, "ns-1", fd, &err), 0);
	/* A second container claiming the same namespace id. */
	EXPECT_EQ(network_attach(net, "ns-1", fd, &err), -EBUSY);
	struct nl nl;
	struct nl_link *v = NULL;
	size_t n = 0;
	ASSERT_EQ(nl_open_in_netns(&nl, fd, &err), 0);
	ASSERT_EQ(nl_links(&nl, &v, &n, &err), 0);
	ASSERT_EQ(n, 1u);
	EXPECT_STREQ(v[0].name, "lo");
	EXPECT_TRUE(v[0].flags & IFF_UP);
	free(v);
	nl_close(&nl);
	json_t *s = J("{\"NamespaceID\":\"ns-1\",\"ID\":\"nic-1\",\"MacAddress\":\"02-00-00-00-00-77\"}");
	EXPECT_EQ(network_modify(net, true, s, &err), -ENODEV);
	EXPECT_TRUE(strstr(err.msg, "02:00:00:00:00:77") != NULL);
	/* Removing what is not there is not an error (hcsshim). */
	EXPECT_EQ(network_modify(net, false, s, &err), 0);
	json_decref(s);
	char *resolv = NULL;
	ASSERT_EQ(network_resolv_conf(net, "ns-1", &resolv, &err), 0);
	EXPECT_STREQ(resolv, "");
	free(resolv);
	network_detach(net, "ns-1");
	network_free(net);
	close(fd);
}

TEST(spec_namespace_id)
{
	char id[64];
	json_t *spec = J("{\"windows\":{\"network\":{\"networkNamespace\":\"AB-Cd\"}}}");
	network_spec_namespace_id(spec, id, sizeof(id));
	EXPECT_STREQ(id, "ab-cd");
	json_decref(spec);
	spec = J("{\"windows\":{\"network\":{}}}");
	network_spec_namespace_id(spec, id, sizeof(id));
	EXPECT_STREQ(id, "");
	json_decref(spec);
	network_spec_namespace_id(NULL, id, sizeof(id));
	EXPECT_STREQ(id, "");
}

/* A file tree standing in for /sys. */
static void mk(const char *root, const char *rel)
{
	char path[PATH_MAX], cmd[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	if (system(cmd) != 0)
		TAP_DIAG("mkdir -p %s failed", path);
}

TEST(sysfs_ifname_vmbus_and_vpci_as_hcsshim_finds_them)
{
	char root[] = "/tmp/lcow-net-sysfs.XXXXXX";
	ASSERT_TRUE(mkdtemp(root) != NULL);
	const char *id = "aaaaaaaa-0000-4000-8000-000000000001";
	const char *vp = "bbbbbbbb-0000-4000-8000-000000000002";
	mk(root, "bus/vmbus/devices/aaaaaaaa-0000-4000-8000-000000000001/net/eth3");
	/* A VPCI NIC: the vmbus device holds PCI bus 7870:00, the NIC is its
	 * function 7870:00:00.0 (Hyper-V's SR-IOV / accelerated networking). */
	mk(root, "bus/vmbus/devices/bbbbbbbb-0000-4000-8000-000000000002/pci7870:00/7870:00:00.0/net/eth4");
	char name[IF_NAMESIZE];
	struct error err = { 0 };
	ASSERT_EQ(network_sysfs_ifname(root, id, false, name, sizeof(name), &err), 0);
	EXPECT_STREQ(name, "eth3");
	ASSERT_EQ(network_sysfs_ifname(root, vp, true, name, sizeof(name), &err), 0);
	EXPECT_STREQ(name, "eth4");
	/* Looked for the wrong way: not there. */
	EXPECT_EQ(network_sysfs_ifname(root, vp, false, name, sizeof(name), &err), -ENODEV);
	EXPECT_EQ(network_sysfs_ifname(root, id, true, name, sizeof(name), &err), -ENODEV);
	EXPECT_TRUE(strstr(err.msg, "no PCI bus") != NULL);
	EXPECT_EQ(network_sysfs_ifname(root, "cccccccc-0000-4000-8000-000000000003", false, name,
				       sizeof(name), &err), -ENODEV);
	/* Two names under one device: refused, as hcsshim does. */
	mk(root, "bus/vmbus/devices/aaaaaaaa-0000-4000-8000-000000000001/net/eth5");
	EXPECT_EQ(network_sysfs_ifname(root, id, false, name, sizeof(name), &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "multiple interface names") != NULL);
	/* Ids that would leave the tree. */
	EXPECT_EQ(network_sysfs_ifname(root, "../x", false, name, sizeof(name), &err), -EINVAL);
	EXPECT_EQ(network_sysfs_ifname(root, "", true, name, sizeof(name), &err), -EINVAL);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	EXPECT_EQ(system(cmd), 0);
}

/* --- DHCP --------------------------------------------------------------- */

static const uint8_t MAC1[6] = { 0x02, 0x00, 0x00, 0x00, 0xdc, 0x01 };

static uint32_t A(const char *dotted)
{
	return inet_addr(dotted);
}

/* A server's answer to (xid, mac): type, then options as given. */
static size_t reply(uint8_t *b, uint32_t xid, const uint8_t mac[6], int type, uint32_t yiaddr,
		    const uint8_t *opts, size_t n_opts)
{
	memset(b, 0, 600);
	b[0] = 2;
	b[1] = 1;
	b[2] = 6;
	b[4] = (uint8_t)(xid >> 24);
	b[5] = (uint8_t)(xid >> 16);
	b[6] = (uint8_t)(xid >> 8);
	b[7] = (uint8_t)xid;
	memcpy(b + 16, &yiaddr, 4);
	memcpy(b + 28, mac, 6);
	static const uint8_t cookie[4] = { 99, 130, 83, 99 };
	memcpy(b + 236, cookie, 4);
	size_t i = 240;
	b[i++] = 53;
	b[i++] = 1;
	b[i++] = (uint8_t)type;
	if (n_opts)
		memcpy(b + i, opts, n_opts);
	i += n_opts;
	b[i++] = 255;
	return i;
}

/* Options of a good offer from 192.0.2.1: mask /24, router, two DNS
 * servers, a domain, a lease, an MTU (1400, below the veth's 1500). */
static const uint8_t GOOD[] = { 54, 4, 192, 0, 2, 1, 1, 4, 255, 255, 255, 0, 3, 8, 192, 0, 2, 1,
				192, 0, 2, 254, 6, 8, 192, 0, 2, 53, 198, 51, 100, 53, 15, 9,
				'l', 'c', 'o', 'w', '.', 't', 'e', 's', 't', 51, 4, 0, 0, 14,
				16, 26, 2, 5, 120 };

TEST(dhcp_discover_and_request_bytes)
{
	uint8_t b[DHCP_MSG_MAX];
	size_t n = dhcp_build(b, DHCP_DISCOVER, 0x11223344, MAC1, 0, 0);
	EXPECT_EQ(n, 300u);	/* BOOTP's minimum, padded */
	EXPECT_EQ(b[0], 1);	/* BOOTREQUEST */
	EXPECT_EQ(b[1], 1);
	EXPECT_EQ(b[2], 6);
	EXPECT_EQ(b[4], 0x11);
	EXPECT_EQ(b[7], 0x44);
	EXPECT_EQ(b[10], 0x80);	/* BROADCAST: the server must answer to all */
	EXPECT_EQ(memcmp(b + 28, MAC1, 6), 0);
	const uint8_t cookie_type[] = { 99, 130, 83, 99, 53, 1, DHCP_DISCOVER, 61, 7, 1 };
	EXPECT_EQ(memcmp(b + 236, cookie_type, sizeof(cookie_type)), 0);
	/* No requested address or server id in a DISCOVER. */
	EXPECT_TRUE(memchr(b + 240, 50, 20) == NULL);
	n = dhcp_build(b, DHCP_REQUEST, 7, MAC1, A("192.0.2.50"), A("192.0.2.1"));
	EXPECT_EQ(b[242], DHCP_REQUEST);
	const uint8_t req[] = { 50, 4, 192, 0, 2, 50, 54, 4, 192, 0, 2, 1 };
	EXPECT_TRUE(memmem(b + 240, n - 240, req, sizeof(req)) != NULL);
}

TEST(dhcp_parse_offer_ack_nak)
{
	uint8_t b[600];
	struct dhcp_reply r;
	size_t n = reply(b, 9, MAC1, DHCP_OFFER, A("192.0.2.50"), GOOD, sizeof(GOOD));
	ASSERT_EQ(dhcp_parse(b, n, 9, MAC1, &r), 0);
	EXPECT_EQ(r.type, DHCP_OFFER);
	EXPECT_EQ(r.yiaddr, A("192.0.2.50"));
	EXPECT_EQ(r.server_id, A("192.0.2.1"));
	EXPECT_EQ(dhcp_prefix_len(r.netmask), 24);
	EXPECT_EQ(r.router, A("192.0.2.1"));	/* the first of two */
	ASSERT_EQ(r.n_dns, 2u);
	EXPECT_EQ(r.dns[1], A("198.51.100.53"));
	EXPECT_STREQ(r.domain, "lcow.test");
	EXPECT_EQ(r.lease_s, 3600u);
	EXPECT_EQ(r.mtu, 1400);
	n = reply(b, 9, MAC1, DHCP_NAK, 0, NULL, 0);
	ASSERT_EQ(dhcp_parse(b, n, 9, MAC1, &r), 0);
	EXPECT_EQ(r.type, DHCP_NAK);
	/* Someone else's: another transaction, another MAC. */
	n = reply(b, 9, MAC1, DHCP_ACK, A("192.0.2.50"), GOOD, sizeof(GOOD));
	EXPECT_EQ(dhcp_parse(b, n, 10, MAC1, &r), -EINVAL);
	const uint8_t other[6] = { 2, 0, 0, 0, 0, 9 };
	EXPECT_EQ(dhcp_parse(b, n, 9, other, &r), -EINVAL);
	/* A request echoed back is not for a client. */
	n = reply(b, 9, MAC1, DHCP_REQUEST, A("192.0.2.50"), GOOD, sizeof(GOOD));
	EXPECT_EQ(dhcp_parse(b, n, 9, MAC1, &r), -ENOMSG);
}

TEST(dhcp_parse_refuses_malformed_and_unusable)
{
	uint8_t b[600];
	struct dhcp_reply r;
	size_t n = reply(b, 1, MAC1, DHCP_OFFER, A("192.0.2.50"), GOOD, sizeof(GOOD));
	EXPECT_EQ(dhcp_parse(b, 239, 1, MAC1, &r), -EINVAL);	/* no cookie */
	/* An option running past the end. */
	EXPECT_EQ(dhcp_parse(b, 250, 1, MAC1, &r), -EINVAL);
	b[236] = 0;
	EXPECT_EQ(dhcp_parse(b, n, 1, MAC1, &r), -EINVAL);	/* bad cookie */
	static const struct {
		const char *why;
		uint32_t yiaddr;
		uint8_t opts[16];
		size_t n;
	} bad[] = {
		{ "no server id", 0x3202000a, { 1, 4, 255, 255, 255, 0 }, 6 },
		{ "zero address", 0, { 54, 4, 192, 0, 2, 1 }, 6 },
		{ "broadcast address", 0xffffffff, { 54, 4, 192, 0, 2, 1 }, 6 },
		{ "multicast address", 0x010000e0, { 54, 4, 192, 0, 2, 1 }, 6 },
		{ "holey mask", 0x3202000a, { 54, 4, 192, 0, 2, 1, 1, 4, 255, 0, 255, 0 }, 12 },
		{ "short router", 0x3202000a, { 54, 4, 192, 0, 2, 1, 3, 3, 1, 2, 3 }, 11 },
		{ "blank in domain", 0x3202000a, { 54, 4, 192, 0, 2, 1, 15, 3, 'a', ' ', 'b' }, 11 },
		{ "long type", 0x3202000a, { 53, 2, 2, 2 }, 4 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = reply(b, 1, MAC1, DHCP_OFFER, bad[i].yiaddr, bad[i].opts, bad[i].n);
		if (dhcp_parse(b, n, 1, MAC1, &r) != -EINVAL)
			TAP_DIAG("accepted: %s", bad[i].why);
		EXPECT_EQ(dhcp_parse(b, n, 1, MAC1, &r), -EINVAL);
	}
	/* No type at all. */
	memset(b + 240, 0, 8);
	b[248] = 255;
	EXPECT_EQ(dhcp_parse(b, 249, 1, MAC1, &r), -EINVAL);
	EXPECT_EQ(dhcp_prefix_len(A("255.255.255.255")), 32);
	EXPECT_EQ(dhcp_prefix_len(A("255.255.240.0")), 20);
	EXPECT_EQ(dhcp_prefix_len(0), 0);
	EXPECT_EQ(dhcp_prefix_len(A("255.0.255.0")), -1);
}

/* The kernel part: the client's interface (lcowdh1, MAC1) in this test's
 * namespace, its peer lcowdh0 in a child's namespace where a DHCP server
 * answers (192.0.2.1, handing out 192.0.2.50/24), when serve is true. */
static int sh(const char *cmd)
{
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static uint8_t opt_type(const uint8_t *b, size_t n)
{
	for (size_t i = 240; i + 2 < n && b[i] != 255; i += b[i] ? 2u + b[i + 1] : 1u)
		if (b[i] == 53)
			return b[i + 2];
	return 0;
}

static void __attribute__((noreturn)) serve(int answers)
{
	alarm(20);
	if (sh("ip addr add 192.0.2.1/24 dev lcowdh0 && ip link set lcowdh0 up") != 0)
		_exit(2);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(67) };
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lcowdh0", 8) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0)
		_exit(3);
	for (int done = 0; done < answers;) {
		uint8_t in[1500], out[600];
		ssize_t n = recv(fd, in, sizeof(in), 0);
		if (n < 240 || in[0] != 1)
			continue;
		uint32_t xid = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
		uint8_t t = opt_type(in, (size_t)n);
		int type = t == DHCP_DISCOVER ? DHCP_OFFER : t == DHCP_REQUEST ? DHCP_ACK : 0;
		if (!type)
			continue;
		size_t len = reply(out, xid, in + 28, type, A("192.0.2.50"), GOOD, sizeof(GOOD));
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(68),
					  .sin_addr.s_addr = htonl(INADDR_BROADCAST) };
		if (sendto(fd, out, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			_exit(4);
		done += type == DHCP_ACK;
	}
	_exit(0);
}

/* Make the pair; with answers > 0 start the server (its pid), else 0. */
static pid_t veth_and_server(int answers)
{
	if (sh("command -v ip >/dev/null") != 0) {
		TAP_DIAG("no ip(8): DHCP kernel part skipped");
		return -1;
	}
	if (sh("ip link add lcowdh1 address 02:00:00:00:dc:01 type veth peer name lcowdh0") != 0) {
		TAP_DIAG("ip link add ... type veth failed: DHCP kernel part skipped");
		return -1;
	}
	/* Two pipes: the child says it has its namespace, the parent says the
	 * peer is in it. */
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		/* Gone with the test, even one a failed check ends early. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(30);
		if (unshare(CLONE_NEWNET) < 0 || write(up[1], "u", 1) != 1 ||
		    read(down[0], &c, 1) != 1)
			_exit(1);
		if (answers > 0)
			serve(answers);
		pause();
		_exit(0);
	}
	char c, cmd[96];
	close(up[1]);
	close(down[0]);
	bool ok = read(up[0], &c, 1) == 1;
	snprintf(cmd, sizeof(cmd), "ip link set lcowdh0 netns %d", (int)pid);
	ok = ok && sh(cmd) == 0 && write(down[1], "g", 1) == 1;
	close(up[0]);
	close(down[1]);
	if (!ok) {
		TAP_DIAG("moving the veth peer to the server's namespace failed: skipped");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

struct done {
	bool called;
	int r;
	char msg[sizeof(((struct error *)0)->msg)];
};

static void on_done(void *arg, int r, const struct error *err)
{
	struct done *d = arg;
	d->called = true;
	d->r = r;
	snprintf(d->msg, sizeof(d->msg), "%s", r < 0 && err ? err->msg : "");
}

static void run_until(struct loop *l, const bool *flag, int seconds)
{
	struct error err = { 0 };
	time_t end = time(NULL) + seconds;
	while (!*flag && time(NULL) < end)
		loop_run_once(l, 100, &err);
}

/* The DHCP kernel tests' bench: a private namespace, the veth pair with
 * a server answering `answers` exchanges (0: a silent peer), a loop and a
 * network registry on it (g->net NULL: that failed).  False: skipped, said
 * why. */
struct rig {
	pid_t peer;
	struct loop l;
	struct network *net;
};

static bool rig_up(struct rig *g, int answers)
{
	struct error err = { 0 };
	g->net = NULL;
	if (!private_netns() || (g->peer = veth_and_server(answers)) < 0)
		return false;
	if (loop_init(&g->l, &err) == 0 && network_new(&g->l, &g->net, &err) < 0)
		loop_fini(&g->l);
	if (!g->net)
		TAP_DIAG("rig: %s", err.msg);
	return true;
}

static void rig_down(struct rig *g)
{
	network_free(g->net);
	loop_fini(&g->l);
	if (g->peer > 0) {
		kill(g->peer, SIGKILL);
		waitpid(g->peer, NULL, 0);
	}
}

TEST(kernel_dhcp_lease_configures_the_adapter_and_resolv_conf)
{
	struct rig g;
	if (!rig_up(&g, 1))
		return;
	ASSERT_TRUE(g.net != NULL);
	struct network *net = g.net;
	struct error err = { 0 };
	int fd = -1;
	ASSERT_EQ(network_create_netns(&fd, &err), 0);
	ASSERT_EQ(network_attach(net, "ns-d", fd, &err), 0);
	/* An adapter with no IP configuration: DHCP, and the Add waits. */
	json_t *s = J("{\"NamespaceID\":\"ns-d\",\"ID\":\"nic-d\",\"MacAddress\":\"02-00-00-00-DC-01\"}");
	struct network_op *op = NULL;
	struct done d = { 0 };
	ASSERT_EQ(network_modify_async(net, true, s, on_done, &d, &op, &err), NETWORK_PENDING);
	json_decref(s);
	/* A container's init asks too, and waits alongside. */
	struct done d2 = { 0 };
	struct network_op *op2 = NULL;
	ASSERT_EQ(network_wait_ready(net, "ns-d", on_done, &d2, &op2, &err), NETWORK_PENDING);
	run_until(&g.l, &d2.called, 15);
	ASSERT_TRUE(d.called && d2.called);
	EXPECT_EQ(d.r, 0);
	EXPECT_EQ(d2.r, 0);
	if (d.r)
		TAP_DIAG("%s", d.msg);
	/* Routed out of the namespace from the leased address. */
	int u = netns_socket(fd, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, &err);
	ASSERT_GE(u, 0);
	struct sockaddr_in far = { .sin_family = AF_INET, .sin_port = htons(53),
				   .sin_addr.s_addr = A("203.0.113.9") }, me;
	socklen_t ml = sizeof(me);
	EXPECT_EQ(connect(u, (struct sockaddr *)&far, sizeof(far)), 0);	/* a default route */
	ASSERT_EQ(getsockname(u, (struct sockaddr *)&me, &ml), 0);
	EXPECT_EQ(me.sin_addr.s_addr, A("192.0.2.50"));
	close(u);
	/* The lease's MTU, lower than the link's, is applied. */
	struct nl in = { .fd = -1 };
	struct nl_link link = { 0 };
	ASSERT_EQ(nl_open_in_netns(&in, fd, &err), 0);
	EXPECT_EQ(nl_link_by_name(&in, "lcowdh1", &link, &err), 0);
	EXPECT_EQ(link.mtu, 1400);
	nl_close(&in);
	char *resolv = NULL;
	ASSERT_EQ(network_resolv_conf(net, "ns-d", &resolv, &err), 0);
	EXPECT_STREQ(resolv, "search lcow.test\nnameserver 192.0.2.53\nnameserver 198.51.100.53\n");
	free(resolv);
	/* Done: a later wait answers at once. */
	EXPECT_EQ(network_wait_ready(net, "ns-d", on_done, &d2, &op2, &err), 0);
	int st;
	EXPECT_EQ(waitpid(g.peer, &st, 0), g.peer);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	g.peer = -1;
	network_detach(net, "ns-d");
	close(fd);
	rig_down(&g);
}

TEST(kernel_dhcp_in_flight_when_the_container_goes_fails_its_waiters)
{
	struct rig g;
	if (!rig_up(&g, 0))	/* nobody answers */
		return;
	ASSERT_TRUE(g.net != NULL);
	struct network *net = g.net;
	struct error err = { 0 };
	json_t *s = J("{\"NamespaceID\":\"ns-g\",\"ID\":\"nic-g\",\"MacAddress\":\"02-00-00-00-DC-01\"}");
	/* Added before the container exists: nothing to wait for yet. */
	struct network_op *op = NULL;
	struct done d = { 0 };
	ASSERT_EQ(network_modify_async(net, true, s, on_done, &d, &op, &err), 0);
	json_decref(s);
	int fd = -1;
	ASSERT_EQ(network_create_netns(&fd, &err), 0);
	ASSERT_EQ(network_attach(net, "ns-g", fd, &err), 0);
	ASSERT_EQ(network_wait_ready(net, "ns-g", on_done, &d, &op, &err), NETWORK_PENDING);
	/* A second wait, cancelled by its requester: never answered. */
	struct done d2 = { 0 };
	struct network_op *op2 = NULL;
	ASSERT_EQ(network_wait_ready(net, "ns-g", on_done, &d2, &op2, &err), NETWORK_PENDING);
	EXPECT_TRUE(network_op_forget(net, op2));
	loop_run_once(&g.l, 200, &err);
	EXPECT_FALSE(d.called);
	/* The container is deleted before any lease: its init's wait ends. */
	network_detach(net, "ns-g");
	ASSERT_TRUE(d.called);
	EXPECT_EQ(d.r, -ECANCELED);
	EXPECT_TRUE(strstr(d.msg, "network namespace is gone") != NULL);
	EXPECT_FALSE(d2.called);
	close(fd);
	rig_down(&g);
}

static void on_lease(void *arg, int r, const struct dhcp_reply *lease, const struct error *err)
{
	struct done *d = arg;
	(void)lease;
	on_done(d, r, err);
}

TEST(kernel_dhcp_without_a_server_times_out_with_a_clear_error)
{
	struct rig g;
	if (!rig_up(&g, 0))	/* the peer's end, nobody serving */
		return;
	ASSERT_TRUE(g.net != NULL);
	struct error err = { 0 };
	ASSERT_EQ(sh("ip link set lcowdh1 up"), 0);
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct dhcp_client *c = NULL;
	struct done d = { 0 };
	ASSERT_EQ(dhcp_start(&g.l, self, "lcowdh1", MAC1, 1500, on_lease, &d, &c, &err), 0);
	run_until(&g.l, &d.called, 10);
	ASSERT_TRUE(d.called);
	EXPECT_EQ(d.r, -ETIMEDOUT);
	EXPECT_TRUE(strstr(d.msg, "no DHCP lease on lcowdh1 in 1 s (no offer)") != NULL);
	if (!strstr(d.msg, "no offer"))
		TAP_DIAG("%s", d.msg);
	dhcp_stop(c);
	/* An interface that is not there: an error at once. */
	EXPECT_EQ(dhcp_start(&g.l, self, "lcowdh9", MAC1, 1500, on_lease, &d, &c, &err), -ENODEV);
	close(self);
	rig_down(&g);
}

TAP_MAIN()
