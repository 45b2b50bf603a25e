#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# R2, front-end crash: R2_N submissions (default 500) of 1-200 KiB, each
# SIGKILLed at a random moment between exec and its normal exit
# (killsubmit.py), while relayqd runs and delivers.  Then:
#  - every submission that exited 0 was delivered exactly once, intact;
#  - every killed one was delivered once or not at all;
#  - nothing went to corrupt/ (no committed drop fails validation);
#  - the temporary files the killed writers left in tmp/ are collected
#    when relayqd next starts;
#  - a drop never announced through the wake FIFO (writer killed between
#    its commit and the poke, or sendmail -odq) is still picked up by
#    the idle daemon's fallback scan.  relayqd only removes tmp/ files older
#    than one hour (RELAYQD_TMP_MAX_AGE, not configurable), so the test
#    ages them with touch(1); a young file, whose writer may be alive,
#    must survive the restart.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"

N=${R2_N:-500}
PORT=$(free_port)
write_conf
start_server
start_daemon
t0=$(date +%s)
"$PYTHON3" "$REL/killsubmit.py" "$SENDMAIL" r2@example.net R2 "$N" \
    "$T_DIR/rc" > "$T_DIR/killsubmit.out" 2>&1
ok $? "harness ran $N submissions: $(cat "$T_DIR/killsubmit.out")"
nzero=$(awk '$2 == 0' "$T_DIR/rc" | wc -l)
nkilled=$(awk '$2 == -9' "$T_DIR/rc" | wc -l)
nother=$(awk '$2 != 0 && $2 != -9' "$T_DIR/rc" | wc -l)
diag "R2: $N submissions, $nzero exited 0, $nkilled killed, $nother other"
[ "$nkilled" -ge $((N / 10)) ] && [ "$nzero" -ge $((N / 10)) ]
ok $? "kills landed before and after the exit ($nkilled killed, $nzero exited 0)"
is "$nother" 0 "no submission failed other than by the kill"

in_queue() {
	find "$SPOOL/incoming" "$SPOOL/queue" "$SPOOL/state" -type f | wc -l
}
drained() { [ "$(in_queue)" -eq 0 ]; }
wait_for "delivery" 600 drained
ok $? "every committed drop was delivered"
seqcheck R2 "$N"
# join "K RC" with "K COPIES"
join "$T_DIR/rc" "$T_DIR/count.R2" > "$T_DIR/joined" 2>/dev/null ||
    sort -n "$T_DIR/rc" | paste -d' ' - "$T_DIR/count.R2" |
    awk '{ print $1, $2, $4 }' > "$T_DIR/joined"
bad0=$(awk '$2 == 0 && $3 != 1 { printf "%s(x%s) ", $1, $3 }' "$T_DIR/joined")
is "$bad0" "" "every submission that exited 0 was delivered exactly once"
badk=$(awk '$2 != 0 && $3 > 1 { printf "%s(x%s) ", $1, $3 }' "$T_DIR/joined")
is "$badk" "" "every killed submission was delivered at most once"
nk_deliv=$(awk '$2 != 0 && $3 == 1' "$T_DIR/joined" | wc -l)
diag "R2: killed submissions delivered anyway (killed after the commit): $nk_deliv"
is "$BOGUS" 0 "every delivered message is intact"
is "$(n_in corrupt)" 0 "nothing in corrupt/: no committed drop failed validation"

ntmp=$(n_in tmp)
diag "R2: $ntmp temporary files left in tmp/ by killed writers"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"
# Age the leftovers past RELAYQD_TMP_MAX_AGE, and plant one young file
# that stands for a writer still at work.
find "$SPOOL/tmp" -type f -exec touch -d '2 hours ago' {} +
printf 'RELAYQ 1\n' > "$SPOOL/tmp/0000000000000000000F"
start_daemon
tmp_cleaned() { [ "$(n_in tmp)" -le 1 ]; }
wait_for "tmp/ to be cleaned" 100 tmp_cleaned
ok $? "stale temporary files collected when relayqd starts (was $ntmp)"
test -e "$SPOOL/tmp/0000000000000000000F"
ok $? "a young temporary file (live writer) is left alone"
if [ "$ntmp" -gt 0 ]; then
	grep -q "removed $ntmp stale temporary files" "$T_DIR/relayqd.log"
	ok $? "the clean-up is logged with its count"
fi
rm -f "$SPOOL/tmp/0000000000000000000F"
# A writer killed after its commit but before it poked relayqd leaves a
# drop nobody announced (as sendmail -odq does on purpose): the fallback
# scan of an idle relayqd must pick it up (scan_interval = 2s here).
sleep 1
n0=$(count_mail)
printf 'X-Seq: R2-unpoked\nSubject: r2\n\nno poke\n' |
    "$SENDMAIL" -odq -i r2@example.net
wait_for "the fallback scan" 60 has_mail $((n0 + 1))
ok $? "an idle relayqd delivers a drop that was never poked, within 3 scan intervals"
is "$(queue_files)" 0 "spool empty at the end"
stop_daemon
ok $? "relayqd exits 0"
diag "R2 time: $(($(date +%s) - t0)) s"
done_testing
