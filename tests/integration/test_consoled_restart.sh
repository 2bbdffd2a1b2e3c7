#!/bin/bash
# pvd-consoled restarted (kill -9, and a clean stop) while guests run:
# each running domain gets a new pty, its console/tty node is rewritten,
# what the guest wrote meanwhile is not lost (it waited in its ring), and
# output and input flow again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils

STORED_HV=sim stored_start
consoled_start
guest_start a 5
toolstack_add a alpha
guest_start b 6
toolstack_add b beta
tty5=$(wait_tty 5) || die "no console/tty for dom5"
tty6=$(wait_tty 6) || die "no console/tty for dom6"
reader_start "$PVD_RUNDIR/a1.pty" "$tty5"
reader1=$READER_PID
gcmd a write "before the crash"
expect_in "output flows before the crash" "$PVD_RUNDIR/a1.pty" "before the crash"

# ------------------------------------------------------------ kill -9
consoled_kill9
wait_pid_gone "$reader1" "$PVD_WAIT_SECS" && pass "the old pty's client sees the end" ||
	fail "the old pty's client sees the end" "reader $reader1 still runs"
# The node still names the dead pty; mark it to see it rewritten.
xs write /local/domain/5/console/tty stale
xs write /local/domain/6/console/tty stale
gcmd a write "written while the daemon was down"
gsync a
consoled_start
_tty_not=stale
new5=$(wait_tty 5) && pass "dom5's console/tty is rewritten after kill -9 ($new5)" ||
	fail "dom5's console/tty is rewritten after kill -9" "$(tty_of 5)"
new6=$(wait_tty 6) && pass "dom6's console/tty is rewritten after kill -9 ($new6)" ||
	fail "dom6's console/tty is rewritten after kill -9" "$(tty_of 6)"
_tty_not=
reader_start "$PVD_RUNDIR/a2.pty" "$new5"
expect_in "what the guest wrote while the daemon was down arrives" "$PVD_RUNDIR/a2.pty" \
	"written while the daemon was down"
gcmd a write "after the restart"
expect_in "output flows after the restart" "$PVD_RUNDIR/a2.pty" "after the restart"
printf 'typed-after-restart\r' >"$new5"
expect_in "input flows after the restart" "$PVD_RUNDIR/a.input" "typed-after-restart"
reader_start "$PVD_RUNDIR/b2.pty" "$new6"
gcmd b write "beta is back"
expect_in "the other domain's console is back too" "$PVD_RUNDIR/b2.pty" "beta is back"
expect_in "the log continues" "$LOGDIR/guest-alpha.log" "after the restart"
expect_eq "the log has each line once" 1 "$(grep -c 'before the crash' "$LOGDIR/guest-alpha.log")"

# ------------------------------------------------------------ twice more
for round in 1 2; do
	consoled_kill9
	consoled_start
	_tty_not=
	t=$(wait_tty 5) || fail "round $round: dom5 has a console"
	reader_start "$PVD_RUNDIR/r$round.pty" "$t"
	gcmd a write "round $round"
	expect_in "round $round: output flows after another kill -9" "$PVD_RUNDIR/r$round.pty" "round $round"
done

# ------------------------------------------------------------ clean restart
consoled_stop
expect_eq "SIGTERM exits 0" 0 "$CONSOLED_EXIT"
consoled_start
t=$(wait_tty 5) || fail "dom5 has a console after a clean restart"
reader_start "$PVD_RUNDIR/c.pty" "$t"
gcmd a write "clean restart"
expect_in "output flows after a clean restart" "$PVD_RUNDIR/c.pty" "clean restart"

# A domain introduced while the daemon was down is served at start-up.
consoled_stop
guest_start c 7
toolstack_add c gamma
consoled_start
t=$(wait_tty 7) && pass "a domain introduced while the daemon was down is served" ||
	fail "a domain introduced while the daemon was down is served"
consoled_alive "the daemon is still running"
finish_consoled
