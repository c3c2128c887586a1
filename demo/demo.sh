#!/usr/bin/env bash
# demo.sh - `make demo`: what autosendfile does to an unmodified copy-loop server.
#
# The server is build/demo/copyserver --mode rw: a poll() loop that sends each file with
# read(file, buf, 64K) + write(socket, buf, n), the kind of program the library is for.
# Four variants, interleaved (the order rotates every round), medians reported:
#   rw        copyserver --mode rw                                  (baseline)
#   rw+lib    the same binary under LD_PRELOAD=build/libautosendfile.so AUTOSENDFILE_STATS=FILE
#             (the defaults: reads' bytes are redirected where a client's queue backs up)
#   rw+lib,0  the same with AUTOSENDFILE_PRESSURE=0: every write redirected
#   sendfile  copyserver --mode sendfile: native sendfile, the reference
# Each run measures, with a fresh server:
#   - throughput: build/demo/loadclient, N clients fetching the file again and again over
#     127.0.0.1 for T seconds (whole bodies, drained at the end) -> MB/s (10^6 bytes/s);
#   - server CPU: utime+stime from /proc/PID/stat over the load, per GB (10^9 body bytes);
#   - kernel memory held by stalled clients: build/demo/stallclient opens S connections that
#     read 1 byte and then stop reading (default receive buffer); once the server has filled
#     every send queue (their total in /proc/net/tcp stops growing), MemAvailable before
#     minus MemAvailable while stalled (median of 5 samples, 0.1 s apart);
#   - rw+lib runs: redirected_bytes (library stats line) / body bytes the clients received,
#     and what the stalled clients' share was.
# Checks (exit 1 when one fails, after the table): in every run the first downloads of two
# clients are compared byte for byte with the file (cmp); in every rw+lib,0 run the library
# sent >= 90% of the body bytes by sendfile; with the stalled clients, both rw+lib variants
# sent at least half of what the send queues held by sendfile.
# Output: one table on stdout, the chart build/demo/demo.svg, raw numbers build/demo/demo.raw.
#
# Usage: demo/demo.sh [--quick]     (DEMO_QUICK=1 is the same as --quick)
#   --quick  smoke mode for the test suite (< 20 s): 2 short rounds, fewer clients.
# Env: DEMO_PRELOAD   what LD_PRELOAD holds in the rw+lib runs (default: the absolute path of
#                     build/libautosendfile.so; the tests put an ASan build here)
#      DEMO_ROUNDS, DEMO_SECONDS, DEMO_CLIENTS, DEMO_STALLED, DEMO_SIZE: override the settings
#      DEMO_OUT       where demo.svg and demo.raw go (default build/demo)
#      TMPDIR         where the test file goes (default /tmp)
# Needs: python3 (table and chart; standard library only), cmp, awk. No root.
# AUTOSENDFILE_* variables of the caller are ignored: the demo shows the defaults.
set -euo pipefail

QUICK=${DEMO_QUICK:-}
[[ $QUICK == 0 ]] && QUICK=
case ${1:-} in
--quick) QUICK=1 ;;
"") ;;
*) sed -n '2,36p' "$0"; exit 2 ;;
esac
if [[ -n $QUICK ]]; then
	ROUNDS=2 SECS=0.6 CLIENTS=2 STALLED=20 SIZE=8M SAMPLES=3
else
	ROUNDS=3 SECS=3 CLIENTS=4 STALLED=100 SIZE=16M SAMPLES=5
fi
ROUNDS=${DEMO_ROUNDS:-$ROUNDS} SECS=${DEMO_SECONDS:-$SECS} CLIENTS=${DEMO_CLIENTS:-$CLIENTS}
STALLED=${DEMO_STALLED:-$STALLED} SIZE=${DEMO_SIZE:-$SIZE}

cd "$(dirname "$0")/.."
REPO=$PWD
. "$REPO/demo/measure.sh"
for p in python3 cmp awk; do
	command -v $p >/dev/null || { echo "demo: $p not found (install it: apt-get install ${p/cmp/diffutils})" >&2; exit 1; }
done
T_START=$SECONDS
make -s all build/demo/copyserver build/demo/stallclient build/demo/loadclient >&2
SRV=$REPO/build/demo/copyserver
LOAD=$REPO/build/demo/loadclient
STALL=$REPO/build/demo/stallclient
PRELOAD=${DEMO_PRELOAD:-$REPO/build/libautosendfile.so}
OUT=${DEMO_OUT:-$REPO/build/demo}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SVG=$OUT/demo.svg
unset AUTOSENDFILE AUTOSENDFILE_STATS AUTOSENDFILE_LOG AUTOSENDFILE_MIN_BYTES AUTOSENDFILE_CHUNK \
	AUTOSENDFILE_PRESSURE AUTOSENDFILE_VERIFY

scratch_dir asf-demo

mkdir "$WD/root"
head -c "$SIZE" /dev/urandom >"$WD/root/file"
cat "$WD/root/file" >/dev/null # hot in the page cache: reading it costs no memory later
FSIZE=$(stat -c %s "$WD/root/file")
RAW=$WD/raw # copied to $OUT/demo.raw at the end, so that two demos at once do not mix
: >"$RAW"
FAILS=()

# start_server VARIANT TAG -> SPID, PORT
start_server() {
	local v=$1 tag=$2 i
	rm -f "$WD/port"
	case $v in
	rw) env -u LD_PRELOAD "$SRV" --root "$WD/root" --port-file "$WD/port" --mode rw & ;;
	lib) LD_PRELOAD=$PRELOAD AUTOSENDFILE_STATS=$WD/stats.$tag \
		"$SRV" --root "$WD/root" --port-file "$WD/port" --mode rw & ;;
	all) LD_PRELOAD=$PRELOAD AUTOSENDFILE_STATS=$WD/stats.$tag AUTOSENDFILE_PRESSURE=0 \
		"$SRV" --root "$WD/root" --port-file "$WD/port" --mode rw & ;;
	sf) env -u LD_PRELOAD "$SRV" --root "$WD/root" --port-file "$WD/port" --mode sendfile & ;;
	esac
	SPID=$!
	for ((i = 0; i < 200; i++)); do
		[[ -s $WD/port ]] && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	[[ -s $WD/port ]] || { echo "demo: the $v server did not start" >&2; exit 1; }
	PORT=$(<"$WD/port")
}

stop_server() { # VARIANT: SIGTERM (the server exits 0, the library writes its stats line)
	local st=0 i
	kill -TERM "$SPID"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$SPID" 2>/dev/null && { echo "demo: the $1 server ignored SIGTERM" >&2; kill -KILL "$SPID"; }
	wait "$SPID" || st=$?
	SPID=
	((st == 0)) || { echo "demo: the $1 server exited with status $st" >&2; FAILS+=("$1 server exit $st"); }
}

# Throughput, CPU and (rw+lib) redirect share: one raw line "load V R bytes secs ticks red pass".
run_load() {
	local v=$1 r=$2 t0 t1 line st=0 i
	start_server "$v" "load$r"
	rm -f "$WD"/body.*
	t0=$(ticks "$SPID")
	line=$("$LOAD" --port "$PORT" --path /file --clients "$CLIENTS" --seconds "$SECS" \
		--save "$WD/body" --save-count 2 2>"$WD/load.err") || st=$?
	t1=$(ticks "$SPID")
	stop_server "$v"
	if ((st != 0)); then
		echo "demo: loadclient failed ($v, round $r): $line $(cat "$WD/load.err")" >&2
		FAILS+=("$v round $r: loadclient failed")
	fi
	load_result "$line" || { echo "demo: no result from loadclient ($v): $line" >&2; exit 1; }
	local bytes=$LOAD_BYTES secs=$LOAD_SECS
	for i in 0 1; do
		if ! cmp -s "$WD/body.$i" "$WD/root/file"; then
			echo "demo: CORRUPT download: $v round $r, client $i's body differs from the file" >&2
			FAILS+=("$v round $r: download $i differs from the file")
		fi
	done
	local red=- pass=-
	if [[ $v == lib || $v == all ]]; then
		lib_stats "$v" "load$r" || { red=0 pass=0; }
		if [[ $v == all ]] && ((red * 10 < bytes * 9)); then
			echo "demo: the library redirected only $red of $bytes body bytes (< 90%)" >&2
			FAILS+=("$v round $r: redirected $red of $bytes body bytes")
		fi
	fi
	echo "load $v $r $bytes $secs $((t1 - t0)) $red $pass" >>"$RAW"
}

# lib_stats VARIANT TAG: red, pass from the library's stats line of that run
lib_stats() {
	touch "$WD/stats.$2"
	red=$(sed -n 's/^autosendfile: .* redirected_bytes=\([0-9]*\).*/\1/p' "$WD/stats.$2" | tail -n 1)
	pass=$(sed -n 's/^autosendfile: .* passthrough_bytes=\([0-9]*\).*/\1/p' "$WD/stats.$2" | tail -n 1)
	if [[ -z $red ]]; then
		echo "demo: no stats line from the library (is $PRELOAD loaded?)" >&2
		FAILS+=("$1 $2: no stats line")
		return 1
	fi
}

# Kernel memory held by STALLED clients that stop reading: one raw line "mem V R drop_kB queued".
run_mem() {
	local v=$1 r=$2
	start_server "$v" "mem$r"
	sleep 0.1
	if ! stall_memory "$PORT" /file "$STALLED" 200 60 2 "$SAMPLES"; then
		echo "demo: stallclient failed ($v, round $r): $STALL_ERR" >&2
		exit 1
	fi
	stop_server "$v"
	local red=- pass=-
	if [[ $v == lib || $v == all ]] && lib_stats "$v" "mem$r" && ((red * 2 < ${STALL_RESULT#* })); then
		echo "demo: the library redirected $red bytes to stalled clients, < half of the ${STALL_RESULT#* } queued" >&2
		FAILS+=("$v round $r: $red bytes redirected to stalled clients")
	fi
	echo "mem $v $r $STALL_RESULT $red" >>"$RAW"
	sleep 0.4 # let the freed socket memory come back before the next run
}

V=(rw lib all sf)
echo "demo: $ROUNDS rounds x 4 variants; file $SIZE; $CLIENTS load clients x ${SECS}s; $STALLED stalled clients" >&2
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < 4; k++)); do
		v=${V[(k + r - 1) % 4]}
		printf '  round %d: %-3s load' "$r" "$v" >&2
		run_load "$v" "$r"
		printf ', memory\n' >&2
		run_mem "$v" "$r"
	done
done
ELAPSED=$((SECONDS - T_START))

python3 - "$RAW" "$WD/svg" "$FSIZE" "$CLIENTS" "$SECS" "$STALLED" "$ROUNDS" "$(nproc)" "$(uname -r)" "${QUICK:+quick}" <<'EOF'
import html, os, statistics as st, sys
raw, svg_path, fsize, clients, secs, stalled, rounds, ncpu, kernel, quick = sys.argv[1:11]
fsize, stalled, rounds = int(fsize), int(stalled), int(rounds)
V = ["rw", "lib", "all", "sf"]
NAME = {"rw": "plain rw loop", "lib": "rw + autosendfile", "all": "... PRESSURE=0",
        "sf": "native sendfile"}
LONG = {"rw": "plain read/write loop (baseline)",
        "lib": "+ autosendfile (defaults)",
        "all": "+ autosendfile, PRESSURE=0",
        "sf": "native sendfile (reference)"}
LIBS = ("lib", "all")
tput = {v: [] for v in V}; cpu = {v: [] for v in V}; mem = {v: [] for v in V}
share = {v: [] for v in LIBS}; stall_share = {v: [] for v in LIBS}
queued = {v: [] for v in V}
for line in open(raw):
    f = line.split()
    if f[0] == "load":
        v, b, s, t = f[1], int(f[3]), float(f[4]), int(f[5])
        tput[v].append(b / s / 1e6)
        cpu[v].append(t / os.sysconf("SC_CLK_TCK") / (b / 1e9))  # seconds per 10^9 bytes
        if v in LIBS:
            share[v].append(100.0 * int(f[6]) / b if b else 0.0)
    elif f[0] == "mem":
        mem[f[1]].append(int(f[3]) / 1024)
        queued[f[1]].append(int(f[4]) / 1e6)
        if f[1] in LIBS and int(f[4]) > 0:
            stall_share[f[1]].append(min(100.0, 100.0 * int(f[5]) / int(f[4])))
med = lambda xs: st.median(xs) if xs else float("nan")
T = {v: med(tput[v]) for v in V}; C = {v: med(cpu[v]) for v in V}; M = {v: med(mem[v]) for v in V}
S = {v: med(share[v]) for v in LIBS}

def ratio(x, base):
    return x / base if base > 0 else float("nan")

rows = [
    ("Throughput, MB/s", "higher is better", T, "%.0f"),
    ("Server CPU, seconds per GB", "lower is better", C, "%.2f"),
    ("Kernel memory held by %d stalled clients, MB" % stalled, "lower is better", M, "%.0f"),
]
hdr = [""] + [NAME[v] for v in V]
table = []
for name, better, d, fmt in rows:
    cells = [fmt % d["rw"]]
    for v in V[1:]:
        cells.append("%s (%.2fx)" % (fmt % d[v], ratio(d[v], d["rw"])))
    table.append(["%s (%s)" % (name, better)] + cells)
table.append(["Body bytes sent by sendfile, load clients", "0 % (no library)", "%.1f %%" % S["lib"],
              "%.1f %%" % S["all"], "100 % (native)"])
table.append(["... of what stalled clients' queues held", "0 %", "%.0f %%" % med(stall_share["lib"]),
              "%.0f %%" % med(stall_share["all"]), "100 %"])
w = [max(len(r[i]) for r in [hdr] + table) for i in range(len(hdr))]
title = ("autosendfile demo%s: median of %d interleaved rounds, %s MiB file, %s load clients x %ss, %d CPUs"
         % (" (quick)" if quick else "", rounds, fsize >> 20, clients, secs, int(ncpu)))
print()
print(title)
print("  ".join(h.ljust(w[i]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(hdr)))
print("  ".join("-" * x for x in w))
for r in table:
    print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)))
print("(x) = relative to the plain rw loop. MB = 10^6 bytes, GB = 10^9 bytes. Memory: the drop of MemAvailable")
print("while the clients stall (near or below 0: nothing measurable above the noise of other processes).")
print("Spread over the rounds (min..max): throughput %s MB/s; CPU %s s/GB; memory %s MB (rw; + autosendfile; PRESSURE=0; sendfile)."
      % tuple("; ".join("%s..%s" % (fmt % min(d[v]), fmt % max(d[v])) for v in V)
              for d, fmt in ((tput, "%.0f"), (cpu, "%.2f"), (mem, "%.0f"))))
print("Send queues of the stalled connections held %s MB (median; rw, + autosendfile, PRESSURE=0, sendfile)."
      % " / ".join("%.0f" % med(queued[v]) for v in V))
print("Library runs, load clients: redirected %s %% (defaults), %s %% (PRESSURE=0) of body bytes (min-max)."
      % tuple("-".join("%.1f" % x for x in (min(share[v]), max(share[v]))) if share[v] else "-" for v in LIBS))

# ---- the chart: grouped bars normalised to the rw baseline, absolute values as labels ----
W, H = 960, 650
COL = {"rw": "#8c8c8c", "lib": "#1f77b4", "all": "#9ecae1", "sf": "#2ca02c"}
out = []
e = html.escape
def text(x, y, s, size=13, anchor="middle", weight="normal", fill="#222", extra=""):
    out.append('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" font-weight="%s" fill="%s"%s>%s</text>'
               % (x, y, size, anchor, weight, fill, extra, e(s)))
out.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="DejaVu Sans, Arial, Helvetica, sans-serif">' % (W, H, W, H))
out.append('<rect width="100%" height="100%" fill="white"/>')
text(W / 2, 30, "The same unmodified copy-loop server, without and with autosendfile", 19, weight="bold")
text(W / 2, 52, "copyserver --mode rw (read() + write() of 64 KiB chunks), run plain and under LD_PRELOAD=libautosendfile.so (defaults, and PRESSURE=0),", 13, fill="#444")
text(W / 2, 69, "and copyserver --mode sendfile as the reference. Median of %d interleaved rounds%s."
     % (rounds, " (quick smoke run: small and noisy)" if quick else ""), 13, fill="#444")
# legend
lx = 60
for v in V:
    out.append('<rect x="%d" y="86" width="14" height="14" fill="%s"/>' % (lx, COL[v]))
    text(lx + 20, 98, LONG[v], 13, anchor="start")
    lx += 20 + int(len(LONG[v]) * 7.2) + 26
# left panel: three normalised groups
px0, px1, py0, py1 = 80, 700, 145, 490  # plot area (y grows downward)
norm = []
for name, better, d, fmt in rows:
    norm.append([ratio(d[v], d["rw"]) for v in V])
top = max([1.5] + [x for g in norm for x in g if x == x])
top = (int(top * 2) + 1) / 2.0 if top > 1.5 else 1.5
y = lambda val: py1 - (py1 - py0) * max(0.0, min(val, top)) / top
for i in range(int(top * 4) + 1):
    t = i / 4.0
    out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"%s/>'
               % (px0, px1, y(t), y(t), "#555" if t == 1 else "#e4e4e4",
                  ' stroke-dasharray="5,3"' if t == 1 else ""))
    text(px0 - 6, y(t) + 4, ("%.2f" % t).rstrip("0").rstrip("."), 11, anchor="end", fill="#444")
out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#222"/>' % (px0, px0, py0, py1))
out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#222"/>' % (px0, px1, py1, py1))
text(24, (py0 + py1) / 2, "relative to the plain rw loop (= 1.0)", 13,
     extra=' transform="rotate(-90 24 %.1f)"' % ((py0 + py1) / 2))
text(px1 - 4, y(1) - 5, "baseline", 11, anchor="end", fill="#555")
gw = (px1 - px0) / 3.0
bw = 40
labels = [("Throughput", "MB/s", "higher is better"),
          ("Server CPU time", "seconds per GB served", "lower is better"),
          ("Kernel memory held", "by %d stalled clients, MB" % stalled, "lower is better")]
for g, (name, better, d, fmt) in enumerate(rows):
    cx = px0 + gw * (g + 0.5)
    for j, v in enumerate(V):
        x = cx + (j - 2) * (bw + 6) + 3
        val = norm[g][j]
        yy = y(val if val == val else 0)
        out.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s"/>' % (x, yy, bw, max(py1 - yy, 1.5), COL[v]))
        raw_d = (tput, cpu, mem)[g][v]
        if len(raw_d) > 1 and d["rw"] > 0:  # whisker: min-max over the rounds
            lo, hi = y(min(raw_d) / d["rw"]), y(max(raw_d) / d["rw"])
            xm = x + bw / 2
            out.append('<path d="M%.1f %.1fV%.1fM%.1f %.1fh10M%.1f %.1fh10" stroke="#111" stroke-width="1.2" fill="none"/>'
                       % (xm, lo, hi, xm - 5, lo, xm - 5, hi))
            yy = min(yy, hi) - 4
        text(x + bw / 2, yy - 19, fmt % d[v], 13, weight="bold")
        text(x + bw / 2, yy - 6, "baseline" if v == "rw" else "%.2fx" % val, 11, fill="#444")
    text(cx, py1 + 20, labels[g][0], 13, weight="bold")
    text(cx, py1 + 36, labels[g][1], 12)
    text(cx, py1 + 52, "(%s)" % labels[g][2], 12, fill="#444")
# right panel: share of body bytes sent by sendfile, 0-100 %
qx0, qx1 = 790, 930
q = lambda pct: py1 - (py1 - py0) * max(0.0, min(pct, 100.0)) / 100.0
for pct in range(0, 101, 25):
    out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/>' % (qx0, qx1, q(pct), q(pct)))
    text(qx0 - 6, q(pct) + 4, "%d%%" % pct, 11, anchor="end", fill="#444")
out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#222"/>' % (qx0, qx0, py0, py1))
out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#222"/>' % (qx0, qx1, py1, py1))
text(qx0 - 42, (py0 + py1) / 2, "share of body bytes sent by sendfile", 13,
     extra=' transform="rotate(-90 %d %.1f)"' % (qx0 - 42, (py0 + py1) / 2))
vals = {"rw": 0.0, "lib": S["lib"], "all": S["all"], "sf": 100.0}
lab = {"rw": ("0%", "none"), "lib": ("%.0f%%" % S["lib"], "default"), "all": ("%.0f%%" % S["all"], "P=0"),
       "sf": ("100%", "native")}
for j, v in enumerate(V):
    x = qx0 + 4 + j * 34
    yy = q(vals[v])
    out.append('<rect x="%d" y="%.1f" width="28" height="%.1f" fill="%s"/>' % (x, yy, max(py1 - yy, 1.5), COL[v]))
    text(x + 14, yy - 18, lab[v][0], 10, weight="bold")
    text(x + 14, yy - 6, lab[v][1], 9, fill="#444")
text((qx0 + qx1) / 2, py1 + 20, "Body bytes", 13, weight="bold")
text((qx0 + qx1) / 2, py1 + 36, "sent by sendfile", 12)
text((qx0 + qx1) / 2, py1 + 52, "(load clients)", 12, fill="#444")
foot = [
    "Throughput and CPU: %s clients on 127.0.0.1 fetch a %d MiB file again and again for %ss; server CPU is utime+stime from"
    % (clients, fsize >> 20, secs),
    "/proc/PID/stat. Memory: %d clients send a GET, read 1 byte and stop reading; the server fills each send queue; shown is"
    % stalled,
    "the drop of MemAvailable (near or below 0: nothing measurable above the noise of other processes). Whiskers: min-max",
    "over the rounds. MB = 10^6 bytes, GB = 10^9 bytes. %d CPUs, Linux %s." % (int(ncpu), kernel),
]
for i, s in enumerate(foot):
    text(40, 575 + i * 16, s, 11, anchor="start", fill="#444")
out.append("</svg>")
open(svg_path, "w").write("\n".join(out) + "\n")
EOF

mv "$WD/svg" "$SVG"
cp "$RAW" "$OUT/demo.raw.tmp$$" && mv "$OUT/demo.raw.tmp$$" "$OUT/demo.raw"
RAW=$OUT/demo.raw
echo
if ((${#FAILS[@]})); then
	echo "demo: FAILED checks:" >&2
	printf '  %s\n' "${FAILS[@]}" >&2
fi
echo "chart: $SVG  (raw numbers: $RAW; took ${ELAPSED}s)"
((${#FAILS[@]} == 0)) || exit 1
echo "checks: every download compared equal to the file (cmp); with PRESSURE=0 the library sent >= 90% of body bytes by sendfile; both library variants sent >= half of what stalled clients' queues held by sendfile"
