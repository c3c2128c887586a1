#!/usr/bin/env bash
# Faults: the source file truncated / extended / rewritten between the read and the write
# (and while written bytes are still queued), RLIMIT_NOFILE at its limit, huge fd numbers,
# a peer that resets during a large blocking write. build/tests/faults checks itself (what
# the receiver got == what the program's buffer held at each write). It runs plain and under
# the library (single-threaded and with an idle thread, which makes the library pin each
# source with a dup), then each scenario alone under the library with its own stats.
. "$(dirname "$0")/lib.sh"
: "${ASF_TESTBIN:?}" "${ASF_PRELOAD:?}" "${ASF_TMP:?}"
bin="$ASF_TESTBIN/faults"
[ -x "$bin" ] || fail "$bin not built (make test-bins)"
export TMPDIR="$ASF_TMP" FAULTS_TIMEOUT=20
scenarios=$("$bin" --list) || fail "faults --list"
errors=0
err() { echo "FAIL: $*"; errors=$((errors + 1)); }

# run_check LABEL OUT RC: exit 0, and an "ok" or "skip" line for every scenario.
run_check() {
	local label=$1 out=$2 rc=$3 s
	if [ "$rc" -ne 0 ]; then
		err "$label: exit $rc"
		grep -v '^ok \|^info \|^class ' "$out" | sed 's/^/    /' | head -n 20
	fi
	for s in $scenarios; do
		grep -q "^ok $s\$\|^skip $s:" "$out" || { [ "$rc" -ne 0 ] || err "$label: no 'ok $s'"; }
	done
}

# 1. Plain: the program's own expectations hold without the library.
timeout 40 "$bin" >"$ASF_TMP/plain.out" 2>&1
run_check "plain run" "$ASF_TMP/plain.out" $?
grep '^skip ' "$ASF_TMP/plain.out"

# 2. Under the library: single-threaded (no pin), then threaded (pin per write).
for mode in single threaded; do
	arg=; [ $mode = threaded ] && arg=--threaded
	st="$ASF_TMP/stats.$mode"
	LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" timeout 40 "$bin" $arg \
		>"$ASF_TMP/lib.$mode.out" 2>&1
	run_check "library run ($mode)" "$ASF_TMP/lib.$mode.out" $?
	red=$(stat_sum "$st" redirected_bytes)
	[ "$red" -gt 0 ] || err "library run ($mode): redirected_bytes=0 ($(cat "$st" 2>/dev/null))"
	echo "library run ($mode): $(sed 's/^autosendfile: //' "$st" 2>/dev/null)"
done
# (d) the hazard shared with every sendfile server: printed, not failed.
grep -h '^info d_' "$ASF_TMP/plain.out" | sed 's/^/plain:   /'
grep -h '^info d_' "$ASF_TMP/lib.single.out" | sed 's/^/library: /'

# 3. (g) The behaviour class of a reset during a blocking write must be the same.
for s in g_rst_write g_rst_send; do
	p=$(grep "^class $s:" "$ASF_TMP/plain.out")
	for mode in single threaded; do
		l=$(grep "^class $s:" "$ASF_TMP/lib.$mode.out")
		[ -z "$p" ] || [ -z "$l" ] && continue # the run itself failed: reported above
		if [ "$p" != "$l" ]; then
			err "$s ($mode): the library changes the behaviour class"
			echo "    plain:   ${p#class }   ($(grep "^info $s:" "$ASF_TMP/plain.out" | sed 's/^info [^:]*: //'))"
			echo "    library: ${l#class }   ($(grep "^info $s:" "$ASF_TMP/lib.$mode.out" | sed 's/^info [^:]*: //'))"
		fi
	done
done

# 4. Each scenario alone under the library (threaded), with its own stats.
must_redirect="h_offsets i_bad_vectors a_trunc_zero a_trunc_half b_append c_rewrite d_rewrite d_truncate e_fdlimit_one_free f_page_edges f_high_fds f_huge_fds g_rst_write g_rst_send"
# (b_append: bytes added at the end change none that were read: sending them is right)
must_notice="a_trunc_zero a_trunc_half c_rewrite" # source_changed + verify_rejects > 0
for s in $scenarios; do
	st="$ASF_TMP/stats.$s"
	LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" timeout 40 "$bin" --threaded "$s" \
		>"$ASF_TMP/one.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || { err "$s alone under the library: exit $rc"; sed 's/^/    /' "$ASF_TMP/one.out" | head -n 5; continue; }
	grep -q "^skip $s:" "$ASF_TMP/one.out" && continue
	red=$(stat_sum "$st" redirected_bytes)
	chg=$(( $(stat_sum "$st" source_changed) + $(stat_sum "$st" verify_rejects) ))
	case " $must_redirect " in
	*" $s "*) [ "$red" -gt 0 ] || err "$s: redirected_bytes=0, want > 0 ($(cat "$st" 2>/dev/null))" ;;
	esac
	case " $must_notice " in
	*" $s "*) [ "$chg" -gt 0 ] || err "$s: source_changed+verify_rejects=0: the change was not noticed ($(cat "$st" 2>/dev/null))" ;;
	esac
	case $s in
	e_fdlimit_*) echo "$s: $(grep "^info $s:" "$ASF_TMP/one.out" | sed 's/^info [^:]*: //'); library: redirected_bytes=$red passthrough_bytes=$(stat_sum "$st" passthrough_bytes)" ;;
	f_beyond_table) [ "$red" -eq 0 ] || err "$s: redirected_bytes=$red for fds above the table, want 0" ;;
	h_offsets) # reads 1, 3 and 4 start where a seen read or lseek left the offset
		calls=$(stat_sum "$st" redirected_calls)
		[ "$calls" -ge 3 ] || err "$s: redirected_calls=$calls, want >= 3 ($(cat "$st" 2>/dev/null))"
		echo "$s: redirected_calls=$calls of 8 large writes" ;;
	esac
done

# 5. A change made through a MAP_SHARED mapping whose page is already dirty and writable
# updates no ctime; the library compares the buffer with the file's page cache itself
# (src/source.c), so it still sends the buffer's bytes.
LD_PRELOAD="$ASF_PRELOAD" timeout 40 "$bin" c_mmap >"$ASF_TMP/mmap.out" 2>&1 ||
	err "c_mmap under the library: $(grep c_mmap "$ASF_TMP/mmap.out")"
grep -q '^ok c_mmap' "$ASF_TMP/mmap.out" || err "c_mmap under the library: $(cat "$ASF_TMP/mmap.out" | tail -n 3)"

[ $errors -eq 0 ] || fail "$errors check(s) failed"
echo "faults ok"
