/* SPDX-License-Identifier: MIT */
/*
 * The namespace registry and the adapters' configuration (hcsshim's
 * hcsv2/network.go and guest/network/netns.go, over our own rtnetlink).
 */
#include "network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dhcp.h"
#include "lcow/cleanup.h"
#include "log.h"
#include "loop.h"
#include "protocol/json.h"

/* hcsshim's legacy policy-based routing: table 101, rule priority 5. */
#define LOW_METRIC_TABLE 101
#define LOW_METRIC_RULE_PRIORITY 5

struct net_ns;

struct net_nic {
	struct net_nic *next;
	struct net_ns *ns;
	struct net_adapter a;
	bool moved;			/* in the namespace's netns, configured */
	char ifname[16];		/* its name there */
	/* No IP configuration from the host: DHCP (dhcp.h). */
	struct dhcp_client *dhcp;	/* while the exchange runs */
	int dhcp_result;		/* < 0: no lease (dhcp_err says why) */
	struct error dhcp_err;
};

struct net_ns {
	struct net_ns *next;
	struct network *net;
	char id[64];
	int netns_fd;			/* -1 until a container is attached */
	struct net_nic *nics;		/* in the order they were added */
};

/* An Add waiting for its device (Hyper-V hot-adds the NIC as it sends
 * the request; hcsshim's guest waits up to 5 s for it). */
#define WAIT_STEP_MS 100
#define WAIT_STEPS 50

/* A request waiting: for its device to appear (WAIT_DEVICE), or for the
 * DHCP exchanges of a namespace to end (WAIT_READY). */
enum op_kind { WAIT_DEVICE, WAIT_READY };

struct network_op {
	struct network_op *next;
	struct network *net;
	enum op_kind kind;
	struct net_adapter a;		/* WAIT_DEVICE: the adapter to add */
	char ns_id[64];			/* WAIT_READY */
	struct loop_timer timer;
	unsigned steps;
	network_done_fn fn;
	void *arg;
};

struct network {
	struct net_ns *list;
	int root_netns_fd;		/* the VM's own */
	struct loop *loop;		/* NULL: no waiting for devices */
	struct network_op *ops;
};

int network_new(struct loop *loop, struct network **out, struct error *err)
{
	struct network *net = calloc(1, sizeof(*net));
	if (!net)
		return error_set(err, ENOMEM, "network");
	net->loop = loop;
	net->root_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (net->root_netns_fd < 0) {
		int e = errno;
		free(net);
		return error_set(err, e, "open /proc/self/ns/net");
	}
	*out = net;
	return 0;
}

static void free_nic(struct net_nic *n)
{
	dhcp_stop(n->dhcp);
	free(n);
}

static void free_ns(struct net_ns *ns)
{
	while (ns->nics) {
		struct net_nic *n = ns->nics;
		ns->nics = n->next;
		free_nic(n);
	}
	if (ns->netns_fd >= 0)
		close(ns->netns_fd);
	free(ns);
}

static void op_free(struct network_op *op)
{
	for (struct network_op **pp = &op->net->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	loop_timer_fini(&op->timer);
	free(op);
}

void network_free(struct network *net)
{
	if (!net)
		return;
	while (net->ops)
		op_free(net->ops);
	while (net->list) {
		struct net_ns *ns = net->list;
		net->list = ns->next;
		free_ns(ns);
	}
	close(net->root_netns_fd);
	free(net);
}

static struct net_ns *find_ns(struct network *net, const char *id)
{
	for (struct net_ns *ns = net->list; ns; ns = ns->next)
		if (strcmp(ns->id, id) == 0)
			return ns;
	return NULL;
}

static struct net_ns *get_ns(struct network *net, const char *id, struct error *err)
{
	struct net_ns *ns = find_ns(net, id);
	if (ns)
		return ns;
	ns = calloc(1, sizeof(*ns));
	if (!ns) {
		error_set(err, ENOMEM, "network namespace");
		return NULL;
	}
	snprintf(ns->id, sizeof(ns->id), "%s", id);
	ns->net = net;
	ns->netns_fd = -1;
	ns->next = net->list;
	net->list = ns;
	return ns;
}

/* The one entry of directory path (the interface under a device's net/):
 * 0, -ENODEV when there is none (yet), -EINVAL when there are several. */
static int only_entry(const char *path, char *out, size_t len, struct error *err)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	int found = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		if (found++)
			return error_setx(err, EINVAL, "multiple interface names found in %s", path);
		snprintf(out, len, "%s", de->d_name);
	}
	return found ? 0 : error_setx(err, ENODEV, "no interface in %s", path);
}

/* The first entry of dir starting with prefix, as a path in out. */
static bool first_match(const char *dir, const char *prefix, char *out, size_t len)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	size_t n = strlen(prefix);
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] != '.' && strncmp(de->d_name, prefix, n) == 0) {
			snprintf(out, len, "%s/%s", dir, de->d_name);
			return true;
		}
	}
	return false;
}

int network_sysfs_ifname(const char *sysfs, const char *vmbus_id, bool vpci, char *ifname,
			 size_t len, struct error *err)
{
	if (!*vmbus_id || strchr(vmbus_id, '/') || strstr(vmbus_id, ".."))
		return error_setx(err, EINVAL, "bad vmbus instance id '%s'", vmbus_id);
	char dev[PATH_MAX], path[PATH_MAX];
	snprintf(dev, sizeof(dev), "%s/bus/vmbus/devices/%s", sysfs, vmbus_id);
	if (vpci) {
		/* hcsshim's pci.FindDeviceFullPath: the vmbus device holds a
		 * PCI bus "pciDDDD:BB"; the NIC is the function "DDDD:BB:..."
		 * on it. */
		char bus[PATH_MAX], fn[PATH_MAX];
		if (!first_match(dev, "pci", bus, sizeof(bus)))
			return error_setx(err, ENODEV, "no PCI bus under %s", dev);
		const char *name = strrchr(bus, '/') + 1;
		if (!first_match(bus, name + 3, fn, sizeof(fn)))
			return error_setx(err, ENODEV, "no PCI function under %s", bus);
		if (snprintf(path, sizeof(path), "%s/net", fn) >= (int)sizeof(path))
			return error_setx(err, ENAMETOOLONG, "%s/net", fn);
	} else if (snprintf(path, sizeof(path), "%s/net", dev) >= (int)sizeof(path)) {
		return error_setx(err, ENAMETOOLONG, "%s/net", dev);
	}
	return only_entry(path, ifname, len, err);
}

/* The adapter's interface in the VM's namespace: by its vmbus instance id
 * on Hyper-V (/sys/bus/vmbus/devices/<id>/net/<name>, or for a VPCI-assigned
 * NIC the PCI function under that device), else by MAC (QEMU's virtio-net
 * has no instance id). */
static int resolve(struct nl *root, const struct net_adapter *a, struct nl_link *out,
		   struct error *err)
{
	char ifname[IF_NAMESIZE];
	bool sane_id = *a->id && !strchr(a->id, '/') && !strstr(a->id, "..");
	int r = sane_id ? network_sysfs_ifname("/sys", a->id, a->vpci_assigned, ifname,
					       sizeof(ifname), err)
			: -ENODEV;
	if (r == 0)
		return nl_link_by_name(root, ifname, out, err);
	if (r == -EINVAL)
		return r;	/* several interfaces: refused, as hcsshim */
	error_clear(err);
	if (a->has_mac)
		return nl_link_by_mac(root, a->mac, out, err);
	return error_setx(err, ENODEV, "no %s network device %s", a->vpci_assigned ? "VPCI" : "vmbus",
			  a->id);
}

static bool tolerable(int r)
{
	return r == -EEXIST;
}

/* Inside the namespace: MTU, up, addresses, rules, routes.  The MTU is the
 * link's less EncapOverhead, lowered to mtu_max when that is smaller (0:
 * no bound; a DHCP lease's option 26).  *mtu: the MTU in force. */
static int configure(struct nl *nl, const struct net_adapter *a, const char *ifname,
		     int mtu_max, int *mtu, struct error *err)
{
	struct nl_link link;
	struct nlm m;
	int r = nl_link_by_name(nl, ifname, &link, err);
	if (r < 0)
		return r;
	struct nl_link_change ch = NL_LINK_CHANGE_INIT;
	ch.up = 1;
	*mtu = link.mtu;
	if (a->encap_overhead) {
		if (link.mtu <= a->encap_overhead + 68)
			return error_setx(err, EINVAL, "EncapOverhead %u leaves no MTU on %s (MTU %d)",
					  a->encap_overhead, ifname, link.mtu);
		*mtu = link.mtu - a->encap_overhead;
	}
	if (mtu_max > 0 && mtu_max < *mtu)
		*mtu = mtu_max;
	if (*mtu != link.mtu)
		ch.mtu = *mtu;
	nlm_link_set(&m, 0, link.ifindex, &ch);
	if ((r = nl_call(nl, &m, err)) < 0)
		return error_prefix(err, r, "set %s up (MTU %d)", ifname, *mtu);
	uint32_t table = 0;
	for (size_t i = 0; i < a->n_ips; i++) {
		const struct net_ip *ip = &a->ips[i];
		nlm_addr_add(&m, 0, link.ifindex, &ip->addr, ip->prefix_len);
		if ((r = nl_call(nl, &m, err)) < 0 && !tolerable(r))
			return error_prefix(err, r, "add address to %s", ifname);
		if (!a->enable_low_metric)
			continue;
		/* Packets from this address leave through this interface. */
		nlm_rule_add(&m, 0, &ip->addr, (unsigned)nl_addr_len(&ip->addr) * 8, LOW_METRIC_TABLE,
			     LOW_METRIC_RULE_PRIORITY);
		r = nl_call(nl, &m, err);
		if (r == -EAFNOSUPPORT || r == -EOPNOTSUPP) {
			log_warning("policy routing is not in this kernel (IP_MULTIPLE_TABLES): the low-metric adapter's routes go to the main table",
				    LOG_STR("adapter", a->id));
			error_clear(err);
			continue;
		}
		if (r < 0 && !tolerable(r))
			return error_prefix(err, r, "add the routing rule of %s", ifname);
		table = LOW_METRIC_TABLE;
	}
	for (size_t i = 0; i < a->n_routes; i++) {
		const struct net_route *rt = &a->routes[i];
		/* A gateway outside every subnet of the link is made reachable
		 * with a host address of its own, as hcsshim does. */
		if (rt->gw.family) {
			bool on_link = false;
			for (size_t k = 0; k < a->n_ips && !on_link; k++)
				on_link = nl_addr_same_net(&a->ips[k].addr, &rt->gw, a->ips[k].prefix_len);
			if (!on_link) {
				nlm_addr_add(&m, 0, link.ifindex, &rt->gw, (unsigned)nl_addr_len(&rt->gw) * 8);
				if ((r = nl_call(nl, &m, err)) < 0 && !tolerable(r))
					return error_prefix(err, r, "add the off-subnet gateway's address");
			}
		}
		nlm_route_add(&m, 0, link.ifindex, rt->family, &rt->dst, rt->dst_len, &rt->gw, rt->metric,
			      table);
		if ((r = nl_call(nl, &m, err)) < 0 && !tolerable(r))
			return error_prefix(err, r, "add route %zu on %s", i, ifname);
	}
	error_clear(err);
	return 0;
}

/* --- DHCP, for an adapter the host sent without IP configuration ------- */

static bool dhcp_pending(const struct net_ns *ns)
{
	for (const struct net_nic *n = ns->nics; n; n = n->next)
		if (n->dhcp)
			return true;
	return false;
}

/* ns_id's namespace when an exchange runs there, else NULL. */
static struct net_ns *lease_pending(struct network *net, const char *ns_id)
{
	struct net_ns *ns = find_ns(net, ns_id);
	return ns && dhcp_pending(ns) ? ns : NULL;
}

/* The namespace's first failed exchange (its error), else 0. */
static int dhcp_failure(const struct net_ns *ns, struct error *err)
{
	for (const struct net_nic *n = ns->nics; n; n = n->next) {
		if (n->dhcp_result < 0) {
			if (err)
				*err = n->dhcp_err;
			return n->dhcp_result;
		}
	}
	return 0;
}

/* The requests waiting for ns, answered once its last exchange ended.
 * One at a time: a callback may cancel other waits. */
static void wake_waiters(struct network *net, struct net_ns *ns)
{
	if (dhcp_pending(ns))
		return;
	for (;;) {
		struct network_op *op = net->ops;
		while (op && (op->kind != WAIT_READY || strcmp(op->ns_id, ns->id) != 0))
			op = op->next;
		if (!op)
			return;
		struct error err = { 0 };
		int r = dhcp_failure(ns, &err);
		network_done_fn fn = op->fn;
		void *arg = op->arg;
		op_free(op);
		fn(arg, r, &err);
	}
}

/* The lease as the host would have sent it (one address, a default route
 * through its router), configured the way the host's settings are; its
 * DNS servers and domain go to resolv.conf where the host gave none.  Its
 * interface MTU (option 26) is applied as DHCP clients do, but only
 * downwards: the MTU the host's settings left (the link's, less
 * EncapOverhead, set already) bounds what its encapsulation carries. */
static int apply_lease(struct net_nic *nic, const struct dhcp_reply *l, struct error *err)
{
	struct net_adapter a = nic->a;
	a.encap_overhead = 0;	/* the MTU is set already */
	int prefix = dhcp_prefix_len(l->netmask);
	if (prefix <= 0) {
		/* No mask offered: the address's class, as udhcpc assumes. */
		uint8_t first = ((const uint8_t *)&l->yiaddr)[0];
		prefix = first < 128 ? 8 : first < 192 ? 16 : 24;
	}
	a.n_ips = 1;
	a.ips[0] = (struct net_ip){ .addr.family = AF_INET, .prefix_len = (unsigned)prefix };
	memcpy(a.ips[0].addr.bytes, &l->yiaddr, 4);
	a.n_routes = 0;
	if (l->router) {
		a.routes[0] = (struct net_route){ .family = AF_INET, .gw.family = AF_INET };
		memcpy(a.routes[0].gw.bytes, &l->router, 4);
		a.n_routes = 1;
	}
	struct nl in = { .fd = -1 };
	int mtu = 0;
	int r = nl_open_in_netns(&in, nic->ns->netns_fd, err);
	if (r == 0)
		r = configure(&in, &a, nic->ifname, l->mtu >= DHCP_MIN_MTU ? l->mtu : 0, &mtu, err);
	nl_close(&in);
	if (r < 0)
		return error_prefix(err, r, "apply the DHCP lease on %s", nic->ifname);
	if (l->mtu > mtu)
		log_info("DHCP lease MTU above the adapter's: kept", LOG_STR("ifname", nic->ifname),
			 LOG_U64("lease_mtu", l->mtu), LOG_U64("mtu", (unsigned)mtu));
	char addr[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN] = "";
	inet_ntop(AF_INET, &l->yiaddr, addr, sizeof(addr));
	if (l->router)
		inet_ntop(AF_INET, &l->router, gw, sizeof(gw));
	if (!*nic->a.dns_servers) {
		size_t n = 0;
		for (size_t i = 0; i < l->n_dns && n < sizeof(nic->a.dns_servers); i++) {
			char t[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &l->dns[i], t, sizeof(t));
			n += (size_t)snprintf(nic->a.dns_servers + n, sizeof(nic->a.dns_servers) - n,
					      "%s%s", i ? "," : "", t);
		}
		if (!*nic->a.dns_suffix)
			snprintf(nic->a.dns_suffix, sizeof(nic->a.dns_suffix), "%s", l->domain);
	}
	log_info("network adapter configured by DHCP", LOG_STR("namespace", nic->ns->id),
		 LOG_STR("adapter", nic->a.id), LOG_STR("ifname", nic->ifname), LOG_STR("address", addr),
		 LOG_U64("prefix_length", (unsigned)prefix), LOG_STR("router", gw),
		 LOG_STR("dns", nic->a.dns_servers), LOG_U64("mtu", (unsigned)mtu),
		 LOG_U64("lease_s", l->lease_s));
	return 0;
}

static void on_dhcp_done(void *arg, int r, const struct dhcp_reply *lease, const struct error *err)
{
	struct net_nic *nic = arg;
	dhcp_stop(nic->dhcp);	/* finished: lease and err are the caller's copies */
	nic->dhcp = NULL;
	error_clear(&nic->dhcp_err);
	if (r == 0)
		r = apply_lease(nic, lease, &nic->dhcp_err);
	else
		nic->dhcp_err = *err;
	nic->dhcp_result = r;
	if (r < 0)
		log_error("DHCP failed: the adapter has no address", LOG_STR("namespace", nic->ns->id),
			  LOG_STR("adapter", nic->a.id), LOG_STR("ifname", nic->ifname),
			  LOG_ERR(&nic->dhcp_err));
	wake_waiters(nic->ns->net, nic->ns);
}

/* hcsshim runs udhcpc here; the exchange runs on the loop and requests
 * that need its result wait (network_wait_ready). */
static int start_dhcp(struct net_ns *ns, struct net_nic *nic, const uint8_t mac[6],
		      struct error *err)
{
	struct network *net = ns->net;
	if (!net->loop) {
		log_warning("network adapter without IP configuration and no loop for DHCP: the link is up unconfigured",
			    LOG_STR("adapter", nic->a.id), LOG_STR("ifname", nic->ifname));
		return 0;
	}
	nic->dhcp_result = 0;
	int r = dhcp_start(net->loop, ns->netns_fd, nic->ifname, mac, DHCP_TIMEOUT_MS, on_dhcp_done,
			   nic, &nic->dhcp, err);
	if (r < 0)
		return error_prefix(err, r, "start DHCP on %s", nic->ifname);
	log_info("network adapter without IP configuration: asking DHCP", LOG_STR("namespace", ns->id),
		 LOG_STR("adapter", nic->a.id), LOG_STR("ifname", nic->ifname));
	return 0;
}

/* Move one adapter into ns's namespace and configure it there. */
static int assign(struct net_ns *ns, struct net_nic *nic, struct error *err)
{
	struct nl root = { .fd = -1 }, in = { .fd = -1 };
	struct nl_link link;
	struct nlm m;
	int r = nl_open(&root, err);
	if (r < 0)
		return r;
	if ((r = resolve(&root, &nic->a, &link, err)) < 0)
		goto out;
	struct nl_link_change ch = NL_LINK_CHANGE_INIT;
	ch.up = 0;
	nlm_link_set(&m, 0, link.ifindex, &ch);
	if ((r = nl_call(&root, &m, err)) < 0) {
		error_prefix(err, r, "set %s down", link.name);
		goto out;
	}
	ch.up = -1;
	ch.netns_fd = ns->netns_fd;
	nlm_link_set(&m, 0, link.ifindex, &ch);
	if ((r = nl_call(&root, &m, err)) < 0) {
		error_prefix(err, r, "move %s to the container's network namespace", link.name);
		goto out;
	}
	snprintf(nic->ifname, sizeof(nic->ifname), "%s", link.name);
	nic->moved = true;
	if ((r = nl_open_in_netns(&in, ns->netns_fd, err)) < 0)
		goto out;
	int mtu;
	if ((r = configure(&in, &nic->a, nic->ifname, 0, &mtu, err)) < 0)
		goto out;
	if (nic->a.n_ips == 0) {
		r = start_dhcp(ns, nic, link.mac, err);
		goto out;
	}
	log_info("network adapter configured", LOG_STR("namespace", ns->id),
		 LOG_STR("adapter", nic->a.id), LOG_STR("ifname", nic->ifname),
		 LOG_U64("addresses", nic->a.n_ips), LOG_U64("routes", nic->a.n_routes));
out:
	nl_close(&in);
	nl_close(&root);
	if (r < 0)
		error_prefix(err, r, "adapter %s", *nic->a.id ? nic->a.id : "(no id)");
	return r;
}

static int sync_ns(struct net_ns *ns, struct error *err)
{
	if (ns->netns_fd < 0)
		return 0;
	size_t i = 0;
	for (struct net_nic *nic = ns->nics; nic; nic = nic->next, i++) {
		if (nic->a.policy_based_routing)
			nic->a.enable_low_metric = i > 0;
		if (nic->moved)
			continue;
		int r = assign(ns, nic, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The adapter's interface in the VM's namespace, looked up on a netlink
 * socket of its own: 0 and *out (when not NULL); -ENODEV: not (yet). */
static int find_link(const struct net_adapter *a, struct nl_link *out, struct error *err)
{
	struct nl root;
	struct nl_link link;
	int r = nl_open(&root, err);
	if (r < 0)
		return r;
	r = resolve(&root, a, out ? out : &link, err);
	nl_close(&root);
	return r;
}

int network_add_adapter(struct network *net, const struct net_adapter *a, struct error *err)
{
	struct net_ns *ns = get_ns(net, a->namespace_id, err);
	if (!ns)
		return -ENOMEM;
	struct net_nic **tail = &ns->nics;
	for (; *tail; tail = &(*tail)->next)
		if (*a->id && strcmp((*tail)->a.id, a->id) == 0)
			return error_setx(err, EEXIST, "adapter with id: '%s' already present in namespace",
					  a->id);
	/* hcsshim resolves the interface when the adapter is added. */
	struct nl_link link;
	int r = find_link(a, &link, err);
	if (r < 0)
		return r;
	struct net_nic *nic = calloc(1, sizeof(*nic));
	if (!nic)
		return error_set(err, ENOMEM, "adapter");
	nic->a = *a;
	nic->ns = ns;
	*tail = nic;
	log_info("network adapter added", LOG_STR("namespace", ns->id), LOG_STR("adapter", a->id),
		 LOG_STR("ifname", link.name), LOG_BOOL("attached", ns->netns_fd >= 0));
	return sync_ns(ns, err);
}

int network_remove_adapter(struct network *net, const char *namespace_id, const char *id,
			   struct error *err)
{
	struct net_ns *ns = find_ns(net, namespace_id);
	if (!ns) {
		/* hcsshim: warned about, not an error. */
		log_warning("namespace not found for adapter removal, skipping",
			    LOG_STR("namespace", namespace_id), LOG_STR("adapter", id));
		return 0;
	}
	for (struct net_nic **pp = &ns->nics; *pp; pp = &(*pp)->next) {
		struct net_nic *nic = *pp;
		if (strcmp(nic->a.id, id) != 0)
			continue;
		int r = 0;
		if (nic->moved && ns->netns_fd >= 0) {
			/* Back to the VM's namespace, down and without the
			 * container's addresses (the move flushes them), so
			 * the container loses it even before the host
			 * unplugs the device. */
			struct nl in = { .fd = -1 };
			struct nl_link link;
			struct nlm m;
			struct nl_link_change ch = NL_LINK_CHANGE_INIT;
			ch.up = 0;
			ch.netns_fd = net->root_netns_fd;
			if ((r = nl_open_in_netns(&in, ns->netns_fd, err)) == 0 &&
			    (r = nl_link_by_name(&in, nic->ifname, &link, err)) == 0) {
				nlm_link_set(&m, 0, link.ifindex, &ch);
				r = nl_call(&in, &m, err);
			}
			nl_close(&in);
			if (r == -ENODEV) {
				error_clear(err);
				r = 0;	/* already gone (hot-unplugged) */
			}
			if (r < 0)
				return error_prefix(err, r, "take %s out of the container", nic->ifname);
		}
		*pp = nic->next;
		log_info("network adapter removed", LOG_STR("namespace", ns->id), LOG_STR("adapter", id));
		bool was_running = nic->dhcp != NULL;
		free_nic(nic);
		if (was_running)
			wake_waiters(net, ns);
		return 0;
	}
	return 0;
}

int network_modify(struct network *net, bool add, const json_t *settings, struct error *err)
{
	struct net_adapter a;
	int r = net_adapter_parse(settings, &a, err);
	if (r < 0)
		return r;
	if (add)
		return network_add_adapter(net, &a, err);
	return network_remove_adapter(net, a.namespace_id, a.id, err);
}

static void on_wait(struct loop_timer *t)
{
	struct network_op *op = t->data;
	struct error err = { 0 };
	int r = find_link(&op->a, NULL, &err);
	if (r == -ENODEV && ++op->steps < WAIT_STEPS) {
		if (loop_timer_arm(&op->timer, WAIT_STEP_MS, &err) == 0)
			return;
		r = -(err.errnum ? err.errnum : EIO);
	} else if (r == -ENODEV) {
		error_prefix(&err, r, "not there after %d s", WAIT_STEPS * WAIT_STEP_MS / 1000);
	} else if (r == 0) {
		r = network_add_adapter(op->net, &op->a, &err);
		struct net_ns *ns = r == 0 ? lease_pending(op->net, op->a.namespace_id) : NULL;
		if (ns) {
			/* The device came; now its lease. */
			op->kind = WAIT_READY;
			snprintf(op->ns_id, sizeof(op->ns_id), "%s", ns->id);
			return;
		}
	}
	network_done_fn fn = op->fn;
	void *arg = op->arg;
	op_free(op);
	fn(arg, r, &err);
}

static struct network_op *new_op(struct network *net, enum op_kind kind, network_done_fn fn,
				 void *arg, struct error *err)
{
	struct network_op *op = calloc(1, sizeof(*op));
	if (!op) {
		error_set(err, ENOMEM, "network wait");
		return NULL;
	}
	op->net = net;
	op->kind = kind;
	op->fn = fn;
	op->arg = arg;
	op->next = net->ops;
	net->ops = op;
	return op;
}

int network_wait_ready(struct network *net, const char *namespace_id, network_done_fn fn,
		       void *arg, struct network_op **out, struct error *err)
{
	*out = NULL;
	struct net_ns *ns = net && *namespace_id ? find_ns(net, namespace_id) : NULL;
	if (!ns)
		return 0;
	if (!dhcp_pending(ns))
		return dhcp_failure(ns, err);
	struct network_op *op = new_op(net, WAIT_READY, fn, arg, err);
	if (!op)
		return -ENOMEM;
	snprintf(op->ns_id, sizeof(op->ns_id), "%s", ns->id);
	*out = op;
	return NETWORK_PENDING;
}

int network_modify_async(struct network *net, bool add, const json_t *settings,
			 network_done_fn fn, void *arg, struct network_op **out, struct error *err)
{
	*out = NULL;
	struct net_adapter a;
	int r = net_adapter_parse(settings, &a, err);
	if (r < 0)
		return r;
	if (!add)
		return network_remove_adapter(net, a.namespace_id, a.id, err);
	r = find_link(&a, NULL, err);
	if (r != -ENODEV || !net->loop) {
		if (r < 0 || (r = network_add_adapter(net, &a, err)) < 0)
			return r;
		/* Added to a namespace in use and left to DHCP: answered
		 * with the lease, as hcsshim's udhcpc run is. */
		if (!lease_pending(net, a.namespace_id))
			return 0;
		return network_wait_ready(net, a.namespace_id, fn, arg, out, err);
	}
	error_clear(err);
	struct network_op *op = new_op(net, WAIT_DEVICE, fn, arg, err);
	if (!op)
		return -ENOMEM;
	op->a = a;
	if ((r = loop_timer_init(net->loop, &op->timer, on_wait, op, err)) < 0) {
		op_free(op);
		return r;
	}
	if ((r = loop_timer_arm(&op->timer, WAIT_STEP_MS, err)) < 0) {
		op_free(op);
		return r;
	}
	log_info("network adapter not there yet: waiting for it", LOG_STR("adapter", a.id));
	*out = op;
	return NETWORK_PENDING;
}

bool network_op_forget(struct network *net, void *op)
{
	for (struct network_op *o = net ? net->ops : NULL; o; o = o->next) {
		if (o == op) {
			op_free(o);
			return true;
		}
	}
	return false;
}

void network_spec_namespace_id(const json_t *spec, char *out, size_t len)
{
	json_t *w = json_is_object(spec) ? json_object_get(spec, "windows") : NULL;
	json_t *n = json_is_object(w) ? json_object_get(w, "network") : NULL;
	const char *id = json_is_object(n) ? json_string_value(json_object_get(n, "networkNamespace"))
					   : NULL;
	size_t i = 0;
	for (; id && id[i] && i + 1 < len; i++)
		out[i] = (char)(id[i] >= 'A' && id[i] <= 'Z' ? id[i] - 'A' + 'a' : id[i]);
	if (len)
		out[i] = '\0';
}

int network_resolv_conf(struct network *net, const char *namespace_id, char **out,
			struct error *err)
{
	const struct net_adapter *v[32];
	size_t n = 0;
	struct net_ns *ns = *namespace_id ? find_ns(net, namespace_id) : NULL;
	for (struct net_nic *nic = ns ? ns->nics : NULL; nic && n < ARRAY_SIZE(v); nic = nic->next)
		v[n++] = &nic->a;
	return net_resolv_conf(v, n, out, err);
}

int network_loopback_up(int netns_fd, struct error *err)
{
	struct nl nl = { .fd = -1 };
	struct nl_link link;
	struct nlm m;
	struct nl_link_change ch = NL_LINK_CHANGE_INIT;
	ch.up = 1;
	int r = nl_open_in_netns(&nl, netns_fd, err);
	if (r == 0 && (r = nl_link_by_name(&nl, "lo", &link, err)) == 0) {
		nlm_link_set(&m, 0, link.ifindex, &ch);
		r = nl_call(&nl, &m, err);
	}
	nl_close(&nl);
	return r < 0 ? error_prefix(err, r, "bring lo up") : 0;
}

int network_attach(struct network *net, const char *namespace_id, int netns_fd,
		   struct error *err)
{
	int r = network_loopback_up(netns_fd, err);
	if (r < 0 || !*namespace_id)
		return r;
	struct net_ns *ns = get_ns(net, namespace_id, err);
	if (!ns)
		return -ENOMEM;
	if (ns->netns_fd >= 0)
		return error_setx(err, EBUSY, "network namespace '%s' is already assigned to a container",
				  namespace_id);
	ns->netns_fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
	if (ns->netns_fd < 0)
		return error_set(err, errno, "keep the network namespace");
	r = sync_ns(ns, err);
	if (r < 0)
		network_detach(net, namespace_id);
	return r;
}

int network_create_netns(int *out, struct error *err)
{
	/* Single-threaded agent: in and straight back out again. */
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return error_set(err, errno, "open /proc/self/ns/net");
	if (unshare(CLONE_NEWNET) < 0)
		return error_set(err, errno, "unshare the network namespace");
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int e = errno;
	if (setns(self, CLONE_NEWNET) < 0)
		abort();	/* not back in the VM's namespace: nothing after is right */
	if (fd < 0)
		return error_set(err, e, "open the new network namespace");
	*out = fd;
	return 0;
}

void network_detach(struct network *net, const char *namespace_id)
{
	struct net_ns *ns = *namespace_id ? find_ns(net, namespace_id) : NULL;
	if (!ns || ns->netns_fd < 0)
		return;
	close(ns->netns_fd);
	ns->netns_fd = -1;
	/* The kernel hands physical devices back to the VM's namespace when
	 * the last reference goes; a new container moves them again (and
	 * asks DHCP again). */
	bool stopped = false;
	for (struct net_nic *nic = ns->nics; nic; nic = nic->next) {
		nic->moved = false;
		if (!nic->dhcp)
			continue;
		dhcp_stop(nic->dhcp);
		nic->dhcp = NULL;
		nic->dhcp_result = -ECANCELED;
		error_setx(&nic->dhcp_err, ECANCELED,
			   "DHCP on %s stopped: the container's network namespace is gone", nic->ifname);
		stopped = true;
	}
	if (stopped)
		wake_waiters(net, ns);
	if (!ns->nics) {
		for (struct net_ns **pp = &net->list; *pp; pp = &(*pp)->next) {
			if (*pp == ns) {
				*pp = ns->next;
				free_ns(ns);
				break;
			}
		}
	}
}
