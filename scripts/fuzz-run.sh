#!/bin/bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) and runs each for
# FUZZ_SECONDS (default 20: about 2-3 minutes for the whole set) from a
# copy of its seed corpus (tests/fuzz/corpus/<target>/).
#
# Any crash, sanitizer report (ASan, UBSan, LeakSanitizer), per-input
# timeout (FUZZ_TIMEOUT, 10 s), or memory blow-up (FUZZ_RSS_MB, 1024) of any
# target fails the run, and so does a target that does not build.  The input
# that did it is kept under $FUZZ_ARTIFACTS (default $BUILD/fuzz-artifacts/
# run-<date>-<pid>/) with the target's log, and a line says how to replay
# it.  Every target runs even after one fails.
#
# Exit: 0 all ran clean; 1 a target failed; 77 only when fuzzing cannot
# run here at all (no clang, or no libFuzzer runtime), after a "SKIP:" line.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
secs=${FUZZ_SECONDS:-20}
FUZZ_CC=${FUZZ_CC:-clang}

skip() { echo "SKIP: $*"; exit 77; }

command -v "$FUZZ_CC" >/dev/null ||
	skip "$FUZZ_CC not installed (scripts/deps.sh installs it): no fuzz target can be built"
# Tells "this clang cannot build fuzz targets" from "a target is broken".
probe=$(mktemp -d /tmp/pvd-fuzz-probe.XXXXXX)
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' \
	>"$probe/p.c"
if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" \
	>"$probe/err" 2>&1; then
	why=$(head -n 1 "$probe/err")
	rm -rf "$probe"
	skip "$FUZZ_CC cannot link a libFuzzer target here ($why)"
fi
rm -rf "$probe"

keep=${FUZZ_ARTIFACTS:-$PWD/$BUILD/fuzz-artifacts/run-$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$keep" || { echo "fuzz: cannot create $keep"; exit 1; }
keep=$(cd "$keep" && pwd)

# Leaks fail a target too (LeakSanitizer runs at each input's end); UBSan
# stops at its first report instead of printing and going on.  Ours come
# last: a caller's detect_leaks=0 cannot switch them off.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

failed=()
ran=0

# fail_target NAME WHY [LOG]: records a failure and prints its evidence.
fail_target() {
	failed+=("$1")
	echo "FAIL: $1: $2"
	[ -n "${3:-}" ] && [ -s "$3" ] &&
		grep -E '^(==[0-9]+==ERROR|SUMMARY:|.*runtime error:|==[0-9]+== ERROR: libFuzzer)' "$3" |
		head -n 5 | sed 's/^/    | /'
}

# run_target NAME BIN: one bounded run; failure if it exits non-zero or
# leaves an artifact behind.
run_target() {
	local name=$1 bin=$2 work log art rc a
	work=$(mktemp -d /tmp/pvd-fuzz-$name.XXXXXX)
	art=$keep/$name
	log=$keep/$name.log
	mkdir -p "$art"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name"/. "$work"/
	echo "fuzz: $name for ${secs}s"
	timeout -k 10 $((secs + 120)) "$bin" -max_total_time="$secs" \
		-timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-1024}" \
		-error_exitcode=1 -timeout_exitcode=1 -detect_leaks=1 \
		-artifact_prefix="$art/" "$work" >"$log" 2>&1
	rc=$?
	rm -rf "$work"
	ran=$((ran + 1))
	a=$(find "$art" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$a" ]; then
		grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs)' "$log" | tail -n 1 | sed 's/^/    /'
		rm -rf "$art" "$log"
		return 0
	fi
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail_target "$name" "still running $((secs + 120))s after a ${secs}s run: killed" "$log"
	else
		fail_target "$name" "exit $rc${a:+, $(basename "$a" | cut -d- -f1) found}" "$log"
	fi
	echo "    log:       $log"
	if [ -n "$a" ]; then
		echo "    input:     $a"
		echo "    reproduce: make BUILD=$BUILD $BUILD/fuzz/$name && $PWD/$BUILD/fuzz/$name $a"
	fi
}

srcs=(tests/fuzz/fuzz_*.c)
[ -e "${srcs[0]}" ] || { echo "fuzz: no target in tests/fuzz/"; exit 1; }
for src in "${srcs[@]}"; do
	name=$(basename "$src" .c)
	bin=$BUILD/fuzz/$name
	if ! make --no-print-directory BUILD="$BUILD" "$bin" >"$keep/$name.build.log" 2>&1; then
		fail_target "$name" "does not build"
		grep -E 'error|undefined' "$keep/$name.build.log" | head -n 8 | sed 's/^/    | /'
		echo "    log:       $keep/$name.build.log"
		continue
	fi
	rm -f "$keep/$name.build.log"
	run_target "$name" "$bin"
done

rmdir "$keep" 2>/dev/null
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} of ${#srcs[@]} targets failed: ${failed[*]} (inputs and logs in $keep)"
	exit 1
fi
echo "fuzz: all $ran targets ran ${secs}s without a finding"
