#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# R12, kill -9 with a fallback in play (issue 15, "Crash"): R1's chaos
# run while the primary smarthost goes away and comes back.  Three real
# servers (aiosmtpd): A on 127.0.0.1 is [smarthost] (AUTH as alice,
# fallback = backup), B on 127.0.0.1 is [smarthost work] (senders =
# @work.example, AUTH as bob, no fallback), C on [::1] is [smarthost
# backup] (no credentials; it offers AUTH, so that credentials offered
# to it would show).  A answers 451 to every recipient named grey-*, so
# a message to rK and grey-K is accepted for rK only and keeps a state
# file until it fails over to C, which takes grey-K alone.
#
# Two submitters queue messages until the cycles are over (R12_MAX each
# at most, default 2000), each recipient unique to its message; one in
# five is work mail, one in ten has a grey recipient (retry_max = 8s:
# their retries at A, every 8 s at most, leave A's session free for the
# rest).  They keep about R12_BACKLOG (default 100) messages ahead of
# the servers, so mail flows all through the cycles on a fast machine
# and a slow one alike.  Everything is paced by the servers' records
# (the .eml files they store), never by time.  R12_CYCLES cycles
# (default 3), P = R12_P (default 30) copies apart, each with four
# SIGKILLs of relayqd and a restart at once:
#   1. A has P more copies: kill (A up, steady);
#   2. P more copies anywhere: stop A (SIGTERM, or SIGKILL every other
#      cycle), and kill relayqd as soon as it logs A unavailable (a kill
#      in the middle of the failover; the next relayqd does not know A
#      is down and fails over again on its own);
#   3. C has P more copies (failover done): kill (on the fallback);
#   4. C has P more copies: start A again (a new maildir), and kill
#      relayqd as soon as the new A sees a connection (the probe: a kill
#      in the middle of the failback).
# Then A has P more copies (failback done), the submitters stop, A is
# stopped for good, and relayqd drains the queue undisturbed: the grey
# recipients go to C.
#
# Checks (tests/reliability/failovercheck.py says how each is counted):
# every submission exited 0; every recipient of every message reached a
# server (0 lost); default mail only at A or C and work mail only at B;
# every copy intact; duplicates (a transaction that gives a recipient a
# second copy) at most R1's bound applied to this run: one per session
# that can be in flight when relayqd is killed (3 smarthosts x
# max_connections) and one per session to A when A is stopped; no
# recipient attempted again once relayqd's log shows its acceptance
# recorded (the state written or the message removed) before the kill;
# C saw no AUTH, A only alice and B only bob; the spool, corrupt/ and
# failed/ are empty at the end; the conditions were made: the kills,
# each kind of them, the stops, "failover to backup" in the log, C's
# copies in each of A's absences and copies at each new A.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"

if ! "$PYTHON3" -c 'import socket
s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	echo "1..0 # SKIP no ::1 on this machine"
	exit 0
fi

CYCLES=${R12_CYCLES:-3}
MAXCONN=${R12_MAXCONN:-1}
P=${R12_P:-30}
BACKLOG=${R12_BACKLOG:-100}
MAX=${R12_MAX:-2000}
PORT=$(free_port)
PORT_B=$(free_port)
PORT_C=$("$PYTHON3" -c 'import socket
s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])')
MAIL_B=$T_DIR/mail-b
MAIL_C=$T_DIR/mail-c
MANIFEST=$T_DIR/manifest
for u in alice bob; do
	printf 'pw-of-%s\n' "$u" > "$T_DIR/$u.pw"
	chmod 600 "$T_DIR/$u.pw"
done

# start_srv NAME HOST PORT MAILDIR ARGS...: a server; SRV_PID is its PID.
start_srv() {
	start_other "$@"
	SRV_PID=$OTHER_PID
}

# start_a: A's next life, with a maildir of its own (a new server numbers
# its messages from 1 again).
A_LIVES=0
start_a() {
	A_LIVES=$((A_LIVES + 1))
	MAIL_A=$T_DIR/mail-a.$A_LIVES
	start_srv a 127.0.0.1 "$PORT" "$MAIL_A" --auth alice:pw-of-alice \
	    --auth-plaintext --rcpt-reply 'grey-=451 4.3.0 greylisted, try later'
	A_PID=$SRV_PID
}

# stop_a SIGNAL: stops A and reaps it (SIGKILL after 30 s at most).
A_STOPS=0
stop_a() {
	kill "-$1" "$A_PID" 2>/dev/null
	wait_for "A to exit" 300 sh -c "! kill -0 $A_PID 2>/dev/null ||
	    grep -q '^State:.*Z' /proc/$A_PID/status"
	kill -9 "$A_PID" 2>/dev/null
	wait "$A_PID" 2>/dev/null
	rel_forget "$A_PID"
	A_STOPS=$((A_STOPS + 1))
	echo "=== stop A ($1)" >> "$T_DIR/relayqd.log"
}

# Copies stored: by the current A, by C, by every server.
n_a() { ls "$MAIL_A" 2>/dev/null | grep -c '\.eml$'; }
n_c() { ls "$MAIL_C" 2>/dev/null | grep -c '\.eml$'; }
n_all() {
	ls "$T_DIR"/mail-a.* "$MAIL_B" "$MAIL_C" 2>/dev/null | grep -c '\.eml$'
}
# reached FUNC N: FUNC counts N copies or more.
reached() { [ "$($1)" -ge "$2" ]; }

# kill_restart KIND: SIGKILL relayqd, mark its end in the log (the audit
# splits the log there), start the next one at once.
KILLS=0
kill_restart() {
	kill_daemon
	KILLS=$((KILLS + 1))
	echo "=== kill $KILLS ($1)" >> "$T_DIR/relayqd.log"
	echo "$1" >> "$T_DIR/kinds"
	start_daemon
}

# lines PATTERN: relayqd log lines matching PATTERN.
lines() { grep -c "$1" "$T_DIR/relayqd.log" 2>/dev/null; }
more_lines() { [ "$(lines "$1")" -gt "$2" ]; }

# backlog_ok: no more than BACKLOG messages submitted and not yet stored
# by a server (copies, grey halves and duplicates included, count too).
backlog_ok() {
	[ $(($(cat "$T_DIR"/manifest.* 2>/dev/null | wc -l) - $(n_all))) -le \
	    "$BACKLOG" ]
}

# submitter NAME: queues messages until $T_DIR/stop exists (MAX at
# most), keeping the backlog at BACKLOG or so, so that the servers get
# mail all through the cycles whatever the machine's speed, and the
# drain at the end stays short.  Every message that sendmail took (exit
# 0) goes to the manifest; it writes its count of tries and failures.
submitter() {
	_f=0; _i=0
	while [ $_i -lt "$MAX" ] && ! [ -e "$T_DIR/stop" ]; do
		_i=$((_i + 1))
		_s=$1-$_i
		_rc="r$_s@example.net"
		if [ $((_i % 5)) -eq 0 ]; then
			_route=work _from="w$_s@work.example"
		else
			_route=default _from="d$_s@example.org"
			[ $((_i % 10)) -eq 3 ] && _rc="$_rc grey-$_s@example.net"
		fi
		# shellcheck disable=SC2086 # _rc: one or two addresses
		if printf 'X-Seq: %s\nSubject: r12 %s\n\nbody %s\n' \
		    "$_s" "$_s" "$_s" |
		    "$SENDMAIL" -i -f "$_from" $_rc 2>>"$T_DIR/submit.err"; then
			echo "$_s $_route $_rc" >> "$T_DIR/manifest.$1"
		else
			_f=$((_f + 1))
		fi
		# Bounded: 60 s at most, then on regardless.
		_w=0
		while [ $((_i % 4)) -eq 0 ] && [ $_w -lt 600 ] &&
		    ! [ -e "$T_DIR/stop" ] && ! backlog_ok; do
			sleep 0.1
			_w=$((_w + 1))
		done
	done
	echo "$_i $_f" > "$T_DIR/tried.$1"
}

write_conf "max_connections = $MAXCONN
messages_per_connection = 20
probe_max = 1s
retry_min = 1s
retry_max = 8s" "username = alice
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

[smarthost backup]
host = ::1
port = $PORT_C
tls = none"

start_a
start_srv b 127.0.0.1 "$PORT_B" "$MAIL_B" --auth bob:pw-of-bob \
    --auth-plaintext
start_srv c ::1 "$PORT_C" "$MAIL_C" --auth carol:pw-of-carol \
    --auth-plaintext
t0=$(date +%s)
start_daemon
submitter A & PA=$!
submitter B & PB=$!
T_PIDS="$T_PIDS $PA $PB"

# The cycles; a wait that times out ends them (the checks then fail).
c=0
a_got=0
made=0
while [ $c -lt "$CYCLES" ]; do
	c=$((c + 1))
	wait_for "cycle $c: $P more copies at A" 1200 reached n_a \
	    $(($(n_a) + P)) || break
	[ "$c" -eq 1 ] || a_got=$((a_got + 1)) # the failback of cycle c-1
	kill_restart steady
	wait_for "cycle $c: $P more copies" 1200 reached n_all \
	    $(($(n_all) + P)) || break
	down=$(lines 'smarthost 127.0.0.1 unavailable')
	if [ $((c % 2)) -eq 1 ]; then stop_a TERM; else stop_a KILL; fi
	wait_for "cycle $c: relayqd to find A down" 1200 more_lines \
	    'smarthost 127.0.0.1 unavailable' "$down" || break
	kill_restart failover
	wait_for "cycle $c: $P copies at C" 1200 reached n_c \
	    $(($(n_c) + P)) || break
	kill_restart fallback
	wait_for "cycle $c: $P more copies at C" 1200 reached n_c \
	    $(($(n_c) + P)) || break
	start_a
	wait_for "cycle $c: a connection to the new A" 1200 grep -q '^open ' \
	    "$MAIL_A/connections" || break
	kill_restart failback
	made=$((made + 1))
done
# The last failback, then A goes for good and the rest drains to C.
wait_for "$P copies at the last A" 1200 reached n_a $(($(n_a) + P)) &&
    a_got=$((a_got + 1))
: > "$T_DIR/stop"
wait $PA; wait $PB
stop_a TERM
rel_forget $PA; rel_forget $PB
wait_for "the queue to drain" 3000 queue_empty
ok $? "the spool drains once the kills stop"
secs=$(($(date +%s) - t0))

is "$made" "$CYCLES" "all $CYCLES cycles ran (A stopped, C got $((2 * P)) copies, A back)"
read -r tried_a failed_a < "$T_DIR/tried.A"
read -r tried_b failed_b < "$T_DIR/tried.B"
is "$((failed_a + failed_b))" 0 \
    "every submission exited 0 while relayqd was being killed"
cat "$T_DIR/manifest.A" "$T_DIR/manifest.B" > "$MANIFEST" 2>/dev/null
specs="B:work:$MAIL_B C:default:$MAIL_C"
for d in "$T_DIR"/mail-a.*; do
	specs="$specs A:default:$d"
done
# shellcheck disable=SC2086 # specs: one word per server
eval "$("$PYTHON3" "$REL/failovercheck.py" "$MANIFEST" \
    "$T_DIR/relayqd.log" "$T_DIR/audit" $specs)"
failovers=$(lines 'failover to backup')
diag "R12: messages=$SUBMITTED max_connections=$MAXCONN kills=$KILLS" \
    "A stops=$A_STOPS lost=$LOST duplicates=$DUPS" \
    "failover lines=$failovers time=${secs}s"
diag "copies: A $(ls "$T_DIR"/mail-a.* | grep -c '\.eml$')" \
    "B $(ls "$MAIL_B" | grep -c '\.eml$') C $(n_c)"
grep -v '^DUP ' "$T_DIR/audit" | head -n 20 | sed 's/^/# /'
is "$SUBMITTED" $((tried_a + tried_b)) "the manifest has all $SUBMITTED messages"
is "$LOST" 0 "no recipient lost"
bound=$((KILLS * 3 * MAXCONN + A_STOPS * MAXCONN))
[ "$DUPS" -le "$bound" ]
ok $? "duplicates ($DUPS) <= kills ($KILLS) x 3 smarthosts x max_connections ($MAXCONN) + A's stops ($A_STOPS) x max_connections"
is "$RESENT" 0 "no recipient attempted again after its acceptance was recorded"
is "$UNSTORED" 0 "every recipient relayqd logged as sent reached a server"
is "$MISROUTED" 0 "default mail only at A or C, work mail only at B"
is "$BOGUS" 0 "every copy intact, with its own recipients"
! grep -q '^AUTH' "$MAIL_C/commands"
ok $? "C saw no AUTH: the credentials stay with their smarthost"
! cat "$T_DIR"/mail-a.*/commands | grep '^AUTH' | grep -vq '^AUTH [A-Z]* alice ok$'
ok $? "A saw AUTH as alice only"
! grep '^AUTH' "$MAIL_B/commands" | grep -vq '^AUTH [A-Z]* bob ok$'
ok $? "B saw AUTH as bob only"
is "$(queue_files)" 0 "spool empty at the end"
is "$(n_in corrupt)" 0 "corrupt/ empty at the end"
is "$(n_in failed)" 0 "failed/ empty at the end"
! grep -q 'corrupt\|quarantined' "$T_DIR/relayqd.log"
ok $? "no quarantine was logged"
# The conditions were made.
[ "$KILLS" -ge $((4 * CYCLES)) ]
ok $? "relayqd was killed $KILLS times (at least $((4 * CYCLES)))"
for k in steady failover fallback failback; do
	is "$(grep -cx "$k" "$T_DIR/kinds")" "$CYCLES" \
	    "$CYCLES kills of kind $k"
done
is "$A_STOPS" $((CYCLES + 1)) "A was stopped $((CYCLES + 1)) times"
[ "$(lines 'smarthost 127.0.0.1 unavailable')" -ge $((3 * CYCLES)) ]
ok $? "relayqd found A unavailable at least $((3 * CYCLES)) times"
[ "$failovers" -ge $((2 * CYCLES)) ]
ok $? "the log says 'failover to backup' at least $((2 * CYCLES)) times ($failovers)"
is "$a_got" "$CYCLES" "each new A received $P copies or more (failback)"
kill -0 "$DAEMON_PID"
ok $? "the last relayqd is still running"
stop_daemon
ok $? "relayqd exits 0 on SIGTERM"
rel_forget "$DAEMON_PID"
done_testing
