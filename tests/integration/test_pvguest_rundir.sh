#!/bin/bash
# A guest's sockets and the run directory (issue 13, "Failures that say
# so"): pvctl, as root, starts pvguest --user nobody.  With PVD_RUNDIR not
# searchable by nobody (mode 0700), a guest's NBD export could never be
# bound nor reached; pvguest must fail before its ready line with one line
# naming the directory and the user, so that `pvctl create` (with a disk)
# fails with that line and leaves nothing behind.  With mode 0755 the same
# create works and the disk's NBD export is reachable by nobody (nbdinfo
# and qemu-img info run as nobody).
. "$(dirname "$0")/lib.sh"
need_xsutils

PVCTL=$PVD_BIN/pvctl
[ "$(id -u)" = 0 ] || skip "needs root (pvctl runs pvguest as nobody only as root)"
id nobody >/dev/null 2>&1 || skip "no user nobody"
for b in pvctl pvguest pvd-blkback; do
	[ -x "$PVD_BIN/$b" ] || die "$PVD_BIN/$b not built (run: make)"
done
for p in nbdinfo qemu-img runuser; do
	command -v "$p" >/dev/null || skip "$p not installed"
done

pvctl() { timeout -k 2 60 "$PVCTL" "$@"; }
as_nobody() { timeout -k 2 30 runuser -u nobody -- "$@"; }
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}
# What a failed create must leave as it found: the store, the guests'
# directories, pvguest processes of this run directory.
snapshot() {
	xs ls / 2>&1 | grep -v '^tool'
	ls -A "$PVD_RUNDIR/guests" 2>/dev/null
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q '^[^ ]*pvguest ' || continue
		tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "PVD_RUNDIR=$PVD_RUNDIR" &&
			echo "pvguest ${p#/proc/}"
	done
}

cleanup() {
	local f d
	for f in "$PVD_RUNDIR"/guests/dom*/pid; do
		[ -f "$f" ] || continue
		d=${f%/pid}
		timeout -k 2 20 "$PVCTL" destroy "${d##*/dom}" >/dev/null 2>&1
	done
	if [ "$1" != 0 ] && [ "$1" != 77 ] && [ -s "$PVD_RUNDIR/blkback.log" ]; then
		echo "# --- last lines of blkback.log ---"
		tail -n 20 "$PVD_RUNDIR/blkback.log" | sed 's/^/# /'
	fi
}
trap 'rc_=$?; cleanup "$rc_"; (exit $rc_); _pvd_cleanup' EXIT

STORED_HV=sim stored_start
"$PVD_BIN/pvd-blkback" -f --hv sim --pidfile "$PVD_RUNDIR/blkback.pid" \
	>>"$PVD_RUNDIR/blkback.log" 2>&1 &
BB_PID=$!
track_pid "$BB_PID"
wait_for "$PVD_WAIT_SECS" test -s "$PVD_RUNDIR/blkback.pid" || die "pvd-blkback did not start"

IMG=$PVD_RUNDIR/disk.img
truncate -s 64M "$IMG" || die "cannot create $IMG"
cat >"$PVD_RUNDIR/g.cfg" <<EOF2
name = "g"
memory = 128
disk = [ 'file:$IMG,xvda,w' ]
EOF2

# ---------------------------------------- a run directory nobody cannot reach
chmod 700 "$PVD_RUNDIR"
BEFORE=$(snapshot)
out=$(pvctl create "$PVD_RUNDIR/g.cfg" 2>"$PVD_RUNDIR/create.err")
rc=$?
err=$(cat "$PVD_RUNDIR/create.err")
[ "$rc" != 0 ] && pass "create fails when nobody cannot reach PVD_RUNDIR (exit $rc)" ||
	fail "create fails when nobody cannot reach PVD_RUNDIR" "exit 0, printed '$out'"
log "create: $err"
expect_eq "create says so in one line" 1 "$(printf '%s\n' "$err" | grep -c .)"
[[ "$err" == *"user nobody"*"cannot reach $PVD_RUNDIR "* ]] &&
	pass "the line names the user and the directory" ||
	fail "the line names the user and the directory" "$err"
expect_eq "nothing is left (store, guests/, pvguest)" "$BEFORE" "$(snapshot)"

# ---------------------------------------------- a reachable run directory
chmod 755 "$PVD_RUNDIR"
DOM=$(pvctl create "$PVD_RUNDIR/g.cfg" 2>"$PVD_RUNDIR/create.err")
rc=$?
expect_eq "create works with PVD_RUNDIR 0755" 0 "$rc"
[ "$rc" = 0 ] || { sed 's/^/# /' "$PVD_RUNDIR/create.err"; finish; }
SOCK=$PVD_RUNDIR/guests/dom$DOM/vbd-51712.nbd
URI="nbd+unix:///?socket=$SOCK"
wait_for 20 test -S "$SOCK" && pass "the disk's NBD export exists" ||
	fail "the disk's NBD export exists" "$(tail -n 5 "$PVD_RUNDIR/guests/dom$DOM/log" 2>&1)"
expect_eq "nbdinfo --size as nobody" 67108864 "$(as_nobody nbdinfo --size "$URI" 2>&1)"
expect_ok "qemu-img info as nobody" as_nobody qemu-img info "$URI"
expect_ok "destroy" pvctl destroy "$DOM"
finish
