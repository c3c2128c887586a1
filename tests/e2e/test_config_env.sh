#!/usr/bin/env bash
# Bad environment values: exactly one warning naming the variable and the default used, the
# program runs normally, and the library still works (or stays off, for AUTOSENDFILE=0).
. "$(dirname "$0")/lib.sh"
check_warns() { # VAR VALUE EXPECTED_DEFAULT_TEXT
	local err="$ASF_TMP/err"
	env "$1=$2" LD_PRELOAD="$ASF_PRELOAD" sh -c 'echo ran' >"$ASF_TMP/out" 2>"$err" || fail "$1='$2': program failed"
	grep -qx ran "$ASF_TMP/out" || fail "$1='$2': program output changed"
	local n; n=$(grep -c "autosendfile" "$err")
	# sh runs one process: one warning exactly
	[ "$n" -eq 1 ] || fail "$1='$2': $n warning lines, want 1: $(cat "$err")"
	grep -q "$1" "$err" && grep -q "$3" "$err" || fail "$1='$2': warning lacks the name or the default: $(cat "$err")"
}
for v in "" "-1" "abc" "12x" "99999999999999999999999" "0" "1G"; do
	check_warns AUTOSENDFILE_CHUNK "$v" "default 262144"
	check_warns AUTOSENDFILE_MIN_BYTES "$v" "default"
done
check_warns AUTOSENDFILE_CHUNK "100" "default 262144"       # below 4096
check_warns AUTOSENDFILE_LOG "loud" "default warn"
check_warns AUTOSENDFILE_LOG "" "default warn"
check_warns AUTOSENDFILE "yes" "default 1"
check_warns AUTOSENDFILE_STATS "" "no statistics"
long=$(head -c 5000 /dev/zero | tr '\0' a)
check_warns AUTOSENDFILE_CHUNK "$long" "default 262144"
check_warns AUTOSENDFILE_STATS "/$long" "no statistics"
# Good values are silent.
env AUTOSENDFILE_CHUNK=128K AUTOSENDFILE_MIN_BYTES=1 AUTOSENDFILE_LOG=error AUTOSENDFILE=1 \
	LD_PRELOAD="$ASF_PRELOAD" sh -c 'echo ran' >"$ASF_TMP/out" 2>"$ASF_TMP/err"
[ ! -s "$ASF_TMP/err" ] || fail "good values warned: $(cat "$ASF_TMP/err")"
# AUTOSENDFILE_LOG=info shows the settings that differ from the defaults.
env AUTOSENDFILE_CHUNK=128K AUTOSENDFILE_LOG=info LD_PRELOAD="$ASF_PRELOAD" true 2>"$ASF_TMP/err"
grep -q 'AUTOSENDFILE_CHUNK=131072' "$ASF_TMP/err" || fail "info log lacks the changed setting: $(cat "$ASF_TMP/err")"
echo "bad values: one warning each; good values silent"
