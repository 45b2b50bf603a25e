#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A user's sendmail -q cannot flush everyone's deferred mail past its
# backoff (issue 13, finding 4).  With probe_max = 1h (so relayqd itself
# probes nothing during the test):
# 1. smarthost down (a listener that counts connections and answers 421):
#    100 sendmail -q as nobody make no connection at all (the smarthost
#    was probed less than probe_max ago) and the message's tries stay;
#    root's relayq flush probes at once and counts.
# 2. smarthost up (aiosmtpd, 451 for the recipient), relayqd restarted:
#    30 sendmail -q as nobody make exactly one attempt, which does not
#    count (tries stay, the saved next attempt is kept); root's relayq
#    flush makes one more, which counts.
# Skipped unless root with setpriv.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "1..0 # SKIP not root, or no setpriv"
	exit 0
fi
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
chmod 755 "$T_DIR"
PORT=$(free_port)

# The down smarthost: counts connections in $T_DIR/conns, answers 421.
"$PYTHON3" - "$PORT" "$T_DIR/conns" "$T_DIR/down.pid" <<'PYEOF' &
import os, signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(16)
with open(sys.argv[3] + '.tmp', 'w') as f:
    f.write('{}\n'.format(os.getpid()))
os.rename(sys.argv[3] + '.tmp', sys.argv[3])
while True:
    c, _ = s.accept()
    with open(sys.argv[2], 'a') as f:
        f.write('connection\n')
    c.sendall(b'421 4.3.2 down for the test\r\n')
    c.close()
PYEOF
DOWN_PID=$!
T_PIDS="$T_PIDS $DOWN_PID"
wait_for "the down listener" 100 test -s "$T_DIR/down.pid"

write_conf "retry_min = 1h
retry_max = 2h
probe_max = 1h"
chmod 644 "$CONF"
start_daemon
wait_for "the wake FIFO" 100 test -p "$SPOOL/wake"
chmod 755 "$SPOOL"
chmod 666 "$SPOOL/wake"

conns() { grep -c . "$T_DIR/conns" 2>/dev/null || echo 0; }
logc() { grep -c -- "$1" "$T_DIR/relayqd.log"; }
# tries: the message's attempts, from relayq's view of the spool.
tries() { "$RELAYQ" show "$ID" | sed -n 's/^attempts: //p'; }
next_try() { "$RELAYQ" show "$ID" | sed -n 's/^next attempt: //p'; }
# fifo_empty: relayqd has read everything written to the wake FIFO.
fifo_empty() {
	"$PYTHON3" -c 'import fcntl, os, struct, sys, termios
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
n = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
sys.exit(struct.unpack("i", n)[0] != 0)' "$SPOOL/wake"
}

printf 'Subject: slow\n\nbody\n' | "$SENDMAIL" -i slow@example.net
wait_for "the first attempt" 300 grep -q 'tries=1 next attempt' "$T_DIR/relayqd.log"
ok $? "smarthost down: the first attempt is deferred"
ID=$(ls "$SPOOL/queue" | head -n 1)
is "$(conns)" 1 "smarthost down: one connection so far"
is "$(tries)" 1 "smarthost down: tries 1"

# 1. 100 user flushes, paced (not a synchronisation: they must all be
# harmless, whenever they come).
i=0 fails=0
while [ $i -lt 100 ]; do
	$AS_NOBODY "$SENDMAIL" -q 2>/dev/null || fails=$((fails + 1))
	i=$((i + 1))
	sleep 0.05
done
is "$fails" 0 "100 sendmail -q as nobody: each exits 0"
# relayqd has read them all once the FIFO is empty and it logged one.
wait_for "the user's flush" 100 grep -q 'queue run requested for .* by sendmail -q' \
    "$T_DIR/relayqd.log"
ok $? "relayqd took a user's flush"
wait_for "relayqd to read the FIFO" 100 fifo_empty
ok $? "relayqd has read every flush request"
diag "connections after 100 user flushes: $(conns)"
is "$(logc 'queue run requested for .* by sendmail -q')" 1 \
    "a user's flush is taken at most once every probe_max"
is "$(conns)" 1 "100 user flushes: no connection to the down smarthost"
is "$(tries)" 1 "100 user flushes: tries did not climb"

# Root's relayq flush still probes at once, and that attempt counts.
"$RELAYQ" flush
ok $? "root: relayq flush exits 0"
wait_for "root's flush probe" 300 sh -c "[ \$(grep -c . '$T_DIR/conns') -ge 2 ]"
ok $? "root's relayq flush probes the smarthost at once"
wait_for "the second deferral" 300 grep -q 'tries=2 next attempt' "$T_DIR/relayqd.log"
ok $? "root's flush: the attempt counts (tries=2)"
is "$(conns)" 2 "two connections in all: the first attempt and root's flush"
grep -q 'flush requested by relayq flush (uid 0)' "$T_DIR/relayqd.log"
ok $? "relayqd knows the flush is root's (uid from the socket)"

# 2. Smarthost up, answering 451: a user's flush makes one attempt that
# does not count.
stop_daemon >/dev/null
kill "$DOWN_PID"; wait "$DOWN_PID" 2>/dev/null
start_server --rcpt-reply 'slow=451 4.3.0 try again later'
next0=$(next_try)
: > "$T_DIR/relayqd.log"
start_daemon
wait_for "the wake FIFO" 100 test -p "$SPOOL/wake"
wait_for "relayqd to start" 100 grep -q 'started' "$T_DIR/relayqd.log"
i=0
while [ $i -lt 30 ]; do
	$AS_NOBODY "$SENDMAIL" -q 2>/dev/null
	i=$((i + 1))
done
wait_for "relayqd to read the FIFO" 100 fifo_empty
wait_for "the attempt a user's flush brought forward" 300 grep -q \
    "$ID: tries=2 next attempt in .*a user's flush brought this attempt forward: not counted" \
    "$T_DIR/relayqd.log"
ok $? "smarthost up: a user's flush makes an attempt, not counted (tries=2)"
is "$(tries)" 2 "smarthost up: tries stay 2"
is "$(grep -c '^MAIL' "$MAILDIR/commands")" 1 "30 user flushes: one attempt"
next1=$(next_try)
is "$next1" "$next0" "the message keeps its next attempt time"
"$RELAYQ" flush
wait_for "root's attempt" 300 grep -q "$ID: tries=3 next attempt in" "$T_DIR/relayqd.log"
ok $? "root's relayq flush: an attempt at once, counted (tries=3)"
is "$(grep -c '^MAIL' "$MAILDIR/commands")" 2 "root's flush: the second attempt"

stop_daemon
ok $? "relayqd exits 0"
done_testing
