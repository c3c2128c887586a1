#!/usr/bin/env bash
# setuid (AT_SECURE) programs ignore AUTOSENDFILE_*: the library reads its settings with
# secure_getenv, so a user cannot make a setuid-root program append to a file of their
# choice (AUTOSENDFILE_STATS) or log (AUTOSENDFILE_LOG).
#
# For a setuid program ld.so only preloads a library named without a slash, found in a
# system library directory, and itself set-user-ID. So a copy of the library is put in the
# multiarch system directory with mode 4755 for the test (removed at exit) and preloaded by
# its bare name; the probe program (build/tests/secure_probe) confirms from /proc/self/maps
# that the library really is in the process, that AT_SECURE is 1 and that the variables did
# reach the program. Then, run as user nobody:
#  - the setuid-root copy of the probe: no stats file, no log output (settings ignored);
#  - a plain (not setuid) copy, same command: the stats line and the info log are there
#    (the control: the same library and environment do act when not AT_SECURE).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (to make a setuid-root program and install a system library)"
command -v setpriv >/dev/null || skip "setpriv not installed"
getent passwd 65534 >/dev/null || skip "no user 65534 (nobody)"
# Under check-all the library needs the ASan runtime preloaded first, which ld.so will not
# preload into a setuid program (it is not in a system directory).
[ "$ASF_PRELOAD" = "$ASF_LIB" ] || skip "a sanitizer runtime is preloaded with the library ($ASF_PRELOAD)"
probe="$ASF_TESTBIN/secure_probe"
[ -x "$probe" ] || fail "$probe not built (make test-bins)"

multiarch=$(gcc -print-multiarch 2>/dev/null)
sysdir=/usr/lib/${multiarch:-x86_64-linux-gnu}
[ -d "$sysdir" ] || sysdir=/usr/lib
libname="libautosendfile-test-$$.so"
installed=
trap '[ -n "$installed" ] && rm -f "$installed"' EXIT
cp "$ASF_LIB" "$sysdir/$libname" || skip "cannot write to $sysdir"
installed="$sysdir/$libname"
chown root:root "$installed"
chmod 4755 "$installed"

chmod 755 "$ASF_TMP"
mkdir "$ASF_TMP/out"
chmod 1777 "$ASF_TMP/out" # nobody writes here, and root (the setuid program) could
make_file "$ASF_TMP/in" 300000
chmod 644 "$ASF_TMP/in"
cp "$probe" "$ASF_TMP/probe-suid"
chown root:root "$ASF_TMP/probe-suid"
chmod 4755 "$ASF_TMP/probe-suid"
cp "$probe" "$ASF_TMP/probe-plain"
chmod 755 "$ASF_TMP/probe-plain"
[ -u "$ASF_TMP/probe-suid" ] || fail "could not set the setuid bit"

run_as_nobody() { # NAME: runs $ASF_TMP/probe-NAME as nobody, preloaded, with the settings
	local name=$1 rc
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		env LD_PRELOAD="$libname" AUTOSENDFILE_STATS="$ASF_TMP/out/st.$name" AUTOSENDFILE_LOG=info \
		"$ASF_TMP/probe-$name" "$ASF_TMP/in" >"$ASF_TMP/out.$name" 2>"$ASF_TMP/err.$name"
	rc=$?
	[ $rc -eq 0 ] || fail "$name: probe exited $rc: $(cat "$ASF_TMP/err.$name")"
	cmp -s "$ASF_TMP/in" "$ASF_TMP/out.$name" || fail "$name: probe output differs from its input"
	grep '^probe: ' "$ASF_TMP/err.$name"
}

# The setuid run: the library is loaded but ignores the environment.
info=$(run_as_nobody suid) || { echo "$info"; exit 1; }
echo "setuid:  $info"
case "$info" in
*"ruid=65534 euid=0 at_secure=1 "*) ;;
*) fail "setuid probe did not run AT_SECURE as nobody->root: $info" ;;
esac
case "$info" in
*"lib_loaded=1 env_stats=set"*) ;;
*) fail "setuid probe: the library was not loaded or the variable did not arrive: $info; $(cat "$ASF_TMP/err.suid")" ;;
esac
[ ! -e "$ASF_TMP/out/st.suid" ] || fail "setuid program honoured AUTOSENDFILE_STATS: $(ls -l "$ASF_TMP/out/st.suid"): $(cat "$ASF_TMP/out/st.suid")"
! grep -q autosendfile "$ASF_TMP/err.suid" || fail "setuid program honoured AUTOSENDFILE_LOG=info: $(cat "$ASF_TMP/err.suid")"

# The control: the same library, environment and user, not setuid: the settings act.
info=$(run_as_nobody plain) || { echo "$info"; exit 1; }
echo "plain:   $info"
case "$info" in
*"ruid=65534 euid=65534 at_secure=0 lib_loaded=1 env_stats=set"*) ;;
*) fail "plain probe: unexpected state: $info" ;;
esac
st="$ASF_TMP/out/st.plain"
[ -f "$st" ] || fail "plain probe: no stats file: the control does not work: $(cat "$ASF_TMP/err.plain")"
[ "$(grep -c '^autosendfile: pid=' "$st")" -eq 1 ] || fail "plain probe: want 1 stats line: $(cat "$st")"
[ "$(stat -c %U "$st")" = nobody ] || fail "plain probe: stats file owned by $(stat -c %U "$st")"
grep -q 'info: AUTOSENDFILE_STATS=' "$ASF_TMP/err.plain" || fail "plain probe: no info log: $(cat "$ASF_TMP/err.plain")"
echo "setuid: environment ignored (no stats file, no log); plain: stats line and info log"
