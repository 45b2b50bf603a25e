#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# password_command runs outside relayqd's event loop (issue 14; it used to
# block the loop for up to 10 s, issue 3), against a real server (aiosmtpd
# with AUTH PLAIN):
# 1. a slow command, made to wait on a file the test creates: meanwhile
#    relayqd takes in a second message from incoming/ and reloads on
#    SIGHUP, the command still running; a sendmail -v watcher sees the
#    wait, before the connection (the password is fetched first); once
#    the file is there both messages go out, nothing deferred; sessions
#    that start while a run is in flight share it (one run, however many
#    sessions wait), and the next session runs the command again (nothing
#    cached); a reload that removes password_command while it runs: the
#    waiting session goes on without AUTH.  These cases do not test the
#    time limit: they set password_command_timeout = 5m, so that a slow
#    machine never hits it;
# 2. a command that hangs past a short password_command_timeout (2s):
#    killed with its process group and reaped (no zombie), the message
#    deferred with the reason, kept and never bounced; SIGTERM while a
#    run hangs: relayqd exits 0 and that command is killed too;
# 3. commands that fail: non-zero exit after printing the password, no
#    output, more than 8 KiB of output (killed at once, though it would
#    print forever), a program removed after relayqd started (127,
#    "command not found"), and one that exits leaving a process that
#    holds its output open (said so, and that process killed at the
#    limit): each defers with a log line that says why, never bounces,
#    and AUTH is never sent;
# 4. relayq check-config and relayqd refuse a password_command whose
#    program is missing or not executable, with the same words, and a
#    malformed password_command_timeout naming the key; check-config
#    shows the time limit.
# Throughout, the password never appears in relayqd's log, the -v output,
# the spool or relayq queue, and relayqd exits 0 when stopped (sanitizer
# and valgrind runs report through it).
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
AUSER=relayuser
PASS='pw-Xq8 r3layq.cmd!'
B64_PLAIN=$(printf '\000%s\000%s' "$AUSER" "$PASS" | base64 -w0)
printf '%s\n' "$PASS" > "$T_DIR/secret"
chmod 600 "$T_DIR/secret"
ALLLOG=$T_DIR/relayqd-all.log
: > "$ALLLOG"

# mkcmd NAME BODY: a password_command script that records its pid in
# NAME.pids, then runs BODY.
mkcmd() {
	printf '#!/bin/sh\necho $$ >> "%s/%s.pids"\n%s\n' "$T_DIR" "$1" "$2" \
	    > "$T_DIR/$1"
	chmod 755 "$T_DIR/$1"
}
# Waits (at most 300 s: relayqd's limit kills it long before) for FILE.
WAITFILE='i=0; while [ ! -e "$1" ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done'
mkcmd slow.sh "set -- $T_DIR/go; $WAITFILE; exec cat $T_DIR/secret"
# hang.sh also starts a child of its own that outlives it unless its
# process group is killed (its pid in hang.kids).
mkcmd hang.sh "sh -c 'echo \$\$ >> $T_DIR/hang.kids; exec sleep 300' &
set -- $T_DIR/never; $WAITFILE; exec cat $T_DIR/secret"
mkcmd fail.sh "cat $T_DIR/secret; exit 3"
mkcmd gone.sh "exec cat $T_DIR/secret"
# left.sh exits at once; the child it leaves holds its stdout open.
mkcmd left.sh "sh -c 'echo \$\$ >> $T_DIR/left.kids; exec sleep 300' &
exit 0"
mkcmd empty.sh "exit 0"
mkcmd flood.sh "exec yes '$PASS'"

# new_case CMD [DELIVERY-LINES [RELAYQD-ARG [SERVER-ARGS...]]]: fresh
# spool and log; AUTH PLAIN in clear (allowed here) with password_command
# CMD and password_command_timeout $PW_LIMIT (default 5m: a case that
# tests the limit sets a short one); server and relayqd up.
new_case() {
	cat "$T_DIR/relayqd.log" >> "$ALLLOG" 2>/dev/null
	rm -rf "$SPOOL" "$MAILDIR"
	: > "$T_DIR/relayqd.log"
	write_conf "${2:-}" "username = $AUSER
password_command = $1
password_command_timeout = ${PW_LIMIT:-5m}
auth = plain
allow_plaintext_auth = yes"
	_nc_arg=${3:-}
	if [ $# -ge 3 ]; then shift 3; else set --; fi
	start_server --auth "$AUSER:$PASS" --auth-plaintext "$@"
	# shellcheck disable=SC2086
	start_daemon -T smtp $_nc_arg
	wait_started
}

# finish_case: relayqd must exit 0 when stopped; the server goes too.
finish_case() {
	stop_daemon >/dev/null
	is "$?" 0 "$1: relayqd stopped cleanly"
	stop_server
}

send() {
	printf 'Subject: pwcmd\n\nbody\n' | "$SENDMAIL" -i "$1"
}

incoming_empty() {
	[ -z "$(find "$SPOOL/incoming" -type f 2>/dev/null)" ]
}

# zombies: relayqd's children that have exited and not been reaped.
zombies() {
	for _s in /proc/[0-9]*/stat; do
		read -r _l 2>/dev/null < "$_s" || continue
		set -- ${_l##*) }
		[ "$1" = Z ] && [ "$2" = "$DAEMON_PID" ] && echo "${_s#/proc/}"
	done
}
no_zombie() { [ -z "$(zombies)" ]; }

# gone PID: the process is gone (killed and reaped).
gone() { ! kill -0 "$1" 2>/dev/null; }

# deferred DESC PATTERN: deferred with PATTERN in the log and relayq queue,
# kept, not bounced, and the server never saw AUTH or MAIL.
deferred() {
	wait_for "$1" 200 grep -q 'status=deferred' "$T_DIR/relayqd.log"
	ok $? "$1: deferred"
	grep 'status=deferred' "$T_DIR/relayqd.log" | head -n 1 | grep -qF -- "$2"
	ok $? "$1: the log line says '$2'"
	wait_for "$1: the state saved" 100 state_saved
	"$RELAYQ" queue | grep -qF -- "$2"
	ok $? "$1: relayq queue says why"
	[ "$(queue_files)" -gt 0 ] && ! grep -q 'status=failed' "$T_DIR/relayqd.log"
	ok $? "$1: kept, not bounced"
	! grep -rqF -e "$PASS" -e "$B64_PLAIN" "$SPOOL" &&
	    ! "$RELAYQ" queue | grep -qF -- "$PASS"
	ok $? "$1: no password in the spool or relayq queue"
	! grep -Eq '^(AUTH|MAIL)' "$MAILDIR/commands" 2>/dev/null
	ok $? "$1: the server saw neither AUTH nor MAIL"
}

# 1. A slow command does not stop relayqd.
new_case "$T_DIR/slow.sh"
"$SENDMAIL" -v -i a@example.net > "$T_DIR/v.out" 2>&1 <<EOF &
Subject: pwcmd -v

body
EOF
VPID=$!
T_PIDS="$T_PIDS $VPID"
wait_for "the command to start" 100 test -s "$T_DIR/slow.sh.pids"
ok $? "slow: the command runs"
spid=$(head -n 1 "$T_DIR/slow.sh.pids")
send b@example.net
kill -HUP "$DAEMON_PID"
wait_for "the second message taken in" 100 incoming_empty
ok $? "slow: relayqd took in a message meanwhile"
wait_for "the reload" 100 grep -q 'configuration reloaded' "$T_DIR/relayqd.log"
ok $? "slow: relayqd reloaded meanwhile"
kill -0 "$spid" 2>/dev/null && ! grep -q 'timed out' "$T_DIR/relayqd.log"
ok $? "slow: the command was still running then"
is "$(count_mail)" 0 "slow: nothing went out before the password came"
touch "$T_DIR/go"
wait_for "both messages" 100 has_mail 2
ok $? "slow: both messages delivered once the command printed the password"
grep -q "^AUTH PLAIN $AUSER ok\$" "$MAILDIR/commands"
ok $? "slow: the server saw AUTH PLAIN with the password"
! grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "slow: nothing was deferred"
wait "$VPID"
is "$?" 0 "slow: sendmail -v exits 0"
grep -q 'waiting for password_command' "$T_DIR/v.out"
ok $? "slow: sendmail -v shows the wait"
wline=$(grep -n 'waiting for password_command' "$T_DIR/v.out" | head -n 1 | cut -d: -f1)
cline=$(grep -n 'connecting to' "$T_DIR/v.out" | head -n 1 | cut -d: -f1)
[ -n "$wline" ] && [ -n "$cline" ] && [ "$wline" -lt "$cline" ]
ok $? "slow: sendmail -v shows the wait before connecting (line $wline, then $cline)"
finish_case slow

# 1b. Sessions that start while the command runs wait for that run: A
# delivers the first message (run 1) and stays; the server holds its
# second; two more messages open sessions B and C, which share run 2
# (made to wait for go2): two runs for three sessions.
mkcmd share.sh "[ \$(wc -l < $T_DIR/share.sh.pids) -lt 2 ] || { set -- $T_DIR/go2; $WAITFILE; }
exec cat $T_DIR/secret"
new_case "$T_DIR/share.sh" "idle_timeout = 5m" -v \
    --hold-every 2 --hold-max 1 --hold-dir "$T_DIR"
send a@example.net
wait_for "the first message" 100 has_mail 1
ok $? "share: first message delivered (run 1)"
send b@example.net
wait_for "the server to hold the second" 100 test -e "$T_DIR/held.1"
ok $? "share: the second message goes through the same session (held)"
send c@example.net
send d@example.net
# Three such lines in all: A's (run 1), then B's and C's.  Counting two
# once raced C's session (picked up a loop turn later under valgrind).
wait_for "two sessions waiting" 100 sh -c \
    "[ \$(grep -c 'session waits for password_command' '$T_DIR/relayqd.log') -ge 3 ]"
ok $? "share: two new sessions wait for the password"
grep 'session waits for password_command' "$T_DIR/relayqd.log" | tail -n 1 |
    grep -q '(running)'
ok $? "share: the second found the run in flight"
is "$(wc -l < "$T_DIR/share.sh.pids")" 2 "share: one run for both (run 2)"
touch "$T_DIR/go2" "$T_DIR/go.1"
wait_for "all four messages" 100 sh -c \
    "[ \$(grep -c 'status=sent' '$T_DIR/relayqd.log') -ge 4 ]"
ok $? "share: all four delivered"
is "$(wc -l < "$T_DIR/share.sh.pids")" 2 "share: still two runs for three sessions"
is "$(grep -c "^AUTH PLAIN $AUSER ok\$" "$MAILDIR/commands")" 3 \
    "share: AUTH in each of the three sessions"
finish_case share

# 1c. A reload that takes password_command away while it runs: the
# section changed, so the waiting session is closed and its message goes
# out on the new settings (no AUTH here), rather than trying AUTH with
# the old command's output and failing.
mkcmd noauth.sh "set -- $T_DIR/go3; $WAITFILE; exec cat $T_DIR/secret"
new_case "$T_DIR/noauth.sh"
send a@example.net
wait_for "the command to start" 100 test -s "$T_DIR/noauth.sh.pids"
ok $? "reload to no AUTH: the command runs"
write_conf
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 grep -q 'configuration reloaded' "$T_DIR/relayqd.log"
ok $? "reload to no AUTH: relayqd reloaded while the command ran"
touch "$T_DIR/go3"
wait_for "the message" 100 has_mail 1
ok $? "reload to no AUTH: the message was delivered"
! grep -q '^AUTH' "$MAILDIR/commands" && ! grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "reload to no AUTH: at the first attempt, without AUTH"
finish_case "reload to no AUTH"

# 2. A command that hangs: killed at a short limit, reaped.
PW_LIMIT=2s new_case "$T_DIR/hang.sh"
send a@example.net
deferred "hang" "password_command $T_DIR/hang.sh timed out after 2000 ms"
hpid=$(head -n 1 "$T_DIR/hang.sh.pids")
wait_for "the command killed and reaped" 100 gone "$hpid"
ok $? "hang: the command was killed and reaped"
wait_for "the command's child" 100 test -s "$T_DIR/hang.kids"
kpid=$(head -n 1 "$T_DIR/hang.kids")
T_PIDS="$T_PIDS $kpid"
wait_for "the command's child killed" 100 gone "$kpid"
ok $? "hang: the command's own child was killed too (its process group)"
wait_for "no zombie" 100 no_zombie
ok $? "hang: relayqd has no zombie child"
wait_for "the next run" 200 sh -c "[ \$(wc -l < '$T_DIR/hang.sh.pids') -ge 2 ]"
ok $? "hang: the next attempt runs the command again"
finish_case hang

# 2b. SIGTERM while the command hangs (within a generous limit).
n=$(wc -l < "$T_DIR/hang.sh.pids")
k=$(wc -l < "$T_DIR/hang.kids")
new_case "$T_DIR/hang.sh"
send a@example.net
wait_for "the run" 200 sh -c "[ \$(wc -l < '$T_DIR/hang.sh.pids') -gt $n ] &&
    [ \$(wc -l < '$T_DIR/hang.kids') -gt $k ]"
hpid2=$(sed -n "$((n + 1))p" "$T_DIR/hang.sh.pids")
kpid2=$(sed -n "$((k + 1))p" "$T_DIR/hang.kids")
T_PIDS="$T_PIDS $kpid2"
kill -0 "$hpid2" 2>/dev/null
ok $? "hang: it hangs"
finish_case "SIGTERM while the command hangs"
gone "$hpid2"
ok $? "SIGTERM while the command hangs: the command was killed"
[ -n "$kpid2" ] && wait_for "the second child killed" 100 gone "$kpid2"
ok $? "SIGTERM while the command hangs: its own child was killed too"

# 3. Commands that fail, or print too much.
new_case "$T_DIR/fail.sh"
send a@example.net
deferred "exit 3" "password_command $T_DIR/fail.sh exited with status 3"
finish_case "exit 3"

new_case "$T_DIR/empty.sh"
send a@example.net
deferred "no output" "password_command $T_DIR/empty.sh: the first line of its output is empty"
finish_case "no output"

# The program is there when relayqd starts (it checks), gone later.
new_case "$T_DIR/gone.sh"
rm -f "$T_DIR/gone.sh"
send a@example.net
deferred "removed" "password_command $T_DIR/gone.sh exited with status 127 (command not found)"
finish_case "removed"

# It exits, and a process it started holds its output: at the limit
# (10s, the default: the script only has to exit before it), the reason
# says what happened and that process is killed.
PW_LIMIT=10s new_case "$T_DIR/left.sh"
send a@example.net
deferred "left open" "password_command $T_DIR/left.sh exited with status 0, but its output stayed open: a process it started still holds it (killed after 10000 ms)"
lpid=$(head -n 1 "$T_DIR/left.kids")
T_PIDS="$T_PIDS $lpid"
[ -n "$lpid" ] && wait_for "the process it left killed" 100 gone "$lpid"
ok $? "left open: the process holding its output was killed (its group)"
finish_case "left open"

new_case "$T_DIR/flood.sh"
send a@example.net
deferred "flood" "password_command $T_DIR/flood.sh printed more than 8192 bytes"
! grep -q 'timed out' "$T_DIR/relayqd.log"
ok $? "flood: killed for its output, not at the time limit"
gone "$(head -n 1 "$T_DIR/flood.sh.pids")" && no_zombie
ok $? "flood: the command was killed and reaped"
finish_case flood

# 4. check-config checks the program (as relayqd's user) and the limit.
# They run on the last case's spool (relayqd stopped).
# both NAME SMARTHOST-LINES [good]: check-config, and unless good relayqd
# -f (which refuses before it takes the spool), on a config with AUTH and
# the lines; $D, $C and $CRC hold what they said.
both() {
	write_conf "" "username = $AUSER
auth = plain
allow_plaintext_auth = yes
$2"
	D=
	if [ -z "${3:-}" ]; then
		timeout 60 "$RELAYQD" -f -c "$CONF" > "$T_DIR/both.d" 2>&1
		D=$(sed -n "s|.*$CONF: ||p" "$T_DIR/both.d" | head -n 1)
	fi
	C=$("$RELAYQ" -c "$CONF" check-config 2>&1)
	CRC=$?
}
# refused NAME SMARTHOST-LINES TEXT: both refuse with TEXT, word for word.
refused() {
	both "$1" "$2"
	diag "$1: relayqd: $D"
	echo "$D" | grep -qF -- "$3"
	ok $? "$1: relayqd refuses to start ($3)"
	[ "$CRC" -eq 78 ] && echo "$C" | grep -qF -- "relayq: check-config: $3"
	ok $? "$1: check-config refuses it with the same words"
}
refused "missing program" "password_command = $T_DIR/no-such-helper --flag"     "smarthost:password_command: $T_DIR/no-such-helper is not an executable file"
printf '#!/bin/sh\necho x\n' > "$T_DIR/noexec.sh"
chmod 644 "$T_DIR/noexec.sh"
refused "not executable" "password_command = $T_DIR/noexec.sh"     "smarthost:password_command: $T_DIR/noexec.sh is not an executable file"
refused "not in PATH" "password_command = relayq-no-such-helper x"     "smarthost:password_command: relayq-no-such-helper is not an executable file found in PATH"
for v in 10x 0s 6m; do
	both "password_command_timeout = $v" "password_command = $T_DIR/slow.sh
password_command_timeout = $v"
	[ "$CRC" -eq 78 ] && echo "$C" | grep -q 'smarthost:password_command_timeout' &&
	    echo "$D" | grep -q 'smarthost:password_command_timeout'
	ok $? "password_command_timeout = $v: a load error naming the key ($D)"
done
both "good" "password_command = $T_DIR/fail.sh --flag
password_command_timeout = 90s" good
is "$CRC" 0 "good: check-config passes ($C)"
echo "$C" | grep -q '^  password_command time limit: 90s$'
ok $? "good: check-config shows the time limit"

# The password never shows.
cat "$T_DIR/relayqd.log" >> "$ALLLOG"
grep -q '> AUTH PLAIN <redacted>' "$ALLLOG"
ok $? "the SMTP dialogue was traced (AUTH redacted)"
for f in "$ALLLOG" "$T_DIR/v.out"; do
	! grep -qF -e "$PASS" -e "$B64_PLAIN" "$f"
	ok $? "no password in $(basename "$f")"
done
! grep -Eq 'Sanitizer|runtime error' "$ALLLOG"
ok $? "no sanitizer report"
done_testing
