#!/usr/bin/env bash
# run-all.sh and report.py against fake benchmarks (no VM): discovery of
# *-bench.sh, the pass / fail / skip rules and the exact closing line, the
# exit status, the merged results.json, and a report and an SVG chart made
# from real-shaped figures (fixtures below), with "not measured" where a
# figure is missing rather than an invented one.
set -euo pipefail
: "${ROOT:=$(cd "$(dirname "$0")/../../.." && pwd)}"
RUN_ALL=$ROOT/qemu-tests/bench/run-all.sh
REPORT=$ROOT/qemu-tests/bench/report.py

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
t() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
jqe() { jq -e "$@" >/dev/null; }

command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
work=$(mktemp -d /tmp/lcow-run-all-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "1..19"

# ---- fake benchmarks ---------------------------------------------------------
mkdir -p "$work/b1" "$work/b2"
fake() { # DIR NAME BODY
	printf '#!/usr/bin/env bash\nset -eu\nwhile [ $# -gt 0 ]; do case $1 in --runs) runs=$2; shift 2;; --out) out=$2; shift 2;; *) exit 2;; esac; done\n%s\n' "$3" >"$1/$2-bench.sh"
}
# a passes (and records the runs and BENCH_SHORT it was given)
fake "$work/b1" a 'echo "{\"runs\":$runs,\"short\":\"$BENCH_SHORT\"}" >"$out/a.json"; echo "# A bench" >"$out/a.md"'
# b crashes after writing its JSON
fake "$work/b1" b 'echo "{}" >"$out/b.json"; exit 3'
# c says it cannot run here
fake "$work/b1" c 'echo "c: no KVM"; exit 77'
# d exits 0 but writes nothing
fake "$work/b1" d 'true'
# e writes broken JSON
fake "$work/b1" e 'echo "{nope" >"$out/e.json"'
# not a benchmark: no -bench.sh suffix
printf '#!/bin/sh\nexit 1\n' >"$work/b1/helper.sh"
# a stale f.json from an earlier run must not make f pass
fake "$work/b1" f 'exit 0'
mkdir -p "$work/out1"
echo '{"old":true}' >"$work/out1/f.json"
touch -d '2020-01-01' "$work/out1/f.json"

rc=0
BENCH_DIR=$work/b1 "$RUN_ALL" --short --out "$work/out1" >"$work/out1.txt" 2>&1 || rc=$?
t "exit status 1 when a benchmark failed" test "$rc" = 1
t "the closing line is exactly 'bench: 1 passed, 4 failed, 1 skipped'" \
	test "$(tail -1 "$work/out1.txt")" = "bench: 1 passed, 4 failed, 1 skipped"
t "one line per benchmark, discovered by name (not helper.sh)" \
	test "$(grep -cE '^bench: [a-f] +(passed|failed|skipped) ' "$work/out1.txt")" = 6
t "a crash fails the benchmark even with its JSON written" grep -qE '^bench: b +failed .*exit 3' "$work/out1.txt"
t "exit 77 is a skip" grep -qE '^bench: c +skipped ' "$work/out1.txt"
t "exit 0 without NAME.json fails; so does a stale one" \
	bash -c "grep -qE '^bench: d +failed .*no fresh d.json' '$work/out1.txt' && grep -qE '^bench: f +failed .*no fresh f.json' '$work/out1.txt'"
t "invalid JSON fails the benchmark" grep -qE '^bench: e +failed .*not valid JSON' "$work/out1.txt"
t "--short: one run each and BENCH_SHORT=1 in the environment" \
	jqe '.results.a == {runs: 1, short: "1"} and .short == true and .runs == 1' "$work/out1/results.json"
t "results.json: only passing benchmarks' figures; status of every one; revision and machine" \
	jqe '(.results | keys) == ["a"] and (.benchmarks | keys) == ["a","b","c","d","e","f"]
		and .benchmarks.c.status == "skipped" and (.git_revision | length) > 0
		and .machine.cpus >= 1' "$work/out1/results.json"
t "report.md says which benchmarks failed and includes a passing one's report" \
	bash -c "grep -q '^| b | failed: exit 3 |' '$work/out1/report.md' && grep -q '^### A bench' '$work/out1/report.md'"

# --report-only: nothing runs; statuses are kept, a by-hand re-run counts
sleep 1.1
echo '{"rerun":true}' >"$work/out1/d.json"
rc=0
BENCH_DIR=$work/b1 "$RUN_ALL" --report-only --out "$work/out1" >"$work/out1r.txt" 2>&1 || rc=$?
t "--report-only: b stays failed, the re-run d passes, nothing re-runs" \
	bash -c "[ $rc = 1 ] && [ \"\$(tail -1 '$work/out1r.txt')\" = 'bench: 2 passed, 3 failed, 1 skipped' ] &&
		jq -e '.results.d.rerun and .benchmarks.b.status == \"failed\" and .short' '$work/out1/results.json' >/dev/null"

mkdir -p "$work/b2"
fake "$work/b2" only 'echo "{\"runs\":$runs}" >"$out/only.json"'
rc=0
BENCH_DIR=$work/b2 "$RUN_ALL" --runs 2 --out "$work/out2" >"$work/out2.txt" 2>&1 || rc=$?
t "all passing: exit 0, 'bench: 1 passed, 0 failed, 0 skipped', --runs passed on" \
	bash -c "[ $rc = 0 ] && [ \"\$(tail -1 '$work/out2.txt')\" = 'bench: 1 passed, 0 failed, 0 skipped' ] &&
		jq -e '.results.only.runs == 2' '$work/out2/results.json' >/dev/null"

# ---- report.py on real-shaped figures -----------------------------------------
mkdir -p "$work/rep"
cat >"$work/rep/results.json" <<'EOF'
{"date":"2026-01-01T00:00:00Z","git_revision":"0123456789abcdef","git_dirty":false,"runs":3,"short":false,
 "machine":{"cpu":"Test CPU","cpus":2,"host_kernel":"6.1","qemu":"QEMU 7.2","kvm":"absent","load_average_at_end":"1 1 1"},
 "benchmarks":{"boot":{"status":"passed","seconds":10},"phases":{"status":"passed","seconds":20}},
 "results":{
  "boot":{"machine":"m","boot":{
     "lcow":{"version":"6.1.0","kernel_bytes":3600000,"kernel_to_init_icount_s":{"n":3,"median":0.2,"min":0.19,"max":0.21,"spread":0.02},"boot_wall_s":{"n":3,"median":5,"min":5,"max":5}},
     "debian-cloud":{"version":"6.1.0-cloud","kernel_bytes":8000000,"kernel_to_init_icount_s":{"n":3,"median":0.9,"min":0.9,"max":0.9,"spread":0},"boot_wall_s":{"n":3,"median":9,"min":9,"max":9},
       "times_lcow":4.5,"hyperv_like":{"kernel_to_init_tsc_icount_s":{"n":3,"median":0.7,"min":0.7,"max":0.7,"spread":0},"times_lcow":12.25}}},
   "peers_not_run":{"defconfig":"skipped: not cached","firecracker":"skipped: not cached"},
   "negotiate":{"machine":"nm","kernels":{
     "lcow":{"kernel_to_negotiated_icount_s":{"n":3,"median":0.31,"min":0.31,"max":0.31,"spread":0},
       "qemu_start_to_negotiated_seen_wall_s":{"n":3,"median":2.5,"min":2.4,"max":2.6,"spread":0.2},
       "hyperv_like":{"kernel_to_negotiated_icount_s":{"n":3,"median":0.09,"min":0.09,"max":0.09,"spread":0}}},
     "debian-cloud":{"kernel_to_negotiated_icount_s":{"n":3,"median":1.6,"min":1.6,"max":1.6,"spread":0},"times_lcow":5.16,
       "failed":"boot-bench: debian-cloud: no negotiated bridge: console: Initramfs unpacking failed",
       "hyperv_like":{"kernel_to_negotiated_icount_s":{"n":3,"median":1.4,"min":1.4,"max":1.4,"spread":0},"times_lcow":15.56}},
     "defconfig":{"not_run":"cannot: no vsock"}},
     "lcow_guest_work_hyperv_like_s":{"n":3,"median":0.0943,"min":0.0943,"max":0.0943,"spread":0}}},
  "phases":{"machine":"run-vm --boot esp","how":{"init":"printk"},
   "footprint":{"after_boot":{"ram_kb":524288,"mem_unavailable_kb":74288,"mem_total_kb":480000,"mem_available_kb":450000,"mem_used_kb":30000,"agent_vmrss_kb":900,"agent_vmhwm_kb":950,"init_vmrss_kb":100},
                "sizes_bytes":{"kernel":3600000,"initrd.img":1900000}},
   "icount":{"phases_s":[
     {"phase":"VM start → firmware hand-off (OVMF)","stats":{"n":3,"median":1.5,"min":1.5,"max":1.5,"spread":0}},
     {"phase":"kernel start → /init","stats":{"n":3,"median":0.25,"min":0.24,"max":0.26,"spread":0.02}},
     {"phase":"/init → agent dialled","stats":null},
     {"phase":"VM start → first container output byte","stats":{"n":3,"median":2.5,"min":2.5,"max":2.5,"spread":0}}],
     "host_wall_s":{},"kernel_start_to_negotiated_s":{"n":3,"median":0.3,"min":0.3,"max":0.3,"spread":0}},
   "hyperv_like_icount":{"kernel_args":"noapictimer","phases_s":[
     {"phase":"kernel start → /init","stats":{"n":3,"median":0.05,"min":0.05,"max":0.05,"spread":0}}],
     "kernel_start_to_negotiated_s":{"n":3,"median":0.08,"min":0.08,"max":0.08,"spread":0}},
   "wall":{"phases_s":[
     {"phase":"VM start → firmware hand-off (OVMF)","stats":{"n":3,"median":12,"min":11,"max":13,"spread":2}},
     {"phase":"kernel start → /init","stats":{"n":3,"median":4,"min":4,"max":4,"spread":0}},
     {"phase":"/init → agent dialled","stats":{"n":3,"median":0.3,"min":0.3,"max":0.3,"spread":0}},
     {"phase":"VM start → first container output byte","stats":{"n":3,"median":17,"min":17,"max":17,"spread":0}}],
     "host_wall_s":{}}}}}
EOF
printf '# Boot-time optimisations\n\n| change | before | after |\n|---|---|---|\n| quiet | 1 | 0.5 |\n' >"$work/opt.md"
t "report.py writes report.md and boot-phases.svg" \
	python3 "$REPORT" --results "$work/rep/results.json" --dir "$work/rep" --optimisations "$work/opt.md"
t "phase table: icount and wall medians with spread, the peer beside the kernel phase only" \
	bash -c "grep -qF '| kernel start → /init | 250.0 ms (±10.0) [n=3] | 50.0 ms (±0.0) [n=3] | 4000.0 ms (±0.0) [n=3] | 200.0 ms (±10.0) [n=3] | 900.0 ms (±0.0) [n=3] |' '$work/rep/report.md' &&
		grep -qF '| VM start → firmware hand-off (OVMF) | 1500.0 ms (±0.0) [n=3] | not measured | 12000.0 ms (±1000.0) [n=3] | | |' '$work/rep/report.md'"
t "the target figure: kernel start → negotiated as is and Hyper-V-like; peers' ratios both ways" \
	bash -c "grep -qF 'answered** (icount; the target is ≤ 50 ms): 300.0 ms (±0.0) [n=3] as is, 80.0 ms (±0.0) [n=3] Hyper-V-like.' '$work/rep/report.md' &&
		grep -qF '| 4.5× | 900.0 ms (±0.0) [n=3] | 700.0 ms (±0.0) [n=3] | 12.2× |' '$work/rep/report.md'"
t "kernel start → negotiated with peers: ours first, ratios both ways, a peer that cannot get there or failed says why" \
	bash -c "grep -qF '| lcow | 310.0 ms (±0.0) [n=3] | - | 90.0 ms (±0.0) [n=3] | - | 2.50 s (±0.10) [n=3] |' '$work/rep/report.md' &&
		grep -qF '| debian-cloud | 1600.0 ms (±0.0) [n=3] | 5.2× | 1400.0 ms (±0.0) [n=3] | 15.6× | not measured |' '$work/rep/report.md' &&
		grep -qF '| defconfig | cannot: no vsock | | | | |' '$work/rep/report.md' &&
		grep -qF 'debian-cloud: a boot failed: boot-bench: debian-cloud: no negotiated bridge: console: Initramfs unpacking failed' '$work/rep/report.md' &&
		grep -qF 'Hyper-V-like: 94.3 ms (±0.0) [n=3] of instructions from kernel start' '$work/rep/report.md' &&
		grep -qE 'target, on the same phase against Debian.*: 5\.2× as is, 15\.6× Hyper-V-like\.$' '$work/rep/report.md' &&
		[ \"\$(grep -n '^| lcow | 310' '$work/rep/report.md' | cut -d: -f1)\" -lt \"\$(grep -n '^| debian-cloud | 1600' '$work/rep/report.md' | cut -d: -f1)\" ]"
t "a missing figure is 'not measured'; peers not run say why; footprint and optimisations shown" \
	bash -c "grep -qF '| /init → agent dialled | not measured | not measured | 300.0 ms' '$work/rep/report.md' &&
		grep -qF 'skipped: not cached' '$work/rep/report.md' && grep -qF '| firecracker | | | skipped: not cached |' '$work/rep/report.md' &&
		grep -qF 'MemTotal − MemAvailable = 30000 kB' '$work/rep/report.md' &&
		grep -qF 'Of the VM'\''s 524288 kB, **74288 kB are not available**' '$work/rep/report.md' &&
		grep -qF '| quiet | 1 | 0.5 |' '$work/rep/report.md'"
t "the SVG parses and has a bar per measured phase of each clock plus one per peer" \
	python3 - "$work/rep/boot-phases.svg" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
bars = [r for r in root.iter(ns + "rect") if r.find(ns + "title") is not None]
titles = [r.find(ns + "title").text for r in bars]
# icount: 2 measured phases (the total is not a bar), Hyper-V-like: 1,
# wall: 3; peers: 2
assert len(bars) == 2 + 1 + 3 + 2, titles
assert any(t.startswith("debian-cloud: 900.0 ms") for t in titles), titles
EOF
rc=0
python3 "$REPORT" --results "$work/nonexistent.json" --dir "$work/rep" 2>"$work/err" || rc=$?
t "report.py: a missing results file is a clear error, not a traceback" \
	bash -c "[ $rc = 1 ] && grep -q 'cannot read' '$work/err' && ! grep -q Traceback '$work/err'"

[ "$failed" = 0 ]
