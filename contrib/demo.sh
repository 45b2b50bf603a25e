#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The demo: builds relayq, starts a local SMTP server (aiosmtpd) on a free
# loopback port and relayqd on a private spool, sends one message with
# sendmail, shows it as the server received it, and shows the queue empty.
# Everything it starts is stopped by PID when it ends.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
sh contrib/install-deps.sh || exit 1
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }
mkdir -p build && cd build || exit 1
{ [ -f Makefile ] || "$top/configure" -q; } && make -s -j2 >/dev/null ||
    { echo "demo: build failed"; exit 1; }

work=$(mktemp -d /tmp/relayq-demo.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$(/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/relayq.conf" <<EOC
[relayq]
spool_dir = $work/spool
submit_socket = $work/submit.sock
hostname = demo.relayq.test
default_domain = example.org

[smarthost]
host = 127.0.0.1
port = $port
tls = none

[delivery]
retry_min = 2s
EOC
export RELAYQ_CONFIG="$work/relayq.conf"

echo "== starting an SMTP server (aiosmtpd) on 127.0.0.1:$port"
/usr/bin/python3 "$top/tests/integration/smtpserver.py" --port "$port" \
    --maildir "$work/mail" --pidfile "$work/server.pid" >"$work/server.log" 2>&1 &
pids="$pids $!"
i=0; while [ ! -s "$work/server.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

echo "== starting relayqd on the private spool $work/spool"
./relayqd -f >"$work/relayqd.log" 2>&1 &
pids="$pids $!"
# sendmail -v asks the running relayqd to deliver at once: wait (at most
# 10 s) until relayqd says it has started.
i=0; while ! grep -q 'started:' "$work/relayqd.log" && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done

echo "== sending a message: sendmail -v root"
printf 'Subject: hello from relayq\n\nThis message went through sendmail, the spool and relayqd.\n' |
    ./sendmail -v root || exit 1

i=0; while ! ls "$work/mail" 2>/dev/null | grep -q '\.eml$' && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
f=$(ls "$work"/mail/*.eml 2>/dev/null | head -n 1)
if [ -z "$f" ]; then
	echo "demo: the message did not arrive"; cat "$work/relayqd.log"; exit 1
fi
echo "== the SMTP server received (envelope: $(cat "${f%.eml}.env")):"
tr -d '\r' < "$f" | sed 's/^/    /'
echo "== relayqd log:"
sed 's/^/    /' "$work/relayqd.log"
sleep 0.2
echo "== mailq:"
./sendmail -bp | sed 's/^/    /'
echo "== demo finished: delivered, and the queue is empty"
