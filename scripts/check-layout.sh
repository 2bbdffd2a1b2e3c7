#!/bin/bash
# The layout rules of docs/architecture.md that a machine can check, run by
# make check (scripts/run-tests.sh): no test #includes a .c file, and no
# production function is longer than FUNC_MAX lines (80).  Functions are
# found in our style: the name line, then "{" and "}" alone in column 0.
set -u
cd "$(dirname "$0")/.."
max=${FUNC_MAX:-80}
bad=0
git rev-parse --git-dir >/dev/null 2>&1 ||
	{ echo "SKIP: not a git checkout (the file lists come from git)"; exit 77; }

inc=$(git ls-files 'tests/*.c' 'tests/*.h' | xargs grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.c"' 2>/dev/null)
if [ -n "$inc" ]; then
	echo "tests that #include a .c file (link the module's library instead):"
	echo "$inc" | sed 's/^/  /'
	bad=1
fi

long=$(git ls-files '*.c' ':!tests/*' | xargs awk -v max="$max" '
	FNR == 1 { cand = ""; start = 0 }
	/^[A-Za-z_].*\(/ && !/;[ \t]*$/ { cand = $0; cl = FNR }
	/^\{/ { if (cand != "") { start = cl; name = cand } }
	/^\}/ {
		if (start) {
			len = FNR - start + 1
			if (len > max) {
				sub(/\(.*/, "", name); n = split(name, w, /[ \t*]+/)
				printf "  %s:%d %s: %d lines\n", FILENAME, start, w[n], len
			}
		}
		start = 0; cand = ""
	}')
if [ -n "$long" ]; then
	echo "functions over $max lines (make them a row of small stages):"
	echo "$long"
	bad=1
fi
[ "$bad" -eq 0 ] && echo "layout: no test includes a .c file; no production function over $max lines"
exit "$bad"
