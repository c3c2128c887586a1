#!/usr/bin/env bash
# The live counters file is made lazily (issue 20, process start): at the first stream
# socket a process makes, accepts or writes to, not at start.
#  a. /bin/true, a shell running commands, and a process that runs with no socket: no file,
#     and (with strace) no system call on the live directory at all; --stat of the running
#     idle pid says it has no counters (exit 1);
#  b. a process that writes one byte to a TCP connection: its file, named after its pid,
#     with the byte counted (state=running); one that made a connection but sent nothing
#     and exited: its file deleted at exit, as before; one that wrote a process title over
#     argv[0] before its first write: its comm is still the name it started with;
#  c. the first write made in a signal handler, on a socket made behind the library's back:
#     the file is made there, the byte counted in it;
#  d. fork after a write: the child counts in a slot of its own (its own pid, its own two
#     bytes, the parent's one), in the parent's file; fork before any socket: the child
#     makes a file of its own, the parent has none; fork while holding a stream socket the
#     library has not seen (as if inherited at exec): the parent makes its file before the
#     fork, and the child counts in it.
. "$(dirname "$0")/lib.sh"
ls="$ASF_TESTBIN/lazystart"
[ -x "$ls" ] || fail "$ls not built (make test-bins)"
export AUTOSENDFILE_LIVE="$ASF_TMP/live"
mkdir -p "$AUTOSENDFILE_LIVE"
dir="$AUTOSENDFILE_LIVE/autosendfile-$(id -u)"
pids=()
trap '[ ${#pids[@]} -gt 0 ] && kill -9 "${pids[@]}" 2>/dev/null' EXIT
files() { ls -A "$dir" 2>/dev/null | wc -l; }
key() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; } # key LINE KEY

# start MODE: lazystart MODE in the background until it printed "ready"; sets pid (child).
start() {
	local out="$ASF_TMP/out.$1" i
	LD_PRELOAD="$ASF_PRELOAD" "$ls" "$1" wait >"$out" 2>"$ASF_TMP/err" &
	pid=$!
	pids+=($pid)
	for i in $(seq 1 100); do
		grep -q '^ready$' "$out" && break
		sleep 0.05
	done
	grep -q '^ready$' "$out" || fail "lazystart $1: not ready: $(cat "$out" "$ASF_TMP/err")"
	child=$(sed -n 's/^child=//p' "$out")
	[ -n "$child" ] && pids+=($child)
	return 0
}
stop() { kill -9 "${pids[@]}" 2>/dev/null; wait 2>/dev/null; pids=(); }

# a. Nothing touched: nothing made.
LD_PRELOAD="$ASF_PRELOAD" /bin/true || fail "/bin/true failed"
LD_PRELOAD="$ASF_PRELOAD" sh -c '/bin/true; ls / >/dev/null; echo x | cat >/dev/null' || fail "sh failed"
LD_PRELOAD="$ASF_PRELOAD" "$ls" none exit >/dev/null || fail "lazystart none failed"
[ "$(files)" = 0 ] || fail "processes that touched no socket made files: $(ls -l "$dir")"
if command -v strace >/dev/null; then
	strace -f -qq -o "$ASF_TMP/trace" -E LD_PRELOAD="$ASF_PRELOAD" /bin/true || fail "strace /bin/true failed"
	# (AUTOSENDFILE_LIVE itself is checked at start with one stat: a mistake said at once)
	! grep -q "$dir\|/proc/self/stat\|getdents" "$ASF_TMP/trace" ||
		fail "/bin/true looked at the live directory: $(grep "$dir\|/proc/self/stat\|getdents" "$ASF_TMP/trace")"
	echo "a. /bin/true: $(grep -vc '^+++' "$ASF_TMP/trace") system calls, none for live counters"
fi
start none
[ "$(files)" = 0 ] || fail "a running process that touched no socket has a file: $(ls -l "$dir")"
"$ASF_LAUNCHER" --stat $pid >/dev/null 2>"$ASF_TMP/err" && fail "--stat of an idle pid exited 0"
grep -q "pid $pid: no live counters" "$ASF_TMP/err" || fail "--stat of an idle pid: $(cat "$ASF_TMP/err")"
stop
echo "a. /bin/true, sh, a running process with no socket: no file; --stat PID: $(cat "$ASF_TMP/err")"

# b. One byte to a TCP connection: the file is there, with the byte.
start write
[ "$(ls -A "$dir" 2>/dev/null | grep -c "^$pid-")" = 1 ] || fail "write: no file named after $pid: $(ls -l "$dir" 2>&1)"
line=$("$ASF_LAUNCHER" --stat $pid) || fail "write: --stat $pid failed"
[[ "$line" == *" state=running comm=lazystart" ]] && [ "$(key "$line" passthrough_bytes)" = 1 ] ||
	fail "write: want the byte counted, running: $line"
stop
echo "b. after a write to a TCP socket: its file; --stat: passthrough_bytes=1 state=running"
start retitle
line=$("$ASF_LAUNCHER" --stat $pid) || fail "retitle: --stat $pid failed"
[[ "$line" == *" state=running comm=lazystart" ]] || fail "retitle: want the name at start: $line"
stop
echo "b. argv[0] overwritten before the first write: comm=lazystart, the name at start"
rm -rf "$dir"
LD_PRELOAD="$ASF_PRELOAD" "$ls" socket exit >"$ASF_TMP/out" || fail "lazystart socket failed"
[ "$(files)" = 0 ] || fail "a connection with nothing sent: its file was left at exit: $(ls -l "$dir")"
echo "b. a connection with nothing sent, then exit: its file is deleted at exit"

# c. The first write in a signal handler.
start signal
line=$("$ASF_LAUNCHER" --stat $pid) || fail "signal: --stat $pid failed: no file"
[ "$(key "$line" passthrough_bytes)" = 1 ] || fail "signal: want the handler's byte counted: $line"
stop
echo "c. first write in a signal handler: file made there, passthrough_bytes=1"
rm -rf "$dir"

# d. Fork.
start fork
[ "$(files)" = 1 ] || fail "fork after a write: want one file (the parent's): $(ls -l "$dir")"
pl=$("$ASF_LAUNCHER" --stat $pid) && cl=$("$ASF_LAUNCHER" --stat $child) || fail "fork: --stat failed"
[ "$(key "$pl" passthrough_bytes)" = 1 ] && [ "$(key "$cl" passthrough_bytes)" = 2 ] ||
	fail "fork: want parent 1 byte, child 2: $pl / $cl"
[[ "$cl" == "autosendfile: pid=$child "*" state=running comm=lazystart" ]] || fail "fork: child: $cl"
stop
echo "d. fork after a write: the child ($child) counts its 2 bytes under its own pid, the parent its 1"
rm -rf "$dir"
start forknone
[ "$(files)" = 1 ] && [ "$(ls -A "$dir" | grep -c "^$child-")" = 1 ] ||
	fail "fork before any socket: want the child's file only: $(ls -l "$dir")"
cl=$("$ASF_LAUNCHER" --stat $child) || fail "forknone: --stat $child failed"
[ "$(key "$cl" passthrough_bytes)" = 2 ] || fail "forknone: child: $cl"
"$ASF_LAUNCHER" --stat $pid >/dev/null 2>&1 && fail "forknone: the parent, which touched no socket, has counters"
stop
echo "d. fork before any socket: the child made its own file; the parent has none"
rm -rf "$dir"
start forkheld
[ "$(files)" = 1 ] && [ "$(ls -A "$dir" | grep -c "^$pid-")" = 1 ] ||
	fail "fork holding an unseen stream socket: want the parent's file only: $(ls -l "$dir")"
pl=$("$ASF_LAUNCHER" --stat $pid) && cl=$("$ASF_LAUNCHER" --stat $child) || fail "forkheld: --stat failed"
[ "$(key "$pl" passthrough_bytes)" = 0 ] && [ "$(key "$cl" passthrough_bytes)" = 2 ] ||
	fail "forkheld: want parent 0 bytes, child 2: $pl / $cl"
stop
echo "d. fork holding a socket the library had not seen: the parent's file, made before the fork, has the child"
echo "lazy start ok"
