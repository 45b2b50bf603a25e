#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Real callers of /usr/sbin/sendmail (reference/callers.md), end to end:
# each message goes through relayq's sendmail, relayqd and a real SMTP
# server (aiosmtpd), and the test checks the envelope and the headers
# that arrive.  GNU mailutils' mail and git send-email run for real
# (skipped when not installed); cron (Debian and cronie), anacron, at,
# PHP mail(), fail2ban, sudo, mdadm, logwatch, unattended-upgrades and
# mutt are reproduced with their exact argv and input.
. "$top_srcdir/tests/integration/lib.sh"

PORT=$(free_port)
write_conf
# relayq's host name is the machine's, as by default: GNU mail qualifies
# bare names with it (root@host), and those are local for the aliases.
HOST=$(hostname)
sed -i "s|^hostname.*|hostname = $HOST|; s|^default_domain.*|&\naliases = $T_DIR/aliases|" "$CONF"
printf '# test aliases\nroot: admin@example.net\nwebmaster: root\n' > "$T_DIR/aliases"
start_server
start_daemon

# msg SUBJECT: prints the stored message's base path (NNNN), waiting.
msg() {
	wait_for "message '$1'" 100 sh -c "grep -l -F 'Subject: $1' '$MAILDIR'/*.eml" || return 1
	grep -l -F "Subject: $1" "$MAILDIR"/*.eml | head -1 | sed 's/\.eml$//'
}
# envf BASE KEY: mail_from or rcpt_tos of a stored message.
envf() {
	"$PYTHON3" -c 'import json,sys
v = json.load(open(sys.argv[1] + ".env"))[sys.argv[2]]
print(" ".join(sorted(v)) if isinstance(v, list) else v)' "$1" "$2"
}
# hdr BASE NAME: the first header field NAME, unfolded, CR removed.
hdr() {
	"$PYTHON3" -c 'import sys
data = open(sys.argv[1] + ".eml", "rb").read().decode("utf-8", "replace")
head = data.split("\r\n\r\n", 1)[0].replace("\r\n ", " ").replace("\r\n\t", " ")
for line in head.split("\r\n"):
    n, _, v = line.partition(":")
    if n.lower() == sys.argv[2].lower():
        print(v.strip()); break' "$1" "$2"
}
# body BASE: the body, CR removed.
body() {
	"$PYTHON3" -c 'import sys
data = open(sys.argv[1] + ".eml", "rb").read()
sys.stdout.write(data.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n").decode("utf-8", "replace"))' "$1"
}
# wire BASE: exit 0 when the stored bytes have no bare CR or LF.
wire() {
	"$PYTHON3" -c 'import re,sys
d = open(sys.argv[1] + ".eml", "rb").read()
sys.exit(1 if re.search(rb"(?<!\r)\n|\r(?!\n)", d) else 0)' "$1"
}

# ---- Debian cron 3.0pl1: -FCronDaemon -i -B8BITMIME -oem MAILTO -------
printf 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> run-parts /etc/cron.daily\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <HOME=/root>\n\nr\303\251sultat\n.\n100%%\r50%%\n' |
    "$SENDMAIL" -FCronDaemon -i -B8BITMIME -oem root
ok $? "Debian cron: exit 0"
m=$(msg 'Cron <root@host> run-parts')
is "$(envf "$m" mail_from)" "root@example.org" "cron: envelope sender is the user, qualified"
is "$(envf "$m" rcpt_tos)" "admin@example.net" "cron: MAILTO=root through the aliases file"
is "$(hdr "$m" From)" "root@example.org (Cron Daemon)" "cron: From qualified, comment kept"
is "$(hdr "$m" To)" "root@example.org" "cron: To qualified"
is "$(hdr "$m" X-Cron-Env)" "<SHELL=/bin/sh>" "cron: X-Cron-Env kept"
body "$m" | grep -q '^\.$'
ok $? "cron (-i): a lone dot is data"
wire "$m"
ok $? "cron: progress-bar CR became a line break, no bare CR/LF"
grep -q 'BODY=8BITMIME' "$m.env"
ok $? "cron: 8-bit body sent with BODY=8BITMIME"

# ---- cronie: -FCronDaemon -i -odi -oem -oi -t -f root --------------------
printf 'From: root (Cron Daemon)\nTo: ops@example.net,webmaster\nSubject: Cron <alice@host> backup.sh\nContent-Type: text/plain; charset=UTF-8\nAuto-Submitted: auto-generated\nX-Cron-Env: <MAILTO=ops@example.net,webmaster>\n\ndone\n' |
    "$SENDMAIL" -FCronDaemon -i -odi -oem -oi -t -f root
ok $? "cronie: exit 0 (-odi returns at once)"
m=$(msg 'Cron <alice@host> backup.sh')
is "$(envf "$m" mail_from)" "root@example.org" "cronie: -f root qualified"
is "$(envf "$m" rcpt_tos)" "admin@example.net ops@example.net" \
    "cronie: -t with a comma list, webmaster -> root -> admin"
is "$(hdr "$m" To)" "ops@example.net,webmaster@example.org" "cronie: To qualified in place"
is "$(hdr "$m" Auto-Submitted)" "auto-generated" "cronie: Auto-Submitted kept"

# The same with masquerade = example.com: the issue's cron case.
sed "s|^default_domain.*|&\nmasquerade = example.com|" "$CONF" > "$T_DIR/masq.conf"
printf 'From: root (Cron Daemon)\nTo: ops@example.net\nSubject: Cron masquerade\n\ndone\n' |
    "$SENDMAIL" -C "$T_DIR/masq.conf" -FCronDaemon -i -odi -oem -oi -t -f root
ok $? "cronie with masquerade: exit 0"
m=$(msg 'Cron masquerade')
is "$(hdr "$m" From)" "Cron Daemon <root@example.com>" \
    "masquerade: From: root (Cron Daemon) -> Cron Daemon <root@example.com>"
is "$(envf "$m" mail_from)" "root@example.com" "masquerade: envelope sender too"

# ---- anacron: -FAnacron -odi MAILTO, no -i -------------------------------
printf 'From: Anacron <root>\nTo: root\nSubject: Anacron job cron.weekly on host\nContent-Type: text/plain; charset="UTF-8"\n\nfirst\n.\nlost after the dot\n' |
    "$SENDMAIL" -FAnacron -odi root >/dev/null 2>&1
ok $? "anacron: exit 0"
m=$(msg 'Anacron job cron.weekly')
is "$(body "$m")" "first" "anacron (no -i): a lone dot ends the message"
is "$(hdr "$m" From)" "Anacron <root@example.org>" "anacron: From qualified"

# ---- at 3.2: -i user ------------------------------------------------------
printf 'Subject: Output from your job        7\nTo: alice\n\njob output\n' |
    "$SENDMAIL" -i alice
ok $? "at: exit 0"
m=$(msg 'Output from your job')
is "$(envf "$m" rcpt_tos)" "alice@example.org" "at: bare user qualified"
hdr "$m" From | grep -q '<root@example.org>$'
ok $? "at: From added from the envelope sender"
ok "$([ -n "$(hdr "$m" Date)" ] && [ -n "$(hdr "$m" Message-ID)" ]; echo $?)" \
    "at: Date and Message-ID added"

# ---- PHP mail(): sendmail_path = sendmail -t -i, mixed line ends --------
printf 'To: "Doe, J" <jd@example.net>, Ann <ann@example.net>\r\nSubject: php order\r\nFrom: Shop <shop@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nline one\nline two\r\n.\nend\n' |
    "$SENDMAIL" -t -i -fshop@example.org
ok $? "PHP: exit 0"
m=$(msg 'php order')
is "$(envf "$m" rcpt_tos)" "ann@example.net jd@example.net" "PHP: quoted display name with a comma"
is "$(envf "$m" mail_from)" "shop@example.org" "PHP: attached -f from additional_params"
is "$(body "$m")" "line one
line two
.
end" "PHP: mixed CRLF/LF normalised, dot line kept with -i"
wire "$m"
ok $? "PHP: wire form"

# ---- fail2ban: sendmail -f "<sender>" "<dest>", no -i --------------------
printf 'Subject: [Fail2Ban] sshd: banned 192.0.2.1 from host\nDate: Tue, 05 Mar 2024 14:03:07 +0100\nFrom: Fail2Ban <fail2ban>\nTo: root\n\nHi,\nThe IP 192.0.2.1 has just been banned.\n.\nwhois output lost\n' |
    "$SENDMAIL" -f "fail2ban" "root"
ok $? "fail2ban: exit 0"
m=$(msg '[Fail2Ban] sshd')
is "$(envf "$m" mail_from)" "fail2ban@example.org" "fail2ban: bare -f qualified"
is "$(hdr "$m" From)" "Fail2Ban <fail2ban@example.org>" "fail2ban: bare From qualified"
is "$(hdr "$m" Date)" "Tue, 05 Mar 2024 14:03:07 +0100" "fail2ban: its own Date kept"
body "$m" | grep -q 'whois output lost'
is "$?" 1 "fail2ban (no -i): the lone dot ends the message"

# ---- sudo: mailerflags -t ------------------------------------------------
printf 'To: root\nFrom: alice\nAuto-Submitted: auto-generated\nSubject: *** SECURITY information for host ***\n\nhost : Nov 28 : alice : user NOT in sudoers\n' |
    "$SENDMAIL" -t
ok $? "sudo: exit 0"
m=$(msg '*** SECURITY information')
is "$(envf "$m" rcpt_tos)" "admin@example.net" "sudo: To: root aliased"
is "$(hdr "$m" From)" "alice@example.org" "sudo: bare From qualified"

# ---- mdadm --monitor: popen("/usr/sbin/sendmail -t") --------------------
printf 'From: mdadm monitoring <root@%s>\nTo: root\nSubject: Fail event on /dev/md0:host\n\nThis is an automatically generated mail message from mdadm\n' "$HOST" |
    "$SENDMAIL" -t
ok $? "mdadm: exit 0"
m=$(msg 'Fail event on /dev/md0')
is "$(hdr "$m" From)" "mdadm monitoring <root@$HOST>" "mdadm: From kept"
is "$(envf "$m" rcpt_tos)" "admin@example.net" "mdadm: recipient aliased"

# ---- logwatch: mailer = "sendmail -t" -------------------------------------
printf 'To: root\nFrom: Logwatch\nSubject: Logwatch for host (Linux)\nAuto-Submitted: auto-generated\nPrecedence: bulk\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Type: text/plain; charset="iso-8859-1"\n\n ################### Logwatch 7.7 ####################\n' |
    "$SENDMAIL" -t
ok $? "logwatch: exit 0"
m=$(msg 'Logwatch for host')
is "$(hdr "$m" From)" "Logwatch@example.org" "logwatch: From: Logwatch qualified"
is "$(hdr "$m" Precedence)" "bulk" "logwatch: Precedence kept"

# ---- unattended-upgrades: [sendmail, "-oi", "-t"], QP UTF-8 body ----------
"$PYTHON3" - <<'PYEOF' | "$SENDMAIL" -oi -t
import sys
from email.message import Message
from email.charset import Charset, QP
msg = Message()
cs = Charset("utf-8"); cs.body_encoding = QP
msg.set_payload("Unattended upgrade result: All upgrades installed\n\u00e9t\u00e9\n", charset=cs)
msg['Subject'] = "[host] unattended-upgrades result for host: SUCCESS"
msg['From'] = "root"
msg['To'] = "root"
msg['Auto-Submitted'] = "auto-generated"
sys.stdout.write(msg.as_string())
PYEOF
ok $? "unattended-upgrades: exit 0"
m=$(msg '[host] unattended-upgrades result')
is "$(hdr "$m" Content-Transfer-Encoding)" "quoted-printable" "unattended-upgrades: QP body kept"
is "$(envf "$m" rcpt_tos)" "admin@example.net" "unattended-upgrades: recipient"

# ---- mutt: $sendmail -oem -oi, -B8BITMIME -f -N -R, then -- rcpts -----------
printf 'Date: Sat, 28 Nov 2026 10:00:00 +0000\nFrom: Me <me@example.org>\nTo: you@example.net\nCc: Other <other@example.net>\nSubject: mutt message\nMessage-ID: <mutt.1@example.org>\n\nhi\n' |
    "$SENDMAIL" -oem -oi -B8BITMIME -f me@example.org -N failure,delay -R hdrs -- you@example.net other@example.net
ok $? "mutt: exit 0"
m=$(msg 'mutt message')
is "$(envf "$m" rcpt_tos)" "other@example.net you@example.net" "mutt: recipients after --"
is "$(hdr "$m" Message-ID)" "<mutt.1@example.org>" "mutt: its Message-ID kept"
# After --, every word is a recipient, even one starting with '-' (as
# Postfix); before --, such a word is an option, and after the first
# recipient it is refused as a misplaced option.
printf 'Subject: odd after dashdash\n\nx\n' | "$SENDMAIL" -i -- -odd@example.net other@example.net 2>"$T_DIR/err"
ok $? "-- -odd@example.net: exit 0 ($(head -n 1 "$T_DIR/err"))"
m=$(msg 'odd after dashdash')
is "$(envf "$m" rcpt_tos)" "-odd@example.net other@example.net" \
    "-- -odd@example.net: delivered with exactly that envelope recipient"
printf 'Subject: mutt oQ recipient\n\nx\n' | "$SENDMAIL" -oem -oi -- -oQ/tmp/x@example.net 2>"$T_DIR/err"
ok $? "mutt: an option-like word after -- is a recipient"
m=$(msg 'mutt oQ recipient')
is "$(envf "$m" rcpt_tos)" "-oQ/tmp/x@example.net" "mutt: -oQ/tmp/x@example.net is that recipient"
printf 'Subject: dash misplaced\n\nx\n' | "$SENDMAIL" -i other@example.net -odd@example.net 2>"$T_DIR/err"
is "$?" 64 "a '-' word after a recipient without --: 64"
grep -q "starts with '-'.*after \"--\"" "$T_DIR/err"
ok $? "refused with a clear reason ($(head -n 1 "$T_DIR/err"))"

# ---- GNU mailutils mail, for real ----------------------------------------
if command -v mail >/dev/null 2>&1 && mail --version 2>/dev/null | grep -q Mailutils; then
	printf 'set sendmail="sendmail:%s"\n' "$SENDMAIL" > "$T_DIR/mailrc"
	printf 'body from GNU mail\n' |
	    MAILRC=$T_DIR/mailrc HOME=$T_DIR mail -s 'mailutils subject' \
	    -a 'X-Mailer-Test: yes' root bob@example.net 2>"$T_DIR/mail.err"
	ok $? "GNU mail: exit 0"
	m=$(msg 'mailutils subject')
	is "$(envf "$m" rcpt_tos)" "admin@example.net bob@example.net" \
	    "GNU mail: recipients (root aliased)"
	body "$m" | grep -q 'body from GNU mail'
	ok $? "GNU mail: body arrived"
else
	diag "GNU mailutils not installed: mail(1) test skipped"
fi

# ---- git send-email --smtp-server=<our sendmail>, for real -----------------
if git send-email -h 2>&1 | grep -q 'smtp-server'; then
	G=$T_DIR/repo
	mkdir -p "$G" && (
		cd "$G" && git init -q . && echo hello > file &&
		git add file &&
		git -c user.name=Dev -c user.email=dev@example.org \
		    commit -q -m 'relayq: test patch' &&
		git format-patch -q -1 -o "$T_DIR/patches"
	)
	HOME=$T_DIR git -C "$G" -c user.name=Dev -c user.email=dev@example.org \
	    send-email --smtp-server="$SENDMAIL" --to=list@example.net \
	    --from='Dev <dev@example.org>' --envelope-sender=dev@example.org \
	    --confirm=never --suppress-cc=all --no-validate --quiet \
	    "$T_DIR"/patches/*.patch > "$T_DIR/git.out" 2>&1
	ok $? "git send-email: exit 0"
	m=$(msg '[PATCH] relayq: test patch')
	is "$(envf "$m" rcpt_tos)" "list@example.net" "git send-email: recipient"
	is "$(envf "$m" mail_from)" "dev@example.org" "git send-email: envelope sender"
else
	diag "git send-email not installed: skipped"
fi

wait_for "empty queue" 100 queue_empty
ok $? "every caller's message left the queue"
stop_daemon
ok $? "relayqd exits 0"
done_testing
