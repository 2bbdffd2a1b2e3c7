#!/bin/bash
# Section "hv" of the benchmarks: the hypervisor layer's sim implementation
# (tests/bench/bench_hv.c): event channel round trips beside raw eventfd
# and pipe round trips, grant map/unmap beside bare mmap, grant copy beside
# memcpy, and a Xen ring with event suppression and busy-polling; every
# figure as a ratio to its peer measured in the same run.
#
#   BENCH_QUICK=1 (or BENCH_HV_QUICK=1)  short runs, one repetition
#   BENCH_HV_REPS=N                      repetitions per figure (median; default 3)
#   hv.sh [evtchn|map|copy|ring]         one part only
#
# Exit status 0 when every measurement ran, 1 otherwise; there are no
# timing thresholds.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BENCH=$BUILD/tests/bench/bench_hv
if [ ! -x "$BENCH" ]; then
	echo "ERROR: $BENCH not built (make $BENCH)"
	exit 1
fi
export BENCH_HV_QUICK=${BENCH_HV_QUICK:-${BENCH_QUICK:-0}}
echo "== section hv: hypervisor layer (sim) =="
timeout -k 5 900 "$BENCH" "$@"
rc=$?
[ "$rc" -eq 0 ] || echo "ERROR: bench_hv exited with status $rc"
exit "$rc"
