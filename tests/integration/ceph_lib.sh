# Sourced by tests that need a Ceph cluster (test_blkback_rbd.sh,
# tests/bench/rbd.sh) after lib.sh: a single-node cluster in a private
# directory, from Debian's packages: one monitor on a free port, one OSD
# with the in-memory object store (memstore), pool size 1, no manager
# (facts: ../shared/ceph-test-cluster.md of the project's notes).  Both
# daemons run in the foreground (-f), are tracked by PID and stopped by
# lib.sh at exit; nothing is started by name, nothing outside the
# directory is touched.
#
#   ceph_need                 skips the test when the packages are missing
#   ceph_start [MEM_MB]       CEPH_DIR, CEPH_CONF; pool "rbd" ready
#   ceph_osd_stop / ceph_osd_start   the OSD goes away and comes back
#   cephx ARGS...             `ceph`, `rbd`, ... with the cluster's conf, bounded

CEPH_DIR=
CEPH_CONF=
CEPH_MON_PID=
CEPH_OSD_PID=
CEPH_OSD_ID=

# At exit: the test's own processes first (pvd-blkback closes its images
# while the cluster still answers), then the OSD and the monitor.
eval "$(declare -f _pvd_cleanup | sed '1s/_pvd_cleanup/_ceph_cleanup_inner/')"
_pvd_cleanup() {
	local rc=$? pid
	for pid in "${_pvd_pids[@]}"; do stop_pid "$pid"; done
	_pvd_pids=()
	for pid in $CEPH_OSD_PID $CEPH_MON_PID; do stop_pid "$pid"; done
	(exit "$rc")
	_ceph_cleanup_inner
}

ceph_need() {
	local p
	for p in ceph-mon ceph-osd ceph rbd monmaptool; do
		command -v $p >/dev/null ||
			skip "$p not installed: the Ceph packages are missing (scripts/deps.sh installs ceph-mon ceph-osd ceph-common)"
	done
}

# cephx CMD ARGS...: a Ceph command-line tool against this cluster, bounded.
cephx() {
	local cmd=$1
	shift
	timeout -k 5 60 "$cmd" -c "$CEPH_CONF" "$@"
}

_ceph_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_ceph_write_conf() {
	local port=$1 mem_mb=$2
	cat >"$CEPH_CONF" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v1:127.0.0.1:$port
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
osd objectstore = memstore
memstore device bytes = $((mem_mb * 1024 * 1024))
osd max object name len = 256
osd max object namespace len = 64
run dir = $CEPH_DIR/run
log file = $CEPH_DIR/\$name.log
admin socket = $CEPH_DIR/run/\$name.\$pid.asok
mon data = $CEPH_DIR/mon/\$name
osd data = $CEPH_DIR/osd/\$name
keyring = $CEPH_DIR/keyring
rbd cache = false
# A stopped OSD saves memstore (a fast shutdown would drop it).
osd fast shutdown = false
EOF
}

# _ceph_wait_osd_up: until the OSD map says the OSD is up (bounded).
_ceph_wait_osd_up() {
	local i
	for ((i = 0; i < 60 * 4; i++)); do
		cephx ceph osd dump 2>/dev/null | grep -q "^osd\.$CEPH_OSD_ID up" && return 0
		pid_alive "$CEPH_OSD_PID" || return 1
		sleep 0.25
	done
	return 1
}

# The OSD now and then exits during its start ("wrong fsid" in its log:
# its boot races the monitor's map); started again, it comes up.  A bench
# run saw three quick tries all fail: each try first waits (bounded) for
# the monitor's map to hold this OSD's uuid, and later tries wait longer.
ceph_osd_start() {
	local try i
	for try in 1 2 3 4 5; do
		for ((i = 0; i < 40; i++)); do
			cephx ceph osd dump 2>/dev/null | grep -q "^osd\.$CEPH_OSD_ID .*${CEPH_OSD_UUID:-}" && break
			sleep 0.25
		done
		[ "$try" -gt 1 ] && sleep "$try"
		ceph-osd -f -c "$CEPH_CONF" -i "$CEPH_OSD_ID" >>"$CEPH_DIR/osd.out" 2>&1 &
		CEPH_OSD_PID=$!
		_ceph_wait_osd_up && return 0
		pid_alive "$CEPH_OSD_PID" && break
		wait "$CEPH_OSD_PID" 2>/dev/null
		log "ceph-osd exited during its start (try $try)"
	done
	grep -v "^$" "$CEPH_DIR/osd.out" | tail -n 40 | sed "s/^/# /"
	return 1
}

# The OSD goes away: SIGTERM, as a host shutting down.  (memstore keeps
# its objects across a clean stop only: a SIGKILL would lose the pool,
# which is the store's doing, not the client's.)  Clients see it marked
# down at once; their requests wait in librados for it to return.
ceph_osd_stop() {
	kill -TERM "$CEPH_OSD_PID" 2>/dev/null
	wait_pid_gone "$CEPH_OSD_PID" 30 || kill -KILL "$CEPH_OSD_PID" 2>/dev/null
	wait "$CEPH_OSD_PID" 2>/dev/null
}

ceph_start() {
	local mem_mb=${1:-512} port i uuid
	CEPH_DIR=$PVD_RUNDIR/ceph
	CEPH_CONF=$CEPH_DIR/ceph.conf
	mkdir -p "$CEPH_DIR/run" "$CEPH_DIR/mon/mon.a" "$CEPH_DIR/osd" || die "cannot create $CEPH_DIR"
	port=$(_ceph_free_port) || die "no free port for the monitor"
	_ceph_write_conf "$port" "$mem_mb"
	monmaptool --create --add a "v1:127.0.0.1:$port" --fsid "$(sed -n 's/^fsid = //p' "$CEPH_CONF")" \
		"$CEPH_DIR/monmap" >/dev/null 2>&1 || die "monmaptool failed"
	ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" >>"$CEPH_DIR/mon.out" 2>&1 ||
		die "ceph-mon --mkfs failed: $(tail -n 3 "$CEPH_DIR/mon.out")"
	ceph-mon -f -c "$CEPH_CONF" -i a >>"$CEPH_DIR/mon.out" 2>&1 &
	CEPH_MON_PID=$!
	uuid=$(cat /proc/sys/kernel/random/uuid)
	CEPH_OSD_UUID=$uuid
	for ((i = 0; i < 60 * 4; i++)); do
		CEPH_OSD_ID=$(cephx ceph osd create "$uuid" 2>/dev/null) && break
		pid_alive "$CEPH_MON_PID" || die "ceph-mon exited: $(tail -n 3 "$CEPH_DIR/mon.out")"
		sleep 0.25
	done
	[ -n "$CEPH_OSD_ID" ] || die "the monitor did not answer"
	mkdir -p "$CEPH_DIR/osd/osd.$CEPH_OSD_ID"
	ceph-osd -c "$CEPH_CONF" -i "$CEPH_OSD_ID" --mkfs --osd-uuid "$uuid" >>"$CEPH_DIR/osd.out" 2>&1 ||
		die "ceph-osd --mkfs failed: $(tail -n 3 "$CEPH_DIR/osd.out")"
	ceph_osd_start || die "the OSD did not come up"
cephx ceph osd pool create rbd 8 >/dev/null 2>&1 || die "cannot create pool rbd"
	cephx rbd pool init rbd >/dev/null 2>&1 || die "rbd pool init failed"
	log "Ceph cluster up: monitor 127.0.0.1:$port (pid $CEPH_MON_PID), osd.$CEPH_OSD_ID (pid $CEPH_OSD_PID)"
}
