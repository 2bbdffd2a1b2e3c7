#!/bin/bash
# pvd-blkback's control socket ($PVD_RUNDIR/pvd-blkback.sock) against
# hostile local clients, and the files a root daemon makes in its run
# directory (issue 11):
# - a client that is neither root nor the daemon's user is refused even
#   when the socket's mode would let it in (the test makes it 0666): the
#   SO_PEERCRED check does the work; the refusals' log lines are bounded;
# - a client that sends `stats` requests without end and never reads: the
#   daemon stops reading it once it owes 1 MiB of answers (its RSS stays
#   bounded) and closes it when it takes nothing for 5 s;
# - something that is not a socket at a socket's path (a symlink, a file)
#   is left alone and the daemon refuses to start (pvd-blkback's
#   --ctl-socket and pvd-stored's --socket); a symlink planted at the
#   pidfile's temporary name is not followed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
need_xsutils
PY=/usr/bin/python3
[ -x "$PY" ] || skip "python3 not installed"

# ASan's quarantine would keep every freed stats answer (about 2 KiB of
# JSON each, 40 MiB over the never-reading client): without it the RSS
# bound below measures pvd-blkback's own bound in sanitizer builds too.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
STORED_HV=sim stored_start
CTL=$PVD_RUNDIR/pvd-blkback.sock

# ------------------------------------------------------------ the pidfile
echo precious >"$PVD_RUNDIR/victim.pid"
ln -s "$PVD_RUNDIR/victim.pid" "$BLKBACK_PIDFILE.tmp"
blkback_start
expect_eq "a symlink at the pidfile's temporary name is not followed" precious \
	"$(cat "$PVD_RUNDIR/victim.pid")"
[ -f "$BLKBACK_PIDFILE" ] && [ ! -L "$BLKBACK_PIDFILE" ] &&
	pass "the pidfile is a file of its own" || fail "the pidfile is a file of its own"
expect_eq "the socket is born 0600" 600 "$(stat -c %a "$CTL")"

# ctl_ask UID REQUEST: connects as UID (setpriv), sends REQUEST, prints
# the first answer, or CLOSED when the daemon closes it without one.
ctl_ask() {
	local uid=$1
	shift
	timeout -k 2 20 setpriv --reuid="$uid" --regid="$uid" --clear-groups "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
    s.sendall(sys.argv[2].encode() + b"\n")
    got = s.recv(4096)
except (ConnectionResetError, BrokenPipeError):
    got = b""
except OSError as e:
    print("ERR %s" % e.__class__.__name__)
    sys.exit(0)
print(got.decode().strip() if got else "CLOSED")
' "$CTL" "$*"
}

# ------------------------------------------------------------ who may connect
expect_eq "root is answered" pong "$(ctl_ask 0 ping)"
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$PVD_RUNDIR"
	chmod 0666 "$CTL"
	expect_eq "another user is refused although the socket is 0666" CLOSED "$(ctl_ask 65534 stats)"
	expect_log_has() { grep -qF -- "$1" "$BLKBACK_LOG"; }
	wait_for_log() {
		local i
		for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
			expect_log_has "$1" && return 0
			sleep 0.05
		done
		return 1
	}
	wait_for_log "control client refused: pid" && pass "the refusal is logged" ||
		fail "the refusal is logged" "$(tail -n 3 "$BLKBACK_LOG")"
	for i in $(seq 1 40); do ctl_ask 65534 ping >/dev/null; done
	n=$(grep -c "control client refused: pid" "$BLKBACK_LOG")
	[ "$n" -lt 40 ] && pass "41 refusals make fewer log lines ($n)" ||
		fail "41 refusals make fewer log lines" "$n lines"
	expect_eq "root is still answered" pong "$(ctl_ask 0 ping)"
	chmod 0600 "$CTL"
else
	log "not root: the other-user case needs setpriv to another uid"
fi

# ------------------------------------------------------------ a client that never reads
# It sends up to 6 MiB of "stats\n" without reading a byte, watching the
# daemon's RSS, until the daemon closes it or 2 * PVD_WAIT_SECS pass.
out=$(timeout -k 2 $((PVD_WAIT_SECS * 2 + 10)) "$PY" - "$CTL" "$BLKBACK_PID" $((6 << 20)) \
	$((PVD_WAIT_SECS * 2)) <<'EOF'
import select, socket, sys, time
path, pid, total, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
def rss():
    try:
        for l in open("/proc/%s/status" % pid):
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.setblocking(False)
chunk = b"stats\n" * 4096
sent, closed = 0, False
start = peak = rss()
p = select.poll()
p.register(s, select.POLLOUT | select.POLLRDHUP)
end = time.monotonic() + secs
while time.monotonic() < end:
    ev = p.poll(100)
    peak = max(peak, rss())
    flags = ev[0][1] if ev else 0
    if flags & (select.POLLHUP | select.POLLRDHUP | select.POLLERR):
        closed = True
        break
    if flags & select.POLLOUT:
        try:
            sent += s.send(chunk[:min(len(chunk), total - sent)])
        except BlockingIOError:
            pass
        except OSError:
            closed = True
            break
        if sent >= total:
            p.modify(s, select.POLLRDHUP)
print("closed=%d sent=%d rss_start=%d rss_peak=%d" % (closed, sent, start, peak))
EOF
)
log "$out"
expect_eq "a client that never reads is closed" 1 "$(sed -n 's/.*closed=\([01]\).*/\1/p' <<<"$out")"
start=$(sed -n 's/.*rss_start=\([0-9]*\).*/\1/p' <<<"$out")
peak=$(sed -n 's/.*rss_peak=\([0-9]*\).*/\1/p' <<<"$out")
[ -n "$start" ] && [ -n "$peak" ] && [ $((peak - start)) -lt 8192 ] &&
	pass "the daemon's RSS stays bounded (grew $((peak - start)) kB, bound 1 MiB of answers)" ||
	fail "the daemon's RSS stays bounded" "start ${start:-?} kB, peak ${peak:-?} kB"
expect_in() {
	local i
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		grep -qF -- "$2" "$BLKBACK_LOG" && { pass "$1"; return; }
		sleep 0.05
	done
	fail "$1" "the log lacks '$2'"
}
expect_in "the close is logged" "control client closed: it read none of its answers"
expect_eq "root is still answered after it" pong "$(ctl_ask 0 ping)"
blkback_alive "pvd-blkback survives the control clients"
blkback_stop
expect_eq "pvd-blkback exits 0" 0 "$BLKBACK_EXIT"

# ------------------------------------------------------------ not a socket
echo precious >"$PVD_RUNDIR/victim"
ln -s "$PVD_RUNDIR/victim" "$PVD_RUNDIR/link.sock"
timeout -k 2 "$PVD_WAIT_SECS" "$PVD_BIN/pvd-blkback" -f --hv sim --ctl-socket "$PVD_RUNDIR/link.sock" \
	--log-file "$PVD_RUNDIR/bb2.log" >/dev/null 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] &&
	pass "a symlink at the control socket's path: pvd-blkback refuses to start (exit $rc)" ||
	fail "a symlink at the control socket's path: pvd-blkback refuses to start" "exit $rc"
[ -L "$PVD_RUNDIR/link.sock" ] && pass "the symlink is left alone" || fail "the symlink is left alone"
expect_eq "its target is untouched" "precious 644" \
	"$(cat "$PVD_RUNDIR/victim") $(stat -c %a "$PVD_RUNDIR/victim")"
grep -qF "link.sock exists and is not a socket: left alone" "$PVD_RUNDIR/bb2.log" &&
	pass "one clear line says why" || fail "one clear line says why" "$(tail -n 3 "$PVD_RUNDIR/bb2.log")"

echo precious >"$PVD_RUNDIR/file.sock"
timeout -k 2 "$PVD_WAIT_SECS" "$PVD_BIN/pvd-stored" -f --hv none --socket "$PVD_RUNDIR/file.sock" \
	--log-file "$PVD_RUNDIR/st2.log" >/dev/null 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] &&
	pass "a file at the store's socket path: pvd-stored refuses to start (exit $rc)" ||
	fail "a file at the store's socket path: pvd-stored refuses to start" "exit $rc"
expect_eq "the file is untouched" precious "$(cat "$PVD_RUNDIR/file.sock" 2>&1)"

stored_alive "the store is still running"
finish
