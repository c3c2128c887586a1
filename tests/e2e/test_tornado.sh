#!/usr/bin/env bash
# Tornado (Debian python3-tornado 6.2), unmodified: tornado.web.StaticFileHandler under the
# launcher, single process. What it does per response (strace, issue 19): the first request
# of a file reads the whole file once for its Etag (64 KiB reads, kept per process); the
# first request of the process also reads /etc/mime.types (8 KiB reads of text: Python's
# mimetypes module). Then the file is opened again and read in 64 KiB pieces; the first piece
# goes out joined to the response header in one copied buffer (sendto(sock, header + 64 KiB)),
# every later piece by sendto from the very buffer read() filled.
#
# The miss (issue 19; src/content.c; fixed in 1d8c8bb): the header + first piece is found by content (the
# split scan over the write's first 2 KiB). Probes of mime.types' reads are candidates too,
# and one of them ("lication", mime.types at 16384) matches the header's "Content-Type:
# application/..." at position 61, before the file's bytes at ~354; the scan stops at the
# first position any candidate matches, that claim fails (its view is gone: mime.types is
# closed), and the write goes by the real call (why_not_file). Those probes stay in the
# thread's ring of 16 until other reads push them out: a 1 MiB file's 16 reads do that
# during its first response; a 16 KiB file adds one probe per request, so the one that
# matches leaves the ring after 8 requests, and by then those 8 misses have started the
# content backoff (16 writes skipped): the first 24 16-KiB responses of a process go by the
# real call (a 40-request run redirected 16 of 40).
#
# Asserted (fresh process each):
#  (a) only the 16 KiB file, 10 times: byte-exact; redirected >= 90% of the body bytes;
#  (b) a 1 MiB file (the process's first large response), then again, then 20 MB: each
#      byte-exact, and each response >= 99% of its body bytes by sendfile (the first piece
#      behind the header is 1/16 of a 1 MiB body: its loss is what this catches), read from
#      the process's live counters around each response.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
py=/usr/bin/python3
[ -x "$py" ] && "$py" -c 'import tornado.web' 2>/dev/null || skip "python3-tornado not installed"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait' EXIT

www=$ASF_TMP/www
mkdir -p "$www"
make_file "$www/f16k" $((16 << 10))
make_file "$www/f1m" $((1 << 20))
make_file "$www/f20m" 20000000
size() { stat -c %s "$www/$1"; }
cat >"$ASF_TMP/server.py" <<'EOF'
import signal, sys
import tornado.ioloop, tornado.web
d, port = sys.argv[1], int(sys.argv[2])
app = tornado.web.Application([(r"/(.*)", tornado.web.StaticFileHandler, {"path": d})])
app.listen(port, address="127.0.0.1")
loop = tornado.ioloop.IOLoop.current()
# SIGINT: a normal exit, so the library writes its stats line.
signal.signal(signal.SIGINT, lambda *a: loop.add_callback_from_signal(loop.stop))
loop.start()
EOF

start() { # NAME: a fresh server under the launcher; sets pid, port
	port=$(free_port)
	# AUTOSENDFILE_PRESSURE=0: every eligible write redirected (curl drains the socket)
	AUTOSENDFILE_PRESSURE=0 "$ASF_LAUNCHER" --stats "$ASF_TMP/st.$1" "$py" "$ASF_TMP/server.py" "$www" "$port" \
		>"$ASF_TMP/$1.log" 2>&1 &
	pid=$!
	wait_port "$port" || fail "$1: tornado did not listen: $(cat "$ASF_TMP/$1.log")"
}
stop() { # NAME
	kill -INT "$pid"
	wait "$pid" || fail "$1: tornado exited $?: $(cat "$ASF_TMP/$1.log")"
	pid=
	grep -q '^autosendfile: ' "$ASF_TMP/st.$1" || fail "$1: no stats line"
}
get() { # FILE
	curl -sf --max-time 30 -o "$ASF_TMP/out" "http://127.0.0.1:$port/$1" || fail "GET $1 failed"
	cmp -s "$www/$1" "$ASF_TMP/out" || fail "GET $1: received bytes differ"
}
whys() { # STATS_FILE [BEFORE_FILE]: the nonzero passthrough keys (growth since BEFORE)
	local k v out=
	for k in passthrough_bytes why_small why_not_file why_untracked why_flags why_buf_changed \
		why_file_changed why_not_eligible why_other; do
		v=$(stat_sum "$1" $k)
		[ -n "${2:-}" ] && v=$((v - $(stat_sum "$2" $k)))
		[ "$v" != 0 ] && out+=" $k=$v"
	done
	echo "${out:- nothing passed through}"
}
pct() { awk -v r="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * r / b }'; }
bad=()

# (a) 16 KiB only
start small
for _ in $(seq 1 10); do get f16k; done
stop small
red=$(stat_sum "$ASF_TMP/st.small" redirected_bytes) body=$((10 * $(size f16k)))
echo "(a) 10 x 16 KiB: byte-exact; redirected $red of $body body bytes ($(pct "$red" "$body") %);$(whys "$ASF_TMP/st.small")"
[ "$red" -ge $((body * 90 / 100)) ] || bad+=("(a) 16 KiB only")

# (b) the first large response of a process, and the ones after it
start large
n=0
for f in f1m f1m f20m; do
	n=$((n + 1))
	"$ASF_LAUNCHER" --stat "$pid" >"$ASF_TMP/c.before" || fail "--stat $pid failed"
	get $f
	"$ASF_LAUNCHER" --stat "$pid" >"$ASF_TMP/c.after" || fail "--stat $pid failed"
	red=$(($(stat_sum "$ASF_TMP/c.after" redirected_bytes) - $(stat_sum "$ASF_TMP/c.before" redirected_bytes)))
	body=$(size $f)
	echo "(b) response $n ($f): byte-exact; redirected $red of $body body bytes ($(pct "$red" "$body") %);$(whys "$ASF_TMP/c.after" "$ASF_TMP/c.before")"
	[ "$red" -ge $((body * 99 / 100)) ] || bad+=("(b) response $n ($f)")
done
stop large
[ ${#bad[@]} -eq 0 ] || fail "below the share asserted: ${bad[*]}"
echo ok
