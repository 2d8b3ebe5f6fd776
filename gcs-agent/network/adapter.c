/* SPDX-License-Identifier: MIT */
/*
 * LCOWNetworkAdapter settings: parsing and resolv.conf.  Pure.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lcow/cleanup.h"
#include "network.h"
#include "protocol/json.h"

/* hcsshim routes with these mean "no gateway on this interface". */
static bool is_any(const struct nl_addr *a)
{
	for (size_t i = 0; i < nl_addr_len(a); i++)
		if (a->bytes[i])
			return false;
	return true;
}

static void lower_copy(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < len; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static int copy_field(const json_t *obj, const char *name, const char *alt, char *dst, size_t len,
		      bool lower, struct error *err)
{
	const char *s = NULL;
	int r = jf_string(obj, name, &s, err);
	if (r < 0)
		return r;
	if ((!s || !*s) && alt && (r = jf_string(obj, alt, &s, err)) < 0)
		return r;
	if (!s)
		s = "";
	if (strlen(s) >= len)
		return error_setx(err, EINVAL, "%s is too long (%zu bytes)", name, strlen(s));
	if (lower)
		lower_copy(dst, len, s);
	else
		snprintf(dst, len, "%s", s);
	return 0;
}

static int add_ip(struct net_adapter *a, const char *what, const char *text, unsigned prefix,
		  struct error *err)
{
	struct net_ip ip;
	if (nl_addr_parse(text, &ip.addr) < 0)
		return error_setx(err, EINVAL, "%s: invalid IP address `%s`", what, text);
	if (prefix > nl_addr_len(&ip.addr) * 8 || prefix == 0)
		return error_setx(err, EINVAL, "%s: invalid prefix length %u for %s", what, prefix, text);
	if (a->n_ips == NET_MAX_IPS)
		return error_setx(err, E2BIG, "more than %d IP addresses", NET_MAX_IPS);
	ip.prefix_len = prefix;
	a->ips[a->n_ips++] = ip;
	return 0;
}

static int add_route(struct net_adapter *a, const struct net_route *rt, struct error *err)
{
	if (a->n_routes == NET_MAX_ROUTES)
		return error_setx(err, E2BIG, "more than %d routes", NET_MAX_ROUTES);
	a->routes[a->n_routes++] = *rt;
	return 0;
}

/* The pre-2025 shapes: one address per family and a gateway, which
 * hcsshim's guest turned into a default route with metric 1 (500 for a
 * low-metric adapter). */
static int legacy_family(const json_t *s, struct net_adapter *a, const char *ip_name,
			 const char *ip_alt, const char *len_name, const char *len_alt,
			 const char *gw_name, const char *gw_alt, struct error *err)
{
	char ip[64] = "", gw[64] = "";
	uint8_t len = 0;
	int r;
	if ((r = copy_field(s, ip_name, ip_alt, ip, sizeof(ip), false, err)) < 0 ||
	    (r = copy_field(s, gw_name, gw_alt, gw, sizeof(gw), false, err)) < 0 ||
	    (r = jf_u8(s, len_name, &len, err)) < 0)
		return r;
	if (!len && (r = jf_u8(s, len_alt, &len, err)) < 0)
		return r;
	if (!*ip)
		return 0;
	if ((r = add_ip(a, ip_name, ip, len, err)) < 0)
		return r;
	if (!*gw)
		return 0;
	struct net_route rt = { .family = a->ips[a->n_ips - 1].addr.family };
	if (nl_addr_parse(gw, &rt.gw) < 0 || rt.gw.family != rt.family)
		return error_setx(err, EINVAL, "%s: invalid gateway address `%s`", gw_name, gw);
	rt.metric = a->enable_low_metric ? 500 : 1;
	return add_route(a, &rt, err);
}

static int parse_prefix(const char *text, struct nl_addr *addr, unsigned *len)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	if (!slash || (size_t)(slash - text) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, (size_t)(slash - text));
	buf[slash - text] = '\0';
	if (nl_addr_parse(buf, addr) < 0)
		return -EINVAL;
	char *end;
	unsigned long l = strtoul(slash + 1, &end, 10);
	if (!slash[1] || *end || l > nl_addr_len(addr) * 8)
		return -EINVAL;
	*len = (unsigned)l;
	return 0;
}

int net_adapter_parse(const json_t *s, struct net_adapter *a, struct error *err)
{
	int r;
	memset(a, 0, sizeof(*a));
	if (!json_is_object(s))
		return error_setx(err, EBADMSG, "the Network settings are %s, not an object",
				  jf_type_name(s));
	char mac[64] = "";
	if ((r = copy_field(s, "NamespaceID", NULL, a->namespace_id, sizeof(a->namespace_id), true,
			    err)) < 0 ||
	    (r = copy_field(s, "ID", "AdapterInstanceId", a->id, sizeof(a->id), true, err)) < 0 ||
	    (r = copy_field(s, "MacAddress", NULL, mac, sizeof(mac), false, err)) < 0 ||
	    (r = copy_field(s, "DNSSuffix", "HostDnsSuffix", a->dns_suffix, sizeof(a->dns_suffix),
			    false, err)) < 0 ||
	    (r = copy_field(s, "DNSServerList", "HostDnsServerList", a->dns_servers,
			    sizeof(a->dns_servers), false, err)) < 0 ||
	    (r = jf_u16(s, "EncapOverhead", &a->encap_overhead, err)) < 0 ||
	    (r = jf_bool(s, "EnableLowMetric", &a->enable_low_metric, err)) < 0 ||
	    (r = jf_bool(s, "PolicyBasedRouting", &a->policy_based_routing, err)) < 0 ||
	    (r = jf_bool(s, "VPCIAssigned", &a->vpci_assigned, err)) < 0)
		return r;
	if (*mac) {
		if (nl_mac_parse(mac, a->mac) < 0)
			return error_setx(err, EINVAL, "invalid MacAddress `%s`", mac);
		a->has_mac = true;
	}
	if (!*a->id && !a->has_mac)
		return error_setx(err, EINVAL, "the adapter has neither an ID nor a MacAddress");

	json_t *ipcs = NULL, *routes = NULL;
	if ((r = jf_array(s, "IPConfigs", &ipcs, err)) < 0 || (r = jf_array(s, "Routes", &routes, err)) < 0)
		return r;
	size_t i;
	json_t *v;
	json_array_foreach(ipcs, i, v)
	{
		char what[32];
		const char *ip = NULL;
		uint8_t len = 0;
		snprintf(what, sizeof(what), "IPConfigs[%zu]", i);
		if (!json_is_object(v))
			return error_setx(err, EBADMSG, "%s is not an object", what);
		if ((r = jf_string(v, "IPAddress", &ip, err)) < 0 ||
		    (r = jf_u8(v, "PrefixLength", &len, err)) < 0)
			return error_prefix(err, r, "%s", what);
		if ((r = add_ip(a, what, ip ? ip : "", len, err)) < 0)
			return r;
	}
	json_array_foreach(routes, i, v)
	{
		const char *dst = NULL, *hop = NULL;
		uint16_t metric = 0;
		if (!json_is_object(v))
			return error_setx(err, EBADMSG, "Routes[%zu] is not an object", i);
		if ((r = jf_string(v, "DestinationPrefix", &dst, err)) < 0 ||
		    (r = jf_string(v, "NextHop", &hop, err)) < 0 ||
		    (r = jf_u16(v, "Metric", &metric, err)) < 0)
			return error_prefix(err, r, "Routes[%zu]", i);
		struct net_route rt = { .metric = metric };
		if (dst && *dst && parse_prefix(dst, &rt.dst, &rt.dst_len) < 0)
			return error_setx(err, EINVAL, "Routes[%zu]: invalid DestinationPrefix `%s`", i, dst);
		if (hop && *hop && nl_addr_parse(hop, &rt.gw) < 0)
			return error_setx(err, EINVAL, "Routes[%zu]: invalid NextHop `%s`", i, hop);
		if (rt.dst.family && rt.gw.family && rt.dst.family != rt.gw.family)
			return error_setx(err, EINVAL, "Routes[%zu]: %s via %s mixes address families", i,
					  dst, hop);
		rt.family = rt.dst.family ? rt.dst.family : rt.gw.family;
		if (!rt.family)
			return error_setx(err, EINVAL, "Routes[%zu] has neither a destination nor a next hop", i);
		/* hcsshim: a default route via 0.0.0.0 / :: is "no gateway". */
		if (rt.dst_len == 0 && (!rt.gw.family || is_any(&rt.gw)))
			continue;
		if (rt.gw.family && is_any(&rt.gw))
			rt.gw.family = 0;
		if (rt.dst_len == 0)
			rt.dst.family = 0;
		if (a->enable_low_metric && rt.metric == 0)
			rt.metric = 500;
		if ((r = add_route(a, &rt, err)) < 0)
			return r;
	}
	if (!ipcs && !routes) {
		if ((r = legacy_family(s, a, "IPAddress", "AllocatedIpAddress", "PrefixLength",
				       "HostIpPrefixLength", "GatewayAddress", "HostIpAddress", err)) < 0 ||
		    (r = legacy_family(s, a, "IPv6Address", "AllocatedIpv6Address", "IPv6PrefixLength",
				       "HostIpv6PrefixLength", "IPv6GatewayAddress", "HostIpv6Address",
				       err)) < 0)
			return r;
	}
	return 0;
}

/* Append the comma-separated items of list to v (trimmed, lower-cased,
 * without duplicates). */
static int split_unique(const char *list, char (*v)[256], size_t *n, size_t max)
{
	const char *p = list;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && isspace((unsigned char)*p))
			p++, len--;
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (len >= 256)
			return -EINVAL;
		if (len) {
			char item[256];
			for (size_t i = 0; i < len; i++)
				item[i] = (char)tolower((unsigned char)p[i]);
			item[len] = '\0';
			bool dup = false;
			for (size_t i = 0; i < *n && !dup; i++)
				dup = strcmp(v[i], item) == 0;
			if (!dup) {
				if (*n == max)
					return -E2BIG;
				memcpy(v[(*n)++], item, len + 1);
			}
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

#define RESOLV_MAX_SEARCHES 6	/* man 5 resolv.conf, as hcsshim checks */

int net_resolv_conf(const struct net_adapter *const *adapters, size_t n, char **out,
		    struct error *err)
{
	char searches[RESOLV_MAX_SEARCHES + 1][256], servers[32][256];
	size_t ns = 0, nv = 0;
	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		int r = split_unique(adapters[i]->dns_suffix, searches, &ns, RESOLV_MAX_SEARCHES + 1);
		if (r == -E2BIG || ns > RESOLV_MAX_SEARCHES)
			return error_setx(err, EINVAL, "searches has more than %d domains",
					  RESOLV_MAX_SEARCHES);
		if (r < 0)
			return error_setx(err, EINVAL, "invalid DNS search list `%s`",
					  adapters[i]->dns_suffix);
		if (split_unique(adapters[i]->dns_servers, servers, &nv, ARRAY_SIZE(servers)) < 0)
			return error_setx(err, EINVAL, "invalid DNS server list `%s`",
					  adapters[i]->dns_servers);
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return error_set(err, ENOMEM, "resolv.conf");
	if (ns) {
		fputs("search", f);
		for (size_t i = 0; i < ns; i++)
			fprintf(f, " %s", searches[i]);
		fputc('\n', f);
	}
	for (size_t i = 0; i < nv; i++)
		fprintf(f, "nameserver %s\n", servers[i]);
	if (fclose(f) != 0) {
		free(text);
		return error_set(err, ENOMEM, "resolv.conf");
	}
	*out = text;
	return 0;
}
