#!/bin/bash
# A guest flooding pvd-consoled's log: it writes its console port 5,000
# times, two ports that are not its own in turn.  Each change asks for a
# console set-up, which fails (a refusal in console.c and in the tracker);
# set-ups are rate-limited per domain (pvd_logrl: a burst of 10, then 1 a
# second, the rest deferred with one "N console set-ups deferred" line when
# it reopens).  Over T seconds a domain gets at most 10 + T + 1 set-ups,
# each with at most 3 lines (two refusals, one "deferred" line): the bound
# below.  Another guest's console keeps working.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils

BURST=10
PER_SEC=1
N=5000

STORED_HV=sim stored_start
consoled_start

guest_start good 5
toolstack_add good good
good_tty=$(wait_tty 5) || die "no console/tty for the good guest"
reader_start "$PVD_RUNDIR/good.pty" "$good_tty"

guest_start h 31
t0=$(date +%s%N)
toolstack_add h hostile
wait_tty 31 >/dev/null || die "no console/tty for the hostile guest"
out=$("$GUEST_BIN" spam /local/domain/31/console/port "$N" 9990 9991 2>&1)
expect_eq "the flood ran" "spam $N" "$out"
# The tracker takes the store's events in order: once a domain introduced
# after the flood has its console, it has looked at every write before.
guest_start late 32
toolstack_add late late
wait_tty 32 >/dev/null && pass "a domain introduced after the flood is served" ||
	fail "a domain introduced after the flood is served" "no tty for dom32"
gcmd good write "good-after-flood"
expect_in "the good guest's console still works" "$PVD_RUNDIR/good.pty" "good-after-flood"
t1=$(date +%s%N)
secs=$(((t1 - t0 + 999999999) / 1000000000))
allowed=$((BURST + secs * PER_SEC + 1))
lines=$(grep -c "dom31[: ]" "$CONSOLED_LOG")
if [ "$lines" -le $((3 * allowed)) ]; then
	pass "log lines about dom31: $lines <= $((3 * allowed)) (${secs}s)"
else
	fail "log lines about dom31 bounded" "$lines > $((3 * allowed)) over ${secs}s" \
		"$(grep "dom31[: ]" "$CONSOLED_LOG" | tail -n 3)"
fi
consoled_alive "pvd-consoled still runs"
consoled_stop
expect_eq "clean exit" 0 "$CONSOLED_EXIT"
finish_consoled
