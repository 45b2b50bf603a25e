#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# S6, hardening on by default (STYLE.md section 12): the binaries of a
# default build are PIE, have full RELRO (GNU_RELRO and BIND_NOW), a
# non-executable stack, the stack protector (__stack_chk_fail) and
# _FORTIFY_SOURCE (some __*_chk functions), checked with readelf the way
# checksec and hardening-check do.  Skipped for a sanitizer build or one
# configured with --disable-hardening (run-all's build-san is both).
. "$top_srcdir/tests/integration/lib.sh"

command -v readelf >/dev/null || { echo "Bail out! readelf missing (binutils)"; exit 1; }
if ldd "$RELAYQD" | grep -q libasan ||
    grep -q 'disable-hardening' "$top_builddir/config.log" 2>/dev/null; then
	echo "1..0 # SKIP not a default (hardened) build"
	exit 0
fi

for b in "$SENDMAIL" "$RELAYQD" "$RELAYQ"; do
	n=${b##*/}
	readelf -h "$b" | grep -q 'Type:.*DYN'
	ok $? "$n: position-independent executable (PIE)"
	readelf -lW "$b" | grep -q 'GNU_RELRO'
	ok $? "$n: RELRO"
	readelf -dW "$b" | grep -Eq 'BIND_NOW|FLAGS_1.*NOW'
	ok $? "$n: BIND_NOW (full RELRO)"
	readelf -lW "$b" | grep 'GNU_STACK' | grep -qv 'RWE'
	ok $? "$n: non-executable stack"
	readelf --dyn-syms -W "$b" | grep -q '__stack_chk_fail'
	ok $? "$n: stack protector"
	readelf --dyn-syms -W "$b" | grep -Eq '__[a-z0-9_]+_chk(@|$| )'
	ok $? "$n: _FORTIFY_SOURCE ($(readelf --dyn-syms -W "$b" | grep -Eo '__[a-z0-9_]+_chk(@| |$)' | tr -d '@ ' | sort -u | head -n 4 | tr '\n' ' '))"
done
done_testing
