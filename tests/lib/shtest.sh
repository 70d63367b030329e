# shtest.sh -- sourced by the shell tests that start from a fresh clone
# (tests/readme_install.sh, tests/package.sh). The sourcing script sets
# $tmp (a scratch directory) and $name (its name in the summary line).

passed=0
failed=0

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
