#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# R7 / A6, a hostile or broken smarthost: the rows of the fault matrix
# (reliability-security.md section 4) that the integration tests do not
# already cover (they cover connection refused, per-recipient 4xx/5xx,
# the TLS and AUTH rows, and the STARTTLS injection), played by
# faultsmtpd.py, which records the raw wire.  Each fault hits the first
# session only; the message must be deferred, retried, and delivered
# exactly once (or, for a permanent refusal, not retried).  Then the
# oversized replies: 10,000 reply lines and one 1 MB line, at the
# greeting and after EHLO: no crash, the session fails, the message is
# deferred and delivered later, and relayqd's peak memory (VmHWM) grows
# by less than 10 MB.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"

PORT=$(free_port)
# The timeouts that the faults must trigger are short (the tests wait
# for them); the others are long, so that a loaded machine never hits
# them by accident.
write_conf "greeting_timeout = 3s
command_timeout = 60s
data_timeout = 60s
dot_timeout = 30s
data_block_timeout = 5s
connect_timeout = 60s" "helo_name = relayq.test"
CASE=0

# fault_case DESC SERVER-ARGS...: fresh spool and daemon, one message.
fault_case() {
	CASE=$((CASE + 1)); DESC=$1; shift
	[ -n "${DAEMON_PID:-}" ] && { stop_daemon >/dev/null 2>&1; rel_forget "$DAEMON_PID"; }
	[ -n "${FAULT_PID:-}" ] && stop_fault
	cat "$T_DIR/relayqd.log" >> "$T_DIR/relayqd-all.log" 2>/dev/null
	: > "$T_DIR/relayqd.log"
	rm -rf "$SPOOL"
	start_fault "$@"
	printf 'X-Seq: R7-%d\nSubject: r7 %s\n\nbody R7-%d\n' $CASE "$DESC" $CASE |
	    "$SENDMAIL" -i "r7@example.net"
	start_daemon
	daemon_up
}

# retried DESC: deferred first, then delivered once, spool empty.
retried() {
	wait_for "$1 deferral" 100 grep -q 'status=deferred' "$T_DIR/relayqd.log"
	ok $? "$1: deferred ($(grep -o 'status=deferred.*' "$T_DIR/relayqd.log" | head -n 1 | cut -c1-80))"
	wait_for "$1 delivery" 150 has_msgs 1
	ok $? "$1: delivered on a later attempt"
	wait_for "$1 drain" 50 queue_empty
	ok $? "$1: removed from the queue"
	# The queue is empty: nothing more can be sent.
	is "$(n_msgs)" 1 "$1: accepted exactly once"
	kill -0 "$DAEMON_PID"
	ok $? "$1: relayqd still running"
}

fault_case "421 at greeting" --fault-sessions 1 --fault 'greeting=421 4.3.2 try later'
retried "421 at greeting"
fault_case "disconnect after EHLO" --fault-sessions 1 --fault ehlo=close
retried "disconnect after EHLO"
fault_case "disconnect after MAIL" --fault-sessions 1 --fault mail=close
retried "disconnect after MAIL"
fault_case "451 on every RCPT" --fault-sessions 1 --fault 'rcpt=451 4.3.0 later'
retried "451 on every RCPT"
# With PIPELINING, DATA goes out in the same group as MAIL and RCPT
# (RFC 2920) and gets 554; the body must not follow.
! grep -q '^Subject:' "$WIRE/wire-1"
ok $? "451 on every RCPT: no message content sent in that session"
tail -n 1 "$WIRE/wire-1" | grep -q '^QUIT'
ok $? "451 on every RCPT: the session ends with QUIT"
fault_case "451 after the dot" --fault-sessions 1 --fault 'dot=451 4.3.0 later'
retried "451 after the dot"
fault_case "disconnect after the dot" --fault-sessions 1 --fault dot=close
retried "disconnect after the dot (RFC 1047: the server may keep a copy)"
fault_case "greeting stall" --fault-sessions 1 --fault greeting=stall
retried "greeting stall (greeting_timeout 3s)"
fault_case "slow reply after the dot" --fault 'dot=sleep:2'
wait_for "slow dot" 100 has_msgs 1
ok $? "slow reply after the dot (2 s < dot_timeout 30 s): delivered"
wait_for "drain" 50 queue_empty
ok $? "slow reply after the dot: removed"
! grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "slow reply after the dot: never deferred"

# 554 to DATA: permanent.  The bounce goes through the same smarthost
# (the fault hits the first session only) and the original is not sent
# again.
fault_case "554 to DATA" --fault-sessions 1 --fault 'data=554 5.7.1 refused'
wait_for "bounce" 100 has_msgs 1
ok $? "554 to DATA: a bounce went out"
wait_for "drain" 50 queue_empty
ok $? "554 to DATA: the message left the queue"
wait_for "the sessions to end" 100 fault_idle
is "$(cat "$WIRE"/wire-* | grep -c '^MAIL FROM:<root@')" 1 \
    "554 to DATA: the original was tried once, never retried"
grep -q 'MAIL FROM:<>' "$WIRE"/wire-*
ok $? "554 to DATA: the bounce has the null sender"

# Server stops reading mid-DATA (session 1 only): a 2 MB message stalls
# there until data_block_timeout (5 s) and is deferred; meanwhile a small
# message goes out through another session, so the daemon stays
# responsive; the big one is delivered on the retry.
CASE=$((CASE + 1))
stop_daemon >/dev/null 2>&1; rel_forget "$DAEMON_PID"
stop_fault
cat "$T_DIR/relayqd.log" >> "$T_DIR/relayqd-all.log"
: > "$T_DIR/relayqd.log"
rm -rf "$SPOOL"
start_fault --fault-sessions 1 --fault data=stopread
head -c 2000000 /dev/zero | tr '\0' 'z' | fold -w 76 |
    sed '1i X-Seq: R7-big\nSubject: big\n' > "$T_DIR/big"
"$SENDMAIL" -i r7@example.net < "$T_DIR/big"
start_daemon
daemon_up
wait_for "the stall" 100 grep -q 'fault data stopread' "$WIRE/log"
ok $? "server stops reading: the big message is stuck in session 1"
printf 'X-Seq: R7-small\nSubject: small\n\nsmall\n' | "$SENDMAIL" -i r7@example.net
wait_for "small message" 100 has_msgs 1
ok $? "server stops reading: another message goes out meanwhile"
grep -q 'R7-small' "$WIRE/msg-1.raw"
ok $? "server stops reading: (that was the small one)"
wait_for "timeout" 100 grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "server stops reading: the big one is deferred after the write timeout ($(grep -o 'status=deferred.*' "$T_DIR/relayqd.log" | head -n 1 | cut -c1-60))"
"$RELAYQ" -c "$CONF" queue > "$T_DIR/q" 2>&1
ok $? "server stops reading: relayq queue still answers"
wait_for "delivery" 150 has_msgs 2
ok $? "server stops reading: the big message is delivered on the retry"
wait_for "drain" 50 queue_empty
ok $? "server stops reading: removed"

# Oversized replies, all in one daemon so its VmHWM can be compared.
fault_case "baseline" 
wait_for "baseline" 100 has_msgs 1
ok $? "baseline delivery"
hwm0=$(vm_hwm "$DAEMON_PID")
for f in 'greeting=lines:10000' 'ehlo=lines:10000' 'greeting=longline:1048576' 'ehlo=longline:1048576'; do
	stop_fault
	start_fault --fault-sessions 1 --fault "$f"
	: > "$T_DIR/relayqd.log"
	printf 'Subject: r7 %s\n\nbody\n' "$f" | "$SENDMAIL" -i r7@example.net
	wait_for "$f" 100 grep -q 'status=deferred' "$T_DIR/relayqd.log"
	ok $? "$f: session refused, message deferred ($(grep -o 'status=deferred.*' "$T_DIR/relayqd.log" | head -n 1 | cut -c1-70))"
	kill -0 "$DAEMON_PID"
	ok $? "$f: relayqd still running"
	wait_for "$f" 150 has_msgs 1
	ok $? "$f: delivered on the retry"
done
hwm1=$(vm_hwm "$DAEMON_PID")
diag "relayqd VmHWM: ${hwm0} kB after a normal delivery, ${hwm1} kB after the oversized replies"
[ $((hwm1 - hwm0)) -lt 10240 ]
ok $? "peak memory grew by less than 10 MB ($((hwm1 - hwm0)) kB)"
stop_daemon
ok $? "relayqd exits 0"
done_testing
