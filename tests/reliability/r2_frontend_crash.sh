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
#    by the running relayqd at its next pick-up of incoming/, without a
#    restart: a writer holds flock on its tmp file and the kernel drops
#    it when the writer dies; relayqd removes files it can lock that are
#    older than QUEUE_SPOOL_TMP_MIN_AGE (5 minutes, not configurable, so
#    the test ages them with touch(1));
#  - a tmp file that is being written (locked), however old, and a young
#    unlocked one are left alone, at pick-up and when relayqd starts;
#    the locked one goes once its writer is gone;
#  - a drop never announced through the wake FIFO (writer killed between
#    its commit and the poke, or sendmail -odq) is still picked up by
#    the idle daemon.
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
# Two live writers: front ends whose input stalls after 1.1 MB (past
# the point where the queue file is created), fed through FIFOs on fds
# 7 and 8.  stall FD: starts one; sets WPID and LIVE (its tmp file).
mkfifo "$T_DIR/in7" "$T_DIR/in8"
stall() {
	_before=$(ls "$SPOOL/tmp")
	"$SENDMAIL" -i r2@example.net < "$T_DIR/in$1" 7>&- 8>&- &
	WPID=$!
	T_PIDS="$T_PIDS $WPID"
	eval "exec $1>\"\$T_DIR/in$1\""
	{ printf 'X-Seq: R2-live%s\nSubject: r2 live\n\n' "$1"
	  head -c 1100000 /dev/zero | tr '\0' x | fold -w 70; } >&"$1"
	_grown() { [ "$(ls "$SPOOL/tmp" | wc -l)" -gt "$(echo "$_before" | grep -c .)" ]; }
	wait_for "the tmp file of writer $1" 100 _grown
	LIVE=$(ls "$SPOOL/tmp" | grep -vxF "$_before" | head -n 1)
}
stall 7; W7=$WPID; LIVE7=$LIVE
stall 8; W8=$WPID; LIVE8=$LIVE
[ -n "$LIVE7" ] && [ -n "$LIVE8" ]
ok $? "two stalled writers have their files in tmp/ ($LIVE7 $LIVE8)"
# Age everything past QUEUE_SPOOL_TMP_MIN_AGE (the live files too) and
# plant a young unlocked file.
YOUNG=0000000000000000000F
find "$SPOOL/tmp" -type f -exec touch -d '2 hours ago' {} +
printf 'RELAYQ 1\n' > "$SPOOL/tmp/$YOUNG"
want=$(printf '%s\n' "$YOUNG" "$LIVE7" "$LIVE8" | sort | tr '\n' ' ')
pid0=$DAEMON_PID
# submit_one SEQ: one poked submission, delivered (a pick-up of incoming/).
submit_one() {
	_n0=$(count_mail)
	printf 'X-Seq: R2-%s\nSubject: r2\n\npick-up\n' "$1" |
	    "$SENDMAIL" -i r2@example.net &&
	    wait_for "delivery of $1" 100 has_mail $((_n0 + 1))
}
submit_one pickup1
ok $? "a submission after the aging is delivered (a pick-up ran)"
is "$(ls "$SPOOL/tmp" | sort | tr '\n' ' ')" "$want" \
    "stale files collected at pick-up without a restart (was $ntmp); the live writers' and the young file kept"
kill -0 "$pid0" 2>/dev/null
ok $? "the same relayqd ran the clean-up"
if [ "$ntmp" -gt 0 ]; then
	grep -q "removed $ntmp stale temporary files" "$T_DIR/relayqd.log"
	ok $? "the clean-up is logged with its count"
fi
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"
start_daemon 7>&- 8>&- # no write end of a writer's FIFO in relayqd
daemon_up
ok $? "relayqd restarted"
is "$(ls "$SPOOL/tmp" | sort | tr '\n' ' ')" "$want" \
    "2-hour-old files of live writers survive the start-up clean-up"
# Writer 8 dies; writer 7 finishes its message.
kill -9 "$W8" 2>/dev/null
wait "$W8" 2>/dev/null
rel_forget "$W8"
exec 8>&-
n0=$(count_mail)
exec 7>&-
w7_done() { ! kill -0 "$W7" 2>/dev/null; }
wait_for "writer 7 to finish" 100 w7_done
wait "$W7"
is "$?" 0 "the stalled writer whose file was kept commits (exit 0)"
rel_forget "$W7"
wait_for "the live writer's message" 100 has_mail $((n0 + 1))
ok $? "and its message is delivered (a pick-up)"
is "$(ls "$SPOOL/tmp" | tr '\n' ' ')" "$YOUNG " \
    "the killed writer's old file goes at that pick-up; the young one stays"
rm -f "$SPOOL/tmp/$YOUNG"
# A writer killed after its commit but before it poked relayqd leaves a
# drop nobody announced (as sendmail -odq does on purpose): the fallback
# scan of an idle relayqd must pick it up (scan_interval = 2s here).
n0=$(count_mail)
printf 'X-Seq: R2-unpoked\nSubject: r2\n\nno poke\n' |
    "$SENDMAIL" -odq -i r2@example.net
wait_for "the fallback scan" 60 has_mail $((n0 + 1))
ok $? "an idle relayqd delivers a drop that was never poked"
is "$(queue_files)" 0 "spool empty at the end"
stop_daemon
ok $? "relayqd exits 0"
diag "R2 time: $(($(date +%s) - t0)) s"
done_testing
