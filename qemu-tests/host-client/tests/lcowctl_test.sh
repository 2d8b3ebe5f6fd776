#!/usr/bin/env bash
# lcowctl serve + its client subcommands against lcow-fake-guest, which
# dials the vsock unix sockets as lcow-vsockd would for the agent and
# records every frame it receives.  TAP output; the last line is
# "N passed, N failed".
# Env: ROOT (repo), OUT (default $ROOT/out), BIN (default $OUT/bin; point it
# at a SANITIZE=1 build dir to run the same checks under ASan).
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}
LCOWCTL=$BIN/lcowctl
FAKE=$BIN/lcow-fake-guest
UVM=00000000-0000-0000-0000-000000000000

usage() {
	echo "usage: $0   (env ROOT, OUT, BIN)" >&2
	exit 2
}
[ $# -eq 0 ] || usage

. "$ROOT/scripts/tests/tap.sh"
# not_ok NAME DIAGNOSTIC...: a failed result and its "# " lines.
not_ok() {
	tap_not_ok "$1"
	shift
	local line
	for line in "$@"; do echo "# $line"; done
}
# check_out NAME CMD...: the command's success is the test; its output
# goes with a failure (tap.sh's check drops it).
check_out() {
	local name=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		tap_ok "$name"
	else
		not_ok "$name" "command: $*" "$out"
	fi
}

for f in "$LCOWCTL" "$FAKE"; do
	if [ ! -x "$f" ]; then
		echo "Bail out! $f missing: run make all first"
		exit 1
	fi
done
if ! command -v jq >/dev/null; then
	echo "Bail out! jq is required (apt-get install jq)"
	exit 1
fi

# Short path: unix socket names are limited to 107 bytes.
T=$(mktemp -d /tmp/lcowctl-test.XXXXXX)
SERVE_PID=
FAKE_PID=
cleanup() {
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null || true
	[ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

BASE=$T/vm
REC=$T/rec.jsonl
ctl() { timeout 30 "$LCOWCTL" --uds "$BASE" "$@"; }

# wait_for DESC CMD...: poll until CMD succeeds (10 s).
wait_for() {
	local i
	for i in $(seq 200); do
		if "${@:2}" >/dev/null 2>&1; then return 0; fi
		sleep 0.05
	done
	echo "# timed out waiting for $1" >&2
	return 1
}

start_serve() {
	"$LCOWCTL" serve --uds "$BASE" --log "$T/guest.log" --events "$T/events.jsonl" \
		>"$T/serve.out" 2>>"$T/serve.err" &
	SERVE_PID=$!
	wait_for "serve ready" grep -qx 'lcowctl: ready' "$T/serve.out"
}
start_fake() {
	"$FAKE" bridge --uds "$BASE" --record "$REC" "$@" 2>>"$T/fake.err" &
	FAKE_PID=$!
}
# rec_has FILTER: some record matches (jq -e only looks at the last input).
rec_has() { [ -n "$(jq -c "select($1)" "$REC")" ]; }
# The last recorded request of a given name (JSON), from the fake guest.
last_req() { jq -c --arg n "$1" 'select(.Name == $n)' "$REC" | tail -n 1; }
# The current bridge connection count according to serve.
connections() { ctl status | jq -r .connections; }
is_guid() { [[ $1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]; }

# --- serve starts, the guest dials in, negotiation happens ----------------

start_serve
check_out "serve prints ready once its listeners exist" \
	test -S "${BASE}_1" -a -S "${BASE}_109" -a -S "${BASE}_1073741824" -a -S "$BASE.ctl"

t_second_serve() {
	local rc=0
	"$LCOWCTL" serve --uds "$BASE" >/dev/null 2>"$T/e" || rc=$?
	[ "$rc" = 3 ] && grep -q "in use by a running process" "$T/e" &&
		[ -S "$BASE.ctl" ] && [ -S "${BASE}_1073741824" ] && ctl status >/dev/null
}
check_out "a second serve on the same BASE refuses to start (exit 3), the first keeps its sockets" \
	t_second_serve

start_fake
if out=$(ctl wait-ready --timeout 10) &&
	[ "$(jq -r .Version <<<"$out")" = 4 ] &&
	[ "$(jq -r .Result <<<"$out")" = 0 ] &&
	[ "$(jq -r .Capabilities.RuntimeOsType <<<"$out")" = Linux ]; then
	tap_ok "wait-ready prints the negotiation response (Version 4)"
else
	not_ok "wait-ready prints the negotiation response (Version 4)" "$out"
fi

neg=$(last_req NegotiateProtocol)
if [ "$(jq -c '.Body | [.MinimumVersion, .MaximumVersion, .ContainerId]' <<<"$neg")" = "[4,4,\"$UVM\"]" ] &&
	[ "$(jq -r .Type <<<"$neg")" = 0x10100b01 ] &&
	is_guid "$(jq -r .Body.ActivityId <<<"$neg")" &&
	[ "$(jq -r .TrailingNewline <<<"$neg")" = true ]; then
	tap_ok "serve negotiates MinimumVersion 4, MaximumVersion 4 on connect"
else
	not_ok "serve negotiates MinimumVersion 4, MaximumVersion 4 on connect" "$neg"
fi

st=$(ctl status)
if [ "$(jq -c '[.connections, .connected, .negotiated, .version, .capabilities.RuntimeOsType]' <<<"$st")" = '[1,true,true,4,"Linux"]' ]; then
	tap_ok "status: 1 connection, negotiated, version 4, capabilities"
else
	not_ok "status: 1 connection, negotiated, version 4, capabilities" "$st"
fi

# --- entropy and log ports ------------------------------------------------

e1=$("$FAKE" entropy --uds "$BASE")
e2=$("$FAKE" entropy --uds "$BASE")
if [ "$e1" = 512 ] && [ "$e2" = 512 ]; then
	tap_ok "entropy port gives exactly 512 bytes then EOF, per connection"
else
	not_ok "entropy port gives exactly 512 bytes then EOF, per connection" "got $e1 / $e2"
fi

printf '{"msg":"one"}\n{"msg":"two"}\npartial' | "$FAKE" log --uds "$BASE"
printf 'next-connection\n' | "$FAKE" log --uds "$BASE"
expected=$(printf '{"msg":"one"}\n{"msg":"two"}\npartial\nnext-connection')
if wait_for "log lines" grep -qx next-connection "$T/guest.log" &&
	[ "$(cat "$T/guest.log")" = "$expected" ]; then
	tap_ok "log lines land in the log file; a partial line survives a reconnect"
else
	not_ok "log lines land in the log file; a partial line survives a reconnect" "$(cat "$T/guest.log")"
fi

# --- each subcommand: message type and exact field names ------------------

# fields NAME TYPE KEYS: the last recorded NAME request has that type and
# exactly these body keys (sorted, comma-joined).
fields() {
	local r
	r=$(last_req "$1")
	[ "$(jq -r .Type <<<"$r")" = "$2" ] &&
		[ "$(jq -r '.Body | keys | join(",")' <<<"$r")" = "$3" ] &&
		is_guid "$(jq -r .Body.ActivityId <<<"$r")"
}

cfg='{"SchemaVersion":{"Major":2,"Minor":1},"OciBundlePath":"/run/gcs/c/c1","OciSpecification":{"ociVersion":"1.0.2"}}'
if out=$(ctl create c1 --config "$cfg") && [ "$(jq -r .SelectedProtocolVersion <<<"$out")" = 4 ] &&
	fields Create 0x10100101 ActivityId,ContainerConfig,ContainerId &&
	[ "$(last_req Create | jq -r '.Body.ContainerConfig | type')" = string ] &&
	[ "$(last_req Create | jq -c '.Body.ContainerConfig | fromjson')" = "$(jq -c . <<<"$cfg")" ]; then
	tap_ok "create: Create with ContainerConfig as JSON in a string"
else
	not_ok "create: Create with ContainerConfig as JSON in a string" "$out" "$(last_req Create)"
fi

t_start() {
	ctl start c1 >/dev/null && fields Start 0x10100201 ActivityId,ContainerId &&
		[ "$(last_req Start | jq -r .Body.ContainerId)" = c1 ]
}
check_out "start: Start {ContainerId, ActivityId}" t_start

# A process to point wait/signal/resize at: raw ExecuteProcess of "sleep".
params='{"CommandArgs":["sleep","30"],"CreateInUtilityVM":true}'
body=$(jq -nc --arg p "$params" '{ContainerId:"c1", Settings:{ProcessParameters:$p, VsockStdioRelaySettings:{}}}')
if out=$(ctl request ExecuteProcess "$body") && pid=$(jq -er .ProcessId <<<"$out") &&
	[ "$(last_req ExecuteProcess | jq -r .Body.ContainerId)" = c1 ]; then
	tap_ok "request ExecuteProcess: raw body sent, ActivityId filled in"
else
	not_ok "request ExecuteProcess: raw body sent, ActivityId filled in" "${out:-}"
	pid=0
fi

t_resize() {
	ctl resize c1 "$pid" 24 80 >/dev/null &&
		fields ResizeConsole 0x10100801 ActivityId,ContainerId,Height,ProcessId,Width &&
		[ "$(last_req ResizeConsole | jq -c '[.Body.ProcessId, .Body.Height, .Body.Width]')" = "[$pid,24,80]" ]
}
check_out "resize: ResizeConsole {ProcessId, Height, Width}" t_resize

t_properties() {
	local out
	out=$(ctl properties c1) && fields GetProperties 0x10100901 ActivityId,ContainerId,Query &&
		[ "$(last_req GetProperties | jq -c '.Body.Query | fromjson')" = '{"PropertyTypes":["ProcessList","Statistics"]}' ] &&
		jq -e --argjson p "$pid" '.Properties.ProcessList | map(.ProcessId) | index($p)' <<<"$out" &&
		grep -q '"limit":18446744073709551615}' <<<"$out" && [ "$(wc -l <<<"$out")" = 1 ] &&
		jq -e '.Result == 0' <<<"$out" >/dev/null
}
check_out "properties: GetProperties with Query as JSON in a string (Properties decoded, uint64 exact)" t_properties

# wait in the background, then signal: the wait answers 128+15.
ctl wait c1 "$pid" >"$T/wait.out" 2>&1 &
wait_pid=$!
has_wait() { [ -n "$(last_req WaitForProcess)" ]; }
wait_for "WaitForProcess recorded" has_wait
t_signal() {
	ctl signal c1 "$pid" TERM >/dev/null &&
		fields SignalProcess 0x10100701 ActivityId,ContainerId,Options,ProcessId &&
		[ "$(last_req SignalProcess | jq -c .Body.Options)" = '{"Signal":15}' ]
}
check_out "signal: SignalProcess {ProcessId, Options:{Signal}}" t_signal
if wait "$wait_pid" && [ "$(jq -r .ExitCode "$T/wait.out")" = 143 ] &&
	fields WaitForProcess 0x10100601 ActivityId,ContainerId,ProcessId,TimeoutInMs &&
	[ "$(last_req WaitForProcess | jq -r .Body.TimeoutInMs)" = 4294967295 ]; then
	tap_ok "wait: WaitForProcess answered asynchronously with ExitCode 143"
else
	not_ok "wait: WaitForProcess answered asynchronously with ExitCode 143" "$(cat "$T/wait.out")"
fi

t_wait_timeout() {
	local out p rc=0
	out=$(ctl request ExecuteProcess "$body") && p=$(jq -r .ProcessId <<<"$out") || return 1
	ctl wait c1 "$p" --timeout 100 >/dev/null 2>"$T/e" || rc=$?
	[ "$rc" = 1 ] && [ "$(last_req WaitForProcess | jq -r .Body.TimeoutInMs)" = 100 ] &&
		grep -q "^error: 0xc0370109: " "$T/e" && ctl signal c1 "$p" KILL >/dev/null
}
check_out "wait --timeout MS: TimeoutInMs sent; the timeout HRESULT exits 1" t_wait_timeout

settings='{"MountPath":"/run/layers/p0","Lun":1,"Controller":0,"ReadOnly":true}'
t_modify() {
	ctl modify c1 --type MappedVirtualDisk --request Remove --settings "$settings" >/dev/null &&
		fields ModifySettings 0x10100a01 ActivityId,ContainerId,Request &&
		[ "$(last_req ModifySettings | jq -c '.Body.Request | [.RequestType, .ResourceType, .Settings.Lun]')" = '["Remove","MappedVirtualDisk",1]' ] &&
		ctl modify c1 --type VPMemDevice --settings '{"DeviceNumber":0}' >/dev/null &&
		[ "$(last_req ModifySettings | jq -r .Body.Request.RequestType)" = Add ]
}
check_out "modify: ModifySettings with Request as an object (RequestType default Add)" t_modify

t_dump_stacks() {
	local out
	out=$(ctl dump-stacks) && [ "$(head -n 1 <<<"$out")" = "fake-guest: goroutine 1 [running]:" ] &&
		fields DumpStacks 0x10100c01 ActivityId,ContainerId &&
		[ "$(last_req DumpStacks | jq -r .Body.ContainerId)" = "$UVM" ]
}
check_out "dump-stacks: DumpStacks for the VM, prints the GuestStacks text" t_dump_stacks

t_graceful() {
	ctl shutdown-graceful c1 >/dev/null && fields ShutdownGraceful 0x10100301 ActivityId,ContainerId &&
		[ "$(last_req ShutdownGraceful | jq -r .Body.ContainerId)" = c1 ]
}
check_out "shutdown-graceful ID: ShutdownGraceful for the container" t_graceful
t_forced() {
	ctl shutdown-forced c1 | jq -e '.Result == 0' >/dev/null &&
		fields ShutdownForced 0x10100401 ActivityId,ContainerId &&
		[ "$(last_req ShutdownForced | jq -r .Body.ContainerId)" = c1 ]
}
check_out "shutdown-forced ID: ShutdownForced for the container, answered" t_forced
t_delete() {
	ctl delete c1 >/dev/null && fields DeleteContainerState 0x10100d01 ActivityId,ContainerId
}
check_out "delete: DeleteContainerState" t_delete
count_neg() { jq -c 'select(.Name == "NegotiateProtocol")' "$REC" | wc -l; }
t_negotiate() {
	local before
	before=$(count_neg)
	ctl negotiate | jq -e '.Version == 4' >/dev/null && [ "$(count_neg)" -eq $((before + 1)) ] &&
		[ "$(connections)" = 1 ]
}
check_out "negotiate: NegotiateProtocol again on the same connection" t_negotiate
t_hex() { ctl request 0x10100c01 '{}' | jq -e .GuestStacks >/dev/null; }
check_out "request takes a hex message id" t_hex

# --- out-of-order responses ----------------------------------------------

ctl request DumpStacks '{"FakeGuest":{"Action":"hold"},"Tag":"first"}' >"$T/first.out" &
first_pid=$!
has_first() { rec_has '.Body.Tag == "first"'; }
wait_for "held request recorded" has_first
second=$(ctl request DumpStacks '{"Tag":"second"}') || true
if wait "$first_pid"; then first_rc=0; else first_rc=$?; fi
act1=$(jq -r 'select(.Body.Tag == "first") | .Body.ActivityId' "$REC")
act2=$(jq -r 'select(.Body.Tag == "second") | .Body.ActivityId' "$REC")
if [ "$first_rc" = 0 ] && [ "$(jq -r .ActivityId "$T/first.out")" = "$act1" ] &&
	[ "$(jq -r .ActivityId <<<"$second")" = "$act2" ] && [ "$act1" != "$act2" ]; then
	tap_ok "responses answered out of order reach the right requests"
else
	not_ok "responses answered out of order reach the right requests" "$(cat "$T/first.out")" "$second"
fi

t_split() { ctl request DumpStacks '{"FakeGuest":{"Action":"split"}}' | jq -e .GuestStacks >/dev/null; }
check_out "a response split into 1-byte writes is reassembled" t_split
t_unknown_id() {
	ctl request DumpStacks '{"FakeGuest":{"Action":"unknown-id"}}' | jq -e .GuestStacks >/dev/null &&
		[ "$(connections)" = 1 ] && grep -q "unknown request id" "$T/serve.err"
}
check_out "a response for an unknown id is ignored (logged), the real one delivered" t_unknown_id

# --- notifications -------------------------------------------------------

timeout 20 "$LCOWCTL" --uds "$BASE" events --follow >"$T/follow.out" 2>&1 &
follow_pid=$!
ctl request DumpStacks '{"FakeGuest":{"Action":"notify","ContainerId":"c7"}}' >/dev/null
if ev=$(ctl events) && [ "$(jq -r 'select(.ContainerId == "c7") | .Type' <<<"$ev")" = GracefulExit ] &&
	[ "$(jq -r 'select(.ContainerId == "c7") | .Operation' "$T/events.jsonl")" = None ]; then
	tap_ok "a notification appears in events and in the events file"
else
	not_ok "a notification appears in events and in the events file" "${ev:-}"
fi
if wait_for "follow output" grep -q '"c7"' "$T/follow.out"; then
	tap_ok "events --follow streams new notifications"
else
	not_ok "events --follow streams new notifications" "$(cat "$T/follow.out")"
fi
kill "$follow_pid" 2>/dev/null || true
wait "$follow_pid" 2>/dev/null || true

# --- malformed frames, reconnects ----------------------------------------

# bad_frame ACTION JSON DESC: the request fails with exit 3, serve drops the
# connection, keeps running and negotiates the guest's next one.
bad_frame() {
	local before rc=0
	before=$(connections)
	ctl request DumpStacks "$1" >/dev/null 2>"$T/bad.err" || rc=$?
	if [ "$rc" = 3 ] && ctl wait-ready --connections $((before + 1)) --timeout 10 >/dev/null &&
		[ "$(connections)" = $((before + 1)) ] && kill -0 "$SERVE_PID"; then
		tap_ok "$2"
	else
		not_ok "$2" "rc=$rc" "$(cat "$T/bad.err")" "$(tail -n 3 "$T/serve.err")"
	fi
}
bad_frame '{"FakeGuest":{"Action":"bad-size","Size":8}}' \
	"frame with Size 8 drops the connection; serve accepts the next one"
bad_frame '{"FakeGuest":{"Action":"bad-size","Size":70000}}' \
	"frame with Size 70000 (> 64 KiB) drops the connection; serve accepts the next one"
bad_frame '{"FakeGuest":{"Action":"bad-json"}}' \
	"response that is not JSON fails the request (exit 3) and drops the connection"
check_out "serve logged why it dropped them" \
	grep -q "Size 70000 outside \[16, 65536\]" "$T/serve.err"

before=$(connections)
fake_conn=$(jq -r 'select(.Event == "connected") | .Conn' "$REC" | tail -n 1)
fake_closed() { rec_has ".Event == \"closed\" and .Conn == $fake_conn"; }
if out=$(ctl drop-bridge) && [ "$(jq -r .connection <<<"$out")" = "$before" ] &&
	wait_for "fake saw the close" fake_closed &&
	ctl wait-ready --connections $((before + 1)) --timeout 10 >/dev/null; then
	tap_ok "drop-bridge closes the connection; wait-ready --connections N+1 sees the reconnect"
else
	not_ok "drop-bridge closes the connection; wait-ready --connections N+1 sees the reconnect" "${out:-}"
fi

# --- exec ----------------------------------------------------------------

ctl create c2 --config '{"SchemaVersion":{"Major":2,"Minor":1}}' >/dev/null
head -c 5000000 /dev/urandom >"$T/in.bin"
rc=0
ctl exec c2 -- cat 7 <"$T/in.bin" >"$T/out.bin" 2>"$T/exec.err" || rc=$?
if [ "$rc" = 7 ] && cmp -s "$T/in.bin" "$T/out.bin"; then
	tap_ok "exec relays 5 MB stdin → stdout byte-exact (files) and exits with the process's code"
else
	not_ok "exec relays 5 MB stdin → stdout byte-exact (files) and exits with the process's code" \
		"rc=$rc size=$(stat -c %s "$T/out.bin")" "$(cat "$T/exec.err")"
fi

want=$(sha256sum <"$T/in.bin" | cut -d' ' -f1)
got=$(cat "$T/in.bin" | ctl exec c2 -- cat | sha256sum | cut -d' ' -f1)
if [ "$want" = "$got" ]; then
	tap_ok "exec relays 5 MB through pipes with back-pressure (sha256 equal)"
else
	not_ok "exec relays 5 MB through pipes with back-pressure (sha256 equal)" "$want vs $got"
fi

ex=$(last_req ExecuteProcess)
pp=$(jq -c '.Body.Settings.ProcessParameters | fromjson' <<<"$ex")
if [ "$(jq -r '.Body.Settings | keys | join(",")' <<<"$ex")" = ProcessParameters,VsockStdioRelaySettings ] &&
	[ "$(jq -r '.Body.Settings.ProcessParameters | type' <<<"$ex")" = string ] &&
	[ "$(jq -c '[.CreateStdInPipe, .CreateStdOutPipe, .CreateStdErrPipe, .EmulateConsole, .OciProcess.args, .OciProcess.cwd]' <<<"$pp")" = '[true,true,true,false,["cat"],"/"]' ] &&
	jq -e '.OciProcess.env | index("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")' <<<"$pp" >/dev/null &&
	jq -e '.Body.Settings.VsockStdioRelaySettings | [.StdIn, .StdOut, .StdErr] | (unique | length == 3) and all(. >= 1073741825)' <<<"$ex" >/dev/null; then
	tap_ok "exec: ExecuteProcess with ProcessParameters (OciProcess) and three distinct stdio ports"
else
	not_ok "exec: ExecuteProcess with ProcessParameters (OciProcess) and three distinct stdio ports" "$ex"
fi
ports_all=$(jq -c 'select(.Name == "ExecuteProcess") | .Body.Settings.VsockStdioRelaySettings | .StdIn, .StdOut, .StdErr | select(. != null)' "$REC" | sort)
if [ "$(uniq -d <<<"$ports_all")" = "" ]; then
	tap_ok "stdio ports are unique within this serve"
else
	not_ok "stdio ports are unique within this serve" "$ports_all"
fi

rc=0
out=$(ctl exec --uvm --cwd /tmp --env FOO=bar --user 1000 -n -- echo hi there </dev/null) || rc=$?
pp=$(last_req ExecuteProcess | jq -c '.Body.Settings.ProcessParameters | fromjson')
if [ "$rc" = 0 ] && [ "$out" = "hi there" ] &&
	[ "$(jq -c '[.CommandArgs, .CreateInUtilityVM, .WorkingDirectory, .Environment.FOO, .User, .CreateStdInPipe]' <<<"$pp")" = '[["echo","hi","there"],true,"/tmp","bar","1000",false]' ] &&
	[ "$(last_req ExecuteProcess | jq -r .Body.ContainerId)" = "$UVM" ] &&
	[ "$(last_req ExecuteProcess | jq -r '.Body.Settings.VsockStdioRelaySettings | has("StdIn")')" = false ]; then
	tap_ok "exec --uvm: CommandArgs, Environment, WorkingDirectory, CreateInUtilityVM; -n: no stdin"
else
	not_ok "exec --uvm: CommandArgs, Environment, WorkingDirectory, CreateInUtilityVM; -n: no stdin" "rc=$rc out=$out" "$pp"
fi

rc=0
ctl exec c2 -- stderr to-stderr </dev/null >"$T/o" 2>"$T/e" || rc=$?
t_stderr() { [ "$rc" = 0 ] && [ ! -s "$T/o" ] && [ "$(cat "$T/e")" = to-stderr ]; }
check_out "exec relays the process's stderr to ours" t_stderr

rc=0
ctl exec c2 -- exit 42 </dev/null || rc=$?
check_out "exec exits with the process's exit code (42)" test "$rc" = 42

rc=0
ctl exec --pid-file "$T/pid" c2 -- exit 0 </dev/null || rc=$?
t_pid_file() {
	[ "$rc" = 0 ] && [ ! -e "$T/pid.tmp" ] &&
		[ "$(cat "$T/pid")" = "$(last_req WaitForProcess | jq -r .Body.ProcessId)" ] &&
		[ "$(cat "$T/pid")" -gt 0 ]
}
check_out "exec --pid-file: the ProcessId the guest answered, the one then waited for" t_pid_file
rc=0
ctl exec --pid-file "$T/no/such/dir/pid" c2 -- exit 0 </dev/null 2>"$T/e" || rc=$?
check_out "exec --pid-file in a missing directory: transport error (3), says why" \
	bash -c "[ $rc = 3 ] && grep -q 'pid-file' '$T/e'"

rc=0
ctl exec --tty c2 -- echo tty </dev/null >"$T/o" 2>/dev/null || rc=$?
pp=$(last_req ExecuteProcess | jq -c '.Body.Settings.ProcessParameters | fromjson')
t_tty() {
	[ "$rc" = 0 ] && [ "$(cat "$T/o")" = tty ] &&
		[ "$(jq -c '[.EmulateConsole, .CreateStdErrPipe, .OciProcess.terminal]' <<<"$pp")" = "[true,false,true]" ] &&
		jq -e '.OciProcess.env | index("TERM=xterm")' <<<"$pp" >/dev/null &&
		[ "$(last_req ExecuteProcess | jq -r '.Body.Settings.VsockStdioRelaySettings | has("StdErr")')" = false ]
}
check_out "exec --tty: EmulateConsole, no stderr pipe, TERM set" t_tty

# --tty under a real pty (script(1)): raw mode, initial size, SIGWINCH.
if command -v script >/dev/null; then
	cat >"$T/tty.sh" <<-'EOS'
		set -e
		stty rows 30 cols 100
		before=$(stty -g)
		"$LCOWCTL" --uds "$BASE" exec --tty c2 -- sleep 2 &
		p=$!
		for i in $(seq 100); do
			[ "$(jq -c 'select(.Name == "ResizeConsole") | .Body.Width' "$REC" | tail -n 1)" = 100 ] && break
			sleep 0.05
		done
		stty rows 40 cols 120
		kill -WINCH "$p"
		wait "$p"
		echo "rc=$?"
		[ "$(stty -g)" = "$before" ] && echo restored
	EOS
	tty_out=$(LCOWCTL=$LCOWCTL BASE=$BASE REC=$REC timeout 30 script -qec "bash $T/tty.sh" /dev/null </dev/null 2>&1 || true)
	# stty itself raises SIGWINCH too: look at the first and the last.
	sizes=$(jq -c 'select(.Name == "ResizeConsole" and .Body.ContainerId == "c2") | [.Body.Height, .Body.Width]' "$REC" | sed -n '1p;$p' | paste -sd' ')
	csize=$(last_req ExecuteProcess | jq -c '.Body.Settings.ProcessParameters | fromjson | .OciProcess.consoleSize')
	if [ "$sizes" = "[30,100] [40,120]" ] && [ "$csize" = '{"height":30,"width":100}' ] &&
		grep -q "rc=0" <<<"$tty_out" && grep -q restored <<<"$tty_out"; then
		tap_ok "exec --tty on a terminal: consoleSize, ResizeConsole on start and on SIGWINCH, terminal restored"
	else
		not_ok "exec --tty on a terminal: consoleSize, ResizeConsole on start and on SIGWINCH, terminal restored" \
			"sizes=$sizes consoleSize=$csize" "$tty_out"
	fi
else
	tap_ok "exec --tty on a terminal # SKIP script(1) not installed"
fi

# SIGTERM to exec goes to the process once (SignalProcess), exec then
# reports how the process died.
count_waits() { jq -c 'select(.Name == "WaitForProcess")' "$REC" | wc -l; }
waits_before=$(count_waits)
# Not through ctl(): timeout(1) would signal the whole process group.
"$LCOWCTL" --uds "$BASE" exec c2 -- sleep 20 </dev/null >/dev/null 2>&1 &
exec_pid=$!
# exec sends WaitForProcess once it has the pid: then the signal has a target.
sleeping() { [ "$(count_waits)" -gt "$waits_before" ]; }
wait_for "exec of sleep" sleeping || true
kill -TERM "$exec_pid"
rc=0
wait "$exec_pid" || rc=$?
if [ "$rc" = 143 ] && [ "$(last_req SignalProcess | jq -c '.Body.Options')" = '{"Signal":15}' ]; then
	tap_ok "exec forwards SIGTERM as SignalProcess and exits 128+15"
else
	not_ok "exec forwards SIGTERM as SignalProcess and exits 128+15" "rc=$rc" "$(last_req SignalProcess)"
fi

# --- exit status contract --------------------------------------------------

rc=0
ctl start nope >/dev/null 2>"$T/e" || rc=$?
t_hresult() { [ "$rc" = 1 ] && grep -qx "error: 0xc037010e: container nope not found" "$T/e"; }
check_out "HRESULT error: exit 1 and 'error: 0x........: message' on stderr" t_hresult
rc=0
ctl exec nope -- echo x </dev/null 2>"$T/e" || rc=$?
check_out "exec into a missing container: exit 1" test "$rc" = 1

usage_rc() { local rc=0; ctl "$@" >/dev/null 2>&1 || rc=$?; [ "$rc" = 2 ]; }
check_out "bad JSON from the user: exit 2" usage_rc create c3 --config '{"oops'
check_out "body that is not an object: exit 2" usage_rc request DumpStacks '[1]'
check_out "unknown message name: exit 2" usage_rc request Bogus '{}'
check_out "missing arguments: exit 2" usage_rc wait c1
check_out "unknown command: exit 2" usage_rc frobnicate
check_out "unknown option: exit 2" usage_rc status --bogus
check_out "bad signal name: exit 2" usage_rc signal c1 1 SIGNOPE
check_out "--help on a subcommand: exit 0" "$LCOWCTL" exec --help
t_help_all() {
	local c
	for c in serve exec wait-ready status negotiate request create start shutdown-graceful \
		shutdown-forced wait signal resize properties modify dump-stacks delete events drop-bridge; do
		"$LCOWCTL" $c --help | grep -q "^usage: lcowctl $c" || { echo "no usage for $c"; return 1; }
	done
	"$LCOWCTL" --help | grep -q "^usage: lcowctl"
}
check_out "--help on everything: exit 0 with a usage text" t_help_all

rc=0
"$LCOWCTL" -c "$T/nothing.ctl" status >/dev/null 2>"$T/e" || rc=$?
t_no_serve() { [ "$rc" = 3 ] && grep -q 'is `lcowctl serve` running?' "$T/e"; }
check_out "serve not running: exit 3 with a clear message" t_no_serve

# garbage on the control socket: an error line back, serve keeps going.
printf 'garbage\n{"op":"status","tag":7}\n{"op":"nope"}\n' | "$FAKE" raw "$BASE.ctl" >"$T/raw.out"
t_garbage() {
	[ "$(sed -n 1p "$T/raw.out" | jq -r '.ok,.kind' | paste -sd,)" = false,usage ] &&
		[ "$(sed -n 2p "$T/raw.out" | jq -r '.ok,.tag' | paste -sd,)" = true,7 ] &&
		sed -n 3p "$T/raw.out" | jq -e '.ok == false' >/dev/null && kill -0 "$SERVE_PID" &&
		ctl status >/dev/null
}
check_out "garbage on the control socket gets an error reply; serve continues (half-close answered)" t_garbage

# --- VM shutdown, serve without a guest, timeouts ---------------------------

conn=$(connections)
if out=$(ctl shutdown-forced --wait) && [ "$(head -n 1 <<<"$out" | jq -r .sent)" = true ] &&
	[ "$(tail -n 1 <<<"$out" | jq -c '[.closed, .connection]')" = "[true,$conn]" ] &&
	[ "$(last_req ShutdownForced | jq -r .Body.ContainerId)" = "$UVM" ]; then
	tap_ok "shutdown-forced (VM): returns once written; --wait until the connection closes"
else
	not_ok "shutdown-forced (VM): returns once written; --wait until the connection closes" "${out:-}"
fi
wait "$FAKE_PID" 2>/dev/null || true
FAKE_PID=

rc=0
ctl dump-stacks >/dev/null 2>"$T/e" || rc=$?
t_no_guest() { [ "$rc" = 3 ] && grep -q "no bridge connection" "$T/e"; }
check_out "request without a guest connection: exit 3" t_no_guest
rc=0
ctl wait-ready --connections 99 --timeout 0.3 >/dev/null 2>&1 || rc=$?
check_out "wait-ready --timeout: exit 3 when nothing connects" test "$rc" = 3

# A guest that refuses negotiation: wait-ready reports the HRESULT.
conn=$(connections)
start_fake --negotiate-result 0xC037010C
rc=0
ctl wait-ready --connections $((conn + 1)) --timeout 10 >/dev/null 2>"$T/e" || rc=$?
t_refused() { [ "$rc" = 1 ] && grep -q "^error: 0xc037010c:" "$T/e" && [ "$(ctl status | jq .negotiated)" = false ]; }
check_out "refused negotiation: wait-ready exits 1 with the HRESULT" t_refused
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null || true
FAKE_PID=

# Out of file descriptors: serve sheds the connections it cannot take (no
# busy loop) and works again once clients leave.
(ulimit -n 24 && exec "$LCOWCTL" serve --uds "$T/small" >"$T/small.out" 2>"$T/small.err") &
small_pid=$!
wait_for "small serve" grep -qx 'lcowctl: ready' "$T/small.out" || true
follow_pids=()
for i in $(seq 16); do
	"$LCOWCTL" --uds "$T/small" events --follow >/dev/null 2>&1 &
	follow_pids+=($!)
done
wait_for "fd exhaustion" grep -q "out of file descriptors" "$T/small.err" || true
cpu_before=$(awk '{print $14 + $15}' "/proc/$small_pid/stat")
sleep 0.5
cpu_after=$(awk '{print $14 + $15}' "/proc/$small_pid/stat")
kill "${follow_pids[@]}" 2>/dev/null || true
wait "${follow_pids[@]}" 2>/dev/null || true
if grep -q "out of file descriptors" "$T/small.err" && [ $((cpu_after - cpu_before)) -lt 10 ] &&
	timeout 10 "$LCOWCTL" --uds "$T/small" status >/dev/null; then
	tap_ok "out of fds: serve sheds connections without spinning, then recovers"
else
	not_ok "out of fds: serve sheds connections without spinning, then recovers" \
		"cpu ticks in 0.5 s: $((cpu_after - cpu_before))" "$(tail -n 3 "$T/small.err")"
fi
kill "$small_pid" 2>/dev/null || true
wait "$small_pid" 2>/dev/null || true

# --vsock: AF_VSOCK listeners on VMADDR_CID_ANY (needs the vsock module; no
# loopback transport here, so only the listeners are checked).
"$LCOWCTL" serve --vsock --control "$T/vsock.ctl" >"$T/vsock.out" 2>"$T/vsock.err" &
vpid=$!
vready() { grep -qx 'lcowctl: ready' "$T/vsock.out" || ! kill -0 "$vpid" 2>/dev/null; }
wait_for "vsock serve" vready || true
if grep -qx 'lcowctl: ready' "$T/vsock.out"; then
	vst=$("$LCOWCTL" -c "$T/vsock.ctl" status || true)
	vports=$(printf '{"op":"alloc-ports","count":3}\n' | "$FAKE" raw "$T/vsock.ctl" || true)
	if [ "$(jq -r .transport <<<"$vst")" = vsock ] && [ "$(jq -r .transport <<<"$vports")" = vsock ] &&
		[ "$(jq -c .ports <<<"$vports")" = "[1073741825,1073741826,1073741827]" ]; then
		tap_ok "serve --vsock listens on AF_VSOCK and hands out vsock stdio ports"
	else
		not_ok "serve --vsock listens on AF_VSOCK and hands out vsock stdio ports" "$vst" "$vports"
	fi
	kill "$vpid"
	wait "$vpid" || true
else
	wait "$vpid" 2>/dev/null || true
	tap_ok "serve --vsock # SKIP no usable AF_VSOCK here: $(head -n 1 "$T/vsock.err")"
fi

kill -TERM "$SERVE_PID"
rc=0
wait "$SERVE_PID" || rc=$?
SERVE_PID=
t_sigterm() { [ "$rc" = 0 ] && [ ! -e "${BASE}_1" ] && [ ! -e "${BASE}_109" ] && [ ! -e "${BASE}_1073741824" ] && [ ! -e "$BASE.ctl" ]; }
check_out "SIGTERM: serve exits 0 and removes its sockets" t_sigterm

plan "$tap_n"
done_testing
