#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# sendmail -v run by an ordinary user (nobody, when the test runs as root)
# never shows the AUTH exchange (issue 13, finding 1): against a real
# server (aiosmtpd over STARTTLS, with CRAM-MD5, SCRAM-SHA-256 and XOAUTH2
# handlers that record every challenge they send), for PLAIN, LOGIN,
# CRAM-MD5, SCRAM-SHA-256 (auth = auto), a refused SCRAM password and a
# refused XOAUTH2 token, the trace shows "AUTH MECH <redacted>", every
# line of the exchange in both directions as "<redacted>", and the final
# 235 or 535 as is; no challenge the server sent, no 334 line and no
# credential (clear or base64) appears.  Also the STARTTLS path under -v:
# the upgrade is shown (STARTTLS, 220, "TLS established", a second EHLO);
# and a stalling password_command: killed at relayqd's 10 s limit, the
# message deferred and kept, relayqd stopping cleanly afterwards.
. "$top_srcdir/tests/integration/lib.sh"

make_pki || { echo "Bail out! cannot make the test certificates"; exit 1; }
PORT=$(free_port)
AUSER=relayuser
PASS='Zq7 rel4yq-s3cret!'
TOKEN='ya29.relayq-verbose-token-77'
printf '%s\n' "$PASS" > "$T_DIR/secret"
printf 'not the password\n' > "$T_DIR/wrong"
printf 'not-the-token\n' > "$T_DIR/badtoken"
chmod 600 "$T_DIR/secret" "$T_DIR/wrong" "$T_DIR/badtoken"
SECRETS="$PASS
$TOKEN
$(printf '\000%s\000%s' "$AUSER" "$PASS" | base64 -w0)
$(printf '%s' "$PASS" | base64 -w0)
$(printf '%s' "$AUSER" | base64 -w0)
$(printf 'user=%s\001auth=Bearer %s\001\001' "$AUSER" "$TOKEN" | base64 -w0)
$(printf 'User Name\000' | base64 -w0)
$(printf 'Password\000' | base64 -w0)"
# (the last two: aiosmtpd's LOGIN challenges)

AS=""
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
	chmod 755 "$T_DIR"
else
	diag "not root or no setpriv: -v runs as $(id -un), not nobody"
fi

# shellcheck disable=SC2086
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" \
    --auth "$AUSER:$PASS" --auth-challenge --xoauth2 "$AUSER:$TOKEN"

# vcase_setup DELIVERY-LINES AUTH-LINES: relayqd on a fresh spool over
# STARTTLS with AUTH-LINES, its spool and -v socket open to the user.
vcase_setup() {
	stop_daemon >/dev/null 2>&1
	rm -rf "$SPOOL"
	write_conf "$1" "host = localhost
tls = starttls
ca_file = $PKI/ca.crt
username = $AUSER
$2"
	chmod 644 "$CONF"
	start_daemon
	wait_for "the -v socket" 100 test -S "$SPOOL/verbose" &&
	    wait_started
	chmod 1777 "$SPOOL/tmp" "$SPOOL/incoming"
	chmod 666 "$SPOOL/verbose"
}

# vcase DESC AUTH-LINES MECH FINAL EXIT REDACTED: restarts relayqd with
# AUTH-LINES, has the user run sendmail -v, and checks its stderr.  MECH
# is the mechanism the server must have seen, FINAL the final reply code,
# EXIT sendmail's exit status, REDACTED the least number of server lines
# shown as "<redacted>".
vcase() {
	: > "$MAILDIR/challenges"
	vcase_setup "" "$2"
	printf 'Subject: %s\n\nbody\n' "$1" |
	    $AS "$SENDMAIL" -v -i a@example.net >/dev/null 2>"$T_DIR/err"
	is "$?" "$5" "$1: sendmail -v exits $5"
	grep -q "^AUTH $3 $AUSER " "$MAILDIR/commands"
	ok $? "$1: the server saw AUTH $3"
	grep -q "^>>> AUTH $3 <redacted>\$" "$T_DIR/err"
	ok $? "$1: AUTH $3 <redacted> is shown"
	grep -q "^<<< $4 " "$T_DIR/err"
	ok $? "$1: the final $4 is shown as is"
	# Between AUTH and the final reply: nothing but <redacted>.
	sed -n "/^>>> AUTH /,/^<<< $4 /p" "$T_DIR/err" | sed '1d;$d' |
	    grep -v -e '^>>> <redacted>$' -e '^<<< <redacted>$' > "$T_DIR/leak"
	[ ! -s "$T_DIR/leak" ]
	ok $? "$1: every line of the exchange is <redacted>"
	[ "$(grep -c '^<<< <redacted>$' "$T_DIR/err")" -ge "$6" ]
	ok $? "$1: at least $6 server line(s) shown as <redacted>"
	! grep -q '^<<< 334' "$T_DIR/err"
	ok $? "$1: no 334 line"
	_leak=0
	while read -r _c; do
		[ -n "$_c" ] && grep -qF -- "$_c" "$T_DIR/err" && _leak=1
	done < "$MAILDIR/challenges"
	printf '%s\n' "$SECRETS" > "$T_DIR/secrets"
	while read -r _c; do
		[ -n "$_c" ] && grep -qF -- "$_c" "$T_DIR/err" && _leak=1
	done < "$T_DIR/secrets"
	[ "$(grep -c . "$MAILDIR/challenges")" -ge "${7:-0}" ] &&
	    [ $_leak -eq 0 ]
	ok $? "$1: no challenge the server sent and no credential appears"
	[ $_leak -eq 0 ] || sed 's/^/#   /' "$T_DIR/err"
}

PWFILE="password_file = $T_DIR/secret"
vcase "PLAIN" "$PWFILE
auth = plain" PLAIN 235 0 0
# The STARTTLS path under -v: the upgrade, then EHLO again, then AUTH.
grep -q '^>>> STARTTLS$' "$T_DIR/err" && grep -q '^<<< 220 ' "$T_DIR/err" &&
    grep -q '^\*\*\* TLS established (TLSv1\.[23])$' "$T_DIR/err" &&
    [ "$(grep -c '^>>> EHLO ' "$T_DIR/err")" -eq 2 ]
ok $? "STARTTLS under -v: the upgrade and the second EHLO are shown"
sed -n '/^\*\*\* TLS established/,$p' "$T_DIR/err" | grep -q '^>>> AUTH PLAIN'
ok $? "STARTTLS under -v: AUTH only after TLS"
grep -q '^relayq: delivered$' "$T_DIR/err"
ok $? "PLAIN: delivered"

vcase "LOGIN" "$PWFILE
auth = login" LOGIN 235 0 2
vcase "CRAM-MD5" "$PWFILE
auth = cram-md5" CRAM-MD5 235 0 1 1
vcase "auto picks SCRAM-SHA-256" "$PWFILE
auth = auto" SCRAM-SHA-256 235 0 2 2
vcase "SCRAM-SHA-256, wrong password" "password_file = $T_DIR/wrong
auth = scram-sha-256" SCRAM-SHA-256 535 69 1 1
grep -q '^relayq: not delivered now: .*535' "$T_DIR/err"
ok $? "SCRAM-SHA-256, wrong password: sendmail says why (535)"
vcase "XOAUTH2, token refused" "password_file = $T_DIR/badtoken
auth = xoauth2" XOAUTH2 535 69 1 1

# A stalling password_command: bounded by relayqd's 10 s limit and
# killed; the -v run says why, the message is deferred and stays queued.
cat > "$T_DIR/stall.sh" <<EOS
#!/bin/sh
echo \$\$ > "$T_DIR/stall.pid"
exec sleep 600
EOS
chmod 755 "$T_DIR/stall.sh"
vcase_setup "retry_min = 1h
retry_max = 2h" "password_command = $T_DIR/stall.sh
auth = plain"
printf 'Subject: stall\n\nbody\n' |
    $AS "$SENDMAIL" -v -i a@example.net >/dev/null 2>"$T_DIR/err"
is "$?" 69 "stalling password_command: sendmail -v exits 69"
grep -q '^relayq: not delivered now: .*password_command .* timed out' "$T_DIR/err"
ok $? "stalling password_command: -v says it timed out"
grep -q 'status=deferred (.*password_command .* timed out' "$T_DIR/relayqd.log"
ok $? "stalling password_command: the message is deferred, with the reason"
[ "$(ls "$SPOOL/queue" | wc -l)" -eq 1 ]
ok $? "stalling password_command: the message stays queued"
spid=$(cat "$T_DIR/stall.pid" 2>/dev/null)
[ -n "$spid" ] && ! kill -0 "$spid" 2>/dev/null
ok $? "stalling password_command: the command was killed"

stop_daemon
ok $? "relayqd exits 0"
done_testing
