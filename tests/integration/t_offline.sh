#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# relayq on a spool relayqd never ran on (issue 12 §2): sendmail queued
# mail while the daemon was stopped, so the spool has only tmp/ and
# incoming/.  show, hold, release and delete work there; when relayqd
# then starts against a real smarthost (aiosmtpd), the held message is
# not delivered until it is released, the deleted one never, every other
# one exactly once.  Then the same commands race a running relayqd that
# picks the files up at the same moment: every command succeeds and
# nothing is lost or delivered twice.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf
relayq() { "$RELAYQ" -c "$CONF" "$@"; }
submit() { # submit SUBJECT: prints the queue id
	printf 'Subject: %s\n\nbody of %s\n' "$1" "$1" |
	    "$SENDMAIL" --print-queue-id -f sender@example.org rcpt@example.net
}
# delivered SUBJECT: how many stored messages carry this subject
delivered() {
	grep -l "^Subject: $1" "$MAILDIR"/*.eml 2>/dev/null | wc -l
}

# 1. relayqd never ran: only tmp/ and incoming/.
HOLD=$(submit held-one)
DEL=$(submit deleted-one)
PLAIN=$(submit plain-one)
REL=$(submit released-one)
test -n "$HOLD" && test -n "$DEL" && test -n "$PLAIN" && test -n "$REL"
ok $? "four messages queued with relayqd stopped"
test ! -e "$SPOOL/queue" && test -f "$SPOOL/incoming/$HOLD"
ok $? "the spool has no queue/ yet, the mail is in incoming/"

# The spool belongs to relayqd's user (nobody stands for it here, when
# we are root): what relayq creates as root must be theirs too.
OWNER=$(stat -c %U:%G "$SPOOL")
if [ "$(id -u)" = 0 ]; then
	chown nobody:nogroup "$SPOOL"
	OWNER=nobody:nogroup
fi
relayq show "$HOLD" > "$T_DIR/show" 2>&1
ok $? "show works on a message in incoming/ without queue/"
grep -q "^directory: incoming$" "$T_DIR/show" &&
    grep -q "^Subject: held-one$" "$T_DIR/show"
ok $? "show names incoming/ and prints the headers"

out=$(relayq hold "$HOLD" 2>&1)
is "$?:$out" "0:$HOLD: held" "hold on a spool relayqd never ran on"
out=$(relayq delete "$DEL" 2>&1)
is "$?:$out" "0:$DEL: deleted" "delete on a spool relayqd never ran on"
relayq hold "$REL" >/dev/null 2>&1 && relayq release "$REL" >/dev/null 2>&1
ok $? "hold then release while relayqd is stopped"
relayq show "$HOLD" | grep -q "^held: yes$"
ok $? "show: held"
relayq queue | grep -q "^$HOLD!"
ok $? "queue marks it held"
relayq show "$DEL" >/dev/null 2>&1
is $? 66 "the deleted message is gone"
test -f "$SPOOL/incoming/$PLAIN" && ! test -e "$SPOOL/incoming/$HOLD"
ok $? "untouched mail stays in incoming/, the held one moved to queue/"
[ "$(stat -c %U:%G "$SPOOL/queue" "$SPOOL/state" "$SPOOL/state/$HOLD" | sort -u)" = "$OWNER" ] &&
    [ "$(stat -c %a "$SPOOL/queue")" = 750 ] &&
    [ "$(stat -c %a "$SPOOL/state")" = 750 ] &&
    [ "$(stat -c %a "$SPOOL/state/$HOLD")" = 640 ]
ok $? "queue/, state/ and the state file have the spool's owner ($OWNER) and modes"
relayq hold 0000000000000000000A >/dev/null 2>&1
is $? 66 "hold of an unknown id: EX_NOINPUT"

# 2. relayqd starts against a real smarthost.  Its start line counts
# what relayq stats counts, held messages too (issue 12).
TOTAL=$(relayq stats --json | "$PYTHON3" -c 'import json,sys
q = json.load(sys.stdin)["queue"]; print(q["total"], q["held"])')
is "$TOTAL" "3 1" "stats before relayqd starts: 3 messages, 1 held"
start_server
start_daemon
wait_for "start line" 300 grep -q "started: " "$T_DIR/relayqd.log"
grep -q "started: .*, 3 queued (1 on hold)$" "$T_DIR/relayqd.log"
ok $? "relayqd's start line: 3 queued (1 on hold), as relayq stats counts"
wait_for "plain and released delivered" 300 has_mail 2
ok $? "relayqd delivers the untouched and the released message"
wait_for "queue holds only the held message" 100 \
    sh -c "[ \"\$(find '$SPOOL/incoming' '$SPOOL/queue' -type f | wc -l)\" -eq 1 ]"
ok $? "only the held message is left"
relayq flush >/dev/null
relayq requeue >/dev/null
# A marker submitted after the flush is delivered once relayqd has been
# through its queue; the held message must still be waiting then.
submit marker-one >/dev/null
wait_for "marker delivered" 300 has_mail 3
ok $? "a message submitted after flush and requeue is delivered"
is "$(delivered held-one):$(delivered deleted-one)" "0:0" \
    "neither the held nor the deleted message is delivered"
relayq show "$HOLD" | grep -q "^held: yes$"
ok $? "the message is still held after relayqd took over the spool"
out=$(relayq release "$HOLD" 2>&1)
is "$?:$out" "0:$HOLD: released" "release with relayqd running"
wait_for "held one delivered" 300 has_mail 4
ok $? "the released message is delivered"
wait_for "queue empty" 100 queue_empty
ok $? "queue empty"
is "$(delivered held-one):$(delivered plain-one):$(delivered released-one):$(delivered deleted-one):$(count_mail)" \
    "1:1:1:0:4" "each message exactly once, the deleted one never"

# 3. Race: relayqd (smarthost down) picks up mail while relayq holds it.
stop_server
N=20
: > "$T_DIR/ids"
i=0
while [ $i -lt $N ]; do
	id=$(submit "race-$i-")
	echo "$id" >> "$T_DIR/ids"
	# hold every other one at once; "being delivered" is a valid answer
	if [ $((i % 2)) -eq 0 ]; then
		j=0
		while :; do
			relayq hold "$id" >/dev/null 2>"$T_DIR/err"
			rc=$?
			[ $rc -ne 75 ] || [ $j -ge 100 ] && break
			j=$((j + 1)); sleep 0.1
		done
		[ $rc -eq 0 ] || { diag "hold $id: $rc $(cat "$T_DIR/err")"; echo "$id" >> "$T_DIR/bad"; }
	fi
	i=$((i + 1))
done
test ! -e "$T_DIR/bad"
ok $? "hold succeeds on every message while relayqd picks them up"
wait_for "race mail picked up" 100 sh -c "[ -z \"\$(ls '$SPOOL/incoming')\" ]"
ok $? "relayqd picked everything else up"
is "$(ls "$SPOOL/corrupt" | wc -l)" 0 "nothing quarantined by the race"
MAILDIR=$T_DIR/mail2 # the restarted server numbers from 1 again
start_server
relayq flush >/dev/null
wait_for "the ten not held delivered" 600 has_mail 10
ok $? "the ten messages not held are delivered"
i=0
while [ $i -lt $N ]; do
	[ $((i % 2)) -eq 0 ] && relayq release "$(sed -n "$((i + 1))p" "$T_DIR/ids")" >/dev/null
	i=$((i + 1))
done
wait_for "all race mail delivered" 600 has_mail 20
ok $? "the ten held ones are delivered once released"
wait_for "queue empty" 100 queue_empty
ok $? "queue empty"
bad=0
i=0
while [ $i -lt $N ]; do
	[ "$(delivered "race-$i-")" -eq 1 ] || { diag "race-$i: $(delivered "race-$i-")"; bad=1; }
	i=$((i + 1))
done
ok $bad "every race message is delivered exactly once"
is "$(count_mail)" 20 "no message delivered twice"

stop_daemon
is $? 0 "relayqd exits 0"
done_testing
