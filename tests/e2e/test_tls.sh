#!/usr/bin/env bash
# TLS is never touched: real TLS programs under the library move their files byte for byte,
# the library sees the TLS (tls_skipped >= 1) and sends nothing by sendfile
# (redirected_bytes = 0), in the process that speaks TLS:
#  a. `openssl s_server -WWW` under the launcher, 1 MiB and 4 MiB fetched with `curl -k`;
#  b. a python3 `ssl` + http.server HTTPS server under the launcher, 4 MiB fetched with curl;
#  c. the client side: curl itself preloaded (python3 ssl if curl cannot run preloaded),
#     fetching from a plain s_server (its first bytes out are a ClientHello); a plain-HTTP
#     fetch by the same preloaded client is the control (tls_skipped = 0 there, so the
#     counter really tells TLS apart).
# Every server exits by itself after N connections (the stats line is written at exit).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
command -v openssl >/dev/null || skip "openssl not installed"
py=$(real_python) || skip "python3 not installed"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null' EXIT

www="$ASF_TMP/www"
mkdir -p "$www"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
	-keyout "$ASF_TMP/key.pem" -out "$ASF_TMP/cert.pem" >/dev/null 2>&1 || fail "cannot make a certificate"
make_file "$www/f1m" $((1 << 20))
make_file "$www/f4m" $((4 << 20))

fetch() { # URL NAME [curl args...]: download to $ASF_TMP/out.NAME, compare with $www/NAME
	local url=$1 name=$2; shift 2
	curl -sSf --max-time 30 "$@" -o "$ASF_TMP/out.$name" "$url" || fail "curl $url failed"
	cmp "$www/$name" "$ASF_TMP/out.$name" || fail "$url: received bytes differ from the file"
}

# wait_server PID LOG: the server must exit by itself, normally (exit status 0).
wait_server() {
	local i rc
	for i in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && fail "server $1 did not exit by itself: $(tail -n 5 "$2")"
	wait "$1"; rc=$?
	pid=
	[ $rc -eq 0 ] || fail "server $1 exited with status $rc: $(tail -n 5 "$2")"
}

# check_tls STATS PID WHO: exactly one line, of PID, tls_skipped >= 1, redirected_bytes = 0.
check_tls() {
	local st=$1 p=$2 who=$3
	[ -f "$st" ] || fail "$who: no stats file (did the process exit normally?)"
	[ "$(grep -c '^autosendfile: ' "$st")" -eq 1 ] || fail "$who: want 1 stats line: $(cat "$st")"
	grep -q "^autosendfile: pid=$p " "$st" || fail "$who: stats line is not of pid $p: $(cat "$st")"
	local tls red
	tls=$(stat_sum "$st" tls_skipped)
	red=$(stat_sum "$st" redirected_bytes)
	[ "$tls" -ge 1 ] || fail "$who: tls_skipped=$tls, want >= 1: $(cat "$st")"
	[ "$red" -eq 0 ] || fail "$who: redirected_bytes=$red, want 0: $(cat "$st")"
	echo "$who: tls_skipped=$tls redirected_bytes=0"
}

# a. openssl s_server -WWW under the launcher: 2 connections, then it exits.
port=$(free_port)
(cd "$www" && exec "$ASF_LAUNCHER" --stats "$ASF_TMP/st.s_server" openssl s_server -quiet -WWW \
	-accept "127.0.0.1:$port" -cert "$ASF_TMP/cert.pem" -key "$ASF_TMP/key.pem" -naccept 2 \
	</dev/null >"$ASF_TMP/s_server.log" 2>&1) &
pid=$!
wait_port "$port" || fail "s_server did not listen on $port"
fetch "https://127.0.0.1:$port/f1m" f1m -k
fetch "https://127.0.0.1:$port/f4m" f4m -k
p=$pid
wait_server "$pid" "$ASF_TMP/s_server.log"
check_tls "$ASF_TMP/st.s_server" "$p" "openssl s_server"

# b. python3 ssl + http.server under the launcher: 2 requests, then it exits.
cat >"$ASF_TMP/https_server.py" <<'EOF'
import functools, http.server, ssl, sys
port, n, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
httpd = http.server.HTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory="."))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
for _ in range(n):
    httpd.handle_request()
httpd.server_close()
EOF
port=$(free_port)
(cd "$www" && exec "$ASF_LAUNCHER" --stats "$ASF_TMP/st.python" "$py" "$ASF_TMP/https_server.py" \
	"$port" 2 "$ASF_TMP/cert.pem" "$ASF_TMP/key.pem" </dev/null >"$ASF_TMP/python.log" 2>&1) &
pid=$!
wait_port "$port" || fail "python https server did not listen on $port"
fetch "https://127.0.0.1:$port/f4m" f4m -k
fetch "https://127.0.0.1:$port/f1m" f1m -k
p=$pid
wait_server "$pid" "$ASF_TMP/python.log"
check_tls "$ASF_TMP/st.python" "$p" "python3 ssl http.server"

# c. The TLS client preloaded: curl, or python3's ssl client where curl cannot start under
# the preload (under check-all, curl deadlocks in setlocale at startup with the ASan runtime
# preloaded, with or without this library).
cat >"$ASF_TMP/https_get.py" <<'EOF'
import ssl, sys, urllib.request
ctx = None
if sys.argv[1].startswith("https:"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
with urllib.request.urlopen(sys.argv[1], context=ctx, timeout=30) as r, open(sys.argv[2], "wb") as f:
    f.write(r.read())
EOF
if env LD_PRELOAD="$ASF_PRELOAD" timeout 10 curl --version >/dev/null 2>&1; then
	client=curl
else
	client=python3
	echo "note: curl does not run with LD_PRELOAD=$ASF_PRELOAD; the client is python3's ssl"
fi
get() { # URL OUT STATS: the preloaded client fetches URL; sets cpid (its pid)
	if [ $client = curl ]; then
		env AUTOSENDFILE_STATS="$3" LD_PRELOAD="$ASF_PRELOAD" curl -sSf -k --max-time 30 -o "$2" "$1" &
	else
		env AUTOSENDFILE_STATS="$3" LD_PRELOAD="$ASF_PRELOAD" "$py" "$ASF_TMP/https_get.py" "$1" "$2" &
	fi
	cpid=$!
	wait $cpid || fail "preloaded $client failed on $1"
}

# c. The preloaded client fetches from a plain (not preloaded) s_server.
port=$(free_port)
(cd "$www" && exec openssl s_server -quiet -WWW -accept "127.0.0.1:$port" -cert "$ASF_TMP/cert.pem" \
	-key "$ASF_TMP/key.pem" -naccept 1 </dev/null >"$ASF_TMP/s_server2.log" 2>&1) &
pid=$!
wait_port "$port" || fail "plain s_server did not listen on $port"
get "https://127.0.0.1:$port/f4m" "$ASF_TMP/out.client" "$ASF_TMP/st.client"
cmp "$www/f4m" "$ASF_TMP/out.client" || fail "preloaded $client: received bytes differ from the file"
wait_server "$pid" "$ASF_TMP/s_server2.log"
check_tls "$ASF_TMP/st.client" "$cpid" "$client (TLS client)"

# Control: the same preloaded client over plain HTTP counts no TLS.
port=$(free_port)
(cd "$www" && exec "$py" -m http.server -b 127.0.0.1 "$port" >/dev/null 2>&1) &
pid=$!
wait_port "$port" || fail "http.server did not listen on $port"
get "http://127.0.0.1:$port/f1m" "$ASF_TMP/out.plain" "$ASF_TMP/st.plain"
cmp "$www/f1m" "$ASF_TMP/out.plain" || fail "plain $client: received bytes differ"
kill "$pid"; wait "$pid" 2>/dev/null; pid=
grep -q "^autosendfile: pid=$cpid " "$ASF_TMP/st.plain" || fail "control: no stats line of the preloaded $client: $(cat "$ASF_TMP/st.plain" 2>/dev/null)"
tls=$(stat_sum "$ASF_TMP/st.plain" tls_skipped)
[ "$tls" -eq 0 ] || fail "control: plain HTTP counted tls_skipped=$tls: $(cat "$ASF_TMP/st.plain")"
echo "control: plain HTTP $client tls_skipped=0"
