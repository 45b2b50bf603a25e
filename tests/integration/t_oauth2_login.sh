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
#  - no token, code or secret in the output;
#  - --smarthost NAME (issue 15): with [smarthost] and [smarthost work]
#    on two fake providers (each its own client id and token file),
#    login --smarthost work uses work's endpoints and client id and
#    writes only work's file, 0600; status --smarthost work names work's
#    file; status alone shows both sections, labelled; an unknown name
#    exits 64 listing the known ones; a section without OAuth2, 78.
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

# ---- 2b. status after the endpoint refused the refresh token ----
# relayqd's last refresh (as it publishes one) was refused with
# invalid_grant after the file was written: the file is well formed but
# not usable.  The login of section 3 writes it again, after the refusal.
now=$(date +%s)
printf 'relayq-oauth2 1\nlast_refresh=%s\nresult=rejected\nreason=OAuth2 refresh token rejected: run relayq oauth2 login (error=invalid_grant)\nexpires=0\n' \
    $((now - 120)) > "$SPOOL/oauth2"
touch -d "@$((now - 180))" "$RTFILE"
"$RELAYQ" -c "$CONF" oauth2 status > "$T_DIR/st.rej" 2>&1
grep -q "^refresh token file: $RTFILE (present, refused by the token endpoint at .*: run relayq oauth2 login)\$" "$T_DIR/st.rej" &&
    ! grep -q 'usable' "$T_DIR/st.rej" &&
    grep -q '^last refresh: .*, rejected: OAuth2 refresh token rejected: run relayq oauth2 login' "$T_DIR/st.rej"
ok $? "status: a refresh token the endpoint refused is shown refused, not usable ($(tr '\n' '|' < "$T_DIR/st.rej"))"
touch -d "@$((now - 120))" "$RTFILE"
"$RELAYQ" -c "$CONF" oauth2 status > "$T_DIR/st.rej2" 2>&1
grep -q "^refresh token file: $RTFILE (present, refused by the token endpoint at " "$T_DIR/st.rej2"
ok $? "status: still refused when written in the second of the refusal"

# ---- 3. slow_down: the interval grows by 5 s ----
rm -f "$RTFILE"
echo slow_down > "$OCTL"
is "$(login slow)" 0 "slow_down: login still succeeds"
is "$(polls slow_down)" 1 "slow_down: answered once"
is "$(polls too_fast)" 0 "slow_down: the next poll came 5 s later, not sooner"
[ -s "$RTFILE" ]
ok $? "slow_down: the token stored"
"$RELAYQ" -c "$CONF" oauth2 status > "$T_DIR/st.relogin" 2>&1
grep -q "^refresh token file: $RTFILE (present, usable)\$" "$T_DIR/st.relogin"
ok $? "status: usable again after a login that followed the refusal"

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
	# A directory relayqd's user cannot write: refused before the
	# sign-in (o14 F9), the provider never asked.
	chmod 500 "$T_DIR/noauth"
	n=$(grep -c '^grant=device' "$OLOG")
	LCONF=$T_DIR/nobody.conf
	is "$(login ro)" 73 "as root, unwritable directory: login exits 73"
	LCONF=
	grep -q "cannot create $T_DIR/noauth/refresh.tmp.[0-9]*: Permission denied; uid [0-9]* cannot store the refresh token" "$T_DIR/ro.err"
	ok $? "as root, unwritable directory: it says so"
	is "$(grep -c '^grant=device' "$OLOG")" "$n" "as root, unwritable directory: no sign-in was started"
	chmod 700 "$T_DIR/noauth"
	: > "$OCTL"
else
	for _i in 1 2 3 4 5 6; do
		T_N=$((T_N + 1)); echo "ok $T_N # skip not root"
	done
fi

# ---- 7. --smarthost NAME: each section's own keys and token file ----
# The second provider (work) knows only client id relayq-work, and the
# first only relayq-test: a login that mixes the sections is refused.
WPORT=$(free_port)
WRT=$T_DIR/oauth2/work.refresh
: > "$T_DIR/work.control"
"$PYTHON3" "$top_srcdir/tests/integration/fakeoauth2.py" \
    --port "$WPORT" --cert "$PKI/good.crt" --key "$PKI/good.key" \
    --state "$T_DIR/work.state" --control "$T_DIR/work.control" \
    --log "$T_DIR/work.log" --client-id relayq-work \
    --device-polls 1000000 --pidfile "$T_DIR/work.pid" \
    >>"$T_DIR/work.err" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "the second fake OAuth2 provider" 100 test -s "$T_DIR/work.pid"
oauth_conf "oauth2_device_url = https://127.0.0.1:$OPORT/device
oauth2_auth_url = https://127.0.0.1:$OPORT/authorize"
cat - "$CONF" > "$T_DIR/two.conf" <<EOC
[smarthost work]
host = 127.0.0.1
port = $PORT
tls = starttls
ca_file = $PKI/ca.crt
username = work@example.org
auth = xoauth2
oauth2_token_url = https://127.0.0.1:$WPORT/token
oauth2_device_url = https://127.0.0.1:$WPORT/device
oauth2_client_id = relayq-work
oauth2_refresh_token_file = $WRT
oauth2_ca_file = $PKI/ca.crt
senders = @work.example

[smarthost plain]
host = 127.0.0.1
port = $PORT
senders = @plain.example

EOC
LCONF=$T_DIR/two.conf
cp "$RTFILE" "$T_DIR/rt.two"
n0=$(wc -l < "$OLOG")
echo approve > "$T_DIR/work.control"
is "$(login work --smarthost work)" 0 "--smarthost work: login exits 0"
is "$(cat "$WRT" 2>/dev/null)" "$(OSTATE=$T_DIR/work.state; ostate current)" "--smarthost work: work's file holds the token work's provider issued"
is "$(stat -c %a "$WRT" 2>/dev/null)" 600 "--smarthost work: work's file mode 0600"
[ -s "$WRT" ] && cmp -s "$RTFILE" "$T_DIR/rt.two" &&
    [ "$(wc -l < "$OLOG")" -eq "$n0" ]
ok $? "--smarthost work: work's file written, [smarthost]'s untouched, its provider not asked"
grep -q "logged in; the refresh token is in $WRT " "$T_DIR/work.out" &&
    no_secret work
ok $? "--smarthost work: says it wrote work's file, and no token in the output"
# relayqd publishes a named smarthost's last refresh in <spool>/oauth2.NAME.
printf 'relayq-oauth2 1\nlast_refresh=1700000000\nresult=failed\nreason=work reason\nexpires=0\n' \
    > "$SPOOL/oauth2.work"
"$RELAYQ" -c "$LCONF" oauth2 status --smarthost work > "$T_DIR/st.work" 2>&1
is "$?" 0 "status --smarthost work: exit 0"
grep -q "^smarthost work: 127.0.0.1:$PORT, auth = xoauth2, username = work@example.org\$" "$T_DIR/st.work" &&
    grep -q "^token endpoint: https://127.0.0.1:$WPORT/token\$" "$T_DIR/st.work" &&
    grep -q '^client id: relayq-work$' "$T_DIR/st.work" &&
    grep -q "^refresh token file: $WRT (present, usable)\$" "$T_DIR/st.work" &&
    grep -q '^last refresh: .*, failed: work reason$' "$T_DIR/st.work" &&
    ! grep -q "$RTFILE (\|:$OPORT/" "$T_DIR/st.work"
ok $? "status --smarthost work: work's endpoint, client id and file, not [smarthost]'s ($(tr '\n' '|' < "$T_DIR/st.work"))"
"$RELAYQ" -c "$LCONF" oauth2 status > "$T_DIR/st.all" 2>&1
rc=$?
is "$rc:$(grep -c '^smarthost ' "$T_DIR/st.all")" 0:2 "status without --smarthost: exit 0, the two OAuth2 sections, not plain"
grep -q "^smarthost default: 127.0.0.1:$PORT, " "$T_DIR/st.all" &&
    grep -q "^refresh token file: $RTFILE (present, usable)\$" "$T_DIR/st.all" &&
    grep -q "^smarthost work: " "$T_DIR/st.all" &&
    grep -q "^refresh token file: $WRT (present, usable)\$" "$T_DIR/st.all"
ok $? "status without --smarthost: each section labelled with its own file"
rm -f "$WRT"
[ "$(login nosuch --smarthost nosuch)" -eq 64 ] &&
    grep -q "^relayq: oauth2 login: --smarthost nosuch: $LCONF has no \[smarthost nosuch\] (its smarthosts: default, work, plain)\$" "$T_DIR/nosuch.err" &&
    [ ! -e "$WRT" ] && cmp -s "$RTFILE" "$T_DIR/rt.two"
ok $? "login --smarthost nosuch: exit 64, lists the known names, writes nothing ($(cat "$T_DIR/nosuch.err"))"
"$RELAYQ" -c "$LCONF" oauth2 status --smarthost nosuch > /dev/null 2> "$T_DIR/st.nosuch"
rc=$?
[ "$rc" -eq 64 ] &&
    grep -q "^relayq: oauth2 status: --smarthost nosuch: .* (its smarthosts: default, work, plain)\$" "$T_DIR/st.nosuch"
ok $? "status --smarthost nosuch: exit 64, says so"
is "$(login plain --smarthost plain)" 78 "login --smarthost plain (no OAuth2): exit 78"
grep -q "^relayq: oauth2 login: $LCONF: \[smarthost plain\] needs oauth2_token_url\$" "$T_DIR/plain.err" &&
    [ ! -e "$WRT" ] && cmp -s "$RTFILE" "$T_DIR/rt.two"
ok $? "login --smarthost plain: names the section and the key, writes nothing"
"$RELAYQ" -c "$LCONF" oauth2 status --smarthost plain > /dev/null 2> "$T_DIR/st.plain"
is "$?" 78 "status --smarthost plain: exit 78"
grep -q "OAuth2 is not configured (\[smarthost plain\] oauth2_token_url)\$" "$T_DIR/st.plain"
ok $? "status --smarthost plain: names the section"
LCONF=
: > "$T_DIR/work.control"

# ---- 8. configuration errors ----
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
