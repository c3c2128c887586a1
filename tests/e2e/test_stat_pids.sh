#!/usr/bin/env bash
# `autosendfile --stat` names one process per pid, and processes that did nothing leave
# nothing (issue 21):
#  a. an exec chain (sh, then the program it execs, same pid): --stat PID prints one line,
#     the program's, running then ended; the shell's idle file is gone;
#  b. a pid reused (root: in a pid namespace of its own, ns_last_pid hands the same pid to
#     two processes in turn): one line, the running one, else the last one;
#  c. processes that never touched a socket (a command, a shell that forks and execs,
#     env exec'ing, bash exec'ing env) leave no live counters file; a process that made a
#     connection but sent nothing (its file is made at its first stream socket), killed by
#     SIGKILL, leaves one, which --stat lists only when its pid is asked for;
#  d. AUTOSENDFILE_LIVE naming a directory that does not exist, or a file: one warning
#     naming the variable from the library, one from --stat (also with --watch).
. "$(dirname "$0")/lib.sh"
probe="$ASF_TESTBIN/liveprobe"
tx="$ASF_TESTBIN/threadexit"
lazy="$ASF_TESTBIN/lazystart" # an idle process with a live file: one connection, no byte
[ -x "$probe" ] && [ -x "$tx" ] && [ -x "$lazy" ] || fail "liveprobe/threadexit/lazystart not built (make test-bins)"
export AUTOSENDFILE_LIVE="$ASF_TMP/live"
mkdir -p "$AUTOSENDFILE_LIVE"
dir="$AUTOSENDFILE_LIVE/autosendfile-$(id -u)"
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null' EXIT
make_file "$ASF_TMP/in" $((1 << 20))
files() { ls -A "$dir" 2>/dev/null | wc -l; }
lines_of() { "$ASF_LAUNCHER" --stat "$1" | grep -c "^autosendfile: pid=$1 "; }

# a. sh execs the server: two images, one pid.
port=$(free_port)
LD_PRELOAD="$ASF_PRELOAD" sh -c "/bin/true; exec '$probe' serve $port '$ASF_TMP/in' wait" 2>"$ASF_TMP/err" &
pid=$!
wait_port "$port" || fail "exec chain: not listening: $(cat "$ASF_TMP/err")"
nc 127.0.0.1 "$port" </dev/null >"$ASF_TMP/out" || fail "nc failed"
cmp -s "$ASF_TMP/in" "$ASF_TMP/out" || fail "exec chain: received bytes differ"
sleep 0.2
[ "$(lines_of $pid)" = 1 ] || fail "exec chain: want one line for $pid: $("$ASF_LAUNCHER" --stat $pid)"
line=$("$ASF_LAUNCHER" --stat $pid)
[[ "$line" == *" state=running comm=liveprobe" ]] || fail "exec chain, running: $line"
[ "$(ls -A "$dir" | grep -c "^$pid-")" = 1 ] || fail "exec chain: the shell's idle file is left: $(ls -l "$dir")"
kill -KILL $pid; wait $pid 2>/dev/null
line=$("$ASF_LAUNCHER" --stat $pid)
[ "$(lines_of $pid)" = 1 ] && [[ "$line" == *" state=ended comm=liveprobe" ]] ||
	fail "exec chain, ended: $("$ASF_LAUNCHER" --stat $pid)"
echo "a. sh exec'ing the server, pid $pid: one line, $(sed 's/.* state=//' <<<"$line")"
pid=
rm -rf "$dir"

# b. A pid reused: in a pid namespace, ns_last_pid makes the next fork take pid N again.
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
	unshare --pid --fork --mount-proc true 2>/dev/null; then
	cat >"$ASF_TMP/reuse.sh" <<-'EOF'
	set -u
	fail() { echo "FAIL: $*"; exit 1; }
	N=500
	onpid() { echo $((N - 1)) >/proc/sys/kernel/ns_last_pid; } # the next fork gets N
	lines() { "$ASF_LAUNCHER" --stat $N | grep -c "^autosendfile: pid=$N "; }
	# 1: sends 1 MiB and exits.
	onpid; LD_PRELOAD="$ASF_PRELOAD" "$TX" exit "$IN" >/dev/null & p=$!
	[ $p = $N ] || { echo "SKIP: pid $p, not $N"; exit 0; }
	wait $p || fail "first process failed"
	first=$("$ASF_LAUNCHER" --stat $N)
	[[ "$first" == *" state=ended comm=threadexit" ]] || fail "first: $first"
	# 2: an idle process with the same pid, running (a connection made, no byte sent).
	onpid; LD_PRELOAD="$ASF_PRELOAD" "$LAZY" socket >"$OUT" & p=$!
	[ $p = $N ] || fail "second process: pid $p, not $N"
	for i in $(seq 1 100); do grep -q '^ready$' "$OUT" && break; sleep 0.05; done
	[ "$(lines)" = 1 ] || fail "reused, running: want one line: $("$ASF_LAUNCHER" --stat $N)"
	l=$("$ASF_LAUNCHER" --stat $N)
	[[ "$l" == *" state=running comm=lazystart" ]] || fail "reused, running: $l"
	echo "b. pid $N reused, the second running: $(sed 's/.* state=/state=/' <<<"$l")"
	# ended too: the last one is shown, however little it did, since it is asked for
	kill -KILL $p; wait $p 2>/dev/null
	l=$("$ASF_LAUNCHER" --stat $N)
	[ "$(lines)" = 1 ] && [[ "$l" == *" redirected_bytes=0 "*" state=ended comm=lazystart" ]] ||
		fail "reused, both ended: want the last one: $("$ASF_LAUNCHER" --stat $N)"
	echo "b. both ended: $(sed 's/.* state=/state=/' <<<"$l")"
	# without pids: the last one did nothing and ended: not listed
	! "$ASF_LAUNCHER" --stat | grep -q "^autosendfile: pid=$N " || fail "an idle ended process listed: $("$ASF_LAUNCHER" --stat)"
	# 3: a third process that sends, with the same pid, ended: it is the one shown
	onpid; LD_PRELOAD="$ASF_PRELOAD" "$TX" _exit "$IN" >/dev/null & p=$!
	wait $p
	l=$("$ASF_LAUNCHER" --stat)
	[ "$(grep -c "^autosendfile: pid=$N " <<<"$l")" = 1 ] || fail "listing: want one line for $N: $l"
	[[ "$(grep "^autosendfile: pid=$N " <<<"$l")" == *" redirected_bytes=1048576 "*" state=ended comm=threadexit" ]] ||
		fail "listing: want the last sender: $l"
	echo "b. a third (sender) with pid $N: the listing shows it alone"
	EOF
	out=$(TX="$tx" LAZY="$lazy" OUT="$ASF_TMP/lazy.out" IN="$ASF_TMP/in" unshare --pid --fork --mount-proc bash "$ASF_TMP/reuse.sh" 2>&1) ||
		fail "pid reuse: $out"
	echo "$out"
	grep -q '^FAIL' <<<"$out" && fail "pid reuse: $out"
	[ "$(ls -A "$dir" | wc -l)" -ge 1 ] || fail "pid reuse: no files at all: the test saw nothing"
	rm -rf "$dir"
else
	echo "b. skipped: needs root and unshare --pid"
fi

# c. Processes that did nothing leave nothing.
LD_PRELOAD="$ASF_PRELOAD" /bin/true
LD_PRELOAD="$ASF_PRELOAD" sh -c '/bin/true; ls / >/dev/null; echo x | cat >/dev/null'
LD_PRELOAD="$ASF_PRELOAD" env env /bin/true
LD_PRELOAD="$ASF_PRELOAD" bash -c 'for i in 1 2 3; do readlink /proc/self/exe >/dev/null; done; exec env /bin/true'
LD_PRELOAD="$ASF_PRELOAD" "$tx" idle _exit >/dev/null
[ "$(files)" = 0 ] || fail "idle processes left files: $(ls -l "$dir")"
echo "c. a command, a forking shell, env and bash exec chains, an idle _exit: no file left"
LD_PRELOAD="$ASF_PRELOAD" "$lazy" socket >"$ASF_TMP/lazy.out" &
pid=$!
for i in $(seq 1 100); do grep -q '^ready$' "$ASF_TMP/lazy.out" && break; sleep 0.05; done
kill -KILL $pid; wait $pid 2>/dev/null
[ "$(files)" = 1 ] || fail "an idle process killed by SIGKILL: want its file kept: $(ls -l "$dir")"
! "$ASF_LAUNCHER" --stat | grep -q "^autosendfile: pid=$pid " || fail "an idle ended process is listed"
"$ASF_LAUNCHER" --stat $pid | grep -q "^autosendfile: pid=$pid .* state=ended comm=lazystart$" ||
	fail "--stat $pid does not show the idle ended process asked for"
echo "c. an idle process killed: its file stays, listed only when asked for (--stat $pid)"
pid=
"$ASF_LAUNCHER" --stat $$ 999999999 >/dev/null 2>&1 && fail "--stat of pids with no counters exited 0"

# d. A live directory that is missing, or not a directory.
: >"$ASF_TMP/afile"
for bad in "$ASF_TMP/missing" "$ASF_TMP/afile"; do
	AUTOSENDFILE_LIVE=$bad LD_PRELOAD="$ASF_PRELOAD" /bin/true 2>"$ASF_TMP/err"
	[ "$(grep -c . "$ASF_TMP/err")" = 1 ] && grep -q "warning: AUTOSENDFILE_LIVE=\"$bad\" .*no live counters" "$ASF_TMP/err" ||
		fail "library, AUTOSENDFILE_LIVE=$bad: want one warning: $(cat "$ASF_TMP/err")"
	echo "d. library: $(cat "$ASF_TMP/err")"
	AUTOSENDFILE_LIVE=$bad "$ASF_LAUNCHER" --stat --watch 0.1 --count 2 >/dev/null 2>"$ASF_TMP/err"
	[ "$(grep -c . "$ASF_TMP/err")" = 1 ] && grep -q "warning: AUTOSENDFILE_LIVE=\"$bad\"" "$ASF_TMP/err" ||
		fail "--stat, AUTOSENDFILE_LIVE=$bad: want one warning: $(cat "$ASF_TMP/err")"
	echo "d. --stat: $(cat "$ASF_TMP/err")"
done
AUTOSENDFILE_LIVE=$AUTOSENDFILE_LIVE LD_PRELOAD="$ASF_PRELOAD" /bin/true 2>"$ASF_TMP/err"
[ ! -s "$ASF_TMP/err" ] || fail "a good AUTOSENDFILE_LIVE warns: $(cat "$ASF_TMP/err")"
echo "stat pids ok"
