#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A reply to the final dot whose text holds a control character (o14
# F4, found by an outside tester: a 250 with an ESC was taken as "bad
# server reply: control character in reply" and the accepted message
# was sent 4 times, 3 times with a NUL; a 550 with an ESC was retried
# until expiry instead of bouncing).  A reply whose code and structure
# are valid counts for what its code says; its text is made safe (the
# control byte becomes U+FFFD).  fakesmtpd.py plays the server: no real
# one sends such a reply on demand.
#  1. a 250 with an ESC: sent once, logged sent, the message removed;
#  2. a 250 with a NUL: the same;
#  3. a 550 with an ESC: failed once and bounced, the text made safe in
#     the log and in the bounce.
. "$top_srcdir/tests/integration/lib.sh"

# play NAME DOT-REPLY [MORE]: writes a transcript that takes one message
# and answers its final dot with DOT-REPLY (Python escapes: \x1b, \x00),
# then plays MORE (lines, "\n"-separated), and starts fakesmtpd on it.
play() {
	"$PYTHON3" -c 'import sys
dot = sys.argv[2].encode().decode("unicode_escape")
more = sys.argv[3].encode().decode("unicode_escape")
with open(sys.argv[1], "w") as f:
    f.write("S: 220 fake.test ESMTP\nC: EHLO\nS: 250 fake.test\n"
            "C: MAIL\nS: 250 ok\nC: RCPT\nS: 250 ok\nC: DATA\n"
            "S: 354 go\nU: .\nS: " + dot + "\n" + more)' \
	    "$T_DIR/$1.t" "$2" "${3:-C: QUIT\nS: 221 bye\n}"
	start_fakesmtpd "$T_DIR/$1.t" "$T_DIR/fake.$1.log"
}

logged() { grep -q -- "$1" "$T_DIR/relayqd.log"; }
logc() { grep -c -- "$1" "$T_DIR/relayqd.log"; }

# fresh: a new spool, log and port for the next case.
fresh() {
	[ -f "$T_DIR/relayqd.log" ] &&
	    mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.$1.log"
	rm -rf "$SPOOL"
	PORT=$(free_port)
	write_conf
}

# accepted NAME DOT-REPLY LOGGED: a 250 to the dot whose text has a
# control byte: one delivery, logged sent with the reply LOGGED (the
# log sink's escaping of the clean text), the message removed.
accepted() {
	fresh "$1"
	play "$1" "$2"
	printf 'Subject: %s\n\nbody\n' "$1" |
	    "$SENDMAIL" -f sender@example.org "$1@example.net"
	ok $? "$1: a message queued"
	start_daemon
	wait_for "the outcome" 300 logged "to=<$1@example.net>.*status="
	ok $? "$1: the delivery is logged"
	grep -F "to=<$1@example.net>" "$T_DIR/relayqd.log" |
	    grep -qF "status=sent ($3)"
	ok $? "$1: sent: $(grep -o 'status=.\{0,60\}' "$T_DIR/relayqd.log" | head -n 1)"
	wait_for "an empty queue" 300 queue_empty
	ok $? "$1: the message left the queue"
	! logged 'bad server reply\|NUL byte'
	ok $? "$1: not taken for a bad reply"
	is "$(logc 'status=')" 1 "$1: one attempt only: nothing sent again"
	is "$(grep -c '^MAIL FROM' "$T_DIR/fake.$1.log")" 1 \
	    "$1: the server got one copy"
	stop_daemon
	ok $? "$1: relayqd exits 0"
	kill "$FAKE_PID" 2>/dev/null
}

# ---- 1, 2. A 250 with an ESC, with a NUL: sent once ----
accepted esc '250 2.0.0 ok\x1b[2J' '250 2.0.0 ok\xef\xbf\xbd[2J'
accepted nul '250 2.0.0 ok\x00ABC' '250 2.0.0 ok\xef\xbf\xbdABC'

# ---- 3. A 550 with an ESC: one failure, one bounce, the text safe ----
fresh refused
# After the 550 and its RSET, the session ends at relayqd's next command
# (the bounce's MAIL, or QUIT).
play refused '550 5.7.1 refused\x1b[31m here' 'C: RSET\nS: 250 ok\nC: MAIL\nS: 421 4.3.2 bye\n'
printf 'Subject: refused\n\nbody\n' |
    "$SENDMAIL" -f sender@example.org refused@example.net
ok $? "refused: a message queued"
start_daemon
wait_for "the bounce" 300 logged 'bounce .* queued'
ok $? "refused: a bounce is queued"
grep -F 'to=<refused@example.net>' "$T_DIR/relayqd.log" |
    grep -qF 'status=failed (550 5.7.1 refused\xef\xbf\xbd[31m here)'
ok $? "refused: failed, with the server's text made safe: $(grep -o 'status=.\{0,60\}' "$T_DIR/relayqd.log" | head -n 1)"
is "$(logc 'to=<refused@example.net>.*status=')" 1 \
    "refused: one attempt, not retried"
is "$(logc 'bounce .* queued')" 1 "refused: one bounce"
! logged 'bad server reply'
ok $? "refused: not taken for a bad reply"
stop_daemon
ok $? "refused: relayqd exits 0"
kill "$FAKE_PID" 2>/dev/null
# The bounce (the one message left, with the null sender) quotes the
# reply without the ESC.
B=$(grep -l 'MAILER-DAEMON' "$SPOOL"/queue/* 2>/dev/null | head -n 1)
ok $? "refused: the bounce is in the queue ($B)"
grep -q '550 5.7.1 refused.*\[31m here' "$B"
ok $? "refused: the bounce quotes the server's text: $(grep -a -o '550 5.7.1 refused.\{0,16\}' "$B" | head -n 1)"
! LC_ALL=C grep -q "$(printf '\033')" "$B"
ok $? "refused: no ESC in the bounce"

done_testing
