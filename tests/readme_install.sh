#!/bin/bash
# readme_install.sh -- follows the README's "Install and run as a service"
# commands in a fresh copy of the tree (no configure, no build directory),
# with `make install DESTDIR=...` and without the systemctl lines, then
# checks what they installed: the files, the paths the config, units and
# man pages name (the README's --prefix), and the installed wsd serving
# the installed demo site.
#
# Usage: tests/readme_install.sh [OUTDIR]
# OUTDIR (default: a temporary directory, removed) keeps the commands run
# and their output. Prints one line per check and ends with
# "readme_install: N passed, N failed"; exits 1 if a check failed.
set -u
name=readme_install
. "$(dirname "$0")/lib/shtest.sh"
dest=$tmp/dest

# The first sh block of the section, as written but for DESTDIR; the
# systemctl lines need a running systemd and root.
awk '/^## Install and run as a service$/ { s = 1; next }
    s && /^## / { exit }
    s && /^```sh$/ { c = 1; next }
    c && /^```$/ { exit }
    c { print }' "$top/README.md" >"$out/readme.sh"
grep -v '^systemctl ' "$out/readme.sh" |
    sed "s|make install\$|make install DESTDIR='$dest'|; s|make install |make install DESTDIR='$dest' |" \
    >"$out/commands.sh"
check "the README's commands start from a fresh clone's state" \
    sh -c "[ ! -e '$src/configure' ] && grep -q 'make install' '$out/readme.sh'"
start=$(date +%s)
(cd "$src" && MAKEFLAGS=-j$(nproc) bash -ex "$out/commands.sh") \
    >"$out/commands.out" 2>&1
rc=$?
echo "README commands: exit $rc after $(($(date +%s) - start)) s"
check "the README's commands succeed" \
    sh -c "[ $rc -eq 0 ] || { cat '$out/readme.sh'; tail -n 30 '$out/commands.out'; false; }"

# The prefix is the README's.
prefix=$(sed -n 's/.*--prefix=\([^ ]*\).*/\1/p' "$out/readme.sh")
prefix=${prefix:-/usr/local}
root=$dest$prefix
check "sbin/wsd runs (--version)" \
    sh -c "'$root/sbin/wsd' --version | grep -qx 'wsd [0-9.]*'"
check "bin/wsd-bench" test -x "$root/bin/wsd-bench"
check "etc/wsd/wsd.ini serves $prefix/share/wsd/www" \
    grep -qx "root = $prefix/share/wsd/www" "$root/etc/wsd/wsd.ini"
check "the demo site" test -f "$root/share/wsd/www/index.html"
check "the man pages name $prefix/etc/wsd/wsd.ini" \
    sh -c "grep -q 'Pa $prefix/etc/wsd/wsd.ini' '$root/share/man/man8/wsd.8' &&
        grep -q 'Pa $prefix/etc/wsd/wsd.ini' '$root/share/man/man5/wsd.ini.5' &&
        test -f '$root/share/man/man1/wsd-bench.1'"
units=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
if [ -n "$units" ]; then
	check "wsd.service runs $prefix/sbin/wsd on $prefix/etc/wsd/wsd.ini" \
	    grep -qx "ExecStart=$prefix/sbin/wsd -c $prefix/etc/wsd/wsd.ini" \
	    "$dest$units/wsd.service"
	check "wsd.socket" test -f "$dest$units/wsd.socket"
fi

# The installed wsd on the installed config, moved under DESTDIR and to a
# free port, serves the installed demo site.
sed -e "s|^root = $prefix/|root = $root/|" \
    -e 's|^listen = 127\.0\.0\.1:8080$|listen = 127.0.0.1:0|' \
    "$root/etc/wsd/wsd.ini" >"$tmp/wsd.ini"
check "the installed wsd accepts the installed config (-t)" \
    "$root/sbin/wsd" -t -c "$tmp/wsd.ini"
"$root/sbin/wsd" -c "$tmp/wsd.ini" >"$out/wsd.log" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
	    "$out/wsd.log" | head -n 1)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
check "the installed wsd serves the demo site" \
    sh -c "[ -n '$port' ] &&
        curl -fsS --max-time 10 http://127.0.0.1:$port/ | grep -qi '<html' ||
        cat '$out/wsd.log'"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
finish
