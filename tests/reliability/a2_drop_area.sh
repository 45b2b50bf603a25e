#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A2 / A3, attacks on the drop area by a local user (nobody, with write
# access to tmp/ and incoming/ as the setgid front end has): planted in
# incoming/ under valid queue-id names, a symlink to a root-only file, a
# FIFO, a directory, a well-formed message that claims to come from root
# (U0), and two hard links to one message; under invalid names ("..x",
# "-rf", a name with a newline, a 250-byte name, lowercase hex, a name
# with a space); in tmp/, an aged symlink and an aged hard link to a file
# outside the spool.  relayqd (under strace) must quarantine every
# planted entry into corrupt/ without following or opening the symlink
# target, never block on the FIFO, deliver the legitimate mail, remove
# only the tmp/ links (never their targets), and keep running.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "setpriv and chown"

PORT=$(free_port)
write_conf
nobody_setup || { echo "Bail out! cannot prepare the spool for nobody"; exit 1; }
printf 'TOPSECRET-VICTIM\n' > "$T_DIR/victim"
chmod 600 "$T_DIR/victim"
printf 'CANARY\n' > "$T_DIR/canary"
chown nobody "$T_DIR/canary"
IN=$SPOOL/incoming

# Legitimate mail: one from root, one from nobody (queued only).
printf 'X-Seq: A2-1\nSubject: a2 root\n\nlegit\n' | "$SENDMAIL" -odq -i a2@example.net
ok $? "root queues a message"
ROOTID=$(ls "$IN")
printf 'X-Seq: A2-2\nSubject: a2 nobody\n\nlegit\n' |
    as_nobody "$NSM" -odq -i a2@example.net
ok $? "nobody queues a message"

# Planted entries, all made by nobody.
as_nobody ln -s "$T_DIR/victim" "$IN/0000000000000000A001"
ok $? "plant: symlink to a root-only file"
as_nobody mkfifo "$IN/0000000000000000A002"
ok $? "plant: FIFO"
as_nobody mkdir "$IN/0000000000000000A003"
ok $? "plant: directory"
sed "s/$ROOTID/0000000000000000A004/" "$IN/$ROOTID" |
    as_nobody sh -c 'cat > "$0"' "$IN/0000000000000000A004"
grep -aq '^U1:0$' "$IN/0000000000000000A004"
ok $? "plant: a well-formed message claiming uid 0, owned by nobody"
LINKED=$(printf 'X-Seq: A2-3\nSubject: a2 linked\n\nlinked\n' |
    as_nobody "$NSM" --print-queue-id -odq -i a2@example.net)
as_nobody ln "$IN/$LINKED" "$IN/0000000000000000A005"
ok $? "plant: a second hard link to nobody's own message"
as_nobody ln "$T_DIR/victim" "$IN/0000000000000000A006" 2>/dev/null
is "$?" 1 "(a hard link to a root-only file is refused by the kernel)"
for n in '..x' '-rf' 'a b' "$(printf 'new\nline')" 0000000000000000a007 \
    "$(head -c 250 /dev/zero | tr '\0' 'A')"; do
	as_nobody touch "$IN/$n"
done
n_entries() { find "$1" -mindepth 1 -maxdepth 1 -printf x | wc -c; }
is "$(n_entries "$IN")" 14 "14 entries in incoming/ (the refused hard link is not there)"
as_nobody ln -s "$T_DIR/canary" "$SPOOL/tmp/sym"
as_nobody ln "$T_DIR/canary" "$SPOOL/tmp/hard"
touch -h -d '2 hours ago' "$SPOOL/tmp/sym" "$SPOOL/tmp/hard"
is "$(stat -c %h "$T_DIR/canary")" 2 "plant: aged symlink and hard link in tmp/"

start_server
strace -f -y -e trace=openat,open,read -o "$T_DIR/daemon.trace" \
    "$RELAYQD" -f -c "$CONF" >>"$T_DIR/relayqd.log" 2>&1 &
SP=$!
T_PIDS="$T_PIDS $SP"
wait_for "legitimate mail" 150 has_mail 2
ok $? "the legitimate messages are delivered (no hang on the FIFO)"
printf 'X-Seq: A2-4\nSubject: a2 after\n\nafter\n' | as_nobody "$NSM" -i a2@example.net
wait_for "later mail" 100 has_mail 3
ok $? "a message submitted afterwards is delivered too"
# The quarantine and the tmp/ sweep are done when incoming/ and tmp/ are
# empty and corrupt/ holds the 12 planted entries.
swept() {
	[ "$(n_entries "$IN")" -eq 0 ] && [ "$(n_in tmp)" -eq 0 ] &&
	    [ "$(n_entries "$SPOOL/corrupt")" -ge 12 ]
}
wait_for "the planted entries to be quarantined" 1200 swept
for n in 0000000000000000A001 0000000000000000A002 0000000000000000A003 \
    0000000000000000A004 0000000000000000A005 "$LINKED"; do
	test -e "$SPOOL/corrupt/$n" || test -L "$SPOOL/corrupt/$n"
	ok $? "quarantined: $n"
done
# Badly named entries are renamed to safe names of relayq's own making.
is "$(ls "$SPOOL/corrupt" | grep -c '^X[0-9A-F]\{20\}$')" 6 \
    "the 6 badly named entries are quarantined under safe names"
grep -q 'moved 6 badly named entries' "$T_DIR/relayqd.log"
ok $? "and that is logged"
is "$(n_entries "$IN")" 0 "incoming/ is empty"
test -L "$SPOOL/corrupt/0000000000000000A001"
ok $? "the symlink was moved as a symlink"
grep -q 'A004' "$T_DIR/relayqd.log"
ok $? "the forged uid is logged: $(grep 'A004' "$T_DIR/relayqd.log" | head -n 1 | cut -c1-90)"
! grep -q "= [0-9]*<$T_DIR/victim>" "$T_DIR/daemon.trace"
ok $? "relayqd never opened the symlink's target"
! grep -rqs TOPSECRET "$MAILDIR"
ok $? "the target's content was not delivered"
! grep -rqs 'a2 linked' "$MAILDIR"
ok $? "the hard-linked message was not delivered (not even once)"
is "$(n_in tmp)" 0 "the aged tmp/ links were removed"
is "$(cat "$T_DIR/canary") $(stat -c %h "$T_DIR/canary")" "CANARY 1" \
    "their target is intact"
is "$(cat "$T_DIR/victim")" "TOPSECRET-VICTIM" "the root-only file is intact"
RP=$(pgrep -P "$SP" relayqd)
kill -0 "$RP"
ok $? "relayqd still running"
kill -TERM "$RP"
wait "$SP"
ok $? "relayqd exits 0"
rel_forget "$SP"
done_testing
