#!/usr/bin/env bash
# bench-runtimes.sh - the runtimes of issue 11 (they copy before they write), plain and
# under the library: the SBCL, Perl and Java copy loops sending a file to a receiver, and
# hunchentoot and php -S serving it to loadclient. Per variant: throughput (GB/s) and the
# sender's CPU (user+sys) per GB, median of ROUNDS interleaved rounds, and the ratio.
#
# Usage: demo/bench-runtimes.sh [ROUNDS (3)] [FILE SIZE MiB (200)] [SECS per server run (3)]
# Needs sbcl (+ cl-hunchentoot), perl, a JDK, php-cli, nc; a missing one is skipped.
# Run after `make test-bins`, from anywhere.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD rt=$top/tests/e2e/runtimes
ROUNDS=${1:-3} MIB=${2:-200} SECS=${3:-3}
LIB=$(realpath "${LIB:-build/libautosendfile.so}")
T=$(mktemp -d "${TMPDIR:-/tmp}/asf-rt.XXXXXX")
spid=
trap '[[ -n $spid ]] && kill $spid 2>/dev/null; rm -rf "$T"' EXIT
head -c $((MIB << 20)) /dev/urandom >"$T/body"
cp "$rt/readfile.php" "$T/"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pre() { [[ $1 == lib ]] && echo "env LD_PRELOAD=$LIB AUTOSENDFILE_STATS=$T/st.$2" || echo env; }

# loop VARIANT NAME CMD...: the command sends $T/body to 127.0.0.1:PORT (PORT is appended).
# Prints "GB/s CPUs/GB".
loop() {
	local v=$1 name=$2; shift 2
	local p; p=$(port)
	nc -l 127.0.0.1 "$p" >/dev/null </dev/null &
	local npid=$!
	sleep 0.2
	local out
	out=$( { /usr/bin/time -f '%e %U %S' $(pre "$v" "$name") "$@" "$T/body" "$p" >/dev/null; } 2>&1 | tail -n 1)
	wait $npid
	awk -v o="$out" -v b=$((MIB << 20)) 'BEGIN { split(o, f, " "); printf "%.3f %.2f\n", b / f[1] / 1e9, (f[2] + f[3]) / (b / 1e9) }'
}

# server VARIANT NAME PORT CMD...: the server on PORT, loadclient for SECS; "GB/s CPUs/GB".
server() {
	local v=$1 name=$2 p=$3; shift 3
	$(pre "$v" "$name") "$@" >/dev/null 2>&1 &
	spid=$!
	for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$p/readfile.php" && break; sleep 0.1; done
	local t0; t0=$(awk '{print $14 + $15}' /proc/$spid/stat 2>/dev/null || echo 0)
	local line; line=$(build/demo/loadclient --port "$p" --path /body --clients 1 --seconds "$SECS")
	local t1; t1=$(awk '{print $14 + $15}' /proc/$spid/stat 2>/dev/null || echo 0)
	kill -INT $spid; wait $spid 2>/dev/null; spid=
	awk -v l="$line" -v c=$(( t1 - t0 )) -v hz="$(getconf CLK_TCK)" 'BEGIN { n = split(l, f, " ");
		for (i = 1; i <= n; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
		printf "%.3f %.2f\n", v["bytes"] / v["seconds"] / 1e9, (c / hz) / (v["bytes"] / 1e9) }'
}

run() { # VARIANT NAME
	local p
	case $2 in
	sbcl) loop "$1" sbcl sbcl --script "$rt/sbcl-loop.lisp" ;;
	perl) loop "$1" perl perl "$rt/perl-loop.pl" ;;
	java) loop "$1" java java -cp "$T" Loop loop ;;
	hunchentoot) p=$(port); server "$1" ht "$p" sbcl --non-interactive --load "$rt/hunchentoot.lisp" "$T/" "$p" ;;
	php) p=$(port); server "$1" php "$p" php -S "127.0.0.1:$p" "$T/readfile.php" ;;
	esac
}

names=()
command -v sbcl >/dev/null && names+=(sbcl) &&
	sbcl --non-interactive --eval '(require :asdf)' --eval '(asdf:load-system :hunchentoot)' >/dev/null 2>&1 &&
	names+=(hunchentoot)
command -v perl >/dev/null && names+=(perl)
command -v javac >/dev/null && javac -d "$T" "$rt/Loop.java" && names+=(java)
command -v php >/dev/null && names+=(php)
# php -S serves /body through the router too (readfile of the 'body' file).
printf '| runtime | plain GB/s | library GB/s | ratio | plain CPU s/GB | library CPU s/GB | ratio | share by sendfile |\n|---|---|---|---|---|---|---|---|\n'
for n in "${names[@]}"; do
	pa=() la=() pc=() lc=()
	for r in $(seq "$ROUNDS"); do
		read -r g c < <(run plain "$n"); pa+=("$g"); pc+=("$c")
		read -r g c < <(run lib "$n"); la+=("$g"); lc+=("$c")
	done
	med() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
	st=$T/st.$n; [[ $n == hunchentoot ]] && st=$T/st.ht
	share=$(sed -n 's/.* redirected_bytes=\([0-9]*\) .* passthrough_bytes=\([0-9]*\) .*/\1 \2/p' "$st" 2>/dev/null |
		awk '{r+=$1; p+=$2} END {if (r+p) printf "%.1f%%", 100*r/(r+p); else print "-"}')
	gp=$(med "${pa[@]}") gl=$(med "${la[@]}") cp=$(med "${pc[@]}") cl=$(med "${lc[@]}")
	awk -v n="$n" -v gp="$gp" -v gl="$gl" -v cp="$cp" -v cl="$cl" -v s="$share" 'BEGIN {
		printf "| %s | %.3f | %.3f | %.2fx | %.2f | %.2f | %.2fx | %s |\n", n, gp, gl, gl / gp, cp, cl, (cp > 0 ? cl / cp : 0), s }'
done
