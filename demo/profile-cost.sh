#!/usr/bin/env bash
# profile-cost.sh - where a copy loop's CPU goes under the library (issue 20): perf samples of
# demo/copyserver --mode rw (64 KiB read/write loop) under the library with its defaults,
# loaded by 4 discarding clients (loadclient --trunc) on a 128 MiB file; prints the share
# of samples per object (kernel, libc, the library) and the library's own functions.
#
# Usage: demo/profile-cost.sh [SECONDS (4)]   (after make test-bins; needs perf; run it
# alone on the machine: flock /tmp/asf-bench.lock demo/profile-cost.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-4}
b="$top/build"
tmp=$(mktemp -d /tmp/asf-profile.XXXXXX)
spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
head -c $((128 << 20)) /dev/urandom >"$tmp/f128m"
LD_PRELOAD="$b/libautosendfile.so" AUTOSENDFILE_STATS="$tmp/st" \
	"$b/demo/copyserver" --root "$tmp" --port-file "$tmp/port" --mode rw &
spid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
perf record -q -F 2000 -g -o "$tmp/perf.data" -p "$spid" -- sleep "$secs" 2>/dev/null &
ppid=$!
"$b/demo/loadclient" --port "$(cat "$tmp/port")" --path /f128m --clients 4 --seconds $((secs + 1)) --trunc
wait "$ppid"
kill "$spid"; wait "$spid" || true; spid=
echo "# $(date -u '+%F %T') UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
cat "$tmp/st"
echo "## samples per object"
perf report -i "$tmp/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -6
echo "## the library's functions"
perf report -i "$tmp/perf.data" --no-children --dso libautosendfile.so --sort symbol --stdio -g none 2>/dev/null |
	grep '%' | head -15
