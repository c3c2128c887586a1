#!/usr/bin/env bash
# bench-engines.sh - two builds of the library side by side, in one run, against the plain
# servers: the demo copy-loop server (copyserver, 1 and 4 threads) and nginx `sendfile off`
# (1 and 4 workers), on 16 KiB, 1 MiB and 100 MiB files; throughput, server CPU per GB and
# the share sent by sendfile, medians of interleaved rounds. Issue 18 uses it for the view
# engine (a private descriptor and a whole-file mapping per file, main before issue 18)
# against the proof by pread through the program's own descriptor.
#
# Usage: demo/bench-engines.sh [ROUNDS (3)] [OLD_REV (e6168cb)]
#   builds OLD_REV's library from git into $TMPDIR (git archive + make), the current tree's
#   with make; BENCH_SECONDS (2) per load, BENCH_CLIENTS (8) connections, BENCH_ONLY="copy"
#   or "nginx" for one server, BENCH_FILES="f16k f1m" for some of the files (default all
#   three). Output: one table on stdout (also the raw lines in
#   build/demo/engines[-ONLY].raw). Run it alone on the machine (flock /tmp/asf-bench.lock ...).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. demo/measure.sh
ROUNDS=${1:-3} OLD_REV=${2:-e6168cb}
SECS=${BENCH_SECONDS:-2} CLIENTS=${BENCH_CLIENTS:-8} ONLY=${BENCH_ONLY:-}
FILES=${BENCH_FILES:-f16k f1m f100m}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CLK=$(getconf CLK_TCK)
make -s all build/demo/copyserver build/demo/loadclient >/dev/null
NEW=$top/build/libautosendfile.so SRV=$top/build/demo/copyserver LOAD=$top/build/demo/loadclient
scratch_dir asf-engines
old_src=$WD/old
mkdir -p "$old_src"
git archive "$OLD_REV" | tar -x -C "$old_src"
make -s -C "$old_src" build/libautosendfile.so >/dev/null
OLD=$old_src/build/libautosendfile.so
mkdir -p "$WD/www" build/demo
chmod 755 "$WD" "$WD/www" # nginx workers run as nobody
head -c $((16 * 1024)) /dev/urandom >"$WD/www/f16k"
head -c $((1024 * 1024)) /dev/urandom >"$WD/www/f1m"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$WD/www/f100m"
RAW=$top/build/demo/engines${ONLY:+-$ONLY}.raw
: >"$RAW"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start SERVER CFG PAR -> SPID PORT (server in its own process group: pgid = SPID)
start() {
	local s=$1 c=$2 par=$3 pre=(env -u LD_PRELOAD)
	[[ $c == old ]] && pre=(env LD_PRELOAD="$OLD" AUTOSENDFILE_STATS="$WD/stats")
	[[ $c == new ]] && pre=(env LD_PRELOAD="$NEW" AUTOSENDFILE_STATS="$WD/stats")
	rm -f "$WD/stats" "$WD/port"
	PORT=$(free_port)
	if [[ $s == copy ]]; then
		( trap - INT QUIT; exec setsid "${pre[@]}" "$SRV" --root "$WD/www" --port-file "$WD/port" \
			--mode rw --threads "$par" ) >"$WD/srv.log" 2>&1 &
		SPID=$!
		for ((i = 0; i < 200; i++)); do [[ -s $WD/port ]] && break; sleep 0.05; done
		PORT=$(<"$WD/port")
	else
		local d=$WD/nginx mp=off
		((par > 1)) && mp=on
		mkdir -p "$d"
		cat >"$d/nginx.conf" <<-EOF
		daemon off; master_process $mp; worker_processes $par;
		pid $d/nginx.pid; error_log $d/error.log;
		events { worker_connections 1024; }
		http {
			access_log off; sendfile off;
			client_body_temp_path $d/body; proxy_temp_path $d/proxy;
			fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
			server { listen 127.0.0.1:$PORT; root $WD/www; }
		}
		EOF
		( trap - INT QUIT; exec setsid "${pre[@]}" "$NGINX" -e "$d/error.log" -c "$d/nginx.conf" -p "$d" ) \
			>"$WD/srv.log" 2>&1 &
		SPID=$!
		for ((i = 0; i < 200; i++)); do
			(($(pgrep -c -g "$SPID") >= (par > 1 ? par + 1 : 1))) && ss -ltn "sport = :$PORT" | grep -q LISTEN && break
			sleep 0.05
		done
	fi
}

stop() {
	local sig=TERM
	[[ $1 == nginx ]] && sig=QUIT
	kill -$sig "$SPID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do pgrep -g "$SPID" >/dev/null || break; sleep 0.05; done
	kill -KILL -- "-$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
	SPID=
}

one() { # SERVER CFG PAR FILE ROUND
	local s=$1 c=$2 par=$3 f=$4 r=$5 t0 t1 line red=0
	start "$s" "$c" "$par"
	t0=$(pgrp_ticks "$SPID")
	line=$("$LOAD" --port "$PORT" --path "/$f" --clients "$CLIENTS" --seconds "$SECS" --save "$WD/body" \
		--save-count 1)
	t1=$(pgrp_ticks "$SPID")
	stop "$s"
	cmp -s "$WD/body.0" "$WD/www/$f" || { echo "bench-engines: CORRUPT $s $c $f" >&2; exit 1; }
	load_result "$line"
	[[ -f $WD/stats ]] && red=$(sed -n 's/.* redirected_bytes=\([0-9]*\).*/\1/p' "$WD/stats" | awk '{s+=$1} END {printf "%.0f", s}')
	echo "$s $par $f $c $r $LOAD_BYTES $LOAD_SECS $(awk -v t=$((t1 - t0)) -v k="$CLK" 'BEGIN{printf "%.3f", t / k}') $red" >>"$RAW"
}

servers="copy nginx"
[[ -n $ONLY ]] && servers=$ONLY
echo "# $(date -u '+%F %T') UTC, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r), old=$OLD_REV new=$(git rev-parse --short HEAD)$(git diff --quiet || echo +)" >>"$RAW"
for r in $(seq 1 "$ROUNDS"); do
	for s in $servers; do
		for par in 1 4; do
			for f in $FILES; do
				cfgs=(plain old new)
				# interleaved, the order rotated from round to round
				for ((k = 0; k < 3; k++)); do one "$s" "${cfgs[$(((k + r) % 3))]}" "$par" "$f" "$r"; done
			done
		done
	done
done
python3 - "$RAW" <<'EOF'
import sys, statistics as st
rows = {}
head = ""
for line in open(sys.argv[1]):
    if line.startswith("#"):
        head = line.strip()
        continue
    s, par, f, c, r, b, secs, cpu, red = line.split()
    b, secs, cpu, red = int(b), float(secs), float(cpu), int(red)
    rows.setdefault((s, par, f), {}).setdefault(c, []).append((b / secs / 1e6, cpu / (b / 1e9), red / b if b else 0))
print(head)
print("| server | par | file | plain MB/s | plain s/GB | old: thru, CPU/GB vs plain, by sendfile | new: thru, CPU/GB vs plain, by sendfile |")
print("|---|---|---|---|---|---|---|")
for (s, par, f), d in rows.items():
    p = d.get("plain", [])
    if not p:
        continue
    pm = st.median(x[0] for x in p); pc = st.median(x[1] for x in p)
    cells = []
    for c in ("old", "new"):
        v = d.get(c, [])
        if not v:
            cells.append("-"); continue
        cells.append("%.2fx, %.2fx, %.0f%%" % (st.median(x[0] for x in v) / pm, st.median(x[1] for x in v) / pc,
                                              100 * st.median(x[2] for x in v)))
    print("| %s | %s | %s | %.0f | %.3f | %s | %s |" % (s, par, f[1:], pm, pc, cells[0], cells[1]))
EOF
