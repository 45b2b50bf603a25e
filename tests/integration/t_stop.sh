#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Stopping relayqd (issue 12): on SIGTERM an idle session says QUIT
# (then, over TLS, sends close_notify) before relayqd exits, instead of
# dropping the connection (OpenSMTPD logged "unexpected eof").  Checked
# against aiosmtpd, which logs every QUIT it receives, for a plain, a
# STARTTLS and an implicit-TLS session kept idle (idle_timeout = 1 h);
# relayqd still exits, after its short bound, when the server never
# answers the QUIT (one SIGTERM only: a second one would cut the wait);
# and a scripted TLS peer sees close_notify after its 221.
. "$top_srcdir/tests/integration/lib.sh"

make_pki || { echo "Bail out! cannot make the test certificates"; exit 1; }
CA="ca_file = $T_DIR/pki/ca.crt"
TLS="--tls-cert $T_DIR/pki/good.crt --tls-key $T_DIR/pki/good.key"
N=0

quits() { grep -c '^QUIT ' "$MAILDIR/commands" 2>/dev/null || true; }
exited() { ! _sd_running "$DAEMON_PID"; }

# idle DESC SMARTHOST-LINES SERVER-ARGS...: a new server and relayqd;
# one message delivered, leaving the session idle.
idle() {
	_what=$1; _sh=$2; shift 2
	N=$((N + 1))
	rm -rf "$SPOOL" "$MAILDIR"
	: > "$T_DIR/relayqd.log"
	PORT=$(free_port)
	write_conf "idle_timeout = 3600s" "$_sh"
	start_server "$@"
	start_daemon
	printf 'Subject: stop %s\n\nbody\n' "$N" | "$SENDMAIL" -i "stop$N@example.net"
	wait_for "delivery" 150 has_mail 1
	ok $? "$_what: delivered"
	# The queue file goes in the same callback that makes the session
	# ready again, before relayqd reads the next event (the signal).
	wait_for "empty queue" 100 queue_empty
	ok $? "$_what: queue empty, the session idle"
	is "$(quits)" 0 "$_what: no QUIT yet (idle_timeout is 1 h)"
}

# stopped DESC TLS: SIGTERM; relayqd exits 0 and the server logged one
# QUIT (tls=TLS; after STARTTLS aiosmtpd numbers a new session).
stopped() {
	stop_daemon
	ok $? "$1: relayqd exits 0 on SIGTERM"
	wait_for "QUIT at the server" 100 sh -c "grep -q '^QUIT ' '$MAILDIR/commands'"
	ok $? "$1: the server got QUIT after SIGTERM"
	is "$(grep -c "^QUIT session=[0-9]* tls=$2\$" "$MAILDIR/commands")" 1 \
	    "$1: one QUIT, tls=$2 ($(grep '^QUIT' "$MAILDIR/commands" 2>/dev/null | tr '\n' ' '))"
	grep -q 'shutting down' "$T_DIR/relayqd.log"
	ok $? "$1: shutdown logged"
	stop_server
}

idle "plain" "tls = none"
stopped "plain" False

idle "STARTTLS" "host = localhost
tls = starttls
$CA" $TLS
stopped "STARTTLS" True

idle "implicit TLS" "host = 127.0.0.1
tls = implicit
$CA" $TLS --implicit
stopped "implicit TLS" True

# A server that never answers QUIT: relayqd gives up after its bound
# (2 s) and exits 0; 60 s is only the test's own limit.
idle "no QUIT reply" "tls = none" --quit-stall
kill -TERM "$DAEMON_PID"
wait_for "relayqd to exit" 600 exited
ok $? "no QUIT reply: relayqd exits after one SIGTERM"
stop_daemon
ok $? "no QUIT reply: exit status 0"
grep -q '^QUIT session=1 tls=False$' "$MAILDIR/commands"
ok $? "no QUIT reply: the server got the QUIT"
grep -q 'session to .* ended: timeout waiting for the server' "$T_DIR/relayqd.log"
ok $? "no QUIT reply: the wait ended by its bound ($(grep 'ended:' "$T_DIR/relayqd.log" | tail -n 1))"
stop_server

# A second SIGTERM while the QUIT is unanswered: relayqd stops at once.
idle "second SIGTERM" "tls = none" --quit-stall
kill -TERM "$DAEMON_PID"
wait_for "QUIT at the server" 100 sh -c "grep -q '^QUIT ' '$MAILDIR/commands'"
ok $? "second SIGTERM: the server got the QUIT"
kill -TERM "$DAEMON_PID" 2>/dev/null
wait_for "relayqd to exit" 600 exited
ok $? "second SIGTERM: relayqd exits"
stop_daemon
ok $? "second SIGTERM: exit status 0"
stop_server

# close_notify after the 221: aiosmtpd cannot tell, so a scripted TLS
# peer (standard library) answers the dialogue and, after its 221,
# waits for the client's close_notify (SSLSocket.unwrap()), logging
# "close_notify" or what it got instead.  Both ways relayqd ends TLS:
# on the socket (implicit) and through the filter (STARTTLS).
cat > "$T_DIR/tlspeer.py" <<'PYEOF'
import socket, ssl, sys
mode, port, cert, key, log, ready = sys.argv[1:7]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', int(port)))
srv.listen(1)
srv.settimeout(60)
open(ready, 'w').close()
def note(x):
    with open(log, 'a') as f:
        f.write(x + '\n')
c, _ = srv.accept()
c.settimeout(60)
s = ctx.wrap_socket(c, server_side=True) if mode == 'implicit' else c
f = s.makefile('rb')
def send(x):
    s.sendall(x.encode() + b'\r\n')
send('220 peer.test ESMTP')
data = False
while True:
    line = f.readline()
    if not line:
        note('EOF before QUIT')
        break
    u = line.rstrip(b'\r\n').decode('latin-1').upper()
    if data:
        if u == '.':
            data = False
            send('250 2.0.0 queued')
    elif u.startswith('EHLO'):
        send('250-peer.test\r\n250 STARTTLS' if s is c else '250 peer.test')
    elif u == 'STARTTLS' and s is c:
        send('220 2.0.0 go ahead')
        s = ctx.wrap_socket(c, server_side=True)
        f = s.makefile('rb')
    elif u.startswith(('MAIL', 'RCPT', 'RSET', 'NOOP')):
        send('250 2.0.0 ok')
    elif u == 'DATA':
        data = True
        send('354 go ahead')
    elif u == 'QUIT':
        note('QUIT')
        send('221 2.0.0 bye')
        try:
            s.unwrap()
            note('close_notify')
        except Exception as e:
            note('no close_notify: ' + type(e).__name__)
        break
    else:
        send('500 5.5.1 unknown')
PYEOF
for mode in implicit starttls; do
	N=$((N + 1))
	rm -rf "$SPOOL" "$T_DIR/peer.log" "$T_DIR/peer.ready"
	: > "$T_DIR/relayqd.log"
	PORT=$(free_port)
	write_conf "idle_timeout = 3600s" "host = 127.0.0.1
tls = $mode
$CA"
	"$PYTHON3" "$T_DIR/tlspeer.py" $mode "$PORT" "$T_DIR/pki/good.crt" \
	    "$T_DIR/pki/good.key" "$T_DIR/peer.log" "$T_DIR/peer.ready" \
	    >>"$T_DIR/peer.err" 2>&1 &
	PEER_PID=$!
	T_PIDS="$T_PIDS $PEER_PID"
	wait_for "the TLS peer" 100 test -e "$T_DIR/peer.ready"
	start_daemon
	printf 'Subject: stop %s\n\nbody\n' "$N" | "$SENDMAIL" -i "stop$N@example.net"
	wait_for "empty queue" 150 queue_empty
	ok $? "$mode peer: delivered, the session idle"
	stop_daemon
	ok $? "$mode peer: relayqd exits 0 on SIGTERM"
	wait_for "the peer to finish" 300 sh -c "! kill -0 $PEER_PID 2>/dev/null"
	is "$(tr '\n' ' ' < "$T_DIR/peer.log" 2>/dev/null)" "QUIT close_notify " \
	    "$mode peer: QUIT, then close_notify after the 221"
	kill "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
done
done_testing
