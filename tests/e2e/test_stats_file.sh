#!/usr/bin/env bash
# AUTOSENDFILE_STATS=/path is written safely:
#  a. an existing file is appended to, never truncated (two runs: old content + 2 lines);
#  b. a file the library creates has mode 0600 (under umask 022, and under umask 000);
#  c. a symlink is never followed: its target stays unchanged (a dangling one creates
#     nothing), the program runs normally and exits 0;
#  d. a path in a directory that does not exist: the program runs normally, exits 0, its
#     output is unchanged, and there is at most one warning.
. "$(dirname "$0")/lib.sh"
umask 022
make_file "$ASF_TMP/in" 200000

# The program: secure_probe copies a file to stdout with read/write and keeps stderr open to
# the end (GNU cat, for one, closes stderr at exit, which would hide the library's warning).
probe="$ASF_TESTBIN/secure_probe"
[ -x "$probe" ] || fail "$probe not built (make test-bins)"

# run NAME STATSPATH: the preloaded probe copies $ASF_TMP/in; exit 0 and identical output.
run() {
	local name=$1 path=$2 rc
	env AUTOSENDFILE_STATS="$path" LD_PRELOAD="$ASF_PRELOAD" "$probe" "$ASF_TMP/in" \
		>"$ASF_TMP/out.$name" 2>"$ASF_TMP/err.$name"
	rc=$?
	[ $rc -eq 0 ] || fail "$name: program exited $rc: $(cat "$ASF_TMP/err.$name")"
	cmp -s "$ASF_TMP/in" "$ASF_TMP/out.$name" || fail "$name: program output changed"
}
line_re='^autosendfile: pid=[0-9]+ redirected_bytes=[0-9]+ .*tls_skipped=[0-9]+'

# a. Append, never truncate.
st="$ASF_TMP/existing"
printf 'old line 1\nold line 2\n' >"$st"
run append1 "$st"
run append2 "$st"
[ "$(wc -l <"$st")" -eq 4 ] || fail "append: want 2 old + 2 new lines: $(cat "$st")"
[ "$(head -n 2 "$st")" = "$(printf 'old line 1\nold line 2')" ] || fail "append: old content lost: $(cat "$st")"
[ "$(tail -n 2 "$st" | grep -Ec "$line_re")" -eq 2 ] || fail "append: new lines malformed: $(cat "$st")"
[ "$(tail -n 2 "$st" | sed -n 's/^autosendfile: pid=\([0-9]*\) .*/\1/p' | sort -u | wc -l)" -eq 2 ] ||
	fail "append: the two runs should have two different pids: $(cat "$st")"
echo "a. existing file: old content kept, 2 lines appended"

# b. Created with mode 0600, whatever the umask.
for u in 022 000; do
	st="$ASF_TMP/new.$u"
	(umask $u && run "new$u" "$st") || exit 1
	[ -f "$st" ] || fail "new file (umask $u): not created"
	mode=$(stat -c %a "$st")
	[ "$mode" = 600 ] || fail "new file (umask $u): mode $mode, want 600"
	[ "$(grep -Ec "$line_re" "$st")" -eq 1 ] || fail "new file (umask $u): want 1 line: $(cat "$st")"
done
echo "b. new file: mode 0600 (umask 022 and 000), 1 line"

# c. A symlink is not followed.
printf 'target content\n' >"$ASF_TMP/target"
cp "$ASF_TMP/target" "$ASF_TMP/target.orig"
ln -s "$ASF_TMP/target" "$ASF_TMP/link"
run symlink "$ASF_TMP/link"
cmp -s "$ASF_TMP/target" "$ASF_TMP/target.orig" || fail "symlink: written through to its target: $(cat "$ASF_TMP/target")"
[ -L "$ASF_TMP/link" ] || fail "symlink: the link was replaced"
[ "$(grep -c autosendfile "$ASF_TMP/err.symlink")" -le 1 ] || fail "symlink: more than one warning: $(cat "$ASF_TMP/err.symlink")"
# A dangling symlink: O_CREAT must not create the file it points to.
ln -s "$ASF_TMP/nothere" "$ASF_TMP/dangling"
run dangling "$ASF_TMP/dangling"
[ ! -e "$ASF_TMP/nothere" ] || fail "dangling symlink: its target was created: $(cat "$ASF_TMP/nothere")"
echo "c. symlink: target unchanged, dangling target not created, program ran (stderr: $(grep autosendfile "$ASF_TMP/err.symlink" | head -c 150))"

# d. A directory that does not exist.
run nodir "$ASF_TMP/no/such/dir/st"
[ ! -e "$ASF_TMP/no" ] || fail "nodir: something was created"
n=$(grep -c autosendfile "$ASF_TMP/err.nodir")
[ "$n" -le 1 ] || fail "nodir: $n warning lines, want at most 1: $(cat "$ASF_TMP/err.nodir")"
echo "d. missing directory: ran normally, $n warning line(s)"

# e. A program that closed stderr and reused fd 2 for its data: neither the exit-time
# warning nor a stats line for "stderr" may land in that data.
py=$(real_python)
for stats in "$ASF_TMP/no/such/dir/st" stderr; do
	AUTOSENDFILE_STATS="$stats" LD_PRELOAD="$ASF_PRELOAD" "$py" -c '
import os, sys
os.close(2)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
assert fd == 2, fd
os.write(fd, b"precious data\n")' "$ASF_TMP/data" || fail "fd2 reuse ($stats): program failed"
	[ "$(cat "$ASF_TMP/data")" = "precious data" ] ||
		fail "fd2 reuse ($stats): the program's data file got library output: $(cat "$ASF_TMP/data")"
done
echo "e. fd 2 reused for data: nothing of the library's written into it"
