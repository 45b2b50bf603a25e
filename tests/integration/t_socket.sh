#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Submission over relayqd's socket (issue 16, doc/submit-protocol.md):
# sendmail run as nobody under setpriv --no-new-privs cannot write the
# spool, so it hands the message to relayqd, which knows the sender by
# SO_PEERCRED.  Checks -t, argv recipients, -f with allow_from_override =
# no, -bs (all delivered to aiosmtpd, sender nobody's, Received: with uid
# 65534); hostile clients (a malformed frame, an oversized declaration,
# a client that stalls mid-message while others are served, 1000
# connections from one uid that do not lock out another); and exit 75
# with advice when neither the spool nor the socket works.
. "$top_srcdir/tests/integration/lib.sh"

command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] || {
	echo "1..0 # SKIP needs root and setpriv"
	exit 0
}
socket_setup "submit_timeout = 3s
allow_from_override = no
max_message_size = 100k"
ok $? "relayqd listens on submit_socket"
is "$(stat -c %a "$SOCK")" 666 "the socket has mode 0666"

# as_nobody CMD...: nobody, setgid ignored (no_new_privs).
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
	    env RELAYQ_CONFIG="$CONF" "$@"
}
# mail_with SUBJECT: the .eml file that has it, or nothing.
mail_with() {
	grep -l "^Subject: $1" "$MAILDIR"/*.eml 2>/dev/null | head -n 1
}
has_subject() { [ -n "$(mail_with "$1")" ]; }
# check_nobody SUBJECT WHAT [N]: delivered, sender nobody's, Received:
# with uid first, N Received: fields in all (default 1).
check_nobody() {
	wait_for "$2 delivered" 150 has_subject "$1"
	ok $? "$2: delivered"
	m=$(mail_with "$1")
	env=${m%.eml}.env
	grep -q '"mail_from": "nobody@example.org"' "$env" 2>/dev/null
	ok $? "$2: envelope sender is nobody's"
	head -n 1 "$m" 2>/dev/null |
	    grep -q "^Received: .*from userid $NOBODY)\|^Received: from .* (uid $NOBODY)"
	ok $? "$2: the first field is Received: with uid $NOBODY"
	[ "$(grep -c '^Received:' "$m" 2>/dev/null)" -eq "${3:-1}" ]
	ok $? "$2: ${3:-1} Received: field(s)"
}
tmp_empty() { [ -z "$(ls -A "$SPOOL/tmp")" ]; }

# 1. sendmail -t as nobody under no_new_privs.
printf 'To: t1@example.net\nSubject: sock-t\n\nbody\n' |
    as_nobody "$SENDMAIL" -t 2>"$T_DIR/err1"
ok $? "sendmail -t as nobody (no_new_privs) exits 0"
check_nobody sock-t "-t"
grep -q "submitted over the socket by uid=$NOBODY" "$T_DIR/relayqd.log"
ok $? "relayqd logs the submission with the kernel's uid"

# 2. argv recipients.
printf 'Subject: sock-argv\n\nbody\n' |
    as_nobody "$SENDMAIL" a1@example.net a2@example.net
ok $? "sendmail with argv recipients exits 0"
check_nobody sock-argv "argv"
grep -q '"rcpt_tos": \["a1@example.net", "a2@example.net"\]' \
    "$(mail_with sock-argv | sed 's/eml$/env/')"
ok $? "argv: both recipients in the envelope"

# 2a. A message of more than one M frame (64 KiB): sendmail keeps the
# first 64 KiB in memory and moves to an anonymous file past it.
i=0
{
	printf 'Subject: sock-big\n\n'
	while [ $i -lt 1400 ]; do
		printf 'big line %05d %s\n' $i \
		    'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz'
		i=$((i + 1))
	done
} > "$T_DIR/big.in"
as_nobody "$SENDMAIL" big@example.net < "$T_DIR/big.in"
ok $? "a 95 KB message over the socket exits 0"
wait_for "the big mail" 150 has_subject sock-big
is "$(grep -c '^big line [0-9]\{5\} abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz.\?$' \
    "$(mail_with sock-big)")" 1400 "all of its 1400 lines are delivered"
grep -q '^big line 01399 ' "$(mail_with sock-big)"
ok $? "the last one too"

# 3. -f with allow_from_override = no: the sender stays nobody's.
printf 'Subject: sock-f\n\nbody\n' |
    as_nobody "$SENDMAIL" -f boss@example.com f1@example.net
ok $? "sendmail -f exits 0"
check_nobody sock-f "-f refused"

# 4. -bs.
printf 'HELO client.example\r\nMAIL FROM:<boss@example.com>\r\nRCPT TO:<b1@example.net>\r\nDATA\r\nSubject: sock-bs\r\n\r\nhi\r\n.\r\nQUIT\r\n' |
    as_nobody "$SENDMAIL" -bs > "$T_DIR/bs.out"
ok $? "sendmail -bs exits 0"
grep -q '^250 2.0.0 Ok: queued as [0-9A-F]\{20\}' "$T_DIR/bs.out"
ok $? "-bs: 250 queued as <id>"
check_nobody sock-bs "-bs"

# 4a. -v over the socket: the delivery cannot be watched there; sendmail
# says so and exits 69 (sendmail(8)), and the message is queued.
printf 'Subject: sock-v\n\nbody\n' |
    as_nobody "$SENDMAIL" -v v1@example.net 2>"$T_DIR/v.err"
is $? 69 "-v over the socket: exit 69 (queued, delivery not watched)"
grep -q -e "-v: [0-9A-F]\{20\} was queued over relayqd's submission socket, where its delivery cannot be watched" \
    "$T_DIR/v.err"
ok $? "-v over the socket: sendmail says why"
check_nobody sock-v "-v over the socket"

# 4b. submission = socket (not auto) with a free-space reserve: the
# front end has no spool to look at (it once read an uninitialised one).
sed 's/^\[relayq\]$/[relayq]\nsubmission = socket\nqueue_minfree = 1k/' \
    "$CONF" > "$T_DIR/sock.conf"
chmod 644 "$T_DIR/sock.conf"
printf 'Subject: sock-only-argv\n\nbody\n' |
    as_nobody env RELAYQ_CONFIG="$T_DIR/sock.conf" "$SENDMAIL" a@x.example \
    2>"$T_DIR/sockonly1.err"
ok $? "submission = socket: sendmail a@x as nobody exits 0"
check_nobody sock-only-argv "submission = socket, argv"
printf 'To: t@x.example\nSubject: sock-only-t\n\nbody\n' |
    as_nobody env RELAYQ_CONFIG="$T_DIR/sock.conf" "$SENDMAIL" -t \
    2>"$T_DIR/sockonly2.err"
ok $? "submission = socket: sendmail -t as nobody exits 0"
check_nobody sock-only-t "submission = socket, -t"

# 4c. queue_minfree (the free space kept for root) holds on the socket
# path too: relayqd checks it for any uid but 0 before G.
reloaded() {
	[ "$(grep -c 'configuration reloaded' "$T_DIR/relayqd.log")" -ge "$1" ]
}
sed -i 's/^\[relayq\]$/[relayq]\nqueue_minfree = 1000G/' "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 reloaded 1
printf 'Subject: sock-minfree\n\nbody\n' |
    as_nobody "$SENDMAIL" m@example.net 2>"$T_DIR/minfree.err"
is $? 75 "queue_minfree = 1000G: nobody's submission over the socket exits 75"
grep -q 'not enough free space in the spool .* kept for root (queue_minfree)' \
    "$T_DIR/minfree.err"
ok $? "with the spool path's wording"
tmp_empty
ok $? "the refusal leaves nothing in tmp/"
printf 'Subject: sock-minfree-root\n\nbody\n' |
    env RELAYQ_CONFIG="$T_DIR/sock.conf" "$SENDMAIL" r@example.net
ok $? "root's submission over the socket is accepted under the reserve"
wait_for "root's mail" 150 has_subject sock-minfree-root
ok $? "and delivered"
sed -i '/^queue_minfree = 1000G$/d' "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the second reload" 100 reloaded 2

# Hostile clients, in Python (raw frames).
cat > "$T_DIR/client.py" <<'PYEOF'
import os, resource, socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
def fr(k, v=b''):
    return k + str(len(v)).encode() + b':' + v + b'\n'
def env(size, rcpt=b'x@example.net'):
    return (fr(b'H', b'relayq-submit/1') + fr(b'S', b'') + fr(b'R', rcpt) +
            fr(b'P', b'local') + fr(b'Z', str(size).encode()))
def reply(s, limit=30):
    s.settimeout(limit)
    data = b''
    try:
        while not data.endswith(b'\n') or len(data) < 3:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    return data
cmd = sys.argv[2]
def submit(tag, body, envelope):
    # One whole submission; prints TAG, the G reply and the K/X reply.
    s = conn()
    s.sendall(fr(b'H', b'relayq-submit/1') + envelope +
              fr(b'Z', str(len(body)).encode()))
    g = reply(s)
    s.sendall(fr(b'M', body) + fr(b'E'))
    print(tag, g.decode().strip(), reply(s).decode().strip())
loop = b''.join(b'Received: hop %d\r\n' % i for i in range(51)) + b'\r\nx\r\n'
if cmd == 'malformed':
    for raw in [b'Q5:hello\n', b'H15:relayq-submit/9\n',
                b'H15:relayq-submit/1\nS999999:', b'H15:relayq-submit/1X',
                fr(b'H', b'relayq-submit/1') + fr(b'S', b'') + fr(b'R', b'bob'),
                env(3) + fr(b'M', b'abcd'),
                env(4) + fr(b'M', b'ab') + fr(b'E'),
                env(5) + fr(b'M', b'a\nb\r\n') + fr(b'E'),
                env(5) + fr(b'M', b'a\0b\r\n') + fr(b'E'),
                env(0),
                env(1002) + fr(b'M', b'x' * 1000 + b'\r\n') + fr(b'E'),
                env(len(loop)) + fr(b'M', loop) + fr(b'E')]:
        s = conn()
        s.sendall(raw)
        # Everything until relayqd closes the connection (bounded).
        s.settimeout(30)
        data, closed = b'', False
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    closed = True
                    break
                data += b
        except (socket.timeout, ConnectionResetError):
            pass
        last = data.rstrip(b'\n').split(b'\n')[-1]
        print('reply', last[:1].decode() or 'none',
              last[last.find(b':') + 1:].decode(), 'closed' if closed else 'open')
elif cmd == 'forge':
    # A client that lies: another sender, its own Received: line.
    submit('forge', b'Received: from forged (uid 0)\r\n\tby nowhere; x\r\n'
           b'Subject: ' + (sys.argv[3].encode() if len(sys.argv) > 3
                           else b'sock-forged') + b'\r\n\r\nbody\r\n',
           fr(b'S', b'boss@example.com') + fr(b'R', b'fg@example.net') +
           fr(b'P', b'local'))
elif cmd == 'dup':
    submit('dup', b'Subject: sock-dup\r\n\r\nbody\r\n',
           fr(b'S', b'') + fr(b'R', b'dup@example.net') +
           fr(b'R', b'dup@EXAMPLE.net'))
elif cmd == 'oversize':
    s = conn()
    s.sendall(env(200 * 1024))
    print('reply', reply(s).decode().strip())
elif cmd == 'stall':
    s = conn()
    s.sendall(env(100))
    g = reply(s)
    s.sendall(fr(b'M', b'Subject: half\r\n')[:-1][:10])
    open(sys.argv[3], 'w').write(g.decode())
    t0 = time.time()
    r = reply(s, 60)
    print('stall', r.decode().strip() or 'EOF')
elif cmd == 'wait':
    # 16 connections take the uid's share (each has its G), a 17th
    # sends its envelope: it waits for a slot, unanswered, instead of
    # being refused; one of the 16 goes, and the 17th is served.
    held = []
    for i in range(16):
        h = conn()
        h.sendall(env(10))
        held.append((h, reply(h)))
    n = sum(1 for _, g in held if g.startswith(b'G'))
    body = b'Subject: sock-waited\r\n\r\nbody\r\n'
    s = conn()
    s.sendall(env(len(body), b'w@example.net'))
    early = reply(s, 1)
    held[0][0].close()
    g = early or reply(s)
    k = b''
    if g.startswith(b'G'):
        s.sendall(fr(b'M', body) + fr(b'E'))
        k = reply(s)
    print('wait', n, early.decode().strip() or 'none', g.decode().strip(),
          k.decode().strip() or 'none')
elif cmd == 'flood':
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    held, refused = [], 0
    for i in range(int(sys.argv[3])):
        s = conn()
        held.append(s)
    time.sleep(0)
    for s in held:
        s.settimeout(0.05)
        try:
            d = s.recv(4096)
            if d.startswith(b'X'):
                refused += 1
        except socket.timeout:
            pass
    open(sys.argv[4], 'w').write('%d %d\n' % (len(held), refused))
    # Hold them until told to stop.
    for _ in range(600):
        if os.path.exists(sys.argv[5]):
            break
        time.sleep(0.1)
PYEOF

# 5. Malformed frames: an X reply, the connection closed, nothing in tmp/.
"$PYTHON3" "$T_DIR/client.py" "$SOCK" malformed > "$T_DIR/malformed" 2>&1
is "$(grep -c '^reply X 6[45] .* closed$' "$T_DIR/malformed")" 12 \
    "12 malformed streams: each gets X64/X65 and a closed connection"
grep -q '^reply X 65 empty message' "$T_DIR/malformed"
ok $? "an empty message (Z0) is refused with X65"
grep -q '^reply X 65 a line is longer than 998 octets' "$T_DIR/malformed"
ok $? "a line over 998 octets is refused with X65, as on the spool path"
grep -q '^reply X 65 too many Received: headers (mail loop?)' \
    "$T_DIR/malformed"
ok $? "51 Received: fields are refused as a loop with X65"
grep -q '^reply X 65 the message contains a NUL byte' "$T_DIR/malformed"
ok $? "a NUL byte in an M frame is refused with X65"
grep -q 'body not in wire form' "$T_DIR/malformed"
ok $? "a bare LF in the body is refused (wire form)"
grep -q 'body shorter than declared' "$T_DIR/malformed"
ok $? "E before the declared size is refused"
wait_for "tmp/ empty" 50 tmp_empty
ok $? "malformed frames leave nothing in tmp/"
kill -0 "$DAEMON_PID"
ok $? "relayqd still runs"

# 5b. A raw client cannot choose the sender (allow_from_override = no)
# nor the uid in relayqd's Received: line.
as_nobody "$PYTHON3" "$T_DIR/client.py" "$SOCK" forge > "$T_DIR/forge" 2>&1
grep -q '^forge G0: K20:[0-9A-F]\{20\}$' "$T_DIR/forge"
ok $? "a raw client's submission is queued"
check_nobody sock-forged "forged sender" 2

# 5c. allow_from_override = yes: a user may choose the sender, and the
# mail says so.  relayqd adds the X-Authentication-Warning itself (a raw
# client never would); sendmail does not add a second one.
sed -i 's/^allow_from_override = no$/allow_from_override = yes/' "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 reloaded 3
WARN="X-Authentication-Warning: relayq.test: nobody set sender to boss@example.com using -f"
as_nobody "$PYTHON3" "$T_DIR/client.py" "$SOCK" forge sock-forged-warn \
    > "$T_DIR/forge2" 2>&1
grep -q '^forge G0: K20:[0-9A-F]\{20\}$' "$T_DIR/forge2"
ok $? "override = yes: a raw client's forged sender is queued"
wait_for "the forged mail" 150 has_subject sock-forged-warn
is "$(grep -c "^$WARN" "$(mail_with sock-forged-warn)")" 1 \
    "relayqd adds one X-Authentication-Warning for the raw client"
printf 'Subject: sock-f-warn\n\nbody\n' |
    as_nobody "$SENDMAIL" -f boss@example.com fw@example.net
ok $? "override = yes: sendmail -f as nobody exits 0"
wait_for "the -f mail" 150 has_subject sock-f-warn
is "$(grep -c '^X-Authentication-Warning:' "$(mail_with sock-f-warn)")" 1 \
    "sendmail -f over the socket: exactly one X-Authentication-Warning"
grep -q "^$WARN" "$(mail_with sock-f-warn)"
ok $? "with Sendmail's wording"
printf 'Subject: sock-own-from\n\nbody\n' |
    as_nobody "$SENDMAIL" -f nobody@EXAMPLE.org ow@example.net
wait_for "the own-sender mail" 150 has_subject sock-own-from
! grep -q '^X-Authentication-Warning:' "$(mail_with sock-own-from)"
ok $? "no warning when the sender is the user's own address"
sed -i 's/^allow_from_override = yes$/allow_from_override = no/' "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 reloaded 4

# root_via SOCKET NAME SUBJECT: root's sendmail submits over SOCKET
# (submission = socket), stderr in $T_DIR/NAME.sm; its exit status.
root_via() {
	sed "s|^submit_socket = .*|submit_socket = $1|" "$T_DIR/sock.conf" \
	    > "$T_DIR/$2.conf"
	printf 'Subject: %s\n\nbody\n' "$3" |
	    env RELAYQ_CONFIG="$T_DIR/$2.conf" "$SENDMAIL" v@example.net \
	    2>"$T_DIR/$2.sm"
}

# 5d. Impersonation: in a directory others can write, a user listens on
# the socket's name before relayqd.  sendmail sees (SO_PEERCRED) that the
# listener is neither root nor the spool's owner and sends it nothing;
# relayqd will not listen there; relayq check-config says why.
mkdir "$T_DIR/evil"
chmod 777 "$T_DIR/evil"
cat > "$T_DIR/evil.py" <<'PYEOF'
import os, socket, sys, time
path, got, ready, stop = sys.argv[1:5]
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(path)
l.listen(8)
l.settimeout(0.1)
open(ready, 'w').write('up\n')
n = 0
for _ in range(1200):
    if os.path.exists(stop):
        break
    try:
        c, _ = l.accept()
    except socket.timeout:
        continue
    c.settimeout(2)
    try:
        while True:
            b = c.recv(4096)
            if not b:
                break
            n += len(b)
    except (socket.timeout, ConnectionResetError):
        pass
    c.close()
open(got, 'w').write('%d\n' % n)
PYEOF
setpriv --reuid=nobody --regid=nogroup --clear-groups "$PYTHON3" \
    "$T_DIR/evil.py" "$T_DIR/evil/submit" "$T_DIR/evil/got" \
    "$T_DIR/evil/ready" "$T_DIR/evil/stop" 2>"$T_DIR/evil/err" &
EVIL=$!
T_PIDS="$T_PIDS $EVIL"
wait_for "the impostor" 100 test -s "$T_DIR/evil/ready"
root_via "$T_DIR/evil/submit" evil sock-captured
is $? 75 "a listener that is not relayqd: sendmail exits 75"
grep -q "listener on $T_DIR/evil/submit is uid $NOBODY, not root or the spool's owner" \
    "$T_DIR/evil.sm"
ok $? "and says who listens"
touch "$T_DIR/evil/stop"
wait "$EVIL"
is "$(cat "$T_DIR/evil/got" 2>/dev/null)" 0 "the impostor received nothing"
rm -f "$T_DIR/evil/submit"
sed -e "s|^submit_socket = .*|submit_socket = $T_DIR/evil/d.sock|" \
    -e "s|^spool_dir = .*|spool_dir = $T_DIR/spool2|" "$CONF" \
    > "$T_DIR/evil2.conf"
"$RELAYQD" -f -c "$T_DIR/evil2.conf" >"$T_DIR/evil2.log" 2>&1 &
EVILD=$!
T_PIDS="$T_PIDS $EVILD"
wait_for "the refusal" 150 grep -q 'not listening for submissions' \
    "$T_DIR/evil2.log"
grep -q "not listening for submissions: the directory $T_DIR/evil of submit_socket .* is writable by others" \
    "$T_DIR/evil2.log"
ok $? "relayqd will not listen in a directory others can write"
[ ! -e "$T_DIR/evil/d.sock" ]
ok $? "and made no socket there"
stop_daemon "$EVILD" >/dev/null
"$RELAYQ" -c "$T_DIR/evil2.conf" check-config >/dev/null 2>"$T_DIR/evil.cc"
is $? 78 "relayq check-config fails on such a directory"
grep -q "directory $T_DIR/evil of submit_socket .* is writable by others (mode 0777)" \
    "$T_DIR/evil.cc"
ok $? "and says why"

# 5e. A relayqd that dies after the body and before K: the message may
# have been committed, so sendmail must not say it was not queued.
cat > "$T_DIR/nok.py" <<'PYEOF'
import re, socket, sys
path, ready = sys.argv[1:3]
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(path)
l.listen(1)
l.settimeout(120)
open(ready, 'w').write('up\n')
c, _ = l.accept()
c.settimeout(60)
data, g = b'', False
while not data.endswith(b'E0:\n'):
    b = c.recv(65536)
    if not b:
        break
    data += b
    if not g and re.search(rb'(^|\n)Z[0-9]+:[0-9]+\n', data):
        c.sendall(b'G0:\n')
        g = True
c.close()
PYEOF
"$PYTHON3" "$T_DIR/nok.py" "$T_DIR/nok.sock" "$T_DIR/nok.ready" \
    2>"$T_DIR/nok.err" &
NOK=$!
T_PIDS="$T_PIDS $NOK"
wait_for "the server without K" 100 test -s "$T_DIR/nok.ready"
root_via "$T_DIR/nok.sock" nok sock-nok
is $? 75 "no K after the body: sendmail exits 75"
grep -q "closed the connection on $T_DIR/nok.sock without an answer; the message may or may not have been queued" \
    "$T_DIR/nok.sm"
ok $? "and says the message may or may not have been queued"
wait "$NOK"

# 5f. Duplicate R frames: one recipient, as the front end dedups.
"$PYTHON3" "$T_DIR/client.py" "$SOCK" dup > "$T_DIR/dup" 2>&1
grep -q '^dup G0: K20:' "$T_DIR/dup"
ok $? "duplicate R frames: queued"
wait_for "the dup mail" 150 has_subject sock-dup
grep -q '"rcpt_tos": \["dup@example.net"\]' \
    "$(mail_with sock-dup | sed 's/eml$/env/')"
ok $? "duplicate R frames: one recipient, delivered once"

# 6. An oversized declaration is refused before the body.
"$PYTHON3" "$T_DIR/client.py" "$SOCK" oversize > "$T_DIR/oversize" 2>&1
grep -q '^reply X.*:65 message exceeds the size limit of 102400 bytes' \
    "$T_DIR/oversize"
ok $? "Z over max_message_size: X65 before any body byte"

# 7. A client that stalls mid-message is dropped after submit_timeout;
# others are served meanwhile.
"$PYTHON3" "$T_DIR/client.py" "$SOCK" stall "$T_DIR/stall.go" \
    > "$T_DIR/stall" 2>&1 &
STALL=$!
T_PIDS="$T_PIDS $STALL"
wait_for "the staller to get G" 100 test -s "$T_DIR/stall.go"
ok $? "the staller's envelope was accepted"
printf 'Subject: sock-during-stall\n\nbody\n' |
    as_nobody "$SENDMAIL" d1@example.net
ok $? "another submission succeeds while one client stalls"
wait "$STALL"
grep -q '^stall X.*75 timeout' "$T_DIR/stall"
ok $? "the staller got X75 timeout and was dropped"
wait_for "tmp/ empty" 50 tmp_empty
ok $? "the staller's temporary file is removed"
wait_for "mail during stall" 150 has_subject sock-during-stall
ok $? "the mail sent during the stall is delivered"

# 8. 1000 connections from one uid (root) do not lock out another.
# The flood must still hold root's share when root's sendmail comes, so
# submit_timeout is 60 s here (the flood client looks at its connections
# one by one, which takes seconds with those that wait for a slot).
sed -i 's/^submit_timeout = 3s$/submit_timeout = 60s/' "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 reloaded 5
rm -f "$T_DIR/flood.stop"
"$PYTHON3" "$T_DIR/client.py" "$SOCK" flood 1000 "$T_DIR/flood.out" \
    "$T_DIR/flood.stop" 2>"$T_DIR/flood.err" &
FLOOD=$!
T_PIDS="$T_PIDS $FLOOD"
wait_for "the flood" 300 test -s "$T_DIR/flood.out"
read -r held refused < "$T_DIR/flood.out"
is "$held" 1000 "1000 connections from root made"
# 16 are read, at most 224 wait for a slot (RELAYQD_SUBMIT_WAIT_MAX less
# an eighth, relayqd_submit.h), the rest are refused.
ok $(( refused >= 1000 - 16 - 224 ? 0 : 1 )) \
    "all but 16 read and 224 waiting refused at once ($refused X75)"
printf 'Subject: sock-flood\n\nbody\n' |
    as_nobody "$SENDMAIL" fl@example.net 2>"$T_DIR/flood.nobody"
ok $? "nobody still submits while root holds its share"
# A root sendmail finds no connection to spare ("busy:"): it retries
# and gets through once the flood ends.
sed 's/^\[relayq\]$/[relayq]\nsubmission = socket/' "$CONF" \
    > "$T_DIR/root.conf"
# relayqd logs at most one refusal a second per uid and sums up the
# rest a second later (section 9), so root's refusal is either logged
# with the sendmail's pid or counted in a new "refused (uid 0)" line.
nsum=$(grep -c 'refused (uid 0)' "$T_DIR/relayqd.log")
printf 'Subject: sock-busy\n\nbody\n' |
    env RELAYQ_CONFIG="$T_DIR/root.conf" "$SENDMAIL" bz@example.net \
    2>"$T_DIR/busy.err" &
BUSY=$!
T_PIDS="$T_PIDS $BUSY"
busy_seen() {
	grep -q "uid=0 pid=$BUSY refused: 75 busy:" "$T_DIR/relayqd.log" ||
	    [ "$(grep -c 'refused (uid 0)' "$T_DIR/relayqd.log")" -gt "$nsum" ]
}
wait_for "a busy refusal" 300 busy_seen
ok $? "relayqd refuses root's sendmail with busy: while root holds 16"
# The refusals do not flood the log: one line per uid per second, the
# rest summed up.
wait_for "the refusal summary" 100 \
    grep -q 'connections refused (uid 0) in the last [0-9]*s' "$T_DIR/relayqd.log"
ok $? "refusals beyond one a second are summed up in one line"
nlines=$(grep -c 'submission from uid=0 pid=[0-9]* refused' "$T_DIR/relayqd.log")
ok $(( nlines < 200 ? 0 : 1 )) "$refused refusals of uid 0 logged in $nlines lines (< 200)"
touch "$T_DIR/flood.stop"
wait "$FLOOD"
wait "$BUSY"
is $? 0 "the busy sendmail retried and exits 0 once the flood ended"
wait_for "the busy mail" 150 has_subject sock-busy
ok $? "and its mail is delivered"
check_nobody sock-flood "during the flood"
sed -i 's/^submit_timeout = 60s$/submit_timeout = 3s/' "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the reload" 100 reloaded 6

# 8a. A connection beyond the uid's share waits for a slot instead of
# being refused "busy:" (so a burst of submitters does not make relayqd
# accept, refuse and close each one again and again).
as_nobody "$PYTHON3" "$T_DIR/client.py" "$SOCK" wait > "$T_DIR/wait" 2>&1
grep -q '^wait 16 ' "$T_DIR/wait"
ok $? "16 connections of nobody hold its share"
grep -q '^wait 16 [^X]* G0: K20:[0-9A-F]\{20\}$' "$T_DIR/wait"
ok $? "a 17th is not refused: it waits, gets G when one goes, and is queued"
wait_for "the waited mail" 150 has_subject sock-waited
ok $? "and its mail is delivered"
wait_for "tmp/ empty" 50 tmp_empty
ok $? "the 16 that went leave nothing in tmp/"

# 8b. SIGHUP with submit_socket changed: relayqd listens on the new path
# and removes the old one; a new path it refuses keeps the old socket.
SOCK2=$T_DIR/submit2.sock
sed -i "s|^submit_socket = .*|submit_socket = $SOCK2|" "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the move" 100 grep -q "submission socket moved from $SOCK to $SOCK2" \
    "$T_DIR/relayqd.log"
ok $? "SIGHUP: relayqd logs that the socket moved"
test -S "$SOCK2"
ok $? "SIGHUP: relayqd listens on the new submit_socket"
is "$(stat -c %a "$SOCK2" 2>/dev/null)" 666 "SIGHUP: the new socket has mode 0666"
test ! -e "$SOCK"
ok $? "SIGHUP: the old socket is removed"
printf 'Subject: sock-moved\n\nbody\n' |
    as_nobody "$SENDMAIL" mv@example.net 2>"$T_DIR/moved.err"
ok $? "a submission over the moved socket exits 0"
check_nobody sock-moved "after the move"
mkdir -p "$T_DIR/open"
chmod 1777 "$T_DIR/open"
sed -i "s|^submit_socket = .*|submit_socket = $T_DIR/open/s.sock|" "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the refusal of the new path" 100 \
    grep -q "submit_socket: still listening on $SOCK2" "$T_DIR/relayqd.log"
ok $? "SIGHUP: a path in a directory others can write is refused, logged"
[ -S "$SOCK2" ] && [ ! -e "$T_DIR/open/s.sock" ]
ok $? "SIGHUP: and the old socket stays"
sed -i "s|^submit_socket = .*|submit_socket = $SOCK2|" "$CONF"
SOCK=$SOCK2

# 8c. relayqd out of descriptors (its RLIMIT_NOFILE lowered to 8 over
# what it holds once started): accept() fails with EMFILE and the
# listener stays readable; relayqd stops accepting (logged) instead of
# spinning on it, the clients wait in the backlog, and it accepts again
# once connections end.
sed -e "s|^submit_socket = .*|submit_socket = $T_DIR/fd.sock|" \
    -e "s|^spool_dir = .*|spool_dir = $T_DIR/spool3|" "$CONF" \
    > "$T_DIR/fd.conf"
chmod 644 "$T_DIR/fd.conf"
"$RELAYQD" -f -c "$T_DIR/fd.conf" >"$T_DIR/fd.log" 2>&1 &
FDD=$!
T_PIDS="$T_PIDS $FDD"
wait_for "the second relayqd's start" 100 grep -q 'started:' "$T_DIR/fd.log"
nfd=$(ls /proc/"$FDD"/fd | wc -l)
prlimit --pid "$FDD" --nofile=$((nfd + 8)):$((nfd + 8))
ok $? "its descriptors limited to $((nfd + 8)) ($nfd open)"
rm -f "$T_DIR/fd.stop"
as_nobody "$PYTHON3" "$T_DIR/client.py" "$T_DIR/fd.sock" flood 30 \
    "$T_DIR/fd.out" "$T_DIR/fd.stop" 2>"$T_DIR/fd.err" &
FDF=$!
T_PIDS="$T_PIDS $FDF"
wait_for "the pause" 100 grep -q \
    'submission socket: cannot accept a connection; not accepting until one ends' \
    "$T_DIR/fd.log"
ok $? "out of descriptors: relayqd stops accepting for a while, logged"
touch "$T_DIR/fd.stop"
wait "$FDF"
printf 'Subject: sock-fds\n\nbody\n' |
    as_nobody env RELAYQ_CONFIG="$T_DIR/fd.conf" "$SENDMAIL" fd@example.net \
    2>"$T_DIR/fd.sm"
ok $? "once the connections ended, a submission is accepted (exit 0)"
wait_for "the mail after the pause" 150 has_subject sock-fds
ok $? "and delivered"
stop_daemon "$FDD"
ok $? "that relayqd exits 0"

# 9. Neither path: exit 75 and advice.
cat > "$T_DIR/dead.conf" <<EOC
[relayq]
spool_dir = $SPOOL
submit_socket = $T_DIR/nobody-listens
[smarthost]
host = 127.0.0.1
EOC
chmod 644 "$T_DIR/dead.conf"
printf 'Subject: dead\n\nbody\n' |
    setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
    env RELAYQ_CONFIG="$T_DIR/dead.conf" "$SENDMAIL" x@example.net \
    2>"$T_DIR/dead.err"
is $? 75 "neither spool nor socket: exit 75"
grep -q "spool $SPOOL is not writable.*relayqd is not listening on $T_DIR/nobody-listens.*start relayqd.socket" "$T_DIR/dead.err"
ok $? "the message says what to do"
sed -i 's/^\[relayq\]$/[relayq]\nsubmission = socket/' "$T_DIR/dead.conf"
printf 'Subject: dead\n\nbody\n' | env RELAYQ_CONFIG="$T_DIR/dead.conf" \
    "$SENDMAIL" x@example.net 2>"$T_DIR/dead2.err"
is $? 75 "submission = socket, nothing listening: exit 75 (root too)"

stop_daemon
ok $? "relayqd exits 0"
[ ! -e "$SOCK" ]
ok $? "relayqd removes the socket it made"

# 9b. A socket relayqd could not start (its directory others can write)
# starts at the SIGHUP after the path was corrected.
sed -i "s|^submit_socket = .*|submit_socket = $T_DIR/open/s.sock|" "$CONF"
: > "$T_DIR/relayqd.log"
start_daemon
wait_for "the refusal at start" 100 \
    grep -q "not listening for submissions" "$T_DIR/relayqd.log"
ok $? "relayqd does not listen in a directory others can write"
wait_started
sed -i "s|^submit_socket = .*|submit_socket = $SOCK|" "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the late start" 100 grep -q "submission socket $SOCK\$" \
    "$T_DIR/relayqd.log"
ok $? "SIGHUP: the corrected submit_socket is started"
printf 'Subject: sock-late\n\nbody\n' |
    as_nobody "$SENDMAIL" late@example.net 2>"$T_DIR/late.err"
ok $? "a submission over it exits 0"
stop_daemon
ok $? "relayqd exits 0"

# 10. Socket activation: systemd-socket-activate listens; the first
# submission starts relayqd, which takes the socket (LISTEN_FDS) instead
# of binding its own submit_socket.
if command -v systemd-socket-activate >/dev/null 2>&1; then
	ASOCK=$T_DIR/activate.sock
	sed "s|^submit_socket = .*|submit_socket = $T_DIR/unused.sock|" \
	    "$CONF" > "$T_DIR/daemon.conf"
	sed "s|^submit_socket = .*|submit_socket = $ASOCK|" \
	    "$CONF" > "$T_DIR/client.conf"
	chmod 644 "$T_DIR/daemon.conf" "$T_DIR/client.conf"
	: > "$T_DIR/relayqd.log"
	systemd-socket-activate -l "$ASOCK" "$RELAYQD" -f -v \
	    -c "$T_DIR/daemon.conf" >>"$T_DIR/relayqd.log" 2>&1 &
	DAEMON_PID=$!
	T_PIDS="$T_PIDS $DAEMON_PID"
	wait_for "the activation socket" 100 test -S "$ASOCK"
	ok $? "systemd-socket-activate listens"
	chmod 666 "$ASOCK"
	! grep -q 'started' "$T_DIR/relayqd.log"
	ok $? "relayqd has not started before the first submission"
	printf 'Subject: sock-activated\n\nbody\n' |
	    setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    --no-new-privs env RELAYQ_CONFIG="$T_DIR/client.conf" \
	    "$SENDMAIL" act@example.net 2>"$T_DIR/act.err"
	ok $? "the first submission exits 0 (relayqd started on demand)"
	grep -q 'submission socket from systemd' "$T_DIR/relayqd.log"
	ok $? "relayqd took the socket systemd passed"
	# SIGHUP does not move a socket systemd passed: a line says so.
	kill -HUP "$DAEMON_PID"
	wait_for "the reload's line" 100 grep -q \
	    "submit_socket = $T_DIR/unused.sock is not used: the submission socket comes from systemd" \
	    "$T_DIR/relayqd.log"
	ok $? "SIGHUP: submit_socket is said to be unused under systemd"
	check_nobody sock-activated "socket activation"
	AID=$(sed -n 's/.* \([0-9A-F]\{20\}\): submitted over the socket.*/\1/p' \
	    "$T_DIR/relayqd.log" | tail -n 1)
	[ -n "$AID" ] && ! grep -q "$AID: accepted" "$T_DIR/relayqd.log"
	ok $? "the submission went straight into queue/ (no pick-up from incoming/)"
	[ ! -e "$T_DIR/unused.sock" ]
	ok $? "relayqd did not bind its own submit_socket"
	stop_daemon
	ok $? "the activated relayqd exits 0"
else
	diag "systemd-socket-activate not installed: activation not tested"
fi
done_testing
