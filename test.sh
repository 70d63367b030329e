#!/bin/bash
# test.sh -- install what is missing, build wsd with gcc and clang
# (-Werror), then run the whole test suite: check unit tests and the
# integration tests against the real daemon (with workers = 1 and 2, under
# ASan and, for the multi-worker tests, TSan). The last line is the total.
set -u
cd "$(dirname "$0")"
top=$(pwd)
. tests/lib/deps.sh
wsd_deps test || exit 1

out=$top/tests/output
rm -rf "$out"
mkdir -p "$out"

echo "== build (gcc, -Werror)"
wsd_build build CC=gcc --enable-werror || exit 1
echo "== build (clang, -Werror, AddressSanitizer + UBSan)"
wsd_build build-clang CC=clang --enable-werror --enable-asan || exit 1
echo "== build (clang, -Werror, ThreadSanitizer)"
wsd_build build-tsan CC=clang --enable-werror --enable-tsan || exit 1
echo "== build (clang, libFuzzer targets)"
wsd_build build-fuzz CC=clang --enable-werror --enable-fuzzing || exit 1
make -C build-fuzz -j"$(nproc)" fuzz >build-fuzz/make-fuzz.out 2>&1 || {
	cat build-fuzz/make-fuzz.out
	exit 1
}

passed=0
failed=0

echo "== unit tests (check)"
make -C build check >"$out/unit.out" 2>&1
unit_rc=$?
log=build/tests/unit/check_wsd.log
[ -f "$log" ] && grep -v '^PASS\|^#' "$log" | grep -E '^[0-9]+%|:[EF]:' | tee "$out/unit.summary"
# "100%: Checks: N, Failures: F, Errors: E"
line=$(grep -E '^[0-9]+%: Checks:' "$log" 2>/dev/null | tail -n 1)
if [ -n "$line" ]; then
	n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
	e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
	passed=$((passed + n - f - e))
	failed=$((failed + f + e))
else
	cat "$out/unit.out"
	failed=$((failed + 1))
fi
[ $unit_rc -ne 0 ] && [ -z "$line" ] && echo "unit tests did not run"

echo "== unit tests under ASan + UBSan (clang)"
if make -C build-clang check >"$out/unit-asan.out" 2>&1; then
	grep -E '^[0-9]+%: Checks:' build-clang/tests/unit/check_wsd.log
else
	cat build-clang/tests/unit/check_wsd.log "$out/unit-asan.out" 2>/dev/null | tail -n 40
	echo "unit tests failed under the sanitizers"
	failed=$((failed + 1))
fi

echo "== fuzzing (libFuzzer + ASan + UBSan, ${WSD_FUZZ_SECONDS:-30}s per target)"
# A crash, leak, sanitizer report or timeout fails its target.
tests/fuzz/run.sh build-fuzz "${WSD_FUZZ_SECONDS:-30}" "$out/fuzz" |
    tee "$out/fuzz.out"
fp=$(grep -c '^fuzz .*: ok' "$out/fuzz.out")
ff=$(grep -c '^fuzz .*: FAILED' "$out/fuzz.out")
[ "$fp" -eq 0 ] && [ "$ff" -eq 0 ] && ff=1
passed=$((passed + fp))
failed=$((failed + ff))

# The integration passes below run side by side: each spends most of its
# time waiting on the daemon's timers, so together they take about as long
# as the slowest alone (WSD_TEST_SERIAL=1 runs them one after another).
# Each has its own output folder and pytest temporary folder; wsd listens
# on ports the kernel picks, so they never meet.
passes=

# Starts the integration suite (or the files named by WSD_TEST_FILES)
# against one wsd binary; integration_end adds its counts.
# Usage: [WSD_TEST_FILES="tests/integration/x.py ..."] integration NAME
# TITLE BINARY OUTDIR [VAR=VALUE...]
integration() {
	local name=$1 title=$2 bin=$3 dir=$4
	shift 4
	mkdir -p "$dir"
	echo "$title" >"$out/$name.title"
	mktemp -d /tmp/wsd-"$name".XXXXXX >"$out/$name.tmp"
	env "$@" WSD="$bin" WSD_SRCDIR="$top" WSD_TEST_OUTPUT="$dir" \
	    /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	    --basetemp="$(cat "$out/$name.tmp")" \
	    --junitxml="$out/$name.xml" ${WSD_TEST_FILES:-tests/integration} \
	    >"$out/$name.out" 2>&1 &
	if [ "${WSD_TEST_SERIAL:-0}" = 1 ]; then
		integration_end "$name"
	else
		passes="$passes $name"
		echo "$title: started"
	fi
}

# Waits for the passes started, prints one's output and adds its counts.
integration_end() {
	local name=$1 line ip if_ ie
	wait
	echo "== $(cat "$out/$name.title")"
	cat "$out/$name.out"
	rm -rf "$(cat "$out/$name.tmp")" "$out/$name.tmp" "$out/$name.title"
	line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$out/$name.out" | tail -n 1)
	ip=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
	if_=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	ie=$(echo "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+')
	[ -z "$line" ] && if_=1
	passed=$((passed + ${ip:-0}))
	failed=$((failed + ${if_:-0} + ${ie:-0}))
}

echo "== integration tests: four passes side by side (about 7 minutes)"
integration integration \
    "integration tests (python3-websockets, raw sockets)" \
    "$top/build/wsd" "$out" WSD_TEST_WORKERS=1

# The test matrix (issue 17): the whole suite again with two workers, so
# every app, channel and hardening test also runs across event loops.
integration integration-workers2 "integration tests with workers = 2" \
    "$top/build/wsd" "$out/workers2" WSD_TEST_WORKERS=2

# The same suite against the ASan+UBSan build: conftest fails a test on
# any sanitizer report in the daemon's log and on a non-zero exit (leaks
# at exit included). A small quarantine keeps the RSS-bounded tests
# meaningful; tests marked sanitizer_slow are skipped (WSD_SANITIZED).
integration integration-asan \
    "integration tests against the ASan + UBSan build (clang)" \
    "$top/build-clang/wsd" "$out/asan" \
    WSD_SANITIZED=1 \
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:quarantine_size_mb=8 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The multi-worker tests against the ThreadSanitizer build: a data race,
# lock-order inversion or thread leak in the daemon's log fails its test
# (conftest). tests/tsan.supp holds only proven third-party noise.
WSD_TEST_FILES="tests/integration/test_workers.py
    tests/integration/test_hub_apps.py tests/integration/test_reload.py
    tests/integration/test_channels.py tests/integration/test_exec.py
    tests/integration/test_metrics.py tests/integration/test_accesslog.py
    tests/integration/test_tls_refusals.py
    tests/integration/test_cluster.py
    tests/integration/test_cluster_streams.py" \
    integration integration-tsan \
    "multi-worker integration tests against the ThreadSanitizer build (clang)" \
    "$top/build-tsan/wsd" "$out/tsan" \
    WSD_SANITIZED=1 WSD_TEST_WORKERS=2 \
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$top/tests/tsan.supp

for name in $passes; do
	integration_end "$name"
done

echo "== browser tests (Debian chromium, playwright-core, node --test)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "node/npm not found" | tee "$out/browser.out"
elif (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) \
    >"$out/browser-npm.out" 2>&1; then
	WSD="$top/build/wsd" WSD_SRCDIR="$top" WSD_TEST_OUTPUT="$out" \
	    timeout 300 node --test --test-reporter=tap \
	    tests/browser/pages.test.mjs 2>&1 | tee "$out/browser.out"
else
	tee "$out/browser.out" <"$out/browser-npm.out"
fi
bp=$(grep -E '^# pass [0-9]+$' "$out/browser.out" | tail -n 1 | grep -oE '[0-9]+')
bf=$(grep -E '^# fail [0-9]+$' "$out/browser.out" | tail -n 1 | grep -oE '[0-9]+')
bc=$(grep -E '^# cancelled [0-9]+$' "$out/browser.out" | tail -n 1 | grep -oE '[0-9]+')
[ -z "$bp" ] && [ -z "$bf" ] && bf=1
passed=$((passed + ${bp:-0}))
failed=$((failed + ${bf:-0} + ${bc:-0}))

echo "== packaging: mandoc -T lint (STYLE), make distcheck"
if tests/lint_man.sh >"$out/mandoc.out" 2>&1; then
	passed=$((passed + 1))
else
	cat "$out/mandoc.out"
	echo "mandoc -T lint -W style on man/* is not clean"
	failed=$((failed + 1))
fi
if make -C build distcheck >"$out/distcheck.out" 2>&1; then
	grep -E 'archives ready for distribution' -A1 "$out/distcheck.out"
	passed=$((passed + 1))
else
	tail -n 40 "$out/distcheck.out"
	echo "make distcheck failed"
	failed=$((failed + 1))
fi

# Shell tests that end with "NAME: N passed, N failed": each check counts.
# Usage: shell_test NAME SCRIPT
shell_test() {
	local line sp sf
	"$2" "$out/$1" 2>&1 | tee "$out/$1.out"
	line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed$" "$out/$1.out")
	sp=$(echo "$line" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')
	sf=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed$/\1/p')
	[ -z "$line" ] && sf=1
	passed=$((passed + ${sp:-0}))
	failed=$((failed + ${sf:-0}))
}

echo "== README install from a fresh copy of the tree (about a minute)"
shell_test readme_install tests/readme_install.sh

echo "== Debian package: dpkg-buildpackage, dpkg-deb, lintian (about a minute)"
shell_test package tests/package.sh

echo "== total"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
