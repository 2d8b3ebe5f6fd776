#!/usr/bin/env bash
# TAP tests of scripts/lcow-oneshot-relay.py without a VM: a Python "guest"
# dials the unix sockets the vsock backend would (BASE_PORT), as
# /bin/vsockexec and the one-shot job do.  Pins: stdin reaches the job and
# then EOF; stdout and stderr arrive byte for byte (1 MiB, binary); the
# status is written only once both have ended, and the control connection
# is closed only then (the guest powers off after that close); a job that
# never reads stdin is fine; no status -> exit 1 after --timeout, no status
# file; bad --ports is a usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RELAY=${RELAY:-$ROOT/scripts/lcow-oneshot-relay.py}
command -v python3 >/dev/null || { echo "1..0 # SKIP no python3"; exit 0; }

tmp=$(mktemp -d /tmp/oneshot-relay-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

. "$ROOT/scripts/tests/tap.sh"

# guest.py BASE MODE: plays the guest side.  MODE "full": read all stdin,
# echo its length, send 1 MiB on stdout and a line on stderr, report status
# 7 and record whether the host closed the control connection only after
# draining; MODE "noread": never reads stdin; MODE "nostatus": no control
# connection at all.
cat >"$tmp/guest.py" <<'EOF'
import os, socket, sys, time
base, mode = sys.argv[1], sys.argv[2]
def dial(port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(200):
        try:
            s.connect("%s_%d" % (base, port))
            return s
        except OSError:
            time.sleep(0.02)
    sys.exit("cannot dial %d" % port)
i, o, e = dial(50), dial(51), dial(52)
got = b""
if mode != "noread":
    while True:
        d = i.recv(65536)
        if not d:
            break
        got += d
blob = bytes((k * 7 + 3) % 256 for k in range(1 << 20))
o.sendall(("%d\n" % len(got)).encode() + blob)
e.sendall(b"to stderr\n")
if mode == "nostatus":
    time.sleep(0.3)
    sys.exit(0)
c = dial(53)
c.sendall(b"status 7\n")
# stdout and stderr are still open: the host must not close yet.
c.settimeout(0.5)
try:
    early = c.recv(16) == b""
except socket.timeout:
    early = False
o.close(); e.close(); i.close()
c.settimeout(10)
if early:
    state = "closed early"
else:
    state = "closed after the output ended" if c.recv(16) == b"" else "open"
open(base + ".guest", "w").write(state + "\n")
EOF
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 1000)' >"$tmp/in.bin"

# The usual job.
base=$tmp/a/vm.sock
mkdir -p "$tmp/a"
python3 "$RELAY" --base "$base" --ports 50,51,52,53 --status-file "$tmp/a/status" \
	--ready-file "$tmp/a/ready" --timeout 30 <"$tmp/in.bin" >"$tmp/a/out" 2>"$tmp/a/err" &
relay=$!
python3 "$tmp/guest.py" "$base" full
rc=0
wait "$relay" || rc=$?
check "relay exits 0 once the status came" test "$rc" = 0
check "the ready file was made" test -e "$tmp/a/ready"
check "the job read all of stdin, then EOF (256000 bytes)" test "$(head -1 "$tmp/a/out")" = 256000
python3 -c 'import sys; sys.stdout.buffer.write(bytes((k * 7 + 3) % 256 for k in range(1 << 20)))' >"$tmp/blob"
check "stdout arrives byte for byte (1 MiB)" cmp <(tail -c +8 "$tmp/a/out") "$tmp/blob"
check "stderr arrives" test "$(cat "$tmp/a/err")" = "to stderr"
check "the status file holds the job's status" test "$(cat "$tmp/a/status")" = 7
check "the control connection was closed, after stdout and stderr ended" \
	test "$(cat "$base.guest")" = "closed after the output ended"

# A job that never reads stdin.
base=$tmp/b/vm.sock
mkdir -p "$tmp/b"
python3 "$RELAY" --base "$base" --ports 50,51,52,53 --status-file "$tmp/b/status" \
	--timeout 30 <"$tmp/in.bin" >"$tmp/b/out" 2>/dev/null &
relay=$!
python3 "$tmp/guest.py" "$base" noread
rc=0
wait "$relay" || rc=$?
check "a job that does not read stdin: relay exits 0" test "$rc" = 0
check "... its status is kept" test "$(cat "$tmp/b/status" 2>/dev/null)" = 7

# No status: the VM died, say.
base=$tmp/c/vm.sock
mkdir -p "$tmp/c"
python3 "$RELAY" --base "$base" --ports 50,51,52,53 --status-file "$tmp/c/status" \
	--timeout 2 </dev/null >/dev/null 2>&1 &
relay=$!
python3 "$tmp/guest.py" "$base" nostatus
rc=0
wait "$relay" || rc=$?
check "no status: exit 1 after --timeout" test "$rc" = 1
check "... and no status file" test ! -e "$tmp/c/status"

rc=0
python3 "$RELAY" --base "$tmp/d" --ports 1,2 --status-file "$tmp/d.status" </dev/null >/dev/null 2>&1 || rc=$?
check "bad --ports: usage error (2)" test "$rc" = 2

plan "$tap_n"
done_testing
