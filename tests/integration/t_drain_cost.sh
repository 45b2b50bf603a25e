#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The system calls a drain costs per message (issue 15's hot path;
# bench/draincost measures the whole set), counted with strace -f -c, so
# the figures do not depend on the machine's speed or load: relayqd
# delivers N small messages queued in incoming/ while it was stopped,
# and the same relayqd started and stopped on an empty spool is
# subtracted.  Per message, with the bounds the code meets with room:
#   - epoll_ctl < 1: a plaintext session writes its commands and the
#     body itself (relayqd_conn.c, RC_DIRECT), so EPOLLOUT is not added
#     and removed for each burst (4 a message before);
#   - fstat/newfstatat <= 3.5: one after the accept's open, one after its
#     rename, one after the delivery's open (5 before: the envelope
#     reader made its own);
#   - pread <= 2.5: a small file is read whole once at the accept and
#     once at the delivery, and its body sent from that read (6 before);
#   - ioctl < 0.5: a plaintext session reads replies itself, without
#     libevent's FIONREAD before every read (2 a message before).
# Then big messages (sent with sendfile, more than the socket takes at
# once: libevent's write event takes over, then hands back) queued with
# small ones: all arrive whole.  Last, with a second smarthost section
# (sender routes): openat <= 3.5 per message, as the route is taken from
# the envelope the accept read (4 before: one more open to read it).
. "$top_srcdir/tests/integration/lib.sh"

N=40
skip() { T_N=$((T_N + 1)); echo "ok $T_N # SKIP $1"; }

PORT=$(free_port)
write_conf "idle_timeout = 30s"
start_server

# fill K: K messages of about 2 KB queued with relayqd stopped.
fill() {
	k=0
	while [ "$k" -lt "$1" ]; do
		{
			printf 'Subject: drain %s\n\n' "$k"
			i=0
			while [ "$i" -lt 30 ]; do
				printf 'line %s of a message of about two kilobytes, %s\n' \
				    "$i" "$k"
				i=$((i + 1))
			done
		} | "$SENDMAIL" -odq -i "drain$k@example.net" || return 1
		k=$((k + 1))
	done
}

# traced K BASE [NAME]: relayqd under strace on the spool until BASE + K
# messages were stored and the spool is empty, then stopped; counts in
# $T_DIR/st.NAME (default K).
traced() {
	# LeakSanitizer cannot run under ptrace (test 13 runs without it)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -f -c -o "$T_DIR/st.${3:-$1}" \
	    -e trace=epoll_ctl,fstat,newfstatat,pread64,ioctl,openat \
	    "$RELAYQD" -f -c "$CONF" >>"$T_DIR/relayqd.log" 2>&1 &
	ST=$!
	T_PIDS="$T_PIDS $ST"
	wait_for "relayqd under strace" 100 pgrep -P "$ST" relayqd
	RD=$(pgrep -P "$ST" relayqd)
	T_PIDS="$RD $T_PIDS"
	wait_for "$1 delivered" 600 has_mail "$(($2 + $1))"
	wait_for "empty spool" 600 queue_empty
	# started: a run of 0 must include the start-up it stands for
	wait_for "start-up over" 100 grep -q 'started:' "$T_DIR/relayqd.log"
	kill "$RD"
	wait "$ST"
}

# per NAME...: the calls of those names per message (delivery minus the
# empty run), two decimals; PER (default "$N 0") names the two runs.
per() {
	set -- "${PER:-$N 0}" "$@"
	awk -v n="$N" -v names=" $* " -v base="$T_DIR/st.${1#* }" '
	    /^-/ || /^%/ || /total/ || NF < 5 { next }
	    index(names, " " $NF " ") == 0 { next }
	    FILENAME == base { c -= $4; next }
	    { c += $4 }
	    END { printf "%.2f", c / n }' "$T_DIR/st.${1% *}" "$T_DIR/st.${1#* }"
}
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

if ! strace -f -c -o /dev/null true >/dev/null 2>&1; then
	for t in "epoll_ctl" "fstat" "pread" "ioctl" "baseline" "sent"; do
		skip "$t per message (strace unusable here)"
	done
elif [ -n "${RELAYQ_VALGRIND:-}" ]; then
	for t in "epoll_ctl" "fstat" "pread" "ioctl" "baseline" "sent"; do
		skip "$t per message (not under valgrind)"
	done
else
	traced 0 0
	ok $? "baseline: relayqd started and stopped on an empty spool"
	fill "$N"
	traced "$N" 0
	e=$(per epoll_ctl)
	f=$(per fstat newfstatat)
	p=$(per pread64)
	i=$(per ioctl)
	diag "per message: epoll_ctl $e, fstat $f, pread $p, ioctl $i"
	below "$e" 1
	ok $? "epoll_ctl per delivered message below 1 (got $e)"
	below "$f" 3.5
	ok $? "fstat per delivered message at most 3 (got $f)"
	below "$p" 2.5
	ok $? "pread per delivered message at most 2 (got $p)"
	below "$i" 0.5
	ok $? "ioctl per delivered message below 0.5 (got $i)"
	is "$(grep -c 'status=sent' "$T_DIR/relayqd.log")" "$(count_mail)" \
	    "every stored message was logged sent once"
fi

# Big bodies between small ones, one session: written partly by relayqd,
# the rest by libevent's write event, then relayqd again.
base=$(count_mail)
big() {
	"$PYTHON3" -c 'import sys
sys.stdout.write("Subject: big %s\n\n" % sys.argv[1])
for i in range(60000):
    sys.stdout.write("%07d big line of message %s\n" % (i, sys.argv[1]))
sys.stdout.write("END OF BIG %s\n" % sys.argv[1])' "$1" |
	    "$SENDMAIL" -odq -i "big$1@example.net"
}
printf 'Subject: small a\n\na\n' | "$SENDMAIL" -odq -i small@example.net
big 1 && big 2
printf 'Subject: small b\n\nb\n' | "$SENDMAIL" -odq -i small@example.net
big 3
printf 'Subject: small c\n\nc\n' | "$SENDMAIL" -odq -i small@example.net
start_daemon
wait_for "6 more messages" 600 has_mail $((base + 6))
ok $? "big and small messages delivered"
wait_for "empty spool" 600 queue_empty
ok $? "spool empty afterwards"
for k in 1 2 3; do
	f=$(grep -l "^Subject: big $k" "$MAILDIR"/*.eml)
	[ -n "$f" ] && [ "$(grep -c ' big line of message ' "$f")" -eq 60000 ] &&
	    tail -n 1 "$f" | grep -q "END OF BIG $k"
	ok $? "big message $k arrived whole (60000 lines and its end)"
done
is "$(grep -c '^Subject: small' "$MAILDIR"/*.eml | awk -F: '{ s += $2 } END { print s }')" 3 \
    "the three small ones arrived too"
stop_daemon
ok $? "relayqd exits 0"

# Sender routes: a second smarthost takes mail from @other.example only.
cat >>"$CONF" <<EOC

[smarthost other]
host = 127.0.0.1
port = $(free_port)
tls = none
senders = @other.example
EOC
if strace -f -c -o /dev/null true >/dev/null 2>&1 &&
    [ -z "${RELAYQ_VALGRIND:-}" ]; then
	base=$(count_mail)
	traced 0 "$base" r0
	fill "$N"
	traced "$N" "$base" "r$N"
	o=$(PER="r$N r0" per openat)
	diag "per message with sender routes: openat $o"
	below "$o" 3.5
	ok $? "openat per delivered message with sender routes at most 3 (got $o)"
else
	skip "openat per message with sender routes (strace unusable here)"
fi
done_testing
