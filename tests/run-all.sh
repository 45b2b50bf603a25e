#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Installs what is missing, builds relayq twice out of tree (warnings as
# errors; then ASan+UBSan) and runs the whole test suite in both builds,
# then the integration tests once more with relayqd under valgrind (a
# leak or memory error makes relayqd exit non-zero, which the tests
# check); with RELAYQ_RELIABILITY=1 also the reliability and security
# suite (make check-reliability) and the libFuzzer targets
# (tests/fuzz/run.sh).
# Ends with the line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
sh contrib/install-deps.sh || exit 1
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }

passed=0
failed=0
status=0

# count_results DIR LABEL: adds DIR/check.out's results to the totals.
count_results() {
	grep -aE '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$1/check.out" | grep -v '^PASS' || true
	p=$(grep -ac '^PASS:' "$1/check.out")
	f=$(grep -acE '^(FAIL|ERROR|XPASS):' "$1/check.out")
	echo "== $2: $p passed, $f failed"
	if [ "$f" -gt 0 ]; then
		for log in $(grep -lE '^(not ok|Bail out)' "$1"/tests/*/*.log 2>/dev/null); do
			echo "---- $log"; tail -n 40 "$log"
		done
	fi
	passed=$((passed + p)); failed=$((failed + f))
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
	timeout 2400 make -s -j2 check >check.out 2>&1 || status=1
	count_results "$dir" "$dir"
	cd "$top"
}

# run_valgrind DIR: the integration tests again, relayqd under valgrind.
run_valgrind() {
	cd "$1" || exit 1
	tests=$(ls "$top"/tests/integration/t_*.sh | sed "s|^$top/||" | tr '\n' ' ')
	RELAYQ_VALGRIND=1 timeout 2400 make -s check TESTS="$tests" \
	    >check.out 2>&1 || status=1
	count_results "$1" "valgrind"
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

# run_reliability DIR: the reliability and security suite (issue 7).
run_reliability() {
	cd "$1" || exit 1
	make -s check-reliability >check.out 2>&1 || status=1
	count_results "$1" "reliability"
	cd "$top"
}

# run_fuzz: every libFuzzer target for FUZZ_SECONDS (default 60) seconds.
run_fuzz() {
	sh "$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-60}" "$top/build-fuzz" \
	    >/dev/null 2>&1 || status=1
	grep -a '^PASS: fuzz\|^# fuzz' "$top/build-fuzz/check.out"
	count_results "$top/build-fuzz" "fuzz"
}

run_clang
run_build "$top/build" --enable-werror
run_build "$top/build-san" --enable-werror --enable-sanitizers --disable-hardening
run_valgrind "$top/build"
# XXX(#7): opt-in until the suite has run green in CI a few times.
if [ -n "${RELAYQ_RELIABILITY:-}" ]; then
	run_reliability "$top/build"
	run_fuzz
fi
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
