#!/usr/bin/env bash
# nginx (Debian nginx-light), unmodified, single process (master_process off), under the
# launcher. With `sendfile off;` nginx copies a file with pread64(32 KiB) + writev to the
# socket, and the first writev of a response carries two iovecs (the header block, then
# the body). Asserted:
#  - 16 KiB, 1 MiB, 100 MiB fetched with curl arrive byte for byte;
#  - under load (wrk -t2 -c32 -d3s on the 16 KiB and the 1 MiB file, or 32 parallel curl
#    loops if wrk is absent) wrk sees no errors and no non-2xx answers, and 24 + 24 parallel
#    curls of the 16 KiB and 1 MiB files all arrive byte for byte;
#  - after a graceful stop (SIGQUIT; the stats line is written at exit) redirected_bytes
#    >= 95% of the body bytes served (curl bytes, plus completed wrk requests x file size,
#    a lower bound of what nginx sent);
#  - with `sendfile on;` nginx sends the files itself: byte-identical, redirected_bytes=0.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
nginx=/usr/sbin/nginx
[ -x "$nginx" ] || nginx=$(command -v nginx) || skip "nginx not installed"
pid=
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT  # nginx and any curl still running

www=$ASF_TMP/www
mkdir -p "$www"
make_file "$www/f16k" $((16 << 10))
make_file "$www/f1m" $((1 << 20))
make_file "$www/f100m" $((100 << 20))
size() { stat -c %s "$www/$1"; }
# The load phase serves more than 2^31 bytes; lib.sh's stat_sum/assert_redirected print such
# sums as 5.5e+09 with mawk (Debian's awk), so sum with %.0f (exact to 2^53) here.
big_sum() { # FILE KEY
	sed -n "s/^autosendfile: .* $2=\([0-9][0-9]*\).*/\1/p" "$1" | awk '{s+=$1} END {printf "%.0f\n", s}'
}

start_nginx() { # NAME on|off: starts nginx under the launcher, sets $pid and $port
	local name=$1 sf=$2 d=$ASF_TMP/$1
	mkdir -p "$d"
	port=$(free_port)
	cat >"$d/nginx.conf" <<-EOF
	daemon off; master_process off; worker_processes 1;
	pid $d/nginx.pid; error_log $d/error.log;
	events { worker_connections 1024; }
	http {
		access_log off; sendfile $sf;
		client_body_temp_path $d/body; proxy_temp_path $d/proxy;
		fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
		server { listen 127.0.0.1:$port; root $www; }
	}
	EOF
	timeout --foreground 55 "$ASF_LAUNCHER" --stats "$ASF_TMP/st.$name" \
		"$nginx" -e "$d/error.log" -c "$d/nginx.conf" -p "$d" >"$d/out.log" 2>&1 &
	pid=$!
	wait_port "$port" || fail "$name: nginx did not listen on $port: $(cat "$d"/*.log)"
}

stop_nginx() { # NAME: graceful stop; nginx must exit 0
	kill -QUIT $pid
	wait $pid || fail "$1: nginx exited $? ($(cat "$ASF_TMP/$1"/*.log))"
	pid=
}

served=0
fetch() { # FILE OUT: one curl download, compared with the file
	curl -sf --max-time 40 -o "$2" "http://127.0.0.1:$port/$1" || fail "curl $1 failed"
	cmp -s "$www/$1" "$2" || fail "$1: received bytes differ"
	rm -f "$2"
	served=$((served + $(size "$1")))
}

# Phase 1: sendfile off, single downloads, load, parallel downloads.
start_nginx off off
for f in f16k f1m f100m; do
	fetch "$f" "$ASF_TMP/out.$f"
done
echo "single downloads ok"

if command -v wrk >/dev/null; then
	cat >"$ASF_TMP/count.lua" <<-'EOF'
	done = function(s, lat, req)
		local e = s.errors
		io.write(string.format("ASF %d %d %d\n", s.requests, s.bytes,
			e.connect + e.read + e.write + e.status + e.timeout))
	end
	EOF
	for f in f16k f1m; do
		timeout 20 wrk -t2 -c32 -d3s -s "$ASF_TMP/count.lua" "http://127.0.0.1:$port/$f" \
			>"$ASF_TMP/wrk.$f" 2>&1 || fail "wrk $f failed: $(cat "$ASF_TMP/wrk.$f")"
		line=$(grep '^ASF ' "$ASF_TMP/wrk.$f") || fail "wrk $f: no summary: $(cat "$ASF_TMP/wrk.$f")"
		read -r _ n bytes errs <<<"$line" # ASF requests bytes errors
		[ "$errs" -eq 0 ] || fail "wrk $f: $errs errors: $(cat "$ASF_TMP/wrk.$f")"
		[ "$n" -gt 0 ] || fail "wrk $f: no request completed"
		# Every completed response is its header block plus the whole file.
		[ "$bytes" -ge $((n * $(size $f))) ] || fail "wrk $f: $bytes bytes for $n requests"
		served=$((served + n * $(size $f)))
		echo "wrk $f: $n requests, $bytes bytes"
	done
else
	echo "wrk not installed: 32 parallel curl loops instead"
	for i in $(seq 1 32); do
		(
			for _ in $(seq 1 10); do
				curl -sf --max-time 30 -o /dev/null -o /dev/null -w '%{size_download}\n' \
					"http://127.0.0.1:$port/f16k" "http://127.0.0.1:$port/f1m" || echo curlfail
			done >"$ASF_TMP/loop.$i"
		) &
	done
	# shellcheck disable=SC2046 # the loop pids, one word each
	wait $(jobs -p | grep -vx "$pid")
	! grep -q curlfail "$ASF_TMP"/loop.* || fail "a curl of the load loops failed"
	got=$(cat "$ASF_TMP"/loop.* | awk '{s+=$1} END {printf "%.0f\n", s}')
	[ "$got" -eq $((32 * 10 * ($(size f16k) + $(size f1m)))) ] || fail "load loops got $got bytes"
	served=$((served + got))
fi

cpids=()
for i in $(seq 1 24); do
	for f in f16k f1m; do
		curl -sf --max-time 30 -o "$ASF_TMP/par.$f.$i" "http://127.0.0.1:$port/$f" &
		cpids+=($!)
	done
done
for c in "${cpids[@]}"; do
	wait "$c" || fail "a parallel curl failed"
done
for i in $(seq 1 24); do
	for f in f16k f1m; do
		cmp -s "$www/$f" "$ASF_TMP/par.$f.$i" || fail "parallel download $i of $f differs"
		rm -f "$ASF_TMP/par.$f.$i"
		served=$((served + $(size $f)))
	done
done
echo "48 parallel downloads ok"
stop_nginx off
grep -q '^autosendfile: ' "$ASF_TMP/st.off" || fail "no stats line after SIGQUIT"
cat "$ASF_TMP/st.off"
got=$(big_sum "$ASF_TMP/st.off" redirected_bytes)
[ "$got" -ge $((served * 95 / 100)) ] || fail "redirected_bytes=$got < 95% of $served body bytes served"
echo "redirected $got of >= $served body bytes served"

# Phase 2: sendfile on: nginx's own sendfile calls are left alone.
start_nginx on on
for f in f16k f1m f100m; do
	fetch "$f" "$ASF_TMP/out.$f"
done
stop_nginx on
grep -q '^autosendfile: ' "$ASF_TMP/st.on" || fail "sendfile on: no stats line"
got=$(big_sum "$ASF_TMP/st.on" redirected_bytes)
[ "$got" -eq 0 ] || fail "sendfile on: redirected_bytes=$got, expected 0"
echo "sendfile on: byte-identical, 0 redirected"
