#!/bin/bash
# pvguest, the simulated domU, against pvd-stored: the ready line and the
# state directory; introduction (tests/integration/pvguest_xs.c, a
# toolstack's xs_introduce_domain); Xen's xenstore-utils "inside the
# guest" through guests/dom<N>/xenbus.sock (relative paths, the guest's
# permissions, EACCES on dom0's nodes, transactions, watches, several
# clients, hostile frames); SIGTERM, SIGKILL (the store notices), one
# guest per domid, detaching, and running as nobody.
. "$(dirname "$0")/lib.sh"
need_xsutils
need_testbin pvguest_xs XSH
[ -x "$PVD_BIN/pvguest" ] || die "$PVD_BIN/pvguest not built (run: make)"

G_STDERR=$PVD_RUNDIR/pvguest.stderr
_pvg_detached=()

# Detached guests are not our children: stop them by PID, after checking
# the PID is a pvguest of this test's run directory.
_pvg_is_ours() {
	tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qxF "PVD_RUNDIR=$PVD_RUNDIR" &&
		tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q pvguest
}
kill_detached() {
	local pid=$1
	pid_alive "$pid" && _pvg_is_ours "$pid" || return 0
	kill -TERM "$pid"
	wait_pid_gone "$pid" 5 || { kill -KILL "$pid"; wait_pid_gone "$pid" 5; }
}
_pvg_cleanup() {
	local pid
	for pid in "${_pvg_detached[@]}"; do kill_detached "$pid"; done
	if [ -s "$G_STDERR" ]; then
		echo "# --- pvguest stderr ---"
		tail -n 30 "$G_STDERR" | sed 's/^/# /'
	fi
}
trap 'rc_=$?; _pvg_cleanup; (exit $rc_); _pvd_cleanup' EXIT

# guest_start DOMID NAME [ARGS...]: pvguest -f in the background; waits
# (bounded) for its ready line; sets G_PID, G_GFN, G_PORT, G_CGFN, G_CPORT.
guest_start() {
	local domid=$1 name=$2 ready=$PVD_RUNDIR/ready.$1 i line=
	shift 2
	rm -f "$ready"
	"$PVD_BIN/pvguest" -f --domid "$domid" --name "$name" --ready-fd 3 "$@" \
		3>"$ready" 2>>"$G_STDERR" &
	G_PID=$!
	track_pid "$G_PID"
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ "$(wc -l <"$ready" 2>/dev/null)" = 1 ] && break
		if ! pid_alive "$G_PID"; then
			wait "$G_PID"
			die "pvguest --domid $domid exited with $? during start-up"
		fi
		sleep 0.05
	done
	line=$(cat "$ready")
	re='^domid=([0-9]+) store_gfn=([0-9]+) store_port=([0-9]+) console_gfn=([0-9]+) console_port=([0-9]+) pid=([0-9]+)$'
	[[ "$line" =~ $re ]] || die "bad ready line from pvguest --domid $domid: '$line'"
	[ "${BASH_REMATCH[1]}" = "$domid" ] || die "ready line names domain ${BASH_REMATCH[1]}"
	G_GFN=${BASH_REMATCH[2]} G_PORT=${BASH_REMATCH[3]}
	G_CGFN=${BASH_REMATCH[4]} G_CPORT=${BASH_REMATCH[5]}
	[ "${BASH_REMATCH[6]}" = "$G_PID" ] || die "ready line pid ${BASH_REMATCH[6]} is not $G_PID"
}

# What a toolstack writes for a new domain, then the introduction.
toolstack_setup() {
	local d=$1
	xs write "/local/domain/$d/name" "vm$d" "/local/domain/$d/domid" "$d" >/dev/null
	xs chmod -r "/local/domain/$d" n0 "r$d" >/dev/null
	xs write "/local/domain/$d/data" "" >/dev/null
	xs chmod "/local/domain/$d/data" "n$d" >/dev/null
}
introduce() { timeout -k 2 "$XS_TIMEOUT" "$XSH" introduce "$@"; }

# gxs DOMID CMD ARGS...: xenstore-CMD inside guest DOMID.
gxs() {
	local d=$1
	shift
	XENSTORED_PATH=$PVD_RUNDIR/guests/dom$d/xenbus.sock xs "$@"
}

# wait_released DOMID: bounded wait until the store no longer has it.
wait_released() {
	local i
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ "$(timeout -k 2 "$XS_TIMEOUT" "$XSH" introduced "$1")" = F ] && return 0
		sleep 0.05
	done
	return 1
}

# Simulated guests: the store needs the sim hypervisor layer.
STORED_HV=sim stored_start

# ------------------------------------------------ start-up, no store needed
"$PVD_BIN/pvguest" --domid 0 --name x >/dev/null 2>"$PVD_RUNDIR/err"; rc=$?
expect_eq "--domid 0 is a usage error" "2" "$rc"
"$PVD_BIN/pvguest" --domid 3 >/dev/null 2>"$PVD_RUNDIR/err"; rc=$?
expect_eq "--name is required" "2 pvguest: --name is required" "$rc $(cat "$PVD_RUNDIR/err")"

guest_start 3 itest
D3=$PVD_RUNDIR/guests/dom3
expect_eq "pid file" "$G_PID" "$(cat "$D3/pid")"
[ -S "$D3/xenbus.sock" ] && pass "xenbus.sock is a socket" || fail "xenbus.sock is a socket"
expect_eq "xenbus.sock mode" "600" "$(stat -c %a "$D3/xenbus.sock")"
[ "$G_GFN" != "$G_CGFN" ] && [ "$G_PORT" != "$G_CPORT" ] &&
	pass "distinct xenstore and console pages and ports" ||
	fail "distinct xenstore and console pages and ports" "$G_GFN/$G_CGFN $G_PORT/$G_CPORT"
PID3=$G_PID PORT3=$G_PORT GFN3=$G_GFN

expect_fail "a second guest with the same domid fails" "domain 3 already exists" \
	timeout -k 2 10 "$PVD_BIN/pvguest" -f --domid 3 --name dup
expect_eq "the first guest's files are untouched" "$PID3" "$(cat "$D3/pid")"
pid_alive "$PID3" && pass "the first guest still runs" || fail "the first guest still runs"

# Detached (the default): the parent exits 0 once the daemon is ready.
out=$PVD_RUNDIR/ready.6
timeout -k 2 10 "$PVD_BIN/pvguest" --domid 6 --name det >"$out" 2>>"$G_STDERR"; rc=$?
expect_eq "detached start exits 0" 0 "$rc"
dpid=$(sed -n 's/.* pid=\([0-9]*\)$/\1/p' "$out")
if [ -n "$dpid" ] && pid_alive "$dpid"; then
	_pvg_detached+=("$dpid")
	pass "the detached guest runs (pid $dpid)"
	expect_eq "its pid file" "$dpid" "$(cat "$PVD_RUNDIR/guests/dom6/pid")"
	grep -q "ready" "$PVD_RUNDIR/guests/dom6/log" && pass "it logs to guests/dom6/log" ||
		fail "it logs to guests/dom6/log" "$(cat "$PVD_RUNDIR/guests/dom6/log" 2>&1)"
	kill_detached "$dpid"
	pid_alive "$dpid" && fail "the detached guest stops on SIGTERM" ||
		pass "the detached guest stops on SIGTERM"
	[ -e "$PVD_RUNDIR/guests/dom6" ] && fail "its directory is removed" || pass "its directory is removed"
else
	fail "the detached guest runs" "ready line: $(cat "$out")"
fi

# ------------------------------------------------- the store serves rings?
if ! grep -q "serving domains over rings" "$STORED_LOG"; then
	echo "# pvd-stored cannot serve rings here; the guest's xenstore tests need it:"
	sed "s/^/#   /" "$STORED_LOG"
	[ "$_pvd_fails" -eq 0 ] || finish
	skip "pvd-stored does not serve domains over rings (see $STORED_LOG)"
fi

# --------------------------------------------------------- introduction
toolstack_setup 3
expect_ok "introduce domain 3 (xs_introduce_domain)" introduce 3 "$GFN3" "$PORT3"
expect_eq "the store knows it" "T" "$("$XSH" introduced 3)"

# ------------------------------------------- xenstore-utils inside the guest
expect_eq "relative read" "vm3" "$(gxs 3 read name)"
expect_eq "absolute read of its own node" "3" "$(gxs 3 read /local/domain/3/domid)"
expect_ok "relative write under its data" gxs 3 write data/x hello
expect_eq "dom0 sees it" "hello" "$(xs read /local/domain/3/data/x)"
expect_eq "created by and owned by domain 3" '/local/domain/3/data/x = "hello"   (n3)' \
	"$(xs ls -f -p /local/domain/3/data)"
expect_ok "write in a transaction (several keys)" gxs 3 write data/a 1 data/b 2
expect_eq "relative list" "a
b
x" "$(gxs 3 list data | sort)"
expect_eq "relative ls" 'a = "1"
b = "2"
x = "hello"' "$(gxs 3 ls data | sort)"
expect_ok "relative rm" gxs 3 rm data/b
expect_eq "rm took effect" "a
x" "$(gxs 3 list data | sort)"

# Confined to domain 3's rights.
xs write /secret s >/dev/null
expect_fail "reading dom0's node: EACCES" "couldn't read path /secret" gxs 3 read /secret
expect_fail "listing dom0's node: Permission denied" "Permission denied" gxs 3 ls /secret
expect_fail "writing a read-only node of its home" "could not write path" gxs 3 write name evil
expect_eq "the name is unchanged" "vm3" "$(xs read /local/domain/3/name)"
expect_fail "creating a node under /" "could not write path" gxs 3 write /evil x
expect_fail "chmod of dom0's node" "Permission denied" gxs 3 chmod /secret b3
expect_fail "introducing a domain (privileged): EACCES" "Permission denied" \
	env XENSTORED_PATH="$D3/xenbus.sock" "$XSH" introduce 9 1 1
expect_eq "dom0's node is unchanged" "s" "$(xs read /secret)"

# Watches: relative paths, several clients at once.
w=$PVD_RUNDIR/watch.out
XENSTORED_PATH=$D3/xenbus.sock timeout -k 2 30 xenstore-watch -n 3 data >"$w" 2>&1 &
WPID=$!
track_pid "$WPID"
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do [ -s "$w" ] && break; sleep 0.05; done
expect_eq "while a watcher waits, another client reads" "hello" "$(gxs 3 read data/x)"
xs write /local/domain/3/data/w 1 >/dev/null
gxs 3 write data/v 2 >/dev/null
wait_pid_gone "$WPID" || stop_pid "$WPID"
expect_eq "the guest's relative watch fires (dom0's and its own writes)" "data
data/w
data/v" "$(cat "$w")"

# Hostile local clients: the proxy stays up and serves the others.
expect_ok "a frame over XENSTORE_PAYLOAD_MAX closes that client" "$XSH" bigframe "$D3/xenbus.sock"
expect_ok "a WATCH without a token gets EINVAL" "$XSH" badwatch "$D3/xenbus.sock"
expect_eq "other clients are served after that" "hello" "$(gxs 3 read data/x)"

# ----------------------------------------------------------------- SIGTERM
kill -TERM "$PID3"
if wait_pid_gone "$PID3"; then
	wait "$PID3"; rc=$?
	expect_eq "SIGTERM: exit 0" 0 "$rc"
else
	fail "SIGTERM: pvguest exits"
fi
[ -e "$D3" ] && fail "SIGTERM: guests/dom3 removed" "$(ls -la "$D3")" || pass "SIGTERM: guests/dom3 removed"
wait_released 3 && pass "the store noticed domain 3 is gone" || fail "the store noticed domain 3 is gone"
xs read /local/domain/3/data/x >/dev/null 2>&1 && fail "domain 3's nodes went with it" ||
	pass "domain 3's nodes went with it"

# ----------------------------------------------------------------- SIGKILL
guest_start 4 killed
toolstack_setup 4
expect_ok "introduce domain 4" introduce 4 "$G_GFN" "$G_PORT"
expect_ok "domain 4 writes" gxs 4 write data/k v
{
	kill -KILL "$G_PID"
	wait_pid_gone "$G_PID" 5 || die "pvguest survived SIGKILL"
	wait "$G_PID"
} 2>/dev/null
wait_released 4 && pass "SIGKILL: the store noticed domain 4 is gone" ||
	fail "SIGKILL: the store noticed domain 4 is gone"
guest_start 4 again
expect_eq "SIGKILL: the id is free again (stale directory replaced)" "$G_PID" \
	"$(cat "$PVD_RUNDIR/guests/dom4/pid")"
toolstack_setup 4
expect_ok "the new domain 4 is introduced" introduce 4 "$G_GFN" "$G_PORT"
expect_ok "and served" gxs 4 write data/k2 v
stop_pid "$G_PID"

# ------------------------------------------------------------ as nobody
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	# A run directory nobody cannot search (mktemp's 0700): no ready
	# line, one line naming the directory and the user, nothing left.
	chmod 700 "$PVD_RUNDIR"
	err=$(timeout -k 2 30 "$PVD_BIN/pvguest" -f --domid 5 --name unreach \
		--user nobody --log-level warning --ready-fd 3 2>&1 3>"$PVD_RUNDIR/ready.5")
	expect_eq "as nobody, PVD_RUNDIR 0700: exit 1" 1 "$?"
	expect_eq "as nobody, PVD_RUNDIR 0700: no ready line" "" "$(cat "$PVD_RUNDIR/ready.5")"
	[[ "$err" == "pvguest: user nobody (uid $(id -u nobody)) cannot reach $PVD_RUNDIR (mode 0700, owner uid 0): Permission denied;"* ]] &&
		[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
		pass "as nobody, PVD_RUNDIR 0700: one line naming the directory and the user" ||
		fail "as nobody, PVD_RUNDIR 0700: one line naming the directory and the user" "$err"
	[ -e "$PVD_RUNDIR/guests/dom5" ] && fail "as nobody, PVD_RUNDIR 0700: nothing left" \
		"$(ls -la "$PVD_RUNDIR/guests/dom5")" || pass "as nobody, PVD_RUNDIR 0700: nothing left"
	chmod 755 "$PVD_RUNDIR"
	guest_start 5 unpriv --user nobody
	expect_eq "runs as nobody" "$(id -u nobody)" \
		"$(awk '/^Uid:/ {print $2 "-" $3 "-" $4}' "/proc/$G_PID/status" | cut -d- -f1)"
	expect_eq "real, effective and saved uid all dropped" "$(id -u nobody) $(id -u nobody) $(id -u nobody)" \
		"$(awk '/^Uid:/ {print $2, $3, $4}' "/proc/$G_PID/status")"
	toolstack_setup 5
	expect_ok "the store (root) maps its page and binds its port" introduce 5 "$G_GFN" "$G_PORT"
	expect_ok "root connects to its xenbus.sock" gxs 5 write data/n 1
	expect_eq "and reads back" "1" "$(gxs 5 read data/n)"
	kill -TERM "$G_PID"
	wait_pid_gone "$G_PID" || fail "as nobody: SIGTERM stops it"
	wait "$G_PID"; rc=$?
	expect_eq "as nobody: exit 0" 0 "$rc"
	[ -e "$PVD_RUNDIR/guests/dom5/xenbus.sock" ] || [ -e "$PVD_RUNDIR/guests/dom5/pid" ] &&
		fail "as nobody: its files are removed" || pass "as nobody: its files are removed"
	wait_released 5 && pass "as nobody: the store noticed it is gone" ||
		fail "as nobody: the store noticed it is gone"
	guest_start 5 again
	pass "domain 5 can be created again (as root) after a guest that ran as nobody"
	stop_pid "$G_PID"
else
	log "not root: --user not tested"
fi

stored_alive "pvd-stored survived"
if grep -qiE 'runtime error|sanitizer|assert' "$G_STDERR" 2>/dev/null; then
	fail "pvguest stderr is free of sanitizer reports" "$(grep -iE 'runtime error|sanitizer|assert' "$G_STDERR" | head -n 3)"
fi
finish
