#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# S3 / A9 / A10, a hostile local user: the front end runs as nobody
# (setpriv, no groups) against a spool whose drop directories were given
# to group nogroup for the test, in a hostile process environment:
# umask 000, closed fds 0-2, LD_PRELOAD, OPENSSL_CONF, TMPDIR, IFS,
# MALLOC_* and locale junk, a NAME with CR/LF, tiny rlimits (open files,
# address space, file size), an unreadable cwd.  Each submission must
# either be queued correctly (mode exactly 0640, owned by nobody, valid:
# relayqd later accepts and delivers all of them, nothing goes to
# corrupt/) or fail with a clean 75 and leave nothing behind.
#
# A setgid copy of the front end (group mail) shows that the loader
# ignores LD_PRELOAD for it, and that with a non-default configuration it
# drops the group before touching the spool: a spool writable only by
# group mail then refuses the message.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/reliability/rel.sh"
need_root "setpriv and chown"
command -v setpriv >/dev/null || { echo "Bail out! setpriv missing (util-linux)"; exit 1; }

PORT=$(free_port)
write_conf
nobody_setup || { echo "Bail out! cannot prepare the spool for nobody"; exit 1; }
printf 'X-Seq: S3-%s\nSubject: s3\n\nhostile env\n' '0' > "$T_DIR/msg"
chmod 644 "$T_DIR/msg"
NQ=0   # messages queued, to be delivered at the end

n_incoming() { find "$SPOOL/incoming" -type f | wc -l; }
# new_file: the one file of incoming/ not listed in $T_DIR/before (file
# times cannot tell: two files written in one clock tick have equal ones).
new_file() { ls "$SPOOL/incoming" | grep -vxF -f "$T_DIR/before"; }

# submitted DESC RC BEFORE: checks one submission's outcome.
submitted() {
	if [ "$2" -eq 0 ]; then
		NQ=$((NQ + 1))
		is "$(n_incoming)" $(($3 + 1)) "$1: queued (exit 0)"
		f=$(new_file)
		is "$(stat -c '%a %U' "$SPOOL/incoming/$f")" "640 nobody" \
		    "$1: file mode 0640, owned by nobody"
	else
		is "$2" 75 "$1: refused with a clean 75"
		is "$(n_incoming)" "$3" "$1: nothing queued"
	fi
	is "$(n_in tmp)" 0 "$1: nothing left in tmp/"
}

# hostile DESC SCRIPT ARGS...: runs the shell snippet SCRIPT as nobody
# (ARGS are its $0, $1, ...) and checks the outcome.
hostile() {
	_d=$1; _s=$2; shift 2
	_b=$(n_incoming)
	ls "$SPOOL/incoming" > "$T_DIR/before"
	as_nobody sh -c "$_s" "$@" 2>"$T_DIR/err"
	submitted "$_d" $? "$_b"
}

hostile "baseline as nobody" '"$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
f=$(ls "$SPOOL/incoming" | head -n 1)
grep -aq '^U5:65534$' "$SPOOL/incoming/$f"
ok $? "the U record is nobody's uid"
hostile "umask 000" 'umask 000; "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
hostile "stdout and stderr closed" '"$0" -i s3@example.net < "$1" >&- 2>&-' "$NSM" "$T_DIR/msg"
hostile "stdin, stdout and stderr closed" '"$0" -i s3@example.net <&- >&- 2>&-' "$NSM"
hostile "junk environment" 'OPENSSL_CONF=/nonexistent/evil.cnf TMPDIR=/nonexistent IFS=/ \
    MALLOC_CHECK_=3 MALLOC_PERTURB_=165 LANG=xx_YY.EVIL LC_ALL=xx_YY.EVIL \
    HOME=/nonexistent PATH=/nonexistent LOCPATH=/nonexistent GCONV_PATH=/nonexistent \
    NAME="Evil
Bcc: injected@evil.test" "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
f=$(new_file)
[ -n "$f" ] && ! grep -aqi '^Bcc:.*evil\|^injected' "$SPOOL/incoming/$f"
ok $? "a NAME with a line break does not add a header field"
# prlimit(1) sets the limit for sendmail alone (dash itself cannot
# redirect under RLIMIT_NOFILE 4); descriptors above 2 inherited from
# the test harness are closed first, or the dynamic loader itself could
# not open a library (exit 127, before any relayq code runs).
CLOSEFDS="$PYTHON3 -c 'import os, sys; os.closerange(3, 65536); os.execvp(sys.argv[1], sys.argv[1:])'"
hostile "RLIMIT_NOFILE 4" "$CLOSEFDS"' prlimit --nofile=4:4 "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
hostile "RLIMIT_NOFILE 5" "$CLOSEFDS"' prlimit --nofile=5:5 "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
if ldd "$SENDMAIL" | grep -q 'libasan'; then
	diag "ASan build: the RLIMIT_AS cases are skipped (ASan needs its shadow memory)"
else
	hostile "RLIMIT_AS 32 MB" 'prlimit --as=33554432 "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
	hostile "RLIMIT_AS 8 MB" 'prlimit --as=8388608 "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
	# Out of memory while reading a big header section: xmalloc's
	# fatal() must not turn a temporary shortage into a hard error.
	{ printf 'X-Seq: S3-big\nX-Big:'; head -c 900000 /dev/zero | tr '\0' a |
	    fold -w 70 | sed 's/^/ /'; printf '\n\nbody\n'; } > "$T_DIR/bighdr"
	chmod 644 "$T_DIR/bighdr"
	hostile "RLIMIT_AS 4 MB, 900 KB header section" \
	    'prlimit --as=4194304 "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/bighdr"
fi
hostile "RLIMIT_FSIZE 0" 'prlimit --fsize=0 "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
hostile "RLIMIT_FSIZE 0, core dumps off" 'prlimit --fsize=0 --core=0 "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg"
mkdir -m 0111 "$T_DIR/nocwd"
hostile "unreadable cwd" 'cd "$2" && "$0" -i s3@example.net < "$1"' "$NSM" "$T_DIR/msg" "$T_DIR/nocwd"
rmdir "$T_DIR/nocwd"

# LD_PRELOAD: a library whose constructor leaves a mark.
CC=${CC:-cc}
printf '#include <stdio.h>\n__attribute__((constructor)) static void evil(void) { FILE *f = fopen("%s/preloaded", "a"); if (f) { fputs("x\\n", f); fclose(f); } }\n' \
    "$T_DIR" > "$T_DIR/evil.c"
if $CC -shared -fPIC -o "$T_DIR/evil.so" "$T_DIR/evil.c" 2>/dev/null; then
	chmod 755 "$T_DIR/evil.so"; chmod 777 "$T_DIR"
	cp "$SENDMAIL" "$T_DIR/bin/sendmail-sgid"
	chgrp mail "$T_DIR/bin/sendmail-sgid" && chmod 2755 "$T_DIR/bin/sendmail-sgid"
	hostile "setgid copy, LD_PRELOAD" 'LD_PRELOAD="$2" "$0" -i s3@example.net < "$1"' \
	    "$T_DIR/bin/sendmail-sgid" "$T_DIR/msg" "$T_DIR/evil.so"
	test ! -e "$T_DIR/preloaded"
	ok $? "LD_PRELOAD is ignored for the setgid front end"
	as_nobody env LD_PRELOAD="$T_DIR/evil.so" /bin/true
	test -e "$T_DIR/preloaded"
	ok $? "(the same LD_PRELOAD does run in an ordinary program)"
	chmod 755 "$T_DIR"

	# Non-default config + setgid: the group is dropped first, so a
	# spool that only group mail may write refuses the message.
	chgrp mail "$SPOOL/tmp" "$SPOOL/incoming"
	b=$(n_incoming)
	as_nobody "$T_DIR/bin/sendmail-sgid" -i s3@example.net < "$T_DIR/msg" 2>"$T_DIR/err"
	rc=$?
	[ $rc -eq 73 ] || [ $rc -eq 75 ]
	ok $? "setgid with RELAYQ_CONFIG: group dropped, spool of group mail refused ($rc: $(head -n 1 "$T_DIR/err"))"
	is "$(n_incoming) $(n_in tmp)" "$b 0" "nothing was written with the dropped group"
	as_nobody "$T_DIR/bin/sendmail-sgid" -C "$CONF" -i s3@example.net < "$T_DIR/msg" 2>/dev/null
	rc=$?
	[ $rc -eq 73 ] || [ $rc -eq 75 ]
	ok $? "setgid with -C: the same ($rc)"
	chgrp nogroup "$SPOOL/tmp" "$SPOOL/incoming"
else
	diag "no C compiler: LD_PRELOAD and setgid checks skipped"
fi

# Everything queued is valid: relayqd accepts and delivers it all.
start_server
start_daemon
wait_for "delivery" 200 has_mail "$NQ"
ok $? "relayqd delivered all $NQ messages submitted in a hostile environment"
wait_for "drain" 100 queue_empty
ok $? "the spool drains"
is "$(n_in corrupt)" 0 "nothing went to corrupt/"
stop_daemon
ok $? "relayqd exits 0"
done_testing
