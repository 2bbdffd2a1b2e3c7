#!/bin/bash
# Hostile clients against pvd-stored (tests/integration/xs_abuse.c): bad
# headers and paths, half messages, clients that never read, a connection
# flood, watch abuse, deep trees, guest quotas, and the xenstored XSAs
# (115, 322, 324, 418, 425).  After every case a well-behaved client must
# still be served.
. "$(dirname "$0")/lib.sh"
need_testbin xs_abuse XS_ABUSE

G1=5 G2=6
MAXCONN=1000
# Passed identically to the daemon and to xs_abuse (which checks them).
QUOTAS=(--quota-nodes 40 --quota-value-size 2048 --quota-watches 16
	--quota-transactions 4 --quota-perms 5 --quota-path-max 200
	--quota-trans-nodes 20 --quota-outstanding 8)

stored_start --guest-socket "$G1:$PVD_RUNDIR/g$G1.sock" \
	--guest-socket "$G2:$PVD_RUNDIR/g$G2.sock" \
	--max-connections "$MAXCONN" "${QUOTAS[@]}"

out=$PVD_RUNDIR/xs_abuse.out
timeout -k 5 240 "$XS_ABUSE" --sock "$STORED_SOCK" --pid "$STORED_PID" \
	--guest "$G1:$PVD_RUNDIR/g$G1.sock" --guest2 "$G2:$PVD_RUNDIR/g$G2.sock" \
	--max-connections "$MAXCONN" "${QUOTAS[@]}" "$@" >"$out" 2>&1
rc=$?
cat "$out"
case $rc in
0) pass "xs_abuse: every case passed" ;;
124|137) fail "xs_abuse timed out (a hang: see the last case above)" ;;
*) fail "xs_abuse: $(grep -c '^FAIL' "$out") case(s) failed (exit $rc)" ;;
esac
[ "$#" -gt 0 ] || expect_eq "xs_abuse ran every case" 23 \
	"$(grep -cE '^(PASS|FAIL) ' "$out")"

stored_alive "daemon survived"
stored_stop
expect_eq "clean exit after the abuse" 0 "$STORED_EXIT"
finish
