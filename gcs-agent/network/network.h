/* SPDX-License-Identifier: MIT */
/*
 * Container networking: ModifySettings "Network" (hcsshim's
 * guestresource.LCOWNetworkAdapter) and the network namespaces adapters
 * belong to, as hcsshim's hcsv2/network.go keeps them.
 *
 * The host adds adapters to a namespace id (HNS's namespace GUID) before or
 * after the container that uses it starts; a container names its namespace
 * id in its OCI spec (windows.network.networkNamespace).  Once the
 * container's init runs in its own network namespace, every adapter of
 * that id is moved into it and configured there (addresses, routes, MTU,
 * link up) over rtnetlink; adapters added later follow at once.
 *
 * An adapter without IP configuration gets its address from DHCP, as
 * hcsshim's guest asks udhcpc (dhcp.c; the init waits for the lease).
 *
 * Files: adapter.c (the settings, pure), netlink.c (rtnetlink), dhcp.c
 * (DHCPv4 over a UDP socket), network.c (the registry and the
 * configuration).
 */
#ifndef GCS_NETWORK_H
#define GCS_NETWORK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"
#include "netlink.h"

#define NET_MAX_IPS 8
#define NET_MAX_ROUTES 16

struct net_ip {
	struct nl_addr addr;
	unsigned prefix_len;
};

struct net_route {
	int family;
	struct nl_addr dst;		/* family 0: default route */
	unsigned dst_len;
	struct nl_addr gw;		/* family 0: on-link */
	uint32_t metric;
};

/* One adapter's settings, from any of the shapes hcsshim has sent. */
struct net_adapter {
	char namespace_id[64];		/* lower case, as hcsshim keys them */
	char id[64];			/* the vmbus instance id (lower case) */
	uint8_t mac[6];
	bool has_mac;
	char dns_suffix[256];		/* comma-separated search list */
	char dns_servers[256];		/* comma-separated */
	uint16_t encap_overhead;	/* MTU = the link's MTU - this */
	bool enable_low_metric;
	bool policy_based_routing;
	bool vpci_assigned;
	struct net_ip ips[NET_MAX_IPS];
	size_t n_ips;
	struct net_route routes[NET_MAX_ROUTES];
	size_t n_routes;
};

/* Settings -> adapter.  Accepts hcsshim's current shape (IPConfigs,
 * Routes), the one before it (IPAddress, PrefixLength, GatewayAddress and
 * the IPv6 equivalents) and prot.NetworkAdapter's names (AdapterInstanceId,
 * AllocatedIpAddress, HostIpAddress, HostIpPrefixLength, HostDnsServerList,
 * HostDnsSuffix, ...).  The older shapes become IPConfigs plus a default
 * route through the gateway, as hcsshim's guest configured them.
 * Errors: -EBADMSG (JSON types) or -EINVAL (values). */
int net_adapter_parse(const json_t *settings, struct net_adapter *a, struct error *err);

/* An adapter's interface name from sysfs (sysfs: "/sys", or a test's
 * tree): the one entry of bus/vmbus/devices/<id>/net/, or, VPCI-assigned,
 * of .../<id>/pciDDDD:BB/DDDD:BB<function>/net/ (hcsshim's InstanceIDToName).
 * -ENODEV: not there (yet); -EINVAL: several, or a bad id. */
int network_sysfs_ifname(const char *sysfs, const char *vmbus_id, bool vpci, char *ifname,
			 size_t len, struct error *err);

/* resolv.conf text for adapters (searches then servers, duplicates
 * dropped, hcsshim's GenerateResolvConfContent): malloc'd in *out. */
int net_resolv_conf(const struct net_adapter *const *adapters, size_t n, char **out,
		    struct error *err);

struct network;
struct network_op;
struct loop;

/* loop: where an Add waits for its device (NULL: it fails at once). */
int network_new(struct loop *loop, struct network **out, struct error *err);
void network_free(struct network *net);

/* ModifySettings Network, Add or Remove. */
int network_add_adapter(struct network *net, const struct net_adapter *a, struct error *err);
int network_remove_adapter(struct network *net, const char *namespace_id, const char *id,
			   struct error *err);
int network_modify(struct network *net, bool add, const json_t *settings, struct error *err);
/* The same, but an Add whose interface is not there yet waits for it (up to
 * 5 s, as hcsshim): returns 0 (done), < 0 (failed) or NETWORK_PENDING,
 * and then fn(arg, r, err) runs once from the loop unless
 * network_op_forget() comes first. */
#define NETWORK_PENDING 1
typedef void (*network_done_fn)(void *arg, int r, const struct error *err);
int network_modify_async(struct network *net, bool add, const json_t *settings,
			 network_done_fn fn, void *arg, struct network_op **op, struct error *err);
/* true when op was one of net's pending Adds or waits (now cancelled). */
bool network_op_forget(struct network *net, void *op);

/* An adapter added without IP configuration asks DHCP (dhcp.h) once it is
 * in its namespace; an Add to a namespace in use is answered with the
 * lease.  A container's init waits for its namespace's exchanges: 0 (none
 * running; or < 0, the error of one that failed) or NETWORK_PENDING, and
 * then fn(arg, r, err) runs once from the loop unless network_op_forget()
 * comes first.  Unknown or empty namespace ids: 0. */
int network_wait_ready(struct network *net, const char *namespace_id, network_done_fn fn,
		       void *arg, struct network_op **op, struct error *err);

/* A container's network namespace id (its spec's
 * windows.network.networkNamespace), lower-cased into out; "" if none. */
void network_spec_namespace_id(const json_t *spec, char *out, size_t len);

/* The resolv.conf for namespace_id (empty text for an unknown id). */
int network_resolv_conf(struct network *net, const char *namespace_id, char **out,
			struct error *err);

/* A container's init runs in a new network namespace (netns_fd, not
 * kept): bring lo up and, with a namespace id, move and configure its
 * adapters there; adapters added later go there too. */
int network_attach(struct network *net, const char *namespace_id, int netns_fd,
		   struct error *err);
/* That container is gone: its namespace id forgets the namespace (the
 * kernel gives the adapters back to the VM's namespace). */
void network_detach(struct network *net, const char *namespace_id);

/* A new network namespace (the caller stays in its own): *out is an fd
 * for it. */
int network_create_netns(int *out, struct error *err);

/* Bring lo up in a network namespace. */
int network_loopback_up(int netns_fd, struct error *err);

#endif
