#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Makes Postfix's smtp-sink and smtp-source available WITHOUT installing
# postfix: downloads Debian's postfix package with apt-get download and
# unpacks it with dpkg -x into a cache directory.  Prints the directory
# that holds the two wrappers, smtp-sink and smtp-source, which set
# LD_LIBRARY_PATH for Postfix's private libraries.
#
#   usage: contrib/postfix-tools.sh [CACHE-DIR]   (default: build/postfix-tools)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${1:-$top/build/postfix-tools}
if [ ! -x "$cache/bin/smtp-sink" ]; then
	mkdir -p "$cache/deb" "$cache/root" "$cache/bin"
	(cd "$cache/deb" && rm -f postfix_*.deb &&
	    apt-get download postfix >/dev/null 2>&1) || {
		SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
		$SUDO apt-get update -qq >/dev/null
		(cd "$cache/deb" && apt-get download postfix >/dev/null)
	}
	dpkg -x "$cache"/deb/postfix_*.deb "$cache/root"
	for t in smtp-sink smtp-source; do
		cat > "$cache/bin/$t" <<EOW
#!/bin/sh
LD_LIBRARY_PATH="$cache/root/usr/lib/postfix\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$cache/root/usr/sbin/$t" "\$@"
EOW
		chmod +x "$cache/bin/$t"
	done
fi
echo "$cache/bin"
