#!/bin/bash
# pvd-blkback's nbd engine against real NBD servers started here: a guest
# (pvguest) whose disks are NBD exports, checked through the guest's own
# NBD export of each disk with fio verify=crc32c:
#  - nbdkit's file plugin over a unix socket (the file equals what the
#    guest wrote; feature-flush-cache/feature-discard as the server offers);
#  - nbdkit's memory plugin over TCP from another network namespace (a
#    veth pair, nbd-prefixed names);
#  - qemu-nbd over a unix socket;
#  - a read-only export: attached read-only, refused read-write;
#  - the server killed (SIGKILL) under fio's writes and restarted: the
#    disk shows "reconnecting", the guest stalls, a second guest on a local
#    file meanwhile runs its verifying load generator unharmed, then I/O
#    resumes and fio's verify of everything it wrote passes (no write was
#    acknowledged unwritten).
. "$(dirname "$0")/lib.sh"
need_xsutils
need_testbin pvguest_xs XSH
[ -x "$PVD_BIN/pvguest" ] || die "$PVD_BIN/pvguest not built (run: make)"
[ -x "$PVD_BIN/pvd-blkback" ] || skip "pvd-blkback not built"
for p in fio nbdkit qemu-nbd nbdcopy socat jq curl; do
	command -v $p >/dev/null || skip "$p not installed (scripts/deps.sh installs it)"
done
fio --enghelp 2>/dev/null | grep -qw nbd || skip "this fio has no nbd engine"

DOM=5
FE=/local/domain/$DOM/device/vbd
BE=/local/domain/0/backend/vbd/$DOM
GDIR=$PVD_RUNDIR/guests/dom$DOM
DATA=$PVD_RUNDIR
[ -d /dev/shm ] && [ -w /dev/shm ] && DATA=$(mktemp -d /dev/shm/pvd-nbd.XXXXXX)
NS=nbd$$
VH=nbdh$$
VP=nbdp$$
NET=10.$((200 + $$ % 50)).$(($$ / 50 % 250)).
BB_PID=
G_PID=
SRV_PIDS=()
_nbd_cleanup() {
	local p
	for p in "$G_PID" "$BB_PID" "${SRV_PIDS[@]}"; do
		[ -n "$p" ] && stop_pid "$p"
	done
	ip link del "$VH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[ "$DATA" != "$PVD_RUNDIR" ] && rm -rf "$DATA"
	for f in "$PVD_RUNDIR/blkback.log" "$PVD_RUNDIR/pvguest.log"; do
		[ -s "$f" ] || continue
		echo "# --- last lines of $f ---"
		tail -n 25 "$f" | sed 's/^/# /'
	done
}
trap 'rc_=$?; _nbd_cleanup; (exit $rc_); _pvd_cleanup' EXIT

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
# remote_is DEVID STATE: the disk's connection state in the stats.
remote_is() { [ "$(remote "$1" state)" = "$2" ]; }
# ctl_stats: pvd-blkback's stats JSON.
ctl_stats() {
	printf 'stats\n' | timeout -k 2 10 socat -t 5 - "UNIX-CONNECT:$PVD_RUNDIR/pvd-blkback.sock"
}
# remote DEVID FIELD: the disk's remote.FIELD from the stats.
remote() {
	ctl_stats | jq -r ".devices[] | select(.domid == $DOM and .devid == $1) | .remote.$2"
}

STORED_HV=sim stored_start
METRICS=$PVD_RUNDIR/blkback-metrics.sock
"$PVD_BIN/pvd-blkback" -f --hv sim --pidfile "$PVD_RUNDIR/blkback.pid" --metrics "unix:$METRICS" \
	>>"$PVD_RUNDIR/blkback.log" 2>&1 &
BB_PID=$!
track_pid "$BB_PID"
wait_for "$PVD_WAIT_SECS" test -s "$PVD_RUNDIR/blkback.pid" || die "pvd-blkback did not start"

# guest_start DOM NAME OUT [ARGS]: a pvguest introduced to the store, its
# device/vbd directory made as the toolstack makes it.
guest_start() {
	local dom=$1 name=$2 out=$3 line pid
	shift 3
	"$PVD_BIN/pvguest" -f --domid "$dom" --name "$name" --memory 256 --ready-fd 3 "$@" \
		3>"$PVD_RUNDIR/ready.$dom" >"$out" 2>>"$PVD_RUNDIR/pvguest.log" &
	pid=$!
	track_pid "$pid"
	wait_for "$PVD_WAIT_SECS" grep -q pid= "$PVD_RUNDIR/ready.$dom" || die "pvguest $dom did not start"
	read -r line <"$PVD_RUNDIR/ready.$dom"
	[[ "$line" =~ store_gfn=([0-9]+)\ store_port=([0-9]+) ]] || die "bad ready line: $line"
	timeout -k 2 "$XS_TIMEOUT" "$XSH" introduce "$dom" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" ||
		die "cannot introduce domain $dom"
	xs write /local/domain/$dom/device "" /local/domain/$dom/device/vbd "" &&
		xs chmod /local/domain/$dom/device n$dom r0 &&
		xs chmod /local/domain/$dom/device/vbd n$dom r0 || die "cannot create dom$dom's device/"
	GUEST_PID=$pid
}
guest_start $DOM nbd "$PVD_RUNDIR/guest.out"
G_PID=$GUEST_PID

# add_vbd DOM DEVID PARAMS [MODE]: the nodes pvctl writes.
add_vbd() {
	local dom=$1 id=$2 params=$3 mode=${4:-w}
	local b=/local/domain/0/backend/vbd/$dom/$id f=/local/domain/$dom/device/vbd/$id
	xs write "$b/frontend" "$f" "$b/frontend-id" "$dom" "$b/online" 1 \
		"$b/state" 1 "$b/params" "$params" "$b/mode" "$mode" "$b/type" phy \
		"$b/dev" xvdb "$b/removable" 0 "$b/device-type" disk || return 1
	xs chmod -r "$b" n0 r"$dom" || return 1
	xs write "$f/backend" "$b" "$f/backend-id" 0 "$f/state" 1 \
		"$f/virtual-device" "$id" "$f/device-type" disk || return 1
	xs chmod -r "$f" n"$dom" r0
}
# connected DEVID: both ends Connected (bounded).
connected() {
	wait_for 20 state_is $FE/$1 4 && wait_for 5 state_is $BE/$1 4
}

# fio_verify NAME DEVID ARGS...: fio writes and verifies through the
# guest's NBD export of the disk.
fio_verify() {
	local name=$1 uri="nbd+unix:///?socket=$GDIR/vbd-$2.nbd"
	shift 2
	if timeout -k 5 180 fio --verify_state_save=0 --name="$name" --ioengine=nbd \
		--uri="$uri" --size=32M --verify=crc32c --do_verify=1 --verify_fatal=1 \
		"$@" >"$PVD_RUNDIR/fio.$name" 2>&1; then
		pass "fio $name with verify=crc32c"
	else
		fail "fio $name with verify=crc32c" "$(grep -iE 'err|verify' "$PVD_RUNDIR/fio.$name" | tail -n 5)"
	fi
}

# del_vbd DEVID: the toolstack removes the disk (the guest's watches on it
# go: the store limits a domain's watches).
del_vbd() {
	xs rm $FE/$1
	wait_for 10 test ! -e "$GDIR/vbd-$1.nbd" || log "vbd $1's export still there"
	xs rm $BE/$1
}

# srv NAME CMD...: a server in the background (stopped by PID at exit).
srv() {
	local name=$1
	shift
	"$@" >>"$PVD_RUNDIR/srv.$name.log" 2>&1 &
	SRV_PID=$!
	track_pid "$SRV_PID"
	SRV_PIDS+=("$SRV_PID")
}

# ---- nbdkit file plugin, unix socket
DEV1=51728
IMG1=$DATA/file.img
truncate -s 64M "$IMG1"
SOCK1=$PVD_RUNDIR/nbdkit-file.sock
# Writes take 5 ms (nbdkit's delay filter), so that many are in flight
# when the server is killed below.
NBDKIT_FILE=(nbdkit -f -U "$SOCK1" --filter=delay file "$IMG1" wdelay=5ms)
srv file "${NBDKIT_FILE[@]}"
FILE_PID=$SRV_PID
wait_for 10 test -S "$SOCK1" || die "nbdkit (file) did not start"
expect_ok "vbd $DEV1 on nbd+unix (nbdkit file)" add_vbd $DOM $DEV1 "nbd+unix:///?socket=$SOCK1"
if connected $DEV1; then
	pass "nbdkit file disk Connected"
else
	fail "nbdkit file disk Connected" "backend $(xs read $BE/$DEV1/state 2>&1)"
	finish
fi
expect_eq "sectors from nbd_get_size" $((64 << 11)) "$(xs read $BE/$DEV1/sectors)"
expect_eq "feature-flush-cache (nbdkit file can flush)" 1 "$(xs read $BE/$DEV1/feature-flush-cache)"
expect_eq "feature-discard (nbdkit file can trim)" 1 "$(xs read $BE/$DEV1/feature-discard)"
expect_eq "stats: remote state" connected "$(remote $DEV1 state)"
fio_verify file-randwrite-4k $DEV1 --rw=randwrite --bs=4k --iodepth=32
fio_verify file-write-1m $DEV1 --rw=write --bs=1M --iodepth=8
GURI1="nbd+unix:///?socket=$GDIR/vbd-$DEV1.nbd"
rm -f "$DATA/copy.img"
if timeout 60 nbdcopy "$GURI1" "$DATA/copy.img" && cmp -s "$DATA/copy.img" "$IMG1"; then
	pass "the file behind the export equals what the guest sees"
else
	fail "the file behind the export equals what the guest sees" "$(cmp "$DATA/copy.img" "$IMG1" 2>&1)"
fi
rm -f "$DATA/copy.img"

# ---- nbdkit memory plugin over TCP, from another network namespace
DEV3=51744
if ip netns add "$NS" 2>/dev/null; then
	ip link add "$VH" type veth peer name "$VP" && ip link set "$VP" netns "$NS" &&
		ip addr add "${NET}1/30" dev "$VH" && ip link set "$VH" up &&
		ip netns exec "$NS" ip addr add "${NET}2/30" dev "$VP" &&
		ip netns exec "$NS" ip link set "$VP" up &&
		ip netns exec "$NS" ip link set lo up || die "cannot set up the veth pair $VH/$VP"
	PORT=$(ip netns exec "$NS" python3 -c \
		'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "${NET}2")
	TURI="nbd://${NET}2:$PORT/"
	srv mem ip netns exec "$NS" nbdkit -f -i "${NET}2" -p "$PORT" memory 64M
	wait_for 10 nbdinfo --size "$TURI" || die "nbdkit (memory) in $NS did not start"
	expect_ok "vbd $DEV3 on $TURI (nbdkit memory in netns $NS)" add_vbd $DOM $DEV3 "$TURI"
	if connected $DEV3; then
		pass "TCP disk Connected"
		fio_verify tcp-randwrite-4k $DEV3 --rw=randwrite --bs=4k --iodepth=32
		fio_verify tcp-write-1m $DEV3 --rw=write --bs=1M --iodepth=8
	else
		fail "TCP disk Connected" "backend $(xs read $BE/$DEV3/state 2>&1)"
	fi
	del_vbd $DEV3
else
	log "no network namespaces here (ip netns add failed): the TCP part is not run"
fi

# ---- qemu-nbd, a named export over a unix socket
DEV4=51760
IMG4=$DATA/qemu.img
truncate -s 64M "$IMG4"
SOCK4=$PVD_RUNDIR/qemu-nbd.sock
srv qemu qemu-nbd -f raw -k "$SOCK4" -x disk --persistent --shared=4 "$IMG4"
wait_for 10 test -S "$SOCK4" || die "qemu-nbd did not start"
# Through pvctl: the URI is checked (not stat()ed), then attached.
out=$(PVCTL_DEVICE_TIMEOUT=0 timeout 30 "$PVD_BIN/pvctl" block-attach $DOM \
	"format=raw,vdev=xvdd,target=nbd+unix:///disk" 2>&1)
expect_eq "pvctl: a malformed NBD URI is one clear line" \
	"pvctl: disk target nbd+unix:///disk: not an NBD URI (nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH, nbds://...)" "$out"
expect_ok "pvctl block-attach of qemu-nbd's export 'disk'" env PVCTL_DEVICE_TIMEOUT=20 \
	timeout 60 "$PVD_BIN/pvctl" block-attach $DOM "format=raw,vdev=xvdd,target=nbd+unix:///disk?socket=$SOCK4"
if connected $DEV4; then
	pass "qemu-nbd disk Connected"
	fio_verify qemu-randwrite-4k $DEV4 --rw=randwrite --bs=4k --iodepth=32
	rm -f "$DATA/copy.img"
	if timeout 60 nbdcopy "nbd+unix:///?socket=$GDIR/vbd-$DEV4.nbd" "$DATA/copy.img" &&
		cmp -s "$DATA/copy.img" "$IMG4"; then
		pass "qemu-nbd's file equals what the guest sees"
	else
		fail "qemu-nbd's file equals what the guest sees" "$(cmp "$DATA/copy.img" "$IMG4" 2>&1)"
	fi
	rm -f "$DATA/copy.img"
else
	fail "qemu-nbd disk Connected" "backend $(xs read $BE/$DEV4/state 2>&1)"
fi
del_vbd $DEV4

# ---- a read-only export: read-only only
DEV5=51776
DEV6=51792
SOCK5=$PVD_RUNDIR/nbdkit-ro.sock
srv ro nbdkit -f -r -U "$SOCK5" file "$IMG4"
wait_for 10 test -S "$SOCK5" || die "nbdkit (read-only) did not start"
add_vbd $DOM $DEV5 "nbd+unix:///?socket=$SOCK5" w
if wait_for 20 eval '[ "$(xs read $BE/$DEV5/state 2>/dev/null)" -ge 5 ]'; then
	pass "read-only export attached read-write: the backend refuses it"
else
	fail "read-only export attached read-write: refused" "backend $(xs read $BE/$DEV5/state 2>&1)"
fi
expect_ok "the log names the cause" grep -q "the export is read-only: attach it read-only" "$PVD_RUNDIR/blkback.log"
add_vbd $DOM $DEV6 "nbd+unix:///?socket=$SOCK5" r
if connected $DEV6; then
	pass "read-only export attached read-only: Connected"
	expect_eq "info says read-only (VDISK_READONLY)" 4 "$(xs read $BE/$DEV6/info)"
	expect_eq "no discard on a read-only disk" 0 "$(xs read $BE/$DEV6/feature-discard)"
else
	fail "read-only export attached read-only: Connected" "backend $(xs read $BE/$DEV6/state 2>&1)"
fi
del_vbd $DEV5
del_vbd $DEV6

# ---- TLS with a pre-shared key (nbds+unix://), the key from a file
DEV7=51808
PSK=$PVD_RUNDIR/nbd.psk
printf 'alice:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$PSK"
chmod 600 "$PSK"
SOCK7=$PVD_RUNDIR/nbdkit-tls.sock
srv tls nbdkit -f -U "$SOCK7" --tls=require --tls-psk="$PSK" memory 64M
wait_for 10 test -S "$SOCK7" || die "nbdkit (TLS) did not start"
expect_ok "vbd $DEV7 on nbds+unix with a PSK file" add_vbd $DOM $DEV7 \
	"nbds+unix://alice@/?socket=$SOCK7&tls-psk-file=$PSK"
if connected $DEV7; then
	pass "TLS disk Connected"
	fio_verify tls-randwrite-4k $DEV7 --rw=randwrite --bs=4k --iodepth=32 --size=16M
else
	fail "TLS disk Connected" "backend $(xs read $BE/$DEV7/state 2>&1)"
fi

# ---- the server killed under fio's writes, then restarted.  fio's
# writes stall while the server is away (the requests libnbd aborted are
# sent again on the new connection); its verify pass afterwards reads
# back every block it was told was written (its own seed: a block still
# holding the earlier job's data must not pass for this one's).
GURI1="nbd+unix:///?socket=$GDIR/vbd-$DEV1.nbd"
timeout -k 5 300 fio --verify_state_save=0 --name=kill --ioengine=nbd --uri="$GURI1" \
	--size=32M --rw=randwrite --bs=4k --iodepth=32 --randseed=$((RANDOM + 7)) \
	--verify=crc32c --do_verify=1 --verify_fatal=1 >"$PVD_RUNDIR/fio.kill" 2>&1 &
FIO_PID=$!
track_pid "$FIO_PID"
# The kill comes when fio's writes are in flight to the server.
inflight() {
	ctl_stats | jq -r ".devices[] | select(.domid == $DOM and .devid == $1) | .inflight"
}
busy() { [ "$(inflight $DEV1)" -ge 8 ]; }
wait_for 20 busy || fail "fio's writes in flight before the kill" "inflight $(inflight $DEV1)"
LOSSES0=$(remote $DEV1 losses)
kill -KILL "$FILE_PID"
wait "$FILE_PID" 2>/dev/null
rm -f "$SOCK1"
if wait_for 10 remote_is $DEV1 reconnecting; then
	pass "server killed: the disk shows reconnecting"
else
	fail "server killed: the disk shows reconnecting" "state $(remote $DEV1 state)"
fi
out=$(timeout 30 "$PVD_BIN/pvctl" block-list $DOM 2>&1)
if [[ "$out" == *"$BE/$DEV1 "*" remote:reconnecting"* ]]; then
	pass "pvctl block-list shows the disk reconnecting"
else
	fail "pvctl block-list shows the disk reconnecting" "$out"
fi
# metrics_state DEVID: the state whose pvd_vbd_remote_state sample is 1.
metrics_state() {
	curl -s --max-time 10 --unix-socket "$METRICS" http://localhost/metrics |
		grep -E "^pvd_vbd_remote_state\{.*vdev=\"$1\".*\} 1$" | grep -o 'state="[a-z]*"'
}
expect_eq "metrics: pvd_vbd_remote_state" 'state="reconnecting"' "$(metrics_state $DEV1)"

# Meanwhile a second guest on a local file: its verifying load generator
# runs and ends without an error while the first disk waits.
DOM2=6
DEV2=51712
IMG2=$DATA/local.img
truncate -s 64M "$IMG2"
guest_start $DOM2 lg "$PVD_RUNDIR/loadgen2.out" --blk-no-nbd \
	--loadgen "devid=$DEV2,rw=randrw,bs=8192,qd=16,seconds=2,verify=1,exit=1"
G2_PID=$GUEST_PID
expect_ok "vbd $DEV2 of domain $DOM2 on a local file" add_vbd $DOM2 $DEV2 "$IMG2"
if wait_pid_gone "$G2_PID" 60; then
	wait "$G2_PID"
	expect_eq "second guest's load generator (verify) exits 0 while the server is away" 0 "$?"
else
	fail "second guest's load generator exits" "still running after 60s"
fi
LG2=$(grep '^loadgen ' "$PVD_RUNDIR/loadgen2.out")
if [[ "$LG2" =~ errors=0\ verified=([0-9]+)\ verify_errors=0 ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
	pass "second guest unaffected: $LG2"
else
	fail "second guest unaffected" "output: $LG2"
fi
if pid_alive "$FIO_PID"; then
	pass "fio on the NBD disk stalls while the server is away"
else
	fail "fio on the NBD disk stalls while the server is away" "$(tail -n 5 "$PVD_RUNDIR/fio.kill")"
fi
expect_eq "still reconnecting after the second guest's run" reconnecting "$(remote $DEV1 state)"

srv file2 "${NBDKIT_FILE[@]}"
wait_for 10 test -S "$SOCK1" || die "nbdkit (file) did not restart"
if wait_for 15 remote_is $DEV1 connected; then
	pass "server restarted: the disk is connected again"
else
	fail "server restarted: the disk is connected again" "state $(remote $DEV1 state)"
fi
if wait_pid_gone "$FIO_PID" 120 && wait "$FIO_PID"; then
	pass "fio's writes resumed, and its verify of every acknowledged write passed"
else
	fail "fio's writes resumed and verified" "$(grep -iE 'err|verify' "$PVD_RUNDIR/fio.kill" | tail -n 5)"
fi
# A flush after the loss goes to the new server (and is not failed: a
# guest's blkfront would take that for "no flush" and stop flushing).
expect_ok "a flush after the reconnect succeeds" timeout 30 qemu-io -f raw -c flush "$GURI1"
expect_ok "the guest still flushes (no 'flush not supported')" \
	eval '! grep -q "flush not supported" "$PVD_RUNDIR/pvguest.log"'

expect_eq "metrics: connected again" 'state="connected"' "$(metrics_state $DEV1)"
# A "server" that accepts and never says a word: the handshake is
# bounded, and the real server is found once it is back.
stop_pid "$SRV_PID"
rm -f "$SOCK1"
srv mute socat "UNIX-LISTEN:$SOCK1,fork" SYSTEM:"sleep 60"
MUTE_PID=$SRV_PID
wait_for 10 remote_is $DEV1 reconnecting || fail "reconnecting after the second stop" "$(remote $DEV1 state)"
if wait_for 20 grep -q "no NBD handshake within" "$PVD_RUNDIR/blkback.log"; then
	pass "a server that never answers the handshake is given up on"
else
	fail "a server that never answers the handshake is given up on"
fi
stop_pid "$MUTE_PID"
rm -f "$SOCK1"
srv file3 "${NBDKIT_FILE[@]}"
if wait_for 20 remote_is $DEV1 connected; then
	pass "connected again to the real server after the mute one"
else
	fail "connected again to the real server after the mute one" "state $(remote $DEV1 state)"
fi
LOSSES=$(remote $DEV1 losses)
expect_eq "stats: two more connection losses" $((LOSSES0 + 2)) "$LOSSES"
RECON=$(remote $DEV1 reconnects)
RETRIED=$(remote $DEV1 retried)
[ "${RECON:-0}" -ge 1 ] && pass "stats: reconnects $RECON" || fail "stats: reconnects" "got '$RECON'"
# The writes in flight when the server died were sent again.
[ "${RETRIED:-0}" -ge 1 ] && pass "stats: $RETRIED requests sent again" ||
	fail "stats: requests in flight at the kill were sent again" "retried '$RETRIED'"
# pvd-blkback stopped here, so that a sanitizer's report at exit (leaks)
# is in its log before the log is read.
stop_pid "$BB_PID"
BB_PID=
if grep -qiE 'runtime error|sanitizer|assert' "$PVD_RUNDIR/blkback.log"; then
	fail "pvd-blkback's log is free of sanitizer reports" \
		"$(grep -iE 'runtime error|sanitizer|assert' "$PVD_RUNDIR/blkback.log" | head -n 3)"
else
	pass "pvd-blkback's log is free of sanitizer reports"
fi
finish
