#!/usr/bin/env bash
# Kernel TLS put on a connection after accept (setsockopt TCP_ULP "tls", as a server does
# once its handshake is over) makes the library pass that connection through for good: a
# python3 server under the library accepts, sets the ULP, then copies a 1 MiB file to it in
# 64 KiB read + send. The receiver must get the file, and the stats must show the socket
# counted as TLS and no byte sent by sendfile (sendfile there would cut the TLS records
# differently from the real writes). Skipped where the kernel has no tls module (ENOENT
# from the setsockopt, as on the machine this was written on); the marking itself is
# unit-tested in tests/unit/test_fdclass.c.
. "$(dirname "$0")/lib.sh"
: "${ASF_PRELOAD:?}" "${ASF_TMP:?}"
py=$(real_python)
make_file "$ASF_TMP/f1m" $((1024 * 1024))
cat >"$ASF_TMP/ktls.py" <<'PYEOF'
import os, socket, sys, threading
path, out = sys.argv[1], sys.argv[2]
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.create_connection(l.getsockname())
a, _ = l.accept()
try:
    a.setsockopt(socket.IPPROTO_TCP, 31, b"tls")  # TCP_ULP
except OSError as e:
    print("no kernel TLS: %s" % e); sys.exit(77)
got = bytearray()
def rx():
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        got.extend(b)
t = threading.Thread(target=rx); t.start()
fd = os.open(path, os.O_RDONLY)
while True:
    b = os.read(fd, 1 << 16)
    if not b:
        break
    a.sendall(b)
os.close(fd); a.close(); t.join()
open(out, "wb").write(got)
PYEOF
st="$ASF_TMP/stats"
LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" "$py" "$ASF_TMP/ktls.py" "$ASF_TMP/f1m" "$ASF_TMP/got"
rc=$?
[ $rc -eq 77 ] && skip "the kernel has no tls ULP here"
[ $rc -eq 0 ] || fail "the python server exited $rc"
cmp "$ASF_TMP/f1m" "$ASF_TMP/got" || fail "the receiver did not get the file"
tls=$(stat_sum "$st" tls_skipped)
red=$(stat_sum "$st" redirected_bytes)
echo "stats: $(cat "$st")"
[ "$tls" -ge 1 ] || fail "tls_skipped=$tls: the kernel TLS socket was not seen"
[ "$red" -eq 0 ] || fail "redirected_bytes=$red to a kernel TLS socket"
echo "ktls ok: passed through, $tls socket(s) counted as TLS"
