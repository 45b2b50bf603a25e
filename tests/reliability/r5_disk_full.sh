#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# R5/R6/A10, resource exhaustion.  The spool is a private tmpfs (root
# only; unmounted by the EXIT trap whatever happens):
#  - size=2m: a 3 MB message, then 50 KB messages until the file system
#    is full, while relayqd runs with its smarthost down (so the mail
#    stays).  Each refused submission exits 75 (EX_TEMPFAIL) with a
#    reason on stderr and leaves nothing in tmp/ or incoming/; relayqd
#    keeps running (it cannot even write its state files) and, once the
#    smarthost is back, delivers every accepted message; then there is
#    room and submissions succeed again;
#  - nr_inodes: the same when the inodes run out first;
#  - ulimit -f (RLIMIT_FSIZE): EFBIG, SIGXFSZ ignored, exit 75, nothing
#    left; a message under the limit still goes through.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "mounting a tmpfs"

PORT=$(free_port)
write_conf
mount_tmpfs "$SPOOL" "size=2m,nr_inodes=4096,mode=0755" ||
    { echo "Bail out! cannot mount a tmpfs on $SPOOL"; exit 1; }

# mkmsg FILE KBYTES TAG
mkmsg() {
	{
		printf 'X-Seq: %s\nSubject: r5 %s\n\n' "$3" "$3"
		head -c $(($2 * 1024)) /dev/zero | tr '\0' 'y' | fold -w 70
		printf '\nend %s\n' "$3"
	} > "$1"
}
leftovers() { # files in tmp/ plus files in incoming/ and queue/
	echo "$(n_in tmp) $(($(n_in incoming) + $(n_in queue)))"
}

# full SIZE-KB PREFIX: submits messages until one fails; sets NACC and
# checks the failure.
full() {
	NACC=0; _i=1; _rc=0
	while [ $_i -le 200 ]; do
		mkmsg "$T_DIR/m" "$1" "$2-$_i"
		"$SENDMAIL" -i r5@example.net < "$T_DIR/m" 2>"$T_DIR/err"
		_rc=$?
		[ $_rc -eq 0 ] || break
		NACC=$((NACC + 1)); _i=$((_i + 1))
	done
	diag "$2: $NACC messages of $1 KB accepted before the spool was full"
	[ "$NACC" -gt 0 ]
	ok $? "$2: some messages were accepted"
	is "$_rc" 75 "$2: the submission that does not fit exits 75"
	grep -qi 'space\|quota\|inode' "$T_DIR/err"
	ok $? "$2: with a reason: $(head -n 1 "$T_DIR/err")"
	is "$(leftovers)" "0 $NACC" "$2: nothing left from the refused one"
}

# 1. Size: smarthost down, daemon up.
start_daemon
daemon_up
mkmsg "$T_DIR/big" 3072 big
"$SENDMAIL" -i r5@example.net < "$T_DIR/big" 2>"$T_DIR/err"
is "$?" 75 "a 3 MB message on a 2 MB spool exits 75"
grep -qi 'space' "$T_DIR/err"
ok $? "with a reason: $(head -n 1 "$T_DIR/err")"
is "$(leftovers)" "0 0" "nothing left in tmp/ or incoming/"
n_unavail() { grep -c 'unavailable' "$T_DIR/relayqd.log"; }
more_unavail() { [ "$(n_unavail)" -gt "$1" ]; }
full 50 R5
u=$(n_unavail)
wait_for "an attempt on the full spool" 100 more_unavail "$u"
ok $? "relayqd tries the smarthost again with the spool full"
kill -0 "$DAEMON_PID"
ok $? "relayqd keeps running on a full spool"
start_server
kill -USR1 "$DAEMON_PID"
wait_for "delivery" 300 has_mail "$NACC"
ok $? "relayqd delivers all $NACC accepted messages once the smarthost is back"
wait_for "drain" 100 queue_empty
ok $? "the spool drains"
seqcheck R5 "$NACC"
is "$LOST $DUPS $BOGUS" "0 0 0" "every accepted message arrived once, intact"
mkmsg "$T_DIR/m" 50 again
"$SENDMAIL" -i r5@example.net < "$T_DIR/m"
ok $? "submissions succeed again once there is room"
wait_for "delivery" 100 has_mail $((NACC + 1))
ok $? "and are delivered"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"
stop_server

# 2. Inodes: a tmpfs with few inodes (the spool's directories use ~10).
umount_tmpfs "$SPOOL" || { echo "Bail out! cannot unmount $SPOOL"; exit 1; }
rm -rf "$MAILDIR"
mount_tmpfs "$SPOOL" "size=10m,nr_inodes=40,mode=0755" ||
    { echo "Bail out! cannot mount a tmpfs on $SPOOL"; exit 1; }
start_daemon
daemon_up
full 1 R6
kill -0 "$DAEMON_PID"
ok $? "relayqd keeps running without free inodes"
start_server
kill -USR1 "$DAEMON_PID"
wait_for "delivery" 300 has_mail "$NACC"
ok $? "relayqd delivers all $NACC accepted messages"
wait_for "drain" 100 queue_empty
ok $? "the spool drains"
seqcheck R6 "$NACC"
is "$LOST $DUPS $BOGUS" "0 0 0" "every accepted message arrived once, intact"
mkmsg "$T_DIR/m" 1 again
"$SENDMAIL" -i r5@example.net < "$T_DIR/m"
ok $? "submissions succeed again once inodes are free"
stop_daemon
ok $? "relayqd exits 0"
rel_forget "$DAEMON_PID"

# 3. RLIMIT_FSIZE: 512 KB (ulimit -f counts 1024-byte blocks in bash and
# dash); the front end holds 1 MB back before it creates the file, so
# take 2 MB to make it write.
umount_tmpfs "$SPOOL" || { echo "Bail out! cannot unmount $SPOOL"; exit 1; }
mkmsg "$T_DIR/m" 2048 fsize
(ulimit -f 512 && exec "$SENDMAIL" -i r5@example.net) < "$T_DIR/m" 2>"$T_DIR/err"
is "$?" 75 "over RLIMIT_FSIZE: exit 75 (EFBIG), not killed by SIGXFSZ"
grep -qi 'too large\|EFBIG\|limit' "$T_DIR/err"
ok $? "with a reason: $(head -n 1 "$T_DIR/err")"
is "$(leftovers)" "0 0" "nothing left in tmp/ or incoming/"
mkmsg "$T_DIR/m" 100 small
(ulimit -f 512 && exec "$SENDMAIL" -i r5@example.net) < "$T_DIR/m"
ok $? "a message under the limit still goes through"
done_testing
