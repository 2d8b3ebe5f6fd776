#!/usr/bin/env bash
# Run every benchmark in qemu-tests/bench (each *-bench.sh, found at run
# time, called with --runs N --out DIR), then merge their NAME.json into
# DIR/results.json and write DIR/report.md and DIR/boot-phases.svg
# (report.py).  One line per benchmark, then exactly
#   bench: N passed, N failed, N skipped
# A benchmark passes when it exits 0 and wrote a fresh, valid DIR/NAME.json;
# it is skipped when it exits 77; a timing never fails it.  Exit status 1
# when any failed.
#   qemu-tests/bench/run-all.sh [--runs N] [--out DIR] [--short] [--report-only]
set -euo pipefail

PROG=bench
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# BENCH_DIR: where the *-bench.sh are (the tests point it elsewhere).
BENCH_DIR=${BENCH_DIR:-$ROOT/qemu-tests/bench}
OUT=${OUT:-$ROOT/out}
runs=3
outdir=$OUT/bench
short=0
timeout_s=
report_only=0

usage() {
	cat >&2 <<EOU
usage: $0 [--runs N] [--out DIR] [--short] [--timeout SEC] [--report-only]

  --runs N       runs of each benchmark (default 3)
  --out DIR      results.json, report.md, boot-phases.svg and every
                 benchmark's NAME.json/NAME.md (default out/bench)
  --short        one run each, peers only when already cached (what CI
                 runs, so the benchmark code cannot rot)
  --timeout SEC  stop a benchmark after SEC seconds and count it failed
                 (default 3600, 1800 with --short)
  --report-only  run nothing: merge the NAME.json already in DIR (e.g. after
                 re-running one benchmark by hand) and rewrite the report
EOU
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=${2:?}; shift 2 ;;
	--out) outdir=${2:?}; shift 2 ;;
	--short) short=1; shift ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--report-only) report_only=1; shift ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[ "$short" = 0 ] || runs=1
if [ "$report_only" = 1 ] && [ -r "$outdir/results.json" ]; then
	runs=$(jq -r '.runs // 1' "$outdir/results.json")
	short=$(jq -r 'if .short then 1 else 0 end' "$outdir/results.json")
fi
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
[ -n "$timeout_s" ] || timeout_s=$([ "$short" = 1 ] && echo 1800 || echo 3600)
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || usage
command -v jq >/dev/null || { echo "$PROG: jq not found (scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$outdir/logs"
outdir=$(cd "$outdir" && pwd)
export BENCH_SHORT=$short

benches=()
while IFS= read -r f; do benches+=("$f"); done < <(find "$BENCH_DIR" -maxdepth 1 -name '*-bench.sh' -type f | LC_ALL=C sort)
[ ${#benches[@]} -gt 0 ] || { echo "$PROG: no *-bench.sh in $BENCH_DIR" >&2; exit 1; }

# The benchmark being run is in its own session, ended with it.
cur=
trap '[ -z "$cur" ] || kill -TERM -- "-$cur" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0 failed=0 skipped=0
status='{}'
t_all=$SECONDS
for b in "${benches[@]}"; do
	name=$(basename "$b" -bench.sh)
	log=$outdir/logs/$name.log
	if [ "$report_only" = 1 ]; then
		# A NAME.json newer than results.json (re-run by hand) passed; else
		# the status the last run recorded; else what is on disk.
		prev=$(jq -c --arg n "$name" '.benchmarks[$n] // empty' "$outdir/results.json" 2>/dev/null || true)
		valid=0
		[ -e "$outdir/$name.json" ] && jq empty "$outdir/$name.json" 2>/dev/null && valid=1
		if [ "$valid" = 1 ] && [ "$outdir/$name.json" -nt "$outdir/results.json" ]; then
			st=passed prev='{}'
		elif [ -n "$prev" ]; then
			st=$(jq -r .status <<<"$prev")
		elif [ "$valid" = 1 ]; then
			st=passed prev='{}'
		else
			st=failed prev='{"why":"no valid NAME.json in the output directory"}'
		fi
		case $st in passed) passed=$((passed + 1)) ;; skipped) skipped=$((skipped + 1)) ;; *) failed=$((failed + 1)) ;; esac
		printf '%s: %-10s %-7s (from %s)\n' "$PROG" "$name" "$st" "$outdir"
		status=$(jq --arg n "$name" --arg st "$st" --argjson p "$prev" '.[$n] = ($p + {status: $st})' <<<"$status")
		continue
	fi
	stamp=$outdir/logs/.$name.start
	: >"$stamp"
	t0=$SECONDS
	rc=0
	setsid timeout -k 30 "$timeout_s" bash "$b" --runs "$runs" --out "$outdir" >"$log" 2>&1 </dev/null &
	cur=$!
	wait "$cur" || rc=$?
	cur=
	secs=$((SECONDS - t0))
	json=$outdir/$name.json
	why=
	if [ "$rc" = 77 ]; then
		st=skipped
		why=$(tail -1 "$log")
	elif [ "$rc" != 0 ]; then
		st=failed
		why="exit $rc"
		[ "$rc" != 124 ] || why="$why (timed out after ${timeout_s}s)"
	elif [ ! -e "$json" ] || [ "$json" -ot "$stamp" ]; then
		st=failed
		why="no fresh $name.json"
	elif ! jq empty "$json" 2>/dev/null; then
		st=failed
		why="$name.json is not valid JSON"
	else
		st=passed
	fi
	rm -f "$stamp"
	case $st in
	passed) passed=$((passed + 1)) ;;
	failed) failed=$((failed + 1)) ;;
	skipped) skipped=$((skipped + 1)) ;;
	esac
	printf '%s: %-10s %-7s %4d s%s\n' "$PROG" "$name" "$st" "$secs" "${why:+  ($why; log: $log)}"
	[ "$st" != failed ] || tail -5 "$log" | sed 's/^/    /'
	status=$(jq --arg n "$name" --arg st "$st" --arg why "$why" --argjson s "$secs" \
		'.[$n] = {status: $st, seconds: $s} + (if $why == "" then {} else {why: $why} end)' <<<"$status")
done

# Merge: every benchmark's JSON under its name, with what ran it.
rev=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || cat "$ROOT/.bench-git-rev" 2>/dev/null || echo unknown)
dirty=$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo true || echo false)
merged=$outdir/.results.json.tmp
{
	for b in "${benches[@]}"; do
		name=$(basename "$b" -bench.sh)
		if [ "$(jq -r --arg n "$name" '.[$n].status' <<<"$status")" = passed ]; then
			jq -c --arg n "$name" '{($n): .}' "$outdir/$name.json"
		fi
	done
} | jq -s --arg date "$(date -u +%FT%TZ)" --arg rev "$rev" --argjson dirty "$dirty" \
	--argjson runs "$runs" --argjson short "$([ "$short" = 1 ] && echo true || echo false)" \
	--arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
	--argjson ncpu "$(nproc)" --arg kernel "$(uname -r)" \
	--arg qemu "$(qemu-system-x86_64 --version 2>/dev/null | head -1 || echo none)" \
	--arg kvm "$([ -w /dev/kvm ] && echo "present (whether it works: scripts/run-vm probes it)" || echo absent)" \
	--arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--argjson status "$status" --argjson secs "$((SECONDS - t_all))" \
	'{date: $date, git_revision: $rev, git_dirty: $dirty, runs: $runs, short: $short,
	  machine: {cpu: $cpu, cpus: $ncpu, host_kernel: $kernel, qemu: $qemu, kvm: $kvm, load_average_at_end: $load},
	  total_seconds: $secs, benchmarks: $status, results: (add // {})}' >"$merged"
mv -f "$merged" "$outdir/results.json"

rc=0
python3 "$ROOT/qemu-tests/bench/report.py" --results "$outdir/results.json" --dir "$outdir" \
	--optimisations "$BENCH_DIR/optimisations.md" || {
	echo "$PROG: report.py failed" >&2
	rc=1
}
echo "$PROG: results $outdir/results.json, report $outdir/report.md, chart $outdir/boot-phases.svg ($((SECONDS - t_all)) s)"
echo "$PROG: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] || rc=1
exit "$rc"
