#!/bin/bash
# --metrics (issue 13): pvd-stored, pvd-blkback, pvd-consoled and
# pvd-netback serving Prometheus metrics on TCP ports (in a private network
# namespace: netback_lib.sh) and unix sockets; a guest made by pvctl with
# a disk, a console and a NIC does a little I/O (NBD reads and writes,
# pings, a line typed on its console).  Each scrape is validated by a real
# parser, python3-prometheus-client's text_string_to_metric_families
# (plus: histograms cumulative, +Inf bucket == _count), its families
# checked, and the counters must rise with the I/O.  A daemon without
# --metrics listens nowhere new.
. "$(dirname "$0")/netback_lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils
PY=/usr/bin/python3
$PY -c 'import prometheus_client' 2>/dev/null ||
	skip "python3-prometheus-client not installed (scripts/deps.sh)"
for c in curl nbdcopy ping ss; do
	command -v "$c" >/dev/null || skip "$c not installed (scripts/deps.sh)"
done
PVCTL=$PVD_BIN/pvctl
[ -x "$PVCTL" ] && [ -x "$PVD_BIN/pvguest" ] || die "pvctl or pvguest not built (run: make)"
ip link set lo up || die "cannot bring lo up in the test's namespace"

DOMS=()
cleanup_guests() {
	local d
	for d in "${DOMS[@]}"; do
		timeout -k 2 30 "$PVCTL" destroy "$d" >/dev/null 2>&1
	done
}
trap 'rc=$?; cleanup_guests; (exit $rc); _pvd_cleanup' EXIT

# The parser: every family and sample as "name{k="v",...} value" (labels
# sorted), or the parser's error and exit 1.
cat >"$PVD_RUNDIR/parse.py" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
try:
    fams = list(text_string_to_metric_families(text))
except Exception as e:
    print("unparsable: %r" % (e,)); sys.exit(1)
bad = []
for f in fams:
    print("family %s %s" % (f.name, f.type))
    if f.type == "histogram":
        series = {}
        for s in f.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, []).append(s)
        for key, ss in series.items():
            b = [s for s in ss if s.name.endswith("_bucket")]
            c = [s.value for s in ss if s.name.endswith("_count")]
            cum = [s.value for s in b]
            if not b or b[-1].labels.get("le") != "+Inf" or cum != sorted(cum) or c != [cum[-1]]:
                bad.append("%s%s: buckets %s count %s" % (f.name, key, cum, c))
    for s in f.samples:
        l = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %s" % (s.name, l, repr(float(s.value))))
if bad:
    print("bad histogram: " + "; ".join(bad)); sys.exit(1)
PYEOF

# scrape NAME ADDR: GET /metrics from ADDR (PORT or unix:PATH) into
# $PVD_RUNDIR/NAME.prom, parsed into NAME.txt; 1 when either fails.
scrape() {
	local name=$1 addr=$2 f=$PVD_RUNDIR/$1
	local c=(curl -fsS --max-time 10 -D "$f.hdr" -o "$f.prom")
	if [[ "$addr" == unix:* ]]; then
		"${c[@]}" --unix-socket "${addr#unix:}" http://localhost/metrics
	else
		"${c[@]}" "http://127.0.0.1:$addr/metrics"
	fi || return 1
	$PY "$PVD_RUNDIR/parse.py" "$f.prom" >"$f.txt"
}
# val NAME SAMPLE: a sample's value in the last scrape of NAME (SAMPLE's
# labels in sorted order, as parse.py prints them).
val() {
	awk -v s="$2" '$1 == s { print $2 + 0; f = 1 } END { if (!f) print "none" }' \
		"$PVD_RUNDIR/$1.txt"
}
# check_scrape NAME ADDR FAMILY...: scrape ADDR; parsed; content type;
# each family and pvd_build_info there.
check_scrape() {
	local name=$1 addr=$2 fam
	shift 2
	if ! scrape "$name" "$addr"; then
		fail "$name: scrape of $addr parses" "$(head -c 300 "$PVD_RUNDIR/$name.txt" 2>/dev/null)"
		return
	fi
	pass "$name: scrape of $addr parses"
	grep -qi '^content-type: text/plain; version=0.0.4' "$PVD_RUNDIR/$name.hdr" &&
		pass "$name: text/plain; version=0.0.4" ||
		fail "$name: text/plain; version=0.0.4" "$(cat "$PVD_RUNDIR/$name.hdr")"
	for fam in pvd_build_info "$@"; do
		grep -q "^family $fam " "$PVD_RUNDIR/$name.txt" && pass "$name: family $fam" ||
			fail "$name: family $fam"
	done
}
# rises NAME SAMPLE BEFORE: the sample grew past BEFORE.
rises() {
	local now
	now=$(val "$1" "$2")
	[[ "$now" != none && "$3" != none ]] && awk -v a="$3" -v b="$now" 'BEGIN { exit !(b > a) }' &&
		pass "$1: $2 rises ($3 -> $now)" || fail "$1: $2 rises" "$3 -> $now"
}

# ------------------------------------------------ off: no listener at all
STORED_HV=sim stored_start
expect_eq "without --metrics: no TCP listener" "" "$(ss -Hltn)"
expect_eq "without --metrics: pvd-stored's unix listeners are its own" \
	"$STORED_SOCK" "$(ss -Hlxp | grep "pid=$STORED_PID," | awk '{ print $5 }' | sort -u)"
stored_stop

# ------------------------------------------------ on, every daemon
STORED_HV=sim stored_start --metrics "unix:$PVD_RUNDIR/stored.metrics"
blkback_start --metrics 9101
consoled_start --metrics 127.0.0.1:9102
netback_start --metrics "unix:$PVD_RUNDIR/netback.metrics"
ip link add mbr0 type bridge && ip addr add 10.9.0.1/24 dev mbr0 &&
	ip link set mbr0 up || die "cannot make bridge mbr0"
chmod 755 "$PVD_RUNDIR"

IMG=$BB_DATA/disk.img
truncate -s 16M "$IMG" || die "cannot make the disk image"
cat >"$PVD_RUNDIR/m.cfg" <<CFG
name = "m"
memory = 32
disk = [ 'file:$IMG,xvda,w' ]
vif = [ 'bridge=mbr0,mac=00:16:3e:00:00:41' ]
CFG
DOM=$(timeout -k 2 60 "$PVCTL" create "$PVD_RUNDIR/m.cfg") || die "pvctl create failed"
DOMS+=("$DOM")
wait_node "/local/domain/0/backend/vbd/$DOM/51712/state" 4 || die "vbd not Connected"
wait_node "$NB_BE/$DOM/0/state" 4 || die "vif not Connected"
guest_exec "$DOM" ip addr add 10.9.0.11/24 dev eth0 || die "address the guest"
guest_exec "$DOM" ip link set eth0 up || die "guest's eth0 up"

VBD="domain=\"$DOM\",vdev=\"51712\""	# labels in sorted order
VIF="devid=\"0\",domain=\"$DOM\""
check_scrape stored "unix:$PVD_RUNDIR/stored.metrics" pvd_store_connections \
	pvd_store_watches pvd_store_transactions pvd_store_domains pvd_store_rings \
	pvd_store_requests pvd_store_quota_refusals
check_scrape blkback 9101 pvd_vbd_requests pvd_vbd_bytes pvd_vbd_errors \
	pvd_vbd_request_duration_seconds
check_scrape consoled 9102 pvd_console_bytes pvd_console_dropped_bytes
check_scrape netback "unix:$PVD_RUNDIR/netback.metrics" pvd_vif_packets \
	pvd_vif_bytes pvd_vif_drops pvd_vif_errors pvd_vif_carrier
expect_eq "pvd_build_info names the program" 1 \
	"$(val blkback "pvd_build_info{program=\"pvd-blkback\",version=\"$(cat "$PVD_REPO/VERSION")\"}")"
expect_eq "the guest's vif has carrier" 1 "$(val netback "pvd_vif_carrier{$VIF}")"
expect_eq "pvd-stored sees the guest's ring" 1 "$(val stored pvd_store_rings{})"
[ "$(val stored pvd_store_watches{})" != none ] && [ "$(val stored pvd_store_watches{})" -gt 0 ] &&
	pass "pvd-stored counts the backends' watches" || fail "pvd-stored counts the backends' watches"

SRD=$(val stored 'pvd_store_requests_total{type="READ"}')
RD=$(val blkback "pvd_vbd_requests_total{domain=\"$DOM\",op=\"read\",vdev=\"51712\"}")
WR=$(val blkback "pvd_vbd_requests_total{domain=\"$DOM\",op=\"write\",vdev=\"51712\"}")
RB=$(val blkback "pvd_vbd_bytes_total{domain=\"$DOM\",op=\"read\",vdev=\"51712\"}")
WB=$(val blkback "pvd_vbd_bytes_total{domain=\"$DOM\",op=\"write\",vdev=\"51712\"}")
LAT=$(val blkback "pvd_vbd_request_duration_seconds_count{$VBD}")
TXP=$(val netback "pvd_vif_packets_total{devid=\"0\",direction=\"tx\",domain=\"$DOM\"}")
RXP=$(val netback "pvd_vif_packets_total{devid=\"0\",direction=\"rx\",domain=\"$DOM\"}")
RXB=$(val netback "pvd_vif_bytes_total{devid=\"0\",direction=\"rx\",domain=\"$DOM\"}")
CIN=$(val consoled "pvd_console_bytes_total{console=\"primary\",direction=\"in\",domain=\"$DOM\"}")
COUT=$(val consoled "pvd_console_bytes_total{console=\"primary\",direction=\"out\",domain=\"$DOM\"}")

# ------------------------------------------------ a little I/O
URI="nbd+unix:///?socket=$PVD_RUNDIR/guests/dom$DOM/vbd-51712.nbd"
head -c 1M /dev/urandom >"$PVD_RUNDIR/data"
expect_ok "write 1 MiB through the guest's disk" timeout -k 2 60 nbdcopy "$PVD_RUNDIR/data" "$URI"
expect_ok "read the disk back" timeout -k 2 60 nbdcopy "$URI" "$PVD_RUNDIR/back"
expect_ok "ping the guest" timeout -k 2 20 ping -c 3 -i 0.2 -W 2 10.9.0.11
TTY=$(tty_of "$DOM")
[ -n "$TTY" ] && [ -c "$TTY" ] || die "no console tty for dom$DOM"
expect_ok "type a line on the guest's console" timeout 5 bash -c "printf 'echo metrics\n' >'$TTY'"
# What was typed reaches the guest's in ring (bounded wait, no threshold).
console_in_rose() {
	scrape consoled 9102 && [ "$(val consoled "pvd_console_bytes_total{console=\"primary\",direction=\"in\",domain=\"$DOM\"}")" != "$CIN" ]
}
wait_for "$PVD_WAIT_SECS" console_in_rose

for i in 1 2 3; do xs read /tool >/dev/null 2>&1; done
scrape stored "unix:$PVD_RUNDIR/stored.metrics" || fail "stored: second scrape parses"
rises stored 'pvd_store_requests_total{type="READ"}' "$SRD"
awk -v a="$SRD" -v b="$(val stored 'pvd_store_requests_total{type="READ"}')" \
	'BEGIN { exit !(b - a >= 3) }' && pass "stored: the 3 reads counted" ||
	fail "stored: the 3 reads counted" "$SRD -> $(val stored 'pvd_store_requests_total{type="READ"}')"
scrape blkback 9101 || fail "blkback: second scrape parses"
scrape netback "unix:$PVD_RUNDIR/netback.metrics" || fail "netback: second scrape parses"
scrape consoled 9102 || fail "consoled: second scrape parses"
rises blkback "pvd_vbd_requests_total{domain=\"$DOM\",op=\"read\",vdev=\"51712\"}" "$RD"
rises blkback "pvd_vbd_requests_total{domain=\"$DOM\",op=\"write\",vdev=\"51712\"}" "$WR"
rises blkback "pvd_vbd_bytes_total{domain=\"$DOM\",op=\"read\",vdev=\"51712\"}" "$RB"
rises blkback "pvd_vbd_bytes_total{domain=\"$DOM\",op=\"write\",vdev=\"51712\"}" "$WB"
rises blkback "pvd_vbd_request_duration_seconds_count{$VBD}" "$LAT"
rises netback "pvd_vif_packets_total{devid=\"0\",direction=\"tx\",domain=\"$DOM\"}" "$TXP"
rises netback "pvd_vif_packets_total{devid=\"0\",direction=\"rx\",domain=\"$DOM\"}" "$RXP"
rises netback "pvd_vif_bytes_total{devid=\"0\",direction=\"rx\",domain=\"$DOM\"}" "$RXB"
rises consoled "pvd_console_bytes_total{console=\"primary\",direction=\"in\",domain=\"$DOM\"}" "$CIN"

# ------------------------------------------------ bounds and refusals
out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://127.0.0.1:9101/nope)
expect_eq "an unknown path: 404" 404 "$out"
out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST http://127.0.0.1:9101/metrics)
expect_eq "POST: 501 (evhttp's answer to a method not allowed)" 501 "$out"
# 17 connections held open, one request each: the 17th is refused.
out=$(timeout -k 2 30 $PY - <<'PYEOF'
import http.client
conns, codes = [], []
for i in range(17):
    c = http.client.HTTPConnection("127.0.0.1", 9101, timeout=10)
    c.request("GET", "/metrics")
    r = c.getresponse(); r.read()
    codes.append(r.status); conns.append(c)
print(" ".join(str(x) for x in sorted(set(codes))), codes.count(200), codes[-1])
PYEOF
)
expect_eq "16 connections served, the 17th answered 503" "200 503 16 503" "$out"
out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://127.0.0.1:9101/metrics)
expect_eq "once they are closed, a new connection is served" 200 "$out"
expect_eq "the unix socket is 0600" 600 "$(stat -c %a "$PVD_RUNDIR/netback.metrics")"
for n in blkback consoled netback; do
	v=${n^^}_PID
	pid_alive "${!v}" && pass "pvd-$n still runs" || fail "pvd-$n still runs"
done
pid_alive "$STORED_PID" && pass "pvd-stored still runs" || fail "pvd-stored still runs"
cleanup_guests
DOMS=()
stored_stop
[ -e "$PVD_RUNDIR/stored.metrics" ] && fail "pvd-stored removed its metrics socket at exit" ||
	pass "pvd-stored removed its metrics socket at exit"

# ------------------------------------------------ a quota refusal counted
# --max-connections 1 (a limit dom0 is subject to too): one connection
# held open, then a xenstore-read is refused, and max_conns counts it.
# The other daemons go first: they would reconnect and take the slot.
blkback_stop
consoled_stop
netback_stop
STORED_HV=sim stored_start --metrics "unix:$PVD_RUNDIR/stored.metrics" --max-connections 1
$PY -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(60)' "$STORED_SOCK" &
HOLD=$!
track_pid "$HOLD"
one_conn() {
	scrape stored "unix:$PVD_RUNDIR/stored.metrics" && [ "$(val stored pvd_store_connections{})" = 1 ]
}
wait_for "$PVD_WAIT_SECS" one_conn || die "the held connection never counted"
QR=$(val stored 'pvd_store_quota_refusals_total{quota="max_conns"}')
RJ=$(val stored 'pvd_store_rejected_connections_total{}')
expect_fail "a second connection is refused" "" xs read /tool
scrape stored "unix:$PVD_RUNDIR/stored.metrics" || fail "stored: scrape after the refusal parses"
rises stored 'pvd_store_quota_refusals_total{quota="max_conns"}' "$QR"
rises stored 'pvd_store_rejected_connections_total{}' "$RJ"
stop_pid "$HOLD"
stored_stop
finish
