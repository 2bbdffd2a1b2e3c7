#!/bin/bash
# Section "scaling" of the benchmarks: pvd-blkback's I/O threads.  K
# guests (K = 1, 2, 4, ... up to the CPUs), each a simulated guest
# (pvguest) whose load generator drives its own 256 MiB tmpfs file with
# 4 KiB random reads at QD32, all at once; pvd-blkback with 1 I/O
# thread and with N (the CPUs); beside fio with K jobs (libaio, O_DIRECT)
# on the same files, the ceiling.  Aggregate IOPS, the ratio to the
# ceiling, and the backend's CPU time (cores busy: CPU seconds per
# second).  Then the null target (no storage) with 1 and N threads.
# No pinning: the threads are what is measured.
#
#   BENCH_QUICK=1   very short runs      BENCH_SECS=N   seconds per point
#
# Exit status 0 when every measurement ran; no timing thresholds.
set -u
BENCH_PIN_DEFAULT=none
. "$(dirname "$0")/bench_lib.sh"
bench_setup bscale
SERVER_PIN=() CLIENT_PIN=()
NCPU=$(nproc)
BB_PID=

bb_start() {
	rm -f "$RUNDIR/bb.pid"
	"$BIN/pvd-blkback" -f --hv sim --pidfile "$RUNDIR/bb.pid" \
		--log-level warning "$@" >>"$RUNDIR/bb.log" 2>&1 &
	BB_PID=$!
	_pids+=("$BB_PID")
	wait_until "$WAIT_SECS" test -s "$RUNDIR/bb.pid" || {
		bad "pvd-blkback $* did not start: $(tail -n 5 "$RUNDIR/bb.log")"; return 1; }
}

bb_stop() {
	pid_alive "$BB_PID" || bad "pvd-blkback (pid $BB_PID) had died: $(tail -n 5 "$RUNDIR/bb.log")"
	stop_pid "$BB_PID"
	BB_PID=
}

# guests K TARGET...: K simulated guests at once (pvguest, guest i on
# TARGET i, or on the one TARGET), each running its load generator (4 KiB
# random reads at QD32 for SECS) from the moment its disk connects; sets
# G_IOPS (the sum of the guests' own rates) and G_CORES (the backend's CPU
# seconds per second while they ran).
DOMID=1
G_IOPS= G_CORES=
guests() {
	local k=$1 i pids=() doms=() t0 t1 w0 w1 sum=0 line tgt lsecs
	shift
	G_IOPS= G_CORES=
	lsecs=$(awk -v s="$SECS" 'BEGIN { s = int(s + 0.5); print (s < 1 ? 1 : s) }')
	t0=$(cpu_ticks "$BB_PID"); w0=$(date +%s%N)
	for ((i = 1; i <= k; i++)); do
		tgt=${!i:-$1}
		[ $# -ge "$i" ] || tgt=$1
		DOMID=$((DOMID + 1))
		pvguest_disk "$DOMID" "$tgt" "$([[ $tgt == null:* ]] && echo null || echo file)" \
			"devid=$PG_DEV,rw=randread,bs=4096,qd=32,seconds=$lsecs" "$RUNDIR/g$i.out" || return 1
		pids+=("$PG_PID") doms+=("$DOMID")
	done
	for ((i = 1; i <= k; i++)); do
		wait_until $((lsecs + 30)) grep -qs '^loadgen ' "$RUNDIR/g$i.out" ||
			{ bad "guest $i: no load generator result: $(tail -n 3 "$RUNDIR/pvguest.log")"; return 1; }
	done
	t1=$(cpu_ticks "$BB_PID"); w1=$(date +%s%N)
	for ((i = 1; i <= k; i++)); do
		line=$(grep '^loadgen ' "$RUNDIR/g$i.out")
		[[ "$line" =~ errors=0 ]] || { bad "guest $i: $line"; return 1; }
		sum=$(calc "$sum + $(kv "$line" iops)")
		pvguest_gone "${doms[$((i - 1))]}" "${pids[$((i - 1))]}"
	done
	G_IOPS=$sum
	G_CORES=$(calc "($t1 - $t0) / $CLK_TCK / (($w1 - $w0) / 1e9)")
}

# fio_k K: fio, K jobs, job i on file i; sets F_IOPS (aggregate).
F_IOPS=
fio_k() {
	local k=$1 i jobs=() out
	F_IOPS=
	for ((i = 1; i <= k; i++)); do jobs+=(--name="j$i" --filename="$DATA/f$i.img"); done
	out=$(timeout -k 5 "$(calc "int($SECS) + 60")" fio --direct=1 --ioengine=libaio \
		--rw=randread --bs=4096 --iodepth=32 --runtime="$(calc "int($SECS * 1000)" | cut -d. -f1)ms" \
		--time_based --group_reporting --output-format=terse --terse-version=3 "${jobs[@]}" 2>&1) &&
		out=$(printf '%s\n' "$out" | grep '^3;' | head -n1) || { bad "fio x$k: $out"; return 1; }
	F_IOPS=$(printf '%s' "$out" | cut -d';' -f8)
}

echo "== section scaling: pvd-blkback's I/O threads, K guests of 4 KiB random reads at QD32; ${SECS}s per point, $NCPU CPU(s) =="
[ -x "$BIN/pvd-blkback" ] && [ -x "$BIN/pvguest" ] && [ -x "$PG_XSH" ] || { bad "build first: make all tests"; exit 1; }
command -v fio >/dev/null || { bad "fio not installed (scripts/deps.sh)"; exit 1; }
stored_start || exit 1

KS=() k=1
while [ "$k" -le "$NCPU" ]; do KS+=("$k"); k=$((k * 2)); done
[ "${KS[-1]}" -ne "$NCPU" ] && KS+=("$NCPU")
THREADS=(1)
[ "$NCPU" -gt 1 ] && THREADS+=("$NCPU")
for ((i = 1; i <= NCPU; i++)); do
	fallocate -l 256M "$DATA/f$i.img" 2>/dev/null ||
		dd if=/dev/zero of="$DATA/f$i.img" bs=1M count=256 status=none || { bad "cannot create f$i.img"; exit 1; }
done

fmtl='%-7s %3s %8s | %9s %9s %6s | %9s\n'
ROWS=()
for k in "${KS[@]}"; do
	files=()
	for ((i = 1; i <= k; i++)); do files+=("$DATA/f$i.img"); done
	fio_k "$k" || continue
	ceil=$F_IOPS
	for t in "${THREADS[@]}"; do
		bb_start --io-threads "$t" || continue
		guests "$k" "${files[@]}" && ROWS+=("file|$k|$t|$G_IOPS|$ceil|$G_CORES")
		bb_stop
	done
	fio_k "$k" && ceil=$(calc "($ceil + $F_IOPS) / 2")
	# The ceiling of the row: the mean of the fio runs around it.
	for ((i = 0; i < ${#ROWS[@]}; i++)); do
		IFS='|' read -r a kk tt gi c co <<<"${ROWS[$i]}"
		[ "$a" = file ] && [ "$kk" = "$k" ] && ROWS[$i]="file|$k|$tt|$gi|$ceil|$co"
	done
done
for k in "${KS[@]}"; do
	for t in "${THREADS[@]}"; do
		bb_start --io-threads "$t" || continue
		guests "$k" null:1G && ROWS+=("null|$k|$t|$G_IOPS|-|$G_CORES")
		bb_stop
	done
done

echo
echo "-- K guests, 4 KiB randread QD32 each, own tmpfs file; ceiling: fio libaio direct, K jobs on the same files"
printf "$fmtl" target K threads "IOPS" "fio IOPS" ratio "be cores"
for r in "${ROWS[@]}"; do
	IFS='|' read -r a k t gi c co <<<"$r"
	printf "$fmtl" "$a" "$k" "$t" "$(fmt "$gi")" "$(fmt "$c")" "$(ratio "$gi" "$c")" "$(dec "$co" 2)"
done
echo "(be cores: pvd-blkback's CPU seconds per second of the run; the guests and fio share the same $NCPU CPU(s))"
echo
if [ "$_failed" -ne 0 ]; then
	echo "scaling: $_failed measurement(s) failed"
	exit 1
fi
echo "scaling: all measurements ran"
