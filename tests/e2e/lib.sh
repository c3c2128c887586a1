# Shared helpers of the end-to-end scripts (sourced). Env from tests/run.sh:
# ASF_LIB, ASF_LAUNCHER, ASF_TESTBIN, ASF_TMP.
set -u
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "skipped: $*"; exit 77; }

# A free TCP port on 127.0.0.1 (bound and released; the caller binds it right away).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something listens on TCP PORT (max ~10 s). Reads /proc/net/tcp*
# rather than connecting, so a one-connection server (nc -l) is not used up.
wait_port() {
	local hex i
	hex=$(printf ':%04X ' "$1")
	for i in $(seq 1 100); do
		awk -v p="$hex" 'index($2 " ", p) { if ($4 == "0A") found=1 } END { exit !found }' \
			/proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# stat_max FILE KEY: the largest value of KEY over the stats lines in FILE (0 if none).
stat_max() {
	[ -f "$1" ] || { echo 0; return; }
	sed -n "s/^autosendfile: .* $2=\([0-9][0-9]*\).*/\1/p" "$1" | sort -n | tail -n 1 | awk '{v=$1} END {printf "%.0f\n", v+0}'
}

# stat_sum FILE KEY: the sum of KEY over the stats lines in FILE.
stat_sum() {
	[ -f "$1" ] || { echo 0; return; }
	sed -n "s/^autosendfile: .* $2=\([0-9][0-9]*\).*/\1/p" "$1" | awk '{s+=$1} END {printf "%.0f\n", s}'
}

# assert_redirected STATSFILE BYTES: redirected_bytes >= 95% of BYTES.
assert_redirected() {
	local got; got=$(stat_sum "$1" redirected_bytes)
	[ "$got" -ge $(($2 * 95 / 100)) ] || fail "redirected_bytes=$got < 95% of $2 ($(cat "$1" 2>/dev/null))"
	echo "redirected $got of $2 bytes"
}

# The real python binary (not a pyenv shim script, which would fork helpers under LD_PRELOAD).
real_python() { python3 -c 'import sys; print(sys.executable)'; }

# make_file PATH BYTES: random bytes, but the first one is 'R': random first bytes look like a
# TLS or SSLv2 hello about once in 60,000 files (asf_looks_like_tls), and a socket whose
# first bytes out do is passed through for good: a test asserting a redirected share then
# fails by chance (seen once in CI's test_livestats: tls_skipped=1, nothing redirected).
make_file() {
	if [ "$2" -gt 0 ]; then
		{ printf R; head -c $(($2 - 1)) /dev/urandom; } >"$1" || fail "cannot create $1"
	else
		: >"$1" || fail "cannot create $1"
	fi
}

# need_copyserver_hammer: sets $server (the demo's copyserver) and $hammer (build/tests/hammer),
# or fails if they are not built.
need_copyserver_hammer() {
	: "${ASF_TESTBIN:?}"
	hammer="$ASF_TESTBIN/hammer"
	server="$(dirname "$ASF_TESTBIN")/demo/copyserver"
	[ -x "$hammer" ] || fail "$hammer not built (make test-bins)"
	[ -x "$server" ] || fail "$server not built (make test-bins)"
}
