/* SPDX-License-Identifier: MIT */
/*
 * Storage in the utility VM: the ModifySettings resources that put a block
 * device or a share at a path of the VM — VPMemDevice (/dev/pmemN),
 * MappedVirtualDisk (SCSI controller/LUN), MappedDirectory (Plan9 over
 * vsock) — and SCSIDevice Remove (the guest-side unplug hcsshim sends
 * before it hot-removes a disk).  CombinedLayers (the overlay a
 * container's root is made of) is the container runtime's business and
 * lives in runtime/.
 *
 * Boundary: like the runtime, storage sees parsed requests
 * (protocol/messages.h) and reports negative errnos with the meanings of
 * protocol/hresult.h; it knows nothing of frames or HRESULTs.
 *
 * Waiting: a disk or pmem device the host just hot-added may not be in
 * sysfs yet.  storage_modify_async() never blocks: it waits on the
 * kernel's uevent socket in the agent's loop, bounded by a timerfd
 * (STORAGE_DEVICE_WAIT_MS), and runs mkfs as a child watched through its
 * pidfd, then reports through a callback.  storage_modify() is the same
 * work done synchronously (poll() on the uevent socket, same bound) for
 * callers that cannot answer later; it blocks the agent for at most
 * STORAGE_DEVICE_WAIT_MS per request, plus the time mkfs takes.
 */
#ifndef GCS_STORAGE_H
#define GCS_STORAGE_H

#include <stdio.h>

#include "lcow/error.h"
#include "loop.h"
#include "protocol/messages.h"

struct storage;
struct storage_op;

/* How long a request waits for its device to appear; hcsshim's guest
 * gives a SCSI mount 5 s. */
#define STORAGE_DEVICE_WAIT_MS 5000
/* mkfs.ext4 of a blank disk, at most. */
#define STORAGE_TOOL_TIMEOUT_MS 120000

struct storage_config {
	/* Prefix for /sys and /dev ("" or NULL in the VM; a fake tree in
	 * tests). */
	const char *root;
	/* 0: STORAGE_DEVICE_WAIT_MS. */
	unsigned device_wait_ms;
};

int storage_new(struct loop *loop, struct storage **out, struct error *err);
int storage_new_config(struct loop *loop, const struct storage_config *cfg, struct storage **out,
		       struct error *err);
/* Pending requests are dropped without their callbacks. */
void storage_free(struct storage *st);

/* True for the resource types storage_modify() handles. */
bool storage_handles(const struct msg_modify *m);

/* Add/Remove of MappedVirtualDisk, MappedDirectory or VPMemDevice, Remove
 * of SCSIDevice, synchronously (see above).  -EOPNOTSUPP for any other
 * resource type, -ENOSYS for a request type the resource does not have. */
int storage_modify(struct storage *st, const struct msg_modify *m, struct error *err);

/* The same, without blocking.  Returns 0 (done), < 0 (failed, err set), or
 * STORAGE_PENDING: done(arg, r, err) is then called exactly once, later,
 * from the loop — unless storage_op_forget() is called first.  Everything
 * needed is copied from m: the request may be freed on return. */
#define STORAGE_PENDING 1
typedef void (*storage_done_fn)(void *arg, int r, const struct error *err);
int storage_modify_async(struct storage *st, const struct msg_modify *m, storage_done_fn done,
			 void *arg, struct storage_op **op, struct error *err);
/* The caller is gone (the bridge connection closed): done is never
 * called.  The operation itself still finishes, so the VM's state stays
 * what storage_describe() says (a mount that completes is registered and
 * a later Remove undoes it). */
void storage_op_forget(struct storage_op *op);

/* What is mounted where, and what is pending, for DumpStacks. */
void storage_describe(const struct storage *st, FILE *out);

#endif
