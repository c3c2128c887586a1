#!/usr/bin/env bash
# The test runner of `make test`: every unit test binary (cmocka), then every end-to-end
# script, each in a fresh temp dir. Ends with the summary line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${ASF_BUILD:-build}   # check-all points this at the sanitizer build
export ASF_LIB="$top/$build/libautosendfile.so"
export ASF_LAUNCHER="$top/$build/autosendfile"
export ASF_TESTBIN="$top/$build/tests"
# What a test puts in LD_PRELOAD to load the library by hand (check-all adds the ASan runtime).
export ASF_PRELOAD="${ASF_PRELOAD_PREFIX:+$ASF_PRELOAD_PREFIX:}$ASF_LIB"
[ -n "${ASF_LAUNCHER_OVERRIDE:-}" ] && export ASF_LAUNCHER="$ASF_LAUNCHER_OVERRIDE"
# The tests must not inherit settings from the caller's shell.
unset AUTOSENDFILE AUTOSENDFILE_STATS AUTOSENDFILE_LOG AUTOSENDFILE_MIN_BYTES AUTOSENDFILE_CHUNK AUTOSENDFILE_LIVE
# The tests check what the engine can redirect, mostly with loopback clients whose queues
# drain at once, where the default policy redirects only what needs no comparison
# (src/pressure.h): they run with every write worth it redirected. test_pressure and
# unit/test_pressure check the default policy itself.
export AUTOSENDFILE_PRESSURE=0
pass=0 fail=0 skip=0 failed=()
filter=${TESTS:-}

run_one() { # name, command...
	local name=$1; shift
	[ -n "$filter" ] && [[ "$name" != *$filter* ]] && return
	local tmp log start rc
	tmp=$(mktemp -d /tmp/asf-test.XXXXXX)
	log="$tmp.log"
	start=$(date +%s.%N)
	ASF_TMP="$tmp" TMPDIR="$tmp" "$@" >"$log" 2>&1
	rc=$?
	local secs
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS  $name (${secs}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP  $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed+=("$name"); echo "FAIL  $name (exit $rc, ${secs}s)"
		sed 's/^/      | /' "$log" | tail -n 40
	fi
	rm -rf "$tmp" "$log"
}

for t in "$build"/tests/unit_test_*; do
	[ -x "$t" ] && run_one "unit/$(basename "$t" | sed 's/^unit_//')" "$t"
done
for t in tests/e2e/test_*.sh; do
	[ -f "$t" ] && run_one "e2e/$(basename "$t" .sh)" bash "$t"
done

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
