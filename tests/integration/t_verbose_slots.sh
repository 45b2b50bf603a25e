#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# One user cannot switch sendmail -v off for everyone (issue 13, finding
# 3), against a real server (aiosmtpd).  A "stalled" client is sendmail -v
# run as nobody with 1,200 long recipients, whose stderr is read until
# relayqd says "delivering now" (or refuses) and then never again, so
# sendmail blocks on stderr and relayqd's output for it piles up.
# A. 18 stalled clients: nobody gets at most 4 slots, the rest are told
#    "busy"; while they are held, another uid's and root's -v deliver;
#    once their deliveries are over the stalled clients are SIGKILLed with
#    output unsent, and every watcher is freed: root and nobody deliver
#    with -v again.
# B. A stalled client that reads again once its delivery is over got at
#    most 512 KiB of it: then "N lines not shown" and the result.
# C. The SIGSTOP race: stalled clients that are SIGSTOPped (never killed)
#    are dropped after data_block_timeout, and their slots serve nobody
#    again while they are still stopped.
# Skipped unless root with setpriv (it needs two ordinary uids).
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "1..0 # SKIP not root, or no setpriv"
	exit 0
fi
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
AS_DAEMON="setpriv --reuid=1 --regid=1 --clear-groups"
chmod 755 "$T_DIR"
NRCPT=1200
NSTALL=18

PORT=$(free_port)
start_server

# daemon_up [DELIVERY-LINES]: (re)starts relayqd (with debug logs) on a
# fresh config that lets nobody and daemon submit and use -v.
daemon_up() {
	[ -n "${DAEMON_PID:-}" ] && stop_daemon >/dev/null 2>&1
	# No periodic scan: it could start a -v message before its request.
	write_conf "scan_interval = 1h
${1:-}"
	sed -i 's/^default_domain = .*/&\
max_recipients = 5000/' "$CONF"
	chmod 644 "$CONF"
	# The last daemon's log stays (relayqd.log.N) for a failure's record.
	LOGN=$((${LOGN:-0} + 1))
	[ -s "$T_DIR/relayqd.log" ] &&
	    mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.log.$LOGN"
	: > "$T_DIR/relayqd.log"
	start_daemon -v
	wait_for "the -v socket" 100 test -S "$SPOOL/verbose" &&
	    wait_started
	chmod 1777 "$SPOOL/tmp" "$SPOOL/incoming"
	chmod 666 "$SPOOL/verbose"
}

# The long recipient list and the message.
d=$(printf '%060d' 0 | tr 0 a).$(printf '%060d' 0 | tr 0 b).$(printf '%060d' 0 | tr 0 c).example
i=0
: > "$T_DIR/rcpts"
while [ $i -lt $NRCPT ]; do
	printf 'r%05d-%s@%s\n' $i "$(printf '%040d' $i)" "$d" >> "$T_DIR/rcpts"
	i=$((i + 1))
done
printf 'Subject: many\n\nbody\n' > "$T_DIR/msg"
chmod 644 "$T_DIR/msg" "$T_DIR/rcpts"

# The stalling reader: runs CMD..., reads its stderr up to relayqd's
# "delivering now" (or a refusal), writes "PID registered|refused ID" to
# STATE, then reads nothing more until killed, or until SIGUSR1: then it
# reads the rest into STATE.done.
cat > "$T_DIR/stall.py" <<'PYEOF'
import os, signal, subprocess, sys
state, msg, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(msg, 'rb') as f:
    p = subprocess.Popen(argv, stdin=f, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
qid, st = '-', 'refused'
seen = open(state + '.err', 'wb')  # what it read: a refusal's reason
for line in iter(p.stderr.readline, b''):
    seen.write(line)
    if b'queued as ' in line:
        qid = line.split(b'queued as ')[1].split()[0].decode()
    if b'delivering now' in line:
        st = 'registered'
        break
    if b'cannot deliver now' in line or b'closed the connection' in line:
        break
seen.close()
with open(state + '.tmp', 'w') as f:
    f.write('{} {} {}\n'.format(p.pid, st, qid))
os.rename(state + '.tmp', state)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
resume = []
signal.signal(signal.SIGUSR1, lambda *a: resume.append(1))
while not resume:
    signal.pause()
with open(state + '.out', 'wb') as f:  # SIGUSR1: read the rest
    f.write(p.stderr.read())
p.wait()
os.rename(state + '.out', state + '.done')
PYEOF

# stall N TAG [stop]: starts N stalled clients as nobody, one after the
# other, each once the previous one is registered or refused (with stop,
# a registered one's sendmail is SIGSTOPped at once).  Sets NREG, NREF,
# SM_PIDS and $T_DIR/TAG.reg (the registered ones' "PID ID" lines).
stall() {
	: > "$T_DIR/$2.reg"
	NREG=0 NREF=0 SM_PIDS=""
	_k=0
	while [ $_k -lt "$1" ]; do
		_k=$((_k + 1))
		_st=$T_DIR/$2.$_k
		# shellcheck disable=SC2046
		"$PYTHON3" "$T_DIR/stall.py" "$_st" "$T_DIR/msg" $AS_NOBODY \
		    "$SENDMAIL" -v -i $(cat "$T_DIR/rcpts") &
		T_PIDS="$T_PIDS $!"
		if ! wait_for "stalled client $2 $_k" 600 test -s "$_st"; then
			continue
		fi
		read -r _pid _what _id < "$_st"
		T_PIDS="$T_PIDS $_pid"
		SM_PIDS="$SM_PIDS $_pid"
		if [ "$_what" = registered ]; then
			[ -n "${3:-}" ] && kill -STOP "$_pid"
			NREG=$((NREG + 1))
			echo "$_pid $_id" >> "$T_DIR/$2.reg"
		else
			NREF=$((NREF + 1))
		fi
	done
}

# finished ID: relayqd has logged the outcome of message ID.
finished() { grep -q "^.*$1: .*status=" "$T_DIR/relayqd.log"; }

# all_finished TAG: every registered message of TAG has its outcome.
all_finished() {
	while read -r _p _id; do
		wait_for "delivery of $_id" 1200 finished "$_id" || return 1
	done < "$T_DIR/$1.reg"
}

# quick_v DESC AS...: a one-recipient sendmail -v as AS delivers (exit 0).
quick_v() {
	_d=$1
	shift
	printf 'Subject: quick\n\nx\n' |
	    "$@" "$SENDMAIL" -v -i quick@example.net >/dev/null 2>"$T_DIR/qerr"
	_rc=$?
	grep -q '^relayq: delivered$' "$T_DIR/qerr" && [ $_rc -eq 0 ]
	ok $? "$_d: sendmail -v delivers (exit $_rc)"
	[ $_rc -eq 0 ] || sed 's/^/#   /' "$T_DIR/qerr" | tail -n 3
}

# frees: number of watchers relayqd has freed so far.
frees() { grep -c 'sendmail -v watcher (uid [0-9]*) freed' "$T_DIR/relayqd.log"; }
at_least_frees() { [ "$(frees)" -ge "$1" ]; }

# ---- A. 18 stalled clients, then SIGKILL
daemon_up
stall $NSTALL A
diag "A: $NREG registered, $NREF refused"
[ $NREG -ge 1 ] && [ $NREG -le 4 ]
ok $? "A: one uid holds at most 4 -v slots ($NREG)"
[ $((NREG + NREF)) -eq $NSTALL ]
ok $? "A: the others are refused at once ($NREF)"
grep -q 'sendmail -v from uid 65534 refused: no slot free' "$T_DIR/relayqd.log"
ok $? "A: relayqd logs the refusals"
all_finished A
ok $? "A: the stalled clients' deliveries are over (output unread)"
wait_for "the refused clients' messages to be delivered" 1200 queue_empty
quick_v "A, while nobody's clients stall: another uid" $AS_DAEMON
quick_v "A, while nobody's clients stall: root"
base=$(frees)
for p in $SM_PIDS; do kill -KILL "$p" 2>/dev/null; done
wait_for "the killed clients' watchers to be freed" 300 \
    at_least_frees $((base + NREG))
ok $? "A: every killed client's watcher is freed ($(frees) - $base)"
quick_v "A, after the SIGKILLs: root"
quick_v "A, after the SIGKILLs: nobody" $AS_NOBODY

# ---- B. output bounded per client: a stalled client with 3,600
# recipients, that reads again once its delivery is over.
cat "$T_DIR/rcpts" > "$T_DIR/rcpts3"
sed 's/^r/s/' "$T_DIR/rcpts" >> "$T_DIR/rcpts3"
sed 's/^r/t/' "$T_DIR/rcpts" >> "$T_DIR/rcpts3"
# shellcheck disable=SC2046
"$PYTHON3" "$T_DIR/stall.py" "$T_DIR/B" "$T_DIR/msg" $AS_NOBODY \
    "$SENDMAIL" -v -i $(cat "$T_DIR/rcpts3") &
BPID=$!
T_PIDS="$T_PIDS $BPID"
wait_for "the bounded client" 600 test -s "$T_DIR/B"
read -r _pid bwhat bid < "$T_DIR/B"
is "$bwhat" registered "B: the client is registered"
[ "$bwhat" = registered ] || sed 's/^/#   /' "$T_DIR/B.err" | tail -n 3
wait_for "its delivery" 1200 finished "$bid"
kill -USR1 "$BPID"
wait_for "the client to read the rest" 600 test -e "$T_DIR/B.done"
grep -q '^\*\*\* [0-9]* lines not shown: output limit reached' "$T_DIR/B.done"
ok $? "B: a client that does not read gets a bounded output, then the count"
tail -n 1 "$T_DIR/B.done" | grep -q '^relayq: delivered$'
ok $? "B: ...and the result"

# ---- C. the SIGSTOP race: stopped clients are dropped after
# data_block_timeout, without being killed.
daemon_up "data_block_timeout = 2s"
stall 4 C stop
[ $NREG -ge 1 ]
ok $? "C: $NREG stopped clients registered"
all_finished C
ok $? "C: their deliveries are over"
wait_for "the stopped clients to be dropped" 600 sh -c \
    "[ \$(grep -c 'dropped: it stopped reading' '$T_DIR/relayqd.log') -ge $NREG ]"
ok $? "C: relayqd drops every stopped client after data_block_timeout"
quick_v "C, the clients still stopped: nobody" $AS_NOBODY
for p in $SM_PIDS; do kill -KILL "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done

stop_daemon
ok $? "relayqd exits 0"
done_testing
