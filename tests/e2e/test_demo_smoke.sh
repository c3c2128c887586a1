#!/usr/bin/env bash
# `make demo` in its smoke mode: demo/demo.sh --quick builds the demo programs, serves a
# file with copyserver --mode rw without and with the library (and --mode sendfile), and
# exits non-zero if any download differs from the file (cmp) or if the library sent < 90% of
# the body bytes by sendfile. Here the library runs are preloaded with $ASF_PRELOAD, so
# check-all runs them against the sanitizer build.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 not installed (the demo prints its table with it)"
rc=0
DEMO_OUT="$ASF_TMP" DEMO_PRELOAD="${ASF_PRELOAD:-$ASF_LIB}" timeout 50 bash demo/demo.sh --quick || rc=$?
[ "$rc" -eq 0 ] || fail "demo/demo.sh --quick exited $rc"
grep -q "^<svg " "$ASF_TMP/demo.svg" || fail "demo.svg missing or not an SVG"
