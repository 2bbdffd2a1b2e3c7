#!/bin/bash
# pvd-blkback on block devices (phy:): a loop device written, read back
# and discarded (BLKDISCARD) through the ring; a read-only loop device
# refused for mode w and served for mode r; a loop device with direct I/O
# (as a real disk would be).  An LVM volume is the same kind of block
# device.  Skipped (77) where losetup cannot attach a loop device.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"

loop_attach "$(disk_file loop.img 32M)"
rw=$LOOPDEV
loop_attach "$(disk_file roloop.img 16M)" -r
ro=$LOOPDEV
STORED_HV=sim stored_start
blkback_start

expect_front "a loop device: verify (segments, indirect, flush, barrier, discard)" \
	"verify ok" --domid 1 --params "phy:$rw" attach verify detach
expect_front "a loop device: 4 KiB random writes at QD32" "bench rw=randwrite" \
	--domid 2 --params "$rw" attach bench randwrite 4096 32 0.3 detach
expect_front "mode w on a read-only device: refused" "refused:" \
	--domid 3 --params "$ro" attach-fail detach
expect_front "mode r on a read-only device: served" "attached" \
	--domid 4 --params "$ro" --mode r attach detach
if losetup --help 2>&1 | grep -q -- --direct-io; then
	loop_attach "$(disk_file dioloop.img 16M)" --direct-io=on
	expect_front "a loop device with direct I/O" "verify ok" \
		--domid 5 --params "phy:$LOOPDEV" attach verify detach
fi

blkback_alive "pvd-blkback still runs"
blkback_stop
expect_eq "clean exit" 0 "$BLKBACK_EXIT"
blkback_finish
