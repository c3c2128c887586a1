#!/usr/bin/env bash
# Per-program selection for wide preloads: AUTOSENDFILE_ONLY / AUTOSENDFILE_SKIP by program
# name. The copy-loop server (program name "copyloop") redirects only when selected; bytes
# are identical either way. Also AUTOSENDFILE_VERIFY=sample|none still send exact bytes for
# a loop that does not touch its buffer, and bad values warn once.
. "$(dirname "$0")/lib.sh"
CL="$ASF_TESTBIN/copyloop"
[ -x "$CL" ] || fail "$CL not built"
make_file "$ASF_TMP/f" $((2 << 20))
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null' EXIT

serve() { # NAME ENV... : runs copyloop under the library with ENV, returns redirected bytes
	local name=$1; shift
	local pf="$ASF_TMP/port.$name" st="$ASF_TMP/st.$name"
	env "$@" LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" timeout 60 "$CL" --file "$ASF_TMP/f" \
		--port-file "$pf" 2>"$ASF_TMP/err.$name" &
	pid=$!
	for i in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.1; done
	timeout 60 "$CL" --client "$(cat "$pf")" --out "$ASF_TMP/out.$name" 2>/dev/null || fail "$name: client failed"
	wait $pid || fail "$name: server exited $?"
	pid=
	cmp -s "$ASF_TMP/f" "$ASF_TMP/out.$name" || fail "$name: received bytes differ"
	stat_sum "$st" redirected_bytes
}
want_some() { [ "$2" -gt 0 ] || fail "$1: redirected nothing, want > 0"; echo "ok $1: $2 redirected"; }
want_none() { [ "$2" -eq 0 ] || fail "$1: redirected $2, want 0"; echo "ok $1: nothing redirected"; }

want_some only-me        "$(serve only-me AUTOSENDFILE_ONLY=copyloop)"
want_some only-list      "$(serve only-list AUTOSENDFILE_ONLY=nginx,copyloop,python3)"
want_none only-others    "$(serve only-others AUTOSENDFILE_ONLY=nginx,python3)"
want_none skip-me        "$(serve skip-me AUTOSENDFILE_SKIP=node,copyloop)"
want_some skip-others    "$(serve skip-others AUTOSENDFILE_SKIP=nginx)"
want_none only-and-skip  "$(serve only-and-skip AUTOSENDFILE_ONLY=copyloop AUTOSENDFILE_SKIP=copyloop)"
want_some verify-sample  "$(serve verify-sample AUTOSENDFILE_VERIFY=sample)"
want_some verify-none    "$(serve verify-none AUTOSENDFILE_VERIFY=none)"
# A bad list is ignored with one warning (the library stays on).
n=$(serve bad-list AUTOSENDFILE_ONLY=,copyloop)
want_some bad-list "$n"
grep -c 'copyloop: warning: AUTOSENDFILE_ONLY' "$ASF_TMP/err.bad-list" | grep -qx 1 || fail "bad list: want one warning from copyloop: $(cat "$ASF_TMP/err.bad-list")"
n=$(serve bad-verify AUTOSENDFILE_VERIFY=paranoid)
want_some bad-verify "$n"
grep -q 'AUTOSENDFILE_VERIFY.*default full' "$ASF_TMP/err.bad-verify" || fail "bad verify: no warning naming the default"
# info shows the selection and mode at start, only settings that differ from the defaults
env AUTOSENDFILE_LOG=info AUTOSENDFILE_VERIFY=sample AUTOSENDFILE_SKIP=nginx LD_PRELOAD="$ASF_PRELOAD" true 2>"$ASF_TMP/info"
grep -q 'AUTOSENDFILE_VERIFY=sample' "$ASF_TMP/info" && grep -q 'AUTOSENDFILE_SKIP=nginx' "$ASF_TMP/info" ||
	fail "info log: $(cat "$ASF_TMP/info")"
! grep -q 'AUTOSENDFILE_CHUNK' "$ASF_TMP/info" || fail "info log shows a default setting"
echo "selection and verification modes ok"
