#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Interoperability with a full MTA: relayqd delivers through Postfix run
# from a private configuration (config, queue, data, log and mailboxes all
# under the test directory) on two loopback ports: submission with
# STARTTLS required and SMTPS (implicit TLS), both with the test CA's
# certificate and Cyrus SASL AUTH from a private sasldb (PLAIN, LOGIN,
# CRAM-MD5, SCRAM-SHA-256).  Checks each mechanism, that auth = auto picks
# SCRAM-SHA-256, that the message arrives intact in the private maildir,
# and that a wrong password is deferred.
#
# No mail can leave the machine: Postfix listens on 127.0.0.1 only, has no
# smtp client service in its master.cf, delivers only the virtual domain
# example.net (to one private maildir), and sends everything else,
# bounces included, to the error transport.  No system Postfix is used or
# needed; the packaged instance is never started (contrib/install-deps.sh).
# Postfix missing is a failure, not a skip: CI installs it.
#
# (OpenSMTPD was the first choice, but Debian 12's 6.8.0p2 cannot do TLS
# as a server with OpenSSL 3: its privilege-separated key engine fails
# every handshake with "EVP lib" / "missing private key", OpenSMTPD
# issues #1171 and #1239.)
. "$top_srcdir/tests/integration/lib.sh"

POSTCONF=$(command -v postconf || echo /usr/sbin/postconf)
DAEMON_DIR=$("$POSTCONF" -h daemon_directory 2>/dev/null)
POSTFIX=$(command -v postfix || echo /usr/sbin/postfix)
SASLPASSWD=$(command -v saslpasswd2 || echo /usr/sbin/saslpasswd2)
if [ -z "$DAEMON_DIR" ] || [ ! -x "$DAEMON_DIR/master" ] ||
    [ ! -x "$POSTFIX" ] || [ ! -x "$SASLPASSWD" ]; then
	echo "Bail out! Postfix or saslpasswd2 missing: run contrib/install-deps.sh (packages postfix, sasl2-bin)"
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "Bail out! the Postfix interop test needs root (Postfix's master runs as root)"
	exit 1
fi
diag "server: Postfix $("$POSTCONF" -h mail_version)" \
    "with Cyrus SASL $(dpkg-query -W -f='${Version}' libsasl2-2 2>/dev/null)"

make_pki || { echo "Bail out! cannot make the test certificates"; exit 1; }
PORT=$(free_port)
SMTPS_PORT=$(free_port)
AUSER=relayuser
REALM=relayq.test
PASS='Zq7 rel4yq-s3cret!'
printf '%s\n' "$PASS" > "$T_DIR/secret"
printf 'not the password\n' > "$T_DIR/wrong"
chmod 600 "$T_DIR/secret" "$T_DIR/wrong"

# ---- the private Postfix ----
PF=$T_DIR/postfix
PFLOG=$PF/maillog
INBOX=$PF/vmail/inbox
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
mkdir -p "$PF/etc/sasl" "$PF/queue" "$PF/vmail" || exit 1
# Postfix's unprivileged processes (sasldb, delivery as nobody) must
# traverse the test directory; nothing in it can be listed.
chmod 711 "$T_DIR" "$PF"
chmod 755 "$PF/queue"
chown "$NOBODY:$NOGROUP" "$PF/vmail"
printf '%s' "$PASS" |
    "$SASLPASSWD" -p -c -f "$PF/sasldb2" -u "$REALM" "$AUSER" || {
	echo "Bail out! saslpasswd2 failed"; exit 1; }
chown root:postfix "$PF/sasldb2" && chmod 640 "$PF/sasldb2"

# Debian's Postfix looks for the Cyrus application file in
# $config_directory/sasl.
cat > "$PF/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $PF/sasldb2
mech_list: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256
EOF

cat > "$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PFLOG
maillog_file_prefixes = $PF
myhostname = localhost
mydomain = $REALM
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
default_transport = error:interop test: no mail leaves this machine
relay_transport = error:interop test: no mail leaves this machine
local_transport = error:interop test: no local delivery
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
virtual_mailbox_domains = example.net
virtual_mailbox_base = $PF/vmail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:$NOBODY
virtual_gid_maps = static:$NOGROUP
virtual_minimum_uid = 1000
smtpd_tls_cert_file = $PKI/good.crt
smtpd_tls_key_file = $PKI/good.key
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $PF/etc/sasl
smtpd_sasl_local_domain = $REALM
smtpd_client_restrictions =
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
EOF

cat > "$PF/etc/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - - smtpd
127.0.0.1:$SMTPS_PORT inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
	"$PYTHON3" -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1"
}

# "postfix check" creates the queue directories with their owners.
"$POSTFIX" -c "$PF/etc" check >"$T_DIR/postfix-check.out" 2>&1
ok $? "postfix check accepts the private configuration"
"$DAEMON_DIR/master" -c "$PF/etc" -s >"$PF/master.out" 2>&1 &
PF_PID=$!
T_PIDS="$T_PIDS $PF_PID"
wait_for "Postfix submission port" 100 port_open "$PORT" &&
    wait_for "Postfix SMTPS port" 100 port_open "$SMTPS_PORT"
rc=$?
ok $rc "private Postfix listens on 127.0.0.1:$PORT and :$SMTPS_PORT"
if [ $rc -ne 0 ]; then
	cat "$T_DIR/postfix-check.out" "$PF/master.out" "$PFLOG" 2>/dev/null |
	    sed 's/^/#   /'
	echo "Bail out! the private Postfix did not start"
	exit 1
fi

# ---- relayqd through it ----
CASE=0

# new_case: fresh spool and relayqd log; remembers where Postfix's log
# and the inbox stand.
new_case() {
	CASE=$((CASE + 1))
	rm -rf "$SPOOL"
	: > "$T_DIR/relayqd.log"
	PFLINE=$(($(wc -l < "$PFLOG") + 1))
	NMAIL=$(inbox_count)
}

inbox_count() { find "$INBOX/new" -type f 2>/dev/null | wc -l; }
inbox_has() { [ "$(inbox_count)" -ge "$1" ]; }
pflog_case() { tail -n "+$PFLINE" "$PFLOG"; }

# send: queues one message with a dot line to example.net.
send() {
	printf 'Subject: interop case %d\n\n.leading dot\nbody %d\n' \
	    "$CASE" "$CASE" | "$SENDMAIL" -i -f sender@example.org \
	    "user$CASE@example.net"
}

# run_case DESC SMARTHOST-LINES: relayqd with this [smarthost] and sends.
run_case() {
	new_case
	write_conf "" "host = localhost
ca_file = $PKI/ca.crt
username = $AUSER
$2"
	start_daemon -T smtp
	send
}

# delivered DESC MECH: arrived intact in the maildir after AUTH MECH.
delivered() {
	wait_for "$1" 150 inbox_has $((NMAIL + 1))
	ok $? "$1: delivered into Postfix's maildir"
	f=$(grep -l "^Subject: interop case $CASE\$" "$INBOX"/new/* 2>/dev/null |
	    head -n 1)
	[ -n "$f" ] && grep -q '^\.leading dot$' "$f" &&
	    grep -q "^body $CASE\$" "$f" &&
	    grep -q "^Delivered-To: user$CASE@example.net\$" "$f"
	ok $? "$1: the message arrived intact (dot line, body, recipient)"
	pflog_case | grep -q \
	    "sasl_method=$2, sasl_username=$AUSER@$REALM"
	ok $? "$1: Postfix logged sasl_method=$2 for $AUSER"
	grep -q 'status=sent' "$T_DIR/relayqd.log" &&
	    grep -Eq 'tls=TLSv1\.[23] ' "$T_DIR/relayqd.log"
	ok $? "$1: relayqd logged status=sent over TLS"
	wait_for "$1: empty queue" 50 queue_empty
	ok $? "$1: relayqd's queue is empty"
	stop_relayqd "$1"
}

# stop_relayqd DESC: relayqd must exit 0 and log no sanitizer report.
stop_relayqd() {
	stop_daemon >/dev/null
	is "$?" 0 "$1: relayqd stopped cleanly"
	! grep -Eq 'Sanitizer|runtime error' "$T_DIR/relayqd.log"
	ok $? "$1: no sanitizer report"
}

run_case "auth = auto" "port = $PORT
tls = starttls
password_file = $T_DIR/secret"
delivered "STARTTLS, auth = auto picks SCRAM-SHA-256" SCRAM-SHA-256

for m in plain login cram-md5; do
	run_case "auth = $m" "port = $PORT
tls = starttls
auth = $m
password_file = $T_DIR/secret"
	delivered "STARTTLS, auth = $m" "$(echo $m | tr "[:lower:]" "[:upper:]")"
done

run_case "SMTPS" "port = $SMTPS_PORT
tls = implicit
auth = plain
password_file = $T_DIR/secret"
delivered "implicit TLS (SMTPS), auth = plain" PLAIN

run_case "wrong password" "port = $PORT
tls = starttls
auth = plain
password_file = $T_DIR/wrong"
wait_for "deferral" 100 grep -q 'status=deferred' "$T_DIR/relayqd.log"
ok $? "wrong password: deferred"
grep 'status=deferred' "$T_DIR/relayqd.log" | head -n 1 | grep -q '535'
ok $? "wrong password: the reason is Postfix's 535"
wait_for "the state saved" 100 state_saved
"$RELAYQ" queue | grep -q '535'
ok $? "wrong password: relayq queue shows the 535"
[ "$(queue_files)" -gt 0 ]
ok $? "wrong password: the message is still queued"
pflog_case | grep -q 'SASL PLAIN authentication failed'
ok $? "wrong password: Postfix logged the failed AUTH"
is "$(inbox_count)" "$NMAIL" "wrong password: nothing delivered"
stop_relayqd "wrong password"

# Nothing was handed to a transport that could leave the machine.
! grep -Eq 'postfix/(smtp|lmtp)\[' "$PFLOG"
ok $? "Postfix never ran an SMTP or LMTP client"

# pf_procs: processes of the private Postfix (they work in its queue).
pf_procs() {
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/cwd" 2>/dev/null)" = "$PF/queue" ] &&
		    echo "${d#/proc/}"
	done
}
no_pf_procs() { [ -z "$(pf_procs)" ]; }
kill -TERM "$PF_PID" 2>/dev/null
wait "$PF_PID" 2>/dev/null
wait_for "Postfix to stop" 100 no_pf_procs
ok $? "private Postfix stopped, with all its processes"
done_testing
