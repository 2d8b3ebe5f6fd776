/* SPDX-License-Identifier: MIT */
/*
 * Storage in the utility VM: the ModifySettings resources that put a block
 * device or a share at a path of the VM — VPMemDevice (/dev/pmemN),
 * MappedVirtualDisk (SCSI controller/LUN), MappedDirectory (Plan9 over
 * vsock).  CombinedLayers (the overlay a container's root is made of) is
 * the container runtime's business and lives in runtime/.
 *
 * Boundary: like the runtime, storage sees parsed requests
 * (protocol/messages.h) and reports negative errnos with the meanings of
 * protocol/hresult.h; it knows nothing of frames or HRESULTs.
 */
#ifndef GCS_STORAGE_H
#define GCS_STORAGE_H

#include <stdio.h>

#include "lcow/error.h"
#include "loop.h"
#include "protocol/messages.h"

struct storage;

int storage_new(struct loop *loop, struct storage **out, struct error *err);
void storage_free(struct storage *st);

/* Add/Remove/Update of MappedVirtualDisk, MappedDirectory or VPMemDevice.
 * -EOPNOTSUPP for any other resource type. */
int storage_modify(struct storage *st, const struct msg_modify *m, struct error *err);

/* What is mounted where, for DumpStacks. */
void storage_describe(const struct storage *st, FILE *out);

#endif
