#!/usr/bin/env bash
# make fuzz: builds the libFuzzer target tests/fuzz/fuzz_records.c (clang, ASan + UBSan +
# libFuzzer) against the library's internals into build/fuzz/, runs it for FUZZ_SECONDS
# (default 60) from the seed corpus tests/fuzz/corpus/, prints one summary line and exits
# non-zero if the fuzzer found anything (an abort of the reference model, a sanitizer
# report, a timeout or out-of-memory).
#
# Environment:
#   FUZZ_SECONDS   how long to fuzz (default 60)
#   FUZZ_SRC       the sources to test (default src/; a scratch copy for mutation checks)
#   FUZZ_OUT       build/output dir (default build/fuzz)
#   FUZZ_CC        the compiler (default clang-14, else clang)
#   FUZZ_ARGS      extra libFuzzer arguments (e.g. -seed=1, -jobs=2)
#   FUZZ_CFLAGS    extra compiler flags (e.g. -DFUZZ_ONLY_BYTES, see fuzz_records.c)
#   ASF_FUZZ_RAW=1 also re-point fds behind the library's back (see fuzz_records.c)
#   FUZZ_VERIFY    full (default), sample or none: the AUTOSENDFILE_VERIFY mode fuzzed
#   TMPDIR         where the model's three files live (default /tmp): the proof reads real
#                  files, so it must be a file system the library tracks (ext4, xfs, tmpfs...)
# A mutation check: FUZZ_SRC=<a copy of src with one change> FUZZ_CFLAGS=-DFUZZ_ONLY_BYTES
# FUZZ_OUT=build/fuzz-mut must fail (e.g. proof.c's asf_prove always saying EQUAL is found
# in a few runs).
# Exit: 0 clean, 1 finding, 2 build failure, 77 no clang with libFuzzer.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${FUZZ_SECONDS:-60}
src=${FUZZ_SRC:-src}
out=${FUZZ_OUT:-build/fuzz}
cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
	if command -v clang-14 >/dev/null 2>&1; then cc=clang-14
	elif command -v clang >/dev/null 2>&1; then cc=clang
	else echo "fuzz: SKIP (no clang)"; exit 77; fi
fi
mkdir -p "$out/corpus" || exit 2

# The internals the unit tests link too: every src/*.c but the exported wrappers, the
# constructor and the launcher.
srcs=()
for f in "$src"/*.c; do
	case $(basename "$f") in
	wrap_*.c | init.c | launcher*.c) ;;
	*) srcs+=("$f") ;;
	esac
done
flags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1 -std=gnu11 -Wall -Wextra
	-Iinclude -I"$src" -pthread ${FUZZ_CFLAGS:-})
bin="$out/fuzz_records"
if ! "$cc" "${flags[@]}" -o "$bin" tests/fuzz/fuzz_records.c "${srcs[@]}" -ldl 2>"$out/build.log"; then
	cat "$out/build.log"
	if grep -q "fuzzer" "$out/build.log" && ! grep -q "error:" "$out/build.log"; then
		echo "fuzz: SKIP ($cc cannot link libFuzzer)"; exit 77
	fi
	echo "fuzz: FAILED (build)"; exit 2
fi

log="$out/fuzz.log"
rm -f "$out"/crash-* "$out"/timeout-* "$out"/oom-* "$out"/leak-*
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# New inputs go to $out/corpus (kept between runs); tests/fuzz/corpus only seeds.
# shellcheck disable=SC2086
FUZZ_STATS=1 "$bin" -max_total_time="$secs" -max_len=2048 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$out/" ${FUZZ_ARGS:-} \
	"$out/corpus" tests/fuzz/corpus >"$log" 2>&1
rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
corp=$(ls "$out/corpus" | wc -l)
model=$(grep '^fuzz_records: iterations=' "$log" | tail -n 1 | sed 's/^fuzz_records: //')
artifact=$(ls "$out"/crash-* "$out"/timeout-* "$out"/oom-* "$out"/leak-* 2>/dev/null | head -n 1)
if [ $rc -ne 0 ] || [ -n "$artifact" ]; then
	grep -m1 -A12 -E 'FINDING|ERROR: (AddressSanitizer|libFuzzer)|runtime error' "$log" | sed 's/^/  | /'
	echo "fuzz: FAILED after ${runs:-?} runs (exit $rc): ${artifact:-no artifact}; log $log"
	echo "      replay: FUZZ_TRACE=1 $bin ${artifact:-CRASH_FILE}"
	exit 1
fi
echo "fuzz: OK ${secs}s runs=${runs:-?} cov=${cov:-?} ft=${ft:-?} corpus=$corp ${model}"
exit 0
