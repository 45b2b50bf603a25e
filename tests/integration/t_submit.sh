#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The sendmail front end on its own: no daemon, no network.  A message
# must be durable in incoming/ when it exits 0, and nothing may be left
# behind when it fails.  Also the invocation names and the accepted,
# ignored and refused flags.
. "$top_srcdir/tests/integration/lib.sh"

PORT=9 # never contacted: no daemon runs in this test
write_conf

n_incoming() { ls "$SPOOL/incoming" 2>/dev/null | wc -l; }
n_tmp() { ls "$SPOOL/tmp" 2>/dev/null | wc -l; }

printf 'Subject: one\n\nbody\n' | "$SENDMAIL" -i user@example.net
ok $? "exit 0 for a plain message"
is "$(n_incoming)" 1 "one file in incoming/"
is "$(n_tmp)" 0 "no temporary file left"
f=$SPOOL/incoming/$(ls "$SPOOL/incoming")
head -c 9 "$f" | grep -q '^RELAYQ 1$'
ok $? "queue file starts with the magic line"
echo "$(basename "$f")" | grep -Eq '^[0-9A-F]{20}$'
ok $? "queue id is 20 hex digits"

out=$(printf 'Subject: v\n\nb\n' | "$SENDMAIL" -v -i user@example.net 2>&1 >/dev/null)
echo "$out" | grep -Eq 'queued as [0-9A-F]{20}'
ok $? "-v reports the queue id on stderr"

printf 'Subject: null\n\nb\n' | "$SENDMAIL" -i -f '<>' user@example.net
ok $? "-f '<>' (null sender) accepted"
printf 'Subject: attached\n\nb\n' | "$SENDMAIL" -i -fme@example.org -FCron user@example.net
ok $? "attached -f and -F values accepted"
printf 'Subject: ign\n\nb\n' | "$SENDMAIL" -i -odi -oem -Am -U -G -h 5 -L tag -O DeliveryMode=b user@example.net
ok $? "ignored flags accepted"
rm -f "$T_DIR/xlog"
printf 'Subject: x\n\nb\n' | "$SENDMAIL" -i -X "$T_DIR/xlog" user@example.net
ok $? "-X accepted"
[ ! -e "$T_DIR/xlog" ]
ok $? "-X file never created"
before=$(n_incoming)

printf 'Subject: z\n\nb\n' | "$SENDMAIL" -Z user@example.net 2>"$T_DIR/err"
is "$?" 64 "unknown option: exit 64"
grep -q 'unsupported option' "$T_DIR/err"
ok $? "unknown option: clear message"
printf 'Subject: bd\n\nb\n' | "$SENDMAIL" -bd 2>/dev/null
is "$?" 64 "-bd refused with 64"
is "$(n_incoming)" "$before" "nothing queued by refused calls"

"$SENDMAIL" -bp > "$T_DIR/bp" 2>&1
ok $? "-bp exits 0"
grep -q 'user@example.net' "$T_DIR/bp"
ok $? "-bp lists queued recipients"
ln -s "$SENDMAIL" "$T_DIR/mailq"
"$T_DIR/mailq" > "$T_DIR/mq" 2>&1
ok $? "mailq exits 0"
cmp -s "$T_DIR/bp" "$T_DIR/mq"
ok $? "mailq prints the same listing as sendmail -bp"
ln -s "$SENDMAIL" "$T_DIR/newaliases"
out=$("$T_DIR/newaliases" 2>&1)
is "$?:$out" "0:" "newaliases is a silent no-op"

# The configured size limit.
write_conf
sed -i 's/^default_domain.*/&\nmax_message_size = 2k/' "$CONF"
head -c 5000 /dev/zero | tr '\0' 'a' | fold -w 70 > "$T_DIR/big"
(printf 'Subject: big\n\n'; cat "$T_DIR/big") | "$SENDMAIL" -i user@example.net 2>"$T_DIR/err"
is "$?" 65 "message over max_message_size: exit 65"
is "$(n_incoming)" "$before" "oversized message not queued"
is "$(n_tmp)" 0 "no temporary file left after a refusal"

# Configuration problems.
RELAYQ_CONFIG=$T_DIR/missing.conf "$SENDMAIL" -i user@example.net </dev/null 2>"$T_DIR/err"
is "$?" 78 "missing configuration: exit 78"
printf '[relayq]\nspool_dir = %s\nbogus = 1\n' "$SPOOL" > "$T_DIR/bad.conf"
"$SENDMAIL" -C "$T_DIR/bad.conf" -i user@example.net </dev/null 2>"$T_DIR/err"
is "$?" 78 "unknown key in -C config: exit 78"
grep -q 'bogus' "$T_DIR/err"
ok $? "the error names the unknown key"
# ---- every flag of the table (sendmail-cli.md section 4) -----------------
write_conf
# Messages are found by the queue id that sendmail prints (never by file
# times: two files written in the same clock tick have equal mtimes).
smq() { # smq ARGS...: sendmail, its queue id saved in $T_DIR/qid
	"$SENDMAIL" --print-queue-id "$@" >"$T_DIR/qid"
}
last_file() { # the file of the message smq or sm_ok queued last
	_id=$(cat "$T_DIR/qid")
	echo "$SPOOL/incoming/${_id:-no-queue-id}"
}
rec() { # rec KEY: the records KEY of that file, one per line
	grep -a "^$1[0-9]*:" "$(last_file)" | sed 's/^[A-Z][0-9]*://'
}
bodyq() { # the stored body of that file, CR removed
	sed -n '/^B0:$/,$p' "$(last_file)" | sed '1d;$d' | tr -d '\r'
}
sm_ok() { # sm_ok DESC ARGS...: message on stdin must be queued (exit 0)
	_d=$1; shift
	printf 'Subject: flag\n\nb\n' | smq "$@" 2>"$T_DIR/err"
	is "$?" 0 "$_d"
}
sm_rc() { # sm_rc WANT DESC ARGS...: exit status, nothing queued on 64
	_w=$1; _d=$2; shift 2
	_b=$(n_incoming)
	printf 'Subject: flag\n\nb\n' | "$SENDMAIL" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
	is "$?" "$_w" "$_d"
	[ "$_w" != 64 ] || is "$(n_incoming)" "$_b" "$_d: nothing queued"
}

sm_ok "-bm queues (explicit default mode)" -bm -i a@example.net
printf 'Subject: x\n\nb\n.\nafter\n' | smq -oitrue a@example.net
ok $? "-oitrue accepted"
bodyq | grep -q after
ok $? "-oitrue: a lone dot is data"
printf 'Subject: x\n\nb\n.\nafter\n' | smq -i -oifalse a@example.net
is "$(bodyq | tail -n 1)" "b" \
    "-oifalse turns -i off again (S8 boolean)"
printf 'Subject: x\n\nb\n.\nafter\n' | smq -O IgnoreDots=true a@example.net
bodyq | grep -q after
ok $? "-O IgnoreDots=true is -i"
sm_ok "-ti grouped flags" -ti a@example.net
sm_ok "-it grouped flags" -it a@example.net
sm_ok "-r is -f" -i -r r@example.org a@example.net
is "$(rec S)" "r@example.org" "-r sets the envelope sender"
sm_ok "-f repeated: last wins" -i -f one@example.org -f two@example.org a@example.net
is "$(rec S)" "two@example.org" "last -f used"
grep -q 'using the last one' "$T_DIR/err"
ok $? "repeated -f warns"
sm_ok "-f with a display name" -i -f 'Me <me@example.org>' a@example.net
is "$(rec S)" "me@example.org" "-f 'Name <addr>' gives addr"
sm_rc 64 "-f with two addresses refused" -i -f 'a@x.org, b@x.org' a@example.net
printf 'Subject: x\n\nb\n' | smq -i -F 'Jörg Doe' a@example.net
grep -a -q '^From: =?UTF-8?B?' "$(last_file)"
ok $? "-F with 8-bit: RFC 2047 encoded From name"
sm_ok "-B 7BIT (separate, any case)" -i -B 7bit a@example.net
sm_rc 64 "-B other refused" -i -B BINARYMIME a@example.net
sm_ok "-N, -R, -V stored" -i -N success,DELAY -R FULL -V id.42 a@example.net b@example.net
is "$(rec D)" "FULL" "-R stored as RET"
is "$(rec V)" "id.42" "-V stored as ENVID"
is "$(rec N | sort -u)" "SUCCESS,DELAY" "-N stored for every recipient"
is "$(rec N | wc -l)" 2 "-N: one NOTIFY per recipient"
sm_ok "-N never" -i -Nnever a@example.net
sm_rc 64 "-N never,success refused" -i -N never,success a@example.net
sm_rc 64 "-N bad word refused" -i -N sometimes a@example.net
sm_rc 64 "-R bad value refused" -i -R all a@example.net
sm_rc 64 "-V with a space refused" -i -V 'a b' a@example.net
sm_rc 64 "-V over 100 characters refused" -i -V "$(printf '%0101d' 0)" a@example.net
sm_rc 64 "-XV (VERP) refused" -i -XV a@example.net
sm_ok "-odb accepted" -i -odb a@example.net
sm_ok "-odq accepted (queue only)" -i -odq a@example.net
sm_ok "-odd accepted (queue only)" -i -odd a@example.net
sm_ok "-odf accepted" -i -odf a@example.net
sm_ok "-oee -oep -oeq -oew accepted" -i -oee -oep -oeq -oew a@example.net
sm_ok "-eq accepted (vacation)" -i -eq a@example.net
sm_ok "-oA file, -om, -o7, -o8, -oo, -os, -oMr proto accepted" -i -oA /nonexistent -om -o7 -o8 -oo -os -oMr esmtp a@example.net
sm_ok "-Ac, -n, -m, -x, -c, -s, -T5m, -p UUCP:host accepted" -i -Ac -n -m -x -c -s -T5m -p UUCP:host a@example.net
sm_ok "-O QueueDirectory=/tmp ignored" -i -O QueueDirectory=/tmp a@example.net
printf 'Subject: v\n\nb\n' | "$SENDMAIL" -v -i -oem -Am a@example.net >"$T_DIR/out" 2>"$T_DIR/err"
grep -q 'ignoring option -oem' "$T_DIR/err" && grep -q 'ignoring option -Am' "$T_DIR/err"
ok $? "-v lists the ignored options"
[ ! -s "$T_DIR/out" ]
ok $? "-v never writes to stdout in -bm mode"
sm_ok "-- ends options" -i -- a@example.net
sm_rc 64 "-t outside -bm refused" -t -bp
sm_rc 64 "-bp with recipients refused" -bp a@example.net
sm_rc 64 "no recipient and no -t refused"
printf 'Subject: x\n\nb\n' | "$SENDMAIL" -t 2>"$T_DIR/err"
is "$?" 64 "-t without header recipients refused"
grep -q 'No recipient addresses found in message header' "$T_DIR/err"
ok $? "-t with none: the Postfix/S8 message"
sm_rc 64 "empty recipient refused" -i ''
sm_rc 64 "<> recipient refused" -i '<>'
sm_rc 64 "unbalanced < refused" -i '<a@example.net'
for f in -bt -ba -bC -bP -bV -bD -bl -d0.1 -D -Mrm -Q -qp -qG -qQ -qL -qX --bogus; do
	sm_rc 64 "$f refused" $f
done
sm_rc 0 "-bh accepted and ignored" -bh
sm_rc 0 "-bH accepted and ignored" -bH
sm_rc 0 "-q30m accepted and ignored" -q30m
"$SENDMAIL" --version | grep -q '^relayq '
ok $? "--version prints the version"
"$SENDMAIL" --help | grep -q '^usage:'
ok $? "--help prints the usage"
"$SENDMAIL" -bv 'Alice <a@example.net>, b' > "$T_DIR/out"
ok $? "-bv exits 0 for valid addresses"
grep -q '^b@example.org... deliverable: relayed via 127.0.0.1' "$T_DIR/out"
ok $? "-bv: qualified and relayed via the smarthost"
"$SENDMAIL" -bv 'a@@b' > "$T_DIR/out"
is "$?" 67 "-bv: invalid address exits 67"
sm_rc 64 "-bv with -t refused" -bv -t a@example.net
sm_rc 64 "-bi with recipients refused" -bi a@example.net
printf 'x\n' | "$SENDMAIL" -q 2>"$T_DIR/err"
is "$?" 75 "-q without relayqd: 75"
grep -q 'relayqd is not running' "$T_DIR/err"
ok $? "-q without relayqd: warning"
for n in hoststat purgestat smtpd rsmtp; do
	ln -sf "$SENDMAIL" "$T_DIR/$n"
	"$T_DIR/$n" </dev/null 2>/dev/null
	is "$?" 64 "invoked as $n: 64"
done
ln -sf "$SENDMAIL" "$T_DIR/rmail"
printf 'From someone Tue Mar  5 14:03:07 2024\nSubject: rmail\n\nb\n.\nafter\n' |
    "$T_DIR/rmail" --print-queue-id a@example.net >"$T_DIR/qid"
ok $? "rmail: exit 0"
bodyq | grep -q after && ! grep -a -q '^From someone' "$(last_file)"
ok $? "rmail implies -i and drops the From_ line"
ln -sf "$SENDMAIL" "$T_DIR/runq"
"$T_DIR/runq" 2>/dev/null
is "$?" 75 "runq is -q (75 without relayqd)"
ln -sf "$SENDMAIL" "$T_DIR/newaliases"
"$T_DIR/newaliases" -bp > /dev/null
ok $? "options override the name: newaliases -bp lists"

# -C drops nothing as root but reads the given file.
sed 's/^default_domain.*/default_domain = other.example/' "$CONF" > "$T_DIR/c2.conf"
sm_ok "-C another config" -C "$T_DIR/c2.conf" -i root
is "$(rec R)" "root@other.example" "-C: its default_domain used"

# Aliases and newaliases / -bi.
printf 'root: admin@example.net, ops\nops: ops@example.net\n' > "$T_DIR/aliases"
sed "s|^default_domain.*|&\naliases = $T_DIR/aliases|" "$CONF" > "$T_DIR/al.conf"
"$SENDMAIL" -C "$T_DIR/al.conf" -bi 2>"$T_DIR/err"
is "$?:$(cat "$T_DIR/err")" "0:" "-bi: a clean aliases file, silent, 0"
"$SENDMAIL" -C "$T_DIR/al.conf" -I 2>/dev/null
ok $? "-I is -bi"
sm_ok "aliases applied to a bare recipient" -C "$T_DIR/al.conf" -i root
is "$(rec R | tr '\n' ' ')" "admin@example.net ops@example.net " "root expanded recursively"
printf 'root: |/usr/bin/procmail\nbad entry\nx: y\ny: x\n' > "$T_DIR/aliases"
"$SENDMAIL" -C "$T_DIR/al.conf" -bi 2>"$T_DIR/err"
is "$?" 78 "-bi: problems give 78"
grep -q 'pipe "|/usr/bin/procmail" refused' "$T_DIR/err" &&
    grep -q ":2: missing ':'" "$T_DIR/err" && grep -q 'alias loop' "$T_DIR/err"
ok $? "-bi names every problem with its line"
sm_ok "a refused pipe alias still queues" -C "$T_DIR/al.conf" -i root
is "$(rec R)" "root@example.org" "pipe-only alias: the recipient itself"
grep -q 'refused: relayq has no local delivery' "$T_DIR/err"
ok $? "the refusal is reported at send time too"

# allow_from_override = no: users other than root cannot pick the sender.
chmod 755 "$T_DIR"
S2=$T_DIR/spool2
sed "s|^spool_dir.*|spool_dir = $S2|; s|^default_domain.*|&\nallow_from_override = no|" "$CONF" > "$T_DIR/nf.conf"
chmod 644 "$T_DIR/nf.conf"
printf 'Subject: x\n\nb\n' | "$SENDMAIL" -C "$T_DIR/nf.conf" -i -f boss@example.org a@example.net
is "$(grep -a '^S[0-9]*:' "$S2"/incoming/* | sed 's/^S[0-9]*://')" "boss@example.org" \
    "allow_from_override = no: root may still use -f"
rm -f "$S2"/incoming/*
chmod 1777 "$S2" "$S2/tmp" "$S2/incoming"
printf 'Subject: x\n\nb\n' | setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$SENDMAIL" -C "$T_DIR/nf.conf" -i -f boss@example.org a@example.net 2>"$T_DIR/err"
ok $? "allow_from_override = no: a user's -f still queues"
is "$(grep -a '^S[0-9]*:' "$S2"/incoming/* | sed 's/^S[0-9]*://')" \
    "$(getent passwd 65534 | cut -d: -f1)@example.org" "...with the user's own address"
grep -q 'allow_from_override = no' "$T_DIR/err"
ok $? "...and a warning"

# -qR / -qS / -qI reach relayqd as "I<id>" requests.
sed "s|^retry_min.*|retry_min = 1h|; s|^retry_max.*|retry_max = 2h|" "$CONF" > "$T_DIR/q.conf"
RELAYQ_CONFIG=$T_DIR/q.conf
"$RELAYQD" -f -c "$T_DIR/q.conf" >>"$T_DIR/relayqd.log" 2>&1 &
QPID=$!
T_PIDS="$T_PIDS $QPID"
wait_for "deferrals" 100 sh -c "grep -q 'status=deferred' '$T_DIR/relayqd.log'"
ok $? "queued mail deferred (smarthost down)"
"$SENDMAIL" -v -qRexample.NET 2>"$T_DIR/err"
ok $? "-qR exits 0"
grep -Eq 'asked relayqd to run [1-9][0-9]* matching' "$T_DIR/err"
ok $? "-qR selects messages by recipient (case-insensitive)"
wait_for "-qR request" 50 grep -q 'queue run requested for' "$T_DIR/relayqd.log"
ok $? "relayqd gets the -qR request"
"$SENDMAIL" -v -qSnomatch.invalid 2>"$T_DIR/err"
grep -q 'asked relayqd to run 0 matching' "$T_DIR/err"
ok $? "-qS with no match: nothing requested"
id=$(ls "$SPOOL/queue" | head -1)
"$SENDMAIL" -v "-qI$(echo "$id" | cut -c15-20)" 2>"$T_DIR/err"
grep -q "$id" "$T_DIR/err"
ok $? "-qI selects by queue id substring"
"$SENDMAIL" -qf 2>/dev/null
ok $? "-qf is -q (relayqd running: 0)"
kill -TERM "$QPID"; wait "$QPID"
ok $? "relayqd exits 0"
done_testing
