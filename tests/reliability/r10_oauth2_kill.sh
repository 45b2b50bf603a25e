#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# R10, kill -9 during an OAuth2 refresh (issue 14): relayqd is started
# with a message queued and no token cached, so it refreshes at once, and
# is SIGKILLed at a random moment of that refresh, R10_KILLS times
# (default 50).  The fake provider answers slowly (--slow, about 0.4 s)
# and rotates the refresh token on every use, invalidating all older
# ones, so the kills land before the request, while it waits, and around
# the rotated token's write.  After every kill the refresh token file
# must be whole and hold a token the provider still accepts (the write
# order: temporary file, fsync, rename, directory fsync, see
# src/oauth2/oauth2_store.h).  Then relayqd runs undisturbed: every
# message is delivered and the file holds a token that the provider
# issued during that run (relayqd stored the rotated token).  Not "the
# provider's newest": the last killed relayqd's request may still be
# served (the provider sleeps before it answers), and that rotation,
# which no relayqd received, may come after the undisturbed run's.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
. "$top_srcdir/tests/integration/oauth2.sh"

KILLS=${R10_KILLS:-50}
printf 'rt-initial\n' > "$RTFILE"
chmod 600 "$RTFILE"
echo slow > "$OCTL"
start_oauth2 --slow 0.4 --lifetime 3600
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" \
    --xoauth2 "$AUSER:" --oauth2-state "$OSTATE"
oauth_conf
bad=0
torn=0
i=0
while [ $i -lt "$KILLS" ]; do
	send 1 "k$i" || break
	start_daemon
	msleep "$(rand 0 900)"
	kill_daemon
	i=$((i + 1))
	# A whole token line, never empty or cut.
	grep -Eqx 'rt-[A-Za-z0-9_-]{32}|rt-initial' "$RTFILE" || torn=$((torn + 1))
	rt_is_valid || { bad=$((bad + 1)); diag "kill $i: $(cat "$RTFILE") no longer accepted"; }
done
is "$torn" 0 "$i kills: the refresh token file was never empty or cut"
is "$bad" 0 "$i kills: the file always held a token the provider accepts"
diag "refreshes the provider saw: $(ostate refreshes), rejected: $(ostate rejected)"
is "$(ostate rejected)" 0 "no refresh was ever refused"
: > "$OCTL"
# One more message, so that the undisturbed run must refresh even if the
# last killed relayqd delivered the rest; every token the provider
# issues from now on is numbered next_seq or higher.
send 1 last
seq0=$(ostate next_seq)
start_daemon
# distinct: how many of the test's messages arrived, each counted once.
distinct() {
	grep -h '^Subject: oauth2 k[0-9]* 0' "$MAILDIR"/*.eml 2>/dev/null |
	    sort -u | wc -l | tr -d ' '
}
has_distinct() { [ "$(distinct)" -ge "$1" ]; }
has_last() { grep -qh '^Subject: oauth2 last 0' "$MAILDIR"/*.eml 2>/dev/null; }
wait_for "every message" 1200 has_distinct "$i"
is "$(distinct)" "$i" "delivery resumes: all $i messages delivered"
wait_for "the last message" 600 has_last
ok $? "the message queued for the undisturbed run is delivered"
# A kill between the server's 250 and relayqd's record of it (the window
# doc/delivery.md describes) resends that message once relayqd is back:
# at most one copy per session the kill cut, as R1 bounds it.
dups=$(($(count_mail) - $(distinct) - 1))
diag "copies delivered twice (a kill in the window after the 250): $dups"
[ "$dups" -le $((i * 4)) ]
ok $? "duplicates ($dups) <= kills ($i) x max_connections (4)"
wait_for "the queue to drain" 600 queue_empty
ok $? "the queue drains"
# rt_seq: the provider's number for the token in the file (-1: unknown).
rt_seq() {
	"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["refresh"].get(open(sys.argv[2]).read().strip(), -1))' \
	    "$OSTATE" "$RTFILE"
}
rt_is_valid
ok $? "the file holds a token the provider accepts"
s=$(rt_seq)
diag "the file's token is number $s; the undisturbed run's start: $seq0"
[ "$s" -ge "$seq0" ]
ok $? "the file holds a token issued during the undisturbed run"
stop_daemon
ok $? "relayqd exits 0 when stopped"
done_testing
