#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# "smarthost down since" in relayq stats (issue 12 §3): with nothing
# listening on the smarthost's port, relayq stats says the smarthost is
# down and since when (text, --json smarthost_down_since, --prometheus
# relayq_smarthost_down_since_timestamp_seconds); once a real server
# (aiosmtpd) answers, it says up and the "since" is gone.  A relayqd
# stopped meanwhile is "not running", not a smarthost still down.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf
relayq() { "$RELAYQ" -c "$CONF" "$@"; }
json() { # json PYTHON-EXPR-ON-d: prints it for relayq stats --json
	relayq stats --json | "$PYTHON3" -c 'import json,sys
d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

T0=$(date +%s)
start_daemon
printf 'Subject: down\n\nbody\n' | "$SENDMAIL" -f sender@example.org rcpt@example.net
ok $? "a message is queued"
is_down() { [ "$(json 'd["relayqd"]["smarthost_up"]')" = False ]; }
wait_for "stats: smarthost down" 300 is_down
ok $? "stats --json: smarthost_up is false (nothing listens)"
SINCE=$(json 'd["relayqd"]["smarthost_down_since"]')
T1=$(date +%s)
[ "$SINCE" -ge "$T0" ] 2>/dev/null && [ "$SINCE" -le "$T1" ]
ok $? "stats --json: smarthost_down_since is when it went down ($SINCE)"
relayq stats | grep -q "^smarthost: down since $SINCE ([0-9-]* [0-9:]* [-+][0-9]*, [0-9]*s ago)$"
ok $? "stats (text): smarthost: down since EPOCH (DATE, Ns ago)"
relayq stats --prometheus > "$T_DIR/prom"
grep -q "^# TYPE relayq_smarthost_down_since_timestamp_seconds gauge$" "$T_DIR/prom" &&
    grep -q "^relayq_smarthost_down_since_timestamp_seconds $SINCE$" "$T_DIR/prom" &&
    grep -q "^relayq_smarthost_up 0$" "$T_DIR/prom"
ok $? "stats --prometheus: down since the same time"
grep -q "^smarthost_since=$SINCE$" "$SPOOL/stats"
ok $? "relayqd publishes smarthost_since in the stats file"

# relayqd stops (SIGTERM) while the smarthost is down: its stats file
# stays, but stats must not claim a live relayqd nor a down smarthost.
stop_daemon
is $? 0 "relayqd stops while the smarthost is down"
[ -f "$SPOOL/stats" ]
ok $? "its stats file stays behind"
relayq stats > "$T_DIR/text"
grep -q "^relayqd: not running$" "$T_DIR/text" && ! grep -q "smarthost" "$T_DIR/text"
ok $? "stats (text): relayqd: not running, no smarthost claim"
is "$(json '(d["relayqd_running"], d["relayqd"])')" "(False, None)" \
    "stats --json: relayqd_running false, no stale relayqd object (pid)"
relayq stats --prometheus > "$T_DIR/prom"
grep -q "^relayq_daemon_up 0$" "$T_DIR/prom" && ! grep -q "^relayq_smarthost" "$T_DIR/prom"
ok $? "stats --prometheus: relayq_daemon_up 0, no smarthost gauges"
mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.1.log"
start_daemon
is_running() { [ "$(json 'd["relayqd_running"]')" = True ]; }
wait_for "relayqd runs again" 300 is_running
ok $? "stats --json: relayqd_running true once it runs again"

# The server comes up: the next probe succeeds.
start_server
relayq flush >/dev/null
wait_for "delivered" 300 has_mail 1
ok $? "the message is delivered once the server listens"
is_up() { [ "$(json 'd["relayqd"]["smarthost_up"]')" = True ]; }
wait_for "stats: smarthost up" 100 is_up
ok $? "stats --json: smarthost_up is true"
is "$(json 'd["relayqd"]["smarthost_down_since"]')" None \
    "stats --json: smarthost_down_since is null while it is up"
relayq stats | grep -q "^smarthost: up$"
ok $? "stats (text): smarthost: up"
relayq stats --prometheus | grep -q "^relayq_smarthost_down_since_timestamp_seconds 0$"
ok $? "stats --prometheus: down since 0 while it is up"

stop_daemon
is $? 0 "relayqd exits 0"
done_testing
