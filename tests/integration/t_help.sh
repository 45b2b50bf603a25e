#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# --help and --version on every program and subcommand (issue 12): usage
# or version on stdout, nothing on stderr, exit 0, and no config read
# (RELAYQ_CONFIG names a file that does not exist).  The version is
# configure's PACKAGE_VERSION.  sendmail is also run as mailq and
# newaliases; every command listed by "relayq --help" is covered.
. "$top_srcdir/tests/integration/lib.sh"

RELAYQ_CONFIG=$T_DIR/no-such.conf
export RELAYQ_CONFIG
VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
[ -n "$VERSION" ]
ok $? "PACKAGE_VERSION found in config.h ($VERSION)"
ln -s "$SENDMAIL" "$T_DIR/mailq"
ln -s "$SENDMAIL" "$T_DIR/newaliases"

# answers WANT-PATTERN DESC CMD...: CMD exits 0, prints a line matching
# WANT-PATTERN on stdout and nothing on stderr.
answers() {
	_want=$1; _d=$2; shift 2
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	_rc=$?
	if [ $_rc -ne 0 ] || [ -s "$T_DIR/err" ] || ! grep -q -- "$_want" "$T_DIR/out"; then
		diag "$_d: exit $_rc, stdout: $(head -c 200 "$T_DIR/out"), stderr: $(head -c 200 "$T_DIR/err")"
		ok 1 "$_d"
		return
	fi
	ok 0 "$_d"
}

for p in "$SENDMAIL" "$T_DIR/mailq" "$T_DIR/newaliases" "$RELAYQD" "$RELAYQ"; do
	n=${p##*/}
	answers "^usage: " "$n --help: usage on stdout, exit 0, no config" "$p" --help
	answers "^[a-z]* $VERSION\$" "$n --version: $VERSION on stdout, exit 0" "$p" --version
done
answers "^usage: relayqd" "relayqd -h: usage" "$RELAYQD" -h
answers "^usage: relayq " "relayq -h: usage" "$RELAYQ" -h
answers "^usage: relayq " "relayq help: usage without the config" "$RELAYQ" help
answers "^usage: relayq " "relayq -c MISSING --help: usage" "$RELAYQ" -c "$T_DIR/missing" --help
answers "^relayq $VERSION\$" "relayq -c MISSING --version: version" "$RELAYQ" -c "$T_DIR/missing" --version

"$RELAYQ" --help > "$T_DIR/usage"
cmds=$(sed -n 's/^  \([a-z][a-z0-9-]*\).*/\1/p' "$T_DIR/usage")
n=0
for c in $cmds; do
	n=$((n + 1))
	answers "^usage: relayq .*$c" "relayq $c --help: its usage" "$RELAYQ" "$c" --help
	answers "^relayq $VERSION\$" "relayq $c --version" "$RELAYQ" "$c" --version
	answers "^usage: relayq .*$c" "relayq help $c: its usage" "$RELAYQ" help "$c"
done
[ "$n" -ge 11 ]
ok $? "relayq --help lists the commands ($n)"
answers "--body-file" "relayq send --help: send's options" "$RELAYQ" send --help
answers "--body-file" "relayq send --to x@example.org --help: send's options" \
    "$RELAYQ" send --to x@example.org --help

# A value that looks like --help stays a value; usage errors stay errors.
"$RELAYQ" send --subject --help --to x@example.org --body x >"$T_DIR/out" 2>"$T_DIR/err"
rc=$?
[ $rc -ne 0 ] && ! grep -q usage "$T_DIR/out" && grep -q "no-such.conf" "$T_DIR/err"
ok $? "relayq send --subject --help: a subject, so the config is read (exit $rc)"
for p in "$RELAYQD" "$RELAYQ"; do
	"$p" --bogus >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	[ $rc -eq 64 ] && [ ! -s "$T_DIR/out" ] && grep -q usage "$T_DIR/err"
	ok $? "${p##*/} --bogus: usage on stderr, exit 64 (exit $rc)"
done
"$RELAYQ" bogus --help >"$T_DIR/out" 2>"$T_DIR/err"
rc=$?
[ $rc -eq 64 ] && grep -q "unknown command bogus" "$T_DIR/err"
ok $? "relayq bogus --help: unknown command, exit 64 (exit $rc)"
done_testing
