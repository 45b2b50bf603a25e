#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# What a throttle is and what it is not (issue 15, found by an outside
# tester), against a real aiosmtpd server on 127.0.0.1:
#  1. a RCPT's 450 4.7.1 ("Recipient address rejected: Access denied")
#     and 451 4.7.1 for the only recipient are that recipient's retry:
#     counted as attempts, with the message's own backoff; the
#     smarthost is not marked down and its pace is not halved, so the
#     other mail flows at full pace;
#  2. a MAIL refused (451 4.7.0, 451 4.3.0) gives its rate token back;
#  3. after a throttle with a small daily cap the pace is not slower
#     than the cap itself, and the next message goes once it allows;
#  5. a 421 4.7.0 greeting ("Too many connections") is a throttle as
#     one at MAIL is: the pace is halved and the attempt not counted.
# Every wait is for an event (a log line, the server's files), bounded.
. "$top_srcdir/tests/integration/lib.sh"

# send TO...: one message from sender@example.org.
send() {
	printf 'Subject: throttle\n\nbody\n' |
	    "$SENDMAIL" -f sender@example.org "$@"
}

# logc PATTERN: lines of this run's relayqd log matching PATTERN.
logc() {
	grep -c -- "$1" "$T_DIR/relayqd.log" 2>/dev/null
}

# rate_level: the message bucket level in the spool's rate file.
rate_level() {
	sed -n 's/^messages=//p' "$SPOOL/rate" 2>/dev/null
}

# ---- 1. A RCPT's 4xx 4.7.1 is a retry, not a throttle ----
fresh_run "max_connections = 2
retry_min = 2s
retry_max = 4s" "" \
    --rcpt-reply 'bad=450 4.7.1 <bad@example.net>: Recipient address rejected: Access denied' \
    --rcpt-reply 'worse=451 4.7.1 <worse@example.net>: greylisted'
send good0@example.net bad@example.net
ok $? "a message to a good and a bad recipient queued"
send worse@example.net
ok $? "a message to a greylisted recipient only queued"
i=0
while [ $i -lt 20 ]; do
	i=$((i + 1))
	send "good$i@example.net" || break
done
is "$i" 20 "20 other messages queued"
start_daemon
wait_for "21 messages" 600 has_mail 21
ok $? "the 20 others and the good recipient delivered"
bad_tries() { # bad_tries ADDR N: ADDR was deferred at its Nth try
	grep -q "to=<$1> .* tries=$2 status=deferred" "$T_DIR/relayqd.log"
}
wait_for "the bad recipient's second attempt" 600 bad_tries bad@example.net 2
ok $? "the bad recipient is tried again, as its second attempt"
wait_for "the greylisted one's second attempt" 600 bad_tries worse@example.net 2
ok $? "the greylisted one too"
is "$(logc 'unavailable')" 0 "the smarthost was never marked down"
is "$(logc 'throttled')" 0 "nor throttled"
is "$(logc 'pace halved')" 0 "its pace was never halved"
# The message's own backoff (retry_min = 2s): never "in 0s".
grep -E ': tries=[0-9]+ next attempt in [0-9]+s' "$T_DIR/relayqd.log" \
    > "$T_DIR/next"
[ -s "$T_DIR/next" ] && ! grep -q 'next attempt in 0s' "$T_DIR/next"
ok $? "each retry waits for its backoff: $(head -n 1 "$T_DIR/next")"
grep -q "status=deferred (450 4.7.1 <bad@example.net>: Recipient address rejected" \
    "$T_DIR/relayqd.log"
ok $? "the recipient's reply is logged"
is "$(logc 'to=<good0@example.net> .*status=sent')" 1 \
    "the good recipient was sent once"
stop_daemon
ok $? "relayqd exits 0"

# ---- 2. A MAIL refused gives its rate token back ----
# rate_limit = 1000/1d: one message, its first MAIL refused, then sent:
# the bucket holds 999 (plus the refill of a few seconds), not 998.
for reply in '451 4.7.0 Too many messages, slow down' '451 4.3.0 try later'; do
	fresh_run "" "rate_limit = 1000/1d" --throttle 1 --throttle-reply "$reply"
	send one@example.net
	ok $? "a message queued"
	start_daemon
	wait_for "the message" 600 has_mail 1
	ok $? "delivered after a MAIL refused with ${reply%%[a-zA-Z]*}"
	grep -q "MAIL sender@example.org ${reply%% *}" "$MAILDIR/commands"
	ok $? "the server refused the first MAIL"
	sent1() { [ "$(logc 'status=sent')" -ge 1 ]; }
	wait_for "the log of the delivery" 300 sent1
	stop_daemon
	ok $? "relayqd exits 0"
	lvl=$(rate_level)
	"$PYTHON3" -c 'import sys; sys.exit(not 998.9 < float(sys.argv[1]) <= 1000)' \
	    "${lvl:-0}"
	ok $? "one token taken for one message sent (bucket $lvl of 1000)"
done

# ---- 3. A small daily cap does not stall after one throttle ----
# rate_limit = 10/1d: one MAIL answered 451 4.7.0; the pace is halved
# from what went lately, not from the cap's average (one every 8640 s),
# so the 3 messages go while 8 tokens are left.
fresh_run "" "rate_limit = 10/1d" --throttle 1 \
    --throttle-reply '451 4.7.0 Too many messages, slow down'
start_daemon
wait_started
for n in 1 2 3; do
	send "m$n@example.net" || break
done
ok $? "3 messages queued"
wait_for "3 messages" 600 has_mail 3
ok $? "all 3 delivered after the throttle"
grep 'throttled (451 4.7.0' "$T_DIR/relayqd.log" | head -n 1 > "$T_DIR/thr"
grep -q 'pace halved from .* to .*; next message in [0-9.]*s at the earliest' \
    "$T_DIR/thr"
ok $? "the log says when the next message may go: $(cat "$T_DIR/thr")"
! grep -q 'every 8.64e+03s' "$T_DIR/relayqd.log"
ok $? "the pace is not the cap's average"
is "$(logc 'bounce')" 0 "nothing bounced"
stop_daemon
ok $? "relayqd exits 0"

# ---- 4. A message waiting for the rate bucket says so ----
# rate_limit = 1/1d: the first message takes the token, the second
# waits a day; relayq show and relayq queue say when and why, not
# "next attempt: now".
fresh_run "" "rate_limit = 1/1d"
send first@example.net
send second@example.net
ok $? "2 messages queued"
start_daemon
wait_for "the first" 300 has_mail 1
ok $? "the first delivered"
wait_for "the wait for the bucket" 300 sh -c \
    "grep -q 'rate_limit 1 per 86400s reached; messages wait' '$T_DIR/relayqd.log'"
ok $? "relayqd says the other waits for the rate"
saved() { [ -n "$(rate_level)" ] && "$PYTHON3" -c \
    'import sys; sys.exit(float(sys.argv[1]) >= 1)' "$(rate_level)"; }
wait_for "the empty bucket saved" 300 saved
ok $? "the empty bucket is saved"
ID=$(ls "$SPOOL/queue" | head -n 1)
"$RELAYQ" -c "$CONF" show "$ID" > "$T_DIR/show" 2>&1
grep -Eq '^next attempt: [0-9-]+ [0-9:]+ [-+][0-9]+ \(waiting for the rate limit of smarthost default\)$' \
    "$T_DIR/show"
ok $? "relayq show: $(grep 'next attempt' "$T_DIR/show")"
"$RELAYQ" -c "$CONF" queue > "$T_DIR/queue" 2>&1
grep -q '(smarthost: default, rate limit reached: next message at [0-9-]* [0-9:]*)' \
    "$T_DIR/queue"
ok $? "relayq queue: $(grep 'rate limit' "$T_DIR/queue")"
stop_daemon
ok $? "relayqd exits 0"

# ---- 5. A 421 4.7.0 greeting is a throttle ----
# The server greets "421 4.7.0 Too many connections" while a file
# exists: the pace is halved and the message's attempt is not counted;
# once the server greets again, the message goes as its first attempt.
: > "$T_DIR/busy"
fresh_run "" "" --down-while "$T_DIR/busy" \
    --down-reply '421 4.7.0 Too many connections'
send busy@example.net
ok $? "a message queued"
start_daemon
wait_for "the greeting's throttle" 300 sh -c \
    "grep -q 'throttled (421 4.7.0 Too many connections): pace halved' '$T_DIR/relayqd.log'"
ok $? "a 421 4.7.0 greeting halves the pace: $(grep 'pace halved' "$T_DIR/relayqd.log" | head -n 1)"
wait_for "the deferral" 300 sh -c \
    "grep -q 'tries=0 next attempt in .*throttled: not counted' '$T_DIR/relayqd.log'"
ok $? "the attempt is not counted: $(grep 'next attempt in' "$T_DIR/relayqd.log" | head -n 1)"
rm -f "$T_DIR/busy"
wait_for "the message" 600 has_mail 1
ok $? "delivered once the server greets again"
sent_line() { grep -q 'to=<busy@example.net> .* status=sent' "$T_DIR/relayqd.log"; }
wait_for "the log of the delivery" 300 sent_line
grep -q 'to=<busy@example.net> .* tries=1 status=sent' "$T_DIR/relayqd.log"
ok $? "sent as its first counted attempt: $(grep 'status=sent' "$T_DIR/relayqd.log")"
is "$(logc 'bounce')" 0 "nothing bounced"
stop_daemon
ok $? "relayqd exits 0"

done_testing
