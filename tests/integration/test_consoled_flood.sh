#!/bin/bash
# pvd-consoled under a flood: with nobody attached the guest is never
# blocked, the daemon keeps a bounded buffer, and a client attaching later
# sees the drop marker and then the newest output; the log has it all (or
# is rotated at --log-max-bytes).  With a rate limit, a flooding guest is
# held back (its ring stays full) while another guest's output flows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils

STORED_HV=sim stored_start
consoled_start --buffer-size 4K --rate-limit 0 --log-max-bytes 1M

# ------------------------------------------------------------ nobody attached
guest_start fl 5
toolstack_add fl flooder
tty=$(wait_tty 5) || die "no console/tty for dom5"
gcmd fl flood 2000000
flood_done() { [ "$(gstatus fl flood_left)" = 0 ] && [ "$(gstatus fl pending)" = 0 ] &&
	[ "$(gstatus fl out_prod)" = "$(gstatus fl out_cons)" ]; }
# Bounded generously: 2 MB through the daemon takes well under a second.
if wait_for 60 flood_done; then
	pass "with nobody attached the guest is never blocked: all 2 MB consumed"
else
	fail "with nobody attached the guest is never blocked" \
		"flood_left=$(gstatus fl flood_left) out_prod=$(gstatus fl out_prod) out_cons=$(gstatus fl out_cons)"
fi
reader_start "$PVD_RUNDIR/fl.pty" "$tty"
expect_in "a client attaching later gets the newest output" "$PVD_RUNDIR/fl.pty" "FLOOD-END"
expect_in "... after a marker for what was dropped" "$PVD_RUNDIR/fl.pty" " bytes dropped]"
size=$(stat -c %s "$PVD_RUNDIR/fl.pty")
# What a late client gets is what the kernel's pty buffer held plus the
# daemon's 4 KiB: far less than the flood.
if [ "$size" -lt 500000 ]; then
	pass "the daemon kept a bounded amount ($size bytes reached the late client)"
else
	fail "the daemon kept a bounded amount" "$size bytes reached the late client"
fi
# Every byte is accounted for: delivered, or counted in a marker.
read -r delivered dropped markers < <(perl -0777 -ne '
	my ($d, $m, $n) = (0, 0, 0);
	while (/\r\n\[pvd-consoled: (\d+) bytes dropped\]\r\n/g) { $d += $1; $m += length($&); $n++ }
	print length($_) - $m, " $d $n\n"' "$PVD_RUNDIR/fl.pty")
total=$((2000000 + 11))	# the flood and "\nFLOOD-END\n"
log "late client: $size bytes, $markers marker(s), $dropped bytes dropped"
expect_eq "delivered + dropped = written" "$total" "$((delivered + dropped))"
# The log was capped at 1 MiB and rotated once or more: both files hold
# at most the cap, the newest output is in the current one.
expect_in "the log has the end of the flood" "$LOGDIR/guest-flooder.log" "FLOOD-END"
cur=$(stat -c %s "$LOGDIR/guest-flooder.log")
old=$(stat -c %s "$LOGDIR/guest-flooder.log.1" 2>/dev/null || echo missing)
if [ "$cur" -le 1048576 ] && [ "$old" != missing ] && [ "$old" -le 1048576 ]; then
	pass "--log-max-bytes caps the log (current $cur, .1 $old bytes)"
else
	fail "--log-max-bytes caps the log" "current $cur, .1 $old"
fi
consoled_alive "the daemon survives the flood"

# ------------------------------------------------------------ rate limit
consoled_stop
consoled_start --rate-limit 2K --rate-burst 2K
_tty_not= tty=$(wait_tty 5) || die "no console/tty for dom5 after restart"
guest_start ok 6
toolstack_add ok quiet
tty6=$(wait_tty 6) || die "no console/tty for dom6"
reader_start "$PVD_RUNDIR/ok.pty" "$tty6"
gcmd fl flood 1000000
gsync fl
gcmd ok write "quiet guest still heard"
expect_in "another guest's output flows while one floods" "$PVD_RUNDIR/ok.pty" "quiet guest still heard"
# 1 MB at 2 KB/s takes ~500 s: the flood cannot be over, and the ring of
# the flooder is full (it is blocked, nothing lost).
left=$(gstatus fl flood_left)
prod=$(gstatus fl out_prod) cons=$(gstatus fl out_cons)
if [ -n "$left" ] && [ "$left" -gt 0 ]; then
	pass "the rate limit holds the flooding guest back (flood_left=$left)"
else
	fail "the rate limit holds the flooding guest back" "flood_left=$left"
fi
wait_ring_full() { [ $(($(gstatus fl out_prod) - $(gstatus fl out_cons))) -eq 2048 ]; }
wait_for "$PVD_WAIT_SECS" wait_ring_full && pass "the flooder's ring stays full: it blocks, as with xenconsoled" ||
	fail "the flooder's ring stays full" "out_prod=$(gstatus fl out_prod) out_cons=$(gstatus fl out_cons)"
# And it does make progress: the limiter resumes on its timer.
c1=$(gstatus fl out_cons)
progress() { [ "$(gstatus fl out_cons)" != "$c1" ]; }
wait_for "$PVD_WAIT_SECS" progress && pass "the limited guest still makes progress" ||
	fail "the limited guest still makes progress" "out_cons stuck at $c1"
consoled_alive "the daemon is still running"
finish_consoled
