#!/usr/bin/env bash
# Squid (Debian squid 5.7), unmodified, as a caching proxy with a ufs disk cache in front of
# python3 -m http.server as the origin (not under the library). Squid runs as it ships when
# started by root: one process (-N: no daemon, no kid processes) that switches to the
# cache_effective_user proxy; LD_PRELOAD and AUTOSENDFILE_STATS are set on its command line.
# The memory cache is kept out of the way (cache_mem 1 MB, maximum_object_size_in_memory
# 1 KB), so every hit is read back from the disk cache (TCP_HIT, not TCP_MEM_HIT).
#
# What squid does on a disk hit (strace, issue 19): open(cache file, O_RDONLY), read(file,
# buf, 4096) into a heap buffer, write(sock, the same buf, 4096), again and again; the first
# block (swap metadata, stored headers, the body's first bytes) goes out as one write of the
# reply header and those first body bytes from another buffer. No SO_SNDTIMEO, no MSG_MORE.
#
# Asserted: 16 KiB, 1 MiB and 20 MB fetched through the proxy with curl, first as misses,
# then three times each as disk hits (the access log says TCP_HIT for each, after squid
# exits); every body compared with the file; from squid's live counters (autosendfile --stat,
# before and after the hits: squid drops to the proxy user and cannot append its own line to
# the root-made stats file) the bytes redirected during the hits: issue 19's goal, every hit
# byte redirected, except those in writes below AUTOSENDFILE_MIN_BYTES (4 KiB: each hit's
# last piece, and the first body bytes squid writes with the reply header), which must be
# all that passed through (why_small, or why_not_file for a first block: see below), and >= 99 % of the hit bytes. The library runs with
# AUTOSENDFILE_PRESSURE=0 (curl drains the socket: no queue-based policy holds bytes back).
. "$(dirname "$0")/lib.sh"
# Under check-all the ASan runtime is preloaded too; squid does not run under it
# (ASan reports a new-delete-type-mismatch inside squid's own Ip::Address::FreeAddr at start).
[ "$ASF_PRELOAD" = "$ASF_LIB" ] || skip "a sanitizer runtime is preloaded with the library ($ASF_PRELOAD)"
command -v curl >/dev/null || skip "curl not installed"
squid=/usr/sbin/squid
[ -x "$squid" ] || skip "squid not installed"
[ "$(id -u)" -eq 0 ] || skip "squid's cache_effective_user needs root"
id proxy >/dev/null 2>&1 || skip "no proxy user (squid's cache_effective_user)"

spid= opid=
cleanup() {
	[ -n "$spid" ] && kill -TERM -- "-$spid" 2>/dev/null && sleep 0.5 && kill -KILL -- "-$spid" 2>/dev/null
	[ -n "$opid" ] && kill "$opid" 2>/dev/null
	wait
}
trap cleanup EXIT

chmod 755 "$ASF_TMP"
www=$ASF_TMP/www d=$ASF_TMP/squid
mkdir -p "$www" "$d/cache"
chown -R proxy:proxy "$d"
make_file "$www/f16k" $((16 << 10))
make_file "$www/f1m" $((1 << 20))
make_file "$www/f20m" 20000000
size() { stat -c %s "$www/$1"; }

oport=$(free_port)
python3 -m http.server "$oport" --bind 127.0.0.1 --directory "$www" >"$ASF_TMP/origin.log" 2>&1 &
opid=$!
wait_port "$oport" || fail "origin did not listen on $oport: $(cat "$ASF_TMP/origin.log")"

port=$(free_port)
cat >"$d/squid.conf" <<EOF
http_port 127.0.0.1:$port
pid_filename $d/squid.pid
cache_effective_user proxy
cache_dir ufs $d/cache 256 16 256
cache_mem 1 MB
maximum_object_size_in_memory 1 KB
maximum_object_size 64 MB
cache_log $d/cache.log
access_log stdio:$d/access.log
cache_store_log none
coredump_dir $d
pinger_enable off
http_access allow all
refresh_pattern . 60 100% 60 override-expire override-lastmod ignore-reload
shutdown_lifetime 1 seconds
EOF
"$squid" -z -N -f "$d/squid.conf" >"$d/z.log" 2>&1 || fail "squid -z failed: $(cat "$d/z.log")"
# setsid: its own process group, so the trap can end every process of it (unlinkd too).
env LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$ASF_TMP/st" AUTOSENDFILE_PRESSURE=0 \
	setsid "$squid" -N -f "$d/squid.conf" >"$d/out.log" 2>&1 &
spid=$!
wait_port "$port" || fail "squid did not listen on $port: $(cat "$d"/*.log)"

fetch() { # FILE: one GET through the proxy, compared with the file
	curl -sf --max-time 30 -x "http://127.0.0.1:$port" -o "$ASF_TMP/out" \
		"http://127.0.0.1:$oport/$1" || fail "GET $1 through squid failed"
	cmp -s "$www/$1" "$ASF_TMP/out" || fail "GET $1: received bytes differ"
}
counters() { # OUT
	"$ASF_LAUNCHER" --stat "$spid" >"$1" || fail "--stat $spid failed: $(cat "$1")"
}

for f in f16k f1m f20m; do fetch $f; done
echo "misses: byte-exact"
sleep 0.3 # the cache files are written and closed
counters "$ASF_TMP/c.before"
hit_bytes=0
for _ in 1 2 3; do
	for f in f16k f1m f20m; do
		fetch $f
		hit_bytes=$((hit_bytes + $(size $f)))
	done
done
echo "hits: 9, byte-exact, $hit_bytes body bytes"
counters "$ASF_TMP/c.after"
cat "$ASF_TMP/c.after"
delta() { echo $(($(stat_sum "$ASF_TMP/c.after" "$1") - $(stat_sum "$ASF_TMP/c.before" "$1"))); }
red=$(delta redirected_bytes)
why=
for k in passthrough_bytes why_small why_not_file why_untracked why_flags why_buf_changed \
	why_file_changed why_not_eligible why_other; do
	v=$(delta $k)
	[ "$v" != 0 ] && why+=" $k=$v"
done
echo "hits: redirected $red of $hit_bytes hit body bytes ($(awk -v r="$red" -v b="$hit_bytes" \
	'BEGIN { printf "%.1f", 100 * r / b }') %); during the hits:${why:- (nothing passed through)}"

kill -TERM "$spid"
wait "$spid" 2>/dev/null
spid=
# The access log (flushed at exit): 3 misses, then 9 hits, every one from the disk cache.
grep -q 'TCP_MEM_HIT' "$d/access.log" && fail "a hit came from the memory cache: $(cat "$d/access.log")"
n=$(grep -c 'TCP_HIT/200' "$d/access.log")
[ "$n" -eq 9 ] || fail "$n disk hits, expected 9: $(cat "$d/access.log")"
# The first block of a hit is one write of the reply header and the body's first ~3.8 KiB
# (just over 4 KiB in all): its file part is below the split floor, so it is never
# redirected. It counts as why_small when the thread's content search looked at it, and as
# why_not_file when that search was backing off (content.h): at most one such write per hit.
small=$(delta why_small) notfile=$(delta why_not_file)
[ "$notfile" -le $((9 * 4400)) ] || fail "hits: why_not_file=$notfile, more than the 9 first blocks:$why"
small=$((small + notfile))
[ "$(delta passthrough_bytes)" = "$small" ] ||
	fail "hits: bytes passed through for another reason than why_small or a first block:$why"
[ "$red" -ge $((hit_bytes - small)) ] || fail "hits: redirected $red < $hit_bytes - $small (why_small)"
[ "$red" -ge $((hit_bytes * 99 / 100)) ] || fail "hits: redirected $red < 99 % of $hit_bytes"
echo ok
