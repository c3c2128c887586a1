#!/usr/bin/env bash
# bench-pressure.sh - the redirect policy (AUTOSENDFILE_PRESSURE, src/pressure.h) against
# the plain program and against redirecting every write (AUTOSENDFILE_PRESSURE=0, the
# library before the policy), for choosing its default.
#
# Part 1, fast clients: the demo copyserver (--mode rw, 64 KiB read/write loop) and nginx
# (`sendfile off`), one thread/worker each, serving 16 KiB, 1 MiB and 100 MiB files to
# build/demo/loadclient (8 clients, HTTP/1.0, --trunc: the body is discarded by the kernel,
# a stand-in for a remote client); throughput, server CPU per GB and the share of body bytes
# sent by sendfile, medians over rounds, configurations interleaved with the order rotated.
# Part 2, stalled clients: 200 clients (build/demo/stallclient) that read one byte of a 1 MiB
# or 16 MiB file and stop; the drop of MemAvailable + per-CPU free lists while they hold
# (measure.sh's stall_memory), copyserver only.
#
# Usage: demo/bench-pressure.sh [ROUNDS (3)]
#   BENCH_CFGS="plain always p64k ..."  the configurations: plain, or library settings
#                                       joined by commas: default, always, pNNk
#                                       (AUTOSENDFILE_PRESSURE=NNK), mNNk (MIN_BYTES=NNK)
#   BENCH_ONLY=copy|nginx|memory        one part; BENCH_SECONDS (2) per fast run
#   BENCH_BUFSIZE (65536)               copyserver's read/write size (4096: squid, CLISP)
#   BENCH_FILES ("f16k f1m f100m")      the fast runs' files
# Raw lines go to build/demo/pressure.raw, the tables to stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. demo/measure.sh
ROUNDS=${1:-3}
SECS=${BENCH_SECONDS:-2} CLIENTS=${BENCH_CLIENTS:-8} ONLY=${BENCH_ONLY:-}
BUFSIZE=${BENCH_BUFSIZE:-65536} FILES=${BENCH_FILES:-f16k f1m f100m}
read -r -a CFGS <<<"${BENCH_CFGS:-plain always p32k p64k p128k}"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CLK=$(getconf CLK_TCK)
make -s all build/demo/copyserver build/demo/loadclient build/demo/stallclient >/dev/null
LIB=$top/build/libautosendfile.so SRV=$top/build/demo/copyserver LOAD=$top/build/demo/loadclient
STALL=$top/build/demo/stallclient
scratch_dir asf-pressure
mkdir -p "$WD/www" build/demo
chmod 755 "$WD" "$WD/www" # nginx workers run as nobody
for f in 16k:16 1m:1024 16m:16384 100m:102400; do
	head -c $((${f#*:} * 1024)) /dev/urandom >"$WD/www/f${f%:*}"
done
cat "$WD"/www/* >/dev/null
RAW=$top/build/demo/pressure${BENCH_BUFSIZE:+-b$BENCH_BUFSIZE}.raw
: >"$RAW"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# env_of CFG: the environment a configuration runs the server with. CFG is plain, or
# library settings joined by commas: default, always (PRESSURE=0), pNNk (PRESSURE=NNK),
# mNNk (MIN_BYTES=NNK)
env_of() {
	[[ $1 == plain ]] && { echo "-u LD_PRELOAD"; return; }
	local e="LD_PRELOAD=$LIB AUTOSENDFILE_STATS=$WD/stats" t
	for t in ${1//,/ }; do
		case $t in
		always) e+=" AUTOSENDFILE_PRESSURE=0" ;;
		p*) e+=" AUTOSENDFILE_PRESSURE=${t#p}" ;;
		m*) e+=" AUTOSENDFILE_MIN_BYTES=${t#m}" ;;
		esac
	done
	echo "$e"
}

start() { # SERVER CFG
	local s=$1 c=$2
	# shellcheck disable=SC2046
	local pre=(env $(env_of "$c"))
	rm -f "$WD/stats" "$WD/port"
	PORT=$(free_port)
	if [[ $s == copy ]]; then
		( trap - INT QUIT; exec setsid "${pre[@]}" "$SRV" --root "$WD/www" --port-file "$WD/port" \
			--mode rw --bufsize "$BUFSIZE" ) >"$WD/srv.log" 2>&1 &
		SPID=$!
		for ((i = 0; i < 200; i++)); do [[ -s $WD/port ]] && break; sleep 0.05; done
		PORT=$(<"$WD/port")
	else
		local d=$WD/nginx
		mkdir -p "$d"
		cat >"$d/nginx.conf" <<-EOF
		daemon off; master_process off; worker_processes 1;
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
			ss -ltn "sport = :$PORT" | grep -q LISTEN && break
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

red_bytes() {
	[[ -f $WD/stats ]] || { echo 0; return; }
	sed -n 's/.* redirected_bytes=\([0-9]*\).*/\1/p' "$WD/stats" | awk '{s+=$1} END {printf "%.0f", s}'
}

fast() { # SERVER CFG FILE ROUND
	local s=$1 c=$2 f=$3 r=$4 t0 t1 line
	start "$s" "$c"
	t0=$(pgrp_ticks "$SPID")
	line=$("$LOAD" --port "$PORT" --path "/$f" --clients "$CLIENTS" --seconds "$SECS" --trunc \
		--save "$WD/body" --save-count 1)
	t1=$(pgrp_ticks "$SPID")
	stop "$s"
	cmp -s "$WD/body.0" "$WD/www/$f" || { echo "bench-pressure: CORRUPT $s $c $f" >&2; exit 1; }
	load_result "$line"
	echo "fast $s $f $c $r $LOAD_BYTES $LOAD_SECS $(awk -v t=$((t1 - t0)) -v k="$CLK" 'BEGIN{printf "%.3f", t / k}') $(red_bytes)" >>"$RAW"
}

memory() { # CFG FILE ROUND
	local c=$1 f=$2 r=$3
	start copy "$c"
	sleep 0.3
	if ! STALL_SERVER=$SPID stall_memory "$PORT" "/$f" 200 400 100 5 5; then
		echo "bench-pressure: $STALL_ERR" >&2
		exit 1
	fi
	stop copy
	echo "memory copy $f $c $r $STALL_PCP_DROP_KB ${STALL_RESULT#* } $(red_bytes)" >>"$RAW"
}

echo "# $(date -u '+%F %T') UTC, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r), $(git rev-parse --short HEAD)$(git diff --quiet || echo +), copyserver --bufsize $BUFSIZE" >>"$RAW"
n=${#CFGS[@]}
for r in $(seq 1 "$ROUNDS"); do
	for s in copy nginx; do
		[[ -n $ONLY && $ONLY != "$s" ]] && continue
		for f in $FILES; do
			for ((k = 0; k < n; k++)); do fast "$s" "${CFGS[$(((k + r) % n))]}" "$f" "$r"; done
		done
	done
	if [[ -z $ONLY || $ONLY == memory ]]; then
		for f in f1m f16m; do
			for ((k = 0; k < n; k++)); do memory "${CFGS[$(((k + r) % n))]}" "$f" "$r"; done
		done
	fi
done
python3 - "$RAW" <<'EOF'
import sys, statistics as st
fast, mem, head = {}, {}, ""
for line in open(sys.argv[1]):
    if line.startswith("#"):
        head = line.strip(); continue
    w = line.split()
    if w[0] == "fast":
        _, s, f, c, r, b, secs, cpu, red = w
        b, secs, cpu, red = int(b), float(secs), float(cpu), int(red)
        fast.setdefault((s, f), {}).setdefault(c, []).append((b / secs / 1e6, cpu / (b / 1e9), red / b if b else 0))
    else:
        _, s, f, c, r, drop, queued, red = w
        mem.setdefault(f, {}).setdefault(c, []).append((int(drop) / 1024, int(red)))
print(head)
cfgs = []
for d in list(fast.values()) + list(mem.values()):
    for c in d:
        if c not in cfgs: cfgs.append(c)
others = [c for c in cfgs if c != "plain"]
print("\nFast clients (loadclient --trunc): throughput and server CPU per GB against plain, share by sendfile\n")
print("| server | file | plain MB/s | plain CPU s/GB | " + " | ".join(others) + " |")
print("|---|---|---|---|" + "---|" * len(others))
for (s, f), d in fast.items():
    p = d.get("plain")
    if not p: continue
    pm = st.median(x[0] for x in p); pc = st.median(x[1] for x in p)
    cells = []
    for c in others:
        v = d.get(c)
        cells.append("-" if not v else "%.2fx, %.2fx, %.0f%%" % (st.median(x[0] for x in v) / pm,
                     st.median(x[1] for x in v) / pc, 100 * st.median(x[2] for x in v)))
    print("| %s | %s | %.0f | %.3f | %s |" % (s, f[1:], pm, pc, " | ".join(cells)))
print("\nStalled clients (200, copyserver): kernel memory held, MB (MemAvailable + per-CPU lists drop), and against plain\n")
print("| file | plain MB | " + " | ".join(others) + " |")
print("|---|---|" + "---|" * len(others))
for f, d in mem.items():
    p = d.get("plain")
    if not p: continue
    pm = st.median(x[0] for x in p)
    cells = []
    for c in others:
        v = d.get(c)
        cells.append("-" if not v else "%.0f MB = 1/%.1f" % (st.median(x[0] for x in v), pm / max(st.median(x[0] for x in v), 0.1)))
    print("| %s | %.0f | %s |" % (f[1:], pm, " | ".join(cells)))
EOF
