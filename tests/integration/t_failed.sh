#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Cleaning failed/ (issue 12 §3): null-sender mail that fails for good
# goes to failed/ (never bounced).  relayq failed lists it, relayq failed
# --purge [--older-than DUR] removes it, relayq stats counts it (text,
# --json, --prometheus), and relayqd removes what is older than
# [delivery] failed_retention: at start-up, after a reload and by a timer
# armed when a message enters failed/.  The smarthost is aiosmtpd,
# refusing one recipient with 550.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
RET="failed_retention = 30d"
conf() { write_conf "$RET"; }
conf
relayq() { "$RELAYQ" -c "$CONF" "$@"; }
# fail SUBJECT: a null-sender message to a refused recipient
fail() {
	printf 'Subject: %s\n\nbody\n' "$1" |
	    "$SENDMAIL" --print-queue-id -f '<>' reject@example.net
}
failed_files() { ls "$SPOOL/failed" 2>/dev/null | grep -v '\.state$'; }
nfailed() { failed_files | grep -c .; }
has_failed() { [ "$(nfailed)" -ge "$1" ]; }
logged() { grep -q -- "$1" "$T_DIR/relayqd.log" 2>/dev/null; }

start_server --rcpt-reply 'reject=550 5.1.1 no such user'
start_daemon
A=$(fail first)
B=$(fail second)
wait_for "two in failed/" 300 has_failed 2
ok $? "two null-sender messages failed and are in failed/"
wait_for "B in failed/" 100 test -f "$SPOOL/failed/$B.state"
ok $? "with their state files"

# 1. relayq failed lists them.
relayq failed > "$T_DIR/list"
ok $? "relayq failed exits 0"
grep -q "^$A " "$T_DIR/list" && grep -q "^$B " "$T_DIR/list"
ok $? "relayq failed lists both ids"
grep -q "reject@example.net  (failed)" "$T_DIR/list" &&
    grep -q "(550 5.1.1 no such user)" "$T_DIR/list" &&
    grep -q "moved to failed/: " "$T_DIR/list" &&
    grep -q "MAILER-DAEMON" "$T_DIR/list"
ok $? "relayq failed shows the recipient, its reply and when it failed"
grep -q "^-- 1 Kbytes in 2 Requests\.$" "$T_DIR/list"
ok $? "relayq failed ends with the totals"

# 2. stats counts them.
relayq stats | grep -q "^failed/: 2 messages$"
ok $? "stats (text): 2 messages in failed/"
relayq stats --json | "$PYTHON3" -c 'import json,sys
d = json.load(sys.stdin); sys.exit(0 if d["failed"]["messages"] == 2 and d["queue"]["total"] == 0 else 1)'
ok $? "stats --json: failed.messages is 2, not part of the queue"
relayq stats --prometheus > "$T_DIR/prom"
grep -q "^# TYPE relayq_failed_messages gauge$" "$T_DIR/prom" &&
    grep -q "^relayq_failed_messages 2$" "$T_DIR/prom"
ok $? "stats --prometheus: relayq_failed_messages 2"

# 2b. show reads a failed/ entry, delete removes one, hold/release refuse.
relayq show "$A" > "$T_DIR/show"
ok $? "relayq show ID works on a message in failed/"
grep -q "^directory: failed$" "$T_DIR/show" &&
    grep -q "^  <reject@example.net> failed (550 5.1.1 no such user)$" "$T_DIR/show"
ok $? "show names failed/, the recipient and its reply"
for v in hold release; do
	out=$(relayq $v "$A" 2>&1)
	is "$?:$out" "65:relayq: $A is in failed/: nothing to $v" "relayq $v on failed/ is refused clearly"
done
out=$(relayq delete "$A")
is "$?:$out" "0:$A: deleted from failed/" "relayq delete removes a failed/ entry"
[ ! -e "$SPOOL/failed/$A" ] && [ ! -e "$SPOOL/failed/$A.state" ] &&
    [ -e "$SPOOL/failed/$B" ]
ok $? "its state file went with it, the other entry stays"
relayq delete "$A" >/dev/null 2>&1
is $? 66 "deleting it again: no such message"

# 3. Bad input.
relayq failed --older-than 1h >/dev/null 2>&1
is $? 64 "--older-than without --purge: EX_USAGE"
relayq failed --purge --older-than 1y >/dev/null 2>&1
is $? 64 "--older-than with a bad duration: EX_USAGE"
relayq failed --bogus >/dev/null 2>&1
is $? 64 "unknown option: EX_USAGE"
is "$(nfailed)" 1 "bad input removed nothing"

# 4. relayq failed --purge.
out=$(relayq failed --purge --older-than 1h)
is "$?:$out" "0:purged 0 failed messages, 1 left" "--purge --older-than 1h keeps recent ones"
out=$(relayq failed --purge)
is "$?:$out" "0:purged 1 failed message, 0 left" "--purge removes everything"
is "$(ls "$SPOOL/failed" | wc -l)" 0 "failed/ is empty, state files too"
relayq failed | grep -q "^No failed messages$"
ok $? "relayq failed: nothing left"
relayq stats --prometheus | grep -q "^relayq_failed_messages 0$"
ok $? "stats: the gauge is back to 0"

# 5. relayqd's timer: failed_retention = 2s, set by a reload.
RET="failed_retention = 2s"
conf
kill -HUP "$DAEMON_PID"
wait_for "reload" 100 logged "configuration reloaded"
ok $? "relayqd reloaded failed_retention = 2s"
C=$(fail third)
wait_for "C failed" 300 logged "$C: moved to failed/"
ok $? "a third message moved to failed/"
wait_for "timer purge" 300 logged "purged 1 message from failed/ (older than 2s)"
ok $? "relayqd purged it by its timer"
wait_for "failed/ empty" 100 sh -c "[ -z \"\$(ls '$SPOOL/failed')\" ]"
ok $? "failed/ is empty again"

# 6. relayqd's start-up: an entry older than failed_retention goes.
RET="failed_retention = 30d"
conf
kill -HUP "$DAEMON_PID"
wait_for "second reload" 100 sh -c "[ \$(grep -c 'configuration reloaded' '$T_DIR/relayqd.log') -ge 2 ]"
D=$(fail fourth)
wait_for "D failed" 300 test -f "$SPOOL/failed/$D.state"
ok $? "a fourth message is kept with failed_retention = 30d"
stop_daemon
is $? 0 "relayqd stops"
RET="failed_retention = 1s"
conf
# its ctime must be more than 1 s in the past
ct=$(stat -c %Z "$SPOOL/failed/$D")
wait_for "D older than 1s" 100 sh -c "[ \$(date +%s) -gt $((ct + 1)) ]"
mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.1.log"
start_daemon
wait_for "start-up purge" 300 logged "purged 1 message from failed/ (older than 1s)"
ok $? "relayqd purged it at start-up"
is "$(ls "$SPOOL/failed" | wc -l)" 0 "failed/ is empty after the start-up purge"

# 7. failed_retention = 0 keeps failed/ forever; a bad value is refused.
RET="failed_retention = 0"
conf
relayq check-config >/dev/null 2>&1
is $? 0 "failed_retention = 0 is accepted"
RET="failed_retention = -1d"
conf
relayq check-config >"$T_DIR/check.out" 2>&1
rc=$?
[ $rc -eq 78 ] || diag "check-config said: $(cat "$T_DIR/check.out")"
is $rc 78 "failed_retention = -1d: EX_CONFIG"

stop_daemon
is $? 0 "relayqd exits 0"
done_testing
