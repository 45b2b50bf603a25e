#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Installs relayq's build and test dependencies on Debian 12 with apt-get,
# only when some are missing.  Uses sudo when not run as root.
set -e
PKGS="build-essential autoconf automake autoconf-archive pkg-config
libevent-dev libssl-dev libiniparser-dev python3 python3-aiosmtpd
openssl faketime valgrind clang"
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
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
