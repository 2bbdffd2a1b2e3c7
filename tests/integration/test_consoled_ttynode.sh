#!/bin/bash
# Where pvd-consoled publishes a console's pty, and what `pvctl console`
# trusts (issue 11): the tty nodes are dom0's, the guest may only read
# them.  A guest acting through its own store socket (--guest-socket, as
# a guest's xenstore clients would) cannot rewrite them (EACCES); a tty it
# writes into its own device/console/K/ (where it used to be) is not what
# `pvctl console --num K` uses; a primary node handed to the guest is
# refused by pvctl with one clear line.  Dom5's console is the pty the
# hostile dom6 tries to steal: input sent by pvctl must reach dom6.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils
PVCTL=$PVD_BIN/pvctl
[ -x "$PVCTL" ] || die "$PVCTL not built (run: make)"
pvctl() { timeout -k 2 30 "$PVCTL" "$@"; }

G6SOCK=$PVD_RUNDIR/g6.sock
STORED_HV=sim stored_start --guest-socket "6:$G6SOCK"
# gxs CMD ARGS...: xenstore-CMD as domain 6 (a client inside the guest).
gxs() { XENSTORED_PATH=$G6SOCK xs "$@"; }
consoled_start

guest_start g5 5
toolstack_add g5 vm-five
tty5=$(wait_tty 5) || die "no console/tty for dom5"

guest_start g6 6 --secondary 2
toolstack_add g6 vm-six
for k in 0 1; do
	r=g6_sec${k}_ref p=g6_sec${k}_port
	xs write "/local/domain/6/device/console/$k/ring-ref" "${!r}" \
		"/local/domain/6/device/console/$k/port" "${!p}"
done
# The frontend directories are the guest's, as libxl makes them.
xs chmod -r /local/domain/6/device n6
tty6=$(wait_tty 6) || die "no console/tty for dom6"
tty61=$(wait_tty 6 1) &&
	pass "a secondary console's tty node is in its backend directory ($tty61)" ||
	fail "a secondary console's tty node is in its backend directory" \
		"no /local/domain/0/backend/console/6/1/tty"

# ------------------------------------------------------------ (b) dom0's nodes
owner() { xs ls -p "$(dirname "$1")" 2>/dev/null | sed -n "s/^$(basename "$1") = .*(\(.*\))\$/\1/p"; }
expect_eq "the primary's tty node: dom0 owns it, the guest reads it" "n0,r6" \
	"$(owner /local/domain/6/console/tty)"
expect_eq "the secondary's tty node: dom0 owns it, the guest reads it" "n0,r6" \
	"$(owner /local/domain/0/backend/console/6/1/tty)"
expect_eq "the guest reads its primary tty node" "$tty6" "$(gxs read /local/domain/6/console/tty 2>&1)"
expect_fail "the guest cannot rewrite its primary tty node" "could not write" \
	gxs write /local/domain/6/console/tty "$tty5"
expect_fail "the guest cannot rewrite its secondary tty node" "could not write" \
	gxs write /local/domain/0/backend/console/6/1/tty "$tty5"
expect_eq "the primary node still names dom6's pty" "$tty6" "$(tty_of 6)"
expect_eq "the secondary node still names dom6's console 1" "$tty61" "$(tty_of 6 1)"

# ------------------------------------------------------------ (a) pvctl
# The guest writes dom5's pty where the node used to be.
gxs write /local/domain/6/device/console/1/tty "$tty5" ||
	die "the guest cannot write its own device/console/1"
gsync g6
printf 'steal-probe\r' | "$PVCTL" console 6 --num 1 >"$PVD_RUNDIR/p1.out" 2>&1 &
P=$!
track_pid "$P"
# dom6's console 1 echoes its input into its output (its log).
expect_in "pvctl console --num 1 reaches dom6's console 1, not the pty the guest named" \
	"$LOGDIR/guest-vm-six-console1.log" "steal-probe"
file_has "$PVD_RUNDIR/g5.input" "steal-probe" &&
	fail "nothing reaches dom5's console" "g5.input has the probe" ||
	pass "nothing reaches dom5's console"
kill -TERM "$P"
wait_pid_gone "$P" 5 || fail "pvctl console stops on SIGTERM"

# A primary node the guest came to own (a toolstack that left it so, or
# a store that let it) is refused, whatever it names.
xs chmod /local/domain/6/console/tty n6 || die "xenstore-chmod"
gxs write /local/domain/6/console/tty "$tty5" || die "the guest cannot write a node it owns"
expect_fail "pvctl refuses a tty node the guest owns, with one clear line" \
	"pvctl: domain '6': the tty node /local/domain/6/console/tty is not owned by dom0: refused" \
	pvctl console 6 </dev/null
file_has "$PVD_RUNDIR/g5.input" "steal-probe" &&
	fail "still nothing reached dom5's console" || pass "still nothing reached dom5's console"

# Removing a secondary console removes its backend node and directory.
xs rm /local/domain/6/device/console/1
gone() { ! xs read /local/domain/0/backend/console/6/1/tty >/dev/null 2>&1; }
wait_for "$PVD_WAIT_SECS" gone && pass "a removed secondary console's tty node goes" ||
	fail "a removed secondary console's tty node goes" "$(tty_of 6 1)"
expect_fail "and its backend directory with it" "" xs ls /local/domain/0/backend/console/6/1

consoled_alive "the daemon is still running"
stored_alive "the store is still running"
finish_consoled
