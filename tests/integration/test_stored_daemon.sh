#!/bin/bash
# pvd-stored as a daemon: pidfile, SIGTERM (exit 0, socket removed, also
# with clients connected), SIGHUP reopens --log-file, $XENSTORED_PATH as
# the default socket, and clear errors for bad command lines.
. "$(dirname "$0")/lib.sh"
need_xsutils
STORED=$PVD_BIN/pvd-stored
[ -x "$STORED" ] || die "$STORED not built (run: make)"

# ------------------------------------------------------------ bad usage
# bad_usage NAME SUBSTRING ARGS...: must exit non-zero, say why on stderr
# and leave no socket behind.  If it writes its pidfile instead, it started
# serving: that is the failure (no waiting for a timeout).
bad_usage() {
	local name=$1 want=$2 sock=$PVD_RUNDIR/bad.sock pidf=$PVD_RUNDIR/bad.pid
	local errf=$PVD_RUNDIR/bad.err pid rc=started i
	shift 2
	rm -f "$sock" "$pidf"
	"$STORED" -f --socket "$sock" --pidfile "$pidf" "$@" >/dev/null 2>"$errf" &
	pid=$!
	track_pid $pid
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		if ! pid_alive $pid; then
			wait $pid
			rc=$?
			break
		fi
		[ -s "$pidf" ] && break
		sleep 0.05
	done
	[ "$rc" = started ] && stop_pid $pid
	if [ "$rc" = started ] || [ "$rc" -eq 0 ]; then
		fail "$name" "pvd-stored $* started or exited 0 (want a usage error)"
	elif [ ! -s "$errf" ] || ! grep -qF -- "$want" "$errf"; then
		fail "$name" "stderr lacks '$want': $(cat "$errf")"
	elif [ -e "$sock" ]; then
		fail "$name" "left $sock behind"
	else
		pass "$name"
	fi
	rm -f "$sock" "$pidf"
}
bad_usage "unknown option is an error" "bogus-option" --bogus-option
bad_usage "non-numeric quota is an error" "" --quota-nodes lots
bad_usage "negative quota is an error" "" --quota-watches -5
bad_usage "unknown log level is an error" "" --log-level loud
bad_usage "malformed --guest-socket is an error" "" --guest-socket nodomid
bad_usage "missing option argument is an error" "" --persist
# A socket path whose directory cannot exist (its parent is a file).
: >"$PVD_RUNDIR/afile"
bad_usage "unusable socket path is a clear error" "afile" \
	--socket "$PVD_RUNDIR/afile/x.sock"

# -------------------------------------------------- pidfile and SIGTERM
stored_start
expect_eq "pidfile holds the daemon's pid" "$STORED_PID" "$(cat "$STORED_PIDFILE")"
expect_ok "daemon serves" xs write /d/x 1
stored_stop
expect_eq "SIGTERM exits 0" 0 "$STORED_EXIT"
[ -e "$STORED_SOCK" ] && fail "SIGTERM removes the socket" "$STORED_SOCK still exists" ||
	pass "SIGTERM removes the socket"

# A connected client (a watcher) must not delay or fail the exit.
stored_start
timeout -k 2 30 xenstore-watch /d >"$PVD_RUNDIR/w.out" 2>&1 &
wpid=$!
track_pid $wpid
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	[ -s "$PVD_RUNDIR/w.out" ] && break
	sleep 0.05
done
expect_eq "watcher connected" /d "$(head -n 1 "$PVD_RUNDIR/w.out")"
stored_stop
expect_eq "SIGTERM with clients connected exits 0" 0 "$STORED_EXIT"
[ -e "$STORED_SOCK" ] && fail "socket removed with clients connected" ||
	pass "socket removed with clients connected"
# (xenstore-watch 4.17 spins on a closed connection instead of exiting.)
stop_pid $wpid

# -------------------------------------------------- SIGHUP reopens the log
stored_start --log-level debug
mv "$STORED_LOG" "$STORED_LOG.1"
kill -HUP "$STORED_PID"
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	[ -e "$STORED_LOG" ] && break
	sleep 0.05
done
[ -e "$STORED_LOG" ] && pass "SIGHUP reopens --log-file" ||
	fail "SIGHUP reopens --log-file" "no new $STORED_LOG after SIGHUP"
stored_alive "daemon survives SIGHUP"
expect_ok "daemon serves after SIGHUP" xs write /d/y 2
expect_eq "store intact after SIGHUP" 2 "$(xs read /d/y)"
# At debug level serving requests logs something; it must go to the new
# file, not the renamed one.
size_old=$(stat -c %s "$STORED_LOG.1")
for i in 1 2 3 4 5; do xs write /d/z $i >/dev/null; done
xs read /d/z >/dev/null
if [ -s "$STORED_LOG" ]; then
	pass "log lines go to the reopened file"
else
	fail "log lines go to the reopened file" "$STORED_LOG is empty after requests at debug level"
fi
expect_eq "renamed log no longer written" "$size_old" "$(stat -c %s "$STORED_LOG.1")"
stored_stop
expect_eq "SIGTERM after SIGHUP exits 0" 0 "$STORED_EXIT"

# ------------------------------------- default socket from $XENSTORED_PATH
envsock=$PVD_RUNDIR/env.sock
XENSTORED_PATH=$envsock "$STORED" -f --pidfile "$PVD_RUNDIR/env.pid" \
	--log-file "$PVD_RUNDIR/env.log" &
epid=$!
track_pid $epid
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	[ -s "$PVD_RUNDIR/env.pid" ] && break
	pid_alive $epid || break
	sleep 0.05
done
if [ -S "$envsock" ]; then
	pass "\$XENSTORED_PATH is the default socket"
	expect_eq "daemon on \$XENSTORED_PATH serves" ok \
		"$(XENSTORED_PATH=$envsock xs write /e ok && XENSTORED_PATH=$envsock xs read /e)"
else
	fail "\$XENSTORED_PATH is the default socket" "no socket at $envsock"
fi
kill -TERM $epid
wait_pid_gone $epid && pass "env-socket daemon stops on SIGTERM" ||
	fail "env-socket daemon stops on SIGTERM"
[ -e "$envsock" ] && fail "env socket removed on exit" || pass "env socket removed on exit"

# ------------------------- started as Debian's /etc/init.d/xen starts one
# XENSTORED=pvd-stored in /etc/default/xen: start-stop-daemon without
# --background and with xenstored's --pid-file=FILE, so the daemon forks
# itself; the command returns once it serves, its pid in the file.
isock=$PVD_RUNDIR/init.sock ipidf=$PVD_RUNDIR/init.pid
if timeout 20 "$STORED" --pid-file="$ipidf" --socket "$isock" --hv none \
	--log-file "$PVD_RUNDIR/init.log"; then
	# It forked at once, as xenstored does; the pid file comes once it
	# serves.
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ -s "$ipidf" ] && break
		sleep 0.05
	done
	ipid=$(cat "$ipidf" 2>/dev/null)
	track_pid "${ipid:-0}"
	if [ -n "$ipid" ] && pid_alive "$ipid" && [ -S "$isock" ]; then
		pass "--pid-file: forks, the pid file names the running daemon"
		expect_eq "forked daemon serves" ok \
			"$(XENSTORED_PATH=$isock xs write /i ok && XENSTORED_PATH=$isock xs read /i)"
		kill -TERM "$ipid"
		wait_pid_gone "$ipid" && [ ! -e "$ipidf" ] &&
			pass "forked daemon stops on SIGTERM, pid file removed" ||
			fail "forked daemon stops on SIGTERM, pid file removed"
	else
		fail "--pid-file: forks, the pid file names the running daemon" \
			"pid '$ipid', socket $(ls -l "$isock" 2>&1)"
	fi
else
	fail "--pid-file: forks" "exit $?: $(cat "$PVD_RUNDIR/init.log")"
fi

finish
