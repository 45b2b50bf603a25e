#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A reload that turns OAuth2 off while a token refresh is in flight
# (issue 14): the reload cancels the refresh, and the sessions that waited
# for it are closed (a changed section is a new destination: the old
# one is retired), and their messages go out at once with the new
# configuration's AUTH; none is left waiting until relayqd stops.  The fake provider (fakeoauth2.py) holds its
# answer for 10 minutes ("slow", --slow 600), and relayqd's token request
# may take as long (connect_timeout = 10m), so the refresh is surely in
# flight when the reload comes, however slow the machine:
#  1. OAuth2 -> no AUTH: the waiting message goes out without AUTH,
#     nothing deferred;
#  2. OAuth2 -> password_command: the waiting session runs the command and
#     delivers with AUTH PLAIN.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/oauth2.sh"

PASS='pw-reload-7Qz'
printf '#!/bin/sh\necho "%s"\n' "$PASS" > "$T_DIR/pw.sh"
chmod 755 "$T_DIR/pw.sh"
printf 'rt-initial\n' > "$RTFILE"
chmod 600 "$RTFILE"
echo slow > "$OCTL"
start_oauth2 --slow 600
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" \
    --xoauth2 "$AUSER:" --oauth2-state "$OSTATE" --auth "$AUSER:$PASS"

# in_flight N: relayqd has asked for a token N times.
in_flight() {
	[ "$(grep -c 'OAuth2: requesting an access token' "$T_DIR/relayqd.log")" -ge "$1" ]
}
# reload_to DESC SMARTHOST-LINES: the config without OAuth2, reloaded.
reload_to() {
	_r=$(grep -c 'configuration reloaded' "$T_DIR/relayqd.log")
	write_conf "connect_timeout = 10m" "tls = starttls
ca_file = $PKI/ca.crt
$2"
	kill -HUP "$DAEMON_PID"
	wait_for "$1: the reload" 100 sh -c \
	    "[ \$(grep -c 'configuration reloaded' '$T_DIR/relayqd.log') -gt $_r ]"
	ok $? "$1: relayqd reloaded while the refresh was in flight"
}

# 1. OAuth2 -> no AUTH.
oauth_conf "" "connect_timeout = 10m"
start_daemon -T smtp -v
wait_started
send 1 off
wait_for "the token request" 100 in_flight 1
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
stop_daemon
is $? 0 "off: relayqd exits 0"

# 2. OAuth2 -> password_command (a fresh relayqd: no token cached).
oauth_conf "" "connect_timeout = 10m"
start_daemon -T smtp -v
wait_started
send 1 pwcmd
wait_for "the token request" 100 in_flight 2
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
stop_daemon
is $? 0 "pwcmd: relayqd exits 0"
! grep -qF "$PASS" "$T_DIR/relayqd.log"
ok $? "the password never shows in the log"
stop_oauth2
stop_server
done_testing
