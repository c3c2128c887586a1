#!/usr/bin/env bash
# A threaded copy-loop server loses no file chunk to the library's own locks: the demo's
# copyserver --threads 4 (four poll loops, one shared listener, each connection its own
# buffer) serves a 1 MiB file to build/tests/hammer's 8 threads, which check every body.
# Started 3 times, because the race this guards is at the start: four threads making the
# file's view at once. Before views made their descriptors outside the table lock, a
# thread preempted while holding it (8 clients + 4 server threads on 2 CPUs) kept the others
# waiting past the lock's bounded wait in most starts, and their 64 KiB writes went out by
# the real call (why_not_file > 0). Every body must be right, why_not_file and why_other
# stay 0, and redirected_bytes >= 99.5% of the bodies. (Not 100%: a read of a number that
# another thread is still closing, preempted between its close and the end of its
# generation bracket, goes untracked by design; seen at 0.01-0.11% of the bytes here.)
. "$(dirname "$0")/lib.sh"
: "${ASF_TESTBIN:?}" "${ASF_PRELOAD:?}" "${ASF_TMP:?}"
need_copyserver_hammer

root="$ASF_TMP/root"
mkdir -p "$root"
make_file "$root/f1m" $((1024 * 1024))
spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
}
trap cleanup EXIT

for run in 1 2 3; do
	st="$ASF_TMP/stats.$run"
	rm -f "$ASF_TMP/port"
	LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" \
		"$server" --root "$root" --port-file "$ASF_TMP/port" --mode rw --threads 4 \
		>"$ASF_TMP/server.out" 2>&1 &
	spid=$!
	for _ in $(seq 1 100); do [ -s "$ASF_TMP/port" ] && break; sleep 0.1; done
	port=$(cat "$ASF_TMP/port" 2>/dev/null)
	[ -n "$port" ] || fail "copyserver did not start: $(cat "$ASF_TMP/server.out")"
	out=$("$hammer" --port "$port" --path /f1m --file "$root/f1m" --threads 8 \
		--count 100000 --seconds 1.5 2>"$ASF_TMP/hammer.err") ||
		fail "run $run: hammer: $out $(cat "$ASF_TMP/hammer.err")"
	kill -TERM "$spid"
	wait "$spid" || fail "run $run: copyserver exit status $? after SIGTERM"
	spid=
	conns=$(echo "$out" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
	red=$(stat_sum "$st" redirected_bytes)
	nf=$(stat_sum "$st" why_not_file)
	other=$(stat_sum "$st" why_other)
	echo "run $run: $out; $(cat "$st")"
	[ "${conns:-0}" -gt 0 ] || fail "run $run: no connection completed"
	[ "$nf" -eq 0 ] || fail "run $run: why_not_file=$nf: file chunks went out by the real call"
	[ "$other" -eq 0 ] || fail "run $run: why_other=$other"
	body=$((conns * 1024 * 1024))
	[ "$red" -ge $((body - body / 200)) ] ||
		fail "run $run: redirected_bytes=$red < 99.5% of the $body body bytes"
done
echo "threaded server ok: 3 starts, every body checked, every chunk redirected"
