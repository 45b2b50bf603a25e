#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# alert_command with several smarthosts (issue 15, found by an outside
# tester): [smarthost] is up (a real aiosmtpd server), [smarthost priv]
# is down (a closed port) and takes the mail of me@home.example.  The
# smarthost-down alert fires for priv, naming it; the queue-age alert of
# its message is about priv too (RELAYQ_SMARTHOST, _NAME, _UP and the
# error all priv's), not about the default that is up.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
PRIV_PORT=$(free_port)
ALERTS=$T_DIR/alerts
# The command: records its arguments, RELAYQ_* variables and stdin.
alert_recorder "$T_DIR/alert.sh" "$ALERTS"

# alert_of KIND: the first record of that kind, or nothing.
alert_of() {
	grep -l "^RELAYQ_ALERT=$1\$" "$ALERTS"/*.env 2>/dev/null | head -n 1
}
has_alert() { [ -n "$(alert_of "$1")" ]; }
envof() { sed -n "s/^$2=//p" "$1"; }

write_conf "probe_max = 1s
alert_after = 2s
alert_command = $T_DIR/alert.sh" "
[smarthost priv]
host = 127.0.0.1
port = $PRIV_PORT
tls = none
senders = me@home.example"
refused 127.0.0.1 "$PRIV_PORT"
ok $? "nothing listens on priv's port"
start_server
start_daemon
printf 'Subject: priv\n\nbody\n' |
    "$SENDMAIL" -C "$CONF" -f me@home.example rcpt@example.org
ok $? "a message for [smarthost priv] queued"
printf 'Subject: default\n\nbody\n' |
    "$SENDMAIL" -C "$CONF" -f other@example.org rcpt@example.org
ok $? "a message for [smarthost] queued"
wait_for "the default's message" 300 has_mail 1
ok $? "the default smarthost delivers its message"

wait_for "priv's smarthost-down alert" 300 has_alert smarthost-down
ok $? "a smarthost-down alert fires for the named smarthost"
f=$(alert_of smarthost-down)
is "$(envof "$f" RELAYQ_SMARTHOST_NAME)" priv "RELAYQ_SMARTHOST_NAME=priv"
is "$(envof "$f" RELAYQ_SMARTHOST)" "127.0.0.1:$PRIV_PORT" \
    "RELAYQ_SMARTHOST is priv's address"
is "$(envof "$f" RELAYQ_SMARTHOST_UP)" 0 "RELAYQ_SMARTHOST_UP=0"
envof "$f" RELAYQ_LAST_ERROR | grep -qi 'refused'
ok $? "RELAYQ_LAST_ERROR is priv's: $(envof "$f" RELAYQ_LAST_ERROR)"
grep -q 'the smarthost priv (127.0.0.1) has been failing' "$f"
ok $? "the summary names it: $(grep 'has been failing' "$f")"

wait_for "the queue-age alert" 300 has_alert queue-age
ok $? "the queue-age alert fires for the old message"
f=$(alert_of queue-age)
is "$(envof "$f" RELAYQ_SMARTHOST_NAME)" priv \
    "it names the message's smarthost, priv"
is "$(envof "$f" RELAYQ_SMARTHOST)" "127.0.0.1:$PRIV_PORT" \
    "with priv's address"
is "$(envof "$f" RELAYQ_SMARTHOST_UP)" 0 "and priv's state: down"
grep -q 'the smarthost priv (127.0.0.1) is down' "$f"
ok $? "the summary too: $(grep 'is down' "$f")"
is "$(cat "$ALERTS"/*.env | grep -c '^RELAYQ_ALERT=smarthost-down$')" 1 \
    "one smarthost-down alert (the default is up)"
stop_daemon
ok $? "relayqd exits 0"
done_testing
