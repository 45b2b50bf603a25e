#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# S2, valgrind: the front end on 10 submissions over its main paths
# (plain, -t, -bs, -bp, -bv, and the refusals: bad address, NUL, over
# the size limit, no recipient) and relayqd on a 50-message run with a
# deferred recipient, then SIGTERM.  valgrind --error-exitcode=99 with
# --errors-for-leak-kinds=definite,indirect: every run must end with
# its normal status (never 99) and leave an empty valgrind log, i.e.
# 0 errors and 0 definite or indirect leaks ("still reachable" allowed).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
command -v valgrind >/dev/null || { echo "Bail out! valgrind missing"; exit 1; }
if ldd "$RELAYQD" | grep -q libasan; then
	echo "1..0 # SKIP valgrind cannot run an ASan build"
	exit 0
fi

VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
PORT=$(free_port)
write_conf
printf '[relayq]\nmax_message_size = 65536\n' >> "$CONF"
conf_merge "$CONF"

# vg WANT DESC STDIN ARGS...: the front end under valgrind.
NV=0
vg() {
	_w=$1; _d=$2; _in=$3; shift 3
	NV=$((NV + 1))
	$VG --log-file="$T_DIR/vg-fe.$NV.log" "$SENDMAIL" "$@" < "$_in" \
	    >/dev/null 2>"$T_DIR/err"
	is "$?" "$_w" "front end, $_d: exit $_w under valgrind"
	[ ! -s "$T_DIR/vg-fe.$NV.log" ]
	ok $? "front end, $_d: no error, no leak$(head -n 3 "$T_DIR/vg-fe.$NV.log" | tr '\n' ' ')"
}
printf 'To: t@example.net\nCc: c@example.net\nBcc: b@example.net\nSubject: vg\n\nbody\n.\n..\n' > "$T_DIR/msg"
printf 'Subject: nul\n\na\000b\n' > "$T_DIR/nul"
{ printf 'Subject: big\n\n'; head -c 70000 /dev/zero | tr '\0' b | fold -w 70; } > "$T_DIR/big"
printf 'EHLO vg\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<bs@example.net>\r\nDATA\r\nSubject: bs\r\n\r\nbody\r\n.\r\nQUIT\r\n' > "$T_DIR/bs"
vg 0 "-i" "$T_DIR/msg" -i vg@example.net
vg 0 "-t" "$T_DIR/msg" -t -i
vg 0 "-bs" "$T_DIR/bs" -bs
vg 0 "-f and several recipients" "$T_DIR/msg" -f 'Some One <s@example.org>' -i a@example.net b c@example.net
vg 0 "-bp" /dev/null -bp
vg 0 "-bv" /dev/null -bv vg@example.net
vg 64 "bad address" "$T_DIR/msg" -i 'a@b@c'
vg 65 "NUL in the message" "$T_DIR/nul" -i vg@example.net
vg 65 "over the size limit" "$T_DIR/big" -i vg@example.net
vg 64 "no recipient" "$T_DIR/msg" -i

# relayqd: 50 messages (one with a recipient deferred once), SIGTERM.
rm -rf "$SPOOL"
start_server --rcpt-reply 'defer=451 4.3.0 later'
RELAYQ_VALGRIND=1 start_daemon
i=1
while [ $i -le 49 ]; do
	printf 'X-Seq: S2-%d\nSubject: s2\n\nbody S2-%d\n' $i $i |
	    "$SENDMAIL" -i s2@example.net
	i=$((i + 1))
done
printf 'X-Seq: S2-50\nSubject: s2\n\nbody S2-50\n' |
    "$SENDMAIL" -i s2@example.net defer@example.net
wait_for "50 deliveries" 600 has_mail 50
ok $? "relayqd under valgrind delivered 50 messages"
wait_for "the deferral" 100 grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "and deferred one recipient"
stop_daemon
is "$?" 0 "relayqd exits 0 on SIGTERM under valgrind (99: an error or a leak)"
cat "$T_DIR"/valgrind.*.log > "$T_DIR/vg-daemon.log" 2>/dev/null
[ ! -s "$T_DIR/vg-daemon.log" ]
ok $? "relayqd: no error, no definite or indirect leak$(head -n 5 "$T_DIR/vg-daemon.log" | tr '\n' ' ')"
done_testing
