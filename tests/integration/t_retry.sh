#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Retries (issue #4) against real servers on 127.0.0.1, and the rows of
# the fault matrix R7 (reliability-security.md section 4) that are not
# about TLS or AUTH: the smarthost down then back (the destination backs
# off with one probe at a time and the queue drains at once when it
# answers), wake-ups by flush, SIGUSR1 and new mail without a storm, 421
# at the greeting, disconnects after EHLO, MAIL and the final dot, 451 on
# every RCPT and after the dot, a reset mid-DATA, a greeting that never
# comes, a final reply that never comes, a server that stops reading the
# body, a slow final reply, a connect that hangs, replies of 10,000
# lines or of 1 MB, and a restart in the middle of a message's backoff.
# Servers: Postfix's smtp-sink (skipped with a reason when
# contrib/postfix-tools.sh cannot fetch it), aiosmtpd (smtpserver.py),
# and fakesmtpd.py transcripts for stalls.  Every wait is for an event
# (a log line, a server's record), bounded generously; no check depends
# on the machine's speed.
. "$top_srcdir/tests/integration/lib.sh"

SINK_DIR=$(sh "$top_srcdir/contrib/postfix-tools.sh" \
    "$top_builddir/postfix-tools" 2>/dev/null) || SINK_DIR=
SINK_N=0
LOGN=0

# skip DESCRIPTION REASON: a TAP skip.
skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP $2"
}

# fresh DELIVERY-LINES: stops relayqd, empties the spool, new config.
fresh() {
	[ -n "${DAEMON_PID:-}" ] && stop_daemon >/dev/null 2>&1
	DAEMON_PID=
	if [ -f "$T_DIR/relayqd.log" ]; then
		LOGN=$((LOGN + 1))
		mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.$LOGN.log"
	fi
	rm -rf "$SPOOL" "$MAILDIR"
	PORT=$(free_port)
	write_conf "$1"
}

# logc PATTERN: lines of this run's relayqd log matching PATTERN.
logc() {
	grep -c -- "$1" "$T_DIR/relayqd.log" 2>/dev/null
}

# logged PATTERN: true when the log has PATTERN.
logged() {
	grep -q -- "$1" "$T_DIR/relayqd.log" 2>/dev/null
}

# start_sink ARGS...: smtp-sink on $PORT, dumping to $T_DIR/sink.N/.
start_sink() {
	SINK_N=$((SINK_N + 1))
	SINK_DUMP=$T_DIR/sink.$SINK_N
	mkdir -p "$SINK_DUMP" && chmod 777 "$SINK_DUMP"
	if [ "$(id -u)" -eq 0 ]; then
		# smtp-sink drops root for nobody, who must reach the dump.
		chmod 711 "$T_DIR"
		set -- -u nobody "$@"
	fi
	"$SINK_DIR/smtp-sink" "$@" -d "$SINK_DUMP/%M." "127.0.0.1:$PORT" 10 \
	    >>"$T_DIR/sink.log" 2>&1 &
	SINK_PID=$!
	T_PIDS="$T_PIDS $SINK_PID"
	wait_for "smtp-sink" 50 "$PYTHON3" -c 'import socket,sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$PORT"
}

stop_sink() {
	kill "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
}

# sink_count: messages dumped by the current smtp-sink.
sink_count() {
	ls "$SINK_DUMP" 2>/dev/null | wc -l
}

sink_has() { [ "$(sink_count)" -ge "$1" ]; }

# start_fake CASE: plays tests/integration/cases/CASE.t on $PORT.
start_fake() {
	start_fakesmtpd "$top_srcdir/tests/integration/cases/$1.t" \
	    "$T_DIR/fake.$1.log"
}

stop_fake() {
	kill "$FAKE_PID" 2>/dev/null
	wait "$FAKE_PID" 2>/dev/null
}

# submit SUBJECT RCPT [LINES]: queues a message with LINES body lines.
submit() {
	"$PYTHON3" -c 'import sys
n = int(sys.argv[2])
sys.stdout.write("Subject: %s\n\n" % sys.argv[1])
for i in range(n):
    sys.stdout.write("line %06d %s\n" % (i, "x" * 60))' "$1" "${3:-1}" |
	    "$SENDMAIL" -i -f sender@example.org "$2"
}

# probe_waits: the "next probe in Ns" values logged, space separated.
probe_waits() {
	sed -n 's/.*failures=\([0-9]*\), next probe in \([0-9.]*\)s.*/\2/p' \
	    "$T_DIR/relayqd.log" | tr '\n' ' '
}

# in_range VALUE LOW HIGH
# submit_n N SUBJECT RCPT: N messages "SUBJECT k" to RCPTk@example.net;
# i is how many were queued.
submit_n() {
	i=0
	while [ $i -lt "$1" ]; do
		submit "$2 $i" "$3$i@example.net" || break
		i=$((i + 1))
	done
}

in_range() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

# ---- 1. Smarthost down, then back: one probe at a time, then a drain.
# The mail is queued before relayqd starts, so that no wake-up by new
# mail (section 2) shortens the probe schedule.
fresh "max_connections = 2
retry_min = 1s
retry_max = 4s
idle_timeout = 60s"
submit_n 40 down r
is "$i" 40 "down: 40 messages queued while nothing listens"
start_daemon
wait_for "fourth failed probe" 200 logged 'failures=4,'
ok $? "down: the destination backs off (4 failed probes)"
attempts=$(logc 'smarthost 127.0.0.1 unavailable\|already backing off')
[ "$attempts" -ge 4 ] && [ "$attempts" -le 10 ]
ok $? "down: $attempts connection attempts for 40 messages, not one per message"
# The interval doubles 1, 2, 4, 4 s; each wait is drawn from its upper
# half (full jitter, issue 17).
set -- $(probe_waits)
awk -v a="${1:-}" -v b="${2:-}" -v c="${3:-}" -v d="${4:-}" 'BEGIN {
	exit !(a != "" && d != "" && a >= 0.5 && a <= 1 && b >= 1 && b <= 2 &&
	    c >= 2 && c <= 4 && d >= 2 && d <= 4) }'
ok $? "down: probe spacing doubles from retry_min to retry_max, jittered (${1:-} ${2:-} ${3:-} ${4:-})"
is "$(logc 'status=deferred')" "$attempts" \
    "down: each attempt deferred only the message it was opened for"
"$RELAYQ" queue > "$T_DIR/mailq.down" 2>&1
grep -q 'Connection refused' "$T_DIR/mailq.down"
ok $? "down: relayq queue shows the reason"
grep -q '(attempts: 1, last: ' "$T_DIR/mailq.down"
ok $? "down: relayq queue shows attempts and the next attempt"
grep -q 'r1@example.net  (deferred)' "$T_DIR/mailq.down"
ok $? "down: relayq queue shows the recipient's state"
start_server
wait_for "drain" 300 has_mail 40
ok $? "back: all 40 messages delivered once the smarthost answers"
wait_for "empty queue" 100 queue_empty
ok $? "back: the queue is empty"
is "$(count_mail)" 40 "back: no message delivered twice"
is "$(cat "$MAILDIR"/*.eml | grep -c '^Subject: down ')" 40 \
    "back: 40 distinct messages arrived"
sessions=$(wc -l < "$MAILDIR/sessions")
[ "$sessions" -le 2 ]
ok $? "back: the drain used at most max_connections sessions ($sessions)"
logged 'is back after'
ok $? "back: the recovery is logged"
stop_server

# ---- 2. Wake-ups probe at once: flush, SIGUSR1, new mail (unless a
# probe started within retry_min); no storm.  The backoff doubles from
# 3 s with each failure, and each wake-up comes at least 1.2 s after a
# failure whose next probe is 4.8 s or more away (+-20%), so relayqd
# logs that it was woken up early: that line, not a timing, is checked.
fresh "retry_min = 3s
retry_max = 1h"
start_daemon
submit "wake" w@example.net
wait_for "first failure" 100 logged 'failures=1,'
ok $? "wake: first failure, next probe in about 3 s"
wait_for "second failure" 100 logged 'failures=2,'
ok $? "wake: the second probe comes on its own, on schedule"
# woken N FAILURES: N early wake-ups logged, and failure FAILURES.
woken() {
	[ "$(logc 'woken up, probing now instead of in [1-9]')" -ge "$1" ] &&
	    logged "failures=$2,"
}
sleep 1.2 # relayqd takes at most one flush a second
"$RELAYQ" flush
wait_for "flush probe" 100 woken 1 3
ok $? "wake: relayq flush probes the smarthost at once"
sleep 1.2
kill -USR1 "$DAEMON_PID"
wait_for "SIGUSR1 probe" 100 woken 2 4
ok $? "wake: SIGUSR1 probes the smarthost at once"
sleep 3.2 # new mail probes at most once per retry_min
submit "wake 2" w2@example.net
wait_for "new mail probe" 100 woken 3 5
ok $? "wake: new mail probes the smarthost at once"
before=$(logc 'unavailable')
t_start=$(date +%s)
i=0
while [ $i -lt 20 ]; do
	submit "burst $i" "b$i@example.net" || break
	"$RELAYQ" flush
	i=$((i + 1))
done
sleep 1
elapsed=$(($(date +%s) - t_start))
after=$(logc 'unavailable')
# Flushes probe at most once a second, new mail once per retry_min.
[ $((after - before)) -le $((elapsed + 1)) ]
ok $? "wake: 20 messages and 20 flushes in ${elapsed}s made $((after - before)) attempts: at most one a second, not a storm"
start_server
sleep 1.2
"$RELAYQ" flush
wait_for "drain after flush" 100 has_mail 22
ok $? "wake: after a flush the whole queue drains at once"
stop_server

# ---- 3. Per-message backoff, kept across a restart.
fresh "retry_min = 60s
retry_max = 1h"
start_server --rcpt-reply 'slow=451 4.3.0 try again later'
start_daemon
submit "slow" slow@example.net
wait_for "first deferral" 100 logged 'tries=1 next attempt in'
n=$(sed -n 's/.*tries=1 next attempt in \([0-9]*\)s.*/\1/p' "$T_DIR/relayqd.log" | head -n 1)
in_range "$n" 48 72
ok $? "backoff: first retry after retry_min +-20% ($n s)"
stop_daemon >/dev/null
LOGN=$((LOGN + 1))
mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.$LOGN.log"
start_daemon
wait_for "restart" 50 logged 'started:'
logged '1 queued messages found, 1 of them scheduled later'
ok $? "restart: the saved next attempt is honoured"
sleep 2 # an observation window, far shorter than the 48 s backoff
is "$(logc 'to=<slow@example.net>')" 0 "restart: no attempt right after the restart"
"$RELAYQ" queue > "$T_DIR/mailq.slow" 2>&1
grep -q '(attempts: 1, last: .*, next: [A-Z]' "$T_DIR/mailq.slow"
ok $? "restart: relayq queue shows 1 attempt and a future next attempt"
"$RELAYQ" flush
wait_for "the flush" 100 logged 'flush requested by .*: 1 waiting messages due now'
ok $? "restart: relayq flush makes the waiting message due now"
wait_for "second attempt" 100 logged 'tries=2 next attempt in'
n=$(sed -n 's/.*tries=2 next attempt in \([0-9]*\)s.*/\1/p' "$T_DIR/relayqd.log" | head -n 1)
in_range "$n" 96 144
ok $? "backoff: second retry after twice retry_min +-20% ($n s)"
stop_server

# ---- 4. Stalls from transcripts: no greeting; no reply to the dot; a
# reset while the body is sent.  Each is deferred, then delivered.
fresh "retry_min = 1s
retry_max = 2s
greeting_timeout = 2s
dot_timeout = 2s"
start_fake 002-greeting-stall
start_daemon
submit "stall" stall@example.net
wait_for "greeting timeout" 100 logged 'status=deferred (timeout waiting for the server (state banner))'
ok $? "greeting stall: deferred after greeting_timeout"
logged 'smarthost 127.0.0.1 unavailable (timeout waiting'
ok $? "greeting stall: the destination backs off"
is "$(grep -c . "$T_DIR/fake.002-greeting-stall.log")" 0 \
    "greeting stall: nothing was sent before a greeting"
stop_fake
start_server
wait_for "delivery after the stall" 100 has_mail 1
ok $? "greeting stall: delivered once the server answers"
stop_server

fresh "retry_min = 1s
retry_max = 2s
dot_timeout = 2s"
start_fake 004-dot-stall
start_daemon
submit "dot stall" dot@example.net
wait_for "dot timeout" 100 logged 'status=deferred (timeout waiting for the server (state dot))'
ok $? "dot stall: deferred after dot_timeout"
grep -q '^\.$' "$T_DIR/fake.004-dot-stall.log"
ok $? "dot stall: the server had the whole message"
stop_fake
start_server
wait_for "delivery after the dot stall" 100 has_mail 1
ok $? "dot stall: retried and delivered (the documented duplicate window)"
stop_server

fresh "retry_min = 1s
retry_max = 2s"
start_fake 003-reset-mid-data
start_daemon
submit "reset" reset@example.net 2000
wait_for "reset" 100 logged 'to=<reset@example.net>.*status=deferred (lost connection'
ok $? "reset mid-DATA: deferred"
stop_fake
start_server
wait_for "delivery after the reset" 100 has_mail 1
ok $? "reset mid-DATA: delivered later"
wait_for "empty queue" 100 queue_empty
is "$(count_mail)" 1 "reset mid-DATA: delivered exactly once"
grep -q 'line 001999' "$MAILDIR/0001.eml"
ok $? "reset mid-DATA: the whole body arrived"
stop_server

# ---- 4b. Oversized replies: 10,000 lines, then a 1 MB line.  The
# transcripts are generated here (too big to keep in cases/).
for shape in lines bigline; do
	fresh "retry_min = 1s
retry_max = 2s"
	mkdir -p "$T_DIR/cases"
	"$PYTHON3" -c 'import sys
with open(sys.argv[2], "w") as f:
    f.write("S: 220 fake.test ESMTP\nC: EHLO\n")
    if sys.argv[1] == "lines":
        f.write("S: 250-fake.test\n" * 10000 + "S: 250 end\n")
    else:
        f.write("S: 250-" + "x" * (1 << 20) + "\nS: 250 end\n")' \
	    "$shape" "$T_DIR/cases/huge-$shape.t"
	start_fakesmtpd "$T_DIR/cases/huge-$shape.t" "$T_DIR/fake.huge.log"
	start_daemon
	submit "huge $shape" huge@example.net
	wait_for "huge reply" 100 logged 'status=deferred (bad server reply\|status=deferred (reply line too long'
	ok $? "oversized reply ($shape): session aborted, message deferred"
	logged 'smarthost 127.0.0.1 unavailable'
	ok $? "oversized reply ($shape): the destination backs off"
	kill -0 "$DAEMON_PID"
	ok $? "oversized reply ($shape): relayqd still running"
	stop_fake
done

# ---- 5. A connect that hangs (listener with a full backlog).
fresh "retry_min = 1s
retry_max = 2s
connect_timeout = 2s"
"$PYTHON3" -c 'import socket, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(0)
fill = []
for i in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", int(sys.argv[1])))
    except BlockingIOError: pass
    fill.append(c)
open(sys.argv[2], "w").write("up\n")
time.sleep(600)' "$PORT" "$T_DIR/hole.ready" >/dev/null 2>&1 &
HOLE_PID=$!
T_PIDS="$T_PIDS $HOLE_PID"
wait_for "blackhole" 50 test -s "$T_DIR/hole.ready"
start_daemon
submit "hole" hole@example.net
wait_for "connect timeout" 100 logged 'status=deferred (connect to 127.0.0.1.*timed out)'
ok $? "blackhole: deferred after connect_timeout"
logged 'smarthost 127.0.0.1 unavailable (connect to .*timed out)'
ok $? "blackhole: the destination backs off"
kill "$HOLE_PID" 2>/dev/null
wait "$HOLE_PID" 2>/dev/null

# ---- 6. smtp-sink faults.
if [ -z "$SINK_DIR" ]; then
	for t in "421 at the greeting" "disconnect after EHLO" \
	    "disconnect after MAIL" "451 on every RCPT" "451 after the dot" \
	    "disconnect after the dot" "server stops reading the body" \
	    "slow reply after the dot"; do
		skip "$t" "smtp-sink unavailable (contrib/postfix-tools.sh)"
	done
	stop_daemon >/dev/null 2>&1
	done_testing
fi

# sink_fault NAME SINK-ARGS PATTERN [SUBMIT-LINES]: the message is
# deferred with PATTERN in the log, then a plain smtp-sink takes it.
sink_fault() {
	fresh "retry_min = 1s
retry_max = 2s
data_block_timeout = 2s
dot_timeout = 30s"
	start_sink $2
	start_daemon -T smtp
	submit "$1" fault@example.net "${4:-1}"
	wait_for "$1" 150 logged "$3"
	ok $? "$1: deferred ($3)"
	stop_sink
	start_sink
	wait_for "$1 delivery" 150 sink_has 1
	ok $? "$1: delivered later"
	wait_for "$1: empty queue" 100 queue_empty
	is "$(sink_count)" 1 "$1: delivered once by the second server"
	stop_sink
}

sink_fault "421 at the greeting" "-Q CONNECT" \
    'unavailable (421 4.0.0 Server closing connection)'
sink_fault "disconnect after EHLO" "-q EHLO" \
    'smarthost 127.0.0.1 unavailable (lost connection'
sink_fault "disconnect after MAIL" "-q MAIL" \
    'to=<fault@example.net>.*status=deferred (lost connection'
logged 'tries=1 next attempt in [0-9]*s$'
ok $? "disconnect after MAIL: a message-level deferral with its own backoff"
sink_fault "451 on every RCPT" "-r RCPT" \
    'to=<fault@example.net>.*status=deferred (450 4.3.0'
is "$(logc '^relayqd: > DATA')" 1 \
    "451 on every RCPT: DATA sent only in the final, successful session"
sink_fault "451 after the dot" "-r ." \
    'to=<fault@example.net>.*status=deferred (450 4.3.0'
sink_fault "disconnect after the dot" "-q ." \
    'to=<fault@example.net>.*status=deferred (lost connection'
ls "$T_DIR/sink.$((SINK_N - 1))" | grep -q .
ok $? "disconnect after the dot: the first server had the message (a duplicate, as documented)"
sink_fault "server stops reading the body" "-H 30 -T 1024" \
    'status=deferred (timeout sending the message' 120000

fresh "retry_min = 1s
retry_max = 2s
dot_timeout = 30s"
start_sink -W .:3
start_daemon
submit "slow dot" slowdot@example.net
wait_for "slow final reply" 150 logged 'to=<slowdot@example.net>.*status=sent'
ok $? "slow reply after the dot: delivered"
is "$(logc 'status=deferred')" 0 "slow reply after the dot: waited, never deferred"
is "$(sink_count)" 1 "slow reply after the dot: one copy"
stop_sink

# ---- probe_max = 1s, retry_min = 1h: messages that wait for the probe
# are due with it, never after a backoff of their own (issue 17).  Every
# message must arrive once the smarthost is back; one that waited
# retry_min would take an hour, far beyond the bounded wait.
fresh "retry_min = 1h
retry_max = 2h
probe_max = 1s"
submit_n 6 probe p
is "$i" 6 "probe_max: 6 messages queued while nothing listens"
start_daemon
wait_for "sixth failed probe" 200 logged 'failures=6,'
ok $? "probe_max: the destination is probed about every second"
start_server
wait_for "all 6 delivered" 600 has_mail 6
ok $? "probe_max: all 6 delivered after the return, none left for retry_min"
is "$(logc 'next attempt in [1-9][0-9][0-9]*s')" 0 \
    "probe_max: no message was given a wait of retry_min"
stop_server

stop_daemon >/dev/null 2>&1
done_testing
