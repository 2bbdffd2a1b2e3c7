#!/bin/bash
# pvd-blkback's xenbus side against bad frontends: protocols, ring page
# orders, queue counts, event channels and ring references it must
# refuse (Closing and an error node, nothing else disturbed); a frontend
# flipping Connected/Closing fast with I/O in flight (XSA-350); a
# frontend restarting; nonsense states; the backend directory removed
# under a connected disk; online resize; storage it cannot open.  After
# each, another disk is still served.  (Loop devices: test_blkback_loop.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
need_xsutils

STORED_HV=sim stored_start
blkback_start --max-queues 4
disk=$(disk_file disk.img 32M)
good=$(disk_file good.img 16M)
dom=10

still_served() {
	expect_front "$1: another disk still served" "verify ok" \
		--domid 2 --params "$good" attach verify detach
}

# refused NAME NODE=VALUE...: the backend refuses to connect.
refused() {
	local name=$1 sets=() s
	shift
	for s in "$@"; do sets+=(--set "$s"); done
	dom=$((dom + 1))
	expect_front "$name: refused (Closing, error node)" "refused:" \
		--domid "$dom" --params "$disk" "${sets[@]}" attach-fail detach
}

refused "x86_32 protocol" protocol=x86_32-abi
refused "unknown protocol" protocol=pdp11-abi
refused "ring-page-order above the maximum" ring-page-order=9
refused "ring-page-order not a number" ring-page-order=-1
refused "zero queues" multi-queue-num-queues=0
refused "more queues than offered" multi-queue-num-queues=5
refused "queue count not a number" multi-queue-num-queues=4x
refused "event channel not a number" event-channel=abc
refused "event channel not ours to bind" event-channel=999
refused "ring reference never granted" ring-ref=9999
refused "ring reference beyond the table" ring-ref=4294967295
refused "ring references missing for the order" ring-page-order=2
still_served "after the refusals"

# A frontend in a state that makes no sense.
dom=$((dom + 1))
front_bg "$PVD_RUNDIR/ns.out" --domid "$dom" --params "$disk" attach expect-state 99
ns=$FRONT_PID
be=/local/domain/0/backend/vbd/$dom/51712
for ((i = 0; i < 200; i++)); do
	[ "$(xs read "$be/state" 2>/dev/null)" = 4 ] && break
	sleep 0.05
done
xs write "/local/domain/$dom/device/vbd/51712/state" 42
for ((i = 0; i < 200; i++)); do
	[ "$(xs read "$be/state" 2>/dev/null)" = 5 ] && break
	sleep 0.05
done
expect_eq "frontend state 42: backend Closing" 5 "$(xs read "$be/state" 2>/dev/null)"
kill -TERM "$ns" 2>/dev/null
front_wait "$ns" >/dev/null
xs rm "/local/domain/$dom/device/vbd/51712"
xs rm "$be"

# XSA-350: Connected/Closing flips with writes in flight, then a clean
# restart of the frontend on the same device.
expect_front "fast Connected/Closing flips with I/O in flight" "restart ok" \
	--domid 20 --params "$disk" attach flip 200 restart verify detach
still_served "after the flips"

expect_front "a frontend restarting (new rings) three times" "verify ok" \
	--domid 21 --params "$disk" --ring-order 1 attach verify restart verify restart restart verify detach

# The backend directory removed under a connected disk.
front_bg "$PVD_RUNDIR/rm.out" --domid 22 --params "$disk" attach expect-state 99
rmf=$FRONT_PID
for ((i = 0; i < 200; i++)); do
	[ "$(xs read /local/domain/0/backend/vbd/22/51712/state 2>/dev/null)" = 4 ] && break
	sleep 0.05
done
xs rm /local/domain/0/backend/vbd/22
for ((i = 0; i < 200; i++)); do
	[[ "$(ctl stats)" != *'"domid":22'* ]] && break
	sleep 0.05
done
[[ "$(ctl stats)" != *'"domid":22'* ]] && pass "backend directory removed: device released" ||
	fail "backend directory removed: device released" "$(ctl stats)"
expect_eq "backend directory not recreated" "" "$(xs ls /local/domain/0/backend/vbd/22 2>/dev/null)"
kill -TERM "$rmf" 2>/dev/null
front_wait "$rmf" >/dev/null
xs rm /local/domain/22/device/vbd/51712
still_served "after the removal"

# Online resize: the file grows, the backend rewrites sectors.
grow=$(disk_file grow.img 8M)
front_bg "$PVD_RUNDIR/grow.out" --domid 23 --params "$grow" attach expect-sectors 16384 verify expect-sectors 32768 verify detach
gf=$FRONT_PID
for ((i = 0; i < 200; i++)); do
	grep -q "sectors 16384" "$PVD_RUNDIR/grow.out" && break
	sleep 0.05
done
truncate -s 16M "$grow"
front_wait "$gf"
expect_eq "online resize: the frontend saw the new size and used it" 0 $?
grep -q "sectors 32768" "$PVD_RUNDIR/grow.out" || fail "new size" "$(cat "$PVD_RUNDIR/grow.out")"

# Storage that cannot be opened.
dom=$((dom + 1))
expect_front "params naming nothing: refused" "refused:" \
	--domid "$dom" --params "$BB_DATA/missing.img" attach-fail detach
dom=$((dom + 1))
expect_front "params naming a directory: refused" "refused:" \
	--domid "$dom" --params "$BB_DATA" attach-fail detach

# The same device again and again: each time its frontend is watched
# afresh (a watch left behind would make the store refuse the new one).
for i in 1 2 3; do
	out=$(front --domid 2 --params "$good" attach ctl stats detach 2>&1)
	if [[ "$out" == *'"domid":2,"devid":51712,"state":4,"state_name":"Connected","watching":true'* ]]; then
		pass "device attached again (round $i): frontend watched"
	else
		fail "device attached again (round $i): frontend watched" "$out"
	fi
done
still_served "at the end"
blkback_alive "pvd-blkback still runs"
blkback_stop
expect_eq "clean exit" 0 "$BLKBACK_EXIT"
blkback_finish
