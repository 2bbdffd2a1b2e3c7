#!/bin/bash
# make check-tsan: the unit tests and pvd-blkback's and pvd-netback's
# integration tests on a -fsanitize=thread build (BUILD, default
# build-tsan; pvguest from build/, see below).  Every report
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
# threads, and their start-up under TSan outran the test's waits).
for t in tests/integration/test_blkback_{basic,flood,restart,xenbus,discard,threads,luks,nbd}.sh \
	 tests/integration/test_pvctl_block.sh; do
	[ -f "$t" ] && run "$(basename "$t" .sh)" bash "$t"
done
# pvd-netback's, with its I/O threads, against a plain (uninstrumented)
# pvguest from build/: TSan's runtime starts a thread of its own in every
# instrumented process, and a multithreaded process may not join a user
# namespace (setns(2): EINVAL), which an unprivileged pvguest needs for
# its network namespace: a TSan-built pvguest ignores its NICs ("no
# network namespace of its own") and its netfront stays Initialising.
# pvctl starts the pvguest of PVD_BIN: a directory of links, the
# daemons and pvctl TSan-built, pvguest not.
if [ -x "$root/build/bin/pvguest" ]; then
	mix=$root/$BUILD/mixbin
	rm -rf "$mix" && mkdir -p "$mix" || exit 1
	for f in "$root/$BUILD"/bin/*; do
		ln -s "$f" "$mix/"
	done
	ln -sf "$root/build/bin/pvguest" "$mix/pvguest"
	for t in tests/integration/test_netback_{xenbus,traffic,badinput}.sh \
		 tests/integration/test_pvctl_{net,nicstats}.sh; do
		[ -f "$t" ] && PVD_BIN=$mix run "$(basename "$t" .sh)" bash "$t"
	done
else
	echo "FAIL  pvd-netback's tests: no build/bin/pvguest (make all first)"
	fail=1
fi
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
