#!/bin/bash
# run.sh -- runs every libFuzzer target of a build for a bounded time.
# Usage: tests/fuzz/run.sh BUILDDIR SECONDS OUTDIR [NAME...]
#
# Each target tests/fuzz/fuzz_NAME of BUILDDIR (`make fuzz`) starts from a
# copy of tests/fuzz/corpus/NAME/, so the committed seeds are never
# changed. Its log and any crashing input go to OUTDIR. One line per
# target ("fuzz NAME: ok ..." or "fuzz NAME: FAILED ..."), in the order
# named, though targets run side by side (WSD_FUZZ_JOBS, default one per
# CPU); the exit status is the number of targets that failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$1
secs=$2
out=$3
shift 3
mkdir -p "$out"
if [ $# -eq 0 ]; then
	for bin in "$build"/tests/fuzz/fuzz_*; do
		[ -x "$bin" ] && set -- "$@" "${bin##*/fuzz_}"
	done
fi
[ $# -eq 0 ] && { echo "fuzz: no targets in $build/tests/fuzz" >&2; exit 1; }

# One target: its line goes to OUTDIR/fuzz-NAME.status.
fuzz_one() {
	local name=$1 bin log corpus rc runs cov
	bin=$build/tests/fuzz/fuzz_$name
	log=$out/fuzz-$name.log
	if [ ! -x "$bin" ]; then
		echo "fuzz $name: FAILED: $bin not built"
		return
	fi
	corpus=$(mktemp -d "${TMPDIR:-/tmp}/wsd-fuzz-$name.XXXXXX")
	[ -d "$here/corpus/$name" ] && cp "$here/corpus/$name"/* "$corpus"/
	# Leaks and sanitizer reports are crashes; -timeout catches hangs.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
	    -max_len=8192 -print_final_stats=1 \
	    -artifact_prefix="$out/fuzz-$name-" "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "fuzz $name: ok, ${runs:-?} runs in ${secs}s, ${cov:-cov: ?}," \
		    "$(ls "$corpus" | wc -l) inputs"
	else
		echo "fuzz $name: FAILED (exit $rc), log $log:"
		grep -E 'ERROR|SUMMARY|check failed|Test unit written' "$log" |
		    head -n 10
	fi
	rm -rf "$corpus"
}

# As many targets at a time as there are CPUs (each is one thread).
jobs=${WSD_FUZZ_JOBS:-$(nproc)}
for name in "$@"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	fuzz_one "$name" >"$out/fuzz-$name.status" &
done
wait
failed=0
for name in "$@"; do
	cat "$out/fuzz-$name.status"
	grep -q '^fuzz .*: ok' "$out/fuzz-$name.status" ||
	    failed=$((failed + 1))
done
exit $failed
