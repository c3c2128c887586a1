#!/usr/bin/env bash
# bench-memory.sh - kernel memory held by many stalled downloads, copy loop vs sendfile.
#
# Workload: one 16 MiB file, 200 clients (build/demo/stallclient) that each send a GET,
# read 1 byte of the answer, then stop reading (SO_RCVBUF 4096) and hold the connection.
# The server (build/demo/copyserver) keeps writing until each socket's send queue is full,
# so the unread bytes pile up in the kernel.
# Variants (interleaved, order rotated every round):
#   a  copyserver --mode rw                               (the plain copy loop)
#   b  copyserver --mode rw under LD_PRELOAD=build/libautosendfile.so  (+ AUTOSENDFILE_STATS)
#   c  copyserver --mode read-sendfile                    (read, then sendfile the same range)
#   d  copyserver --mode sendfile                         (native sendfile, 64 KiB calls)
# Measured per run: the drop of MemAvailable (/proc/meminfo) between just before the clients
# connect and while they are stalled (5 samples, 0.2 s apart, starting ~1 s after stallclient
# prints "stalled"; the largest drop counts), the server's VmRSS, the kernel's TCP memory
# accounting (/proc/net/sockstat "TCP mem", pages) and SUnreclaim, at the same moment.
# Once per variant (round 1) the file is also fetched whole with curl and compared (cmp).
#
# Usage: demo/bench-memory.sh [-r ROUNDS (3)] [-c CLIENTS (200)] [-s SIZE (16M)]
#                             [-H HOLD_SECS (4)] [-R CLIENT_RCVBUF (4096)] [-o RAWFILE]
# Run from anywhere; uses the repo's build/ (it runs make for the three binaries it needs).
set -euo pipefail

ROUNDS=3 CLIENTS=200 SIZE=16M HOLD=4 RCVBUF=4096 RAW=
while getopts "r:c:s:H:R:o:h" o; do
	case $o in
	r) ROUNDS=$OPTARG ;; c) CLIENTS=$OPTARG ;; s) SIZE=$OPTARG ;; H) HOLD=$OPTARG ;;
	R) RCVBUF=$OPTARG ;; o) RAW=$OPTARG ;;
	*) sed -n '2,22p' "$0"; exit 2 ;;
	esac
done

cd "$(dirname "$0")/.."
REPO=$PWD
make -s build/libautosendfile.so build/demo/copyserver build/demo/stallclient >&2
LIB=$REPO/build/libautosendfile.so
SRV=$REPO/build/demo/copyserver
CLI=$REPO/build/demo/stallclient
for p in curl cmp python3 timeout; do
	command -v $p >/dev/null || { echo "bench-memory: $p not found" >&2; exit 1; }
done

WD=$(mktemp -d "${TMPDIR:-/tmp}/bench-memory.XXXXXX")
RAW=${RAW:-$REPO/build/demo/bench-memory.raw}
SPID= CPID=
cleanup() {
	[[ -n $CPID ]] && kill "$CPID" 2>/dev/null || true
	if [[ -n $SPID ]]; then
		kill -TERM "$SPID" 2>/dev/null || true
		sleep 0.3
		kill -KILL "$SPID" 2>/dev/null || true
	fi
	rm -rf "$WD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WD/root"
head -c "$SIZE" /dev/urandom >"$WD/root/file"
cat "$WD/root/file" >/dev/null # hot in the page cache, so it does not count as a drop
: >"$RAW"

kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
tcp_pages() { awk '$1 == "TCP:" {for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# start_server VARIANT -> SPID, PORT
start_server() {
	local v=$1 mode
	rm -f "$WD/port" "$WD/stats"
	case $v in a | b) mode=rw ;; c) mode=read-sendfile ;; d) mode=sendfile ;; esac
	if [[ $v == b ]]; then
		LD_PRELOAD=$LIB AUTOSENDFILE_STATS=$WD/stats \
			"$SRV" --root "$WD/root" --port-file "$WD/port" --mode $mode &
	else
		"$SRV" --root "$WD/root" --port-file "$WD/port" --mode $mode &
	fi
	SPID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -s $WD/port ]] && break
		sleep 0.05
	done
	[[ -s $WD/port ]] || { echo "bench-memory: server ($v) did not start" >&2; exit 1; }
	PORT=$(<"$WD/port")
}

stop_server() {
	kill -TERM "$SPID"
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SPID" 2>/dev/null; then
		echo "bench-memory: server $SPID ignored SIGTERM" >&2
		kill -KILL "$SPID"
	fi
	wait "$SPID" 2>/dev/null || true
	SPID=
}

# run VARIANT ROUND -> one raw line
run() {
	local v=$1 r=$2
	start_server "$v"
	sleep 0.3
	local base rss0 tcp0 slab0
	base=$(kb MemAvailable) rss0=$(rss_kb "$SPID") tcp0=$(tcp_pages) slab0=$(kb SUnreclaim)
	# the shell truncates cli.out only once the client has started: an old "stalled" line
	# must not be found in between
	rm -f "$WD/cli.out"
	timeout $((HOLD + 40)) "$CLI" --port "$PORT" --path /file --clients "$CLIENTS" \
		--hold "$HOLD" --rcvbuf "$RCVBUF" >"$WD/cli.out" 2>"$WD/cli.err" &
	CPID=$!
	local i
	local t0=$SECONDS
	for ((i = 0; i < 300; i++)); do
		grep -q '^stalled' "$WD/cli.out" && break
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^stalled' "$WD/cli.out"; then
		echo "bench-memory: no \"stalled\" from stallclient: loop i=$i after $((SECONDS - t0))s out=[$(cat "$WD/cli.out")] $(ls -la "$WD")" >&2
		local st=0
		wait "$CPID" || st=$?
		CPID=
		echo "bench-memory: stallclient failed ($v, exit $st): $(cat "$WD/cli.err")" >&2
		exit 1
	fi
	sleep 1
	local drop=0 rss=0 tcp=0 slab=0 m=0 x
	for ((i = 0; i < 5; i++)); do
		m=$(kb MemAvailable)
		((base - m > drop)) && drop=$((base - m))
		x=$(rss_kb "$SPID"); ((x > rss)) && rss=$x
		x=$(tcp_pages); ((x - tcp0 > tcp)) && tcp=$((x - tcp0))
		x=$(kb SUnreclaim); ((x - slab0 > slab)) && slab=$((x - slab0))
		sleep 0.2
	done
	local last=$m
	wait "$CPID" || { echo "bench-memory: stallclient exited non-zero ($v): $(cat "$WD/cli.err")" >&2; exit 1; }
	CPID=
	# cross-check: how much MemAvailable comes back within 0.5 s of the clients closing
	sleep 0.5
	local rel=$(($(kb MemAvailable) - last))
	local ok=-
	if ((r == 1)); then # correctness, once per variant: the whole file, byte-exact
		rm -f "$WD/got"
		if timeout 60 curl -sS --max-time 50 -o "$WD/got" "http://127.0.0.1:$PORT/file" &&
			cmp -s "$WD/got" "$WD/root/file"; then
			ok=ok
		else
			ok=BAD
			echo "bench-memory: variant $v: curl download differs from the file" >&2
		fi
		rm -f "$WD/got"
	fi
	stop_server
	local red=-
	if [[ $v == b ]]; then
		red=$(sed -n 's/.* redirected_bytes=\([0-9]*\).*/\1/p' "$WD/stats" 2>/dev/null | tail -1)
		[[ -n $red ]] || { echo "bench-memory: no stats line from the library" >&2; exit 1; }
		((red > 0)) || echo "bench-memory: WARNING: library redirected 0 bytes" >&2
		sed 's/^/  stats: /' "$WD/stats" >&2
	fi
	# variant round drop_kB rss0_kB rss_kB tcp_mem_pages slab_kB redirected_bytes check release_kB loadavg1
	echo "$v $r $drop $rss0 $rss $tcp $slab $red $ok $rel $(cut -d' ' -f1 /proc/loadavg)" >>"$RAW"
	printf '  r%d %s drop %6.1f MB  back after close %6.1f MB  server RSS %5.1f MB  TCP mem +%6.1f MB  SUnreclaim +%6.1f MB  %s %s\n' \
		"$r" "$v" "$(bc -l <<<"$drop/1024")" "$(bc -l <<<"$rel/1024")" "$(bc -l <<<"$rss/1024")" \
		"$(bc -l <<<"$tcp*4/1024")" "$(bc -l <<<"$slab/1024")" \
		"${red/#-/}" "${ok/#-/}" >&2
	sleep 1 # let the freed socket memory settle before the next run
}

echo "machine: nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\" kernel=$(uname -r)"
echo "settings: rounds=$ROUNDS clients=$CLIENTS file=$SIZE hold=${HOLD}s client-rcvbuf=$RCVBUF" \
	"tcp_wmem=\"$(cat /proc/sys/net/ipv4/tcp_wmem)\""
V=(a b c d)
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < 4; k++)); do
		run "${V[(k + r - 1) % 4]}" "$r"
	done
done

python3 - "$RAW" <<'EOF'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
names = {"a": "a rw", "b": "b rw + libautosendfile", "c": "c read-sendfile", "d": "d sendfile"}
by = {}
for v, r, drop, rss0, rss, tcp, slab, red, ok, rel, load in rows:
    by.setdefault(v, {})[int(r)] = dict(drop=int(drop) / 1024, rss=int(rss) / 1024, rel=int(rel) / 1024,
        tcp=int(tcp) * 4 / 1024, slab=int(slab) / 1024, red=red, ok=ok)
def med(xs): return st.median(xs)
def ratio(v, ref):
    rs = [by[v][r]["drop"] / by[ref][r]["drop"] for r in by[v] if r in by[ref] and by[ref][r]["drop"] > 0]
    return "%.2f (%.2f-%.2f)" % (med(rs), min(rs), max(rs)) if rs else "-"
print()
print("| variant | MemAvailable drop MB, median (min-max) | ratio vs a | ratio vs d | back after close MB, median (min-max) | server RSS MB | TCP mem MB | SUnreclaim +MB | curl+cmp |")
print("|---|---|---|---|---|---|---|---|---|")
for v in "abcd":
    if v not in by: continue
    d = [x["drop"] for x in by[v].values()]
    ok = ",".join(sorted({x["ok"] for x in by[v].values()} - {"-"})) or "-"
    b = [x["rel"] for x in by[v].values()]
    print("| %s | %.0f (%.0f-%.0f) | %s | %s | %.0f (%.0f-%.0f) | %.1f | %.0f | %.0f | %s |" % (names[v], med(d), min(d), max(d),
        ratio(v, "a"), ratio(v, "d"), med(b), min(b), max(b), med([x["rss"] for x in by[v].values()]),
        med([x["tcp"] for x in by[v].values()]), med([x["slab"] for x in by[v].values()]), ok))
if "b" in by:
    print()
    print("library redirected_bytes per run (b): " + ", ".join(by["b"][r]["red"] for r in sorted(by["b"])))
EOF
