#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A5 SMTP smuggling and A4 injection on the wire: messages whose bodies
# hold "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", a lone "."
# line, a final line without EOL, and whole smuggled SMTP transactions
# in each of those framings, plus -t headers with a bare CR before a
# fake RCPT command, go through sendmail and relayqd to faultsmtpd.py,
# which records the raw bytes.  wirecheck.py re-reads the wire as a
# strict server would and checks that:
#  - every command line is well formed, and none names the attacker;
#  - no DATA section holds a bare CR or LF, or a "." line in any
#    framing a lenient server might take for the end of data;
#  - each submission is exactly one message, and its un-stuffed content
#    still holds the smuggled text as data.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"

PORT=$(free_port)
write_conf
start_fault
start_daemon
N=0

# smuggle DESC PRINTF-BODY [SENDMAIL-ARGS...]: one message (-i unless
# args are given).
smuggle() {
	N=$((N + 1)); _d=$1; _b=$2; shift 2
	[ $# -gt 0 ] || set -- -i
	{ printf 'X-Seq: A5-%d\nSubject: %s\n\n' $N "$_d"; printf "$_b"; } |
	    "$SENDMAIL" "$@" a5@example.net
	ok $? "queued: $_d"
}

EVIL='MAIL FROM:<evil@evil.test>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSMUGGLED BODY\r\n'
smuggle 'LF dot LF' 'one\n.\nSMUGGLED-1\n'
smuggle 'CR dot CR' 'one\r.\rSMUGGLED-2\r\n'
smuggle 'LF dot CRLF' 'one\n.\r\nSMUGGLED-3\n'
smuggle 'CRLF dot LF' 'one\r\n.\nSMUGGLED-4\r\n'
smuggle 'CR dot CRLF' 'one\r.\r\nSMUGGLED-5\r\n'
smuggle 'CRLF dot CRLF' 'one\r\n.\r\nSMUGGLED-6\r\n'
smuggle 'final line without EOL' 'SMUGGLED-7\n.'
smuggle 'transaction after LF dot CRLF' "x\n.\r\n${EVIL}.\r\nSMUGGLED-8\r\n"
smuggle 'transaction after CRLF dot LF' "x\r\n.\n${EVIL}.\nSMUGGLED-9\n"
smuggle 'transaction after CR dot CR' "x\r.\r${EVIL}.\rSMUGGLED-10\r"
smuggle 'without -i: CR dot CR is not the end' 'one\r.\rSMUGGLED-11\n' --
smuggle 'dots everywhere' '.\n..\n...\r\n.\r\r\n.\rSMUGGLED-12\n'
N=$((N + 1))
printf 'X-Seq: A5-%d\nTo: a5@example.net\rRCPT TO:<evil@evil.test>\nCc: <a5@example.net\r>\nSubject: header CR\n\nSMUGGLED-%d\n' $N $N |
    "$SENDMAIL" -t -i
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 64 ] || [ $rc -eq 65 ]
ok $? "-t with a bare CR before a fake RCPT in To: queued or refused cleanly ($rc)"
[ $rc -eq 0 ] || N=$((N - 1))

wait_for "delivery" 200 has_msgs $N
ok $? "all $N messages reached the server"
wait_for "drain" 100 queue_empty
ok $? "the queue drained"
wait_for "the sessions to end" 100 fault_idle
ok $? "every session ended"
eval "$("$PYTHON3" "$REL/wirecheck.py" "$WIRE")"
diag "wire: $NCMD command lines, $NDATA DATA sections"
is "$NDATA" "$N" "one DATA section per submission, no extra message smuggled"
is "$(n_msgs)" "$N" "the server accepted exactly $N messages"
is "$BADCMD" 0 "every command line on the wire is well formed"
is "$EVIL" 0 "no injected MAIL or RCPT naming the attacker"
is "$BARE" 0 "no bare CR or LF inside DATA"
is "$DOTLINE" 0 "no line a lenient server could take for the end of data"
echo "$RCPTS" | tr ',' '\n' | sort -u > "$T_DIR/rcpts"
is "$(cat "$T_DIR/rcpts")" "<a5@example.net>" "the only recipient on the wire is the real one"
k=1
while [ $k -le $N ]; do
	grep -lq "SMUGGLED-$k" "$WIRE"/data-* 2>/dev/null
	ok $? "message $k: the smuggled text arrived as data"
	k=$((k + 1))
done
grep -l 'SMUGGLED-8' "$WIRE"/data-* | head -n 1 | xargs grep -q 'MAIL FROM:<evil@evil.test>'
ok $? "the embedded transaction is message text, intact"
stop_daemon
ok $? "relayqd exits 0"
done_testing
