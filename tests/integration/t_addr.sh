#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The smarthost's addresses (issue 15, host): a name is looked up in a
# hosts file and a resolv.conf that the test owns (relayq:hosts_file,
# relayq:resolv_conf, read by evdns itself; never the machine's
# /etc/hosts), and every address it has is tried in the resolver's order,
# both families, with RFC 8305 staggered attempts:
#  - first address refused (127.0.0.2, nothing listens), second works;
#  - first address silent (a listener whose backlog is full: SYNs are
#    dropped), second works: delivered without waiting for connect_timeout;
#  - every address silent: deferred, each one logged;
#  - an IPv4 address refused, then ::1 (a real server on [::1]);
#  - a name served by a DNS server on 127.0.0.1 (A refused, AAAA ::1);
#  - host = ::1 and host = [::1];
#  - bad values: relative paths, an unreadable hosts file (relayqd and
#    relayq check-config), [name], host:port.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
HOSTS=$T_DIR/hosts
RESOLV=$T_DIR/resolv.conf
DNS_PORT=$(free_port)
# Nothing answers there unless the DNS case below starts its server:
# a name missing from the hosts file fails within a second.
printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:1\n' \
    "$DNS_PORT" > "$RESOLV"

# addr_conf HOST [DELIVERY-LINES]: the private config with our resolver.
addr_conf() {
	write_conf "${2:-}" "host = $1"
	sed -i "s|^\[relayq\]\$|[relayq]\nresolv_conf = $RESOLV\nhosts_file = $HOSTS|" "$CONF"
}

logged() { grep -q -- "$1" "$T_DIR/relayqd.log"; }

# deliver_one WHAT HOST: a fresh spool, relayqd, one message; waits until
# the server has it and relayqd has logged it sent (the server stores the
# message before its 250 reaches relayqd, so the log line may come later).
N_SENT=0
deliver_one() {
	rm -rf "$SPOOL"
	: > "$T_DIR/relayqd.log"
	start_daemon
	wait_started
	N_SENT=$((N_SENT + 1))
	printf 'Subject: %s\n\nbody\n' "$1" |
	    "$SENDMAIL" -f sender@example.org "rcpt$N_SENT@example.net"
	wait_for "$1 delivered" 600 has_mail_in "$2" "$N_SENT" &&
	    wait_for "$1 logged" 600 logged "status=sent"
}

# has_mail_in DIR N: DIR holds at least N messages.
has_mail_in() { [ "$(ls "$1" 2>/dev/null | grep -c '\.eml$')" -ge "$2" ]; }

start_server
refused 127.0.0.2 "$PORT"
ok $? "premise: 127.0.0.2:$PORT refuses connections"

# ---- 1. First address refused, second works.
printf '127.0.0.2 refused.test\n127.0.0.1 refused.test\n' > "$HOSTS"
addr_conf refused.test
deliver_one "refused first" "$MAILDIR"
ok $? "first address refused: the message reaches the second one"
logged "connect to refused.test\[127.0.0.2\]:$PORT: Connection refused (address 1 of 2)"
ok $? "the refused address is logged with the reason"
logged "connected to refused.test\[127.0.0.1\]:$PORT (address 2 of 2; 1 failed"
ok $? "the address used is logged"
logged "relay=refused.test\[127.0.0.1\]:$PORT .*status=sent"
ok $? "the delivery line names the address used"
stop_daemon
is $? 0 "relayqd exits 0"

# ---- 1b. Names the resolver cannot look up: a name server that never
# answers, then one that answers NXDOMAIN.  Deferred each time, and the
# log says which (libevent calls the first a "non-recoverable failure").
cat > "$T_DIR/dns1.py" <<'PYEOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").write("up\n")
while True:
    q, peer = s.recvfrom(512)
    if sys.argv[3] == "silent":
        continue
    i = 12
    while q[i]:
        i += 1 + q[i]
    head = struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], 0x8183,
                       1, 0, 0, 0)
    s.sendto(head + q[12:i + 5], peer)
PYEOF
# bad_name MODE NAME: a fresh spool, relayqd with a name server in MODE
# (silent or nx), one message for NAME; waits for its deferral.
bad_name() {
	_dp=$(free_port)
	rm -f "$T_DIR/dns1.ready"
	"$PYTHON3" "$T_DIR/dns1.py" "$_dp" "$T_DIR/dns1.ready" "$1" \
	    >>"$T_DIR/dns1.err" 2>&1 &
	_dpid=$!
	T_PIDS="$T_PIDS $_dpid"
	wait_for "the $1 name server" 100 test -s "$T_DIR/dns1.ready"
	printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:1\n' \
	    "$_dp" > "$T_DIR/resolv1.conf"
	: > "$HOSTS"
	addr_conf "$2"
	sed -i "s|^resolv_conf = .*|resolv_conf = $T_DIR/resolv1.conf|" "$CONF"
	rm -rf "$SPOOL"
	: > "$T_DIR/relayqd.log"
	start_daemon
	wait_started
	printf 'Subject: %s\n\nbody\n' "$2" |
	    "$SENDMAIL" -f sender@example.org "rcpt-$1@example.net"
	wait_for "the deferral" 300 logged "status=deferred"
	_rc=$?
	stop_daemon
	kill "$_dpid" 2>/dev/null
	wait "$_dpid" 2>/dev/null
	return $_rc
}
bad_name silent silent.test
ok $? "a name server that never answers: the message is deferred"
logged "cannot resolve silent.test: no answer from the name servers (timed out, refused or failed)"
ok $? "logged: no answer from the name servers"
! logged "on-recoverable"
ok $? "not called a non-recoverable failure"
bad_name nx nx.test
ok $? "a name the name server does not know (NXDOMAIN): deferred"
logged "cannot resolve nx.test: no such name"
ok $? "logged: no such name"

# ---- 2. First address silent (blackhole), second works.
start_blackhole "$PORT" 127.0.0.3 127.0.0.4
is_silent 127.0.0.3 "$PORT"
ok $? "premise: a connect to 127.0.0.3:$PORT gets no answer"

printf '127.0.0.3 hole.test\n127.0.0.1 hole.test\n' > "$HOSTS"
# A long connect timeout: the second address must not wait for it.
addr_conf hole.test "connect_timeout = 1h"
deliver_one "silent first" "$MAILDIR"
ok $? "first address silent: the message reaches the second one"
logged "connect to hole.test\[127.0.0.3\]:$PORT: no answer yet after 250 ms; trying the next address too"
ok $? "the silent address is logged; the next one is tried in parallel (RFC 8305)"
logged "connected to hole.test\[127.0.0.1\]:$PORT (address 2 of 2; 0 failed, 1 abandoned)"
ok $? "the address used is logged, the silent attempt abandoned"
! logged "timed out"
ok $? "no connect timeout was waited for"
stop_daemon
is $? 0 "relayqd exits 0"

# ---- 3. Every address silent: each times out, the message is deferred.
printf '127.0.0.3 holes.test\n127.0.0.4 holes.test\n' > "$HOSTS"
addr_conf holes.test "connect_timeout = 2s"
rm -rf "$SPOOL"
: > "$T_DIR/relayqd.log"
start_daemon
wait_started
printf 'Subject: all silent\n\nbody\n' |
    "$SENDMAIL" -f sender@example.org silent@example.net
wait_for "deferral" 600 logged "status=deferred (connect to holes.test\[127.0.0.4\]:$PORT: timed out (all 2 addresses failed))"
ok $? "all addresses silent: deferred, the reason names the last one and the count"
logged "connect to holes.test\[127.0.0.3\]:$PORT: timed out (address 1 of 2)" &&
    logged "connect to holes.test\[127.0.0.4\]:$PORT: timed out (address 2 of 2)"
ok $? "each silent address is logged as timed out"
stop_daemon
is $? 0 "relayqd exits 0"
kill "$HOLE_PID" 2>/dev/null
wait "$HOLE_PID" 2>/dev/null

# ---- 4. Bad values: clear errors at start, naming the key.
bad() { # bad WHAT EXPECTED-MESSAGE
	rm -rf "$SPOOL"
	timeout 60 "$RELAYQD" -f -c "$CONF" >"$T_DIR/bad.out" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q -- "$2" "$T_DIR/bad.out"
	ok $? "$1: relayqd refuses to start ($(head -n 1 "$T_DIR/bad.out"))"
}
addr_conf ::1
sed -i "s|^hosts_file = .*|hosts_file = $T_DIR/no-such-hosts|" "$CONF"
bad "an unreadable hosts_file" "relayq:hosts_file: cannot read $T_DIR/no-such-hosts"
mkdir -p "$SPOOL"
"$RELAYQ" -c "$CONF" check-config >/dev/null 2>"$T_DIR/check.err"
is "$?:$(grep -c "relayq:hosts_file $T_DIR/no-such-hosts: No such file or directory" "$T_DIR/check.err")" \
    "78:1" "relayq check-config reports the unreadable hosts_file (exit 78)"
sed -i "s|^hosts_file = .*|hosts_file = hosts|" "$CONF"
bad "a relative hosts_file" "relayq:hosts_file must be an absolute path"
addr_conf ::1
sed -i "s|^resolv_conf = .*|resolv_conf = $T_DIR/no-such-resolv.conf|" "$CONF"
bad "an unreadable resolv_conf" "relayq:resolv_conf: cannot read $T_DIR/no-such-resolv.conf"
addr_conf '[relay.test]'
bad "host = [relay.test]" "smarthost:host: \[relay.test\]: \[ \] may only enclose an IP address"
addr_conf '127.0.0.1:25'
bad "host = 127.0.0.1:25" "smarthost:host: 127.0.0.1:25: neither a name nor an IP address"
addr_conf '[::1'
bad "host = [::1" "smarthost:host: \[::1: unbalanced"

# ---- 5. IPv6: a real server on [::1].
if "$PYTHON3" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	HAVE_V6=1
else
	HAVE_V6=""
fi
skip() { T_N=$((T_N + 1)); echo "ok $T_N # SKIP $1"; }
V6_CASES="refused-then-v6 dns v6-literal v6-bracket"
if [ -z "$HAVE_V6" ]; then
	for t in $V6_CASES; do skip "$t: no ::1 on this machine"; done
	done_testing
fi
PORT6=$("$PYTHON3" -c 'import socket
s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])')
MAIL6=$T_DIR/mail6
"$PYTHON3" "$top_srcdir/tests/integration/smtpserver.py" --host ::1 \
    --port "$PORT6" --maildir "$MAIL6" --pidfile "$T_DIR/server6.pid" \
    >>"$T_DIR/server6.log" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "server on ::1" 100 test -s "$T_DIR/server6.pid"
refused 127.0.0.2 "$PORT6"
ok $? "premise: 127.0.0.2:$PORT6 refuses connections"

PORT=$PORT6
printf '127.0.0.2 mixed.test\n::1 mixed.test\n' > "$HOSTS"
addr_conf mixed.test
N_SENT=0
deliver_one "v4 refused, v6 works" "$MAIL6"
ok $? "an IPv4 address refused, then ::1: delivered over IPv6"
logged "connect to mixed.test\[127.0.0.2\]:$PORT6: Connection refused (address 1 of 2)" &&
    logged "relay=mixed.test\[::1\]:$PORT6 .*status=sent"
ok $? "logged: the IPv4 failure, then relay=mixed.test[::1]"
stop_daemon
is $? 0 "relayqd exits 0"

# ---- 6. The same through DNS (resolv_conf): A 127.0.0.2, AAAA ::1.
"$PYTHON3" -c 'import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").write("up\n")
log = open(sys.argv[3], "a")
while True:
    q, peer = s.recvfrom(512)
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode()); i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    name = ".".join(labels).lower()
    log.write("%s %d\n" % (name, qtype)); log.flush()
    ans = b""
    if name == "dns.test" and qtype == 1:
        ans = socket.inet_pton(socket.AF_INET, "127.0.0.2")
    elif name == "dns.test" and qtype == 28:
        ans = socket.inet_pton(socket.AF_INET6, "::1")
    rcode = 0 if name == "dns.test" else 3
    head = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 1 if ans else 0, 0, 0)
    rr = (struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(ans)) + ans) if ans else b""
    s.sendto(head + question + rr, peer)' "$DNS_PORT" "$T_DIR/dns.ready" \
    "$T_DIR/dns.log" >>"$T_DIR/dns.err" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "DNS server" 100 test -s "$T_DIR/dns.ready"
: > "$HOSTS"
addr_conf dns.test
deliver_one "through DNS" "$MAIL6"
ok $? "a name from the resolv.conf's DNS server: A refused, then AAAA ::1 used"
logged "connect to dns.test\[127.0.0.2\]:$PORT6: Connection refused (address 1 of 2)" &&
    logged "relay=dns.test\[::1\]:$PORT6 .*status=sent"
ok $? "the resolver's order: A first, then AAAA; both logged"
grep -q '^dns.test 28$' "$T_DIR/dns.log" && grep -q '^dns.test 1$' "$T_DIR/dns.log"
ok $? "relayqd asked the test's DNS server for A and AAAA"
stop_daemon
is $? 0 "relayqd exits 0"

# ---- 7. IPv6 literals.
for h in ::1 '[::1]'; do
	: > "$HOSTS"
	addr_conf "$h"
	deliver_one "literal $h" "$MAIL6"
	ok $? "host = $h: delivered to the server on [::1]"
	logged "relay=::1\[::1\]:$PORT6 .*status=sent"
	ok $? "host = $h: relay=::1[::1]:$PORT6"
	stop_daemon
	is $? 0 "relayqd exits 0"
done

done_testing
