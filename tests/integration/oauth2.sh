# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# OAuth2 test helpers (issue 14), sourced after lib.sh by
# tests/integration/t_oauth2.sh and tests/reliability/r10_oauth2_kill.sh:
# a test CA, the fake provider (fakeoauth2.py) on $OPORT, a config whose
# smarthost takes its XOAUTH2 token from it, and checks on its state.

make_pki || { echo "Bail out! cannot make the test certificates"; exit 1; }
PORT=$(free_port)
OPORT=$(free_port)
AUSER=mailbox@example.org
OSTATE=$T_DIR/oauth2.state
OCTL=$T_DIR/oauth2.control
OLOG=$T_DIR/oauth2.log
RTFILE=$T_DIR/oauth2/refresh
SECRET='cs-relayq-secret-7f3e'
LIFETIME=${OAUTH2_LIFETIME:-6}
mkdir -p "$T_DIR/oauth2" && chmod 700 "$T_DIR/oauth2"
printf '%s\n' "$SECRET" > "$T_DIR/client.secret"
chmod 600 "$T_DIR/client.secret"
: > "$OCTL"

# start_oauth2 [ARGS...]: the fake provider on $OPORT, with the
# certificate $OCERT (default good: localhost, 127.0.0.1).
start_oauth2() {
	rm -f "$T_DIR/oauth2.pid"
	"$PYTHON3" "$top_srcdir/tests/integration/fakeoauth2.py" \
	    --port "$OPORT" --cert "$PKI/${OCERT:-good}.crt" \
	    --key "$PKI/${OCERT:-good}.key" \
	    --state "$OSTATE" --control "$OCTL" --log "$OLOG" \
	    --client-secret "$SECRET" --lifetime "$LIFETIME" --slow 8 \
	    --pidfile "$T_DIR/oauth2.pid" "$@" >>"$T_DIR/oauth2.err" 2>&1 &
	OAUTH2_PID=$!
	T_PIDS="$T_PIDS $OAUTH2_PID"
	wait_for "the fake OAuth2 provider" 100 test -s "$T_DIR/oauth2.pid"
}

stop_oauth2() {
	kill "$OAUTH2_PID" 2>/dev/null
	wait "$OAUTH2_PID" 2>/dev/null
}

# ostate KEY: a value from the fake's state file.
ostate() {
	"$PYTHON3" -c 'import json, sys
print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$OSTATE" "$1"
}

# oauth_conf [SMARTHOST-LINES [DELIVERY-LINES]]
oauth_conf() {
	write_conf "retry_min = 1s
retry_max = 1s
probe_max = 1s
connect_timeout = 5s
alert_command = $T_DIR/alert.sh
alert_after = 1h
${2:-}" "tls = starttls
ca_file = $PKI/ca.crt
username = $AUSER
auth = xoauth2
oauth2_token_url = https://127.0.0.1:$OPORT/token
oauth2_client_id = relayq-test
oauth2_client_secret_file = $T_DIR/client.secret
oauth2_refresh_token_file = $RTFILE
oauth2_scope = ${OSCOPE:-https://outlook.office.com/SMTP.Send offline_access}
oauth2_ca_file = $PKI/ca.crt
${1:-}"
}
cat > "$T_DIR/alert.sh" <<EOS
#!/bin/sh
echo "\$RELAYQ_ALERT \$RELAYQ_LAST_ERROR" >> "$T_DIR/alerts"
EOS
chmod 755 "$T_DIR/alert.sh"

# send N [TAG]: queues N messages.
send() {
	_i=0
	while [ $_i -lt "$1" ]; do
		printf 'Subject: oauth2 %s %d\n\nbody %d\n' "${2:-m}" $_i $_i |
		    "$SENDMAIL" -C "$CONF" -f sender@example.org \
		    rcpt@example.net || return 1
		_i=$((_i + 1))
	done
}

# log_has PATTERN: relayqd's log has a line matching PATTERN (grep -E).
log_has() { grep -Eq "$1" "$T_DIR/relayqd.log"; }

# rt_is_valid: the refresh token file holds a token the fake accepts now
# (with --strict: one not used yet).
rt_is_valid() {
	"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read().strip()
sys.exit(0 if d["refresh"].get(t, -1) >= d["last_used"] and
         t not in d.get("spent", []) else 1)' \
	    "$OSTATE" "$RTFILE"
}

# queued_ids: ids of the queued messages, one a line.
queued_ids() {
	ls "$SPOOL/queue" 2>/dev/null
}

# restart_daemon [ARGS]: stops relayqd (exit 0 expected) and starts it
# again, with an empty token cache.
restart_daemon() {
	stop_daemon
	ok $? "relayqd exits 0 when stopped"
	start_daemon "$@"
	wait_started
}

