# Sourced by tests/integration/test_netback*.sh INSTEAD of lib.sh: re-runs
# the test in a private network namespace (unshare --net: the taps and
# bridges it makes never touch the host's), then sources lib.sh and gives
# pvd-netback start/stop/kill and a fake frontend driven with
# xenstore-write (as a netfront would write its nodes).  Root needed:
# otherwise the test skips.  Every wait is bounded by PVD_WAIT_SECS.

if [ -z "${NB_IN_NETNS:-}" ]; then
	if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] ||
	   ! unshare --net true 2>/dev/null; then
		echo "SKIP: needs root, /dev/net/tun and network namespaces"
		exit 77
	fi
	NB_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
fi

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NETBACK_PID=
NETBACK_PIDFILE=$PVD_RUNDIR/netback.pid
NETBACK_LOG=$PVD_RUNDIR/netback.log
NETBACK_EXIT=
NETBACK_CTL=$PVD_RUNDIR/pvd-netback.sock
NB_BE=/local/domain/0/backend/vif

netback_ready() {
	[ -s "$NETBACK_PIDFILE" ] && [ "$(cat "$NETBACK_PIDFILE")" = "$NETBACK_PID" ]
}

# netback_start [ARGS...]: pvd-netback -f, sim hypervisor layer, pidfile.
# Its I/O threads: $PVD_NB_IO_THREADS (default 2, so that the threads are
# exercised even on 2 cores; 0 or 1 for the other modes; an --io-threads
# in ARGS wins).
netback_start() {
	local i
	[ -x "$PVD_BIN/pvd-netback" ] || die "$PVD_BIN/pvd-netback not built (run: make)"
	rm -f "$NETBACK_PIDFILE"
	"$PVD_BIN/pvd-netback" -f --hv sim --pidfile "$NETBACK_PIDFILE" \
		--log-file "$NETBACK_LOG" --io-threads "${PVD_NB_IO_THREADS:-2}" \
		"$@" >>"$PVD_RUNDIR/netback.stderr" 2>&1 &
	NETBACK_PID=$!
	track_pid "$NETBACK_PID"
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		netback_ready && break
		if ! pid_alive "$NETBACK_PID"; then
			wait "$NETBACK_PID"
			echo "# pvd-netback exited with $? during start-up:"
			tail -n 20 "$PVD_RUNDIR/netback.stderr" "$NETBACK_LOG" 2>/dev/null | sed 's/^/# /'
			die "pvd-netback failed to start ($*)"
		fi
		sleep 0.05
	done
	netback_ready || die "pvd-netback wrote no pidfile within ${PVD_WAIT_SECS}s"
	log "pvd-netback running, pid $NETBACK_PID"
}

netback_stop() { daemon_stop NETBACK; }
netback_kill9() { daemon_kill9 NETBACK pvd-netback; }

# netback_ctl CMD: one request on the control socket, its answer line.
netback_ctl() {
	printf '%s\n' "$1" | timeout -k 2 "$XS_TIMEOUT" socat -t 2 - "UNIX-CONNECT:$NETBACK_CTL"
}

# wait_node PATH VALUE: until the node reads VALUE (bounded); 1 if not.
wait_node() {
	local i
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ "$(xs read "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# link_exists NAME: the interface exists in our namespace.
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

# vif_add DOM DEV [NODE=VALUE...]: the toolstack's backend directory (as
# libxl writes it: frontend, frontend-id, handle, mac, online, state 1,
# plus the extra nodes; NODE=- leaves a default out) and the frontend's
# (state Initialising), in one xenstore-write.
vif_add() {
	local dom=$1 dev=$2 be fe kv=() n v
	shift 2
	be=$NB_BE/$dom/$dev
	fe=/local/domain/$dom/device/vif/$dev
	declare -A node=([handle]=$dev [mac]=00:16:3e:00:$(printf %02x "$dom"):0$dev
			 [online]=1 [state]=1)
	for kv in "$@"; do node[${kv%%=*}]=${kv#*=}; done
	kv=("$fe/state" 1 "$fe/backend" "$be" "$fe/backend-id" 0 "$fe/handle" "$dev")
	for n in "${!node[@]}"; do
		v=${node[$n]}
		[ "$v" = - ] || kv+=("$be/$n" "$v")
	done
	kv+=("$be/frontend" "$fe" "$be/frontend-id" "$dom")
	xs write "${kv[@]}"
}

# front_connect DOM DEV [NODE=VALUE...]: what a one-queue netfront writes
# (rings, one event channel, request-rx-copy, features), then Connected.
# NODE=- leaves a node out.
front_connect() {
	local dom=$1 dev=$2 fe kv=() n v
	shift 2
	fe=/local/domain/$dom/device/vif/$dev
	declare -A node=([tx-ring-ref]=8 [rx-ring-ref]=9 [event-channel]=5
			 [request-rx-copy]=1 [feature-rx-notify]=1 [feature-sg]=1
			 [feature-gso-tcpv4]=1)
	for kv in "$@"; do node[${kv%%=*}]=${kv#*=}; done
	kv=()
	for n in "${!node[@]}"; do
		v=${node[$n]}
		[ "$v" = - ] || kv+=("$fe/$n" "$v")
	done
	xs write "${kv[@]}"
	xs write "$fe/state" 4
}

# vif_rm DOM DEV: the toolstack's detach (both directories removed).
vif_rm() {
	xs rm "$NB_BE/$1/$2" 2>/dev/null
	xs rm "/local/domain/$1/device/vif/$2" 2>/dev/null
}

# error_node DOM DEV: what pvd-netback said (xenbus_dev_fatal's node).
error_node() { xs read "/local/domain/0/error/backend/vif/$1/$2/error" 2>/dev/null; }
