#!/usr/bin/env bash
# valgrind memcheck on the library at work: the copy-loop server (signals, non-blocking
# socket, tiny send buffer), netcat, and a short differential run, each preloaded with
# build/libautosendfile.so. Any memcheck error or definite leak fails. Ends with a summary.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tests/e2e/lib.sh
lib="$top/build/libautosendfile.so"
bin="$top/build/tests"
command -v valgrind >/dev/null || { echo "valgrind missing"; exit 1; }
tmp=$(mktemp -d /tmp/asf-vg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 failn=0
vg() { # NAME CMD...: runs CMD under memcheck with the library preloaded
	local name=$1; shift
	LD_PRELOAD="$lib" AUTOSENDFILE_STATS="$tmp/st.$name" timeout 300 valgrind -q \
		--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--log-file="$tmp/vg.$name" "$@"
}
check() { # NAME RC
	if [ "$2" -eq 0 ] && ! grep -q . "$tmp/vg.$1"; then
		pass=$((pass + 1)); echo "PASS  valgrind/$1 ($(stat_sum "$tmp/st.$1" redirected_bytes) bytes redirected)"
	else
		failn=$((failn + 1)); echo "FAIL  valgrind/$1 (exit $2)"; sed 's/^/      | /' "$tmp/vg.$1" | head -40
	fi
}

head -c $((4 << 20)) /dev/urandom >"$tmp/f4m"

# 1. copyloop: non-blocking, 4 KiB send buffer, a timer signal every ms.
port_file="$tmp/port"
vg copyloop "$bin/copyloop" --file "$tmp/f4m" --port-file "$port_file" --nonblock --sndbuf 4096 --timer-us 1000 &
spid=$!
for i in $(seq 1 300); do [ -s "$port_file" ] && break; sleep 0.1; done
timeout 120 "$bin/copyloop" --client "$(cat "$port_file")" --out "$tmp/out.copyloop" || echo "client failed"
wait $spid; rc=$?
cmp -s "$tmp/f4m" "$tmp/out.copyloop" || { echo "copyloop: bytes differ"; rc=1; }
check copyloop $rc

# 2. netcat serving the file.
port=$(free_port)
vg netcat nc -N -l 127.0.0.1 "$port" <"$tmp/f4m" &
spid=$!
wait_port "$port" || echo "nc did not listen"
timeout 120 nc -d 127.0.0.1 "$port" >"$tmp/out.nc"
wait $spid; rc=$?
cmp -s "$tmp/f4m" "$tmp/out.nc" || { echo "netcat: bytes differ"; rc=1; }
check netcat $rc

# 3. the differential test, fewer cases (valgrind is ~50x slower). Not the fault kind: it
# hands write() unreadable buffers on purpose, which memcheck reports as errors.
vg difftest "$bin/difftest" --seed 7 --cases 150 --skip-kind fault >"$tmp/dt.out"; rc=$?
tail -n 1 "$tmp/dt.out"
check difftest $rc

echo "valgrind: $pass passed, $failn failed"
[ $failn -eq 0 ]
