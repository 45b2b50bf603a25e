#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Issue 18: the spool fills up during delivery, so relayqd cannot save
# what the smarthost said.  The spool is a private tmpfs (root only)
# that the test fills with a file of zeros and frees by removing it;
# the smarthost is aiosmtpd answering 451 or 550 per recipient.
#  1. The repro: one message to u0 (250) and defer0 (451), the disk full
#     before the smarthost answers.  u0 is accepted exactly once while
#     relayqd retries writing the state with backoff (one log line for
#     the incident, alert_command run once); once the disk is freed the
#     state is written and defer0 is delivered.
#  2. The 550 variant: u1 (250) and bad1 (550).  bad1's RCPT is sent
#     once; one bounce, queued after the disk is freed.
#  3. kill -9 while the disk is full: after a restart with room, u2 is
#     sent at most twice (the "crash before the state is durable" window
#     of doc/delivery.md section 6) and defer2 once.
#  4. Steady load: 12 messages, each to one good and one 451 recipient,
#     all attempted and deferred once; then the disk is full for
#     R9_FULL_SECS (default 60 s; issue 18 says 5 minutes) while their
#     retries come due.  Each message is attempted at most once during
#     the incident, the log has one line for it, and everything is
#     delivered once after the disk is freed.
#  5. Issue 13: a bounce that cannot be queued (the disk stays too full
#     for it) does not make its message immortal: after
#     max_queue_lifetime and as long again it goes to failed/, with its
#     real state written (never before that can be), a log line and
#     alert_command.
#  6. A message expires while the disk is full: it is held, not given
#     up; once the disk is freed the sender gets one expiry bounce about
#     the recipients that were not delivered, and only then is the
#     incident over.
#  7. "cannot write SPOOL/stats" is logged once per incident, even when
#     a stats write gets through in between.
#     The held writes' waits never exceed retry_max (jitter included).
#  8. Room for the state but not for the bounce: the message is not
#     held; its 451 recipient is tried again and delivered, its 550 one
#     is not sent again and gets its bounce once there is room; no
#     spool-full incident is opened.
#  9. SIGTERM after the disk was freed, inside the write backoff: the
#     held state is written at the stop, so the accepted recipient is
#     not sent again after a restart.  The held attempt logs that no
#     attempt follows (no "next attempt in").
# 10. No free inode at the start: relayqd cannot make its -v socket;
#     root's `relayq flush` says it fell back to a user's flush; a SIGHUP
#     once inodes are free makes the socket.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "mounting a tmpfs"

FULL_SECS=${R9_FULL_SECS:-60}
ALERTS=$T_DIR/alerts
mkdir -p "$ALERTS"
cat > "$T_DIR/alert.sh" <<EOF
#!/bin/sh
f="$ALERTS/alert.\$\$"
{ env | grep '^RELAYQ_' | sort; echo "STDIN:"; cat; } > "\$f.tmp"
mv "\$f.tmp" "\$f.env"
EOF
chmod 755 "$T_DIR/alert.sh"

PORT=$(free_port)
write_conf "retry_max = 10s
probe_max = 2s
alert_after = 1h
alert_command = $T_DIR/alert.sh"
mount_tmpfs "$SPOOL" "size=8m,mode=0755" ||
    { echo "Bail out! cannot mount a tmpfs on $SPOOL"; exit 1; }

LOG=$T_DIR/relayqd.log
# Each server gets its own directory (a new one numbers its files from
# 0001 again); the checks read them all.
NSRV=0
server() {
	NSRV=$((NSRV + 1))
	MAILDIR=$T_DIR/mail.$NSRV
	start_server "$@"
}
envs() { cat "$T_DIR"/mail.*/*.env 2>/dev/null; }
cmds() { cat "$T_DIR"/mail.*/commands 2>/dev/null; }
logc() { grep -c -- "$1" "$LOG" 2>/dev/null; }
# logc_ge PATTERN N
logc_ge() { [ "$(logc "$1")" -ge "$2" ]; }
# rcpts ADDR CODE: RCPTs of ADDR answered with CODE.
rcpts() { cmds | grep -c "^RCPT $1 $2\$"; }
# copies ADDR: stored messages with ADDR as an envelope recipient.
copies() { envs | grep -o "\"$1\"" | grep -c .; }
copies_ge() { [ "$(copies "$1")" -ge "$2" ]; }
bounces() { grep -l '"mail_from": "\(<>\)\?"' "$T_DIR"/mail.*/*.env 2>/dev/null; }
nbounces() { bounces | grep -c .; }
has_bounce() { [ "$(nbounces)" -ge 1 ]; }
n_alerts() { ls "$ALERTS" | grep -c '\.env$'; }
# fill: fills the spool's file system (zeros into $SPOOL/filler).
fill() {
	dd if=/dev/zero of="$SPOOL/filler" bs=64k 2>/dev/null
	[ "$(df -P "$SPOOL" | awk 'NR == 2 { print $4 }')" -eq 0 ]
}
unfill() { rm -f "$SPOOL/filler"; }
submit() { # submit SUBJECT RCPT...
	_s=$1; shift
	printf 'Subject: %s\n\nbody %s\n' "$_s" "$_s" |
	    "$SENDMAIL" -i -f sender@example.org "$@"
}
saved_again() { logc 'spool full: incident over'; }
# full_restart SERVER-ARGS...: stops relayqd, fills the spool, starts the
# server and relayqd again.  Its first attempt is then certain to happen
# on the full disk (a probe that failed after the fill would hold the
# message before the server is up).
full_restart() {
	stop_daemon >/dev/null 2>&1
	rel_forget "$DAEMON_PID"
	fill || return 1
	server "$@"
	_n=$(logc 'started:')
	start_daemon -v
	wait_for "relayqd to start" 100 logc_ge 'started:' $((_n + 1))
}

# ---- 1. the repro ----------------------------------------------------
start_daemon -v
daemon_up
submit r9-1 u0@example.org defer0@example.org
ok $? "1: message queued while the smarthost is down"
wait_for "a failed probe" 100 grep -q 'unavailable (' "$LOG"
full_restart --rcpt-reply "defer0=451 4.3.0 try later"
ok $? "1: the spool is full; smarthost and relayqd (re)started"
wait_for "u0 accepted" 300 copies_ge u0@example.org 1
ok $? "1: u0 accepted by the smarthost"
wait_for "the incident" 100 logc_ge 'spool full: delivery state cannot be saved' 1
ok $? "1: the incident is logged"
# The write is retried with backoff; before the fix, each retry_min
# (1 s) was a new attempt that sent u0 again.
wait_for "3 write retries" 400 logc_ge 'kept in memory; writing it again' 3
ok $? "1: relayqd retries writing the state (3 retries seen)"
is "$(copies u0@example.org)" 1 "1: u0 accepted exactly once while the disk is full"
is "$(rcpts defer0@example.org 451)" 1 "1: defer0 tried once while the disk is full"
is "$(logc 'spool full: delivery state cannot be saved')" 1 \
    "1: one log line for the incident"
wait_for "the alert" 100 sh -c "ls '$ALERTS' | grep -q '\.env$'"
ok $? "1: alert_command ran"
grep -q '^RELAYQ_ALERT=spool-full$' "$ALERTS"/*.env
ok $? "1: with RELAYQ_ALERT=spool-full"
grep -q 'spool full: delivery state cannot be saved' "$ALERTS"/*.env
ok $? "1: and the reason on its stdin"
stop_server
server --rcpt-reply "bad1=550 5.1.1 no such user"
unfill
wait_for "state written" 300 logc_ge 'spool full: incident over' 1
ok $? "1: once the disk is freed the state is written"
kill -USR1 "$DAEMON_PID"
wait_for "defer0 delivered" 300 copies_ge defer0@example.org 1
ok $? "1: defer0 is delivered"
wait_for "drain" 100 queue_empty
ok $? "1: the queue drains"
is "$(copies u0@example.org) $(copies defer0@example.org)" "1 1" \
    "1: each recipient got exactly one copy"
is "$(n_alerts)" 1 "1: alert_command ran once"

# ---- 2. the 550 variant -----------------------------------------------
stop_server
submit r9-2 u1@example.org bad1@example.org
ok $? "2: message queued while the smarthost is down"
N0=$(saved_again)
full_restart --rcpt-reply "bad1=550 5.1.1 no such user"
ok $? "2: the spool is full; smarthost and relayqd restarted"
wait_for "u1 accepted" 300 copies_ge u1@example.org 1
ok $? "2: u1 accepted"
wait_for "3 write retries" 400 sh -c \
    "[ \$(grep -c 'kept in memory; writing it again' '$LOG') -ge $(($(logc 'kept in memory; writing it again') + 3)) ]"
ok $? "2: relayqd retries with backoff"
is "$(copies u1@example.org) $(rcpts bad1@example.org 550)" "1 1" \
    "2: u1 accepted once and bad1 tried once while the disk is full"
is "$(nbounces)" 0 "2: no bounce while the disk is full"
# One warning for the incident; none of its own for bad1 or its bounce.
is "$(logc 'kept until their bounce can be queued') $(logc 'cannot queue its bounce: ')" \
    "0 0" "2: no warning for bad1 or its bounce besides the incident's line"
unfill
wait_for "a bounce" 300 has_bounce
ok $? "2: the bounce arrives once the disk is freed"
wait_for "drain" 100 queue_empty
ok $? "2: the queue drains"
is "$(nbounces) $(copies u1@example.org) $(rcpts bad1@example.org 550)" \
    "1 1 1" "2: one bounce; u1 and bad1 each sent once"
bounces | sed 's/\.env$/.eml/' | xargs grep -q 'bad1@example.org'
ok $? "2: the bounce is about bad1"
[ "$(saved_again)" -gt "$N0" ]
ok $? "2: the incident ended with the state written"

# ---- 3. kill -9 while the disk is full --------------------------------
stop_server
submit r9-3 u2@example.org defer2@example.org
ok $? "3: message queued while the smarthost is down"
I0=$(logc 'spool full: delivery state cannot be saved')
full_restart --rcpt-reply "defer2=451 4.3.0 try later"
ok $? "3: the spool is full; smarthost and relayqd restarted"
wait_for "u2 accepted" 300 copies_ge u2@example.org 1
wait_for "the incident" 100 logc_ge 'spool full: delivery state cannot be saved' $((I0 + 1))
ok $? "3: a new incident is logged"
kill_daemon
stop_server
unfill
server
mv "$LOG" "$T_DIR/relayqd.1.log"
start_daemon -v
daemon_up
wait_for "defer2 delivered" 300 copies_ge defer2@example.org 1
ok $? "3: after a restart with room, defer2 is delivered"
wait_for "drain" 100 queue_empty
ok $? "3: the queue drains"
is "$(copies defer2@example.org)" 1 "3: defer2 exactly once"
[ "$(copies u2@example.org)" -le 2 ]
ok $? "3: u2 at most twice (the crash-before-the-write window): $(copies u2@example.org)"

# ---- 4. steady load, the disk full for a while -------------------------
stop_server
server --rcpt-reply "late=451 4.3.0 try later"
N=12
D0=$(logc 'next attempt in')
i=1
while [ $i -le $N ]; do
	submit "r9-4-$i" "ok$i@example.org" "late$i@example.org" || break
	i=$((i + 1))
done
is "$i" $((N + 1)) "4: $N messages queued"
# Each is attempted and deferred once, with its state saved.
nlate() { cmds | grep -c '^RCPT late[0-9]*@example.org 451$'; }
nlate_ge() { [ "$(nlate)" -ge "$1" ]; }
wait_for "first attempts" 300 nlate_ge $N
ok $? "4: every message was attempted once"
wait_for "deferrals saved" 300 logc_ge 'next attempt in' $((D0 + N))
I0=$(logc 'spool full: delivery state cannot be saved')
fill
ok $? "4: the spool is full"
# Counted once the disk is full: an attempt made while it was filling
# could still save its state.  From now on none can.
R0=$(nlate)
T0=$(date +%s)
# Their retries come due (retry_max 10s) while the disk is full: wait
# until the incident starts, then keep the disk full for FULL_SECS.
wait_for "the incident" 300 logc_ge 'spool full: delivery state cannot be saved' $((I0 + 1))
ok $? "4: the incident starts"
while [ $(($(date +%s) - T0)) -lt "$FULL_SECS" ]; do
	sleep 1
done
R1=$(nlate)
diag "4: $((R1 - R0)) attempts of the $N messages during ${FULL_SECS}s of full disk"
[ $((R1 - R0)) -ge 1 ] && [ $((R1 - R0)) -le $N ]
ok $? "4: attempts during the incident bounded by one per message ($((R1 - R0)) <= $N)"
is "$(logc 'spool full: delivery state cannot be saved')" $((I0 + 1)) \
    "4: one log line for the incident"
stop_server
server
unfill
kill -USR1 "$DAEMON_PID"
nlate_sent() { envs | grep -o '"late[0-9]*@example.org"' | sort -u | grep -c .; }
nlate_sent_ge() { [ "$(nlate_sent)" -ge "$1" ]; }
wait_for "all late delivered" 600 nlate_sent_ge $N
ok $? "4: every deferred recipient delivered after the disk is freed"
wait_for "drain" 300 queue_empty
ok $? "4: the queue drains"
dups=$(envs | grep -o '"\(ok\|late\)[0-9]*@example.org"' | sort | uniq -d | wc -l)
is "$dups" 0 "4: no recipient got two copies"
maxwait() { sed -n 's/.*kept in memory; writing it again in \([0-9]*\)s.*/\1/p' "$LOG" | sort -n | tail -1; }
[ "$(maxwait)" -le 10 ]
ok $? "4: the write retries wait at most retry_max (10 s), jitter included: $(maxwait)s"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"

# bouncing_restart LIFETIME SAVED-LOG: stops the server, and restarts
# relayqd (its log kept as SAVED-LOG) with bounces of the whole message,
# max_queue_lifetime LIFETIME and an alert_command that records alerts.
bouncing_restart() {
	stop_server
	write_conf "retry_max = 10s
probe_max = 2s
max_queue_lifetime = $1
bounce_full_message = yes
alert_after = 1h
alert_command = $T_DIR/alert.sh"
	mv "$LOG" "$T_DIR/$2"
	start_daemon -v
	daemon_up
}

# ---- 5. issue 13: a bounce that cannot be queued within the lifetime --
# bad5 gets 550 while the disk is full; the bounce (the whole 1 MiB
# message: bounce_full_message) cannot be queued, and bad5 is not sent
# again.  A bounce that lacks room gets max_queue_lifetime (15 s) and as
# long again, and the message never goes to failed/ with a state that
# could not be written: past 30 s, with the disk still full, it is held.
# Then the disk gets some room, enough for the state but not for the
# bounce: the message goes to failed/ with its real state, a log line and
# an alert.
bouncing_restart 15s relayqd.2.log
{
	printf 'Subject: r9-5\n\n'
	awk 'BEGIN { for (i = 0; i < 16384; i++)
	    printf "line %06d of a big message, to be bounced in full...\n", i }'
} | "$SENDMAIL" -i -f sender@example.org bad5@example.org
ok $? "5: a 1 MiB message queued while the smarthost is down"
B5=$(nbounces)
full_restart --rcpt-reply "bad5=550 5.1.1 no such user"
ok $? "5: the spool is full; smarthost and relayqd restarted"
wait_for "bad5 refused" 300 sh -c "[ \$(cat '$T_DIR'/mail.*/commands | grep -c '^RCPT bad5@example.org 550\$') -ge 1 ]"
ok $? "5: bad5 refused with 550"
# Past 30 s relayqd tries to give up, but cannot write the state.
wait_for "a give-up without room" 600 grep -q 'cannot save delivery state for failed/' "$LOG"
ok $? "5: after twice the lifetime, the state cannot be written for failed/"
is "$(find "$SPOOL/failed" -type f 2>/dev/null | wc -l)" 0 \
    "5: so nothing went to failed/ with a stale state"
is "$(logc 'moved to failed/') $(logc 'spool full: incident over')" "0 0" \
    "5: no give-up and no \"incident over\" logged while the disk is full"
# Room for a state file, not for the bounce.
truncate -s -256K "$SPOOL/filler"
ok $? "5: the disk gets 256 KiB of room"
kill -USR1 "$DAEMON_PID"
wait_for "the give-up" 600 grep -q 'its bounce could not be queued within max_queue_lifetime and as long again (No space left on device); moved to failed/' "$LOG"
ok $? "5: the message is moved to failed/, with a log line"
is "$(find "$SPOOL/failed" -type f ! -name '*.state' | wc -l)" 1 "5: it is in failed/"
F5=$(find "$SPOOL/failed" -type f ! -name '*.state' | head -n 1)
"$RELAYQ" show "${F5##*/}" | grep -qx 'next attempt: none (in failed/)'
ok $? "5: relayq show gives it no next attempt"
grep -q ' f 550 5\.1\.1 no such user$' "$SPOOL"/failed/*.state
ok $? "5: with its real state: bad5 failed with 550"
is "$(rcpts bad5@example.org 550)" 1 "5: bad5 was tried once"
is "$(nbounces)" "$B5" "5: no bounce was sent"
wait_for "the alert" 100 sh -c "grep -l '^RELAYQ_ALERT=bounce-failed\$' '$ALERTS'/*.env"
ok $? "5: alert_command ran with RELAYQ_ALERT=bounce-failed"
wait_for "incident over" 100 logc_ge 'spool full: incident over' 1
ok $? "5: then the incident is over"
unfill
wait_for "drain" 100 queue_empty
ok $? "5: nothing is left in the queue"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"

# ---- 6. a message expires while the spool is full ----------------------
# u6 is accepted and defer6 deferred on a full disk, so the state is
# held in memory; max_queue_lifetime (30 s) runs out while the disk is
# still full, so defer6 expires and its bounce cannot be queued.  It is
# kept (not given up): once the disk is freed the sender gets one
# expiry bounce about defer6 only, nothing goes to failed/, and the
# incident is over only then.
stop_server
write_conf "retry_max = 10s
probe_max = 2s
max_queue_lifetime = 30s
alert_after = 1h
alert_command = $T_DIR/alert.sh"
mv "$LOG" "$T_DIR/relayqd.3.log"
start_daemon -v
daemon_up
submit r9-6 u6@example.org defer6@example.org
ok $? "6: message queued while the smarthost is down"
bounces > "$T_DIR/bounces.6"
F0=$(find "$SPOOL/failed" -type f | wc -l)
full_restart --rcpt-reply "defer6=451 4.3.0 try later"
ok $? "6: the spool is full; smarthost and relayqd restarted"
wait_for "u6 accepted" 300 copies_ge u6@example.org 1
ok $? "6: u6 accepted"
wait_for "the incident" 100 logc_ge 'spool full: delivery state cannot be saved' 1
ok $? "6: the incident is logged"
wait_for "defer6 expires" 600 grep -q 'to=<defer6@example.org>.*status=expired' "$LOG"
ok $? "6: defer6 expires while the disk is full"
# What relayqd did with it next: kept it (the fix) or gave it up.
after_expiry() {
	awk '/to=<defer6@example.org>.*status=expired/ { e = 1; next }
	    e && /kept in memory; writing it again|moved to failed\// { f = 1 }
	    END { exit !f }' "$LOG"
}
wait_for "the expired message handled" 300 after_expiry
ok $? "6: relayqd handled the expired message"
is "$(logc 'spool full: incident over')" 0 "6: no \"incident over\" while the disk is full"
is "$(find "$SPOOL/failed" -type f | wc -l)" "$F0" "6: nothing moved to failed/ while the disk is full"
new_bounces() { bounces | grep -vxF -f "$T_DIR/bounces.6"; }
is "$(new_bounces | grep -c .)" 0 "6: no bounce while the disk is full"
unfill
kill -USR1 "$DAEMON_PID"
wait_for "the expiry bounce" 300 sh -c "[ \$(grep -l '\"mail_from\": \"\\(<>\\)\\?\"' '$T_DIR'/mail.*/*.env | grep -vxF -f '$T_DIR/bounces.6' | grep -c .) -ge 1 ]"
ok $? "6: the expiry bounce arrives once the disk is freed"
wait_for "drain" 300 queue_empty
ok $? "6: the queue drains"
is "$(new_bounces | grep -c .)" 1 "6: exactly one bounce"
B6=$(new_bounces | sed 's/\.env$/.eml/')
: "${B6:=/dev/null}"
is "$(grep -ci '^Final-Recipient: rfc822; *defer6@example.org' $B6)" 1 \
    "6: the bounce names defer6"
is "$(grep -ci '^Final-Recipient: rfc822; *u6@example.org' $B6)" 0 \
    "6: and not u6, which was accepted"
grep -q '^Status: 5\.4\.7' $B6
ok $? "6: with status 5.4.7 (expired)"
grep -q '"rcpt_tos": \["sender@example.org"\]' "${B6%.eml}.env"
ok $? "6: sent to the sender"
is "$(copies u6@example.org) $(copies defer6@example.org)" "1 0" \
    "6: u6 accepted once, defer6 never"
is "$(find "$SPOOL/failed" -type f | wc -l)" "$F0" "6: nothing went to failed/"
is "$(logc 'spool full: incident over')" 1 "6: \"incident over\" once the disk is freed"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"

# ---- 7. one "cannot write stats" line per incident ---------------------
# y7 (80 recipients with long 451 replies: a state file of several
# pages) and z7 (one recipient, 451) are deferred on a full disk.  Then
# the disk gets 8 KiB of room: z7's state is written and z7 is retried,
# and the stats file is written again, but y7's state still does not
# fit, so the incident goes on.  The disk is filled again: the stats
# write fails again, and is not logged again in the same incident.
stop_server
write_conf "retry_max = 4s
probe_max = 2s
alert_after = 1h"
mv "$LOG" "$T_DIR/relayqd.4.log"
start_daemon -v
daemon_up
r="" i=1
while [ $i -le 80 ]; do
	r="$r y7r$i@example.org"
	i=$((i + 1))
done
submit r9-7y $r && submit r9-7z z7@example.org
ok $? "7: two messages queued while the smarthost is down"
LONG=$(printf '%0200d' 0 | tr 0 x)
full_restart --rcpt-reply "y7r=451 4.3.0 $LONG" --rcpt-reply "z7=451 4.3.0 later"
ok $? "7: the spool is full; smarthost and relayqd restarted"
wait_for "the incident" 300 logc_ge 'spool full: delivery state cannot be saved' 1
ok $? "7: the incident is logged"
wait_for "the stats line" 300 logc_ge 'cannot write .*/stats' 1
ok $? "7: cannot write the stats file"
truncate -s -8K "$SPOOL/filler"
touch "$T_DIR/room7"
kill -USR1 "$DAEMON_PID"
stats_new() { [ -n "$(find "$SPOOL/stats" -newer "$T_DIR/room7")" ]; }
wait_for "the stats file written with room" 300 stats_new
ok $? "7: with 8 KiB of room the stats file is written again"
is "$(logc 'spool full: incident over')" 0 "7: while the incident goes on (y7 is held)"
z0=$(rcpts z7@example.org 451)
dd if=/dev/zero of="$SPOOL/filler2" bs=4k 2>/dev/null
is "$(df -P "$SPOOL" | awk 'NR == 2 { print $4 }')" 0 "7: the spool is full again"
# z7 is tried again and held: its second write retry comes after the
# stats file's next write (1 s after the attempt, which touched it).
Z7=$(sed -n 's/^relayqd: \([0-9A-F]*\): to=<z7@example.org>.*/\1/p' "$LOG" | head -1)
z7_held() {
	[ "$(rcpts z7@example.org 451)" -gt "$z0" ] &&
	    awk -v n="$(logc 'z7@example.org.*status=deferred')" -v id="$Z7" '
		/to=<z7@example.org>.*status=deferred/ { d++; next }
		d == n && index($0, id ": delivery state kept in memory") { k++ }
		END { exit k < 2 }' "$LOG"
}
wait_for "z7 held again" 300 z7_held
ok $? "7: z7 is tried again and held"
is "$(logc 'cannot write .*/stats')" 1 "7: one \"cannot write stats\" line for the incident"
rm -f "$SPOOL/filler" "$SPOOL/filler2"
kill -USR1 "$DAEMON_PID"
wait_for "the end of the incident" 300 logc_ge 'spool full: incident over' 1
ok $? "7: the incident is over once the disk is freed"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"

# ---- 8. the state can be written, the bounce cannot --------------------
# u8 (250), reject8 (550) and defer8 (451), in a 60 KiB message bounced
# in full; the disk has room for the state (8 KiB) but not for the
# bounce.  The state is written, so the message is not held: defer8 is
# tried again and delivered once the server takes it, while reject8 is
# not sent again and its bounce is queued once there is room.  No
# spool-full incident is opened (no state write failed): one warning of
# its own.
bouncing_restart 60s relayqd.5.log
{
	printf 'Subject: r9-8\n\n'
	awk 'BEGIN { for (i = 0; i < 1024; i++)
	    printf "line %06d of a 60 KiB message, bounced in full.....\n", i }'
} | "$SENDMAIL" -i -f sender@example.org u8@example.org reject8@example.org \
    defer8@example.org
ok $? "8: a 60 KiB message queued while the smarthost is down"
bounces > "$T_DIR/bounces.8"
A8=$(n_alerts)
stop_daemon >/dev/null 2>&1
rel_forget "$DAEMON_PID"
fill && truncate -s -8K "$SPOOL/filler"
ok $? "8: the spool is full but for 8 KiB"
server --rcpt-reply "reject8=550 5.1.1 no such user" \
    --rcpt-reply "defer8=451 4.3.0 try later"
_n=$(logc 'started:')
start_daemon -v
wait_for "relayqd to start" 100 logc_ge 'started:' $((_n + 1))
wait_for "defer8 deferred" 300 sh -c "cat '$T_DIR'/mail.*/commands | grep -q '^RCPT defer8@example.org 451\$'"
ok $? "8: u8, reject8 and defer8 tried"
wait_for "the bounce kept" 300 logc_ge 'kept until their bounce can be queued' 1
ok $? "8: the bounce cannot be queued, its recipient is kept"
stop_server
server --rcpt-reply "reject8=550 5.1.1 no such user"
# Before the fix the message was held: defer8 was never tried again.
wait_for "defer8 delivered" 300 copies_ge defer8@example.org 1
ok $? "8: defer8 is tried again and delivered while the bounce waits"
is "$(copies u8@example.org) $(rcpts reject8@example.org 550)" "1 1" \
    "8: u8 accepted once, reject8 not sent again"
new_bounces8() { bounces | grep -vxF -f "$T_DIR/bounces.8"; }
is "$(new_bounces8 | grep -c .)" 0 "8: no bounce yet (no room)"
# The 8 KiB left may be taken by the bounce's own partial write just
# before a state write (which write comes first is not the test's to
# choose): a state write that failed then opens an incident with its
# alert, as it must.  Either way an alert is owed only for a failed state
# write, never for the bounce alone.
N8=$(logc 'spool full: delivery state cannot be saved')
is "$(n_alerts)" "$((A8 + N8))" \
    "8: a spool-full alert only for a state write that failed ($N8)"
unfill
kill -USR1 "$DAEMON_PID"
has_bounce8() { [ "$(new_bounces8 | grep -c .)" -ge 1 ]; }
wait_for "the bounce" 300 has_bounce8
ok $? "8: the bounce arrives once there is room"
wait_for "drain" 300 queue_empty
ok $? "8: the queue drains"
is "$(new_bounces8 | grep -c .) $(copies u8@example.org) $(copies defer8@example.org) $(rcpts reject8@example.org 550)" \
    "1 1 1 1" "8: one bounce; u8 and defer8 once, reject8 tried once"
B8=$(new_bounces8 | sed 's/\.env$/.eml/')
: "${B8:=/dev/null}"
is "$(grep -ci '^Final-Recipient: rfc822; *reject8@example.org' $B8)" 1 \
    "8: the bounce names reject8"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"

# ---- 9. SIGTERM after the disk was freed --------------------------------
# u9 is accepted and defer9 deferred on a full disk; the disk is freed
# inside the write backoff and relayqd is stopped at once: it tries the
# held write once more before it stops, so after a restart u9 is not
# sent again.
stop_server
write_conf "retry_max = 10s
probe_max = 2s
alert_after = 1h"
mv "$LOG" "$T_DIR/relayqd.6.log"
start_daemon -v
daemon_up
submit r9-9 u9@example.org defer9@example.org
ok $? "9: message queued while the smarthost is down"
wait_for "a failed probe" 100 grep -q 'unavailable (' "$LOG"
full_restart --rcpt-reply "defer9=451 4.3.0 try later"
ok $? "9: the spool is full; smarthost and relayqd restarted"
wait_for "u9 accepted" 300 copies_ge u9@example.org 1
ok $? "9: u9 accepted"
# A long wait before the next write, so that the stop comes inside it.
long_wait() { grep -Eq 'delivery state kept in memory; writing it again in ([4-9]|[1-9][0-9])s' "$LOG"; }
wait_for "a long write backoff" 600 long_wait
ok $? "9: the write of the state backs off"
grep -q 'tries=[0-9]* no next attempt until its delivery state can be written (held)' "$LOG"
ok $? "9: the held attempt says that no attempt follows"
awk '/to=<u9@example.org>.*status=sent/ { s = 1 } s && /next attempt in/ { n++ }
    END { exit n > 0 }' "$LOG"
ok $? "9: and no \"next attempt in\" for it"
unfill
stop_daemon
ok $? "9: relayqd stopped at once after the disk was freed"
rel_forget "$DAEMON_PID"
is "$(logc 'stopping with .* delivery state could not be written')" 0 \
    "9: the state was written at the stop"
stop_server
server
start_daemon -v
daemon_up
wait_for "defer9 delivered" 300 copies_ge defer9@example.org 1
ok $? "9: defer9 delivered after the restart"
wait_for "drain" 300 queue_empty
ok $? "9: the queue drains"
is "$(copies u9@example.org) $(copies defer9@example.org)" "1 1" \
    "9: u9 not sent again after the restart"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"

# ---- 10. no free inode at the start: the -v socket comes later ----------
# relayqd starts on a spool with no free inode, so it cannot make its -v
# socket (SPOOL/verbose), which root's `relayq flush` uses.  relayq says
# so when it has to fall back to the wake FIFO (a user's flush), and a
# SIGHUP once inodes are free makes the socket.
write_conf "retry_max = 10s
probe_max = 2s"
mv "$LOG" "$T_DIR/relayqd.7.log"
start_daemon -v
daemon_up
stop_daemon >/dev/null 2>&1
rel_forget "$DAEMON_PID"
IUSED=$(df -iP "$SPOOL" | awk 'NR == 2 { print $3 }')
mount -o remount,nr_inodes="$IUSED" "$SPOOL" &&
    [ "$(df -iP "$SPOOL" | awk 'NR == 2 { print $4 }')" -eq 0 ]
ok $? "10: the spool has no free inode"
start_daemon -v
wait_for "relayqd to start" 100 logc_ge 'started:' 2
wait_for "no -v socket" 100 logc_ge 'cannot listen on .*/verbose' 1
ok $? "10: relayqd cannot make its -v socket"
"$RELAYQ" flush 2>"$T_DIR/flush10.err"
ok $? "10: root's flush goes through the wake FIFO"
grep -q "cannot reach relayqd's socket .*/verbose (.*); asked through .*/wake instead, which relayqd takes as a user's flush" "$T_DIR/flush10.err"
ok $? "10: and relayq says it could not reach relayqd's socket"
mount -o remount,nr_inodes=100000 "$SPOOL"
ok $? "10: inodes freed"
R0=$(logc 'configuration reloaded')
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 logc_ge 'configuration reloaded' $((R0 + 1))
wait_for "the -v socket" 100 test -S "$SPOOL/verbose"
ok $? "10: after SIGHUP relayqd listens on its -v socket"
F0=$(logc 'flush requested by')
"$RELAYQ" flush 2>"$T_DIR/flush10.err"
ok $? "10: root's flush"
is "$(cat "$T_DIR/flush10.err")" "" "10: through the socket, with nothing to say"
wait_for "root's flush" 100 logc_ge 'flush requested by' $((F0 + 1))
ok $? "10: relayqd takes it as root's flush"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"
done_testing
