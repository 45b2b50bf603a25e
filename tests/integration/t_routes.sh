#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Several smarthosts (issue 15) against three real servers (aiosmtpd):
# A on 127.0.0.1 is [smarthost] (AUTH as alice, fallback = backup), B on
# 127.0.0.1 is [smarthost work] (senders = @work.example, AUTH as bob), C
# on [::1] is [smarthost backup] (senders = carol@home.example, no
# credentials; it offers AUTH, so that credentials offered to it would
# show).  Checks: each sender reaches its server, with its own
# credentials only; a sender that no pattern claims and the null sender
# go to A; C records no AUTH, ever; stop A: its mail fails over to C (no
# AUTH there), and a 550 from C is final; start A again: new mail goes
# back to it (failback); each
# smarthost with a rate_limit keeps its own bucket file; a reload that
# moves a senders pattern reroutes queued mail, and one that adds a
# section is taken.  The failover and failback times are printed as
# TAP comments, not asserted.
. "$top_srcdir/tests/integration/lib.sh"

if ! "$PYTHON3" -c 'import socket
s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	echo "1..0 # SKIP no ::1 on this machine"
	exit 0
fi

PORT=$(free_port)
PORT_B=$(free_port)
PORT_C=$("$PYTHON3" -c 'import socket
s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])')
MAIL_A=$MAILDIR
MAIL_B=$T_DIR/mail-b
MAIL_C=$T_DIR/mail-c
for u in alice bob carol; do
	printf 'pw-of-%s\n' "$u" > "$T_DIR/$u.pw"
	chmod 600 "$T_DIR/$u.pw"
done

# send SENDER TAG: queues one message from SENDER ("" for <>).
send() {
	printf 'Subject: %s\n\nbody\n' "$2" |
	    "$SENDMAIL" -i -f "$1" "rcpt-$2@example.net"
}

# mono: prints CLOCK_MONOTONIC in milliseconds.
mono() {
	"$PYTHON3" -c 'import time; print(int(time.monotonic() * 1000))'
}

# secs FROM TO: TO - FROM milliseconds as seconds with 2 decimals.
secs() {
	"$PYTHON3" -c 'import sys
print("%.2f" % ((int(sys.argv[2]) - int(sys.argv[1])) / 1000))' "$1" "$2"
}

write_conf "probe_max = 1s
retry_min = 1s
retry_max = 1s" "username = alice
password_file = $T_DIR/alice.pw
allow_plaintext_auth = yes
fallback = backup

[smarthost work]
host = 127.0.0.1
port = $PORT_B
tls = none
username = bob
password_file = $T_DIR/bob.pw
allow_plaintext_auth = yes
senders = @work.example
rate_limit = 100/1h

[smarthost backup]
host = ::1
port = $PORT_C
tls = none
senders = carol@home.example
rate_limit = 100/1h"

start_server --auth alice:pw-of-alice --auth-plaintext
start_other b 127.0.0.1 "$PORT_B" "$MAIL_B" --auth bob:pw-of-bob \
    --auth-plaintext
start_other c ::1 "$PORT_C" "$MAIL_C" --auth carol:pw-of-carol \
    --auth-plaintext --rcpt-reply 'rejectme=550 5.1.1 no such user'
start_daemon
wait_started
"$RELAYQ" check-config > "$T_DIR/check-config.out" 2>&1
ok $? "relayq check-config accepts three smarthosts"
grep -qF "started: spool $SPOOL, 3 smarthosts: default 127.0.0.1:$PORT, work 127.0.0.1:$PORT_B, backup [::1]:$PORT_C, " "$T_DIR/relayqd.log"
ok $? "the start line names each smarthost ($(grep 'started:' "$T_DIR/relayqd.log"))"

# ---- 1. Routes: each sender reaches its server.
send someone@example.org default
send dev@work.example work
send carol@home.example carol
send dave@home.example dave
send "" null
wait_for "5 messages delivered" 600 sh -c \
    "[ \$(( \$(ls '$MAIL_A' '$MAIL_B' '$MAIL_C' 2>/dev/null | grep -c '\\.eml\$') )) -ge 5 ]"
ok $? "five messages delivered"
sent_from "$MAIL_A" someone@example.org
ok $? "a sender no pattern claims goes to [smarthost]"
sent_from "$MAIL_B" dev@work.example
ok $? "@work.example goes to [smarthost work]"
sent_from "$MAIL_C" carol@home.example
ok $? "carol@home.example goes to [smarthost backup] on ::1"
sent_from "$MAIL_A" dave@home.example
ok $? "another address of home.example is not claimed: [smarthost]"
sent_from "$MAIL_A" "<>"
ok $? "the null sender goes to [smarthost]"
is "$(count_in "$MAIL_A") $(count_in "$MAIL_B") $(count_in "$MAIL_C")" \
    "3 1 1" "3 messages to A, 1 to B, 1 to C"
grep -q '^AUTH PLAIN alice ok$' "$MAIL_A/commands" &&
    ! grep -v '^AUTH PLAIN alice ok$' "$MAIL_A/commands" | grep -q '^AUTH'
ok $? "A saw AUTH as alice only"
grep -q '^AUTH PLAIN bob ok$' "$MAIL_B/commands" &&
    ! grep -v '^AUTH PLAIN bob ok$' "$MAIL_B/commands" | grep -q '^AUTH'
ok $? "B saw AUTH as bob only"
! grep -q '^AUTH' "$MAIL_C/commands"
ok $? "C saw no AUTH"
wait_for "the rate files" 100 test -s "$SPOOL/rate.work" -a \
    -s "$SPOOL/rate.backup"
ok $? "each limited smarthost has its own bucket file (rate.work, rate.backup)"

# ---- 2. Failover: A stops; its mail goes to C.
stop_server
t0=$(mono)
send someone@example.org failover
wait_for "failover to C" 600 sent_from "$MAIL_C" someone@example.org
ok $? "with A stopped, its mail reaches C on ::1"
t1=$(mono)
diag "failover: $(secs "$t0" "$t1") s from submission to C (probe_max = 1s)"
grep -q 'failover to backup' "$T_DIR/relayqd.log"
ok $? "the log says the message fails over to backup"
! grep -q '^AUTH' "$MAIL_C/commands"
ok $? "C saw no AUTH: alice's credentials stay with A"
send dev@work.example work2
wait_for "the second work mail" 600 has_in "$MAIL_B" 2
is "$(count_in "$MAIL_B")" 2 "a route without A is not affected"
send someone@example.org rejectme
wait_for "the fallback's 550" 600 grep -q \
    'rcpt-rejectme@example.net.*status=failed' "$T_DIR/relayqd.log"
ok $? "a 5xx from the fallback is final: the recipient failed"
wait_for "the bounce (null sender, via C too)" 600 sent_from "$MAIL_C" "<>"
ok $? "its bounce went out through the fallback as well"

# ---- 3. Failback: A is back; new mail goes to it.
# (a new mail dir: the restarted server numbers its messages from 1)
MAILDIR=$T_DIR/mail-a2
MAIL_A=$MAILDIR
n_a=0
start_server --auth alice:pw-of-alice --auth-plaintext
t0=$(mono)
i=0
back=1
# A's probe is due at most probe_max (1 s) after its last one; a message
# sent before that goes to C.  On a fast machine 20 messages take less
# than that, so each round lets 0.2 s pass first (50 rounds at most):
# the probe's backoff is time, and only time makes it due.
while [ $i -lt 50 ]; do
	i=$((i + 1))
	sleep 0.2
	n_c=$(count_in "$MAIL_C")
	send someone@example.org "failback$i"
	wait_for "failback message $i" 600 sh -c \
	    "[ \$(ls '$MAIL_A' '$MAIL_C' | grep -c '\\.eml\$') -ge $((n_a + n_c + 1)) ]"
	if has_in "$MAIL_A" $((n_a + 1)); then
		back=0
		break
	fi
done
t1=$(mono)
ok $back "after A's return, new mail goes to A"
diag "failback: $(secs "$t0" "$t1") s from A's restart, $i message(s)"
grep -q 'smarthost 127.0.0.1 is back' "$T_DIR/relayqd.log"
ok $? "the log says A is back"
! grep -q '^AUTH' "$MAIL_C/commands"
ok $? "C still saw no AUTH"
! grep -q 'rcpt-rejectme' "$T_DIR/mail/commands" "$MAIL_A/commands"
ok $? "the failed recipient was not tried again at A after its return"

# ---- 4. A reload reroutes queued mail; it may add a section.
stop_other b
send dev@work.example reroute
wait_for "the work mail deferred" 600 grep -q \
    'rcpt-reroute@example.net.*status=deferred' "$T_DIR/relayqd.log"
ok $? "with B stopped, work mail waits (work has no fallback)"
sed -i -e '/^senders = @work.example$/d' \
    -e 's/^senders = carol@home.example$/senders = carol@home.example, @work.example/' \
    "$CONF"
n_c=$(count_in "$MAIL_C")
kill -HUP "$DAEMON_PID"
wait_for "work mail rerouted to C" 600 sent_from "$MAIL_C" dev@work.example
ok $? "after a reload that moves @work.example to backup, the queued mail reaches C"
! grep -q '^AUTH' "$MAIL_C/commands"
ok $? "C saw no AUTH: bob's credentials stay with B"
printf '[smarthost extra]\nhost = 127.0.0.1\nport = %s\ntls = none\n' \
    "$PORT" >> "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the section added" 600 grep -q \
    'smarthost extra (127.0.0.1): added by the reload' "$T_DIR/relayqd.log"
ok $? "a reload that adds a section is taken (t_routes_reload.sh has more)"

stop_daemon >/dev/null
is "$?" 0 "relayqd stopped cleanly"
queue_empty
ok $? "nothing left in the queue"
done_testing
