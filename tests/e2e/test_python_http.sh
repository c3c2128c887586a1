#!/usr/bin/env bash
# `python3 -m http.server`, unmodified, under the launcher, fetched with curl: 1 MiB and
# 100 MiB files arrive byte for byte and >= 95% of the body bytes went by sendfile.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
py=$(real_python) || skip "python3 not installed"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null' EXIT

mkdir -p "$ASF_TMP/www"
make_file "$ASF_TMP/www/f1m" $((1 << 20))
make_file "$ASF_TMP/www/f100m" $((100 << 20))
port=$(free_port)
(cd "$ASF_TMP/www" && exec timeout --foreground 120 "$ASF_LAUNCHER" --stats "$ASF_TMP/st" "$py" -m http.server -b 127.0.0.1 "$port") >/dev/null 2>&1 &
pid=$!
wait_port "$port" || fail "http.server did not listen on $port"
total=0
for f in f1m f100m; do
	curl -sf --max-time 60 -o "$ASF_TMP/out.$f" "http://127.0.0.1:$port/$f" || fail "curl $f failed"
	cmp "$ASF_TMP/www/$f" "$ASF_TMP/out.$f" || fail "$f: received bytes differ"
	total=$((total + $(stat -c %s "$ASF_TMP/www/$f")))
done
# SIGINT: python exits normally (KeyboardInterrupt), so the stats line is written. (timeout
# --foreground passes one SIGINT on; plain timeout would signal the whole group a second
# time and python, hit again while exiting, would die by the signal without the line.)
kill -INT $pid
wait $pid
pid=
assert_redirected "$ASF_TMP/st" "$total"
