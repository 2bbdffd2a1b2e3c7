# Sourced by tests/integration/test_*.sh.  Gives each test a private
# PVD_RUNDIR, starts pvd-stored in it, and on exit stops every process the
# test started (by PID: other tests and helpers share this machine) and
# removes the directory.  Checks count failures; `finish` turns them into
# the exit status (0 pass, 1 fail; `skip` exits 77).
#
# Usable by hand: `bash tests/integration/test_stored_xsutils.sh` after
# `make all tests` (PVD_BIN/PVD_TESTBIN default to build/bin, build/tests).

set -u

PVD_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${PVD_BIN:=$PVD_REPO/build/bin}"
: "${PVD_TESTBIN:=$PVD_REPO/build/tests}"
export PVD_BIN PVD_TESTBIN

PVD_RUNDIR=$(mktemp -d /tmp/pvd-itest.XXXXXX) || { echo "mktemp failed" >&2; exit 1; }
export PVD_RUNDIR

STORED_SOCK=$PVD_RUNDIR/xs.sock
STORED_PIDFILE=$PVD_RUNDIR/stored.pid
STORED_LOG=$PVD_RUNDIR/stored.log
STORED_PID=
STORED_EXIT=
# Bounded waits: a hung daemon fails the test instead of hanging it.
: "${PVD_WAIT_SECS:=10}"
XS_TIMEOUT=${XS_TIMEOUT:-10}

_pvd_pids=()
_pvd_fails=0
_pvd_checks=0

log() { printf '# %s\n' "$*"; }

# Remember a PID to stop at exit.
track_pid() { _pvd_pids+=("$1"); }

# True while PID runs (a zombie counts as gone).
pid_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# wait_pid_gone PID [SECS]: polls until PID has exited; 1 on timeout.
wait_pid_gone() {
	local pid=$1 secs=${2:-$PVD_WAIT_SECS} i
	for ((i = 0; i < secs * 20; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.05
	done
	return 1
}

# True if PID is a child of this shell: a PID that exited long ago may
# have been reused by someone else's process, which must not be signalled.
pid_ours() {
	local ppid
	ppid=$(awk '{print $4}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$ppid" = "$$" ]
}

# stop_pid PID: TERM, bounded wait, then KILL.  Never by name.
stop_pid() {
	local pid=$1
	if ! pid_alive "$pid" || ! pid_ours "$pid"; then
		wait "$pid" 2>/dev/null
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	if ! wait_pid_gone "$pid" 5; then
		echo "# pid $pid ignored SIGTERM; sending SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
		wait_pid_gone "$pid" 5
	fi
	wait "$pid" 2>/dev/null
	return 0
}

_pvd_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${_pvd_pids[@]}"; do
		stop_pid "$pid"
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		# The daemons' stderr holds sanitizer reports and crashes; their
		# logs (and the guests') say what happened before a failure.
		for f in "$PVD_RUNDIR"/*.stderr "$PVD_RUNDIR"/*.log; do
			[ -s "$f" ] || continue
			echo "# --- last lines of $f ---"
			tail -n 40 "$f" | sed 's/^/# /'
		done
		# PVD_KEEP_RUNDIR=DIR: the whole run directory (the guests'
		# logs included) is copied there first, to look at afterwards.
		if [ -n "${PVD_KEEP_RUNDIR:-}" ]; then
			mkdir -p "$PVD_KEEP_RUNDIR" &&
				cp -a "$PVD_RUNDIR" "$PVD_KEEP_RUNDIR/" 2>/dev/null
			echo "# run directory kept in $PVD_KEEP_RUNDIR/${PVD_RUNDIR##*/}"
		fi
	fi
	rm -rf "$PVD_RUNDIR"
	exit "$rc"
}
trap _pvd_cleanup EXIT
trap 'exit 130' INT TERM

skip() { echo "SKIP: $*"; exit 77; }

die() { echo "FATAL: $*"; _pvd_fails=$((_pvd_fails + 1)); exit 1; }

pass() { _pvd_checks=$((_pvd_checks + 1)); echo "ok - $1"; }

fail() {
	_pvd_checks=$((_pvd_checks + 1)); _pvd_fails=$((_pvd_fails + 1))
	echo "FAIL - $1"
	shift
	local l
	for l in "$@"; do printf '#   %s\n' "$l"; done
}

# finish: last line of every test.  A sanitizer report or assertion in
# the daemon's stderr fails the test even if every check passed.
finish() {
	local f=$PVD_RUNDIR/stored.stderr
	if [ -s "$f" ] && grep -qiE 'runtime error|sanitizer|assert' "$f"; then
		fail "daemon stderr is free of sanitizer reports and assertions" \
			"$(grep -iE 'runtime error|sanitizer|assert' "$f" | head -n 3)"
	fi
	if [ "$_pvd_fails" -ne 0 ]; then
		echo "$_pvd_fails of $_pvd_checks checks failed"
		exit 1
	fi
	echo "all $_pvd_checks checks passed"
	exit 0
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected: $(printf '%q' "$2")" "actual:   $(printf '%q' "$3")"
		if [[ "$2" == *$'\n'* || "$3" == *$'\n'* ]]; then
			diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/#   /'
		fi
	fi
}

# expect_ok NAME CMD...: CMD must exit 0.
expect_ok() {
	local name=$1 err rc
	shift
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "command: $*" "exit $rc, stderr: $err"
	fi
}

# expect_fail NAME SUBSTRING CMD...: CMD must exit non-zero (but not by
# timeout) and its stderr must contain SUBSTRING.
expect_fail() {
	local name=$1 want=$2 err rc
	shift 2
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		fail "$name" "command: $*" "succeeded, expected failure with '$want'"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$name" "command: $*" "timed out (exit $rc)"
	elif [[ "$err" != *"$want"* ]]; then
		fail "$name" "command: $*" "exit $rc, stderr lacks '$want': $err"
	else
		pass "$name"
	fi
}

# need_testbin NAME VAR: sets VAR to the built helper program NAME (from
# tests/integration/NAME.c); a missing helper is a failure, not a skip.
need_testbin() {
	local b=$PVD_TESTBIN/integration/$1
	[ -x "$b" ] || die "$b not built (run: make tests)"
	printf -v "$2" '%s' "$b"
}

need_xsutils() {
	command -v xenstore-write >/dev/null ||
		skip "xenstore-utils not installed (scripts/deps.sh installs it)"
}

# xs CMD ARGS...: xenstore-CMD bounded by a timeout, against $XENSTORED_PATH.
xs() {
	local c=$1
	shift
	timeout -k 2 "$XS_TIMEOUT" "xenstore-$c" "$@"
}

# guest_exec DOMID CMD...: runs CMD in guest DOMID's network namespace
# (and its user namespace when pvguest dropped root), from dom0 as root.
guest_exec() {
	local pid
	pid=$(cat "$PVD_RUNDIR/guests/dom$1/pid") || return 1
	shift
	# The network namespace only: root of the initial user namespace has
	# CAP_NET_ADMIN over the guest's namespace, which a user namespace
	# owns when pvguest dropped root (entering that one too would make us
	# its unmapped "nobody", without capabilities).
	timeout -k 2 "${GUEST_EXEC_TIMEOUT:-$XS_TIMEOUT}" nsenter -t "$pid" -n -- "$@"
}

# guest_exec_bg DOM CMD...: guest_exec in the background; GUEST_BG_PID is
# timeout's PID, the one to track, stop and wait for (`guest_exec ... &`
# gives a subshell's, and stopping that left the command running).
guest_exec_bg() {
	local pid
	pid=$(cat "$PVD_RUNDIR/guests/dom$1/pid") || return 1
	shift
	timeout -k 2 "${GUEST_EXEC_TIMEOUT:-$XS_TIMEOUT}" nsenter -t "$pid" -n -- "$@" &
	GUEST_BG_PID=$!
}

# stored_start [ARGS...]: starts pvd-stored -f on $STORED_SOCK and waits
# (bounded) for its pidfile, which it writes once the socket listens.
# STORED_HV (default none) is its --hv: tests that introduce made-up
# domains run without a hypervisor layer; tests with simulated guests set
# STORED_HV=sim.
stored_start() {
	local i pid=
	[ -x "$PVD_BIN/pvd-stored" ] || die "$PVD_BIN/pvd-stored not built (run: make)"
	rm -f "$STORED_PIDFILE"
	"$PVD_BIN/pvd-stored" -f --socket "$STORED_SOCK" --pidfile "$STORED_PIDFILE" \
		--log-file "$STORED_LOG" --hv "${STORED_HV:-none}" "$@" \
		>>"$PVD_RUNDIR/stored.stderr" 2>&1 &
	STORED_PID=$!
	track_pid "$STORED_PID"
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		if [ -s "$STORED_PIDFILE" ]; then
			pid=$(cat "$STORED_PIDFILE")
			[ "$pid" = "$STORED_PID" ] && break
		fi
		if ! pid_alive "$STORED_PID"; then
			wait "$STORED_PID"
			echo "# pvd-stored exited with $? during start-up; stderr:"
			sed 's/^/# /' "$PVD_RUNDIR/stored.stderr"
			die "pvd-stored failed to start ($*)"
		fi
		sleep 0.05
	done
	[ "$pid" = "$STORED_PID" ] || die "pvd-stored wrote no pidfile within ${PVD_WAIT_SECS}s"
	[ -S "$STORED_SOCK" ] || die "pvd-stored wrote its pidfile but $STORED_SOCK is not a socket"
	export XENSTORED_PATH=$STORED_SOCK
	log "pvd-stored running, pid $STORED_PID"
}

# stored_stop: SIGTERM, bounded wait; sets STORED_EXIT (exit status, or
# "timeout" after which it was killed).
# daemon_stop NAME: SIGTERM to the daemon whose pid is in ${NAME}_PID,
# SIGKILL if it outlives the wait; its exit status (or "timeout") goes to
# ${NAME}_EXIT.  Idempotent; a pid that is no longer ours is only reaped.
daemon_stop() {
	local -n _dpid=${1}_PID _dexit=${1}_EXIT
	[ -n "$_dpid" ] || return 0
	if ! pid_ours "$_dpid"; then
		wait "$_dpid" 2>/dev/null
		_dexit=$?
		_dpid=
		return 0
	fi
	kill -TERM "$_dpid" 2>/dev/null
	if wait_pid_gone "$_dpid"; then
		wait "$_dpid" 2>/dev/null
		_dexit=$?
	else
		kill -KILL "$_dpid" 2>/dev/null
		wait_pid_gone "$_dpid" 5
		wait "$_dpid" 2>/dev/null
		_dexit=timeout
	fi
	_dpid=
}

# daemon_kill9 NAME WHAT: crash it (restart and persistence tests).
daemon_kill9() {
	local -n _dpid=${1}_PID
	[ -n "$_dpid" ] || return 0
	pid_ours "$_dpid" || die "$2 (pid $_dpid) died before kill -9"
	kill -KILL "$_dpid" 2>/dev/null
	wait_pid_gone "$_dpid" 5 || die "pid $_dpid survived SIGKILL"
	wait "$_dpid" 2>/dev/null
	_dpid=
}

# daemon_alive NAME WHAT CHECK [LOGFILE...]: a check that it still runs
# (the tail of its logs if not).
daemon_alive() {
	local -n _dpid=${1}_PID
	local what=$2 check=$3
	shift 3
	if [ -n "$_dpid" ] && pid_alive "$_dpid"; then
		pass "$check"
	else
		fail "$check" "$what (pid ${_dpid:-none}) is not running" \
			"$( [ $# -gt 0 ] && tail -n 5 "$@" 2>/dev/null)"
	fi
}

stored_stop() { daemon_stop STORED; }

# stored_kill9: crash the daemon (persistence tests).
stored_kill9() { daemon_kill9 STORED pvd-stored; }

# stored_alive CHECK: the daemon still runs.
stored_alive() { daemon_alive STORED pvd-stored "$1"; }
