#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# relayq stats per smarthost (issue 15) against two real servers
# (aiosmtpd): A on 127.0.0.1 is [smarthost] ("default") and answers 550
# for one recipient; B is [smarthost work] (senders = @work.example,
# rate_limit and recipient_limit).  Mail goes to both; then B stops and
# work mail is deferred.  Checks, in text, --json (python3 json) and
# --prometheus (each exposition line's syntax, and the smarthost label):
# each smarthost's sent, deferred and failed counters, up or down and
# since when, its pace and bucket levels; the global figures keep their
# names.  A reload keeps the counters (as it keeps the global ones), also
# of a section whose settings it changes (a new destination); a
# reload that renames a section neither crashes relayqd nor breaks the
# output; a restart starts every counter from zero.  Retries are an hour
# apart, so the figures hold still while the three formats are compared.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
PORT_B=$(free_port)
MAIL_B=$T_DIR/mail-b
relayq() { "$RELAYQ" -c "$CONF" "$@"; }

# start_b: server B on PORT_B.
start_b() {
	rm -f "$T_DIR/b.pid"
	"$PYTHON3" "$top_srcdir/tests/integration/smtpserver.py" \
	    --host 127.0.0.1 --port "$PORT_B" --maildir "$MAIL_B" \
	    --pidfile "$T_DIR/b.pid" >>"$T_DIR/b.log" 2>&1 &
	B_PID=$!
	T_PIDS="$T_PIDS $B_PID"
	wait_for "server B to listen" 100 test -s "$T_DIR/b.pid"
}

# count_in DIR: messages stored in DIR.
count_in() { ls "$1" 2>/dev/null | grep -c '\.eml$'; }
has_in() { [ "$(count_in "$1")" -ge "$2" ]; }

# send SENDER RCPT...: queues one message.
send() {
	_from=$1
	shift
	printf 'Subject: stats\n\nbody\n' | "$SENDMAIL" -i -f "$_from" "$@"
}

# js EXPR: prints the Python expression EXPR over d, the parsed
# relayq stats --json, and h, d["relayqd"]["smarthosts"].
js() {
	relayq stats --json | "$PYTHON3" -c 'import json, sys
d = json.load(sys.stdin)
h = (d["relayqd"] or {}).get("smarthosts", {})
print(eval("(" + sys.argv[1] + ")"))' "$1"
}

# logged N PATTERN: the log has at least N lines matching PATTERN.
logged() { [ "$(grep -c "$2" "$T_DIR/relayqd.log")" -ge "$1" ]; }

# default_sent N: stats --json says default sent N.
default_sent() { [ "$(js 'h["default"]["sent"]')" = "$1" ]; }

write_conf "retry_min = 1h
retry_max = 1h
probe_max = 1h" "
[smarthost work]
host = 127.0.0.1
port = $PORT_B
tls = none
senders = @work.example
rate_limit = 100/1h
recipient_limit = 1000/1d"

start_server --rcpt-reply 'bad=550 5.1.1 no such user'
start_b
T0=$(date +%s)
start_daemon
wait_started

# ---- 1. Mail to both smarthosts; a 550 at A; B stops.
send dev@work.example w1@example.net w2@example.net
send someone@example.org ok@example.net bad@example.net
wait_for "B's message" 600 has_in "$MAIL_B" 1
ok $? "work mail reached B"
# A stores the good recipient's message and the bounce for bad@.
wait_for "A's message and the bounce" 600 has_in "$MAILDIR" 2
ok $? "default mail and the bounce for the 550 reached A"
# Its idle session QUITs first (idle_timeout 1s): the next work mail
# then finds nothing listening, not a session that breaks.
wait_for "relayqd's QUIT at B" 300 grep -q '^QUIT' "$MAIL_B/commands"
ok $? "relayqd closed its idle session to B"
kill "$B_PID"
wait "$B_PID" 2>/dev/null
send dev@work.example w3@example.net
wait_for "the work mail deferred" 600 logged 1 \
    'w3@example.net.*status=deferred'
ok $? "with B stopped, work mail is deferred"
T1=$(date +%s)

# Stats are published at most a second after a change.
settled() {
	[ "$(js 'h["work"]["up"], h["work"]["deferred"] > 0,
h["default"]["sent"], d["relayqd"]["delivered"]')" = \
	    "(False, True, 2, 4)" ]
}
wait_for "stats: work down, 4 delivered" 300 settled
ok $? "stats --json: work is down with deferrals, 4 recipients delivered"
relayq stats --json > "$T_DIR/s1.json"
relayq stats > "$T_DIR/s1.txt"
relayq stats --prometheus > "$T_DIR/s1.prom"
relayq stats --json > "$T_DIR/s1b.json"
# (the queue's age, the file's time and the bucket levels, which refill,
# may move meanwhile: not compared)
"$PYTHON3" -c 'import json, sys
a, b = (json.load(open(f))["relayqd"] for f in sys.argv[1:3])
for r in (a, b):
    del r["updated"]
    for h in r["smarthosts"].values():
        for k in ("rate_bucket", "recipient_bucket"):
            if h[k]:
                del h[k]["level"]
sys.exit(0 if a == b else 1)' "$T_DIR/s1.json" "$T_DIR/s1b.json"
ok $? "the figures held still while the three formats were read"

# ---- 2. JSON.
jf() { # jf EXPR: EXPR over the JSON saved in s1.json
	"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1])); r = d["relayqd"]; h = r["smarthosts"]
print(eval("(" + sys.argv[2] + ")"))' "$T_DIR/s1.json" "$1"
}
is "$(jf 'list(h)')" "['default', 'work']" \
    "stats --json: smarthosts has [smarthost] as default, then work"
is "$(jf 'h["default"]["up"], h["default"]["sent"], h["default"]["deferred"],
h["default"]["failed"], h["default"]["down_since"]')" \
    "(True, 2, 0, 1, None)" \
    "default: up, 2 sent (ok@ and the bounce), 0 deferred, 1 failed (550)"
D=$(jf 'h["work"]["deferred"]')
is "$(jf 'h["work"]["up"], h["work"]["sent"], h["work"]["failed"]')" \
    "(False, 2, 0)" "work: down, 2 sent (w1@, w2@), 0 failed"
[ "$D" -ge 1 ] 2>/dev/null
ok $? "work: $D deferred (at least w3@)"
SINCE=$(jf 'h["work"]["since"]')
[ "$SINCE" -ge "$T0" ] 2>/dev/null && [ "$SINCE" -le "$T1" ] &&
    [ "$(jf 'h["work"]["down_since"]')" = "$SINCE" ]
ok $? "work: down since $SINCE, between the start and the deferral"
DSINCE=$(jf 'h["default"]["since"]')
[ "$DSINCE" -ge "$T0" ] 2>/dev/null && [ "$DSINCE" -le "$T1" ]
ok $? "default: up since relayqd started ($DSINCE)"
is "$(jf 'h["default"]["pace_per_second"], h["default"]["throttled"],
h["default"]["rate_bucket"], h["default"]["recipient_bucket"]')" \
    "(None, False, None, None)" "default: no limit, no buckets"
is "$(jf 'h["work"]["pace_per_second"] > 0, h["work"]["throttled"],
h["work"]["rate_bucket"]["size"], 98 <= h["work"]["rate_bucket"]["level"] <= 100,
h["work"]["recipient_bucket"]["size"],
997 <= h["work"]["recipient_bucket"]["level"] <= 1000')" \
    "(True, False, 100, True, 1000, True)" \
    "work: a pace, its rate_limit and recipient_limit buckets, levels after the sends"
is "$(jf 'r["delivered"], r["failed"], r["deferred"] == h["work"]["deferred"],
r["smarthost_up"], r["bounces"]')" "(4, 1, True, True, 1)" \
    "the global figures keep their names and add up"

# ---- 3. Text.
grep -Eq '^smarthost default: up since [0-9]+ \(.*, [0-9]+s ago\)$' \
    "$T_DIR/s1.txt"
ok $? "text: default is up since a time"
grep -q '^smarthost default: 2 sent, 0 deferred, 1 failed$' "$T_DIR/s1.txt"
ok $? "text: default's counters"
grep -q '^smarthost default: pace no limit$' "$T_DIR/s1.txt"
ok $? "text: default has no limit"
grep -Eq "^smarthost work: down since $SINCE \(.*, [0-9]+s ago\)\$" \
    "$T_DIR/s1.txt"
ok $? "text: work is down since $SINCE"
grep -q "^smarthost work: 2 sent, $D deferred, 0 failed\$" "$T_DIR/s1.txt"
ok $? "text: work's counters"
grep -Eq '^smarthost work: pace [0-9.e-]+ messages a second; rate_limit bucket [0-9.]+ of 100; recipient_limit bucket [0-9.]+ of 1000$' \
    "$T_DIR/s1.txt"
ok $? "text: work's pace and buckets"
grep -q '^since start: 4 delivered, [0-9]* deferred, 1 failed, 1 bounces$' \
    "$T_DIR/s1.txt" && grep -q '^smarthost: up$' "$T_DIR/s1.txt"
ok $? "text: the global lines are unchanged"

# ---- 4. Prometheus: every line's syntax, then the values.
"$PYTHON3" - "$T_DIR/s1.prom" > "$T_DIR/prom.vals" 2> "$T_DIR/prom.err" <<'PYEOF'
import re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LVAL = r'"(?:[^"\\\n]|\\[\\"n])*"'
LABELS = r'\{[a-zA-Z_][a-zA-Z0-9_]*=' + LVAL + \
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*=' + LVAL + r')*\}'
SAMPLE = re.compile(r'^(' + NAME + r')(' + LABELS + r')? (\S+)$')
typed, helped, done, seen = {}, set(), set(), set()
current = None
for n, l in enumerate(open(sys.argv[1]).read().split('\n'), 1):
    if l == '':
        continue
    m = re.match(r'^# (HELP|TYPE) (' + NAME + r') (.+)$', l)
    if m:
        kind, name, rest = m.groups()
        assert name not in done, "%d: family %s split: %s" % (n, name, l)
        if kind == 'TYPE':
            assert rest in ('counter', 'gauge', 'untyped'), l
            assert name not in typed, "%d: TYPE twice: %s" % (n, l)
            typed[name] = rest
        else:
            assert name not in helped, "%d: HELP twice: %s" % (n, l)
            helped.add(name)
        if current is not None and current != name:
            done.add(current)
        current = name
        continue
    assert not l.startswith('#'), "%d: stray comment: %s" % (n, l)
    m = SAMPLE.match(l)
    assert m, "%d: not a sample line: %r" % (n, l)
    name, labels, value = m.groups()
    float(value)  # a number, NaN or +/-Inf
    assert name in typed, "%d: sample before its TYPE: %s" % (n, l)
    assert name not in done, "%d: family %s split: %s" % (n, name, l)
    if current != name:
        if current is not None:
            done.add(current)
        current = name
    if typed[name] == 'counter':
        assert name.endswith('_total'), l
    key = (name, labels or '')
    assert key not in seen, "%d: duplicate series: %s" % (n, l)
    seen.add(key)
    print(name + (labels or ''), value)
PYEOF
ok $? "stats --prometheus: every line is valid exposition syntax $(cat "$T_DIR/prom.err")"
pv() { # pv SERIES: its value in s1.prom
	awk -v k="$1" '$1 == k { print $2 }' "$T_DIR/prom.vals"
}
is "$(pv 'relayq_smarthost_sent_total{smarthost="default"}') $(pv 'relayq_smarthost_deferred_total{smarthost="default"}') $(pv 'relayq_smarthost_failed_total{smarthost="default"}')" \
    "2 0 1" "prometheus: default's sent, deferred, failed"
is "$(pv 'relayq_smarthost_sent_total{smarthost="work"}') $(pv 'relayq_smarthost_deferred_total{smarthost="work"}') $(pv 'relayq_smarthost_failed_total{smarthost="work"}')" \
    "2 $D 0" "prometheus: work's sent, deferred, failed"
is "$(pv 'relayq_smarthost_reachable{smarthost="default"}') $(pv 'relayq_smarthost_reachable{smarthost="work"}') $(pv 'relayq_smarthost_state_since_timestamp_seconds{smarthost="work"}')" \
    "1 0 $SINCE" "prometheus: default up, work down since $SINCE"
is "$(pv 'relayq_smarthost_bucket_capacity_tokens{smarthost="work",bucket="messages"}') $(pv 'relayq_smarthost_bucket_capacity_tokens{smarthost="work",bucket="recipients"}') $(pv 'relayq_smarthost_pace_messages_per_second{smarthost="default"}')" \
    "100 1000 0" "prometheus: work's bucket sizes; default not paced"
[ -n "$(pv 'relayq_smarthost_bucket_level_tokens{smarthost="work",bucket="messages"}')" ] &&
    ! grep -q 'bucket.*smarthost="default"' "$T_DIR/s1.prom"
ok $? "prometheus: a bucket level for work only"
grep -q '^# TYPE relayq_smarthost_sent_total counter$' "$T_DIR/s1.prom" &&
    grep -q '^# TYPE relayq_smarthost_reachable gauge$' "$T_DIR/s1.prom"
ok $? "prometheus: counters are typed counter, states gauge"
is "$(pv relayq_deliveries_total) $(pv relayq_failures_total) $(pv relayq_smarthost_up)" \
    "4 1 1" "prometheus: the global series keep their names"

# ---- 5. A reload keeps the counters.
kill -HUP "$DAEMON_PID"
wait_for "the reload" 300 logged 1 'configuration reloaded'
ok $? "relayqd reloaded its configuration"
send someone@example.org after-reload@example.net
wait_for "stats: default sent 3" 300 default_sent 3
ok $? "after the reload, a new delivery counts on top of the old ones"
is "$(js 'h["work"]["sent"], h["work"]["deferred"], h["work"]["up"],
h["work"]["since"], h["default"]["failed"], d["relayqd"]["delivered"]')" \
    "(2, $D, False, $SINCE, 1, 5)" \
    "the reload kept work's counters and its down-since, and default's failed"

# ---- 5b. A reload that changes a section that keeps its name (its
# destination is retired and a new one made) keeps its counters too.
sed -i '/^\[smarthost\]$/a helo_name = other.test' "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "the reload that changes [smarthost]" 300 logged 1 \
    'smarthost 127.0.0.1: retired by the reload'
ok $? "the changed [smarthost] was retired and made anew"
wait_for "the reload's end" 300 logged 2 'configuration reloaded'
ok $? "the reload is over"
send someone@example.org after-change@example.net
wait_for "stats: default sent 4" 300 default_sent 4
ok $? "a delivery after the change counts on top of the 3 before it"
is "$(js 'h["default"]["failed"], h["work"]["sent"]')" "(1, 2)" \
    "the changed section kept its failed counter"
relayq stats --prometheus > "$T_DIR/s2.prom"
grep -q '^relayq_smarthost_sent_total{smarthost="default"} 4$' "$T_DIR/s2.prom" &&
    grep -q '^relayq_smarthost_failed_total{smarthost="default"} 1$' "$T_DIR/s2.prom"
ok $? "prometheus: default's counters did not go back to 0"

# ---- 6. A reload that renames a section: no crash, valid output.
sed -i 's/^\[smarthost work\]$/[smarthost office]/' "$CONF"
kill -HUP "$DAEMON_PID"
reload_done() { logged 1 'reload failed' || logged 3 'configuration reloaded'; }
wait_for "the second reload's outcome" 300 reload_done
ok $? "relayqd handled a reload that renames [smarthost work]"
send someone@example.org after-rename@example.net
wait_for "stats: default sent 5" 300 default_sent 5
ok $? "relayqd still runs and publishes after the rename"
# Refused (a restart is needed): work keeps its figures.  Accepted (a
# relayqd that adds and removes sections on reload): office is new and
# starts from zero, and work is gone.
is "$(js '[(n, x["sent"]) for n, x in h.items()] in
([("default", 5), ("work", 2)], [("default", 5), ("office", 0)])')" \
    True "after the rename: default and either work (refused) or a fresh office"
relayq stats --prometheus | grep -q '^relayq_smarthost_sent_total{smarthost="default"} 5$'
ok $? "stats --prometheus still prints the labelled series"

# ---- 7. A restart starts every counter from zero, global or not; the
# renamed section is now there under its new name, and 60 more (never
# used) make the stats file longer than a page.
stop_daemon >/dev/null
is "$?" 0 "relayqd stopped cleanly"
i=1
while [ $i -le 60 ]; do
	printf '[smarthost s%02d]\nhost = 127.0.0.1\nport = %s\ntls = none\n' \
	    "$i" "$PORT_B" >> "$CONF"
	i=$((i + 1))
done
OLD_PID=$DAEMON_PID
start_daemon
wait_started
NAMES='["default", "office"] + ["s%02d" % i for i in range(1, 61)]'
restarted() {
	[ "$(js 'd["relayqd"]["pid"] != '"$OLD_PID"' and list(h) == '"$NAMES")" = True ]
}
wait_for "stats from the new relayqd" 300 restarted
ok $? "after a restart: default, office and s01 to s60, in file order"
[ "$(wc -c < "$SPOOL/stats")" -gt 8192 ]
ok $? "the stats file is longer than 8 KiB ($(wc -c < "$SPOOL/stats") bytes)"
is "$(relayq stats | grep -c '^smarthost s[0-9]*: 0 sent, 0 deferred, 0 failed$') $(relayq stats --prometheus | grep -c '^relayq_smarthost_reachable{smarthost="s[0-9]*"} 1$')" \
    "60 60" "text and prometheus list all 60 idle smarthosts"
is "$(js 'h["default"]["sent"], h["default"]["failed"], d["relayqd"]["delivered"],
h["office"]["sent"]')" "(0, 0, 0, 0)" \
    "after a restart the counters start from zero, per smarthost as globally"

stop_daemon >/dev/null
is "$?" 0 "relayqd stopped cleanly after the restart"
done_testing
