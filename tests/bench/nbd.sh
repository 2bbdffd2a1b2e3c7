#!/bin/bash
# Section "nbd" of the benchmarks: pvd-blkback's nbd engine (libnbd on
# its event loop) on an nbdkit export of a 1 GiB file on tmpfs (a unix
# socket), driven by the test frontend (build/tests/integration/
# blkfront_test, a simulated guest: --params is the NBD URI), beside fio's
# own nbd engine (ioengine=nbd, libnbd) on the same export in the same run,
# the ceiling a libnbd client reaches: 4 KiB random read and write at QD32,
# 1 MiB sequential read and write at QD8.  Runs alternate A B B A (pvd,
# fio, fio, pvd; half of BENCH_SECS each).
#
# Pinning: none by default (BENCH_NBD_PIN=none): the scheduler places
# nbdkit, the NBD client (pvd-blkback or fio) and, for pvd, the simulated
# guest.  With BENCH_NBD_PIN=split (nbdkit and the guest on CPU 0, the
# clients on CPU 1) the guest's polling shares nbdkit's CPU, which fio's
# runs do not pay: 4 KiB QD32 measured 0.40-0.42 of fio that way, 0.80-0.94
# unpinned, on the same loaded 2-vCPU machine.  A real guest has its own
# vCPUs.
#
#   BENCH_QUICK=1   very short runs      BENCH_SECS=N   seconds per side
#   BENCH_NBD_BB_OPTS="--spin-ns 0"   more pvd-blkback options
#
# Exit status 0 when every measurement ran; no timing thresholds.
set -u
# Not BENCH_PIN (run.sh's split default): see "Pinning" above.
BENCH_PIN_VAR=BENCH_NBD_PIN BENCH_PIN_DEFAULT=none
. "$(dirname "$0")/bench_lib.sh"
bench_setup nbench

BB_PID= NK_PID=

# pvd-blkback is an NBD client here: on the clients' CPU, as fio.
bb_start() {
	rm -f "$RUNDIR/bb.pid"
	"${CLIENT_PIN[@]}" "$BIN/pvd-blkback" -f --hv sim --pidfile "$RUNDIR/bb.pid" \
		--log-level warning ${BENCH_NBD_BB_OPTS:-} >>"$RUNDIR/bb.log" 2>&1 &
	BB_PID=$!
	_pids+=("$BB_PID")
	wait_until "$WAIT_SECS" test -s "$RUNDIR/bb.pid" || {
		bad "pvd-blkback did not start: $(tail -n 5 "$RUNDIR/bb.log")"; return 1; }
}

SOCK=$RUNDIR/nbdkit.sock
URI="nbd+unix:///?socket=$SOCK"
nbdkit_start() {
	"${SERVER_PIN[@]}" nbdkit -f -U "$SOCK" file "$1" >>"$RUNDIR/nbdkit.log" 2>&1 &
	NK_PID=$!
	_pids+=("$NK_PID")
	wait_until "$WAIT_SECS" test -S "$SOCK" || { bad "nbdkit did not start: $(tail -n 3 "$RUNDIR/nbdkit.log")"; return 1; }
}

# pvd RW BS QD SECS: one run of the simulated guest on the NBD disk; sets
# P_IOPS P_MBPS P_CPU (pvd-blkback's CPU microseconds per request).
DOMID=1
P_IOPS='' P_MBPS='' P_CPU=''
pvd() {
	local rw=$1 bs=$2 qd=$3 secs=$4 out line t0 t1 ops
	P_IOPS='' P_MBPS='' P_CPU=''
	DOMID=$((DOMID + 1))
	t0=$(cpu_ticks "$BB_PID")
	out=$(timeout -k 5 "$(calc "int($secs) + 60")" "${SERVER_PIN[@]}" "$FRONT" \
		--domid "$DOMID" --params "$URI" --slots "$qd" --timeout 20000 \
		attach bench "$rw" "$bs" "$qd" "$secs" detach 2>&1)
	t1=$(cpu_ticks "$BB_PID")
	if ! line=$(printf '%s\n' "$out" | grep '^bench '); then
		bad "frontend $rw $bs QD$qd on $URI: $(printf '%s' "$out" | tail -n 3)"
		return 1
	fi
	ops=$(kv "$line" ops)
	P_IOPS=$(kv "$line" iops)
	P_MBPS=$(kv "$line" mbps)
	P_CPU=$(calc "($t1 - $t0) / $CLK_TCK * 1e6 / $ops")
}

# fio_run RW BS QD SECS: fio's nbd engine on the same export; sets F_IOPS
# F_MBPS.
F_IOPS='' F_MBPS=''
fio_run() {
	local rw=$1 bs=$2 qd=$3 secs=$4 out
	F_IOPS='' F_MBPS=''
	out=$(timeout -k 5 "$(calc "int($secs) + 60")" "${CLIENT_PIN[@]}" fio --name=ceiling \
		--ioengine=nbd --uri="$URI" --rw="$rw" --bs="$bs" --size=1G \
		--iodepth="$qd" --runtime="$(calc "int($secs * 1000)" | cut -d. -f1)ms" \
		--time_based --numjobs=1 --output-format=terse --terse-version=3 2>&1) &&
		out=$(printf '%s\n' "$out" | grep '^3;') || { bad "fio nbd $rw: $out"; return 1; }
	case $rw in
	*read) F_IOPS=$(printf '%s' "$out" | cut -d';' -f8); F_MBPS=$(printf '%s' "$out" | cut -d';' -f7) ;;
	*) F_IOPS=$(printf '%s' "$out" | cut -d';' -f49); F_MBPS=$(printf '%s' "$out" | cut -d';' -f48) ;;
	esac
	F_MBPS=$(calc "$F_MBPS * 1024 / 1e6")
}

ROWS=()
# pair RW BS QD: pvd, fio, fio, pvd; one table row.
pair() {
	local rw=$1 bs=$2 qd=$3 pi=0 pm=0 pc=0 fo=0 fm=0 t
	for t in pvd fio fio pvd; do
		if [ "$t" = pvd ]; then
			pvd "$rw" "$bs" "$qd" "$HALF" || return 1
			pi=$(calc "$pi + $P_IOPS"); pm=$(calc "$pm + $P_MBPS"); pc=$(calc "$pc + $P_CPU")
		else
			fio_run "$rw" "$bs" "$qd" "$HALF" || return 1
			fo=$(calc "$fo + $F_IOPS"); fm=$(calc "$fm + $F_MBPS")
		fi
	done
	ROWS+=("$rw|$bs|$qd|$(calc "$pi / 2")|$(calc "$fo / 2")|$(calc "$pm / 2")|$(calc "$fm / 2")|$(calc "$pc / 2")")
	note "$rw bs=$bs QD$qd: pvd-blkback nbd $(fmt "$(calc "$pi / 2")") IOPS, fio nbd $(fmt "$(calc "$fo / 2")") IOPS"
}

print_rows() {
	local fmtl='%-10s %8s %3s | %9s %9s %9s %9s | %5s %-10s | %9s\n' r rw bs qd pi fo pm fm pc rt
	printf "$fmtl" rw bs QD "pvd IOPS" "fio IOPS" "pvd MB/s" "fio MB/s" ratio "goal .90" "be us/req"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r rw bs qd pi fo pm fm pc <<<"$r"
		rt=$(ratio "$pi" "$fo")
		printf "$fmtl" "$rw" "$bs" "$qd" "$(fmt "$pi")" "$(fmt "$fo")" "$(fmt "$pm")" "$(fmt "$fm")" \
			"$rt" "$(awk -v r="$rt" 'BEGIN { if (r !~ /^[0-9.]+$/) print "-";
				else if (r + 0 >= 0.9) print "met"; else print "BELOW GOAL" }')" "$(dec "$pc" 2)"
	done
}

echo "== section nbd: pvd-blkback's nbd engine on an nbdkit export (file on tmpfs, unix socket), beside fio ioengine=nbd; pinning: $PIN, ${HALF}s per run =="
[ -x "$BIN/pvd-blkback" ] && [ -x "$FRONT" ] || { bad "build first: make all tests"; exit 1; }
for p in fio nbdkit; do
	command -v $p >/dev/null || { bad "$p not installed (scripts/deps.sh)"; exit 1; }
done
fio --enghelp 2>/dev/null | grep -qw nbd || { bad "this fio has no nbd engine"; exit 1; }
stored_start && bb_start || exit 1
file=$DATA/nbd.img
truncate -s 1G "$file" && dd if=/dev/urandom of="$file" bs=1M count=64 conv=notrunc status=none
nbdkit_start "$file" || exit 1
if [ "$QUICK" = 1 ]; then
	CASES=("randread 4096 32")
else
	CASES=("randread 4096 32" "randwrite 4096 32" "read 1048576 8" "write 1048576 8")
fi
for c in "${CASES[@]}"; do
	# shellcheck disable=SC2086
	pair $c
done
echo
echo "-- pvd-blkback (nbd engine) vs fio ioengine=nbd, the same nbdkit export; ratio = pvd/fio (IOPS; MB/s alike)"
print_rows
if [ "$PIN" = split ]; then
	echo "(nbdkit and the simulated guest on CPU 0, the NBD clients pvd-blkback and fio on CPU 1; be us/req: pvd-blkback's CPU per request)"
else
	echo "(pinning: $PIN; be us/req: pvd-blkback's CPU per request, its spin included)"
fi
pid_alive "$BB_PID" || bad "pvd-blkback had died: $(tail -n 5 "$RUNDIR/bb.log")"
echo
if [ "$_failed" -ne 0 ]; then
	echo "nbd: $_failed measurement(s) failed"
	exit 1
fi
echo "nbd: all measurements ran"
