#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# SMTP AUTH to the smarthost against a real server (aiosmtpd, STARTTLS with
# a test CA made here): PLAIN, LOGIN and auto deliver as the right user;
# implicit TLS with AUTH; a wrong password (535) defers and keeps the
# message; AUTH never goes out in clear unless allow_plaintext_auth = yes
# (relayqd refuses to start with tls = none, and a stripped STARTTLS holds
# the message before AUTH); XOAUTH2 with a token from password_command,
# and a refused token; a failing password_command defers before AUTH;
# password_command runs without a shell and again for every session; a
# reload that turns TLS off mid-STARTTLS fails only that session; a
# password file readable by others stops relayqd at start.  Throughout,
# relayqd must exit 0 when stopped (sanitizer builds report through the
# exit status), relayqd traces the SMTP dialogue (-T smtp,state) and
# at the end neither its logs, nor the spool, nor mailq, nor the argv and
# environment of relayqd and of the password_command child hold the
# secret in clear or in the base64 forms PLAIN, LOGIN and XOAUTH2 send.
. "$top_srcdir/tests/integration/lib.sh"

make_pki || { echo "Bail out! cannot make the test certificates"; exit 1; }
PORT=$(free_port)
CASE=0
ALLLOG=$T_DIR/relayqd-all.log
: > "$ALLLOG"

AUSER=relayuser
PASS='Zq7 rel4yq-s3cret!'
TOKEN='ya29.relayq-test-token-4f2a9c01'
printf '%s\n' "$PASS" > "$T_DIR/secret"
chmod 600 "$T_DIR/secret"
printf 'not the password\n' > "$T_DIR/wrong"
chmod 600 "$T_DIR/wrong"

# What PLAIN, LOGIN and XOAUTH2 put on the wire for these credentials.
B64_PLAIN=$(printf '\000%s\000%s' "$AUSER" "$PASS" | base64 -w0)
B64_LOGIN=$(printf '%s' "$PASS" | base64 -w0)
B64_XOAUTH2=$(printf 'user=%s\001auth=Bearer %s\001\001' "$AUSER" "$TOKEN" |
    base64 -w0)

# A password_command: records its argv and environment as the kernel sees
# them (/proc/self), counts its runs, then prints the secret from a file
# named by $SECRET_FILE in the script (never in its argv).
make_cmd() { # make_cmd NAME SECRET-FILE
	cat > "$T_DIR/$1" <<EOS
#!/bin/sh
echo "\$*" >> "$T_DIR/$1.runs"
tr '\\000' '\\n' < /proc/\$\$/cmdline >> "$T_DIR/$1.argv"
tr '\\000' '\\n' < /proc/\$\$/environ >> "$T_DIR/$1.environ"
exec cat "$2"
EOS
	chmod 755 "$T_DIR/$1"
}
printf '%s\n' "$TOKEN" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
make_cmd token.sh "$T_DIR/token"
make_cmd badtoken.sh "$T_DIR/wrong"
make_cmd pass.sh "$T_DIR/secret"

# new_case: fresh spool, mail dir and logs for the next case.
new_case() {
	CASE=$((CASE + 1))
	cat "$T_DIR/relayqd.log" >> "$ALLLOG" 2>/dev/null
	rm -rf "$SPOOL" "$MAILDIR"
	: > "$T_DIR/relayqd.log"
}

# send RCPT: queues one message.
send() {
	printf 'Subject: auth case %d\n\nbody\n' "$CASE" | "$SENDMAIL" -i "$1"
}

# delivered DESC MECH TLS: the message arrived, after AUTH MECH as AUSER,
# with or without TLS (true or false).
delivered() {
	wait_for "$1" 100 has_mail 1
	ok $? "$1: delivered"
	grep -q "^AUTH $2 $AUSER ok\$" "$MAILDIR/commands"
	ok $? "$1: the server saw AUTH $2 as $AUSER"
	grep -q "\"login\": \"$AUSER\"" "$MAILDIR/0001.env" &&
	    grep -q '"auth": true' "$MAILDIR/0001.env"
	ok $? "$1: the message came in an authenticated session"
	grep -q "\"tls\": $3" "$MAILDIR/0001.env"
	ok $? "$1: TLS was $3"
	grep -q "> AUTH $2 <redacted>" "$T_DIR/relayqd.log"
	ok $? "$1: the trace shows AUTH $2 <redacted>"
	grep -q 'status=sent' "$T_DIR/relayqd.log"
	ok $? "$1: logged status=sent"
}

# deferred DESC PATTERN: deferred with PATTERN in the log and in mailq,
# still queued, not bounced, and the server never got MAIL.
deferred() {
	wait_for "$1" 100 grep -q 'status=deferred' "$T_DIR/relayqd.log"
	ok $? "$1: message deferred"
	grep 'status=deferred' "$T_DIR/relayqd.log" | head -n 1 | grep -q "$2"
	ok $? "$1: reason names '$2'"
	wait_for "$1: the state saved" 100 state_saved
	"$RELAYQ" queue | grep -q "$2"
	ok $? "$1: relayq queue shows the reason"
	[ "$(queue_files)" -gt 0 ]
	ok $? "$1: the message is still queued"
	! grep -q 'status=failed' "$T_DIR/relayqd.log"
	ok $? "$1: nothing bounced"
	! grep -q '^MAIL' "$MAILDIR/commands" 2>/dev/null
	ok $? "$1: the server saw no MAIL"
	is "$(count_mail)" 0 "$1: nothing delivered"
}

# finish_case: stops relayqd, which must exit 0 (a sanitizer report
# would change that), and the server.
finish_case() {
	stop_daemon >/dev/null
	is "$?" 0 "case $CASE: relayqd stopped cleanly"
	stop_server
}

# refuses DESC PATTERN: relayqd exits non-zero at start, saying PATTERN.
refuses() {
	"$RELAYQD" -f -c "$CONF" >"$T_DIR/err" 2>&1 &
	_p=$!; T_PIDS="$T_PIDS $_p"
	wait $_p
	_rc=$?
	[ "$_rc" -ne 0 ]
	ok $? "$1: relayqd refuses to start (exit $_rc)"
	grep -qF -- "$2" "$T_DIR/err"
	ok $? "$1: the message says '$2'"
	cat "$T_DIR/err" >> "$ALLLOG"
}

STARTTLS="host = localhost
tls = starttls
ca_file = $PKI/ca.crt"
PWFILE="username = $AUSER
password_file = $T_DIR/secret"
GOOD="--tls-cert $PKI/good.crt --tls-key $PKI/good.key"

# 1-3. PLAIN, LOGIN, and auto (PLAIN is preferred to LOGIN) over STARTTLS.
for m in plain login auto; do
	new_case
	write_conf "" "$STARTTLS
$PWFILE
auth = $m"
	# shellcheck disable=SC2086
	start_server $GOOD --auth "$AUSER:$PASS"
	start_daemon -T smtp,state
	send a@example.net
	if [ $m = login ]; then mech=LOGIN; else mech=PLAIN; fi
	delivered "auth = $m" $mech true
	finish_case
done

# 4. Implicit TLS with AUTH.  (aiosmtpd counts only STARTTLS as TLS for
# its own AUTH rule, hence --auth-plaintext; relayqd sees TLS.)
new_case
write_conf "" "host = 127.0.0.1
tls = implicit
ca_file = $PKI/ca.crt
$PWFILE
auth = plain"
# shellcheck disable=SC2086
start_server $GOOD --implicit --auth "$AUSER:$PASS" --auth-plaintext
start_daemon -T smtp,state
send a@example.net
delivered "implicit TLS" PLAIN true
finish_case

# 5. A wrong password: 535, deferred (never bounced), retried, kept.
new_case
write_conf "" "$STARTTLS
username = $AUSER
password_file = $T_DIR/wrong"
# shellcheck disable=SC2086
start_server $GOOD --auth "$AUSER:$PASS"
start_daemon -T smtp,state
send a@example.net
deferred "wrong password" "535"
grep -q "^AUTH PLAIN $AUSER failed\$" "$MAILDIR/commands"
ok $? "wrong password: the server saw the failed AUTH"
wait_for "a second attempt" 100 grep -q 'tries=2 status=deferred' \
    "$T_DIR/relayqd.log"
ok $? "wrong password: retried later, deferred again"
! grep -rqF -- "$PASS" "$SPOOL" && ! grep -rqF -- "$B64_PLAIN" "$SPOOL"
ok $? "the spool holds no secret"
! "$RELAYQ" queue | grep -qF -- "$PASS"
ok $? "relayq queue shows no secret"
finish_case

# 6. AUTH with tls = none and no allow_plaintext_auth: refused at start.
new_case
write_conf "" "$PWFILE"
refuses "AUTH with tls = none" "allow_plaintext_auth"

# 7. tls = starttls, and a server offering AUTH in clear but no STARTTLS:
# held before AUTH.
new_case
write_conf "" "$STARTTLS
$PWFILE"
start_server --auth "$AUSER:$PASS" --auth-plaintext
start_daemon -T smtp,state
send a@example.net
deferred "AUTH offered, STARTTLS not" "STARTTLS not offered"
! grep -q '^AUTH' "$MAILDIR/commands" 2>/dev/null
ok $? "AUTH offered, STARTTLS not: the server saw no AUTH"
finish_case

# 8. allow_plaintext_auth = yes with tls = none: AUTH in clear, delivered.
new_case
write_conf "" "$PWFILE
allow_plaintext_auth = yes"
start_server --auth "$AUSER:$PASS" --auth-plaintext
start_daemon -T smtp,state
send a@example.net
delivered "allow_plaintext_auth = yes" PLAIN false
finish_case

# 9. XOAUTH2 with the token printed by password_command.
new_case
write_conf "" "$STARTTLS
username = $AUSER
password_command = $T_DIR/token.sh
auth = xoauth2"
# shellcheck disable=SC2086
start_server $GOOD --xoauth2 "$AUSER:$TOKEN"
start_daemon -T smtp,state
send a@example.net
delivered "XOAUTH2 from password_command" XOAUTH2 true
is "$(wc -l < "$T_DIR/token.sh.runs")" 1 "XOAUTH2: the token command ran once"
finish_case

# 10. A token the server refuses: its 334 error is answered, then 535.
new_case
write_conf "" "$STARTTLS
username = $AUSER
password_command = $T_DIR/badtoken.sh
auth = xoauth2"
# shellcheck disable=SC2086
start_server $GOOD --xoauth2 "$AUSER:$TOKEN"
start_daemon -T smtp,state
send a@example.net
deferred "XOAUTH2 token refused" "535"
grep -q "^AUTH XOAUTH2 $AUSER failed\$" "$MAILDIR/commands"
ok $? "XOAUTH2 token refused: the server saw the failed AUTH"
finish_case

# 10b. A password_command that fails: deferred with its exit status, and
# nothing of AUTH is sent.
new_case
write_conf "" "$STARTTLS
username = $AUSER
password_command = /bin/false"
# shellcheck disable=SC2086
start_server $GOOD --auth "$AUSER:$PASS"
start_daemon -T smtp,state
send a@example.net
deferred "failing password_command" \
    "password_command /bin/false exited with status 1"
! grep -q '^AUTH' "$MAILDIR/commands" 2>/dev/null
ok $? "failing password_command: the server saw no AUTH"
finish_case

# 11. password_command: no shell, and run again for every session.  The
# idle timeout (1 s) ends the first session before the second message.
new_case
write_conf "" "$STARTTLS
username = $AUSER
password_command = $T_DIR/pass.sh \$HOME *
auth = plain"
# shellcheck disable=SC2086
start_server $GOOD --auth "$AUSER:$PASS"
start_daemon -T smtp,state
send a@example.net
wait_for "first message" 100 has_mail 1
ok $? "password_command: first message delivered"
wait_for "the first session to end" 100 grep -q '> QUIT' "$T_DIR/relayqd.log"
ok $? "password_command: the first session ended (idle)"
send b@example.net
wait_for "second message" 100 has_mail 2
ok $? "password_command: second message delivered"
# (aiosmtpd numbers a session again after STARTTLS: compare, don't count)
s1=$(sed -n 's/.*"session": \([0-9]*\).*/\1/p' "$MAILDIR/0001.env")
s2=$(sed -n 's/.*"session": \([0-9]*\).*/\1/p' "$MAILDIR/0002.env")
[ -n "$s1" ] && [ -n "$s2" ] && [ "$s1" != "$s2" ]
ok $? "password_command: the two messages came in two sessions ($s1, $s2)"
is "$(grep -c "^AUTH PLAIN $AUSER ok\$" "$MAILDIR/commands")" 2 \
    "password_command: AUTH in each session"
is "$(wc -l < "$T_DIR/pass.sh.runs")" 2 \
    "password_command: run once per session"
is "$(head -n 1 "$T_DIR/pass.sh.runs")" "\$HOME *" \
    "password_command: arguments passed without a shell"
for f in "/proc/$DAEMON_PID/cmdline" "/proc/$DAEMON_PID/environ" \
    "$T_DIR/pass.sh.argv" "$T_DIR/pass.sh.environ" \
    "$T_DIR/token.sh.argv" "$T_DIR/token.sh.environ"; do
	# relayqd is not dumpable: only root may read its environment.
	if [ "$f" = "/proc/$DAEMON_PID/environ" ] && [ "$(id -u)" != 0 ]; then
		ok 0 "# SKIP $f is root's (relayqd is not dumpable)"
		continue
	fi
	[ -r "$f" ] && ! tr '\000' '\n' < "$f" | grep -qF -e "$PASS" \
	    -e "$TOKEN" -e "$B64_PLAIN" -e "$B64_XOAUTH2"
	ok $? "no secret in $(echo "$f" | sed "s|$T_DIR/||")"
done
finish_case

# 11b. A reload (SIGHUP) that turns TLS off while a session waits for its
# STARTTLS reply: that session is closed cleanly (it used to dereference
# the freed TLS context; since issue 15 the reload retires the changed
# smarthost and closes its sessions that are not ready yet), relayqd
# lives on, and nothing more is sent in clear.
# A scripted peer holds the 220 until the reload is done.
new_case
write_conf "" "$STARTTLS
$PWFILE"
cat > "$T_DIR/stall.t" <<EOF
S: 220 fake.test ESMTP
C: EHLO
S: 250-fake.test
S: 250-AUTH PLAIN LOGIN
S: 250 STARTTLS
C: STARTTLS
W: $T_DIR/go
S: 220 2.0.0 go ahead
EOF
rm -f "$T_DIR/go" "$T_DIR/fake.log"
"$PYTHON3" "$top_srcdir/tests/integration/fakesmtpd.py" --port "$PORT" \
    --script "$T_DIR/stall.t" --log "$T_DIR/fake.log" \
    --pidfile "$T_DIR/fake.pid" >/dev/null 2>&1 &
FAKE_PID=$!
T_PIDS="$T_PIDS $FAKE_PID"
wait_for "fake server" 50 test -s "$T_DIR/fake.pid"
start_daemon -T smtp,state
send a@example.net
wait_for "STARTTLS" 100 grep -q '^STARTTLS' "$T_DIR/fake.log"
ok $? "reload: the session sent STARTTLS"
write_conf "" "host = localhost
tls = none"
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 grep -q 'configuration reloaded' "$T_DIR/relayqd.log"
ok $? "reload: relayqd reloaded, tls = none"
touch "$T_DIR/go"
wait_for "the deferral" 100 grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "reload: the message was deferred"
grep -q 'closed before its first message: its smarthost was retired by a reload' \
    "$T_DIR/relayqd.log"
ok $? "reload: the session was closed by the reload, before any message"
kill -0 "$DAEMON_PID" 2>/dev/null
ok $? "reload: relayqd is still running"
is "$(grep -c . "$T_DIR/fake.log")" 2 "reload: only EHLO and STARTTLS were sent"
stop_daemon >/dev/null
is "$?" 0 "case $CASE: relayqd stopped cleanly"
kill "$FAKE_PID" 2>/dev/null

# 12. A password file readable by others, or by the group: refused.
for mode in 644 640; do
	new_case
	cp "$T_DIR/secret" "$T_DIR/open-$mode"
	chmod "$mode" "$T_DIR/open-$mode"
	write_conf "" "$STARTTLS
username = $AUSER
password_file = $T_DIR/open-$mode"
	refuses "password_file mode $mode" "$T_DIR/open-$mode"
	grep -q 'chmod 600' "$T_DIR/err"
	ok $? "password_file mode $mode: the message says how to fix it"
done

# 13. The secret never reached any log, though the dialogue was traced.
new_case
grep -q '<redacted>' "$ALLLOG"
ok $? "logs: the SMTP dialogue was traced"
! grep -Eq 'Sanitizer|runtime error' "$ALLLOG"
ok $? "logs: no sanitizer report"
# no_secret NAME VALUE: VALUE appears in no relayqd log.
no_secret() {
	! grep -qF -- "$2" "$ALLLOG"
	ok $? "logs: no $1"
}
no_secret password "$PASS"
no_secret "base64 PLAIN response" "$B64_PLAIN"
no_secret "base64 LOGIN password" "$B64_LOGIN"
no_secret "XOAUTH2 token" "$TOKEN"
no_secret "base64 XOAUTH2 response" "$B64_XOAUTH2"
done_testing
