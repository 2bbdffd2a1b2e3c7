# Sourced by tests/integration/test_blkback*.sh after lib.sh: starts
# pvd-blkback and test frontends (blkfront_test) in the test's private
# PVD_RUNDIR; everything started is tracked by PID and stopped by lib.sh
# at exit.  Every wait is bounded by PVD_WAIT_SECS.

BLKBACK_PID=
BLKBACK_PIDFILE=$PVD_RUNDIR/blkback.pid
BLKBACK_LOG=$PVD_RUNDIR/blkback.log
BLKBACK_EXIT=
need_testbin blkfront_test FRONT_BIN
# Frontend waits (ms): longer than any backend step, shorter than the
# test runner's timeout.
FRONT_TIMEOUT=${FRONT_TIMEOUT:-20000}

blkback_ready() {
	[ -s "$BLKBACK_PIDFILE" ] && [ "$(cat "$BLKBACK_PIDFILE")" = "$BLKBACK_PID" ]
}

# blkback_start [ARGS...]: pvd-blkback -f with the sim hypervisor layer,
# a pidfile and a log; waits (bounded) for the pidfile.  Its I/O threads:
# $PVD_BLK_IO_THREADS (default 2, so that threads are exercised even on
# 2 cores; 0 or 1 for the other modes; an --io-threads in ARGS wins).
blkback_start() {
	local i
	[ -x "$PVD_BIN/pvd-blkback" ] || die "$PVD_BIN/pvd-blkback not built (run: make)"
	rm -f "$BLKBACK_PIDFILE"
	"$PVD_BIN/pvd-blkback" -f --hv sim --pidfile "$BLKBACK_PIDFILE" \
		--log-file "$BLKBACK_LOG" --io-threads "${PVD_BLK_IO_THREADS:-2}" "$@" >>"$PVD_RUNDIR/blkback.stderr" 2>&1 &
	BLKBACK_PID=$!
	track_pid "$BLKBACK_PID"
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		blkback_ready && break
		if ! pid_alive "$BLKBACK_PID"; then
			wait "$BLKBACK_PID"
			echo "# pvd-blkback exited with $? during start-up:"
			sed 's/^/# /' "$PVD_RUNDIR/blkback.stderr" "$BLKBACK_LOG" 2>/dev/null | tail -n 20
			die "pvd-blkback failed to start ($*)"
		fi
		sleep 0.05
	done
	blkback_ready || die "pvd-blkback wrote no pidfile within ${PVD_WAIT_SECS}s"
	log "pvd-blkback running, pid $BLKBACK_PID"
}

blkback_stop() { daemon_stop BLKBACK; }

blkback_kill9() { daemon_kill9 BLKBACK pvd-blkback; }

blkback_alive() { daemon_alive BLKBACK pvd-blkback "$1" "$PVD_RUNDIR/blkback.stderr" "$BLKBACK_LOG"; }

# front ARGS...: runs blkfront_test in the foreground (bounded).
front() {
	timeout -k 5 $((FRONT_TIMEOUT / 1000 * 3 + 30)) "$FRONT_BIN" --timeout "$FRONT_TIMEOUT" "$@"
}

# expect_front NAME WANT ARGS...: blkfront_test must succeed and print WANT.
expect_front() {
	local name=$1 want=$2 out rc
	shift 2
	out=$(front "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [[ "$out" == *"$want"* ]]; then
		pass "$name"
	else
		fail "$name" "blkfront_test $* (exit $rc)" "$(printf '%s' "$out" | tail -n 8)"
	fi
}

# front_bg OUT ARGS...: blkfront_test in the background; FRONT_PID.
FRONT_PID=
front_bg() {
	local out=$1
	shift
	"$FRONT_BIN" --timeout "$FRONT_TIMEOUT" "$@" >"$out" 2>&1 &
	FRONT_PID=$!
	track_pid "$FRONT_PID"
}

# front_wait PID: its exit status (bounded by PVD_WAIT_SECS * 6).
front_wait() {
	local pid=$1
	if ! wait_pid_gone "$pid" $((PVD_WAIT_SECS * 6)); then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# ctl CMD: one command on the control socket.
ctl() { front ctl "$1"; }

# stat_of JSON NAME: the first value of "NAME": in a stats line.
stat_of() { printf '%s\n' "$1" | grep -o "\"$2\":[0-9]*" | head -n1 | cut -d: -f2; }

# blkback_finish: checks the daemon's stderr like lib.sh's finish does for
# pvd-stored, then finishes.
blkback_finish() {
	local f=$PVD_RUNDIR/blkback.stderr
	if [ -s "$f" ] && grep -qiE 'runtime error|sanitizer|assert' "$f"; then
		fail "pvd-blkback's stderr is free of sanitizer reports" \
			"$(grep -iE 'runtime error|sanitizer|assert' "$f" | head -n 3)"
	fi
	finish
}

# Disk images live on tmpfs when there is one (O_DIRECT works there and
# does not wait for a real disk); removed at exit with the run directory.
BB_DATA=
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	BB_DATA=$(mktemp -d /dev/shm/pvd-bbdata.XXXXXX) || BB_DATA=
fi
[ -n "$BB_DATA" ] || BB_DATA=$PVD_RUNDIR
# At exit: the daemons first (they hold the disks), then loop devices and
# images, then lib.sh's own cleanup.
eval "$(declare -f _pvd_cleanup | sed '1s/_pvd_cleanup/_pvd_cleanup_inner/')"
_pvd_cleanup() {
	local rc=$? pid
	for pid in "${_pvd_pids[@]}"; do stop_pid "$pid"; done
	loop_detach_all
	[ "$BB_DATA" != "$PVD_RUNDIR" ] && rm -rf "$BB_DATA"
	(exit "$rc")
	_pvd_cleanup_inner
}

# disk_file NAME SIZE [DIR]: a sparse file (on tmpfs, or in DIR).
disk_file() {
	local f=${3:-$BB_DATA}/$1
	truncate -s "$2" "$f" || die "cannot create $f"
	printf '%s' "$f"
}

# loop_attach FILE [losetup options]: LOOPDEV, detached at exit; skips
# the test when there is no loop device.
LOOPDEVS=()
loop_attach() {
	local f=$1
	shift
	LOOPDEV=$(losetup -f --show "$@" "$f" 2>/dev/null) || skip "no loop device (losetup -f failed)"
	LOOPDEVS+=("$LOOPDEV")
}
loop_detach_all() {
	local d
	for d in "${LOOPDEVS[@]}"; do losetup -d "$d" 2>/dev/null; done
	LOOPDEVS=()
}
