#!/bin/bash
# Section "blkback" of the benchmarks: pvd-blkback's request path, with a
# test frontend (build/tests/integration/blkfront_test, a simulated guest
# on the sim hypervisor layer) as the load generator.
#
#  1. the null target (no storage): the ring, grant and response path
#     alone, in IOPS and in IOPS per backend core (backend CPU time from
#     /proc/PID/stat);
#  2. a 1 GiB file on tmpfs through the ring with each engine (libaio,
#     io_uring): 4 KiB random read and write at QD1 and QD32, 1 MiB
#     sequential read and write at QD8, each beside fio (libaio, O_DIRECT,
#     one job) on the same file in the same run, the ceiling;
#  3. the same cases on that file and on a loop device over it
#     (direct-io=on) by four routes: fio libaio direct, pvguest's load
#     generator through pvd-blkback, fio through the guest's NBD export,
#     fio through qemu-nbd (the peer); see "guest paths" below.
#
# Runs alternate A B B A (pvd, fio, fio, pvd; half of BENCH_SECS each)
# so that load changes on this shared machine hit both sides alike.
# Pinning (BENCH_PIN=split, the default): daemons and fio on CPU 0, the
# frontend on CPU 1.
#
#   BENCH_QUICK=1   very short runs      BENCH_SECS=N   seconds per side
#   BENCH_BLKBACK_PARTS="null engines routes"   the parts to run (all by default)
#   BENCH_GCASES="randwrite 4096 1;read 1048576 8"   the route cases (all by default)
#   BENCH_GTARGETS="tmpfs loop"   the route targets (both by default)
#
# Exit status 0 when every measurement ran; no timing thresholds.
set -u
BENCH_PIN_DEFAULT=split
. "$(dirname "$0")/bench_lib.sh"
bench_setup bbench

BB_PID=

bb_start() {
	rm -f "$RUNDIR/bb.pid"
	"${SERVER_PIN[@]}" "$BIN/pvd-blkback" -f --hv sim --pidfile "$RUNDIR/bb.pid" \
		--log-level warning "$@" >>"$RUNDIR/bb.log" 2>&1 &
	BB_PID=$!
	_pids+=("$BB_PID")
	wait_until "$WAIT_SECS" test -s "$RUNDIR/bb.pid" || {
		bad "pvd-blkback $* did not start: $(tail -n 5 "$RUNDIR/bb.log")"; return 1; }
	note "pvd-blkback $* running, pid $BB_PID"
}

bb_stop() {
	pid_alive "$BB_PID" || bad "pvd-blkback (pid $BB_PID) had died: $(tail -n 5 "$RUNDIR/bb.log")"
	stop_pid "$BB_PID"
	BB_PID=
}

# pvd PARAMS RW BS QD SECS: one frontend run; sets P_IOPS P_MBPS P_LAT
# and P_CPU (backend CPU microseconds per request).  FRONT_OPTS: more
# frontend options.
DOMID=1
FRONT_OPTS=()
P_IOPS= P_MBPS= P_LAT= P_CPU= P_OPS= P_TICKS=
pvd() {
	local params=$1 rw=$2 bs=$3 qd=$4 secs=$5 out t0 t1
	P_IOPS= P_MBPS= P_LAT= P_CPU= P_OPS= P_TICKS=
	DOMID=$((DOMID + 1))
	t0=$(cpu_ticks "$BB_PID")
	out=$(timeout -k 5 "$(calc "int($secs) + 60")" "${CLIENT_PIN[@]}" "$FRONT" \
		--domid "$DOMID" --params "$params" --slots "$qd" --timeout 20000 "${FRONT_OPTS[@]}" \
		attach bench "$rw" "$bs" "$qd" "$secs" detach 2>&1)
	t1=$(cpu_ticks "$BB_PID")
	if ! line=$(printf '%s\n' "$out" | grep '^bench '); then
		bad "frontend $rw $bs QD$qd on $params: $(printf '%s' "$out" | tail -n 3)"
		return 1
	fi
	P_OPS=$(kv "$line" ops)
	P_IOPS=$(kv "$line" iops)
	P_MBPS=$(kv "$line" mbps)
	P_LAT=$(kv "$line" lat_us)
	P_TICKS=$((t1 - t0))
}

# fio_run RW BS QD SECS FILE: sets F_IOPS F_MBPS.  FIO_PIN: the CPU
# (default the backend's); FIO_TARGET: how fio reaches the data (default
# libaio direct on FILE; FILE is then unused).
F_IOPS= F_MBPS=
FIO_PIN=() FIO_TARGET=()
fio_run() {
	local rw=$1 bs=$2 qd=$3 secs=$4 file=$5 out pin=("${SERVER_PIN[@]}")
	local tgt=(--filename="$file" --direct=1 --ioengine=libaio)
	F_IOPS= F_MBPS=
	[ ${#FIO_PIN[@]} -gt 0 ] && pin=("${FIO_PIN[@]}")
	[ ${#FIO_TARGET[@]} -gt 0 ] && tgt=("${FIO_TARGET[@]}")
	out=$(timeout -k 5 "$(calc "int($secs) + 60")" "${pin[@]}" fio --name=ceiling \
		"${tgt[@]}" --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --runtime="$(calc "int($secs * 1000)" | cut -d. -f1)ms" \
		--time_based --numjobs=1 --output-format=terse --terse-version=3 2>&1) &&
		out=$(printf '%s\n' "$out" | grep '^3;') || { bad "fio $rw ${tgt[*]}: $out"; return 1; }
	case $rw in
	*read) F_IOPS=$(printf '%s' "$out" | cut -d';' -f8); F_MBPS=$(printf '%s' "$out" | cut -d';' -f7) ;;
	*) F_IOPS=$(printf '%s' "$out" | cut -d';' -f49); F_MBPS=$(printf '%s' "$out" | cut -d';' -f48) ;;
	esac
	F_MBPS=$(calc "$F_MBPS * 1024 / 1e6")
}

ROWS=()
# pair ENGINE RW BS QD FILE: pvd, fio, fio, pvd; one table row.
pair() {
	local eng=$1 rw=$2 bs=$3 qd=$4 file=$5 pops=0 pt=0 pl=0 fi=0 fm=0 pm=0 n=0 t
	for t in pvd fio fio pvd; do
		if [ "$t" = pvd ]; then
			pvd "$file" "$rw" "$bs" "$qd" "$HALF" || return 1
			pops=$(calc "$pops + $P_IOPS"); pm=$(calc "$pm + $P_MBPS")
			pl=$(calc "$pl + $P_LAT"); pt=$(calc "$pt + $P_TICKS / $CLK_TCK * 1e6 / $P_OPS")
		else
			fio_run "$rw" "$bs" "$qd" "$HALF" "$file" || return 1
			fi=$(calc "$fi + $F_IOPS"); fm=$(calc "$fm + $F_MBPS")
		fi
		n=$((n + 1))
	done
	ROWS+=("$eng|$rw|$bs|$qd|$(calc "$pops / 2")|$(calc "$fi / 2")|$(calc "$pm / 2")|$(calc "$fm / 2")|$(calc "int($pt / 2 * 100) / 100")|$(calc "int($pl / 2 * 10) / 10")")
	note "$eng $rw bs=$bs QD$qd: pvd $(fmt "$(calc "$pops / 2")") IOPS, fio $(fmt "$(calc "$fi / 2")") IOPS"
}

print_rows() {
	local fmtl='%-6s %-10s %8s %3s | %9s %9s %6s | %9s %9s | %10s %8s\n' r e rw bs qd pi fi pm fm pc pl
	printf "$fmtl" engine rw bs QD "pvd IOPS" "fio IOPS" ratio "pvd MB/s" "fio MB/s" "be us/req" "lat us"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r e rw bs qd pi fi pm fm pc pl <<<"$r"
		printf "$fmtl" "$e" "$rw" "$bs" "$qd" "$(fmt "$pi")" "$(fmt "$fi")" "$(ratio "$pi" "$fi")" \
			"$(fmt "$pm")" "$(fmt "$fm")" "$(dec "$pc" 2)" "$(dec "$pl" 1)"
	done
}

echo "== section blkback: pvd-blkback through the ring, beside fio on the same file; pinning: $PIN, ${HALF}s per run =="
[ -x "$BIN/pvd-blkback" ] && [ -x "$FRONT" ] || { bad "build first: make all tests"; exit 1; }
command -v fio >/dev/null || { bad "fio not installed (scripts/deps.sh)"; exit 1; }
stored_start || exit 1

PARTS=${BENCH_BLKBACK_PARTS:-null engines routes}
part() { [[ " $PARTS " == *" $1 "* ]]; }

# ------------------------------------------------------------ null target
if part null; then
bb_start --engine aio || exit 1
echo
echo "-- null target (no storage): the ring path alone; goal >= 2M IOPS per backend core at QD32"
printf '%-10s %3s %-11s %9s %12s %14s %8s\n' rw QD grants IOPS "be us/req" "IOPS/be core" "lat us"
for c in "32 persistent" "32 mapped" "1 persistent" "1 mapped"; do
	qd=${c% *} mode=${c#* }
	FRONT_OPTS=(--persistent "$([ "$mode" = persistent ] && echo 1 || echo 0)")
	for rep in 1 2; do
		pvd null:1G randread 4096 "$qd" "$HALF" || continue
		cpu=$(calc "$P_TICKS / $CLK_TCK * 1e6 / $P_OPS")
		percore=$(calc "$P_OPS / ($P_TICKS / $CLK_TCK)")
		printf '%-10s %3s %-11s %9s %12s %14s %8s %s\n' randread "$qd" "$mode" "$(fmt "$P_IOPS")" \
			"$(dec "$cpu" 3)" "$(fmt "$percore")" "$P_LAT" \
			"$(awk -v p="$percore" -v q="$qd" 'BEGIN { if (q == 1) print "(one request at a time: latency-bound)";
				else if (p + 0 >= 2e6) print "(goal met)"; else print "(BELOW GOAL)" }')"
	done
done
FRONT_OPTS=()
echo "(mapped: a grant map and unmap per segment; persistent: mapped once, kept."
echo " IOPS/be core: requests per second of the backend's CPU time, spinning included)"
bb_stop
fi

# ------------------------------------------------------------ tmpfs file
file=$DATA/disk.img
if ! fallocate -l 1G "$file" 2>/dev/null; then
	dd if=/dev/zero of="$file" bs=1M count=1024 status=none || { bad "cannot create $file"; exit 1; }
fi
note "data file $file ($(df -T "$DATA" | awk 'NR == 2 { print $2 }'), 1 GiB, allocated)"
if part engines; then
for eng in aio uring; do
	bb_start --engine "$eng" || continue
	pair "$eng" randread 4096 1 "$file"
	pair "$eng" randread 4096 32 "$file"
	pair "$eng" randwrite 4096 1 "$file"
	pair "$eng" randwrite 4096 32 "$file"
	pair "$eng" read 1048576 8 "$file"
	pair "$eng" write 1048576 8 "$file"
	bb_stop
done
echo
echo "-- 1 GiB tmpfs file: pvd-blkback (frontend on the other CPU) vs fio libaio direct (ratio = pvd/fio)"
print_rows
echo "(be us/req: pvd-blkback's CPU time per request; fio runs on the backend's CPU, the frontend beside it)"
fi

# ------------------------------------------------------------ guest paths
# The same cases on the same file (and on a loop device over it with
# direct-io=on) by four routes: (a) fio libaio direct on the file, the
# ceiling; (b) pvguest's in-guest load generator through pvd-blkback;
# (c) fio through the guest's NBD export (ioengine=nbd); (d) fio through
# qemu-nbd serving the file on a unix socket, the nearest peer.  One
# pvguest per case: its load generator runs once the disk connects, then
# fio uses its NBD export.  Pinning: pvd-blkback, qemu-nbd and fio (a) on
# CPU 0; pvguest on CPU 1 for its load generator (b); for (c) pvguest moves
# to CPU 0, so that each NBD route has its server side (pvguest and
# pvd-blkback; qemu-nbd) on CPU 0 and its client (fio) on CPU 1.
GDEV=$PG_DEV
GDOM=100
G_PID=
# Two thirds of HALF per run (1 s by default) to keep the section near 4
# minutes; the load generator counts whole seconds.
GSECS=$(calc "$HALF * 2 / 3")
LG_SECS=$(awk -v h="$GSECS" 'BEGIN { s = int(h + 0.5); print (s < 1 ? 1 : s) }')

# guest_case PARAMS TYPE RW BS QD: a pvguest whose load generator runs
# the case on disk PARAMS; sets L_IOPS L_MBPS and leaves the guest (G_PID,
# GDOM) running for its NBD export.
L_IOPS= L_MBPS=
guest_case() {
	local params=$1 type=$2 rw=$3 bs=$4 qd=$5 d line out fe i
	L_IOPS= L_MBPS=
	GDOM=$((GDOM + 1)); d=$GDOM
	fe=/local/domain/$d/device/vbd
	out=$RUNDIR/lg$d.out
	pvguest_disk "$d" "$params" "$type" "devid=$GDEV,rw=$rw,bs=$bs,qd=$qd,seconds=$LG_SECS" "$out" || return 1
	G_PID=$PG_PID
	wait_until 20 state_is "$fe/$GDEV" 4 ||
		{ bad "domain $d disk not connected (frontend $(xs read "$fe/$GDEV/state" 2>&1))"; return 1; }
	wait_until $((LG_SECS + 30)) grep -qs '^loadgen ' "$out" ||
		{ bad "load generator of domain $d: no result"; return 1; }
	line=$(grep '^loadgen ' "$out")
	[[ "$line" =~ errors=0 ]] || { bad "load generator errors: $line"; return 1; }
	L_IOPS=$(kv "$line" iops)
	L_MBPS=$(kv "$line" mbps)
	for ((i = 0; i < 100; i++)); do [ -S "$RUNDIR/guests/dom$d/vbd-$GDEV.nbd" ] && break; sleep 0.05; done
}

guest_stop() {
	[ -n "$G_PID" ] || return 0
	pvguest_gone "$GDOM" "$G_PID"
	G_PID=
}

QN_PID=
qnbd_start() {
	local target=$1 sock=$RUNDIR/qemu-nbd.sock
	rm -f "$sock"
	"${SERVER_PIN[@]}" qemu-nbd -t -k "$sock" -f raw --cache=none --aio=native "$target" \
		>>"$RUNDIR/qemu-nbd.log" 2>&1 &
	QN_PID=$!
	_pids+=("$QN_PID")
	wait_until "$WAIT_SECS" test -S "$sock" || { bad "qemu-nbd did not start: $(tail -n 3 "$RUNDIR/qemu-nbd.log")"; return 1; }
	# A first short run, not counted: the first connection after start
	# was seen far slower than the rest (as our guest is warm from its
	# load generator when fio reaches it).
	timeout -k 2 20 "${CLIENT_PIN[@]}" fio --name=warm --ioengine=nbd "--uri=nbd+unix:///?socket=$sock" \
		--rw=randread --bs=4096 --iodepth=8 --runtime=300ms --time_based >/dev/null 2>&1
}

GROWS=()
# avg2 X Y: the mean of the figures present ("" if none).
avg2() {
	if [ -n "$1" ] && [ -n "$2" ]; then calc "($1 + $2) / 2"; else printf '%s\n' "${1:-$2}"; fi
}
# gcase LABEL PARAMS TYPE RW BS QD: one row of the routes table.  The peers
# bracket ours in time: a1 d1 b1 c b2 d2 a2, and each pair of runs is
# averaged, so that a change of load on this shared machine weighs on both
# sides alike.
gcase() {
	local label=$1 params=$2 type=$3 rw=$4 bs=$5 qd=$6 unit=IOPS
	local a1= a2= am1= am2= d1= d2= dm1= dm2= a am b= bm= c= cm= dd dm
	[ "$bs" -ge 1048576 ] && unit=MB/s
	FIO_PIN=() FIO_TARGET=()
	fio_run "$rw" "$bs" "$qd" "$GSECS" "$params" && a1=$F_IOPS am1=$F_MBPS
	if [ -n "$QN_PID" ]; then
		FIO_PIN=("${CLIENT_PIN[@]}")
		FIO_TARGET=(--ioengine=nbd "--uri=nbd+unix:///?socket=$RUNDIR/qemu-nbd.sock")
		fio_run "$rw" "$bs" "$qd" "$GSECS" - && d1=$F_IOPS dm1=$F_MBPS
		FIO_PIN=() FIO_TARGET=()
	fi
	if guest_case "$params" "$type" "$rw" "$bs" "$qd"; then
		b=$L_IOPS bm=$L_MBPS
		# For (c) the guest is the NBD server: it goes beside the
		# backend on the server's CPU, as qemu-nbd for (d); the client
		# has the other CPU in both routes.
		[ ${#SERVER_PIN[@]} -gt 0 ] && taskset -a -p -c 0 "$G_PID" >/dev/null
		FIO_PIN=("${CLIENT_PIN[@]}")
		FIO_TARGET=(--ioengine=nbd "--uri=nbd+unix:///?socket=$RUNDIR/guests/dom$GDOM/vbd-$GDEV.nbd")
		fio_run "$rw" "$bs" "$qd" "$GSECS" - && c=$F_IOPS cm=$F_MBPS
	fi
	guest_stop
	# (b) once more, in a new guest: two runs, as the peers have.
	if guest_case "$params" "$type" "$rw" "$bs" "$qd"; then
		b=$(avg2 "$b" "$L_IOPS") bm=$(avg2 "$bm" "$L_MBPS")
	fi
	guest_stop
	if [ -n "$QN_PID" ]; then
		FIO_PIN=("${CLIENT_PIN[@]}")
		FIO_TARGET=(--ioengine=nbd "--uri=nbd+unix:///?socket=$RUNDIR/qemu-nbd.sock")
		fio_run "$rw" "$bs" "$qd" "$GSECS" - && d2=$F_IOPS dm2=$F_MBPS
	fi
	FIO_PIN=() FIO_TARGET=()
	fio_run "$rw" "$bs" "$qd" "$GSECS" "$params" && a2=$F_IOPS am2=$F_MBPS
	a=$(avg2 "$a1" "$a2") am=$(avg2 "$am1" "$am2") dd=$(avg2 "$d1" "$d2") dm=$(avg2 "$dm1" "$dm2")
	if [ "$unit" = MB/s ]; then a=$am b=$bm c=$cm dd=$dm; fi
	GROWS+=("$label|$rw|$bs|$qd|$unit|$a|$b|$c|$dd")
	note "$label $rw bs=$bs QD$qd ($unit): fio $(fmt "$a"), loadgen $(fmt "$b"), guest NBD $(fmt "$c"), qemu-nbd $(fmt "$dd")"
}

# verdict RATIO GOAL: "met" or "BELOW GOAL" ("-" without a figure).
verdict() {
	awk -v r="$1" -v g="$2" 'BEGIN { if (r !~ /^[0-9.]+$/) print "-";
		else if (r + 0 >= g + 0) print "met"; else print "BELOW GOAL" }'
}

print_grows() {
	local fmtl='%-6s %-10s %8s %3s %5s | %9s %9s %5s %-10s | %9s %9s %5s %-10s\n' r l rw bs qd u a b c d rb rc vb
	printf "$fmtl" target rw bs QD unit "(a) fio" "(b) lg" b/a "goal .90" "(c) gNBD" "(d) qnbd" c/d "goal >1"
	for r in "${GROWS[@]}"; do
		IFS='|' read -r l rw bs qd u a b c d <<<"$r"
		rb=$(ratio "$b" "$a") rc=$(ratio "$c" "$d")
		vb="(QD$qd)"
		[ "$qd" = 32 ] && vb=$(verdict "$rb" 0.90)
		printf "$fmtl" "$l" "$rw" "$bs" "$qd" "$u" "$(fmt "$a")" "$(fmt "$b")" "$rb" "$vb" \
			"$(fmt "$c")" "$(fmt "$d")" "$rc" "$(awk -v r="$rc" 'BEGIN { if (r !~ /^[0-9.]+$/) print "-";
				else if (r + 0 > 1) print "met"; else print "BELOW GOAL" }')"
	done
}

# Cases: all of them, or one with BENCH_QUICK=1 (the path, not figures).
if [ -n "${BENCH_GCASES:-}" ]; then
	IFS=';' read -r -a GCASES <<<"$BENCH_GCASES"
elif [ "$QUICK" = 1 ]; then
	GCASES=("randread 4096 32")
else
	GCASES=("randread 4096 1" "randread 4096 32" "randwrite 4096 1" "randwrite 4096 32"
		"read 1048576 8" "write 1048576 8")
fi
groutes() {
	local label=$1 target=$2 type=$3 c
	qnbd_start "$target" || QN_PID=
	for c in "${GCASES[@]}"; do
		# shellcheck disable=SC2086
		gcase "$label" "$target" "$type" $c
	done
	[ -n "$QN_PID" ] && stop_pid "$QN_PID"
	QN_PID=
}
GTARGETS=${BENCH_GTARGETS:-tmpfs loop}
if ! part routes; then
	:
elif ! command -v qemu-nbd >/dev/null; then
	bad "qemu-nbd not installed (qemu-utils, scripts/deps.sh)"
elif ! fio --enghelp 2>/dev/null | grep -qw nbd; then
	bad "this fio has no nbd engine"
elif [ ! -x "$BIN/pvguest" ] || [ ! -x "$PG_XSH" ] || ! command -v xenstore-write >/dev/null; then
	bad "pvguest, $PG_XSH or xenstore-utils missing (make all tests; scripts/deps.sh)"
else
	bb_start --engine aio && {
		[[ " $GTARGETS " == *" tmpfs "* ]] && groutes tmpfs "$file" file
		if [[ " $GTARGETS " != *" loop "* ]]; then
			:
		elif LOOPDEV=$(losetup -f --show --direct-io=on "$file" 2>/dev/null) && [ -b "$LOOPDEV" ]; then
			note "loop device $LOOPDEV over $file, direct-io=on"
			groutes loop "$LOOPDEV" phy
			losetup -d "$LOOPDEV" 2>/dev/null
		else
			LOOPDEV=
			LOOP_NOTE="(no loop device here: losetup -f --show --direct-io=on failed; loop rows skipped)"
		fi
		bb_stop
	}
	echo
	echo "-- routes to the same data: (a) fio libaio direct, the ceiling; (b) pvguest's load generator through"
	echo "   pvd-blkback (aio); (c) fio ioengine=nbd through the guest's NBD export; (d) fio ioengine=nbd through"
	echo "   qemu-nbd -f raw --cache=none --aio=native on a unix socket, the peer.  Goals: b/a >= 0.90 at QD32; c/d > 1"
	print_grows
	[ -n "${LOOP_NOTE:-}" ] && echo "$LOOP_NOTE"
	echo "(load generator runs: ${LG_SECS}s (whole seconds), fio runs $(dec "$GSECS" 2)s; fio (a), pvd-blkback, qemu-nbd on CPU 0;"
	echo " pvguest on CPU 1 for (b), on CPU 0 for (c): the NBD server side on CPU 0, the NBD clients on CPU 1)"
fi

echo
if [ "$_failed" -ne 0 ]; then
	echo "blkback: $_failed measurement(s) failed"
	exit 1
fi
echo "blkback: all measurements ran"
