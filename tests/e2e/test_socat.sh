#!/usr/bin/env bash
# socat, unmodified, serving a file (`socat -u FILE:f TCP-LISTEN:port,...`) under the
# launcher, fetched with `nc -d`.
# strace finding (Debian 12, socat 1.7.4.4-2; `strace -f -e trace=read,write,sendfile,splice
# socat -u FILE:x TCP-LISTEN:port,bind=127.0.0.1,reuseaddr`, 1 MiB file): socat copies with
# read(file, buf, 8192) = 8192 / write(sock, buf, 8192) = 8192, 128 times, then a read that
# returns 0; no sendfile or splice. Its default transfer size (-b) is 8192; -b 65536 gives
# 64 KiB reads and writes, -b 4096 4 KiB ones (AUTOSENDFILE_MIN_BYTES, 4096: redirected).
# Asserted: with the default, -b 65536 and -b 4096, 1 MiB and 100 MiB arrive byte for byte
# and >= 95% went by sendfile; with -b 2048 (below AUTOSENDFILE_MIN_BYTES) and with
# AUTOSENDFILE=0 the transfer is byte-identical and nothing is redirected.
. "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || skip "socat not installed"
command -v nc >/dev/null || skip "nc not installed"
nc -h 2>&1 | grep -q 'OpenBSD netcat' || skip "nc is not netcat-openbsd"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null' EXIT

serve() { # NAME FILE "SOCAT-OPTIONS" [ENV...]
	local name=$1 file=$2 opts=$3; shift 3
	local port; port=$(free_port)
	# shellcheck disable=SC2086
	env "$@" timeout 50 "$ASF_LAUNCHER" --stats "$ASF_TMP/st.$name" socat $opts -u \
		"FILE:$file" "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" &
	pid=$!
	wait_port "$port" || fail "$name: socat did not listen on $port"
	timeout 50 nc -d 127.0.0.1 "$port" >"$ASF_TMP/out.$name" || fail "$name: client failed"
	wait $pid || fail "$name: socat exited $?"
	pid=
	cmp "$file" "$ASF_TMP/out.$name" || fail "$name: received bytes differ from the file"
	rm -f "$ASF_TMP/out.$name"
	grep -q '^autosendfile: ' "$ASF_TMP/st.$name" || fail "$name: no stats line"
}

make_file "$ASF_TMP/f1m" $((1 << 20))
make_file "$ASF_TMP/f100m" $((100 << 20))
for f in f1m f100m; do
	for b in "" "-b 65536" "-b 4096"; do
		name="$f${b:+.b${b#-b }}"
		serve "$name" "$ASF_TMP/$f" "$b"
		echo -n "$name: "
		assert_redirected "$ASF_TMP/st.$name" "$(stat -c %s "$ASF_TMP/$f")"
	done
done
for t in "small:-b 2048" "off::AUTOSENDFILE=0"; do
	IFS=: read -r name b envv <<<"$t"
	serve "$name" "$ASF_TMP/f1m" "$b" ${envv:+"$envv"}
	got=$(stat_sum "$ASF_TMP/st.$name" redirected_bytes)
	[ "$got" -eq 0 ] || fail "$name: redirected $got bytes, expected 0"
	echo "$name: byte-identical, 0 redirected"
done
