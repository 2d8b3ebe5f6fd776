#!/usr/bin/env bash
# The guest <-> host channel end to end, on one VM: the product command line
# (-e 1 /bin/vsockexec -e 109 /bin/gcs -v4 -log-format json -loglevel debug)
# through the vhost-user vsock backend and the host client.  Entropy
# arrives, the agent's log arrives on port 109, NegotiateProtocol returns
# the exact capabilities, DumpStacks answers, a host-side drop makes the
# agent re-dial and negotiate again, and ShutdownForced ends the VM.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles

work=$(mktemp -d /tmp/lcow-bridge-test.XXXXXX)
vm_pid=
cleanup() {
	[ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

plan 14

"$RUN_VM" --host --workdir "$work/vm" --serial "$work/console.log" --mem 256 --timeout 600 \
	>"$work/run-vm.log" 2>&1 &
vm_pid=$!
ctl=$work/vm/vm.sock.ctl
lcowctl() { "$BIN/lcowctl" -c "$ctl" "$@"; }

# run-vm creates the control socket before QEMU starts.
# (the first run on a machine also probes KVM: up to ~30 s more)
for _ in $(seq 1 600); do
	[ -S "$ctl" ] && break
	kill -0 "$vm_pid" 2>/dev/null || break
	sleep 0.2
done

neg=$work/negotiate.json
# wait-ready prints the guest's NegotiateProtocol response.
check "bridge negotiated after boot" bash -c "'$BIN/lcowctl' -c '$ctl' wait-ready --timeout 240 >'$neg'"
norm() { jq -cS "$1" "$neg" 2>/dev/null; }
check_eq "negotiated version 4" 4 "$(norm .Version)"
# hcsshim marshals GcsCapabilities with omitempty: the false fields of the
# spec are absent on the wire, and the host reads absent as false.
check_eq "capabilities exactly as hcsshim marshals them" \
	'{"GuestDefinedCapabilities":{"DeleteContainerStateSupported":true,"DumpStacksSupported":true,"NamespaceAddRequestSupported":true,"SignalProcessSupported":true},"RuntimeOsType":"Linux","SupportedSchemaVersions":[{"Major":2,"Minor":1}]}' \
	"$(norm .Capabilities)"

lcowctl dump-stacks >"$work/stacks.txt" 2>&1 || true
check_log "DumpStacks returns the agent's state" "$work/stacks.txt" '[Nn]egotiated|version'

# Entropy: init's -e 1 read 512 bytes from the host's port 1.
sed -i 's/\r$//' "$work/console.log"
check_log "init added 512 bytes of entropy from port 1" "$work/console.log" \
	'init: added 512 bytes of entropy from vsock port 1'
# The agent's stderr reaches the host on port 109 as JSON lines.
check_log "agent log lines arrive on port 109" "$work/vm/gcs.log" '^\{.*"msg"'
check "every log line is a JSON object" bash -c "grep -v '^\$' '$work/vm/gcs.log' | jq -e . >/dev/null"

# An unknown message gets 'not implemented', the agent keeps serving.
set +e
lcowctl request 0x10100f01 '{}' >"$work/unknown.json" 2>"$work/unknown.err"
rc=$?
set -e
check_eq "unknown message id: an HRESULT error (exit 1)" 1 "$rc"
check_log "unknown message id: 0x80004001" "$work/unknown.err" '0x80004001'

# The host drops the bridge; the agent re-dials and negotiates again.
check "host drops the bridge connection" lcowctl drop-bridge
check "agent reconnects and negotiates again" lcowctl wait-ready --connections 2 --timeout 60
check "the new connection serves requests" lcowctl dump-stacks

# ShutdownForced of the VM: no reply, the VM powers off.
check "ShutdownForced sent" lcowctl shutdown-forced
set +e
for _ in $(seq 1 300); do kill -0 "$vm_pid" 2>/dev/null || break; sleep 0.2; done
wait "$vm_pid"
rc=$?
vm_pid=
set -e
check_eq "VM powered off after ShutdownForced (run-vm exit 0)" 0 "$rc"

done_testing
