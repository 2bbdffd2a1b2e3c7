#!/bin/bash
# Smoke test of the benchmark tools (no timing threshold): bench_stored
# runs a few operations in every mode against a private pvd-stored and
# must report exactly that many, with no error and a positive rate; its
# writes must be visible to another client; it must fail against a missing
# socket; and tests/bench/run.sh must complete with BENCH_QUICK=1.
. "$(dirname "$0")/lib.sh"

BS=$PVD_TESTBIN/bench/bench_stored
[ -x "$BS" ] || die "$BS not built (run: make tests)"

stored_start

# bench_ok NAME EXPECTED_OPS MODE ARGS...: one bounded run; checks the exit
# status, the reported mode, count (EXPECTED_OPS "any": at least one),
# errors and rate.
bench_ok() {
	local name=$1 want=$2 out rc mode ops rate errs
	shift 2
	out=$(timeout -k 5 60 "$BS" --socket "$STORED_SOCK" --timeout 10 "$@" 2>"$PVD_RUNDIR/bs.err")
	rc=$?
	log "$out"
	if [ "$rc" -ne 0 ]; then
		fail "$name" "bench_stored $* exited with $rc" "stdout: $out" \
			"stderr: $(head -c 400 "$PVD_RUNDIR/bs.err")"
		return
	fi
	mode=${out%% *}
	ops=$(printf '%s\n' "$out" | tr ' ' '\n' | sed -n 's/^\(ops\|writes\)=//p')
	rate=$(printf '%s\n' "$out" | tr ' ' '\n' | sed -n 's/^ops_per_sec=//p')
	errs=$(printf '%s\n' "$out" | tr ' ' '\n' | sed -n 's/^errors=//p')
	[ "$want" = any ] && [[ "$ops" =~ ^[1-9][0-9]*$ ]] && want=$ops
	if [ "$mode" = "$1" ] && [[ "$rate" =~ ^[0-9]+$ ]] && [ "$rate" -gt 0 ] &&
	   [ "$ops" = "$want" ] && [ "$errs" = 0 ]; then
		pass "$name"
	else
		fail "$name" "bench_stored $*" "expected ops=$want errors=0 and a positive ops_per_sec" \
			"got: $out"
	fi
}

bench_ok "read, 1 client" 200 read --ops 200
bench_ok "write, 1 client" 200 write --ops 200
bench_ok "txn commit, 1 client" 50 txn --ops 50
bench_ok "read, 4 clients, pipeline 4" 400 read --clients 4 --pipeline 4 --ops 400
bench_ok "write, 3 clients on 2 threads, pipeline 8" 90 write --clients 3 --threads 2 --pipeline 8 --ops 90
bench_ok "txn, 2 clients, 4 concurrent transactions each" 100 txn --clients 2 --pipeline 4 --ops 100
bench_ok "read for 0.2 seconds, 2 clients" any read --seconds 0.2 --clients 2

out=$(timeout -k 5 60 "$BS" --socket "$STORED_SOCK" watch --clients 2 --ops 20 2>&1)
rc=$?
log "$out"
events=$(printf '%s\n' "$out" | tr ' ' '\n' | sed -n 's/^events=//p')
median=$(printf '%s\n' "$out" | tr ' ' '\n' | sed -n 's/^median_us=//p')
if [ "$rc" -eq 0 ] && [ "$events" = 40 ] && [[ "$median" =~ ^[0-9.]+$ ]] &&
   awk -v m="$median" 'BEGIN { exit !(m > 0) }'; then
	pass "watch latency: 20 writes, 2 watchers, 40 events"
else
	fail "watch latency: 20 writes, 2 watchers, 40 events" "exit $rc: $out"
fi

bench_ok "libxenstore read" 50 read --libxs --ops 50
bench_ok "libxenstore write" 50 write --libxs --clients 2 --ops 50
bench_ok "libxenstore txn" 20 txn --libxs --ops 20
out=$(timeout -k 5 60 "$BS" --socket "$STORED_SOCK" watch --libxs --ops 10 2>&1)
rc=$?
log "$out"
if [ "$rc" -eq 0 ] && [[ "$out" == *" events=10 "* ]]; then
	pass "libxenstore watch latency"
else
	fail "libxenstore watch latency" "exit $rc: $out"
fi

# The load really reached the store: another client reads what the
# writers wrote (3-byte values, the first byte varying).
if command -v xenstore-read >/dev/null; then
	v=$(xs read /bench/c1/s7)
	if [[ "$v" =~ ^[a-z]vv$ ]]; then
		pass "benchmark writes are in the store"
	else
		fail "benchmark writes are in the store" "xenstore-read /bench/c1/s7 gave '$v'"
	fi
else
	log "xenstore-utils missing: store content not checked"
fi

expect_fail "a missing socket is an error" "No such file" \
	timeout -k 5 20 "$BS" --socket "$PVD_RUNDIR/nope.sock" read --ops 1
expect_fail "an unknown mode is an error" "unknown mode" \
	timeout -k 5 20 "$BS" --socket "$STORED_SOCK" frobnicate
expect_fail "--libxs refuses a pipeline" "pipeline" \
	timeout -k 5 20 "$BS" --socket "$STORED_SOCK" read --libxs --pipeline 2

stored_alive "pvd-stored survived the load"
stored_stop
expect_eq "pvd-stored exits cleanly on SIGTERM after the load" 0 "$STORED_EXIT"

# The `make bench` harness end to end, shortened.
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	out=$(BENCH_QUICK=1 BUILD="$(dirname "$PVD_BIN")" timeout -k 5 400 \
		bash "$PVD_REPO/tests/bench/run.sh" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [[ "$out" == *"goals met:"* ]] && [[ "$out" != *ERROR* ]]; then
		pass "BENCH_QUICK=1 tests/bench/run.sh"
	else
		fail "BENCH_QUICK=1 tests/bench/run.sh" "exit $rc" "$(printf '%s\n' "$out" | tail -n 25)"
	fi
else
	log "redis-server/redis-benchmark missing: run.sh not exercised"
fi

finish
