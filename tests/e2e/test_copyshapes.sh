#!/usr/bin/env bash
# Writes whose bytes are a file's copied elsewhere (issue 11: runtimes copy), by a C program
# (copyshapes.c) under the launcher: every shape's output equals the same program's without
# the library, byte for byte; the shapes that hold file bytes send >= 95% of them by
# sendfile; generated bodies (not a file's bytes, some starting like it) send none.
. "$(dirname "$0")/lib.sh"
CS="$ASF_TESTBIN/copyshapes"
[ -x "$CS" ] || fail "$CS not built"
make_file "$ASF_TMP/f" $((4 << 20))
size=$((4 << 20))

# shape, the file bytes it writes (for the share), the minimum share in percent
check() {
	local shape=$1 body=$2 want=$3
	rm -f "$ASF_TMP/st.$shape"
	"$CS" "$shape" "$ASF_TMP/f" "$ASF_TMP/plain.$shape" || fail "$shape: plain run failed"
	"$ASF_LAUNCHER" --stats "$ASF_TMP/st.$shape" "$CS" "$shape" "$ASF_TMP/f" "$ASF_TMP/out.$shape" ||
		fail "$shape: run under the library failed"
	cmp "$ASF_TMP/plain.$shape" "$ASF_TMP/out.$shape" || fail "$shape: received bytes differ"
	local got; got=$(stat_sum "$ASF_TMP/st.$shape" redirected_bytes)
	local share=$((body > 0 ? got * 100 / body : 0))
	echo "$shape: redirected $got of $body file bytes ($share%)"
	if [ "$body" -eq 0 ]; then
		[ "$got" -eq 0 ] || fail "$shape: $got bytes redirected, none expected ($(cat "$ASF_TMP/st.$shape"))"
	else
		[ "$share" -ge "$want" ] || fail "$shape: share $share% < $want% ($(cat "$ASF_TMP/st.$shape"))"
	fi
}
check copy "$size" 95
check join "$size" 95
check header "$size" 95
check tail "$size" 95
check writev "$size" 95
check chunked "$size" 95
check partial "$size" 80
check mmapcopy "$size" 95
check generated 0 0
# The bytes around redirected file bytes count as what they are (issue 21): each redirected
# call's 100-byte header as why_header, its CRLF as why_tail, nothing as a changed file.
for shape in writev chunked header; do
	st="$ASF_TMP/st.$shape"
	calls=$(stat_sum "$st" redirected_calls)
	[ "$(stat_sum "$st" why_file_changed)" = 0 ] && [ "$(stat_sum "$st" source_changed)" = 0 ] &&
		[ "$(stat_sum "$st" why_other)" = 0 ] || fail "$shape: misleading reasons: $(cat "$st")"
	case $shape in
	writev) want_h=$((100 * calls)) want_t=0 ;;
	chunked) want_h=$((100 * calls)) want_t=$((2 * calls)) ;;
	header) want_h=300 want_t=0 ;;
	esac
	[ "$(stat_sum "$st" why_header)" = "$want_h" ] && [ "$(stat_sum "$st" why_tail)" = "$want_t" ] ||
		fail "$shape: why_header/why_tail not $want_h/$want_t: $(cat "$st")"
done
# The file's bytes themselves (not only equal to the plain run).
cmp "$ASF_TMP/f" "$ASF_TMP/out.copy" || fail "copy: output is not the file"
cmp "$ASF_TMP/f" <(tail -c +301 "$ASF_TMP/out.header") || fail "header: output is not header + file"
echo ok
