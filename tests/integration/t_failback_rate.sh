#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Failback is not held back by the fallback's rate bucket (issue 15,
# found by an outside tester): [smarthost] (A, rate_limit = 10/1m,
# fallback = fb) is down (a 421 4.3.2 greeting while a file exists); the
# first message fails over to fb (B, rate_limit = 1/1h), which empties
# fb's bucket; the second waits.  A comes back: its next probe, paced by
# A's own bucket only, carries the second message to A within probe_max,
# not when fb's token comes back an hour later.  Real aiosmtpd servers;
# every wait is for an event (a log line, a stored message), bounded.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
PORT_B=$(free_port)
MAIL_B=$T_DIR/mail-b
DOWN=$T_DIR/a.down

# send TAG: one message from sender@example.org.
send() {
	printf 'Subject: %s\n\nbody\n' "$1" |
	    "$SENDMAIL" -i -f sender@example.org "rcpt-$1@example.net"
}

# logc PATTERN: lines of relayqd's log matching PATTERN.
logc() {
	grep -c -- "$1" "$T_DIR/relayqd.log" 2>/dev/null
}
logc_ge() { [ "$(logc "$1")" -ge "$2" ]; }

# scan_interval = 1h: the spool scan would run the dispatcher every few
# seconds and hide a probe that nothing arms.
write_conf "probe_max = 1s
scan_interval = 1h
retry_min = 1s
retry_max = 1s" "rate_limit = 10/1m
fallback = fb

[smarthost fb]
host = 127.0.0.1
port = $PORT_B
tls = none
rate_limit = 1/1h"

: > "$DOWN"
start_server --down-file "$DOWN"
start_other b 127.0.0.1 "$PORT_B" "$MAIL_B"
start_daemon
wait_started

send one
ok $? "the first message queued"
wait_for "the first message at fb" 300 has_in "$MAIL_B" 1
ok $? "A is down: the first message went to fb"
send two
ok $? "the second message queued"
wait_for "fb's empty bucket" 300 logc_ge \
    'smarthost fb (127.0.0.1): rate_limit 1 per 3600s reached' 1
ok $? "fb's bucket is empty: $(grep 'rate_limit 1 per' "$T_DIR/relayqd.log" | head -n 1)"
# A probe of A after the first message's failover: the second message's
# (or a later) one; then A comes back.
n=$(logc 'unavailable')
wait_for "another probe of A" 300 logc_ge 'unavailable' $((n + 1))
ok $? "A is probed again while fb waits for its bucket"
rm -f "$DOWN"
wait_for "the second message at A" 300 has_mail 1
ok $? "A is back: the second message went to A, not waiting for fb's token"
is "$(count_in "$MAIL_B")" 1 "fb got the first message only"
grep -q 'to=<rcpt-two@example.net> relay=127.0.0.1\[127.0.0.1\]:'"$PORT"' .*status=sent' \
    "$T_DIR/relayqd.log"
ok $? "the log names A as the relay of the second"
stop_daemon
ok $? "relayqd exits 0"

done_testing
