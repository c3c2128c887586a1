#!/usr/bin/env bash
# php-fpm (Debian php8.2-fpm, its stock php.ini) behind nginx: FastCGI over a unix socket,
# a script that sends a file with PHP's readfile(). php-fpm runs as it ships: a root master,
# workers as www-data, pm = static with one child, so every request below is served by the
# same worker process; LD_PRELOAD is set on the master's command line (the worker is forked).
# nginx is not under the library. What the worker does (strace, issue 19):
#  - 16 KiB and 1 MiB: mmap(PROT_READ, MAP_SHARED) of the whole file; the FastCGI layer writes
#    its 8-byte record header (with the HTTP header the first time) by write(), then the file's
#    bytes by write() straight from the mapping, 65528 at a time (16 KiB: one write);
#  - 20 MB (too big for PHP's mmap): read(file, 8192) into PHP's buffer, copied into the
#    FastCGI buffer, write(sock, 8192) of an 8-byte record header and 8184 file bytes: the file
#    bytes of a record straddle two reads (the first record also carries the HTTP header);
#  - 1 MiB again after the 20 MB file: the same calls as the first 1 MiB response.
# Asserted, in that order, on one worker: every body byte-exact; for each response, from the
# worker's live counters (autosendfile --stat before and after it), redirected_bytes >= 90% of
# its body bytes (issue 19's goal). Before 1d8c8bb the 20 MB response failed that
# (why_not_file), and so did the 1 MiB response after it (issue 19: "no longer redirected").
. "$(dirname "$0")/lib.sh"
# Under check-all the ASan runtime is preloaded too; php-fpm does not run under it
# (its opcache.so is loaded with RTLD_DEEPBIND, which the ASan runtime refuses).
[ "$ASF_PRELOAD" = "$ASF_LIB" ] || skip "a sanitizer runtime is preloaded with the library ($ASF_PRELOAD)"
command -v curl >/dev/null || skip "curl not installed"
fpm=$(command -v php-fpm8.2 || command -v php-fpm || ls /usr/sbin/php-fpm* 2>/dev/null | head -n 1)
[ -n "$fpm" ] && [ -x "$fpm" ] || skip "php-fpm not installed"
nginx=/usr/sbin/nginx
[ -x "$nginx" ] || nginx=$(command -v nginx) || skip "nginx not installed"
[ "$(id -u)" -eq 0 ] || skip "php-fpm's pool user needs root"
id www-data >/dev/null 2>&1 || skip "no www-data user"

fpid= npid=
cleanup() {
	[ -n "$fpid" ] && kill -TERM -- "-$fpid" 2>/dev/null && sleep 0.3 && kill -KILL -- "-$fpid" 2>/dev/null
	[ -n "$npid" ] && kill "$npid" 2>/dev/null
	wait
}
trap cleanup EXIT

chmod 755 "$ASF_TMP"
www=$ASF_TMP/www d=$ASF_TMP/fpm
mkdir -p "$www" "$d"
make_file "$www/f16k" $((16 << 10))
make_file "$www/f1m" $((1 << 20))
make_file "$www/f20m" 20000000
cat >"$www/rf.php" <<'EOF'
<?php
$p = __DIR__ . '/' . basename($_GET['f']);
header('Content-Type: application/octet-stream');
header('Content-Length: ' . filesize($p));
header('X-Pid: ' . getmypid());
readfile($p);
EOF
chmod 755 "$www" && chmod 644 "$www"/*
size() { stat -c %s "$www/$1"; }

cat >"$d/fpm.conf" <<EOF
[global]
pid = $d/fpm.pid
error_log = $d/fpm.log
daemonize = no
[www]
user = www-data
group = www-data
listen = $d/fpm.sock
listen.mode = 0666
pm = static
pm.max_children = 1
EOF
# AUTOSENDFILE_PRESSURE=0: every eligible write redirected, whatever the socket queue holds
# (nginx drains the unix socket at once).
env LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$ASF_TMP/st" AUTOSENDFILE_PRESSURE=0 \
	setsid "$fpm" -F -y "$d/fpm.conf" >"$d/out.log" 2>&1 &
fpid=$!
for _ in $(seq 1 100); do [ -S "$d/fpm.sock" ] && break; sleep 0.1; done
[ -S "$d/fpm.sock" ] || fail "php-fpm made no socket: $(cat "$d"/*.log)"

port=$(free_port)
cat >"$d/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
pid $d/nginx.pid; error_log $d/nginx-error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $d/body; proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
	server {
		listen 127.0.0.1:$port; root $www;
		location ~ \.php\$ {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			fastcgi_pass unix:$d/fpm.sock;
		}
	}
}
EOF
"$nginx" -e "$d/nginx-error.log" -c "$d/nginx.conf" -p "$d" >"$d/nginx-out.log" 2>&1 &
npid=$!
wait_port "$port" || fail "nginx did not listen on $port: $(cat "$d"/nginx*.log)"

worker=
counters() { # OUT
	"$ASF_LAUNCHER" --stat "$worker" >"$1" || fail "--stat $worker failed: $(cat "$1")"
}
get() { # FILE: one GET through nginx, compared; sets worker (every response from the same one)
	local pid
	curl -sf --max-time 30 -D "$ASF_TMP/hdr" -o "$ASF_TMP/out" "http://127.0.0.1:$port/rf.php?f=$1" ||
		fail "GET $1 failed: $(cat "$d"/*.log)"
	cmp -s "$www/$1" "$ASF_TMP/out" || fail "GET $1: received bytes differ"
	pid=$(sed -n 's/^X-Pid: *\([0-9]*\).*/\1/p' "$ASF_TMP/hdr")
	[ -n "$pid" ] || fail "GET $1: no X-Pid"
	[ -z "$worker" ] || [ "$pid" = "$worker" ] || fail "GET $1: served by $pid, not by worker $worker"
	worker=$pid
}

# A first request names the worker (a small file the test does not count).
get f16k
bad=()
step() { # NAME FILE: one counted response, its share from the counters around it
	local name=$1 f=$2 red body why= k v
	counters "$ASF_TMP/c.before"
	get "$f"
	counters "$ASF_TMP/c.after"
	red=$(($(stat_sum "$ASF_TMP/c.after" redirected_bytes) - $(stat_sum "$ASF_TMP/c.before" redirected_bytes)))
	for k in passthrough_bytes why_small why_not_file why_untracked why_flags why_buf_changed \
		why_file_changed why_not_eligible why_other; do
		v=$(($(stat_sum "$ASF_TMP/c.after" $k) - $(stat_sum "$ASF_TMP/c.before" $k)))
		[ "$v" != 0 ] && why+=" $k=$v"
	done
	body=$(size "$f")
	echo "$name: byte-exact; redirected $red of $body body bytes ($(awk -v r="$red" -v b="$body" \
		'BEGIN { printf "%.1f", 100 * r / b }') %);${why:- nothing passed through}"
	[ "$red" -ge $((body * 90 / 100)) ] || bad+=("$name")
}
step 16k f16k
step 1m f1m
step 20m f20m
step 1m-after-20m f1m
step 1m-after-20m-again f1m
echo "all responses from worker $worker"

kill -QUIT "$npid"
wait "$npid" 2>/dev/null
npid=
kill -TERM "$fpid"
wait "$fpid" 2>/dev/null
fpid=
[ ${#bad[@]} -eq 0 ] || fail "redirected < 90% of the body bytes in: ${bad[*]}"
echo ok
