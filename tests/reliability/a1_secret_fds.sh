#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A1 and A12.  The front end, run as nobody in each of its modes
# (submission, -t, -bp, -bv, -bs, -bi, -q) under `strace -f`, never
# opens, stats or executes the smarthost secret (password_file, or the
# password_command program), never starts a child, and prints nothing of
# the secret.  relayqd's password_command child inherits no descriptor
# but 0, 1 and 2: it lists its own /proc/self/fd while relayqd delivers
# (AUTH PLAIN against aiosmtpd, in clear on loopback by configuration).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "setpriv and strace"
command -v strace >/dev/null || { echo "Bail out! strace missing"; exit 1; }

PORT=$(free_port)
AUSER=relayuser
PASS='Zq7-a1-S3cret-never-seen'
printf '%s\n' "$PASS" > "$T_DIR/secret"
chmod 600 "$T_DIR/secret"
# The password_command lists the descriptors it inherited (Python: a
# shell would add its own for redirections and the script), then prints
# the secret.
cat > "$T_DIR/passcmd" <<EOF
#!$PYTHON3
import os
fds = []
for f in os.listdir('/proc/self/fd'):
    try:
        fds.append('{} {}'.format(f, os.readlink('/proc/self/fd/' + f)))
    except OSError:
        pass  # the directory listdir had open
with open('$T_DIR/child-fds.{}'.format(os.getpid()), 'w') as out:
    out.write(''.join(l + chr(10) for l in sorted(fds)))
print(open('$T_DIR/secret').read().strip())
EOF
chmod 700 "$T_DIR/passcmd"

write_conf "" "username = $AUSER
password_file = $T_DIR/secret
auth = plain
allow_plaintext_auth = yes"
nobody_setup || { echo "Bail out! cannot prepare the spool for nobody"; exit 1; }
printf 'To: a1@example.net\nSubject: a1\n\nbody\n' > "$T_DIR/msg"
chmod 644 "$T_DIR/msg"

# front MODE-DESC STDIN ARGS...: runs the front end as nobody under
# strace; checks the secret is never touched nor printed, no child.
front() {
	_d=$1; _in=$2; shift 2
	strace -f -y -o "$T_DIR/fe.trace" -e trace=%file,execve,clone,clone3,fork,vfork \
	    setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	    "$NSM" "$@" < "$_in" > "$T_DIR/fe.out" 2>&1
	_rc=$?
	! grep -q "$T_DIR/secret\|$T_DIR/passcmd" "$T_DIR/fe.trace"
	ok $? "$_d: the secret file and password_command are never touched (exit $_rc)"
	_n=$(grep -c 'execve(' "$T_DIR/fe.trace")
	! grep -q 'clone(\|clone3(\|fork(' "$T_DIR/fe.trace" && [ "$_n" -eq 2 ]
	ok $? "$_d: no child process, no exec but setpriv's"
	! grep -q "$PASS" "$T_DIR/fe.out"
	ok $? "$_d: the secret is not in the output"
}

printf 'EHLO a1\r\nMAIL FROM:<nobody@example.org>\r\nRCPT TO:<a1@example.net>\r\nDATA\r\nSubject: bs\r\n\r\nbody\r\n.\r\nQUIT\r\n' > "$T_DIR/bs"
chmod 644 "$T_DIR/bs"
front "submission" "$T_DIR/msg" -i a1@example.net
front "-t" "$T_DIR/msg" -t -i
front "-bs" "$T_DIR/bs" -bs
front "-bp" /dev/null -bp
front "-bv" /dev/null -bv a1@example.net
front "-bi" /dev/null -bi
front "-q" /dev/null -q
front "-v submission" "$T_DIR/msg" -v -i a1@example.net
front "-C config" "$T_DIR/msg" -C "$CONF" -i a1@example.net

# The same with a password_command instead of a file.
sed -i "s|^password_file = .*|password_command = $T_DIR/passcmd|" "$CONF"
front "submission, password_command" "$T_DIR/msg" -i a1@example.net

# relayqd's password_command child: only 0, 1 and 2.
start_server --auth "$AUSER:$PASS" --auth-plaintext
start_daemon
wait_for "delivery" 150 has_mail 5
ok $? "relayqd delivered with AUTH using password_command"
grep -q "^AUTH PLAIN $AUSER ok\$" "$MAILDIR/commands"
ok $? "the server saw AUTH PLAIN as $AUSER"
wait_for "the child's fd list" 50 sh -c "ls '$T_DIR'/child-fds.* >/dev/null 2>&1"
ok $? "the password_command child ran"
cat "$T_DIR"/child-fds.* | awk '{ print $1 }' |
    sort -u | tr '\n' ' ' > "$T_DIR/fds"
is "$(cat "$T_DIR/fds")" "0 1 2 " "the child inherited fds 0, 1 and 2 only"
grep -q ' /dev/null$' "$T_DIR"/child-fds.* && grep -q ' pipe:' "$T_DIR"/child-fds.*
ok $? "stdin is /dev/null, stdout a pipe ($(tr '\n' ';' < "$(ls "$T_DIR"/child-fds.* | head -n 1)"))"
n=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
[ "$n" -gt 3 ]
ok $? "(relayqd itself holds $n descriptors, so a leak would show)"
stop_daemon
ok $? "relayqd exits 0"
! grep -q "$PASS" "$T_DIR/relayqd.log"
ok $? "the secret is not in relayqd's log"
done_testing
