#!/usr/bin/env bash
# node: http.createServer((q, r) => fs.createReadStream(f).pipe(r)), unmodified, under the
# launcher. libuv reads the file (64 KiB reads) on its thread pool and the main thread
# writes each piece as one writev of 4 iovecs: chunk size, CRLF, the 64 KiB, CRLF (the
# first one also carries the response header). The 1 MiB and 100 MiB files arrive byte
# for byte, and >= 95% of the body bytes went by sendfile. The files are fetched in that
# order from one server: libuv closes a file with a raw syscall(SYS_close), so the 100 MiB
# file is opened on the fd number the 1 MiB file had, unbeknown to the library.
# Then (issue 19, "node: 11-130 KB per run miss at random") 8 parallel clients fetch 25
# times each a file of 1 MiB + 12000 bytes: the last read of each response is short, and
# node's ReadStream copies a short read into a buffer of its size ("shrink to fit") before
# writing it, so that piece is found by content only, from the main thread, among the probes
# of the pool thread that read it. Asserted: every download byte-exact, and every body byte of
# this phase redirected (node's counters from autosendfile --stat around it). Before 1d8c8bb
# this failed in most runs: content.c gather() takes at most 48 candidates, other
# threads' in the order they registered, 16 per thread, so the probes of the 4th libuv pool
# thread are never looked at, and a last piece that thread read goes by the real call
# (why_not_file, 12008 bytes each: the piece and its chunk framing; found in 8 of 12 runs,
# 1 to 11 pieces each). (A last piece whose copy lands where an earlier one was is found by
# the copy record left there, which is why most of that thread's pieces still go.)
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
node=$(command -v node) || skip "node not installed"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null' EXIT

mkdir -p "$ASF_TMP/www"
make_file "$ASF_TMP/www/f1m" $((1 << 20))
make_file "$ASF_TMP/www/f100m" $((100 << 20))
make_file "$ASF_TMP/www/fodd" $(((1 << 20) + 12000))
cat >"$ASF_TMP/server.js" <<'EOF'
const http = require('http'), fs = require('fs'), path = require('path');
const dir = process.argv[2], port = Number(process.argv[3]);
http.createServer((q, r) => fs.createReadStream(path.join(dir, path.basename(q.url))).pipe(r))
	.listen(port, '127.0.0.1');
// A normal exit, so the library writes its stats line.
process.on('SIGINT', () => process.exit(0));
EOF
port=$(free_port)
# AUTOSENDFILE_PRESSURE=0: every eligible write redirected (curl drains the socket)
timeout --foreground 55 env AUTOSENDFILE_PRESSURE=0 "$ASF_LAUNCHER" --stats "$ASF_TMP/st" "$node" "$ASF_TMP/server.js" \
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

# Issue 19: parallel downloads, each ending with a short (copied) piece.
npid=$(pgrep -P "$pid" | head -n 1) # timeout's child: node (the launcher execs it)
[ -n "$npid" ] || fail "no node process under $pid"
"$ASF_LAUNCHER" --stat "$npid" >"$ASF_TMP/c.before" || fail "--stat $npid failed"
cpids=()
for c in $(seq 1 8); do
	(
		for _ in $(seq 1 25); do
			curl -sf --max-time 30 -o "$ASF_TMP/par.$c" "http://127.0.0.1:$port/fodd" || exit 1
			cmp -s "$ASF_TMP/www/fodd" "$ASF_TMP/par.$c" || exit 2
		done
	) &
	cpids+=($!)
done
for c in "${cpids[@]}"; do wait "$c" || fail "a parallel download of fodd failed or differs"; done
"$ASF_LAUNCHER" --stat "$npid" >"$ASF_TMP/c.after" || fail "--stat $npid failed"
par_body=$((8 * 25 * $(stat -c %s "$ASF_TMP/www/fodd")))
par_red=$(($(stat_sum "$ASF_TMP/c.after" redirected_bytes) - $(stat_sum "$ASF_TMP/c.before" redirected_bytes)))
par_nf=$(($(stat_sum "$ASF_TMP/c.after" why_not_file) - $(stat_sum "$ASF_TMP/c.before" why_not_file)))
echo "parallel: 200 downloads byte-exact; redirected $par_red of $par_body body bytes; why_not_file=$par_nf"
total=$((total + par_body))

kill -INT $pid
wait $pid || fail "node exited $? ($(cat "$ASF_TMP/node.log"))"
pid=
grep -q '^autosendfile: ' "$ASF_TMP/st" || fail "no stats line after SIGINT"
cat "$ASF_TMP/st"
assert_redirected "$ASF_TMP/st" "$total"
[ "$par_red" -ge "$par_body" ] ||
	fail "parallel: redirected $par_red < $par_body body bytes (why_not_file=$par_nf: last pieces missed)"
