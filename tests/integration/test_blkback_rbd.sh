#!/bin/bash
# pvd-blkback's rbd engine against a real Ceph cluster (ceph_lib.sh: one
# monitor, one memstore OSD, started here), through a pvguest whose disks
# are RBD images, exercised through the guest's NBD exports:
#   fio verify=crc32c (4 KiB random, 1 MiB sequential); what the guest
#   wrote equals `rbd export` of the image; a snapshot attached read-only
#   reads the snapshot's data and refuses writes, attached rw is refused;
#   `rbd resize` reaches the guest; the OSD stopped under a verifying fio
#   (its requests stall: the disk shows "stalled", a file disk of the same
#   daemon is still served) and started again: fio resumes and verifies
#   everything it was told was written.
# Skips when the Ceph packages are missing (scripts/deps.sh installs them).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ceph_lib.sh"
need_xsutils
need_testbin pvguest_xs XSH
[ -x "$PVD_BIN/pvguest" ] || die "$PVD_BIN/pvguest not built (run: make)"
[ -x "$PVD_BIN/pvd-blkback" ] || skip "pvd-blkback not built"
for p in fio nbdinfo nbdcopy qemu-io; do
	command -v $p >/dev/null || skip "$p not installed (scripts/deps.sh installs it)"
done
fio --enghelp 2>/dev/null | grep -qw nbd || skip "this fio has no nbd engine"
ceph_need

DOM=7
DEV=51712       # xvda: rbd/g1
DEV2=51728      # xvdb: rbd/g1@s1, read-only
DEV3=51744      # xvdc: a file, served beside the RBD disks
DEV4=51760      # xvdd: rbd/g1@s1 asked for read-write: refused
FE=/local/domain/$DOM/device/vbd
BE=/local/domain/0/backend/vbd/$DOM
BB_PID=
G_PID=
_rbd_cleanup() {
	[ -n "$G_PID" ] && stop_pid "$G_PID"
	[ -n "$BB_PID" ] && stop_pid "$BB_PID"
	for f in "$PVD_RUNDIR/pvguest.log" "$PVD_RUNDIR/blkback.log"; do
		[ -s "$f" ] || continue
		echo "# --- last lines of $f ---"
		tail -n 25 "$f" | sed 's/^/# /'
	done
}
trap 'rc_=$?; _rbd_cleanup; (exit $rc_); _pvd_cleanup' EXIT

ceph_start 768
cephx rbd create rbd/g1 --size 128M >/dev/null 2>&1 || die "rbd create failed"
STORED_HV=sim stored_start

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
node_is() { [ "$(xs read "$1" 2>/dev/null)" = "$2" ]; }

"$PVD_BIN/pvd-blkback" -f --hv sim --pidfile "$PVD_RUNDIR/blkback.pid" \
	--resize-interval 250 >>"$PVD_RUNDIR/blkback.log" 2>&1 &
BB_PID=$!
track_pid "$BB_PID"
wait_for "$PVD_WAIT_SECS" test -s "$PVD_RUNDIR/blkback.pid" || die "pvd-blkback did not start"

"$PVD_BIN/pvguest" -f --domid $DOM --name rbdguest --memory 256 --ready-fd 3 \
	3>"$PVD_RUNDIR/ready" >/dev/null 2>>"$PVD_RUNDIR/pvguest.log" &
G_PID=$!
track_pid "$G_PID"
wait_for "$PVD_WAIT_SECS" grep -q pid= "$PVD_RUNDIR/ready" || die "pvguest did not start"
read -r line <"$PVD_RUNDIR/ready"
[[ "$line" =~ store_gfn=([0-9]+)\ store_port=([0-9]+) ]] || die "bad ready line: $line"
timeout -k 2 "$XS_TIMEOUT" "$XSH" introduce $DOM "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" ||
	die "cannot introduce domain $DOM"
GDIR=$PVD_RUNDIR/guests/dom$DOM
xs write /local/domain/$DOM/device "" $FE "" &&
	xs chmod /local/domain/$DOM/device n$DOM r0 && xs chmod $FE n$DOM r0 ||
	die "cannot create $FE"

# add_vbd DEVID PARAMS MODE: the nodes pvctl writes.
add_vbd() {
	local id=$1 params=$2 mode=$3 b=$BE/$1 f=$FE/$1
	xs write "$b/frontend" "$f" "$b/frontend-id" $DOM "$b/online" 1 \
		"$b/state" 1 "$b/params" "$params" "$b/mode" "$mode" "$b/type" phy \
		"$b/dev" xvda "$b/removable" 0 "$b/device-type" disk || return 1
	xs chmod -r "$b" n0 r$DOM || return 1
	xs write "$f/backend" "$b" "$f/backend-id" 0 "$f/state" 1 \
		"$f/virtual-device" "$id" "$f/device-type" disk || return 1
	xs chmod -r "$f" n$DOM r0
}
uri_of() { printf 'nbd+unix:///?socket=%s/vbd-%s.nbd' "$GDIR" "$1"; }
connected() {
	if wait_for 30 state_is $FE/$1 4 && wait_for 5 state_is $BE/$1 4; then
		pass "$2: frontend and backend Connected"
	else
		fail "$2: frontend and backend Connected" \
			"frontend $(xs read $FE/$1/state 2>&1), backend $(xs read $BE/$1/state 2>&1)"
		finish
	fi
}

RBD1="rbd:rbd/g1:conf=$CEPH_CONF"
expect_ok "vbd $DEV on $RBD1" add_vbd $DEV "$RBD1" w
connected $DEV "rbd/g1"
URI=$(uri_of $DEV)
expect_eq "the guest sees the image's size" 134217728 "$(timeout 30 nbdinfo --size "$URI" 2>&1)"

fio_verify() {
	local what=$1 uri=$2 out=$PVD_RUNDIR/fio.$1.out
	shift 2
	if timeout -k 5 180 fio --verify_state_save=0 --name="$what" --ioengine=nbd --uri="$uri" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 "$@" >"$out" 2>&1; then
		pass "fio $what with verify=crc32c"
	else
		fail "fio $what with verify=crc32c" "$(grep -iE 'error|verify' "$out" | head -n 5)"
	fi
}
fio_verify randwrite-4k "$URI" --size=64M --rw=randwrite --bs=4k --iodepth=32
fio_verify write-1m "$URI" --size=64M --rw=write --bs=1M --iodepth=8

# What the guest writes is what the cluster holds.
head -c 16M /dev/urandom >"$PVD_RUNDIR/data"
expect_ok "the guest writes 16 MiB of random data" timeout 60 nbdcopy "$PVD_RUNDIR/data" "$URI"
expect_ok "rbd export" cephx rbd export rbd/g1 "$PVD_RUNDIR/export"
expect_ok "rbd export equals what the guest wrote" cmp -n 16777216 "$PVD_RUNDIR/data" "$PVD_RUNDIR/export"

# A snapshot: read-only, its data, not the live image's.
expect_ok "rbd snap create rbd/g1@s1" cephx rbd snap create rbd/g1@s1
expect_ok "the guest overwrites the live image after the snapshot" timeout 60 \
	qemu-io -f raw -c "write -P 0x5a 0 1M" -c flush "$URI"
expect_ok "vbd $DEV2 on the snapshot, read-only" add_vbd $DEV2 "rbd:rbd/g1@s1:conf=$CEPH_CONF" r
connected $DEV2 "rbd/g1@s1"
URI2=$(uri_of $DEV2)
rm -f "$PVD_RUNDIR/snap"
expect_ok "read the snapshot through the guest" timeout 60 nbdcopy "$URI2" "$PVD_RUNDIR/snap"
expect_ok "the snapshot reads what was written before it" cmp -n 16777216 "$PVD_RUNDIR/data" "$PVD_RUNDIR/snap"
expect_fail "a write to the snapshot's disk is refused" "" \
	timeout 60 qemu-io -f raw -c "write -P 0x11 0 4k" "$URI2"
info=$(xs read $BE/$DEV2/info 2>/dev/null)
expect_eq "the backend says read-only (info has VDISK_READONLY)" 4 "$((${info:-0} & 4))"
expect_ok "vbd $DEV4 on the snapshot, read-write" add_vbd $DEV4 "rbd:rbd/g1@s1:conf=$CEPH_CONF" w
if wait_for 20 state_is $BE/$DEV4 6 || state_is $BE/$DEV4 5; then
	pass "a read-write snapshot is refused (backend Closing/Closed)"
else
	fail "a read-write snapshot is refused" "backend state $(xs read $BE/$DEV4/state 2>&1)"
fi
expect_ok "the refusal names the cause" grep -q "snapshot g1@s1 is read-only" "$PVD_RUNDIR/blkback.log"

# Online resize: rbd resize, the backend rewrites sectors, the guest
# re-reads them (its NBD export's size follows).
expect_ok "rbd resize to 192 MiB" cephx rbd resize rbd/g1 --size 192M
size_is() { [ "$(timeout 10 nbdinfo --size "$URI" 2>/dev/null)" = "$1" ]; }
if wait_for 30 size_is 201326592; then
	pass "rbd resize reached the guest (201326592 bytes)"
else
	fail "rbd resize reached the guest" "sectors $(xs read $BE/$DEV/sectors), guest size $(nbdinfo --size "$URI" 2>&1)"
fi
expect_eq "storage-state while healthy" connected "$(xs read $BE/$DEV/storage-state 2>&1)"

# The OSD goes away under a verifying fio (paced, so that it is still
# writing), stays away long enough to be seen as stalled, and comes back.
IMG3=$PVD_RUNDIR/file3.img
truncate -s 32M "$IMG3"
expect_ok "vbd $DEV3 on a file" add_vbd $DEV3 "$IMG3" w
connected $DEV3 "file disk"
URI3=$(uri_of $DEV3)
FIO_OUT=$PVD_RUNDIR/fio.outage.out
fio --verify_state_save=0 --name=outage --ioengine=nbd --uri="$URI" --size=32M \
	--rw=randwrite --bs=4k --iodepth=16 --rate_iops=2000 --verify=crc32c \
	--do_verify=1 --verify_fatal=1 >"$FIO_OUT" 2>&1 &
FIO_PID=$!
track_pid "$FIO_PID"
sleep 1
pid_alive "$FIO_PID" || fail "fio still writing when the OSD stops" "$(tail -n 5 "$FIO_OUT")"
ceph_osd_stop
log "osd.$CEPH_OSD_ID stopped"
if wait_for 20 node_is $BE/$DEV/storage-state stalled; then
	pass "the disk shows stalled while the OSD is away"
else
	fail "the disk shows stalled" "storage-state $(xs read $BE/$DEV/storage-state 2>&1)"
fi
out=$(timeout 30 "$PVD_BIN/pvctl" block-list $DOM 2>&1)
if [[ "$out" == *"$BE/$DEV "*" remote:stalled"* ]]; then
	pass "pvctl block-list shows the disk stalled (the nbd engine's remote:STATE)"
else
	fail "pvctl block-list shows the disk stalled" "$out"
fi
expect_ok "a file disk of the same daemon is served meanwhile" timeout 20 \
	qemu-io -f raw -c "write -P 0x77 0 1M" -c "read -P 0x77 0 1M" "$URI3"
pid_alive "$FIO_PID" && pass "fio waits (no error, no acknowledgement) while the OSD is away" ||
	fail "fio waits while the OSD is away" "$(tail -n 5 "$FIO_OUT")"
ceph_osd_start || die "the OSD did not come back"
log "osd.$CEPH_OSD_ID back"
if wait_pid_gone "$FIO_PID" 120; then
	wait "$FIO_PID"
	expect_eq "fio finished and verified every write after the outage" 0 "$?"
else
	fail "fio finished after the outage" "still running after 120 s"
fi
grep -qE "err=[ ]*0" "$FIO_OUT" || fail "fio reported no errors" "$(grep -E 'err=|verify' "$FIO_OUT" | head -n 3)"
if wait_for 20 node_is $BE/$DEV/storage-state connected; then
	pass "the disk shows connected again"
else
	fail "the disk shows connected again" "storage-state $(xs read $BE/$DEV/storage-state 2>&1)"
fi
fio_verify after-outage "$URI" --size=32M --offset=32M --rw=randwrite --bs=4k --iodepth=32

stats=$(timeout 10 "$PVD_TESTBIN/integration/blkfront_test" ctl stats 2>/dev/null)
expect_eq "stats name the rbd backend and its remote state" "rbd connected" \
	"$(jq -r ".devices[] | select(.domid == $DOM and .devid == $DEV) | \"\\(.backend) \\(.remote.state)\"" <<<"$stats")"
grep -qiE 'runtime error|sanitizer' "$PVD_RUNDIR/blkback.log" &&
	fail "pvd-blkback's log is free of sanitizer reports"
finish
