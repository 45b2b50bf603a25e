#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The network-up hooks in contrib/ (issue 6, the laptop case): each one,
# run with the arguments and environment its dispatcher passes, makes
# relayqd retry a message that was held back while the smarthost was
# down, long before the retry timer (retry_min = 1h here) would; the
# events that do not mean "network up" flush nothing; and with relayqd
# not running each hook exits 0, silently.
#   NetworkManager:      90-relayq IFACE up | connectivity-change
#                        (CONNECTIVITY_STATE=FULL)
#   networkd-dispatcher: routable.d/relayq, IFACE and STATE=routable
#   ifupdown:            if-up.d/relayq, IFACE, MODE=start, PHASE=post-up
. "$top_srcdir/tests/integration/lib.sh"

NM=$top_srcdir/contrib/networkmanager/90-relayq
ND=$top_srcdir/contrib/networkd-dispatcher/routable.d/relayq
IU=$top_srcdir/contrib/ifupdown/if-up.d/relayq
# The hooks find relayq on PATH and the config in $RELAYQ_CONFIG.  The
# relayq they find records each call in $CALLS, then runs the real one:
# whether a hook asked for a flush is read there, not guessed from time.
CALLS=$T_DIR/relayq.calls
mkdir -p "$T_DIR/bin"
cat > "$T_DIR/bin/relayq" <<EOF
#!/bin/sh
echo "\$*" >> "$CALLS"
exec "$RELAYQ" "\$@"
EOF
chmod 755 "$T_DIR/bin/relayq"
PATH=$T_DIR/bin:$PATH
export PATH
ncalls() { grep -c . "$CALLS" 2>/dev/null; }

PORT=$(free_port)
write_conf "retry_min = 1h
retry_max = 1h
probe_max = 1h"
sed -i 's/^scan_interval = .*/scan_interval = 1h/' "$CONF"

unavailable() {
	grep -c 'unavailable' "$T_DIR/relayqd.log" 2>/dev/null
}
more_unavailable() { [ "$(unavailable)" -gt "$1" ]; }

# held SUBJECT: submits a message while the smarthost is down and waits
# until relayqd has tried and deferred it.
held() {
	n=$(unavailable)
	printf 'Subject: %s\n\nheld back\n' "$1" |
	    "$SENDMAIL" -i -f sender@example.org to@example.net
	wait_for "relayqd to defer '$1'" 100 more_unavailable "$n"
}

# up: the smarthost comes back (a new server, with its own maildir).
up() {
	SERVERS=$((SERVERS + 1))
	MAILDIR=$T_DIR/mail.$SERVERS
	start_server
}

# no_flush_by DESCRIPTION HOOK-COMMAND...: the event must not flush.
no_flush_by() {
	_d=$1; shift
	_c=$(ncalls)
	"$@"
	ok $? "$_d: exits 0"
	is "$(ncalls)" "$_c" "$_d: does not run relayq"
	is "$(count_mail)" 0 "$_d: flushes nothing"
}

# flush_by DESCRIPTION HOOK-COMMAND...: the held message goes out.
flush_by() {
	_d=$1; shift
	sleep 1.1 # relayqd takes at most one flush a second
	_c=$(ncalls)
	"$@"
	ok $? "$_d: exits 0"
	is "$(tail -n +$((_c + 1)) "$CALLS" 2>/dev/null)" "flush" \
	    "$_d: runs relayq flush"
	wait_for "delivery after $_d" 100 has_mail 1
	ok $? "$_d: the held message is delivered at once"
	stop_server
}

SERVERS=0
start_daemon
wait_for "relayqd's wake FIFO" 100 test -p "$SPOOL/wake"

# ---- NetworkManager
held "nm"
ok $? "nm: message deferred while the smarthost is down"
up
no_flush_by "NetworkManager wlan0 down" "$NM" wlan0 down
no_flush_by "NetworkManager connectivity-change LIMITED" \
    env CONNECTIVITY_STATE=LIMITED "$NM" wlan0 connectivity-change
flush_by "NetworkManager wlan0 up" "$NM" wlan0 up
held "nm2"
up
flush_by "NetworkManager connectivity-change FULL" \
    env CONNECTIVITY_STATE=FULL "$NM" wlan0 connectivity-change

# ---- networkd-dispatcher
held "networkd"
ok $? "networkd: message deferred while the smarthost is down"
up
no_flush_by "networkd-dispatcher STATE=degraded" \
    env IFACE=eth0 STATE=degraded "$ND"
flush_by "networkd-dispatcher routable" env IFACE=eth0 STATE=routable "$ND"

# ---- ifupdown
held "ifupdown"
ok $? "ifupdown: message deferred while the smarthost is down"
up
no_flush_by "ifupdown lo" env IFACE=lo MODE=start PHASE=post-up \
    ADDRFAM=inet "$IU"
flush_by "ifupdown eth0 up" env IFACE=eth0 MODE=start PHASE=post-up \
    ADDRFAM=inet "$IU"

stop_daemon
ok $? "relayqd exits 0"

# ---- relayqd not running: each hook exits 0 without a word.
for h in "$NM eth0 up" "$ND" "$IU"; do
	# shellcheck disable=SC2086
	out=$(IFACE=eth0 STATE=routable MODE=start timeout 20 $h 2>&1)
	ok $? "relayqd stopped: $(basename "$(dirname "${h%% *}")") hook exits 0"
	is "$out" "" "relayqd stopped: it prints nothing"
done
# The flush it runs does fail there (so the hooks do hide a failure).
"$RELAYQ" flush >/dev/null 2>&1
[ $? -ne 0 ]
ok $? "relayq flush itself fails when relayqd is not running"
# No relayq on PATH at all (package removed, hook left as a conffile).
out=$(PATH=/nonexistent "$NM" eth0 up 2>&1)
ok $? "no relayq installed: the hook exits 0"
is "$out" "" "no relayq installed: it prints nothing"
done_testing
