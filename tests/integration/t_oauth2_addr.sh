#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The OAuth2 token endpoint's addresses (issue 14): relayqd tries every
# address its host name has, in the resolver's order, as it does for the
# smarthost (t_addr.sh).  The name is looked up in a hosts file the test
# owns (relayq:hosts_file, relayq:resolv_conf; never the machine's
# /etc/hosts).  The fake provider (fakeoauth2.py) listens on 127.0.0.1
# only, with a certificate for wrong.example alone (no IP address), so a
# token fetched proves the name was verified, whatever address was used:
#  - first address refused (127.0.0.2), second the provider: mail goes
#    out, the refused address is logged, SNI names the host;
#  - first address silent (a full listen queue), second the provider:
#    the silent one gets its share of the timeout only;
#  - every address bad (refused, then a certificate for another name):
#    each failure logged, "all 2 addresses failed", mail kept queued.
#  - every address silent: the fetch ends at the timeout (connect_timeout,
#    16 s here), each address logged, mail kept queued.
#  - an IPv6 literal URL (https://[::1]:PORT/): the address is used
#    without its brackets (nothing listens there: refused, not "cannot
#    resolve");
#  - the first address completes its TLS handshake, then its reply is
#    refused (too large): the request went out and may have used the
#    refresh token, so the second address is never tried with it.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/oauth2.sh"

HOSTS=$T_DIR/hosts
RESOLV=$T_DIR/resolv.conf
# No nameserver answers: only the hosts file resolves.
printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:1\n' \
    "$(free_port)" > "$RESOLV"
SNI=$T_DIR/sni.log

# addr_conf HOST: the OAuth2 config with the token URL on HOST and our
# resolver files.  The token request may take $OTIMEOUT seconds: with a
# silent first address the second still has half of it, plenty for a
# loaded machine.
OTIMEOUT=16
addr_conf() {
	oauth_conf "oauth2_token_url = https://$1:$OPORT/token" \
	    "connect_timeout = ${OTIMEOUT}s"
	sed -i "s|^\[relayq\]\$|[relayq]\nresolv_conf = $RESOLV\nhosts_file = $HOSTS|" "$CONF"
}

printf 'rt-initial\n' > "$RTFILE"
chmod 600 "$RTFILE"
OCERT=wrong start_oauth2 --lifetime 3600 --sni-log "$SNI"
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" \
    --xoauth2 "$AUSER:" --oauth2-state "$OSTATE"
refused 127.0.0.2 "$OPORT"
ok $? "premise: 127.0.0.2:$OPORT refuses connections"

# ---- 1. First address refused, second the provider.
printf '127.0.0.2 wrong.example\n127.0.0.1 wrong.example\n' > "$HOSTS"
addr_conf wrong.example
start_daemon
wait_started
send 1 refused
wait_for "the message delivered" 600 has_mail 1
ok $? "first address refused: a token from the second, the message delivered"
is "$(ostate grants)" 1 "one grant"
log_has "OAuth2 token endpoint https://wrong\.example:$OPORT/token \[127\.0\.0\.2\]: .*connection refused \(address 1 of 2\)"
ok $? "the refused address is logged with the reason"
log_has "OAuth2 token endpoint https://wrong\.example:$OPORT/token: answered from 127\.0\.0\.1 \(address 2 of 2\)"
ok $? "the address that answered is logged"
is "$(sort -u "$SNI")" "wrong.example" "SNI names the URL's host, not the address"
stop_daemon
ok $? "relayqd exits 0"

# ---- 2. First address silent, second the provider.
start_blackhole "$OPORT" 127.0.0.3
is_silent 127.0.0.3 "$OPORT"
ok $? "premise: a connect to 127.0.0.3:$OPORT gets no answer"
printf '127.0.0.3 wrong.example\n127.0.0.1 wrong.example\n' > "$HOSTS"
# A fresh token: restart with an empty cache.
start_daemon
wait_started
n=$(count_mail)
send 1 silent
wait_for "the message delivered" 600 has_mail $((n + 1))
ok $? "first address silent: a token from the second, the message delivered"
log_has "OAuth2 token endpoint https://wrong\.example:$OPORT/token \[127\.0\.0\.3\]: no TLS connection within its share of the time \(address 1 of 2\)"
ok $? "the silent address is given up after its share of the timeout, and logged"
! log_has "within ${OTIMEOUT}s"
ok $? "the whole timeout was not spent on it"
is "$(ostate grants)" 2 "one more grant"
stop_daemon
ok $? "relayqd exits 0"

# ---- 3. Every address bad: refused, then a certificate for wrong.example
# where the URL says localhost.
printf '127.0.0.2 localhost\n127.0.0.1 localhost\n' > "$HOSTS"
addr_conf localhost
: > "$T_DIR/relayqd.log"
start_daemon
wait_started
n=$(count_mail)
send 1 allbad
wait_for "the fetch to fail" 600 log_has \
    "OAuth2 token endpoint unavailable: token endpoint https://localhost:$OPORT/token \[127\.0\.0\.1\]: .*certificate verify failed.* \(all 2 addresses failed\)"
ok $? "the second address's certificate is refused for the name; all addresses failed"
log_has "OAuth2 token endpoint https://localhost:$OPORT/token \[127\.0\.0\.2\]: .*connection refused \(address 1 of 2\)"
ok $? "the first address's failure is logged too"
is "$(count_mail)" "$n" "nothing delivered"
is "$(queued_ids | wc -l)" 1 "the message stays queued"
is "$(ostate grants)" 2 "no grant"
stop_daemon
ok $? "relayqd exits 0"

# ---- 4. Every address silent: bounded by the timeout.
start_blackhole "$OPORT" 127.0.0.4
printf '127.0.0.3 wrong.example\n127.0.0.4 wrong.example\n' > "$HOSTS"
addr_conf wrong.example
: > "$T_DIR/relayqd.log"
start_daemon
wait_started
send 1 silent2
wait_for "the fetch to end" 600 log_has \
    "OAuth2 token endpoint unavailable: token endpoint https://wrong\.example:$OPORT/token \[127\.0\.0\.4\]: no TLS connection within ${OTIMEOUT}s \(2 addresses tried\)"
ok $? "every address silent: the fetch ends at the timeout, both tried"
log_has "OAuth2 token endpoint https://wrong\.example:$OPORT/token \[127\.0\.0\.3\]: no TLS connection within its share of the time \(address 1 of 2\)"
ok $? "the first silent address is logged after its share"
is "$(queued_ids | wc -l)" 2 "the messages stay queued"
is "$(ostate grants)" 2 "no grant"
stop_daemon
ok $? "relayqd exits 0"

# ---- 5. A failure after the handshake ends the fetch: no second address.
# The provider answers with a body over the 64 KiB limit: evhttp gives
# up on the connection after the request went out.
printf '127.0.0.1 wrong.example\n127.0.0.2 wrong.example\n' > "$HOSTS"
echo oversize > "$OCTL"
: > "$T_DIR/relayqd.log"
start_daemon
wait_started
wait_for "the oversized reply to be refused" 600 log_has \
    "OAuth2 token .*https://wrong\.example:$OPORT/token.*: reply too large"
ok $? "the first address completed TLS, then its reply was refused"
grep -q "result=oversize" "$OLOG"
ok $? "the provider got the request"
! log_has "127\.0\.0\.2"
ok $? "the second address is not tried after a handshake (the request went out)"
stop_daemon
ok $? "relayqd exits 0"
: > "$OCTL"

# ---- 6. An IPv6 literal in the URL.
refused ::1 "$OPORT"
ok $? "premise: [::1]:$OPORT refuses connections"
addr_conf "[::1]"
: > "$T_DIR/relayqd.log"
start_daemon
wait_started
wait_for "the fetch to fail" 600 log_has \
    "OAuth2 token endpoint unavailable: token endpoint https://\[::1\]:$OPORT/token: connection refused"
ok $? "https://[::1]:PORT/: ::1 is connected to (refused), not looked up with its brackets"
stop_daemon
ok $? "relayqd exits 0"

done_testing
