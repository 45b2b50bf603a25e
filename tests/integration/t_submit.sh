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
done_testing
