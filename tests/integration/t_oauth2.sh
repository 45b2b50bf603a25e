#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Built-in OAuth2 (issue 14) against a fake provider (fakeoauth2.py, HTTPS
# with a test CA made here) and a real SMTP server (aiosmtpd) that accepts
# exactly the unexpired access tokens the fake issued, over XOAUTH2 and
# OAUTHBEARER:
#  - many messages across several token lifetimes: each delivered once, the
#    number of grants about the elapsed time over the lifetime (never one
#    per message or session), every rotated refresh token stored;
#  - a token the smarthost refuses (expired meanwhile) is dropped,
#    refreshed once and the session retried;
#  - the token endpoint down: mail deferred, then drained once it is back;
#  - invalid_grant: no bounce, one alert, the mailq/show/stats text;
#  - every malformed reply (and a 5xx, a slow answer, an oversized body)
#    refused with a clear log line, mail kept queued;
#  - client_credentials; http:// refused at start; the certificate of
#    the endpoint verified;
#  - OAuth2 on a [smarthost NAME]: its own token, its status file
#    <spool>/oauth2.NAME, no AUTH offered to [smarthost];
#  - relayq oauth2 status after a good and a refused refresh (the token
#    file then shown refused, not usable, until the endpoint takes it);
#  - no token, refresh token or client secret in logs, traces, mailq,
#    relayq show, relayq oauth2 status or the spool's stats files.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/oauth2.sh"

# ---- 1. refresh_token grant, many messages across several lifetimes ----
printf 'rt-initial\n' > "$RTFILE"
chmod 600 "$RTFILE"
start_oauth2
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" \
    --xoauth2 "$AUSER:" --oauth2-state "$OSTATE"
# Sessions carry 10 messages each, so new ones (which need a token) keep
# opening through every token lifetime.
oauth_conf "" "messages_per_connection = 10"
start_daemon -T smtp
wait_started
TOTAL=${OAUTH2_MESSAGES:-1000}
sent=0
batches=0
t_now
T0=$T_NOW
# Batches of 50, each waited for, until TOTAL are sent and at least four
# token lifetimes have passed.
while [ $batches -lt 400 ]; do
	send 50 "b$batches" || break
	sent=$((sent + 50))
	batches=$((batches + 1))
	wait_for "$sent messages" 600 has_mail $sent || break
	t_now
	[ $sent -ge "$TOTAL" ] && [ $((T_NOW - T0)) -ge $((4 * LIFETIME)) ] &&
	    break
done
t_now
ELAPSED=$((T_NOW - T0))
wait_for "the queue to drain" 600 queue_empty
is "$(count_mail)" "$sent" "$sent messages delivered"
dups=$(cat "$MAILDIR"/*.eml | grep '^Subject: oauth2 ' | sort | uniq -d |
    wc -l)
is "$dups" 0 "each delivered once"
GRANTS=$(ostate grants)
SESSIONS=$(awk '{print $1}' "$MAILDIR/sessions" | sort -u | wc -l)
# A token is used for two thirds of its lifetime (relayqd_oauth2.c); one
# the smarthost refused meanwhile (a session that took long to reach AUTH
# on a loaded machine) costs one more.
REFUSED=$(grep -c 'AUTH XOAUTH2 .* failed' "$MAILDIR/commands")
MAXG=$((ELAPSED * 3 / (LIFETIME * 2) + 2 + REFUSED))
diag "$sent messages in ${ELAPSED}s, lifetime ${LIFETIME}s: $GRANTS grants, $SESSIONS sessions (at most $MAXG grants allowed)"
[ "$GRANTS" -ge 2 ] && [ "$GRANTS" -ge $((ELAPSED / LIFETIME / 2)) ] &&
    [ "$GRANTS" -le "$MAXG" ]
ok $? "grants about elapsed/lifetime ($GRANTS for ${ELAPSED}s)"
[ "$GRANTS" -le "$SESSIONS" ] && [ $((GRANTS * 10)) -lt "$sent" ]
ok $? "never a grant per message or per session"
is "$(grep -c 'result=ok' "$OLOG")" "$GRANTS" "one token request per grant (no parallel refreshes)"
is "$(cat "$RTFILE")" "$(ostate current)" "the file holds the current (rotated) refresh token"
is "$(stat -c %a "$RTFILE")" 600 "refresh token file mode 0600"
"$RELAYQ" -c "$CONF" oauth2 status > "$T_DIR/status.ok" 2>&1
ok $? "relayq oauth2 status exits 0"
grep -q '^grant: refresh_token$' "$T_DIR/status.ok" &&
    grep -q "^refresh token file: $RTFILE (present, usable)$" "$T_DIR/status.ok" &&
    grep -q '^last refresh: .*, ok$' "$T_DIR/status.ok" &&
    grep -q '^access token expires: ' "$T_DIR/status.ok"
ok $? "relayq oauth2 status: grant, token file, last refresh, expiry"
diag "tokens the smarthost refused (expired on the way): $REFUSED"

# ---- 2. a cached token the smarthost refuses: refresh once, retry ----
stop_oauth2
start_oauth2 --lifetime 3600
restart_daemon -T smtp
n=$(count_mail)
q=$(grep -c '^QUIT' "$MAILDIR/commands")
send 1 cached
wait_for "a message with a long-lived token" 600 has_mail $((n + 1))
# Its session must be over (idle_timeout), so the next one needs AUTH.
wait_for "the session's QUIT" 600 sh -c \
    "[ \$(grep -c '^QUIT' '$MAILDIR/commands') -gt $q ]"
g=$(ostate grants)
# The smarthost forgets every token it was told about (as after a
# revocation); relayqd's cached one is now refused.
"$PYTHON3" -c 'import json, os, sys
d = json.load(open(sys.argv[1])); d["access"] = {}
json.dump(d, open(sys.argv[1] + ".t", "w")); os.rename(sys.argv[1] + ".t", sys.argv[1])' "$OSTATE"
send 1 refused
wait_for "the refused token's message" 600 has_mail $((n + 2))
is "$(count_mail)" $((n + 2)) "refused token: message delivered after one refresh"
is "$(ostate grants)" $((g + 1)) "exactly one more grant"
log_has 'retrying with a new OAuth2 token'
ok $? "log: retrying with a new OAuth2 token"
is "$(grep -c 'AUTH XOAUTH2 .* failed' "$MAILDIR/commands")" $((REFUSED + 1)) "one refusal (334 error challenge, then 535)"

# ---- 3. token endpoint down, then back ----
stop_oauth2
restart_daemon
n=$(count_mail)
send 3 down
# The event: a deferral for the endpoint, with all 3 taken into queue/
# (a slow relayqd may still hold some in incoming/ after the first one).
wait_for "a deferral while the endpoint is down, 3 in queue/" 600 sh -c \
    "grep -q 'status=deferred (OAuth2 token endpoint unavailable' '$T_DIR/relayqd.log' &&
    [ \$(ls '$SPOOL/queue' | wc -l) -ge 3 ]"
is "$(count_mail)" "$n" "endpoint down: nothing delivered"
is "$(queued_ids | wc -l)" 3 "endpoint down: the 3 messages stay queued"
"$SENDMAIL" -C "$CONF" -bp > "$T_DIR/mailq.down" 2>&1
grep -q 'OAuth2 token endpoint unavailable' "$T_DIR/mailq.down"
ok $? "mailq says the token endpoint is unavailable"
start_oauth2 --lifetime 3600
t_now
TB=$T_NOW
wait_for "the deferred mail to drain" 600 has_mail $((n + 3))
t_now
diag "drained $((T_NOW - TB))s after the endpoint came back"
# The issue's bound; under valgrind a time says nothing about relayqd.
if [ -n "${RELAYQ_VALGRIND:-}" ]; then
	ok 0 "# SKIP drained within 10s of the endpoint's return (not timed under valgrind)"
else
	[ $((T_NOW - TB)) -le 10 ]
	ok $? "drained within 10s of the endpoint's return"
fi
wait_for "the queue to drain" 600 queue_empty

# ---- 4. invalid_grant: defer, never bounce, one alert, the text ----
echo invalid_grant > "$OCTL"
restart_daemon
n=$(count_mail)
send 2 revoked
wait_for "three refused refreshes" 600 sh -c \
    "[ \$(grep -c 'result=invalid_grant' '$OLOG') -ge 3 ]"
wait_for "the deferrals to be saved" 600 state_saved 2
TEXT='OAuth2 refresh token rejected: run relayq oauth2 login'
is "$(count_mail)" "$n" "invalid_grant: nothing sent, no bounce"
is "$(queued_ids | wc -l)" 2 "invalid_grant: both messages stay queued (no bounce)"
is "$(ls "$SPOOL/failed" 2>/dev/null | wc -l)" 0 "invalid_grant: nothing in failed/"
wait_for "the alert" 600 test -s "$T_DIR/alerts"
is "$(wc -l < "$T_DIR/alerts")" 1 "one alert for the incident"
grep -q 'oauth2-rejected' "$T_DIR/alerts"
ok $? "alert names the incident (oauth2-rejected)"
"$SENDMAIL" -C "$CONF" -bp > "$T_DIR/mailq.rej" 2>&1
grep -qF "$TEXT" "$T_DIR/mailq.rej"
ok $? "mailq: $TEXT"
"$RELAYQ" -c "$CONF" show "$(queued_ids | head -n 1)" > "$T_DIR/show.rej" 2>&1
grep -qF "$TEXT" "$T_DIR/show.rej"
ok $? "relayq show: $TEXT"
wait_for "relayq stats to say so" 100 sh -c \
    "'$RELAYQ' -c '$CONF' stats | grep -qF '$TEXT'"
ok $? "relayq stats: $TEXT"
"$RELAYQ" -c "$CONF" oauth2 status > "$T_DIR/status.rej" 2>&1
grep -q "^last refresh: .*, rejected: $TEXT" "$T_DIR/status.rej"
ok $? "relayq oauth2 status: the refresh was rejected"
grep -q "^refresh token file: $RTFILE (present, refused by the token endpoint at .*: run relayq oauth2 login)\$" "$T_DIR/status.rej" &&
    ! grep -q 'usable' "$T_DIR/status.rej"
ok $? "relayq oauth2 status: the refresh token file is refused, not usable"
: > "$OCTL"
wait_for "mail after a new consent" 600 has_mail $((n + 2))
is "$(count_mail)" $((n + 2)) "the token accepted again: deferred mail delivered"
"$RELAYQ" -c "$CONF" oauth2 status > "$T_DIR/status.back" 2>&1
grep -q "^refresh token file: $RTFILE (present, usable)\$" "$T_DIR/status.back"
ok $? "relayq oauth2 status: the file usable again once the endpoint takes it"
is "$(wc -l < "$T_DIR/alerts")" 1 "still one alert"
wait_for "the queue to drain" 600 queue_empty

# ---- 5. malformed and failed replies: refused, logged, mail kept ----
n=$(count_mail)
k=0
for case in 'notjson:not JSON' 'array:not a JSON object' \
    'noaccess:no access_token' 'badtype:token_type is not Bearer' \
    'badexpires:expires_in is not a number' \
    'badtoken:access_token is not a valid token string' \
    'dupkey:not JSON \(duplicate' 'oversize:reply too large' \
    '500:HTTP status 500' 'slow:no complete reply within|timed out'; do
	mode=${case%%:*}
	want=${case#*:}
	echo "$mode" > "$OCTL"
	stop_daemon
	: > "$T_DIR/relayqd.log"
	start_daemon
	wait_started
	send 1 "$mode"
	k=$((k + 1))
	wait_for "the $mode reply to be refused" 600 log_has "OAuth2 token .*($want)"
	ok $? "$mode: refused with a clear log line ($want)"
	wait_for "the deferral" 600 state_saved 1
	[ "$(count_mail)" -eq "$n" ] && [ "$(queued_ids | wc -l)" -eq $k ]
	ok $? "$mode: mail stays queued"
done
: > "$OCTL"
restart_daemon
wait_for "the kept mail" 600 has_mail $((n + k))
is "$(count_mail)" $((n + k)) "after the endpoint recovers all $k kept messages are delivered"
wait_for "the queue to drain" 600 queue_empty

# ---- 6. the endpoint's certificate is verified ----
oauth_conf "oauth2_ca_file = $PKI/self.crt"
restart_daemon
send 1 badcert
wait_for "a verify error" 600 log_has 'OAuth2 token endpoint unavailable: .*certificate verify failed'
ok $? "an endpoint certificate from another CA is refused"
oauth_conf
stop_oauth2
OCERT=wrong start_oauth2 --lifetime 3600
restart_daemon
wait_for "a name mismatch" 600 log_has 'OAuth2 token endpoint unavailable: .*certificate verify failed.*IP address mismatch'
ok $? "an endpoint certificate for another name is refused"
stop_oauth2
start_oauth2 --lifetime 3600
restart_daemon
wait_for "the queue to drain" 600 queue_empty

# ---- 7. client_credentials with OAUTHBEARER ----
oauth_conf "auth = oauthbearer
oauth2_grant = client_credentials
oauth2_refresh_token_file ="
restart_daemon
n=$(count_mail)
send 1 cc
wait_for "client_credentials mail" 600 has_mail $((n + 1))
grep -q 'grant=client_credentials result=ok' "$OLOG"
ok $? "client_credentials grant used"
grep -q "AUTH OAUTHBEARER $AUSER ok" "$MAILDIR/commands"
ok $? "OAUTHBEARER with the token accepted"
stop_daemon
ok $? "relayqd exits 0 when stopped"

# ---- 7b. OAuth2 on a named smarthost (issue 15) ----
# [smarthost] is a plain server without AUTH; [smarthost m365] (mail
# from @m365.example) is the XOAUTH2 server with its own token, whose
# last refresh relayqd publishes in <spool>/oauth2.m365.
PORT_P=$(free_port)
"$PYTHON3" "$top_srcdir/tests/integration/smtpserver.py" --port "$PORT_P" \
    --maildir "$T_DIR/mail-plain" --pidfile "$T_DIR/plain.pid" \
    --auth nobody:nothing --auth-plaintext >>"$T_DIR/plain.log" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "the plain server" 100 test -s "$T_DIR/plain.pid"
write_conf "retry_min = 1s
retry_max = 1s
probe_max = 1s" "port = $PORT_P

[smarthost m365]
host = 127.0.0.1
port = $PORT
tls = starttls
ca_file = $PKI/ca.crt
username = $AUSER
auth = xoauth2
oauth2_token_url = https://127.0.0.1:$OPORT/token
oauth2_client_id = relayq-test
oauth2_client_secret_file = $T_DIR/client.secret
oauth2_grant = client_credentials
oauth2_scope = https://outlook.office.com/SMTP.Send
oauth2_ca_file = $PKI/ca.crt
senders = @m365.example"
rm -f "$SPOOL/oauth2"
n=$(count_mail)
a=$(grep -c "AUTH XOAUTH2 $AUSER ok" "$MAILDIR/commands")
start_daemon
wait_started
printf 'Subject: oauth2 named\n\nbody\n' |
    "$SENDMAIL" -C "$CONF" -f boss@m365.example rcpt@example.net
printf 'Subject: oauth2 plain\n\nbody\n' |
    "$SENDMAIL" -C "$CONF" -f other@example.org rcpt@example.net
wait_for "the named smarthost's mail" 600 has_mail $((n + 1))
ok $? "mail from @m365.example reaches the XOAUTH2 server"
is "$(grep -c "AUTH XOAUTH2 $AUSER ok" "$MAILDIR/commands")" $((a + 1)) \
    "with its own token"
wait_for "the default smarthost's mail" 600 sh -c \
    "ls '$T_DIR/mail-plain' | grep -q '\.eml\$'"
ok $? "other mail reaches [smarthost]"
! grep -q '^AUTH' "$T_DIR/mail-plain/commands"
ok $? "[smarthost] saw no AUTH: the token stays with its smarthost"
grep -q '^result=ok$' "$SPOOL/oauth2.m365" 2>/dev/null
ok $? "the named smarthost's last refresh is in <spool>/oauth2.m365"
[ ! -e "$SPOOL/oauth2" ]
ok $? "and not in <spool>/oauth2 ([smarthost] has no OAuth2)"
stop_daemon
ok $? "relayqd exits 0 when stopped"

# ---- 8. configuration errors at start ----
oauth_conf "oauth2_token_url = http://127.0.0.1:$OPORT/token"
"$RELAYQD" -f -c "$CONF" > "$T_DIR/http.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'oauth2_token_url must be an https:// URL' "$T_DIR/http.out"
ok $? "http:// token URL refused at start"
oauth_conf "auth = plain"
"$RELAYQD" -f -c "$CONF" > "$T_DIR/plain.out" 2>&1
[ $? -ne 0 ] && grep -q 'needs auth = xoauth2 or oauthbearer' "$T_DIR/plain.out"
ok $? "oauth2_token_url with auth = plain refused at start"

# ---- 9. secrets never in the logs, traces or mailq ----
"$SENDMAIL" -C "$CONF" -bp >> "$T_DIR/mailq.rej" 2>&1
"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
for t in list(d["refresh"]) + list(d["access"]):
    if t: print(t)' "$OSTATE" > "$T_DIR/secrets"
echo "$SECRET" >> "$T_DIR/secrets"
echo rt-initial >> "$T_DIR/secrets"
leak=0
for f in "$T_DIR/relayqd.log" "$T_DIR"/mailq.* "$T_DIR/show.rej" \
    "$T_DIR/alerts" "$T_DIR"/status.* "$SPOOL/oauth2" "$SPOOL/oauth2.m365" \
    "$SPOOL/stats"; do
	grep -qFf "$T_DIR/secrets" "$f" && { diag "secret in $f"; leak=1; }
done
is $leak 0 "no token or client secret in logs, traces, mailq, status or alerts"
done_testing
