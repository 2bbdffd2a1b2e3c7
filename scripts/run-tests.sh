#!/bin/bash
# Runs every test: cmocka unit tests, integration tests (tests/integration/
# test_*.sh, exit 0 = pass, 77 = skip), and a short bounded fuzz run.
# Ends with one line "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ONLY=${ONLY:-all}
export BUILD PVD_BIN="$PWD/$BUILD/bin" PVD_TESTBIN="$PWD/$BUILD/tests"
pass=0 fail=0 skip=0 failed=()
logdir=$(mktemp -d /tmp/pvd-test-logs.XXXXXX)

run_one() {
	local name=$1; shift
	local log="$logdir/${name//\//_}.log"
	local t0=$(date +%s%N) rc
	timeout -k 10 "${TEST_TIMEOUT:-300}" "$@" >"$log" 2>&1
	rc=$?
	local dt=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}')
	case $rc in
	0) pass=$((pass+1)); printf 'PASS  %-45s %6ss\n' "$name" "$dt";;
	77) skip=$((skip+1)); printf 'SKIP  %-45s %s\n' "$name" "$(tail -n1 "$log")";;
	*) fail=$((fail+1)); failed+=("$name"); printf 'FAIL  %-45s (rc=%d)\n' "$name" "$rc"
	   sed 's/^/    | /' "$log" | tail -n 40;;
	esac
}

if [ "$ONLY" = all ] || [ "$ONLY" = unit ]; then
	for t in "$BUILD"/tests/unit/test_*; do
		[ -x "$t" ] || continue
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$ONLY" = all ] || [ "$ONLY" = integration ]; then
	for t in tests/integration/test_*.sh; do
		[ -f "$t" ] || continue
		run_one "integration/$(basename "$t" .sh)" bash "$t"
	done
fi
if [ "$ONLY" = all ] && [ "${SAN:-0}" != 1 ]; then
	if command -v clang >/dev/null; then
		run_one "fuzz/short-run" scripts/fuzz-run.sh
	fi
fi

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]} (logs in $logdir)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && rm -rf "$logdir"
[ "$fail" -eq 0 ]
