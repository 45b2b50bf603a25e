#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# relayq probe and a hostile or broken server, played by fakesmtpd.py (no
# real server sends these on demand).  Found by an outside tester (o14):
#  F5: probe printed the server's C1 controls (U+009B, a CSI), bidi
#      controls (U+202E) and bytes that are not UTF-8 raw to the
#      terminal; every line it prints is now clean text, as relayqd's
#      log and relayq show make it (U+FFFD);
#  F6: a malformed reply to RCPT (over 100 lines, a line without an end
#      after 64 KiB) was "The server refuses the recipient <x@y.test> ()."
#      with 69; it is a malformed reply, 75, as relayqd defers on it.
# And a 451 with an ESC is a 451 (o14 F4): a temporary refusal, 75.
. "$top_srcdir/tests/integration/lib.sh"

OUT=$T_DIR/probe.out

# serve NAME RCPT-REPLY [GREETING]: a server that greets with GREETING,
# answers RCPT with RCPT-REPLY (Python escapes; "\n" separates lines),
# then RSET and QUIT.
serve() {
	PORT=$(free_port)
	write_conf
	"$PYTHON3" -c 'import sys
def unesc(s):
    return s.encode().decode("unicode_escape").encode("latin-1").decode(
        "utf-8", errors="surrogateescape")
rcpt = unesc(sys.argv[2])
greet = unesc(sys.argv[3])
with open(sys.argv[1], "w", encoding="utf-8",
          errors="surrogateescape") as f:
    f.write("S: " + greet + "\nC: EHLO\nS: 250 fake.test\n"
            "C: MAIL\nS: 250 ok\nC: RCPT\n" +
            "".join("S: " + l + "\n" for l in rcpt.split("\n")) +
            "C: RSET\nS: 250 ok\nC: QUIT\nS: 221 bye\n")' \
	    "$T_DIR/$1.t" "$2" "${3:-220 fake.test ESMTP}"
	start_fakesmtpd "$T_DIR/$1.t" "$T_DIR/fake.$1.log"
}

# probe DESC WANT-EXIT SENTENCE-PATTERN: runs relayq probe --rcpt and
# checks its exit code and its last line.
probe() {
	"$RELAYQ" probe --rcpt x@y.test > "$OUT" 2> "$T_DIR/probe.err"
	rc=$?
	is "$rc" "$2" "$1: exit $2"
	tail -n 1 "$OUT" | grep -Eq "$3"
	ok $? "$1: says '$3' ($(tail -n 1 "$OUT"))"
	[ "$rc" = "$2" ] || sed 's/^/# /' "$OUT" "$T_DIR/probe.err"
	kill "$FAKE_PID" 2>/dev/null
}

# clean FILE: FILE is UTF-8 without C0 (but LF), DEL, C1, U+2028,
# U+2029 or a bidi control; prints what it finds otherwise.
clean() {
	"$PYTHON3" -c 'import re, sys
raw = open(sys.argv[1], "rb").read()
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("not UTF-8: %s" % e)
bad = re.findall("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f"
                 "\u202a-\u202e\u2066-\u2069]", text)
if bad:
    sys.exit("unsafe: %r" % bad)' "$1"
}

# ---- F5: hostile bytes in the greeting and the RCPT reply ----
serve hostile '250 ok \xc2\x9b31m \xe2\x80\xae\xff|' \
    '220 fake \xc2\x9b2J \xe2\x80\xae \xff|\x1b[2J\x07'
probe "hostile bytes" 0 'accepts mail from'
MSG=$(clean "$OUT" 2>&1)
ok $? "hostile bytes: the output is clean UTF-8 ${MSG:+($MSG)}"
grep -q "^S: 220 fake $(printf '\357\277\275')2J $(printf '\357\277\275') $(printf '\357\277\275')|" "$OUT"
ok $? "hostile bytes: the greeting shown with U+FFFD: $(grep '^S: 220' "$OUT")"
grep -q "^S: 250 ok $(printf '\357\277\275')31m $(printf '\357\277\275\357\277\275')|" "$OUT"
ok $? "hostile bytes: the RCPT reply shown with U+FFFD: $(grep '^S: 250 ok .' "$OUT")"

# ---- F4: a 451 with an ESC is a temporary refusal ----
serve esc451 '451 4.7.1 x\x1b[0m'
probe "451 with an ESC" 75 \
    "refuses the recipient <x@y.test> \\(451 4.7.1 x.{1,3}\\[0m\\): try again later"
clean "$OUT"
ok $? "451 with an ESC: the output is clean"

# ---- F6: malformed replies to RCPT ----
serve manylines "$("$PYTHON3" -c 'print("250-x\\n" * 150 + "250 end", end="")')"
probe "150 continuation lines" 75 \
    "reply in the rcpt stage was malformed \\(bad server reply: too many reply lines\\)"
grep -q '^\* malformed reply: bad server reply: too many reply lines$' "$OUT"
ok $? "150 continuation lines: noted"
! grep -q 'refuses the recipient' "$OUT"
ok $? "150 continuation lines: no refusal claimed"

serve longline "250 $("$PYTHON3" -c 'print("e" * 100000, end="")')"
probe "a 100 KB line" 75 \
    "reply in the rcpt stage was malformed \\(reply line too long\\)"
! grep -q 'refuses the recipient' "$OUT"
ok $? "a 100 KB line: no refusal claimed"

done_testing
