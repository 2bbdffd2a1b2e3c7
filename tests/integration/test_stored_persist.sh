#!/bin/bash
# pvd-stored --persist: after kill -9 the store (tree, values, permissions,
# introduced domains) is exactly what was acknowledged; uncommitted
# transactions are not; clean restarts work; the journal is compacted when
# one node is rewritten many times.  Then a ring-connected guest (pvguest
# on the simulated hypervisor layer): a watch it set before a kill -9 of
# the store fires after the restart (the journal keeps a ring's watches).
. "$(dirname "$0")/lib.sh"
need_xsutils
need_testbin xs_txn XS_TXN

DB=$PVD_RUNDIR/store.db
# Everything --persist FILE may create (FILE, FILE.journal, ...).
db_bytes() { du -cb "$DB"* 2>/dev/null | awk 'END {print $1 + 0}'; }

stored_start --persist "$DB"

xs write /p/a 1 /p/b/c "two words" /p/empty "" /p/bin 'x\001y' >/dev/null
xs write /p/a 2 >/dev/null
xs write /p/gone 1 >/dev/null
xs rm /p/gone
xs write /p/tree/x 1 /p/tree/y 2 >/dev/null
xs rm /p/tree/x
xs chmod /p/b n0 r5 b7
xs chmod /p/b/c w3
xs write /local/domain/9 "" >/dev/null
xs chmod /local/domain/9 n9
expect_ok "introduce domain 9" "$XS_TXN" introduce 9
expect_ok "introduce domain 11" "$XS_TXN" introduce 11
expect_ok "release domain 11" "$XS_TXN" release 11

# A transaction still open when the daemon dies must leave no trace.
mkfifo "$PVD_RUNDIR/hold"
"$XS_TXN" txn-pending /p/uncommitted v <"$PVD_RUNDIR/hold" >"$PVD_RUNDIR/pending.out" 2>&1 &
track_pid $!
exec 3>"$PVD_RUNDIR/hold"
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	grep -q READY "$PVD_RUNDIR/pending.out" && break
	sleep 0.05
done
expect_eq "transaction left open" READY "$(cat "$PVD_RUNDIR/pending.out")"

before=$(xs ls -f -p /)
log "tree before the crash:"; sed 's/^/#   /' <<<"$before"

# A writer whose every acknowledged value is known, killed mid-stream.
"$XS_TXN" count /p/counter 1000000 >"$PVD_RUNDIR/count.out" 2>/dev/null &
cpid=$!
track_pid $cpid
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	[ "$(wc -l <"$PVD_RUNDIR/count.out")" -ge 200 ] && break
	sleep 0.05
done
stored_kill9
wait_pid_gone $cpid || stop_pid $cpid
acked=$(tail -n 1 "$PVD_RUNDIR/count.out")
exec 3>&-

stored_start --persist "$DB"
after=$(xs ls -f -p / | grep -v '^/p/counter ')
expect_eq "tree and permissions survive kill -9" "$before" "$after"
expect_eq "binary value survives" 'x\001y' "$(xs read /p/bin)"
xs exists /p/uncommitted; rc=$?
expect_eq "uncommitted transaction is gone" 1 "$rc"
xs exists /p/gone; rc=$?
expect_eq "removed node stays removed" 1 "$rc"
expect_eq "introduced domain is still introduced" T "$("$XS_TXN" is-introduced 9)"
expect_eq "released domain is still released" F "$("$XS_TXN" is-introduced 11)"
expect_eq "never-introduced domain" F "$("$XS_TXN" is-introduced 12)"
got=$(xs read /p/counter)
# The write in flight at the kill may or may not have landed.
if [[ "$acked" =~ ^[0-9]+$ ]] && [[ "$got" =~ ^[0-9]+$ ]] &&
	[ "$got" -ge "$acked" ] && [ "$got" -le $((acked + 1)) ]; then
	pass "every acknowledged write survived ($acked acked, $got stored)"
else
	fail "acknowledged writes lost" "last acknowledged: '$acked', stored: '$got'"
fi

# Clean restart.
xs rm /p/counter
xs write /p/after-crash yes >/dev/null
before=$(xs ls -f -p /)
stored_stop
expect_eq "SIGTERM exits 0" 0 "$STORED_EXIT"
stored_start --persist "$DB"
expect_eq "tree survives a clean restart" "$before" "$(xs ls -f -p /)"
expect_eq "introduced domain survives a clean restart" T "$("$XS_TXN" is-introduced 9)"

# Compaction: 20000 rewrites of one node with 4000-byte values is 80 MB of
# journal if nothing is ever compacted.
size0=$(db_bytes)
expect_ok "20000 rewrites of one node" timeout -k 5 120 "$XS_TXN" rewrite /p/hot 20000 4000
size1=$(db_bytes)
log "persist files: $size0 bytes before, $size1 bytes after 80 MB of rewrites"
if [ "$size1" -lt $((8 * 1024 * 1024)) ]; then
	pass "journal is compacted ($size1 bytes)"
else
	fail "journal not compacted" "$size1 bytes after rewriting one node 20000 times"
	ls -la "$DB"* | sed 's/^/#   /'
fi
before=$(xs ls -f -p /)
stored_kill9
stored_start --persist "$DB"
expect_eq "store intact after compaction and kill -9" "$before" "$(xs ls -f -p /)"
expect_eq "last rewrite survived" last "$(xs read /p/hot)"

stored_alive "daemon running"
stored_stop

# ------------------------------------- a ring-connected guest's watch
need_testbin pvguest_xs XSH
[ -x "$PVD_BIN/pvguest" ] || die "$PVD_BIN/pvguest not built (run: make)"
# pvguest drops root for nobody: it must reach the run directory.
[ "$(id -u)" = 0 ] && chmod 755 "$PVD_RUNDIR"
RDB=$PVD_RUNDIR/ring.db
STORED_HV=sim stored_start --persist "$RDB"
grep -q "serving domains over rings" "$STORED_LOG" ||
	skip "pvd-stored does not serve domains over rings (see $STORED_LOG)"
"$PVD_BIN/pvguest" -f --domid 3 --name vm3 --ready-fd 3 3>"$PVD_RUNDIR/ready" \
	2>>"$PVD_RUNDIR/pvguest.stderr" &
GPID=$!
track_pid "$GPID"
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	[ "$(wc -l <"$PVD_RUNDIR/ready" 2>/dev/null)" = 1 ] && break
	sleep 0.05
done
re='store_gfn=([0-9]+) store_port=([0-9]+)'
[[ "$(cat "$PVD_RUNDIR/ready")" =~ $re ]] || die "pvguest: no ready line"
xs write /local/domain/3/data "" >/dev/null
xs chmod /local/domain/3/data n3
expect_ok "introduce domain 3" timeout -k 2 10 "$XSH" introduce 3 \
	"${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
# The guest's watch: its initial event, then (after the restart) one the
# restored watch fires on its own, then the write's.
w=$PVD_RUNDIR/guest-watch.out
XENSTORED_PATH=$PVD_RUNDIR/guests/dom3/xenbus.sock timeout -k 2 60 \
	xenstore-watch -n 3 data >"$w" 2>&1 &
WPID=$!
track_pid "$WPID"
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do [ -s "$w" ] && break; sleep 0.05; done
expect_eq "the guest's watch is set" data "$(cat "$w")"
stored_kill9
STORED_HV=sim stored_start --persist "$RDB"
expect_eq "the guest is still introduced" T "$(timeout -k 2 10 "$XSH" introduced 3)"
xs write /local/domain/3/data/after 1 >/dev/null
wait_pid_gone "$WPID" || stop_pid "$WPID"
grep -qx data/after "$w" && pass "the guest's watch fires after the restart" ||
	fail "the guest's watch fires after the restart" "$(tr '\n' ' ' <"$w")"
expect_eq "the guest reads through its ring after the restart" 1 \
	"$(XENSTORED_PATH=$PVD_RUNDIR/guests/dom3/xenbus.sock xs read data/after)"
stop_pid "$GPID"
finish
