#!/bin/bash
# pvctl stats and pvctl top with NICs beside the disks: pvd-blkback runs,
# pvd-netback's control socket is played by a small python3 server
# answering canned "stats" lines (the shape of netback/xenbus.c
# nb_xenbus_stats; counters that grow with each request, so top has
# rates).  Checked: no socket or a stale one is no NIC section and no
# error; the vifs in stats (text and --json) and in top (-b frames,
# --json, -s sorting); a socket that answers garbage is one line naming
# pvd-netback (stats exits 1 after showing the disks, top goes on).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
need_xsutils
PY=/usr/bin/python3
[ -x "$PY" ] || skip "python3 not installed"
PVCTL=$PVD_BIN/pvctl
[ -x "$PVCTL" ] || die "$PVCTL not built (run: make)"
pvctl() { timeout -k 2 60 "$PVCTL" "$@"; }

# expect_status NAME STATUS CMD...: CMD exits with STATUS.
expect_status() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >/dev/null 2>&1
	rc=$?
	expect_eq "$name" "$want" "$rc"
}

# wait_for SECS CMD...: polls until CMD succeeds; 1 after SECS seconds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}
NBSOCK=$PVD_RUNDIR/pvd-netback.sock

STORED_HV=sim stored_start
blkback_start

# fake_netback MODE: serves $NBSOCK until stopped.  MODE good: two vifs,
# dom1's rx growing by 10 packets a request, dom2's by 1000; garbage: a
# line that is not JSON.
fake_netback() {
	"$PY" - "$NBSOCK" "$1" <<'PYEOF' &
import json, os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
n = 0
def queue(i, rx):
    q = {k: 0 for k in ("tx_packets", "tx_bytes", "tx_drops", "tx_errors", "rx_packets",
         "rx_bytes", "rx_drops", "rx_errors", "tx_ring_used", "rx_ring_used", "notify_sent",
         "notify_suppressed", "tx_credit_stalls", "rx_stalls", "tx_spoof_drops", "tx_gso",
         "rx_gso", "tx_frag_overflow", "rx_queue_len", "rx_queue_max")}
    q.update(index=i, rx_packets=rx, rx_bytes=rx * 100, tx_packets=7, tx_drops=1, rx_errors=2,
             thread=i, thread_cpu_ns=1000)
    return q
def vif(domid, rx):
    return {"domid": domid, "devid": 0, "name": "vif%d.0" % domid, "state": 4,
            "mac": "00:16:3e:00:00:0%d" % domid, "bridge": "br0", "mtu": 1500,
            "carrier": True, "rate_bytes": 0, "rate_usec": 0,
            "queues": [queue(0, rx), queue(1, rx)]}
while True:
    c, _ = s.accept()
    f = c.makefile("rwb")
    for line in f:
        n += 1
        if mode == "garbage":
            f.write(b"this is not json\n")
        else:
            doc = {"vifs": [vif(2, 1000 * n), vif(1, 10 * n)]}
            f.write(json.dumps(doc, separators=(",", ":")).encode() + b"\n")
        f.flush()
    c.close()
PYEOF
	NB_PID=$!
	track_pid "$NB_PID"
	wait_for 10 test -S "$NBSOCK" || fail "the fake pvd-netback listens"
}

# ------------------------------------------------- no pvd-netback at all
out=$(pvctl stats 2>&1)
expect_eq "stats without pvd-netback exits 0" 0 "$?"
[[ "$out" != *netback* ]] && pass "stats without pvd-netback: no NIC section, no error" ||
	fail "stats without pvd-netback: no NIC section, no error" "$out"
out=$(pvctl top -b -i 1 -d 0.1 2>&1)
expect_eq "top without pvd-netback exits 0" 0 "$?"
[[ "$out" != *netback* ]] && pass "top without pvd-netback: no NIC section" ||
	fail "top without pvd-netback: no NIC section" "$out"

# A socket file nobody listens on (a pvd-netback killed -9).
"$PY" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$NBSOCK"
out=$(pvctl stats 2>&1)
expect_eq "stats with a stale pvd-netback socket exits 0" 0 "$?"
[[ "$out" != *netback* ]] && pass "a stale pvd-netback socket: no NIC section" ||
	fail "a stale pvd-netback socket: no NIC section" "$out"
rm -f "$NBSOCK"

# ------------------------------------------------------------ NICs shown
fake_netback good
out=$(pvctl stats 2>&1)
expect_eq "stats with NICs exits 0" 0 "$?"
row=$(grep -E '^- +1 +vif1\.0 +all ' <<<"$out")
# rx 2 queues x 10 packets, 2000 bytes; rx-drop 0, rx-err 2 x 2; tx 14, 1 x 2 drops.
[[ "$row" =~ ^-\ +1\ +vif1\.0\ +all\ +Connected\ +up\ +20\ +0\.0\ +0\ +4\ +14\ +0\.0\ +2\ +0$ ]] &&
	pass "stats: vif1.0's row, its queues summed" || fail "stats: vif1.0's row, its queues summed" "$out"
[[ "$out" == *"pvd-netback: 2 vif(s)"* ]] && [[ "$out" == *"pvd-blkback: engine"* ]] &&
	pass "stats: disks and NICs side by side" || fail "stats: disks and NICs side by side" "$out"
[ "$(grep -c 'vif2\.0' <<<"$out")" = 3 ] && pass "stats: a row per vif and per queue" ||
	fail "stats: a row per vif and per queue" "$out"
grep -qE '^- +2 +vif2\.0 +1 +thread 1 ' <<<"$out" &&
	pass "stats: a queue's row names its I/O thread" ||
	fail "stats: a queue's row names its I/O thread" "$out"
out=$(pvctl stats --json 2>&1)
if "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["devices"] == [] and "engine" in d, d
v = [x for x in d["vifs"] if x["domid"] == 2][0]
assert v["name"] == "vif2.0" and v["domain_name"] == "-" and v["carrier"] is True
assert len(v["queues"]) == 2 and v["queues"][1]["rx_bytes"] > 0
' "$out"; then pass "stats --json: the vifs, as pvd-netback gave them, named"
else fail "stats --json: the vifs, as pvd-netback gave them, named" "$out"; fi
xs write /local/domain/1/name nicguest
out=$(pvctl stats --json nicguest 2>&1)
[[ "$out" != *'"domid":2'* ]] && [[ "$out" == *'"domain_name":"nicguest","domid":1'* ]] &&
	pass "stats --json DOMAIN filters vifs and names them" ||
	fail "stats --json DOMAIN filters vifs and names them" "$out"

out=$(pvctl top -b -i 2 -d 0.2 2>&1)
expect_eq "top -b -i 2 with NICs exits 0" 0 "$?"
[ "$(grep -c '^pvctl top' <<<"$out")" = 2 ] && [ "$(grep -c '^NAME .* VIF ' <<<"$out")" = 2 ] &&
	pass "top -b -i 2: two frames, each with its NIC section" || fail "top -b -i 2: two frames, each with its NIC section" "$out"
first=$(grep -E ' vif[12]\.0 ' <<<"$out" | head -n1)
[[ "$first" == *vif1.0* ]] && pass "top: vifs by id by default" || fail "top: vifs by id by default" "$out"
out=$(pvctl top -b -i 1 -d 0.2 -s ops 2>&1)
first=$(grep -E ' vif[12]\.0 ' <<<"$out" | head -n1)
[[ "$first" =~ vif2\.0\ +Connected\ +up\ +[0-9-]+\ +[1-9][0-9]* ]] && pass "top -s ops: the busiest vif first, its rate shown" ||
	fail "top -s ops: the busiest vif first, its rate shown" "$out"
expect_status "top -s with an unknown field: exit 2" 2 pvctl top -b -s nope
out=$(pvctl top --json -i 2 -d 0.2 -s mbps 2>&1)
if "$PY" -c '
import json, sys
frames = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
assert len(frames) == 2, frames
for f in frames:
    assert f["sort"] == "mbps" and f["rings"] == []
    v = f["vifs"]
    assert [x["vif"] for x in v] == ["vif2.0", "vif1.0"], v
    assert v[0]["rx_pps"] > v[1]["rx_pps"] > 0 and v[0]["carrier"] is True
' "$out"; then pass "top --json: vifs with rates, sorted"
else fail "top --json: vifs with rates, sorted" "$out"; fi
stop_pid "$NB_PID"
rm -f "$NBSOCK"

# ------------------------------------------------------- garbage answers
fake_netback garbage
out=$(pvctl stats 2>"$PVD_RUNDIR/err")
expect_eq "stats with a pvd-netback answering garbage exits 1" 1 "$?"
[[ "$out" == *"pvd-blkback: engine"* ]] && pass "garbage from pvd-netback: the disks still shown" ||
	fail "garbage from pvd-netback: the disks still shown" "$out"
err=$(cat "$PVD_RUNDIR/err")
[ "$(wc -l <<<"$err")" = 1 ] && [[ "$err" == "pvctl: pvd-netback at $NBSOCK: bad answer: "* ]] &&
	pass "garbage from pvd-netback: one line naming it" || fail "garbage from pvd-netback: one line naming it" "$err"
out=$(pvctl top -b -i 2 -d 0.2 2>&1)
expect_eq "top with a pvd-netback answering garbage goes on" 0 "$?"
[ "$(grep -c "^pvd-netback at $NBSOCK: bad answer" <<<"$out")" = 2 ] &&
	pass "top: the garbage told once a frame" || fail "top: the garbage told once a frame" "$out"
stop_pid "$NB_PID"
finish
