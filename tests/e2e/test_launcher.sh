#!/usr/bin/env bash
# The launcher: --help, --version, a missing command (127), options become env vars, and
# LD_PRELOAD keeps what was there.
. "$(dirname "$0")/lib.sh"
L=$ASF_LAUNCHER
"$L" --help | grep -q 'usage: autosendfile' || fail "--help"
"$L" --version | grep -Eq '^autosendfile [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
"$L" >/dev/null 2>&1; [ $? -eq 127 ] || fail "no command must exit 127"
"$L" /nonexistent/cmd 2>"$ASF_TMP/err"; rc=$?
[ $rc -eq 127 ] || fail "missing command exit $rc, want 127"
grep -q 'command not found' "$ASF_TMP/err" || fail "missing command message: $(cat "$ASF_TMP/err")"
"$L" --bogus true 2>/dev/null; [ $? -eq 2 ] || fail "unknown option must exit 2"
out=$(LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 "$L" --stats S --log info -- sh -c 'echo "$LD_PRELOAD|$AUTOSENDFILE_STATS|$AUTOSENDFILE_LOG"' 2>/dev/null)
# (check-all's launcher may add a sanitizer runtime between the two: allowed.)
case "$out" in
"$ASF_LIB:"*"/lib/x86_64-linux-gnu/libc.so.6|S|info") ;;
*) fail "environment passed on: $out" ;;
esac
# The command's own exit status comes back.
"$L" sh -c 'exit 7'; [ $? -eq 7 ] || fail "exit status not passed through"
# Stats to stderr, one line per process, in the documented format.
line=$("$L" --stats stderr true 2>&1 >/dev/null)
echo "$line" | grep -Eq '^autosendfile: pid=[0-9]+ redirected_bytes=0 redirected_calls=0 passthrough_bytes=0 fallbacks=0 verify_rejects=0 tls_skipped=0 source_changed=0 why_small=0 why_not_file=0 why_untracked=0 why_tls=0 why_flags=0 why_buf_changed=0 why_file_changed=0 why_not_eligible=0 why_header=0 why_tail=0 why_draining=0 why_other=0$' || fail "stats line: $line"
echo "launcher ok"
