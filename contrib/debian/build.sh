#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Builds relayq's Debian package from this checkout:
#
#     sh contrib/debian/build.sh [OUTDIR]       # default: the current dir
#
# Copies the checkout's files (tracked and untracked, not ignored ones:
# no build trees) to a temporary directory, places contrib/debian there
# as debian/, runs dpkg-buildpackage -us -uc -b, then lintian on the
# result.  Missing build dependencies and lintian are installed with
# apt-get (through sudo when not root).  Leaves relayq_*.deb,
# .buildinfo, .changes and lintian.txt in OUTDIR.  Exits non-zero when
# the build fails or lintian reports an error (E:).
set -eu
# Run from make (make check TESTS=tests/package/t_deb.sh), MAKEFLAGS
# would carry that TESTS= into the package's own make check, which would
# build the package again, and again.
unset MAKEFLAGS MFLAGS MAKELEVEL TESTS
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

tmp=$(mktemp -d "${TMPDIR:-/tmp}/relayq-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/relayq
mkdir "$src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$top" ls-files -z -c -o --exclude-standard |
	    (cd "$top" && xargs -0 tar cf - --no-recursion) | tar xf - -C "$src"
else
	# Not a git checkout: everything but .git and configured build trees.
	set -- --exclude=./.git --exclude=./autom4te.cache
	for st in "$top"/*/config.status; do
		[ -e "$st" ] && set -- "$@" --exclude="./$(basename "$(dirname "$st")")"
	done
	(cd "$top" && tar cf - "$@" .) | tar xf - -C "$src"
fi
rm -rf "$src/debian"
cp -a "$src/contrib/debian" "$src/debian"
rm -f "$src/debian/build.sh"

# Build dependencies (from debian/control) and lintian.
cd "$src"
missing=$(dpkg-checkbuilddeps 2>&1 |
    sed -n 's/.*Unmet build dependencies: //p' |
    sed 's/([^)]*)//g; s/|[^ ]*//g') || true
command -v lintian >/dev/null 2>&1 || missing="$missing lintian"
command -v dh >/dev/null 2>&1 || missing="$missing debhelper"
if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
	echo "installing:$missing"
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
	    --no-install-recommends $missing
fi

dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1 || {
	tail -n 60 "$tmp/build.log"; echo "dpkg-buildpackage failed" >&2; exit 1; }
cd "$tmp"
for f in relayq_*.deb relayq-dbgsym_*.deb relayq_*.buildinfo \
    relayq_*.changes; do
	[ -e "$f" ] && cp "$f" "$out/"
done
cp "$tmp/build.log" "$out/relayq-build.log"
lintian --info --display-info "$out"/relayq_*.changes >"$out/lintian.txt" 2>&1 || true
cat "$out/lintian.txt"
if grep -q '^E:' "$out/lintian.txt"; then
	echo "lintian: errors" >&2
	exit 1
fi
ls "$out"/relayq_*.deb
