#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The relayq operator tool against a live relayqd: queue (text and
# --json), show, hold and release (a hold survives a daemon restart),
# flush ID, requeue, delete (one, unknown, locked by a delivery, --all
# with and without --yes) and check-config (good spool, bad mode, a
# world-readable password_file; what relayqd refuses at start, with its
# words: OAuth2 keys against auth and passwords, secret file modes and
# the 4 KiB limit).
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf
# ids in queue/, one per line, in order
qids() { ls "$SPOOL/queue" 2>/dev/null; }
nqueued() { [ "$(qids | wc -l)" -eq "$1" ]; }
relayq() { "$RELAYQ" -c "$CONF" "$@"; }
submit() { # submit SUBJECT RCPT
	printf 'Subject: %s\n\nbody of %s\n' "$1" "$1" |
	    "$SENDMAIL" -f sender@example.org "$2"
}

# The smarthost is down at first: messages stay queued (deferred).
start_daemon
wait_for "spool" 100 test -d "$SPOOL/failed"
ok $? "relayqd created the spool"

# 1. check-config on a good spool and config.
out=$(relayq check-config 2>&1)
ok $? "check-config passes on the spool relayqd created"
echo "$out" | grep -q "configuration OK"
ok $? "check-config says OK"

# 2. queue, queue --json, show.
relayq queue | grep -q "Mail queue is empty"
ok $? "queue: empty"
is "$(relayq queue --json | "$PYTHON3" -c 'import json,sys
d = json.load(sys.stdin); print(d["count"], len(d["messages"]))')" "0 0" \
    "queue --json: empty queue is valid JSON"
submit hello rcpt1@example.net
ok $? "first message submitted"
wait_for "message in queue/" 100 nqueued 1
ok $? "relayqd accepted it"
ID1=$(qids)
wait_for "a delivery attempt" 100 sh -c "relayq() { \"$RELAYQ\" -c \"$CONF\" \"\$@\"; }; relayq show $ID1 | grep -q 'attempts: [1-9]'"
ok $? "show: an attempt is recorded"
relayq queue | grep -q "^$ID1 "
ok $? "queue: lists the message"
relayq queue --json > "$T_DIR/q.json"
ok $? "queue --json exits 0"
"$PYTHON3" -m json.tool "$T_DIR/q.json" >/dev/null
ok $? "queue --json is valid JSON (json.tool)"
is "$("$PYTHON3" -c 'import json,sys
d = json.load(open(sys.argv[1])); m = d["messages"][0]
print(d["count"], m["id"], m["sender"], m["held"], m["recipients"][0]["address"],
      m["recipients"][0]["state"], m["attempts"] > 0, m["last_error"] is not None)' \
    "$T_DIR/q.json")" "1 $ID1 sender@example.org False rcpt1@example.net deferred True True" \
    "queue --json: id, sender, held, recipient, state, attempts, last error"
relayq show "$ID1" > "$T_DIR/show"
ok $? "show exits 0"
grep -q "^sender: <sender@example.org>$" "$T_DIR/show" &&
    grep -q "^  <rcpt1@example.net> deferred" "$T_DIR/show" &&
    grep -q "^Subject: hello$" "$T_DIR/show" &&
    grep -q "^last error: " "$T_DIR/show" &&
    grep -q "^held: no$" "$T_DIR/show"
ok $? "show: envelope, recipient state, headers, last error"
relayq show 0000000000000000000A >/dev/null 2>&1
is $? 66 "show of an unknown id: EX_NOINPUT"
relayq show ../etc >/dev/null 2>&1
is $? 64 "show of a bad id: EX_USAGE"

# 2b. release of a message not on hold says so; relayqd's log names
# relayq, not sendmail, as the requester of release's queue run.
out=$(relayq release "$ID1" 2>&1)
is "$?:$out" "0:$ID1 was not on hold" "release of a message not on hold: says so, exit 0"
relayq show "$ID1" | grep -q "^held: no$"
ok $? "it is still not on hold"
relayq hold "$ID1" >/dev/null && relayq release "$ID1" >/dev/null
ok $? "hold then release"
wait_for "release's queue run" 100 grep -q "queue run requested for 1 messages by relayq, " \
    "$T_DIR/relayqd.log"
ok $? "relayqd logs the queue run as requested by relayq"
! grep -q "by sendmail -qR" "$T_DIR/relayqd.log"
ok $? "and not by sendmail -qR/-qS/-qI"

# 3. hold, survives a restart; release delivers.
relayq hold "$ID1" | grep -q "held"
ok $? "hold exits 0"
relayq queue | grep -q "^$ID1!"
ok $? "queue marks the held message with !"
relayq show "$ID1" | grep -q "^held: yes$"
ok $? "show: held"
stop_daemon
is $? 0 "relayqd stops cleanly"
start_server
start_daemon
submit second rcpt2@example.net
wait_for "second message delivered" 100 has_mail 1
ok $? "a message not on hold is delivered after the restart"
relayq flush
ok $? "flush exits 0"
relayq requeue
ok $? "requeue exits 0"
# A message submitted after the flush and the requeue goes out: relayqd
# has handled both, and had every chance to send the held one too.
submit marker rcpt2@example.net
wait_for "the marker message delivered" 100 has_mail 2
! grep -q "Subject: hello" "$MAILDIR"/*.eml
ok $? "the held message is not delivered after restart, flush and requeue"
relayq queue --json | "$PYTHON3" -c 'import json,sys
d = json.load(sys.stdin); sys.exit(0 if d["messages"][0]["held"] else 1)'
ok $? "queue --json: held is true"
relayq release "$ID1" | grep -q "released"
ok $? "release exits 0"
wait_for "released message delivered" 100 has_mail 3
ok $? "the released message is delivered"
wait_for "queue empty" 100 queue_empty
ok $? "queue empty afterwards"
grep -q "Subject: hello" "$MAILDIR"/0003.eml
ok $? "the third delivery is the released message"

# 3b. stats: relayqd publishes its counters (at most once a second).
stats_delivered() {
	relayq stats --json | "$PYTHON3" -c 'import json,sys
d = json.load(sys.stdin); sys.exit(0 if d["relayqd"] and d["relayqd"]["delivered"] == int(sys.argv[1]) else 1)' "$1"
}
wait_for "stats: 3 delivered" 50 stats_delivered 3
ok $? "stats --json: 3 delivered since the restart"
relayq stats --json > "$T_DIR/stats.json"
"$PYTHON3" -m json.tool "$T_DIR/stats.json" >/dev/null
ok $? "stats --json is valid JSON (json.tool)"
is "$("$PYTHON3" -c 'import json,sys
d = json.load(open(sys.argv[1])); q = d["queue"]; r = d["relayqd"]
print(q["total"], q["oldest_age_seconds"], r["smarthost_up"], r["last_success"] > 0,
      r["pid"] == int(sys.argv[2]), r["failed"])' "$T_DIR/stats.json" "$DAEMON_PID")" \
    "0 0 True True True 0" "stats --json: empty queue, smarthost up, last success, pid"
relayq stats --prometheus > "$T_DIR/stats.prom"
ok $? "stats --prometheus exits 0"
"$PYTHON3" - "$T_DIR/stats.prom" <<'PYEOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
typed = set()
for l in lines:
    m = re.match(r'^# TYPE ([a-z_]+) (gauge|counter)$', l)
    if m:
        typed.add(m.group(1)); continue
    if l.startswith('# HELP '):
        continue
    m = re.match(r'^([a-z_]+)(\{[a-z_]+="(?:[^"\\\n]|\\[\\"n])*"\})? (-?[0-9]+(\.[0-9]+)?)$', l)
    assert m, l
    assert m.group(1) in typed, l
    if m.group(1).endswith('_total'):
        assert m.group(1) in typed
vals = {l.split(' ')[0]: l.split(' ')[1] for l in lines if not l.startswith('#')}
assert vals['relayq_deliveries_total'] == '3', vals
assert vals['relayq_smarthost_up'] == '1', vals
assert vals['relayq_daemon_up'] == '1', vals
assert vals['relayq_queue_messages{state="held"}'] == '0', vals
PYEOF
ok $? "stats --prometheus: valid exposition with the right values"
relayq stats | grep -q "^since start: 3 delivered"
ok $? "stats (text)"

# 4. flush ID writes an I record.
stop_server
submit third rcpt3@example.net
wait_for "third in queue/" 100 nqueued 1
ID3=$(qids)
relayq flush "$ID3"
ok $? "flush ID exits 0"
wait_for "flush ID logged" 50 grep -q "queue run requested for 1 messages" "$T_DIR/relayqd.log"
ok $? "relayqd got the id"
relayq flush not-an-id 2>/dev/null
is $? 64 "flush of a bad id: EX_USAGE"
stats_down() {
	relayq stats --json | "$PYTHON3" -c 'import json,sys
d = json.load(sys.stdin); r = d["relayqd"]
sys.exit(0 if not r["smarthost_up"] and r["deferred"] > 0 and d["queue"]["deferred"] == 1 and r["last_error_time"] > 0 and "refused" in r["last_error"] else 1)'
}
wait_for "stats: smarthost down" 50 stats_down
ok $? "stats --json: smarthost down, a deferral, the last error, 1 deferred in the queue"
relayq stats --prometheus | grep -q '^relayq_smarthost_up 0$'
ok $? "stats --prometheus: relayq_smarthost_up 0"

# 5. delete.
# flock holds the lock until told to let go (bounded: 120 s).
flock "$SPOOL/queue/$ID3" sh -c ': > "$1"; i=0
while [ ! -e "$2" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done' \
    sh "$T_DIR/locked" "$T_DIR/unlock" &
FLOCK_PID=$!
T_PIDS="$T_PIDS $FLOCK_PID"
wait_for "flock to hold the lock" 100 test -e "$T_DIR/locked"
out=$(relayq delete "$ID3" 2>&1)
is $? 75 "delete of a message being delivered: EX_TEMPFAIL"
echo "$out" | grep -q "being delivered, try again"
ok $? "delete says: being delivered, try again"
# A change waits (up to 10 s) for the attempt to let go: hold, started
# while the lock is held, is seen sleeping between tries of the lock
# (clock_nanosleep: x86_64 230, arm64 115; nanosleep: 35, 101), and
# succeeds once the lock is gone.
"$RELAYQ" -c "$CONF" hold "$ID3" >"$T_DIR/hold.out" 2>&1 &
HOLD_PID=$!
T_PIDS="$T_PIDS $HOLD_PID"
hold_waits() {
	set -- $(cat "/proc/$HOLD_PID/syscall" 2>/dev/null)
	case ${1:-} in 230 | 115 | 35 | 101) return 0 ;; esac
	return 1
}
wait_for "hold to wait for the lock" 100 hold_waits
ok $? "hold waits while the message is being delivered"
: > "$T_DIR/unlock"
wait "$FLOCK_PID"
wait "$HOLD_PID"
is $? 0 "hold exits 0 once the delivery let go"
relayq show "$ID3" | grep -q "^held: yes$"
ok $? "and the message is held"
wait_for "delete after the lock" 50 relayq delete "$ID3"
ok $? "delete exits 0 once the lock is gone"
test ! -e "$SPOOL/queue/$ID3" && test ! -e "$SPOOL/state/$ID3"
ok $? "message and state removed"
relayq delete "$ID3" 2>/dev/null
is $? 66 "delete of an unknown id: EX_NOINPUT"
submit four rcpt4@example.net
submit five rcpt5@example.net
wait_for "two in queue/" 100 nqueued 2
relayq delete --all 2>/dev/null
is $? 64 "delete --all without --yes refuses"
nqueued 2
ok $? "nothing deleted without --yes"
relayq delete --all --yes >/dev/null
ok $? "delete --all --yes exits 0"
wait_for "queue empty" 50 queue_empty
ok $? "delete --all --yes empties the queue"

# 6. check-config catches problems.
chmod 0755 "$SPOOL/queue"
out=$(relayq check-config 2>&1)
is $? 78 "check-config: bad spool mode is EX_CONFIG"
echo "$out" | grep -q "queue: mode 0755, want 0750"
ok $? "check-config names the directory and the mode"
chmod 0750 "$SPOOL/queue"
printf 'secret\n' > "$T_DIR/secret"
chmod 0644 "$T_DIR/secret"
sed -e "/^\[smarthost\]/a password_file = $T_DIR/secret" \
    -e "/^\[smarthost\]/a allow_plaintext_auth = yes" \
    -e "/^\[smarthost\]/a username = u" "$CONF" > "$T_DIR/secret.conf"
out=$("$RELAYQ" -c "$T_DIR/secret.conf" check-config 2>&1)
is $? 78 "check-config: world-readable password_file is EX_CONFIG"
echo "$out" | grep -q "password_file $T_DIR/secret: mode 0644, readable by others"
ok $? "check-config names the secret file and the reason"
chmod 0600 "$T_DIR/secret"
"$RELAYQ" -c "$T_DIR/secret.conf" check-config >/dev/null 2>&1
ok $? "check-config passes once the secret is 0600"
printf '[relayq]\nbogus_key = 1\n' > "$T_DIR/bad.conf"
"$RELAYQ" -c "$T_DIR/bad.conf" check-config >/dev/null 2>&1
is $? 78 "check-config: unknown key is EX_CONFIG"

# 7. check-config refuses what relayqd refuses at start (issue 14), with
# the same message: the AUTH/OAuth2 keys and the secret files' rules and
# size limit.  relayqd is run on the live spool: one it accepts stops at
# "another relayqd is running", after every configuration check.
OAUTH="username = mailbox@example.org
allow_plaintext_auth = yes
oauth2_token_url = https://127.0.0.1:9/token
oauth2_client_id = relayq-test
oauth2_grant = client_credentials
oauth2_client_secret_file = $T_DIR/cs"
printf 'client-secret\n' > "$T_DIR/cs"
chmod 600 "$T_DIR/cs"
# both_on NAME SMARTHOST-LINES: runs relayqd -f and check-config on the
# config with the lines in [smarthost]; $D and $C hold their output.
both_on() {
	printf '%s\n' "$2" > "$T_DIR/extra"
	sed "/^\[smarthost\]/r $T_DIR/extra" "$CONF" > "$T_DIR/both.conf"
	run_both
}
# run_both: relayqd -f and check-config on $T_DIR/both.conf.
run_both() {
	timeout 60 "$RELAYQD" -f -c "$T_DIR/both.conf" > "$T_DIR/both.d" 2>&1
	D=$(cat "$T_DIR/both.d")
	C=$("$RELAYQ" -c "$T_DIR/both.conf" check-config 2>&1)
	CRC=$?
}
# same_refusal NAME SMARTHOST-LINES PATTERN: both refuse, relayqd with a
# message matching PATTERN that check-config gives word for word.
same_refusal() {
	both_on "$1" "$2"
	msg=$(echo "$D" | sed -n "s|.*$T_DIR/both.conf: ||p" | head -n 1)
	diag "$1: relayqd: $msg"
	[ -n "$msg" ] || diag "$1: relayqd said: $D"
	echo "$msg" | grep -Eq -- "$3"
	ok $? "$1: relayqd refuses at start ($3)"
	[ "$CRC" -eq 78 ] && [ -n "$msg" ] &&
	    echo "$C" | grep -qF -- "relayq: check-config: $msg"
	ok $? "$1: check-config refuses it with relayqd's message"
}
both_on "a good OAuth2 smarthost" "auth = xoauth2
$OAUTH"
echo "$D" | grep -q "another relayqd is running"
ok $? "a good OAuth2 smarthost: relayqd passes every check"
is "$CRC" 0 "a good OAuth2 smarthost: check-config passes"
# A named section's refusal names the section once, in both.
printf '\n[smarthost work]\nhost = 127.0.0.1\nsenders = @work.example\nauth = plain\n%s\n' \
    "$OAUTH" > "$T_DIR/extra"
cat "$CONF" "$T_DIR/extra" > "$T_DIR/both.conf"
timeout 60 "$RELAYQD" -f -c "$T_DIR/both.conf" > "$T_DIR/both.d" 2>&1
msg=$(sed -n "s|.*$T_DIR/both.conf: ||p" "$T_DIR/both.d" | head -n 1)
C=$("$RELAYQ" -c "$T_DIR/both.conf" check-config 2>&1)
CRC=$?
echo "$msg" | grep -q '^smarthost work:oauth2_token_url needs auth = xoauth2 or oauthbearer (not plain)$'
ok $? "a named section: relayqd's refusal names it once, as SECTION:KEY ($msg)"
[ "$CRC" -eq 78 ] && echo "$C" | grep -qF -- "relayq: check-config: $msg"
ok $? "a named section: check-config refuses it with relayqd's message"
chmod 644 "$T_DIR/cs"
same_refusal "client secret file 0644" "auth = xoauth2
$OAUTH" "oauth2_client_secret_file $T_DIR/cs: mode 0644, readable by others"
chmod 640 "$T_DIR/cs"
same_refusal "client secret file 0640" "auth = oauthbearer
$OAUTH" "oauth2_client_secret_file $T_DIR/cs: mode 0640, readable by its group"
chmod 600 "$T_DIR/cs"
for auth in plain login auto none; do
	same_refusal "oauth2_token_url with auth = $auth" "auth = $auth
$OAUTH" "oauth2_token_url needs auth = xoauth2 or oauthbearer"
done
same_refusal "oauth2_token_url with the default auth" "$OAUTH" \
    "oauth2_token_url needs auth = xoauth2 or oauthbearer \(not auto\)"
same_refusal "oauth2_token_url with password_file" "auth = xoauth2
$OAUTH
password_file = $T_DIR/secret" "oauth2_token_url replaces password_file"
same_refusal "oauth2_token_url with password_command" "auth = xoauth2
$OAUTH
password_command = /bin/echo x" "oauth2_token_url replaces password_file"
# Issue 15: check-config runs relayqd's start checks on the TLS keys and
# on AUTH without TLS, in [smarthost] and in a named section, with
# relayqd's message (SECTION:KEY).
# sh_refusal NAME WHERE LINES PATTERN: LINES (with tls = starttls) in
# [smarthost] (WHERE "default") or in a [smarthost work].
sh_refusal() {
	printf '%s\n' "$3" > "$T_DIR/extra"
	if [ "$2" = default ]; then
		sed -e '/^tls = none$/d' -e "/^\[smarthost\]/r $T_DIR/extra" \
		    "$CONF" > "$T_DIR/both.conf"
	else
		{ cat "$CONF"; printf '[smarthost work]\nhost = 127.0.0.1\nsenders = @work.example\n'; cat "$T_DIR/extra"; } > "$T_DIR/both.conf"
	fi
	run_both
	msg=$(echo "$D" | sed -n "s|.*$T_DIR/both.conf: ||p" | head -n 1)
	echo "$msg" | grep -Eq -- "$4"
	ok $? "$1 in $2: relayqd refuses at start ($msg)"
	[ "$CRC" -eq 78 ] && [ -n "$msg" ] &&
	    echo "$C" | grep -qF -- "relayq: check-config: $msg"
	ok $? "$1 in $2: check-config refuses it with relayqd's message"
}
chmod 600 "$T_DIR/secret"
for where in default work; do
	if [ $where = default ]; then sec=smarthost pre=; else sec="smarthost work" pre="smarthost work: "; fi
	sh_refusal "AUTH with tls = none" $where "tls = none
username = u
password_file = $T_DIR/secret" "^${pre}AUTH is configured with tls = none"
	sh_refusal "a bad tls_fingerprint" $where "tls = starttls
tls_fingerprint = sha256:zz" "^$sec:tls_fingerprint: expected sha256:"
	sh_refusal "a missing ca_file" $where "tls = starttls
ca_file = /nonexistent.pem" "^$sec:ca_file: cannot open /nonexistent.pem"
	sh_refusal "a missing tls_cert" $where "tls = starttls
tls_cert = /nonexistent.pem" "^$sec:tls_cert: cannot load"
done
# The size limit of relayq.conf(5): 4 KiB for both secret files.
"$PYTHON3" -c 'import sys; open(sys.argv[1], "w").write("s" * 4095 + "\n")' \
    "$T_DIR/cs"
both_on "a client secret file of 4 KiB" "auth = xoauth2
$OAUTH"
echo "$D" | grep -q "another relayqd is running"
ok $? "a client secret file of exactly 4 KiB: relayqd accepts it"
is "$CRC" 0 "a client secret file of exactly 4 KiB: check-config accepts it"
echo x >> "$T_DIR/cs"
same_refusal "client secret file over 4 KiB" "auth = xoauth2
$OAUTH" "oauth2_client_secret_file $T_DIR/cs: larger than 4 KiB"
cp "$T_DIR/cs" "$T_DIR/secret"
same_refusal "password_file over 4 KiB" "username = u
password_file = $T_DIR/secret
allow_plaintext_auth = yes" "password_file $T_DIR/secret: larger than 4 KiB"

stop_daemon
is $? 0 "relayqd exits 0"
done_testing
