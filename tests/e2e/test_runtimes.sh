#!/usr/bin/env bash
# Runtimes that copy what they read before writing it (issue 11), unmodified, under the
# launcher: the SBCL read-sequence/write-sequence loop, hunchentoot serving static files,
# Perl sysread + print through PerlIO, Java's read(byte[64K]) loop and transferTo (one JVM),
# PHP readfile() under php -S of a small (mmap) and a large (8 KiB reads) file. Every byte
# is compared; the share sent by sendfile is printed and must be >= 95% of the body bytes.
# A runtime that is not installed is skipped (tests/deps.sh installs them); 77 if all are.
. "$(dirname "$0")/lib.sh"
# Under check-all the ASan runtime is preloaded too; this program does not run under it
# (vsftpd: its seccomp sandbox; the runtimes: their own memory managers).
[ "$ASF_PRELOAD" = "$ASF_LIB" ] || skip "a sanitizer runtime is preloaded with the library ($ASF_PRELOAD)"
rt="$(cd "$(dirname "$0")" && pwd)/runtimes"
command -v nc >/dev/null || skip "nc not installed"
command -v curl >/dev/null || skip "curl not installed"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
ran=0 skipped=()

mkdir -p "$ASF_TMP/www"
make_file "$ASF_TMP/www/small" $((1 << 20))
make_file "$ASF_TMP/www/large" $((5 << 20))
small=$((1 << 20)) large=$((5 << 20))

# share NAME STATS BODY_BYTES: prints the share, fails under 95%.
share() {
	local got; got=$(stat_sum "$2" redirected_bytes)
	echo "$1: $((got * 100 / $3))% of $3 body bytes by sendfile ($got)"
	[ "$got" -ge $(($3 * 95 / 100)) ] || fail "$1: redirected_bytes=$got < 95% of $3 ($(cat "$2" 2>/dev/null))"
}

# listen NAME: a one-connection receiver writing $ASF_TMP/recv.NAME; sets port, rpid.
listen() {
	port=$(free_port)
	nc -l 127.0.0.1 "$port" </dev/null >"$ASF_TMP/recv.$1" &
	rpid=$!
	pids+=("$rpid")
	wait_port "$port" || fail "nc did not listen on $port"
}

# received NAME PID FILE: waits for the receiver, compares.
received() {
	timeout 20 tail --pid="$2" -f /dev/null || fail "$1: receiver did not finish"
	cmp "$3" "$ASF_TMP/recv.$1" || fail "$1: received bytes differ"
}

# serve NAME PORT: waits until the server answers, fetches small and large, compares.
fetch_both() {
	local name=$1 port=$2 f
	for f in small large; do
		curl -sf --max-time 30 -o "$ASF_TMP/got.$name.$f" "http://127.0.0.1:$port/$f" ||
			fail "$name: curl $f failed"
		cmp "$ASF_TMP/www/$f" "$ASF_TMP/got.$name.$f" || fail "$name: $f: received bytes differ"
	done
}

# stop PID: SIGINT (each server exits normally on it and writes its stats line).
stop() {
	kill -INT "$1" 2>/dev/null
	timeout 20 tail --pid="$1" -f /dev/null || { kill -9 "$1"; fail "server $1 did not stop"; }
}

# --- SBCL: the loop, then hunchentoot ---------------------------------------------------
if command -v sbcl >/dev/null; then
	ran=1
	listen sbcl
	"$ASF_LAUNCHER" --stats "$ASF_TMP/st.sbcl" sbcl --script "$rt/sbcl-loop.lisp" \
		"$ASF_TMP/www/large" "$port" || fail "sbcl loop failed"
	received sbcl "$rpid" "$ASF_TMP/www/large"
	share "sbcl read-sequence/write-sequence" "$ASF_TMP/st.sbcl" "$large"

	# Compile hunchentoot's fasls once, without the library (the first time takes ~45 s).
	if timeout 120 sbcl --non-interactive --eval '(require :asdf)' \
		--eval '(handler-case (asdf:load-system :hunchentoot) (error () (sb-ext:exit :code 3)))' \
		>"$ASF_TMP/ht-compile.log" 2>&1; then
		port=$(free_port)
		"$ASF_LAUNCHER" --stats "$ASF_TMP/st.ht" sbcl --non-interactive \
			--load "$rt/hunchentoot.lisp" "$ASF_TMP/www/" "$port" >"$ASF_TMP/ht.log" 2>&1 &
		pid=$!
		pids+=("$pid")
		wait_port "$port" || { sleep 5; wait_port "$port"; } || fail "hunchentoot did not listen"
		fetch_both hunchentoot "$port"
		stop "$pid"
		share "hunchentoot static files" "$ASF_TMP/st.ht" $((small + large))
	else
		skipped+=("hunchentoot (cl-hunchentoot does not load: $(tail -n 1 "$ASF_TMP/ht-compile.log"))")
	fi
else
	skipped+=("sbcl, hunchentoot (sbcl not installed)")
fi

# --- Perl ---------------------------------------------------------------------------------
if command -v perl >/dev/null && perl -MIO::Socket::INET -e 1 2>/dev/null; then
	ran=1
	listen perl
	"$ASF_LAUNCHER" --stats "$ASF_TMP/st.perl" perl "$rt/perl-loop.pl" "$ASF_TMP/www/large" \
		"$port" || fail "perl loop failed"
	received perl "$rpid" "$ASF_TMP/www/large"
	share "perl sysread + print" "$ASF_TMP/st.perl" "$large"
else
	skipped+=("perl (not installed)")
fi

# --- Java: both loops in one JVM (it starts slowly) ---------------------------------------
if command -v javac >/dev/null && command -v java >/dev/null; then
	ran=1
	mkdir -p "$ASF_TMP/java"
	javac -d "$ASF_TMP/java" "$rt/Loop.java" || fail "javac failed"
	listen jloop; p1=$port r1=$rpid
	listen jxfer; p2=$port r2=$rpid
	"$ASF_LAUNCHER" --stats "$ASF_TMP/st.java" java -Xshare:auto -cp "$ASF_TMP/java" Loop \
		loop "$ASF_TMP/www/large" "$p1" xfer "$ASF_TMP/www/large" "$p2" || fail "java failed"
	received jloop "$r1" "$ASF_TMP/www/large"
	received jxfer "$r2" "$ASF_TMP/www/large"
	share "java read(byte[64K]) + write, transferTo" "$ASF_TMP/st.java" $((2 * large))
else
	skipped+=("java (no JDK)")
fi

# --- PHP ----------------------------------------------------------------------------------
if command -v php >/dev/null; then
	ran=1
	cp "$rt/readfile.php" "$ASF_TMP/www/"
	port=$(free_port)
	"$ASF_LAUNCHER" --stats "$ASF_TMP/st.php" php -S "127.0.0.1:$port" "$ASF_TMP/www/readfile.php" \
		>"$ASF_TMP/php.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_port "$port" || fail "php -S did not listen"
	fetch_both php "$port"
	stop "$pid"
	share "php readfile (1 MiB mmap, 5 MiB reads)" "$ASF_TMP/st.php" $((small + large))
else
	skipped+=("php (php-cli not installed)")
fi

for s in "${skipped[@]}"; do echo "skipped: $s"; done
[ "$ran" = 1 ] || skip "no runtime installed (sbcl, perl, a JDK, php-cli)"
echo ok
