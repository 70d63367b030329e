#!/bin/sh
# lint_man.sh -- mandoc -T lint at STYLE level on the man pages in man/.
# Usage: tests/lint_man.sh [PAGE...]
#
# The pages cross-reference each other (wsd(8), wsd.ini(5), wsd-bench(1)):
# they are looked up in a temporary manual tree holding them, before the
# system's. Prints every message at STYLE level or above and exits 1 if
# there is one; mandoc's notes about an outdated or missing mandoc.db are
# not lint messages and are left out.
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 0 ] && set -- "$top"/man/*.[0-9]
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for page in "$top"/man/*.[0-9]; do
	sec=${page##*.}
	mkdir -p "$tmp/man$sec" && cp "$page" "$tmp/man$sec/" || exit 1
done
mandoc -T lint -W style -M "$tmp:/usr/share/man" "$@" >"$tmp/out" 2>&1
rc=$?
grep -v 'outdated mandoc.db' "$tmp/out" >"$tmp/msgs"
cat "$tmp/msgs"
[ $rc -eq 0 ] && [ ! -s "$tmp/msgs" ]
