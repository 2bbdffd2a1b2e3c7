#!/bin/bash
# Section "netback" of the benchmarks: guest-to-guest traffic through
# pvd-netback beside the same traffic between two network namespaces on
# this machine, measured in the same run:
#
#   veth    two namespaces joined by a veth pair: the ceiling;
#   bridge  two namespaces, each on a veth into one Linux bridge in a
#           third namespace (the path a bridged vif's frames take in dom0);
#   pvd     two pvguest domains, each with a NIC served by pvd-netback
#           (a tap on one bridge): the guest's network stack is Linux's
#           own, in the guest's namespace; frames cross the netif rings.
#           pvd-netback with N I/O threads (BENCH_NB_THREADS, default the
#           online CPUs): each guest's vif on a thread of its own;
#   pvd1    the same with --io-threads 1: both vifs on one thread
#           (pvdK for any K: --io-threads K; pvd0 is the main thread);
#   pvdw    as pvd, with --tap-io writev: a system call for each frame
#           written to a tap, where pvd's default batches them through
#           io_uring (netback/tapio.c);
#   pvdmq   as pvd, the guests' NICs without a control ring and with N
#           queues (pvguest --net-no-ctrl --net-max-queues N): each NIC's
#           queues spread over the N threads (netback/nic.c).
#
# Cases: iperf3 TCP one stream and four streams (Gbit/s), UDP 64-byte
# datagrams (packets/s, udp_pps: iperf3's receiver is slower than these
# paths), and for pvd the backend's CPU time per Gbit/s of TCP (from
# /proc/PID/stat).  Runs alternate A B B A across the routes so that load
# changes on this shared machine hit every route alike.
#
#   BENCH_QUICK=1   very short runs      BENCH_SECS=N   seconds per run
#   BENCH_NET_ROUTES="veth bridge pvd pvd1 pvdw"   the routes to run
#   BENCH_NB_THREADS=N   pvd's I/O threads (default: online CPUs)
#
# Exit status 0 when every measurement ran; no timing thresholds.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
BIN=$BUILD/bin
PPS=$BUILD/tests/bench/udp_pps
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then SECS=${BENCH_SECS:-1}; else SECS=${BENCH_SECS:-4}; fi
# iperf3 wants whole seconds.
SECS=$(awk -v s="$SECS" 'BEGIN { s = int(s + 0.5); print s < 1 ? 1 : s }')
ROUTES=${BENCH_NET_ROUTES:-veth bridge pvd pvd1 pvdw}
NB_THREADS=${BENCH_NB_THREADS:-$(nproc)}
# A bound on each set-up wait, not a timing: generous, as CI shares its 2
# cores (10 s once ran out there while the vif came up under load).
WAIT_SECS=${BENCH_WAIT_SECS:-30}
TAG=pvdb$$
NS_A=${TAG}a NS_B=${TAG}b NS_BR=${TAG}br
failed=0
declare -A RES
BENCH_TMP=$(mktemp -d /tmp/pvd-netbench.XXXXXX) || exit 1

bad() { echo "FAILED: $*" >&2; failed=1; }

for t in iperf3 ip; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done

# ---- the namespace routes ----
ns_cleanup() {
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	ip netns del "$NS_BR" 2>/dev/null
	true
}

# ns_setup veth|bridge: A at 10.77.0.1, B at 10.77.0.2.
ns_setup() {
	ns_cleanup
	ip netns add "$NS_A" && ip netns add "$NS_B" || return 1
	if [ "$1" = veth ]; then
		ip link add "${TAG}x" netns "$NS_A" type veth peer name "${TAG}y" netns "$NS_B" || return 1
		ip -n "$NS_A" link set "${TAG}x" name eth0
		ip -n "$NS_B" link set "${TAG}y" name eth0
	else
		ip netns add "$NS_BR" || return 1
		ip -n "$NS_BR" link add br0 type bridge || return 1
		ip -n "$NS_BR" link set br0 up
		local ns i=0
		for ns in "$NS_A" "$NS_B"; do
			ip link add "${TAG}p$i" netns "$ns" type veth peer name "port$i" netns "$NS_BR" || return 1
			ip -n "$ns" link set "${TAG}p$i" name eth0
			ip -n "$NS_BR" link set "port$i" master br0 up
			i=$((i + 1))
		done
	fi
	ip -n "$NS_A" addr add 10.77.0.1/24 dev eth0 && ip -n "$NS_A" link set eth0 up &&
	ip -n "$NS_B" addr add 10.77.0.2/24 dev eth0 && ip -n "$NS_B" link set eth0 up &&
	ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up
}

# Commands to run a program on side A / side B of the current route.
EXEC_A=() EXEC_B=()
ns_exec_for() {
	EXEC_A=(ip netns exec "$NS_A") EXEC_B=(ip netns exec "$NS_B")
}

# ---- the pvd route (tests/bench/netback_pvd.sh defines pvd_setup,
# pvd_cleanup and pvd_cpu_ticks once pvguest has a network frontend) ----
PVD_ROUTE=tests/bench/netback_pvd.sh
if [ -f "$PVD_ROUTE" ]; then
	# shellcheck source=/dev/null
	. "$PVD_ROUTE"
fi

route_setup() {
	case $1 in
	veth | bridge) ns_setup "$1" && ns_exec_for ;;
	pvd) declare -F pvd_setup >/dev/null && PVDNB_THREADS=$NB_THREADS pvd_setup ;;
	pvdmq) declare -F pvd_setup >/dev/null && PVDNB_THREADS=$NB_THREADS \
		PVDNB_GUEST_ARGS="--net-no-ctrl --net-max-queues $NB_THREADS" pvd_setup ;;
	pvdw) declare -F pvd_setup >/dev/null && PVDNB_THREADS=$NB_THREADS \
		PVDNB_TAPIO=writev pvd_setup ;;
	pvd[0-9]*) declare -F pvd_setup >/dev/null && PVDNB_THREADS=${1#pvd} pvd_setup ;;
	esac
}
route_cleanup() {
	case $1 in
	veth | bridge) ns_cleanup ;;
	pvd*) declare -F pvd_cleanup >/dev/null && pvd_cleanup ;;
	esac
}

# iperf3 between A (server) and B (client): Gbit/s on stdout.
tcp_run() {
	local streams=$1 out srv
	"${EXEC_A[@]}" iperf3 -s -1 -B 10.77.0.1 -p 5211 >/dev/null 2>&1 &
	srv=$!
	# Listening? (a probe connection would be the one test -1 serves)
	for _ in $(seq 50); do
		"${EXEC_A[@]}" ss -Hltn 'sport = :5211' 2>/dev/null | grep -q . && break
		sleep 0.1
	done
	out=$("${EXEC_B[@]}" timeout $((SECS + 15)) iperf3 -c 10.77.0.1 -p 5211 -t "$SECS" -P "$streams" -J 2>/dev/null)
	wait "$srv" 2>/dev/null
	python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' <<<"$out" 2>/dev/null
}

udp_run() {
	local out=$BENCH_TMP/udp.out pid
	: >"$out"
	"${EXEC_A[@]}" "$PPS" recv 5212 "$SECS" >"$out" &
	pid=$!
	for _ in $(seq $((WAIT_SECS * 10))); do
		grep -q ready "$out" && break
		sleep 0.1
	done
	"${EXEC_B[@]}" "$PPS" send 10.77.0.1 5212 $((SECS + 1)) 64 >/dev/null
	wait "$pid"
	sed -n 's/^pps //p' "$out"
}

# measure ROUTE: fills RES[ROUTE,case].
measure() {
	local r=$1 v t0 t1
	if ! route_setup "$r"; then
		bad "$r: setup failed"
		route_cleanup "$r"
		return
	fi
	t0=$(declare -F pvd_cpu_ticks >/dev/null && [[ $r == pvd* ]] && pvd_cpu_ticks)
	v=$(tcp_run 1) && [ -n "$v" ] || { bad "$r: iperf3 TCP failed"; v=; }
	t1=$(declare -F pvd_cpu_ticks >/dev/null && [[ $r == pvd* ]] && pvd_cpu_ticks)
	RES[$r,tcp1]=$v
	if [ -n "$t0" ] && [ -n "$t1" ] && [ -n "$v" ]; then
		# CPU seconds of the backend per second of traffic, per Gbit/s.
		RES[$r,cpu]=$(awk -v a="$t0" -v b="$t1" -v s="$SECS" -v g="$v" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { if (g > 0) printf "%.2f", (b - a) / hz / s / g }')
	fi
	v=$(tcp_run 4) && [ -n "$v" ] || { bad "$r: iperf3 TCP -P4 failed"; v=; }
	RES[$r,tcp4]=$v
	v=$(udp_run) && [ -n "$v" ] || { bad "$r: UDP 64-byte run failed"; v=; }
	RES[$r,udp]=$v
	route_cleanup "$r"
}

trap 'route_cleanup pvd; ns_cleanup; rm -rf "$BENCH_TMP"' EXIT

have_pvd=0
declare -F pvd_setup >/dev/null && have_pvd=1
order=()
for r in $ROUTES; do
	if [[ $r == pvd* ]] && [ "$have_pvd" = 0 ]; then
		echo "# netback: the pvd route needs $PVD_ROUTE (not built yet): skipped"
		continue
	fi
	order+=("$r")
done
# A B B A: each route measured twice, the second pass reversed.
pass=("${order[@]}")
for ((i = ${#order[@]} - 1; i >= 0; i--)); do pass+=("${order[i]}"); done
declare -A SUM CNT
for r in "${pass[@]}"; do
	echo "# netback: measuring $r"
	measure "$r"
	for c in tcp1 tcp4 udp cpu; do
		v=${RES[$r,$c]:-}
		[ -n "$v" ] || continue
		SUM[$r,$c]=$(awk -v a="${SUM[$r,$c]:-0}" -v b="$v" 'BEGIN { print a + b }')
		CNT[$r,$c]=$(( ${CNT[$r,$c]:-0} + 1 ))
		RES[$r,$c]=
	done
done

avg() { [ -n "${CNT[$1,$2]:-}" ] && awk -v s="${SUM[$1,$2]}" -v n="${CNT[$1,$2]}" 'BEGIN { printf "%.2f", s / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }

echo
echo "## netback: guest to guest (mean of 2 runs each, A B B A)"
printf '%-8s %12s %12s %14s %16s\n' route "TCP x1 Gb/s" "TCP x4 Gb/s" "UDP64 pps" "CPU s per Gb/s"
for r in "${order[@]}"; do
	printf '%-8s %12s %12s %14s %16s\n' "$r" "$(avg "$r" tcp1)" "$(avg "$r" tcp4)" \
		"$(avg "$r" udp | cut -d. -f1)" "$(avg "$r" cpu || echo -)"
done
if [ "$have_pvd" = 1 ] && [[ " ${order[*]} " == *" veth "* ]]; then
	echo
	echo "pvd/veth TCP x1: $(ratio "$(avg pvd tcp1)" "$(avg veth tcp1)") (goal >= 0.70)"
	echo "pvd/veth TCP x4: $(ratio "$(avg pvd tcp4)" "$(avg veth tcp4)")"
	echo "pvd/veth UDP64:  $(ratio "$(avg pvd udp)" "$(avg veth udp)")"
	[[ " ${order[*]} " == *" bridge "* ]] &&
		echo "pvd/bridge TCP x1: $(ratio "$(avg pvd tcp1)" "$(avg bridge tcp1)")"
fi
# compare A B TITLE: A's figures against B's, when both routes ran.
compare() {
	[[ " ${order[*]} " == *" $1 "* ]] && [[ " ${order[*]} " == *" $2 "* ]] || return 0
	echo
	echo "$3"
	echo "$1/$2 TCP x1: $(ratio "$(avg "$1" tcp1)" "$(avg "$2" tcp1)")"
	echo "$1/$2 TCP x4: $(ratio "$(avg "$1" tcp4)" "$(avg "$2" tcp4)")"
	echo "$1/$2 UDP64:  $(ratio "$(avg "$1" udp)" "$(avg "$2" udp)")"
	[ "$2" = pvd0 ] ||
		echo "$1/$2 CPU s per Gb/s: $(ratio "$(avg "$1" cpu)" "$(avg "$2" cpu)")"
}
compare pvd pvd1 "pvd-netback, $NB_THREADS I/O threads against 1:"
compare pvd pvdw "pvd-netback, tap writes batched through io_uring against a writev each (--tap-io writev):"
compare pvdmq pvd "pvd-netback, $NB_THREADS I/O threads, each NIC's $NB_THREADS queues spread over them against one thread per NIC:"
compare pvd1 pvd0 "pvd-netback, 1 I/O thread against the main thread (--io-threads 0):"
exit $failed
