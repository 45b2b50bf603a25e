#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# relayq send end to end: a message composed with a UTF-8 subject, a
# body with an over-long line, a binary attachment (NUL and 0xFF bytes)
# and one with a UTF-8 name goes through sendmail and relayqd to a real
# aiosmtpd; Python's email package checks what arrived (headers decoded,
# attachments byte-identical, every recipient of "A <a@x>; B <b@y>"
# delivered in one transaction); the printed id is the one relayq queue
# and relayqd's log show.  Bad inputs (a missing file, a bad address,
# CR/LF in --subject, --to or --header, an attachment over
# max_message_size, a sendmail that cannot run) fail with a clear
# message and the sysexits code, and queue nothing; sendmail's own
# refusal (max_recipients) comes back as relayq's exit status; --from
# is refused to users when allow_from_override is off.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf
relayq() { "$RELAYQ" -c "$CONF" "$@"; }
send() { relayq send --sendmail "$SENDMAIL" "$@"; }
CR=$(printf '\r')
LF='
'

# The files: binary with NUL and 0xFF, a UTF-8 name, a body with UTF-8
# and a 2000-octet line.
"$PYTHON3" - "$T_DIR" <<'EOF'
import os, sys
d = sys.argv[1]
open(os.path.join(d, 'bin.dat'), 'wb').write(
    bytes(range(256)) * 40 + b'\0\xff' * 100 + b'\r\n.\r\n')
open(os.path.join(d, 'r\u00e9sum\u00e9.txt'), 'wb').write(b'caf\xc3\xa9\n')
open(os.path.join(d, 'body.txt'), 'w', encoding='utf-8').write(
    'Gr\u00fc\u00dfe from relayq send\n' + 'x' * 2000 + '\n.\nend\n')
EOF
RESUME=$T_DIR/$(printf 'r\303\251sum\303\251.txt')

# 1. The smarthost is down: the message waits in the queue.
start_daemon
wait_for "spool" 100 test -d "$SPOOL/failed"
ok $? "relayqd created the spool"
SUBJECT=$(printf 'Gr\303\274\303\237e \342\200\224 disk full on db1 \342\234\223')
ID=$(send --from "Ops Team <ops@example.org>" \
    --to "Ann <a@example.net>; Bob <b@example.net>" --cc c@example.net \
    --subject "$SUBJECT" --body-file "$T_DIR/body.txt" \
    --attach "$T_DIR/bin.dat" --attach "$RESUME" \
    --header "X-Alert: disk" 2>"$T_DIR/err1")
ok $? "send exits 0"
echo "$ID" | grep -Eq '^[0-9A-F]{20}$'
ok $? "prints the bare queue id ($ID)"
is "$(cat "$T_DIR/err1")" "" "nothing on stderr"
wait_for "message in queue/" 100 test -f "$SPOOL/queue/$ID"
ok $? "the id is the spool's"
relayq queue | grep -q "^$ID "
ok $? "relayq queue lists the printed id"

# 2. The smarthost comes up: one transaction, three recipients.
start_server
relayq flush >/dev/null 2>&1
wait_for "delivery" 150 has_mail 1
ok $? "delivered"
wait_for "queue empty" 100 queue_empty
ok $? "queue empty after delivery"
grep -q "^relayqd: $ID: to=<a@example.net> .*status=sent" "$T_DIR/relayqd.log"
ok $? "relayqd logged the delivery under the printed id"
is "$(count_mail)" 1 "one message stored"
EML=$(ls "$MAILDIR"/*.eml | head -n 1)
is "$("$PYTHON3" -c 'import json, sys
e = json.load(open(sys.argv[1]))
print(e["mail_from"], " ".join(sorted(e["rcpt_tos"])))' "${EML%.eml}.env")" \
    "ops@example.org a@example.net b@example.net c@example.net" \
    "envelope: --from and every --to/--cc recipient"

# 3. What arrived, checked with Python's email package.
"$PYTHON3" - "$EML" "$T_DIR" "$SUBJECT" > "$T_DIR/check" 2>&1 <<'EOF'
import email, email.policy, os, sys
eml, d, subject = sys.argv[1], sys.argv[2], sys.argv[3]
raw = open(eml, 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
def check(cond, what):
    print(('ok ' if cond else 'FAIL ') + what)
check(not m.defects, 'no parse defects: %r' % m.defects)
check(m['Subject'] == subject, 'subject round-trips: %r' % m['Subject'])
f = m['From'].addresses[0]
check((f.display_name, f.addr_spec) == ('Ops Team', 'ops@example.org'),
      'From: %r' % m['From'])
to = [(a.display_name, a.addr_spec) for a in m['To'].addresses]
check(to == [('Ann', 'a@example.net'), ('Bob', 'b@example.net')],
      'To: %r' % to)
check([a.addr_spec for a in m['Cc'].addresses] == ['c@example.net'], 'Cc')
check(m['Date'] is not None and m['Message-ID'] is not None,
      'Date and Message-ID added')
check(m['MIME-Version'] == '1.0', 'MIME-Version')
check(m['X-Alert'] == 'disk', 'X-Alert header')
check(m.get_content_type() == 'multipart/mixed', 'multipart/mixed')
parts = list(m.iter_parts())
check(len(parts) == 3, '3 parts')
body = open(os.path.join(d, 'body.txt'), encoding='utf-8').read()
check(parts[0].get_content_type() == 'text/plain' and
      parts[0].get_content().replace('\r\n', '\n') == body,
      'text part first and equal to the body file')
check(parts[0]['Content-Transfer-Encoding'] == 'quoted-printable',
      'over-long line: quoted-printable')
b = open(os.path.join(d, 'bin.dat'), 'rb').read()
check(parts[1].get_filename() == 'bin.dat' and
      parts[1].get_payload(decode=True) == b,
      'binary attachment byte-identical')
check(parts[1].get_content_type() == 'application/octet-stream',
      'unknown type: application/octet-stream')
check(parts[2].get_filename() == 'r\u00e9sum\u00e9.txt' and
      parts[2].get_payload(decode=True) == b'caf\xc3\xa9\n' and
      parts[2].get_content_type() == 'text/plain',
      'UTF-8 file name (RFC 2231), text/plain, content')
lines = raw.split(b'\r\n')
check(max(len(l) for l in lines) <= 998, 'no line over 998 octets')
EOF
ok $? "python email check ran"
while IFS= read -r line; do
	case $line in
	"ok "*) ok 0 "email: ${line#ok }" ;;
	*) ok 1 "email: $line" ;;
	esac
done < "$T_DIR/check"

# 4. Body from stdin, a bare local part, the default From.
ID2=$(printf 'from stdin\n' | send --to root --subject plain --body-file -)
ok $? "send with --body-file - exits 0"
wait_for "second delivery" 150 has_mail 2
ok $? "delivered"
EML2=$(ls "$MAILDIR"/*.eml | sort | sed -n 2p)
is "$("$PYTHON3" -c 'import email, email.policy, json, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(),
                             policy=email.policy.default)
e = json.load(open(sys.argv[1][:-4] + ".env"))
print(m["From"].addresses[0].addr_spec, m["To"], e["rcpt_tos"][0],
      m.get_content_type(), m["Content-Transfer-Encoding"],
      m.get_content().strip())' "$EML2")" \
    "$(id -un)@example.org root@example.org root@example.org text/plain 7bit from stdin" \
    "default From, bare recipient qualified, single text/plain part"
grep -q "^relayqd: $ID2: to=<root@example.org> .*status=sent" "$T_DIR/relayqd.log"
ok $? "second id in relayqd's log"

# 5. Bad inputs: a clear message, the sysexits code, nothing queued.
NMAIL=$(count_mail)
# bad EXPECTED-STATUS MESSAGE-REGEX DESCRIPTION -- send arguments...
bad() {
	_want=$1 _re=$2 _desc=$3
	shift 4
	_out=$(send "$@" 2>"$T_DIR/err")
	_rc=$?
	is "$_rc" "$_want" "$_desc: exit $_want"
	grep -Eq -e "$_re" "$T_DIR/err"
	_st=$?
	ok $_st "$_desc: says \"$_re\""
	if [ $_st -ne 0 ] || [ "$_rc" != "$_want" ]; then
		diag "stderr: $(cat "$T_DIR/err")"
	fi
	is "$_out" "" "$_desc: no id printed"
	queue_empty
	ok $? "$_desc: nothing queued"
}
bad 66 "attachment $T_DIR/missing: No such file" "missing attachment" -- \
    --to a@example.net --body x --attach "$T_DIR/missing"
bad 66 "body file .*: No such file" "missing body file" -- \
    --to a@example.net --body-file "$T_DIR/missing"
bad 64 'invalid address "a@@example.net"' "bad address" -- \
    --to "ok@example.net; a@@example.net" --body x
bad 64 "no address given" "empty --to" -- --to "" --body x
bad 64 "groups .* not supported" "group in --to" -- \
    --to "team: a@example.net;" --body x
bad 65 "control character" "CR LF in --to" -- \
    --to "a@example.net${CR}${LF}Bcc: evil@example.net" --body x
bad 65 "--subject: control character" "header injection in --subject" -- \
    --to a@example.net --subject "hi${CR}${LF}Bcc: evil@example.net" --body x
bad 65 "--subject: control character" "LF in --subject" -- \
    --to a@example.net --subject "hi${LF}X-Evil: 1" --body x
bad 65 "control character" "header injection in --header" -- \
    --to a@example.net --header "X-A: 1${CR}${LF}Bcc: evil@example.net" \
    --body x
bad 64 "cannot set Subject" "reserved --header" -- \
    --to a@example.net --header "Subject: x" --body x
bad 64 "exactly one of --body and --body-file" "no body" -- \
    --to a@example.net
bad 64 "--to is required" "no --to" -- --body x
bad 64 "unknown option --bcc" "unknown option" -- \
    --to a@example.net --bcc b@example.net --body x
relayq send --sendmail "$T_DIR/nosendmail" --to a@example.net --body x \
    2>"$T_DIR/err"
is "$?" 69 "sendmail that cannot run: exit 69"
grep -q "cannot run $T_DIR/nosendmail: No such file" "$T_DIR/err"
ok $? "sendmail that cannot run: says why"
is "$(count_mail)" "$NMAIL" "no bad input reached the server"

# 6. Limits from the config: max_message_size bounds an attachment;
# sendmail's own refusal (max_recipients) is relayq's exit status.
sed 's/^default_domain = example.org$/&\
max_message_size = 2k\
max_recipients = 1/' "$CONF" > "$T_DIR/small.conf"
head -c 3000 "$T_DIR/bin.dat" > "$T_DIR/big.dat"
small() { "$RELAYQ" -c "$T_DIR/small.conf" send --sendmail "$SENDMAIL" "$@"; }
out=$(small --to a@example.net --body x --attach "$T_DIR/big.dat" 2>&1)
is "$?" 65 "attachment over max_message_size: exit 65"
echo "$out" | grep -q "big.dat is larger than max_message_size"
ok $? "says the attachment is too large"
head -c 1200 "$T_DIR/bin.dat" > "$T_DIR/half.dat"
out=$(small --to a@example.net --body x --attach "$T_DIR/half.dat" \
    --attach "$T_DIR/half.dat" 2>&1)
is "$?" 65 "attachments together over max_message_size: exit 65"
echo "$out" | grep -q "half.dat is larger than max_message_size (2048 bytes) allows"
ok $? "says so: $out"
small --to a@example.net --body x --body-file /dev/null 2>/dev/null
is "$?" 64 "--body with --body-file: exit 64"
out=$(small --to "a@example.net, b@example.net" --body x 2>&1)
is "$?" 64 "sendmail refuses too many recipients: its exit status 64"
echo "$out" | grep -q "too many recipients"
ok $? "sendmail's message is shown: $out"
queue_empty
ok $? "nothing queued by the limits"
is "$(count_mail)" "$NMAIL" "nothing more reached the server"

# 7. --from is for root, or for anyone with allow_from_override = yes,
# as for sendmail -f; run as nobody when we are root.
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    $NOBODY test -x "$RELAYQ"; then
	mkdir "$T_DIR/pub" && chmod 711 "$T_DIR" && chmod 755 "$T_DIR/pub"
	sed 's/^default_domain = example.org$/&\
allow_from_override = no/' "$CONF" > "$T_DIR/pub/relayq.conf"
	chmod 644 "$T_DIR/pub/relayq.conf"
	out=$($NOBODY "$RELAYQ" -c "$T_DIR/pub/relayq.conf" send \
	    --sendmail "$SENDMAIL" --from boss@example.org --to a@example.net \
	    --body x 2>&1)
	is "$?" 64 "--from by a user without allow_from_override: exit 64"
	echo "$out" | grep -q "only root may choose the sender"
	ok $? "says why: $out"
	chmod 700 "$T_DIR"
	queue_empty
	ok $? "nothing queued"
else
	diag "not root or no setpriv: --from as another user not tested"
fi

stop_daemon
ok $? "relayqd exits 0"
done_testing
