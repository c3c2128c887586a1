#!/usr/bin/env bash
# bench-threshold.sh - what the real library (build/libautosendfile.so) costs and gains
# versus the write size B, to choose AUTOSENDFILE_MIN_BYTES.
#
# For each B and each network setting (-M 1448 = Ethernet-like MSS, and plain loopback),
# three variants run interleaved (round r: every B once, in rotated order; within a B the
# variant order rotates too: A B C, B C A, C A B, ...):
#   A  lib-off  build/demo/bench-chunk -m rw -B $B               (plain read+write)
#   B  lib-on   the same command under LD_PRELOAD=build/libautosendfile.so
#               AUTOSENDFILE_MIN_BYTES=1 AUTOSENDFILE_STATS=<file>: the library redirects
#               every write (checked: redirected_bytes must be > 90% of the bytes sent)
#   C  rsf      build/demo/bench-chunk -m rsf -B $B -C 64K       (read+sendfile: the ceiling)
# The bench-chunk receiver (a forked child) is preloaded too in B; it only receives.
# Output: per setting and B, GB/s median (min-max), sender CPU s/GB median, and the median
# (min-max) of the per-round ratios B/A and C/A (GB/s and CPU s/GB).
#
# Usage: demo/bench-threshold.sh [--quick] [-r ROUNDS] [-t SECS] [-s FILESIZE] [-o RAWLOG] [-A]
#   --quick     smoke mode: 3 rounds, B in 16K 64K only, -t 1
#   -r ROUNDS   interleaved rounds, default 5
#   -t SECS     time bound of each run, default 1.5 (plus 0.2 s warm-up per run)
#   -s SIZE     data file size (many passes over it), default 16M
#   -b "SIZES"  write sizes, default "4K 8K 16K 32K 64K 256K"
#   -n "NETS"   network settings among "mss1448 lo", default both
#   -o FILE     raw result lines (default build/demo/bench-threshold.raw)
#   -L LIB      library to preload (default build/libautosendfile.so, built if missing).
#               It is copied once at start, so a rebuild during the run cannot mix versions.
#   -A          do not measure; only print the tables from an existing RAWLOG (-o)
# Exit status: 0, or 3 if some lib-on run redirected <= 90% of its bytes (listed at the end).
# Env: TMPDIR (where the data file goes, default /tmp). Run from anywhere.
# Full run: 6 sizes x 2 settings x 3 variants x 5 rounds = 180 runs, about 6 minutes.
set -euo pipefail

ROUNDS=5 TB=1.5 FSIZE=16M RAW= ANALYZE= LIBSRC= SIZES="4K 8K 16K 32K 64K 256K" NETS="mss1448 lo"
if [[ ${1:-} == --quick ]]; then
	ROUNDS=3 TB=1 SIZES="16K 64K"
	shift
fi
while getopts "r:t:s:b:n:o:L:Ah" o; do
	case $o in
	r) ROUNDS=$OPTARG ;; t) TB=$OPTARG ;; s) FSIZE=$OPTARG ;; b) SIZES=$OPTARG ;;
	n) NETS=$OPTARG ;; o) RAW=$OPTARG ;; L) LIBSRC=$(realpath "$OPTARG") ;; A) ANALYZE=1 ;;
	*) sed -n '2,29p' "$0"; exit 2 ;;
	esac
done

cd "$(dirname "$0")/.."
RAW=${RAW:-build/demo/bench-threshold.raw}
BIN=build/demo/bench-chunk
TD=${TMPDIR:-/tmp}
DATA=$TD/bench-threshold-$FSIZE.$$.dat
STATS=$TD/bench-threshold-stats.$$
LIB=$TD/bench-threshold-lib.$$.so
trap 'rm -f "$DATA" "$STATS" "$LIB"' EXIT

tobytes() { numfmt --from=iec "$1"; }
for b in $SIZES; do # bench-chunk checks its clock every 32 operations of one pass only
	if (($(tobytes "$FSIZE") < 32 * $(tobytes "$b"))); then
		echo "file size $FSIZE < 32 x B=$b: bench-chunk would ignore -t; use -s $((32 * $(tobytes "$b") >> 20))M or more" >&2
		exit 2
	fi
done

if [[ -z $ANALYZE ]]; then
	[[ -x $BIN ]] || make -s "$BIN"
	if [[ -z $LIBSRC ]]; then
		LIBSRC=$PWD/build/libautosendfile.so
		[[ -f $LIBSRC ]] || make -s build/libautosendfile.so
	fi
	cp "$LIBSRC" "$LIB"
	mkdir -p "$(dirname "$RAW")"
	: >"$RAW"
fi

netargs() { case $1 in mss1448) echo "-M 1448" ;; lo) echo "" ;; *) echo "bad net $1" >&2; exit 2 ;; esac; }

BAD=()
# run NET VARIANT B ROUND -> appends "NET VARIANT B ROUND GBps cpu_s_per_GB bytes redirected" to RAW
run() {
	local net=$1 var=$2 b=$3 round=$4 line red=- g c bytes
	# shellcheck disable=SC2046
	case $var in
	A) line=$("$BIN" -m rw -B "$b" -t "$TB" -f "$DATA" -s "$FSIZE" $(netargs "$net")) ;;
	B)
		: >"$STATS"
		line=$(LD_PRELOAD=$LIB AUTOSENDFILE_MIN_BYTES=1 AUTOSENDFILE_STATS=$STATS \
			"$BIN" -m rw -B "$b" -t "$TB" -f "$DATA" -s "$FSIZE" $(netargs "$net"))
		# the sender's line is the one with the most redirected bytes (the receiver sends none)
		red=$(sed -n 's/.* redirected_bytes=\([0-9]*\).*/\1/p' "$STATS" | sort -n | tail -1)
		red=${red:-0}
		;;
	C) line=$("$BIN" -m rsf -B "$b" -C 64K -t "$TB" -f "$DATA" -s "$FSIZE" $(netargs "$net")) ;;
	esac
	g=$(sed -n 's/.* GBps=\([^ ]*\).*/\1/p' <<<"$line")
	c=$(sed -n 's/.* cpu_s_per_GB=\([^ ]*\).*/\1/p' <<<"$line")
	bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$line")
	if [[ $var == B ]] && ! awk -v r="$red" -v b="$bytes" 'BEGIN { exit !(b > 0 && r > 0.9 * b) }'; then
		BAD+=("$net B=$b round $round: redirected_bytes=$red of bytes=$bytes")
		echo "WARNING: lib-on $net B=$b r$round redirected only $red of $bytes bytes" >&2
	fi
	echo "$net $var $b $round $g $c $bytes $red" >>"$RAW"
	printf '  %-7s %s %-5s r%-2s %6s GB/s %7s cpu-s/GB %s\n' "$net" "$var" "$b" "$round" "$g" "$c" \
		"$([[ $var == B ]] && awk -v r="$red" -v b="$bytes" 'BEGIN { printf "redirected %.3f", b ? r / b : 0 }')" >&2
}

# rotate the argument list by k positions
rot() { local k=$1; shift; local a=("$@") n=$# i; for ((i = 0; i < n; i++)); do printf '%s ' "${a[(i + k) % n]}"; done; }

echo "machine: nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\" kernel=$(uname -r)"
echo "settings: rounds=$ROUNDS time/run=${TB}s file=$FSIZE sizes=\"$SIZES\" nets=\"$NETS\" "
[[ -n $ANALYZE ]] || echo "library: $LIBSRC (mtime $(stat -c '%y' "$LIBSRC" | cut -d. -f1), sha256 $(sha256sum "$LIB" | cut -c1-16)), run from a copy"

if [[ -z $ANALYZE ]]; then
	"$BIN" -f "$DATA" -s "$FSIZE" -t 0.2 -w 0 >/dev/null # create + warm the file
	t0=$SECONDS
	for net in $NETS; do
		echo "running $net ..." >&2
		k=0
		for ((r = 1; r <= ROUNDS; r++)); do
			for b in $(rot $((r - 1)) $SIZES); do
				for v in $(rot $((k++ % 3)) A B C); do
					run "$net" "$v" "$b" "$r"
				done
			done
		done
	done
	echo "measured in $((SECONDS - t0)) s" >&2
fi

awk -v sizes="$SIZES" -v nets="$NETS" '
function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function med(a, n) { sortn(a, n); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function mnmx(a, n,   i, lo, hi) { lo = a[1]; hi = a[1]; for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] } return sprintf("%.3f-%.3f", lo, hi) }
{ g[$1, $2, $3, $4] = $5; c[$1, $2, $3, $4] = $6; if ($7 > 0 && $8 != "-") rf[$1, $3, $4] = $8 / $7; if ($4 > R) R = $4 }
END {
	nb = split(sizes, SB, " "); nn = split(nets, NE, " ")
	split("A B C", V, " "); name["A"] = "A rw"; name["B"] = "B rw+lib"; name["C"] = "C rsf"
	for (q = 1; q <= nn; q++) {
		net = NE[q]
		print ""
		print "### " (net == "lo" ? "plain loopback (MSS ~65483)" : "-M 1448 (Ethernet-like MSS)") ", n=" R " rounds"
		print ""
		print "| B | variant | GB/s med (min-max) | CPU s/GB med | GB/s ratio vs A med (min-max) | CPU/GB ratio vs A med (min-max) |"
		print "|---|---|---|---|---|---|"
		for (i = 1; i <= nb; i++) {
			b = SB[i]
			for (j = 1; j <= 3; j++) {
				v = V[j]; n = 0; m = 0; delete G; delete CC; delete Q; delete P
				for (r = 1; r <= R; r++) if ((net, v, b, r) in g) {
					n++; G[n] = g[net, v, b, r]; CC[n] = c[net, v, b, r]
					if ((net, "A", b, r) in g && g[net, "A", b, r] > 0) {
						m++; Q[m] = g[net, v, b, r] / g[net, "A", b, r]; P[m] = c[net, v, b, r] / c[net, "A", b, r]
					}
				}
				if (!n) continue
				rg = mnmx(G, n); mg = med(G, n); mc = med(CC, n)
				if (v == "A") { rq = "1"; rp = "1" }
				else { rr = mnmx(Q, m); rq = sprintf("%.3f (%s)", med(Q, m), rr); rr = mnmx(P, m); rp = sprintf("%.3f (%s)", med(P, m), rr) }
				printf "| %s | %s | %.3f (%s) | %.3f | %s | %s |\n", b, name[v], mg, rg, mc, rq, rp
			}
		}
		lo = 1; for (i = 1; i <= nb; i++) for (r = 1; r <= R; r++) if ((net, SB[i], r) in rf && rf[net, SB[i], r] < lo) lo = rf[net, SB[i], r]
		printf "\nlowest redirected_bytes/bytes over all B runs (%s): %.4f\n", net, lo
	}
}' "$RAW"
echo
echo "raw results: $RAW"
if ((${#BAD[@]})); then
	echo "lib-on runs with <= 90% redirected:"
	printf '  %s\n' "${BAD[@]}"
	exit 3
fi
