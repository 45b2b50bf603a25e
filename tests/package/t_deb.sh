#!/bin/sh
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
#
# The Debian package (issue 6): builds it with contrib/debian/build.sh,
# checks lintian reports no error, then installs, uses and purges it in a
# throwaway root: a mount namespace (unshare --mount) with an overlayfs
# whose lower layer is the host's / and whose upper layer is a tmpfs,
# entered with chroot.  PID 1 is not systemd there; deb-systemd-helper
# still enables the unit, and a policy-rc.d stops any start.  When the
# host has another MTA (postfix, for t_interop.sh), the package's
# Conflicts/Replaces: mail-transport-agent makes dpkg -i remove it in
# the throwaway root.  The host must come out untouched: its
# /usr/sbin/sendmail, dpkg status and passwd are compared before and
# after.  Needs root (skipped otherwise).  Run by tests/run-all.sh
# (run_package) with make check TESTS=tests/package/t_deb.sh.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null 2>&1 ||
    ! grep -qw overlay /proc/filesystems; then
	echo "1..0 # SKIP needs root, unshare and overlayfs"
	exit 0
fi

# ---- build and lintian
OUT=$T_DIR/out
sh "$top_srcdir/contrib/debian/build.sh" "$OUT" >"$T_DIR/build.out" 2>&1
ok $? "contrib/debian/build.sh builds the package"
DEB=$(ls "$OUT"/relayq_*_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
test -f "$DEB"
ok $? "a relayq .deb is produced"
test -s "$OUT/lintian.txt" || : >"$OUT/lintian.txt"
is "$(grep -c '^E:' "$OUT/lintian.txt")" 0 "lintian reports no error"
grep '^[EW]:' "$OUT/lintian.txt" | sed 's/^/# lintian: /'
ctl=$(dpkg-deb -f "$DEB" Provides Conflicts Replaces)
is "$(echo "$ctl" | grep -c ': mail-transport-agent$')" 3 \
    "Provides, Conflicts and Replaces mail-transport-agent"
[ -f "$DEB" ] || { done_testing; }

# ---- host state before
host_state() {
	{
		stat -c '%n %a %U %G %s %Y' /usr/sbin/sendmail 2>&1
		sha256sum /var/lib/dpkg/status /etc/passwd /etc/group 2>&1
		dpkg-statoverride --list 2>&1
		ls /etc/systemd/system/multi-user.target.wants 2>&1
	}
}
host_state >"$T_DIR/host.before"

# ---- the throwaway root
W=$T_DIR/w
mkdir -p "$W/t"
cp "$DEB" "$W/relayq.deb"
cat >"$W/outer.sh" <<'EOS'
set -e
W=$1
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs "$W/t"
mkdir "$W/t/upper" "$W/t/work" "$W/t/root"
mount -t overlay overlay \
    -o "lowerdir=/,upperdir=$W/t/upper,workdir=$W/t/work" "$W/t/root"
R=$W/t/root
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/tmp"
mount -t tmpfs tmpfs "$R/run"
cp "$W/relayq.deb" "$W/inner.sh" "$R/tmp/"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
exec chroot "$R" /bin/sh /tmp/inner.sh
EOS
cat >"$W/inner.sh" <<'EOS'
# Prints "key: value" facts for the test to check.
export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
mta=$(dpkg-query -W -f '${Package} ${Status} ${Provides}\n' 2>/dev/null |
    awk '/ok installed/ && /mail-transport-agent/ { print $1 }' | head -n 1)
echo "other-mta: ${mta:-none}"
# dpkg -i refuses a conflict through a virtual package; apt-get installs
# the .deb and removes the other MTA, as an operator's apt would.
if [ -n "$mta" ]; then
	apt-get install -y -q --no-install-recommends \
	    /tmp/relayq.deb >/tmp/dpkg-i.log 2>&1
else
	dpkg -i /tmp/relayq.deb >/tmp/dpkg-i.log 2>&1
fi
echo "dpkg-i: $?"
if [ -n "$mta" ]; then
	echo "other-mta-after: $(dpkg-query -W -f '${Status}' "$mta" 2>&1)"
fi
echo "status: $(dpkg-query -W -f '${Status}' relayq)"
echo "sendmail: $(stat -c '%a %U %G' /usr/sbin/sendmail)"
echo "statoverride: $(dpkg-statoverride --list /usr/sbin/sendmail)"
echo "user: $(getent passwd relayq | cut -d: -f1,6,7)"
echo "group: $(getent group relayq | cut -d: -f1)"
echo "spool: $(cd /var/spool/relayq && stat -c '%n=%a:%U:%G' . tmp incoming queue state corrupt failed | tr '\n' ' ')"
echo "links: $(readlink /usr/lib/sendmail) $(readlink /usr/sbin/mailq) $(readlink /usr/sbin/newaliases)"
echo "hooks: $(stat -c '%a' /etc/NetworkManager/dispatcher.d/90-relayq /etc/networkd-dispatcher/routable.d/relayq /etc/network/if-up.d/relayq | tr '\n' ' ')"
echo "conffile: $(dpkg-query -W -f '${Conffiles}' relayq | grep -c '/etc/relayq/relayq.conf ')"
echo "enabled: $(readlink /etc/systemd/system/multi-user.target.wants/relayqd.service)"
echo "unsetuid: $(find /usr/sbin /usr/bin -perm -4000 -newer /tmp/relayq.deb 2>/dev/null | wc -l)"
printf 'Subject: from the package\n\nhello\n' |
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
    /usr/sbin/sendmail -i -f nobody@example.org to@example.net
echo "sendmail-as-nobody: $?"
echo "queued: $(find /var/spool/relayq/incoming /var/spool/relayq/queue -type f | wc -l)"
echo "relayq-queue: $(relayq queue 2>&1 | grep -c to@example.net)"
echo "check-config: $(relayq check-config >/dev/null 2>&1; echo $?)"
dpkg-deb -c /tmp/relayq.deb | awk '{ sub(/^\./, "", $6); print $6 }' |
    grep -v '/$' >/tmp/files
dpkg --purge relayq >/tmp/dpkg-purge.log 2>&1
echo "dpkg-purge: $?"
echo "status-after: $(dpkg-query -W -f '${Status}' relayq 2>&1 | grep -c 'ok installed')"
left=""
while read -r f; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done </tmp/files
for f in /var/spool/relayq /etc/relayq \
    /etc/systemd/system/multi-user.target.wants/relayqd.service; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
echo "left:$left"
echo "statoverride-after: $(dpkg-statoverride --list /usr/sbin/sendmail | wc -l)"
cat /tmp/dpkg-i.log /tmp/dpkg-purge.log | sed 's/^/log: /'
EOS
timeout 900 unshare --mount --fork sh "$W/outer.sh" "$W" \
    >"$T_DIR/facts" 2>&1
ok $? "the throwaway root ran"

fact() { sed -n "s/^$1: //p" "$T_DIR/facts" | head -n 1; }
is "$(fact dpkg-i)" 0 "dpkg -i (apt-get install with another MTA) exits 0"
mta=$(fact other-mta)
diag "MTA installed before: $mta"
if [ "$mta" != none ]; then
	is "$(fact other-mta-after | grep -c 'ok installed')" 0 \
	    "the other MTA ($mta) was replaced"
fi
is "$(fact status)" "install ok installed" "relayq is installed"
is "$(fact sendmail)" "2755 root relayq" "sendmail is setgid relayq, not setuid"
is "$(fact statoverride)" "root relayq 2755 /usr/sbin/sendmail" \
    "through dpkg-statoverride"
is "$(fact user)" "relayq:/var/spool/relayq:/usr/sbin/nologin" "user relayq"
is "$(fact group)" relayq "group relayq"
is "$(fact spool)" ".=755:relayq:relayq tmp=1730:relayq:relayq incoming=1770:relayq:relayq queue=750:relayq:relayq state=750:relayq:relayq corrupt=700:relayq:relayq failed=750:relayq:relayq " \
    "spool layout, owners and modes"
is "$(fact links)" "../sbin/sendmail sendmail sendmail" \
    "/usr/lib/sendmail, mailq and newaliases links"
is "$(fact hooks)" "755 755 755 " "network hooks installed executable"
is "$(fact conffile)" 1 "/etc/relayq/relayq.conf is a conffile"
is "$(fact enabled)" /lib/systemd/system/relayqd.service \
    "relayqd.service enabled"
is "$(fact unsetuid)" 0 "nothing setuid installed"
is "$(fact sendmail-as-nobody)" 0 "a user submits with the setgid sendmail"
is "$(fact queued)" 1 "the message is in the spool"
is "$(fact relayq-queue)" 1 "relayq queue shows it"
is "$(fact dpkg-purge)" 0 "dpkg --purge exits 0"
is "$(fact status-after)" 0 "relayq is gone"
is "$(fact left)" "" "purge leaves no file, spool, config or unit link"
is "$(fact statoverride-after)" 0 "purge removes the statoverride"
grep '^log: ' "$T_DIR/facts" | grep -iE 'error|warn' | sed 's/^/# /'

# ---- the host is untouched
host_state >"$T_DIR/host.after"
cmp -s "$T_DIR/host.before" "$T_DIR/host.after"
ok $? "host: sendmail, dpkg status, passwd, statoverrides unchanged"
[ $T_FAILED -eq 0 ] || diff "$T_DIR/host.before" "$T_DIR/host.after" | sed 's/^/# /'
done_testing
