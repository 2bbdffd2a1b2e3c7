#!/bin/bash
# pvctl network-attach, network-detach and network-list against pvd-stored
# (--hv sim) and a guest pvctl created without NICs: the nodes attach
# writes (what create writes for a vif= line: rate as "BYTES,USEC", ip,
# hotplug-status empty, no script), the next free devid, network-list's
# columns, detach by devid and by MAC; a vif nobody serves fails within
# the timeout and leaves nothing (issue 13).  Then, with pvd-netback, a
# NIC on a bridge comes up and a missing bridge fails with the backend's
# error and leaves nothing.  Skips that part (SKIP: pvd-netback not
# built) until build/bin/pvd-netback exists, and when bridges cannot be
# made here (no CAP_NET_ADMIN).
. "$(dirname "$0")/lib.sh"
need_xsutils

PVCTL=$PVD_BIN/pvctl
[ -x "$PVCTL" ] || die "$PVCTL not built (run: make)"
[ -x "$PVD_BIN/pvguest" ] || skip "pvguest not built"
pvctl() { timeout -k 2 60 "$PVCTL" "$@"; }

# expect_status NAME STATUS CMD...: CMD exits with STATUS.
expect_status() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >/dev/null 2>&1
	rc=$?
	expect_eq "$name" "$want" "$rc"
}

# wait_for SECS CMD...: polls (every 50 ms) until CMD succeeds; 1 after
# SECS seconds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}

cleanup_guests() {
	local f
	for f in "$PVD_RUNDIR"/guests/dom*/pid; do
		[ -f "$f" ] || continue
		f=${f%/pid}
		timeout -k 2 20 "$PVCTL" destroy "${f##*/dom}" >/dev/null 2>&1
	done
	[ -z "${BR:-}" ] || ip link del "$BR" 2>/dev/null
}
trap 'rc=$?; cleanup_guests; (exit $rc); _pvd_cleanup' EXIT

[ "$(id -u)" = 0 ] && chmod 755 "$PVD_RUNDIR"
STORED_HV=sim stored_start
printf 'name = "net"\nmemory = 32\n' >"$PVD_RUNDIR/net.cfg"
DOM=$(pvctl create "$PVD_RUNDIR/net.cfg") || die "pvctl create failed"
FE=/local/domain/$DOM/device/vif
BE=/local/domain/0/backend/vif/$DOM
snapshot() { xs ls -f -p / 2>&1; }
BEFORE=$(snapshot)
unchanged() { expect_eq "$1: the store is unchanged" "$BEFORE" "$(snapshot)"; }

# ------------------------------------------------------------ usage/help
out=$(pvctl help)
for c in network-attach network-detach network-list; do
	[[ "$out" == *"  $c "* ]] && pass "help lists $c" || fail "help lists $c" "$out"
done
expect_status "network-attach without a domain: exit 2" 2 pvctl network-attach
expect_status "network-attach with a word not key=value: exit 2" 2 pvctl network-attach net br0
expect_fail "a bad mac" "pvctl: vif 'mac=00:16:3e:zz:00:01': bad mac" \
	pvctl network-attach net mac=00:16:3e:zz:00:01
expect_fail "a bad rate" "bad rate 'fast'" pvctl network-attach net rate=fast
expect_fail "a bad ip" "bad ip '10.1'" pvctl network-attach net ip=10.1
expect_fail "an unknown domain" "pvctl: domain 'nope' does not exist" \
	pvctl network-attach nope bridge=br0
unchanged "failed attaches"

# --------------------------------------------- a vif nobody serves (13)
out=$(PVCTL_DEVICE_TIMEOUT=1 pvctl network-attach net bridge=br0 2>&1); rc=$?
expect_eq "a vif nobody serves: exit 1" 1 "$rc"
expect_eq "a vif nobody serves: one line naming the vif" \
	"pvctl: vif $DOM/0: no backend answered within 1 s (is pvd-netback running?)" "$out"
unchanged "a vif nobody serves"

# --------------------------------------------- the nodes, without a wait
export PVCTL_DEVICE_TIMEOUT=0
expect_ok "attach a vif" pvctl network-attach net bridge=br0 mac=00:16:3e:00:00:21 \
	rate=10Mb/s@20ms ip=10.0.0.2 ip=fd00::2 vifname=web0 mtu=9000
expect_eq "its rate as libxl writes it" "25000,20000" "$(xs read $BE/0/rate 2>&1)"
expect_eq "its ip list" "10.0.0.2 fd00::2" "$(xs read $BE/0/ip 2>&1)"
expect_eq "its hotplug-status, empty" "" "$(xs read $BE/0/hotplug-status 2>&1)"
expect_eq "its vifname" "web0" "$(xs read $BE/0/vifname 2>&1)"
expect_eq "its backend mtu" "9000" "$(xs read $BE/0/mtu 2>&1)"
expect_eq "its frontend mtu" "9000" "$(xs read $FE/0/mtu 2>&1)"
expect_eq "its frontend mac" "00:16:3e:00:00:21" "$(xs read $FE/0/mac 2>&1)"
xs exists $BE/0/script && fail "no script node" || pass "no script node"
expect_ok "attach a second vif" pvctl network-attach net bridge=br1
expect_eq "the next free devid" "1" "$(xs read $BE/1/handle 2>&1)"
[[ "$(xs read $BE/1/mac)" =~ ^00:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}$ ]] &&
	pass "a random 00:16:3e mac" || fail "a random 00:16:3e mac" "$(xs read $BE/1/mac)"
out=$(pvctl network-list net)
expect_eq "network-list" \
"Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path
0   0  00:16:3e:00:00:21      0     1     -1    -1/-1          $BE/0
1   0  $(xs read $BE/1/mac)      1     1     -1    -1/-1          $BE/1" "$out"
expect_fail "detach an unknown mac" "has no vif with mac 00:16:3e:00:00:99" \
	pvctl network-detach net 00:16:3e:00:00:99
expect_fail "detach without --force times out" "did not close within 1 s" \
	pvctl network-detach --timeout 1 net 1
expect_ok "detach by mac, --force" pvctl network-detach --force --timeout 0 net 00:16:3E:00:00:21
expect_ok "detach by devid, --force" pvctl network-detach --force --timeout 0 net 1
unchanged "two vifs attached and detached"
# libxl's record of a vif (a domain xl made): removed with it, as xl's
# network-detach does, or xl network-list would go on showing it.
expect_ok "attach a vif beside a libxl record" pvctl network-attach net bridge=br1
xs write /libxl/$DOM/device/vif/0/frontend $FE/0 || die "cannot write /libxl"
expect_ok "detach it, --force" pvctl network-detach --force --timeout 0 net 0
expect_eq "libxl's record of the vif is gone, its device directory kept" "" \
	"$(xs ls /libxl/$DOM/device 2>&1)"
xs rm /libxl
unchanged "a vif with a libxl record attached and detached"
unset PVCTL_DEVICE_TIMEOUT

# ------------------------------------------------------ with pvd-netback
if [ ! -x "$PVD_BIN/pvd-netback" ]; then
	[ "$_pvd_fails" -ne 0 ] && finish
	skip "pvd-netback not built"
fi
BR=pvdbr$$
BR=${BR:0:15}
ip link add "$BR" type bridge 2>/dev/null && ip link set "$BR" up ||
	{ BR=; [ "$_pvd_fails" -ne 0 ] && finish; skip "cannot create a bridge here (no CAP_NET_ADMIN?)"; }
"$PVD_BIN/pvd-netback" -f --hv sim --pidfile "$PVD_RUNDIR/netback.pid" \
	>>"$PVD_RUNDIR/netback.log" 2>&1 &
NB_PID=$!
track_pid "$NB_PID"
wait_for "$PVD_WAIT_SECS" test -s "$PVD_RUNDIR/netback.pid" || die "pvd-netback did not start"

expect_ok "attach a vif on $BR" pvctl network-attach net "bridge=$BR" mac=00:16:3e:00:00:31
st=$(xs read $BE/0/state 2>&1)
[[ "$st" == 2 || "$st" == 4 ]] && pass "its backend is InitWait or Connected" ||
	fail "its backend is InitWait or Connected" "state $st"
ip link show "vif$DOM.0" >/dev/null 2>&1 && pass "its tap vif$DOM.0 exists" ||
	fail "its tap vif$DOM.0 exists"
expect_ok "detach it" pvctl network-detach net 0
wait_for 10 bash -c "! ip link show vif$DOM.0 >/dev/null 2>&1" && pass "its tap is gone" ||
	fail "its tap is gone"

BEFORE=$(snapshot)
out=$(pvctl network-attach net bridge=pvdbr-none9 2>&1); rc=$?
expect_eq "a missing bridge: exit 1" 1 "$rc"
[[ "$out" =~ ^"pvctl: vif $DOM/"[0-9]+": backend error: ".*pvdbr-none9 ]] &&
	pass "a missing bridge: one line with the backend's error" ||
	fail "a missing bridge: one line with the backend's error" "$out"
xs exists $BE/0 && fail "a missing bridge leaves no backend node" ||
	pass "a missing bridge leaves no backend node"
ip -o link | grep -q "vif$DOM\." && fail "a missing bridge leaves no tap" "$(ip -o link | grep "vif$DOM\.")" ||
	pass "a missing bridge leaves no tap"
pid_alive "$NB_PID" && pass "pvd-netback still runs" || fail "pvd-netback still runs"

# The toolstack removes a vif and writes the same devid anew (with another
# bridge) before pvd-netback looked: held with SIGSTOP so that it sees
# only the new nodes.  The old vif must go and the new one be probed with
# its own bridge (here a missing one: the attach fails with its error),
# not taken for the old vif's frontend coming back.
expect_ok "attach a vif on $BR again" pvctl network-attach net "bridge=$BR"
# The guest's netfront may connect it before we look: 2 or 4 both mean
# pvd-netback has taken it up (its tap exists).
wait_for 10 bash -c "case \"\$(xenstore-read $BE/0/state 2>/dev/null)\" in 2|4) exit 0;; esac; exit 1" ||
	fail "the vif is InitWait or Connected" "state $(xs read $BE/0/state 2>&1)"
kill -STOP "$NB_PID"
xs rm "$BE/0"; xs rm "$FE/0"
out=$( (sleep 1; kill -CONT "$NB_PID") & pvctl network-attach net bridge=pvdbr-none9 2>&1); rc=$?
kill -CONT "$NB_PID" 2>/dev/null
expect_eq "written anew under it: the attach fails" 1 "$rc"
[[ "$out" =~ "backend error: ".*pvdbr-none9 ]] &&
	pass "written anew under it: the new vif's own error (its bridge)" ||
	fail "written anew under it: the new vif's own error (its bridge)" "$out"
wait_for 10 bash -c "! ip link show vif$DOM.0 >/dev/null 2>&1" &&
	pass "written anew under it: the old vif's tap is gone" ||
	fail "written anew under it: the old vif's tap is gone" "$(ip -o link | grep "vif$DOM\.")"
pid_alive "$NB_PID" && pass "pvd-netback still runs" || fail "pvd-netback still runs"
expect_ok "destroy net" pvctl destroy net
finish
