#!/usr/bin/env bash
# A process that ends from a thread other than the main one (issue 21; h2o ends by _exit
# from a worker thread: test_h2o.sh). tests/e2e/threadexit.c sends 1 MiB through a stream
# socketpair, then a second thread ends the process while the main thread waits:
#  - exit(), _exit(), _Exit(): the stats line is written, once, with the bytes redirected;
#  - the raw exit_group system call runs no user code at all: no line, but the live
#    counters have it (autosendfile --stat PID: state=ended, the bytes redirected);
#  - the same ends with nothing sent: _exit writes no line (nothing counted: a fork child's
#    _exit is often a helper's), exit() writes its zero line as at any exit, and neither
#    leaves a live counters file behind.
. "$(dirname "$0")/lib.sh"
probe="$ASF_TESTBIN/threadexit"
[ -x "$probe" ] || fail "$probe not built (make test-bins)"
export AUTOSENDFILE_LIVE="$ASF_TMP/live"
mkdir -p "$AUTOSENDFILE_LIVE"
dir="$AUTOSENDFILE_LIVE/autosendfile-$(id -u)"
size=$((1 << 20))
make_file "$ASF_TMP/in" $size
key() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; } # key LINE KEY

# run ARGS...: the probe under the library, its stats in $st; sets pid.
run() {
	st="$ASF_TMP/stats.$1.$(basename "$2")"
	rm -f "$st"
	AUTOSENDFILE_STATS="$st" LD_PRELOAD="$ASF_PRELOAD" "$probe" "$@" >"$ASF_TMP/out" 2>"$ASF_TMP/err" ||
		fail "threadexit $*: exit $?: $(cat "$ASF_TMP/err")"
	pid=$(sed -n 's/^pid=//p' "$ASF_TMP/out")
	[ -n "$pid" ] || fail "threadexit $*: no pid printed"
}

for how in exit _exit _Exit; do
	run "$how" "$ASF_TMP/in"
	[ "$(grep -c "^autosendfile: pid=$pid " "$st" 2>/dev/null)" = 1 ] ||
		fail "$how from a second thread: want one stats line for pid $pid: $(cat "$st" 2>/dev/null)"
	line=$(grep "^autosendfile: pid=$pid " "$st")
	[ "$(key "$line" redirected_bytes)" -ge $((size * 95 / 100)) ] || fail "$how: not redirected: $line"
	echo "$how from a second thread: $line"
done

run raw "$ASF_TMP/in"
! grep -q "^autosendfile: pid=$pid " "$st" 2>/dev/null ||
	fail "raw exit_group: a stats line was written (no user code runs): $(cat "$st")"
line=$("$ASF_LAUNCHER" --stat "$pid") || fail "raw exit_group: --stat $pid failed"
[[ "$line" == *" state=ended comm=threadexit" ]] || fail "raw exit_group: --stat: $line"
[ "$(key "$line" redirected_bytes)" -ge $((size * 95 / 100)) ] || fail "raw exit_group: not redirected: $line"
echo "raw exit_group from a second thread: no stats line (no user code runs); --stat: $line"
rm -rf "$dir"

for how in _exit exit; do
	run idle "$how"
	n=$(grep -c "^autosendfile: pid=$pid " "$st" 2>/dev/null); n=${n:-0}
	want=0; [ $how = exit ] && want=1
	[ "$n" = $want ] || fail "idle $how: want $want stats lines for $pid: $(cat "$st" 2>/dev/null)"
	left=$(ls -A "$dir" 2>/dev/null)
	[ -z "$left" ] || fail "idle $how: a live counters file was left: $left"
	echo "idle $how from a second thread: $n stats line(s), no live counters file left"
done
echo "thread exit ok"
