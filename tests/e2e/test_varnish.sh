#!/usr/bin/env bash
# Varnish (Debian varnish 7.1), unmodified, with file storage (-s file,PATH,SIZE), in front of
# python3 -m http.server as the origin (not under the library). varnishd runs as it ships: a
# root manager, a cache child (forked, not executed, so it keeps LD_PRELOAD) that jails itself
# to the vcache user; LD_PRELOAD and AUTOSENDFILE_STATS are set on its command line.
#
# What varnish does on a hit (strace, issue 19): the cache child maps the storage file
# MAP_SHARED, PROT_READ|PROT_WRITE (opened O_RDWR by the manager), and a worker thread sends
# the response as one writev([27 header iovecs..., the whole body]) whose body iovec points
# straight into that mapping; the client socket carries SO_SNDTIMEO (set on the listening
# socket, inherited by accept). A miss streams the body from the mapping as the fetch fills
# it (writev of one iovec per piece).
#
# Sending from that file is unsafe: varnish may store new bytes into the storage (LRU
# reuse, a new object) after the writev returned, while sendfile's page references are still
# queued, and the client would get the new bytes. So the library never sends from a file whose
# page cache is the program's writable buffer (docs/DESIGN.md, "Limits"), and issue 19's share
# goal for varnish hits is not reachable (docs/ISSUE-19-FINDINGS.md).
#
# Asserted: 16 KiB, 1 MiB and 20 MB fetched with curl, first as misses, then three times each
# as hits (X-Varnish carries two transaction ids on a hit); every body compared with the file;
# and, from the cache child's live counters (autosendfile --stat: the child is stopped by its
# manager and never writes a stats line), that it redirected nothing at all: every body byte
# it sends lies in the storage mapping. AUTOSENDFILE_PRESSURE=0, so that no policy about the
# socket's queue is what holds the bytes back.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
varnishd=/usr/sbin/varnishd
[ -x "$varnishd" ] || skip "varnish not installed"
command -v cc >/dev/null || skip "no C compiler (varnishd compiles its VCL with cc)"

vpid= opid=
cleanup() {
	[ -n "$vpid" ] && kill -TERM -- "-$vpid" 2>/dev/null && sleep 0.5 && kill -KILL -- "-$vpid" 2>/dev/null
	[ -n "$opid" ] && kill "$opid" 2>/dev/null
	wait
}
trap cleanup EXIT

# The cache child runs as vcache: it must reach the work directory in the temp dir.
chmod 755 "$ASF_TMP"
www=$ASF_TMP/www d=$ASF_TMP/varnish
mkdir -p "$www" "$d"
make_file "$www/f16k" $((16 << 10))
make_file "$www/f1m" $((1 << 20))
make_file "$www/f20m" 20000000
chmod 755 "$www" && chmod 644 "$www"/*
size() { stat -c %s "$www/$1"; }

oport=$(free_port)
python3 -m http.server "$oport" --bind 127.0.0.1 --directory "$www" >"$d/origin.log" 2>&1 &
opid=$!
wait_port "$oport" || fail "origin did not listen on $oport: $(cat "$d/origin.log")"

cat >"$d/default.vcl" <<EOF
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$oport"; }
EOF
port=$(free_port)
st=$ASF_TMP/st
# setsid: its own process group, so the trap can end every process of it.
env LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" AUTOSENDFILE_PRESSURE=0 \
	setsid "$varnishd" -F -n "$d/work" -a "127.0.0.1:$port" -f "$d/default.vcl" \
	-s "file,$d/storage.bin,64M" >"$d/varnishd.log" 2>&1 &
vpid=$!
wait_port "$port" || { sleep 5; wait_port "$port"; } || fail "varnishd did not listen on $port: $(cat "$d/varnishd.log")"
child=
for _ in $(seq 1 50); do
	child=$(sed -n 's/.*Child (\([0-9]*\)) Started.*/\1/p' "$d/varnishd.log" | tail -n 1)
	[ -n "$child" ] && break
	sleep 0.1
done
[ -n "$child" ] || fail "no cache child in the log: $(cat "$d/varnishd.log")"
echo "varnishd manager $vpid, cache child $child, port $port, origin $oport"

fetch() { # FILE miss|hit: one GET, compared with the file; a hit must be one
	local out=$ASF_TMP/out.$1 xv
	curl -sf --max-time 30 -D "$ASF_TMP/hdr" -o "$out" "http://127.0.0.1:$port/$1" || fail "GET $1 failed"
	cmp -s "$www/$1" "$out" || fail "GET $1 ($2): received bytes differ"
	rm -f "$out"
	xv=$(sed -n 's/^[Xx]-[Vv]arnish: *\([0-9 ]*\).*/\1/p' "$ASF_TMP/hdr" | tr -d '\r')
	if [ "$2" = hit ]; then
		[ "$(wc -w <<<"$xv")" -eq 2 ] || fail "GET $1: not a cache hit (X-Varnish: $xv)"
	fi
}

counters() { # OUT: the cache child's live counters
	"$ASF_LAUNCHER" --stat "$child" >"$1" || fail "--stat $child failed: $(cat "$1")"
}
delta() { # KEY: its growth from $ASF_TMP/c.before to $ASF_TMP/c.after
	echo $(($(stat_sum "$ASF_TMP/c.after" "$1") - $(stat_sum "$ASF_TMP/c.before" "$1")))
}

for f in f16k f1m f20m; do fetch $f miss; done
echo "misses: byte-exact"
sleep 0.2
counters "$ASF_TMP/c.before"
hit_bytes=0
for _ in 1 2 3; do
	for f in f16k f1m f20m; do
		fetch $f hit
		hit_bytes=$((hit_bytes + $(size $f)))
	done
done
echo "hits: 9, byte-exact, $hit_bytes body bytes"
sleep 0.2
counters "$ASF_TMP/c.after"
cat "$ASF_TMP/c.after"
red=$(delta redirected_bytes)
why=
for k in passthrough_bytes why_small why_not_file why_untracked why_flags why_buf_changed \
	why_file_changed why_not_eligible why_other; do
	v=$(delta $k)
	[ "$v" != 0 ] && why+=" $k=$v"
done
echo "hits: redirected $red of $hit_bytes hit body bytes ($(awk -v r="$red" -v b="$hit_bytes" \
	'BEGIN { printf "%.1f", 100 * r / b }') %); during the hits:${why:- (nothing passed through)}"

kill -TERM "$vpid"
wait "$vpid" 2>/dev/null
vpid=
total=$(stat_sum "$ASF_TMP/c.after" redirected_bytes)
[ "$total" -eq 0 ] || fail "the cache child redirected $total bytes (misses and hits): sent from its writable storage file"
echo ok
