#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Installs relayq's build and test dependencies on Debian 12 with apt-get,
# only when some are missing.  Uses sudo when not run as root.
#
# debhelper and lintian build and check the Debian package
# (tests/package/t_deb.sh); python3-seccomp builds the unit's syscall
# filter for tests/integration/t_sandbox.sh.
# strace (write-order and secret checks), util-linux (setpriv, prlimit)
# and libclang-rt-14-dev (clang's -fsanitize=fuzzer) are for the
# reliability suite (tests/reliability) and tests/fuzz/run.sh.
# swaks, mailutils (GNU mail), git and git-email are real sendmail callers
# for tests/integration/t_callers.sh and t_bs.sh.
# postfix and sasl2-bin are for tests/integration/t_interop.sh, which runs
# its own Postfix from a private configuration.  The packaged instance is
# never started: a policy-rc.d that denies every start is put in place for
# the install when none exists (Docker images ship one already).
set -e
PKGS="build-essential autoconf automake autoconf-archive pkg-config
libevent-dev libssl-dev libiniparser-dev libjansson-dev python3 python3-aiosmtpd
openssl faketime valgrind clang
postfix sasl2-bin libsasl2-modules libsasl2-modules-db
swaks mailutils git git-email
strace util-linux libclang-rt-14-dev
debhelper lintian python3-seccomp"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	trap '$SUDO rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
