#!/bin/bash
# package.sh -- builds the Debian package in a temporary copy of the tree
# (`dpkg-buildpackage -b -us -uc`, as the README says) and checks it: the
# files it installs (dpkg-deb -c), its conffile, its maintainer scripts
# (the wsd system user, wsd.service enabled), the installed paths in the
# config, units and man pages, the packaged wsd accepting its own config,
# and lintian without errors.
#
# Usage: tests/package.sh [OUTDIR]
# OUTDIR (default: a temporary directory, removed) keeps the build log,
# the .deb and lintian's output. Prints one line per check and ends with
# "package: N passed, N failed"; exits 1 if a check failed.
set -u
name=package
. "$(dirname "$0")/lib/shtest.sh"

# The unit tests are test.sh's business (DEB_BUILD_OPTIONS=nocheck): here
# only the package is at stake. WSD_PACKAGE_CHECK=1 runs them too.
opts="parallel=$(nproc)"
[ "${WSD_PACKAGE_CHECK:-0}" = 1 ] || opts="$opts nocheck"
start=$(date +%s)
(cd "$src" && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -b -us -uc) \
    >"$out/build.log" 2>&1
rc=$?
echo "dpkg-buildpackage -b -us -uc: exit $rc after $(($(date +%s) - start)) s"
check "dpkg-buildpackage -b -us -uc builds wsd_*.deb" \
    sh -c "[ $rc -eq 0 ] && ls '$tmp'/wsd_*.deb || tail -n 40 '$out/build.log'"
deb=$(ls "$tmp"/wsd_*_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || finish
cp "$deb" "$out/"

dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' >"$out/contents"
# Every file the package must install.
has() {
	local f missing=0
	for f; do
		grep -qxF "$f" "$out/contents" || {
			echo "missing: $f"
			missing=1
		}
	done
	return $missing
}
check "the daemon and wsd-bench" has /usr/sbin/wsd /usr/bin/wsd-bench
check "the man pages" has /usr/share/man/man8/wsd.8.gz \
    /usr/share/man/man5/wsd.ini.5.gz /usr/share/man/man1/wsd-bench.1.gz
check "the demo site" has /usr/share/wsd/www/index.html \
    /usr/share/wsd/www/counter.js /usr/share/wsd/www/style.css
check "the config" has /etc/wsd/wsd.ini
check "the systemd units" has /lib/systemd/system/wsd.service \
    /lib/systemd/system/wsd.socket
check "the wsd system user (sysusers.d)" has /usr/lib/sysusers.d/wsd.conf
check "the README" has /usr/share/doc/wsd/README.md.gz

ctl=$tmp/control
dpkg-deb -e "$deb" "$ctl"
check "wsd.ini is a conffile" grep -qxF /etc/wsd/wsd.ini "$ctl/conffiles"
check "postinst creates the wsd user" \
    grep -q '^ *systemd-sysusers .*wsd\.conf' "$ctl/postinst"
check "postinst enables wsd.service" \
    grep -q "deb-systemd-helper .*enable 'wsd.service'" "$ctl/postinst"
check "postinst starts wsd.service where systemd runs" \
    sh -c "grep -q '/run/systemd/system' '$ctl/postinst' &&
        grep -q \"deb-systemd-invoke .*'wsd.service'\" '$ctl/postinst'"
# Enabled again on upgrade only if the admin enabled it, never started.
check "wsd.socket is left disabled" \
    sh -c "grep -q \"debian-installed 'wsd.socket'\" '$ctl/postinst' &&
        ! grep -q \"deb-systemd-invoke .*'wsd.socket'\" '$ctl/postinst'"
check "depends on sysusers and the libraries" \
    sh -c "dpkg-deb -f '$deb' Depends | grep -q sysusers &&
        dpkg-deb -f '$deb' Depends | grep -q libevent"

root=$tmp/root
dpkg-deb -x "$deb" "$root"
# What postinst's systemd-sysusers makes of it, in a scratch root.
users=$tmp/users
mkdir -p "$users/etc"
touch "$users/etc/passwd" "$users/etc/group" "$users/etc/shadow" \
    "$users/etc/gshadow"
check "systemd-sysusers makes a wsd system user and group of it" \
    sh -c "systemd-sysusers --root='$users' \
            '$root/usr/lib/sysusers.d/wsd.conf' &&
        grep -E '^wsd:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin\$' \
            '$users/etc/passwd' && grep -q '^wsd:x:' '$users/etc/group'"
check "wsd.ini serves the installed demo site" \
    grep -qx 'root = /usr/share/wsd/www' "$root/etc/wsd/wsd.ini"
check "wsd.service runs /usr/sbin/wsd on /etc/wsd/wsd.ini" \
    grep -qx 'ExecStart=/usr/sbin/wsd -c /etc/wsd/wsd.ini' \
    "$root/lib/systemd/system/wsd.service"
check "wsd.8 names /etc/wsd/wsd.ini and /usr/share/wsd/www, no /usr/local" \
    sh -c "zcat '$root/usr/share/man/man8/wsd.8.gz' >'$tmp/wsd.8' &&
        grep -q 'Pa /etc/wsd/wsd.ini' '$tmp/wsd.8' &&
        grep -q 'Pa /usr/share/wsd/www' '$tmp/wsd.8' &&
        ! grep -n /usr/local '$tmp/wsd.8'"
check "the packaged wsd runs (--version)" \
    sh -c "'$root/usr/sbin/wsd' --version | grep -qx 'wsd [0-9.]*'"
# Its config, with the demo site's path moved to where it was unpacked.
sed "s|^root = /usr/share/wsd/www|root = $root/usr/share/wsd/www|" \
    "$root/etc/wsd/wsd.ini" >"$tmp/wsd.ini"
check "the packaged wsd accepts the packaged wsd.ini (-t)" \
    "$root/usr/sbin/wsd" -t -c "$tmp/wsd.ini"

start=$(date +%s)
lintian --fail-on error --tag-display-limit 0 "$deb" >"$out/lintian.out" 2>&1
rc=$?
echo "lintian: exit $rc after $(($(date +%s) - start)) s," \
    "$(grep -c '^E:' "$out/lintian.out") errors," \
    "$(grep -c '^W:' "$out/lintian.out") warnings"
check "lintian reports no errors" \
    sh -c "[ $rc -eq 0 ] && ! grep '^E:' '$out/lintian.out' ||
        cat '$out/lintian.out'"
sed 's/^/        /' "$out/lintian.out"
finish
