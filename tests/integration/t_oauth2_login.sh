#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# relayq oauth2 login (issue 14) against the fake provider (fakeoauth2.py):
#  - the device grant: the URI and user code printed, authorization_pending
#    polled through, approval; the file written 0600 with the current
#    refresh token, and relayqd delivers with it (aiosmtpd, XOAUTH2);
#  - slow_down makes the polls 5 s further apart (the fake logs a poll
#    sooner than its interval as too_fast); access_denied, expired_token
#    and a code that outlives expires_in end with their own message and
#    exit code, the file untouched;
#  - --browser: the authorization URL (PKCE S256, loopback redirect) is
#    fetched by this test acting as the browser; a redirect with another
#    state is refused and the login goes on; the code is exchanged with
#    the verifier (the fake checks it) once; a declined sign-in exits 77;
#  - run as root, the file is owned by the spool's owner (relayqd's user);
#  - no token, code or secret in the output.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/oauth2.sh"

oauth_conf "oauth2_device_url = https://127.0.0.1:$OPORT/device
oauth2_auth_url = https://127.0.0.1:$OPORT/authorize"
start_oauth2 --device-polls 1000000

# login_bg NAME [ARGS]: relayq oauth2 login in the background, output in
# $T_DIR/NAME.out and NAME.err.
login_bg() {
	_n=$1
	shift
	"$RELAYQ" -c "${LCONF:-$CONF}" oauth2 login "$@" > "$T_DIR/$_n.out" \
	    2> "$T_DIR/$_n.err" &
	LPID=$!
	T_PIDS="$T_PIDS $LPID"
}

# login_wait: waits for the login in the background to exit; its exit
# code in $LRC.
login_wait() {
	wait_for "relayq oauth2 login to exit" 1200 sh -c "! kill -0 $LPID" ||
	    kill "$LPID"
	wait "$LPID"
	LRC=$?
}

# login NAME [ARGS]: a whole login; prints its exit code.
login() {
	login_bg "$@"
	login_wait
	echo "$LRC"
}

# polls RESULT: how many device_code polls the fake answered RESULT.
polls() {
	grep -c "^grant=urn:ietf:params:oauth:grant-type:device_code result=$1\$" \
	    "$OLOG"
}

# no_secret NAME: NAME.out/.err hold no token, code or secret.
no_secret() {
	! grep -Eq "(rt|at|dc|ac)-[A-Za-z0-9_-]{8}|$SECRET" "$T_DIR/$1.out" \
	    "$T_DIR/$1.err"
}

# browser URL [STATE]: fetches URL as a browser (following the redirect
# to relayq's loopback listener), with its state replaced by STATE when
# given; prints the final HTTP status (000: no connection).
browser() {
	"$PYTHON3" - "$1" "$PKI/ca.crt" "${2:-}" <<'EOP'
import ssl, sys, urllib.error, urllib.parse, urllib.request
url, ca, state = sys.argv[1:4]
if state:
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(u.query)
    q['state'] = [state]
    url = u._replace(query=urllib.parse.urlencode(q, doseq=True)).geturl()
op = urllib.request.build_opener(
    urllib.request.ProxyHandler({}),
    urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca)))
try:
    print(op.open(url, timeout=60).status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError:
    print('000')
EOP
}

# ---- 1. the device grant: pending twice, then approved ----
login_bg dev
wait_for "the user code" 100 grep -q 'enter the code WDJB-MJHT' "$T_DIR/dev.out"
grep -q '^To sign in, open https://127.0.0.1/device in a browser and enter the code WDJB-MJHT$' "$T_DIR/dev.out" &&
    grep -q 'https://127.0.0.1/device?code=WDJB-MJHT' "$T_DIR/dev.out"
ok $? "device grant: the verification URI, the complete one and the user code printed"
wait_for "two pending polls" 300 sh -c "[ \$(grep -c 'result=authorization_pending' '$OLOG') -ge 2 ]"
ok $? "device grant: authorization_pending polled through"
[ ! -e "$RTFILE" ]
ok $? "device grant: nothing stored while pending"
echo approve > "$OCTL"
login_wait
is "$LRC" 0 "device grant: login exits 0 once approved"
is "$(cat "$RTFILE" 2>/dev/null)" "$(ostate current)" "device grant: the file holds the refresh token issued"
is "$(stat -c %a "$RTFILE")" 600 "device grant: file mode 0600"
is "$(stat -c %u "$RTFILE")" "$(stat -c %u "$SPOOL" 2>/dev/null || id -u)" "device grant: file owned by relayqd's user"
is "$(polls too_fast)" 0 "device grant: never polled sooner than the interval"
grep -q "logged in; the refresh token is in $RTFILE" "$T_DIR/dev.out"
ok $? "device grant: says where the token is"
no_secret dev
ok $? "device grant: no token in the output"

# ---- 2. relayqd delivers with the token login wrote ----
: > "$OCTL"
start_server --tls-cert "$PKI/good.crt" --tls-key "$PKI/good.key" \
    --xoauth2 "$AUSER:" --oauth2-state "$OSTATE"
start_daemon -T smtp
wait_started
send 1 login
wait_for "the message" 600 has_mail 1
is "$(count_mail)" 1 "relayqd delivers with the refresh token from login"
grep -q '^grant=refresh_token result=ok$' "$OLOG"
ok $? "relayqd refreshed with the token login stored"
stop_daemon
stop_server

# ---- 3. slow_down: the interval grows by 5 s ----
rm -f "$RTFILE"
echo slow_down > "$OCTL"
is "$(login slow)" 0 "slow_down: login still succeeds"
is "$(polls slow_down)" 1 "slow_down: answered once"
is "$(polls too_fast)" 0 "slow_down: the next poll came 5 s later, not sooner"
[ -s "$RTFILE" ]
ok $? "slow_down: the token stored"

# ---- 4. access_denied, expired_token, and expires_in ----
cp "$RTFILE" "$T_DIR/rt.before"
echo deny > "$OCTL"
is "$(login deny)" 77 "access_denied: exit 77 (EX_NOPERM)"
grep -q 'the sign-in was declined (access_denied): nothing stored' "$T_DIR/deny.err"
ok $? "access_denied: says so"
echo expire > "$OCTL"
is "$(login exp)" 75 "expired_token: exit 75 (EX_TEMPFAIL)"
grep -q 'the code expired before the sign-in was approved; run relayq oauth2 login again' "$T_DIR/exp.err"
ok $? "expired_token: says so"
n0=$(polls authorization_pending)
echo short > "$OCTL"
is "$(login short)" 75 "expires_in (2 s) passed while pending: exit 75"
grep -q 'the code expired before the sign-in was approved' "$T_DIR/short.err"
ok $? "expires_in passed: says so"
[ $(($(polls authorization_pending) - n0)) -le 2 ]
ok $? "expires_in passed: no poll after the code expired"
cmp -s "$RTFILE" "$T_DIR/rt.before"
ok $? "failed logins leave the file untouched"
no_secret deny && no_secret exp && no_secret short
ok $? "failed logins: no token in the output"

# ---- 5. --browser: PKCE and the loopback redirect ----
: > "$OCTL"
login_bg br --browser
wait_for "the authorization URL" 100 grep -q "^https://127.0.0.1:$OPORT/authorize?" "$T_DIR/br.out"
URL=$(grep "^https://127.0.0.1:$OPORT/authorize?" "$T_DIR/br.out")
for p in 'client_id=relayq-test' 'response_type=code' \
    'redirect_uri=http%3A%2F%2F127.0.0.1%3A[0-9]+%2F(&|$)' \
    'scope=https%3A%2F%2Foutlook.office.com%2FSMTP.Send%20offline_access' \
    'state=[A-Za-z0-9_-]{16,}' 'code_challenge=[A-Za-z0-9_-]{43}(&|$)' \
    'code_challenge_method=S256'; do
	echo "$URL" | grep -Eq "[?&]$p" || { diag "no $p in $URL"; false; } ||
	    break
done
ok $? "--browser: the authorization URL carries client_id, redirect_uri, response_type, scope, state and the S256 challenge"
is "$(browser "$URL" forged-state)" 400 "--browser: a redirect with another state is refused (400)"
grep -q 'refused a redirect whose state does not match' "$T_DIR/br.err" &&
    kill -0 "$LPID"
ok $? "--browser: says so and keeps waiting"
is "$(browser "$URL")" 200 "--browser: the redirect with the right state accepted"
login_wait
is "$LRC" 0 "--browser: login exits 0"
is "$(grep -c '^grant=authorization_code result=ok$' "$OLOG")" 1 "--browser: one code exchanged, with the right verifier"
is "$(grep -c '^grant=authorization_code' "$OLOG")" 1 "--browser: the refused redirect's code never exchanged"
is "$(cat "$RTFILE")" "$(ostate current)" "--browser: the file holds the refresh token issued"
is "$(stat -c %a "$RTFILE")" 600 "--browser: file mode 0600"
is "$(browser "$URL")" 000 "--browser: the listener is gone after the login"
no_secret br
ok $? "--browser: no token in the output"
echo deny > "$OCTL"
login_bg brd --browser
wait_for "the authorization URL" 100 grep -q "^https://127.0.0.1:$OPORT/authorize?" "$T_DIR/brd.out"
browser "$(grep "^https://127.0.0.1:$OPORT/authorize?" "$T_DIR/brd.out")" >/dev/null
login_wait
is "$LRC" 77 "--browser: a declined sign-in exits 77"
grep -q 'the sign-in was declined (access_denied)' "$T_DIR/brd.err"
ok $? "--browser: a declined sign-in says so"
: > "$OCTL"

# ---- 6. as root: the file belongs to relayqd's user ----
if [ "$(id -u)" -eq 0 ]; then
	# relayqd's user is the spool's owner: nobody here.
	chmod 711 "$T_DIR"
	mkdir -p "$T_DIR/nspool" "$T_DIR/noauth"
	chown nobody "$T_DIR/nspool" "$T_DIR/noauth"
	chmod 700 "$T_DIR/noauth"
	cp "$T_DIR/client.secret" "$T_DIR/noauth/secret"
	chown nobody "$T_DIR/noauth/secret"
	sed -e "s|^spool_dir = .*|spool_dir = $T_DIR/nspool|" \
	    -e "s|^oauth2_refresh_token_file = .*|oauth2_refresh_token_file = $T_DIR/noauth/refresh|" \
	    -e "s|^oauth2_client_secret_file = .*|oauth2_client_secret_file = $T_DIR/noauth/secret|" \
	    "$CONF" > "$T_DIR/nobody.conf"
	echo approve > "$OCTL"
	LCONF=$T_DIR/nobody.conf
	is "$(login own)" 0 "as root: login exits 0"
	LCONF=
	is "$(stat -c '%U %a' "$T_DIR/noauth/refresh" 2>/dev/null)" "nobody 600" "as root: the file is owned by the spool's owner, mode 0600"
	is "$(stat -c '%U' "$T_DIR/noauth/refresh.lock" 2>/dev/null)" nobody "as root: so is its lock"
	: > "$OCTL"
else
	T_N=$((T_N + 1)); echo "ok $T_N # skip not root"
	T_N=$((T_N + 1)); echo "ok $T_N # skip not root"
	T_N=$((T_N + 1)); echo "ok $T_N # skip not root"
fi

# ---- 7. configuration errors ----
write_conf "" "auth = xoauth2
username = $AUSER
oauth2_token_url = https://127.0.0.1:$OPORT/token
oauth2_client_id = relayq-test
oauth2_refresh_token_file = $RTFILE"
is "$(login nodev)" 78 "no oauth2_device_url: exit 78"
grep -q 'needs oauth2_device_url' "$T_DIR/nodev.err"
ok $? "no oauth2_device_url: says so"
is "$(login noauth --browser)" 78 "--browser without oauth2_auth_url: exit 78"

done_testing
