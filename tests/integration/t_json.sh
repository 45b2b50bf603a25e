#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# relayq queue --json and stats --json with hostile values (issue 14:
# the output is encoded by jansson): a sender with quotes and
# backslashes, recipients with bytes that are not UTF-8 (0xff 0xfe, a
# cut-short sequence) and with valid UTF-8, and server replies holding
# quotes, backslashes, braces and 8-bit text.  Every document must parse
# with Python's strict json module from the raw bytes, hold the values
# (invalid bytes as U+FFFD, one per byte, as relayq(1) says), and keep
# its keys.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf "retry_min = 1h
retry_max = 1h"
relayq() { "$RELAYQ" -c "$CONF" "$@"; }

# A scripted server: each RCPT refused for now with a hostile text.
cat > "$T_DIR/fake.t" <<'EOS'
S: 220 fake.test ESMTP
C: EHLO
S: 250-fake.test
S: 250 SMTPUTF8
C: MAIL
S: 250 2.1.0 ok
C: RCPT
S: 450 4.2.0 "quoted" back\slash {"k": [1]} tab	end
C: RCPT
S: 451 4.3.0 \u0000 \" é
C: RCPT
S: 452 4.2.2 ü full
C: 
S: 250 2.0.0 ok
C: 
S: 221 2.0.0 bye
EOS
"$PYTHON3" "$top_srcdir/tests/integration/fakesmtpd.py" --port "$PORT" \
    --script "$T_DIR/fake.t" --log "$T_DIR/fake.log" \
    --pidfile "$T_DIR/fake.pid" >/dev/null 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "fake server" 100 test -s "$T_DIR/fake.pid"

# parse FILE EXPR: FILE's bytes parse as strict UTF-8 JSON (d) and the
# Python expression EXPR is printed.
parse() {
	"$PYTHON3" -c 'import json, sys
raw = open(sys.argv[1], "rb").read()
d = json.loads(raw.decode("utf-8", "strict"))
print(eval(sys.argv[2]))' "$1" "$2"
}

start_daemon
wait_started
SENDER='"q\"uo\\te"@example.org'
BAD=$(printf 'b\377\376ad@example.net')
CUT=$(printf 'x\342\202@example.net')
printf 'Subject: hostile\n\nbody\n' |
    "$SENDMAIL" -f "$SENDER" "$BAD" "$CUT" 'ü@example.net'
ok $? "a message with hostile addresses is queued"
wait_for "the server's replies" 100 sh -c \
    "grep -q 'status=deferred (452 4.2.2' '$T_DIR/relayqd.log'"
ok $? "relayqd logs the three deferrals"
wait_for "the state saved" 100 sh -c \
    "\"$RELAYQ\" -c \"$CONF\" queue --json | grep -q '452 4.2.2'"

relayq queue --json > "$T_DIR/q.json"
ok $? "queue --json exits 0"
is "$(parse "$T_DIR/q.json" 'len(d["messages"]), d["count"]')" "(1, 1)" \
    "queue --json parses as strict UTF-8 JSON"
is "$(parse "$T_DIR/q.json" 'd["messages"][0]["sender"]')" "$SENDER" \
    "queue --json: quotes and backslashes of the sender kept"
is "$(parse "$T_DIR/q.json" '" ".join(r["address"] for r in d["messages"][0]["recipients"])')" \
    "b��ad@example.net x��@example.net ü@example.net" \
    "queue --json: each byte that is not UTF-8 is one U+FFFD; valid UTF-8 kept"
# The texts as relayqd stored them (relayq show prints the bytes).
relayq show "$(parse "$T_DIR/q.json" 'd["messages"][0]["id"]')" > "$T_DIR/show"
"$PYTHON3" - "$T_DIR/q.json" "$T_DIR/show" <<'PYEOF'
import json, re, sys
m = json.loads(open(sys.argv[1], "rb").read().decode())["messages"][0]
show = open(sys.argv[2], "rb").read().decode("utf-8", "replace")
want = re.findall(r"^  <[^\n]*> deferred \((.*)\)$", show, re.M)
got = [r["reply"] for r in m["recipients"]]
last = re.search(r"^last error: (.*)$", show, re.M).group(1)
# Each text as the server sent it, made safe once and never escaped:
# one backslash each, the tab a space, valid UTF-8 kept.
ok = (got == want and m["last_error"] == last and
      got[0] == '450 4.2.0 "quoted" back\\slash {"k": [1]} tab end' and
      got[1] == '451 4.3.0 \\u0000 \\" \u00e9' and
      got[2] == '452 4.2.2 \u00fc full')
if not ok:
    print("# json %s\n# show %s %s" % (ascii(got), ascii(want), ascii(last)))
sys.exit(0 if ok else 1)
PYEOF
ok $? "queue --json: replies with quotes, backslashes, braces and UTF-8, each as sent"
is "$(parse "$T_DIR/q.json" 'sorted(d["messages"][0].keys())')" \
    "['arrival', 'attempts', 'directory', 'first_attempt', 'held', 'id', 'last_attempt', 'last_error', 'next_attempt', 'recipients', 'sender', 'size', 'smarthost']" \
    "queue --json: the message keys"
is "$(parse "$T_DIR/q.json" 'sorted(d["messages"][0]["recipients"][0].keys()), [r["state"] for r in d["messages"][0]["recipients"]]')" \
    "(['address', 'reply', 'state'], ['deferred', 'deferred', 'deferred'])" \
    "queue --json: the recipient keys and states"
# One message a line, as before jansson.
is "$(wc -l < "$T_DIR/q.json" | tr -d ' ')" 4 \
    "queue --json: the message on one line between the head and the totals"

wait_for "stats with the last error" 100 sh -c \
    "\"$RELAYQ\" -c \"$CONF\" stats --json | grep -q '452 4.2.2'"
relayq stats --json > "$T_DIR/stats.json"
ok $? "stats --json exits 0"
is "$(parse "$T_DIR/stats.json" 'd["queue"]["deferred"], d["relayqd_running"], d["relayqd"]["last_error"].startswith("452 4.2.2 ")')" \
    "(1, True, True)" "stats --json parses; the last error"
is "$(parse "$T_DIR/stats.json" 'sorted(d.keys()), sorted(d["queue"].keys())')" \
    "(['failed', 'queue', 'relayqd', 'relayqd_running'], ['deferred', 'held', 'incoming', 'oldest_age_seconds', 'pending', 'total', 'unreadable'])" \
    "stats --json: the keys"
stop_daemon
ok $? "relayqd exits 0"

# Without relayqd: null counters, still one valid document each.
relayq stats --json > "$T_DIR/stats2.json"
is "$(parse "$T_DIR/stats2.json" 'd["relayqd_running"], d["relayqd"]')" \
    "(False, None)" "stats --json without relayqd parses: relayqd is null"
relayq queue --json > "$T_DIR/q2.json"
is "$(parse "$T_DIR/q2.json" 'd["messages"][0]["recipients"][0]["address"]')" \
    "b��ad@example.net" "queue --json without relayqd parses"

done_testing
