#!/usr/bin/env bash
# bench-files.sh - issue 18's goal for many open files: the library's CPU per GB with 1000
# files open at once against 100 (the same 4000 writes of 64 KiB, each file read in its
# turn; tests/e2e/review2.c's scenarios "1000files" and "100files"), interleaved rounds,
# medians; the plain program's figure beside them.
#
# Usage: demo/bench-files.sh [ROUNDS (5)]   (run it alone: flock /tmp/asf-bench.lock ...)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ROUNDS=${1:-5}
make -s all build/tests/review2 >/dev/null
LIB=$top/build/libautosendfile.so
export TMPDIR=${TMPDIR:-/tmp}
cpu() { # SCENARIO [preload]: the s/GB the scenario prints
	env ${2:+LD_PRELOAD=$LIB} build/tests/review2 "$1" | sed -n 's/.* \([0-9.]*\) s\/GB$/\1/p'
}
declare -A v
for ((r = 1; r <= ROUNDS; r++)); do
	for k in 1000files 100files; do
		v[$k.lib]+="$(cpu $k 1) "
		v[$k.plain]+="$(cpu $k) "
	done
done
med() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "# $(date -u '+%F %T') UTC, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r), $ROUNDS rounds"
printf '| files open | plain CPU s/GB | library CPU s/GB |\n|---|---|---|\n'
for k in 100files 1000files; do
	printf '| %s | %s | %s |\n' "${k%files}" "$(med <<<"${v[$k.plain]}")" "$(med <<<"${v[$k.lib]}")"
done
a=$(med <<<"${v[1000files.lib]}") b=$(med <<<"${v[100files.lib]}")
echo "library, 1000 files vs 100: $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }') (goal: within 1.10x)"
