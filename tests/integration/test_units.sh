#!/bin/bash
# make install / make uninstall and the systemd units: every installed
# unit passes `systemd-analyze verify` (binaries and man pages where the
# units name them), and uninstall leaves no file behind.  Runs make in
# the tree with BUILD taken from PVD_BIN (<build>/bin).
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || skip "systemd-analyze missing (systemd)"
command -v scdoc >/dev/null || skip "scdoc missing (scripts/deps.sh)"

BUILD=$(dirname "$PVD_BIN")
# A make of its own (not the caller's jobserver), in the caller's build
# (SAN=1 included: the objects are up to date, nothing is rebuilt).
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$PVD_REPO" \
		BUILD="$BUILD" SAN="${SAN:-0}" "$@" >"$PVD_RUNDIR/make.log" 2>&1
}
files_under() { (cd "$1" && find . ! -type d | sort); }

# 1. A staged install (DESTDIR), as a package build does it.
DEST=$PVD_RUNDIR/dest
if mk install DESTDIR="$DEST" PREFIX=/usr; then
	pass "make install DESTDIR=... PREFIX=/usr"
else
	fail "make install DESTDIR=... PREFIX=/usr" "$(tail -5 "$PVD_RUNDIR/make.log")"
fi
files_under "$DEST" >"$PVD_RUNDIR/installed"
for f in sbin/pvd-stored sbin/pvd-blkback sbin/pvd-consoled bin/pvctl bin/pvguest \
	lib/systemd/system/pvd.target lib/systemd/system/pvd-stored.service \
	share/man/man8/pvd-stored.8 share/man/man1/pvctl.1 share/man/man5/pvd.cfg.5 \
	share/doc/pvd/operations.md; do
	if grep -qx "./usr/$f" "$PVD_RUNDIR/installed"; then
		pass "installs /usr/$f"
	else
		fail "installs /usr/$f" "not in DESTDIR"
	fi
done
if grep -h '@[A-Z]*DIR@' "$DEST"/usr/lib/systemd/system/* >"$PVD_RUNDIR/subst"; then
	fail "units have their paths substituted" "$(head -3 "$PVD_RUNDIR/subst")"
else
	pass "units have their paths substituted"
fi
mk uninstall DESTDIR="$DEST" PREFIX=/usr || fail "make uninstall" "$(tail -5 "$PVD_RUNDIR/make.log")"
left=$(files_under "$DEST")
expect_eq "make uninstall DESTDIR=... leaves no file behind" "" "$left"

# 2. Installed at a prefix of its own, so that the units name binaries
# that exist: systemd-analyze verify checks ExecStart=, every directive
# and the man pages in Documentation=.
P=$PVD_RUNDIR/prefix
mk install PREFIX="$P" || fail "make install PREFIX=..." "$(tail -5 "$PVD_RUNDIR/make.log")"
units=("$P"/lib/systemd/system/*)
[ -e "${units[0]}" ] || die "no unit installed under $P"
for u in "${units[@]}"; do
	out=$(MANPATH=$P/share/man SYSTEMD_LOG_COLOR=0 timeout 60 \
		systemd-analyze verify "$u" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		pass "systemd-analyze verify $(basename "$u")"
	else
		fail "systemd-analyze verify $(basename "$u")" "rc $rc: $out"
	fi
done
# The properties the units promise (systemd/README.md): notify, the
# watchdog, and no unit stopped or restarted with the store.
for u in "$P"/lib/systemd/system/*.service; do
	n=$(basename "$u")
	grep -qx 'Type=notify' "$u" && grep -qx 'NotifyAccess=main' "$u" &&
		grep -q '^WatchdogSec=' "$u" &&
		pass "$n: Type=notify with a watchdog" ||
		fail "$n: Type=notify with a watchdog" "$(grep -E '^(Type|Notify|Watchdog)' "$u")"
	[ "$n" = pvd-stored.service ] && continue
	if grep -E '^(BindsTo|Requires|Requisite|PartOf)=.*pvd-stored' "$u" >"$PVD_RUNDIR/binds"; then
		fail "$n: a store restart does not stop it" "$(cat "$PVD_RUNDIR/binds")"
	else
		pass "$n: a store restart does not stop it"
	fi
done
mk uninstall PREFIX="$P" || fail "make uninstall PREFIX=..." "$(tail -5 "$PVD_RUNDIR/make.log")"
expect_eq "make uninstall PREFIX=... leaves no file behind" "" "$(files_under "$P")"
finish
