#!/bin/bash
# make demo: pvd-stored in a private run directory, shown at work with
# Xen's own xenstore-utils and libxenstore.  Later parts of pvd grow this
# into a guest with a disk, a console and a NIC.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/bin
export PVD_RUNDIR=$(mktemp -d /tmp/pvd-demo.XXXXXX)
export XENSTORED_PATH=$PVD_RUNDIR/xenstored/socket
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	rm -rf "$PVD_RUNDIR"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Starting pvd-stored (journal in $PVD_RUNDIR/store.db)"
"$BIN/pvd-stored" -f --socket "$XENSTORED_PATH" --pidfile "$PVD_RUNDIR/stored.pid" \
	--persist "$PVD_RUNDIR/store.db" --guest-socket "7:$PVD_RUNDIR/dom7.sock" \
	--log-file "$PVD_RUNDIR/stored.log" &
pids+=($!)
for _ in $(seq 100); do [ -f "$PVD_RUNDIR/stored.pid" ] && break; sleep 0.1; done
[ -f "$PVD_RUNDIR/stored.pid" ] || { echo "pvd-stored did not start"; cat "$PVD_RUNDIR/stored.log"; exit 1; }

say "The toolstack's part, with Xen's own xenstore-utils (XENSTORED_PATH=$XENSTORED_PATH)"
run xenstore-write /local/domain/7/name demo-guest /local/domain/7/memory/target 262144
run xenstore-chmod -r /local/domain/7 n7 r0
run xenstore-write /local/domain/0/backend/vbd/7/51712/state 1
run xenstore-chmod -r /local/domain/0/backend/vbd/7 n0 r7
run xenstore-ls -p /local

say "A watch fires when set, then on every change below it"
timeout 5 xenstore-watch -n 3 /local/domain/0/backend/vbd/7 &
w=$!
sleep 0.3
run xenstore-write /local/domain/0/backend/vbd/7/51712/state 2
run xenstore-write /local/domain/0/backend/vbd/7/51712/state 4
wait $w || true

say "Domain 7's view (a guest socket: unprivileged, paths relative to /local/domain/7)"
run env XENSTORED_PATH=$PVD_RUNDIR/dom7.sock xenstore-read name
run env XENSTORED_PATH=$PVD_RUNDIR/dom7.sock xenstore-read /local/domain/0/backend/vbd/7/51712/state
printf '$ xenstore-read /local/domain/0/name   (as dom7)\n'
env XENSTORED_PATH=$PVD_RUNDIR/dom7.sock xenstore-read /local/domain/0/name 2>&1 || true

say "Durability: kill -9, restart, the tree is what was acknowledged"
run kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
pids=()
rm -f "$PVD_RUNDIR/stored.pid"
"$BIN/pvd-stored" -f --socket "$XENSTORED_PATH" --pidfile "$PVD_RUNDIR/stored.pid" \
	--persist "$PVD_RUNDIR/store.db" --log-file "$PVD_RUNDIR/stored.log" &
pids+=($!)
for _ in $(seq 100); do [ -f "$PVD_RUNDIR/stored.pid" ] && break; sleep 0.1; done
run xenstore-ls -p /local/domain/7
run xenstore-read /local/domain/0/backend/vbd/7/51712/state

say "pvd-stored's log"
cat "$PVD_RUNDIR/stored.log"
echo
echo "demo: ok"
