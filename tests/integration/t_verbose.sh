#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# sendmail -v: the message is queued, relayqd delivers it at once through
# its <spool>/verbose socket, and the SMTP dialogue with the real server
# (aiosmtpd) is printed on stderr with AUTH redacted.  Exit 0 when
# delivered; 69 with the reason when not, the message staying queued.
# Also: no daemon, -odq, and a user who may not watch another's message.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
AUSER=relayq-user
PASS='s3cret-Pa55'
printf '%s\n' "$PASS" > "$T_DIR/secret"
chmod 600 "$T_DIR/secret"
write_conf "" "username = $AUSER
password_file = $T_DIR/secret
allow_plaintext_auth = yes"
start_server --auth "$AUSER:$PASS" --auth-plaintext \
    --rcpt-reply 'later=451 4.3.0 try again later' \
    --rcpt-reply 'nobody=550 5.1.1 no such user'
start_daemon
wait_for "the -v socket" 100 test -S "$SPOOL/verbose" &&
    wait_started
ok $? "relayqd listens on <spool>/verbose"

# 1. Delivered: exit 0, the dialogue, AUTH redacted.
printf 'Subject: verbose one\n\nhello\n' |
    "$SENDMAIL" -v -i ok@example.net >"$T_DIR/out" 2>"$T_DIR/err"
is "$?" 0 "-v: exit 0 when delivered"
grep -q '^<<< 220 ' "$T_DIR/err" && grep -q '^>>> EHLO relayq.test' "$T_DIR/err" &&
    grep -q '^>>> MAIL FROM:<root@example.org>' "$T_DIR/err" &&
    grep -q '^>>> RCPT TO:<ok@example.net>' "$T_DIR/err" &&
    grep -q '^<<< 250 2.0.0 Ok: queued as' "$T_DIR/err"
ok $? "-v: the SMTP dialogue is shown"
grep -q '^>>> AUTH PLAIN <redacted>' "$T_DIR/err"
ok $? "-v: AUTH shown as <redacted>"
b64=$(printf '\0%s\0%s' "$AUSER" "$PASS" | base64)
! grep -q -e "$PASS" -e "$b64" "$T_DIR/err"
ok $? "-v: the secret never appears, in clear or base64"
grep -q '^relayq: recipient sent ok@example.net 250' "$T_DIR/err" &&
    grep -q '^relayq: delivered$' "$T_DIR/err"
ok $? "-v: per-recipient result and the verdict"
[ ! -s "$T_DIR/out" ]
ok $? "-v: nothing on stdout"
has_mail 1
ok $? "-v: the message is at the server"

# 2. Not delivered: one 550, one 451.  Exit 69, reasons, still queued.
printf 'Subject: verbose two\n\nhello\n' |
    "$SENDMAIL" -v -i nobody@example.net later@example.net >/dev/null 2>"$T_DIR/err"
is "$?" 69 "-v: exit 69 when not delivered"
grep -q '^relayq: recipient failed nobody@example.net 550 5.1.1' "$T_DIR/err" &&
    grep -q '^relayq: recipient deferred later@example.net 451 4.3.0' "$T_DIR/err"
ok $? "-v: why, per recipient"
grep -q 'stays queued' "$T_DIR/err"
ok $? "-v: says the message stays queued"
id=$(grep -o 'queued as [0-9A-F]*' "$T_DIR/err" | head -1 | cut -d' ' -f3)
[ -n "$id" ] && [ -e "$SPOOL/queue/$id" ]
ok $? "-v: the deferred message is still in the queue"

# 3. -odq wins: queued, no delivery attempt, exit 0.
printf 'Subject: verbose odq\n\nx\n' | "$SENDMAIL" -v -odq -i q@example.net 2>"$T_DIR/err"
is "$?" 0 "-v -odq: exit 0"
! grep -q '^>>> ' "$T_DIR/err"
ok $? "-v -odq: no delivery shown"

# 4. Another user may not watch someone else's message.
chmod 755 "$T_DIR"
chmod 666 "$SPOOL/verbose"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PYTHON3" - "$SPOOL/verbose" "$id" \
    > "$T_DIR/other" 2>&1 <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(("V" + sys.argv[2] + "\n").encode())
print(s.makefile().read().strip())
PYEOF
grep -q '^RESULT error permission denied' "$T_DIR/other"
ok $? "-v socket: another uid cannot watch (SO_PEERCRED)"
printf 'Vnot-an-id\n' | "$PYTHON3" -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read()); print(s.makefile().read().strip())' "$SPOOL/verbose" > "$T_DIR/bad"
grep -q '^RESULT error bad request' "$T_DIR/bad"
ok $? "-v socket: a malformed request is refused"

# 5. No daemon: exit 69, queued, the reason said.
stop_daemon
ok $? "relayqd exits 0"
[ ! -e "$SPOOL/verbose" ]
ok $? "the socket is removed at exit"
printf 'Subject: verbose three\n\nx\n' | "$SENDMAIL" -v -i z@example.net 2>"$T_DIR/err"
is "$?" 69 "-v without relayqd: exit 69"
grep -q 'stays queued' "$T_DIR/err"
ok $? "-v without relayqd: says the message stays queued"
grep -l 'Subject: verbose three' "$SPOOL"/incoming/* >/dev/null
ok $? "-v without relayqd: the message is queued"
done_testing
