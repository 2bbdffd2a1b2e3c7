#!/bin/bash
# pvd-blkback killed with SIGKILL (and stopped with SIGTERM) while a guest
# writes and flushes: every write acknowledged after a flush is in the
# backing file while the daemon is down; a new daemon re-reads the store,
# maps the connected frontend's ring again and answers what was left in
# flight, and the guest carries on without reconnecting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"

STORED_HV=sim stored_start
blkback_start
disk=$(disk_file disk.img 64M)
other=$(disk_file other.img 16M)
log1=$PVD_RUNDIR/acked1.log
log2=$PVD_RUNDIR/acked2.log

acked() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
acked_at_least() { [ "$(acked "$1")" -ge "$2" ]; }

# ------------------------------------------------------------ kill -9
# Paced, so that the daemon dies in the middle of the run.
front_bg "$PVD_RUNDIR/f1.out" --domid 1 --params "$disk" --pace-us 200 attach flushwrite 5000 "$log1"
f1=$FRONT_PID
wait_for_acked() {
	local i
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		acked_at_least "$1" "$2" && return 0
		pid_alive "$3" || return 1
		sleep 0.05
	done
	return 1
}
wait_for_acked "$log1" 200 "$f1" || die "the guest acknowledged no writes: $(cat "$PVD_RUNDIR/f1.out")"
blkback_kill9
n=$(acked "$log1")
log "killed with $n flushed writes acknowledged"
expect_front "every acknowledged flushed write is in the file after kill -9" \
	"filecheck ok: $n" filecheck "$disk" "$log1"
pid_alive "$f1" && pass "the guest waits for its answer" ||
	fail "the guest waits for its answer" "$(cat "$PVD_RUNDIR/f1.out")"
blkback_start
front_wait "$f1"
expect_eq "the guest finishes after the restart (exit status)" 0 $?
if grep -q "flushwrite ok: 5000" "$PVD_RUNDIR/f1.out"; then
	pass "all 5000 writes acknowledged and read back across the restart"
else
	fail "all 5000 writes acknowledged and read back across the restart" "$(cat "$PVD_RUNDIR/f1.out")"
fi
[ "$(acked "$log1")" -gt "$n" ] && pass "writes went on after the restart" ||
	fail "writes went on after the restart" "$(acked "$log1") <= $n"
expect_front "every acknowledged write is in the file" "filecheck ok: 5000" \
	filecheck "$disk" "$log1"
grep -q "re-attached to the frontend's rings" "$BLKBACK_LOG" &&
	pass "the new daemon re-attached to the connected ring" ||
	fail "the new daemon re-attached to the connected ring" "$(tail -n 20 "$BLKBACK_LOG")"
# The queues' journals (docs/pvd-blkback.md, "Restart"): the connected
# disk's survived the kill and was read; a disk detached leaves none.
jdir=$PVD_RUNDIR/blkback-journal
[ -s "$jdir/1-51712-0" ] && pass "the connected disk's queue has its journal" ||
	fail "the connected disk's queue has its journal" "$(ls -l "$jdir" 2>&1)"
log "after kill -9: $(grep -o 'from the journal: .*' "$BLKBACK_LOG" || echo 'nothing was in flight in the journal')"
expect_front "another disk works after the restart" "verify ok" \
	--domid 3 --params "$other" attach verify detach
for ((i = 0; i < PVD_WAIT_SECS * 10; i++)); do
	[ -e "$jdir/3-51712-0" ] || break
	sleep 0.1
done
[ ! -e "$jdir/3-51712-0" ] && [ -s "$jdir/1-51712-0" ] &&
	pass "a detached disk's journal is removed" ||
	fail "a detached disk's journal is removed" "$(ls -l "$jdir" 2>&1)"

# ------------------------------------------------------------ SIGTERM
front_bg "$PVD_RUNDIR/f2.out" --domid 2 --params "$disk" --seed 777 --pace-us 200 attach flushwrite 2000 "$log2"
f2=$FRONT_PID
wait_for_acked "$log2" 200 "$f2" || die "the guest acknowledged no writes: $(cat "$PVD_RUNDIR/f2.out")"
blkback_stop
expect_eq "SIGTERM with a guest connected: clean exit" 0 "$BLKBACK_EXIT"
expect_eq "the backend's state is left Connected for the next daemon" 4 \
	"$(xs read /local/domain/0/backend/vbd/2/51712/state 2>/dev/null)"
blkback_start
front_wait "$f2"
expect_eq "the guest finishes after a clean restart" 0 $?
grep -q "flushwrite ok: 2000" "$PVD_RUNDIR/f2.out" &&
	pass "all writes acknowledged across the clean restart" ||
	fail "all writes acknowledged across the clean restart" "$(cat "$PVD_RUNDIR/f2.out")"

# ------------------------------------------------------------ real disk
# A few flushes on the file system under the run directory (not tmpfs):
# fdatasync really reaches a disk there.
slow=$(disk_file slow.img 4M "$PVD_RUNDIR")
expect_front "flushed writes on $(df -T "$PVD_RUNDIR" | awk 'NR == 2 { print $2 }')" \
	"flushwrite ok: 16" --domid 4 --params "$slow" attach flushwrite 16 "$PVD_RUNDIR/slow.log" detach

blkback_alive "pvd-blkback still runs"
blkback_stop
expect_eq "clean exit" 0 "$BLKBACK_EXIT"
blkback_finish
