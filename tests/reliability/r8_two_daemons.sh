#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# R8 / A13, two daemons: while one relayqd runs, a second one on the same
# spool exits non-zero at once (the spool lock), every time it is tried
# during a run of 200 messages; no message is delivered twice; once the
# first daemon stops, a new one takes over.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"

N=200
PORT=$(free_port)
write_conf "max_connections = 4"
start_server
start_daemon
FIRST=$DAEMON_PID
daemon_up

# second: runs another relayqd (bounded 120 s); prints its exit status.
second() {
	"$RELAYQD" -f -c "$CONF" >"$T_DIR/second.log" 2>&1 &
	_p=$!
	_i=0
	while kill -0 $_p 2>/dev/null && [ $_i -lt 1200 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -9 $_p 2>/dev/null
	wait $_p
	echo $?
}

rc=$(second)
[ "$rc" -ne 0 ] && [ "$rc" -ne 137 ]
ok $? "a second relayqd on the same spool exits non-zero by itself ($rc)"
grep -qi 'lock\|already running\|another' "$T_DIR/second.log"
ok $? "it says why: $(head -n 1 "$T_DIR/second.log")"

refused=0; tries=0; i=1
while [ $i -le $N ]; do
	printf 'X-Seq: R8-%d\nSubject: r8\n\nbody R8-%d\n' $i $i |
	    "$SENDMAIL" -i r8@example.net || echo "submission $i failed"
	if [ $((i % 20)) -eq 0 ]; then
		tries=$((tries + 1))
		rc=$(second)
		[ "$rc" -ne 0 ] && [ "$rc" -ne 137 ] && refused=$((refused + 1))
	fi
	i=$((i + 1))
done
is "$refused" "$tries" "every second daemon tried during the run exited non-zero ($refused/$tries)"
wait_for "the queue to drain" 600 queue_empty
ok $? "the first daemon delivered everything"
seqcheck R8 $N
is "$LOST" 0 "no message lost"
is "$DUPS" 0 "no message delivered twice over $N messages"
kill -0 "$FIRST"
ok $? "the first daemon is still running"
stop_daemon
ok $? "the first daemon exits 0"
rel_forget "$FIRST"

printf 'X-Seq: R8-after\nSubject: r8\n\nafter\n' | "$SENDMAIL" -i r8@example.net
start_daemon
wait_for "takeover" 100 queue_empty
ok $? "once it stopped, a new relayqd takes over the spool"
kill -0 "$DAEMON_PID"
ok $? "the new daemon keeps running"
stop_daemon
ok $? "the new daemon exits 0"
done_testing
