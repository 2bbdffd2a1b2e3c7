#!/bin/bash
# make demo: pvd at work in a private run directory: the store, the console
# daemon and a simulated guest created by pvctl, seen from dom0 and from
# inside the guest: its disk (pvd-blkback) and its NIC (pvd-netback, a tap
# on a bridge pvddemo0 at 10.99.0.1/24 that dom0 pings the guest through).
# Root is needed for the NIC (a tap and a bridge in dom0's namespace);
# everything made is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/bin
export PVD_RUNDIR=$(mktemp -d /tmp/pvd-demo.XXXXXX)
chmod 755 "$PVD_RUNDIR"	# guests run as nobody
export XENSTORED_PATH=$PVD_RUNDIR/xenstored/socket
export PVD_HV=sim
pids=()
BR=pvddemo0 BR_MADE=0
NET=1
[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null || NET=0
stop() {
	local p=$1
	kill "$p" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
}
cleanup() {
	"$BIN/pvctl" destroy demo >/dev/null 2>&1 || true
	for p in "${pids[@]}"; do stop "$p"; done
	# The tap goes with the guest; a killed backend may leave it.
	ip link del vif1.0 2>/dev/null || true
	[ "$BR_MADE" = 1 ] && ip link del "$BR" 2>/dev/null || true
	rm -rf "$PVD_RUNDIR"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
wait_file() {
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
	echo "timed out waiting for $1" >&2
	return 1
}
start_stored() {
	rm -f "$PVD_RUNDIR/stored.pid"
	"$BIN/pvd-stored" -f --socket "$XENSTORED_PATH" --pidfile "$PVD_RUNDIR/stored.pid" \
		--persist "$PVD_RUNDIR/store.db" --log-file "$PVD_RUNDIR/stored.log" &
	pids+=($!)
	wait_file "$PVD_RUNDIR/stored.pid"
}

say "Starting pvd-stored (journal $PVD_RUNDIR/store.db), pvd-consoled and pvd-blkback"
start_stored
mkdir -p "$PVD_RUNDIR/consoles"
"$BIN/pvd-consoled" -f --pidfile "$PVD_RUNDIR/consoled.pid" --log-dir "$PVD_RUNDIR/consoles" \
	--log-file "$PVD_RUNDIR/consoled.log" &
pids+=($!)
wait_file "$PVD_RUNDIR/consoled.pid"
"$BIN/pvd-blkback" -f --pidfile "$PVD_RUNDIR/blkback.pid" --log-file "$PVD_RUNDIR/blkback.log" &
pids+=($!)
wait_file "$PVD_RUNDIR/blkback.pid"
VIF=
if [ "$NET" = 1 ]; then
	say "A bridge in dom0 ($BR, 10.99.0.1/24) and pvd-netback, the network backend"
	if ip link show "$BR" >/dev/null 2>&1; then
		echo "$BR already exists (another demo running?): remove it first" >&2
		exit 1
	fi
	run ip link add "$BR" type bridge
	BR_MADE=1
	run ip addr add 10.99.0.1/24 dev "$BR"
	run ip link set "$BR" up
	"$BIN/pvd-netback" -f --pidfile "$PVD_RUNDIR/netback.pid" \
		--log-file "$PVD_RUNDIR/netback.log" &
	pids+=($!)
	wait_file "$PVD_RUNDIR/netback.pid"
	VIF="vif    = [ 'mac=00:16:3e:00:00:01,bridge=$BR' ]"
else
	say "Not root (or no /dev/net/tun): the guest gets no NIC"
fi

say "Creating a guest with pvctl, from an xl-style config"
truncate -s 64M "$PVD_RUNDIR/disk.img"
cat >"$PVD_RUNDIR/demo.cfg" <<CFG
name   = "demo"
memory = 64
disk   = [ 'file:$PVD_RUNDIR/disk.img,xvda,w' ]
$VIF
CFG
cat "$PVD_RUNDIR/demo.cfg"
run "$BIN/pvctl" create "$PVD_RUNDIR/demo.cfg"
run "$BIN/pvctl" list

say "What the toolstack wrote, as dom0 sees it (Xen's own xenstore-ls)"
run xenstore-ls -p /local/domain/1

say "The guest's disk: pvd-blkback and the guest's blkfront meet through the XenbusState handshake"
BE=/local/domain/0/backend/vbd/1/51712
for _ in $(seq 100); do
	[ "$(xenstore-read $BE/state 2>/dev/null)" = 4 ] &&
		[ "$(xenstore-read /local/domain/1/device/vbd/51712/state 2>/dev/null)" = 4 ] && break
	sleep 0.1
done
run xenstore-ls $BE
run "$BIN/pvctl" block-list demo
URI=$(cat "$PVD_RUNDIR/guests/dom1/vbd-51712.nbd.uri")

say "Verified I/O through the ring: fio in the guest's NBD export ($URI)"
run fio --name=demo --ioengine=nbd --uri="$URI" --rw=randrw --bs=4k --iodepth=16 \
	--size=32M --verify=crc32c --verify_state_save=0 --group_reporting \
	--output-format=normal 2>&1 | grep -E "^demo|IOPS|err=|verify" | head -n 8
run "$BIN/pvctl" stats demo

GPID=$(cat "$PVD_RUNDIR/guests/dom1/pid")
ping_guest() {
	run ping -c 3 -i 0.2 -W 2 10.99.0.2
}
if [ "$NET" = 1 ]; then
	say "The guest's NIC: pvd-netback and the guest's netfront meet through the handshake; the tap is on $BR"
	NBE=/local/domain/0/backend/vif/1/0
	for _ in $(seq 100); do
		[ "$(xenstore-read $NBE/state 2>/dev/null)" = 4 ] && break
		sleep 0.1
	done
	run xenstore-ls $NBE
	run "$BIN/pvctl" network-list demo
	run ip -br link show master "$BR"
	echo "# the guest's eth0 gets 10.99.0.2, set from dom0 in the guest's network namespace"
	run nsenter -t "$GPID" -n -- ip addr add 10.99.0.2/24 dev eth0
	say "dom0 pings the guest: frames cross the bridge, the tap, pvd-netback and the netif rings"
	ping_guest
fi

say "Inside the guest: Xen's xenstore-utils over the guest's own xenstore ring"
G="env XENSTORED_PATH=$PVD_RUNDIR/guests/dom1/xenbus.sock"
run $G xenstore-read name
run $G xenstore-write data/greeting "hello from domain 1"
run xenstore-read /local/domain/1/data/greeting
run $G xenstore-read /local/domain/0/backend/vbd/1/51712/params   # its backend: readable
printf '$ xenstore-read /tool/xenstored   (as the guest: dom0'"'"'s, not readable)\n'
$G xenstore-read /tool/xenstored 2>&1 || true

say "Durability: kill -9 the store, restart it; the guest is served again"
run kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
start_stored
run $G xenstore-read data/greeting
run xenstore-read /local/domain/1/name
if [ "$NET" = 1 ]; then
	echo "# the NIC was served throughout; pvd-netback reconnected to the store:"
	ping_guest
	grep -E "store|connect" "$PVD_RUNDIR/netback.log" | tail -n 3 || true
fi

say "The guest's console: a shell in the guest, through its console ring, pvd-consoled and a pty"
CMD='echo hello from $(hostname), uid $(id -u); ip addr'
printf '$ echo '"'"'%s'"'"' | pvctl console demo\n' "$CMD"
echo "$CMD" | timeout 3 "$BIN/pvctl" console demo 2>&1 | tr -d '\r' | head -n 40 || true
say "The console log pvd-consoled keeps ($PVD_RUNDIR/consoles)"
head -n 20 "$PVD_RUNDIR"/consoles/*.log 2>/dev/null | tr -d '\r' || echo "  (no console output yet)"

say "Destroying the guest"
run "$BIN/pvctl" destroy demo
run "$BIN/pvctl" list

say "pvd-stored's log"
cat "$PVD_RUNDIR/stored.log"
echo
echo "demo: ok"
