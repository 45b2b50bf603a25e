#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A server's reply text is made safe once and never escaped twice (found
# by an outside tester: one backslash came out as 4 in relayq show, mailq
# and --json, 8 in stats, and a byte 0xe9 as the text "\\xe9" in JSON).
# aiosmtpd answers RCPT with a 4xx whose text holds a backslash, a double
# quote, a byte 0xe9 (not UTF-8), a tab and U+009B (a C1 control, CSI on
# some terminals).  The reply parser cleans it once (str_clean_text: the
# backslash and the quote kept, 0xe9 and U+009B become U+FFFD, the tab a
# space), and each output applies its own encoding only:
#  - relayq show, mailq and relayq stats print the clean text as it is;
#  - relayq queue --json and stats --json: JSON strings (jansson) that
#    Python reads back as exactly that text;
#  - stats --prometheus: the label value with \\ and \" escaped;
#  - relayqd's log line: the log's own escape (\\, \xHH), once;
#  - sendmail -v: relayqd escapes each line for its socket, the front
#    end undoes that once and prints the clean text.
# Then a message that is there but cannot be read is counted by relayq
# stats as by relayq queue --json (as unreadable).
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf "retry_min = 1h
retry_max = 1h"
relayq() { "$RELAYQ" -c "$CONF" "$@"; }

REPLY=$(printf '451 4.3.0 a\\b "q" c\351d\te\302\233f')
WANT=$(printf '451 4.3.0 a\\b "q" c\357\277\275d e\357\277\275f')
start_server --rcpt-reply "later=$REPLY"
start_daemon
wait_started
ID=$(printf 'Subject: reply text\n\nbody\n' |
    "$SENDMAIL" -C "$CONF" --print-queue-id rcpt.later@example.net)
ok $? "a message is queued"
wait_for "the deferral to be saved" 300 state_saved 1
ok $? "the server's 451 defers it"

# relayq show: the last error and the recipient's reply, as they are.
relayq show "$ID" > "$T_DIR/show"
is "$(sed -n 's/^last error: //p' "$T_DIR/show")" "$WANT" \
    "relayq show: the last error is the clean text, not escaped"
is "$(sed -n 's/^  <rcpt.later@example.net> deferred (\(.*\))$/\1/p' "$T_DIR/show")" \
    "$WANT" "relayq show: the recipient's reply likewise"

# mailq: the last error line (the reply is the same, so not repeated).
"$SENDMAIL" -C "$CONF" -bp > "$T_DIR/mailq"
is "$(sed 's/^ *//' "$T_DIR/mailq" | grep -cxF "($WANT)")" 1 \
    "mailq: the clean text once"

# queue --json: strict UTF-8 JSON; one backslash, U+FFFD for each byte.
relayq queue --json > "$T_DIR/q.json"
"$PYTHON3" - "$T_DIR/q.json" <<'PYEOF'
import json, sys
want = '451 4.3.0 a\\b "q" c\ufffdd e\ufffdf'
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
m = d["messages"][0]
got = (m["last_error"], m["recipients"][0]["reply"])
if got != (want, want):
    print("# got %s" % ascii(got))
sys.exit(0 if got == (want, want) and want.count("\\") == 1 else 1)
PYEOF
ok $? "queue --json: one backslash, the quote, U+FFFD for 0xe9 and U+009B"

# relayqd's log: its own escape, applied once.
grep -qF "status=deferred (451 4.3.0 a\\\\b \"q\" c\\xef\\xbf\\xbdd e\\xef\\xbf\\xbdf)" \
    "$T_DIR/relayqd.log"
ok $? "relayqd's log line escapes the text once (\\\\ and \\xHH)"

# relayq stats: text, JSON, Prometheus.
wait_for "stats to have the last error" 100 sh -c \
    "'$RELAYQ' -c '$CONF' stats --json | grep -q '451 4.3.0'"
relayq stats > "$T_DIR/stats"
is "$(sed -n 's/^last error: [0-9]* //p' "$T_DIR/stats")" "$WANT" \
    "stats (text): the clean text, not escaped"
relayq stats --json > "$T_DIR/stats.json"
"$PYTHON3" - "$T_DIR/stats.json" <<'PYEOF'
import json, sys
want = '451 4.3.0 a\\b "q" c\ufffdd e\ufffdf'
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
got = d["relayqd"]["last_error"]
if got != want:
    print("# got %s" % ascii(got))
sys.exit(0 if got == want else 1)
PYEOF
ok $? "stats --json: one backslash, the quote, U+FFFD"
relayq stats --prometheus > "$T_DIR/stats.prom"
PROM=$(printf 'relayq_last_error_info{text="451 4.3.0 a\\\\b \\"q\\" c\357\277\275d e\357\277\275f"} 1')
is "$(grep -c '^relayq_last_error_info' "$T_DIR/stats.prom")" 1 \
    "stats --prometheus: one relayq_last_error_info sample"
grep -qxF "$PROM" "$T_DIR/stats.prom"
ok $? "stats --prometheus: the label value with \\\\ and \\\" escaped, UTF-8 kept"
"$PYTHON3" - "$T_DIR/stats.prom" <<'PYEOF'
import re, sys
# The exposition's label value grammar, decoded: the text comes back.
raw = open(sys.argv[1], "rb").read().decode("utf-8", "strict")
m = re.search(r'^relayq_last_error_info\{text="((?:[^"\\\n]|\\[\\"n])*)"\} 1$',
              raw, re.M)
text = m and re.sub(r'\\(.)', lambda g: {'n': '\n'}.get(g.group(1), g.group(1)),
                    m.group(1))
sys.exit(0 if text == '451 4.3.0 a\\b "q" c\ufffdd e\ufffdf' else 1)
PYEOF
ok $? "stats --prometheus: the label parses back to the clean text"

# sendmail -v: relayqd escapes each line once for its socket, the front
# end undoes that once and prints the clean text.
ID3=$(printf 'Subject: verbose\n\nbody\n' |
    "$SENDMAIL" -C "$CONF" -v --print-queue-id rcpt.later@example.net \
    2>"$T_DIR/v.err")
is "$?" 69 "sendmail -v: exit 69, not delivered"
is "$(sed -n 's/^<<< \(451 .*\)$/\1/p' "$T_DIR/v.err")" "$WANT" \
    "sendmail -v: the server's line as sent, made clean, not escaped"
grep -qxF "relayq: not delivered now: $WANT; the message stays queued and will be retried" \
    "$T_DIR/v.err"
ok $? "sendmail -v: the result names the reply once, not escaped"
relayq delete "$ID3" >/dev/null
ok $? "that message deleted"
stop_daemon
ok $? "relayqd exits 0"

# A state file as an older relayq wrote it: the reply escaped by the
# reply parser, then again by the state writer.  It is read with the
# writer's escape undone: shown escaped once, as that version meant.
"$PYTHON3" - "$SPOOL/state/$ID" "$ID" <<'PYEOF'
import sys, zlib
old = rb'451 4.3.0 a\\\\b c\\xe9d'
body = (b"RELAYQ-STATE 2\nI20:%s\nN1:1\nA10:1700000000\nL10:1700000000\n"
        b"W10:1700003600\nH1:0\nD1:0\nX%d:%s\nP%d:0 p %s\n"
        % (sys.argv[2].encode(), len(old), old, len(old) + 4, old))
with open(sys.argv[1] + ".tmp", "wb") as f:
    f.write(body + b"E8:%08x\n" % (zlib.crc32(body) & 0xffffffff))
PYEOF
mv -f "$SPOOL/state/$ID.tmp" "$SPOOL/state/$ID"
relayq show "$ID" > "$T_DIR/show.old"
is "$(sed -n 's/^last error: //p' "$T_DIR/show.old")" \
    "$(printf '451 4.3.0 a\\\\b c\\xe9d')" \
    "an older state file: its reply shown escaped once, not twice"

# A message that is there but cannot be read: relayq queue --json lists
# it (with an error) and counts it; relayq stats counts it too.
ID2=$(printf 'Subject: two\n\nbody\n' |
    "$SENDMAIL" -C "$CONF" --print-queue-id rcpt2@example.net)
ok $? "a second message is queued (relayqd stopped: it stays in incoming/)"
printf 'not a message\n' > "$T_DIR/garbage"
mv -f "$T_DIR/garbage" "$SPOOL/incoming/$ID2"
relayq queue --json > "$T_DIR/q2.json"
is "$("$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["count"], sum(1 for m in d["messages"] if "error" in m))' "$T_DIR/q2.json")" \
    "2 1" "queue --json: 2 messages, one of them unreadable"
relayq stats --json > "$T_DIR/stats2.json"
is "$("$PYTHON3" -c 'import json, sys
q = json.load(open(sys.argv[1]))["queue"]
print(q["total"], q["unreadable"], q["deferred"], q["incoming"])' "$T_DIR/stats2.json")" \
    "2 1 1 0" "stats --json: the same 2, one unreadable"
relayq stats | grep -qx 'queue: 2 messages (incoming 0, pending 0, deferred 1, held 0, unreadable 1)'
ok $? "stats (text): counts and names the unreadable one"
relayq stats --prometheus | grep -qx 'relayq_queue_messages{state="unreadable"} 1'
ok $? "stats --prometheus: relayq_queue_messages{state=\"unreadable\"} 1"
# One that cannot be opened (a symbolic link: opened with O_NOFOLLOW,
# as root too) is counted as well.
ID4=$(echo "$ID2" | sed 's/.$//')$(echo "$ID2" | sed 's/.*\(.\)$/\1/' | tr '0-9A-F' '1-9A-F0')
ln -s /etc/hostname "$SPOOL/queue/$ID4"
relayq queue --json > "$T_DIR/q3.json"
relayq stats --json > "$T_DIR/stats3.json"
is "$("$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1])); q = json.load(open(sys.argv[2]))["queue"]
print(d["count"], sum(1 for m in d["messages"] if "error" in m), q["total"], q["unreadable"])' \
    "$T_DIR/q3.json" "$T_DIR/stats3.json")" "3 2 3 2" \
    "a message that cannot be opened: counted by queue --json and stats alike"
rm -f "$SPOOL/queue/$ID4"

done_testing
