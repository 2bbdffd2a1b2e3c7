#!/bin/bash
# Section "rbd" of the benchmarks: pvd-blkback's rbd engine on an RBD
# image of a single-node Ceph cluster started here (one monitor, one
# memstore OSD: tests/integration/ceph_lib.sh), driven by the test
# frontend (blkfront_test, a simulated guest), beside fio's own rbd engine
# (librbd, the ceiling any librbd client reaches) on the same image in the
# same run: 4 KiB random read and write at QD32, 1 MiB sequential read and
# write at QD8.  Runs alternate A B B A (pvd, fio, fio, pvd; half of
# BENCH_SECS each).  No pinning: the OSD is CPU-bound and needs both
# cores; the ratio is what matters (goal >= 0.9).
#
#   BENCH_QUICK=1   very short runs      BENCH_SECS=N   seconds per side
#
# Exit status 0 when every measurement ran (77: no Ceph here); no timing
# thresholds.
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
export PVD_BIN=$BUILD/bin PVD_TESTBIN=$BUILD/tests
. tests/integration/lib.sh
. tests/integration/blkback_lib.sh
. tests/integration/ceph_lib.sh
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then SECS=${BENCH_SECS:-1} SIZE=64M; else SECS=${BENCH_SECS:-6} SIZE=256M; fi
HALF=$(awk -v s="$SECS" 'BEGIN { print s / 2 }')
calc() { awk "BEGIN { print $* }"; }
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "== section rbd: pvd-blkback's rbd engine beside fio's rbd engine on the same image, ${HALF}s per run =="
ceph_need
command -v fio >/dev/null && fio --enghelp 2>/dev/null | grep -qw rbd || skip "fio has no rbd engine"
ceph_start 1024
export CEPH_CONF
cephx rbd create rbd/bench --size $SIZE >/dev/null 2>&1 || die "rbd create failed"
FIO_RBD=(--ioengine=rbd --pool=rbd --rbdname=bench --clientname=admin)
# Reads of objects never written cost the OSD nothing: fill the image.
timeout 300 fio --name=fill "${FIO_RBD[@]}" --rw=write --bs=4M --iodepth=4 --size=$SIZE \
	>/dev/null 2>&1 || die "filling the image failed"
STORED_HV=sim stored_start
# The OSD is CPU-bound on this machine: a backend or frontend spinning
# for work takes its CPU; both sleep at once (BENCH_RBD_SPIN_NS).
SPIN=${BENCH_RBD_SPIN_NS:-0}
blkback_start --spin-ns "$SPIN"
PARAMS="rbd:rbd/bench:conf=$CEPH_CONF"

# pvd RW BS QD: P_IOPS, P_MBPS through pvd-blkback.
pvd() {
	local line out
	out=$(front --domid 3 --params "$PARAMS" --slots "$3" --spin-ns "$SPIN" attach bench "$1" "$2" "$3" "$HALF" detach 2>&1)
	line=$(printf '%s\n' "$out" | grep '^bench ') || { echo "ERROR: pvd $*: $(tail -n 3 <<<"$out")"; return 1; }
	P_IOPS=$(kv "$line" iops)
	P_MBPS=$(kv "$line" mbps)
}

# fio_rbd RW BS QD: F_IOPS, F_MBPS with fio's rbd engine.
fio_rbd() {
	local out
	out=$(timeout 120 fio --name=ceiling "${FIO_RBD[@]}" --rw="$1" --bs="$2" --iodepth="$3" \
		--size=$SIZE --time_based --runtime="$(calc "int($HALF * 1000)")ms" \
		--output-format=terse --terse-version=3 2>&1 | grep '^3;') ||
		{ echo "ERROR: fio $*"; return 1; }
	case $1 in
	*read) F_IOPS=$(cut -d';' -f8 <<<"$out"); F_MBPS=$(cut -d';' -f7 <<<"$out") ;;
	*) F_IOPS=$(cut -d';' -f49 <<<"$out"); F_MBPS=$(cut -d';' -f48 <<<"$out") ;;
	esac
	F_MBPS=$(calc "$F_MBPS * 1024 / 1e6")
}

fmtl='%-10s %8s %3s | %9s %9s %6s | %9s %9s\n'
printf "$fmtl" rw bs QD "pvd IOPS" "fio IOPS" ratio "pvd MB/s" "fio MB/s"
failed=0
for c in "randread 4096 32" "randwrite 4096 32" "read 1048576 8" "write 1048576 8"; do
	read -r rw bs qd <<<"$c"
	pi=0 pm=0 fi=0 fm=0 ok=1
	for t in pvd fio fio pvd; do
		if [ $t = pvd ]; then
			pvd "$rw" "$bs" "$qd" || { ok=0; break; }
			pi=$(calc "$pi + $P_IOPS / 2"); pm=$(calc "$pm + $P_MBPS / 2")
		else
			fio_rbd "$rw" "$bs" "$qd" || { ok=0; break; }
			fi=$(calc "$fi + $F_IOPS / 2"); fm=$(calc "$fm + $F_MBPS / 2")
		fi
	done
	[ $ok = 1 ] || { failed=$((failed + 1)); continue; }
	printf "$fmtl" "$rw" "$bs" "$qd" "$(calc "int($pi)")" "$(calc "int($fi)")" \
		"$(calc "int($pi / ($fi > 0 ? $fi : 1) * 100) / 100")" "$(calc "int($pm * 10) / 10")" \
		"$(calc "int($fm * 10) / 10")"
done
echo "(ratio: pvd-blkback / fio's rbd engine on the same image; goal >= 0.9)"
[ $failed = 0 ] || { echo "rbd bench: $failed case(s) failed"; exit 1; }
exit 0
