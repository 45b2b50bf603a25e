#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Stopping relayqd (issue 12): on SIGTERM an idle session says QUIT
# (then, over TLS, sends close_notify) before relayqd exits, instead of
# dropping the connection (OpenSMTPD logged "unexpected eof").  Checked
# against aiosmtpd, which logs every QUIT it receives, for a plain, a
# STARTTLS and an implicit-TLS session kept idle (idle_timeout = 1 h);
# and relayqd still exits, after its short bound, when the server never
# answers the QUIT (one SIGTERM only: a second one would cut the wait).
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
done_testing
