#!/usr/bin/env bash
# vsftpd (Debian vsftpd 3), unmodified, anonymous read-only FTP with use_sendfile=NO (it then
# copies a file with read + write on the data connection), LD_PRELOAD on the command line,
# stock process model otherwise (isolate=YES: each session is made with a raw clone() into new
# PID/network namespaces, then drops to the ftp user). Asserted: 16 KiB / 1 MiB / 20 MB
# fetched with curl (three files in one session), a resumed download (REST), 8 parallel
# sessions; every byte compared; redirected_bytes >= 90% of the file bytes sent.
# The counters come from `autosendfile --stat LISTENER_PID`, read before the listener is
# stopped: no stats line reaches AUTOSENDFILE_STATS with vsftpd (its session processes end
# with _exit, the listener is ended by SIGTERM), and the sessions, made by clone() rather than
# fork(), count in the listener's live counters.
. "$(dirname "$0")/lib.sh"
# Under check-all the ASan runtime is preloaded too; this program does not run under it
# (vsftpd: its seccomp sandbox; the runtimes: their own memory managers).
[ "$ASF_PRELOAD" = "$ASF_LIB" ] || skip "a sanitizer runtime is preloaded with the library ($ASF_PRELOAD)"
command -v curl >/dev/null || skip "curl not installed"
vsftpd=/usr/sbin/vsftpd
[ -x "$vsftpd" ] || skip "vsftpd not installed"
[ "$(id -u)" -eq 0 ] || skip "vsftpd's anonymous mode needs root"
id ftp >/dev/null 2>&1 || skip "no ftp user (vsftpd's anonymous user)"

pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; kill $(jobs -p) 2>/dev/null; wait' EXIT
chmod 755 "$ASF_TMP"
www=$ASF_TMP/www
mkdir -p "$www" "$ASF_TMP/empty"
make_file "$www/f16k" $((16 << 10))
make_file "$www/f1m" $((1 << 20))
make_file "$www/f20m" 20000000
chmod 755 "$www" && chmod 644 "$www"/*
size() { stat -c %s "$www/$1"; }

port=$(free_port)
cat >"$ASF_TMP/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
anonymous_enable=YES
anon_root=$www
no_anon_password=YES
local_enable=NO
write_enable=NO
use_sendfile=NO
secure_chroot_dir=$ASF_TMP/empty
xferlog_enable=NO
connect_from_port_20=NO
max_per_ip=0
max_clients=0
EOF
env LD_PRELOAD="$ASF_PRELOAD" "$vsftpd" "$ASF_TMP/vsftpd.conf" >"$ASF_TMP/out.log" 2>&1 &
pid=$!
wait_port "$port" || fail "vsftpd did not listen on $port: $(cat "$ASF_TMP/out.log")"
url() { echo "ftp://127.0.0.1:$port/$1"; }

served=0
curl -sf --max-time 30 -o "$ASF_TMP/o.f16k" "$(url f16k)" -o "$ASF_TMP/o.f1m" "$(url f1m)" \
	-o "$ASF_TMP/o.f20m" "$(url f20m)" || fail "curl of three files in one session failed"
for f in f16k f1m f20m; do
	cmp -s "$www/$f" "$ASF_TMP/o.$f" || fail "$f: received bytes differ"
	served=$((served + $(size $f)))
done
# A resumed download: curl sends REST 5000000, vsftpd lseeks and sends the rest.
head -c 5000000 "$www/f20m" >"$ASF_TMP/resumed"
curl -sf --max-time 30 -C - -o "$ASF_TMP/resumed" "$(url f20m)" || fail "resumed download failed"
cmp -s "$www/f20m" "$ASF_TMP/resumed" || fail "resumed download differs"
served=$((served + 15000000))
cpids=()
for i in $(seq 1 8); do
	curl -sf --max-time 30 -o "$ASF_TMP/par.$i" "$(url f1m)" &
	cpids+=($!)
done
for c in "${cpids[@]}"; do wait "$c" || fail "a parallel download failed"; done
for i in $(seq 1 8); do
	cmp -s "$www/f1m" "$ASF_TMP/par.$i" || fail "parallel download $i differs"
	served=$((served + $(size f1m)))
done
rm -f "$ASF_TMP"/o.* "$ASF_TMP"/par.* "$ASF_TMP/resumed"
echo "downloads ok"

# The sessions' processes have ended (curl waited for each transfer's end; give vsftpd a
# moment to close); the counters are in the listener's live counters.
sleep 0.3
"$ASF_LAUNCHER" --stat "$pid" >"$ASF_TMP/stat" || fail "--stat $pid failed: $(cat "$ASF_TMP/stat")"
cat "$ASF_TMP/stat"
kill -TERM "$pid"
wait "$pid"
pid=
red=$(stat_sum "$ASF_TMP/stat" redirected_bytes)
echo "vsftpd use_sendfile=NO: redirected $red of $served file bytes ($(awk -v r="$red" -v s="$served" 'BEGIN { printf "%.3f", 100 * r / s }') %)"
[ "$red" -ge $((served * 90 / 100)) ] || fail "redirected_bytes=$red < 90% of $served"
