#!/usr/bin/env bash
# Many threads blocked at once in redirected writes to clients that stopped reading (a
# thread-per-connection server under 200 stalled clients), then one more transfer
# (stalledslots.c): a thread blocked in a send must not hold one of the library's few proof
# buffers. Before the fix, 24 blocked threads held all 16, and every later write went by the
# real call (why_other, why_not_file): SBCL redirected a quarter of its bytes. Asserted: the
# same output plain and under the library, every byte the reader got is the file's, and no
# write of 4 KiB or more was left to the real call for want of a buffer.
. "$(dirname "$0")/lib.sh"
bin="$ASF_TESTBIN/stalledslots"
[ -x "$bin" ] || fail "$bin not built"
size=$((2 << 20))
make_file "$ASF_TMP/f" "$size"
timeout -s KILL 60 "$bin" "$ASF_TMP/f" 24 >"$ASF_TMP/plain" || fail "plain run failed"
timeout -s KILL 60 "$ASF_LAUNCHER" --stats "$ASF_TMP/st" "$bin" "$ASF_TMP/f" 24 >"$ASF_TMP/lib" ||
	fail "run under the library failed"
cmp -s "$ASF_TMP/plain" "$ASF_TMP/lib" || fail "output differs: $(cat "$ASF_TMP/plain") vs $(cat "$ASF_TMP/lib")"
cat "$ASF_TMP/st"
for key in why_other why_not_file; do
	v=$(stat_sum "$ASF_TMP/st" "$key")
	[ "$v" = 0 ] || fail "$key=$v: writes found no proof buffer while threads were blocked in sends"
done
[ "$(stat_sum "$ASF_TMP/st" redirected_bytes)" -ge $((2 * size)) ] || fail "the last transfer was not redirected"
echo ok
