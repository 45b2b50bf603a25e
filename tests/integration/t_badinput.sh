#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Bad input gets a clear error and nothing is queued; a bad file in the
# drop area is quarantined by relayqd, which keeps delivering good mail.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf
n_spool() { find "$SPOOL/incoming" "$SPOOL/tmp" "$SPOOL/queue" -type f 2>/dev/null | wc -l; }

cr=$(printf '\r')
lf='
'
MSG='Subject: x\n\nb\n'
try() { # try WANT-EXIT DESCRIPTION ARGS... (message: printf "$MSG")
	want=$1; desc=$2; shift 2
	printf "$MSG" | "$SENDMAIL" "$@" 2>"$T_DIR/err"
	is "$?" "$want" "$desc: exit $want"
	[ -s "$T_DIR/err" ]
	ok $? "$desc: message on stderr ($(head -n 1 "$T_DIR/err"))"
	is "$(n_spool)" 0 "$desc: nothing queued"
}

try 65 "CR in -f" -i -f "a${cr}b@example.org" u@example.net
try 65 "LF in -f" -i -f "a${lf}RCPT TO:<x@y>" u@example.net
try 65 "CR in a recipient" -i "u${cr}@example.net"
try 65 "LF in a recipient" -i "u@example.net${lf}DATA"
try 64 "no recipients" -i
try 64 "-t without recipient headers" -t -i
try 64 "recipient starting with - not after --" -i u@example.net -oops@example.net
try 64 "unbalanced <" -i '<u@example.net'
try 64 "empty recipient" -i ''
MSG='Subject: nul\n\nbefore\000after\n'
try 65 "NUL byte in the message" -i u@example.net

# A hostile file in the drop area: quarantined, the daemon goes on.
start_server
mkdir -p "$SPOOL/incoming"
printf 'RELAYQ 1\nI20:00000000000000000000\nR99999:x' > "$SPOOL/incoming/0000000000000000000A"
printf 'not a queue file' > "$SPOOL/incoming/0000000000000000000B"
start_daemon
printf 'Subject: good\n\nfine\n' | "$SENDMAIL" -i good@example.net
ok $? "good message queued next to the bad files"
wait_for "good message" 100 has_mail 1
ok $? "good message delivered"
wait_for "quarantine" 50 test -e "$SPOOL/corrupt/0000000000000000000A"
ok $? "truncated file moved to corrupt/"
test -e "$SPOOL/corrupt/0000000000000000000B"
ok $? "garbage file moved to corrupt/"
kill -0 "$DAEMON_PID"
ok $? "relayqd still running"
grep -q '0000000000000000000A' "$T_DIR/relayqd.log"
ok $? "quarantine logged with the id"
stop_daemon
ok $? "relayqd exits 0"
done_testing
