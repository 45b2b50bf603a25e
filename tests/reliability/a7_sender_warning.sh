#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Issue 13, Info: with allow_from_override = yes (the default) any user
# may choose the envelope sender; a user other than root who chooses one
# that is not their login address gets Sendmail's
# "X-Authentication-Warning: <host>: <user> set sender to <addr> using
# -f" (MAIL FROM under -bs) after Received:.  nobody (setpriv) submits;
# the messages are delivered to aiosmtpd and their header fields parsed:
# one valid one-line field when warranted, none for nobody's own address
# (bare or qualified, domain in another case), none without -f, none for
# root.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "setpriv"
command -v setpriv >/dev/null || { echo "Bail out! setpriv missing (util-linux)"; exit 1; }

PORT=$(free_port)
write_conf
nobody_setup || { echo "Bail out! cannot prepare the spool for nobody"; exit 1; }
start_server
start_daemon
daemon_up

# warnings SEQ: the X-Authentication-Warning fields of message A7-SEQ,
# one per line, or "none"; "MISSING" when it did not arrive.
warnings() {
	"$PYTHON3" - "$MAILDIR" "A7-$1" <<'EOF'
import email, email.policy, glob, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.eml")):
    raw = open(f, "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    if m.get("X-Seq") != sys.argv[2]:
        continue
    w = m.get_all("X-Authentication-Warning") or []
    # The field must be one physical line, just after Received:'s lines.
    lines = raw.split(b"\r\n")
    for i, l in enumerate(lines):
        if l.startswith(b"X-Authentication-Warning:"):
            if lines[i + 1][:1] in (b" ", b"\t") or len(l) > 998:
                print("FOLDED-OR-LONG")
    print("\n".join(w) if w else "none")
    break
else:
    print("MISSING")
EOF
}
N=0
# send SEQ WHO ARGS...: submits message A7-SEQ as WHO (nobody or root).
send() {
	_seq=$1; _who=$2; shift 2
	printf 'X-Seq: A7-%s\nSubject: a7 %s\n\nx\n' "$_seq" "$_seq" > "$T_DIR/m"
	chmod 644 "$T_DIR/m"
	if [ "$_who" = nobody ]; then
		as_nobody "$NSM" -i "$@" a7@example.net < "$T_DIR/m"
	else
		"$SENDMAIL" -i "$@" a7@example.net < "$T_DIR/m"
	fi
	ok $? "A7-$_seq: $_who $* queued"
	N=$((N + 1))
}

send 1 nobody -f other@example.com
send 2 nobody
send 3 nobody -f nobody
send 4 nobody -f nobody@EXAMPLE.org
send 5 root -f other@example.com
send 6 nobody -f '"x y$z"@example.com'
send 7 nobody -f ''
printf 'EHLO c\r\nMAIL FROM:<boss@example.com>\r\nRCPT TO:<a7@example.net>\r\nDATA\r\nX-Seq: A7-8\r\n\r\nx\r\n.\r\nMAIL FROM:<nobody@example.org>\r\nRCPT TO:<a7@example.net>\r\nDATA\r\nX-Seq: A7-9\r\n\r\nx\r\n.\r\nQUIT\r\n' |
    as_nobody "$NSM" -bs > "$T_DIR/bs.out" 2>&1
ok $? "-bs session as nobody"
N=$((N + 2))
wait_for "delivery" 300 has_mail "$N"
ok $? "all $N messages delivered"

is "$(warnings 1)" \
    "relayq.test: nobody set sender to other@example.com using -f" \
    "nobody with -f other: the warning"
is "$(warnings 2)" none "nobody without -f: none"
is "$(warnings 3)" none "nobody with -f nobody (bare): none"
is "$(warnings 4)" none "nobody with -f nobody@EXAMPLE.org: none"
is "$(warnings 5)" none "root with -f other: none"
is "$(warnings 6)" \
    'relayq.test: nobody set sender to "x y$z"@example.com using -f' \
    "a quoted local part stays in one valid field"
is "$(warnings 7)" "relayq.test: nobody set sender to <> using -f" \
    "the null sender is shown as <>"
is "$(warnings 8)" \
    "relayq.test: nobody set sender to boss@example.com using MAIL FROM" \
    "-bs MAIL FROM other: the warning"
is "$(warnings 9)" none "-bs MAIL FROM own address: none"
f=$(grep -l '^X-Seq: A7-1' "$MAILDIR"/*.eml)
"$PYTHON3" -c 'import sys
h = open(sys.argv[1], "rb").read().split(b"\r\n\r\n")[0].split(b"\r\n")
names = [l.split(b":")[0] for l in h if l[:1] not in (b" ", b"\t")]
sys.exit(0 if names[:2] == [b"Received", b"X-Authentication-Warning"] else 1)' "$f"
ok $? "the warning comes right after Received:"

printf 'x\n' | as_nobody "$NSM" -i -f "$(printf 'a@b\r\nBcc: c@d')" a7@example.net 2>/dev/null
is "$?" 65 "a -f with CR/LF is refused (65), so it never reaches the field"
stop_daemon
ok $? "relayqd exits 0"
done_testing
