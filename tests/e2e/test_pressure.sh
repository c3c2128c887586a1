#!/usr/bin/env bash
# The redirect policy (src/pressure.h) with its default AUTOSENDFILE_PRESSURE, on a server
# that sends one file to one client (pressure_peer.py): every transfer byte-exact, and
#  - a read/send loop to a fast client (it asks for each piece once it has the one before:
#    the send queue is empty at every write): nothing redirected, the file's bytes counted
#    why_draining;
#  - the same loop to a slow client (4 KiB receive buffer, reads after a second, then at
#    2 MiB/s): the queue fills, and all but the first bytes go by sendfile;
#  - one write of the whole file (read whole, then sent) to the slow client: the queue cannot
#    take it, so it is a backlog before any was sent, and it goes by sendfile;
#  - sends from a shared mapping of the file (the kernel vouches, nothing to compare), to the
#    fast client: redirected anyway (on kernels with PROCMAP_QUERY, 6.11+).
. "$(dirname "$0")/lib.sh"
unset AUTOSENDFILE_PRESSURE # the suite's runner sets 0 for the other tests: the default here
PY=$(real_python)
PEER="$(dirname "$0")/pressure_peer.py"
size=$((4 << 20))
make_file "$ASF_TMP/f" "$size"

spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

# run MODE CLIENT: one transfer; its stats in $ASF_TMP/st.MODE.CLIENT
run() {
	local mode=$1 kind=$2 st="$ASF_TMP/st.$1.$2"
	rm -f "$ASF_TMP/port" "$st" "$ASF_TMP/out"
	LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" "$PY" "$PEER" serve "$mode" "$kind" \
		"$ASF_TMP/f" "$ASF_TMP/port" &
	spid=$!
	for _ in $(seq 100); do [ -s "$ASF_TMP/port" ] && break; sleep 0.05; done
	[ -s "$ASF_TMP/port" ] || fail "$mode server did not start"
	"$PY" "$PEER" fetch "$kind" "$(cat "$ASF_TMP/port")" "$ASF_TMP/out" || fail "$mode/$kind: client failed"
	wait "$spid" || fail "$mode/$kind: server failed"
	spid=
	cmp "$ASF_TMP/f" "$ASF_TMP/out" || fail "$mode/$kind: received bytes differ"
	echo "$mode/$kind: $(cat "$st")"
}

run rw fast
st="$ASF_TMP/st.rw.fast"
[ "$(stat_sum "$st" redirected_bytes)" = 0 ] || fail "rw/fast: redirected to a draining socket"
[ "$(stat_sum "$st" why_draining)" -ge $((size - 64 * 1024)) ] || fail "rw/fast: file bytes not counted why_draining"

run rw slow
st="$ASF_TMP/st.rw.slow"
[ "$(stat_sum "$st" redirected_bytes)" -ge $((size - 512 * 1024)) ] ||
	fail "rw/slow: a stalled queue was not redirected"

run whole slow
st="$ASF_TMP/st.whole.slow"
[ "$(stat_sum "$st" redirected_bytes)" -ge $((size * 9 / 10)) ] ||
	fail "whole/slow: a first write too big for the queue was not redirected"

read -r major minor _ < <(uname -r | tr '.-' '  ')
if [ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 11 ]; }; then
	run mmap fast
	assert_redirected "$ASF_TMP/st.mmap.fast" "$size"
fi
echo ok
