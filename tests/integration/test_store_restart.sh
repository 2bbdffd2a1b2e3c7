#!/bin/bash
# pvd-stored killed (-9) and restarted (--persist) under running guests:
# pvd-blkback and pvd-consoled keep serving the rings they have while it
# is away (I/O through the guest's NBD export goes on, counted by
# pvd-blkback's control socket, which needs no store), reconnect, set
# their watches again and act on what changed: a disk attached after the
# restart is served, a detach works without --force, the console that was
# open still works and a new one can be opened.  Then the other order: a
# pvd-blkback and a pvd-consoled started before the store wait for it (no
# exit) and serve once it comes.  No timing threshold: "progress went on"
# is two counter readings that differ, "no error" is fio's status and
# pvd-blkback's error counters.  pvd-netback too: the guest's NIC (a tap
# on a bridge in this test's private network namespace: netback_lib.sh)
# answers pings throughout, and a NIC attached after the restart comes up
# and detaches without --force.
. "$(dirname "$0")/netback_lib.sh"
need_xsutils

PVCTL=$PVD_BIN/pvctl
for b in pvctl pvguest pvd-blkback pvd-consoled pvd-netback; do
	[ -x "$PVD_BIN/$b" ] || die "$PVD_BIN/$b not built (run: make)"
done
command -v python3 >/dev/null || skip "python3 not installed"
command -v fio >/dev/null && fio --enghelp 2>/dev/null | grep -qw nbd ||
	skip "fio with its nbd engine not installed (scripts/deps.sh installs it)"

pvctl() { timeout -k 2 60 "$PVCTL" "$@"; }
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}
state_is() { [ "$(xs read "$1/state" 2>/dev/null)" = "$2" ]; }
has_line() { grep -qF -- "$2" "$1" 2>/dev/null; }

BLKBACK_PID=
CONSOLED_PID=
FIO_PID=
CONS_PID=
cleanup() {
	local f d
	[ -n "$FIO_PID" ] && stop_pid "$FIO_PID"
	[ -n "$CONS_PID" ] && stop_pid "$CONS_PID"
	exec 7>&- 2>/dev/null
	for f in "$PVD_RUNDIR"/guests/dom*/pid; do
		[ -f "$f" ] || continue
		d=${f%/pid}
		timeout -k 2 20 "$PVCTL" destroy "${d##*/dom}" >/dev/null 2>&1
	done
	daemon_stop BLKBACK
	daemon_stop CONSOLED
	if [ "$1" != 0 ] && [ "$1" != 77 ]; then
		for f in blkback.log consoled.log stored.log; do
			[ -s "$PVD_RUNDIR/$f" ] || continue
			echo "# --- last lines of $f ---"
			tail -n 15 "$PVD_RUNDIR/$f" | sed 's/^/# /'
		done
	fi
}
trap 'rc_=$?; cleanup "$rc_"; (exit $rc_); _pvd_cleanup' EXIT

# pvguest drops root for nobody: it must reach the run directory.
[ "$(id -u)" = 0 ] && chmod 755 "$PVD_RUNDIR"
DB=$PVD_RUNDIR/store.db

blkback_start() {
	rm -f "$PVD_RUNDIR/blkback.pid"
	"$PVD_BIN/pvd-blkback" -f --hv sim --pidfile "$PVD_RUNDIR/blkback.pid" \
		>>"$PVD_RUNDIR/blkback.log" 2>&1 &
	BLKBACK_PID=$!
	track_pid "$BLKBACK_PID"
	wait_for "$PVD_WAIT_SECS" test -S "$PVD_RUNDIR/pvd-blkback.sock" ||
		die "pvd-blkback did not start"
}
consoled_start() {
	rm -f "$PVD_RUNDIR/consoled.pid"
	"$PVD_BIN/pvd-consoled" -f --hv sim --pidfile "$PVD_RUNDIR/consoled.pid" \
		--log-dir "$PVD_RUNDIR" >>"$PVD_RUNDIR/consoled.log" 2>&1 &
	CONSOLED_PID=$!
	track_pid "$CONSOLED_PID"
}

# reqs DOMID: requests pvd-blkback answered for the domain's disks (rd +
# wr + flush) and its error answers, from the control socket (no store).
reqs() {
	python3 - "$PVD_RUNDIR/pvd-blkback.sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"stats\n")
buf = b""
while not buf.endswith(b"\n"):
    b = s.recv(65536)
    if not b:
        break
    buf += b
doc = json.loads(buf)
n = e = 0
for d in doc["devices"]:
    if d["domid"] == int(sys.argv[2]):
        n += d["rd_req"] + d["wr_req"] + d.get("f_req", 0)
        e += sum(v for k, v in d.items() if k.startswith("err_") and isinstance(v, int))
store = doc.get("store", {})
print(n, e, "up" if store.get("connected") else "down", store.get("losses", "?"))
EOF
}
count() { reqs "$1" | cut -d' ' -f1; }
# moved DOMID FROM: the request count passed FROM (bounded wait).
count_above() { [ "$(count "$1")" -gt "$2" ]; }

# ================================================ the store restarts
STORED_HV=sim stored_start --persist "$DB"
blkback_start
consoled_start
wait_for "$PVD_WAIT_SECS" test -s "$PVD_RUNDIR/consoled.pid" || die "pvd-consoled did not start"
netback_start
ip link add srbr0 type bridge && ip addr add 10.8.0.1/24 dev srbr0 &&
	ip link set srbr0 up || die "cannot make the bridge"
# ping_guest: one answer from the guest's NIC (bounded).
ping_guest() { ping -c 1 -W 2 10.8.0.2; }

IMG=$PVD_RUNDIR/disk.img
IMG2=$PVD_RUNDIR/disk2.img
truncate -s 64M "$IMG" "$IMG2"
cat >"$PVD_RUNDIR/g.cfg" <<EOF
name = "g"
memory = 128
disk = [ 'file:$IMG,xvdb,w' ]
EOF
{ cat "$PVD_RUNDIR/g.cfg"; echo "vif = [ 'bridge=srbr0,mac=00:16:3e:00:08:02' ]"; } >"$PVD_RUNDIR/gnet.cfg"
DOM=$(pvctl create "$PVD_RUNDIR/gnet.cfg") || die "pvctl create failed"
[[ "$DOM" =~ ^[0-9]+$ ]] || die "pvctl create printed '$DOM'"
FE=/local/domain/$DOM/device/vbd
BE=/local/domain/0/backend/vbd/$DOM
wait_for 20 state_is $FE/51728 4 || die "xvdb never Connected: $(xs read $FE/51728/state 2>&1)"
SOCK=$PVD_RUNDIR/guests/dom$DOM/vbd-51728.nbd
VBE=/local/domain/0/backend/vif/$DOM
VFE=/local/domain/$DOM/device/vif
wait_for 20 state_is $VFE/0 4 || die "the NIC never Connected: $(xs read $VFE/0/state 2>&1)"
wait_for 10 guest_exec "$DOM" ip link show dev eth0 || die "no eth0 in the guest"
guest_exec "$DOM" ip addr add 10.8.0.2/24 dev eth0 || die "cannot address the guest's eth0"
wait_for "$PVD_WAIT_SECS" ping_guest && pass "the guest's NIC answers before the restart" ||
	fail "the guest's NIC answers before the restart"
wait_for 10 test -s "$SOCK.uri" || die "pvguest wrote no NBD URI file"

# The console, open in a pvctl console whose input we keep (a fifo).
mkfifo "$PVD_RUNDIR/cons.in"
"$PVCTL" console g <"$PVD_RUNDIR/cons.in" >"$PVD_RUNDIR/cons.out" 2>&1 &
CONS_PID=$!
track_pid "$CONS_PID"
exec 7>"$PVD_RUNDIR/cons.in"
echo 'echo before-$((20+1))' >&7
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/cons.out" before-21 &&
	pass "the console answers before the restart" ||
	fail "the console answers before the restart" "$(tail -c 300 "$PVD_RUNDIR/cons.out")"

# I/O through the guest's NBD export, running through the restart.
timeout -k 5 120 fio --name=load --ioengine=nbd --uri="nbd+unix:///?socket=$SOCK" \
	--rw=randrw --bs=4k --iodepth=8 --size=32M --time_based --runtime=15 \
	--verify=crc32c --verify_fatal=1 --verify_state_save=0 \
	>"$PVD_RUNDIR/fio.out" 2>&1 &
FIO_PID=$!
track_pid "$FIO_PID"
wait_for "$PVD_WAIT_SECS" count_above "$DOM" 100 || die "no I/O: $(reqs "$DOM") $(cat "$PVD_RUNDIR/fio.out")"

stored_kill9
log "pvd-stored killed"
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/blkback.log" "store connection is lost" &&
	pass "pvd-blkback says the store connection is lost" ||
	fail "pvd-blkback says the store connection is lost"
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/consoled.log" "store connection is lost" &&
	pass "pvd-consoled says the store connection is lost" ||
	fail "pvd-consoled says the store connection is lost"
read -r n1 _ st _ <<<"$(reqs "$DOM")"
expect_eq "the control socket says the store is down" down "$st"
wait_for "$PVD_WAIT_SECS" count_above "$DOM" "$n1" &&
	pass "I/O goes on while the store is down" ||
	fail "I/O goes on while the store is down" "$(reqs "$DOM")"
echo 'echo during-$((30+1))' >&7
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/cons.out" during-31 &&
	pass "the console answers while the store is down" ||
	fail "the console answers while the store is down" "$(tail -c 300 "$PVD_RUNDIR/cons.out")"
daemon_alive BLKBACK pvd-blkback "pvd-blkback runs without the store"
daemon_alive CONSOLED pvd-consoled "pvd-consoled runs without the store"
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/netback.log" "store connection is lost" &&
	pass "pvd-netback says the store connection is lost" ||
	fail "pvd-netback says the store connection is lost"
ping_guest >/dev/null && pass "the guest's NIC answers while the store is down" ||
	fail "the guest's NIC answers while the store is down"
daemon_alive NETBACK pvd-netback "pvd-netback runs without the store"

STORED_HV=sim stored_start --persist "$DB"
wait_for 30 has_line "$PVD_RUNDIR/blkback.log" "the store is back" &&
	pass "pvd-blkback reconnects" || fail "pvd-blkback reconnects"
wait_for 30 has_line "$PVD_RUNDIR/consoled.log" "the store is back" &&
	pass "pvd-consoled reconnects" || fail "pvd-consoled reconnects"
wait_for 30 has_line "$PVD_RUNDIR/netback.log" "the store is back" &&
	pass "pvd-netback reconnects" || fail "pvd-netback reconnects"
read -r n2 _ st losses <<<"$(reqs "$DOM")"
expect_eq "the control socket: connected again, one loss counted" "up 1" "$st $losses"
wait_for "$PVD_WAIT_SECS" count_above "$DOM" "$n2" &&
	pass "I/O goes on after the restart" || fail "I/O goes on after the restart"

wait "$FIO_PID"
rc=$?
FIO_PID=
expect_eq "fio (randrw, crc32c verify) through the restart: exit 0" 0 "$rc"
grep -q "err= 0" "$PVD_RUNDIR/fio.out" && pass "fio: err= 0" ||
	fail "fio: err= 0" "$(grep -m3 -i err "$PVD_RUNDIR/fio.out")"
read -r _ errs _ <<<"$(reqs "$DOM")"
expect_eq "pvd-blkback answered no request with an error" 0 "$errs"

# A disk attached after the restart is served.
expect_ok "block-attach after the restart" pvctl block-attach g "file:$IMG2,xvdc,w"
wait_for 20 state_is $FE/51744 4 && wait_for 10 state_is $BE/51744 4 &&
	pass "the new disk: both ends Connected" ||
	fail "the new disk: both ends Connected" \
		"frontend $(xs read $FE/51744/state 2>&1), backend $(xs read $BE/51744/state 2>&1)"
SOCK2=$PVD_RUNDIR/guests/dom$DOM/vbd-51744.nbd
wait_for 10 test -s "$SOCK2.uri"
out=$(timeout -k 5 60 fio --name=new --ioengine=nbd --uri="nbd+unix:///?socket=$SOCK2" \
	--rw=randwrite --bs=4k --iodepth=8 --size=8M --verify=crc32c --do_verify=1 \
	--verify_fatal=1 --verify_state_save=0 2>&1)
expect_eq "fio with verify on the disk attached after the restart" 0 "$?"
# A NIC attached after the restart comes up; it detaches without --force.
expect_ok "network-attach after the restart" pvctl network-attach g bridge=srbr0
wait_for 20 state_is $VFE/1 4 && wait_for 10 state_is $VBE/1 4 &&
	pass "the new NIC: both ends Connected" ||
	fail "the new NIC: both ends Connected" \
		"frontend $(xs read $VFE/1/state 2>&1), backend $(xs read $VBE/1/state 2>&1)"
wait_for 10 guest_exec "$DOM" ip link show dev eth1 &&
	pass "the new NIC is eth1 in the guest" || fail "the new NIC is eth1 in the guest"
expect_ok "network-detach of the new NIC, no --force" pvctl network-detach --timeout 20 g 1
ping_guest >/dev/null && pass "the first NIC still answers" || fail "the first NIC still answers"
# Detach, no --force.
expect_ok "block-detach of a disk from before the restart, no --force" \
	pvctl block-detach --timeout 20 g xvdb
expect_ok "block-detach of the new disk, no --force" pvctl block-detach --timeout 20 g xvdc

# The console: the open session and a new one.
echo 'echo after-$((40+1))' >&7
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/cons.out" after-41 &&
	pass "the open console answers after the restart" ||
	fail "the open console answers after the restart" "$(tail -c 300 "$PVD_RUNDIR/cons.out")"
# One reader of the pty at a time: the first session ends first.
stop_pid "$CONS_PID"
CONS_PID=
exec 7>&-
printf 'echo new-$((50+1))\n' | "$PVCTL" console g >"$PVD_RUNDIR/cons2.out" 2>&1 &
P=$!
track_pid "$P"
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/cons2.out" new-51 &&
	pass "a new pvctl console after the restart" ||
	fail "a new pvctl console after the restart" "$(tail -c 300 "$PVD_RUNDIR/cons2.out")"
stop_pid "$P"
expect_ok "destroy the guest" pvctl destroy g
daemon_alive BLKBACK pvd-blkback "pvd-blkback still runs"
daemon_alive CONSOLED pvd-consoled "pvd-consoled still runs"
daemon_stop BLKBACK
expect_eq "pvd-blkback: clean exit" 0 "$BLKBACK_EXIT"
daemon_stop CONSOLED
expect_eq "pvd-consoled: clean exit" 0 "$CONSOLED_EXIT"
netback_stop
expect_eq "pvd-netback: clean exit" 0 "$NETBACK_EXIT"
stored_stop

# ================================================ backends before the store
rm -f "$DB" "$PVD_RUNDIR/blkback.log" "$PVD_RUNDIR/consoled.log" "$STORED_SOCK"
export XENSTORED_PATH=$STORED_SOCK
blkback_start
consoled_start
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/blkback.log" "the store is not there yet" &&
	pass "pvd-blkback waits for the store (one line)" ||
	fail "pvd-blkback waits for the store (one line)" "$(tail -n 3 "$PVD_RUNDIR/blkback.log")"
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/consoled.log" "the store is not there yet" &&
	pass "pvd-consoled waits for the store (one line)" ||
	fail "pvd-consoled waits for the store (one line)" "$(tail -n 3 "$PVD_RUNDIR/consoled.log")"
read -r _ _ st _ <<<"$(reqs 1)"
expect_eq "the control socket says the store is not there" down "$st"
STORED_HV=sim stored_start
daemon_alive BLKBACK pvd-blkback "pvd-blkback did not exit before the store came"
daemon_alive CONSOLED pvd-consoled "pvd-consoled did not exit before the store came"
# create waits (bounded) for the disk's backend: it succeeds only if
# pvd-blkback serves.
DOM=$(pvctl create "$PVD_RUNDIR/g.cfg") && pass "create with a disk once the store came" ||
	fail "create with a disk once the store came" "$DOM"
wait_for 20 state_is /local/domain/$DOM/device/vbd/51728 4 &&
	pass "its disk Connected" || fail "its disk Connected"
printf 'echo late-$((60+1))\n' | "$PVCTL" console g >"$PVD_RUNDIR/cons3.out" 2>&1 &
P=$!
track_pid "$P"
wait_for "$PVD_WAIT_SECS" has_line "$PVD_RUNDIR/cons3.out" late-61 &&
	pass "its console works" || fail "its console works" "$(tail -c 300 "$PVD_RUNDIR/cons3.out")"
stop_pid "$P"
finish
