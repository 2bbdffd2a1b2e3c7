#!/bin/bash
# systemd's readiness protocol (include/pvd/sdnotify.h) from each daemon,
# against a fake NOTIFY_SOCKET the test reads, as systemd would for a
# Type=notify unit: READY=1 once the daemon serves and a STATUS= line;
# WATCHDOG=1 from the event loop when WATCHDOG_USEC is set; a backend
# started before the store sends no READY=1 until it is connected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
command -v python3 >/dev/null || skip "python3 missing (scripts/deps.sh)"

# notify_reader NAME: a unix datagram socket $PVD_RUNDIR/NAME.notify whose
# datagrams are appended, one per line, to $PVD_RUNDIR/NAME.msgs.
notify_reader() {
	local sock=$PVD_RUNDIR/$1.notify out=$PVD_RUNDIR/$1.msgs
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace").replace("\n", "|") + "\n")
' "$sock" "$out" &
	track_pid $!
	wait_for "$PVD_WAIT_SECS" test -S "$sock" || die "notify reader $1 did not bind"
	: >>"$out"
}

has_msg() { grep -q -- "^$2" "$PVD_RUNDIR/$1.msgs"; }

expect_msg() {
	if wait_for "$PVD_WAIT_SECS" has_msg "$1" "$2"; then
		pass "$3"
	else
		fail "$3" "no '$2' from $1: $(tr '\n' ';' <"$PVD_RUNDIR/$1.msgs")"
	fi
}

# netback_up: pvd-netback by hand (netback_lib.sh would re-run the whole
# test in a network namespace; with no vif it makes no tap or bridge).
NETBACK_PID=
netback_up() {
	[ -x "$PVD_BIN/pvd-netback" ] || return 1
	"$PVD_BIN/pvd-netback" -f --hv sim --log-file "$PVD_RUNDIR/netback.log" \
		--ctl-socket "$PVD_RUNDIR/pvd-netback.sock" \
		>>"$PVD_RUNDIR/netback.stderr" 2>&1 &
	NETBACK_PID=$!
	track_pid "$NETBACK_PID"
}

for n in stored blkback consoled netback; do notify_reader $n; done

# A backend before the store: no READY=1 while it cannot serve.
NOTIFY_SOCKET=$PVD_RUNDIR/blkback.notify XENSTORED_PATH=$PVD_RUNDIR/xs.sock \
	timeout -k 2 3 "$PVD_BIN/pvd-blkback" -f --hv sim \
	--log-file "$PVD_RUNDIR/early.log" >/dev/null 2>&1
sleep 0.2	# lets a datagram in flight reach the reader (none expected)
if has_msg blkback "READY=1"; then
	fail "pvd-blkback without a store is not ready" "$(cat "$PVD_RUNDIR/blkback.msgs")"
else
	pass "pvd-blkback without a store is not ready"
fi
if [ -x "$PVD_BIN/pvd-netback" ]; then
	NOTIFY_SOCKET=$PVD_RUNDIR/netback.notify XENSTORED_PATH=$PVD_RUNDIR/xs.sock \
		timeout -k 2 3 "$PVD_BIN/pvd-netback" -f --hv sim \
		--ctl-socket "$PVD_RUNDIR/early-nb.sock" \
		--log-file "$PVD_RUNDIR/early-nb.log" >/dev/null 2>&1
	sleep 0.2
	if has_msg netback "READY=1"; then
		fail "pvd-netback without a store is not ready" "$(cat "$PVD_RUNDIR/netback.msgs")"
	else
		pass "pvd-netback without a store is not ready"
	fi
	expect_msg netback "STATUS=waiting for the store" \
		"pvd-netback without a store says it waits for it"
fi

STORED_HV=sim
export NOTIFY_SOCKET=$PVD_RUNDIR/stored.notify WATCHDOG_USEC=200000
stored_start
unset WATCHDOG_USEC
expect_msg stored "READY=1" "pvd-stored sends READY=1 once listening"
expect_msg stored "STATUS=serving .* connection" "pvd-stored sends its STATUS= line"
expect_msg stored "WATCHDOG=1" "pvd-stored feeds the watchdog from its loop"

export NOTIFY_SOCKET=$PVD_RUNDIR/blkback.notify
blkback_start
expect_msg blkback "READY=1" "pvd-blkback sends READY=1 once connected to the store"
expect_msg blkback "STATUS=serving 0 device" "pvd-blkback sends its STATUS= line"

export NOTIFY_SOCKET=$PVD_RUNDIR/consoled.notify
consoled_start
unset NOTIFY_SOCKET
expect_msg consoled "READY=1" "pvd-consoled sends READY=1 once following the store"
expect_msg consoled "STATUS=serving 0 console" "pvd-consoled sends its STATUS= line"

if [ -x "$PVD_BIN/pvd-netback" ]; then
	export NOTIFY_SOCKET=$PVD_RUNDIR/netback.notify WATCHDOG_USEC=200000
	netback_up
	unset NOTIFY_SOCKET WATCHDOG_USEC
	expect_msg netback "READY=1" "pvd-netback sends READY=1 once connected to the store"
	expect_msg netback "STATUS=serving 0 vif" "pvd-netback sends its STATUS= line"
	expect_msg netback "WATCHDOG=1" "pvd-netback feeds the watchdog from its loop"
fi

for n in blkback consoled ${NETBACK_PID:+netback}; do
	daemon_stop "${n^^}"
	expect_msg $n "STOPPING=1" "pvd-$n says STOPPING=1 on SIGTERM"
done
finish
