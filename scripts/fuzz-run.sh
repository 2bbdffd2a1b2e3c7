#!/bin/bash
# Builds the libFuzzer targets and runs each for a short bounded time from
# its seed corpus (tests/fuzz/corpus/<target>/).  FUZZ_SECONDS overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
secs=${FUZZ_SECONDS:-20}
make --no-print-directory BUILD="$BUILD" fuzz >/dev/null
for f in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	work=$(mktemp -d)
	seeds=tests/fuzz/corpus/$name
	[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
	echo "fuzz: $name for ${secs}s"
	"$f" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 "$work" 2>&1 | tail -n 3
	rm -rf "$work"
done
