/* SPDX-License-Identifier: MIT */
/* Adapter settings (every shape hcsshim has sent), resolv.conf, rtnetlink
 * message encoding, and the socket layer against the real kernel in a
 * private network namespace (skipped where unshare is not allowed). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "lcow/tap.h"
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

TAP_MAIN()
