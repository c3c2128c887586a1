#!/usr/bin/env bash
# passthrough-cost.sh - what autosendfile costs a program whose I/O it does NOT redirect.
#
# 1) Instructions (valgrind callgrind, user-space Ir): `dd if=/dev/zero of=/dev/null bs=1
#    count=N` for N=N1 and N=N2, without and with LD_PRELOAD=<lib> (and with the library
#    loaded but AUTOSENDFILE=0). The slope (Ir(N2)-Ir(N1))/(N2-N1) is the cost of one dd
#    block = one read() + one write(), i.e. 2 wrapped calls, so the library's added cost per
#    wrapped pass-through call is (slope_with - slope_without) / 2. Start-up costs (loader,
#    library constructor, exit-time stats) are the same for both N and cancel out.
# 2) Wall clock: `dd ... bs=1 count=WALLN` with and without the library, interleaved,
#    median of REPS runs each, and the ratio with/without.
#
# Usage: demo/passthrough-cost.sh [LIB]
#   LIB defaults to $ASF_LIB, else build/libautosendfile.so (relative to the repo root).
# Env: N1 (20000), N2 (40000), WALLN (2000000), REPS (5).
# Needs valgrind (exit 77 if absent). Run from anywhere.
set -euo pipefail

cd "$(dirname "$0")/.."
LIB=${1:-${ASF_LIB:-build/libautosendfile.so}}
N1=${N1:-20000} N2=${N2:-40000} WALLN=${WALLN:-2000000} REPS=${REPS:-5}
[[ -f $LIB ]] || { echo "library not found: $LIB (build it with make)" >&2; exit 1; }
LIB=$(realpath "$LIB")
command -v valgrind >/dev/null || { echo "valgrind not installed; skipped" >&2; exit 77; }
DD=$(command -v dd)

T=$(mktemp -d "${TMPDIR:-/tmp}/asf-ptcost.XXXXXX")
trap 'rm -rf "$T"' EXIT

# ---- sanity: the library really is loaded into the guest under valgrind -----------------
# (stats go to a file: dd, like all coreutils, closes stderr in an atexit handler, so a
# stats line for "stderr" written at exit would be lost)
env LD_PRELOAD="$LIB" AUTOSENDFILE_STATS="$T/check.stats" \
	valgrind --tool=callgrind --callgrind-out-file="$T/check.out" \
	"$DD" if=/dev/zero of=/dev/null bs=1 count=1000 2>"$T/check.err" || {
	echo "FAIL: dd under valgrind with the library failed:" >&2; cat "$T/check.err" >&2; exit 1; }
statline=$(grep -m1 'autosendfile: pid=' "$T/check.stats" 2>/dev/null || true)
if [[ -z $statline ]]; then
	echo "FAIL: no 'autosendfile: pid=' stats line under valgrind: LD_PRELOAD did not reach the guest" >&2
	cat "$T/check.err" >&2
	exit 1
fi
echo "library active under valgrind (dd count=1000): $statline"
[[ $statline == *passthrough_bytes=* ]] || echo "WARNING: stats line has no passthrough_bytes" >&2

# ---- callgrind instruction counts -------------------------------------------------------
# ir VARIANT N -> prints total Ir of the whole dd run
ir() {
	local v=$1 n=$2 out=$T/cg.$1.$2 pre=()
	case $v in
	without) pre=(env -u LD_PRELOAD) ;;
	with) pre=(env LD_PRELOAD="$LIB") ;;
	disabled) pre=(env LD_PRELOAD="$LIB" AUTOSENDFILE=0) ;;
	esac
	"${pre[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$DD" if=/dev/zero of=/dev/null bs=1 count="$n" 2>"$out.err" || {
		echo "FAIL: valgrind run ($v, $n) failed:" >&2; cat "$out.err" >&2; exit 1; }
	local x
	# the out file's "summary:" (older: "totals:") line; else the "Collected :" line
	x=$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$out" | head -1)
	[[ -n $x ]] || x=$(sed -n 's/^==[0-9]*== Collected : *\([0-9]*\).*/\1/p' "$out.err" | head -1)
	[[ -n $x ]] || { echo "FAIL: no Ir total in $out" >&2; exit 1; }
	echo "$x"
}

declare -A IR
for v in without with disabled; do
	for n in "$N1" "$N2"; do
		IR[$v,$n]=$(ir "$v" "$n")
	done
done

echo
echo "callgrind Ir, dd if=/dev/zero of=/dev/null bs=1 (1 block = 1 read + 1 write = 2 wrapped calls)"
printf '%-30s %12s %12s %9s %22s\n' variant "Ir(N=$N1)" "Ir(N=$N2)" "Ir/block" "added Ir/wrapped call"
declare -A SLOPE
for v in without with disabled; do
	SLOPE[$v]=$(awk -v a="${IR[$v,$N1]}" -v b="${IR[$v,$N2]}" -v d=$((N2 - N1)) 'BEGIN{printf "%.2f", (b-a)/d}')
done
for v in without with disabled; do
	add=$(awk -v s="${SLOPE[$v]}" -v z="${SLOPE[without]}" 'BEGIN{printf "%.2f", (s-z)/2}')
	label=$v
	[[ $v == with ]] && label="with library"
	[[ $v == disabled ]] && label="with library, AUTOSENDFILE=0"
	[[ $v == without ]] && label="without library"
	[[ $v == without ]] && add=-
	printf '%-30s %12s %12s %9s %22s\n' "$label" "${IR[$v,$N1]}" "${IR[$v,$N2]}" "${SLOPE[$v]}" "$add"
done

# ---- wall clock -----------------------------------------------------------------------
# wall VARIANT -> seconds for one dd run of WALLN blocks
wall() {
	local t0 t1
	t0=$EPOCHREALTIME
	if [[ $1 == with ]]; then
		env LD_PRELOAD="$LIB" "$DD" if=/dev/zero of=/dev/null bs=1 count="$WALLN" 2>/dev/null
	else
		env -u LD_PRELOAD "$DD" if=/dev/zero of=/dev/null bs=1 count="$WALLN" 2>/dev/null
	fi
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}'
}
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

W0=() W1=() R=()
for ((i = 1; i <= REPS; i++)); do
	if ((i % 2)); then a=$(wall without); b=$(wall with); else b=$(wall with); a=$(wall without); fi
	W0+=("$a") W1+=("$b")
	R+=("$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", b/a}')")
done
echo
echo "wall clock, dd if=/dev/zero of=/dev/null bs=1 count=$WALLN, $REPS interleaved pairs"
echo "  without: ${W0[*]} s  (median $(med "${W0[@]}"))"
echo "  with:    ${W1[*]} s  (median $(med "${W1[@]}"))"
echo "  ratio with/without per pair: ${R[*]}  (median $(med "${R[@]}"); ratio of medians $(awk -v a="$(med "${W0[@]}")" -v b="$(med "${W1[@]}")" 'BEGIN{printf "%.3f", b/a}'))"
