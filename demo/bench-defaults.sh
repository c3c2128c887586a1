#!/usr/bin/env bash
# bench-defaults.sh - measure the two autosendfile defaults on this machine:
#   (1) the sendfile chunk cap (AUTOSENDFILE_CHUNK): mode rsf, B in {64K, 1M},
#       C in {16K 32K 64K 128K 256K 1M}  (+ pure sendfile "sf" as a reference series)
#   (2) the write-size threshold (AUTOSENDFILE_MIN_BYTES): B in {1K .. 64K},
#       rw vs rsf-verify (and plain rsf, to show what the verification costs)
# All runs are interleaved (round 1: every variant once, round 2: again, in rotated
# order, ...), and the table shows median + min-max of GB/s, the median sender CPU
# seconds per GB, and the median (min-max) of the per-round ratio against the reference
# variant (C=64K for (1), rw for (2)).
#
# Usage: demo/bench-defaults.sh [-r ROUNDS] [-t SECS] [-S BIGSIZE] [-s SMALLSIZE] [-o RAWLOG] [-x cap|thr]
#   -r ROUNDS   interleaved rounds (pairs), default 5
#   -t SECS     time bound of each run, default 1.5
#   -S SIZE     file for the chunk-cap sweep, default 256M
#   -s SIZE     file for the threshold sweep (many passes over it), default 16M
#   -o FILE     raw result lines (default build/demo/bench-defaults.raw)
#   -x WHICH    only run one experiment: cap or thr
#   -M MSS      pass -M MSS to every run (TCP_MAXSEG on the sender; 1448 = Ethernet-like;
#               default: loopback MSS ~65483, where 64K writes leave a 53-byte tail that
#               Nagle holds back - a loopback-only artifact)
#   -N          pass -N (TCP_NODELAY) to every run
#   -A          do not measure; only print the tables from an existing RAWLOG (-o)
# Env: TMPDIR (where the data files go, default /tmp), CC (default cc).
# Run from the repo root.
set -euo pipefail

ROUNDS=5 TB=1.5 BIG=256M SMALL=16M RAW=build/demo/bench-defaults.raw ONLY= ANALYZE= XARGS=()
while getopts "r:t:S:s:o:x:M:NAh" o; do
	case $o in
	r) ROUNDS=$OPTARG ;; t) TB=$OPTARG ;; S) BIG=$OPTARG ;; s) SMALL=$OPTARG ;;
	o) RAW=$OPTARG ;; x) ONLY=$OPTARG ;; A) ANALYZE=1 ;; M) XARGS+=(-M "$OPTARG") ;; N) XARGS+=(-N) ;;
	*) sed -n '2,27p' "$0"; exit 2 ;;
	esac
done

cd "$(dirname "$0")/.."
mkdir -p build/demo
"${CC:-cc}" -O2 -std=gnu11 -Wall -Wextra -Werror -pthread -o build/demo/bench-chunk demo/bench-chunk.c
BIN=build/demo/bench-chunk
TD=${TMPDIR:-/tmp}
FBIG=$TD/bench-chunk-$BIG.dat
FSMALL=$TD/bench-chunk-$SMALL.dat
trap 'rm -f "$FBIG" "$FSMALL"' EXIT

[[ -n $ANALYZE ]] || : >"$RAW"
# run EXP SERIES X ROUND args... -> appends "EXP SERIES X ROUND GBps cpu_s_per_GB" to RAW
run() {
	local exp=$1 series=$2 x=$3 round=$4
	shift 4
	local line
	line=$("$BIN" -t "$TB" ${XARGS[@]+"${XARGS[@]}"} "$@")
	local g c
	g=$(sed -n 's/.* GBps=\([^ ]*\).*/\1/p' <<<"$line")
	c=$(sed -n 's/.* cpu_s_per_GB=\([^ ]*\).*/\1/p' <<<"$line")
	echo "$exp $series $x $round $g $c" >>"$RAW"
	printf '  %-4s %-14s %-5s r%-2s %6s GB/s %7s cpu-s/GB\n' "$exp" "$series" "$x" "$round" "$g" "$c" >&2
}

# rotate "a b c d" by k positions
rot() { local k=$1; shift; local a=("$@") n=$# i; for ((i = 0; i < n; i++)); do printf '%s ' "${a[(i + k) % n]}"; done; }

echo "machine: nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\" kernel=$(uname -r)"
echo "settings: rounds=$ROUNDS time/run=${TB}s big-file=$BIG small-file=$SMALL tmp=$TD extra-args=${XARGS[*]:-none}"

CAPS="16K 32K 64K 128K 256K 1M"
SIZES="1K 2K 4K 8K 16K 32K 64K"

if [[ -z $ANALYZE ]] && [[ -z $ONLY || $ONLY == cap ]]; then
	echo "running (1) chunk-cap sweep ..." >&2
	"$BIN" -f "$FBIG" -s "$BIG" -t 0.2 -w 0 >/dev/null # create + warm the file
	for ((r = 1; r <= ROUNDS; r++)); do
		for C in $(rot $((r - 1)) $CAPS); do
			run cap rsf-B64K "$C" $r -m rsf -B 64K -C "$C" -f "$FBIG" -s "$BIG"
			run cap rsf-B1M "$C" $r -m rsf -B 1M -C "$C" -f "$FBIG" -s "$BIG"
			run cap sf "$C" $r -m sf -C "$C" -f "$FBIG" -s "$BIG"
		done
	done
fi

if [[ -z $ANALYZE ]] && [[ -z $ONLY || $ONLY == thr ]]; then
	echo "running (2) threshold sweep ..." >&2
	"$BIN" -f "$FSMALL" -s "$SMALL" -t 0.2 -w 0 >/dev/null
	for ((r = 1; r <= ROUNDS; r++)); do
		for B in $(rot $((r - 1)) $SIZES); do
			# alternate which mode goes first in a round
			if ((r % 2)); then modes="rw rsf-verify rsf"; else modes="rsf-verify rw rsf"; fi
			for m in $modes; do
				run thr "$m" "$B" $r -m "$m" -B "$B" -C 64K -f "$FSMALL" -s "$SMALL"
			done
		done
	done
fi

# summary: per (exp, series, x): median/min/max GB/s, median cpu s/GB, and the per-round
# ratio vs the reference (cap: same series with x=64K; thr: series rw with same x)
awk -v caps="$CAPS" -v sizes="$SIZES" '
function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function med(a, n) { sortn(a, n); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
{ k = $1 SUBSEP $2 SUBSEP $3; g[k, $4] = $5; c[k, $4] = $6; if ($4 > R) R = $4; seen[$1, $2] = 1 }
function row(ex, s, x, ref,   k, kr, i, n, m, G, CC, Q, mn, mx, qn, qx) {
	k = ex SUBSEP s SUBSEP x; kr = ref; n = 0; m = 0
	for (i = 1; i <= R; i++) if ((k, i) in g) {
		n++; G[n] = g[k, i]; CC[n] = c[k, i]
		if ((kr, i) in g && g[kr, i] > 0) { m++; Q[m] = g[k, i] / g[kr, i] }
	}
	if (!n) return
	mn = G[1]; mx = G[1]; for (i = 1; i <= n; i++) { if (G[i] < mn) mn = G[i]; if (G[i] > mx) mx = G[i] }
	line = sprintf("| %-10s | %-5s | %6.3f | %5.3f-%-6.3f | %7.3f |", s, x, med(G, n), mn, mx, med(CC, n))
	if (m) { qn = Q[1]; qx = Q[1]; for (i = 1; i <= m; i++) { if (Q[i] < qn) qn = Q[i]; if (Q[i] > qx) qx = Q[i] }
		line = line sprintf(" %5.3f (%5.3f-%5.3f) |", med(Q, m), qn, qx) } else line = line "   - |"
	print line
}
END {
	nc = split(caps, CA, " "); ns = split(sizes, SA, " ")
	if (("cap", "rsf-B64K") in seen) {
		print ""; print "(1) chunk cap C (B = read size; sf = pure sendfile of C-byte calls), n=" R " rounds"
		print "| series     | C     | GB/s med | GB/s min-max | CPU s/GB med | ratio vs C=64K med (min-max) |"
		print "|---|---|---|---|---|---|"
		split("rsf-B64K rsf-B1M sf", SE, " ")
		for (j = 1; j <= 3; j++) for (i = 1; i <= nc; i++) row("cap", SE[j], CA[i], "cap" SUBSEP SE[j] SUBSEP "64K")
	}
	if (("thr", "rw") in seen) {
		print ""; print "(2) write-size threshold (B = read = write size, C = 64K), n=" R " rounds"
		print "| mode       | B     | GB/s med | GB/s min-max | CPU s/GB med | ratio vs rw med (min-max) |"
		print "|---|---|---|---|---|---|"
		for (i = 1; i <= ns; i++) { split("rw rsf-verify rsf", SE, " "); for (j = 1; j <= 3; j++) row("thr", SE[j], SA[i], "thr" SUBSEP "rw" SUBSEP SA[i]) }
	}
}' "$RAW"
echo
echo "raw results: $RAW"
