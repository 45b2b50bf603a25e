#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Issue 13, finding 5: the free-space reserve for root (queue_minfree).
# The spool is a private 8 MB tmpfs (root only; unmounted by the EXIT
# trap) with queue_minfree = 1M, filled by a root-owned file to leave a
# chosen amount free.  Below the reserve, nobody's submissions (-bm and
# -bs) exit 75 / get 451 with a reason and leave nothing in tmp/ or
# incoming/, while root's message is queued; a big message that starts
# above the reserve is refused once it has eaten into it.  Once there is
# room, relayqd delivers what was accepted, root's message included.
# The same holds for inodes: a spool with few left refuses nobody.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "mounting a tmpfs and setpriv"
command -v setpriv >/dev/null || { echo "Bail out! setpriv missing (util-linux)"; exit 1; }

PORT=$(free_port)
write_conf
sed -i 's|^default_domain.*|&\nqueue_minfree = 1M|' "$CONF"
mount_tmpfs "$SPOOL" "size=8m,mode=0755" ||
    { echo "Bail out! cannot mount a tmpfs on $SPOOL"; exit 1; }
nobody_setup || { echo "Bail out! cannot prepare the spool for nobody"; exit 1; }

avail() { # bytes free in the spool for ordinary users
	echo $(($(stat -f -c '%a * %S' "$SPOOL")))
}
# leave_free BYTES: resizes $SPOOL/filler so that about BYTES stay free.
leave_free() {
	_f=$(($(avail) + $(stat -c %s "$SPOOL/filler" 2>/dev/null || echo 0) - $1))
	rm -f "$SPOOL/filler"
	head -c "$_f" /dev/zero > "$SPOOL/filler"
	diag "$(avail) bytes free, queue_minfree 1048576"
}
leftovers() { # files in tmp/, files in incoming/
	echo "$(n_in tmp) $(n_in incoming)"
}
printf 'X-Seq: A6-1\nSubject: a6 nobody before\n\nx\n' > "$T_DIR/m1"
printf 'X-Seq: A6-2\nSubject: a6 nobody full\n\nx\n' > "$T_DIR/m2"
printf 'X-Seq: A6-3\nSubject: a6 root\n\nroot mail\n' > "$T_DIR/m3"
{
	printf 'X-Seq: A6-4\nSubject: a6 big\n\n'
	head -c 2400000 /dev/zero | tr '\0' 'z' | fold -w 70
	printf '\nend\n'
} > "$T_DIR/big"
chmod 644 "$T_DIR"/m1 "$T_DIR"/m2 "$T_DIR"/m3 "$T_DIR/big"

# 1. Above the reserve, nobody's mail goes in.
as_nobody "$NSM" -odq -i a6@example.net < "$T_DIR/m1"
ok $? "nobody queues with room above the reserve"
is "$(leftovers)" "0 1" "one message in incoming/"

# 2. Under the reserve: nobody gets 75 and leaves nothing; root gets in.
leave_free 524288
as_nobody "$NSM" -odq -i a6@example.net < "$T_DIR/m2" 2>"$T_DIR/err"
is "$?" 75 "under queue_minfree, nobody's submission exits 75"
grep -q 'queue_minfree' "$T_DIR/err"
ok $? "with a reason: $(head -n 1 "$T_DIR/err")"
is "$(leftovers)" "0 1" "nothing left in tmp/ or incoming/"
printf 'EHLO c\r\nMAIL FROM:<nobody@example.org>\r\nRCPT TO:<a6@example.net>\r\nDATA\r\nSubject: a6 bs\r\n\r\nx\r\n.\r\nQUIT\r\n' |
    as_nobody "$NSM" -bs -odq > "$T_DIR/bs.out" 2>/dev/null
grep -q '^451 4.3.0 .*queue_minfree' "$T_DIR/bs.out"
ok $? "-bs as nobody: DATA gets 451 4.3.0"
is "$(leftovers)" "0 1" "nothing left by -bs either"
"$SENDMAIL" -odq -i a6@example.net < "$T_DIR/m3" 2>"$T_DIR/err"
ok $? "root's message still goes in"
is "$(leftovers)" "0 2" "root's message is in incoming/"

# 3. A big message from nobody that starts above the reserve is refused
# once it has taken the spool under it (checked every MiB written).
leave_free $((1048576 + 1600000))
as_nobody "$NSM" -odq -i a6@example.net < "$T_DIR/big" 2>"$T_DIR/err"
is "$?" 75 "a 2.4 MB message with 1.6 MB above the reserve exits 75"
grep -q 'queue_minfree' "$T_DIR/err"
ok $? "with a reason: $(head -n 1 "$T_DIR/err")"
is "$(leftovers)" "0 2" "nothing left in tmp/ or incoming/"

# 4. With room again, what was accepted is delivered, root's included.
rm -f "$SPOOL/filler"
start_server
start_daemon
wait_for "delivery" 300 has_mail 2
ok $? "relayqd delivers the two accepted messages"
grep -l '^X-Seq: A6-3' "$MAILDIR"/*.eml > /dev/null 2>&1
ok $? "root's message arrived"
grep -l '^X-Seq: A6-1' "$MAILDIR"/*.eml > /dev/null 2>&1
ok $? "nobody's earlier message arrived"
wait_for "drain" 100 queue_empty
ok $? "the spool drains"
is "$(count_mail)" 2 "and nothing else arrived"

# 4b. Over relayqd's socket, two submissions that each fit above the
# reserve alone but not together: relayqd counts what the first still
# has to send when it checks the second (an outside tester had both
# accepted, and the spool would have gone under the reserve).
cat > "$T_DIR/two.py" <<'PYEOF'
import socket, sys
def fr(k, v=b''):
    return k + str(len(v)).encode() + b':' + v + b'\n'
def start(size):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(fr(b'H', b'relayq-submit/1') + fr(b'S', b'') +
              fr(b'R', b'a6@example.net') + fr(b'P', b'local') +
              fr(b'Z', str(size).encode()))
    s.settimeout(60)
    return s, s.recv(4096).decode(errors='replace').strip()
a, ga = start(1500000)
b, gb = start(1500000)
print('first', ga or 'none')
print('second', gb or 'none')
PYEOF
chmod 644 "$T_DIR/two.py"
leave_free $((1048576 + 2000000))
as_nobody "$PYTHON3" "$T_DIR/two.py" "$T_DIR/submit.sock" > "$T_DIR/two.out" 2>&1
grep -q '^first G' "$T_DIR/two.out"
ok $? "socket: a 1.5 MB declaration with 2 MB above the reserve gets G"
grep -q '^second X.*75 .*queue_minfree' "$T_DIR/two.out"
ok $? "socket: a second one while the first is under way is refused ($(sed -n 2p "$T_DIR/two.out"))"
wait_for "tmp/ empty" 100 sh -c "[ \$(find '$SPOOL/tmp' -type f | wc -l) -eq 0 ]"
ok $? "socket: both leave nothing in tmp/"
rm -f "$SPOOL/filler"
stop_daemon
ok $? "relayqd exits 0"

# 5. The inode reserve: a spool with few inodes (400: the reserve is a
# tenth, 40) and plenty of blocks, its inodes used by root-owned files
# but for 30.  Nobody gets 75 and leaves nothing; root still gets in.
umount_tmpfs "$SPOOL" && mount_tmpfs "$SPOOL" "size=8m,nr_inodes=400,mode=0755" ||
    { echo "Bail out! cannot mount a tmpfs with 400 inodes on $SPOOL"; exit 1; }
nobody_setup || { echo "Bail out! cannot prepare the spool for nobody"; exit 1; }
ifree() { # free inodes in the spool
	stat -f -c %d "$SPOOL"
}
as_nobody "$NSM" -odq -i a6@example.net < "$T_DIR/m1"
ok $? "nobody queues with inodes above the reserve"
is "$(leftovers)" "0 1" "one message in incoming/"
mkdir "$SPOOL/ifill" && (cd "$SPOOL/ifill" && seq 1 $(($(ifree) - 30)) | xargs touch)
is "$(ifree)" 30 "the spool has 30 free inodes"
as_nobody "$NSM" -odq -i a6@example.net < "$T_DIR/m2" 2>"$T_DIR/err"
is "$?" 75 "under the inode reserve, nobody's submission exits 75"
grep -q 'inodes.*queue_minfree' "$T_DIR/err"
ok $? "with a reason: $(head -n 1 "$T_DIR/err")"
is "$(leftovers)" "0 1" "nothing left in tmp/ or incoming/"
"$SENDMAIL" -odq -i a6@example.net < "$T_DIR/m3" 2>"$T_DIR/err"
ok $? "root's message still goes in"
is "$(leftovers)" "0 2" "root's message is in incoming/"
done_testing
