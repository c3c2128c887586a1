#!/usr/bin/env bash
# Apache 2.4 (Debian apache2), unmodified, mpm_event, the stock multi-process setup: a root
# parent, workers that drop privileges to www-data, LD_PRELOAD set on the command line and
# inherited by the workers, AUTOSENDFILE_STATS pointing at a file nobody prepared (the
# workers can't open the file root made 0600: their lines are appended by the parent when it
# exits, see docs/OPERATING.md). Private config in the temp dir, 127.0.0.1 on a free port.
#
# Three setups:
#  (a) stock: EnableMMAP On, EnableSendfile Off (upstream's default). Apache mmaps the file
#      (4 MiB windows) and writevs [header, mapping] on a non-blocking socket.
#      Asserted: GET 16 KiB / 1 MiB / 20 MB, three URLs on one keep-alive connection, Range
#      requests (one range, a suffix range, multiple ranges -> multipart/byteranges), HEAD,
#      wrk -t2 -c8 -d3s on the 1 MiB file, a graceful restart while two rate-limited 20 MB
#      downloads run: every body byte compared; redirected_bytes >= 90% of the body bytes.
#  (b) EnableMMAP Off: Apache reads 8000-byte blocks and writevs 9 of them (72000 B). Each
#      read is below AUTOSENDFILE_MIN_BYTES (8K); the nine, at consecutive offsets of one
#      file, go out as one sendfile range: >= 90% asserted with the default settings, and
#      with AUTOSENDFILE_MIN_BYTES=4K.
#  (c) EnableSendfile On: Apache sends the files itself; byte-identical, redirected_bytes=0.
# Every setup: the parent is stopped by the pid in its PidFile (SIGTERM), it must exit 0 and
# leave no process of its group behind; the workers' stats lines must be in the stats file.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
apache=/usr/sbin/apache2
[ -x "$apache" ] || skip "apache2 not installed"
mods=/usr/lib/apache2/modules
[ -f "$mods/mod_mpm_event.so" ] || skip "no $mods/mod_mpm_event.so"

pid=
cleanup() { # the server's process group (setsid: pgid = its pid), then curls still running
	if [ -n "$pid" ]; then
		kill -TERM -- "-$pid" 2>/dev/null
		sleep 0.5
		kill -KILL -- "-$pid" 2>/dev/null
	fi
	kill $(jobs -p) 2>/dev/null
	wait
}
trap cleanup EXIT

# The workers run as www-data: they must reach the document root in the temp dir.
chmod 755 "$ASF_TMP"
www=$ASF_TMP/www
mkdir -p "$www"
make_file "$www/f16k" $((16 << 10))
make_file "$www/f1m" $((1 << 20))
make_file "$www/f20m" 20000000
chmod 755 "$www" && chmod 644 "$www"/*
size() { stat -c %s "$www/$1"; }
user_lines=
if [ "$(id -u)" -eq 0 ]; then
	if id www-data >/dev/null 2>&1; then user_lines="User www-data
Group www-data"
	else user_lines="User nobody
Group $(id -gn nobody)"; fi
fi

served=0    # body bytes the clients received (and compared) in the current setup
start_apache() { # NAME MMAP SENDFILE [VAR=VALUE...]: sets $pid $port $conf $st
	local name=$1 mmap=$2 sf=$3 d=$ASF_TMP/$1
	shift 3
	mkdir -p "$d"
	port=$(free_port)
	conf=$d/apache2.conf
	st=$ASF_TMP/st.$name
	served=0
	cat >"$conf" <<-EOF
	ServerRoot $d
	ServerName 127.0.0.1
	Listen 127.0.0.1:$port
	PidFile $d/apache2.pid
	DefaultRuntimeDir $d
	Mutex file:$d default
	ErrorLog $d/error.log
	LogLevel warn
	LoadModule mpm_event_module $mods/mod_mpm_event.so
	LoadModule authz_core_module $mods/mod_authz_core.so
	LoadModule mime_module $mods/mod_mime.so
	LoadModule dir_module $mods/mod_dir.so
	TypesConfig /etc/mime.types
	$user_lines
	StartServers 2
	KeepAlive On
	DocumentRoot $www
	<Directory $www>
		Require all granted
	</Directory>
	EnableMMAP $mmap
	EnableSendfile $sf
	EOF
	# setsid: its own process group, so the trap can end every process of it.
	env LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" "$@" \
		setsid "$apache" -f "$conf" -DFOREGROUND >"$d/out.log" 2>&1 &
	pid=$!
	wait_port "$port" || fail "$name: apache2 did not listen on $port: $(cat "$d"/*.log)"
	local i
	for i in $(seq 1 50); do [ -s "$d/apache2.pid" ] && break; sleep 0.1; done
	[ "$(cat "$d/apache2.pid")" = "$pid" ] || fail "$name: PidFile says $(cat "$d/apache2.pid"), started $pid"
	echo "$name: apache2 pid $pid on port $port (EnableMMAP $mmap, EnableSendfile $sf${*:+, $*})"
}

stop_apache() { # NAME: SIGTERM to the pid of the PidFile; exit 0, no process left
	local name=$1 d=$ASF_TMP/$1 rc=0 i
	kill -TERM "$(cat "$d/apache2.pid")" || fail "$name: cannot signal the PidFile's pid"
	wait "$pid" || rc=$?
	[ $rc -eq 0 ] || fail "$name: apache2 exited $rc ($(cat "$d"/*.log))"
	for i in $(seq 1 50); do pgrep -g "$pid" >/dev/null || break; sleep 0.1; done
	! pgrep -g "$pid" >/dev/null || fail "$name: processes left: $(pgrep -a -g "$pid")"
	pid=
	! grep -q 'AH00\(052\|060\)' "$d/error.log" || fail "$name: a child crashed: $(cat "$d/error.log")"
	grep -q '^autosendfile: ' "$st" 2>/dev/null || fail "$name: no stats line in $st"
	echo "$name: stats lines: $(grep -c '^autosendfile: ' "$st")"
}

url() { echo "http://127.0.0.1:$port/$1"; }

fetch() { # FILE: one GET, compared with the file
	local out=$ASF_TMP/out.$1
	curl -sf --max-time 30 -o "$out" "$(url "$1")" || fail "GET $1 failed"
	cmp -s "$www/$1" "$out" || fail "GET $1: received bytes differ"
	rm -f "$out"
	served=$((served + $(size "$1")))
}

keepalive() { # three URLs on one connection
	local n
	n=$(curl -sf --max-time 30 -w '%{num_connects} ' \
		-o "$ASF_TMP/ka.1" "$(url f1m)" -o "$ASF_TMP/ka.2" "$(url f16k)" -o "$ASF_TMP/ka.3" "$(url f20m)") ||
		fail "keep-alive curl failed"
	[ "$n" = "1 0 0 " ] || fail "keep-alive: connections per URL '$n', expected '1 0 0 '"
	cmp -s "$www/f1m" "$ASF_TMP/ka.1" && cmp -s "$www/f16k" "$ASF_TMP/ka.2" &&
		cmp -s "$www/f20m" "$ASF_TMP/ka.3" || fail "keep-alive: received bytes differ"
	rm -f "$ASF_TMP"/ka.*
	served=$((served + $(size f1m) + $(size f16k) + $(size f20m)))
}

range() { # FILE RANGE: a single range (first-last or -suffix), compared with the file's bytes
	local f=$1 r=$2 out=$ASF_TMP/range.out first last n code
	code=$(curl -s --max-time 30 -r "$r" -o "$out" -w '%{http_code}' "$(url "$f")") || fail "range $f $r failed"
	[ "$code" = 206 ] || fail "range $f $r: HTTP $code"
	if [[ $r == -* ]]; then
		n=${r#-}
		tail -c "$n" "$www/$f" | cmp -s - "$out" || fail "range $f $r: bytes differ"
	else
		first=${r%-*} last=${r#*-}
		n=$((last - first + 1))
		tail -c +$((first + 1)) "$www/$f" | head -c "$n" | cmp -s - "$out" || fail "range $f $r: bytes differ"
	fi
	[ "$(stat -c %s "$out")" -eq "$n" ] || fail "range $f $r: $(stat -c %s "$out") bytes, expected $n"
	served=$((served + n))
}

multirange() { # FILE RANGES: multipart/byteranges; every part compared; prints the body bytes
	local f=$1 r=$2 n
	curl -sf --max-time 30 -r "$r" -D "$ASF_TMP/mr.h" -o "$ASF_TMP/mr.b" "$(url "$f")" ||
		fail "multirange $f $r failed"
	n=$(python3 - "$www/$f" "$ASF_TMP/mr.h" "$ASF_TMP/mr.b" "$r" <<-'EOF'
	import re, sys
	data = open(sys.argv[1], "rb").read()
	head = open(sys.argv[2], "rb").read().decode("latin-1")
	body = open(sys.argv[3], "rb").read()
	want = [tuple(map(int, x.split("-"))) for x in sys.argv[4].split(",")]
	m = re.search(r"(?im)^content-type: *multipart/byteranges; *boundary=\"?([^\"\r\n;]+)", head)
	if not m: sys.exit("no multipart/byteranges content type:\n" + head)
	parts = body.split(b"--" + m.group(1).encode())[1:-1]
	if len(parts) != len(want): sys.exit("%d parts, expected %d" % (len(parts), len(want)))
	total = 0
	for p, (a, b) in zip(parts, want):
	    hdr, _, rest = p.partition(b"\r\n\r\n")
	    cr = re.search(rb"(?i)content-range: *bytes (\d+)-(\d+)/(\d+)", hdr)
	    if not cr or (int(cr.group(1)), int(cr.group(2))) != (a, b): sys.exit("bad part header %r" % hdr)
	    if rest[:-2] != data[a:b + 1] or rest[-2:] != b"\r\n": sys.exit("part %d-%d differs" % (a, b))
	    total += b - a + 1
	print(total)
	EOF
	) || fail "multirange $f $r: $n"
	rm -f "$ASF_TMP"/mr.*
	served=$((served + n))
}

head_req() { # FILE: HEAD has the length and no body
	local h
	h=$(curl -sf --max-time 10 -I "$(url "$1")") || fail "HEAD $1 failed"
	grep -qi "^content-length: $(size "$1")"$'\r'"\?$" <<<"$h" || fail "HEAD $1: $h"
}

cat >"$ASF_TMP/count.lua" <<-'EOF'
done = function(s, lat, req)
	local e = s.errors
	io.write(string.format("ASF %d %d %d\n", s.requests, s.bytes,
		e.connect + e.read + e.write + e.status + e.timeout))
end
EOF
load() { # FILE SECONDS: wrk -t2 -c8; no errors, every response whole (wrk checks lengths)
	local f=$1 line n bytes errs
	if ! command -v wrk >/dev/null; then echo "wrk not installed: no load phase"; return; fi
	timeout 20 wrk -t2 -c8 -d"$2"s -s "$ASF_TMP/count.lua" "$(url "$f")" >"$ASF_TMP/wrk.out" 2>&1 ||
		fail "wrk $f failed: $(cat "$ASF_TMP/wrk.out")"
	line=$(grep '^ASF ' "$ASF_TMP/wrk.out") || fail "wrk $f: no summary: $(cat "$ASF_TMP/wrk.out")"
	read -r _ n bytes errs <<<"$line"
	[ "$errs" -eq 0 ] || fail "wrk $f: $errs errors: $(cat "$ASF_TMP/wrk.out")"
	[ "$n" -gt 0 ] && [ "$bytes" -ge $((n * $(size "$f"))) ] || fail "wrk $f: $n requests, $bytes bytes"
	served=$((served + n * $(size "$f")))
	echo "wrk $f: $n requests in $2 s"
}

# share NAME: prints "REDIRECTED SERVED PERCENT" of the setup's stats file
share() {
	local red
	red=$(stat_sum "$st" redirected_bytes)
	echo "$red $served $(awk -v r="$red" -v s="$served" 'BEGIN { printf "%.2f", s ? 100 * r / s : 0 }')"
}

# why: the nonzero pass-through reasons of the setup's stats file, summed over its processes
why() {
	local k v out=
	for k in passthrough_bytes fallbacks verify_rejects source_changed why_small why_not_file why_untracked \
		why_flags why_buf_changed why_file_changed why_not_eligible why_header why_tail why_draining why_other; do
		v=$(stat_sum "$st" $k)
		[ "$v" != 0 ] && out+=" $k=$v"
	done
	echo "${out:- (none)}"
}

# ---- (a) stock: EnableMMAP On, EnableSendfile Off ------------------------------------------
start_apache stock On Off
for f in f16k f1m f20m; do fetch $f; done
keepalive
range f1m 100-200000
range f20m 1000000-15999999
range f20m -5000
multirange f1m 0-99,1000-299999,500000-1048575
head_req f20m
load f1m 3
echo "stock: requests ok"
# Graceful restart (SIGUSR1 from `apache2 -k graceful`) while two 20 MB downloads run at
# 8 MB/s (~2.5 s): they finish on the old generation's workers, byte for byte.
gpids=()
for i in 1 2; do
	curl -sf --max-time 30 --limit-rate 8M -o "$ASF_TMP/gr.$i" "$(url f20m)" &
	gpids+=($!)
done
sleep 0.7
env -u LD_PRELOAD "$apache" -f "$conf" -k graceful || fail "apache2 -k graceful failed"
sleep 0.5
fetch f1m # served by the new generation
for c in "${gpids[@]}"; do wait "$c" || fail "a download across the graceful restart failed"; done
for i in 1 2; do
	cmp -s "$www/f20m" "$ASF_TMP/gr.$i" || fail "download $i across the graceful restart differs"
	rm -f "$ASF_TMP/gr.$i"
	served=$((served + $(size f20m)))
done
grep -q 'AH00493' "$ASF_TMP/stock/error.log" || fail "no graceful restart in the error log: $(cat "$ASF_TMP/stock/error.log")"
echo "stock: graceful restart ok"
stop_apache stock
read -r red total pct <<<"$(share)"
echo "stock: redirected $red of $total body bytes served ($pct %); not redirected:$(why)"
[ "$red" -ge $((total * 90 / 100)) ] || fail "stock: redirected $pct % < 90% ($(cat "$st"))"
# wrk may have had up to 8 responses in flight when it stopped: more than that is miscounted.
[ "$red" -le $((total + 9 * $(size f1m))) ] || fail "stock: redirected $red > served $total + 9 MiB"

# ---- (b) EnableMMAP Off: read(8000) blocks, writev of 9 -------------------------------------
start_apache nommap Off Off
for f in f1m f20m; do fetch $f; done
range f20m 1000000-15999999
load f1m 1
stop_apache nommap
read -r red total pct <<<"$(share)"
echo "nommap (default settings): redirected $red of $total body bytes served ($pct %); not redirected:$(why)"
[ "$red" -ge $((total * 90 / 100)) ] || fail "nommap: redirected $pct % < 90% ($(cat "$st"))"
[ "$red" -le $((total + 9 * $(size f1m))) ] || fail "nommap: redirected $red > served $total + 9 MiB"

start_apache nommap4k Off Off AUTOSENDFILE_MIN_BYTES=4K
for f in f1m f20m; do fetch $f; done
range f20m 1000000-15999999
load f1m 1
stop_apache nommap4k
read -r red total pct <<<"$(share)"
echo "nommap (AUTOSENDFILE_MIN_BYTES=4K): redirected $red of $total body bytes served ($pct %); not redirected:$(why)"
[ "$red" -ge $((total * 90 / 100)) ] || fail "nommap4k: redirected $pct % < 90% ($(cat "$st"))"
[ "$red" -le $((total + 9 * $(size f1m))) ] || fail "nommap4k: redirected $red > served $total + 9 MiB"

# ---- (c) EnableSendfile On: Apache's own sendfile, the library has nothing to do ------------
start_apache sendfile On On
for f in f16k f1m f20m; do fetch $f; done
keepalive
range f20m 1000000-15999999
multirange f1m 0-99,1000-299999,500000-1048575
head_req f1m
stop_apache sendfile
red=$(stat_sum "$st" redirected_bytes)
[ "$red" -eq 0 ] || fail "sendfile on: redirected_bytes=$red, expected 0 ($(cat "$st"))"
echo "sendfile on: byte-identical, 0 redirected of $served body bytes"
