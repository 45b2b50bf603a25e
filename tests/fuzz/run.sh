#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Builds the libFuzzer targets in their own clang build directory
# (--enable-fuzzing, ASan+UBSan, every library instrumented with
# -fsanitize=fuzzer-no-link) and runs each for SECONDS (default 60),
# FUZZ_JOBS at a time (default 2), starting from its seed corpus in
# tests/fuzz/corpus/<target>/ (replayed first, so a past finding kept
# there is a regression test).  New corpus entries and crash artifacts
# stay in the build directory; copy a reproducer into the seed corpus
# and add a unit test when fixing a finding.
#
#   usage: tests/fuzz/run.sh [SECONDS [BUILDDIR]]   (default build-fuzz)
#
# Prints "PASS: <target> (<N> execs, <R>/s, <C> corpus)" or "FAIL:
# <target> ..." per target (automake's format, so tests/run-all.sh counts
# them), also into BUILDDIR/check.out, and exits 1 on any failure.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${FUZZ_SECONDS:-60}}
bdir=${2:-$top/build-fuzz}
jobs=${FUZZ_JOBS:-2}
TARGETS="fuzz_smtp_reply fuzz_smtp_ehlo fuzz_smtp_client fuzz_addr
fuzz_sendmail_msg fuzz_sendmail_wire fuzz_queue_env fuzz_queue_state fuzz_conf
fuzz_bounce fuzz_queue_submit fuzz_oauth2_token"

mkdir -p "$bdir" && cd "$bdir" || exit 1
out=$bdir/check.out
: > "$out"
say() { echo "$*" | tee -a "$out"; }

command -v clang >/dev/null || { say "FAIL: fuzz build (clang not installed)"; exit 1; }
if [ ! -f Makefile ] || [ -n "$(find "$top/configure" -newer Makefile)" ]; then
	CC=clang "$top/configure" -q --enable-fuzzing --enable-sanitizers \
	    --disable-hardening CFLAGS="-g -O1 -fsanitize=fuzzer-no-link" \
	    >build.log 2>&1 || { say "FAIL: fuzz build (configure, see $bdir/build.log)"; exit 1; }
fi
# shellcheck disable=SC2086
if ! make -s -j2 $TARGETS >>build.log 2>&1; then
	tail -n 30 build.log
	say "FAIL: fuzz build (make, see $bdir/build.log)"
	exit 1
fi

# fuzz TARGET: one bounded libFuzzer run; writes TARGET.result.
fuzz() {
	t=$1
	mkdir -p "corpus/$t" "artifacts"
	rm -f artifacts/"$t"-*
	seeds=$top/tests/fuzz/corpus/$t
	[ -d "$seeds" ] || seeds=""
	# shellcheck disable=SC2086
	timeout -k 10 $((secs + 120)) "./$t" -max_total_time="$secs" \
	    -max_len=65536 -rss_limit_mb=2048 -timeout=10 -close_fd_mask=3 \
	    -print_final_stats=1 -artifact_prefix="artifacts/$t-" \
	    "corpus/$t" $seeds > "$t.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$t.log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$t.log" | tail -n 1)
	ncorp=$(ls "corpus/$t" | wc -l)
	if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
		echo "PASS: $t (${execs} execs, ${rate}/s, $ncorp corpus entries, ${secs}s)" > "$t.result"
	else
		art=$(ls artifacts/"$t"-* 2>/dev/null | head -n 1)
		echo "FAIL: $t (exit $rc after ${execs:-?} execs; artifact: ${art:-none}; log: $bdir/$t.log)" > "$t.result"
	fi
}

rm -f ./*.result
running=0
for t in $TARGETS; do
	fuzz "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait
status=0
total=0
for t in $TARGETS; do
	r=$(cat "$t.result" 2>/dev/null || echo "FAIL: $t (no result)")
	say "$r"
	case $r in
	PASS:*) n=$(echo "$r" | sed 's/^PASS: [a-z0-9_]* (\([0-9]*\) execs.*/\1/')
		total=$((total + n)) ;;
	*) status=1
		grep -m 5 -E 'ERROR|SUMMARY|panic|abort' "$t.log" | sed 's/^/#   /' | tee -a "$out" ;;
	esac
done
say "# fuzz: $total executions in total over $(echo $TARGETS | wc -w) targets"
exit $status
