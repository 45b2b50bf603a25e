#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Bounces and delay notices (issue #4): RFC 3464 reports in an RFC 6522
# multipart/report, sent with the null sender through the smarthost.
# Cases: 250, 451 and 550 on three recipients of one message (exactly one
# bounce, for the 550 one; the 451 one retried alone; the 250 one never
# sent again); the whole message returned and a copy to the operator;
# a null-sender message that fails; expiry with one delay notice and
# exactly one bounce; expiry while the smarthost is down; 552 after the
# final dot and 550 right after the DATA reply (smtp-sink), whose
# bounces are refused too and go to failed/ instead of bouncing again;
# a recipient whose wrapped address puts '.' at the start of a text line
# (issue 13: one RCPT, one bounce); a bounce to root goes through the
# aliases, and its Message-ID is its queue id (issue 12).  Each report that arrives is parsed with
# Python's email package and checked field by field.
. "$top_srcdir/tests/integration/lib.sh"

SINK_DIR=$(sh "$top_srcdir/contrib/postfix-tools.sh" \
    "$top_builddir/postfix-tools" 2>/dev/null) || SINK_DIR=
LOGN=0

skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP $2"
}

# fresh DELIVERY-LINES: stops relayqd, empties the spool, new config.
fresh() {
	[ -n "${DAEMON_PID:-}" ] && stop_daemon >/dev/null 2>&1
	DAEMON_PID=
	if [ -f "$T_DIR/relayqd.log" ]; then
		LOGN=$((LOGN + 1))
		mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.$LOGN.log"
	fi
	rm -rf "$SPOOL" "$T_DIR"/mail*
	MAILDIR=$T_DIR/mail
	PORT=$(free_port)
	write_conf "$1"
}

logc() { grep -c -- "$1" "$T_DIR/relayqd.log" 2>/dev/null; }
logged() { grep -q -- "$1" "$T_DIR/relayqd.log" 2>/dev/null; }

# bounces: the stored messages that came with the null sender.
bounces() {
	grep -lE '"mail_from": "(<>)?"' "$MAILDIR"/*.env 2>/dev/null |
	    sed 's/\.env$/.eml/'
}
nbounces() { bounces | grep -c .; }
has_bounces() { [ "$(nbounces)" -ge "$1" ]; }

# failed_files: messages in failed/ (without their .state files).
failed_files() { ls "$SPOOL/failed" 2>/dev/null | grep -v '\.state$'; }
nfailed() { failed_files | grep -c .; }
has_failed() { [ "$(nfailed)" -ge "$1" ]; }

# check_dsn FILE KIND [key=value...]: parses the report in FILE (an .eml
# as received, or a queue file with "queue" as KIND's prefix) and prints
# "ok WHAT" or "FAIL WHAT" lines for each check; see the keys below.
check_dsn() {
	"$PYTHON3" - "$@" <<'PYEOF'
import email, email.policy, re, sys
path, kind = sys.argv[1], sys.argv[2]
want = dict(a.split('=', 1) for a in sys.argv[3:])
raw = open(path, 'rb').read()
if kind.startswith('queue'):
    # A queue file: the body sits between "B0:\n" and the trailer, in
    # wire form (dot-stuffed).
    head, _, rest = raw.partition(b'\nB0:\n')
    body = rest[:rest.rstrip(b'\n').rfind(b'\n') + 1]
    raw = re.sub(rb'(?m)^\.\.', b'.', body)
    kind = kind[len('queue-'):]
def check(cond, what):
    print(('ok ' if cond else 'FAIL ') + what)
check(re.search(rb'(?<!\r)\n', raw) is None, 'CRLF line ends only')
msg = email.message_from_bytes(raw, policy=email.policy.compat32)
check('MAILER-DAEMON@relayq.test' in msg.get('From', ''),
      'From: MAILER-DAEMON@hostname')
check(msg.get('To', '') == '<%s>' % want.get('to', 'sender@example.org'),
      'To: the envelope sender')
check(msg.get('Auto-Submitted') == 'auto-replied', 'Auto-Submitted: auto-replied')
check(msg.get('Date') is not None and msg.get('Message-ID') is not None,
      'Date and Message-ID')
check(msg.get_content_type() == 'multipart/report' and
      msg.get_param('report-type') == 'delivery-status',
      'multipart/report; report-type=delivery-status')
parts = msg.get_payload() if msg.is_multipart() else []
check(len(parts) == 3, 'three parts (%d)' % len(parts))
if len(parts) != 3:
    sys.exit(0)
text = parts[0].get_payload(decode=True).decode('ascii', 'replace')
check(parts[0].get_content_type() == 'text/plain', 'part 1 text/plain')
if 'text' in want:
    check(want['text'] in text, 'human part quotes %r' % want['text'])
check(parts[1].get_content_type() == 'message/delivery-status',
      'part 2 message/delivery-status')
blocks = parts[1].get_payload()
check(len(blocks) == 1 + int(want.get('nrcpt', '1')),
      'per-message block and %s recipient block(s)' % want.get('nrcpt', '1'))
permsg = blocks[0]
check(permsg.get('Reporting-MTA') == 'dns; relayq.test', 'Reporting-MTA')
check(permsg.get('Arrival-Date') is not None, 'Arrival-Date')
rcpt = blocks[1] if len(blocks) > 1 else {}
check(rcpt.get('Final-Recipient') == 'rfc822; ' + want['rcpt'],
      'Final-Recipient rfc822; ' + want['rcpt'])
check(rcpt.get('Action') == kind, 'Action: ' + kind)
check(rcpt.get('Status') == want['status'], 'Status: %s (%s)' %
      (want['status'], rcpt.get('Status')))
diag = re.sub(r'\s+', ' ', rcpt.get('Diagnostic-Code', ''))
check(want['diag'] in diag, 'Diagnostic-Code has %r (%s)' % (want['diag'], diag))
check(rcpt.get('Last-Attempt-Date') is not None, 'Last-Attempt-Date')
check((rcpt.get('Will-Retry-Until') is not None) == (kind == 'delayed'),
      'Will-Retry-Until only for a delay')
orig = parts[2]
check(orig.get_content_type() == want.get('orig', 'text/rfc822-headers'),
      'part 3 is ' + want.get('orig', 'text/rfc822-headers'))
o = orig.as_bytes()
if 'subject' in want:
    check(('Subject: ' + want['subject']).encode() in o,
          'original header returned')
if 'body' in want:
    check(want['body'].encode() in o, 'original body returned')
else:
    check(b'BODYMARK' not in o, 'original body not returned')
PYEOF
}

# report WHAT FILE KIND ARGS...: runs check_dsn and turns its lines into
# TAP results prefixed with WHAT.
report() {
	_what=$1
	shift
	check_dsn "$@" 2>&1 | sed -e '/^ok /b' -e '/^FAIL /b' -e 's/^/FAIL /' \
	    > "$T_DIR/dsn.out"
	[ -s "$T_DIR/dsn.out" ] || echo "FAIL checker printed nothing" > "$T_DIR/dsn.out"
	while read -r res what; do
		[ "$res" = ok ]
		ok $? "$_what: $what"
	done < "$T_DIR/dsn.out"
}

mail() { # mail FROM SUBJECT RCPT...
	_from=$1 _subj=$2
	shift 2
	printf 'Subject: %s\n\nBODYMARK line\n.dot line\n' "$_subj" |
	    "$SENDMAIL" -i -f "$_from" "$@"
}

# ---- 1. 250, 451 and 550 on three recipients of one message.
fresh "retry_min = 1s
retry_max = 2s"
start_server --rcpt-reply 'tempfail=451 4.3.0 try again later' \
    --rcpt-reply 'reject=550 5.1.1 no such user'
start_daemon
mail sender@example.org mixed good@example.net tempfail@example.net \
    reject@example.net
ok $? "mixed: queued for three recipients"
wait_for "bounce" 100 has_bounces 1
ok $? "mixed: a bounce arrived"
wait_for "second try of the 451 recipient" 100 sh -c \
    "[ \$(grep -c 'to=<tempfail@example.net>.*status=deferred' '$T_DIR/relayqd.log') -ge 2 ]"
ok $? "mixed: the 451 recipient is retried"
wait_for "the state saved" 100 state_saved 2
"$RELAYQ" queue > "$T_DIR/mailq.mixed" 2>&1
grep -q 'tempfail@example.net  (deferred)' "$T_DIR/mailq.mixed"
ok $? "mixed: relayq queue shows the 451 recipient deferred"
grep -q 'reject@example.net  (failed)' "$T_DIR/mailq.mixed" &&
    grep -q '(550 5.1.1 no such user)' "$T_DIR/mailq.mixed"
ok $? "mixed: relayq queue shows the 550 recipient failed, with its reply"
grep -q '(1 recipient delivered)' "$T_DIR/mailq.mixed"
ok $? "mixed: relayq queue counts the delivered recipient"
is "$(nbounces)" 1 "mixed: exactly one bounce"
B=$(bounces)
is "$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["rcpt_tos"])' "${B%.eml}.env")" \
    "['sender@example.org']" "mixed: the bounce went to the envelope sender"
report "mixed bounce" "$B" failed rcpt=reject@example.net status=5.1.1 \
    "diag=smtp; 550 5.1.1 no such user" "text=550 5.1.1 no such user" \
    subject=mixed
is "$(logc 'to=<good@example.net>')" 1 "mixed: the 250 recipient was sent once"
is "$(logc 'to=<reject@example.net>')" 1 "mixed: the 550 recipient was tried once"
stop_server
FIRST=$MAILDIR
MAILDIR=$T_DIR/mail.2
start_server
wait_for "451 recipient delivered" 100 logged 'to=<tempfail@example.net>.*status=sent'
ok $? "mixed: the 451 recipient delivered once the server accepts it"
wait_for "empty queue" 50 queue_empty
ok $? "mixed: the message left the queue"
is "$(count_mail)" 1 "mixed: one more transaction after the restart"
is "$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["rcpt_tos"])' "$MAILDIR/0001.env")" \
    "['tempfail@example.net']" "mixed: the retry carried only the 451 recipient"
is "$(cat "$FIRST"/*.env "$MAILDIR"/*.env | grep -c '"good@example.net"')" 1 \
    "mixed: the 250 recipient never got the message twice"
is "$(nbounces)" 0 "mixed: no second bounce"
stop_server

# ---- 2. The whole message returned, and a copy to the operator.
fresh "retry_min = 1s
retry_max = 2s
bounce_full_message = yes
bounce_copy_to = postmaster@example.org"
start_server --rcpt-reply 'reject=550 5.1.1 no such user'
start_daemon
mail sender@example.org full reject@example.net
wait_for "bounce" 100 has_bounces 1
ok $? "full: a bounce arrived"
B=$(bounces)
is "$("$PYTHON3" -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["rcpt_tos"]))' "${B%.eml}.env")" \
    "sender@example.org postmaster@example.org" \
    "full: the bounce went to the sender and to bounce_copy_to"
report "full bounce" "$B" failed rcpt=reject@example.net status=5.1.1 \
    "diag=550 5.1.1" orig=message/rfc822 subject=full \
    "body=.dot line"
stop_server

# ---- 3. A null-sender message that fails goes to failed/, no bounce.
fresh "retry_min = 1s
retry_max = 2s"
start_server --rcpt-reply 'reject=550 5.1.1 no such user'
start_daemon
mail '<>' nullsender reject@example.net
wait_for "failed/" 100 has_failed 1
ok $? "null sender: the failed message is in failed/"
logged 'no bounce for a message with the null sender'
ok $? "null sender: logged that no bounce is sent"
logged 'moved to failed/ (null sender'
ok $? "null sender: logged the move"
wait_for "empty queue" 100 queue_empty
ok $? "null sender: the queue is empty"
# A bounce would have been queued before the message left the queue.
is "$(logc 'bounce .* queued')" 0 "null sender: no bounce queued"
is "$(nbounces)" 0 "null sender: no bounce produced"
test -f "$SPOOL/failed/$(failed_files).state"
ok $? "null sender: its state file explains the failure"
stop_server

# ---- 4. Expiry: one delay notice, then exactly one bounce.  The notice
# is due after 2 s, the bounce after 10 s: a wide margin for a loaded
# machine, where the tries may come late.
fresh "retry_min = 1s
retry_max = 1s
max_queue_lifetime = 10s
delay_warning = 2s
scan_interval = 1s"
start_server --rcpt-reply 'slow=451 4.3.0 try again later'
start_daemon
mail sender@example.org expiring slow@example.net
wait_for "delay notice and bounce" 150 has_bounces 2
ok $? "expiry: two reports arrived"
wait_for "empty queue" 50 queue_empty
ok $? "expiry: the message left the queue"
# With the queue empty, no further report can be pending.
is "$(nbounces)" 2 "expiry: no further report"
is "$(logc 'delay notice .* queued')" 1 "expiry: one delay notice"
is "$(logc 'bounce .* queued')" 1 "expiry: exactly one bounce"
D=$(grep -l 'Action: delayed' $(bounces))
F=$(grep -l 'Action: failed' $(bounces))
report "delay notice" "$D" delayed rcpt=slow@example.net status=4.3.0 \
    "diag=smtp; 451 4.3.0 try again later" subject=expiring
report "expiry bounce" "$F" failed rcpt=slow@example.net status=5.4.7 \
    "diag=smtp; 451 4.3.0 try again later" subject=expiring \
    "text=451 4.3.0 try again later"
logged 'to=<slow@example.net>.*status=expired (451 4.3.0 try again later)'
ok $? "expiry: logged as expired with the last error"
stop_server

# ---- 5. Expiry while the smarthost is down: the sweep bounces it.  The
# two messages are queued with relayqd stopped, then made two hours old
# (arrival record and file time): they are expired at once, while their
# bounces have the whole hour, however slow the machine.
fresh "retry_min = 30s
retry_max = 1h
max_queue_lifetime = 1h
scan_interval = 1s"
mail sender@example.org down-expiry a@example.net
mail sender@example.org down-expiry-2 b@example.net
"$PYTHON3" - "$SPOOL"/incoming/* <<'PYEOF'
import os, re, sys, time
old = int(time.time()) - 7200
for path in sys.argv[1:]:
    with open(path, 'r+b') as f:
        data = f.read()
        m = re.search(rb'^T10:([0-9]{10})$', data, re.M)
        f.seek(m.start(1))
        f.write(b'%d' % old)
    os.utime(path, (old, old))
PYEOF
ok $? "down expiry: two messages queued, made two hours old"
start_daemon
wait_for "both expired" 100 sh -c \
    "[ \$(grep -c 'status=expired' '$T_DIR/relayqd.log') -ge 2 ]"
ok $? "down expiry: both messages expired without waiting for a probe"
start_server
"$RELAYQ" flush
wait_for "bounces" 100 has_bounces 2
ok $? "down expiry: the two bounces were delivered when the smarthost answered"
for B in $(bounces); do
	grep -q 'Final-Recipient: rfc822; a@example.net' "$B" && break
done
report "down expiry bounce" "$B" failed rcpt=a@example.net status=5.4.7 \
    "diag=Connection refused" subject=down-expiry
stop_server

# ---- 6. 552 after the dot: a bounce, which the server refuses too and
# which is therefore never bounced: it stays in failed/.
if [ -z "$SINK_DIR" ]; then
	skip "552 after the dot" "smtp-sink unavailable (contrib/postfix-tools.sh)"
	skip "550 right after the DATA reply" "smtp-sink unavailable"
	stop_daemon >/dev/null 2>&1
	done_testing
fi
fresh "retry_min = 1s
retry_max = 2s"
SINK_DUMP=$T_DIR/sink
mkdir -p "$SINK_DUMP" && chmod 777 "$SINK_DUMP"
if [ "$(id -u)" -eq 0 ]; then
	chmod 711 "$T_DIR"
	SINK_USER="-u nobody"
else
	SINK_USER=
fi
# shellcheck disable=SC2086
"$SINK_DIR/smtp-sink" $SINK_USER -f . -B "552 5.3.4 Message too big for me" \
    -d "$SINK_DUMP/%M." "127.0.0.1:$PORT" 10 >>"$T_DIR/sink.log" 2>&1 &
SINK_PID=$!
T_PIDS="$T_PIDS $SINK_PID"
start_daemon
mail sender@example.org toobig big@example.net
wait_for "bounce in failed/" 150 has_failed 1
ok $? "552: the bounce, refused in turn, is in failed/"
logged 'to=<big@example.net>.*status=failed (552 5.3.4 Message too big for me)'
ok $? "552: the recipient failed with the server's reply"
is "$(logc 'bounce .* queued')" 1 "552: one bounce was queued"
wait_for "empty queue" 50 queue_empty
ok $? "552: the queue is empty (original removed, bounce in failed/)"
is "$(nfailed)" 1 "552: no bounce of the bounce"
is "$(logc 'bounce .* queued')" 1 "552: still one report in all"
report "552 bounce" "$SPOOL/failed/$(failed_files)" queue-failed \
    rcpt=big@example.net status=5.3.4 \
    "diag=smtp; 552 5.3.4 Message too big for me" subject=toobig
kill "$SINK_PID" 2>/dev/null
wait "$SINK_PID" 2>/dev/null

# ---- 7. 550 right after the DATA reply (smtp-sink -A 0): permanent.
fresh "retry_min = 1s
retry_max = 2s"
SINK_DUMP=$T_DIR/sink.2
mkdir -p "$SINK_DUMP" && chmod 777 "$SINK_DUMP"
# shellcheck disable=SC2086
"$SINK_DIR/smtp-sink" $SINK_USER -A 0 -d "$SINK_DUMP/%M." "127.0.0.1:$PORT" 10 \
    >>"$T_DIR/sink.log" 2>&1 &
SINK_PID=$!
T_PIDS="$T_PIDS $SINK_PID"
start_daemon
mail sender@example.org aborted abort@example.net
wait_for "bounce in failed/" 150 has_failed 1
ok $? "550 after DATA: the bounce, refused in turn, is in failed/"
logged 'to=<abort@example.net>.*status=failed (550 '
ok $? "550 after DATA: the recipient failed permanently"
is "$(logc 'bounce .* queued')" 1 "550 after DATA: one bounce, never a second"
wait_for "empty queue" 50 queue_empty
ok $? "550 after DATA: the queue is empty"
kill "$SINK_PID" 2>/dev/null
wait "$SINK_PID" 2>/dev/null

# ---- 8. Issue 13: a quoted local part that wraps onto a line starting
# with '.' (53 x, a space, .reject).  The bounce used to be refused by
# the queue writer, and the recipient was sent a 550 every retry_min
# and never expired.  Now: one RCPT, one bounce showing the line.
fresh "retry_min = 1s
retry_max = 2s
max_queue_lifetime = 20s"
start_server --rcpt-reply 'reject=550 5.1.1 no such user'
start_daemon
X53=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
DOTRCPT="\"$X53 .reject\"@example.net"
printf 'Subject: dotwrap\n\nbody\n' | "$SENDMAIL" -i -f s@x "$DOTRCPT"
ok $? "dot line: queued for $DOTRCPT"
wait_for "bounce" 300 has_bounces 1
ok $? "dot line: the bounce arrived"
wait_for "empty queue" 100 queue_empty
ok $? "dot line: the queue is empty"
is "$(grep -c "^RCPT \"$X53 .reject\"@example.net 550\$" "$MAILDIR/commands")" 1 \
    "dot line: the recipient was tried once"
grep -q "^\.reject\"@example.net>: delivery failed" "$(bounces)"
ok $? "dot line: the bounce shows the line that starts with '.'"
is "$(logc 'cannot queue its bounce')" 0 "dot line: no bounce refused"

# ---- 9. Issue 12: the bounce to a local sender goes through the
# aliases, as sendmail's recipients do (root: admin@example.net, ops).
fresh "retry_min = 1s
retry_max = 2s"
printf 'root: admin@example.net, ops\n' > "$T_DIR/aliases"
sed -i "s|^default_domain.*|&\naliases = $T_DIR/aliases|" "$CONF"
start_server --rcpt-reply 'reject=550 5.1.1 no such user'
start_daemon
mail root@relayq.test aliased reject@example.net
ok $? "aliases: queued from root@relayq.test (the host name)"
wait_for "bounce" 150 has_bounces 1
ok $? "aliases: the bounce arrived"
B=$(bounces)
is "$("$PYTHON3" -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["rcpt_tos"]))' "${B%.eml}.env")" \
    "admin@example.net ops@example.org" \
    "aliases: the bounce went to the alias targets, qualified with default_domain"
logged 'bounce .* queued for <admin@example.net>, <ops@example.org>'
ok $? "aliases: the log names them"
# Issue 12: the bounce's Message-ID is its queue id, as logged.
BID=$(sed -n 's/.*: bounce \([0-9A-F]*\) queued for .*/\1/p' "$T_DIR/relayqd.log" | head -n 1)
grep -q "^Message-ID: <$BID@relayq.test>" "$B"
ok $? "Message-ID: the bounce's queue id <$BID@relayq.test>"

stop_daemon >/dev/null 2>&1
done_testing
