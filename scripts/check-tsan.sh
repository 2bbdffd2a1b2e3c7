#!/bin/bash
# make check-tsan: the unit tests and pvd-blkback's integration tests on
# a -fsanitize=thread build (BUILD, default build-tsan).  Every report
# goes to a file in the log directory; any report fails the run, even
# when the test itself passed (the daemons' stderr is not the test's).
set -u
BUILD=${1:-build-tsan}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
logdir=$(mktemp -d /tmp/pvd-tsan.XXXXXX)
export TSAN_OPTIONS="log_path=$logdir/tsan second_deadlock_stack=1 suppressions=$root/scripts/tsan.supp ${TSAN_EXTRA:-}"
export BUILD PVD_BIN=$root/$BUILD/bin PVD_TESTBIN=$root/$BUILD/tests
# Sanitized daemons are slower: generous waits.
export PVD_WAIT_SECS=${PVD_WAIT_SECS:-60}
fail=0
run() {
	local name=$1 rc; shift
	timeout -k 10 900 "$@" >"$logdir/$name.log" 2>&1
	rc=$?
	case $rc in
	0) echo "PASS  $name" ;;
	77) echo "SKIP  $name: $(grep -m1 -i 'skip' "$logdir/$name.log")" ;;
	*) echo "FAIL  $name (rc=$rc, log $logdir/$name.log)"; fail=1 ;;
	esac
}
for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] && run "unit_$(basename "$t")" "$t"
done
# pvd-blkback's integration tests, its engines over files, LUKS and NBD
# among them.  Not yet here (2026-12-06, a first run): RBD (librbd and
# librados are not built for TSan: 28 reports inside libceph-common's own
# threads, and their start-up under TSan outran the test's waits), and
# pvd-netback's tests, whose guest (pvguest's netfront, TSan-built) stayed
# Initialising under TSan, cause not found.
for t in tests/integration/test_blkback_{basic,flood,restart,xenbus,discard,threads,luks,nbd}.sh \
	 tests/integration/test_pvctl_block.sh; do
	[ -f "$t" ] && run "$(basename "$t" .sh)" bash "$t"
done
n=$(cat "$logdir"/tsan.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer')
if [ "$n" -gt 0 ]; then
	echo "ThreadSanitizer: $n report(s):"
	grep -h -A3 '^WARNING: ThreadSanitizer' "$logdir"/tsan.* | head -n 80
	fail=1
else
	echo "ThreadSanitizer: no report"
fi
[ "$fail" -eq 0 ] && rm -rf "$logdir"
exit "$fail"
