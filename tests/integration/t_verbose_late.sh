#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A sendmail -v request that comes once relayqd's delivery of the message
# is under way still gets its outcome.  sendmail -v commits the message
# and then asks for its delivery; relayqd picks an unannounced drop up a
# second after inotify saw it, so on a loaded machine (or with a client
# that reads its stderr slowly) the delivery can start first.  relayqd
# said "the message is being delivered already" then (t_verbose_slots B
# failed so under valgrind and load).  Here the request is made while the
# server holds the reply to the final dot, so it cannot come too early.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
mkdir -p "$T_DIR/hold"
write_conf
start_server --hold-every 1 --hold-max 1 --hold-dir "$T_DIR/hold"
start_daemon
wait_for "the -v socket" 100 test -S "$SPOOL/verbose" && wait_started
ok $? "relayqd listens on <spool>/verbose"

id=$(printf 'Subject: late\n\nx\n' |
    "$SENDMAIL" --print-queue-id -i late@example.net)
wait_for "the transaction to be held at its final dot" 1200 \
    test -e "$T_DIR/hold/held.1"
ok $? "the delivery of $id is under way"

# The request, then the server's reply once relayqd has answered it.
"$PYTHON3" - "$SPOOL/verbose" "$id" "$T_DIR/hold/go.1" \
    > "$T_DIR/late" 2>&1 <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(600)
s.connect(sys.argv[1])
s.sendall(("V" + sys.argv[2] + "\n").encode())
f = s.makefile()
print(f.readline().rstrip('\n'), flush=True)
open(sys.argv[3], 'w').close()
print(f.read().strip())
PYEOF
head -n 1 "$T_DIR/late" | grep -q "^\*\*\* $id: delivering now"
ok $? "a request for a message under way is taken"
grep -q "^RCPT sent late@example.net" "$T_DIR/late"
ok $? "...it gets the recipient's outcome"
tail -n 1 "$T_DIR/late" | grep -q '^RESULT sent'
ok $? "...and the result"
sed 's/^/#   /' "$T_DIR/late" | tail -n 4
wait_for "empty queue" 600 queue_empty
ok $? "the message is delivered once"
[ "$(grep -c "$id: .*status=sent" "$T_DIR/relayqd.log")" -eq 1 ]
ok $? "...one delivery logged"

stop_daemon
ok $? "relayqd exits 0"
done_testing
