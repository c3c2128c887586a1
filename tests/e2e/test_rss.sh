#!/usr/bin/env bash
# RSS of a server under the library stays flat across 100,000 connections: the demo's
# copyserver (--mode rw: read + write copy loop, a 64 KiB file) runs under the library;
# build/tests/hammer drives short requests (connect, GET, read all, check the body, close)
# from 4 threads. VmRSS of the server is sampled after 10,000 connections and again after
# 100,000 (or as many as fit in the time budget, stated in the output): growth < 2 MiB, no
# request failed, and the stats show redirected bytes.
. "$(dirname "$0")/lib.sh"
: "${ASF_TESTBIN:?}" "${ASF_PRELOAD:?}" "${ASF_TMP:?}"
need_copyserver_hammer
WARM=10000 TOTAL=100000 LIMIT_KIB=2048
BUDGET=${RSS_BUDGET:-40} # seconds for all the connections (the first 10,000: at most 12)

root="$ASF_TMP/root"
mkdir -p "$root"
make_file "$root/f64k" 65536
st="$ASF_TMP/stats"
spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
}
trap cleanup EXIT

LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" \
	"$server" --root "$root" --port-file "$ASF_TMP/port" --mode rw >"$ASF_TMP/server.out" 2>&1 &
spid=$!
for _ in $(seq 1 100); do [ -s "$ASF_TMP/port" ] && break; sleep 0.1; done
port=$(cat "$ASF_TMP/port" 2>/dev/null)
[ -n "$port" ] || fail "copyserver did not start: $(cat "$ASF_TMP/server.out")"
kill -0 "$spid" 2>/dev/null || fail "copyserver died: $(cat "$ASF_TMP/server.out")"

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$spid/status" 2>/dev/null; }

# hammer COUNT SECONDS: prints the hammer line, fails on any bad answer.
hammer() {
	local out
	out=$("$hammer" --port "$port" --path /f64k --file "$root/f64k" --threads 4 \
		--count "$1" --seconds "$2" 2>"$ASF_TMP/hammer.err")
	local rc=$?
	echo "$out"
	[ $rc -eq 0 ] || fail "hammer: exit $rc: $out $(cat "$ASF_TMP/hammer.err")"
}
conns() { sed -n 's/.*connections=\([0-9]*\).*/\1/p'; }

r0=$(rss)
h1=$(hammer $WARM 12) || { echo "$h1"; exit 1; }
n1=$(echo "$h1" | conns)
r1=$(rss)
[ -n "$r1" ] || fail "copyserver died after $n1 connections"
echo "after $n1 connections: VmRSS ${r1} KiB (at start ${r0} KiB); $h1"
left=$(echo "$h1" | awk -v b="$BUDGET" '{ for (i = 1; i <= NF; i++) if ($i ~ /^seconds=/) { split($i, a, "="); s = a[2] } } END { l = b - s; if (l < 5) l = 5; printf "%.1f", l }')
h2=$(hammer $((TOTAL - n1)) "$left") || { echo "$h2"; exit 1; }
n2=$(echo "$h2" | conns)
r2=$(rss)
[ -n "$r2" ] || fail "copyserver died after $((n1 + n2)) connections"
total=$((n1 + n2))
echo "after $total connections: VmRSS ${r2} KiB; $h2"
[ "$total" -ge $TOTAL ] ||
	echo "NOTE: only $total of $TOTAL connections fit in the time budget (rate: see above)"

kill -TERM "$spid"
wait "$spid"
src=$?
spid=
[ $src -eq 0 ] || fail "copyserver exit status $src after SIGTERM"
red=$(stat_sum "$st" redirected_bytes)
echo "server stats: $(cat "$st" 2>/dev/null)"
[ "$red" -gt 0 ] || fail "redirected_bytes=0: the library did not redirect"

growth=$((r2 - r1))
[ "$growth" -lt $LIMIT_KIB ] ||
	fail "VmRSS grew by $growth KiB between $n1 and $total connections (limit $LIMIT_KIB KiB)"
echo "rss ok: VmRSS grew by $growth KiB between $n1 and $total connections (limit $LIMIT_KIB KiB)"
