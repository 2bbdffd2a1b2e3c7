#!/bin/bash
# pvctl create/list/destroy with real guests: pvd-stored with its ring
# transport (--hv sim) and pvguest.  Two domains: their domids, `pvctl
# list`, @introduceDomain and @releaseDomain, every node libxl would write
# with its permissions (xenstore-ls -p), destroy removing the nodes and the
# guest; a guest killed by SIGKILL is still destroyed cleanly; then 100
# domains created and destroyed in one run, after which the store holds as
# many descriptors as before and no process, node or hv file is left.
# Skips (77) until pvguest exists and starts.
. "$(dirname "$0")/lib.sh"
need_xsutils

PVCTL=$PVD_BIN/pvctl
PVGUEST=$PVD_BIN/pvguest
[ -x "$PVCTL" ] || die "$PVCTL not built (run: make)"
[ -x "$PVGUEST" ] || skip "pvguest not built yet ($PVGUEST)"
"$PVD_BIN/pvd-stored" --help 2>&1 | grep -q -- '--hv' ||
	skip "pvd-stored has no ring transport (--hv) yet"

pvctl() { timeout -k 2 30 "$PVCTL" "$@"; }

# is_guest PID DOMID: PID is pvguest serving DOMID (its command line says).
is_guest() {
	local args
	args=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ "$(basename "$(head -n 1 <<<"$args")")" == pvguest ]] &&
		grep -qx -- "--domid" <<<"$args" &&
		[ "$(grep -x -A1 -- "--domid" <<<"$args" | tail -n 1)" = "$2" ]
}

# Guests are not our children (pvguest detaches): at exit, whatever is
# left is killed by PID if it is still the same pvguest (its sandbox's
# init dies with it: PR_SET_PDEATHSIG), and the store goes with
# _pvd_cleanup.  No pvctl destroy here: a test stopped by its timeout
# has 10 s for this trap, too few for a hundred guests one pvctl call
# at a time (a stopped sanitizer run left them running).
cleanup_guests() {
	local f d pid
	for f in "$PVD_RUNDIR"/guests/dom*/pid; do
		[ -f "$f" ] || continue
		d=${f%/pid}
		d=${d##*/dom}
		pid=$(cat "$f" 2>/dev/null)
		if [ -n "$pid" ] && is_guest "$pid" "$d"; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
}
trap 'rc=$?; cleanup_guests; (exit $rc); _pvd_cleanup' EXIT

# pvguest drops root for nobody: it must reach the run directory.
[ "$(id -u)" = 0 ] && chmod 755 "$PVD_RUNDIR"
stored_start --hv sim
fds() { ls "/proc/$STORED_PID/fd" | wc -l; }
# Guest memory the store still has mapped (the sim's memfds are named
# dom<N>.mem).
guest_maps() { grep -c 'memfd:dom[1-9][0-9]*\.' "/proc/$STORED_PID/maps"; }
# fds_back_to NAME N: the store's descriptors come back to at most N (it
# closes a released domain's ring and port, and the connections of clients
# that exited, as its event loop gets to them: a bounded wait).  At most,
# not exactly: a connection closing while N was counted made N one higher;
# a leak per domain is far more than one.
fds_back_to() {
	local i
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ "$(fds)" -le "$2" ] && break
		sleep 0.05
	done
	if [ "$(fds)" -le "$2" ]; then
		pass "$1"
	else
		local open
		mapfile -t open < <(ls -l "/proc/$STORED_PID/fd" | awk 'NR > 1 { print $9, $10, $11, $12 }')
		fail "$1" "$2 before, $(fds) now:" "${open[@]}"
	fi
}

# ---------------------------------------------- does pvguest work yet?
user=()
[ "$(id -u)" = 0 ] && user=(--user nobody)
"$PVGUEST" --domid 999 --name probe --memory 16 -f --ready-fd 3 "${user[@]}" \
	3>"$PVD_RUNDIR/probe.ready" >"$PVD_RUNDIR/probe.err" 2>&1 &
probe=$!
track_pid "$probe"
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	grep -q 'pid=' "$PVD_RUNDIR/probe.ready" 2>/dev/null && break
	pid_alive "$probe" || break
	sleep 0.05
done
if ! grep -q '^domid=999 .*pid=' "$PVD_RUNDIR/probe.ready" 2>/dev/null; then
	stop_pid "$probe"
	skip "pvguest does not start yet: $(tail -n 1 "$PVD_RUNDIR/probe.err")"
fi
stop_pid "$probe"
# A guest that dropped root cannot remove its files from root's hv/
# directory: the toolstack does (pvctl destroy, for its own guests).
rm -f "$PVD_RUNDIR"/hv/dom999.*
log "pvguest works"

IMG=$PVD_RUNDIR/disk.img
truncate -s 1M "$IMG"
UUID=6c2a3a4e-0b2b-4c8e-9e7e-1234567890ab
cat >"$PVD_RUNDIR/web.cfg" <<EOF
name = "web"
uuid = "$UUID"
memory = 32
disk = [ 'file:$IMG,xvda,w',
         'phy:/dev/null,xvdb,r' ]
vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]
EOF
cat >"$PVD_RUNDIR/db.cfg" <<EOF
name = "db"
memory = 48
disk = [ '$IMG,,hdc,r' ]
vif = [ 'bridge=br1', 'mac=00:16:3e:00:00:02' ]
EOF

# watch_start NAME PATH COUNT: xenstore-watch -n COUNT in the background,
# waiting (bounded) for the event every watch fires when it is set.
watch_start() {
	local out=$PVD_RUNDIR/$1.watch i
	timeout -k 2 60 xenstore-watch -n "$3" "$2" >"$out" 2>&1 &
	printf -v "$1" '%s' "$!"
	track_pid "$!"
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ -s "$out" ] && return 0
		sleep 0.05
	done
	die "xenstore-watch $2 did not start"
}

# watch_check NAME PID PATH COUNT: the watch saw COUNT events for PATH.
watch_check() {
	local out=$PVD_RUNDIR/$1.watch want i
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		pid_alive "$2" || break
		sleep 0.05
	done
	stop_pid "$2"
	want=$(for ((i = 0; i < $4; i++)); do echo "$3"; done)
	expect_eq "$3 fired for each domain (and once when set)" "$want" "$(cat "$out")"
}

# ------------------------------------- a device nobody serves (issue 13)
# No pvd-blkback or pvd-netback runs here: create waits (bounded) for
# each device's backend, fails with one line naming the device, and
# leaves no domain, guest or node behind.
printf 'name = "novif"\nmemory = 16\nvif = [ %s ]\n' \
	"'mac=00:16:3e:00:00:09,bridge=pvdbr9'" >"$PVD_RUNDIR/novif.cfg"
out=$(PVCTL_DEVICE_TIMEOUT=2 pvctl create "$PVD_RUNDIR/novif.cfg" 2>&1); rc=$?
expect_eq "create with a vif nobody serves: exit 1" 1 "$rc"
expect_eq "create with a vif nobody serves: one line naming the vif" \
	"pvctl: vif 1/0: no backend answered within 2 s (is pvd-netback running?)" "$out"
for p in /local/domain/1 /local/domain/0/backend/vif/1 /local/domain/0/backend/console/1; do
	xs exists "$p" && fail "create with a vif nobody serves removed $p" ||
		pass "create with a vif nobody serves removed $p"
done
expect_eq "create with a vif nobody serves leaves no /vm entry" "" "$(xs ls /vm 2>/dev/null)"
[ -e "$PVD_RUNDIR/guests/dom1/pid" ] && fail "create with a vif nobody serves leaves no guest" ||
	pass "create with a vif nobody serves leaves no guest"
out=$(PVCTL_DEVICE_TIMEOUT=x pvctl create "$PVD_RUNDIR/novif.cfg" 2>&1)
expect_eq "a bad PVCTL_DEVICE_TIMEOUT is refused" \
	"pvctl: PVCTL_DEVICE_TIMEOUT: want seconds, 0 to 3600, got 'x'" "$out"

# The rest checks the nodes create writes, with no backend to answer:
# create does not wait (PVCTL_DEVICE_TIMEOUT=0).
export PVCTL_DEVICE_TIMEOUT=0

# --------------------------------------------------------- two domains
watch_start intro @introduceDomain 3
out=$(pvctl create "$PVD_RUNDIR/web.cfg" 2>&1)
expect_eq "create web prints domid 1" 1 "$out"
out=$(pvctl create "$PVD_RUNDIR/db.cfg" 2>&1)
expect_eq "create db prints domid 2" 2 "$out"
watch_check intro "$intro" @introduceDomain 3

expect_eq "list shows both" \
"Name                                        ID    Mem  State   Devices
Domain-0                                     0      -  r-----  -
web                                          1     32  r-----  vbd:2 vif:1
db                                           2     48  r-----  vbd:1 vif:2" "$(pvctl list)"

expect_fail "a name in use" "domain name 'web' is already in use (domain 1)" \
	pvctl create "$PVD_RUNDIR/web.cfg"

pid1=$(cat "$PVD_RUNDIR/guests/dom1/pid" 2>/dev/null)
pid2=$(cat "$PVD_RUNDIR/guests/dom2/pid" 2>/dev/null)
is_guest "$pid1" 1 && pass "domain 1's pvguest runs (pid $pid1)" || fail "domain 1's pvguest runs" "pid '$pid1'"
is_guest "$pid2" 2 && pass "domain 2's pvguest runs (pid $pid2)" || fail "domain 2's pvguest runs" "pid '$pid2'"

# node PATH PERMS [VALUE]: PATH exists with PERMS (as xenstore-ls -p shows
# them: owner first) and, if given, VALUE.
node() {
	local parent=${1%/*} line
	line=$(xs ls -f -p "$parent" 2>/dev/null | awk -v p="$1 = " 'index($0, p) == 1' | head -n 1)
	if [ -z "$line" ]; then
		fail "$1 exists" "not in: xenstore-ls -f -p $parent"
		return
	fi
	expect_eq "$1 has perms $2" "($2)" "${line##* }"
	[ $# -lt 3 ] || expect_eq "$1 = $3" "$3" "$(xs read "$1")"
}
numeric() {
	[[ "$(xs read "$1" 2>/dev/null)" =~ ^[0-9]+$ ]] && pass "$1 is a number" || fail "$1 is a number"
}

D=/local/domain/1
B=/local/domain/0/backend
node $D "n0,r1"
node $D/name "n0,r1" web
node $D/domid "n0,r1" 1
node $D/vm "n0,r1" /vm/$UUID
node /vm/$UUID "n0,r1"
node /vm/$UUID/name "n0,r1" web
node /vm/$UUID/uuid "n0,r1" $UUID
node $D/memory/target "n0,r1" 32768
node $D/memory/static-max "n0,r1" 32768
node $D/device "n0,r1"
node $D/device/suspend/event-channel "n1"
node $D/control "n0,r1"
node $D/control/shutdown "n1"
node $D/control/platform-feature-xs_reset_watches "n0,r1" 1
node $D/data "n1"
node $D/store/port "n0,r1"
node $D/store/ring-ref "n0,r1"
numeric $D/store/port
numeric $D/store/ring-ref
node $D/console "n1,r0"
node $D/console/backend "n1,r0" $B/console/1/0
node $D/console/backend-id "n1,r0" 0
node $D/console/type "n0,r1" xenconsoled
node $D/console/limit "n0,r1" 1048576
node $D/console/output "n0,r1" pty
node $D/console/ring-ref "n0,r1"
node $D/console/port "n0,r1"
numeric $D/console/ring-ref
numeric $D/console/port
node $B/console/1/0 "n0,r1"
node $B/console/1/0/frontend "n0,r1" $D/console
node $B/console/1/0/frontend-id "n0,r1" 1
node $B/console/1/0/state "n0,r1" 1
node $B/console/1/0/protocol "n0,r1" vt100
# disk xvda: file, rw
node $D/device/vbd/51712 "n1,r0"
node $D/device/vbd/51712/backend "n1,r0" $B/vbd/1/51712
node $D/device/vbd/51712/backend-id "n1,r0" 0
node $D/device/vbd/51712/virtual-device "n1,r0" 51712
node $D/device/vbd/51712/device-type "n1,r0" disk
node $B/vbd/1/51712 "n0,r1"
node $B/vbd/1/51712/frontend "n0,r1" $D/device/vbd/51712
node $B/vbd/1/51712/frontend-id "n0,r1" 1
node $B/vbd/1/51712/online "n0,r1" 1
node $B/vbd/1/51712/state "n0,r1" 1
node $B/vbd/1/51712/params "n0,r1" "$IMG"
node $B/vbd/1/51712/mode "n0,r1" w
node $B/vbd/1/51712/type "n0,r1" file
node $B/vbd/1/51712/dev "n0,r1" xvda
node $B/vbd/1/51712/removable "n0,r1" 0
node $B/vbd/1/51712/device-type "n0,r1" disk
# disk xvdb: phy, ro
node $B/vbd/1/51728/params "n0,r1" /dev/null
node $B/vbd/1/51728/mode "n0,r1" r
node $B/vbd/1/51728/type "n0,r1" phy
# vif 0
node $D/device/vif/0 "n1,r0"
node $D/device/vif/0/backend "n1,r0" $B/vif/1/0
node $D/device/vif/0/handle "n1,r0" 0
node $D/device/vif/0/mac "n1,r0" 00:16:3e:00:00:01
node $D/device/vif/0/mtu "n0,r1" 1500
node $B/vif/1/0 "n0,r1"
node $B/vif/1/0/frontend "n0,r1" $D/device/vif/0
node $B/vif/1/0/frontend-id "n0,r1" 1
node $B/vif/1/0/online "n0,r1" 1
node $B/vif/1/0/state "n0,r1" 1
node $B/vif/1/0/mac "n0,r1" 00:16:3e:00:00:01
node $B/vif/1/0/bridge "n0,r1" xenbr0
node $B/vif/1/0/handle "n0,r1" 0
node $B/vif/1/0/type "n0,r1" vif
node $B/vif/1/0/hotplug-status "n0,r1" ""
xs exists $B/vif/1/0/script && fail "no script node (no script runs)" ||
	pass "no script node (no script runs)"
# domain 2: hdc, two vifs, a random mac
node /local/domain/2 "n0,r2"
node /local/domain/2/memory/target "n0,r2" 49152
node $B/vbd/2/5632 "n0,r2"
node $B/vbd/2/5632/dev "n0,r2" hdc
node $B/vbd/2/5632/mode "n0,r2" r
node $B/vif/2/0/bridge "n0,r2" br1
node $B/vif/2/1/mac "n0,r2" 00:16:3e:00:00:02
[[ "$(xs read $B/vif/2/0/mac)" =~ ^00:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}$ ]] &&
	pass "a vif without mac= gets a random 00:16:3e one" ||
	fail "a vif without mac= gets a random 00:16:3e one" "$(xs read $B/vif/2/0/mac)"
vm2=$(xs read /local/domain/2/vm)
[[ "$vm2" =~ ^/vm/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] &&
	pass "a generated uuid is a random (v4) one" || fail "a generated uuid is a random (v4) one" "$vm2"

# ------------------------------------------------------------- destroy
watch_start rel @releaseDomain 3
expect_ok "destroy web (by name)" pvctl destroy web
expect_ok "destroy 2 (by domid)" pvctl destroy 2
watch_check rel "$rel" @releaseDomain 3
for p in $D /vm/$UUID "$vm2" /local/domain/2 $B/vbd/1 $B/vif/1 $B/console/1 $B/vbd/2 $B/vif/2 $B/console/2; do
	xs exists "$p" && fail "destroy removed $p" || pass "destroy removed $p"
done
for pid in "$pid1" "$pid2"; do
	[ -n "$pid" ] && wait_pid_gone "$pid" 5 && pass "pvguest $pid is gone" || fail "pvguest $pid is gone"
done
[ -e "$PVD_RUNDIR/guests/dom1/pid" ] || [ -e "$PVD_RUNDIR/guests/dom2/pid" ] &&
	fail "no pid file is left" "$(ls -R "$PVD_RUNDIR/guests")" || pass "no pid file is left"
expect_eq "list shows dom0 only" \
"Name                                        ID    Mem  State   Devices
Domain-0                                     0      -  r-----  -" "$(pvctl list)"

# ------------------------------------------------------- 100 domains
N=100
before_fds=$(fds)
declare -A pids=()
created=0
for ((i = 1; i <= N; i++)); do
	printf "name = 'g%d'\nmemory = 16\ndisk = [ 'file:%s,xvda,r' ]\nvif = [ '' ]\n" \
		"$i" "$IMG" >"$PVD_RUNDIR/g.cfg"
	d=$(pvctl create "$PVD_RUNDIR/g.cfg" 2>"$PVD_RUNDIR/g.err") ||
		{ fail "create g$i" "$(cat "$PVD_RUNDIR/g.err")"; break; }
	pids[$d]=$(cat "$PVD_RUNDIR/guests/dom$d/pid" 2>/dev/null)
	created=$((created + 1))
done
expect_eq "$N domains created" "$N" "$created"
expect_eq "$N distinct domids" "$N" "${#pids[@]}"
expect_eq "list shows them all" $((N + 2)) "$(pvctl list | wc -l)"
alive=0
for d in "${!pids[@]}"; do
	is_guest "${pids[$d]}" "$d" && alive=$((alive + 1))
done
expect_eq "$N pvguests run" "$N" "$alive"
destroyed=0
for ((i = 1; i <= created; i++)); do
	pvctl destroy "g$i" 2>"$PVD_RUNDIR/g.err" && destroyed=$((destroyed + 1)) ||
		fail "destroy g$i" "$(cat "$PVD_RUNDIR/g.err")"
done
expect_eq "$N domains destroyed" "$N" "$destroyed"

left=0
for d in "${!pids[@]}"; do
	wait_pid_gone "${pids[$d]}" 5 || left=$((left + 1))
done
expect_eq "no pvguest is left" 0 "$left"
expect_eq "no domain is left under /local/domain" 0 "$(xs list /local/domain)"
expect_eq "nothing is left under /vm" "" "$(xs list /vm)"
for t in vbd vif console; do
	expect_eq "nothing is left under backend/$t" "" "$(xs list $B/$t 2>/dev/null)"
done
expect_eq "no pid file is left" "" "$(ls "$PVD_RUNDIR"/guests/*/pid 2>/dev/null)"
expect_eq "no hv file of a domU is left" "" \
	"$(ls "$PVD_RUNDIR/hv" 2>/dev/null | grep -E '^dom[1-9][0-9]*\.' | head -n 12)"
fds_back_to "pvd-stored holds no more descriptors than before the $N domains" "$before_fds"
expect_eq "pvd-stored maps no guest memory after the $N domains" 0 "$(guest_maps)"

# ------------------------------------------------- a guest that crashed
before_fds=$(fds)
out=$(pvctl create "$PVD_RUNDIR/web.cfg" 2>&1)
expect_eq "create web again reuses domid 1" 1 "$out"
pid=$(cat "$PVD_RUNDIR/guests/dom1/pid" 2>/dev/null)
if [ -n "$pid" ] && is_guest "$pid" 1; then
	kill -KILL "$pid"
	wait_pid_gone "$pid" 5
fi
[[ "$(pvctl list)" == *"$(printf '%-40s %5u %6s  %-6s  ' web 1 32 ----c-)"* ]] &&
	pass "list shows the crashed guest" || fail "list shows the crashed guest" "$(pvctl list)"
expect_ok "destroy a domain whose guest was killed" pvctl destroy web
xs exists $D && fail "its nodes are removed" || pass "its nodes are removed"
# A guest killed by SIGKILL cannot remove its hv files (the next guest with
# its id takes them over), but the store must let go of it, whenever its
# once-a-second death check ran: a check made just before the kill once
# kept the memory file open until the domid was reused.
fds_back_to "pvd-stored lets go of a guest that was killed" "$before_fds"
expect_eq "pvd-stored maps no memory of the guest that was killed" 0 "$(guest_maps)"

# The store's death check runs once a second: kill ten more guests at
# spread phases of it (a race there left one in ten held before).
held=()
for ((k = 0; k < 10; k++)); do
	before_fds=$(fds)
	pvctl create "$PVD_RUNDIR/web.cfg" >/dev/null 2>"$PVD_RUNDIR/g.err" ||
		{ held+=("round $k: create failed: $(cat "$PVD_RUNDIR/g.err")"); break; }
	pid=$(cat "$PVD_RUNDIR/guests/dom1/pid" 2>/dev/null)
	sleep "$(printf '0.%02d' $((k * 37 % 100)))"
	[ -n "$pid" ] && is_guest "$pid" 1 && kill -KILL "$pid" && wait_pid_gone "$pid" 5
	pvctl destroy web 2>"$PVD_RUNDIR/g.err" ||
		{ held+=("round $k: destroy failed: $(cat "$PVD_RUNDIR/g.err")"); break; }
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ "$(fds)" -le "$before_fds" ] && [ "$(guest_maps)" = 0 ] && break
		sleep 0.05
	done
	[ "$(fds)" -le "$before_fds" ] && [ "$(guest_maps)" = 0 ] ||
		held+=("round $k: $before_fds descriptors before, $(fds) now;" \
			"$(ls -l "/proc/$STORED_PID/fd" | grep -o 'memfd:dom[1-9].*' | tr '\n' ' ')")
done
expect_eq "pvd-stored lets go of every guest killed, whenever it is killed" "" "${held[*]}"

stored_alive "pvd-stored survived"
finish
