# measure.sh - what demo.sh, bench.sh and bench-runtimes.sh share, sourced by them (bash):
# their scratch directory and clean-up, the measurements, and the private Apache config. The
# measurements need $WD (made by scratch_dir) and $STALL (build/demo/stallclient).

# scratch_dir NAME: a fresh $WD; at exit it is removed, and the server ($SPID) and client
# ($CPID) the script has running are stopped.
scratch_dir() {
	WD=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	SPID='' CPID=''
	trap scratch_cleanup EXIT
	trap 'exit 130' INT TERM
}
scratch_cleanup() {
	[[ -n $CPID ]] && kill "$CPID" 2>/dev/null
	if [[ -n $SPID ]]; then
		kill -TERM "$SPID" 2>/dev/null
		sleep 0.3
		kill -KILL "$SPID" 2>/dev/null
	fi
	rm -rf "$WD"
}

# kb KEY: a /proc/meminfo value in kB (MemAvailable...).
kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }

# pcp_kb: free pages held on the per-CPU page lists, in kB (/proc/zoneinfo, "count:" of every
# CPU's pageset, in pages). MemFree and MemAvailable leave them out. On this kernel (6.18,
# pcp->high auto-tuned) the pages a few hundred closed sockets free land there, up to a
# few hundred MB, and drain back to MemFree at a few MB/s: a measurement started within
# seconds of such a free sees its allocations served from those lists and reads too small
# a drop of MemAvailable (even a negative one).
pcp_kb() { awk -v p="$(getconf PAGESIZE)" '$1 == "count:" {s += $2} END {print s * p / 1024}' /proc/zoneinfo; }

# anon_kb PID | -PGID: the anonymous memory (RssAnon) of a process, or summed over a process
# group, in kB: a server's own memory, to tell it from the kernel's.
anon_kb() {
	local p t=0 ps
	if [[ $1 == -* ]]; then ps=$(pgrep -g "${1#-}"); else ps=$1; fi
	for p in $ps; do t=$((t + $(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
	echo $t
}

# ticks PID: utime + stime of a process in clock ticks (fields 14 and 15, counted after
# the ")", which a process name may contain).
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# pgrp_ticks PGID: utime + stime summed over the processes of a process group (Apache's
# parent and its workers, which live as long as the server: no MaxConnectionsPerChild).
pgrp_ticks() {
	local p t=0
	for p in $(pgrep -g "$1"); do t=$((t + $(ticks "$p" 2>/dev/null || echo 0))); done
	echo $t
}

# txq PORT: bytes queued in the send queues of the established TCP sockets on local PORT
# (/proc/net/tcp tx_queue: sent or queued, not yet acknowledged by the peer).
txq() {
	local sum=0 h
	for h in $(awk -v p="$(printf ':%04X' "$1")" '$4 == "01" && substr($2, length($2) - 4) == p {
		split($5, q, ":"); print q[1] }' /proc/net/tcp); do
		sum=$((sum + 16#$h))
	done
	echo $sum
}

# load_result LINE: LOAD_BYTES and LOAD_SECS from loadclient's summary line; 1 if absent.
load_result() {
	LOAD_BYTES=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$1")
	LOAD_SECS=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$1")
	[[ -n $LOAD_BYTES && -n $LOAD_SECS ]]
}

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# stall_memory PORT PATH CLIENTS WAIT_CHECKS QUEUE_CHECKS STABLE SAMPLES
# Starts CLIENTS stallclients that request PATH, read 1 byte and stop reading; waits up to
# WAIT_CHECKS x 50 ms until all have stalled, then until the total of the send queues stops
# growing (STABLE checks 100 ms apart within 0.5%, at most QUEUE_CHECKS), samples the drop
# of MemAvailable SAMPLES times and closes the clients. Sets STALL_RESULT="DROP_KB
# QUEUED_BYTES" (the median drop) and returns 0; returns 1 with the client's output in
# STALL_ERR if the clients never all stalled. MemAvailable is read before the clients start.
# Also sets STALL_PCP_DROP_KB: the median drop of MemAvailable + pcp_kb (free pages on the
# per-CPU lists counted as available), the figure that does not depend on what the lists
# held at the start. (STALL_RESULT stays the plain MemAvailable drop: bench.sh and demo.sh
# report it.) With STALL_SERVER set (PID, or -PGID for a process group), also sets
# STALL_ANON_KB: the median growth of the server's anon memory (anon_kb) over the same
# samples, the part of the drop that is the server's own memory, not the kernel's.
# Call it directly, not in $(...): CPID must reach the caller's cleanup trap.
stall_memory() {
	local port=$1 path=$2 clients=$3 waits=$4 qchecks=$5 stable=$6 samples=$7
	local base basep base_anon=0 i st=0 smp=() smpp=() smpa=() q0=-1 q=0 same=0 a
	base=$(kb MemAvailable) basep=$(pcp_kb)
	[[ -n ${STALL_SERVER:-} ]] && base_anon=$(anon_kb "$STALL_SERVER")
	# Remove the last run's output first: the shell truncates it only once the background
	# child runs, so a stale "stalled" line could be seen and then vanish.
	rm -f "$WD/stall.out"
	"$STALL" --port "$port" --path "$path" --clients "$clients" --read-bytes 1 --rcvbuf 0 \
		--hold 30 >"$WD/stall.out" 2>"$WD/stall.err" &
	CPID=$!
	for ((i = 0; i < waits; i++)); do
		grep -q '^stalled' "$WD/stall.out" 2>/dev/null && break
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q '^stalled' "$WD/stall.out" 2>/dev/null; then
		kill "$CPID" 2>/dev/null
		wait "$CPID" || st=$?
		CPID=
		STALL_ERR="exit $st after $i checks: out=[$(cat "$WD/stall.out")] err=[$(cat "$WD/stall.err")]"
		return 1
	fi
	for ((i = 0; i < qchecks && same < stable; i++)); do
		sleep 0.1
		q=$(txq "$port")
		if ((q > 0 && q <= q0 + q0 / 200)); then same=$((same + 1)); else same=0; fi
		((q > q0)) && q0=$q
	done
	for ((i = 0; i < samples; i++)); do
		a=$(kb MemAvailable)
		smp+=($((base - a)))
		smpp+=($((base + basep - a - $(pcp_kb))))
		[[ -n ${STALL_SERVER:-} ]] && smpa+=($(($(anon_kb "$STALL_SERVER") - base_anon)))
		sleep 0.1
	done
	kill "$CPID" 2>/dev/null # closes the connections
	wait "$CPID" 2>/dev/null || true
	CPID=
	STALL_RESULT="$(printf '%s\n' "${smp[@]}" | median) $q0"
	STALL_PCP_DROP_KB=$(printf '%s\n' "${smpp[@]}" | median)
	STALL_ANON_KB=
	((${#smpa[@]})) && STALL_ANON_KB=$(printf '%s\n' "${smpa[@]}" | median)
	return 0
}

# apache_conf DIR PORT DOCROOT On|Off: DIR/apache2.conf, a private config for Debian's Apache
# 2.4 (/usr/sbin/apache2 -f DIR/apache2.conf -DFOREGROUND): mpm_event, compiled-in worker
# defaults, stock EnableMMAP On, EnableSendfile as given, serving DOCROOT on 127.0.0.1:PORT.
# Run as root, the workers drop privileges to www-data as in the stock setup (DOCROOT must be
# readable by them).
apache_conf() {
	local d=$1 port=$2 root=$3 sf=$4 mods=/usr/lib/apache2/modules user=
	[[ $(id -u) == 0 ]] && id www-data >/dev/null 2>&1 && user=$'User www-data\nGroup www-data'
	mkdir -p "$d"
	cat >"$d/apache2.conf" <<-EOF
	ServerRoot $d
	ServerName 127.0.0.1
	Listen 127.0.0.1:$port
	PidFile $d/apache2.pid
	DefaultRuntimeDir $d
	Mutex file:$d default
	ErrorLog $d/error.log
	LoadModule mpm_event_module $mods/mod_mpm_event.so
	LoadModule authz_core_module $mods/mod_authz_core.so
	LoadModule mime_module $mods/mod_mime.so
	TypesConfig /etc/mime.types
	$user
	DocumentRoot $root
	<Directory $root>
		Require all granted
	</Directory>
	EnableMMAP On
	EnableSendfile $sf
	EOF
}
