#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A reply line longer than relayq keeps (SMTP_REPLY_LINE_MAX, 2 KiB)
# after the final dot (issue 15, found by an outside tester: a 250 of
# over 2 KiB was taken as "bad server reply: reply line too long", and
# the accepted message was sent 3 times in 13 s).  fakesmtpd.py plays
# the server: no real one sends such a line on demand.
#  1. a 250 of 3000 bytes: the message is sent, once, and removed; the
#     log keeps the start of the text;
#  2. a 250 line still without its end after 64 KiB is an unknown
#     outcome: deferred as a counted attempt with the message's backoff
#     (DESIGN.md: a duplicate rather than a loss), never a fast loop.
. "$top_srcdir/tests/integration/lib.sh"

# play NAME LAST-REPLY: writes a transcript that takes one message and
# answers its final dot with LAST-REPLY, then starts fakesmtpd on it.
play() {
	"$PYTHON3" -c 'import sys
with open(sys.argv[1], "w") as f:
    f.write("S: 220 fake.test ESMTP\nC: EHLO\nS: 250 fake.test\n"
            "C: MAIL\nS: 250 ok\nC: RCPT\nS: 250 ok\nC: DATA\n"
            "S: 354 go\nU: .\nS: " + sys.argv[2] + "\n"
            "C: QUIT\nS: 221 bye\n")' "$T_DIR/$1.t" "$2"
	start_fakesmtpd "$T_DIR/$1.t" "$T_DIR/fake.$1.log"
}

logged() { grep -q -- "$1" "$T_DIR/relayqd.log"; }

# ---- 1. A 250 of 3000 bytes after the dot: sent, once ----
PORT=$(free_port)
write_conf "retry_min = 1s
retry_max = 2s"
LONG="250 2.0.0 Ok: queued as LONG1 $("$PYTHON3" -c 'print("t" * 3000)')"
play long "$LONG"
printf 'Subject: long\n\nbody\n' |
    "$SENDMAIL" -f sender@example.org long@example.net
ok $? "a message queued"
start_daemon
wait_for "the outcome" 300 logged 'to=<long@example.net>.*status='
ok $? "the delivery is logged"
grep -q 'to=<long@example.net>.*status=sent (250 2.0.0 Ok: queued as LONG1 ttt' \
    "$T_DIR/relayqd.log"
ok $? "sent, with the start of the reply: $(grep -o 'status=.\{0,60\}' "$T_DIR/relayqd.log" | head -n 1)"
wait_for "an empty queue" 300 queue_empty
ok $? "the message left the queue"
! logged 'reply line too long'
ok $? "no 'reply line too long'"
is "$(grep -c 'status=sent\|status=deferred' "$T_DIR/relayqd.log")" 1 \
    "one attempt only: nothing sent again"
stop_daemon
ok $? "relayqd exits 0"
kill "$FAKE_PID" 2>/dev/null

# ---- 2. No end of line after 64 KiB: unknown outcome, backed off ----
mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.1.log"
rm -rf "$SPOOL"
PORT=$(free_port)
write_conf "retry_min = 30s
retry_max = 60s"
# fakesmtpd ends each S: line; 100,000 bytes before it are enough.
play endless "250 2.0.0 $("$PYTHON3" -c 'print("e" * 100000)')"
printf 'Subject: endless\n\nbody\n' |
    "$SENDMAIL" -f sender@example.org endless@example.net
ok $? "a message queued"
start_daemon
wait_for "the deferral" 300 logged 'tries=1 next attempt in'
ok $? "the attempt ends"
logged 'to=<endless@example.net>.*status=deferred (reply line too long'
ok $? "deferred: $(grep -o 'status=deferred.\{0,50\}' "$T_DIR/relayqd.log" | head -n 1)"
grep 'tries=1 next attempt in' "$T_DIR/relayqd.log" | head -n 1 > "$T_DIR/next"
grep -q 'next attempt in \([1-9][0-9]\)s' "$T_DIR/next"
ok $? "with the message's backoff (retry_min = 30s): $(cat "$T_DIR/next")"
is "$(grep -c 'status=deferred' "$T_DIR/relayqd.log")" 1 "no second attempt meanwhile"
stop_daemon
ok $? "relayqd exits 0"

done_testing
