#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# mailq_all_users (issue 13, Info): with the default (yes, as Postfix)
# any user's mailq lists every message; with no, a user other than root
# sees only the messages whose envelope records their uid, in incoming/
# and in queue/, and root still sees all.  The front end runs as nobody
# (setpriv, as tests/reliability/s3_hostile_user.sh does) against a spool
# whose directories were given to group nogroup, which stands for the
# group the setgid front end reads through.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "1..0 # SKIP needs root and setpriv"
	exit 0
fi
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }

PORT=$(free_port)
write_conf
# conf_all VALUE: a readable copy of the config with mailq_all_users
conf_all() {
	sed "s/^default_domain = example.org\$/&\\
mailq_all_users = $1/" "$CONF" > "$T_DIR/pub.conf"
	chmod 644 "$T_DIR/pub.conf"
}
chmod 755 "$T_DIR"
chmod 644 "$CONF"
mkdir "$T_DIR/bin" && cp "$SENDMAIL" "$T_DIR/bin/sendmail" &&
    chmod 755 "$T_DIR/bin" "$T_DIR/bin/sendmail"
NSM=$T_DIR/bin/sendmail
submit() { # submit SUBJECT
	printf 'Subject: %s\n\nbody\n' "$1" |
	    "$NSM" -C "$CONF" --print-queue-id -i rcpt@example.net
}

# Two messages by root, then the spool is handed to group nogroup and
# nobody submits two.
R1=$(submit root-one)
R2=$(submit root-two)
chgrp nogroup "$SPOOL/tmp" "$SPOOL/incoming" "$SPOOL/incoming"/* &&
    { [ ! -e "$SPOOL/wake" ] || chgrp nogroup "$SPOOL/wake"; }
ok $? "the spool is readable through group nogroup"
N1=$(as_nobody sh -c 'printf "Subject: n1\n\nx\n" | "$0" -C "$1" --print-queue-id -i rcpt@example.net' "$NSM" "$CONF")
N2=$(as_nobody sh -c 'printf "Subject: n2\n\nx\n" | "$0" -C "$1" --print-queue-id -i rcpt@example.net' "$NSM" "$CONF")
test -n "$R1" && test -n "$R2" && test -n "$N1" && test -n "$N2"
ok $? "root and nobody queued two messages each"
# One of nobody's goes to queue/ with a state file (on hold).
"$RELAYQ" -c "$CONF" hold "$N2" >/dev/null
ok $? "nobody's second message is in queue/, on hold"
chgrp -R nogroup "$SPOOL/queue" "$SPOOL/state"
# A broken file nobody could read: whose it is cannot be told.
BAD=00000000000000000001
echo garbage > "$SPOOL/incoming/$BAD"
chgrp nogroup "$SPOOL/incoming/$BAD"; chmod 640 "$SPOOL/incoming/$BAD"

ids() { grep -oE '^[0-9A-F]{20}' | sort | tr '\n' ' '; }
ALL=$(printf '%s\n' "$R1" "$R2" "$N1" "$N2" "$BAD" | sort | tr '\n' ' ')
OWN=$(printf '%s\n' "$N1" "$N2" | sort | tr '\n' ' ')

# 1. Default (yes): everyone sees everything.
conf_all yes
out=$(as_nobody "$NSM" -C "$T_DIR/pub.conf" -bp)
is "$?:$(echo "$out" | ids)" "0:$ALL" "mailq_all_users = yes: nobody sees every message"
write_conf
chmod 644 "$CONF"
out=$(as_nobody "$NSM" -C "$CONF" -bp)
is "$(echo "$out" | ids)" "$ALL" "without the key (default yes): nobody sees every message"

# 2. no: nobody sees only their own, in incoming/ and queue/.
conf_all no
out=$(as_nobody "$NSM" -C "$T_DIR/pub.conf" -bp)
is "$?:$(echo "$out" | ids)" "0:$OWN" "mailq_all_users = no: nobody sees only their own messages"
echo "$out" | grep -q "^$N2!" && echo "$out" | grep -q "^-- 1 Kbytes in 2 Requests\.$"
ok $? "mailq_all_users = no: the held one in queue/ is marked, only two counted"
echo "$out" | grep -q "unreadable"
ok $((! $?)) "mailq_all_users = no: no line for a file whose owner is unknown"
out=$("$NSM" -C "$T_DIR/pub.conf" -bp)
is "$?:$(echo "$out" | ids)" "0:$ALL" "mailq_all_users = no: root sees every message"

# 3. A bad value is a configuration error.
conf_all perhaps
as_nobody "$NSM" -C "$T_DIR/pub.conf" -bp >/dev/null 2>&1
is $? 78 "mailq_all_users = perhaps: EX_CONFIG"

chmod 700 "$T_DIR"
done_testing
