#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Installs what is missing, builds relayq twice out of tree (warnings as
# errors; then ASan+UBSan) and runs the whole test suite in both builds.
# Ends with the line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
sh contrib/install-deps.sh || exit 1
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }

passed=0
failed=0
status=0

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
	make -s -j2 check >check.out 2>&1 || status=1
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.out | grep -v '^PASS' || true
	p=$(grep -c '^PASS:' check.out)
	f=$(grep -cE '^(FAIL|ERROR|XPASS):' check.out)
	echo "== $dir: $p passed, $f failed"
	if [ "$f" -gt 0 ]; then
		for log in $(grep -lE '^(not ok|Bail out)' tests/*/*.log 2>/dev/null); do
			echo "---- $log"; tail -n 40 "$log"
		done
	fi
	passed=$((passed + p)); failed=$((failed + f))
	cd "$top"
}

run_build "$top/build" --enable-werror
run_build "$top/build-san" --enable-werror --enable-sanitizers --disable-hardening
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
