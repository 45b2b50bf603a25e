#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# R9, crash during socket submissions (issue 16): four users (nobody,
# daemon, bin, sys), each under setpriv --no-new-privs so sendmail cannot
# write the spool and submits over relayqd's socket, queue R9_N messages
# in all (default 500) with unique X-Seq headers while relayqd is
# SIGKILLed at random 100-600 ms intervals and restarted after a random
# 0-300 ms outage.  The SMTP server is down during the chaos, so no
# delivery is in flight when relayqd dies and a duplicate could only come
# from the submission path.  Then the server starts and relayqd drains
# the queue.  Every submission that exited 0 must be delivered exactly
# once; every other one must have exited 75 (never a false 0, never
# another code) and be delivered at most once (relayqd may have died
# after the commit and before its K reply).  Partial files of the
# killed relayqds may stay in tmp/ (unlocked; collected when 300 s old).
# Bounded: the chaos stops after 240 s.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"

need_root "setpriv"
command -v setpriv >/dev/null 2>&1 || {
	echo "1..0 # SKIP needs setpriv"
	exit 0
}
N=${R9_N:-500}
USERS="nobody daemon bin sys"
PER=$((N / 4))
PORT=$(free_port)
SOCK=$T_DIR/submit.sock
write_conf "max_connections = 2"
cat >> "$CONF" <<EOC
[relayq]
submit_socket = $SOCK
EOC
conf_merge "$CONF"
chmod 711 "$T_DIR"
chmod 644 "$CONF"

# submitter USER: PER messages as USER; "SEQ RC" per message in rc.USER.
submitter() {
	_i=1
	: > "$T_DIR/rc.$1"
	while [ $_i -le $PER ]; do
		printf 'X-Seq: %s-%d\nSubject: r9 %s-%d\n\nbody %s-%d\n' \
		    "$1" $_i "$1" $_i "$1" $_i |
		    setpriv --reuid="$1" --regid=nogroup --clear-groups \
		    --no-new-privs env RELAYQ_CONFIG="$CONF" \
		    "$SENDMAIL" -i "r9-$1@example.net" 2>>"$T_DIR/submit.err"
		echo "$_i $?" >> "$T_DIR/rc.$1"
		_i=$((_i + 1))
	done
}

t0=$(date +%s)
start_daemon
wait_for "the submission socket" 100 test -S "$SOCK"
ok $? "relayqd listens on its socket"
PIDS=""
for u in $USERS; do
	submitter "$u" &
	PIDS="$PIDS $!"
done
T_PIDS="$T_PIDS $PIDS"
running() {
	for p in $PIDS; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}
kills=0
deadline=$((t0 + 240))
while running && [ "$(date +%s)" -lt $deadline ]; do
	msleep "$(rand 100 600)"
	kill_daemon
	kills=$((kills + 1))
	msleep "$(rand 0 300)"
	start_daemon
done
for p in $PIDS; do
	wait "$p"
	rel_forget "$p"
done
diag "R9: $N submissions from 4 users in $(($(date +%s) - t0)) s," \
    "$kills kills of relayqd"
[ "$kills" -ge 5 ]
ok $? "relayqd was killed and restarted many times ($kills)"
cat "$T_DIR"/rc.* > "$T_DIR/rc.all"
is "$(wc -l < "$T_DIR/rc.all")" "$N" "every submission recorded an exit status"
zero=$(awk '$2 == 0' "$T_DIR/rc.all" | wc -l)
tf=$(awk '$2 == 75' "$T_DIR/rc.all" | wc -l)
other=$(awk '$2 != 0 && $2 != 75' "$T_DIR/rc.all" | wc -l)
diag "R9: exit 0: $zero, exit 75: $tf, other: $other"
is "$other" 0 "every failed submission exited 75"
[ "$zero" -gt 0 ] && [ "$tf" -gt 0 ]
ok $? "both outcomes happened (0: $zero, 75: $tf)"

# tmp/ may keep the partial files of submissions relayqd died in; they
# are garbage (no writer holds their flock) and relayqd's pick-up
# collects them once QUEUE_SPOOL_TMP_MIN_AGE (300 s) old.
drained() {
	[ "$(find "$SPOOL/incoming" "$SPOOL/queue" "$SPOOL/state" -type f |
	    wc -l)" -eq 0 ]
}
start_server
wait_for "the queue to drain" 900 drained
ok $? "the spool drains once the server is up"
stale=0
for f in "$SPOOL"/tmp/*; do
	[ -f "$f" ] || continue
	flock -n "$f" true || stale=$((stale + 1))
done
is "$stale" 0 "every file left in tmp/ is a dead writer's (unlocked)"
diag "R9: $(n_in tmp) partial files in tmp/ from killed relayqds"
bad0=0; bad75=0; dup75=0
for u in $USERS; do
	seqcheck "$u" $PER
	# count.USER: "SEQ COPIES"; rc.USER: "SEQ RC".
	r=$(awk 'NR == FNR { c[$1] = $2; next }
	    $2 == 0 && c[$1] != 1 { z++ }
	    $2 != 0 && c[$1] > 1 { t++ }
	    $2 != 0 && c[$1] == 1 { d++ }
	    END { print z + 0, t + 0, d + 0 }' \
	    "$T_DIR/count.$u" "$T_DIR/rc.$u")
	set -- $r
	bad0=$((bad0 + $1)); bad75=$((bad75 + $2)); dup75=$((dup75 + $3))
done
diag "R9: messages=$N kills=$kills exit0=$zero exit75=$tf" \
    "exit0-not-exactly-once=$bad0 exit75-delivered=$dup75" \
    "time=$(($(date +%s) - t0))s"
is "$bad0" 0 "every submission that exited 0 was delivered exactly once"
is "$bad75" 0 "no failed submission was delivered twice"
is "$(n_in corrupt)" 0 "corrupt/ empty at the end"
stop_daemon
ok $? "relayqd exits 0 on SIGTERM"
rel_forget "$DAEMON_PID"
done_testing
