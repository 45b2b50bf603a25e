#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# make install into a DESTDIR: programs, mailq/newaliases links, man
# pages, units, the spool with its modes, sendmail setgid relayq only
# when that group exists, nothing setuid, and a second install that
# keeps an edited config (the new sample goes beside it).
. "$top_srcdir/tests/integration/lib.sh"

D=$T_DIR/root
inst() {
	${MAKE:-make} -C "$top_builddir" install DESTDIR="$D" \
	    >>"$T_DIR/install.log" 2>&1
}
inst
ok $? "make install DESTDIR=... exits 0"
prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
sysconfdir=$(sed -n 's/^sysconfdir = //p' "$top_builddir/Makefile" |
    sed "s|\${prefix}|$prefix|")
localstatedir=$(sed -n 's/^localstatedir = //p' "$top_builddir/Makefile" |
    sed "s|\${prefix}|$prefix|")
P=$D$prefix
for f in sbin/sendmail sbin/relayqd bin/relayq; do
	test -x "$P/$f"
	ok $? "$f installed"
done
is "$(readlink "$P/sbin/mailq")" sendmail "mailq links to sendmail"
is "$(readlink "$P/sbin/newaliases")" sendmail "newaliases links to sendmail"
for m in man1/relayq.1 man5/relayq.conf.5 man8/relayqd.8 man8/sendmail.8; do
	test -f "$P/share/man/$m" && man -l "$P/share/man/$m" >/dev/null 2>&1
	ok $? "man page $m installed and rendered by man -l"
done
test -f "$P/lib/systemd/system/relayqd.service" &&
    test -f "$P/lib/sysusers.d/relayq.conf" &&
    test -f "$P/lib/tmpfiles.d/relayq.conf"
ok $? "unit, sysusers and tmpfiles installed"
sbindir=$(sed -n 's/^sbindir = //p' "$top_builddir/Makefile" |
    sed "s|\${exec_prefix}|$prefix|")
grep -q "^ExecStart=$sbindir/relayqd -f\$" "$P/lib/systemd/system/relayqd.service"
ok $? "the installed unit runs $sbindir/relayqd"
grep -q "^d $localstatedir/spool/relayq/queue " "$P/lib/tmpfiles.d/relayq.conf"
ok $? "the installed tmpfiles names $localstatedir/spool/relayq"
S=$D$localstatedir/spool/relayq
for d in "tmp 1730" "incoming 1770" "queue 750" "state 750" \
    "corrupt 700" "failed 750"; do
	set -- $d
	is "$(stat -c %a "$S/$1" 2>&1)" "$2" "spool $1/ mode $2"
done
is "$(find "$D" -perm -4000 | wc -l)" 0 "nothing installed setuid"
if getent group relayq >/dev/null 2>&1; then
	is "$(stat -c '%a %G' "$P/sbin/sendmail")" "2755 relayq" \
	    "sendmail is setgid relayq"
else
	is "$(stat -c %a "$P/sbin/sendmail")" 755 \
	    "no relayq group: sendmail not setgid"
fi
test -f "$P/lib/systemd/system/relayqd.socket" &&
    grep -q '^ListenStream=/run/relayq/submit$' \
    "$P/lib/systemd/system/relayqd.socket" &&
    grep -q '^SocketMode=0666$' "$P/lib/systemd/system/relayqd.socket"
ok $? "relayqd.socket installed (ListenStream=/run/relayq/submit, 0666)"
# --disable-setgid-sendmail sets SETGID_SENDMAIL = no in the Makefile.
D2=$T_DIR/root-nosgid
${MAKE:-make} -C "$top_builddir" install DESTDIR="$D2" SETGID_SENDMAIL=no \
    >>"$T_DIR/install.log" 2>&1
ok $? "make install SETGID_SENDMAIL=no (--disable-setgid-sendmail)"
is "$(stat -c %a "$D2$prefix/sbin/sendmail")" 755 \
    "--disable-setgid-sendmail: sendmail installed without setgid"
grep -q 'SETGID_SENDMAIL = yes' "$top_builddir/Makefile"
ok $? "setgid stays the default (configure without the option)"
C=$D$sysconfdir/relayq/relayq.conf
test -f "$C"
ok $? "sample config installed"
echo "; edited by the operator" >> "$C"
inst
ok $? "second make install exits 0"
tail -n 1 "$C" | grep -q "edited by the operator"
ok $? "second install keeps the existing config"
test -f "$C.sample"
ok $? "the new sample goes beside it"
done_testing
