#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The systemd notification protocol, without systemd: a small Python
# AF_UNIX datagram listener plays $NOTIFY_SOCKET (a path, then an
# abstract name) and records each message on one line (newlines shown
# as "|").  relayqd must send READY=1 with a STATUS= line, STATUS= with
# the queue size and the smarthost state after a change, WATCHDOG=1
# at about half $WATCHDOG_USEC (counted within a generous bound) and
# never without a watchdog meant for it, RELOADING=1 with
# MONOTONIC_USEC= then READY=1 on SIGHUP (also when the new config is
# refused: AUTH with tls = none is, and the old one stays),
# STOPPING=1 on SIGTERM, and a first STATUS (and start line) that counts
# mail waiting in incoming/.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port) # nothing listens: the smarthost is down
write_conf "probe_max = 1s"
MSGS=$T_DIR/notify.txt

# listen ADDRESS: records datagrams to $MSGS (bounded to 600 s).
listen() {
	rm -f "$MSGS" "$T_DIR/listen.ready"
	"$PYTHON3" - "$1" "$MSGS" "$T_DIR/listen.ready" <<'EOF' &
import socket, sys, time
addr, out, ready = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
s.settimeout(0.5)
open(ready, "w").close()
end = time.time() + 600
with open(out, "a") as f:
    while time.time() < end:
        try:
            m = s.recv(4096)
        except socket.timeout:
            continue
        f.write(m.decode("utf-8", "replace").replace("\n", "|") + "\n")
        f.flush()
EOF
	LISTEN_PID=$!
	T_PIDS="$T_PIDS $LISTEN_PID"
	wait_for "the listener" 50 test -e "$T_DIR/listen.ready"
}
stop_listen() {
	kill "$LISTEN_PID" 2>/dev/null
	wait "$LISTEN_PID" 2>/dev/null
}
has() { grep -Eq "$1" "$MSGS"; }
# n_wd: relayqd log lines saying the watchdog is set up (the log is kept
# across the runs below).
n_wd() { grep -c 'systemd watchdog' "$T_DIR/relayqd.log" 2>/dev/null; }
count() { grep -c "$1" "$MSGS" 2>/dev/null || true; }

# 1. A socket path, with a watchdog of 0.4 s (a ping every 0.2 s).
listen "$T_DIR/notify.sock"
export NOTIFY_SOCKET=$T_DIR/notify.sock WATCHDOG_USEC=400000
start_daemon
unset NOTIFY_SOCKET WATCHDOG_USEC
wait_for "READY=1" 100 has '^READY=1\|STATUS='
ok $? "READY=1 comes with a STATUS= line"
has '^READY=1\|STATUS=0 queued; smarthost up$'
ok $? "first STATUS: empty queue, smarthost up"
printf 'Subject: t\n\nbody\n' |
    "$SENDMAIL" -C "$CONF" -f sender@example.org rcpt@example.org
wait_for "STATUS with the message" 100 has \
    '^STATUS=1 queued, oldest [0-9]+s; smarthost down since [0-9:]+ \(connect'
ok $? "STATUS shows the queue size and the smarthost down, with why"
# The pings keep coming (5 more), and not in a storm: at most one per
# 0.1 s of the time that took (a slow machine sends fewer, never more).
c1=$(count '^WATCHDOG=1$')
read -r u1 _ < /proc/uptime
wait_for "5 more WATCHDOG=1" 100 sh -c \
    "[ \$(grep -c '^WATCHDOG=1\$' '$MSGS') -ge $((c1 + 5)) ]"
ok $? "WATCHDOG=1 pings keep coming"
c2=$(count '^WATCHDOG=1$')
read -r u2 _ < /proc/uptime
cs=$((${u2%.*}${u2#*.} - ${u1%.*}${u1#*.}))
diag "WATCHDOG=1 pings: $((c2 - c1)) in $cs hundredths of a second"
[ $((c2 - c1)) -le $((cs / 10 + 2)) ]
ok $? "WATCHDOG=1 not more often than every 0.1 s: $((c2 - c1)) in ${cs}0 ms"
grep -q 'systemd watchdog: ping every 0.200s' "$T_DIR/relayqd.log"
ok $? "the watchdog interval is logged"

n=$(count '^READY=1')
kill -HUP "$DAEMON_PID"
wait_for "RELOADING=1" 50 has '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$'
ok $? "SIGHUP: RELOADING=1 with MONOTONIC_USEC="
wait_for "READY=1 again" 50 sh -c "[ \$(grep -c '^READY=1' '$MSGS') -gt $n ]"
ok $? "READY=1 after the reload"
grep -q 'configuration reloaded' "$T_DIR/relayqd.log"
ok $? "reload logged"

# A reload that must be refused: AUTH with tls = none.
printf 'secret\n' > "$T_DIR/pw"
chmod 600 "$T_DIR/pw"
cp "$CONF" "$T_DIR/good.conf"
write_conf "probe_max = 1s" "username = u
password_file = $T_DIR/pw"
n=$(count '^READY=1')
kill -HUP "$DAEMON_PID"
wait_for "the refusal" 50 grep -q \
    'reload failed, keeping the old configuration: .*AUTH is configured with tls = none' \
    "$T_DIR/relayqd.log"
ok $? "AUTH with tls = none is refused on reload, old config kept"
wait_for "READY=1 again" 50 sh -c "[ \$(grep -c '^READY=1' '$MSGS') -gt $n ]"
ok $? "READY=1 after a refused reload too"
# tls_verify = no is warned about at each reload, not only at start.
write_conf "probe_max = 1s" "tls = starttls
tls_verify = no"
kill -HUP "$DAEMON_PID"
wait_for "the tls_verify warning" 50 grep -q \
    'tls_verify = no: the smarthost' "$T_DIR/relayqd.log"
ok $? "tls_verify = no warned about on reload"
cp "$T_DIR/good.conf" "$CONF"
kill -HUP "$DAEMON_PID"

# The old configuration still works: the mail goes out.
start_server
wait_for "delivery" 150 has_mail 1
ok $? "still delivering with the kept configuration"
wait_for "STATUS after the drain" 100 has \
    '^STATUS=0 queued; smarthost up; last error [0-9:]+: connect'
ok $? "STATUS: queue empty, smarthost up, last error kept"
stop_server
stop_daemon
ok $? "relayqd exits 0"
wait_for "STOPPING=1" 30 has '^STOPPING=1$'
ok $? "SIGTERM: STOPPING=1"
stop_listen

# 2. An abstract socket, without a watchdog: no pings, no timer.
listen "@relayq-test-$$"
export NOTIFY_SOCKET=@relayq-test-$$
wd=$(n_wd)
start_daemon
unset NOTIFY_SOCKET
wait_for "READY=1" 100 has '^READY=1'
ok $? "abstract socket: READY=1"
is "$(n_wd)" "$wd" "no WATCHDOG_USEC: no watchdog set up"
kill -HUP "$DAEMON_PID"
wait_for "RELOADING=1" 50 has '^RELOADING=1'
ok $? "abstract socket: RELOADING=1"
stop_daemon
ok $? "relayqd exits 0"
wait_for "STOPPING=1" 30 has '^STOPPING=1$'
ok $? "abstract socket: STOPPING=1"
# STOPPING=1 is its last message: the whole run is in $MSGS.
is "$(count '^WATCHDOG=1$')" 0 "no WATCHDOG_USEC: no pings"
stop_listen

# 3. A watchdog meant for another process (WATCHDOG_PID): no pings.
listen "$T_DIR/notify2.sock"
export NOTIFY_SOCKET=$T_DIR/notify2.sock WATCHDOG_USEC=200000 WATCHDOG_PID=1
wd=$(n_wd)
start_daemon
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
wait_for "READY=1" 100 has '^READY=1'
ok $? "READY=1"
is "$(n_wd)" "$wd" "WATCHDOG_PID of another process: no watchdog set up"
stop_daemon
ok $? "relayqd exits 0"
wait_for "STOPPING=1" 30 has '^STOPPING=1$'
ok $? "STOPPING=1"
is "$(count '^WATCHDOG=1$')" 0 "WATCHDOG_PID of another process: no pings"
stop_listen

# 4. Mail submitted while relayqd was stopped waits in incoming/: the
# start line and the first STATUS count it (issue 12).
for i in 1 2; do
	printf 'Subject: offline %s\n\nbody\n' $i |
	    "$SENDMAIL" -C "$CONF" -f sender@example.org rcpt@example.org
done
is "$(ls "$SPOOL/incoming" | wc -l)" 2 "two messages wait in incoming/"
listen "$T_DIR/notify3.sock"
export NOTIFY_SOCKET=$T_DIR/notify3.sock
start_daemon
unset NOTIFY_SOCKET
wait_for "READY=1" 100 has '^READY=1'
ok $? "READY=1"
has '^READY=1\|STATUS=2 queued'
ok $? "first STATUS counts the two messages of incoming/ ($(grep '^READY' "$MSGS" | tail -n 1))"
grep -q 'started: .*, 2 queued$' "$T_DIR/relayqd.log"
ok $? "the start line counts them ($(grep 'started:' "$T_DIR/relayqd.log" | tail -n 1))"
stop_daemon
ok $? "relayqd exits 0"
stop_listen
done_testing
