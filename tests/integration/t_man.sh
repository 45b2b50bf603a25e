#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Man pages: each renders with man -l without warnings, and relayq.conf.5
# documents every key of src/common/conf.c's table, each in one entry.
. "$top_srcdir/tests/integration/lib.sh"

for m in sendmail.8 relayqd.8 relayq.1 relayq.conf.5; do
	f=$top_srcdir/man/$m
	out=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	is "$out" "" "man -l $m renders without warnings"
	MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q "NAME"
	ok $? "man -l $m has a NAME section"
done
# Issue 12: a recipient starting with '-' is accepted after "--"; the
# RECIPIENTS section must not say it is refused.
sed -n '/^\.SH RECIPIENTS/,/^\.SH [^R]/p' "$top_srcdir/man/sendmail.8" |
    tr '\n' ' ' | grep -q 'starting with \.B \\- is refused'
ok $((!$?)) "sendmail.8 RECIPIENTS does not refuse '-' recipients after --"
# CK: [relayq] and [delivery] ("section:key"); SK, SKL: the keys of any
# smarthost section (bare names).
keys=$(sed -n -e 's/^[[:space:]]*CK("[a-z]*:\([a-z_0-9]*\)".*/\1/p' \
    -e 's/^[[:space:]]*SKL\{0,1\}("\([a-z_0-9]*\)".*/\1/p' \
    "$top_srcdir/src/common/conf.c")
n=0
for k in $keys; do
	n=$((n + 1))
	grep -q "^\.B $k\$" "$top_srcdir/man/relayq.conf.5" ||
	    diag "relayq.conf.5 lacks $k"
	grep -q "^\.B $k\$" "$top_srcdir/man/relayq.conf.5"
	ok $? "relayq.conf.5 documents $k"
done
[ "$n" -ge 60 ]
ok $? "found the key table ($n keys)"
# One entry (.TP then .B key) per key: two texts for one key disagree.
dups=$(awk 'p == ".TP" && /^\.B [a-z_0-9]+$/ { print $2 } { p = $0 }' \
    "$top_srcdir/man/relayq.conf.5" | sort | uniq -d | tr '\n' ' ')
is "$dups" "" "relayq.conf.5 has one entry per key"
done_testing
