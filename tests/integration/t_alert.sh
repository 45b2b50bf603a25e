#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# alert_command (issue 6): with the smarthost down (a closed port) and
# alert_after = 2s, the command runs exactly once over several retry
# cycles, without a shell, with the RELAYQ_* environment and a summary
# on stdin; a real server comes up, the mail drains and the incident
# ends; a second outage runs it exactly once more.  Without
# alert_command nothing runs; a command that does not exist is logged
# and relayqd keeps delivering; check-config and start-up refuse bad
# ones.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
ALERTS=$T_DIR/alerts
# The command: records its arguments, RELAYQ_* variables and stdin.
alert_recorder "$T_DIR/alert.sh" "$ALERTS"

n_alerts() { ls "$ALERTS" | grep -c '\.env$'; }
# n_probes: failed connections logged so far.
n_probes() { grep -c 'unavailable (' "$T_DIR/relayqd.log"; }
# wait_probes N: waits (bounded) for N more failed probes than now.
wait_probes() {
	_want=$(($(n_probes) + $1))
	wait_for "$1 more failed probes" 150 sh -c \
	    "[ \$(grep -c 'unavailable (' '$T_DIR/relayqd.log') -ge $_want ]"
}
submit() {
	printf 'Subject: %s\n\nbody\n' "$1" |
	    "$SENDMAIL" -C "$CONF" -f sender@example.org rcpt@example.org
}
# envof FILE NAME: the value of NAME in an alert record.
envof() { sed -n "s/^$2=//p" "$1"; }

write_conf "probe_max = 1s
alert_after = 2s
alert_command = $T_DIR/alert.sh one two"

start_daemon
submit first
ok $? "first message queued while the smarthost is down"
wait_for "the first alert" 150 sh -c "ls '$ALERTS' | grep -q '\.env$'"
ok $? "alert_command ran"
wait_probes 3
ok $? "three more retry cycles after the alert"
is "$(n_alerts)" 1 "ran exactly once during the outage"
f=$(ls "$ALERTS"/*.env | head -n 1)
is "$(envof "$f" ARGS)" "one two" "arguments split on blanks, no shell"
kind=$(envof "$f" RELAYQ_ALERT)
case $kind in queue-age | smarthost-down) r=0 ;; *) r=1 ;; esac
ok $r "RELAYQ_ALERT is queue-age or smarthost-down (both hold): $kind"
is "$(envof "$f" RELAYQ_QUEUE_SIZE)" 1 "RELAYQ_QUEUE_SIZE=1"
is "$(envof "$f" RELAYQ_SMARTHOST_UP)" 0 "RELAYQ_SMARTHOST_UP=0"
is "$(envof "$f" RELAYQ_SMARTHOST)" "127.0.0.1:$PORT" "RELAYQ_SMARTHOST"
is "$(envof "$f" RELAYQ_ALERT_AFTER)" 2 "RELAYQ_ALERT_AFTER=2"
age=$(envof "$f" RELAYQ_OLDEST_AGE)
[ "${age:-0}" -ge 2 ] 2>/dev/null
ok $? "RELAYQ_OLDEST_AGE is at least alert_after: $age"
since=$(envof "$f" RELAYQ_SINCE)
[ "${since:-0}" -gt 1000000000 ] && [ "$since" -le "$(date +%s)" ]
ok $? "RELAYQ_SINCE is a past time: $since"
envof "$f" RELAYQ_LAST_ERROR | grep -qi 'refused'
ok $? "RELAYQ_LAST_ERROR says why: $(envof "$f" RELAYQ_LAST_ERROR)"
grep -q '^relayq on relayq.test: ' "$f"
ok $? "a text summary on stdin"
grep -Eq "alert: kind=$kind command=$T_DIR/alert.sh pid=[0-9]+ status=started" \
    "$T_DIR/relayqd.log"
ok $? "start logged as key=value"
wait_for "the exit log line" 50 grep -Eq \
    'alert: kind=[a-z-]+ pid=[0-9]+ status=exited code=0 duration=' \
    "$T_DIR/relayqd.log"
ok $? "exit status logged as key=value"

start_server
wait_for "the queue to drain" 150 has_mail 1
ok $? "the smarthost is back and the mail is delivered"
wait_for "the incident to end" 50 grep -q "alert: kind=$kind status=cleared" \
    "$T_DIR/relayqd.log"
ok $? "incident over once the queue drained and the smarthost answers"
is "$(n_alerts)" 1 "still one run after the recovery"

stop_server
submit second
wait_for "the second alert" 150 sh -c \
    "[ \$(ls '$ALERTS' | grep -c '\.env$') -ge 2 ]"
ok $? "a second outage runs alert_command again"
wait_probes 3
is "$(n_alerts)" 2 "exactly once for the second outage"
stop_daemon
ok $? "relayqd exits 0"

# Without alert_command nothing runs, however long the outage.
: > "$T_DIR/relayqd.log"
write_conf "probe_max = 1s
alert_after = 1s"
start_daemon
wait_probes 4
ok $? "smarthost down for several retry cycles"
is "$(n_alerts)" 2 "no alert_command: nothing runs"
grep -q 'alert:' "$T_DIR/relayqd.log"
ok $((!$?)) "no alert log lines"
stop_daemon
ok $? "relayqd exits 0"

# A command that does not exist: logged, and delivery goes on.
: > "$T_DIR/relayqd.log"
write_conf "probe_max = 1s
alert_after = 1s
alert_command = $T_DIR/no-such-alert --x"
"$RELAYQ" -c "$CONF" check-config > "$T_DIR/check.out" 2>&1
ok $((!$?)) "check-config refuses a missing alert_command"
grep -q "alert_command: $T_DIR/no-such-alert is not an executable file" \
    "$T_DIR/check.out"
ok $? "and says which: $(head -n 1 "$T_DIR/check.out")"
start_daemon
# posix_spawn reports the exec failure (status=error); where it cannot
# (valgrind turns the spawn into a fork), the child exits 127.
wait_for "the failed alert" 150 grep -Eq \
    'alert: kind=[a-z-]+ command=[^ ]*no-such-alert status=error \(No such file|status=exited code=127' \
    "$T_DIR/relayqd.log"
ok $? "a missing alert_command is logged"
rm -rf "$MAILDIR" # a new server numbers its files from 1 again
start_server
wait_for "the queue to drain" 150 has_mail 1
ok $? "relayqd keeps delivering"
stop_daemon
ok $? "relayqd exits 0"
stop_server

# Start-up refuses a relative command path.
write_conf "alert_command = bin/alert"
"$RELAYQD" -f -c "$CONF" > "$T_DIR/bad.out" 2>&1
ok $((!$?)) "relayqd refuses a relative alert_command"
grep -q 'delivery:alert_command: bin/alert is a relative path' \
    "$T_DIR/bad.out"
ok $? "with the reason: $(head -n 1 "$T_DIR/bad.out")"
write_conf "alert_command = $T_DIR/alert.sh"
"$RELAYQ" -c "$CONF" check-config > "$T_DIR/check.out" 2>&1
ok $? "check-config accepts an executable alert_command"
done_testing
