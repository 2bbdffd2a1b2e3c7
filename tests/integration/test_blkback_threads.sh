#!/bin/bash
# pvd-blkback with 3 I/O threads (--io-threads 3, whatever
# PVD_BLK_IO_THREADS says): several guests, multi-queue disks, the rings
# spread over the threads (control socket stats: "threads", each queue's
# "thread"); data written and read back; a guest attaching and detaching
# while the others run; kill -9 and a restart that re-attaches every
# ring, the guests' acknowledged writes all on disk; one disk's queues
# served by several threads.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blkback_lib.sh"

STORED_HV=sim stored_start
blkback_start --io-threads 3

acked() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
wait_for_acked() {
	local i
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ "$(acked "$1")" -ge "$2" ] && return 0
		pid_alive "$3" || return 1
		sleep 0.05
	done
	return 1
}

# Four guests, paced so that they are still running at the kill; two
# with two queues each: 6 rings.
N=4000
pids=()
for g in 1 2 3 4; do
	q=1
	[ "$g" -ge 3 ] && q=2
	disk[$g]=$(disk_file "g$g.img" 32M)
	front_bg "$PVD_RUNDIR/f$g.out" --domid "$g" --params "${disk[$g]}" \
		--queues "$q" --slots 4 --seed "$g" --pace-us 300 attach flushwrite "$N" "$PVD_RUNDIR/acked$g.log"
	pids[$g]=$FRONT_PID
done
for g in 1 2 3 4; do
	wait_for_acked "$PVD_RUNDIR/acked$g.log" 50 "${pids[$g]}" ||
		die "guest $g acknowledged no writes: $(cat "$PVD_RUNDIR/f$g.out")"
done

# spread STATS: how many threads serve at least one ring, from the
# "threads" array and from the queues' "thread" fields.
threads_busy() { printf '%s\n' "$1" | grep -o '"rings":[1-9][0-9]*' | wc -l; }
queue_threads() { printf '%s\n' "$1" | grep -o '"thread":[0-9]*' | sort -u | wc -l; }
rings_total() { printf '%s\n' "$1" | grep -o '"rings":[0-9]*' | cut -d: -f2 | paste -sd+ | bc; }

st=$(ctl stats)
expect_eq "stats: io_threads" 3 "$(stat_of "$st" io_threads)"
expect_eq "stats: one entry per thread" 3 "$(printf '%s\n' "$st" | grep -o '"cpu_ns":' | wc -l)"
expect_eq "stats: the threads serve the 6 rings" 6 "$(rings_total "$st")"
[ "$(threads_busy "$st")" -ge 2 ] && pass "rings are spread over the threads ($(threads_busy "$st") of 3 busy)" ||
	fail "rings are spread over the threads" "$st"
[ "$(queue_threads "$st")" -ge 2 ] && pass "the queues name different threads" ||
	fail "the queues name different threads" "$st"
printf '%s\n' "$st" | grep -q '"thread_cpu_ns":[1-9]' &&
	pass "a queue's thread has used CPU time" || fail "a queue's thread has used CPU time" "$st"
out=$("$PVD_BIN/pvctl" stats 2>&1)
[[ "$out" == *"thread "[0-2]* ]] && pass "pvctl stats shows the threads" ||
	fail "pvctl stats shows the threads" "$out"

# Attach and detach while the others run, twice; four queues, patterns
# written and read back.
for i in 1 2; do
	expect_front "guest 9 attaches, verifies, detaches while 4 guests run ($i)" \
		"verify ok" --domid 9 --params "$(disk_file g9.img 16M)" --queues 4 --slots 4 attach verify detach
done
for g in 1 2 3 4; do
	pid_alive "${pids[$g]}" && pass "guest $g still running" ||
		fail "guest $g still running" "$(cat "$PVD_RUNDIR/f$g.out")"
done

# kill -9 while the four write; a new daemon re-attaches every ring.
blkback_kill9
for g in 1 2 3 4; do n[$g]=$(acked "$PVD_RUNDIR/acked$g.log"); done
expect_front "guest 1's acknowledged writes are in its file after kill -9" \
	"filecheck ok: ${n[1]}" --seed 1 filecheck "${disk[1]}" "$PVD_RUNDIR/acked1.log"
blkback_start --io-threads 3
for g in 1 2 3 4; do
	front_wait "${pids[$g]}"
	expect_eq "guest $g finishes after the restart" 0 $?
	grep -q "flushwrite ok: $N" "$PVD_RUNDIR/f$g.out" &&
		pass "guest $g: all $N writes acknowledged and read back" ||
		fail "guest $g: all $N writes acknowledged and read back" "$(tail -n 5 "$PVD_RUNDIR/f$g.out")"
	expect_front "guest $g: every acknowledged write is in the file" "filecheck ok: $N" \
		--seed "$g" filecheck "${disk[$g]}" "$PVD_RUNDIR/acked$g.log"
done
expect_eq "the new daemon re-attached the 4 disks" 4 \
	"$(grep -c "re-attached to the frontend's rings" "$BLKBACK_LOG")"

# After the restart the threads serve again: a multi-queue guest.
front_bg "$PVD_RUNDIR/f5.out" --domid 5 --params "$(disk_file g5.img 16M)" --queues 4 --slots 4 \
	--pace-us 300 attach flushwrite 2000 "$PVD_RUNDIR/acked5.log"
f5=$FRONT_PID
wait_for_acked "$PVD_RUNDIR/acked5.log" 20 "$f5" || die "guest 5 acknowledged no writes: $(cat "$PVD_RUNDIR/f5.out")"
st=$(ctl stats)
# (guests 1-4 exited without detaching: their rings may still count.)
[ "$(rings_total "$st")" -ge 4 ] && [ "$(threads_busy "$st")" -ge 2 ] &&
	pass "after the restart: rings served on several threads" ||
	fail "after the restart: rings served on several threads" "$st"
# One disk's queues over several threads (spread.c): guest 5's four.
q5=$(printf '%s\n' "$st" | jq -c '[.devices[] | select(.domid == 5) | .queue[] | [.index, .thread]]')
expect_eq "guest 5's disk lists its 4 queues in order" "0,1,2,3" \
	"$(printf '%s\n' "$q5" | jq -r 'map(.[0]) | join(",")')"
[ "$(printf '%s\n' "$q5" | jq 'map(.[1]) | unique | length')" -ge 2 ] &&
	pass "guest 5's queues are served by several threads ($q5)" ||
	fail "guest 5's queues are served by several threads" "$st"
front_wait "$f5"
expect_eq "guest 5 finishes" 0 $?

blkback_stop
expect_eq "SIGTERM: clean exit" 0 "$BLKBACK_EXIT"
blkback_finish
