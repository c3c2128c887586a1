#!/usr/bin/env bash
# node: http.createServer((q, r) => fs.createReadStream(f).pipe(r)), unmodified, under the
# launcher. libuv reads the file (64 KiB reads) on its thread pool and the main thread
# writes each piece as one writev of 4 iovecs: chunk size, CRLF, the 64 KiB, CRLF (the
# first one also carries the response header). The 1 MiB and 100 MiB files arrive byte
# for byte, and >= 95% of the body bytes went by sendfile. The files are fetched in that
# order from one server: libuv closes a file with a raw syscall(SYS_close), so the 100 MiB
# file is opened on the fd number the 1 MiB file had, unbeknown to the library.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
node=$(command -v node) || skip "node not installed"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null' EXIT

mkdir -p "$ASF_TMP/www"
make_file "$ASF_TMP/www/f1m" $((1 << 20))
make_file "$ASF_TMP/www/f100m" $((100 << 20))
cat >"$ASF_TMP/server.js" <<'EOF'
const http = require('http'), fs = require('fs'), path = require('path');
const dir = process.argv[2], port = Number(process.argv[3]);
http.createServer((q, r) => fs.createReadStream(path.join(dir, path.basename(q.url))).pipe(r))
	.listen(port, '127.0.0.1');
// A normal exit, so the library writes its stats line.
process.on('SIGINT', () => process.exit(0));
EOF
port=$(free_port)
timeout --foreground 55 "$ASF_LAUNCHER" --stats "$ASF_TMP/st" "$node" "$ASF_TMP/server.js" \
	"$ASF_TMP/www" "$port" >"$ASF_TMP/node.log" 2>&1 &
pid=$!
wait_port "$port" || fail "node did not listen on $port: $(cat "$ASF_TMP/node.log")"
total=0
for f in f1m f100m; do
	curl -sf --max-time 40 -o "$ASF_TMP/out.$f" "http://127.0.0.1:$port/$f" || fail "curl $f failed"
	cmp "$ASF_TMP/www/$f" "$ASF_TMP/out.$f" || fail "$f: received bytes differ"
	rm -f "$ASF_TMP/out.$f"
	total=$((total + $(stat -c %s "$ASF_TMP/www/$f")))
done
kill -INT $pid
wait $pid || fail "node exited $? ($(cat "$ASF_TMP/node.log"))"
pid=
grep -q '^autosendfile: ' "$ASF_TMP/st" || fail "no stats line after SIGINT"
cat "$ASF_TMP/st"
assert_redirected "$ASF_TMP/st" "$total"
