#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The systemd files: the unit's offline hardening score (issue 6: at
# most 2.0, so --threshold=20 must pass), Type=notify, and tmpfiles
# modes equal to the ones queue_spool.c creates (relayq check-config
# checks those).  Skipped when systemd-analyze is not installed.
. "$top_srcdir/tests/integration/lib.sh"

UNIT=$top_srcdir/systemd/relayqd.service
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze not installed"
	exit 0
fi
systemd-analyze security --offline=true --threshold=20 "$UNIT" \
    > "$T_DIR/score" 2>&1
ok $? "systemd-analyze security --offline=true --threshold=20 passes"
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T_DIR/score")
diag "exposure score: $score"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'
ok $? "exposure score $score is at most 2.0"
grep -q '^Type=notify$' "$UNIT"
ok $? "Type=notify"
grep -q '^User=relayq$' "$UNIT" && ! grep -q '^PrivateUsers=yes' "$UNIT"
ok $? "runs as relayq, without a user namespace"
for d in "tmp 1730" "incoming 1770" "queue 0750" "state 0750" \
    "corrupt 0700" "failed 0750"; do
	set -- $d
	grep -Eq "^d /var/spool/relayq/$1 +$2 relayq relayq" \
	    "$top_srcdir/systemd/relayq.tmpfiles"
	ok $? "tmpfiles: $1/ is $2"
	grep -q "\[QUEUE_DIR_$(echo "$1" | tr a-z A-Z)\] = 0*$2," \
	    "$top_srcdir/src/queue/queue_spool.c"
	ok $? "queue_spool.c agrees: $1/ is $2"
done
grep -q '^g relayq ' "$top_srcdir/systemd/relayq.sysusers" &&
    grep -q '^u relayq ' "$top_srcdir/systemd/relayq.sysusers"
ok $? "sysusers: relayq group and user"
done_testing
