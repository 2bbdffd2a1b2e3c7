#!/bin/bash
# pvd-blkback end to end: discards that reach past the end of the disk,
# sent by a guest frontend on a real ring (from the last sector one past
# the end, starting exactly at the end, a count or a start that wraps
# sector + nr), are each answered BLKIF_RSP_ERROR and leave the file as it
# was; the same connection then still serves (a discard ending exactly at
# the end is done), and another guest on another disk is served
# throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"
need_xsutils

STORED_HV=sim stored_start
blkback_start
size=$((4 << 20))
disk=$(disk_file edge.img $size)
other=$(disk_file other.img 16M)
# Data everywhere, so that a hole punched anywhere shows.
head -c $size /dev/urandom >"$disk" || die "cannot fill $disk"
sum_before=$(head -c $((size - 4096)) "$disk" | md5sum)
tail_before=$(tail -c 4096 "$disk" | md5sum)

front_bg "$PVD_RUNDIR/other.out" --domid 2 --params "$other" \
	attach bench randwrite 4096 8 2 verify detach
other_pid=$FRONT_PID

out=$(front --domid 1 --params "$disk" attach discard-edge ctl stats detach 2>&1)
rc=$?
for what in "from the last sector, one past the end" "starting exactly at the end" \
	"a count that wraps sector + nr" "a start that wraps sector + nr"; do
	if [[ "$out" == *"discard $what: refused"* ]]; then
		pass "discard $what: BLKIF_RSP_ERROR"
	else
		fail "discard $what: BLKIF_RSP_ERROR" "exit $rc" "$(printf '%s' "$out" | tail -n 5)"
	fi
done
if [ "$rc" -eq 0 ] && [[ "$out" == *"discard-edge ok"* ]]; then
	pass "the disk's end unchanged by the refused discards, then served"
else
	fail "the disk's end unchanged by the refused discards, then served" \
		"exit $rc" "$(printf '%s' "$out" | tail -n 5)"
fi
stats=$(printf '%s\n' "$out" | grep -o '{"domid":1,.*')
expect_eq "the refused discards counted as bad requests" 4 "$(stat_of "$stats" err_bad_req)"
expect_eq "file size unchanged" $size "$(stat -c %s "$disk")"
expect_eq "file unchanged but for the last 8 sectors" "$sum_before" \
	"$(head -c $((size - 4096)) "$disk" | md5sum)"
expect_eq "the last 8 sectors discarded by the good request" \
	"$(head -c 4096 /dev/zero | md5sum)" "$(tail -c 4096 "$disk" | md5sum)"
[ "$tail_before" != "$(head -c 4096 /dev/zero | md5sum)" ] ||
	fail "the last 8 sectors held data before" "they were zero"

front_wait "$other_pid"
expect_eq "another guest served meanwhile" 0 $?
expect_front "the disk serves a new connection" "verify ok" \
	--domid 3 --params "$disk" attach verify detach

blkback_alive "pvd-blkback still runs"
blkback_stop
expect_eq "SIGTERM: clean exit" 0 "$BLKBACK_EXIT"
blkback_finish
