#!/bin/bash
# Hostile guests against pvd-consoled, each in its own domain beside a
# good guest whose console is checked after every case: out ring indices
# a ring and more apart, a consumer index past the producer, in ring
# indices past the buffer, a guest that never consumes its input, a guest
# that writes without notifying, a domain that dies with a client on its
# pty, a pty client that goes away, bad store nodes (garbage ring-ref, a
# port that is not the guest's, another backend's type), and too many
# secondary consoles.  The daemon must stay up and the good console work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils

STORED_HV=sim stored_start
consoled_start

guest_start good 5
toolstack_add good good
good_tty=$(wait_tty 5) || die "no console/tty for the good guest"
reader_start "$PVD_RUNDIR/good.pty" "$good_tty"
GOOD_READER=$READER_PID
_good_n=0
# check_good CASE: the good guest's console works both ways.
check_good() {
	_good_n=$((_good_n + 1))
	gcmd good write "good-out-$_good_n"
	printf 'good-in-%s\r' "$_good_n" >"$good_tty"
	if wait_for "$PVD_WAIT_SECS" file_has "$PVD_RUNDIR/good.pty" "good-out-$_good_n" &&
		wait_for "$PVD_WAIT_SECS" file_has "$PVD_RUNDIR/good.input" "good-in-$_good_n"; then
		pass "$1: the good guest's console still works"
	else
		fail "$1: the good guest's console still works" "$(tail -c 200 "$PVD_RUNDIR/good.pty")"
	fi
	consoled_alive "$1: the daemon is still running"
}
check_good "start"

# broken CASE NAME DOMID CMD...: the guest breaks its ring with CMD; the
# daemon says so, removes its tty node, and serves the others.
broken() {
	local case=$1 name=$2 domid=$3 tty
	shift 3
	guest_start "$name" "$domid"
	toolstack_add "$name"
	tty=$(wait_tty "$domid") || { fail "$case: dom$domid has a console"; return; }
	"$@" "$name" "$tty"
	expect_log "$case: the daemon reports the broken ring" "dom$domid: $case_why"
	no_tty() { [ -z "$(tty_of "$domid")" ]; }
	wait_for "$PVD_WAIT_SECS" no_tty && pass "$case: its tty node is removed" ||
		fail "$case: its tty node is removed" "$(tty_of "$domid")"
	check_good "$case"
}

case_why="out ring indices more than a ring apart"
out_past() { gcmd "$1" corrupt-out; }
broken "out indices a ring and more apart" h1 11 out_past
out_back() { gcmd "$1" corrupt-out-back; }
broken "out consumer past the producer" h2 12 out_back
case_why="in ring indices more than a ring apart"
in_past() { gcmd "$1" corrupt-in; gsync "$1"; printf 'x' >"$2"; }
broken "in indices past the buffer" h3 13 in_past
# Broken guests' events are ignored afterwards.
gcmd h1 write "ignored"
gcmd h1 notify
check_good "a broken guest keeps notifying"

# ------------------------------------------------------------ never consumes
guest_start nc 14
toolstack_add nc noconsume
nc_tty=$(wait_tty 14) || die "dom14 has no console"
gcmd nc noconsume
gsync nc
head -c 5000 /dev/zero | tr '\0' 'n' >"$nc_tty"
in_full() { [ $(($(gstatus nc in_prod) - $(gstatus nc in_cons))) -eq 1024 ]; }
wait_for "$PVD_WAIT_SECS" in_full && pass "never consumes: its in ring is full, no more" ||
	fail "never consumes: its in ring is full, no more" \
		"in_prod=$(gstatus nc in_prod) in_cons=$(gstatus nc in_cons)"
check_good "a guest that never consumes its input"
gcmd nc consume
got_all() { [ "$(tr -dc n <"$PVD_RUNDIR/nc.input" | wc -c)" -eq 5000 ]; }
wait_for "$PVD_WAIT_SECS" got_all && pass "once it consumes, all 5000 bytes arrive" ||
	fail "once it consumes, all 5000 bytes arrive" "$(wc -c <"$PVD_RUNDIR/nc.input")"

# ------------------------------------------------------------ never notifies
# The daemon reads a ring on the guest's events only (as xenconsoled):
# output written without a notification waits in the ring, and arrives
# with the next notification.  (That nothing is read before is checked
# deterministically in tests/unit/test_consoled_console.c.)
guest_start nn 15
toolstack_add nn nonotify
nn_tty=$(wait_tty 15) || die "dom15 has no console"
reader_start "$PVD_RUNDIR/nn.pty" "$nn_tty"
gcmd nn writen "written silently"
gsync nn
check_good "a guest that writes without notifying"
gcmd nn notify
expect_in "without notify: the output arrives at the next notification" "$PVD_RUNDIR/nn.pty" \
	"written silently"

# ------------------------------------------------------------ death with a client
guest_start dd 16
toolstack_add dd dying
dd_tty=$(wait_tty 16) || die "dom16 has no console"
reader_start "$PVD_RUNDIR/dd.pty" "$dd_tty"
dd_reader=$READER_PID
gcmd dd write "last words"
expect_in "the dying guest's output arrives" "$PVD_RUNDIR/dd.pty" "last words"
kill -KILL "$dd_pid"
# pvd-stored notices the death and fires @releaseDomain; the daemon tears
# the console down and its client sees the end of the pty.
wait_pid_gone "$dd_reader" "$PVD_WAIT_SECS" && pass "a dead domain's pty client sees the end" ||
	fail "a dead domain's pty client sees the end" "reader still runs"
expect_log "the daemon notices the death" "dom16 is"
check_good "a domain that dies with a client attached"

# ------------------------------------------------------------ client goes away
kill -KILL "$GOOD_READER"
wait_pid_gone "$GOOD_READER" 5
gcmd good write "nobody is reading this"
gsync good
reader_start "$PVD_RUNDIR/good.pty" "$good_tty"
GOOD_READER=$READER_PID
expect_in "a client that disappears loses nothing that fits the buffer" "$PVD_RUNDIR/good.pty" \
	"nobody is reading this"
check_good "a pty client that disappears"

# ------------------------------------------------------------ bad store nodes
# bad_nodes DOMID KEY=VALUE...: a domain whose console nodes are bad.
guest_start b1 21
"$GUEST_BIN" introduce 21 "$b1_store_gfn" "$b1_store_port"
xs write /local/domain/21/console/ring-ref garbage /local/domain/21/console/port "$b1_console_port"
guest_start b2 22
"$GUEST_BIN" introduce 22 "$b2_store_gfn" "$b2_store_port"
xs write /local/domain/22/console/ring-ref "$b2_console_gfn" /local/domain/22/console/port 99999999999
guest_start b3 23
"$GUEST_BIN" introduce 23 "$b3_store_gfn" "$b3_store_port"
xs write /local/domain/23/console/ring-ref "$b3_console_gfn" /local/domain/23/console/port "$b3_console_port" \
	/local/domain/23/console/type ioemu
guest_start b4 24
"$GUEST_BIN" introduce 24 "$b4_store_gfn" "$b4_store_port"
# A valid number, but not a port the guest allocated for dom0.
xs write /local/domain/24/console/ring-ref "$b4_console_gfn" /local/domain/24/console/port 77
# Events are handled in order: once a later domain has its console, the
# daemon has looked at these.
guest_start after 25
toolstack_add after after
wait_tty 25 >/dev/null || fail "a later good domain gets its console"
for d in 21 22 23; do
	expect_eq "dom$d (bad nodes) has no tty node" "" "$(tty_of $d)"
done
expect_log "a port that is not the guest's is reported" "dom24: cannot bind port 77"
expect_eq "dom24 (foreign port) has no tty node" "" "$(tty_of 24)"
# Fixing the nodes serves the console.
xs write /local/domain/21/console/ring-ref "$b1_console_gfn"
wait_tty 21 >/dev/null && pass "fixed nodes are followed: dom21 is served" ||
	fail "fixed nodes are followed: dom21 is served"
check_good "bad store nodes"

# ------------------------------------------------------------ too many consoles
guest_start many 26 --secondary 10
toolstack_add many many
for k in 0 1 2 3 4 5 6 7 8 9; do
	r=many_sec${k}_ref p=many_sec${k}_port
	xs write "/local/domain/26/device/console/$k/ring-ref" "${!r}" \
		"/local/domain/26/device/console/$k/port" "${!p}"
done
expect_log "too many secondary consoles are reported" "dom26: more than 8 secondary consoles"
# The tty nodes are in the consoles' backend directories (dom0's).
served8() { [ "$(xs ls /local/domain/0/backend/console/26 2>/dev/null | grep -c 'tty = ')" -eq 8 ]; }
wait_for "$PVD_WAIT_SECS" served8 && pass "at most 8 secondary consoles are served" ||
	fail "at most 8 secondary consoles are served" "$(xs ls /local/domain/0/backend/console/26 | grep -c 'tty = ')"
check_good "too many secondary consoles"

# ------------------------------------------------------------ store rewrites
# A guest rewriting its console directory in a loop: the daemon keeps up
# and keeps serving.
guest_start rw 27
toolstack_add rw rewriter
wait_tty 27 >/dev/null || fail "dom27 has a console"
for i in $(seq 1 200); do echo "write /local/domain/27/console/limit $i"; done |
	sed 's/^write //' | while read -r k v; do xs write "$k" "$v"; done
check_good "a guest rewriting its console nodes"

stored_alive "the store is still running"
finish_consoled
