#!/bin/bash
# Runs every test: the layout rules (scripts/check-layout.sh), cmocka unit
# tests, integration tests (tests/integration/test_*.sh), and a short
# bounded fuzz run (scripts/fuzz-run.sh).
#
# Exit status of a test: 0 pass; 77 skip, which means only "could not run
# here" and must come with a reason: the last line the test printed starts
# with "SKIP:" (lines after it starting with "#" are diagnostics and are
# allowed).  A 77 without that line is a FAIL: a crash or a test binary
# that happens to exit 77 cannot pass for a skip.  Anything else fails.
#
# Ends with the skipped tests and their reasons, the failed ones, and the
# line "N passed, N failed, N skipped".  ONLY=unit|integration|fuzz|all;
# TEST_TIMEOUT bounds each test (300 s), FUZZ_STEP_TIMEOUT the whole fuzz
# run, target builds included (1800 s; FUZZ_SECONDS is per target).
# TEST_DEADLINE (seconds since the epoch): no test starts after it, and
# each runs at most until it; those left, and one stopped by it (not by
# its own TEST_TIMEOUT), are listed as not run (neither passed nor
# failed), so that a time-boxed pass (CI's sanitizer run) says what it
# did not cover.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ONLY=${ONLY:-all}
export BUILD PVD_BIN="$PWD/$BUILD/bin" PVD_TESTBIN="$PWD/$BUILD/tests"
limit=${TEST_TIMEOUT:-300}
deadline=${TEST_DEADLINE:-0}
pass=0 fail=0 skip=0 notrun=0 failed=() skipped=() notran=()
logdir=$(mktemp -d /tmp/pvd-test-logs.XXXXXX)

# skip_reason LOG: the test's "SKIP: ..." line, if it is the last thing
# it printed but "#" diagnostics; nothing otherwise.
skip_reason() {
	awk '/^SKIP:/ { r = $0; next }
	     /^#/ || /^[[:space:]]*$/ { next }
	     { r = "" }
	     END { if (r != "") print r }' "$1"
}

# run_one NAME CMD...: runs CMD bounded by $limit seconds (TEST_TIMEOUT).
run_one() {
	local name=$1; shift
	local log="$logdir/${name//\//_}.log"
	local t0=$(date +%s%N) rc why lim=$limit left cut=0
	if [ "$deadline" -gt 0 ]; then
		left=$((deadline - $(date +%s)))
		if [ "$left" -lt 30 ]; then
			notrun=$((notrun+1)); notran+=("$name")
			printf 'NOTRUN %-44s (TEST_DEADLINE reached)\n' "$name"
			return
		fi
		[ "$left" -lt "$lim" ] && lim=$left cut=1
	fi
	timeout -k 10 "$lim" "$@" >"$log" 2>&1
	rc=$?
	local dt=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}')
	# Stopped by the deadline, not by its own bound: no verdict.
	if [ "$cut" = 1 ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }; then
		notrun=$((notrun+1)); notran+=("$name (stopped after ${lim}s)")
		printf 'NOTRUN %-44s (stopped by TEST_DEADLINE after %ss)\n' "$name" "$lim"
		return
	fi
	if [ "$rc" -eq 77 ]; then
		why=$(skip_reason "$log")
		if [ -n "$why" ]; then
			skip=$((skip+1)); skipped+=("$name: ${why#SKIP: }")
			printf 'SKIP  %-45s %s\n' "$name" "${why#SKIP: }"
			return
		fi
		echo "exit 77 without a 'SKIP: reason' line: counted as a failure" >>"$log"
	fi
	case $rc in
	0) pass=$((pass+1)); printf 'PASS  %-45s %6ss\n' "$name" "$dt";;
	*) fail=$((fail+1)); failed+=("$name")
	   case $rc in
	   124|137) why="timed out after ${lim}s";;
	   77) why="rc=77 without a SKIP: line";;
	   *) why="rc=$rc";;
	   esac
	   printf 'FAIL  %-45s (%s)\n' "$name" "$why"
	   # The failed checks first: CI shows only the end of this output,
	   # and a daemon's log tail alone does not say what failed.
	   grep -E -A4 '^(FAIL -|FATAL:|\[  FAILED  \]|[^ ]+:[0-9]+: error:)' "$log" |
		head -n 24 | sed 's/^/    ! /'
	   sed 's/^/    | /' "$log" | tail -n 30;;
	esac
}

if [ "$ONLY" = all ]; then
	run_one "layout" scripts/check-layout.sh
fi
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
	# The tests run pvd-blkback with 2 I/O threads; these again with one.
	for t in basic flood restart xenbus discard; do
		PVD_BLK_IO_THREADS=1 run_one "integration/test_blkback_${t}[1thr]" \
			bash "tests/integration/test_blkback_$t.sh"
	done
	# The tests run pvd-netback with 2 I/O threads; these again with one.
	for t in xenbus badinput; do
		PVD_NB_IO_THREADS=1 run_one "integration/test_netback_${t}[1thr]" \
			bash "tests/integration/test_netback_$t.sh"
	done
fi
# Sanitizer builds (SAN=1) leave fuzzing out: the fuzz targets carry their
# own sanitizers and are run by the plain make check.  Without clang the
# fuzz run reports a skip with its reason.
if { [ "$ONLY" = all ] && [ "${SAN:-0}" != 1 ]; } || [ "$ONLY" = fuzz ]; then
	limit=${FUZZ_STEP_TIMEOUT:-1800}
	# 12 s per target here (fuzz-run.sh alone: 20), to keep make check
	# under 20 minutes on a 2-core machine; longer runs: make fuzz-run.
	FUZZ_SECONDS=${FUZZ_SECONDS:-12} run_one "fuzz/short-run" scripts/fuzz-run.sh
fi

echo
if [ ${#skipped[@]} -gt 0 ]; then
	echo "skipped (could not run here):"
	printf '  %s\n' "${skipped[@]}"
fi
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]} (logs in $logdir)"
[ ${#notran[@]} -gt 0 ] && echo "not run (TEST_DEADLINE): ${notran[*]}"
echo "$pass passed, $fail failed, $skip skipped$([ "$notrun" -gt 0 ] && echo ", $notrun not run")"
[ "$fail" -eq 0 ] && rm -rf "$logdir"
[ "$fail" -eq 0 ]
