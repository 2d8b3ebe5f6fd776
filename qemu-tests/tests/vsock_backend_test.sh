#!/usr/bin/env bash
# The vhost-user vsock backend under a real guest kernel: checksummed data
# both ways in both connection directions, 256 concurrent streams, slow
# readers on either side, refusals.  The checks live beside the backend.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles
exec "$ROOT/qemu-tests/vsock-backend/tests/vm-smoke.sh" "$BOOTFILES/kernel"
