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

STORED_PID=
stored_start() {
	"${SERVER_PIN[@]}" "$BIN/pvd-stored" -f --socket "$XENSTORED_PATH" --hv sim \
		--pidfile "$RUNDIR/stored.pid" --log-level warning >>"$RUNDIR/stored.log" 2>&1 &
	STORED_PID=$!
	_pids+=("$STORED_PID")
	wait_until "$WAIT_SECS" test -S "$XENSTORED_PATH" || { bad "pvd-stored did not start"; return 1; }
}
