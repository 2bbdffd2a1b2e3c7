#!/bin/bash
# run.sh's retry and verdict, checked with a stand-in for QEMU
# (tests/xen/fake-qemu) before `make check-xen` boots Xen: a boot that
# goes silent is found stuck and only the groups without results boot
# again; a plain failure is judged, not retried; a retry that has no time
# left is not made; a boot's missing results fail.  About 30 s; it builds
# the images the real run then reuses.  Exit: 0 pass, 77 skip, 1 fail.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export XT_QEMU=$here/fake-qemu XT_STALL=3 XT_TIMEOUT=60 XT_RETRY_MIN=10
B=${XT_BUILD:-build/xen}
mkdir -p "$B"
export FAKE_MARK=$B/fake-hang.mark
log=$B/selftest.log
: > "$log"
bad=0

# case NAME WANT_RC GREP... (env set by the caller): run.sh's output must
# hold every GREP (a leading '!' : must not).
case_() {
	local name=$1 want=$2 rc out=$B/selftest-$1.out pat
	shift 2
	rm -f "$FAKE_MARK"
	timeout 180 "$here/run.sh" > "$out" 2>&1
	rc=$?
	[ "$rc" = 77 ] && { echo "selftest: skipped (run.sh: no packages)"; exit 77; }
	cat "$out" >> "$log"
	if [ "$rc" != "$want" ]; then
		echo "selftest: FAIL $name: run.sh exit $rc, want $want ($out)"
		bad=1
		return
	fi
	for pat in "$@"; do
		if [ "${pat#!}" != "$pat" ]; then
			grep -qE -- "${pat#!}" "$out" || continue
			echo "selftest: FAIL $name: output holds '${pat#!}' ($out)"
		else
			grep -qE -- "$pat" "$out" && continue
			echo "selftest: FAIL $name: no '$pat' in the output ($out)"
		fi
		bad=1
		return
	done
	echo "selftest: ok $name"
}

FAKE_HANG=net XT_BUDGET=120 case_ hang-retried 0 \
	'attempt 1: stuck, no console output' 'boot attempt 2: net xl zstore \(' \
	'^PASS anchor-dd' '^PASS net-ping-dom0' '^PASS store-bench' 'xentest: PASS' '!^FAIL'
FAKE_FAIL=net-ping-dom0 XT_BUDGET=120 case_ fail-judged 1 \
	'^FAIL net-ping-dom0: net-ping-dom0 \(fake\)' '!boot attempt 2' '^PASS xl-create'
FAKE_HANG=base XT_BUDGET=8 case_ no-time 1 \
	'no time left for another attempt' '!boot attempt 2' '^FAIL anchor-dd: no result'
FAKE_HANG=zstore XT_ATTEMPTS=1 XT_BUDGET=120 case_ one-attempt 1 \
	'^FAIL store-bench: no result' '^PASS net-destroy' '!boot attempt 2'
rm -f "$FAKE_MARK"
[ "$bad" = 0 ] || { echo "selftest: run.sh's retry or verdict is wrong; outputs in $B/selftest-*.out"; exit 1; }
echo "selftest: run.sh's retry and verdict: 4 of 4 cases as expected"
