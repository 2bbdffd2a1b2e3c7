# The pvd route of tests/bench/netback.sh (sourced by it): two pvguest
# domains, each with a NIC served by pvd-netback (a tap on one bridge), the
# guests' own network stacks at 10.77.0.1 (A) and 10.77.0.2 (B).  Defines
# pvd_setup, pvd_cleanup and pvd_cpu_ticks; uses netback.sh's BIN, TAG,
# WAIT_SECS and bad, PVDNB_TAPIO (--tap-io; empty: the default), and
# PVDNB_THREADS (pvd-netback's --io-threads; empty:
# its default, the online CPUs) and PVDNB_GUEST_ARGS (more pvguest options,
# e.g. --net-no-ctrl: pvctl then runs pvguest through a wrapper).
#
# It runs in the host's network namespace (pvd-netback makes its taps
# there, as in dom0), so the bridge and taps carry names of their own
# (${TAG}nb, ${TAG}v1/2) and pvd_cleanup removes them; every process it
# starts is stopped by its PID.

PVDNB_DIR= PVDNB_STORED= PVDNB_NETBACK= PVDNB_GBIN=
PVDNB_DOMS=() PVDNB_GPIDS=()

pvdnb_wait() {
	local n=$1 i
	shift
	for ((i = 0; i < n * 20; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

pvdnb_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# pvdnb_stop PID: SIGTERM, bounded wait, SIGKILL.
pvdnb_stop() {
	pvdnb_alive "$1" || return 0
	kill -TERM "$1" 2>/dev/null
	pvdnb_wait 5 eval "! kill -0 $1" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	true
}

pvdnb_daemons() {
	"$BIN/pvd-stored" -f --socket "$XENSTORED_PATH" --hv sim \
		--pidfile "$PVDNB_DIR/stored.pid" --log-level warning \
		>>"$PVDNB_DIR/stored.log" 2>&1 &
	PVDNB_STORED=$!
	pvdnb_wait "$WAIT_SECS" test -s "$PVDNB_DIR/stored.pid" ||
		{ bad "pvd-stored did not start"; return 1; }
	"$BIN/pvd-netback" -f --hv sim --pidfile "$PVDNB_DIR/netback.pid" \
		--log-level warning ${PVDNB_THREADS:+--io-threads "$PVDNB_THREADS"} \
		${PVDNB_TAPIO:+--tap-io "$PVDNB_TAPIO"} \
		>>"$PVDNB_DIR/netback.log" 2>&1 &
	PVDNB_NETBACK=$!
	pvdnb_wait "$WAIT_SECS" test -s "$PVDNB_DIR/netback.pid" ||
		{ bad "pvd-netback did not start: $(tail -n 3 "$PVDNB_DIR/netback.log")"; return 1; }
}

# pvdnb_guest N ADDR: a domain with one NIC on the bridge, eth0 at ADDR.
pvdnb_guest() {
	local n=$1 addr=$2 cfg=$PVDNB_DIR/g$1.cfg d pid
	printf 'name = "%sg%s"\nmemory = 32\nvif = [ "bridge=%snb,mac=00:16:3e:77:00:0%s,vifname=%sv%s" ]\n' \
		"$TAG" "$n" "$TAG" "$n" "$TAG" "$n" >"$cfg"
	d=$(PVD_BIN=$PVDNB_GBIN timeout -k 2 60 "$BIN/pvctl" create "$cfg" 2>>"$PVDNB_DIR/pvctl.log") ||
		{ bad "pvctl create g$n: $(tail -n 2 "$PVDNB_DIR/pvctl.log")"; return 1; }
	PVDNB_DOMS+=("$d")
	pid=$(cat "$PVDNB_DIR/guests/dom$d/pid" 2>/dev/null)
	[ -n "$pid" ] || { bad "no pid for domain $d"; return 1; }
	PVDNB_GPIDS+=("$pid")
	pvdnb_wait "$WAIT_SECS" eval "[ \"\$(xenstore-read /local/domain/0/backend/vif/$d/0/state)\" = 4 ]" ||
		{ bad "domain $d's vif not Connected (backend state $(xenstore-read /local/domain/0/backend/vif/$d/0/state 2>&1), frontend $(xenstore-read /local/domain/$d/device/vif/0/state 2>&1)): $(tail -n 2 "$PVDNB_DIR/netback.log")"; return 1; }
	nsenter -t "$pid" -n -- ip addr add "$addr/24" dev eth0 &&
	nsenter -t "$pid" -n -- ip link set eth0 up &&
	nsenter -t "$pid" -n -- ip link set lo up || { bad "addressing g$n"; return 1; }
	if [ "$n" = 1 ]; then
		EXEC_A=(nsenter -t "$pid" -n --)
	else
		EXEC_B=(nsenter -t "$pid" -n --)
	fi
}

pvd_setup() {
	PVDNB_DIR=$(mktemp -d /tmp/pvd-nbbench.XXXXXX) || return 1
	# The guests run as nobody and open sockets under it.
	chmod 755 "$PVDNB_DIR"
	export PVD_RUNDIR=$PVDNB_DIR XENSTORED_PATH=$PVDNB_DIR/xs.sock
	PVDNB_DOMS=() PVDNB_GPIDS=()
	ip link add "${TAG}nb" type bridge || { bad "cannot make bridge ${TAG}nb"; return 1; }
	ip link set "${TAG}nb" up
	pvdnb_daemons || return 1
	PVDNB_GBIN=$BIN
	if [ -n "${PVDNB_GUEST_ARGS:-}" ]; then
		PVDNB_GBIN=$PVDNB_DIR/gbin
		mkdir -p "$PVDNB_GBIN" && chmod 755 "$PVDNB_GBIN" &&
			printf '#!/bin/sh\nexec %q %s "$@"\n' "$BIN/pvguest" "$PVDNB_GUEST_ARGS" >"$PVDNB_GBIN/pvguest" &&
			chmod 755 "$PVDNB_GBIN/pvguest" || { bad "cannot make the pvguest wrapper"; return 1; }
	fi
	pvdnb_guest 1 10.77.0.1 && pvdnb_guest 2 10.77.0.2 || return 1
	# Both ends answer before anything is measured.
	pvdnb_wait "$WAIT_SECS" "${EXEC_B[@]}" ping -c 1 -W 1 10.77.0.1 >/dev/null ||
		{ bad "guest B cannot ping guest A"; return 1; }
}

# The backend's user+system CPU ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the command name, which may hold spaces).
pvd_cpu_ticks() {
	pvdnb_alive "$PVDNB_NETBACK" || return 1
	sed 's/^.*) //' "/proc/$PVDNB_NETBACK/stat" | awk '{ print $12 + $13 }'
}

pvd_cleanup() {
	local d p i
	[ -n "$PVDNB_DIR" ] || return 0
	for d in "${PVDNB_DOMS[@]}"; do
		pvdnb_alive "$PVDNB_STORED" &&
			timeout -k 2 20 "$BIN/pvctl" destroy "$d" >/dev/null 2>&1
	done
	for p in "${PVDNB_GPIDS[@]}"; do pvdnb_stop "$p"; done
	pvdnb_stop "$PVDNB_NETBACK"
	pvdnb_stop "$PVDNB_STORED"
	# Persistent taps left by a backend that could not remove them.
	for i in 1 2; do ip link del "${TAG}v$i" 2>/dev/null; done
	ip link del "${TAG}nb" 2>/dev/null
	rm -rf "$PVDNB_DIR"
	PVDNB_DIR= PVDNB_NETBACK= PVDNB_STORED= PVDNB_DOMS=() PVDNB_GPIDS=()
	EXEC_A=() EXEC_B=()
	true
}
