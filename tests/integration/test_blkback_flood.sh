#!/bin/bash
# A guest flooding pvd-blkback's log and the store: its frontend writes a
# nonsense state 5,000 times.  Each write is refused (Closing, an error
# node) but what the daemon says about the device is rate-limited per
# device (pvd_logrl: a burst of 10 lines, then 1 a second, plus one
# "N messages suppressed" line each time it reopens), and the error node
# is written only with its log line.  The bound below follows from those
# parameters and the time the flood took: over T seconds a device passes
# at most 10 + T + 1 lines, each preceded by at most one "suppressed"
# line.  Another guest's disk is served meanwhile and after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
need_xsutils

BURST=10
PER_SEC=1
N=5000

STORED_HV=sim stored_start
blkback_start
disk=$(disk_file disk.img 16M)
good=$(disk_file good.img 16M)
dom=30

t0=$(date +%s%N)
front_bg "$PVD_RUNDIR/other.out" --domid 2 --params "$good" attach verify verify verify detach
other=$FRONT_PID
out=$(front --domid "$dom" --params "$disk" attach state-spam "$N" 42 detach 2>&1)
rc=$?
front_wait "$other"
orc=$?
expect_front "another disk served after the flood" "verify ok" \
	--domid 3 --params "$good" attach verify detach
t1=$(date +%s%N)
secs=$(((t1 - t0 + 999999999) / 1000000000))
allowed=$((BURST + secs * PER_SEC + 1))

if [ "$rc" -eq 0 ] && [[ "$out" == *"state-spam ok: $N writes"* ]]; then
	pass "the flood ran ($N nonsense states, then Closed)"
else
	fail "the flood ran" "exit $rc" "$(printf '%s' "$out" | tail -n 5)"
fi
expect_eq "another disk served during the flood" 0 "$orc"
grep -q "verify ok" "$PVD_RUNDIR/other.out" ||
	fail "another disk verified during the flood" "$(tail -n 5 "$PVD_RUNDIR/other.out")"

lines=$(grep -c "backend/vbd/$dom/51712" "$BLKBACK_LOG")
if [ "$lines" -le $((2 * allowed)) ]; then
	pass "log lines about the device: $lines <= $((2 * allowed)) (${secs}s)"
else
	fail "log lines about the device bounded" "$lines > $((2 * allowed)) over ${secs}s" \
		"$(grep "backend/vbd/$dom/51712" "$BLKBACK_LOG" | tail -n 3)"
fi
writes=$(printf '%s\n' "$out" | sed -n 's/.*, \([0-9]*\) error-node writes.*/\1/p')
if [ -n "$writes" ] && [ "$writes" -ge 1 ] && [ "$writes" -le "$allowed" ]; then
	pass "error node written $writes times (1..$allowed)"
else
	fail "error node writes bounded" "got '${writes}', at most $allowed" "$out"
fi
blkback_alive "pvd-blkback still runs"
blkback_stop
expect_eq "clean exit" 0 "$BLKBACK_EXIT"
blkback_finish
