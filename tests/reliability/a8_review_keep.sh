#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Issue 13, "Keep": the attacks of the security review that relayq
# defeated and that no other test covered, replayed as nobody (setpriv).
#  1. Without any group access to the spool (an ordinary user against a
#     real install): tmp/ and incoming/ cannot be listed, written or
#     planted with a symlink, the wake FIFO and the verbose socket cannot
#     be opened, and every mutating relayq command (hold, release,
#     delete, requeue, flush) is refused with nothing changed.
#  2. With the group access the setgid front end has (nobody_setup):
#     - a setgid copy (group mail) given -C or RELAYQ_CONFIG variants
#       ("//", "/./", "/../") has real, effective, saved and fs gid all
#       nobody's while it reads its input, and /proc/<pid>/environ and
#       fd/ are closed to its own user;
#     - TZ, NLSPATH, LOCPATH naming a file, LD_LIBRARY_PATH a directory:
#       the setgid copy never opens them (an ordinary copy does, which
#       shows the check can see it);
#     - -bs: a CR inside HELO, RCPT or ORCPT never reaches the envelope
#       or a header;
#     - a 40 MB message (default max_message_size): 65, nothing queued;
#     - a flood of 2,000 messages from nobody (one -bs session): root's
#       message sent in the middle is delivered, and so is every other
#       one.  The latency is printed, not asserted (no timing in tests).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "setpriv, strace and chgrp"
for c in setpriv strace; do
	command -v $c >/dev/null || { echo "Bail out! $c missing"; exit 1; }
done

PORT=$(free_port)
write_conf
chmod 755 "$T_DIR" && chmod 644 "$CONF"
mkdir -p "$T_DIR/bin" && cp "$SENDMAIL" "$RELAYQ" "$T_DIR/bin/" &&
    chmod 755 "$T_DIR/bin" "$T_DIR/bin/sendmail" "$T_DIR/bin/relayq" ||
    { echo "Bail out! cannot copy the binaries"; exit 1; }
NSM=$T_DIR/bin/sendmail
NRQ=$T_DIR/bin/relayq
printf 'X-Seq: A8-1\nSubject: a8 root\n\nx\n' > "$T_DIR/m"
chmod 644 "$T_DIR/m"

# 1. No group access: the spool as root made it (group root).
start_daemon
daemon_up
"$SENDMAIL" -i a8@example.net < "$T_DIR/m"
ok $? "root queues a message (no smarthost yet: it stays queued)"
wait_for "relayqd to take it" 100 sh -c "ls '$SPOOL/queue' | grep -q ."
ID=$(ls "$SPOOL/queue" | head -n 1)
wait_for "the verbose socket" 100 test -S "$SPOOL/verbose" &&
    wait_started
denied() { # denied DESC CMD...: CMD as nobody fails with EACCES
	_d=$1; shift
	as_nobody "$@" > "$T_DIR/out" 2>&1
	_rc=$?
	[ $_rc -ne 0 ] && grep -qi 'permission denied' "$T_DIR/out"
	ok $? "$_d: refused ($_rc: $(head -n 1 "$T_DIR/out"))"
}
denied "list tmp/" ls "$SPOOL/tmp"
denied "list incoming/" ls "$SPOOL/incoming"
denied "create a file in incoming/" touch "$SPOOL/incoming/0000000000000000A801"
denied "plant a symlink in tmp/" ln -s /etc/passwd "$SPOOL/tmp/0000000000000000A802"
denied "plant a symlink in incoming/" ln -s /etc/passwd "$SPOOL/incoming/0000000000000000A803"
denied "write the wake FIFO" sh -c 'printf F > "$0"' "$SPOOL/wake"
denied "connect to the verbose socket" "$PYTHON3" -c 'import socket, sys
socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$SPOOL/verbose"
stop_daemon > /dev/null
sums() { find "$SPOOL" -type f -exec md5sum {} + | sort; }
sums > "$T_DIR/before"
for c in "hold $ID" "release $ID" "delete $ID" "delete --all --yes" \
    requeue flush "flush $ID"; do
	# shellcheck disable=SC2086
	denied "relayq $c" "$NRQ" -c "$CONF" $c
done
sums > "$T_DIR/after"
cmp -s "$T_DIR/before" "$T_DIR/after"
ok $? "nothing in the spool changed"

# 2. The group access of the setgid front end.
nobody_setup || { echo "Bail out! cannot prepare the spool for nobody"; exit 1; }
SG=$T_DIR/bin/sendmail-sgid
cp "$SENDMAIL" "$SG" && chgrp mail "$SG" && chmod 2755 "$SG" ||
    { echo "Bail out! cannot make a setgid copy"; exit 1; }
MAILGID=$(getent group mail | cut -d: -f3)
mkfifo "$T_DIR/in" && exec 8<>"$T_DIR/in"

# blocked DESC ARGS...: the setgid copy (env ARGS... before it) blocked
# reading its input; checks its gids and its /proc, then stops it.
blocked() {
	_d=$1; shift
	# setpriv itself, not as_nobody: $! must be the program, not a
	# subshell running a function.
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	    env "$@" -i a8@example.net < "$T_DIR/in" > /dev/null 2>&1 &
	_p=$!
	T_PIDS="$T_PIDS $_p"
	wait_for "$_d: reading its input" 100 \
	    sh -c "cut -d' ' -f1,2 /proc/$_p/syscall 2>/dev/null | grep -qx '0 0x0'"
	is "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' /proc/$_p/status)" \
	    "65534 65534 65534 65534" "$_d: real, effective, saved and fs gid are nobody's"
	as_nobody cat "/proc/$_p/environ" > /dev/null 2>&1
	is "$?" 1 "$_d: /proc/<pid>/environ closed to nobody"
	as_nobody ls "/proc/$_p/fd" > /dev/null 2>&1
	[ $? -ne 0 ]
	ok $? "$_d: /proc/<pid>/fd closed to nobody"
	kill "$_p"
	wait "$_p"
	rel_forget "$_p"
}
ls -l "$SG" | grep -q '^-rwxr-sr-x'
ok $? "the copy is setgid (group mail, gid $MAILGID)"
blocked "-C with //" "$SG" -C "$T_DIR//relayq.conf"
blocked "-C with /./" "$SG" -C "$T_DIR/./relayq.conf"
blocked "RELAYQ_CONFIG with /../" RELAYQ_CONFIG="$T_DIR/bin/../relayq.conf" "$SG"
blocked "RELAYQ_CONFIG with //" RELAYQ_CONFIG="$T_DIR//relayq.conf" "$SG"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- sleep 300 \
    < /dev/null > /dev/null 2>&1 &
SLP=$!
T_PIDS="$T_PIDS $SLP"
wait_for "sleep to run as nobody" 100 sh -c "grep -q '^Uid:.65534' /proc/$SLP/status"
as_nobody cat "/proc/$SLP/environ" > /dev/null 2>&1
ok $? "(an ordinary process of nobody's has its /proc/<pid>/environ open to nobody)"
kill "$SLP"; wait "$SLP" 2>/dev/null; rel_forget "$SLP"

# TZ, NLSPATH, LOCPATH: the loader's secure mode, and relayq itself,
# must not open what they name in the setgid program.
cp /usr/share/zoneinfo/UTC "$T_DIR/tzvictim" 2>/dev/null ||
    printf 'TZif2 not really\n' > "$T_DIR/tzvictim"
chmod 644 "$T_DIR/tzvictim"
mkdir -m 755 "$T_DIR/libvictim"
envtrace() { # envtrace LOG PROGRAM: PROGRAM as nobody under strace
	strace -f -u nobody -e trace=%file -o "$1" env TZ="$T_DIR/tzvictim" \
	    NLSPATH="$T_DIR/tzvictim" LOCPATH="$T_DIR/tzvictim" \
	    LD_LIBRARY_PATH="$T_DIR/libvictim" \
	    "$2" -i a8@example.net < "$T_DIR/m" 2>/dev/null
}
envtrace "$T_DIR/st.plain" "$NSM"
ok $? "an ordinary copy queues with TZ/NLSPATH/LOCPATH/LD_LIBRARY_PATH set"
# opened PATH LOG: a system call in the strace LOG named PATH (or a
# file under PATH).
opened() { grep -Eq "^[0-9]+ +[a-z0-9_]+\\(.*\"$1[\"/]" "$2"; }
opened "$T_DIR/tzvictim" "$T_DIR/st.plain"
ok $? "(which does open the file TZ names: the check can see it)"
envtrace "$T_DIR/st.sgid" "$SG"
ok $? "the setgid copy queues with TZ/NLSPATH/LOCPATH/LD_LIBRARY_PATH set"
! opened "$T_DIR/tzvictim" "$T_DIR/st.sgid"
ok $? "and never opens the file they name"
opened "$T_DIR/libvictim" "$T_DIR/st.plain"
ok $? "(the ordinary copy looks in LD_LIBRARY_PATH)"
! opened "$T_DIR/libvictim" "$T_DIR/st.sgid"
ok $? "the setgid copy does not"
grep -q 'sendmail-sgid' "$T_DIR/st.sgid"
ok $? "(strace did trace the setgid copy)"
strace -f -u nobody -e trace=%file -o "$T_DIR/st.shadow" env TZ=/etc/shadow \
    "$SG" -i a8@example.net < "$T_DIR/m" 2>/dev/null
! opened /etc/shadow "$T_DIR/st.shadow"
ok $? "TZ=/etc/shadow: never opened"
rm -f "$SPOOL"/incoming/*

# -bs: a CR inside HELO, RCPT or ORCPT.
cr=$(printf '\r')
printf 'EHLO evil%s.example\r\nMAIL FROM:<nobody@example.org>\r\nRCPT TO:<a8@example.net%sDATA>\r\nRCPT TO:<a8@example.net> ORCPT=rfc822;a+0D+0AData@x\r\nRCPT TO:<ok@example.net>\r\nDATA\r\nX-Seq: A8-bs\r\n\r\nx\r\n.\r\nQUIT\r\n' "$cr" "$cr" |
    as_nobody "$NSM" -bs -odq > "$T_DIR/bs.out" 2>&1
tr -d '\r' < "$T_DIR/bs.out" | grep -E '^[0-9]{3} ' | sed -n '4,6p' | cut -c1-3 |
    tr '\n' ' ' > "$T_DIR/bs.codes"
is "$(cat "$T_DIR/bs.codes")" "501 501 250 " \
    "-bs: RCPT with a CR and ORCPT with an encoded CR refused (501), the clean one accepted"
f=$(ls "$SPOOL/incoming" | head -n 1)
[ -n "$f" ] && grep -aq '^R14:ok@example.net$' "$SPOOL/incoming/$f" &&
    [ "$(grep -Eac '^R[0-9]+:' "$SPOOL/incoming/$f")" -eq 1 ]
ok $? "-bs: the message was queued for the clean recipient alone"
"$PYTHON3" -c 'import sys
d = open(sys.argv[1], "rb").read()
h = d.split(b"\r\n\r\n")[0] if b"\r\n\r\n" in d else d
# Every CR in the file is part of a CRLF: no bare CR came through.
sys.exit(0 if d.count(b"\r") == d.count(b"\r\n") else 1)' "$SPOOL/incoming/$f"
ok $? "-bs: no bare CR in the queued file (HELO sanitised in Received:)"
rm -f "$SPOOL"/incoming/*

# 40 MB with the default max_message_size (35M).
head -c 41943040 /dev/zero | tr '\0' y | fold -w 76 |
    as_nobody "$NSM" -i a8@example.net 2>"$T_DIR/err"
is "$?" 65 "a 40 MB message: 65 ($(head -n 1 "$T_DIR/err"))"
is "$(n_in incoming) $(n_in tmp)" "0 0" "nothing queued or left in tmp/"

# A flood of 2,000 messages from nobody, and one from root meanwhile.
rm -rf "$MAILDIR"
start_server
start_daemon
daemon_up
"$PYTHON3" -c 'import sys
out = [b"EHLO flood\r\n"]
for i in range(1, 2001):
    out.append(b"MAIL FROM:<nobody@example.org>\r\nRCPT TO:<flood@example.net>\r\n"
               b"DATA\r\nX-Seq: A8F-%d\r\nSubject: flood\r\n\r\nA8F-%d\r\n.\r\n"
               % (i, i))
out.append(b"QUIT\r\n")
sys.stdout.buffer.write(b"".join(out))' > "$T_DIR/flood"
chmod 644 "$T_DIR/flood"
as_nobody "$NSM" -bs < "$T_DIR/flood" > "$T_DIR/flood.out" 2>&1 &
FLOOD=$!
T_PIDS="$T_PIDS $FLOOD"
wait_for "the flood to be under way" 600 has_mail 100
printf 'X-Seq: A8-root\nSubject: a8 root in a flood\n\nroot\n' > "$T_DIR/rootmsg"
t0=$(date +%s%N)
"$SENDMAIL" -i rootflood@example.net < "$T_DIR/rootmsg"
ok $? "root submits during the flood"
rootmail() { grep -lq '^X-Seq: A8-root' "$MAILDIR"/*.eml 2>/dev/null; }
wait_for "root's message" 1200 rootmail
ok $? "root's message is delivered during the flood"
diag "root's message delivered $((($(date +%s%N) - t0) / 1000000)) ms after submission, with $(count_mail) messages delivered"
wait "$FLOOD"
ok $? "the flood session ends normally"
rel_forget "$FLOOD"
is "$(tr -d '\r' < "$T_DIR/flood.out" | grep -c '^250 2.0.0 Ok: queued')" 2000 \
    "all 2,000 flood messages were queued"
wait_for "the flood to drain" 3000 has_mail 2001
ok $? "all 2,001 messages delivered"
seqcheck A8F 2000
is "$LOST $DUPS $BOGUS" "0 0 0" "every flood message arrived once"
stop_daemon
ok $? "relayqd exits 0"
exec 8>&-
done_testing
