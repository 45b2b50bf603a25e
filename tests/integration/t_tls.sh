#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# TLS to the smarthost against a real TLS server (aiosmtpd with a test CA
# made here): STARTTLS and implicit TLS deliver; a wrong host name, an
# expired certificate, an unknown CA, a stripped STARTTLS, data injected
# after STARTTLS's 220 and a pin mismatch all hold the message, and the
# server never sees MAIL.  Pins and client certificates work.
. "$top_srcdir/tests/integration/lib.sh"

make_pki || { echo "Bail out! cannot make the test certificates"; exit 1; }
PORT=$(free_port)
CASE=0

# new_case: fresh spool, mail dir and logs for the next case.
new_case() {
	CASE=$((CASE + 1))
	rm -rf "$SPOOL" "$MAILDIR"
	: > "$T_DIR/relayqd.log"
}

# send RCPT: queues one message.
send() {
	printf 'Subject: tls case %d\n\nbody\n' "$CASE" | "$SENDMAIL" -i "$1"
}

# delivered DESC: the message reached the server over TLS.
delivered() {
	wait_for "$1" 100 has_mail 1
	ok $? "$1: delivered"
	grep -q '"tls": true' "$MAILDIR/0001.env"
	ok $? "$1: the server saw TLS"
	grep -q 'status=sent' "$T_DIR/relayqd.log" &&
	    grep -Eq 'tls=TLSv1\.[23] ' "$T_DIR/relayqd.log"
	ok $? "$1: log line has tls= and status=sent"
}

# held DESC PATTERN: deferred with PATTERN in the log and in mailq, and
# the server never got MAIL.
held() {
	wait_for "$1" 100 grep -q 'status=deferred' "$T_DIR/relayqd.log"
	ok $? "$1: message deferred"
	grep 'status=deferred' "$T_DIR/relayqd.log" | head -n 1 | grep -q "$2"
	ok $? "$1: reason names '$2'"
	wait_for "$1: the state saved" 100 state_saved
	! grep -q '^MAIL' "$MAILDIR/commands" 2>/dev/null
	ok $? "$1: the server saw no MAIL"
	! grep -q '^AUTH' "$MAILDIR/commands" 2>/dev/null
	ok $? "$1: the server saw no AUTH"
	"$RELAYQ" queue | grep -q "$2"
	ok $? "$1: relayq queue shows the reason"
	is "$(count_mail)" 0 "$1: nothing delivered"
}

finish_case() {
	stop_daemon >/dev/null
	stop_server
}

# big DESC: a 600 KB body (dot lines, read in chunks under TLS) arrives
# intact; the server stores it dot-unstuffed with CRLF.
big() {
	awk 'BEGIN { printf "Subject: big\n\n";
	    for (i = 0; i < 8000; i++)
		    printf "%s%05d %s\n", (i % 7 == 0 ? "." : ""), i,
			"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz" }
	    END { printf ".\n" }' > "$T_DIR/big.txt" </dev/null
	"$SENDMAIL" -i b@example.net < "$T_DIR/big.txt"
	wait_for "$1" 200 has_mail 1
	ok $? "$1: delivered"
	# the front end adds headers: compare what follows the blank line
	sed '1,/^$/d; s/$/\r/' "$T_DIR/big.txt" > "$T_DIR/big.crlf"
	sed '1,/^\r$/d' "$MAILDIR/0001.eml" | cmp -s - "$T_DIR/big.crlf"
	ok $? "$1: the body arrived intact"
	grep -q '"tls": true' "$MAILDIR/0001.env"
	ok $? "$1: the server saw TLS"
}

CA="ca_file = $T_DIR/pki/ca.crt"

new_case
write_conf "" "host = localhost
tls = starttls
$CA"
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key"
start_daemon
send a@example.net
delivered "STARTTLS, verified"
[ "$(grep -c EHLO "$MAILDIR/sessions")" -ge 2 ]
ok $? "STARTTLS: EHLO sent again after the handshake"
finish_case

new_case
write_conf "" "host = 127.0.0.1
tls = implicit
$CA"
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" --implicit
start_daemon
send a@example.net
delivered "implicit TLS to an IP address, verified"
finish_case

for mode in starttls implicit; do
	new_case
	write_conf "" "host = 127.0.0.1
tls = $mode
$CA"
	if [ $mode = implicit ]; then
		start_server --tls-cert "$PKI/good.crt" \
		    --tls-key "$PKI/good.key" --implicit
	else
		start_server --tls-cert "$PKI/good.crt" \
		    --tls-key "$PKI/good.key"
	fi
	start_daemon
	big "600 KB body over $mode"
	finish_case
done

new_case
write_conf "" "host = localhost
tls = starttls
$CA"
start_server --tls-cert "$PKI/wrong.crt" --tls-key "$PKI/wrong.key"
start_daemon
send a@example.net
held "wrong host name" "hostname mismatch"
finish_case

new_case
start_server --tls-cert "$PKI/expired.crt" --tls-key "$PKI/expired.key"
start_daemon
send a@example.net
held "expired certificate" "certificate has expired"
finish_case

new_case
start_server --tls-cert "$PKI/self.crt" --tls-key "$PKI/self.key"
start_daemon
send a@example.net
held "self-signed certificate" "self-signed certificate"
finish_case

new_case
start_server
start_daemon
send a@example.net
held "STARTTLS stripped" "STARTTLS not offered"
finish_case

new_case
"$PYTHON3" "$top_srcdir/tests/integration/fakesmtpd.py" --port "$PORT" \
    --script "$top_srcdir/tests/integration/cases/001-starttls-injection.t" \
    --log "$T_DIR/fake.log" --pidfile "$T_DIR/fake.pid" >/dev/null 2>&1 &
FAKE_PID=$!
T_PIDS="$T_PIDS $FAKE_PID"
wait_for "fake server" 50 test -s "$T_DIR/fake.pid"
# The fake serves one session: a retry would meet a refused connection
# and replace the reason that relayq queue must show.  None comes soon.
printf 'retry_min = 1h\nretry_max = 1h\nprobe_max = 1h\n' >> "$CONF"
conf_merge "$CONF"
start_daemon
send a@example.net
held "data after STARTTLS 220" "data after its STARTTLS reply"
is "$(grep -c . "$T_DIR/fake.log")" 2 "injection: only EHLO and STARTTLS were sent"
stop_daemon >/dev/null
kill "$FAKE_PID" 2>/dev/null

FP=$(openssl x509 -in "$PKI/self.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
new_case
write_conf "" "host = localhost
tls = starttls
tls_fingerprint = sha256:$FP"
start_server --tls-cert "$PKI/self.crt" --tls-key "$PKI/self.key"
start_daemon
send a@example.net
delivered "pinned self-signed certificate"
finish_case

GOODFP=$(openssl x509 -in "$PKI/good.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
new_case
write_conf "" "host = localhost
tls = starttls
tls_fingerprint = sha256:$GOODFP"
start_server --tls-cert "$PKI/self.crt" --tls-key "$PKI/self.key"
start_daemon
send a@example.net
held "pin mismatch" "matches no tls_fingerprint"
finish_case

new_case
write_conf "" "host = localhost
tls = starttls
$CA
tls_cert = $PKI/client.crt
tls_key = $PKI/client.key"
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" --client-ca "$PKI/ca.crt"
start_daemon
send a@example.net
delivered "client certificate"
finish_case

new_case
write_conf "" "host = localhost
tls = starttls
tls_verify = no"
start_server --tls-cert "$PKI/self.crt" --tls-key "$PKI/self.key"
start_daemon
send a@example.net
delivered "tls_verify = no"
grep -q 'tls_verify = no' "$T_DIR/relayqd.log"
ok $? "tls_verify = no is logged as a warning at start"
finish_case

# Bad TLS settings stop relayqd at start with a clear message.
write_conf "" "tls = starttls
tls_fingerprint = sha256:nothex"
"$RELAYQD" -f -c "$CONF" 2>"$T_DIR/err" &
p=$!; T_PIDS="$T_PIDS $p"; wait $p
is "$?" 1 "a malformed tls_fingerprint: relayqd refuses to start"
grep -q 'tls_fingerprint' "$T_DIR/err"
ok $? "the error names tls_fingerprint"

# The TLS context is built at the first session, but wrong files are
# still reported at start: a missing ca_file, one without PEM data, a
# key that does not match the client certificate.
# refused DESC KEY SETTINGS...
refused() {
	_d=$1; _k=$2; shift 2
	write_conf "" "tls = starttls
$*"
	"$RELAYQD" -f -c "$CONF" 2>"$T_DIR/err" &
	p=$!; T_PIDS="$T_PIDS $p"; wait $p
	is "$?" 1 "$_d: relayqd refuses to start"
	grep -q "$_k" "$T_DIR/err"
	ok $? "$_d: the error names $_k"
}
refused "a missing ca_file" ca_file "ca_file = $T_DIR/nonexistent.pem"
printf 'not a certificate\n' > "$T_DIR/junk.pem"
refused "a ca_file without PEM data" ca_file "ca_file = $T_DIR/junk.pem"
refused "a missing ca_path" ca_path "ca_path = $T_DIR/nonexistent.d"
refused "a client key that does not match" tls_key \
    "tls_cert = $PKI/client.crt
tls_key = $PKI/good.key"

# On reload (SIGHUP) a bad ca_file keeps the old configuration.
new_case
write_conf "" "host = localhost
tls = starttls
$CA"
start_daemon
wait_for "relayqd to start" 100 grep -q started "$T_DIR/relayqd.log"
write_conf "" "host = localhost
tls = starttls
ca_file = $T_DIR/nonexistent.pem"
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 grep -q 'reload failed' "$T_DIR/relayqd.log"
ok $? "reload with a missing ca_file: refused"
grep 'reload failed' "$T_DIR/relayqd.log" | grep -q ca_file
ok $? "reload with a missing ca_file: the error names ca_file"
kill -0 "$DAEMON_PID"
ok $? "reload with a missing ca_file: relayqd is still running"
write_conf "" "host = localhost
tls = starttls
$CA"
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key"
send a@example.net
delivered "after the refused reload, the old ca_file"
finish_case
done_testing
