#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The configuration side of several smarthosts (issue 15), through the
# real binaries and no daemon: relayq check-config lists the smarthosts
# with their chains and sender patterns and refuses each bad config
# with a message naming the file, the section and the key; relayq show
# says which smarthost a message will use ("Smarthost: NAME
# (host:port)"), by its sender's route (an exact address beats @domain,
# the null sender goes to [smarthost]), and follows a config change; the
# queue listing (relayq queue, mailq) adds "(smarthost: NAME)" only when
# several smarthosts are configured, and queue --json names it always.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf
relayq() { "$RELAYQ" -c "$CONF" "$@"; }
submit() { # submit SENDER SUBJECT
	printf 'Subject: %s\n\nbody\n' "$2" |
	    "$SENDMAIL" -f "$1" rcpt@example.net
}
# id_of SUBJECT: the id of the message with that subject.
id_of() {
	grep -l "^Subject: $1" "$SPOOL"/incoming/* "$SPOOL"/queue/* \
	    2>/dev/null | sed -n '1s,.*/,,p'
}
# show_smarthost ID: the Smarthost: line of relayq show.
show_smarthost() { relayq show "$1" | grep '^Smarthost: '; }

# The spool, with the directories relayqd would make (hold creates them).
submit boss@work.example s-boss
ok $? "first message submitted"
relayq hold "$(id_of s-boss)" >/dev/null && relayq release "$(id_of s-boss)" >/dev/null
ok $? "hold and release make the rest of the spool"
submit alerts@work.example s-alerts
submit other@home.example s-home
submit '<>' s-bounce
ok $? "messages from three senders and the null sender submitted"

# 1. One smarthost: today's listing, show names [smarthost].
is "$(show_smarthost "$(id_of s-boss)")" "Smarthost: default (127.0.0.1:$PORT)" \
    "one smarthost: show names default with host:port"
relayq queue > "$T_DIR/q1"
ok $? "queue exits 0"
grep -q "(smarthost: " "$T_DIR/q1"
ok $((!$?)) "one smarthost: the listing has no smarthost line (as before)"
"$SENDMAIL" -bp > "$T_DIR/m1"
cmp -s "$T_DIR/q1" "$T_DIR/m1"
ok $? "mailq prints the same listing"
out=$(relayq check-config 2>&1)
ok $? "one smarthost: check-config passes"
echo "$out" | grep -q "^smarthost default: 127.0.0.1:$PORT, tls none$" &&
    echo "$out" | grep -q "^  chain: default$"
ok $? "check-config lists [smarthost] as default, its chain itself"

# 2. Named smarthosts and sender routes.
cp "$CONF" "$T_DIR/one.conf"
cat >> "$CONF" <<EOF

[smarthost work]
host = ::1
port = 2525
tls = none
senders = @WORK.example
fallback = backup, default

[smarthost alerts]
host = alerts.example
senders = Alerts@work.example, cron@example.org

[smarthost backup]
host = 127.0.0.2
port = 26
tls = none
fallback = default
EOF
out=$(relayq check-config 2>&1)
ok $? "named smarthosts: check-config passes"
printf '%s\n' "$out" > "$T_DIR/check.out"
grep -q "^smarthost work: \[::1\]:2525, tls none$" "$T_DIR/check.out" &&
    grep -q "^  chain: work -> backup -> default$" "$T_DIR/check.out" &&
    grep -q "^  senders: @work.example$" "$T_DIR/check.out"
ok $? "check-config: work with its address, chain and pattern"
grep -q "^  senders: alerts@work.example, cron@example.org$" "$T_DIR/check.out"
ok $? "check-config: alerts with both patterns, lower case"
grep -q "^  chain: backup -> default$" "$T_DIR/check.out" &&
    grep -q "^  senders: none (a fallback only)$" "$T_DIR/check.out"
ok $? "check-config: backup is a fallback only"
grep -q "^  senders: every sender no other smarthost claims, and bounces$" \
    "$T_DIR/check.out"
ok $? "check-config: [smarthost] takes the rest"

is "$(show_smarthost "$(id_of s-boss)")" "Smarthost: work ([::1]:2525)" \
    "show: @work.example routes to work"
is "$(show_smarthost "$(id_of s-alerts)")" "Smarthost: alerts (alerts.example:587)" \
    "show: the exact address beats @work.example"
is "$(show_smarthost "$(id_of s-home)")" "Smarthost: default (127.0.0.1:$PORT)" \
    "show: an unclaimed sender routes to default"
is "$(show_smarthost "$(id_of s-bounce)")" "Smarthost: default (127.0.0.1:$PORT)" \
    "show: the null sender routes to default"

relayq queue > "$T_DIR/q2"
ok $? "queue exits 0"
is "$(grep -A1 "^$(id_of s-boss) " "$T_DIR/q2" | sed -n '2s/^ *//p')" \
    "(smarthost: work)" "queue: the smarthost under the sender line"
is "$(grep -A1 "^$(id_of s-alerts) " "$T_DIR/q2" | sed -n '2s/^ *//p')" \
    "(smarthost: alerts)" "queue: alerts for the exact address"
is "$(grep -A1 "^$(id_of s-bounce) " "$T_DIR/q2" | sed -n '2s/^ *//p')" \
    "(smarthost: default)" "queue: default for the null sender"
is "$(grep -c '^ *(smarthost: ' "$T_DIR/q2")" 4 "queue: one line per message"
is "$(grep -v '^ *(smarthost: ' "$T_DIR/q2")" "$(cat "$T_DIR/q1")" \
    "queue: otherwise the listing is unchanged"
"$SENDMAIL" -bp > "$T_DIR/m2"
cmp -s "$T_DIR/q2" "$T_DIR/m2"
ok $? "mailq shows the same smarthost lines"
is "$(relayq queue --json | "$PYTHON3" -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(sorted(m["smarthost"] for m in d["messages"])))')" \
    "alerts default default work" "queue --json: each message's smarthost"

# 3. The route follows the config: the next read of the file reroutes.
sed 's/^senders = @WORK.example$/senders = @elsewhere.example/' "$CONF" \
    > "$T_DIR/moved.conf"
is "$("$RELAYQ" -c "$T_DIR/moved.conf" show "$(id_of s-boss)" | grep '^Smarthost: ')" \
    "Smarthost: default (127.0.0.1:$PORT)" \
    "a changed pattern reroutes a queued message"

# 4. Bad configs: check-config refuses each (exit 78), naming the key.
# bad NAME TEXT WANT...: a config of one.conf plus TEXT must fail with
# a message holding the file and every WANT.
bad() {
	_name=$1 _text=$2
	shift 2
	{ cat "$T_DIR/one.conf"; printf '%b' "$_text"; } > "$T_DIR/bad.conf"
	conf_merge "$T_DIR/bad.conf"
	_out=$("$RELAYQ" -c "$T_DIR/bad.conf" check-config 2>&1)
	_rc=$?
	_miss=""
	for _w in "$T_DIR/bad.conf" "$@"; do
		case $_out in *"$_w"*) ;; *) _miss="$_miss [$_w]" ;; esac
	done
	is "$_rc:$_miss" "78:" "check-config refuses $_name"
	[ -z "$_miss" ] || diag "it said: $_out"
}
bad "a fallback naming an unknown section" \
    '[smarthost a]\nhost = a.example\nfallback = nosuch\n' \
    "smarthost a:fallback" "unknown smarthost nosuch"
bad "a fallback cycle a -> b -> a" \
    '[smarthost a]\nhost = a.example\nfallback = b\n[smarthost b]\nhost = b.example\nfallback = a\n' \
    "smarthost b:fallback" "cycle: a -> b -> a"
bad "a fallback to itself" \
    '[smarthost a]\nhost = a.example\nfallback = a\n' \
    "smarthost a:fallback" "cycle: a -> a"
bad "more than 8 fallback names" \
    '[smarthost a]\nhost = a.example\nfallback = b,b,b,b,b,b,b,b,b\n[smarthost b]\nhost = b.example\n' \
    "smarthost a:fallback" "more than 8 names"
bad "two smarthosts claiming the same pattern" \
    '[smarthost a]\nhost = a.example\nsenders = @x.example\n[smarthost b]\nhost = b.example\nsenders = @X.example\n' \
    "smarthost b:senders" "@x.example" "[smarthost a]"
bad "senders in [smarthost]" \
    '[smarthost]\nsenders = @x.example\n' "smarthost:senders"
bad "a malformed sender pattern" \
    '[smarthost a]\nhost = a.example\nsenders = x.example\n' \
    "smarthost a:senders" "x.example" "user@domain or @domain"
bad "a malformed rate in a named section" \
    '[smarthost a]\nhost = a.example\nrate_limit = 30/fortnight\n' \
    "smarthost a:rate_limit"
bad "a named section without host" \
    '[smarthost a]\nport = 25\n' "smarthost a:host"
bad "a bad section name" \
    '[smarthost A!]\nhost = a.example\n' "[smarthost a!]"
bad "[smarthost default]" \
    '[smarthost default]\nhost = a.example\n' "[smarthost default]"

# 5. What iniparser hides (issue 15): a section given twice (any case,
# any blanks) or a key set twice is refused by relayqd and check-config,
# naming file, line, section and key; so is a line too long.
# refused NAME FILE WANT...: relayqd and check-config refuse FILE, each
# with a message holding every WANT.
refused() {
	_name=$1 _f=$2
	shift 2
	_c=$("$RELAYQ" -c "$_f" check-config 2>&1)
	_crc=$?
	_d=$(timeout 60 "$RELAYQD" -f -c "$_f" 2>&1)
	_drc=$?
	_miss=""
	for _w in "$_f" "$@"; do
		case $_c in *"$_w"*) ;; *) _miss="$_miss check-config:[$_w]" ;; esac
		case $_d in *"$_w"*) ;; *) _miss="$_miss relayqd:[$_w]" ;; esac
	done
	[ "$_drc" -ne 0 ] && [ "$_drc" -ne 124 ] || _miss="$_miss relayqd-exit:$_drc"
	is "$_crc:$_miss" "78:" "$_name: relayqd and check-config refuse it"
	[ -z "$_miss" ] || diag "check-config: $_c; relayqd: $_d"
}
n1=$(wc -l < "$T_DIR/one.conf")
printf 'secret\n' > "$T_DIR/pw"
chmod 600 "$T_DIR/pw"
# The tester's case: work's login, then a second "Work" with another host.
{ cat "$T_DIR/one.conf"; printf '[smarthost work]\nhost = 127.0.0.1\nusername = wuser\npassword_file = %s\ntls = none\nallow_plaintext_auth = yes\nsenders = @work.example\n[smarthost Work]\nhost = ::1\ntls = none\nsenders = @home.example\n' "$T_DIR/pw"; } > "$T_DIR/twice.conf"
refused "[smarthost Work] after [smarthost work]" "$T_DIR/twice.conf" \
    ":$((n1 + 8)): [smarthost work] appears twice" "first at line $((n1 + 1))"
{ cat "$T_DIR/one.conf"; printf '[smarthost a]\nhost = a.example\n[smarthost  a]\nport = 25\n'; } > "$T_DIR/blanks.conf"
refused "[smarthost  a] after [smarthost a]" "$T_DIR/blanks.conf" \
    ":$((n1 + 3)): [smarthost a] appears twice"
{ cat "$T_DIR/one.conf"; printf '[smarthost a]\nhost = a.example\nsenders = @one.example, @two.example\nsenders = @three.example\n'; } > "$T_DIR/key2.conf"
refused "senders set twice" "$T_DIR/key2.conf" \
    ":$((n1 + 4)): smarthost a:senders is set twice" "first at line $((n1 + 3))"
{ cat "$T_DIR/one.conf"; printf '[delivery]\nretry_max = 5s\n'; } > "$T_DIR/sec2.conf"
refused "[delivery] twice" "$T_DIR/sec2.conf" \
    ":$((n1 + 1)): [delivery] appears twice"
{ cat "$T_DIR/one.conf"; printf '[smarthost a]\nhost = a.example\nhelo_name = '; head -c 1100 /dev/zero | tr '\0' x; printf '\n'; } > "$T_DIR/long.conf"
refused "a line too long" "$T_DIR/long.conf" \
    ":$((n1 + 3)): line too long (in [smarthost a], key helo_name)" \
    "at most 1022 characters"

# 6. The front end (sendmail, mailq, relayq queue) still queues and lists
# when the only errors are in smarthost sections (issue 15: one typo in
# a fallback lost local cron mail), and warns; relayqd refuses.
queued() { ls "$SPOOL/incoming" | wc -l; }
sed '/^\[smarthost\]$/a fallback = prvi' "$T_DIR/one.conf" > "$T_DIR/typo.conf"
for f in typo twice key2 blanks; do
	n0=$(queued)
	printf 'Subject: s-%s\n\nbody\n' "$f" |
	    RELAYQ_CONFIG=$T_DIR/$f.conf "$SENDMAIL" -f cron@example.org \
	    rcpt@example.net 2> "$T_DIR/$f.err"
	rc=$?
	is "$rc:$(queued)" "0:$((n0 + 1))" "$f: sendmail queues the mail"
	grep -q "^relayq: warning: $T_DIR/$f.conf.*relayqd refuses this configuration" \
	    "$T_DIR/$f.err"
	ok $? "$f: sendmail warns that relayqd refuses the config ($(cat "$T_DIR/$f.err"))"
done
grep -q "smarthost:fallback: unknown smarthost prvi" "$T_DIR/typo.err"
ok $? "typo: the warning names the key"
RELAYQ_CONFIG=$T_DIR/typo.conf "$SENDMAIL" -bp > "$T_DIR/m6" 2> "$T_DIR/m6.err"
is "$?" 0 "typo: mailq lists the queue"
grep -q "s-typo\|cron@example.org" "$T_DIR/m6" &&
    grep -q "relayqd refuses" "$T_DIR/m6.err"
ok $? "typo: mailq shows the new mail and warns"
"$RELAYQ" -c "$T_DIR/twice.conf" queue > /dev/null 2> "$T_DIR/q6.err"
is "$?" 0 "twice: relayq queue lists the queue"
"$RELAYQ" -c "$T_DIR/twice.conf" show "$(id_of s-typo)" > /dev/null 2>&1
is "$?" 0 "twice: relayq show works"
refused "a fallback typo" "$T_DIR/typo.conf" "smarthost:fallback: unknown smarthost prvi"
# Outside the smarthost sections, an error still stops the front end.
{ cat "$T_DIR/one.conf"; printf '[relayq]\nmax_message_size = 10k\n'; } > "$T_DIR/relayq2.conf"
n0=$(queued)
printf 'Subject: s-r2\n\nbody\n' |
    RELAYQ_CONFIG=$T_DIR/relayq2.conf "$SENDMAIL" rcpt@example.net 2> "$T_DIR/r2.err"
is "$?:$(queued)" "78:$n0" "[relayq] twice: sendmail refuses (exit 78), queues nothing"
grep -q "\[relayq\] appears twice" "$T_DIR/r2.err"
ok $? "[relayq] twice: sendmail says why ($(cat "$T_DIR/r2.err"))"
sed 's/^spool_dir = .*/spool_dir = relative/' "$T_DIR/typo.conf" > "$T_DIR/mix.conf"
RELAYQ_CONFIG=$T_DIR/mix.conf "$SENDMAIL" rcpt@example.net < /dev/null 2>/dev/null
is "$?" 78 "a bad spool_dir besides a smarthost typo: sendmail refuses"

done_testing
