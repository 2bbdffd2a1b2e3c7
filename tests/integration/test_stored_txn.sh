#!/bin/bash
# Transactions (isolation, commit, EAGAIN on conflict, abort), watches and
# transactions, permissions, and domain introduction through libxenstore
# (tests/integration/xs_txn.c).
. "$(dirname "$0")/lib.sh"
need_testbin xs_txn XS_TXN

GSOCK=$PVD_RUNDIR/guest3.sock
stored_start --guest-socket "3:$GSOCK"

out=$(XS_GUEST_SOCK=$GSOCK timeout -k 5 120 "$XS_TXN" check 42 2>&1)
rc=$?
echo "$out"
expect_eq "xs_txn check exit status" 0 "$rc"
# Every check must have run (a crash part-way must not look like a pass).
expect_eq "xs_txn ran all checks" 10 "$(grep -c '^PASS ' <<<"$out")"

stored_alive "daemon survived"
finish
