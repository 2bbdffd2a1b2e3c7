#!/bin/bash
# pvd-blkback end to end: the xenbus handshake through a real pvd-stored,
# then writes read back and compared (many shapes, indirect requests,
# flush, barrier, discard, out-of-range refused) on a file, on a
# read-only disk, with multi-page rings, several queues and without
# persistent grants; the nodes the backend writes; statistics on the
# control socket; SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
need_xsutils

STORED_HV=sim stored_start
blkback_start
disk=$(disk_file disk.img 64M)

expect_front "attach, verify, detach on a file" "verify ok" \
	--domid 1 --params "$disk" attach verify detach

# The nodes a frontend reads, while connected.
front_bg "$PVD_RUNDIR/f1.out" --domid 2 --params "$disk" attach expect-state 99
be=/local/domain/0/backend/vbd/2/51712
for ((i = 0; i < 100; i++)); do
	[ "$(xenstore-read "$be/state" 2>/dev/null)" = 4 ] && break
	sleep 0.05
done
expect_eq "backend Connected" 4 "$(xenstore-read "$be/state" 2>/dev/null)"
expect_eq "sectors" 131072 "$(xenstore-read "$be/sectors")"
expect_eq "info" 0 "$(xenstore-read "$be/info")"
expect_eq "sector-size" 512 "$(xenstore-read "$be/sector-size")"
expect_eq "physical-sector-size" 4096 "$(xenstore-read "$be/physical-sector-size")"
expect_eq "feature-flush-cache" 1 "$(xenstore-read "$be/feature-flush-cache")"
expect_eq "feature-barrier" 1 "$(xenstore-read "$be/feature-barrier")"
expect_eq "feature-discard" 1 "$(xenstore-read "$be/feature-discard")"
expect_eq "discard-secure" 0 "$(xenstore-read "$be/discard-secure")"
expect_eq "feature-max-indirect-segments" 256 "$(xenstore-read "$be/feature-max-indirect-segments")"
expect_eq "feature-persistent" 1 "$(xenstore-read "$be/feature-persistent")"
expect_eq "max-ring-page-order" 4 "$(xenstore-read "$be/max-ring-page-order")"
expect_eq "multi-queue-max-queues" 4 "$(xenstore-read "$be/multi-queue-max-queues")"
kill -TERM "$FRONT_PID" 2>/dev/null
front_wait "$FRONT_PID" >/dev/null
xenstore-rm /local/domain/2/device/vbd/51712 2>/dev/null
xenstore-rm "$be" 2>/dev/null

expect_front "multi-page ring (order 2)" "verify ok" \
	--domid 3 --params "$disk" --ring-order 2 attach verify detach
expect_front "four queues" "4 queue(s)" \
	--domid 4 --params "$disk" --queues 4 --slots 4 attach verify bench randwrite 4096 4 0.2 detach
expect_front "without persistent grants" "verify ok" \
	--domid 5 --params "$disk" --persistent 0 attach verify detach
expect_front "without indirect segments" "verify ok" \
	--domid 6 --params "$disk" --max-seg 11 attach verify detach
expect_front "queue depth 32, 4 KiB random writes" "bench rw=randwrite" \
	--domid 7 --params "$disk" attach bench randwrite 4096 32 0.3 detach

# Read-only: reads work, writes are refused per request.
out=$(front --domid 8 --params "$disk" --mode r attach verify 2>&1)
if [[ "$out" == *"write of "*" failed"* ]]; then
	pass "mode r: writes refused"
else
	fail "mode r: writes refused" "$out"
fi
expect_eq "mode r: info says read-only" 4 "$(xenstore-read /local/domain/0/backend/vbd/8/51712/info 2>/dev/null)"
xenstore-rm /local/domain/8/device/vbd/51712 2>/dev/null
xenstore-rm /local/domain/0/backend/vbd/8/51712 2>/dev/null

# Statistics with Xen's names, while a disk is connected.
stats=$(front --domid 9 --params "$disk" attach verify ctl stats detach 2>&1 | grep '^{')
for k in oo_req rd_req wr_req f_req ds_req rd_sect wr_sect notify_sent notify_suppressed lat_us_log2; do
	if [[ "$stats" == *"\"$k\""* ]]; then pass "stats has $k"; else fail "stats has $k" "$stats"; fi
done
for k in rd_req wr_req f_req ds_req rd_sect wr_sect; do
	v=$(stat_of "$stats" "$k")
	if [ -n "$v" ] && [ "$v" -gt 0 ]; then pass "stats: $k counted ($v)"; else fail "stats: $k counted" "$stats"; fi
done
expect_eq "stats: out-of-range reads counted as bad requests" 2 "$(stat_of "$stats" err_bad_req)"
expect_eq "control socket answers ping" pong "$(ctl ping)"

# A guest that keeps its ring full does not starve the rest of the
# daemon: the control socket still answers, SIGTERM still works.
front_bg "$PVD_RUNDIR/busy.out" --domid 11 --params null:1G attach bench randread 4096 32 3 detach
busy=$FRONT_PID
for ((i = 0; i < 200; i++)); do
	[[ "$(ctl stats)" == *'"domid":11'*'"rd_req":'[1-9]* ]] && break
	sleep 0.05
done
expect_eq "control socket answers while a guest keeps its ring busy" pong "$(ctl ping)"
front_wait "$busy"
expect_eq "the busy guest's run completes" 0 $?

blkback_alive "pvd-blkback still runs"
blkback_stop
expect_eq "SIGTERM: clean exit" 0 "$BLKBACK_EXIT"

# The same through the io_uring engine.
blkback_start --engine uring
expect_front "io_uring engine: attach, verify, detach" "verify ok" \
	--domid 12 --params "$disk" attach verify bench randwrite 4096 32 0.2 detach
expect_front "io_uring engine: four queues, multi-page rings" "verify ok" \
	--domid 13 --params "$disk" --queues 4 --ring-order 1 --slots 8 attach verify detach
blkback_stop
expect_eq "io_uring engine: clean exit" 0 "$BLKBACK_EXIT"
blkback_finish
