#!/bin/bash
# The man pages (man/*.scd, scdoc): each builds, renders with `man -l`
# without a groff warning, has its NAME line, and every program pvd
# builds has one.
. "$(dirname "$0")/lib.sh"
command -v scdoc >/dev/null || skip "scdoc missing (scripts/deps.sh)"
command -v man >/dev/null || skip "man missing (scripts/deps.sh: man-db)"

OUT=$PVD_RUNDIR/man
mkdir -p "$OUT"
pages=()
for src in "$PVD_REPO"/man/*.scd; do
	page=$(basename "$src" .scd)
	if ! scdoc <"$src" >"$OUT/$page" 2>"$OUT/$page.err"; then
		fail "$page builds" "scdoc: $(cat "$OUT/$page.err")"
		continue
	fi
	pages+=("$page")
	# --warnings: groff's -ww; any line on stderr is a defect.
	LC_ALL=C.UTF-8 MANWIDTH=80 timeout 30 man --warnings -l "$OUT/$page" \
		>"$OUT/$page.txt" 2>"$OUT/$page.warn"
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$OUT/$page.warn" ]; then
		fail "$page renders without warnings" "rc $rc: $(head -3 "$OUT/$page.warn")"
	else
		pass "$page renders without warnings"
	fi
	name=${page%.*}
	if grep -A1 '^NAME' "$OUT/$page.txt" | grep -qE "^ +$name - ."; then
		pass "$page has its NAME line"
	else
		fail "$page has its NAME line" "$(grep -A1 '^NAME' "$OUT/$page.txt")"
	fi
done
[ "${#pages[@]}" -gt 0 ] || fail "man pages found" "none in $PVD_REPO/man"

# Every program built (and pvd-netback, which has its page ahead of its
# code), and the config syntax.
want="pvd.cfg.5 pvd-netback.8"
for prog in "$PVD_BIN"/*; do
	[ -x "$prog" ] || continue
	case $(basename "$prog") in
	pvd-*) want="$want $(basename "$prog").8" ;;
	*) want="$want $(basename "$prog").1" ;;
	esac
done
for w in $want; do
	if [ -s "$OUT/$w" ]; then pass "a page for $w"; else fail "a page for $w" "no man/$w.scd"; fi
done
finish
