# deps.sh -- installs the Debian packages wsd needs; sourced by run.sh and
# test.sh. Usage: wsd_deps build|run|test (run: what the README's quick
# start uses next to the build, its Python client; test: everything)
#
# Only what is missing is installed, so a second run costs nothing.

wsd_build_pkgs="autoconf automake make gcc pkg-config libevent-dev libssl-dev
	libinih-dev libjansson-dev check zlib1g-dev libhiredis-dev"
# The README's Python example right after ./run.sh.
wsd_run_pkgs="python3 python3-websockets"
wsd_test_pkgs="clang libclang-rt-14-dev python3 python3-websockets python3-pytest curl
	openssl mandoc chromium fonts-dejavu-core systemd man-db util-linux"
# The logrotate snippet is tested with logrotate itself.
wsd_test_pkgs="$wsd_test_pkgs logrotate"
# [cluster]: the integration tests start their own redis-server.
wsd_test_pkgs="$wsd_test_pkgs redis-server"

# tests/package.sh: dpkg-buildpackage, debhelper's dh and lintian.
wsd_pkg_pkgs="dpkg-dev debhelper fakeroot lintian"

# Prints the packages MODE needs (build, run or test).
wsd_pkgs() {
	pkgs=$wsd_build_pkgs
	case $1 in
	run)	pkgs="$pkgs $wsd_run_pkgs" ;;
	test)	pkgs="$pkgs $wsd_run_pkgs $wsd_test_pkgs $wsd_pkg_pkgs" ;;
	esac
	echo $pkgs
}

wsd_deps() {
	pkgs=$(wsd_pkgs "$1")
	missing=
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "run as root, or install these packages first:$missing" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q && apt-get install -y -q --no-install-recommends $missing
}

# Configures (once) and builds an out-of-tree build directory.
# Usage: wsd_build DIR [configure args...]
wsd_build() {
	dir=$1
	shift
	top=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/../.." && pwd)
	if [ -f "$top/config.status" ]; then
		echo "the source tree is configured in place; run 'make distclean' there first" >&2
		return 1
	fi
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi) || return 1
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		(cd "$dir" && "$top/configure" "$@") >"$dir/configure.out" 2>&1 || {
			cat "$dir/configure.out"
			return 1
		}
	fi
	make -C "$dir" -j"$(nproc)" >"$dir/make.out" 2>&1 || {
		cat "$dir/make.out"
		return 1
	}
}
