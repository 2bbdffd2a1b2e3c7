#!/bin/bash
# pvguest's block frontend against the real pvd-blkback: pvd-stored
# (--hv sim), pvd-blkback, a pvguest; the vbd nodes written as pvctl
# writes them; then, through the guest's NBD export, fio with
# verify=crc32c (4 KiB random, 1 MiB sequential) on a file and (if losetup
# works here) a loop device, qemu-img info and nbdinfo; the in-guest load
# generator; pvd-blkback restarting under the guest (reconnect); and the
# device's removal.  Figures go to $BLKFRONT_FIGURES (default: the test's
# output).
. "$(dirname "$0")/lib.sh"
need_xsutils
need_testbin pvguest_xs XSH
[ -x "$PVD_BIN/pvguest" ] || die "$PVD_BIN/pvguest not built (run: make)"
[ -x "$PVD_BIN/pvd-blkback" ] || skip "pvd-blkback not built"
for p in fio nbdinfo qemu-img; do
	command -v $p >/dev/null || skip "$p not installed (scripts/deps.sh installs it)"
done
fio --enghelp 2>/dev/null | grep -qw nbd || skip "this fio has no nbd engine"

DOM=5
DEV=51712
DEV2=51728
FE=/local/domain/$DOM/device/vbd
BE=/local/domain/0/backend/vbd/$DOM
SECS=${BLKFRONT_SECS:-4}
LOOPDEV=
BB_PID=
G_PID=
_bf_cleanup() {
	[ -n "$G_PID" ] && stop_pid "$G_PID"
	[ -n "$BB_PID" ] && stop_pid "$BB_PID"
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>/dev/null
	for f in "$PVD_RUNDIR/pvguest.log" "$PVD_RUNDIR/blkback.log"; do
		[ -s "$f" ] || continue
		echo "# --- last lines of $f ---"
		tail -n 25 "$f" | sed 's/^/# /'
	done
}
trap 'rc_=$?; _bf_cleanup; (exit $rc_); _pvd_cleanup' EXIT

STORED_HV=sim stored_start

# wait_for SECS CMD...: polls (every 50 ms) until CMD succeeds; 1 on timeout.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
state_is() { [ "$(xs read "$1/state" 2>/dev/null)" = "$2" ]; }

blkback_start() {
	"$PVD_BIN/pvd-blkback" -f --hv sim --pidfile "$PVD_RUNDIR/blkback.pid" \
		>>"$PVD_RUNDIR/blkback.log" 2>&1 &
	BB_PID=$!
	track_pid "$BB_PID"
	wait_for "$PVD_WAIT_SECS" test -s "$PVD_RUNDIR/blkback.pid" ||
		die "pvd-blkback did not start"
}
blkback_start

# The guest, with the load generator waiting for disk $DEV.
LG_OUT=$PVD_RUNDIR/loadgen.out
"$PVD_BIN/pvguest" -f --domid $DOM --name blk --memory 256 --ready-fd 3 \
	--loadgen "devid=$DEV,rw=randread,bs=4096,qd=32,seconds=$SECS" \
	3>"$PVD_RUNDIR/ready" >"$LG_OUT" 2>>"$PVD_RUNDIR/pvguest.log" &
G_PID=$!
track_pid "$G_PID"
wait_for "$PVD_WAIT_SECS" grep -q pid= "$PVD_RUNDIR/ready" || die "pvguest did not start"
read -r line <"$PVD_RUNDIR/ready"
[[ "$line" =~ store_gfn=([0-9]+)\ store_port=([0-9]+) ]] || die "bad ready line: $line"
timeout -k 2 "$XS_TIMEOUT" "$XSH" introduce $DOM "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" ||
	die "cannot introduce domain $DOM"
GDIR=$PVD_RUNDIR/guests/dom$DOM
# As the toolstack makes a domain: its device/ and device/vbd/ are its own.
xs write /local/domain/$DOM/device "" $FE "" &&
	xs chmod /local/domain/$DOM/device n$DOM r0 && xs chmod $FE n$DOM r0 ||
	die "cannot create $FE"

# add_vbd DEVID PARAMS TYPE: the nodes pvctl writes, one transaction each
# side (xenstore-write writes all its pairs in one).
add_vbd() {
	local id=$1 params=$2 type=$3 b=$BE/$1 f=$FE/$1
	xs write "$b/frontend" "$f" "$b/frontend-id" $DOM "$b/online" 1 \
		"$b/state" 1 "$b/params" "$params" "$b/mode" w "$b/type" "$type" \
		"$b/dev" xvda "$b/removable" 0 "$b/device-type" disk || return 1
	xs chmod -r "$b" n0 r$DOM || return 1
	xs write "$f/backend" "$b" "$f/backend-id" 0 "$f/state" 1 \
		"$f/virtual-device" "$id" "$f/device-type" disk || return 1
	xs chmod -r "$f" n$DOM r0
}

IMG=$PVD_RUNDIR/disk.img
truncate -s 256M "$IMG"
expect_ok "vbd $DEV nodes written" add_vbd $DEV "$IMG" file
if wait_for 20 state_is $FE/$DEV 4 && wait_for 5 state_is $BE/$DEV 4; then
	pass "frontend and backend Connected"
else
	fail "frontend and backend Connected" \
		"frontend $(xs read $FE/$DEV/state 2>&1), backend $(xs read $BE/$DEV/state 2>&1)"
	finish
fi
expect_eq "protocol" "x86_64-abi" "$(xs read $FE/$DEV/protocol)"
expect_eq "feature-persistent" "1" "$(xs read $FE/$DEV/feature-persistent)"

SOCK=$GDIR/vbd-$DEV.nbd
URI="nbd+unix:///?socket=$SOCK"
expect_ok "NBD socket exists" test -S "$SOCK"
expect_eq "URI file for pvctl block-list" "$URI" "$(cat "$SOCK.uri" 2>/dev/null)"

# The load generator ran at connect time.
wait_for $((SECS + 15)) grep -q '^loadgen ' "$LG_OUT"
LG=$(grep '^loadgen ' "$LG_OUT")
if [[ "$LG" =~ iops=([0-9]+).*errors=0 ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
	pass "load generator: $LG"
else
	fail "load generator ran without errors" "output: $LG"
fi

expect_eq "nbdinfo --size" "268435456" "$(timeout 30 nbdinfo --size "$URI" 2>&1)"
expect_ok "qemu-img info" timeout 30 qemu-img info "$URI"
expect_ok "qemu-io write/read pattern with FUA and flush" timeout 60 qemu-io -f raw \
	-c "write -P 0xa5 -f 1M 1M" -c "read -P 0xa5 1M 1M" -c flush -c "discard 8M 1M" "$URI"

# fio_json NAME ARGS...: runs fio through the NBD export; prints "iops bw_MBps".
fio_run() {
	local name=$1 out=$PVD_RUNDIR/fio.$1.json
	shift
	timeout -k 5 180 fio --verify_state_save=0 --name="$name" --ioengine=nbd --uri="$URI" \
		--output-format=json --output="$out" "$@" >/dev/null 2>"$out.err" || return 1
	python3 - "$out" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
if j["error"]:
    sys.exit(1)
r, w = j["read"], j["write"]
print("%d %.1f" % (r["iops"] + w["iops"], (r["bw_bytes"] + w["bw_bytes"]) / 1e6))
EOF
}

fio_verify() {
	local what=$1
	shift
	if fio_run "$what" --size=64M --verify=crc32c --do_verify=1 --verify_fatal=1 "$@"; then
		pass "fio $what with verify=crc32c"
	else
		fail "fio $what with verify=crc32c" "$(tail -n 5 "$PVD_RUNDIR/fio.$what.json.err")"
	fi
}
fio_verify randwrite-4k --rw=randwrite --bs=4k --iodepth=32
fio_verify write-1m --rw=write --bs=1M --iodepth=8

# Figures: the same job through NBD and with the in-guest load generator.
NBD_RR=$(fio_run nbd-randread --rw=randread --bs=4k --iodepth=32 --size=256M \
	--time_based --runtime=$SECS) || fail "fio randread through NBD"
[ -n "$NBD_RR" ] && pass "fio randread 4k qd32 through NBD: iops/MBps $NBD_RR"
LG_IOPS=${LG#*iops=}
LG_IOPS=${LG_IOPS%% *}
if [ -n "$NBD_RR" ] && [ -n "$LG_IOPS" ]; then
	echo "# figures: randread 4k qd32: loadgen ${LG_IOPS} IOPS, fio via NBD ${NBD_RR%% *} IOPS" \
		"(NBD/loadgen $(python3 -c "print('%.2f' % (${NBD_RR%% *} / max(1, $LG_IOPS)))"))" |
		tee -a "${BLKFRONT_FIGURES:-/dev/null}"
fi

# A loop device, if this machine lets us have one.
IMG2=$PVD_RUNDIR/disk2.img
truncate -s 128M "$IMG2"
if LOOPDEV=$(losetup -f --show "$IMG2" 2>/dev/null) && [ -b "$LOOPDEV" ]; then
	expect_ok "vbd $DEV2 on $LOOPDEV" add_vbd $DEV2 "$LOOPDEV" phy
	if wait_for 20 state_is $FE/$DEV2 4; then
		pass "loop vbd Connected"
		URI_SAVE=$URI
		URI="nbd+unix:///?socket=$GDIR/vbd-$DEV2.nbd"
		fio_verify loop-randwrite-4k --rw=randwrite --bs=4k --iodepth=32
		fio_verify loop-write-1m --rw=write --bs=1M --iodepth=8
		URI=$URI_SAVE
	else
		fail "loop vbd Connected" "frontend $(xs read $FE/$DEV2/state 2>&1)"
	fi
else
	LOOPDEV=
	log "losetup does not work here: no loop device part"
fi

# pvd-blkback goes away and comes back: the guest reconnects, and what
# it wrote is still there.
expect_ok "write a pattern before the restart" timeout 60 qemu-io -f raw \
	-c "write -P 0x3c 200M 1M" -c flush "$URI"
stop_pid "$BB_PID"
BB_PID=
if wait_for 15 state_is $FE/$DEV 6; then
	pass "frontend Closed after the backend went away"
else
	log "frontend state after the backend stopped: $(xs read $FE/$DEV/state 2>&1)"
fi
blkback_start
if wait_for 20 state_is $FE/$DEV 4; then
	pass "reconnected to a new pvd-blkback"
	expect_ok "data written before the restart reads back" timeout 60 \
		qemu-io -f raw -c "read -P 0x3c 200M 1M" "$URI"
else
	fail "reconnected to a new pvd-blkback" \
		"frontend $(xs read $FE/$DEV/state 2>&1), backend $(xs read $BE/$DEV/state 2>&1)"
fi

# A second guest whose load generator checks what it reads (random reads
# and writes with verify), then exits with its status; with every
# optional feature turned off, so that pvd-blkback's fallbacks carry it.
DOM2=6
IMG3=$PVD_RUNDIR/disk3.img
truncate -s 64M "$IMG3"
"$PVD_BIN/pvguest" -f --domid $DOM2 --name lg --memory 64 --ready-fd 3 --blk-no-nbd \
	--blk-no-indirect --blk-no-persistent --blk-max-queues 1 --blk-ring-order 0 \
	--loadgen "devid=$DEV,rw=randrw,bs=8192,qd=16,seconds=2,verify=1,exit=1" \
	3>"$PVD_RUNDIR/ready2" >"$PVD_RUNDIR/loadgen2.out" 2>>"$PVD_RUNDIR/pvguest.log" &
G2_PID=$!
track_pid "$G2_PID"
wait_for "$PVD_WAIT_SECS" grep -q pid= "$PVD_RUNDIR/ready2" || die "pvguest 2 did not start"
read -r line <"$PVD_RUNDIR/ready2"
[[ "$line" =~ store_gfn=([0-9]+)\ store_port=([0-9]+) ]] || die "bad ready line: $line"
timeout -k 2 "$XS_TIMEOUT" "$XSH" introduce $DOM2 "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" ||
	die "cannot introduce domain $DOM2"
xs write /local/domain/$DOM2/device "" /local/domain/$DOM2/device/vbd "" &&
	xs chmod /local/domain/$DOM2/device n$DOM2 r0 &&
	xs chmod /local/domain/$DOM2/device/vbd n$DOM2 r0 || die "cannot create dom$DOM2's device/"
DOM_SAVE=$DOM; DOM=$DOM2; FE=/local/domain/$DOM2/device/vbd; BE=/local/domain/0/backend/vbd/$DOM2
expect_ok "vbd $DEV of domain $DOM2" add_vbd $DEV "$IMG3" file
if wait_for 20 state_is $FE/$DEV 4; then
	expect_eq "features off: feature-persistent" 0 "$(xs read $FE/$DEV/feature-persistent)"
	expect_ok "features off: one ring of one page" xs read $FE/$DEV/ring-ref
	expect_fail "features off: no multi-queue" "" xs read $FE/$DEV/multi-queue-num-queues
fi
DOM=$DOM_SAVE; FE=/local/domain/$DOM/device/vbd; BE=/local/domain/0/backend/vbd/$DOM
if wait_pid_gone "$G2_PID" 60; then
	wait "$G2_PID"
	expect_eq "load generator with verify exits 0" 0 "$?"
else
	fail "load generator with verify exits" "still running after 60s"
fi
LG2=$(grep '^loadgen ' "$PVD_RUNDIR/loadgen2.out")
if [[ "$LG2" =~ errors=0\ verified=([0-9]+)\ verify_errors=0 ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
	pass "load generator verified ${BASH_REMATCH[1]} reads: $LG2"
else
	fail "load generator verified its reads" "output: $LG2"
fi

# Removal: the toolstack removes the frontend's nodes.
xs rm $FE/$DEV
if wait_for 10 test ! -e "$SOCK"; then
	pass "NBD export gone with the device"
else
	fail "NBD export gone with the device"
fi
pid_alive "$G_PID" && pass "pvguest still running" || fail "pvguest still running"
if grep -qiE 'runtime error|sanitizer|assert' "$PVD_RUNDIR/pvguest.log"; then
	fail "pvguest log free of sanitizer reports" "$(grep -iE 'runtime error|sanitizer' "$PVD_RUNDIR/pvguest.log" | head -3)"
fi
finish
