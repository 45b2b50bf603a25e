#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# End to end: sendmail -> spool -> relayqd -> a real SMTP server (aiosmtpd)
# on 127.0.0.1.  Checks the bytes that arrive, several recipients, -t,
# delivery of mail queued while the daemon was stopped, a smarthost that
# is down at first, per-recipient 4xx/5xx, connection reuse, and that the
# queue is empty afterwards.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf "max_connections = 2"
start_server --rcpt-reply 'tempfail=451 4.3.0 try again later' \
    --rcpt-reply 'reject=550 5.1.1 no such user'
start_daemon

# 1. Bytes: headers added, CRLF, dot lines round-trip (with -i).
printf 'Subject: dots\nX-Test: 1\n\n.\n..\n.leading dot\nbare CR\rhere\nlast line no newline' |
    "$SENDMAIL" -i -f sender@example.org rcpt1@example.net
ok $? "sendmail -i exits 0"
wait_for "first message" 100 has_mail 1
ok $? "message delivered to the SMTP server"
M=$MAILDIR/0001
"$PYTHON3" - "$M.eml" "$M.env" > "$T_DIR/check1" 2>&1 <<'PYEOF'
import json, re, sys
data = open(sys.argv[1], 'rb').read()
env = json.load(open(sys.argv[2]))
def check(cond, what):
    print(('ok' if cond else 'FAIL') + ' ' + what)
check(env['mail_from'] == 'sender@example.org', 'envelope sender')
check(env['rcpt_tos'] == ['rcpt1@example.net'], 'envelope recipient')
check(re.search(rb'(?<!\r)\n', data) is None, 'no bare LF')
check(re.search(rb'\r(?!\n)', data) is None, 'no bare CR')
head, _, body = data.partition(b'\r\n\r\n')
check(re.search(rb'^Date: ', head, re.M) is not None, 'Date added')
check(re.search(rb'^Message-ID: <[^>]+@relayq\.test>', head, re.M | re.I)
      is not None, 'Message-ID added with the hostname')
check(re.search(rb'^From: .*sender@example\.org', head, re.M) is not None,
      'From added from the envelope sender')
check(b'Subject: dots\r\n' in head, 'Subject kept')
check(body.startswith(b'.\r\n..\r\n.leading dot\r\n'),
      'dot lines round-trip')
check(b'bare CR\r\nhere\r\n' in body, 'bare CR became a line break')
check(body.endswith(b'last line no newline\r\n'), 'final newline added')
PYEOF
while read -r res what; do
	[ "$res" = ok ]; ok $? "bytes: $what"
done < "$T_DIR/check1"
is "$(grep -c "^ok" "$T_DIR/check1")" 11 "all byte checks ran"

# 2. Without -i a lone dot ends the message; the rest is discarded.
printf 'Subject: nodot\n\nkept\n.\nnot kept\n' |
    "$SENDMAIL" rcpt2@example.net
ok $? "sendmail without -i exits 0"
wait_for "second message" 100 has_mail 2
grep -q 'kept' "$MAILDIR/0002.eml" && ! grep -q 'not kept' "$MAILDIR/0002.eml"
ok $? "a lone dot ends the input without -i"

# 3. Several recipients, bare local part qualified.
printf 'Subject: many\n\nhello\n' |
    "$SENDMAIL" -i a@example.net 'B <b@example.net>, c@example.net' root
ok $? "several recipients accepted"
wait_for "third message" 100 has_mail 3
is "$("$PYTHON3" -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["rcpt_tos"])))' "$MAILDIR/0003.env")" \
    "a@example.net b@example.net c@example.net root@example.org" \
    "all recipients in one transaction, root qualified"

# 4. -t: To, Cc and Bcc plus argv, deduplicated; Bcc removed.
printf 'To: t1@example.net, arg@example.net\nCc: T2 <t2@example.net>\nBcc: secret@example.net,\n  hidden@example.net\nSubject: dash t\n\nbody\n' |
    "$SENDMAIL" -t -i arg@example.net
ok $? "sendmail -t exits 0"
wait_for "fourth message" 100 has_mail 4
is "$("$PYTHON3" -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["rcpt_tos"])))' "$MAILDIR/0004.env")" \
    "arg@example.net hidden@example.net secret@example.net t1@example.net t2@example.net" \
    "-t recipients: union of argv and To/Cc/Bcc, no duplicates"
! grep -qi '^bcc:' "$MAILDIR/0004.eml" && ! grep -q 'hidden@' "$MAILDIR/0004.eml"
ok $? "Bcc header removed, folded line included"

wait_for "empty queue" 100 queue_empty
ok $? "queue is empty after delivery"

# 5. Per-recipient results: 250, 451, 550 in one message.
printf 'Subject: mixed\n\nbody\n' |
    "$SENDMAIL" -i good@example.net tempfail@example.net reject@example.net
ok $? "mixed-recipient message queued"
wait_for "mixed delivery" 100 has_mail 5
is "$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["rcpt_tos"])' "$MAILDIR/0005.env")" \
    "['good@example.net']" "only the accepted recipient got the data"
wait_for "deferred log line" 100 grep -q 'to=<tempfail@example.net>.*status=deferred (451 4.3.0' "$T_DIR/relayqd.log"
ok $? "451 recipient logged as deferred with the server's reply"
wait_for "the state saved" 100 state_saved
grep -q 'to=<reject@example.net>.*status=failed (550 5.1.1' "$T_DIR/relayqd.log"
ok $? "550 recipient logged as failed with the server's reply"
grep -q 'to=<good@example.net>.*relay=127.0.0.1\[127.0.0.1\]:'"$PORT"'.*status=sent (250 2.0.0' "$T_DIR/relayqd.log"
ok $? "accepted recipient logged as sent with relay= and the reply"
"$RELAYQ" queue > "$T_DIR/mailq.out" 2>&1
grep -q 'tempfail@example.net' "$T_DIR/mailq.out" &&
    ! grep -q 'good@example.net' "$T_DIR/mailq.out"
ok $? "relayq queue lists only the pending recipient"
grep -q '451 4.3.0' "$T_DIR/mailq.out"
ok $? "relayq queue shows the last error"
wait_for "retry" 60 sh -c "[ \$(grep -c 'to=<tempfail@example.net>.*status=deferred' '$T_DIR/relayqd.log') -ge 2 ]"
ok $? "the 451 recipient is retried after retry_min"
# (The 550 recipient's bounce goes to the same server: count by recipient.)
is "$(grep -l '"good@example.net"' "$MAILDIR"/*.env | wc -l)" 1 \
    "the accepted recipient is not sent again"

# 6. Daemon stopped: mail waits in the spool, goes out when it starts.
stop_daemon
ok $? "relayqd exits 0 on SIGTERM"
printf 'Subject: offline\n\nqueued while stopped\n' | "$SENDMAIL" -i off@example.net
ok $? "sendmail works while relayqd is stopped"
is "$(ls "$SPOOL/incoming" | wc -l)" 1 "message waits in incoming/"
sendmail_q=$("$SENDMAIL" -bp 2>&1)
echo "$sendmail_q" | grep -q 'off@example.net'
ok $? "sendmail -bp lists the waiting message"
start_daemon
wait_for "offline message" 100 grep -rlq 'queued while stopped' "$MAILDIR"
ok $? "queued message delivered once relayqd starts"
grep -l 'queued while stopped' "$MAILDIR"/*.eml | xargs grep -q 'Subject: offline'
ok $? "offline message content intact"

# 7. Smarthost down, then back.
stop_server
printf 'Subject: down\n\nwhile the server was down\n' | "$SENDMAIL" -i down@example.net
ok $? "sendmail accepts mail while the smarthost is down"
wait_for "deferral" 100 grep -q 'to=<down@example.net>.*status=deferred' "$T_DIR/relayqd.log"
ok $? "delivery deferred while the smarthost is down"
"$RELAYQ" queue 2>&1 | grep -q 'down@example.net'
ok $? "the deferred message is listed"
start_server
wait_for "delivery after recovery" 150 grep -rlq 'while the server was down' "$MAILDIR"
ok $? "delivered once the smarthost is back"

# 8. Connection reuse: a burst goes over few sessions.
before=$(wc -l < "$MAILDIR/sessions")
stop_daemon >/dev/null
i=0
while [ $i -lt 20 ]; do
	printf 'Subject: burst %d\n\nb\n' $i | "$SENDMAIL" -i burst$i@example.net || break
	i=$((i + 1))
done
is "$i" 20 "20 messages queued"
# A session that waits for the next message must not time out while
# relayqd picks the burst up on a slow machine: idle_timeout 60 s.
sed -i 's/^idle_timeout = .*/idle_timeout = 60s/' "$CONF"
start_daemon
wait_for "burst" 150 sh -c "[ \$(grep -rl 'Subject: burst' '$MAILDIR' | wc -l) -ge 20 ]"
ok $? "burst delivered"
after=$(wc -l < "$MAILDIR/sessions")
sessions=$((after - before))
[ "$sessions" -le 2 ]
ok $? "20 messages used at most max_connections=2 sessions (used $sessions)"

wait_for "final empty queue" 100 queue_empty
ok $? "spool empty at the end (the 451 recipient went out once the server accepted it)"
grep -q 'to=<tempfail@example.net>.*status=sent' "$T_DIR/relayqd.log"
ok $? "the once-deferred recipient was delivered in the end"
stop_daemon
ok $? "relayqd exits 0"
done_testing
