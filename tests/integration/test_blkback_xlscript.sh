#!/bin/bash
# pvd-blkback under xl: the store as libxl 4.17 lays it out for a disk
# spec with script=block-pvd (backend/vbd, type phy, params a regular
# file, script, online, state 1 and the rest, frontend nodes, one
# transaction), libxl's steps done by hand: wait for InitWait, run
# scripts/xen/block-pvd add (hotplug-status connected), a guest
# (blkfront_test --no-toolstack) connects and does I/O; then libxl's two
# removals: block-detach (online=0 and state Closing, the guest closes,
# Closed, block-pvd remove, directories removed) and destroy's forced one
# (the frontend directory removed with online=0 and state Closing under
# a connected, silent guest: Closed well within libxl's 10 s).  Also the
# script's refusals, under busybox sh when there is one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
need_xsutils

SCRIPT=$PVD_REPO/scripts/xen/block-pvd
[ -x "$SCRIPT" ] || die "$SCRIPT missing or not executable"
SH=sh
command -v busybox >/dev/null && SH="busybox sh"

STORED_HV=sim stored_start
blkback_start
disk=$(disk_file xl.img 16M)
disk2=$(disk_file xl2.img 8M)

be_of() { echo "/local/domain/0/backend/vbd/$1/$2"; }
fe_of() { echo "/local/domain/$1/device/vbd/$2"; }

# libxl_add DOMID DEVID VDEV PARAMS: device_disk_add's nodes, one
# transaction (xenstore-write writes all its pairs in one).
libxl_add() {
	local be fe
	be=$(be_of "$1" "$2") fe=$(fe_of "$1" "$2")
	xs write "$be/frontend" "$fe" "$be/params" "$4" \
		"$be/script" "$SCRIPT" "$be/frontend-id" "$1" "$be/online" 1 \
		"$be/removable" 0 "$be/bootable" 1 "$be/state" 1 "$be/dev" "$3" \
		"$be/type" phy "$be/mode" w "$be/device-type" disk \
		"$be/discard-enable" 1 "$be/specification" xen \
		"$fe/backend-id" 0 "$fe/state" 1 "$fe/virtual-device" "$2" \
		"$fe/device-type" disk "$fe/trusted" 1 "$fe/protocol" x86_64-abi \
		"$fe/backend" "$be"
}

# wait_state DIR STATE SECS: bounded; prints the seconds it took.
wait_state() {
	local i n=$(($3 * 20)) t0=$SECONDS
	for ((i = 0; i < n; i++)); do
		[ "$(xs read "$1/state" 2>/dev/null)" = "$2" ] && { echo $((SECONDS - t0)); return 0; }
		sleep 0.05
	done
	return 1
}

hotplug() { XENBUS_PATH=$1 timeout 30 $SH "$SCRIPT" "$2"; }

# libxl_attach DOMID DEVID VDEV PARAMS: add, InitWait within libxl's
# 10 s, the script.
libxl_attach() {
	local be
	be=$(be_of "$1" "$2")
	libxl_add "$@" || { fail "$3: nodes written"; return 1; }
	if wait_state "$be" 2 10 >/dev/null; then
		pass "$3: pvd-blkback took libxl's nodes (type phy, params a file): InitWait"
	else
		fail "$3: InitWait within 10 s" "state $(xs read "$be/state" 2>&1)" "$(tail -n 5 "$BLKBACK_LOG")"
		return 1
	fi
	if hotplug "$be" add && [ "$(xs read "$be/hotplug-status")" = connected ]; then
		pass "$3: block-pvd add: hotplug-status connected"
	else
		fail "$3: block-pvd add" "$(xs read "$be/hotplug-error" 2>&1)"
	fi
}

# ------------------------------------------------------------ block-detach
dom=31
libxl_attach $dom 51712 xvda "$disk"
be=$(be_of $dom 51712) fe=$(fe_of $dom 51712)
front_bg "$PVD_RUNDIR/xvda.out" --no-toolstack --domid $dom attach verify expect-state 5 close
fa=$FRONT_PID
if wait_state "$be" 4 20 >/dev/null && wait_state "$fe" 4 20 >/dev/null; then
	pass "xvda: guest connected (backend and frontend state 4)"
else
	fail "xvda: connected" "backend $(xs read "$be/state" 2>&1) frontend $(xs read "$fe/state" 2>&1)" "$(cat "$PVD_RUNDIR/xvda.out")"
fi
for ((i = 0; i < 400; i++)); do grep -q 'verify ok' "$PVD_RUNDIR/xvda.out" && break; sleep 0.05; done
expect_eq "xvda: the guest's I/O through libxl's device" 1 "$(grep -c 'verify ok' "$PVD_RUNDIR/xvda.out")"
# libxl__initiate_device_generic_remove, not forced.
expect_ok "block-detach: libxl's remove transaction" front xl-remove auto "$be" "$fe"
if s=$(wait_state "$be" 6 10); then
	pass "block-detach: the guest closed, backend Closed in ${s}s (libxl waits 10 s)"
else
	fail "block-detach: backend Closed within 10 s" "state $(xs read "$be/state" 2>&1)" "$(tail -n 5 "$BLKBACK_LOG")"
fi
expect_ok "block-detach: block-pvd remove" hotplug "$be" remove
xs rm "$fe" && xs rm "$be"
front_wait "$fa"
expect_eq "block-detach: the guest saw Closing and closed" 0 "$?"
sleep 0.5
expect_eq "block-detach: pvd-blkback dropped the device" 1 \
	"$(grep -c "vbd/$dom/51712: removed" "$BLKBACK_LOG")"

# ------------------------------------------------------------ destroy
dom=32
libxl_attach $dom 51728 xvdb "$disk2"
be=$(be_of $dom 51728) fe=$(fe_of $dom 51728)
# A paused guest: connected, then silent (it never closes).
front_bg "$PVD_RUNDIR/xvdb.out" --no-toolstack --domid $dom --devid 51728 attach verify expect-state 6
fb=$FRONT_PID
wait_state "$be" 4 20 >/dev/null || fail "xvdb: connected" "$(cat "$PVD_RUNDIR/xvdb.out")"
for ((i = 0; i < 400; i++)); do grep -q 'verify ok' "$PVD_RUNDIR/xvdb.out" && break; sleep 0.05; done
# libxl's forced remove: the frontend directory goes, online=0, Closing.
expect_ok "destroy: libxl's forced remove transaction" front xl-remove force "$be" "$fe"
if s=$(wait_state "$be" 6 5); then
	pass "destroy: frontend removed under a connected guest, backend Closed in ${s}s"
else
	fail "destroy: backend Closed within 5 s" "state $(xs read "$be/state" 2>&1)" "$(tail -n 5 "$BLKBACK_LOG")"
fi
expect_ok "destroy: block-pvd remove" hotplug "$be" remove
xs rm "$be"
front_wait "$fb"
expect_eq "destroy: the guest's rings were released (it saw Closed)" 0 "$?"
sleep 0.5
expect_eq "destroy: pvd-blkback dropped the device" 1 \
	"$(grep -c "vbd/$dom/51728: removed" "$BLKBACK_LOG")"
# Nothing but the ordinary lines about these two devices.
spam=$(grep -E "vbd/3[12]/" "$BLKBACK_LOG" | grep -viE ' (info|debug)[]: ]' | head -n 5)
expect_eq "no warnings or errors about xl's devices" "" "$spam"

# ------------------------------------------------------------ script refusals
be=$(be_of 33 51712)
xs write "$be/params" "$PVD_RUNDIR/missing.img" "$be/mode" w "$be/state" 2
expect_fail "block-pvd add refuses a missing target" "neither a regular file" hotplug "$be" add
expect_eq "block-pvd add: hotplug-status error" error "$(xs read "$be/hotplug-status" 2>&1)"
case "$(xs read "$be/hotplug-error" 2>&1)" in
*"neither a regular file nor a block device"*) pass "block-pvd add: hotplug-error says why" ;;
*) fail "block-pvd add: hotplug-error" "$(xs read "$be/hotplug-error" 2>&1)" ;;
esac
xs write "$be/params" "$disk" "$be/state" 5 "$be/hotplug-status" ""
expect_fail "block-pvd add refuses a backend pvd-blkback does not serve" "not served" hotplug "$be" add
expect_fail "block-pvd without XENBUS_PATH" "XENBUS_PATH" env -u XENBUS_PATH $SH "$SCRIPT" add
xs rm "$be"

blkback_alive "after xl's devices"
blkback_finish
