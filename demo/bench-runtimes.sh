#!/usr/bin/env bash
# bench-runtimes.sh - the runtimes of issue 11 (they copy before they write), plain and
# under the library. Three parts, each over ROUNDS interleaved rounds (medians):
#   load  the SBCL, Perl and Java copy loops sending a file of MiB to a receiver (nc), and
#         hunchentoot and php -S serving it to loadclient (1 client, SECS): throughput (GB/s)
#         and the sender's CPU (user+sys) per GB, plain and under the library, and the ratio.
#   mem   kernel memory held by STALLED clients (build/demo/stallclient: each requests a
#         16 MiB file, reads 1 byte and stops reading; once the send queues stop growing, the
#         drop of MemAvailable + the free pages on the per-CPU lists, median of 5 samples:
#         stall_memory of measure.sh, as in bench.sh, which reports MemAvailable alone; that
#         figure is printed too, and so is the growth of the server's own anon memory
#         (RssAnon, Apache: its process group) over the same samples, and the rest, the
#         kernel's) for the SBCL loop as a
#         server (tests/e2e/runtimes/sbcl-server.lisp: a thread per connection, the same
#         8 KiB read-sequence / write-sequence loop) and hunchentoot, plain and under the
#         library, and for Apache 2.4 with EnableSendfile On.
#   apache hunchentoot under the library beside Apache 2.4 (Debian apache2, private config as
#         in bench.sh, EnableSendfile On, mpm_event, CPU summed over its process group)
#         serving the same file: Apache's load runs are made in the hunchentoot rounds of the
#         load part, its memory runs in the mem part; this part only prints the table.
# "under the library" = LD_PRELOAD=build/libautosendfile.so AUTOSENDFILE_STATS=FILE.
# Every HTTP load run compares its first download with the file (cmp); a difference makes
# the script exit 1 after its tables.
#
# Usage: demo/bench-runtimes.sh [ROUNDS (3)] [FILE SIZE MiB (200)] [SECS per server run (3)]
# Env: RT_PARTS ("load mem": the parts to run; the apache table needs both),
#      RT_STALLED (100: stalled clients), RT_NAMES (every runtime: a subset of
#      "sbcl hunchentoot perl java php" for the load part)
# Needs sbcl (+ cl-hunchentoot), perl, a JDK, php-cli, nc, curl, /usr/sbin/apache2; a
# missing one is skipped. Prints markdown tables. Run after `make test-bins`, from anywhere.
# Time: about 2 min with the defaults (124 s here).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$PWD rt=$top/tests/e2e/runtimes
. "$top/demo/measure.sh"
ROUNDS=${1:-3} MIB=${2:-200} SECS=${3:-3}
PARTS=${RT_PARTS:-load mem} STALLED=${RT_STALLED:-100}
NAMES=${RT_NAMES:-sbcl hunchentoot perl java php}
LIB=$(realpath "${LIB:-build/libautosendfile.so}")
STALL=$top/build/demo/stallclient LOAD=$top/build/demo/loadclient
APACHE=/usr/sbin/apache2
for b in "$LIB" "$STALL" "$LOAD"; do
	[[ -e $b ]] || { echo "bench-runtimes: $b missing (make all test-bins)" >&2; exit 1; }
done
unset AUTOSENDFILE AUTOSENDFILE_STATS AUTOSENDFILE_LOG AUTOSENDFILE_MIN_BYTES AUTOSENDFILE_CHUNK AUTOSENDFILE_VERIFY
scratch_dir asf-rt # $WD, removed at exit with the server ($SPID) and client ($CPID)
chmod 755 "$WD"    # Apache's workers (www-data) serve from it
head -c $((MIB << 20)) /dev/urandom >"$WD/body"
head -c 16M /dev/urandom >"$WD/f16m"
cp "$rt/readfile.php" "$WD/"
chmod 644 "$WD/body" "$WD/f16m" "$WD/readfile.php"
cat "$WD/body" "$WD/f16m" >/dev/null # hot in the page cache
FAILS=()
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pre() { [[ $1 == lib ]] && echo "env LD_PRELOAD=$LIB AUTOSENDFILE_STATS=$WD/st.$2" || echo env; }
# rotate R WORDS...: the words rotated by R-1
rotate() { local r=$1; shift; local a=("$@") n=$# k; for ((k = 0; k < n; k++)); do echo "${a[(k + r - 1) % n]}"; done; }

# loop VARIANT NAME CMD...: the command sends $WD/body to 127.0.0.1:PORT (PORT is appended).
# Sets RG (GB/s) and RC (CPU s/GB).
loop() {
	local v=$1 name=$2; shift 2
	local p; p=$(port)
	nc -l 127.0.0.1 "$p" >/dev/null </dev/null &
	local npid=$!
	sleep 0.2
	local out
	# shellcheck disable=SC2046 # pre's words are meant to split
	out=$( { /usr/bin/time -f '%e %U %S' $(pre "$v" "$name") "$@" "$WD/body" "$p" >/dev/null; } 2>&1 | tail -n 1)
	wait $npid
	read -r RG RC < <(awk -v o="$out" -v b=$((MIB << 20)) 'BEGIN { split(o, f, " "); printf "%.3f %.2f\n", b / f[1] / 1e9, (f[2] + f[3]) / (b / 1e9) }')
}

# start VARIANT SERVER STATS: SERVER (sbcl-srv, hunchentoot, php, apache) plain or under the
# library (stats to $WD/st.STATS) on a free port, serving $WD; sets SPID and PORT, returns
# once it answers (1 if it never does). SIGINT/SIGQUIT back to default in the child (bash
# starts background jobs with them ignored); apache in its own process group (setsid).
start() {
	local v=$1 s=$2 tag=$3 i
	PORT=$(port)
	local cmd=()
	case $s in
	sbcl-srv) cmd=(sbcl --script "$rt/sbcl-server.lisp" "$WD/" "$PORT") ;;
	hunchentoot) cmd=(sbcl --non-interactive --load "$rt/hunchentoot.lisp" "$WD/" "$PORT") ;;
	php) cmd=(php -S "127.0.0.1:$PORT" "$WD/readfile.php") ;;
	apache)
		apache_conf "$WD/apache" "$PORT" "$WD" On
		cmd=(setsid "$APACHE" -f "$WD/apache/apache2.conf" -DFOREGROUND) ;;
	esac
	# shellcheck disable=SC2046 # pre's words are meant to split
	( trap - INT QUIT; exec $(pre "$v" "$tag") "${cmd[@]}" ) >"$WD/srv.log" 2>&1 &
	SPID=$!
	for ((i = 0; i < 300; i++)); do
		curl -sf -o /dev/null "http://127.0.0.1:$PORT/readfile.php" && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench-runtimes: $s ($v) did not answer: $(tail -n 3 "$WD/srv.log")" >&2
	return 1
}
# stop SERVER: SIGINT (SIGTERM for apache, then its whole process group must be gone).
stop() {
	local s=$1 i
	if [[ $s == apache ]]; then
		kill -TERM "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do pgrep -g "$SPID" >/dev/null || break; sleep 0.05; done
		pgrep -g "$SPID" >/dev/null && kill -KILL -- "-$SPID"
	else
		kill -INT "$SPID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.05; done
		kill -0 "$SPID" 2>/dev/null && { echo "bench-runtimes: $s ignored SIGINT" >&2; kill -KILL "$SPID"; }
		wait "$SPID" 2>/dev/null
	fi
	SPID=
}
srv_ticks() { if [[ $1 == apache ]]; then pgrp_ticks "$SPID"; else ticks "$SPID" 2>/dev/null || echo 0; fi; }

# server VARIANT SERVER STATS: the server serving $WD/body to loadclient (1 client, SECS);
# sets RG (GB/s) and RC (CPU s/GB); the first download is compared with the file.
server() {
	local v=$1 s=$2 tag=$3 t0 t1 line
	RG=0 RC=0
	start "$v" "$s" "$tag" || { FAILS+=("$s $v: did not start"); return; }
	rm -f "$WD/dl.0"
	t0=$(srv_ticks "$s")
	line=$("$LOAD" --port "$PORT" --path /body --clients 1 --seconds "$SECS" --save "$WD/dl" --save-count 1)
	t1=$(srv_ticks "$s")
	stop "$s"
	cmp -s "$WD/dl.0" "$WD/body" || { echo "bench-runtimes: CORRUPT download: $s $v" >&2; FAILS+=("$s $v: download differs"); }
	load_result "$line" || { FAILS+=("$s $v: no result: $line"); return; }
	read -r RG RC < <(awk -v b="$LOAD_BYTES" -v s="$LOAD_SECS" -v c=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.3f %.2f\n", b / s / 1e9, (c / hz) / (b / 1e9) }')
}

run() { # VARIANT NAME
	case $2 in
	sbcl) loop "$1" sbcl sbcl --script "$rt/sbcl-loop.lisp" ;;
	perl) loop "$1" perl perl "$rt/perl-loop.pl" ;;
	java) loop "$1" java java -cp "$WD" Loop loop ;;
	hunchentoot) server "$1" hunchentoot ht ;;
	php) server "$1" php php ;;
	apache) server native apache apache ;;
	esac
}

# share STATS...: the share of the body bytes the library sent by sendfile
share() {
	cat "$@" 2>/dev/null | sed -n 's/.* redirected_bytes=\([0-9]*\) .* passthrough_bytes=\([0-9]*\) .*/\1 \2/p' |
		awk '{r+=$1; p+=$2} END {if (r+p) printf "%.1f%%", 100*r/(r+p); else print "-"}'
}
med() { printf '%s\n' "$@" | median; }
# range V...: "median [min-max]"
range() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "%.0f [%.0f-%.0f]", v[int((NR+1)/2)], v[1], v[NR]}'; }

have_ht=0 have_apache=0
command -v sbcl >/dev/null &&
	sbcl --non-interactive --eval '(require :asdf)' --eval '(asdf:load-system :hunchentoot)' >/dev/null 2>&1 && have_ht=1
[[ -x $APACHE ]] && have_apache=1
declare -A LG LC ML # load GB/s, CPU s/GB per "name variant"; memory MB per "server variant"

# ---- load ---------------------------------------------------------------------------------
if [[ " $PARTS " == *" load "* ]]; then
	names=()
	for n in $NAMES; do
		case $n in
		sbcl) command -v sbcl >/dev/null && names+=(sbcl) ;;
		hunchentoot) ((have_ht)) && names+=(hunchentoot) ;;
		perl) command -v perl >/dev/null && names+=(perl) ;;
		java) command -v javac >/dev/null && javac -d "$WD" "$rt/Loop.java" && names+=(java) ;;
		php) command -v php >/dev/null && names+=(php) ;; # php -S serves /body through the router (readfile)
		esac
	done
	printf '**Throughput and CPU, plain vs under the library** (%s rounds; loops: %s MiB file to `nc -l`; servers: loadclient, 1 client, %s s, same file)\n\n' "$ROUNDS" "$MIB" "$SECS"
	printf '| runtime | plain GB/s | library GB/s | ratio | plain CPU s/GB | library CPU s/GB | ratio | share by sendfile |\n|---|---|---|---|---|---|---|---|\n'
	for n in "${names[@]}"; do
		pa=() la=() pc=() lc=() aa=() ac=()
		for r in $(seq "$ROUNDS"); do
			run plain "$n"; pa+=("$RG"); pc+=("$RC")
			run lib "$n"; la+=("$RG"); lc+=("$RC")
			if [[ $n == hunchentoot ]] && ((have_apache)); then # Apache beside it, same rounds
				run - apache; aa+=("$RG"); ac+=("$RC")
			fi
		done
		st=$WD/st.$n; [[ $n == hunchentoot ]] && st=$WD/st.ht
		gp=$(med "${pa[@]}") gl=$(med "${la[@]}") cp=$(med "${pc[@]}") cl=$(med "${lc[@]}")
		LG["$n plain"]=$gp LG["$n lib"]=$gl LC["$n plain"]=$cp LC["$n lib"]=$cl
		((${#aa[@]})) && LG["apache native"]=$(med "${aa[@]}") LC["apache native"]=$(med "${ac[@]}")
		awk -v n="$n" -v gp="$gp" -v gl="$gl" -v cp="$cp" -v cl="$cl" -v s="$(share "$st")" 'BEGIN {
			printf "| %s | %.3f | %.3f | %.2fx | %.2f | %.2f | %.2fx | %s |\n", n, gp, gl, (gp > 0 ? gl / gp : 0), cp, cl, (cp > 0 ? cl / cp : 0), s }'
	done
	echo
fi

# ---- mem ----------------------------------------------------------------------------------
if [[ " $PARTS " == *" mem "* ]]; then
	cfgs=()
	command -v sbcl >/dev/null && cfgs+=(sbcl-srv:plain sbcl-srv:lib)
	((have_ht)) && cfgs+=(hunchentoot:plain hunchentoot:lib)
	((have_apache)) && cfgs+=(apache:native)
	declare -A MEMS MAV QS ANON KERN
	for r in $(seq "$ROUNDS"); do
		echo "  mem round $r: $(rotate "$r" "${cfgs[@]}" | tr '\n' ' ')" >&2
		for sc in $(rotate "$r" "${cfgs[@]}"); do
			s=${sc%%:*} v=${sc#*:}
			start "$v" "$s" "mem.$s" || { FAILS+=("mem $s $v: did not start"); continue; }
			sleep 0.2
			STALL_SERVER=$SPID
			[[ $s == apache ]] && STALL_SERVER=-$SPID
			if stall_memory "$PORT" /f16m "$STALLED" 1200 80 3 5; then
				read -r dkb q <<<"$STALL_RESULT"
				MEMS[$sc]+="$((STALL_PCP_DROP_KB / 1024)) " MAV[$sc]+="$((dkb / 1024)) " QS[$sc]+="$((q >> 20)) "
				ANON[$sc]+="$((STALL_ANON_KB / 1024)) " KERN[$sc]+="$(((STALL_PCP_DROP_KB - STALL_ANON_KB) / 1024)) "
			else
				echo "bench-runtimes: stallclient failed ($s $v round $r): $STALL_ERR" >&2
				FAILS+=("mem $s $v round $r: stallclient failed")
			fi
			# once the clients are gone: the file is served byte-exact
			{ curl -sf --max-time 30 -o "$WD/got" "http://127.0.0.1:$PORT/f16m" && cmp -s "$WD/got" "$WD/f16m"; } ||
				{ echo "bench-runtimes: CORRUPT or failed download: $s $v" >&2; FAILS+=("mem $s $v: download differs"); }
			stop "$s"
			sleep 0.5 # let the freed socket memory come back
		done
	done
	printf '**Memory held by %s stalled clients** (16 MiB file; drop of MemAvailable + per-CPU free lists, MB: median [min-max] of %s rounds; the other columns: medians)\n\n' "$STALLED" "$ROUNDS"
	printf '| server | plain MB | library MB | library / plain | server'"'"'s own memory (RssAnon growth), plain / library MB | the rest (mostly kernel), plain / library MB | the rest: library / plain | MemAvailable alone, plain / library MB | send queues, plain / library MB | share by sendfile |\n|---|---|---|---|---|---|---|---|---|---|\n'
	for s in sbcl-srv hunchentoot; do
		[[ -n ${MEMS[$s:plain]:-} && -n ${MEMS[$s:lib]:-} ]] || continue
		read -ra a <<<"${MEMS[$s:plain]}"; read -ra b <<<"${MEMS[$s:lib]}"
		read -ra qa <<<"${QS[$s:plain]}"; read -ra qb <<<"${QS[$s:lib]}"
		read -ra ma <<<"${MAV[$s:plain]}"; read -ra mb <<<"${MAV[$s:lib]}"
		read -ra oa <<<"${ANON[$s:plain]}"; read -ra ob <<<"${ANON[$s:lib]}"
		read -ra ka <<<"${KERN[$s:plain]}"; read -ra kb_ <<<"${KERN[$s:lib]}"
		ML["$s plain"]=$(med "${a[@]}") ML["$s lib"]=$(med "${b[@]}")
		label=$s; [[ $s == sbcl-srv ]] && label="SBCL loop (sbcl-server.lisp)"
		awk -v l="$label" -v pa="$(range "${a[@]}")" -v la="$(range "${b[@]}")" -v p="${ML["$s plain"]}" -v q="${ML["$s lib"]}" \
			-v ma="$(med "${ma[@]}")" -v mb="$(med "${mb[@]}")" -v oa="$(med "${oa[@]}")" -v ob="$(med "${ob[@]}")" \
			-v ka="$(med "${ka[@]}")" -v kb="$(med "${kb_[@]}")" \
			-v qa="$(med "${qa[@]}")" -v qb="$(med "${qb[@]}")" -v sh="$(share "$WD/st.mem.$s")" '
			function rat(a, b) { return b > 0 && a > 0 ? sprintf("%.3fx (1/%.0f)", b / a, a / b) : "library at or below the noise" }
			BEGIN { printf "| %s | %s | %s | %s | %s / %s | %s / %s | %s | %s / %s | %s / %s | %s |\n",
				l, pa, la, rat(p, q), oa, ob, ka, kb, rat(ka, kb), ma, mb, qa, qb, sh }'
	done
	if [[ -n ${MEMS[apache:native]:-} ]]; then
		read -ra a <<<"${MEMS[apache:native]}"; read -ra qa <<<"${QS[apache:native]}"; read -ra ma <<<"${MAV[apache:native]}"
		read -ra oa <<<"${ANON[apache:native]}"; read -ra ka <<<"${KERN[apache:native]}"
		ML["apache native"]=$(med "${a[@]}")
		printf '| Apache 2.4, EnableSendfile On (native) | | %s | | - / %s | - / %s | | - / %s | - / %s | native |\n' \
			"$(range "${a[@]}")" "$(med "${oa[@]}")" "$(med "${ka[@]}")" "$(med "${ma[@]}")" "$(med "${qa[@]}")"
	fi
	echo
fi

# ---- apache -------------------------------------------------------------------------------
if [[ -n ${LG["apache native"]:-} || -n ${ML["apache native"]:-} ]]; then
	printf '**hunchentoot under the library beside Apache 2.4 with EnableSendfile On** (the runs above; ratios: to Apache)\n\n'
	printf '| server | GB/s | CPU s/GB | MB held by %s stalled clients |\n|---|---|---|---|\n' "$STALLED"
	for k in "apache native" "hunchentoot plain" "hunchentoot lib"; do
		case $k in
		apache*) label="Apache 2.4, EnableSendfile On" ;;
		*plain) label="hunchentoot, plain" ;;
		*) label="hunchentoot under the library" ;;
		esac
		awk -v l="$label" -v g="${LG[$k]:-}" -v c="${LC[$k]:-}" -v m="${ML[$k]:-}" -v k="$k" \
			-v ag="${LG["apache native"]:-}" -v ac="${LC["apache native"]:-}" -v am="${ML["apache native"]:-}" '
			function cell(x, a, fmt) { if (x == "") return "-"; s = sprintf(fmt, x)
				if (k != "apache native" && a != "" && a > 0) s = s sprintf(" (%.2fx)", x / a); return s }
			BEGIN { printf "| %s | %s | %s | %s |\n", l, cell(g, ag, "%.3f"), cell(c, ac, "%.2f"), cell(m, am, "%.0f") }'
	done
	echo
fi

echo "bench-runtimes: done in $SECONDS s" >&2
if ((${#FAILS[@]})); then
	echo "bench-runtimes: FAILED:" >&2
	printf '  %s\n' "${FAILS[@]}" >&2
	exit 1
fi
exit 0
