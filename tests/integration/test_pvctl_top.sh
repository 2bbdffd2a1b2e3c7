#!/bin/bash
# pvctl top and pvctl stats against the real daemons, every section:
# pvd-stored (sim hypervisor), pvd-blkback with a busy disk (blkfront_test
# bench), pvd-netback with a vif, pvd-consoled with a simulated guest
# writing to its console.  Checked: `pvctl top -b -i 2` prints two frames,
# each with the disks, NICs, consoles and store sections carrying real
# numbers; console bytes rise after the guest writes and the store's READ
# requests after xenstore-read (stats --json); pvd-consoled's control
# socket refuses another user even at mode 0666; the store's statistics
# are refused to an unprivileged connection (EACCES: "n/a" in pvctl, which
# goes on); pvctl top --json carries "consoles" and "store"; consoles
# sorted by id, and by bytes per second with -s ops.
# Root needed (pvd-netback's taps, in a private network namespace).
. "$(dirname "$0")/netback_lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils
PY=/usr/bin/python3
[ -x "$PY" ] || skip "python3 not installed"
PVCTL=$PVD_BIN/pvctl
[ -x "$PVCTL" ] || die "$PVCTL not built (run: make)"
pvctl() { timeout -k 2 60 "$PVCTL" "$@"; }
CONCTL=$PVD_RUNDIR/pvd-consoled.sock
GSOCK=$PVD_RUNDIR/dom7-store.sock

# json_get JSON EXPR: a python expression over d (the document).
json_get() { "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

STORED_HV=sim stored_start --guest-socket "7:$GSOCK"
blkback_start
netback_start
consoled_start

# A guest with a console, its pty drained by a reader.
guest_start g7 7
toolstack_add g7 topguest
tty=$(wait_tty 7) || die "no console/tty for dom7"
reader_start "$PVD_RUNDIR/g7.pty" "$tty"
# A quiet guest with a lower domid: id order puts it first, -s ops last.
guest_start g5 5
toolstack_add g5 quietguest
wait_tty 5 >/dev/null || die "no console/tty for dom5"
# A vif (pvd-netback probes it: InitWait), on a bridge of this namespace.
ip link add topbr0 type bridge || die "cannot make a bridge"
vif_add 7 0 bridge=topbr0
wait_node "$NB_BE/7/0/state" 2

# ------------------------------------------------- consoled's socket
expect_eq "pvd-consoled's control socket answers ping" pong \
	"$(printf 'ping\n' | timeout -k 2 10 socat -t 2 - "UNIX-CONNECT:$CONCTL")"
expect_eq "pvd-consoled's control socket is born 0600" 600 "$(stat -c %a "$CONCTL")"
chmod 755 "$PVD_RUNDIR"
chmod 0666 "$CONCTL"
got=$(timeout -k 2 20 setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
    s.sendall(b"stats\n")
    got = s.recv(4096)
except (ConnectionResetError, BrokenPipeError):
    got = b""
print(got.decode().strip() if got else "CLOSED")
' "$CONCTL")
expect_eq "pvd-consoled refuses another user although the socket is 0666" CLOSED "$got"
wait_for "$PVD_WAIT_SECS" file_has "$CONSOLED_LOG" "control client refused: pid" &&
	pass "pvd-consoled logs the refusal" || fail "pvd-consoled logs the refusal" "$(tail -n 3 "$CONSOLED_LOG")"
chmod 0600 "$CONCTL"

# ------------------------------------------------- stats: rising counters
out_bytes() { json_get "$(pvctl stats --json)" '[c["out_bytes"] for c in d["consoles"] if c["domid"] == 7][0]'; }
before=$(out_bytes)
gcmd g7 write "twenty bytes of text"
rose() { [ "$(out_bytes)" -ge $((before + 20)) ]; }
wait_for "$PVD_WAIT_SECS" rose && pass "stats: console bytes rise after the guest writes ($before -> $(out_bytes))" ||
	fail "stats: console bytes rise after the guest writes" "$before -> $(out_bytes)"
reads() { json_get "$(pvctl stats --json)" 'd["store"]["requests"]["READ"]'; }
before=$(reads)
for i in 1 2 3 4 5; do xs read /local/domain/7/name >/dev/null; done
after=$(reads)
# pvctl's own names lookups read too: at least the five.
[ "$after" -ge $((before + 5)) ] && pass "stats: the store's READ requests rise after xenstore-read ($before -> $after)" ||
	fail "stats: the store's READ requests rise after xenstore-read" "$before -> $after"
out=$(pvctl stats 2>&1)
expect_eq "stats with every daemon exits 0" 0 "$?"
grep -qE '^topguest +7 +primary +/dev/pts/[0-9]+ +connected +[1-9][0-9]* ' <<<"$out" &&
	pass "stats: the console's row (name, pty, state, bytes)" || fail "stats: the console's row" "$out"
grep -qE '^pvd-stored: [1-9][0-9]* connection\(s\) .* [1-9][0-9]* node\(s\).* [1-9][0-9]* request\(s\)' <<<"$out" &&
	pass "stats: the store's line" || fail "stats: the store's line" "$out"

# ------------------------------------------------- top: two frames
# A disk kept busy through the frames (null engine, reads).
front_bg "$PVD_RUNDIR/busy.out" --domid 11 --params null:1G attach bench randread 4096 8 8 detach
busy=$FRONT_PID
wait_for "$PVD_WAIT_SECS" eval '[[ "$(ctl stats)" == *"\"domid\":11"*"\"rd_req\":"[1-9]* ]]' ||
	die "the disk of dom11 never read"
( while :; do gcmd g7 write "line for the frames"; sleep 0.1; done ) &
writer=$!
track_pid "$writer"
out=$(pvctl top -b -i 2 -d 1 2>&1)
rc=$?
sorted=$(pvctl top -b -i 1 -d 0.5 -s ops 2>&1)
stop_pid "$writer"
expect_eq "top -b -i 2 exits 0" 0 "$rc"
expect_eq "top -b -i 2: two frames" 2 "$(grep -c '^pvctl top - ' <<<"$out")"
# Each frame (split on its header line) with every section and numbers.
awk -v d="$PVD_RUNDIR" '/^pvctl top - /{n++} n{print > (d "/frame" n)}' <<<"$out"
for n in 1 2; do
	f=$(cat "$PVD_RUNDIR/frame$n" 2>/dev/null)
	grep -qE '^- +11 +xvda +Connected +[0-9]+ +[0-9]+ +[1-9][0-9]* ' <<<"$f" &&
		pass "frame $n: the busy disk's IOPS" || fail "frame $n: the busy disk's IOPS" "$f"
	grep -qE '^topguest +7 +vif7\.0 +InitWait +(up|down) +[0-9-]+ ' <<<"$f" &&
		pass "frame $n: the NIC section with dom7's vif" || fail "frame $n: the NIC section with dom7's vif" "$f"
	grep -qE '^topguest +7 +primary +/dev/pts/[0-9]+ +connected +[1-9][0-9]* ' <<<"$f" &&
		pass "frame $n: the console section, its output rate" || fail "frame $n: the console section, its output rate" "$f"
	grep -qE '^pvd-stored: [1-9][0-9]* connection\(s\) .*; [0-9.]*[1-9][0-9.]* request\(s\)/s' <<<"$f" &&
		pass "frame $n: the store's line, requests per second" || fail "frame $n: the store's line, requests per second" "$f"
done
cons_order() { grep -E '^[a-z]+ +[57] +primary ' <<<"$1" | awk '{print $2}' | head -n 2 | tr '\n' ' '; }
expect_eq "top: consoles by id by default" "5 7 " "$(cons_order "$(cat "$PVD_RUNDIR/frame1")")"
expect_eq "top -s ops: the busy console first" "7 5 " "$(cons_order "$sorted")"
out=$(pvctl top --json -i 2 -d 0.5 -s mbps 2>&1)
if "$PY" -c '
import json, sys
frames = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
assert len(frames) == 2, frames
for f in frames:
    c = [x for x in f["consoles"] if x["domid"] == 7]
    assert c and c[0]["console"] == "primary" and c[0]["out_bytes"] > 0, f
    s = f["store"]
    assert s["connections"] > 0 and s["nodes"] > 0 and s["requests_per_s"] > 0, s
    assert f["vifs"], f
' "$out"; then pass "top --json: consoles and store in each frame"
else fail "top --json: consoles and store in each frame" "$out"; fi
front_wait "$busy"
expect_eq "the busy disk's run completes" 0 $?

# ------------------------------------------------- the store refuses
out=$(XENSTORED_PATH=$GSOCK pvctl stats 2>&1)
expect_eq "stats through an unprivileged store connection still exits 0" 0 "$?"
grep -qx 'store: n/a (Permission denied)' <<<"$out" &&
	pass "the store's statistics are refused to an unprivileged connection (EACCES)" ||
	fail "the store's statistics are refused to an unprivileged connection (EACCES)" "$out"
out=$(XENSTORED_PATH=$GSOCK pvctl top -b -i 2 -d 0.2 2>&1)
expect_eq "top through an unprivileged store connection exits 0" 0 "$?"
expect_eq "top: the store n/a in each frame" 2 "$(grep -c '^store: n/a (Permission denied)$' <<<"$out")"

consoled_alive "pvd-consoled still runs"
blkback_alive "pvd-blkback still runs"
ip link del topbr0 2>/dev/null
finish_consoled
