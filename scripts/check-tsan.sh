#!/bin/bash
# make check-tsan: the unit tests and the integration tests of the daemons
# with I/O threads (pvd-blkback, pvd-netback) on a -fsanitize=thread build (BUILD, default build-tsan).  Every report
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
# Every integration test whose daemon runs I/O threads: pvd-blkback's
# (the storage engines: files, LUKS, NBD, RBD) and pvd-netback's.
for t in tests/integration/test_blkback_{basic,flood,restart,xenbus,discard,threads,luks,nbd,rbd}.sh \
	 tests/integration/test_netback_{xenbus,traffic,badinput}.sh \
	 tests/integration/test_pvctl_{block,net}.sh; do
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
