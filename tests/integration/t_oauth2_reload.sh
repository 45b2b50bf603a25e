#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A reload or a stop while a token refresh is in flight (issue 14).  The
# fake provider (fakeoauth2.py --strict: a refresh token works once, as
# with a provider that rotates) holds its answer while the control word
# is "hold", and relayqd's token request may take 10 minutes
# (connect_timeout), so the refresh is surely in flight when the reload
# or SIGTERM comes, however slow the machine.  The request has gone out
# and the provider will rotate the refresh token, so relayqd must let it
# finish and store the rotated token, whatever happened to the
# smarthost, and a refresh started meanwhile must wait for it instead
# of sending the same refresh token again (outside tester's o14 F1).
#  1. OAuth2 -> no AUTH: the waiting session is closed (a changed section
#     is a new destination: the old one is retired) and its message goes
#     out at once without AUTH; the refresh still finishes and stores
#     the rotated token;
#  2. OAuth2 -> password_command: the same, with AUTH PLAIN;
#  3. a changed oauth2_scope: the new destination's refresh waits for the
#     old one and uses the token it stored; the message goes out;
#  4. SIGTERM: relayqd stops only once the refresh has stored the token.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/oauth2.sh"

PASS='pw-reload-7Qz'
printf '#!/bin/sh\necho "%s"\n' "$PASS" > "$T_DIR/pw.sh"
chmod 755 "$T_DIR/pw.sh"
printf 'rt-initial\n' > "$RTFILE"
chmod 600 "$RTFILE"
echo hold > "$OCTL"
start_oauth2 --slow 600 --strict
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" \
    --xoauth2 "$AUSER:" --oauth2-state "$OSTATE" --auth "$AUSER:$PASS"

# count FILE PATTERN: lines of FILE matching PATTERN (grep -E).
count() { grep -Ec "$2" "$1" 2>/dev/null; }
# in_flight N: relayqd has asked for a token N times.
in_flight() {
	[ "$(count "$T_DIR/relayqd.log" 'OAuth2: requesting an access token')" -ge "$1" ]
}
# held N: the fake holds (or has held) N requests.
held() { [ "$(count "$OLOG" 'result=held')" -ge "$1" ]; }
# stored N: N refreshes let go by relayqd have stored a rotated token.
stored() {
	[ "$(count "$T_DIR/relayqd.log" 'begun before the reload or shutdown has ended; rotated refresh token stored')" -ge "$1" ]
}
# reload_to DESC SMARTHOST-LINES: the config without OAuth2, reloaded.
reload_to() {
	_r=$(count "$T_DIR/relayqd.log" 'configuration reloaded')
	write_conf "connect_timeout = 10m" "tls = starttls
ca_file = $PKI/ca.crt
$2"
	kill -HUP "$DAEMON_PID"
	wait_for "$1: the reload" 100 sh -c \
	    "[ \$(grep -c 'configuration reloaded' '$T_DIR/relayqd.log') -gt $_r ]"
	ok $? "$1: relayqd reloaded while the refresh was in flight"
}
# released DESC N: lets the fake answer; the Nth refresh relayqd let go
# stores its rotated token, which the provider accepts.
released() {
	: > "$OCTL"
	wait_for "$1: the refresh let go" 100 stored "$2"
	ok $? "$1: the refresh in flight finished and stored the rotated token"
	rt_is_valid
	ok $? "$1: the file holds the refresh token the provider accepts"
	! grep -q 'refresh token rejected' "$T_DIR/relayqd.log"
	ok $? "$1: the refresh token was never rejected"
}

# 1. OAuth2 -> no AUTH.
oauth_conf "" "connect_timeout = 10m"
start_daemon -T smtp -v
wait_started
send 1 off
wait_for "the token request" 100 held 1
ok $? "off: the session waits for a token (refresh in flight)"
reload_to off ""
wait_for "the message" 100 has_mail 1
ok $? "off: the waiting message was delivered after the reload"
! grep -q '^AUTH' "$MAILDIR/commands"
ok $? "off: without AUTH (the new settings)"
! grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "off: nothing deferred"
grep -q 'closed before its first message: its smarthost was retired by a reload' "$T_DIR/relayqd.log"
ok $? "off: the log says the waiting session was closed by the reload (its message went out on a new one)"
released off 1
stop_daemon
is $? 0 "off: relayqd exits 0"

# 2. OAuth2 -> password_command (a fresh relayqd: no token cached).
echo hold > "$OCTL"
oauth_conf "" "connect_timeout = 10m"
start_daemon -T smtp -v
wait_started
send 1 pwcmd
wait_for "the token request" 100 held 2
ok $? "pwcmd: the session waits for a token (refresh in flight)"
reload_to pwcmd "username = $AUSER
auth = plain
password_command = $T_DIR/pw.sh"
wait_for "the message" 100 has_mail 2
ok $? "pwcmd: the waiting message was delivered after the reload"
grep -q "^AUTH PLAIN $AUSER ok\$" "$MAILDIR/commands"
ok $? "pwcmd: with AUTH PLAIN and password_command's output"
! grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "pwcmd: nothing deferred"
released pwcmd 2
stop_daemon
is $? 0 "pwcmd: relayqd exits 0"

# 3. A changed oauth2_scope: the section's destination is retired and
# the new one needs a token of its own while the old refresh is held.
echo hold > "$OCTL"
oauth_conf "" "connect_timeout = 10m"
start_daemon -T smtp -v
wait_started
_n=$(count "$T_DIR/relayqd.log" 'OAuth2: requesting an access token')
send 1 scope
wait_for "the token request" 100 held 3
ok $? "scope: the session waits for a token (refresh in flight)"
_r=$(count "$T_DIR/relayqd.log" 'configuration reloaded')
OSCOPE='https://outlook.office.com/SMTP.Send offline_access openid' \
    oauth_conf "" "connect_timeout = 10m"
kill -HUP "$DAEMON_PID"
wait_for "scope: the reload" 100 sh -c \
    "[ \$(grep -c 'configuration reloaded' '$T_DIR/relayqd.log') -gt $_r ]"
ok $? "scope: relayqd reloaded while the refresh was in flight"
wait_for "scope: the new destination's refresh" 100 in_flight $((_n + 2))
ok $? "scope: the new destination asks for a token of its own"
released scope 3
wait_for "the message" 100 has_mail 3
ok $? "scope: the message was delivered with the new settings"
is "$(count "$OLOG" 'grant=refresh_token result=(invalid_grant|held)')" 3 \
    "scope: no refresh token was sent twice (the provider refused none)"
stop_daemon
is $? 0 "scope: relayqd exits 0"

# 4. SIGTERM while the refresh is in flight.
echo hold > "$OCTL"
oauth_conf "" "connect_timeout = 10m"
start_daemon -T smtp -v
wait_started
send 1 term
wait_for "the token request" 100 held 4
ok $? "term: the session waits for a token (refresh in flight)"
_s=$(count "$T_DIR/relayqd.log" '^.*stopped:')
kill -TERM "$DAEMON_PID"
wait_for "term: the refresh let go" 100 grep -q \
    'goes on until its reply is in' "$T_DIR/relayqd.log"
ok $? "term: relayqd waits for the refresh in flight before it stops"
released term 4
wait_for "term: relayqd stops" 100 sh -c \
    "[ \$(grep -c 'stopped:' '$T_DIR/relayqd.log') -gt $_s ]"
ok $? "term: relayqd stopped once the refresh was done"
wait "$DAEMON_PID"
is $? 0 "term: relayqd exits 0"
! grep -qF "$PASS" "$T_DIR/relayqd.log"
ok $? "the password never shows in the log"
stop_oauth2
stop_server
done_testing
