#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Keeping the rotated refresh token (issue 14; outside tester's o14 F2,
# F3, F8).  The fake provider runs with --strict: a refresh token works
# once, so a rotated token relayqd loses leaves it with a dead one.
#  1. a 200 reply that carries a new refresh_token but is refused for
#     another reason (token_type, expires_in, no access_token): the new
#     refresh token is stored all the same, and mail goes out later;
#  2. a token file whose temporary file cannot be created: relayqd says
#     so and does not send the refresh token at all;
#  3. stale "FILE.tmp.PID" files of dead writers are removed at the next
#     refresh, one of a live process never;
#  4. the time spent waiting for FILE.lock (held here by another
#     process, as relayq probe or oauth2 login would) does not count
#     toward the token request's timeout: a lock held for 5 s and an
#     answer that takes 5 s, with connect_timeout = 8s, go through;
#  5. check-config and start-up: a token URL with user:password@, a
#     missing oauth2_ca_file, an empty refresh token file and a token
#     directory relayqd's user cannot write are reported.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/oauth2.sh"

printf 'rt-initial\n' > "$RTFILE"
chmod 600 "$RTFILE"
start_oauth2 --strict --slow 600
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" \
    --xoauth2 "$AUSER:" --oauth2-state "$OSTATE"

# count FILE PATTERN: lines of FILE matching PATTERN (grep -E).
count() { grep -Ec "$2" "$1" 2>/dev/null; }
# log_count PATTERN N: relayqd's log has N lines matching PATTERN.
log_count() { [ "$(count "$T_DIR/relayqd.log" "$1")" -ge "$2" ]; }
# not_rejected DESC: the refresh token was never refused.
not_rejected() {
	! grep -q 'refresh token rejected' "$T_DIR/relayqd.log" &&
	    [ "$(count "$OLOG" 'result=invalid_grant')" -eq 0 ]
	ok $? "$1: the refresh token was never rejected"
}

# ---- 1. a refused 200 reply's rotated refresh token is stored ----
oauth_conf
start_daemon
wait_started
n=0
for case in 'rotbadtype:token_type is not Bearer' \
    'rotbadexpires:expires_in is not a number of seconds in range' \
    'rotnoaccess:no access_token'; do
	mode=${case%%:*}
	want=${case#*:}
	before=$(cat "$RTFILE")
	echo "$mode" > "$OCTL"
	[ $n -eq 0 ] && send 1 rot
	n=$((n + 1))
	wait_for "the $mode reply" 100 log_count \
	    "$want \(the rotated refresh token it carried was stored\)" 1
	ok $? "$mode: refused, and the log says the rotated token was stored"
	[ "$(cat "$RTFILE")" != "$before" ] && rt_is_valid
	ok $? "$mode: the file holds the new refresh token, which the provider accepts"
done
: > "$OCTL"
wait_for "the message" 100 has_mail 1
ok $? "rot: the message goes out once the endpoint answers well"
not_rejected rot
stop_daemon
is $? 0 "rot: relayqd exits 0"

# ---- 2. the temporary file cannot be created: nothing is sent ----
: > "$T_DIR/relayqd.log"
start_daemon
wait_started
# A directory where relayqd's temporary file goes: open(O_EXCL) fails
# even for root.
mkdir "$RTFILE.tmp.$DAEMON_PID"
before=$(count "$OLOG" 'grant=refresh_token')
send 1 ro
wait_for "the refusal" 100 log_count \
    'cannot store a rotated refresh token \(cannot create .*\); the refresh token was not sent' 1
ok $? "ro: relayqd says it cannot store a rotated token and sends nothing"
is "$(count "$OLOG" 'grant=refresh_token')" "$before" \
    "ro: the provider got no refresh request"
rmdir "$RTFILE.tmp.$DAEMON_PID"
wait_for "the message" 100 has_mail 2
ok $? "ro: the message goes out once the file can be written"
rt_is_valid
ok $? "ro: the file holds the refresh token the provider accepts"
not_rejected ro
stop_daemon
is $? 0 "ro: relayqd exits 0"

# ---- 3. stale temporary files ----
( : ) &
dead=$!
wait "$dead"
sleep 600 &
live=$!
T_PIDS="$T_PIDS $live"
printf 'rt-stale\n' > "$RTFILE.tmp.$dead"
printf 'rt-live\n' > "$RTFILE.tmp.$live"
: > "$T_DIR/relayqd.log"
start_daemon
wait_started
send 1 stale
wait_for "the message" 100 has_mail 3
ok $? "stale: the message goes out"
! [ -e "$RTFILE.tmp.$dead" ]
ok $? "stale: the temporary file of a dead writer is removed"
[ -e "$RTFILE.tmp.$live" ]
ok $? "stale: the one of a live process is left alone"
kill "$live"
rm -f "$RTFILE.tmp.$live"
stop_daemon
is $? 0 "stale: relayqd exits 0"

# ---- 4. the lock wait does not eat the request's timeout ----
# holder LOCK READY RELEASE: holds LOCK, says so in READY, lets go once
# RELEASE exists.
holder() {
	"$PYTHON3" -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)' "$@"
}
oauth_conf "" "connect_timeout = 8s"
: > "$T_DIR/relayqd.log"
start_daemon -v
wait_started
holder "$RTFILE.lock" "$T_DIR/locked" "$T_DIR/unlock" &
HOLDER=$!
T_PIDS="$T_PIDS $HOLDER"
wait_for "the lock holder" 100 test -e "$T_DIR/locked"
held=$(count "$OLOG" 'result=held')
echo hold > "$OCTL"
send 1 lock
wait_for "the refresh" 100 log_count 'OAuth2: requesting an access token' 1
# The lock is held 5 s after relayqd wants it, then the answer takes 5 s
# more: each within connect_timeout, both together not.
sleep 5
touch "$T_DIR/unlock"
wait "$HOLDER"
wait_for "the request" 100 sh -c \
    "[ \$(grep -c 'result=held' '$OLOG') -gt $held ]"
ok $? "lock: the request went out once the lock was free"
sleep 5
: > "$OCTL"
wait_for "the message" 100 has_mail 4
ok $? "lock: the message goes out"
! grep -q 'no complete reply within' "$T_DIR/relayqd.log"
ok $? "lock: the request did not time out"
rt_is_valid
ok $? "lock: the file holds the refresh token the provider accepts"
not_rejected lock
stop_daemon
is $? 0 "lock: relayqd exits 0"

# ---- 5. check-config and start-up ----
# check_bad DESC PATTERN: check-config fails, saying PATTERN.
check_bad() {
	"$RELAYQ" -c "$CONF" check-config > "$T_DIR/check.out" 2>&1
	rc=$?
	[ $rc -ne 0 ] && grep -Eq "$2" "$T_DIR/check.out"
	ok $? "$1: check-config fails, saying so (exit $rc)"
}
# start_refused DESC PATTERN: relayqd refuses to start, saying PATTERN.
start_refused() {
	: > "$T_DIR/relayqd.log"
	# Bounded: a relayqd that starts is stopped after 60 s.
	timeout 60 "$RELAYQD" -f -c "$CONF" >> "$T_DIR/relayqd.log" 2>&1
	rc=$?
	[ $rc -ne 0 ] && grep -Eq "$2" "$T_DIR/relayqd.log"
	ok $? "$1: relayqd refuses to start, saying so (exit $rc)"
}
oauth_conf
sed -i "s|^oauth2_token_url = https://|oauth2_token_url = https://user:pa55w0rd@|" "$CONF"
check_bad userinfo 'smarthost:oauth2_token_url must not hold a user name or password'
! grep -q pa55w0rd "$T_DIR/check.out"
ok $? "userinfo: check-config does not show the password"
start_refused userinfo 'smarthost:oauth2_token_url must not hold a user name or password'
! grep -q pa55w0rd "$T_DIR/relayqd.log"
ok $? "userinfo: relayqd does not log the password"

oauth_conf "oauth2_ca_file = $T_DIR/nonexistent.pem"
check_bad cafile "oauth2_ca_file: cannot open $T_DIR/nonexistent.pem"
start_refused cafile "oauth2_ca_file: cannot open $T_DIR/nonexistent.pem"

oauth_conf
cp "$RTFILE" "$T_DIR/rt.keep"
: > "$RTFILE"
check_bad empty "oauth2_refresh_token_file $RTFILE is empty"
cat "$T_DIR/rt.keep" > "$RTFILE"
"$RELAYQ" -c "$CONF" check-config > "$T_DIR/check.out" 2>&1
is $? 0 "check-config passes with the token back"

if [ "$(id -u)" -eq 0 ]; then
	# relayqd's user is the spool's owner: nobody here, who may not
	# create files in the token directory (root's, 0700).
	mkdir -p "$T_DIR/nspool" && chown nobody "$T_DIR/nspool"
	sed -i "s|^spool_dir = .*|spool_dir = $T_DIR/nspool|" "$CONF"
	check_bad rodir "oauth2_refresh_token_file $RTFILE: uid [0-9]+ \(relayqd's\) cannot create files in $T_DIR/oauth2"
else
	chmod 500 "$T_DIR/oauth2"
	check_bad rodir "oauth2_refresh_token_file $RTFILE: cannot create files in $T_DIR/oauth2"
	: > "$T_DIR/relayqd.log"
	start_daemon
	wait_started
	log_has "OAuth2: oauth2_refresh_token_file $RTFILE: cannot create files in $T_DIR/oauth2"
	ok $? "rodir: relayqd says so at start"
	stop_daemon
	chmod 700 "$T_DIR/oauth2"
fi
stop_oauth2
stop_server
done_testing
