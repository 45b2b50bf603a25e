# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Helpers for the reliability and security suite (issue 7), sourced after
# tests/integration/lib.sh: random delays, a daemon that can be SIGKILLed
# and restarted many times without its dead PIDs piling up in T_PIDS
# (a reused PID must never be killed by the cleanup), tmpfs mounts that
# the EXIT trap always unmounts, and the sequence-number audit of what
# the SMTP server received.

REL=$top_srcdir/tests/reliability
# These tests measure relayqd itself; valgrind would change the timing.
unset RELAYQ_VALGRIND
REL_MOUNTS=""

# rel_cleanup: kills what is still running, unmounts, then lib.sh's
# cleanup (which removes $T_DIR unless a test failed).
rel_cleanup() {
	for p in $T_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	for p in $T_PIDS; do
		wait "$p" 2>/dev/null
	done
	for m in $REL_MOUNTS; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
		    echo "# cannot unmount $m"
	done
	t_cleanup
}
trap rel_cleanup EXIT

# rel_forget PID: drops a reaped PID from T_PIDS.
rel_forget() {
	_keep=""
	for p in $T_PIDS; do
		[ "$p" = "$1" ] || _keep="$_keep $p"
	done
	T_PIDS=$_keep
}

# rand LO HI: prints a random integer in [LO, HI].
rand() {
	_r=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	echo $(($1 + _r % ($2 - $1 + 1)))
}

# msleep MS: sleeps MS milliseconds.
msleep() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# kill_daemon: SIGKILL relayqd and reap it.
kill_daemon() {
	kill -9 "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	rel_forget "$DAEMON_PID"
}

# seqcheck PREFIX N: audits X-Seq headers PREFIX-1..PREFIX-N in $MAILDIR;
# sets LOST, DUPS (extra copies) and SEEN, and lists lost ones in
# $T_DIR/lost.PREFIX and "K COPIES" lines in $T_DIR/count.PREFIX.  Seqs
# not in 1..N with this prefix, or with a body not matching, are BOGUS.
seqcheck() {
	eval "$("$PYTHON3" "$REL/seqcheck.py" "$MAILDIR" "$1" "$2" \
	    "$T_DIR/lost.$1" "$T_DIR/count.$1")"
}

# need_root WHAT: bails out when not root (mounts, setpriv, ulimit tests).
need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP $1 needs root"
		exit 0
	fi
}

# mount_tmpfs DIR OPTIONS: a private tmpfs on DIR, unmounted at exit.
mount_tmpfs() {
	mkdir -p "$1" && mount -t tmpfs -o "$2" relayq-test "$1" &&
	    REL_MOUNTS="$1 $REL_MOUNTS"
}

# umount_tmpfs DIR
umount_tmpfs() {
	umount "$1" || return 1
	_keep=""
	for m in $REL_MOUNTS; do
		[ "$m" = "$1" ] || _keep="$_keep $m"
	done
	REL_MOUNTS=$_keep
}

# n_in DIR: number of entries in $SPOOL/DIR.
n_in() {
	find "$SPOOL/$1" -mindepth 1 2>/dev/null | wc -l
}

# start_fault [ARGS...]: faultsmtpd.py on $PORT, recording into $WIRE.
start_fault() {
	WIRE=$T_DIR/wire.$(date +%s%N)
	rm -f "$T_DIR/fault.pid"
	"$PYTHON3" "$REL/faultsmtpd.py" --port "$PORT" --dir "$WIRE" \
	    --pidfile "$T_DIR/fault.pid" "$@" >>"$T_DIR/fault.log" 2>&1 &
	FAULT_PID=$!
	T_PIDS="$T_PIDS $FAULT_PID"
	wait_for "fault server to listen" 100 test -s "$T_DIR/fault.pid"
}

stop_fault() {
	kill "$FAULT_PID" 2>/dev/null
	wait "$FAULT_PID" 2>/dev/null
	rel_forget "$FAULT_PID"
}

# n_msgs: messages the fault server accepted.
n_msgs() {
	ls "$WIRE" 2>/dev/null | grep -c '^msg-[0-9]*\.raw$'
}
has_msgs() { [ "$(n_msgs)" -ge "$1" ]; }

# fault_idle: every session the fault server had is over, so its wire
# record is complete.
fault_idle() {
	[ "$(grep -c ' session closed$' "$WIRE/log" 2>/dev/null)" -ge \
	    "$(ls "$WIRE" 2>/dev/null | grep -c '^wire-[0-9]*$')" ]
}

# vm_hwm PID: peak resident set size in kB.
vm_hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# as_nobody CMD...: runs CMD as nobody:nogroup without other groups.
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
}

# nobody_setup: lets nobody:nogroup submit into $SPOOL as the setgid
# front end would (tmp/ 1730 and incoming/ 1770 with group nogroup, the
# wake FIFO 0620), with its own copy of sendmail in $T_DIR/bin (the
# build tree may not be reachable for nobody); sets NSM to it.
nobody_setup() {
	chmod 755 "$T_DIR" && chmod 644 "$CONF" || return 1
	printf 'Subject: setup\n\nx\n' | "$SENDMAIL" -odq -i setup@example.org ||
	    return 1
	rm -f "$SPOOL"/incoming/*
	chgrp nogroup "$SPOOL/tmp" "$SPOOL/incoming" "$SPOOL/wake" || return 1
	mkdir -p "$T_DIR/bin" && cp "$SENDMAIL" "$T_DIR/bin/sendmail" &&
	    chmod 755 "$T_DIR/bin" "$T_DIR/bin/sendmail" || return 1
	NSM=$T_DIR/bin/sendmail
}

# daemon_up: waits until relayqd has logged that it started.  A SIGTERM
# sent earlier can be lost: lib.sh traps TERM, and a forked dash child
# still runs the trap (swallowing the signal) until it execs relayqd.
daemon_up() {
	wait_for "relayqd to start" 100 grep -q 'started:' "$T_DIR/relayqd.log"
}
