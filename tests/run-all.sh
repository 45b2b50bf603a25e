#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Installs what is missing, builds relayq twice out of tree (warnings as
# errors; then ASan+UBSan) and runs the whole test suite in both builds,
# then the integration tests once more with relayqd under valgrind (a
# leak or memory error makes relayqd exit non-zero, which the tests
# check), the benchmark's smoke run (bench/run --smoke: 200 messages,
# counts only), the reliability and security suite (make
# check-reliability, as root) and every libFuzzer target for
# FUZZ_SECONDS (default 60) seconds (tests/fuzz/run.sh).  Every step is
# bounded by timeout(1), generously (the bounds only end a step that
# hangs: a loaded machine may be several times slower than an idle
# one); a step that times out counts as a failure, and
# a failing test's log tail is printed.
# Ends with the line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
sh contrib/install-deps.sh || exit 1
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }

passed=0
failed=0
status=0

# count_results DIR LABEL [STAMP]: adds the step's results to the totals.
# With STAMP, they are counted from the .trs files that automake wrote
# after STAMP (one ":test-result:" line per result, each test's own
# file): check.out interleaves the output of tests that ran in parallel,
# and a line cut into by another must neither hide a failure nor lose a
# pass.  Without STAMP (the fuzz step runs its targets one at a time),
# from DIR/check.out.
count_results() {
	grep -aE '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$1/check.out" | grep -v '^PASS' || true
	if [ -n "${3:-}" ]; then
		trs=$(find "$1" -name '*.trs' -newer "$3" | sort)
		res=$(for t in $trs; do grep -a '^:test-result:' "$t"; done)
		p=$(printf '%s\n' "$res" | grep -ac ': PASS$')
		f=$(printf '%s\n' "$res" | grep -acE ': (FAIL|ERROR|XPASS)$')
		logs=$(for t in $trs; do
			grep -qaE '^:test-result: (FAIL|ERROR|XPASS)$' "$t" &&
			    echo "${t%.trs}.log"; done)
	else
		p=$(grep -ac '^PASS:' "$1/check.out")
		f=$(grep -acE '^(FAIL|ERROR|XPASS):' "$1/check.out")
		logs=$(grep -aE '^(FAIL|ERROR|XPASS):' "$1/check.out" |
		    awk '{ print $2 }' | sort -u | while read -r t; do
			echo "$1/${t%.sh}.log"; done)
	fi
	echo "== $2: $p passed, $f failed"
	# The log of each test that failed in this step: tests/x/t_y.log for
	# tests/x/t_y.sh, tests/unit/test_z.log, DIR/fuzz_z.log for fuzz_z.
	for log in $logs; do
		[ -f "$log" ] || continue
		echo "---- $log"; tail -n 40 "$log"
	done
	passed=$((passed + p)); failed=$((failed + f))
}

# timed_out RC LABEL SECS: when RC is timeout(1)'s, says so and counts a
# failure (the killed test printed no FAIL line).
timed_out() {
	[ "$1" -eq 124 ] || [ "$1" -eq 137 ] || return 0
	echo "FAIL: $2 (timed out after $3 s)"
	failed=$((failed + 1)); status=1
}

# run_build DIR CONFIGURE-ARGS...: configure, build and check in DIR.
run_build() {
	dir=$1; shift
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
	echo "== $dir: configure $*"
	if ! "$top/configure" -q "$@" || ! make -s -j2 >/dev/null; then
		echo "== $dir: build FAILED"
		failed=$((failed + 1)); status=1
		cd "$top"; return
	fi
	# Bounded: a hung test must not hold CI until its own limit.
	: >"$dir/step.stamp"
	timeout -k 30 7200 make -s -j2 check >check.out 2>&1
	rc=$?; [ $rc -eq 0 ] || status=1
	count_results "$dir" "$dir" "$dir/step.stamp"
	timed_out $rc "$dir: make check" 7200
	cd "$top"
}

# run_valgrind DIR: the integration tests again, relayqd under valgrind.
run_valgrind() {
	cd "$1" || exit 1
	tests=$(ls "$top"/tests/integration/t_*.sh | sed "s|^$top/||" | tr '\n' ' ')
	: >"$1/step.stamp"
	RELAYQ_VALGRIND=1 timeout -k 30 7200 make -s check TESTS="$tests" \
	    >check.out 2>&1
	rc=$?; [ $rc -eq 0 ] || status=1
	count_results "$1" "valgrind" "$1/step.stamp"
	timed_out $rc "valgrind: make check" 7200
	cd "$top"
}

# run_package DIR: builds the Debian package, runs lintian, and installs,
# uses and purges it in a throwaway root (tests/package/t_deb.sh).
run_package() {
	cd "$1" || exit 1
	: >"$1/step.stamp"
	timeout -k 30 1800 make -s check TESTS=tests/package/t_deb.sh \
	    >check.out 2>&1
	rc=$?; [ $rc -eq 0 ] || status=1
	count_results "$1" "package" "$1/step.stamp"
	timed_out $rc "package: make check" 1800
	cd "$top"
}

# run_clang: the whole tree must also build warning-free with clang.
run_clang() {
	command -v clang >/dev/null || { echo "== clang: not installed"; return; }
	rm -rf "$top/build-clang" && mkdir -p "$top/build-clang" &&
	    cd "$top/build-clang" || exit 1
	if CC=clang "$top/configure" -q --enable-werror &&
	    make -s -j2 all >build.out 2>&1 &&
	    make -s -j2 check TESTS= >>build.out 2>&1; then
		echo "== clang: built warning-free"
		passed=$((passed + 1))
	else
		echo "== clang: build FAILED"; tail -n 30 build.out
		failed=$((failed + 1)); status=1
	fi
	cd "$top"
}

# run_bench_smoke DIR: bench/run --smoke (issue 8) on DIR's binaries:
# 10 submissions per size, 200 + 20 messages drained into smtp-sink,
# 200 queued, 200 recovered; it checks every count exactly and asserts
# no timing.  One PASS or FAIL line.
run_bench_smoke() {
	cd "$1" || exit 1
	timeout -k 30 2400 "${PYTHON3:-python3}" "$top/bench/run" --smoke \
	    --builddir "$1" >bench-smoke.out 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "PASS: bench --smoke ($(grep -a '^bench: done' bench-smoke.out))"
		passed=$((passed + 1))
	else
		echo "FAIL: bench --smoke (exit $rc$([ $rc -eq 124 ] &&
		    echo ', timed out after 2400 s'))"
		echo "---- $1/bench-smoke.out"; tail -n 40 bench-smoke.out
		failed=$((failed + 1)); status=1
	fi
	cd "$top"
}

# run_reliability DIR: the reliability and security suite (issue 7).
run_reliability() {
	cd "$1" || exit 1
	: >"$1/step.stamp"
	timeout -k 30 7200 make -s check-reliability >check.out 2>&1
	rc=$?; [ $rc -eq 0 ] || status=1
	count_results "$1" "reliability" "$1/step.stamp"
	timed_out $rc "reliability: make check-reliability" 7200
	cd "$top"
}

# run_fuzz: every libFuzzer target for FUZZ_SECONDS (default 60) seconds
# (run.sh also bounds each target); the build is part of the step.
run_fuzz() {
	mkdir -p "$top/build-fuzz" || exit 1
	timeout -k 30 2400 sh "$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-60}" \
	    "$top/build-fuzz" >"$top/build-fuzz/run.out" 2>&1
	rc=$?; [ $rc -eq 0 ] || status=1
	grep -a '^PASS: fuzz\|^# fuzz' "$top/build-fuzz/check.out"
	count_results "$top/build-fuzz" "fuzz"
	if [ $rc -ne 0 ]; then
		echo "---- $top/build-fuzz/run.out"
		tail -n 30 "$top/build-fuzz/run.out"
		timed_out $rc "fuzz: tests/fuzz/run.sh" 2400
	fi
}

run_clang
run_build "$top/build" --enable-werror
run_build "$top/build-san" --enable-werror --enable-sanitizers --disable-hardening
run_valgrind "$top/build"
run_package "$top/build"
run_bench_smoke "$top/build"
run_reliability "$top/build"
run_fuzz
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
