#!/bin/bash
# Guests against pvd-stored's shared resources (issue 11), with the helper's
# subcommands (tests/integration/xs_abuse.c):
#  1. descriptors: under a low RLIMIT_NOFILE, a flood of connections to a
#     guest socket (mode 0666) must not lock dom0 out, must be refused or
#     closed rather than left unanswered, and must not make the daemon spin
#     on a failing accept (its log stays short);
#  2. one domain's connections that never read their watch events: the
#     daemon's VmRSS grows by at most what the per-domain quotas allow
#     (a bound computed from them, not a time);
#  3. accept failing anyway (the limit lowered behind the daemon's back
#     with prlimit): the listener pauses, so the log holds a few lines per
#     second of the flood, not one per retry, and once the flood is gone
#     dom0 is served again;
#  4. dom0's reserve: with the per-socket and per-domain limits out of the
#     way, guests still get only the slots the descriptors allow less
#     --reserve-dom0, and the soft limit is raised to the hard one.
. "$(dirname "$0")/lib.sh"
need_testbin xs_abuse XS_ABUSE

G=5
GSOCK=$PVD_RUNDIR/g$G.sock
FLOOD=200
# The defaults (stored/quota.h, docs/pvd-stored.md) that the bounds below
# are computed from; parts 1 and 2 run the daemon with them.
SOCKET_CONNS=32 DOMAIN_CONNS=32 OUTSTANDING=20
DOMAIN_OUTPUT=$((2 * 1024 * 1024))
FDS_OWN=64		# descriptors the daemon keeps for itself (main.c)
IN_MAX=65536		# unprocessed input per connection (conn.c)
MSG_MAX=$((16 + 4096))	# header and payload

# pvd-stored with RLIMIT_NOFILE lowered (hard HARD, soft SOFT) by a wrapper
# that execs it, so that the pid lib.sh tracks is the daemon's.
lowfd_stored_start() {
	local hard=$1 soft=$2 dir=$PVD_RUNDIR/lowfd
	shift 2
	mkdir -p "$dir"
	printf '#!/bin/sh\nulimit -Sn %s && ulimit -Hn %s || exit 1\nexec "%s" "$@"\n' \
		"$soft" "$hard" "$PVD_BIN/pvd-stored" >"$dir/pvd-stored"
	chmod +x "$dir/pvd-stored"
	PVD_BIN=$dir stored_start --guest-socket "$G:$GSOCK" "$@"
}

# kv KEY FILE: the value of a key=value line the helper printed.
kv() { sed -n "s/^$1=//p" "$2" | head -n 1; }

# guest_flood NAME [ARGS]: the helper's guest-flood against the daemon.
guest_flood() {
	local name=$1 out=$PVD_RUNDIR/$1.out
	shift
	timeout -k 5 90 "$XS_ABUSE" guest-flood --sock "$STORED_SOCK" \
		--guest "$G:$GSOCK" --count "$FLOOD" "$@" >"$out" 2>&1
	echo "# $name: helper exit $?"
	grep '^#' "$out"
}

# accept_lines: lines the daemon logged about accept (failures, pauses).
accept_lines() { grep -ci 'accept' "$STORED_LOG"; }

# next_part N: each part reads only its own daemon's log.
next_part() {
	[ -f "$STORED_LOG" ] && mv "$STORED_LOG" "$STORED_LOG.before-$1"
	:
}

# --- 1. the defaults under 128 descriptors ---------------------------------
lowfd_stored_start 128 128
guest_flood flood1
out=$PVD_RUNDIR/flood1.out
expect_eq "dom0 answered during a flood of guest connections" ok "$(kv dom0 "$out")"
expect_eq "no guest connection left unanswered" 0 "$(kv pending "$out")"
served=$(kv served "$out")
if [ -n "$served" ] && [ "$served" -le "$SOCKET_CONNS" ]; then
	pass "guest connections served: $served (limit $SOCKET_CONNS)"
else
	fail "guest connections served within the socket's limit" \
		"served ${served:-?}, limit $SOCKET_CONNS"
fi
gone=$(( $(kv refused "$out") + $(kv closed "$out") ))
if [ "$gone" -ge $((FLOOD - SOCKET_CONNS)) ]; then
	pass "extra guest connections refused or closed: $gone"
else
	fail "extra guest connections refused or closed" \
		"$gone of $FLOOD, want at least $((FLOOD - SOCKET_CONNS))"
fi
n=$(accept_lines)
if [ "$n" -le 10 ]; then
	pass "accept-failure lines in the log: $n"
else
	fail "accept failures logged at most 10 times" "$n lines, e.g.: $(grep -i -m 3 accept "$STORED_LOG")"
fi
n=$(grep -c 'connection refused' "$STORED_LOG")
[ "$n" -le 5 ] && pass "refusals logged $n time(s)" ||
	fail "refusals logged at most 5 times" "$n lines"
stored_alive "daemon alive after the flood"
stored_stop
expect_eq "clean exit after the flood" 0 "$STORED_EXIT"

# --- 2. one domain's unread watch events, over all its connections --------
next_part 2
NCONN=40 NWATCH=3 NWRITE=400
# Under SAN=1, ASan's quarantine would hold every freed event (256 MiB by
# default) and the RSS would say nothing about what the daemon keeps.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	stored_start --guest-socket "$G:$GSOCK"
out=$PVD_RUNDIR/domflood.out
timeout -k 5 120 "$XS_ABUSE" domain-flood --sock "$STORED_SOCK" \
	--guest "$G:$GSOCK" --pid "$STORED_PID" --count "$NCONN" \
	--watches "$NWATCH" --writes "$NWRITE" >"$out" 2>&1
rc=$?
grep '^#' "$out"
expect_eq "domain-flood ran (dom0's writes answered)" 0 "$rc"
expect_eq "the watchers were sent events" yes "$(kv events "$out")"
admitted=$(kv admitted "$out")
if [ -n "$admitted" ] && [ "$admitted" -le "$DOMAIN_CONNS" ]; then
	pass "connections of one domain: $admitted admitted (limit $DOMAIN_CONNS)"
else
	fail "connections per domain bounded" "admitted ${admitted:-?}, limit $DOMAIN_CONNS"
fi
rss0=$(kv rss0 "$out") rss1=$(kv rss1 "$out")
# What the quotas let the domain hold: its unsent output up to
# DOMAIN_OUTPUT (then events are dropped), and per connection its replies
# and unprocessed input; twice that for allocator overhead, plus 8 MiB.
bound=$(( 2 * (DOMAIN_OUTPUT + ${admitted:-$NCONN} * (IN_MAX + OUTSTANDING * MSG_MAX)) / 1024 + 8192 ))
if [ -n "$rss0" ] && [ -n "$rss1" ] && [ $((rss1 - rss0)) -le "$bound" ]; then
	pass "VmRSS grew by $((rss1 - rss0)) KiB (bound $bound KiB)"
else
	fail "VmRSS growth within the per-domain quotas" \
		"${rss0:-?} -> ${rss1:-?} KiB, bound $bound KiB"
fi
stored_alive "daemon alive after the unread events"
stored_stop
expect_eq "clean exit after the unread events" 0 "$STORED_EXIT"
# --- 3. accept failing anyway: the listener pauses --------------------------
next_part 3
stored_start --guest-socket "$G:$GSOCK"
# Fewer descriptors than the daemon planned for: accept() fails with
# EMFILE however it counts.
prlimit --pid "$STORED_PID" --nofile=40:40 || die "prlimit failed"
t0=$SECONDS
guest_flood flood3 --settle 3 --no-dom0
elapsed=$((SECONDS - t0))
# Pauses of 100, 200, 400, 800 ms, then 1 s: at most 4 + one a second per
# listener, whatever the machine's speed (without them: one per retry).
n=$(accept_lines) bound=$((2 * (elapsed + 5)))
if [ "$n" -ge 1 ] && [ "$n" -le "$bound" ]; then
	pass "accept failures: $n log lines in ${elapsed}s (bound $bound)"
else
	fail "accept failures logged once per pause" \
		"$n lines in ${elapsed}s, want 1..$bound: $(grep -i -m 3 accept "$STORED_LOG")"
fi
FLOOD=1 guest_flood flood3b
expect_eq "dom0 answered once the flood is gone" ok "$(kv dom0 "$PVD_RUNDIR/flood3b.out")"
stored_alive "daemon alive after failing accepts"
stored_stop
expect_eq "clean exit after failing accepts" 0 "$STORED_EXIT"

# --- 4. dom0's reserve, soft limit raised to the hard one ------------------
next_part 4
RESERVE=16
lowfd_stored_start 128 100 --reserve-dom0 "$RESERVE" \
	--quota-socket-connections 1000 --quota-domain-connections 1000
guest_flood flood2
out=$PVD_RUNDIR/flood2.out
# Slots: 128 descriptors (the soft limit raised from 100) less the daemon's
# own and its two listeners, less dom0's reserve; the dom0 probe may take
# one while guests still wait in the backlog.
guest_max=$((128 - FDS_OWN - 2 - RESERVE))
expect_eq "dom0 answered with guests at their limit" ok "$(kv dom0 "$out")"
expect_eq "no guest connection left unanswered (reserve)" 0 "$(kv pending "$out")"
served=$(kv served "$out")
if [ -n "$served" ] && [ "$served" -le "$guest_max" ] &&
	[ "$served" -ge $((guest_max - 1)) ]; then
	pass "guests served $served: descriptors less dom0's reserve ($guest_max)"
else
	fail "guests get the descriptors less dom0's reserve" \
		"served ${served:-?}, want $((guest_max - 1))..$guest_max"
fi
n=$(accept_lines)
[ "$n" -le 10 ] && pass "accept-failure lines (reserve): $n" ||
	fail "accept failures logged at most 10 times (reserve)" "$n lines"
stored_alive "daemon alive after the flood (reserve)"
stored_stop
expect_eq "clean exit (reserve)" 0 "$STORED_EXIT"

finish
