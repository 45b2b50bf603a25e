#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A reload (SIGHUP) that adds, removes, renames or changes [smarthost
# NAME] sections (issue 15), against real servers (aiosmtpd): A on
# 127.0.0.1 is [smarthost] (AUTH as alice), B [smarthost work] (AUTH as
# bob), C takes over [smarthost work] when its settings change (AUTH as
# carol), D [smarthost slow] holds its reply to the final dot until the
# test lets it go.  Sessions stay idle for a long time here, so that a
# reload must close them itself.  Checks: a reload adding a section that
# cannot be built changes nothing; an added section takes its
# senders' mail, with its own credentials, and sendmail -v names it; a
# changed one goes to its new server with its new credentials, and the
# idle session authenticated with the old ones says QUIT; a renamed one
# goes on under its new name; a removed one's queued mail goes to
# [smarthost]; a reload while a transaction to a removed section is in
# flight lets it finish: the message is delivered exactly once; every
# retired smarthost is freed; no credentials ever reach another server.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
PORT_B=$(free_port)
PORT_C=$(free_port)
PORT_D=$(free_port)
MAIL_A=$MAILDIR
MAIL_B=$T_DIR/mail-b
MAIL_C=$T_DIR/mail-c
MAIL_D=$T_DIR/mail-d
HOLD=$T_DIR/hold
for u in alice bob carol; do
	printf 'pw-of-%s\n' "$u" > "$T_DIR/$u.pw"
	chmod 600 "$T_DIR/$u.pw"
done

# n_from DIR SENDER: how many messages from SENDER DIR holds.
n_from() {
	grep -l "\"mail_from\": \"$2\"" "$1"/*.env 2>/dev/null | wc -l
}

# send SENDER TAG: queues one message from SENDER.
send() {
	printf 'Subject: %s\n\nbody\n' "$2" |
	    "$SENDMAIL" -i -f "$1" "rcpt-$2@example.net"
}

# n_log PATTERN: lines of relayqd's log matching PATTERN.
n_log() { grep -c -e "$1" "$T_DIR/relayqd.log"; }

# reload: SIGHUP, then waits for the reload's log line.
reload() {
	_n=$(n_log 'configuration reloaded from')
	kill -HUP "$DAEMON_PID"
	wait_for "reload $((_n + 1))" 600 sh -c \
	    "[ \$(grep -c 'configuration reloaded from' '$T_DIR/relayqd.log') -gt $_n ]"
}

# n_quit DIR: QUIT commands the server of DIR saw.
n_quit() { grep -c '^QUIT' "$1/commands" 2>/dev/null; }

# conf SECTIONS: the config, [smarthost] A with alice, then SECTIONS.
conf() {
	write_conf "idle_timeout = 10m" "username = alice
password_file = $T_DIR/alice.pw
allow_plaintext_auth = yes
$1"
}

# section NAME PORT USER [LINES]: [smarthost NAME] on 127.0.0.1:PORT, AUTH
# as USER, taking @work.example, then LINES.
section() {
	printf '[smarthost %s]\nhost = 127.0.0.1\nport = %s\ntls = none\n' \
	    "$1" "$2"
	printf 'username = %s\npassword_file = %s\n' "$3" "$T_DIR/$3.pw"
	printf 'allow_plaintext_auth = yes\nsenders = @work.example\n%s\n' \
	    "${4:-}"
}

WORK_B=$(section work "$PORT_B" bob "rate_limit = 100/1h")
WORK_C=$(section work "$PORT_C" carol)
OFFICE_C=$(section office "$PORT_C" carol "rate_limit = 100/1h")
SLOW_D="[smarthost slow]
host = 127.0.0.1
port = $PORT_D
tls = none
senders = @slow.example"

conf ""
start_server --auth alice:pw-of-alice --auth-plaintext
start_other b 127.0.0.1 "$PORT_B" "$MAIL_B" --auth bob:pw-of-bob \
    --auth-plaintext
start_other c 127.0.0.1 "$PORT_C" "$MAIL_C" --auth carol:pw-of-carol \
    --auth-plaintext
start_other d 127.0.0.1 "$PORT_D" "$MAIL_D" --auth dave:pw-of-dave \
    --auth-plaintext --hold-every 1 --hold-max 1 --hold-dir "$HOLD"
start_daemon
wait_for "the -v socket" 100 test -S "$SPOOL/verbose" &&
    wait_started
ok $? "relayqd started with [smarthost] only"

send dev@work.example before
wait_for "work mail at A" 600 sent_from "$MAIL_A" dev@work.example
ok $? "with no section for it, work mail goes to [smarthost]"

# ---- 1. Add a section (a bad one first: the reload is refused whole).
conf "$WORK_B
tls = starttls
ca_file = $T_DIR/nonexistent.pem"
kill -HUP "$DAEMON_PID"
wait_for "the reload refused" 600 grep -q 'reload failed' "$T_DIR/relayqd.log"
grep 'reload failed' "$T_DIR/relayqd.log" | grep -q 'smarthost work.*ca_file' &&
    ! grep -q 'added by the reload' "$T_DIR/relayqd.log"
ok $? "a reload adding a section that cannot be built is refused, naming it"
conf "$WORK_B"
reload
grep -q "smarthost work (127.0.0.1): added by the reload" "$T_DIR/relayqd.log"
ok $? "a reload that adds [smarthost work] is taken, and logged"
printf 'Subject: added\n\nbody\n' |
    "$SENDMAIL" -v -i -f dev@work.example rcpt-added@example.net \
    >/dev/null 2>"$T_DIR/v.err"
is "$?" 0 "sendmail -v of work mail: delivered"
grep -q "delivering now via 127.0.0.1:$PORT_B (\[smarthost work\])" \
    "$T_DIR/v.err"
ok $? "sendmail -v names the smarthost the message uses (work at $PORT_B)"
sent_from "$MAIL_B" dev@work.example
ok $? "after the reload, work mail goes to the new section's server"
grep -q '^AUTH PLAIN bob ok$' "$MAIL_B/commands" &&
    ! grep -v '^AUTH PLAIN bob ok$' "$MAIL_B/commands" | grep -q '^AUTH'
ok $? "B saw AUTH as bob only"
wait_for "rate.work" 100 test -s "$SPOOL/rate.work"
ok $? "the added section has its bucket file (rate.work)"
printf 'Subject: default\n\nbody\n' |
    "$SENDMAIL" -v -i -f someone@example.org rcpt-default@example.net \
    >/dev/null 2>"$T_DIR/v0.err"
grep -q "delivering now via 127.0.0.1:$PORT\$" "$T_DIR/v0.err"
ok $? "sendmail -v of other mail names [smarthost] (at $PORT)"

# ---- 2. Change the section: same name, another server and credentials.
# B's session, authenticated as bob, is idle (idle_timeout = 10m).
q_b=$(n_quit "$MAIL_B")
conf "$WORK_C"
reload
grep -q 'smarthost work (127.0.0.1): retired by the reload (its settings changed)' \
    "$T_DIR/relayqd.log"
ok $? "a changed section's old destination is retired"
wait_for "B's idle session to QUIT" 600 sh -c \
    "[ \$(grep -c '^QUIT' '$MAIL_B/commands') -gt $q_b ]"
ok $? "the idle session authenticated with the old credentials says QUIT"
wait_for "the retired work freed" 600 grep -q \
    'smarthost work (127.0.0.1): its last session is closed; freed' \
    "$T_DIR/relayqd.log"
ok $? "the retired destination is freed once its session is closed"
n_b=$(count_in "$MAIL_B")
send dev@work.example changed
wait_for "work mail at C" 600 sent_from "$MAIL_C" dev@work.example
ok $? "after the change, work mail goes to the section's new server"
is "$(count_in "$MAIL_B")" "$n_b" "nothing more went to the old server"
grep -q '^AUTH PLAIN carol ok$' "$MAIL_C/commands" &&
    ! grep -v '^AUTH PLAIN carol ok$' "$MAIL_C/commands" | grep -q '^AUTH'
ok $? "C saw AUTH as carol only: bob's credentials never reached it"

# ---- 3. Rename it: work -> office (C's idle session is retired too).
q_c=$(n_quit "$MAIL_C")
conf "$OFFICE_C"
reload
grep -q 'smarthost work (127.0.0.1): retired by the reload (its section was removed or renamed)' \
    "$T_DIR/relayqd.log" &&
    grep -q 'smarthost office (127.0.0.1): added by the reload' \
    "$T_DIR/relayqd.log"
ok $? "a renamed section: the old name is retired, the new one added"
wait_for "C's idle session to QUIT" 600 sh -c \
    "[ \$(grep -c '^QUIT' '$MAIL_C/commands') -gt $q_c ]"
ok $? "the renamed section's idle session says QUIT"
n_c=$(count_in "$MAIL_C")
send dev@work.example renamed
wait_for "renamed work mail at C" 600 sh -c \
    "[ \$(ls '$MAIL_C' | grep -c '\\.eml\$') -gt $n_c ]"
ok $? "work mail goes on to C under the new name"
wait_for "rate.office" 100 test -s "$SPOOL/rate.office"
ok $? "the renamed section has its own bucket file (rate.office)"

# ---- 4. Remove it while its server is down: the queued mail goes to A.
stop_other c
send dev@work.example removed
wait_for "the work mail deferred" 600 grep -q \
    'rcpt-removed@example.net.*status=deferred' "$T_DIR/relayqd.log"
ok $? "with C stopped, work mail waits (office has no fallback)"
n_a=$(n_from "$MAIL_A" dev@work.example)
conf ""
reload
wait_for "the queued work mail at A" 600 sh -c \
    "[ \$(grep -l '\"mail_from\": \"dev@work.example\"' '$MAIL_A'/*.env | wc -l) -gt $n_a ]"
ok $? "after the section is removed, its queued mail goes to [smarthost]"
! grep -q '^AUTH PLAIN \(bob\|carol\)' "$MAIL_A/commands"
ok $? "A never saw bob's or carol's credentials"
wait_for "the retired office freed" 600 grep -q \
    'smarthost office (127.0.0.1): its last session is closed; freed' \
    "$T_DIR/relayqd.log"
ok $? "the removed section's destination is freed"

# ---- 5. A reload during a transaction to a section it removes.
conf "$SLOW_D"
reload
send x@slow.example inflight
wait_for "D to hold its reply to the dot" 600 test -e "$HOLD/held.1"
ok $? "D has the message and holds its reply"
conf ""
reload
grep -q 'smarthost slow (127.0.0.1): retired by the reload (its section was removed or renamed); 1 session left' \
    "$T_DIR/relayqd.log"
ok $? "the removed section is retired with its session in flight"
: > "$HOLD/go.1"
wait_for "the in-flight message sent" 600 grep -q \
    'rcpt-inflight@example.net.*relay=127.0.0.1\[127.0.0.1\]:'"$PORT_D"'.*status=sent' \
    "$T_DIR/relayqd.log"
ok $? "the transaction in flight finished at the removed section's server"
wait_for "the retired slow freed" 600 grep -q \
    'smarthost slow (127.0.0.1): its last session is closed; freed' \
    "$T_DIR/relayqd.log"
ok $? "then its session closed and the destination was freed"
grep -q '^QUIT' "$MAIL_D/commands"
ok $? "the session said QUIT after the transaction"
wait_for "the queue to empty" 600 queue_empty
ok $? "the queue is empty"
is "$(n_from "$MAIL_D" x@slow.example) $(n_from "$MAIL_A" x@slow.example)" \
    "1 0" "the message was delivered exactly once (at D, never at A)"

stop_daemon >/dev/null
is "$?" 0 "relayqd stopped cleanly"
done_testing
