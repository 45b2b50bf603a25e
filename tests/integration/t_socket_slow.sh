#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Slow submitters cannot lock the others out of relayqd's submission
# socket (issue 16, an outside tester's attack): four uids take 16 slots
# each, all 64 (RELAYQD_SUBMIT_MAX), and trickle one body byte a second
# into every connection, so none is ever silent for submit_timeout (60 s
# here) and the silence timeout never drops them.  A fifth uid's
# sendmail must still queue its mail while they go on: relayqd drops one
# slow connection ("busy: too slow") for it (RELAYQD_SUBMIT_SLOW_GRACE,
# RELAYQD_SUBMIT_MIN_RATE in relayqd_submit.h), and only one.
. "$top_srcdir/tests/integration/lib.sh"

command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] || {
	echo "1..0 # SKIP needs root and setpriv"
	exit 0
}
# Four accounts every Debian system has (daemon, bin, sys, sync): relayqd
# needs a login name for each sender (allow_from_override = no).
for u in 1 2 3 4; do
	getent passwd "$u" >/dev/null || {
		echo "1..0 # SKIP no account with uid $u"
		exit 0
	}
done
socket_setup "submit_timeout = 60s
allow_from_override = no"
ok $? "relayqd listens on submit_socket"

# trickle.py SOCK STOP: 16 connections, each with an envelope for 1000
# body bytes; says "ready N" once N of them got G, then sends one body
# byte a second on each until STOP exists (at most 300 s), and says what
# each connection got back ("X..." or nothing) at the end.
cat > "$T_DIR/trickle.py" <<'PYEOF'
import os, socket, sys, time
path, stop = sys.argv[1], sys.argv[2]
def fr(k, v=b''):
    return k + str(len(v)).encode() + b':' + v + b'\n'
conns = []
for i in range(16):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(fr(b'H', b'relayq-submit/1') + fr(b'S', b'') +
              fr(b'R', b'slow@example.net') + fr(b'P', b'local') +
              fr(b'Z', b'1000'))
    s.settimeout(30)
    g = s.recv(64)
    if g.startswith(b'G'):
        s.sendall(b'M1000:')
        conns.append(s)
print('ready', len(conns), flush=True)
got = {}
deadline = time.time() + 300
while time.time() < deadline and not os.path.exists(stop):
    for s in conns:
        if s in got:
            continue
        try:
            s.send(b'x')
        except OSError:
            got[s] = b'closed'
    time.sleep(1)
    for s in conns:
        if s in got:
            continue
        s.settimeout(0)
        try:
            d = s.recv(4096)
            got[s] = d or b'closed'
        except (BlockingIOError, socket.timeout):
            pass
        except OSError:
            got[s] = b'closed'
for s in conns:
    print('got', got.get(s, b'-').decode(errors='replace').strip(),
          flush=True)
PYEOF
chmod 644 "$T_DIR/trickle.py"

STOP=$T_DIR/trickle.stop
TPIDS=
for u in 1 2 3 4; do
	setpriv --reuid="$u" --regid=nogroup --clear-groups --no-new-privs \
	    "$PYTHON3" "$T_DIR/trickle.py" "$SOCK" "$STOP" \
	    > "$T_DIR/trickle.$u" 2>&1 &
	TPIDS="$TPIDS $!"
	T_PIDS="$T_PIDS $!"
	wait_for "uid $u's 16 connections" 300 grep -q '^ready' \
	    "$T_DIR/trickle.$u"
done
nready=0
for u in 1 2 3 4; do
	n=$(sed -n 's/^ready //p' "$T_DIR/trickle.$u")
	nready=$((nready + ${n:-0}))
done
is "$nready" 64 "four uids hold all 64 slots, 16 each"

# nobody's sendmail, no spool access (no_new_privs): the socket only.
printf 'Subject: sock-slow\n\nbody\n' |
    setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
    env RELAYQ_CONFIG="$CONF" "$SENDMAIL" ok@example.net \
    2>"$T_DIR/nobody.err"
is $? 0 "nobody's sendmail exits 0 while the slots are held"
alive=0
for p in $TPIDS; do
	kill -0 "$p" 2>/dev/null && alive=$((alive + 1))
done
is "$alive" 4 "the four trickling clients were still at it"
has_mail() { grep -lq '^Subject: sock-slow' "$MAILDIR"/*.eml 2>/dev/null; }
wait_for "nobody's mail" 150 has_mail
ok $? "and its mail is delivered"
grep -q "dropped: [0-9]* bytes in [0-9]*s while uid=$NOBODY waits" \
    "$T_DIR/relayqd.log"
ok $? "relayqd logs the slow connection it dropped for uid $NOBODY"
touch "$STOP"
for p in $TPIDS; do
	wait "$p"
done
ndrop=$(cat "$T_DIR"/trickle.[1-4] | grep -c '^got X.*75 busy: too slow')
is "$ndrop" 1 "exactly one slow connection was dropped, told busy: too slow"
is "$(grep -c ' dropped: ' "$T_DIR/relayqd.log")" 1 \
    "and relayqd logged one drop"
stop_daemon
ok $? "relayqd exits 0 when stopped"
wait_for "tmp/ empty" 50 sh -c "[ -z \"\$(ls -A '$SPOOL/tmp')\" ]"
ok $? "the dropped and stopped connections leave nothing in tmp/"
done_testing
