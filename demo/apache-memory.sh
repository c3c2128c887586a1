#!/usr/bin/env bash
# apache-memory.sh [ROUNDS] - where Apache's memory goes with 200 stalled clients: stock
# (EnableMMAP On, EnableSendfile Off), stock under the library, and EnableSendfile On, each
# with bench.sh's private config (apache_conf) and memory figure (stall_memory: the drop of
# MemAvailable + the per-CPU free lists, median of 5 samples), split into Apache's own
# memory (RssAnon growth of its process group) and the rest (mostly the kernel's: socket
# buffers, thread stacks, page tables). Prints one line per run. About 1 min per round.
# Run: flock /tmp/asf-bench.lock demo/apache-memory.sh 2
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
STALL=$REPO/build/demo/stallclient
ROUNDS=${1:-2}
. "$REPO/demo/measure.sh"
[[ -x /usr/sbin/apache2 && -x $STALL ]] || { echo "apache-memory: needs /usr/sbin/apache2 and make" >&2; exit 2; }
scratch_dir apache-memory
mkdir -p "$WD/www"
{ printf R; head -c $((16 * 1024 * 1024 - 1)) /dev/urandom; } >"$WD/www/f16m"
chmod -R a+rX "$WD"
cat "$WD/www/f16m" >/dev/null
for ((round = 1; round <= ROUNDS; round++)); do
	for cfg in lib native stock; do
		PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		sf=Off
		[[ $cfg == native ]] && sf=On
		rm -rf "$WD/apache"
		apache_conf "$WD/apache" "$PORT" "$WD/www" $sf
		pre=(env)
		[[ $cfg == lib ]] && pre=(env LD_PRELOAD="$REPO/build/libautosendfile.so")
		"${pre[@]}" setsid /usr/sbin/apache2 -f "$WD/apache/apache2.conf" -DFOREGROUND >"$WD/apache.log" 2>&1 &
		SPID=$!
		for _ in $(seq 50); do curl -s -o /dev/null -r 0-0 "http://127.0.0.1:$PORT/f16m" && break; sleep 0.1; done
		sleep 0.5
		STALL_SERVER=-$SPID
		stall_memory "$PORT" /f16m 200 1200 80 3 5 || { echo "apache-memory: $STALL_ERR" >&2; exit 1; }
		threads=$(($(ps -L -g "$SPID" --no-headers | wc -l)))
		kill -TERM "$SPID"
		sleep 1
		pkill -KILL -g "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		SPID=
		awk -v r="$round" -v c="$cfg" -v d="$STALL_PCP_DROP_KB" -v a="$STALL_ANON_KB" -v t="$threads" -v q="${STALL_RESULT#* }" \
			'BEGIN { printf "round %d %-6s held %4.0f MB = Apache own (RssAnon) %3.0f MB + rest %4.0f MB; threads %d; send queues %.0f MB\n", r, c, d / 1024, a / 1024, (d - a) / 1024, t, q / 1e6 }'
		sleep 2
	done
done
