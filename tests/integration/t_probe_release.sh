#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A probe that hangs gives its message back (issue 15, an outside
# tester's finding): [smarthost] (A) is down with fallback = backup (B, a
# real server, aiosmtpd), so its mail goes to B while A is probed with a
# message of its own.  Then A's port gets a listener that accepts and
# never greets (a scripted server: no real one does that on demand).
# greeting_timeout is an hour, connect_timeout 2 s: the probe's message
# must reach B within about connect_timeout, not wait for the greeting
# (it used to be held for greeting_timeout), and the log says why.  (A
# probe whose route has no other smarthost up keeps its message: nowhere
# else could take it.)
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
PORT_B=$(free_port)
MAIL_B=$T_DIR/mail-b
write_conf "probe_max = 1s
retry_min = 1s
retry_max = 1s
connect_timeout = 2s
greeting_timeout = 1h" "fallback = backup

[smarthost backup]
host = 127.0.0.1
port = $PORT_B
tls = none"

start_other b 127.0.0.1 "$PORT_B" "$MAIL_B"
start_daemon
wait_started

# send TAG: queues one message for A's route; prints its queue id.
send() {
	printf 'Subject: %s\n\nbody\n' "$1" |
	    "$SENDMAIL" --print-queue-id -i -f someone@example.org \
	    "rcpt-$1@example.net"
}
logged() { grep -q -- "$1" "$T_DIR/relayqd.log"; }
mail_in_b() { grep -lq "^Subject: $1[[:space:]]*\$" "$MAIL_B"/*.eml 2>/dev/null; }

# 1. Nothing listens on A: the first message fails over to B.
send first > /dev/null
wait_for "the first message at B" 600 mail_in_b first
ok $? "A refuses connections: the message fails over to B"

# 2. A silent listener on A's port: accepts, never greets.
cat > "$T_DIR/silent.py" <<'PYEOF'
import socket, sys, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(16)
open(sys.argv[2], "w").write("up\n")
held = []
for _ in range(100):
    c, _ = l.accept()
    held.append(c)
    with open(sys.argv[3], "a") as f:
        f.write("accepted\n")
time.sleep(3600)
PYEOF
"$PYTHON3" "$T_DIR/silent.py" "$PORT" "$T_DIR/silent.ready" \
    "$T_DIR/silent.log" >>"$T_DIR/silent.err" 2>&1 &
SILENT=$!
T_PIDS="$T_PIDS $SILENT"
wait_for "the silent listener" 100 test -s "$T_DIR/silent.ready"

# Messages go one at a time until A's probe takes one (the probe has the
# first claim on A's mail once its backoff ended; B takes the others).
# The backoff (probe_max, 1 s) is time, and only time ends it: each round
# lets 0.2 s pass first (a fast machine sends 10 messages in less than
# a second), 50 rounds at most.
probe_id=
i=0
while [ $i -lt 50 ] && [ -z "$probe_id" ]; do
	i=$((i + 1))
	sleep 0.2
	id=$(send "m$i")
	wait_for "m$i at B or in A's probe" 600 sh -c \
	    "grep -lq '^Subject: m$i[[:space:]]*\$' '$MAIL_B'/*.eml 2>/dev/null ||
	     grep -q 'probe after [0-9]* failures*, with $id' '$T_DIR/relayqd.log'"
	logged "probe after [0-9]* failures*, with $id" && probe_id=$id
done
test -n "$probe_id"
ok $? "A's probe took a message ($probe_id, after $i)"
wait_for "the probe's connection" 100 test -s "$T_DIR/silent.log"
ok $? "the probe reached the silent listener"
wait_for "the probe's message at B" 600 mail_in_b "m$i"
ok $? "the probe's message reaches B anyway (greeting_timeout is 1h)"
logged "$probe_id: smarthost 127.0.0.1: its probe is not ready after 2s; the message goes by another smarthost meanwhile"
ok $? "the log says the probe gave it back after connect_timeout"
! logged "$probe_id: .*status=deferred"
ok $? "the message was not deferred for it"
kill -0 "$DAEMON_PID" && ! logged 'smarthost 127.0.0.1 is back'
ok $? "A is still down (its probe waits for the greeting)"


# 3. sendmail -v while A's probe hangs (the message goes to B), and while
# A refuses (the primary known down, nothing listening): -v brings A's
# probe forward, the probe takes the message and fails, and -v follows
# the message to B (it used to report "not delivered now" and exit 69
# for mail that went out).
v_send() {
	printf 'Subject: %s\n\nbody\n' "$1" |
	    "$SENDMAIL" -v -i -f someone@example.org "rcpt-$1@example.net" \
	    >/dev/null 2>"$T_DIR/$1.err"
}
v_send vhang
is "$?" 0 "sendmail -v while A's probe hangs: exit 0"
mail_in_b vhang
ok $? "and the message is at B"
kill "$SILENT" && wait "$SILENT" 2>/dev/null
v_send vrefused
is "$?" 0 "sendmail -v while A refuses: exit 0"
mail_in_b vrefused
ok $? "and the message is at B"
grep -q 'Connection refused; the message goes by another smarthost' \
    "$T_DIR/vrefused.err"
ok $? "-v says A refused and the message goes by another smarthost"
stop_daemon
is $? 0 "relayqd exits 0"
done_testing
