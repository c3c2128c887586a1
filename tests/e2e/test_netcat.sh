#!/usr/bin/env bash
# netcat-openbsd, unmodified, serving a file (`nc -N -l ADDR PORT < file`) under the
# launcher: the client gets the file byte for byte and >= 95% of it went by sendfile.
# With AUTOSENDFILE=0 the same transfer is byte-identical and nothing is redirected.
. "$(dirname "$0")/lib.sh"
command -v nc >/dev/null || skip "nc not installed"
nc -h 2>&1 | grep -q 'OpenBSD netcat' || skip "nc is not netcat-openbsd"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null' EXIT

serve() { # NAME FILE [ENV...]
	local name=$1 file=$2; shift 2
	local port; port=$(free_port)
	env "$@" timeout 60 "$ASF_LAUNCHER" --stats "$ASF_TMP/st.$name" nc -N -l 127.0.0.1 "$port" <"$file" &
	pid=$!
	wait_port "$port" || fail "$name: nc did not listen on $port"
	timeout 60 nc -d 127.0.0.1 "$port" >"$ASF_TMP/out.$name" || fail "$name: client failed"
	wait $pid || fail "$name: server exited $?"
	pid=
	cmp "$file" "$ASF_TMP/out.$name" || fail "$name: received bytes differ from the file"
}

make_file "$ASF_TMP/f1m" $((1 << 20))
make_file "$ASF_TMP/f100m" $((100 << 20))
for f in f1m f100m; do
	serve "$f" "$ASF_TMP/$f" AUTOSENDFILE_LOG=warn
	assert_redirected "$ASF_TMP/st.$f" "$(stat -c %s "$ASF_TMP/$f")"
done
serve off "$ASF_TMP/f1m" AUTOSENDFILE=0
got=$(stat_sum "$ASF_TMP/st.off" redirected_bytes)
[ "$got" -eq 0 ] || fail "AUTOSENDFILE=0 still redirected $got bytes"
echo "pass-through with AUTOSENDFILE=0: byte-identical, 0 redirected"
