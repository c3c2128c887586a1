#!/usr/bin/env bash
# make check-all: after `make test`, the same suites against an AddressSanitizer+UBSan
# build, the threaded tests under ThreadSanitizer, a 60 s libFuzzer run of the tracking
# engine, then the library under valgrind memcheck in real transfers. Any report fails.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rc=0
log=$(mktemp /tmp/asf-check-all.XXXXXX)
trap 'rm -f "$log"' EXIT

echo "== ASan + UBSan: unit and end-to-end suites against build-asan/"
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
make -s B=build-asan OPT="-O1 -g" EXTRA_CFLAGS="$san" test-bins || exit 1
asan_rt=$(gcc -print-file-name=libasan.so)
# Programs that are not built with ASan (python, nc, the launcher) need the runtime
# preloaded; the launcher puts our library before it, hence verify_asan_link_order=0.
# Leak reports of foreign programs are not ours: leaks are checked by the unit tests (built
# with ASan) and by valgrind below, where only our library and our test programs run.
wrapper="$top/build-asan/autosendfile-with-asan"
cat >"$wrapper" <<EOT
#!/bin/sh
LD_PRELOAD="$asan_rt\${LD_PRELOAD:+:\$LD_PRELOAD}" exec "$top/build-asan/autosendfile" "\$@"
EOT
chmod +x "$wrapper"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0:exitcode=86
ASF_BUILD=build-asan ASF_PRELOAD_PREFIX="$asan_rt" ASF_LAUNCHER_OVERRIDE="$wrapper" \
	TESTS="${TESTS:-}" bash tests/run.sh | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
unset UBSAN_OPTIONS ASAN_OPTIONS

echo "== ThreadSanitizer: the threaded tests against build-tsan/"
# gcc's TSan does not model atomic_thread_fence (the seqlock's fences): -Wno-tsan. The
# by-design byte race of the seqlock and TSan's blindness to the raw-syscall pin are
# suppressed in tests/tsan.supp, each with its reason.
make -s B=build-tsan OPT="-O1 -g" EXTRA_CFLAGS="-fsanitize=thread -Wno-error=tsan -Wno-tsan" \
	all build-tsan/tests/lifecycle build-tsan/tests/difftest || exit 1
tsan_pass=0 tsan_fail=0
for t in "lifecycle threads" "lifecycle fork_child_writes" "difftest --seed 4 --cases 300 --only thread" \
	"difftest --seed 5 --cases 200 --only vec"; do
	out=$(mktemp /tmp/asf-tsan.XXXXXX)
	TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0 exitcode=66 suppressions=$top/tests/tsan.supp" \
		LD_PRELOAD="$top/build-tsan/libautosendfile.so" timeout 300 "$top/build-tsan/tests/"$t >"$out" 2>&1
	trc=$?
	if [ $trc -eq 0 ] && ! grep -q 'WARNING: ThreadSanitizer' "$out"; then
		tsan_pass=$((tsan_pass + 1)); echo "PASS  tsan/$t"
	else
		tsan_fail=$((tsan_fail + 1)); rc=1; echo "FAIL  tsan/$t (exit $trc)"; grep -A30 'WARNING: ThreadSanitizer' "$out" | head -60
	fi
	rm -f "$out"
done
echo "tsan: $tsan_pass passed, $tsan_fail failed" | tee -a "$log"

echo "== libFuzzer: the tracking engine against its reference model"
FUZZ_SECONDS=${FUZZ_SECONDS:-60} bash tests/fuzz/run.sh
frc=$?
if [ $frc -eq 0 ]; then
	echo "fuzz: 1 passed, 0 failed" | tee -a "$log"
elif [ $frc -eq 77 ]; then
	echo "fuzz: skipped (no clang-14)"
else
	echo "fuzz: 0 passed, 1 failed" | tee -a "$log"
	rc=1
fi

echo "== valgrind memcheck: the library in real transfers"
bash tests/valgrind.sh | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1

# One closing line for both runs (make test printed its own before).
p=$(sed -n 's/^\([a-z]*: \)\{0,1\}\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$log" | awk '{s+=$1} END {print s+0}')
f=$(sed -n 's/^\([a-z]*: \)\{0,1\}\([0-9]*\) passed, \([0-9]*\) failed.*/\3/p' "$log" | awk '{s+=$1} END {print s+0}')
[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1 # a run that failed without counting still fails
echo
echo "check-all: $p passed, $f failed"
exit $rc
