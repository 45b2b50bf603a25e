#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Slow start (issue 17): until a session to the smarthost has succeeded,
# relayqd opens one connection, and the others only after that success;
# after the smarthost was marked down, the same again.  A real server
# (aiosmtpd) answers "421 4.3.2 down" at the greeting while a file
# exists and logs every connection with the number open at once.  With
# 8 messages queued and max_connections = 4, relayqd starts against the
# down server: one connection at a time, none "already backing off".
# Then the server is up: the first session succeeds and up to 4 are
# used at once (the server holds the first reply until it sees 4).
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
# retry_min is far above probe_max: a message that waits for the probe
# must be due with it, never after a backoff of its own.
write_conf "max_connections = 4
retry_min = 30s
retry_max = 60s
probe_max = 1s"
DOWN=$T_DIR/down
HOLD=$T_DIR/hold
CONNS=$MAILDIR/connections
: > "$DOWN"
start_server --down-file "$DOWN" --hold-every 1 --hold-max 1 \
    --hold-dir "$HOLD"
send() { # send N FIRST
	_i=0
	while [ $_i -lt "$1" ]; do
		printf 'Subject: m%s\n\nbody\n' $(($2 + _i)) |
		    "$SENDMAIL" -f sender@example.org "r$(($2 + _i))@example.net" ||
		    return 1
		_i=$((_i + 1))
	done
}
send 8 1
ok $? "8 messages queued before relayqd starts"
# max_open [FROM-LINE]: most connections open at once in the server's log
max_open() {
	tail -n "+${1:-1}" "$CONNS" 2>/dev/null |
	    awk '$1 == "open" && $3 > m { m = $3 } END { print m + 0 }'
}
failures() { [ "$(grep -c "failures=$1," "$T_DIR/relayqd.log")" -ge "${2:-1}" ]; }

start_daemon
wait_for "three failed probes" 300 failures 3
ok $? "relayqd probes the down smarthost"
is "$(grep -c 'already backing off' "$T_DIR/relayqd.log")" 0 \
    "no session was opened beside the first before the smarthost answered"
is "$(max_open)" 1 "the server never had more than one connection at once"
NDOWN=$(grep -c '^open .* down$' "$CONNS")
[ "$NDOWN" -ge 3 ]
ok $? "each probe is one connection ($NDOWN so far)"

# Full jitter: each wait is drawn from [interval / 2, interval]; the
# interval is retry_min capped at probe_max: [0.5, 1] s.
sed -n 's/.*failures=\([0-9]*\), next probe in \([0-9.]*\)s$/\1 \2/p' \
    "$T_DIR/relayqd.log" > "$T_DIR/waits"
awk '$2 < 0.5 || $2 > 1 { bad++ } END { exit !(NR >= 3 && !bad) }' "$T_DIR/waits"
ok $? "probe waits within [interval/2, interval]: $(awk '{ printf "%s ", $2 }' "$T_DIR/waits")"
# (3 or more draws from 501 values in ms: all equal about once in 250,000)
[ "$(cut -d' ' -f2 "$T_DIR/waits" | sort -u | wc -l)" -ge 2 ]
ok $? "probe waits are drawn at random (not all equal)"
# with_probe: the waits logged for messages deferred until the next probe
with_probe() {
	sed -n 's/.*next attempt in \([0-9]*\)s (with the smarthost.s next probe).*/\1/p' \
	    "$T_DIR/relayqd.log"
}
[ "$(with_probe | wc -l)" -ge 3 ] &&
    [ "$(with_probe | awk '$1 > 1' | wc -l)" -eq 0 ]
ok $? "a probe's message is due with the next probe, not after retry_min ($(with_probe | tr '\n' ' '))"

# The smarthost returns: one session succeeds, then up to 4 at once.
FROM=$(($(wc -l < "$CONNS") + 1))
rm -f "$DOWN"
wait_for "first message held by the server" 300 test -e "$HOLD/held.1"
ok $? "the first session after the return got as far as a message"
four_open() { [ "$(max_open "$FROM")" -ge 4 ]; }
wait_for "4 sessions at once" 300 four_open
ok $? "after that success relayqd opens the other sessions (4 at once)"
: > "$HOLD/go.1"
wait_for "8 messages delivered" 300 has_mail 8
ok $? "all 8 messages delivered"
is "$(max_open)" 4 "never more than max_connections = 4 at once"
wait_for "empty queue" 300 queue_empty
ok $? "the queue is empty"

# Down again: after the first failure, one connection at a time again.
# (Once the idle sessions are gone: one still open would take the mail.)
all_closed() { [ "$(tail -n 1 "$CONNS" | cut -d' ' -f1,3)" = "close 0" ]; }
wait_for "idle sessions closed" 300 all_closed
ok $? "the idle sessions are closed"
: > "$DOWN"
send 1 9
wait_for "a failure of the second outage" 300 failures 1 2
ok $? "the smarthost is marked down again"
FROM=$(($(wc -l < "$CONNS") + 1))
send 7 10
ok $? "7 more messages queued while it is down"
wait_for "two more failed probes" 300 failures 3 2
ok $? "relayqd probes it again"
is "$(max_open "$FROM")" 1 "one connection at a time while it is down"
rm -f "$DOWN"
wait_for "16 messages delivered" 300 has_mail 16
ok $? "all 16 delivered after the second return"
is "$(max_open)" 4 "never more than 4 at once"

# Slow start again once no session is open: a host that went idle (every
# session closed after idle_timeout) does not open max_connections at
# once against a smarthost that is now down.  4 messages deferred by a
# 4xx (not a throttle: the smarthost stays up) are flushed together
# after the sessions closed and the smarthost went down.
wait_for "idle sessions closed" 300 all_closed
stop_server
LOGFROM=$(($(wc -l < "$T_DIR/relayqd.log") + 1))
start_server --down-file "$DOWN" --rcpt-reply "later=451 4.3.0 try again later"
send_later() {
	_i=0
	while [ $_i -lt 4 ]; do
		printf 'Subject: later\n\nbody\n' |
		    "$SENDMAIL" -f sender@example.org "later$_i@example.net" ||
		    return 1
		_i=$((_i + 1))
	done
}
send_later
ok $? "4 messages queued for recipients the server defers"
four_deferred() {
	[ "$(tail -n "+$LOGFROM" "$T_DIR/relayqd.log" |
	    grep -c 'status=deferred (451 4.3.0')" -ge 4 ]
}
wait_for "4 deferrals" 300 four_deferred
ok $? "the 4 are deferred by a 451 4.3.0 (the smarthost stays up)"
wait_for "idle sessions closed" 300 all_closed
ok $? "every session closed (idle)"
: > "$DOWN"
FROM=$(($(wc -l < "$CONNS") + 1))
"$RELAYQ" flush > /dev/null 2>&1
ok $? "relayq flush makes the 4 due at once"
down_again() {
	tail -n "+$LOGFROM" "$T_DIR/relayqd.log" |
	    grep -q 'unavailable (421 4.3.2 down); failures=1,'
}
wait_for "the smarthost marked down" 300 down_again
ok $? "the first new session finds the smarthost down"
is "$(max_open "$FROM")" 1 \
    "after every session closed, the first new one went alone"
stop_server
rm -f "$DOWN"
start_server
wait_for "empty queue" 300 queue_empty
ok $? "the 4 delivered once the smarthost is back"

# After a failure of a ready session, reaching ready is not enough: the
# probe gets through the greeting and EHLO, then its MAIL is refused
# ("454 4.3.0": down, but not a 4.7.x, so no pace gates the sessions).
# The slow start ends only when a message is accepted; until then one
# session.
wait_for "idle sessions closed" 300 all_closed
stop_server
LOGFROM=$(($(wc -l < "$T_DIR/relayqd.log") + 1))
HOLD2=$T_DIR/hold2
start_server --throttle 4 --throttle-reply "454 4.3.0 try again later" \
    --hold-every 1 --hold-max 1 --hold-dir "$HOLD2"
send 1 20
wait_for "the refusal marks it down" 300 \
    grep -q 'unavailable (454 4.3.0 try again later); failures=1,' "$T_DIR/relayqd.log"
ok $? "a 454 to MAIL in a ready session marks the smarthost down"
wait_for "the session closed" 300 all_closed
FROM=$(($(wc -l < "$CONNS") + 1))
send 7 21
ok $? "7 more messages queued while it refuses MAIL"
wait_for "the first accepted message held by the server" 300 \
    test -e "$HOLD2/held.1"
ok $? "a probe gets a message accepted after the refused ones"
[ "$(tail -n "+$LOGFROM" "$T_DIR/relayqd.log" |
    grep -c 'one session until it accepts a message')" -ge 1 ]
ok $? "a probe that got ready: one session until a message is accepted"
is "$(max_open "$FROM")" 1 \
    "one connection at a time until the smarthost accepted a message"
: > "$HOLD2/go.1"
wait_for "empty queue" 300 queue_empty
ok $? "all delivered once the smarthost accepts mail"

# A throttle (a 4.7.x reply for the whole transaction: to MAIL) marks
# it down too; a RCPT's 451 4.7.1 does not (issue 15: t_throttle.sh).
wait_for "idle sessions closed" 300 all_closed
stop_server
LOGFROM=$(($(wc -l < "$T_DIR/relayqd.log") + 1))
start_server --throttle 1000000 --throttle-reply "451 4.7.1 rate limit exceeded"
printf 'Subject: t\n\nbody\n' | "$SENDMAIL" -f sender@example.org slow@example.net
wait_for "the throttle marks it down" 300 \
    grep -q 'unavailable (451 4.7.1 rate limit exceeded); failures=1,' "$T_DIR/relayqd.log"
ok $? "a 451 4.7.1 for the whole transaction marks the smarthost down"

# One halving of the pace an incident: the probes' throttles (451 4.7.1
# at MAIL, from this server, then from the next) while the smarthost is
# down do not halve it again.
wait_for "idle sessions closed" 300 all_closed
stop_server
start_server --throttle 4 --throttle-reply "451 4.7.1 slow down"
send 3 30
ok $? "3 more messages queued"
wait_for "the queue drained after 4 throttles" 300 queue_empty
ok $? "all delivered after the throttles"
is "$(tail -n "+$LOGFROM" "$T_DIR/relayqd.log" | grep -c 'pace halved')" 1 \
    "the throttles of one incident (the first, then the probes') halve the pace once"

stop_daemon
is $? 0 "relayqd exits 0"
done_testing
