# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# Shared helpers for the integration tests: TAP output, a private spool
# and config per test, a real SMTP server (aiosmtpd) on a free loopback
# port, relayqd in the foreground, and bounded waits.  Every process a
# test starts is recorded and stopped by PID at exit.

: "${top_srcdir:?}" "${top_builddir:?}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
SENDMAIL=$top_builddir/sendmail
RELAYQD=$top_builddir/relayqd
RELAYQ=$top_builddir/relayq

T_N=0
T_FAILED=0
T_PIDS=""
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/relayq-test.XXXXXX")
CONF=$T_DIR/relayq.conf
SPOOL=$T_DIR/spool
MAILDIR=$T_DIR/mail

ok() { # ok COND-EXIT-STATUS DESCRIPTION
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

is() { # is GOT WANT DESCRIPTION
	T_N=$((T_N + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $T_N - $3"
	else
		echo "not ok $T_N - $3"
		echo "#   got:      '$1'"
		echo "#   expected: '$2'"
		T_FAILED=$((T_FAILED + 1))
	fi
}

diag() { echo "# $*"; }

t_cleanup() {
	for p in $T_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $T_PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -9 "$p" 2>/dev/null
	done
	if [ "$T_FAILED" -eq 0 ] && [ -z "$KEEP" ]; then
		rm -rf "$T_DIR"
	else
		echo "# test files kept in $T_DIR"
	fi
}
trap t_cleanup EXIT
trap 'exit 1' INT TERM

done_testing() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
	exit $?
}

# free_port: prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
	# A random port below the kernel's ephemeral range, free now.  Not
	# bind(0): that hands out ephemeral ports, which every outgoing
	# connection (relayqd's, the other tests') also takes its local port
	# from, so one could take ours before our server binds it ("address
	# already in use" was seen with two suites at once).
	"$PYTHON3" -c 'import random, socket
lo, hi = 20000, 32000
try:
    hi = min(hi, int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0]) - 1)
except (OSError, ValueError, IndexError):
    pass
for _ in range(500):
    p = random.randint(lo, hi)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break'
}

# socket_setup RELAYQ-LINES: the submission socket tests' start: a
# config whose [relayq] has submit_socket = $SOCK and RELAYQ-LINES,
# readable by every user (as are the directories to it), the server, and
# relayqd listening on $SOCK (wait_for's status).  Sets NOBODY, PORT, SOCK.
socket_setup() {
	NOBODY=$(id -u nobody)
	PORT=$(free_port)
	SOCK=$T_DIR/submit.sock
	write_conf
	printf '[relayq]\nsubmit_socket = %s\n%s\n' "$SOCK" "$1" >> "$CONF"
	conf_merge "$CONF"
	chmod 711 "$T_DIR"
	chmod 644 "$CONF"
	start_server
	start_daemon
	wait_for "the submission socket" 100 test -S "$SOCK"
}

# conf_merge FILE: merges what FILE gives twice, as iniparser would (a
# repeated section into its first, a repeated key keeps its last value),
# since relayq refuses both (issue 15).  Comments go; for tests that
# append to $CONF or override write_conf's lines.
conf_merge() {
	awk '
	function norm(s) {
		s = tolower(s); gsub(/^[ \t]+|[ \t]+$/, "", s)
		gsub(/[ \t]+/, " ", s); return s
	}
	BEGIN { sec = ""; ns = 0; order[0] = "" }
	/^[ \t]*[;#]/ || /^[ \t]*$/ { next }
	/^[ \t]*\[.*\][ \t]*$/ {
		t = $0; sub(/^[ \t]*\[/, "", t); sub(/\][ \t]*$/, "", t)
		sec = norm(t)
		if (!(sec in hdr)) { hdr[sec] = $0; order[++ns] = sec }
		next
	}
	{
		k = $0
		if (k ~ /=/) { sub(/=.*/, "", k); k = norm(k) } else k = "\001" NR
		if (!((sec, k) in val)) keys[sec, ++nk[sec]] = k
		val[sec, k] = $0
	}
	END {
		for (i = 0; i <= ns; i++) {
			s = order[i]
			if (s in hdr) print hdr[s]
			for (j = 1; j <= nk[s]; j++) print val[s, keys[s, j]]
			if (s in hdr) print ""
		}
	}' "$1" > "$1.merge" && mv "$1.merge" "$1"
}

# write_conf [DELIVERY-LINES [SMARTHOST-LINES]]: private config for this
# test.  SMARTHOST-LINES may override host and tls, DELIVERY-LINES the
# retry times: conf_merge keeps the last.
write_conf() {
	cat > "$CONF" <<EOC
[relayq]
spool_dir = $SPOOL
hostname = relayq.test
default_domain = example.org
; a private socket: a test's relayqd never binds /run/relayq/submit
submit_socket = $T_DIR/submit.sock

[smarthost]
host = 127.0.0.1
port = $PORT
tls = none
${2:-}

[delivery]
retry_min = 1s
retry_max = 2s
scan_interval = 2s
idle_timeout = 1s
connect_timeout = 5s
${1:-}
EOC
	conf_merge "$CONF"
	RELAYQ_CONFIG=$CONF
	export RELAYQ_CONFIG
}

# start_server [ARGS...]: aiosmtpd on $PORT, storing into $MAILDIR.
start_server() {
	rm -f "$T_DIR/server.pid"
	"$PYTHON3" "$top_srcdir/tests/integration/smtpserver.py" \
	    --port "$PORT" --maildir "$MAILDIR" --pidfile "$T_DIR/server.pid" \
	    "$@" >>"$T_DIR/server.log" 2>&1 &
	SERVER_PID=$!
	T_PIDS="$T_PIDS $SERVER_PID"
	wait_for "server to listen" 100 test -s "$T_DIR/server.pid"
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
}

# start_other NAME HOST PORT MAILDIR ARGS...: another server (smtpserver.py
# on HOST:PORT storing into MAILDIR), its pid in $T_DIR/NAME.pid and in
# OTHER_PID.
start_other() {
	_n=$1 _h=$2 _p=$3 _m=$4
	shift 4
	rm -f "$T_DIR/$_n.pid"
	"$PYTHON3" "$top_srcdir/tests/integration/smtpserver.py" \
	    --host "$_h" --port "$_p" --maildir "$_m" \
	    --pidfile "$T_DIR/$_n.pid" "$@" >>"$T_DIR/$_n.log" 2>&1 &
	OTHER_PID=$!
	T_PIDS="$T_PIDS $OTHER_PID"
	wait_for "server $_n to listen" 100 test -s "$T_DIR/$_n.pid"
}

# stop_other NAME: stops the server start_other NAME started.
stop_other() {
	kill "$(cat "$T_DIR/$1.pid")"
	wait_for "server $1 to stop" 100 sh -c "! kill -0 $(cat "$T_DIR/$1.pid")"
}

# count_in DIR: messages stored in DIR; has_in DIR N: at least N.
count_in() { ls "$1" 2>/dev/null | grep -c '\.eml$'; }
has_in() { [ "$(count_in "$1")" -ge "$2" ]; }

# sent_from DIR SENDER: a message from SENDER is stored in DIR.
sent_from() {
	grep -lq "\"mail_from\": \"$2\"" "$1"/*.env 2>/dev/null
}

# start_daemon [ARGS...]: relayqd -f on the private config.
# With RELAYQ_VALGRIND=1 it runs under valgrind, which makes relayqd exit
# 99 on a leak or a memory error, so "relayqd exits 0" checks catch them.
start_daemon() {
	if [ -n "${RELAYQ_VALGRIND:-}" ]; then
		set -- valgrind -q --leak-check=full --error-exitcode=99 \
		    --errors-for-leak-kinds=definite,indirect \
		    --log-file="$T_DIR/valgrind.%p.log" "$RELAYQD" -f -c "$CONF" "$@"
	else
		set -- "$RELAYQD" -f -c "$CONF" "$@"
	fi
	T_STARTED=$(grep -c 'started:' "$T_DIR/relayqd.log" 2>/dev/null)
	"$@" >>"$T_DIR/relayqd.log" 2>&1 &
	DAEMON_PID=$!
	T_PIDS="$T_PIDS $DAEMON_PID"
}

# wait_started: waits until the relayqd of the last start_daemon has
# logged its "started:" line, that is, its start-up listing of the spool
# is over.  A message queued before that is picked up by the listing,
# so a "sendmail -v" for it would race with the delivery it starts.
wait_started() {
	wait_for "relayqd's start line" 100 sh -c \
	    "[ \$(grep -c 'started:' '$T_DIR/relayqd.log') -gt ${T_STARTED:-0} ]"
}

# stop_daemon [PID]: stops relayqd ($DAEMON_PID by default) and returns
# its exit status; never hangs.  It waits (60 s at most) until the child
# has exec'd and caught SIGTERM (a TERM sent between fork and exec would
# run this shell's trap; one sent before relayqd's handler exists would
# kill it), sends SIGTERM, sends it again after half of STOP_DAEMON_SECS
# (default 30 s, 120 s under valgrind), SIGKILLs it after all of it, and
# always reaps it.  Only a child of this shell is signalled, so a PID
# reaped earlier and reused is never touched.
stop_daemon() {
	_sd_pid=${1:-$DAEMON_PID}
	_sd_lim=${STOP_DAEMON_SECS:-30}
	[ -n "${RELAYQ_VALGRIND:-}" ] && _sd_lim=${STOP_DAEMON_SECS:-120}
	_sd_i=0
	while [ $_sd_i -lt 600 ] && _sd_running "$_sd_pid" &&
	    ! _sd_catches_term "$_sd_pid"; do
		sleep 0.1
		_sd_i=$((_sd_i + 1))
	done
	_sd_running "$_sd_pid" && kill -TERM "$_sd_pid" 2>/dev/null
	_sd_i=0
	while _sd_running "$_sd_pid"; do
		_sd_i=$((_sd_i + 1))
		if [ $_sd_i -eq $((_sd_lim * 5)) ]; then
			diag "relayqd $_sd_pid: still running, SIGTERM again"
			kill -TERM "$_sd_pid" 2>/dev/null
		elif [ $_sd_i -ge $((_sd_lim * 10)) ]; then
			diag "relayqd $_sd_pid: still running after ${_sd_lim}s, SIGKILL"
			kill -KILL "$_sd_pid" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$_sd_pid"
}

# _sd_running PID: PID is a child of this shell that has not exited
# (builtins only: this runs in a polling loop).
_sd_running() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] &&
	    read -r _sd_stat 2>/dev/null < "/proc/$1/stat" || return 1
	set -- "$1" ${_sd_stat##*) }
	[ "$2" != Z ] && [ "$3" = "$$" ]
}

# _sd_catches_term PID: PID has exec'd (it is not this shell) and has a
# SIGTERM handler (bit 14 of SigCgt).
_sd_catches_term() {
	! [ "/proc/$1/exe" -ef "/proc/$$/exe" ] || return 1
	_sd_cgt=""
	while read -r _sd_k _sd_v; do
		[ "$_sd_k" = SigCgt: ] && _sd_cgt=${_sd_v#"${_sd_v%????}"}
	done 2>/dev/null < "/proc/$1/status"
	[ -n "$_sd_cgt" ] && [ $(((0x$_sd_cgt >> 14) & 1)) -eq 1 ]
}

# t_now: sets T_NOW to the seconds since boot (no fork: used in loops).
t_now() {
	read -r _t_up _t_rest < /proc/uptime
	T_NOW=${_t_up%%.*}
}

# wait_for DESCRIPTION TENTHS CMD...: polls CMD every 0.1 s until it
# succeeds.  The bound only ends a test that already fails, and a loaded
# machine can be many times slower than an idle one, so it is generous:
# TENTHS/10 seconds of wall-clock time, but never less than WAIT_SECS
# (default 120), and at most 10 polls a second.
wait_for() {
	_desc=$1; _secs=$((($2 + 9) / 10)); shift 2
	[ "$_secs" -ge "${WAIT_SECS:-120}" ] || _secs=${WAIT_SECS:-120}
	t_now
	_end=$((T_NOW + _secs))
	_i=0
	while [ $_i -lt $((_secs * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		t_now
		[ "$T_NOW" -lt "$_end" ] || break
		sleep 0.1
		_i=$((_i + 1))
	done
	diag "timed out after ${_secs}s waiting for $_desc"
	return 1
}

# state_saved [N]: relayqd has saved the state of N (default 1) deferred
# attempts, so `relayq queue` shows them.  It logs each recipient's
# "status=deferred" before it writes the state file, and "tries=K next
# attempt in" after.
state_saved() {
	[ "$(grep -c ': tries=[0-9]* next attempt in' "$T_DIR/relayqd.log" \
	    2>/dev/null)" -ge "${1:-1}" ]
}

# fresh_run DELIVERY-LINES SMARTHOST-LINES [SERVER-ARGS...]: for a test
# of several runs: stops relayqd and the server, keeps the last log as
# relayqd.N.log, empties the spool and the maildir, writes the config on
# a new port and starts the server.
fresh_run() {
	_fr_dl=$1
	_fr_sl=$2
	shift 2
	[ -n "${DAEMON_PID:-}" ] && stop_daemon >/dev/null 2>&1
	DAEMON_PID=
	[ -n "${SERVER_PID:-}" ] && stop_server
	if [ -f "$T_DIR/relayqd.log" ]; then
		T_LOGN=$((${T_LOGN:-0} + 1))
		mv "$T_DIR/relayqd.log" "$T_DIR/relayqd.$T_LOGN.log"
	fi
	rm -rf "$SPOOL" "$MAILDIR"
	PORT=$(free_port)
	write_conf "$_fr_dl" "$_fr_sl"
	start_server "$@"
}

# start_fakesmtpd SCRIPT LOG: plays the fakesmtpd.py transcript SCRIPT
# on $PORT, logging the client's lines to LOG; sets FAKE_PID.
start_fakesmtpd() {
	rm -f "$T_DIR/fake.pid"
	"$PYTHON3" "$top_srcdir/tests/integration/fakesmtpd.py" --port "$PORT" \
	    --script "$1" --log "$2" --pidfile "$T_DIR/fake.pid" \
	    >/dev/null 2>&1 &
	FAKE_PID=$!
	T_PIDS="$T_PIDS $FAKE_PID"
	wait_for "fake server" 50 test -s "$T_DIR/fake.pid"
}

# alert_recorder SCRIPT DIR: writes SCRIPT, an alert_command that
# records its arguments (ARGS=...), its RELAYQ_* variables and its stdin
# (after a STDIN: line) in DIR/alert.PID.env, written whole at once.
alert_recorder() {
	mkdir -p "$2"
	cat > "$1" <<EOF
#!/bin/sh
f="$2/alert.\$\$"
{
	echo "ARGS=\$*"
	env | grep '^RELAYQ_' | sort
	echo "STDIN:"
	cat
} > "\$f.tmp"
mv "\$f.tmp" "\$f.env"
EOF
	chmod 755 "$1"
}

# count_mail: number of messages the server has stored.
count_mail() {
	ls "$MAILDIR" 2>/dev/null | grep -c '\.eml$'
}

has_mail() { [ "$(count_mail)" -ge "$1" ]; }

# queue_files: number of files in the spool's incoming/, queue/ and tmp/.
queue_files() {
	find "$SPOOL/incoming" "$SPOOL/queue" "$SPOOL/state" "$SPOOL/tmp" -type f 2>/dev/null |
	    wc -l
}

queue_empty() { [ "$(queue_files)" -eq 0 ]; }

# refused ADDR PORT: nothing listens there (connection refused).
refused() {
	"$PYTHON3" -c 'import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam); s.settimeout(5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    pass
sys.exit(1)' "$1" "$2"
}

# start_blackhole PORT ADDR...: on each ADDR:PORT a listener with backlog
# 0 and its queue filled, so the kernel drops further SYNs and a connect
# there neither succeeds nor fails; HOLE_PID is the process holding them.
start_blackhole() {
	_port=$1
	shift
	rm -f "$T_DIR/hole.ready"
	"$PYTHON3" -c 'import socket, sys, time
holes = []
for a in sys.argv[3:]:
    srv = socket.socket(); srv.bind((a, int(sys.argv[1]))); srv.listen(0)
    for i in range(4):
        c = socket.socket(); c.setblocking(False)
        try: c.connect((a, int(sys.argv[1])))
        except BlockingIOError: pass
        holes.append(c)
    holes.append(srv)
open(sys.argv[2], "w").write("up\n")
time.sleep(900)' "$_port" "$T_DIR/hole.ready" "$@" >"$T_DIR/hole.log" 2>&1 &
	HOLE_PID=$!
	T_PIDS="$T_PIDS $HOLE_PID"
	wait_for "blackholes" 100 test -s "$T_DIR/hole.ready"
}

# is_silent ADDR PORT: a connect to ADDR:PORT gets no answer in 1 s.
is_silent() {
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except socket.timeout:
    sys.exit(0)
sys.exit(1)' "$1" "$2"
}

# make_pki: a throw-away test CA in $PKI with server certificates for
# localhost/127.0.0.1 (good), for another name (wrong), one that expired
# (made under faketime), a self-signed one, and a client certificate.
make_pki() {
	PKI=$T_DIR/pki
	mkdir -p "$PKI" && (
	cd "$PKI" || exit 1
	o() { openssl "$@" >/dev/null 2>&1 || { echo "openssl $* failed" >&2; exit 1; }; }
	o req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
	    -days 2 -subj "/CN=relayq test CA"
	# sign NAME SAN [faketime-offset]
	sign() {
		o req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
		    -subj "/CN=$1"
		printf 'subjectAltName=%s\n' "$2" > "$1.ext"
		if [ -n "${3:-}" ]; then
			faketime -f "$3" openssl x509 -req -in "$1.csr" -CA ca.crt \
			    -CAkey ca.key -CAcreateserial -days 1 \
			    -extfile "$1.ext" -out "$1.crt" >/dev/null 2>&1 || exit 1
		else
			o x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key \
			    -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.crt"
		fi
	}
	sign good "DNS:localhost,IP:127.0.0.1"
	sign wrong "DNS:wrong.example"
	sign expired "DNS:localhost,IP:127.0.0.1" "-30d"
	sign client "DNS:client.example"
	o req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.crt \
	    -days 2 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost"
	)
}
