#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Idle behaviour and unannounced drops (issue 8): an idle relayqd with an
# empty queue arms no timer (its main thread sleeps in epoll_wait with
# timeout -1, read from /proc/PID/syscall), and a drop that nobody
# announced through the wake FIFO (sendmail -odq) is still delivered at
# once, through the inotify watch on incoming/: the periodic scan is an
# hour away here.  Also: a message held with `relayq hold` stays held
# across a restart.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf "scan_interval = 3600s"
start_server

# True when relayqd's main thread sleeps in epoll_wait (x86_64 232,
# epoll_pwait 281; arm64 epoll_pwait 22) with timeout -1 (4th argument).
idle_wait() {
	set -- $(cat "/proc/$DAEMON_PID/syscall" 2>/dev/null)
	case ${1:-} in 232 | 281 | 22) ;; *) return 1 ;; esac
	[ "${5:-}" = 0xffffffffffffffff ] || [ "${5:-}" = 0xffffffff ]
}
logged() { grep -q "$1" "$T_DIR/relayqd.log"; }

# Under valgrind the kernel sees valgrind's own waits, not relayqd's.
check_idle() {
	if [ -n "${RELAYQ_VALGRIND:-}" ]; then
		ok 0 "# SKIP $1 (not readable under valgrind)"
		return
	fi
	# relayqd is not dumpable: only root may read /proc/PID/syscall.
	if [ "$(id -u)" != 0 ]; then
		ok 0 "# SKIP $1 (/proc/$DAEMON_PID/syscall is root's)"
		return
	fi
	wait_for "idle epoll_wait" 100 idle_wait
	ok $? "$1"
	diag "syscall: $(cat "/proc/$DAEMON_PID/syscall" 2>/dev/null)"
}

# 1. Empty queue: no timer at all.
start_daemon
wait_for "start" 100 logged 'started:'
ok $? "relayqd started"
check_idle "idle with an empty queue: epoll_wait with no timeout"

# 2. A drop without a poke is delivered at once (the scan is 1 h away).
printf 'Subject: unannounced\n\nx\n' | "$SENDMAIL" -odq -i quiet@example.net
ok $? "sendmail -odq exits 0"
wait_for "unannounced drop" 100 has_mail 1
ok $? "a drop nobody announced is delivered (inotify on incoming/)"
wait_for "queue empty" 100 queue_empty
ok $? "queue empty afterwards"

# 3. Idle again once the session closed: the scan timer is disarmed.
check_idle "idle again after a delivery: no timer left armed"

# 4. A burst of unannounced drops, more than one pick-up batch would
# need if they came at once, all arrive exactly once.
i=0
while [ $i -lt 20 ]; do
	printf 'Subject: burst %d\n\nx\n' "$i" |
	    "$SENDMAIL" -odq -i "burst$i@example.net" || break
	i=$((i + 1))
done
is "$i" 20 "20 more drops without a poke"
wait_for "burst" 150 has_mail 21
ok $? "all of them delivered"
wait_for "queue empty" 100 queue_empty
ok $? "queue empty after the burst"
is "$(count_mail)" 21 "nothing delivered twice"

# 5. A held message stays held across a restart (startup reads only the
# messages that have a state file, and holds live there).
stop_server
printf 'Subject: held\n\nx\n' | "$SENDMAIL" -odq -i held@example.net
wait_for "held message accepted" 100 sh -c "ls '$SPOOL/queue' | grep -q ."
ok $? "message accepted while the server is down"
id=$(ls "$SPOOL/queue" | head -1)
"$RELAYQ" hold "$id" >/dev/null
ok $? "relayq hold $id"
stop_daemon
is "$?" 0 "relayqd exits 0"
MAILDIR=$T_DIR/mail2
start_server
start_daemon
wait_for "restart" 100 logged '1 on hold'
ok $? "restart: the held message is counted as on hold"
# Another message goes out: relayqd has run a delivery since the restart.
printf 'Subject: after the restart\n\nx\n' | "$SENDMAIL" -i other@example.net
wait_for "the other message" 100 has_mail 1
is "$(count_mail)" 1 "the held message is not delivered"
"$RELAYQ" release "$id" >/dev/null
ok $? "relayq release $id"
wait_for "released" 100 has_mail 2
ok $? "released: delivered"
grep -l 'Subject: held' "$MAILDIR"/*.eml >/dev/null
ok $? "released: that was the held message"
stop_daemon
is "$?" 0 "relayqd exits 0"
done_testing
