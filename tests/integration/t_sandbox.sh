#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# relayqd starts and delivers under the sandbox of systemd/relayqd.service
# (issue 6).  PID 1 is not systemd here (nor in CI), so the unit's
# options are applied by hand, each one read from the unit file (an
# option the test does not know fails the test, so a new option cannot
# go untested):
#   ProtectSystem=strict      every mount read-only (remount,bind,ro)
#   ReadWritePaths=           the spool bound onto itself, left rw
#   PrivateTmp=yes            a new tmpfs on /tmp and /var/tmp
#   ProtectHome=yes           empty read-only tmpfs on /home /root /run/user
#   PrivateDevices=yes        a tmpfs /dev with null zero full random
#                             urandom tty only
#   DevicePolicy=closed       same (no other device node exists)
#   PrivateMounts=yes         the mount namespace itself (unshare --mount)
#   ProtectHostname=yes       a UTS namespace (unshare --uts)
#   RemoveIPC=yes             an IPC namespace (unshare --ipc): nothing left
#   ProtectProc=invisible,    a PID namespace and a proc mounted with
#   ProcSubset=pid            hidepid=invisible,subset=pid
#   ProtectKernelTunables/Logs/ControlGroups: /proc/sys and /proc/kmsg
#                             are hidden by subset=pid, /sys and
#                             /sys/fs/cgroup are read-only, no /dev/kmsg
#   ProtectKernelModules=yes  no capability, no @module syscall
#   User=, Group=             setpriv --reuid --regid --init-groups: the
#                             relayq user when it exists, else nobody
#   UMask=0027                umask 027
#   NoNewPrivileges=yes       setpriv --no-new-privs
#   CapabilityBoundingSet=,   setpriv --bounding-set=-all --inh-caps=-all
#   AmbientCapabilities=      --ambient-caps=-all
#   SystemCallFilter=, SystemCallErrorNumber=, SystemCallArchitectures=,
#   RestrictAddressFamilies=, MemoryDenyWriteExecute=, LockPersonality=,
#   RestrictRealtime=, RestrictSUIDSGID=, RestrictNamespaces=,
#   ProtectClock=             a seccomp filter loaded by python3-seccomp
#                             (libseccomp) just before exec: the syscalls
#                             of @system-service minus @privileged and
#                             @resources as systemd-analyze syscall-filter
#                             lists them, EPERM for the rest, native arch
#                             only; socket() for AF_INET, AF_INET6, AF_UNIX
#                             only; no mmap/mprotect both writable and
#                             executable; personality() query only; no
#                             chmod setting S_ISUID/S_ISGID; no unshare,
#                             setns or clone with CLONE_NEW*; clone3 gives
#                             ENOSYS as under systemd.  (bubblewrap's
#                             --seccomp would need the same compiled
#                             program, so libseccomp is used directly.)
# relayqd is started directly, never under valgrind (RELAYQ_VALGRIND is
# ignored): valgrind cannot run under MemoryDenyWriteExecute.
# Not applied: KeyringMode=private (a new session keyring needs keyctl,
# not installed; relayqd uses no keys).  Skipped without root, unshare,
# setpriv, systemd-analyze or python3-seccomp.  With PID 1 systemd the
# same could be done with systemd-run -p; that path is not written (no
# such machine to test it on).
. "$top_srcdir/tests/integration/lib.sh"

UNIT=$top_srcdir/systemd/relayqd.service
SECPY=/usr/bin/python3
why=""
[ "$(id -u)" -eq 0 ] || why="not root"
for c in unshare setpriv systemd-analyze; do
	command -v $c >/dev/null 2>&1 || why="$why no $c"
done
"$SECPY" -c 'import seccomp' 2>/dev/null || why="$why no python3-seccomp"
if [ -n "$why" ]; then
	echo "1..0 # SKIP$why"
	exit 0
fi

# ---- the unit's options: every one must be known here
KNOWN="User Group UMask ReadWritePaths NoNewPrivileges CapabilityBoundingSet
AmbientCapabilities PrivateTmp PrivateDevices ProtectSystem ProtectHome
ProtectKernelTunables ProtectKernelModules ProtectKernelLogs
ProtectControlGroups ProtectClock ProtectHostname ProtectProc ProcSubset
RestrictAddressFamilies RestrictNamespaces RestrictRealtime
RestrictSUIDSGID LockPersonality MemoryDenyWriteExecute RemoveIPC
PrivateMounts KeyringMode DevicePolicy SystemCallArchitectures
SystemCallFilter SystemCallErrorNumber"
# Not sandboxing: how systemd starts, stops and restarts the service.
RUNTIME="Type ExecStart ExecReload Restart RestartSec WatchdogSec"
sed -n '/^\[Service\]/,/^\[/p' "$UNIT" | grep -E '^[A-Za-z]+=' |
    cut -d= -f1 | sort -u >"$T_DIR/opts"
unknown=""
while read -r o; do
	case " $(echo $KNOWN $RUNTIME) " in
	*" $o "*) ;;
	*) unknown="$unknown $o" ;;
	esac
done <"$T_DIR/opts"
is "$unknown" "" "every option of the unit is applied here or listed as not"
opt() { sed -n "s/^$1=//p" "$UNIT" | tr '\n' ' ' | sed 's/ $//'; }
is "$(opt ProtectSystem) $(opt PrivateTmp) $(opt ProtectHome) $(opt PrivateDevices)" \
    "strict yes yes yes" "the unit's filesystem options are the ones applied"
is "$(opt RestrictAddressFamilies)" "AF_INET AF_INET6 AF_UNIX" \
    "the unit's address families are the ones filtered"
is "$(opt SystemCallFilter)" "@system-service ~@privileged @resources" \
    "the unit's syscall filter is the one built"
is "$(opt ProtectProc) $(opt ProcSubset) $(opt UMask)" "invisible pid 0027" \
    "ProtectProc, ProcSubset and UMask as applied"

# ---- the user
if getent passwd relayq >/dev/null 2>&1 && getent group relayq >/dev/null 2>&1; then
	RUSER=relayq; RGROUP=relayq
else
	RUSER=nobody; RGROUP=nogroup
fi
diag "sandboxed user: $RUSER:$RGROUP"

# ---- the seccomp filter, built from systemd's own syscall groups
"$SECPY" - "$T_DIR/allow" <<'EOPY'
import subprocess, sys
def expand(group, seen=None):
    seen = set() if seen is None else seen
    if group in seen:
        return set()
    seen.add(group)
    out = subprocess.run(["systemd-analyze", "syscall-filter", group],
                         capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        w = line.strip()
        if not w or w.startswith("#"):
            continue
        names |= expand(w, seen) if w.startswith("@") else {w}
    return names
allow = expand("@system-service") - expand("@privileged") - expand("@resources")
open(sys.argv[1], "w").write("\n".join(sorted(allow)) + "\n")
EOPY
ok $? "syscall list: @system-service minus @privileged @resources"
diag "$(wc -l <"$T_DIR/allow") syscalls allowed"
cat >"$T_DIR/seccomp.py" <<'EOPY'
# seccomp.py ALLOW-FILE CMD...: loads the filter, then execs CMD.
import errno, os, socket, sys
import seccomp as s
allow = set(open(sys.argv[1]).read().split())
f = s.SyscallFilter(s.ERRNO(errno.EPERM))     # SystemCallErrorNumber=EPERM
f.set_attr(s.Attr.CTL_NNP, 1)                 # NoNewPrivileges=yes
cond = {}
W, X = 0x2, 0x4                               # PROT_WRITE, PROT_EXEC
for sc in ("mmap", "mprotect", "pkey_mprotect"):
    cond[sc] = [[s.Arg(2, s.MASKED_EQ, W | X, v)] for v in (0, W, X)]
cond["socket"] = [[s.Arg(0, s.EQ, a)] for a in
                  (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX)]
cond["personality"] = [[s.Arg(0, s.EQ, v)] for v in (0, 0xffffffff)]
for sc, i in (("chmod", 1), ("fchmod", 1), ("fchmodat", 2)):
    cond[sc] = [[s.Arg(i, s.MASKED_EQ, 0o6000, 0)]]
CLONE_NEW = 0x7E020000 | 0x80                 # CLONE_NEW* and NEWTIME
cond["clone"] = [[s.Arg(0, s.MASKED_EQ, CLONE_NEW, 0)]]
deny = {"unshare", "setns", "sched_setscheduler", "sched_setparam",
        "sched_setattr", "fchmodat2"}
for sc in sorted(allow - deny):
    try:
        if sc in cond:
            for c in cond[sc]:
                f.add_rule(s.ALLOW, sc, *c)
        else:
            f.add_rule(s.ALLOW, sc)
    except (RuntimeError, ValueError, OSError):
        pass                                   # unknown on this kernel/arch
try:
    f.add_rule(s.ERRNO(errno.ENOSYS), "clone3")
except (RuntimeError, ValueError, OSError):
    pass
f.load()
os.execv(sys.argv[2], sys.argv[2:])
EOPY

# ---- the sandbox: sandbox.sh CMD... (run under unshare, as root)
cat >"$T_DIR/sandbox.sh" <<'EOSH'
set -e
T_DIR=$1 SPOOL=$2 RUSER=$3 RGROUP=$4 SECPY=$5; shift 5
keep="$T_DIR $top_builddir $top_srcdir"
mount --make-rprivate /
mount -t proc -o hidepid=invisible,subset=pid proc /proc
# ReadWritePaths: the spool is a mount of its own, left writable.
mount --bind "$SPOOL" "$SPOOL"
# PrivateTmp: a fresh tmpfs on /tmp; the paths the test itself runs from
# (its directory, the build and source trees) are bound back in
# read-only when they live under /tmp.
stage=$(mktemp -d /dev/shm/relayq-sbx.XXXXXX 2>/dev/null || mktemp -d)
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$stage"
# A path inside another kept path (the build tree inside the source
# tree) comes with its parent: a bind of its own would be hidden under
# the parent's and could not be remounted read-only below.
for p in $keep; do
	case "$p" in /tmp/*) ;; *) continue ;; esac
	inside=
	for q in $keep; do
		[ "$q" = "$p" ] && continue
		case "$p/" in "$q"/*) inside=1 ;; esac
	done
	[ -n "$inside" ] && continue
	mkdir -p "$stage/${p#/tmp/}"
	mount --rbind "$p" "$stage/${p#/tmp/}"
done
mount --move "$stage" /tmp
rmdir "$stage" 2>/dev/null || true
[ -d /var/tmp ] && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
# PrivateDevices: a minimal /dev.
mkdir /tmp/.dev
mount -t tmpfs -o mode=755,nosuid,noexec tmpfs /tmp/.dev
for d in null zero full random urandom tty; do
	touch "/tmp/.dev/$d"; mount --bind "/dev/$d" "/tmp/.dev/$d"
done
ln -s /proc/self/fd /tmp/.dev/fd
mount --move /tmp/.dev /dev
rmdir /tmp/.dev
# ProtectHome: empty, read-only.
for h in /home /root /run/user; do
	[ -d "$h" ] || continue
	case " $keep " in *" $h/"*) echo "cannot hide $h: the test runs from it" >&2; exit 1 ;; esac
	mount -t tmpfs -o ro,mode=755,nosuid,nodev tmpfs "$h"
done
# ProtectSystem=strict: every other mount read-only.  A mount whose
# mount point is gone from this view (another test's, under the /tmp
# that the fresh tmpfs now hides) cannot be reached: nothing to do.
awk '{ print $5 }' /proc/self/mountinfo | sort -u | while read -r m; do
	case "$m" in
	"$SPOOL"|/tmp|/var/tmp|/proc|/proc/*|/dev|/dev/*) continue ;;
	/tmp/*|/var/tmp/*) [ -e "$m" ] || continue ;;
	esac
	mount -o remount,bind,ro "$m" 2>/dev/null ||
	    mount -o remount,bind,ro,nosuid,nodev "$m" 2>/dev/null ||
	    mount -o remount,bind,ro,nosuid,nodev,noexec "$m" ||
	    { echo "cannot make $m read-only" >&2; exit 1; }
done
umask 027
exec setpriv --reuid="$RUSER" --regid="$RGROUP" --init-groups \
    --no-new-privs --bounding-set=-all --inh-caps=-all --ambient-caps=-all \
    "$SECPY" "$T_DIR/seccomp.py" "$T_DIR/allow" "$@"
EOSH
export top_builddir top_srcdir
# sandboxed CMD...: runs CMD inside the sandbox, in the foreground.
sandboxed() {
	unshare --mount --uts --ipc --pid --fork sh "$T_DIR/sandbox.sh" \
	    "$T_DIR" "$SPOOL" "$RUSER" "$RGROUP" "$SECPY" "$@"
}

# ---- the spool and config, as the package sets them up
PORT=$(free_port)
write_conf
# The submission socket (issue 16) in the spool, which the sandbox
# leaves writable (the unit's /run/relayq is ReadWritePaths too).
cat >> "$CONF" <<EOC
[relayq]
submit_socket = $SPOOL/submit
EOC
conf_merge "$CONF"
sed 's/^\[relayq\]$/[relayq]\nsubmission = socket/' "$CONF" \
    > "$T_DIR/client.conf"
chmod 711 "$T_DIR"
chmod 644 "$CONF" "$T_DIR/client.conf"
mkdir -p "$SPOOL"
for d in tmp:1730 incoming:1770 queue:0750 state:0750 corrupt:0700 \
    failed:0750; do
	mkdir -p "$SPOOL/${d%%:*}" && chmod "${d#*:}" "$SPOOL/${d%%:*}"
done
chown -R "$RUSER:$RGROUP" "$SPOOL"
mkdir "$T_DIR/outside" && chown "$RUSER" "$T_DIR/outside"
# Submissions as the daemon's user: a setgid sendmail gives up its group
# with a private config ($RELAYQ_CONFIG), so another user cannot drop
# mail into this test's spool (t_deb.sh tests the setgid path).
submit() { # submit SUBJECT RCPT
	printf 'Subject: %s\n\nfrom a user\n' "$1" |
	    setpriv --reuid="$RUSER" --regid="$RGROUP" --clear-groups \
	    "$SENDMAIL" -i "$2"
}

# ---- what the sandbox allows and forbids (the same sandbox relayqd gets)
probe() { # probe DESCRIPTION EXPECTED-STATUS SHELL-COMMAND
	sandboxed /bin/sh -c "$3" >>"$T_DIR/probe.log" 2>&1
	is "$?" "$2" "sandbox: $1"
}
probe "runs as $RUSER" 0 "[ \$(id -un) = $RUSER ]"
probe "the spool is writable" 0 "touch $SPOOL/queue/.probe && rm $SPOOL/queue/.probe"
probe "a directory outside it, owned by the user, is read-only" 1 \
    "touch $T_DIR/outside/x"
probe "/tmp and /var/tmp are private and writable" 0 \
    "touch /tmp/x-$$ /var/tmp/x-$$"
[ ! -e "/tmp/x-$$" ] && [ ! -e "/var/tmp/x-$$" ]
ok $? "sandbox: what it writes in /tmp and /var/tmp stays inside"
probe "/dev has no disks" 1 "ls /dev | grep -q -E '^(sd|vd|nvme|loop|kmsg|mem)'"
probe "/proc has no sys/ or kmsg (subset=pid)" 0 \
    "[ ! -e /proc/sys ] && [ ! -e /proc/kmsg ]"
probe "/proc shows only the sandbox's processes" 0 \
    "[ \$(ls -d /proc/[0-9]* | wc -l) -lt 10 ]"
probe "/sys is read-only" 0 "touch /sys/x 2>&1 | grep -q 'Read-only'"
probe "no capabilities" 0 "grep -q '^CapEff:	0000000000000000' /proc/self/status && grep -q '^CapBnd:	0000000000000000' /proc/self/status"
probe "no new privileges" 0 "grep -q '^NoNewPrivs:	1' /proc/self/status"
probe "seccomp filter on" 0 "grep -q '^Seccomp:	2' /proc/self/status"
probe "AF_PACKET sockets refused" 1 \
    "$SECPY -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)'"
probe "AF_NETLINK sockets refused" 1 \
    "$SECPY -c 'import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)'"
probe "AF_INET sockets allowed" 0 \
    "$SECPY -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM)'"
probe "writable+executable memory refused" 1 \
    "$SECPY -c 'import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ|mmap.PROT_WRITE|mmap.PROT_EXEC)'"
probe "setgid chmod refused" 1 "touch /tmp/f && chmod 2755 /tmp/f"
probe "hostname cannot be set" 1 "hostname sandbox"
probe "umask 0027" 0 "[ \$(umask) = 0027 ]"

# ---- relayqd under the sandbox delivers
start_server
# LeakSanitizer stops the process with ptrace, which the syscall filter
# refuses (as systemd's would): no leak check in here (t_hooks and the
# others run it).
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    sandboxed "$RELAYQD" -f -c "$CONF" >>"$T_DIR/relayqd.log" 2>&1 &
SBX_PID=$!
T_PIDS="$T_PIDS $SBX_PID"
wait_for "relayqd's wake FIFO" 100 test -p "$SPOOL/wake"
is "$(stat -c %U "$SPOOL/wake" 2>&1)" "$RUSER" "relayqd made its wake FIFO"
submit sandboxed to@example.net
ok $? "sendmail queues a message"
wait_for "delivery" 150 has_mail 1
ok $? "relayqd in the sandbox delivers to the smarthost"
wait_for "empty queue" 100 queue_empty
ok $? "and empties the queue"
submit second to2@example.net
wait_for "second delivery" 150 has_mail 2
ok $? "a second message is delivered too"
grep -q 'status=sent' "$T_DIR/relayqd.log"
ok $? "the log has status=sent"
# A hardened service (NoNewPrivileges=yes, RestrictSUIDSGID=yes: the same
# sandbox) sends mail over relayqd's socket.
printf 'Subject: sandboxed-socket\n\nfrom a hardened service\n' \
    > "$T_DIR/msg3"
chmod 644 "$T_DIR/msg3"
# No leak check in here either (LeakSanitizer needs ptrace).
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    sandboxed /bin/sh -c "RELAYQ_CONFIG=$T_DIR/client.conf $SENDMAIL -i \
    to3@example.net < $T_DIR/msg3" >>"$T_DIR/probe.log" 2>&1
ok $? "sendmail under the unit's sandbox submits over the socket"
wait_for "third delivery" 150 has_mail 3
ok $? "and the message is delivered"
grep -q 'submitted over the socket by uid=' "$T_DIR/relayqd.log"
ok $? "relayqd (sandboxed) took it over its socket"
grep -qiE 'permission denied|operation not permitted|read-only' "$T_DIR/relayqd.log"
[ $? -ne 0 ]
ok $? "the log has no EPERM/EACCES/EROFS"
# libevent's getifaddrs() (for EVUTIL_AI_ADDRCONFIG) opens an AF_NETLINK
# socket, which RestrictAddressFamilies= refuses; relayqd does not ask
# for it (relayqd_conn.c), so the log stays clean (issue 12).
grep -q 'getifaddrs' "$T_DIR/relayqd.log"
[ $? -ne 0 ]
ok $? "the log has no 'Unable to call getifaddrs'"
# The daemon's host pid: below $SBX_PID come, depending on the shell, a
# subshell and unshare (which ignores TERM while it waits), then relayqd.
dpid= p=$SBX_PID
for _ in 1 2 3 4; do
	p=$(ps -o pid= --ppid "$p" | tr -d ' ' | head -n 1)
	[ -n "$p" ] || break
	case "$(ps -o comm= -p "$p")" in *relayqd*) dpid=$p; break ;; esac
done
[ -n "$dpid" ] && kill -TERM "$dpid"
# Bounded: 120 s, then everything under $SBX_PID is killed.
i=0
while kill -0 "$SBX_PID" 2>/dev/null && [ $i -lt 1200 ]; do
	sleep 0.1; i=$((i + 1))
done
if kill -0 "$SBX_PID" 2>/dev/null; then
	pkill -KILL -P "$SBX_PID"; kill -KILL "$SBX_PID" 2>/dev/null
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null
fi
wait "$SBX_PID"
ok $? "relayqd exits 0 on SIGTERM"
[ "$T_FAILED" -eq 0 ] || { sed 's/^/# relayqd: /' "$T_DIR/relayqd.log" | tail -n 20; tail -n 20 "$T_DIR/probe.log" | sed 's/^/# probe: /'; }
done_testing
