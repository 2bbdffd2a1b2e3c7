#!/bin/bash
# `make bench`: measures pvd's daemons against a peer measured in the same
# run, on the same machine (shared and noisy: only ratios mean anything).
# Each daemon is a section (a function section_NAME below); a section
# starts what it needs in this run's private PVD_RUNDIR, prints its
# measurements as it goes and then a table, and stops everything it
# started by PID.
#
#   BENCH_SECTIONS="stored"   sections to run (default: all of them)
#   BENCH_QUICK=1             very short runs (a smoke test of the harness)
#   BENCH_SECS=N              seconds per side of a comparison (default 3)
#   BENCH_PIN=split|same|none where servers and clients run (default split:
#                             servers on CPU 0, clients on CPU 1)
#
# Pinning: on this 2-vCPU VM a one-client round trip costs ~3 us when
# client and server share a vCPU and ~40 us when they do not; left to the
# scheduler, runs flip between the two and one-client rates vary 3x.
# "split" is the realistic case (a client on another CPU), "same" makes
# one-client rates reflect the servers' CPU cost per request.
#
# A comparison runs pvd and its peer alternately, A B B A, each for half of
# BENCH_SECS, so that a change in the machine's load during the pair
# affects both sides alike.
#
# Exit status: 0 when every measurement ran; 1 when one failed (a daemon
# died, a client saw an error).  A ratio below its goal is reported in the
# table but is not a failure: there are no timing thresholds here.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
BIN=$BUILD/bin
BENCHBIN=$BUILD/tests/bench
SECTIONS_ALL="stored hv consoled blkback scaling netback luks nbd rbd"
SECTIONS=${BENCH_SECTIONS:-$SECTIONS_ALL}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SECS=${BENCH_SECS:-0.3}
else
	SECS=${BENCH_SECS:-3}
fi
HALF=$(awk -v s="$SECS" 'BEGIN { print s / 2 }')
WAIT_SECS=10			# bound on every start-up/shut-down wait
PIN=${BENCH_PIN:-split}
SERVER_PIN=() CLIENT_PIN=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	case $PIN in
	split) SERVER_PIN=(taskset -c 0) CLIENT_PIN=(taskset -c 1) ;;
	same) SERVER_PIN=(taskset -c 0) CLIENT_PIN=(taskset -c 0) ;;
	none) ;;
	*) echo "BENCH_PIN must be split, same or none" >&2; exit 2 ;;
	esac
else
	PIN=none
fi

BENCH_RUNDIR=$(mktemp -d /tmp/pvd-bench.XXXXXX) || { echo "mktemp failed" >&2; exit 1; }
export PVD_RUNDIR=$BENCH_RUNDIR
_pids=()
_failed=0

# ------------------------------------------------------------ plumbing

note() { printf '# %s\n' "$*"; }
bad() { printf 'ERROR: %s\n' "$*"; _failed=$((_failed + 1)); }

pid_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# stop_pid PID: SIGTERM, bounded wait, then SIGKILL.  Never by name.
stop_pid() {
	local pid=$1 i j keep=()
	[ -n "$pid" ] || return 0
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < WAIT_SECS * 20; i++)); do
			pid_alive "$pid" || break
			sleep 0.05
		done
		if pid_alive "$pid"; then
			note "pid $pid ignored SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null
			for ((i = 0; i < 100; i++)); do
				pid_alive "$pid" || break
				sleep 0.05
			done
		fi
	fi
	wait "$pid" 2>/dev/null
	for j in "${_pids[@]}"; do [ "$j" = "$pid" ] || keep+=("$j"); done
	_pids=("${keep[@]}")
	return 0
}

_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${_pids[@]}"; do stop_pid "$pid"; done
	rm -rf "$BENCH_RUNDIR"
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# wait_until SECS CMD...: polls CMD every 50 ms; 1 on timeout.
wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# calc EXPR VAR=VALUE...: awk arithmetic; prints "" if a variable is empty
# or not a number.
calc() {
	local expr=$1 a args=()
	shift
	for a in "$@"; do
		[[ "${a#*=}" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo ""; return; }
		args+=(-v "$a")
	done
	awk "${args[@]}" "BEGIN { x = $expr; if (x == x + 0) print x }"
}

# fmt_rate N: "12.3k" / "1.23M".
fmt_rate() {
	awk -v x="$1" 'BEGIN { if (x !~ /^[0-9.]+$/) print "-";
		else if (x + 0 >= 1e6) printf "%.2fM\n", x / 1e6;
		else printf "%.1fk\n", x / 1e3 }'
}

# ratio A B: A/B to two places, "-" if either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "-";
		else printf "%.2f\n", a / b }'
}

# kv LINE KEY: value of KEY=... in a bench_stored line.
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

# cpu_ticks PID: user+system CPU time of PID so far, in clock ticks.  The
# servers are single-threaded, so ticks per operation is their cost per
# request whatever the client's speed.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
CLK_TCK=$(getconf CLK_TCK)
us_per_op() { calc 'int(t / hz * 1e8 / n + 0.5) / 100' t="$1" hz="$CLK_TCK" n="$2"; }

# Table rows, filled by a section and printed by print_table.
ROWS=()
# add_row OP CLIENTS PIPE PVD PEER GOAL NOTE PVD_CPU PEER_CPU REF
add_row() { ROWS+=("$1|$2|$3|$4|$5|$6|$7|$8|$9|${10}"); }

# print_table TITLE PEER_NAME REF_NAME
print_table() {
	local row op c p pvd peer goal note pcpu qcpu ref r verdict met=0 total=0
	local fmt='%-17s %3s %3s %9s %9s %6s %5s | %11s | %9s %6s | %s\n'
	echo
	echo "== $1 =="
	printf "$fmt" operation cli pip "pvd/s" "$2/s" ratio goal "cpu us/op" "$3/s" ratio ""
	for row in "${ROWS[@]}"; do
		IFS='|' read -r op c p pvd peer goal note pcpu qcpu ref <<<"$row"
		r=$(ratio "$pvd" "$peer")
		verdict=""
		if [ -n "$goal" ] && [ "$r" != - ]; then
			total=$((total + 1))
			if awk -v r="$r" -v g="$goal" 'BEGIN { exit !(r >= g) }'; then
				verdict="met"; met=$((met + 1))
			else
				verdict="BELOW GOAL"
			fi
		fi
		printf "$fmt" "$op" "$c" "$p" "$(fmt_rate "$pvd")" "$(fmt_rate "$peer")" \
			"$r" "${goal:+>=$goal}" "${pcpu:--}/${qcpu:--}" "$(fmt_rate "$ref")" \
			"$(ratio "$pvd" "$ref")" "$verdict${note:+ ($note)}"
	done
	echo "goals met: $met of $total"
	ROWS=()
}

# ------------------------------------------------------------ redis peer

REDIS_SOCK=$BENCH_RUNDIR/redis.sock
REDIS_PID=

redis_ping() { [ "$(timeout 2 redis-cli -s "$REDIS_SOCK" ping 2>/dev/null)" = PONG ]; }

# redis_start [EXTRA ARGS]: on a unix socket only, no persistence unless
# the arguments ask for it.
redis_start() {
	command -v redis-server >/dev/null || { bad "redis-server not installed (scripts/deps.sh)"; return 1; }
	rm -f "$REDIS_SOCK"
	"${SERVER_PIN[@]}" redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
		--save '' --appendonly no --daemonize no --dir "$BENCH_RUNDIR" \
		--logfile "$BENCH_RUNDIR/redis.log" "$@" >/dev/null 2>&1 &
	REDIS_PID=$!
	_pids+=("$REDIS_PID")
	if ! wait_until "$WAIT_SECS" redis_ping; then
		bad "redis-server did not answer within ${WAIT_SECS}s"
		tail -n 5 "$BENCH_RUNDIR/redis.log" 2>/dev/null | sed 's/^/#   /'
		stop_pid "$REDIS_PID"; REDIS_PID=
		return 1
	fi
	note "redis-server${*:+ $*} running, pid $REDIS_PID"
}

redis_stop() { stop_pid "$REDIS_PID"; REDIS_PID=; }

# redis_csv TEST CLIENTS PIPE N: prints "rps p50_ms" of one run.
redis_csv() {
	local t=$1 c=$2 p=$3 n=$4 out
	out=$(timeout -k 5 $((WAIT_SECS * 6)) "${CLIENT_PIN[@]}" redis-benchmark -s "$REDIS_SOCK" \
		-t "$t" -c "$c" -P "$p" -n "$n" --csv 2>&1) || return 1
	printf '%s\n' "$out" | awk -F'"' -v t="${t^^}" '$2 == t { print $4, $10 }'
}

# redis_bench TEST CLIENTS PIPE: sets RB_RATE to redis-benchmark's
# requests/s, with -n sized by a short calibration run to take about
# $SECS / 2 seconds.  Not in a subshell, so that failures are counted.
RB_RATE=
redis_bench() {
	local t=$1 c=$2 p=$3 n cal res
	RB_RATE=
	if [ "$QUICK" = 1 ]; then
		n=2000
	else
		cal=$(redis_csv "$t" "$c" "$p" $((10000 * p))) || cal=
		n=$(calc 'int(r * s); if (x < 20000) x = 20000' r="${cal%% *}" s="$HALF")
		n=${n:-20000}
	fi
	if ! res=$(redis_csv "$t" "$c" "$p" "$n") || [ -z "$res" ]; then
		bad "redis-benchmark -t $t -c $c -P $p failed"
		return 1
	fi
	RB_RATE=${res%% *}
	note "redis-benchmark -t $t -c $c -P $p -n $n: $RB_RATE requests/s"
}

# ------------------------------------------------------------ pvd-stored

STORED_PID=
STORED_SOCK=$BENCH_RUNDIR/stored.sock

stored_ready() {
	[ -s "$BENCH_RUNDIR/stored.pid" ] && [ "$(cat "$BENCH_RUNDIR/stored.pid")" = "$STORED_PID" ]
}

# stored_start [ARGS]: pvd-stored -f, in the background.
stored_start() {
	rm -f "$BENCH_RUNDIR/stored.pid" "$STORED_SOCK"
	"${SERVER_PIN[@]}" "$BIN/pvd-stored" -f --socket "$STORED_SOCK" --pidfile "$BENCH_RUNDIR/stored.pid" \
		--log-level warning "$@" >>"$BENCH_RUNDIR/stored.log" 2>&1 &
	STORED_PID=$!
	_pids+=("$STORED_PID")
	if ! wait_until "$WAIT_SECS" stored_ready || [ ! -S "$STORED_SOCK" ]; then
		bad "pvd-stored $* did not start within ${WAIT_SECS}s"
		tail -n 10 "$BENCH_RUNDIR/stored.log" | sed 's/^/#   /'
		stop_pid "$STORED_PID"; STORED_PID=
		return 1
	fi
	note "pvd-stored${*:+ $*} running, pid $STORED_PID"
}

stored_stop() {
	[ -n "$STORED_PID" ] || return 0
	if ! pid_alive "$STORED_PID"; then
		wait "$STORED_PID"
		bad "pvd-stored (pid $STORED_PID) had exited with status $?"
		tail -n 10 "$BENCH_RUNDIR/stored.log" | sed 's/^/#   /'
	fi
	stop_pid "$STORED_PID"
	STORED_PID=
}

# bs TARGET SECS ARGS...: one bench_stored run, TARGET pvd or redis (the
# same load in RESP).  Sets BS_LINE, BS_OPS and BS_TICKS (the server's CPU
# during the run); all empty on failure.
BS_LINE= BS_OPS= BS_TICKS=
bs() {
	local target=$1 secs=$2 out rc t0 t1 pid sock extra=()
	shift 2
	BS_LINE= BS_OPS= BS_TICKS=
	if [ "$target" = redis ]; then
		pid=$REDIS_PID sock=$REDIS_SOCK extra=(--redis)
	else
		pid=$STORED_PID sock=$STORED_SOCK
	fi
	t0=$(cpu_ticks "$pid")
	out=$(timeout -k 5 "$(calc 'int(s) + 40' s="$secs")" "${CLIENT_PIN[@]}" "$BENCHBIN/bench_stored" \
		--socket "$sock" --seconds "$secs" "${extra[@]}" "$@" 2>"$BENCH_RUNDIR/bs.err")
	rc=$?
	t1=$(cpu_ticks "$pid")
	if [ "$rc" -ne 0 ] || [ -z "$out" ]; then
		bad "bench_stored ${extra[*]} $* exited with $rc: $(head -c 300 "$BENCH_RUNDIR/bs.err")"
		pid_alive "$pid" || bad "the $target server died"
		return 1
	fi
	BS_LINE=$out
	BS_OPS=$(kv "$out" ops)
	[ -n "$BS_OPS" ] || BS_OPS=$(kv "$out" writes)	# watch mode
	BS_TICKS=$(calc 'b - a' a="$t0" b="$t1")
	note "$out (server: $(us_per_op "$BS_TICKS" "$BS_OPS") us CPU/op)"
}

# pair ARGS...: the same bench_stored load against pvd-stored and redis,
# A B B A, each run $HALF seconds.  Sets P_RATE/R_RATE (ops/s over both
# runs) and P_CPU/R_CPU (server CPU microseconds per operation).
P_RATE= R_RATE= P_CPU= R_CPU=
pair() {
	local po=0 pt=0 ro=0 rt=0 ok=1 t
	P_RATE= R_RATE= P_CPU= R_CPU=
	for t in pvd redis redis pvd; do
		bs "$t" "$HALF" "$@" || { ok=0; continue; }
		if [ "$t" = pvd ]; then
			po=$((po + BS_OPS)) pt=$((pt + BS_TICKS))
		else
			ro=$((ro + BS_OPS)) rt=$((rt + BS_TICKS))
		fi
	done
	[ "$ok" = 1 ] || return 1
	P_RATE=$(calc 'int(o / (2 * h))' o="$po" h="$HALF")
	R_RATE=$(calc 'int(o / (2 * h))' o="$ro" h="$HALF")
	P_CPU=$(us_per_op "$pt" "$po")
	R_CPU=$(us_per_op "$rt" "$ro")
}

# ------------------------------------------------------------ section: stored

# row OP CLIENTS PIPE GOAL NOTE RB_TEST -- BENCH_STORED ARGS: one line of
# the table: pvd vs redis with the same client, and redis-benchmark -t
# RB_TEST (if not "-") as a second reference.
row() {
	local op=$1 c=$2 p=$3 goal=$4 rnote=$5 rb=$6
	shift 7
	pair "$@" --clients "$c" --pipeline "$p"
	RB_RATE=
	[ "$rb" != - ] && redis_bench "$rb" "$c" "$p"
	add_row "$op" "$c" "$p" "$P_RATE" "$R_RATE" "$goal" "$rnote" "$P_CPU" "$R_CPU" "$RB_RATE"
}

section_stored() {
	local P=16 w_line r_line jf

	echo "== section stored: pvd-stored vs redis-server on unix sockets, ${HALF}s x 2 per side, pinning: $PIN =="
	[ -x "$BIN/pvd-stored" ] || { bad "$BIN/pvd-stored not built (make)"; return 1; }
	[ -x "$BENCHBIN/bench_stored" ] || { bad "$BENCHBIN/bench_stored not built (make tests)"; return 1; }
	command -v redis-benchmark >/dev/null || { bad "redis-benchmark not installed (scripts/deps.sh)"; return 1; }
	note "load: bench_stored, one client thread multiplexing the connections (as redis-benchmark),"
	note "3-byte values (redis-benchmark -d 3); the redis side is the same program speaking RESP:"
	note "GET, SET, MULTI+GET+SET+EXEC for a transaction (four round trips, as xenstore's)"

	stored_start || return 1
	redis_start || { stored_stop; return 1; }

	row "read" 1 1 1.0 "" get -- read
	row "read" 16 1 0.8 "" get -- read
	row "write" 1 1 1.0 "" set -- write
	row "write" 16 1 0.8 "" set -- write
	row "txn commit" 1 1 1.0 "redis: MULTI/EXEC" - -- txn
	row "txn commit" 16 1 0.8 "redis: MULTI/EXEC" - -- txn
	# Pipelined: whether the daemon batches (many requests per read and
	# one write of many replies per loop turn).
	row "read" 16 $P 0.8 "" get -- read
	row "write" 16 $P 0.8 "" set -- write
	# What tools linked with libxenstore see (blocking calls, one thread
	# per client); the peer is the raw client's redis GET rate above.
	if bs pvd "$SECS" read --clients 1 --libxs; then
		add_row "read (libxs)" 1 1 "$(kv "$BS_LINE" ops_per_sec)" "" "" \
			"pvd through libxenstore; no goal" "$(us_per_op "$BS_TICKS" "$BS_OPS")" "" ""
	fi

	# Watch events against redis keyspace notifications: one watcher, one
	# writer, one write at a time; latency from the write's send to the
	# event's arrival.
	bs pvd "$SECS" watch --clients 1 && w_line=$BS_LINE
	bs redis "$SECS" watch --clients 1 && r_line=$BS_LINE

	redis_stop
	stored_stop

	# Journal cost: --persist to a file on /tmp (ext4 here, so the fsync
	# is real) against redis with an append-only file fsynced before it
	# replies (appendfsync always); both fsync once per event-loop turn.
	jf=$BENCH_RUNDIR/stored.journal
	note "persist file $jf on $(df -T "$BENCH_RUNDIR" | awk 'NR == 2 { print $2 }')"
	if stored_start --persist "$jf"; then
		if redis_start --appendonly yes --appendfsync always --appendfilename bench.aof; then
			row "write --persist" 1 1 1.0 "redis: AOF fsync always" set -- write
			row "write --persist" 16 1 0.8 "redis: AOF fsync always" set -- write
			redis_stop
		fi
		stored_stop
	fi

	print_table "stored: pvd-stored vs redis-server (ratio = pvd/redis, same client; goals: >= 1.0 at 1 client, >= 0.8 at 16)" \
		redis redis-bench
	echo "(cpu us/op: server CPU time per operation, pvd/redis, from /proc/PID/stat;"
	echo " redis-bench: redis-benchmark -c N -P N -t get|set against the same redis-server, for reference)"
	if [ -n "${w_line:-}" ] && [ -n "${r_line:-}" ]; then
		printf 'watch event latency, 1 watcher: pvd median %s us, p99 %s us; redis keyspace event median %s us, p99 %s us; median ratio pvd/redis %s (lower is better)\n' \
			"$(kv "$w_line" median_us)" "$(kv "$w_line" p99_us)" \
			"$(kv "$r_line" median_us)" "$(kv "$r_line" p99_us)" \
			"$(ratio "$(kv "$w_line" median_us)" "$(kv "$r_line" median_us)")"
		printf '  (write round trip medians: pvd %s us, redis %s us)\n' \
			"$(kv "$w_line" write_rtt_median_us)" "$(kv "$r_line" write_rtt_median_us)"
	else
		echo "watch event latency: not measured (see errors above)"
	fi
}

# ------------------------------------------------------------ hv

# The hypervisor layer: event-channel round trips, grant map/unmap and
# grant copy beside a raw eventfd round trip and memcpy (tests/bench/hv.sh).
section_hv() {
	echo
	echo "== hypervisor layer (sim): beside eventfd and memcpy, same run"
	if ! BUILD=$BUILD BENCH_QUICK=$QUICK PVD_RUNDIR=$PVD_RUNDIR \
		bash tests/bench/hv.sh; then
		bad "hv benchmark failed"
	fi
}

# ------------------------------------------------------------ consoled

# pvd-consoled: console output from a simulated guest through the daemon
# to a pty reader, beside a raw pty copy (write to a master, read the
# slave) in the same run; then the daemon's memory and idle CPU with many
# guests' consoles open (tests/integration/console_guest does the guests).
CONSOLED_PID=

consoled_ready() {
	[ -s "$BENCH_RUNDIR/consoled.pid" ] && [ "$(cat "$BENCH_RUNDIR/consoled.pid")" = "$CONSOLED_PID" ]
}

# consoled_start ARGS: pvd-consoled -f against the bench's store.
consoled_start() {
	rm -f "$BENCH_RUNDIR/consoled.pid"
	XENSTORED_PATH=$STORED_SOCK "${SERVER_PIN[@]}" "$BIN/pvd-consoled" -f \
		--pidfile "$BENCH_RUNDIR/consoled.pid" --log-level warning "$@" \
		>>"$BENCH_RUNDIR/consoled.log" 2>&1 &
	CONSOLED_PID=$!
	_pids+=("$CONSOLED_PID")
	if ! wait_until "$WAIT_SECS" consoled_ready; then
		bad "pvd-consoled $* did not start within ${WAIT_SECS}s"
		tail -n 10 "$BENCH_RUNDIR/consoled.log" | sed 's/^/#   /'
		stop_pid "$CONSOLED_PID"; CONSOLED_PID=
		return 1
	fi
	note "pvd-consoled${*:+ $*} running, pid $CONSOLED_PID"
}

consoled_stop() {
	[ -n "$CONSOLED_PID" ] || return 0
	pid_alive "$CONSOLED_PID" || bad "pvd-consoled (pid $CONSOLED_PID) had died"
	stop_pid "$CONSOLED_PID"
	CONSOLED_PID=
}

# status_kb PID FIELD: a /proc/PID/status field in kB.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

section_consoled() {
	local G=$BUILD/tests/integration/console_guest bytes n idle dom=100 mode t line
	local pvd raw pvd_sum raw_sum pvd_n raw_n drops ticks0 ticks1 t_pvd cpu_ms
	local anon0 shm0 fds0 anon1 shm1 fds1 rss1 it0 it1 mpid fifo rows=()

	echo
	echo "== section consoled: console output through pvd-consoled vs a raw pty copy, pinning: $PIN =="
	[ -x "$BIN/pvd-consoled" ] || { bad "$BIN/pvd-consoled not built (make)"; return 1; }
	[ -x "$G" ] || { bad "$G not built (make tests)"; return 1; }
	if [ "$QUICK" = 1 ]; then
		bytes=$((4 << 20)) n=${BENCH_CONSOLES:-50} idle=1
	else
		bytes=$((64 << 20)) n=${BENCH_CONSOLES:-1000} idle=5
	fi
	note "guest: writes $bytes bytes into its 2 KiB out ring (chunks of what fits, a notify each),"
	note "a second thread of the same process reads the pty; peer: the same program writing"
	note "2 KiB writes to a raw pty master, a thread reading the slave; both placed like clients"
	note "(the daemon like servers); A B B A; MB/s = what the reader got per second"
	stored_start --hv none || return 1

	for mode in nolog log; do
		if [ "$mode" = log ]; then
			mkdir -p "$BENCH_RUNDIR/consoled-logs"
			consoled_start --rate-limit 0 --log-dir "$BENCH_RUNDIR/consoled-logs" \
				--log-max-bytes 0 || break
		else
			consoled_start --rate-limit 0 || break
		fi
		pvd_sum=0 raw_sum=0 pvd_n=0 raw_n=0 drops=0 t_pvd=0
		for t in pvd raw raw pvd; do
			if [ "$t" = pvd ]; then
				dom=$((dom + 1))
				ticks0=$(cpu_ticks "$CONSOLED_PID")
				line=$(XENSTORED_PATH=$STORED_SOCK timeout -k 5 120 "${CLIENT_PIN[@]}" \
					"$G" throughput "$dom" "$bytes" 60 2>>"$BENCH_RUNDIR/cg.err")
				ticks1=$(cpu_ticks "$CONSOLED_PID")
			else
				line=$(timeout -k 5 120 "${CLIENT_PIN[@]}" "$G" rawpty "$bytes" 2048 \
					2>>"$BENCH_RUNDIR/cg.err")
			fi
			if [ -z "$line" ]; then
				bad "console_guest ($t, $mode) failed: $(tail -n 3 "$BENCH_RUNDIR/cg.err")"
				continue
			fi
			note "$t ($mode): $line"
			if [ "$t" = pvd ]; then
				pvd_sum=$(calc 'a + b' a="$pvd_sum" b="$(kv "$line" mb_per_s)")
				pvd_n=$((pvd_n + 1))
				drops=$((drops + $(kv "$line" dropped)))
				t_pvd=$((t_pvd + ticks1 - ticks0))
			else
				raw_sum=$(calc 'a + b' a="$raw_sum" b="$(kv "$line" mb_per_s)")
				raw_n=$((raw_n + 1))
			fi
		done
		consoled_stop
		[ "$pvd_n" -gt 0 ] && [ "$raw_n" -gt 0 ] || continue
		pvd=$(calc 'int(s / n * 10) / 10' s="$pvd_sum" n="$pvd_n")
		raw=$(calc 'int(s / n * 10) / 10' s="$raw_sum" n="$raw_n")
		cpu_ms=$(calc 'int(t / hz * 1000 / (n * b / 1e6) * 100) / 100' t="$t_pvd" hz="$CLK_TCK" \
			n="$pvd_n" b="$bytes")
		t="guest -> pty"
		[ "$mode" = log ] && t="guest -> pty + log file"
		rows+=("$(printf '%-28s %10s %12s %6s %16s %s' "$t" "$pvd" "$raw" \
			"$(ratio "$pvd" "$raw")" "${cpu_ms:--}" \
			"$([ "$drops" -gt 0 ] && echo "output dropped in $drops run(s)")")")
	done

	# Many consoles, idle.
	if consoled_start; then
		anon0=$(status_kb "$CONSOLED_PID" RssAnon) shm0=$(status_kb "$CONSOLED_PID" RssShmem)
		fds0=$(ls "/proc/$CONSOLED_PID/fd" | wc -l)
		fifo=$BENCH_RUNDIR/many.in
		rm -f "$fifo"; mkfifo "$fifo"
		XENSTORED_PATH=$STORED_SOCK "${CLIENT_PIN[@]}" "$G" many 1000 "$n" 300 \
			<"$fifo" >"$BENCH_RUNDIR/many.out" 2>"$BENCH_RUNDIR/many.err" &
		mpid=$!
		_pids+=("$mpid")
		exec {_mfd}>"$fifo"
		many_ready() { grep -q '^ready' "$BENCH_RUNDIR/many.out" || ! pid_alive "$mpid"; }
		wait_until 330 many_ready
		if grep -q '^ready' "$BENCH_RUNDIR/many.out"; then
			note "$n guests' consoles open"
			anon1=$(status_kb "$CONSOLED_PID" RssAnon) shm1=$(status_kb "$CONSOLED_PID" RssShmem)
			rss1=$(status_kb "$CONSOLED_PID" VmRSS)
			fds1=$(ls "/proc/$CONSOLED_PID/fd" | wc -l)
			it0=$(cpu_ticks "$CONSOLED_PID")
			sleep "$idle"
			it1=$(cpu_ticks "$CONSOLED_PID")
		else
			bad "console_guest many $n did not get every console: $(tail -n 3 "$BENCH_RUNDIR/many.err")"
		fi
		exec {_mfd}>&-
		wait_until "$WAIT_SECS" eval '! pid_alive '"$mpid" || bad "console_guest many did not exit"
		stop_pid "$mpid"
		consoled_stop
	fi
	stored_stop

	echo
	echo "== consoled: console output, pvd-consoled vs a raw pty copy (ratio = pvd/raw, same run; no goal) =="
	printf '%-28s %10s %12s %6s %16s\n' case "pvd MB/s" "raw pty MB/s" ratio "daemon CPU ms/MB"
	for line in "${rows[@]}"; do echo "$line"; done
	if [ -n "${it1:-}" ]; then
		echo
		echo "== consoled: $n idle consoles (goal: no measurable idle CPU) =="
		printf 'daemon RSS %s kB (own memory %s kB, guest pages mapped %s kB); before: own %s kB, mapped %s kB\n' \
			"$rss1" "$anon1" "$shm1" "$anon0" "$shm0"
		printf 'per console: own memory %s kB, mapped guest memory %s kB, %s descriptors\n' \
			"$(calc 'int((b - a) / n * 100) / 100' a="$anon0" b="$anon1" n="$n")" \
			"$(calc 'int((b - a) / n * 100) / 100' a="$shm0" b="$shm1" n="$n")" \
			"$(calc 'int((b - a) / n * 100) / 100' a="$fds0" b="$fds1" n="$n")"
		printf 'idle CPU over %ss: %s ticks (%s%% of a CPU; a tick is %s ms) -> goal %s\n' \
			"$idle" "$((it1 - it0))" "$(calc 'int(t / hz / s * 10000) / 100' t=$((it1 - it0)) hz="$CLK_TCK" s="$idle")" \
			"$((1000 / CLK_TCK))" "$([ $((it1 - it0)) -eq 0 ] && echo met || echo 'NOT MET')"
	fi
}

# ------------------------------------------------------------ blkback

# pvd-blkback: the null target (ring path alone, IOPS per backend core)
# and a tmpfs file through the ring with each engine beside fio on the
# same file (tests/bench/blkback.sh).
# Guest-to-guest networking through pvd-netback beside veth and bridge
# paths between namespaces (tests/bench/netback.sh).
section_netback() {
	echo
	if ! BUILD=$BUILD BENCH_QUICK=$QUICK BENCH_SECS=$SECS bash tests/bench/netback.sh; then
		bad "netback benchmark failed"
	fi
}

section_luks() {
	echo
	if ! BUILD=$BUILD BENCH_QUICK=$QUICK BENCH_SECS=$SECS BENCH_PIN=$PIN bash tests/bench/luks.sh; then
		bad "luks benchmark failed"
	fi
}

section_scaling() {
	echo
	if ! BUILD=$BUILD BENCH_QUICK=$QUICK BENCH_SECS=$SECS bash tests/bench/scaling.sh; then
		bad "scaling benchmark failed"
	fi
}

section_blkback() {
	echo
	if ! BUILD=$BUILD BENCH_QUICK=$QUICK BENCH_SECS=$SECS BENCH_PIN=$PIN \
		bash tests/bench/blkback.sh; then
		bad "blkback benchmark failed"
	fi
}

# pvd-blkback's rbd engine beside fio's rbd engine on one RBD image of a
# single-node Ceph cluster started for it (tests/bench/rbd.sh; skipped
# without the Ceph packages).
section_rbd() {
	local rc
	echo
	BUILD=$BUILD BENCH_QUICK=$QUICK bash tests/bench/rbd.sh
	rc=$?
	[ $rc = 0 ] || [ $rc = 77 ] || bad "rbd benchmark failed"
}

# pvd-blkback's nbd engine on an nbdkit export beside fio's nbd engine on
# the same export (tests/bench/nbd.sh).
section_nbd() {
	echo
	if ! BUILD=$BUILD BENCH_QUICK=$QUICK BENCH_SECS=$SECS BENCH_PIN=$PIN bash tests/bench/nbd.sh; then
		bad "nbd benchmark failed"
	fi
}

# ------------------------------------------------------------ main

for s in $SECTIONS; do
	case $s in
	stored) section_stored ;;
	hv) section_hv ;;
	blkback) section_blkback ;;
	scaling) section_scaling ;;
	luks) section_luks ;;
	netback) section_netback ;;
	rbd) section_rbd ;;
	consoled) section_consoled ;;
	nbd) section_nbd ;;
	*) bad "unknown section $s (known: $SECTIONS_ALL)" ;;
	esac
done
echo
if [ "$_failed" -ne 0 ]; then
	echo "bench: $_failed measurement(s) failed"
	exit 1
fi
echo "bench: all measurements ran"
