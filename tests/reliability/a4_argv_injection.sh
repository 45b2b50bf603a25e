#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# A4 / A10 as a property: the front end, run as nobody, refuses every
# control character (CR, LF and every other C0 byte but TAB, and DEL) at
# the start, middle and end of -f and of a recipient with exit 65
# (EX_DATAERR, as the issue and reliability-security.md A4 say; NUL
# cannot be in argv) and nothing queued; options and ESMTP parameters
# smuggled into addresses with 64 (EX_USAGE, a bad address, see
# sendmail-cli.md section 1; a recipient starting with '-' is accepted
# only after "--", where it cannot be an option); a NUL in the message is 65; oversized input (size limit, header section, too many
# recipients, over-long addresses) is refused with nothing queued, and a
# 1 MB line without a newline is split into legal wire lines.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "setpriv"

PORT=$(free_port)
write_conf
printf '[relayq]\nmax_message_size = 65536\nmax_recipients = 50\nmasquerade = masq.example.org\n' >> "$CONF"
conf_merge "$CONF"
nobody_setup || { echo "Bail out! cannot prepare the spool for nobody"; exit 1; }
printf 'Subject: a4\n\nbody\n' > "$T_DIR/msg"
chmod 644 "$T_DIR/msg"
nq() { echo $(($(n_in incoming) + $(n_in tmp))); }

# refuse WANT DESC FILE ARGS...: sendmail ARGS < FILE as nobody exits
# WANT with a message and queues nothing.  Quiet on success; returns 1
# on failure, with a diagnostic.
refuse() {
	_w=$1; _d=$2; _f=$3; shift 3
	as_nobody "$NSM" "$@" < "$_f" 2>"$T_DIR/err"
	_rc=$?
	if [ $_rc -ne "$_w" ] || [ ! -s "$T_DIR/err" ] || [ "$(nq)" -ne 0 ]; then
		diag "$_d: exit $_rc (want $_w), $(nq) files queued, stderr: $(head -c 100 "$T_DIR/err")"
		rm -f "$SPOOL"/incoming/* 2>/dev/null
		return 1
	fi
	return 0
}

# Every control character at three places in -f and in a recipient.
fails=0; tries=0
i=1
while [ $i -le 127 ]; do
	if [ $i -eq 32 ]; then i=127; fi
	if [ $i -eq 9 ]; then i=$((i + 1)); continue; fi
	if [ $i -eq 10 ]; then
		c='
'
	else
		c=$(printf "\\$(printf '%03o' $i)")
	fi
	for f in "${c}x@example.org" "x@exa${c}mple.org" "x@example.org${c}MAIL FROM:<evil@evil.test>"; do
		tries=$((tries + 1))
		refuse 65 "-f with byte $i" "$T_DIR/msg" -i -f "$f" a4@example.net ||
		    fails=$((fails + 1))
	done
	for r in "${c}a4@example.net" "a4@exa${c}mple.net" "a4@example.net${c}RCPT TO:<evil@evil.test>"; do
		tries=$((tries + 1))
		refuse 65 "recipient with byte $i" "$T_DIR/msg" -i "$r" ||
		    fails=$((fails + 1))
	done
	i=$((i + 1))
done
is "$fails" 0 "$tries control-character cases in -f and recipients: all exit 65, nothing queued"

refuse 64 "-f starting with -" "$T_DIR/msg" -i -f -oQ/tmp/x a4@example.net
ok $? "-f whose value looks like an option: 64"
refuse 64 "recipient starting with - before --" "$T_DIR/msg" -i a4@example.net -oQ/tmp/x@example.net
ok $? "recipient that looks like an option, not after --: 64"
refuse 64 "ESMTP parameter in -f" "$T_DIR/msg" -i -f 'a@example.org> SIZE=1' a4@example.net
ok $? "-f carrying '> SIZE=1': 64"
refuse 64 "ESMTP parameter in a recipient" "$T_DIR/msg" -i 'a4@example.net> NOTIFY=NEVER'
ok $? "recipient carrying '> NOTIFY=NEVER': 64"
refuse 64 "local part of 65 bytes" "$T_DIR/msg" -i "$(head -c 65 /dev/zero | tr '\0' a)@example.net"
ok $? "local part over 64 bytes: 64"
refuse 64 "address over 256 bytes" "$T_DIR/msg" -i "a@$(head -c 260 /dev/zero | tr '\0' a).net"
ok $? "address over 256 bytes: 64"
set --
k=1; while [ $k -le 51 ]; do set -- "$@" "r$k@example.net"; k=$((k + 1)); done
refuse 64 "51 recipients" "$T_DIR/msg" -i "$@"
ok $? "more than max_recipients (50) on the command line: 64"
{ printf 'To: '; k=1; while [ $k -le 51 ]; do printf 'r%d@example.net, ' $k; k=$((k + 1)); done
  printf 'last@example.net\nSubject: many\n\nbody\n'; } > "$T_DIR/many"
chmod 644 "$T_DIR/many"
refuse 64 "-t with 52 recipients" "$T_DIR/many" -t -i
ok $? "more than max_recipients under -t: 64"

# Message content.
printf 'Subject: nul\n\nbefore\000after\n' > "$T_DIR/nul"
printf 'Subject: nul\000in header\n\nbody\n' > "$T_DIR/nulh"
{ printf 'Subject: big\n\n'; head -c 70000 /dev/zero | tr '\0' b | fold -w 70; } > "$T_DIR/big"
{ printf 'X-Big:'; head -c 1100000 /dev/zero | tr '\0' h | fold -w 70 | sed 's/^/ /'; printf '\n\nbody\n'; } > "$T_DIR/bighdr"
{ k=1; while [ $k -le 51 ]; do printf 'Received: from hop%d\n' $k; k=$((k + 1)); done; printf 'Subject: loop\n\nbody\n'; } > "$T_DIR/loop"
chmod 644 "$T_DIR"/nul "$T_DIR"/nulh "$T_DIR"/big "$T_DIR"/bighdr "$T_DIR"/loop
refuse 65 "NUL in the body" "$T_DIR/nul" -i a4@example.net
ok $? "NUL in the body: 65, nothing queued"
refuse 65 "NUL in the header" "$T_DIR/nulh" -i a4@example.net
ok $? "NUL in the header: 65, nothing queued"
refuse 65 "over max_message_size" "$T_DIR/big" -i a4@example.net
ok $? "message over max_message_size (64 KB): 65, nothing queued"
sed -i 's/^max_message_size = 65536$/max_message_size = 100m/' "$CONF"
refuse 65 "header section over 1 MB" "$T_DIR/bighdr" -i a4@example.net
ok $? "header section over 1 MB: 65, nothing queued"
refuse 65 "51 Received: fields" "$T_DIR/loop" -i a4@example.net
ok $? "more than 50 Received: fields (a loop): 65, nothing queued"
{ printf 'Subject: long line\n\n'; head -c 1048576 /dev/zero | tr '\0' L; } > "$T_DIR/longline"
chmod 644 "$T_DIR/longline"
as_nobody "$NSM" -i a4@example.net < "$T_DIR/longline"
ok $? "a 1 MB line without a newline is accepted"
f=$(ls "$SPOOL/incoming" | head -n 1)
awk 'length($0) > 1001 { bad++ } END { exit bad > 0 }' "$SPOOL/incoming/$f"
ok $? "and split into wire lines of at most 998 bytes"
is "$(grep -a '^L\{1,998\}.$' "$SPOOL/incoming/$f" | tr -cd L | wc -c)" 1048576 \
    "with every byte kept"
rm -f "$SPOOL/incoming/$f"

# Regressions found by fuzzing (tests/fuzz/corpus/*/finding-*).
# fuzz_addr: a -t header member with a domain literal holding '>' passes
# addr.c's checks but not the queue's, and the whole message is refused
# instead of that member being skipped.
printf 'To: good@example.net, bad@[1>2]\nSubject: literal\n\nbody\n' > "$T_DIR/lit"
chmod 644 "$T_DIR/lit"
as_nobody "$NSM" -t -i < "$T_DIR/lit" 2>"$T_DIR/err"
is "$?" 0 "-t: a member bad@[1>2] is skipped, the message queued for the others ($(head -n 1 "$T_DIR/err"))"
rm -f "$SPOOL"/incoming/*
# fuzz_sendmail_msg: under masquerade, a local From: whose display name
# is 200 Latin-1 bytes (RFC 2047 words of one byte each) overflows the
# rewrite buffer, and sendmail exits 65 saying "no error".
"$PYTHON3" -c 'import sys; sys.stdout.buffer.write(b"From: " + b"\x95" * 200 + b" <nobody@localhost>\nSubject: latin1\n\nbody\n")' > "$T_DIR/latin1"
chmod 644 "$T_DIR/latin1"
as_nobody "$NSM" -i a4@example.net < "$T_DIR/latin1" 2>"$T_DIR/err"
is "$?" 0 "masquerade with a 200-byte Latin-1 From: name is queued ($(head -n 1 "$T_DIR/err"))"
rm -f "$SPOOL"/incoming/*

# -t: a bare CR in a recipient field is a fold (sendmail_msg.c), so the
# text after it can never become a recipient or a command of its own.
printf 'To: good@example.net\nCc: a4@example.net\rRCPT TO:<evil@evil.test>\nSubject: cr\n\nbody\n' > "$T_DIR/crt"
chmod 644 "$T_DIR/crt"
as_nobody "$NSM" -t -i < "$T_DIR/crt" 2>/dev/null
is "$?" 0 "-t with a CR in Cc: queued for the valid recipient"
f=$(ls "$SPOOL/incoming" | head -n 1)
is "$(grep -a '^R[0-9]' "$SPOOL/incoming/$f" | tr '\n' ' ')" "R16:good@example.net " \
    "-t: the text after a CR in Cc: makes no recipient"
rm -f "$SPOOL"/incoming/*

# -F and $NAME with a line break never add a header field.
as_nobody "$NSM" -i -F "$(printf 'Evil\r\nBcc: injected@evil.test')" a4@example.net < "$T_DIR/msg" 2>/dev/null
rc=$?
if [ $rc -eq 0 ]; then
	f=$(ls "$SPOOL/incoming" | head -n 1)
	! grep -aqi '^Bcc:\|^injected' "$SPOOL/incoming/$f"
	ok $? "-F with CR/LF: queued, but no header field injected"
	rm -f "$SPOOL/incoming/$f"
else
	is "$rc $(nq)" "64 0" "-F with CR/LF: refused with 64, nothing queued"
fi
done_testing
