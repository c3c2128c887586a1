#!/usr/bin/env bash
# The behaviour differences found by the adversarial review (see build/tests/review, from
# tests/e2e/review.c): each scenario runs plain and under the library, and the program must
# observe the same thing. The `obs` lines the program prints are deterministic without the
# library (timing-dependent scenarios print a property such as "wrong_blocks=0"), so they
# are compared line for line; the plain run is also checked against what it must show, so a
# broken scenario is not mistaken for a pass. Each library run also shows, from its stats,
# that the library was active (a redirected control copy, or the scenario's own copies).
#
# One line per case: "ok CASE" or "FAIL CASE: reason". REVIEW_CASES="1 3" runs a subset.
. "$(dirname "$0")/lib.sh"
: "${ASF_TESTBIN:?}" "${ASF_PRELOAD:?}" "${ASF_TMP:?}"
bin="$ASF_TESTBIN/review"
[ -x "$bin" ] || fail "$bin not built (make test-bins)"
export TMPDIR="$ASF_TMP"
cases=${REVIEW_CASES:-1 2 3 4 5 6 7 8 9 10 11 12}
# Under AddressSanitizer (check-all sets ASF_PRELOAD_PREFIX to its runtime) the scenario
# program itself aborts when a thread is cancelled inside write(), with or without the
# library: case 5 runs in the plain build only.
if [ -n "${ASF_PRELOAD_PREFIX:-}" ]; then
	cases=$(echo " $cases " | sed 's/ 5 / /')
	echo "note: case 5 (pthread_cancel) skipped under the sanitizer build"
fi
failed=0
why=() # the reasons of the case being checked

# run SCENARIO TAG [VAR=VALUE...]: the scenario plain (TAG.plain) and under the library
# (TAG.lib, stats in TAG.stats), with the same environment.
run() {
	local s=$1 tag=$2; shift 2
	rm -f "$ASF_TMP/$tag.stats"
	env "$@" timeout -s KILL 30 "$bin" "$s" >"$ASF_TMP/$tag.plain" 2>&1
	local prc=$?
	env "$@" timeout -s KILL 30 env LD_PRELOAD="$ASF_PRELOAD" \
		AUTOSENDFILE_STATS="$ASF_TMP/$tag.stats" "$bin" "$s" >"$ASF_TMP/$tag.lib" 2>&1
	local lrc=$?
	[ $prc -eq 0 ] || why+=("$tag: plain run exited $prc: $(tail -n 1 "$ASF_TMP/$tag.plain")")
	[ $lrc -eq 0 ] || why+=("$tag: library run exited $lrc: $(tail -n 1 "$ASF_TMP/$tag.lib")")
	sed 's/^/    plain:   /' "$ASF_TMP/$tag.plain"
	sed 's/^/    library: /' "$ASF_TMP/$tag.lib"
	echo "    library: $(sed 's/^autosendfile: //' "$ASF_TMP/$tag.stats" 2>/dev/null | grep -v 'redirected_bytes=0 redirected_calls=0 passthrough_bytes=0 ' | head -n 1)"
}

# same TAG: the obs lines of the two runs must be identical.
same() {
	local tag=$1 p l
	p=$(grep '^obs ' "$ASF_TMP/$tag.plain")
	l=$(grep '^obs ' "$ASF_TMP/$tag.lib")
	if [ "$p" != "$l" ]; then
		why+=("$tag: the library changes what the program sees: $(diff <(echo "$p") <(echo "$l") | grep '^[<>]' | sed 's/^< /plain: /; s/^> /library: /' | tr '\n' ';' | sed 's/;$//')")
	fi
}

# plain_has TAG LINE: the plain run must print LINE (else the scenario itself is broken).
plain_has() {
	grep -qxF "$2" "$ASF_TMP/$1.plain" || why+=("$1: the plain run does not show '$2' (scenario broken?)")
}

# redirected TAG MIN [WHAT]: the library run redirected at least MIN bytes.
redirected() {
	local got; got=$(stat_sum "$ASF_TMP/$1.stats" redirected_bytes)
	[ "$got" -ge "$2" ] || why+=("$1: redirected_bytes=$got, want >= $2: ${3:-the library did not get its chance}")
}

summary=() # the verdict lines, repeated at the end (run.sh shows a log's last 40 lines)
verdict() { # CASE
	local line
	if [ ${#why[@]} -eq 0 ]; then
		line="ok $1"
	else
		local IFS='|'
		line=$(echo "FAIL $1: ${why[*]}" | sed 's/|/ | /g')
		failed=$((failed + 1))
	fi
	echo "$line"
	summary+=("$line")
	why=()
}

ctl=$((256 * 1024)) # the control copy of review.c

for c in $cases; do
	start=$(date +%s.%N)
	case $c in
	1) # stale stdio baseline: a 64 KiB stream buffer with 8 KiB freads; the default buffer with 1 KiB
		run 1 c1
		same c1; plain_has c1 "obs 1 received_equals_buffers=yes"; redirected c1 $ctl
		run 1b c1b AUTOSENDFILE_MIN_BYTES=1024
		same c1b; plain_has c1b "obs 1b received_equals_buffers=yes"; redirected c1b $ctl ;;
	2) # the shadow is taken after the read returns: a handler overwrites the buffer meanwhile
		run 2 c2
		same c2; plain_has c2 "obs 2 blocks_received=3000 wrong_blocks=0"; redirected c2 1 ;;
	3) # a handler dup2()s another file over the source fd during the write
		run 3 c3
		same c3; plain_has c3 "obs 3 blocks_received=2560 mixed_blocks=0"; redirected c3 1
		run 3 c3chunk AUTOSENDFILE_CHUNK=4096
		same c3chunk; plain_has c3chunk "obs 3 blocks_received=2560 mixed_blocks=0"; redirected c3chunk 1 ;;
	4) # vfork: the child's dup2 must not re-point the parent's fd 1
		run 4 c4
		same c4; plain_has c4 "obs 4 write=65536 errno=0"; redirected c4 $ctl ;;
	5) # pthread_cancel of a thread blocked in a redirected write / writev
		run 5 c5
		same c5; plain_has c5 "obs 5 joined_within_2s=yes leaked_fds=0"
		run 5w c5w
		same c5w; plain_has c5w "obs 5w joined_within_2s=yes leaked_fds=0"; redirected c5w $ctl ;;
	6) # reset while the write is blocked: what write and the next calls return, in order
		run 6 c6
		same c6; plain_has c6 "obs 6 write=partial errno=0"; redirected c6 $ctl ;;
	7) # SO_SNDTIMEO: a partial count after about the timeout
		run 7 c7
		# (and the timed write itself went by sendfile, in 64 KiB calls under the deadline)
		same c7; plain_has c7 "obs 7 write=partial within_1.6s=yes"; redirected c7 $((ctl + 65536)) ;;
	8) # a full-count write stays contiguous: the handler's records only between calls
		run 8 c8
		same c8; plain_has c8 "obs 8 file_bytes_ok=yes records_inside_one_write=0"; redirected c8 1 ;;
	9) # forked children (no exec) must not inherit fds the program never opened
		run 9 c9
		same c9; plain_has c9 "obs 9 children_with_unknown_fds=0"; redirected c9 1 ;;
	10) # siglongjmp out of a blocked write: no stray fd, and the thread still redirects
		run 10 c10
		same c10; plain_has c10 "obs 10 blocked_write=longjmp out of the write leaked_fds=0"
		redirected c10 $((4 * 1024 * 1024)) "the copy after the longjmp was not redirected"
		# the control: the same run without the longjmp redirects the 4 MiB copy
		run 10nojmp c10nojmp
		same c10nojmp; redirected c10nojmp $((4 * 1024 * 1024)) ;;
	11) # the real call returns EFAULT: the process must not die
		for v in a b c; do
			run 11$v c11$v
			same c11$v; plain_has c11$v "obs 11$v write=-1 errno=EFAULT"
			plain_has c11$v "obs 11$v child=exit0"; redirected c11$v $ctl
		done ;;
	12) # (suspected) the error owed after a reset, duplicated by dup() or lost by F_SETFL
		for v in dup setfl; do
			run 12$v c12$v
			same c12$v; plain_has c12$v "obs 12$v write=partial errno=0"; redirected c12$v $ctl
		done ;;
	*) why+=("no such case") ;;
	esac
	echo "    ($(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"
	verdict "$c"
done

echo
echo "summary:"
printf '%s\n' "${summary[@]}"
[ $failed -eq 0 ] || fail "$failed case(s) failed"
echo "review ok"
