#!/bin/bash
# pvd-netback's control plane against a fake frontend driven with
# xenstore-write (no rings behind it: the data plane's own tests and the
# netfront tests serve traffic): the features and InitWait it writes at
# probe; what it refuses, each with Closing, an error node and no tap left
# (a missing bridge, 0 and too many queues, no request-rx-copy, a missing
# handle, a bad mac or ip, rings it cannot map); the rate node watched;
# a tap a killed daemon left behind removed on detach; the control
# socket's stats in the shape pvctl reads; a restart that finds the vifs
# again.  Runs in its own network namespace (netback_lib.sh).
. "$(dirname "$0")/netback_lib.sh"
need_xsutils
command -v socat >/dev/null || skip "socat not installed (scripts/deps.sh)"
command -v jq >/dev/null || skip "jq not installed"

STORED_HV=sim stored_start
netback_start --max-queues 4
ip link add nbbr0 type bridge || die "cannot make a bridge"

# ---- probe: the features and InitWait
vif_add 1 0 bridge=nbbr0
wait_node "$NB_BE/1/0/state" 2
expect_eq "InitWait at probe" 2 "$(xs read "$NB_BE/1/0/state")"
for f in feature-sg=1 feature-gso-tcpv4=1 feature-gso-tcpv6=1 \
	 feature-ipv6-csum-offload=1 feature-rx-copy=1 feature-rx-flip=0 \
	 feature-split-event-channels=1 multi-queue-max-queues=4 \
	 feature-ctrl-ring=1; do
	expect_eq "backend writes ${f%%=*}" "${f#*=}" "$(xs read "$NB_BE/1/0/${f%%=*}" 2>/dev/null)"
done
# The hotplug script's part, done at probe: the tap on its bridge, up,
# with Xen's backend MAC, and hotplug-status.
expect_eq "hotplug-status connected at probe" connected "$(xs read "$NB_BE/1/0/hotplug-status" 2>/dev/null)"
expect_eq "tap vif1.0 on nbbr0, up, fe:ff:ff:ff:ff:ff, mtu 1500" "nbbr0 UP fe:ff:ff:ff:ff:ff 1500" \
	"$(ip -j link show dev vif1.0 2>/dev/null | jq -r '.[0] | "\(.master) \(if (.flags | index("UP")) then "UP" else "down" end) \(.address) \(.mtu)"')"

# refused DOM NAME WANT [front NODE=VALUE...] -- [backend NODE=VALUE...]:
# the frontend connects; the backend goes Closing with WANT in its error
# node, and no tap named vif<DOM>.0 is left.
refused() {
	local dom=$1 name=$2 want=$3 fargs=() bargs=() err
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do fargs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	bargs=("$@")
	vif_add "$dom" 0 bridge=nbbr0 "${bargs[@]}"
	wait_node "$NB_BE/$dom/0/state" 2
	front_connect "$dom" 0 "${fargs[@]}"
	wait_node "$NB_BE/$dom/0/state" 5
	err=$(error_node "$dom" 0)
	if [ "$(xs read "$NB_BE/$dom/0/state" 2>/dev/null)" = 5 ] &&
	   [[ "$err" == *"$want"* ]] && ! link_exists "vif$dom.0"; then
		pass "$name: Closing, error node, no tap"
	else
		fail "$name" "state $(xs read "$NB_BE/$dom/0/state" 2>/dev/null)" \
			"error node: $err" "tap vif$dom.0: $(link_exists "vif$dom.0" && echo present || echo absent)"
	fi
	vif_rm "$dom" 0
}

refused 11 "zero queues" "guest requested 0 queues" multi-queue-num-queues=0
refused 12 "more queues than offered" "guest requested too many queues" multi-queue-num-queues=5
refused 13 "queue count not a number" "guest requested invalid queues" multi-queue-num-queues=2x
refused 14 "no request-rx-copy" "request-rx-copy" request-rx-copy=-
refused 15 "request-rx-copy 0" "request-rx-copy" request-rx-copy=0
refused 16 "no event channel" "event-channel-tx" event-channel=-
refused 17 "ring reference not a number" "ring-ref" tx-ring-ref=abc
refused 18 "ctrl ring without its event channel" "event-channel-ctrl" ctrl-ring-ref=3
refused 19 "rings it cannot map" "mapping"

# A missing bridge is refused at probe (the toolstack waits only for
# InitWait), also in hotplug-status, and no tap or bridge is left.
vif_add 20 0 bridge=nosuchbr
wait_node "$NB_BE/20/0/state" 5
expect_eq "missing bridge: Closing at probe" 5 "$(xs read "$NB_BE/20/0/state" 2>/dev/null)"
expect_eq "missing bridge: hotplug-status error" error "$(xs read "$NB_BE/20/0/hotplug-status" 2>/dev/null)"
[[ "$(error_node 20 0)" == *"bridge nosuchbr does not exist"* ]] &&
	pass "missing bridge: error node names it" || fail "missing bridge: error node names it" "$(error_node 20 0)"
expect_eq "missing bridge: no tap, no bridge made" "1 1" \
	"$(link_exists vif20.0; echo -n "$? "; link_exists nosuchbr; echo $?)"
expect_eq "missing bridge: no InitWait afterwards" 5 "$(xs write /local/domain/20/device/vif/0/state 1; sleep 0.2; xs read "$NB_BE/20/0/state")"
vif_rm 20 0

# Refused at probe: the toolstack's nodes.
probe_refused() {
	local dom=$1 name=$2 want=$3
	shift 3
	vif_add "$dom" 0 "$@"
	wait_node "$NB_BE/$dom/0/state" 5
	expect_eq "$name: Closing at probe" 5 "$(xs read "$NB_BE/$dom/0/state" 2>/dev/null)"
	[[ "$(error_node "$dom" 0)" == *"$want"* ]] && pass "$name: error node" ||
		fail "$name: error node" "got: $(error_node "$dom" 0)"
	vif_rm "$dom" 0
}
probe_refused 21 "missing handle" "reading handle" handle=-
probe_refused 22 "bad mac" "mac" mac=01:00:5e:00:00:01
probe_refused 23 "bad ip" "/ip" "ip=10.0.0.1/24"
probe_refused 24 "vifname not an interface name" "vifname" "vifname=a/b"

# The rate node is watched; the control socket shows it.
xs write "$NB_BE/1/0/rate" 25000,20000
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	[ "$(netback_ctl stats | jq -r '.vifs[] | select(.domid==1) | .rate_bytes')" = 25000 ] && break
	sleep 0.05
done
st=$(netback_ctl stats)
expect_eq "stats: rate from the watched node" "25000 20000" \
	"$(jq -r '.vifs[] | select(.domid==1) | "\(.rate_bytes) \(.rate_usec)"' <<<"$st")"
expect_eq "stats: the shape pvctl reads" \
	'[1,0,"vif1.0",2,"00:16:3e:00:01:00","nbbr0",1500,false,[]]' \
	"$(jq -c '.vifs[] | select(.domid==1) | [.domid,.devid,.name,.state,.mac,.bridge,.mtu,.carrier,.queues]' <<<"$st")"
expect_eq "ping" pong "$(netback_ctl ping)"
expect_eq "help" '{"commands":["stats","ping","help"]}' "$(netback_ctl help)"
expect_eq "unknown command" '{"error":"unknown command"}' "$(netback_ctl nonsense)"

# Detach: the tap goes with the backend directory.
vif_add 31 0 bridge=nbbr0
wait_node "$NB_BE/31/0/state" 2
expect_eq "a second vif's tap exists" 0 "$(link_exists vif31.0; echo $?)"
vif_rm 31 0
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	link_exists vif31.0 || break
	sleep 0.05
done
expect_eq "detach removes the tap" 1 "$(link_exists vif31.0; echo $?)"

# A tap a killed daemon left behind goes with its vif's detach.
ip tuntap add dev vif30.0 mode tap multi_queue vnet_hdr || die "cannot make a tap"
vif_add 30 0 bridge=nbbr0
wait_node "$NB_BE/30/0/state" 2
vif_rm 30 0
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	link_exists vif30.0 || break
	sleep 0.05
done
expect_eq "detach removes the vif's tap" 1 "$(link_exists vif30.0; echo $?)"

# xl/libxl: the backend nodes as libxl writes them (hotplug-status ""
# to make a kernel backend wait for the script, script, type), then
# scripts/xen/vif-pvd run as libxl runs it (a path relative to dom0's
# home, $vif), and libxl's removals: network-detach writes online=0 and
# state=5 and waits for Closed; destroy also removes the frontend.
VIFPVD=$(cd "$(dirname "$0")/../.." && pwd)/scripts/xen/vif-pvd
export PVD_VIF_LOG=$PVD_RUNDIR/xen-hotplug.log
vif_add 40 0 bridge=nbbr0 hotplug-status= script=/etc/xen/scripts/vif-pvd type=vif
wait_node "$NB_BE/40/0/state" 2
expect_eq "libxl's nodes: InitWait, hotplug-status connected over libxl's \"\"" "2 connected" \
	"$(xs read "$NB_BE/40/0/state") $(xs read "$NB_BE/40/0/hotplug-status")"
expect_ok "vif-pvd online (as libxl runs it)" env XENBUS_PATH=backend/vif/40/0 vif=vif40.0 \
	timeout 20 sh "$VIFPVD" online type_if=vif
expect_eq "vif-pvd online: hotplug-status connected, logged" "connected 1" \
	"$(xs read "$NB_BE/40/0/hotplug-status") $(grep -c 'online backend/vif/40/0 vif40.0: connected' "$PVD_VIF_LOG")"
expect_ok "vif-pvd offline" env XENBUS_PATH=backend/vif/40/0 vif=vif40.0 timeout 20 sh "$VIFPVD" offline type_if=vif
# A device no pvd-netback serves (outside backend/vif), then one it refused.
xs write /local/domain/0/fake/vif/41/0/hotplug-status "" /local/domain/0/fake/vif/41/0/bridge nbbr0
expect_fail "vif-pvd online with no tap from pvd-netback fails" "no tap vif41.0" \
	env XENBUS_PATH=fake/vif/41/0 vif=vif41.0 PVD_VIF_WAIT=1 timeout 20 sh "$VIFPVD" online type_if=vif
expect_eq "... and says so in hotplug-error, hotplug-status error" "error 1" \
	"$(xs read /local/domain/0/fake/vif/41/0/hotplug-status) $(xs read /local/domain/0/fake/vif/41/0/hotplug-error | grep -c 'is pvd-netback running')"
xs write /local/domain/0/fake/vif/41/0/hotplug-status error
expect_fail "vif-pvd online on a vif pvd-netback refused fails" "refused" \
	env XENBUS_PATH=fake/vif/41/0 vif=vif41.0 timeout 20 sh "$VIFPVD" online type_if=vif
xs rm /local/domain/0/fake
expect_fail "vif-pvd without an action" "usage" env -u XENBUS_PATH sh "$VIFPVD"
# network-detach as libxl does it.
xs write "$NB_BE/40/0/online" 0 "$NB_BE/40/0/state" 5
xs write /local/domain/40/device/vif/0/state 6
wait_node "$NB_BE/40/0/state" 6
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	link_exists vif40.0 || break
	sleep 0.05
done
expect_eq "libxl's detach (online=0, state=5, the frontend Closed): Closed, tap gone" "6 1" \
	"$(xs read "$NB_BE/40/0/state") $(link_exists vif40.0; echo $?)"
vif_rm 40 0
# destroy as libxl does it: the frontend removed in the same transaction.
vif_add 42 0 bridge=nbbr0 hotplug-status= script=vif-pvd type=vif
wait_node "$NB_BE/42/0/state" 2
# (libxl does both in one transaction; here the backend's nodes first.)
xs write "$NB_BE/42/0/online" 0 "$NB_BE/42/0/state" 5
xs rm /local/domain/42/device/vif/0
wait_node "$NB_BE/42/0/state" 6
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	link_exists vif42.0 || break
	sleep 0.05
done
expect_eq "libxl's destroy (frontend removed, online=0, state=5): Closed, tap gone" "6 1" \
	"$(xs read "$NB_BE/42/0/state") $(link_exists vif42.0; echo $?)"
vif_rm 42 0

# Restart: kill -9, a new daemon finds the vif where it was.
netback_kill9
netback_start --max-queues 4
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	[ "$(netback_ctl stats | jq -r '.vifs[0].name' 2>/dev/null)" = vif1.0 ] && break
	sleep 0.05
done
expect_eq "after kill -9 and restart: the vif served again" "vif1.0 2 25000" \
	"$(netback_ctl stats | jq -r '.vifs[] | "\(.name) \(.state) \(.rate_bytes)"')"
expect_eq "after restart: InitWait kept" 2 "$(xs read "$NB_BE/1/0/state")"
expect_eq "after restart: the tap still on its bridge" nbbr0 \
	"$(ip -j link show dev vif1.0 2>/dev/null | jq -r '.[0].master')"

# ---- a real guest (pvguest's netfront, created by pvctl): Connected,
# the queues in stats, kill -9 and re-attach without re-negotiation.
PVCTL=$PVD_BIN/pvctl
if [ -x "$PVCTL" ] && [ -x "$PVD_BIN/pvguest" ]; then
	cleanup_guest() {
		[ -n "${GDOM:-}" ] && timeout -k 2 30 "$PVCTL" destroy "$GDOM" >/dev/null 2>&1
	}
	trap 'rc=$?; cleanup_guest; (exit $rc); _pvd_cleanup' EXIT
	chmod 755 "$PVD_RUNDIR"
	printf 'name = "g1"\nmemory = 32\nvif = [ "bridge=nbbr0,mac=00:16:3e:00:00:07" ]\n' >"$PVD_RUNDIR/g1.cfg"
	GDOM=$(timeout -k 2 60 "$PVCTL" create "$PVD_RUNDIR/g1.cfg") || die "pvctl create failed"
	GFE=/local/domain/$GDOM/device/vif/0
	wait_node "$NB_BE/$GDOM/0/state" 4
	expect_eq "a real netfront: Connected" 4 "$(xs read "$NB_BE/$GDOM/0/state")"
	nq=$(xs read "$GFE/multi-queue-num-queues" 2>/dev/null || echo 1)
	st=$(netback_ctl stats)
	expect_eq "stats: one entry per negotiated queue, every nb_qstats field" \
		"$nq $(seq 0 $((nq - 1)) | tr '\n' ' ')notify_sent,notify_suppressed,rx_bytes,rx_drops,rx_errors,rx_gso,rx_packets,rx_queue_len,rx_queue_max,rx_ring_used,rx_stalls,thread,thread_cpu_ns,tx_bytes,tx_credit_stalls,tx_drops,tx_errors,tx_frag_overflow,tx_gso,tx_packets,tx_ring_used,tx_spoof_drops" \
		"$(jq -r --arg d "$GDOM" '.vifs[] | select(.domid == ($d | tonumber)) | "\(.queues | length) \([.queues[].index] | map(tostring) | join(" ")) \(.queues[0] | del(.index) | keys | join(","))"' <<<"$st")"
	expect_eq "the tap has one queue per ring" "numqueues $nq" \
		"$(ip -d link show dev "vif$GDOM.0" | grep -o "numqueues [0-9]*")"
	nthr=${PVD_NB_IO_THREADS:-2}
	[ "$nthr" -gt 0 ] || nthr=1
	expect_eq "stats: one entry per I/O thread; the vif's queues on one of them, its CPU time counted" \
		"$nthr 1 true true" \
		"$(jq -r --arg d "$GDOM" '(.threads | length) as $n | [.vifs[] | select(.domid == ($d | tonumber)) | .queues[]] as $q | "\($n) \([$q[].thread] | unique | length) \(all($q[]; .thread < $n)) \(all($q[]; .thread_cpu_ns > 0))"' <<<"$st")"
	refs=$(xs read "$GFE/tx-ring-ref" "$GFE/queue-0/tx-ring-ref" 2>/dev/null)
	netback_kill9
	netback_start --max-queues 4
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ "$(netback_ctl stats | jq --arg d "$GDOM" '.vifs[] | select(.domid == ($d | tonumber)) | .queues | length')" = "$nq" ] && break
		sleep 0.05
	done
	expect_eq "kill -9, restart: re-attached, both ends still Connected, same rings" \
		"$nq 4 4 $refs" \
		"$(netback_ctl stats | jq --arg d "$GDOM" '.vifs[] | select(.domid == ($d | tonumber)) | .queues | length') $(xs read "$NB_BE/$GDOM/0/state") $(xs read "$GFE/state") $(xs read "$GFE/tx-ring-ref" "$GFE/queue-0/tx-ring-ref" 2>/dev/null)"
	grep -q "re-attached" "$NETBACK_LOG" && pass "the log says re-attached" || fail "the log says re-attached"
	# The queues' journals (netback/journal.h): one file per queue, kept
	# across the kill, gone with the device.
	jdir=$PVD_RUNDIR/netback-journal
	expect_eq "one journal per queue, 0600" "$nq 600" \
		"$(find "$jdir" -name "$GDOM-0-*" | wc -l) $(stat -c %a "$jdir/$GDOM-0-0" 2>/dev/null)"
	expect_ok "pvctl destroy" timeout -k 2 60 "$PVCTL" destroy "$GDOM"
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		link_exists "vif$GDOM.0" || break
		sleep 0.05
	done
	expect_eq "the guest destroyed: its tap is gone" 1 "$(link_exists "vif$GDOM.0"; echo $?)"
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ -z "$(find "$jdir" -name "$GDOM-0-*")" ] && break
		sleep 0.05
	done
	expect_eq "the guest destroyed: its journals are gone" "" "$(find "$jdir" -name "$GDOM-0-*")"
	GDOM=
else
	log "pvctl or pvguest not built: the real-guest part is left out"
fi

netback_stop
expect_eq "pvd-netback exits 0 on SIGTERM" 0 "$NETBACK_EXIT"
if grep -qiE 'runtime error|sanitizer|assert' "$PVD_RUNDIR/netback.stderr" 2>/dev/null; then
	fail "pvd-netback stderr is clean" "$(head -n 3 "$PVD_RUNDIR/netback.stderr")"
fi
finish
