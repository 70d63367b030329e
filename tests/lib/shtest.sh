# shtest.sh -- sourced by the shell tests that start from a fresh clone
# (tests/readme_install.sh, tests/package.sh) as
#	name=NAME; . "$(dirname "$0")/lib/shtest.sh"
# with the script's arguments ([OUTDIR]) still in "$@". It sets $top (the
# source tree), $tmp (a scratch directory, removed at exit with the
# process $pid if the script set one), $out (OUTDIR, default $tmp/out) and
# $src (a fresh copy of the tree, see wsd_copy_tree).

passed=0
failed=0
pid=

# Copies the source tree at TOP to DEST as a fresh clone would have it: the
# files git tracks or would track (new files not yet committed included,
# ignored build products left out), so no build directory and no generated
# configure. Usage: wsd_copy_tree TOP DEST
wsd_copy_tree() {
	if ! git -C "$1" rev-parse --git-dir >/dev/null 2>&1; then
		echo "$1 is not a git checkout" >&2
		return 1
	fi
	mkdir -p "$2" || return 1
	(cd "$1" && git ls-files -z --cached --others --exclude-standard |
	    xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
	    tar --null -T - -cf -) | tar -xf - -C "$2"
}

# Runs one check: prints "ok NAME" or "FAILED NAME" (with the command's
# output) and counts it. Usage: check NAME COMMAND [ARG...]
check() {
	local what=$1
	shift
	if "$@" >"$tmp/check.out" 2>&1; then
		echo "ok      $what"
		passed=$((passed + 1))
	else
		echo "FAILED  $what"
		sed 's/^/        /' "$tmp/check.out" | tail -n 20
		failed=$((failed + 1))
	fi
}

# Prints the summary line and exits, 1 if a check failed.
finish() {
	echo "$name: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# Stops the process $pid, if any, and removes $tmp.
shtest_cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$tmp"
}

top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d) || exit 1
trap shtest_cleanup EXIT
out=${1:-$tmp/out}
mkdir -p "$out" || exit 1
src=$tmp/wsd
wsd_copy_tree "$top" "$src" || exit 1
