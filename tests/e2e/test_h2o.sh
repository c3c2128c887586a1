#!/usr/bin/env bash
# h2o (Debian h2o 2.2), unmodified, 2 threads, static files, under the library. h2o reads a
# file into its buffers and writes them with writev; on SIGTERM it closes its listeners,
# and the thread that sees the last connection close ends the process with _exit(0): no
# atexit handler, no destructor runs, and from a worker thread, not the main one. As root,
# h2o also drops to user nobody after binding.
# Asserted: 16 KiB and 1 MiB arrive byte for byte; `autosendfile --stat PID` while it runs;
# after SIGTERM the stats line of h2o's pid is in AUTOSENDFILE_STATS (written at its _exit,
# src/init.c), once, with redirected_bytes >= 90% of the body bytes.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
h2o=$(command -v h2o) || skip "h2o not installed"
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; wait' EXIT
chmod 755 "$ASF_TMP"
www=$ASF_TMP/www
mkdir -p "$www"
make_file "$www/f16k" $((16 << 10))
make_file "$www/f1m" $((1 << 20))
chmod 755 "$www" && chmod 644 "$www"/*
port=$(free_port)
user=
st=$ASF_TMP/stats
: >"$st"
if [ "$(id -u)" -eq 0 ]; then
	# h2o's own default as root; the line is written as nobody, to a file nobody may append to.
	user="user: nobody"
	chown nobody "$st"
fi
cat >"$ASF_TMP/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $port
num-threads: 2
$user
hosts:
  default:
    paths:
      /:
        file.dir: $www
EOF
export AUTOSENDFILE_LIVE=$ASF_TMP/live
mkdir -p "$AUTOSENDFILE_LIVE"
AUTOSENDFILE_STATS="$st" LD_PRELOAD="$ASF_PRELOAD" "$h2o" -c "$ASF_TMP/h2o.conf" >"$ASF_TMP/h2o.log" 2>&1 &
pid=$!
wait_port "$port" || fail "h2o did not listen: $(cat "$ASF_TMP/h2o.log")"
served=0
for f in f16k f1m f1m; do
	curl -sSf -o "$ASF_TMP/got" "http://127.0.0.1:$port/$f" || fail "curl $f failed"
	cmp -s "$www/$f" "$ASF_TMP/got" || fail "$f: received bytes differ"
	served=$((served + $(stat -c %s "$www/$f")))
done
line=$("$ASF_LAUNCHER" --stat "$pid") || fail "--stat $pid failed"
[[ "$line" == *" state=running comm=h2o" ]] || fail "--stat while running: $line"
echo "running: $line"
kill -TERM "$pid"
wait "$pid"
echo "h2o exited with status $?"
pid=
grep -q '^autosendfile: pid=' "$st" || fail "no stats line after SIGTERM (h2o ends by _exit from a worker thread)"
h2opid=$(sed -n 's/^autosendfile: pid=\([0-9]*\) .*/\1/p' <<<"$line")
n=$(grep -c "^autosendfile: pid=$h2opid " "$st")
[ "$n" = 1 ] || fail "want one stats line of h2o (pid $h2opid), got $n: $(cat "$st")"
red=$(grep "^autosendfile: pid=$h2opid " "$st" | sed -n 's/.* redirected_bytes=\([0-9]*\).*/\1/p')
cat "$st"
[ "$red" -ge $((served * 90 / 100)) ] || fail "redirected_bytes=$red < 90% of $served"
echo "h2o: its stats line written at _exit from a worker thread, redirected $red of $served body bytes"
