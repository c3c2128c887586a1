#!/usr/bin/env bash
# bench-start.sh - what the library adds to the start and end of a short process (issue 20,
# "Process start": CGI-style servers and scripts run under the launcher start many).
#
# A short program (CMD, default /bin/true) runs with LD_PRELOAD of:
#   none    nothing
#   empty   an empty shared library, built here from an empty C file: the loader's own cost
#           of a preloaded library, which no library can avoid
#   lib     build/libautosendfile.so (or LIB)
#   before  BEFORE, if set: another build of the library (an older commit) side by side
# and for each: the system calls of one run (strace), the minor page faults (wait4's
# rusage, median of the runs) and the wall time per run (posix_spawn to reaped,
# demo/startcost.c): ROUNDS interleaved rounds of RUNS runs each, variant order rotating,
# the median of the rounds' means; "over empty" is the median of the per-round differences.
#
# Writes $OUT/start.txt (OUT defaults to build/bench): a table, and the lines
#   start_ms_over_empty <ms>        lib's wall time per run minus empty's (the goal: <= 0.2)
#   start_syscalls_over_empty <n>
#   start_minflt_over_empty <n>
# Usage: demo/bench-start.sh        Env: LIB, BEFORE, CMD, ROUNDS (41), RUNS (20), OUT.
# Short rounds keep the variants of a round close in time: the machine is shared.
# Run it alone on the machine (flock -o /tmp/asf-bench.lock demo/bench-start.sh): about
# ROUNDS x RUNS x 3 process starts, ~10 s here.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LIB=${LIB:-$REPO/build/libautosendfile.so}
BEFORE=${BEFORE:-}
CMD=${CMD:-/bin/true}
ROUNDS=${ROUNDS:-41} RUNS=${RUNS:-20}
OUT=${OUT:-$REPO/build/bench}
CC=${CC:-cc}
[[ -f $LIB ]] || { echo "bench-start: no library at $LIB (run make)" >&2; exit 1; }
[[ -z $BEFORE || -f $BEFORE ]] || { echo "bench-start: no library at $BEFORE" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench-start: needs python3" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/asf-start.XXXXXX")
trap 'rm -rf "$T"' EXIT
# Copies: a rebuild during the run cannot mix versions.
cp "$LIB" "$T/lib.so"
[[ -n $BEFORE ]] && cp "$BEFORE" "$T/before.so"
: >"$T/empty.c"
$CC -shared -fPIC -O2 -o "$T/empty.so" "$T/empty.c"
$CC -std=gnu11 -O2 -Wall -Wextra -o "$T/startcost" "$REPO/demo/startcost.c"
# The live counters go to a directory of their own, on /dev/shm as by default: the run
# neither reads nor fills the user's (files left there by others make the scans longer).
LIVE=$(mktemp -d /dev/shm/asf-start-live.XXXXXX 2>/dev/null || mktemp -d "$T/live.XXXXXX")
trap 'rm -rf "$T" "$LIVE"' EXIT
export AUTOSENDFILE_LIVE="$LIVE"
unset AUTOSENDFILE AUTOSENDFILE_STATS AUTOSENDFILE_ONLY AUTOSENDFILE_SKIP AUTOSENDFILE_LOG

variants=(none= "empty=$T/empty.so" "lib=$T/lib.so")
[[ -n $BEFORE ]] && variants+=("before=$T/before.so")

# System calls of one run: strace's lines, less its "+++ exited" line.
: >"$T/sys"
for v in "${variants[@]}"; do
	label=${v%%=*} so=${v#*=}
	if command -v strace >/dev/null; then
		if [[ -n $so ]]; then strace -qq -E LD_PRELOAD="$so" -o "$T/tr" "$CMD" >/dev/null
		else strace -qq -o "$T/tr" "$CMD" >/dev/null; fi
		echo "$label $(grep -cv '^+++\|^---' "$T/tr")" >>"$T/sys"
	else
		echo "$label -" >>"$T/sys"
	fi
done

"$T/startcost" 1 5 "${variants[@]}" -- "$CMD" >/dev/null # warm the page cache
"$T/startcost" "$ROUNDS" "$RUNS" "${variants[@]}" -- "$CMD" >"$T/raw"
mkdir -p "$OUT"
cp "$T/raw" "$OUT/start.raw"

python3 - "$T/raw" "$T/sys" "$CMD" "$ROUNDS" "$RUNS" >"$OUT/start.txt" <<'EOF'
import statistics, sys
raw, sysf, cmd, rounds, runs = sys.argv[1:6]
ms, flt, order = {}, {}, []
for line in open(raw):
    r, label, t, f = line.split()
    if label not in order:
        order.append(label)
    ms.setdefault(label, {})[int(r)] = float(t)
    flt.setdefault(label, []).append(int(f))
calls = dict(l.split() for l in open(sysf))
order.sort(key=["none", "empty", "lib", "before"].index)
med = statistics.median
print(f"# process start: {cmd}, {rounds} interleaved rounds of {runs} runs, medians")
print(f"{'variant':8} {'syscalls':>8} {'minflt':>7} {'ms/run':>8} {'min':>8} {'max':>8} {'over empty, ms':>15}")
for l in order:
    v = list(ms[l].values())
    over = med(ms[l][r] - ms["empty"][r] for r in ms[l]) if l != "empty" else 0.0
    print(f"{l:8} {calls.get(l, '-'):>8} {med(flt[l]):>7.0f} {med(v):>8.3f} {min(v):>8.3f} {max(v):>8.3f} {over:>+15.3f}")
over = med(ms["lib"][r] - ms["empty"][r] for r in ms["lib"])
print(f"start_ms_over_empty {over:.3f}")
if calls.get("lib", "-") != "-":
    print(f"start_syscalls_over_empty {int(calls['lib']) - int(calls['empty'])}")
print(f"start_minflt_over_empty {med(flt['lib']) - med(flt['empty']):.0f}")
EOF
cat "$OUT/start.txt"
