#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# R3, write ordering (ALICE-lite): strace one submission and the
# deliveries of two messages, and check the durability order with
# ordercheck.py:
#  - sendmail: write -> fsync(file) -> rename -> fsync(dir) -> exit 0;
#  - relayqd accept: rename -> fsync(queue/) -> fsync(incoming/), before
#    the message's MAIL FROM (one pair of fsyncs per batch);
#  - relayqd state: write -> fsync -> rename -> fsync(state/) before the
#    next attempt and before unlink (a message with one recipient
#    accepted and one deferred, delivered on the retry);
#  - relayqd remove: unlink(queue/) only after the final reply; with a
#    state file then fsync(queue/), unlink(state/) and fsync(state/);
#    without one (delivered at once) no state/ lookup and no fsync.
# The checker is itself checked: a trace with the file's fsync removed,
# or with the rename before it, must fail.
# strace -s 1024: the body and the final dot go out in one write, and
# the checker looks for a write that ends with ".\r\n".
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"

command -v strace >/dev/null || { echo "Bail out! strace missing"; exit 1; }
STRACE="strace -f -y -s 1024 -e trace=openat,write,writev,pwrite64,read,readv,recvfrom,sendto,sendfile,fsync,fdatasync,syncfs,rename,renameat,renameat2,link,linkat,unlink,unlinkat,close,exit_group"
PORT=$(free_port)
write_conf

# 1. One submission.
printf 'Subject: r3\n\nordered\n' > "$T_DIR/msg"
$STRACE -o "$T_DIR/submit.trace" "$SENDMAIL" -i one@example.net < "$T_DIR/msg"
ok $? "sendmail exits 0 under strace"
"$PYTHON3" "$REL/ordercheck.py" submit "$T_DIR/submit.trace" > "$T_DIR/submit.check"
ok $? "submission: durable before exit 0"
sed 's/^/# /' "$T_DIR/submit.check"

# The checker catches a missing fsync and an early rename.
grep -v 'fsync(.*/tmp/[0-9A-F]\{20\}>' "$T_DIR/submit.trace" > "$T_DIR/nofsync.trace"
! "$PYTHON3" "$REL/ordercheck.py" submit "$T_DIR/nofsync.trace" >/dev/null
ok $? "checker self-test: a trace without the file fsync fails"
"$PYTHON3" - "$T_DIR/submit.trace" "$T_DIR/early.trace" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines(True)
ren = [i for i, l in enumerate(lines) if 'renameat2(' in l or 'linkat(' in l][0]
fs = [i for i, l in enumerate(lines) if 'fsync(' in l and '/tmp/' in l][0]
l = lines.pop(ren)
lines.insert(fs, l)
open(sys.argv[2], 'w').writelines(lines)
EOF
! "$PYTHON3" "$REL/ordercheck.py" submit "$T_DIR/early.trace" >/dev/null
ok $? "checker self-test: a rename before the fsync fails"

# 2. Deliveries: the first message (one recipient) and a second one with
# a recipient the server defers once.
printf 'Subject: r3 two\n\nmixed\n' |
    "$SENDMAIL" -i now@example.net later@example.net
ok $? "second message queued"
start_server --rcpt-reply 'later=451 4.3.0 try again later'
$STRACE -o "$T_DIR/deliver.trace" "$RELAYQD" -f -c "$CONF" \
    >>"$T_DIR/relayqd.log" 2>&1 &
SP=$!
T_PIDS="$T_PIDS $SP"
wait_for "first attempt" 100 has_mail 2
ok $? "both messages reached the server (the 451 recipient held back)"
has_state() { ls "$SPOOL/state" | grep -q '^[0-9A-F]\{20\}$'; }
wait_for "state file" 100 has_state
ok $? "a state file records the accepted recipient"
stop_server
MAILDIR=$T_DIR/mail2
start_server
wait_for "retry" 100 has_mail 1
ok $? "the deferred recipient is delivered on the retry"
grep -q '"rcpt_tos": \["later@example.net"\]' "$MAILDIR/0001.env"
ok $? "only the deferred recipient is sent again"
wait_for "removal" 100 queue_empty
ok $? "spool empty"
RP=$(pgrep -P "$SP" relayqd)
kill -TERM "$RP"
wait "$SP"
rel_forget "$SP"
"$PYTHON3" "$REL/ordercheck.py" deliver "$T_DIR/deliver.trace" > "$T_DIR/deliver.check"
ok $? "delivery: state durable before it is relied on, unlink ordered"
sed 's/^/# /' "$T_DIR/deliver.check"
grep -q 'state #1' "$T_DIR/deliver.check"
ok $? "the trace covered a state file write"
done_testing
