#!/bin/bash
# Differential test: difftest must produce identical per-case digests with and
# without the library, report no byte mismatch in either run, and the library
# must actually have redirected something.
# Env: ASF_LIB, ASF_TESTBIN, ASF_TMP (see tests/run.sh); DIFFTEST_CASES (default 2000),
# DIFFTEST_SEED (default 1).
set -u

fail() { echo "FAIL: $*"; exit 1; }

: "${ASF_LIB:?ASF_LIB not set}" "${ASF_TESTBIN:?ASF_TESTBIN not set}" "${ASF_TMP:?ASF_TMP not set}"
DT="$ASF_TESTBIN/difftest"
[ -x "$DT" ] || fail "$DT not built"
[ -f "$ASF_LIB" ] || fail "$ASF_LIB not built"

cases="${DIFFTEST_CASES:-2000}"
# Under AddressSanitizer (check-all sets ASF_PRELOAD_PREFIX to its runtime) the fault kind's
# program itself fails (it hands unmapped and protected buffers to the kernel on purpose,
# which the sanitizer's interceptors read first): that kind, and the mmap kind (its truncated
# windows), run in the plain build only.
skip=()
[ -n "${ASF_PRELOAD_PREFIX:-}" ] && skip=(--skip-kind fault --skip-kind mmap)
seed="${DIFFTEST_SEED:-1}"
export TMPDIR="$ASF_TMP"
stats="$ASF_TMP/difftest.stats"
rm -f "$stats"

timeout 60 "$DT" --seed "$seed" --cases "$cases" "${skip[@]}" >"$ASF_TMP/plain.out" 2>"$ASF_TMP/plain.err"
rc=$?
[ $rc -eq 0 ] || { grep -m5 '^FAIL' "$ASF_TMP/plain.out"; tail -n3 "$ASF_TMP/plain.err"; fail "plain difftest exited $rc"; }

LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$stats" \
    timeout 60 "$DT" --seed "$seed" --cases "$cases" "${skip[@]}" >"$ASF_TMP/lib.out" 2>"$ASF_TMP/lib.err"
rc=$?
if [ $rc -ne 0 ]; then
    grep -m5 '^FAIL' "$ASF_TMP/lib.out"
    tail -n3 "$ASF_TMP/lib.err"
    fail "difftest under LD_PRELOAD=$ASF_LIB exited $rc (seed $seed; rerun one case with --seed $seed --first I --cases 1 --verbose)"
fi

grep '^case ' "$ASF_TMP/plain.out" >"$ASF_TMP/plain.cases"
grep '^case ' "$ASF_TMP/lib.out" >"$ASF_TMP/lib.cases"
n=$(wc -l <"$ASF_TMP/plain.cases")
[ "$n" -eq "$cases" ] || fail "expected $cases case lines, got $n"
if ! diff "$ASF_TMP/plain.cases" "$ASF_TMP/lib.cases" >"$ASF_TMP/cases.diff"; then
    head -n 10 "$ASF_TMP/cases.diff"
    fail "per-case digests differ with the library (seed $seed)"
fi

# Each adversity (see the header of difftest.c) must have happened in both runs: a raw
# close_range above the program's descriptors (and a number it freed taken again), a SIGALRM
# handler installed by the raw rt_sigaction (x86-64) that ran, copy loops with every signal
# blocked (in a fault child too, with writes from unreadable buffers, unless the fault kind is
# skipped), and cases holding extra descriptors.
# Asserted from 1000 cases on (the default run has 2000); fewer cases only print the counts.
adv_check() { # RUN-NAME OUTPUT-FILE
    local line k v
    line=$(grep -m1 '^difftest: adversities ' "$2")
    [ -n "$line" ] || fail "$1 run printed no adversities line"
    local keys=(close_range_cases close_range_calls close_range_reuse blocked_cases blocked_thread blocked_main fds_cases fds_held)
    [ "$(uname -m)" = x86_64 ] && keys+=(rawsig_cases rawsig_ran)
    [ ${#skip[@]} -eq 0 ] && keys+=(blocked_child blocked_faults)
    for k in "${keys[@]}"; do
        v=$(printf '%s\n' "$line" | sed -n "s/.* $k=\([0-9][0-9]*\).*/\1/p")
        [ -n "$v" ] || fail "$1 run: no $k in: $line"
        [ "$cases" -lt 1000 ] || [ "$v" -gt 0 ] || fail "$1 run: adversity count $k is 0: $line"
    done
    echo "$1: $line"
}
adv_check plain "$ASF_TMP/plain.out"
adv_check library "$ASF_TMP/lib.out"

[ -s "$stats" ] || fail "no stats written to $stats"
line=$(grep -m1 'autosendfile:.*redirected_bytes=' "$stats")
[ -n "$line" ] || { cat "$stats"; fail "no stats line in $stats"; }
red=$(printf '%s\n' "$line" | sed -n 's/.* redirected_bytes=\([0-9][0-9]*\).*/\1/p')
[ -n "$red" ] || fail "cannot parse redirected_bytes from: $line"
[ "$red" -gt 0 ] || fail "library redirected nothing: $line"

echo "ok: $cases cases (seed $seed), digests identical, $line"
exit 0
