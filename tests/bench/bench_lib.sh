# Sourced by the storage benchmark sections (blkback.sh, nbd.sh, luks.sh):
# settings, the run directory, daemons stopped by PID, number formatting.
#   bench_setup TAG   makes RUNDIR (/tmp) and DATA (/dev/shm when it can)
#                     and installs the cleanup trap.
# Before sourcing: BENCH_PIN_DEFAULT (split|same|none) and, optionally,
# BENCH_PIN_VAR (the variable that overrides it, default BENCH_PIN).
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
BIN=$BUILD/bin
FRONT=$BUILD/tests/integration/blkfront_test
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then SECS=${BENCH_SECS:-0.4}; else SECS=${BENCH_SECS:-3}; fi
HALF=$(awk -v s="$SECS" 'BEGIN { print s / 2 }')
WAIT_SECS=10
: "${BENCH_PIN_VAR:=BENCH_PIN}"
PIN=${!BENCH_PIN_VAR:-${BENCH_PIN_DEFAULT:-split}}
SERVER_PIN=() CLIENT_PIN=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	case $PIN in
	split) SERVER_PIN=(taskset -c 0) CLIENT_PIN=(taskset -c 1) ;;
	same) SERVER_PIN=(taskset -c 0) CLIENT_PIN=(taskset -c 0) ;;
	*) PIN=none ;;
	esac
else
	PIN=none
fi
CLK_TCK=$(getconf CLK_TCK)
_pids=()
_failed=0
LOOPDEV=
RUNDIR= DATA=

note() { printf '# %s\n' "$*"; }
bad() { printf 'ERROR: %s\n' "$*"; _failed=$((_failed + 1)); }

pid_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < WAIT_SECS * 20; i++)); do pid_alive "$pid" || break; sleep 0.05; done
		pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

bench_cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${_pids[@]}"; do stop_pid "$p"; done
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>/dev/null
	[ -n "$RUNDIR" ] && rm -rf "$RUNDIR"
	[ -n "$DATA" ] && [ "$DATA" != "$RUNDIR" ] && rm -rf "$DATA"
	exit "$rc"
}

bench_setup() {
	RUNDIR=$(mktemp -d "/tmp/pvd-$1.XXXXXX") || exit 1
	DATA=$(mktemp -d "/dev/shm/pvd-$1.XXXXXX" 2>/dev/null) || DATA=$RUNDIR
	export PVD_RUNDIR=$RUNDIR XENSTORED_PATH=$RUNDIR/xs.sock
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do "$@" && return 0; sleep 0.05; done
	return 1
}

calc() { awk "BEGIN { x = $1; if (x == x + 0) printf \"%.4f\\n\", x }" 2>/dev/null; }
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "-";
		else printf "%.2f\n", a / b }'
}
fmt() {
	awk -v x="$1" 'BEGIN { if (x !~ /^[0-9.]+$/) print "-";
		else if (x >= 1e6) printf "%.2fM\n", x / 1e6;
		else if (x >= 1e3) printf "%.1fk\n", x / 1e3; else printf "%.0f\n", x }'
}
# dec X N: X with N decimals ("-" if not a number).
dec() { awk -v x="$1" -v n="$2" 'BEGIN { if (x !~ /^[0-9.]+$/) print "-"; else printf "%.*f\n", n, x }'; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }
xs() { local c=$1; shift; timeout -k 2 10 "xenstore-$c" "$@"; }
state_is() { [ "$(xs read "$1/state" 2>/dev/null)" = "$2" ]; }

# pvguest_disk D PARAMS TYPE SPEC OUT: a pvguest as domain D whose load
# generator runs SPEC (loadgen's devid=, rw=, ...) on its disk xvda
# (backend PARAMS, type TYPE), its output in OUT; introduced to the store
# and its disk's nodes written as pvctl writes them (docs/pvctl.md).
# Sets PG_PID; returns once the pvguest is up and the nodes are written
# (the disk connects and the load runs on their own).
PG_XSH=$BUILD/tests/integration/pvguest_xs
PG_DEV=51712
PG_PID=
pvguest_disk() {
	local d=$1 params=$2 type=$3 spec=$4 out=$5 line fe be
	fe=/local/domain/$d/device/vbd be=/local/domain/0/backend/vbd/$d
	"${CLIENT_PIN[@]}" "$BIN/pvguest" -f --domid "$d" --name "bench$d" --memory 256 \
		--ready-fd 3 --no-console-shell --log-level warning --loadgen "$spec" \
		3>"$RUNDIR/ready$d" >"$out" 2>>"$RUNDIR/pvguest.log" &
	PG_PID=$!
	_pids+=("$PG_PID")
	wait_until "$WAIT_SECS" grep -qs pid= "$RUNDIR/ready$d" || { bad "pvguest $d did not start"; return 1; }
	read -r line <"$RUNDIR/ready$d"
	[[ "$line" =~ store_gfn=([0-9]+)\ store_port=([0-9]+) ]] || { bad "pvguest ready line: $line"; return 1; }
	timeout -k 2 10 "$PG_XSH" introduce "$d" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" >/dev/null ||
		{ bad "cannot introduce domain $d"; return 1; }
	xs write /local/domain/$d/device "" "$fe" "" && xs chmod /local/domain/$d/device n$d r0 &&
		xs chmod "$fe" n$d r0 &&
		xs write "$be/$PG_DEV/frontend" "$fe/$PG_DEV" "$be/$PG_DEV/frontend-id" "$d" "$be/$PG_DEV/online" 1 \
			"$be/$PG_DEV/state" 1 "$be/$PG_DEV/params" "$params" "$be/$PG_DEV/mode" w \
			"$be/$PG_DEV/type" "$type" "$be/$PG_DEV/dev" xvda "$be/$PG_DEV/removable" 0 \
			"$be/$PG_DEV/device-type" disk && xs chmod -r "$be/$PG_DEV" n0 r$d &&
		xs write "$fe/$PG_DEV/backend" "$be/$PG_DEV" "$fe/$PG_DEV/backend-id" 0 "$fe/$PG_DEV/state" 1 \
			"$fe/$PG_DEV/virtual-device" "$PG_DEV" "$fe/$PG_DEV/device-type" disk &&
		xs chmod -r "$fe/$PG_DEV" n$d r0 || { bad "cannot write vbd nodes of domain $d"; return 1; }
}

# pvguest_gone D PID: stops that pvguest and does the toolstack's part of
# a destroy (the backend lets go of the disk).
pvguest_gone() {
	pid_alive "$2" || bad "pvguest $1 had died: $(tail -n 3 "$RUNDIR/pvguest.log")"
	stop_pid "$2"
	xs rm /local/domain/0/backend/vbd/$1 2>/dev/null
	xs rm /local/domain/$1 2>/dev/null
	return 0
}

STORED_PID=
stored_start() {
	"${SERVER_PIN[@]}" "$BIN/pvd-stored" -f --socket "$XENSTORED_PATH" --hv sim \
		--pidfile "$RUNDIR/stored.pid" --log-level warning >>"$RUNDIR/stored.log" 2>&1 &
	STORED_PID=$!
	_pids+=("$STORED_PID")
	wait_until "$WAIT_SECS" test -S "$XENSTORED_PATH" || { bad "pvd-stored did not start"; return 1; }
}
