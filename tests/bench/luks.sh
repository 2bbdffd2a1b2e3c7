#!/bin/bash
# Section "luks" of the benchmarks: encrypted disks (issue 15).  One LUKS1
# image on tmpfs (cryptsetup luksFormat --type luks1, aes-xts-plain64 with
# a 512-bit key: the format both pvd and QEMU's luks driver serve), and a
# plain file of the same size beside it, measured by fio (ioengine=nbd,
# on CPU 1) through four servers (on CPU 0):
#   pvd-luks   pvd-blkback serving the image with format=luks, fio through
#              the guest's (pvguest's) NBD export;
#   pvd-raw    the same route to the plain file: the cost of encryption;
#   qemu-luks  qemu-nbd --image-opts driver=luks serving the same image,
#              the peer (QEMU's LUKS driver, its crypto through nettle or
#              gcrypt as Debian builds it);
#   qemu-raw   qemu-nbd -f raw on the plain file.
# Cases: 4 KiB random read and write at QD32, 1 MiB sequential read and
# write at QD8.  Each case runs every route twice, in the order
# A B C D D C B A, and each pair is averaged, so that a change of load on
# this shared machine weighs on every route alike.  Ratios: pvd-luks /
# pvd-raw (what encryption costs pvd), pvd-luks / qemu-luks (goal: > 1).
#
#   BENCH_QUICK=1   very short runs      BENCH_SECS=N   seconds per run pair
#   BENCH_PIN=split (servers on CPU 0, fio on CPU 1; the default) or none
#   BENCH_LUKS_SIZE=512M   the image's size
#
# Exit status 0 when every measurement ran; no timing thresholds.
set -u
BENCH_PIN_DEFAULT=split
. "$(dirname "$0")/bench_lib.sh"
XSH=$BUILD/tests/integration/pvguest_xs
SIZE=${BENCH_LUKS_SIZE:-512M}
bench_setup lbench

echo "== section luks: encrypted disks, pvd-blkback (format=luks) beside the same disk raw and beside qemu-nbd's luks driver; pinning: $PIN, ${HALF}s per run =="
for p in cryptsetup qemu-nbd fio xenstore-write; do
	command -v $p >/dev/null || { bad "$p not installed (scripts/deps.sh)"; exit 1; }
done
fio --enghelp 2>/dev/null | grep -qw nbd || { bad "this fio has no nbd engine"; exit 1; }
[ -x "$BIN/pvd-blkback" ] && [ -x "$BIN/pvguest" ] && [ -x "$XSH" ] ||
	{ bad "build first: make all tests"; exit 1; }

# ------------------------------------------------------------ the data
KEY=$RUNDIR/key
# Text: QEMU's luks driver takes its key-secret as UTF-8.
head -c 24 /dev/urandom | base64 | tr -d '\n' >"$KEY" && chmod 0400 "$KEY"
IMG=$DATA/luks.img RAW=$DATA/raw.img
for f in "$IMG" "$RAW"; do
	fallocate -l "$SIZE" "$f" 2>/dev/null || truncate -s "$SIZE" "$f"
done
cryptsetup luksFormat -q --type luks1 --cipher aes-xts-plain64 --key-size 512 \
	--pbkdf-force-iterations 1000 --key-file "$KEY" "$IMG" >"$RUNDIR/cs.log" 2>&1 ||
	{ bad "cryptsetup luksFormat: $(cat "$RUNDIR/cs.log")"; exit 1; }
# Written once through, so that reads find allocated pages everywhere.
dd if=/dev/zero of="$RAW" bs=1M count="${SIZE%M}" conv=notrunc status=none 2>/dev/null
note "$IMG: LUKS1 aes-xts-plain64, 512-bit key; $RAW beside it ($SIZE each, $(df -T "$DATA" | awk 'NR == 2 { print $2 }'))"
grep -qw aes /proc/cpuinfo && note "this CPU has AES-NI" || note "this CPU has no AES-NI"

# ------------------------------------------------------------ servers
stored_start || exit 1
"${SERVER_PIN[@]}" "$BIN/pvd-blkback" -f --hv sim --pidfile "$RUNDIR/bb.pid" --engine aio \
	--log-level warning >>"$RUNDIR/bb.log" 2>&1 &
BB_PID=$!
_pids+=("$BB_PID")
wait_until "$WAIT_SECS" test -s "$RUNDIR/bb.pid" || { bad "pvd-blkback did not start"; exit 1; }

# guest DOMID PARAMS [luks]: a pvguest (on CPU 0, the server side) with
# one disk, its NBD export's URI in GURI.
GDEV=51712
guest() {
	local d=$1 params=$2 luks=${3:-} fe=/local/domain/$1/device/vbd be=/local/domain/0/backend/vbd/$1 line
	"${SERVER_PIN[@]}" "$BIN/pvguest" -f --domid "$d" --name "lb$d" --memory 256 \
		--ready-fd 3 --no-console-shell --log-level warning \
		3>"$RUNDIR/ready$d" >/dev/null 2>>"$RUNDIR/pvguest.log" &
	_pids+=($!)
	wait_until "$WAIT_SECS" grep -qs pid= "$RUNDIR/ready$d" || { bad "pvguest $d did not start"; return 1; }
	read -r line <"$RUNDIR/ready$d"
	[[ "$line" =~ store_gfn=([0-9]+)\ store_port=([0-9]+) ]] || { bad "pvguest ready line: $line"; return 1; }
	timeout -k 2 10 "$XSH" introduce "$d" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" >/dev/null ||
		{ bad "cannot introduce domain $d"; return 1; }
	xs write /local/domain/$d/device "" "$fe" "" && xs chmod /local/domain/$d/device n$d r0 &&
		xs chmod "$fe" n$d r0 &&
		xs write "$be/$GDEV/frontend" "$fe/$GDEV" "$be/$GDEV/frontend-id" "$d" "$be/$GDEV/online" 1 \
			"$be/$GDEV/state" 1 "$be/$GDEV/params" "$params" "$be/$GDEV/mode" w \
			"$be/$GDEV/type" file "$be/$GDEV/dev" xvda "$be/$GDEV/device-type" disk &&
		xs chmod -r "$be/$GDEV" n0 r$d || { bad "cannot write vbd nodes of domain $d"; return 1; }
	if [ -n "$luks" ]; then
		xs write "$be/$GDEV/format" luks "$be/$GDEV/key-file" "$KEY" &&
			xs chmod "$be/$GDEV/key-file" n0 || { bad "cannot write the luks nodes"; return 1; }
	fi
	xs write "$fe/$GDEV/backend" "$be/$GDEV" "$fe/$GDEV/backend-id" 0 "$fe/$GDEV/state" 1 \
		"$fe/$GDEV/virtual-device" "$GDEV" "$fe/$GDEV/device-type" disk &&
		xs chmod -r "$fe/$GDEV" n$d r0 || { bad "cannot write vbd nodes of domain $d"; return 1; }
	wait_until 30 state_is "$fe/$GDEV" 4 ||
		{ bad "domain $d disk not connected: $(xs read /local/domain/0/error/backend/vbd/$d/$GDEV/error 2>&1)"; return 1; }
	wait_until "$WAIT_SECS" test -S "$RUNDIR/guests/dom$d/vbd-$GDEV.nbd" || { bad "no NBD export for $d"; return 1; }
	GURI="nbd+unix:///?socket=$RUNDIR/guests/dom$d/vbd-$GDEV.nbd"
}
qnbd() { # SOCK qemu-nbd args...
	local sock=$1
	shift
	"${SERVER_PIN[@]}" qemu-nbd -t -k "$sock" --cache=none --aio=native "$@" >>"$RUNDIR/qemu-nbd.log" 2>&1 &
	_pids+=($!)
	wait_until "$WAIT_SECS" test -S "$sock" || { bad "qemu-nbd $* did not start: $(tail -n 3 "$RUNDIR/qemu-nbd.log")"; return 1; }
}

declare -A URI
guest 201 "$IMG" luks && URI[pvd-luks]=$GURI
guest 202 "$RAW" && URI[pvd-raw]=$GURI
qnbd "$RUNDIR/ql.sock" --object "secret,id=s0,file=$KEY" \
	--image-opts "driver=luks,key-secret=s0,file.driver=file,file.filename=$IMG" &&
	URI[qemu-luks]="nbd+unix:///?socket=$RUNDIR/ql.sock"
qnbd "$RUNDIR/qr.sock" -f raw "$RAW" && URI[qemu-raw]="nbd+unix:///?socket=$RUNDIR/qr.sock"
ROUTES=(pvd-luks pvd-raw qemu-luks qemu-raw)
for r in "${ROUTES[@]}"; do   # warm up every route once, not counted
	[ -n "${URI[$r]:-}" ] && timeout -k 2 20 "${CLIENT_PIN[@]}" fio --name=warm --ioengine=nbd \
		--uri="${URI[$r]}" --rw=randread --bs=4096 --iodepth=8 --runtime=300ms --time_based >/dev/null 2>&1
done

# fio_nbd URI RW BS QD: IOPS (4 KiB) or MB/s (1 MiB) on stdout.
fio_nbd() {
	local uri=$1 rw=$2 bs=$3 qd=$4 out f
	out=$(timeout -k 5 "$(calc "int($HALF) + 60" | cut -d. -f1)" "${CLIENT_PIN[@]}" fio --name=luks \
		--ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" --iodepth="$qd" \
		--runtime="$(calc "int($HALF * 1000)" | cut -d. -f1)ms" --time_based \
		--output-format=terse --terse-version=3 2>&1) && out=$(printf '%s\n' "$out" | grep '^3;') ||
		{ bad "fio $rw $bs on $uri: $(printf '%s' "$out" | tail -n 2)"; return 1; }
	case $rw in
	*read) f=$([ "$bs" -ge 1048576 ] && echo 7 || echo 8) ;;
	*) f=$([ "$bs" -ge 1048576 ] && echo 48 || echo 49) ;;
	esac
	out=$(printf '%s' "$out" | cut -d';' -f$f)
	[ "$bs" -ge 1048576 ] && out=$(calc "$out * 1024 / 1e6")
	printf '%s\n' "$out"
}

if [ "$QUICK" = 1 ]; then
	CASES=("randread 4096 32" "write 1048576 8")
else
	CASES=("randread 4096 32" "randwrite 4096 32" "read 1048576 8" "write 1048576 8")
fi
echo
printf '%-10s %8s %3s %5s | %9s %9s %9s %9s | %9s %9s %9s\n' rw bs QD unit pvd-luks pvd-raw \
	qemu-luks qemu-raw "luks/raw" "pvd/qemu" "goal >1"
for c in "${CASES[@]}"; do
	read -r rw bs qd <<<"$c"
	declare -A SUM=()
	order=("${ROUTES[@]}")
	for ((k = ${#ROUTES[@]} - 1; k >= 0; k--)); do order+=("${ROUTES[$k]}"); done
	for r in "${order[@]}"; do
		[ -n "${URI[$r]:-}" ] || continue
		v=$(fio_nbd "${URI[$r]}" "$rw" "$bs" "$qd") || continue
		SUM[$r]=$(calc "${SUM[$r]:-0} + $v / 2")
	done
	unit=IOPS
	[ "$bs" -ge 1048576 ] && unit=MB/s
	pl=${SUM[pvd-luks]:-} pr=${SUM[pvd-raw]:-} ql=${SUM[qemu-luks]:-} qr=${SUM[qemu-raw]:-}
	rq=$(ratio "$pl" "$ql")
	printf '%-10s %8s %3s %5s | %9s %9s %9s %9s | %9s %9s %9s\n' "$rw" "$bs" "$qd" "$unit" \
		"$(fmt "$pl")" "$(fmt "$pr")" "$(fmt "$ql")" "$(fmt "$qr")" "$(ratio "$pl" "$pr")" "$rq" \
		"$(awk -v r="$rq" 'BEGIN { if (r !~ /^[0-9.]+$/) print "-"; else if (r + 0 > 1) print "met"; else print "BELOW GOAL" }')"
	unset SUM
done
echo "(pinning $PIN: fio ioengine=nbd on CPU 1; pvd-stored, pvd-blkback (aio), the pvguests and qemu-nbd on CPU 0;"
echo " luks/raw: pvd's encrypted disk against the same route unencrypted; pvd/qemu: against qemu-nbd's luks driver)"
pid_alive "$BB_PID" || bad "pvd-blkback died: $(tail -n 5 "$RUNDIR/bb.log")"
echo
if [ "$_failed" -ne 0 ]; then
	echo "luks: $_failed measurement(s) failed"
	exit 1
fi
echo "luks: all measurements ran"
