#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# relayq probe against real servers (aiosmtpd, a test CA made here): plain,
# STARTTLS, implicit TLS, a wrong certificate name, AUTH refused, no AUTH
# offered, Exchange Online's 550 5.7.30 refusal of passwords, tls and port
# mixed up both ways, and nothing listening.  Each
# case checks the exit code, the closing sentence, and what the server
# saw.  --rcpt: the server records MAIL, RCPT and RSET and never DATA, and
# nothing is stored.  The secret never appears in the output, in clear or
# in base64.  --smarthost NAME probes a [smarthost NAME] with its own
# login.  A configuration relayqd refuses is refused (78), and a user
# who cannot read relayqd's secret is told so (77) before any connection.
# relayq probe and relayqd are not dumpable and have no core file limit
# but 0 (no token or password in a core dump).  OAuth2: the probe gets
# the access token from the fake provider (fakeoauth2.py) as relayqd
# does, stores the rotated refresh token, and authenticates with XOAUTH2
# or OAUTHBEARER to aiosmtpd; invalid_grant, an unreachable endpoint and
# a missing refresh token each give their exit code and sentence.
. "$top_srcdir/tests/integration/lib.sh"
# The test CA ($PKI), $PORT, and the fake OAuth2 provider (section 13).
. "$top_srcdir/tests/integration/oauth2.sh"

CA="ca_file = $T_DIR/pki/ca.crt"
AUSER=alice@example.org
PASS='Pr0be s3cret!'
printf '%s\n' "$PASS" > "$T_DIR/secret"
chmod 600 "$T_DIR/secret"
B64_PLAIN=$(printf '\000%s\000%s' "$AUSER" "$PASS" | base64 -w0)
LOGIN="username = $AUSER
password_file = $T_DIR/secret"
OUT=$T_DIR/probe.out

# probe DESC WANT-EXIT SENTENCE-PATTERN [ARGS...]: runs relayq probe and
# checks its exit code and that its last line (the sentence) matches.
probe() {
	desc=$1 want=$2 pat=$3
	shift 3
	"$RELAYQ" probe "$@" > "$OUT" 2> "$T_DIR/probe.err"
	rc=$?
	is "$rc" "$want" "$desc: exit $want"
	tail -n 1 "$OUT" | grep -Eq "$pat"
	ok $? "$desc: says '$pat' ($(tail -n 1 "$OUT"))"
	! grep -Fq -e "$PASS" -e "$B64_PLAIN" "$OUT" "$T_DIR/probe.err"
	ok $? "$desc: no secret in the output"
	[ "$rc" = "$want" ] || sed 's/^/# /' "$OUT" "$T_DIR/probe.err"
}

# case_start SMARTHOST-LINES SERVER-ARGS...: fresh mail dir and config.
case_start() {
	conf=$1
	shift
	rm -rf "$MAILDIR"
	write_conf "" "$conf"
	start_server "$@"
}

no_data() { # no_data DESC: the server saw RSET, no DATA, stored nothing
	grep -q '^RSET$' "$MAILDIR/commands" &&
	    ! grep -q '^DATA' "$MAILDIR/commands"
	ok $? "$1: RSET and no DATA at the server"
	is "$(count_mail)" 0 "$1: nothing stored"
}

GOOD="--tls-cert $T_DIR/pki/good.crt --tls-key $T_DIR/pki/good.key"

# 1. plain, no AUTH, with a recipient
case_start ""
probe "plain" 0 "accepts mail from <> to <bob@example.net>" \
    --rcpt bob@example.net
grep -q '^S: 220 ' "$OUT" && grep -q '^C: EHLO relayq.test$' "$OUT"
ok $? "plain: greeting and EHLO shown"
grep -q '^RCPT bob@example.net 250$' "$MAILDIR/commands"
ok $? "plain: the server saw RCPT"
no_data "plain"
stop_server

# 2. STARTTLS with AUTH; --from and --rcpt
case_start "host = localhost
tls = starttls
$CA
$LOGIN" $GOOD --auth "$AUSER:$PASS"
probe "STARTTLS + AUTH" 0 "accepts mail from <a@example.org> to <b@example.net>.*nothing was sent" \
    --rcpt b@example.net --from a@example.org
[ "$(grep -c '^C: EHLO' "$OUT")" = 2 ] &&
    grep -q '^C: STARTTLS$' "$OUT"
ok $? "STARTTLS: EHLO, STARTTLS, EHLO again"
grep -q '^\* certificate subject: CN=good$' "$OUT" &&
    grep -q '^\* certificate issuer: CN=relayq test CA$' "$OUT" &&
    grep -q '^\* certificate expires: 20[0-9-]* [0-9:]* UTC$' "$OUT" &&
    grep -q '^\* certificate verification: ok$' "$OUT"
ok $? "STARTTLS: subject, issuer, expiry and verification shown"
grep -q '^C: AUTH PLAIN <redacted>$' "$OUT" && grep -q '^S: 235 ' "$OUT"
ok $? "STARTTLS: AUTH shown redacted, and its result"
grep -q "^AUTH PLAIN $AUSER ok\$" "$MAILDIR/commands" &&
    grep -q '^MAIL a@example.org tls=True auth=True$' "$MAILDIR/commands"
ok $? "STARTTLS: the server saw AUTH, then MAIL over TLS"
no_data "STARTTLS"
stop_server

# 3. implicit TLS with AUTH, no recipient (aiosmtpd does not see its own
# implicit TLS: it offers AUTH only with --auth-plaintext)
case_start "host = 127.0.0.1
tls = implicit
$CA
$LOGIN" $GOOD --implicit --auth "$AUSER:$PASS" --auth-plaintext
probe "implicit TLS" 0 "accepts the login.*add --rcpt"
grep -q '^\* certificate verification: ok$' "$OUT" &&
    ! grep -q '^C: STARTTLS' "$OUT"
ok $? "implicit TLS: certificate shown, no STARTTLS"
! grep -q '^MAIL' "$MAILDIR/commands"
ok $? "implicit TLS: no MAIL without --rcpt"
stop_server

# 4. a certificate for another name
case_start "host = localhost
tls = starttls
$CA
$LOGIN" --tls-cert "$T_DIR/pki/wrong.crt" --tls-key "$T_DIR/pki/wrong.key" \
    --auth "$AUSER:$PASS"
probe "wrong certificate name" 78 \
    "does not name localhost \\(it names wrong.example\\): set host"
grep -q '^\* certificate verification: hostname mismatch$' "$OUT"
ok $? "wrong name: the verification result shown"
! grep -q '^C: AUTH' "$OUT" && ! grep -q '^AUTH' "$MAILDIR/commands" 2>/dev/null
ok $? "wrong name: no AUTH sent"
stop_server

# 5. AUTH refused (wrong password)
printf 'not it\n' > "$T_DIR/wrong"
chmod 600 "$T_DIR/wrong"
case_start "host = localhost
tls = starttls
$CA
username = $AUSER
password_file = $T_DIR/wrong" $GOOD --auth "$AUSER:$PASS"
probe "AUTH refused" 77 "refused the login of $AUSER \\(535.*check username and the password in"
grep -q "^AUTH PLAIN $AUSER failed\$" "$MAILDIR/commands"
ok $? "AUTH refused: the server saw the failed AUTH"
stop_server

# 6. no AUTH offered: port 587 without STARTTLS
case_start "host = localhost
tls = none
allow_plaintext_auth = yes
$LOGIN" $GOOD --auth "$AUSER:$PASS"
probe "no AUTH offered" 78 \
    "offers no AUTH on this unencrypted connection: with port $PORT use tls = starttls"
! grep -q '^AUTH' "$MAILDIR/commands" 2>/dev/null
ok $? "no AUTH offered: nothing sent"
stop_server

# 7. 550 5.7.30: the tenant refuses passwords
case_start "host = localhost
tls = starttls
$CA
$LOGIN" $GOOD --auth "$AUSER:$PASS" \
    --auth-reply "550 5.7.30 Basic authentication is not supported for Client Submission"
probe "550 5.7.30" 77 \
    "^550 5.7.30: this tenant refuses passwords; set auth = xoauth2 and run relayq oauth2 login.$"
grep -q '^AUTH PLAIN ? refused$' "$MAILDIR/commands"
ok $? "5.7.30: the server refused AUTH PLAIN"
stop_server

# 6b. tls mixed up with the port, both ways
case_start "host = localhost
tls = starttls
$CA" $GOOD --implicit
probe "STARTTLS against implicit TLS" 75 \
    "sent no greeting.*set tls = implicit" --timeout 5s
stop_server
case_start "host = localhost
tls = implicit
$CA" $GOOD
probe "implicit TLS against STARTTLS" 78 \
    "does not speak TLS from the first byte on port $PORT: set tls = starttls"
stop_server

# 8. nothing listens: unavailable
PORT2=$(free_port)
write_conf "" "port = $PORT2"
probe "nothing listens" 69 "Nothing accepts connections on 127.0.0.1 port $PORT2"

# 8b. --smarthost NAME probes that section, with its own credentials,
# while [smarthost] is dead (issue 15).
rm -rf "$MAILDIR"
write_conf "" "port = $PORT2"
cat >> "$CONF" <<EOC

[smarthost alt]
host = localhost
port = $PORT
tls = starttls
$CA
$LOGIN
EOC
start_server $GOOD --auth "$AUSER:$PASS"
probe "--smarthost alt" 0 "accepts the login" --smarthost alt
grep -q "^\* smarthost alt: localhost port $PORT, tls = starttls, auth = auto as $AUSER\$" "$OUT"
ok $? "--smarthost alt: names the section, its host and login"
grep -q "^AUTH PLAIN $AUSER ok\$" "$MAILDIR/commands"
ok $? "--smarthost alt: the server saw that section's login"
probe "without --smarthost: [smarthost]" 69 "Nothing accepts connections on 127.0.0.1 port $PORT2"
"$RELAYQ" probe --smarthost nosuch > "$OUT" 2> "$T_DIR/probe.err"
is "$?" 64 "--smarthost nosuch: exit 64"
grep -q "^relayq: probe: --smarthost nosuch: $CONF has no \[smarthost nosuch\] (its smarthosts: default, alt)\$" "$T_DIR/probe.err"
ok $? "--smarthost nosuch: says so ($(cat "$T_DIR/probe.err"))"
stop_server

# 9. a configuration relayqd refuses: AUTH with tls = none
write_conf "" "$LOGIN"
"$RELAYQ" probe > "$OUT" 2> "$T_DIR/probe.err"
is "$?" 78 "AUTH with tls = none: exit 78"
grep -q 'tls = none.*allow_plaintext_auth' "$T_DIR/probe.err"
ok $? "AUTH with tls = none: relayqd's reason ($(cat "$T_DIR/probe.err"))"

# 10. a user who cannot read the secret: told before any connection
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	case_start "host = localhost
tls = starttls
$CA
$LOGIN" $GOOD --auth "$AUSER:$PASS"
	chmod 755 "$T_DIR"
	chmod 644 "$CONF"
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	    "$RELAYQ" -c "$CONF" probe > "$OUT" 2> "$T_DIR/probe.err"
	is "$?" 77 "not relayqd's user: exit 77"
	grep -q "cannot read password_file $T_DIR/secret.*run relayq probe as root or as relayqd's user" \
	    "$T_DIR/probe.err"
	ok $? "not relayqd's user: says so ($(cat "$T_DIR/probe.err"))"
	! grep -q '^EHLO' "$MAILDIR/sessions" 2>/dev/null
	ok $? "not relayqd's user: no connection made"
	stop_server

	# 11. root reads the secret as relayqd's user (the spool's owner)
	mkdir -p "$T_DIR/nspool"
	cp "$T_DIR/secret" "$T_DIR/nsecret"
	chown nobody "$T_DIR/nspool" "$T_DIR/nsecret"
	SPOOL=$T_DIR/nspool case_start "host = localhost
tls = starttls
$CA
username = $AUSER
password_file = $T_DIR/nsecret" $GOOD --auth "$AUSER:$PASS"
	probe "root, secret owned by the spool's owner" 0 "accepts the login"
	grep -q "^\* reading the secret as uid $(id -u nobody) " "$OUT"
	ok $? "root: became the spool's owner to read the secret"
	chmod 700 "$T_DIR"
	stop_server
else
	for i in 1 2 3 4 5 6 7; do
		ok 0 "# SKIP needs root and setpriv"
	done
fi

# 12. no secret in a core dump: relayqd and relayq probe set RLIMIT_CORE
# to 0 and are not dumpable.  The kernel gives the /proc files of a
# process that is not dumpable to root (user and group), whatever it runs
# as: run as root, the process gets another group (setpriv) so that the
# two cases differ.
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null && NODUMP_RUN="setpriv --regid=nogroup --clear-groups --" || NODUMP_RUN=""
else
	NODUMP_RUN=""
fi
# not_dumpable PID: PID runs with a uid or gid other than 0, yet its
# /proc files are root's.
not_dumpable() {
	ids=$(awk '/^Uid:/ { u = $3 } /^Gid:/ { g = $3 } END { print u, g }' \
	    "/proc/$1/status")
	own=$(stat -c '%u %g' "/proc/$1/status")
	diag "pid $1: euid and egid $ids; /proc/$1/status owned by $own"
	[ "$ids" != "0 0" ] && [ "$own" = "0 0" ]
}
core_off() { grep -Eq '^Max core file size +0 +0 ' "/proc/$1/limits"; }
if [ "$(id -u)" = 0 ] && [ -z "$NODUMP_RUN" ]; then
	for i in 1 2 3 4 5; do
		ok 0 "# SKIP as root this needs setpriv"
	done
else
	# relayq probe, caught while it waits for a greeting that never comes
	write_conf "" ""
	rm -f "$T_DIR/silent.listening" "$T_DIR/silent.accepted"
	"$PYTHON3" -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
open(sys.argv[2], "w").close()
c, _ = s.accept()
open(sys.argv[3], "w").close()
time.sleep(120)' "$PORT" "$T_DIR/silent.listening" "$T_DIR/silent.accepted" &
	SILENT_PID=$!
	T_PIDS="$T_PIDS $SILENT_PID"
	wait_for "the silent server" 100 test -e "$T_DIR/silent.listening"
	$NODUMP_RUN "$RELAYQ" -c "$CONF" probe --timeout 100s > "$OUT" 2>&1 &
	PROBE_PID=$!
	T_PIDS="$T_PIDS $PROBE_PID"
	wait_for "relayq probe to connect" 300 test -e "$T_DIR/silent.accepted"
	not_dumpable "$PROBE_PID"
	ok $? "relayq probe is not dumpable (its /proc files are root's)"
	core_off "$PROBE_PID"
	ok $? "relayq probe: core file size limit 0"
	kill "$PROBE_PID" "$SILENT_PID" 2>/dev/null
	wait "$PROBE_PID" "$SILENT_PID" 2>/dev/null
	# relayqd, on a spool of its own
	printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$NODUMP_RUN" "$RELAYQD" \
	    > "$T_DIR/relayqd.wrap"
	chmod 755 "$T_DIR/relayqd.wrap"
	KEEP_SPOOL=$SPOOL KEEP_RELAYQD=$RELAYQD
	SPOOL=$T_DIR/dspool RELAYQD=$T_DIR/relayqd.wrap
	write_conf "" ""
	start_daemon
	SPOOL=$KEEP_SPOOL RELAYQD=$KEEP_RELAYQD
	wait_started
	not_dumpable "$DAEMON_PID"
	ok $? "relayqd is not dumpable (its /proc files are root's)"
	core_off "$DAEMON_PID"
	ok $? "relayqd: core file size limit 0"
	stop_daemon
	is $? 0 "relayqd exits 0 (no sanitizer report)"
fi

# 13. OAuth2: the access token comes from the token endpoint through
# liboauth2, as relayqd gets it; the rotated refresh token is stored.
# oprobe DESC WANT-EXIT SENTENCE-PATTERN [ARGS...]: probe, then no token
# the fake issued, nor the client secret, in the output.
oprobe() {
	probe "$@"
	"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
for t in list(d["refresh"]) + list(d["access"]):
    if t: print(t)' "$OSTATE" > "$T_DIR/secrets"
	printf '%s\nrt-initial\n' "$SECRET" >> "$T_DIR/secrets"
	! grep -qFf "$T_DIR/secrets" "$OUT" "$T_DIR/probe.err"
	ok $? "$1: no token or client secret in the output"
}
printf 'rt-initial\n' > "$RTFILE"
chmod 600 "$RTFILE"
start_oauth2 --lifetime 3600
rm -rf "$MAILDIR"
start_server $GOOD --xoauth2 "$AUSER:" --oauth2-state "$OSTATE"
oauth_conf
oprobe "OAuth2 XOAUTH2" 0 \
    "accepts mail from <$AUSER> to <bob@example.net>" --rcpt bob@example.net
grep -q '^\* OAuth2: access token <redacted>, expires in 3600s$' "$OUT" &&
    grep -q '^C: AUTH XOAUTH2 <redacted>$' "$OUT" && grep -q '^S: 235 ' "$OUT"
ok $? "OAuth2 XOAUTH2: the token fetched and sent, shown redacted"
grep -q "^\\* OAuth2: the provider rotated the refresh token; the new one is stored in $RTFILE\$" "$OUT"
ok $? "OAuth2 XOAUTH2: says the rotated refresh token was stored"
grep -q "^AUTH XOAUTH2 $AUSER ok\$" "$MAILDIR/commands"
ok $? "OAuth2 XOAUTH2: the server accepted the token the endpoint issued"
is "$(grep -c 'grant=refresh_token result=ok' "$OLOG")" 1 \
    "OAuth2 XOAUTH2: one refresh_token grant"
is "$(cat "$RTFILE")" "$(ostate current)" \
    "OAuth2 XOAUTH2: the rotated refresh token is stored"
is "$(stat -c %a "$RTFILE")" 600 "OAuth2 XOAUTH2: token file mode 0600"
no_data "OAuth2 XOAUTH2"
# The old refresh token is spent: a second probe works only with the
# stored one.
oprobe "OAuth2 with the rotated token" 0 "accepts the login"
is "$(grep -c 'grant=refresh_token result=ok' "$OLOG")" 2 \
    "OAuth2 with the rotated token: a second grant"
is "$(cat "$RTFILE")" "$(ostate current)" \
    "OAuth2 with the rotated token: the newest one is stored"
# client_credentials with OAUTHBEARER
oauth_conf "auth = oauthbearer
oauth2_grant = client_credentials
oauth2_refresh_token_file ="
oprobe "OAuth2 OAUTHBEARER" 0 "accepts the login"
grep -q "^AUTH OAUTHBEARER $AUSER ok\$" "$MAILDIR/commands"
ok $? "OAuth2 OAUTHBEARER: the server accepted the client_credentials token"
# invalid_grant: no SMTP session at all
oauth_conf
echo invalid_grant > "$OCTL"
n=$(grep -c . "$MAILDIR/sessions")
oprobe "OAuth2 invalid_grant" 77 \
    "refused the refresh token \(invalid_grant.*\): run relayq oauth2 login\.$"
grep -q '^\* OAuth2: token endpoint .* refused the refresh token: ' "$OUT"
ok $? "OAuth2 invalid_grant: the endpoint's answer shown"
is "$(grep -c . "$MAILDIR/sessions")" "$n" \
    "OAuth2 invalid_grant: no SMTP session"
: > "$OCTL"
# a refresh token file that is not there yet
mv "$RTFILE" "$RTFILE.kept"
oprobe "OAuth2 without a refresh token" 78 \
    "no usable refresh token in $RTFILE: run relayq oauth2 login\.$"
mv "$RTFILE.kept" "$RTFILE"
# the token endpoint down
stop_oauth2
oprobe "OAuth2 endpoint down" 69 \
    "token endpoint https://127.0.0.1:$OPORT/token cannot be reached or is failing: check oauth2_token_url"
grep -q "^\* OAuth2: token endpoint https://127.0.0.1:$OPORT/token: connection refused" "$OUT"
ok $? "OAuth2 endpoint down: why ($(grep '^\* OAuth2: token' "$OUT"))"
is "$(grep -c . "$MAILDIR/sessions")" "$n" "OAuth2 endpoint down: no SMTP session"
stop_server

done_testing
