#!/usr/bin/env bash
# The "daemon that frames data" of issue 19 (tests/e2e/framed.c): it reads a file 256 KiB at
# a time and sends it in frames of a header and a payload that it memcpy's from the read
# buffer into a separate protocol buffer (one write of header + payload, one writev([header,
# payload]) of that buffer, or two writes). The payloads' bytes are found by content only
# (src/content.c): their address is the protocol buffer's. Cases, each over a 20 MB file, the
# server under LD_PRELOAD with a stats file, the client (framed client) checking every frame:
#  - aligned: 8-byte headers, 32 KiB payloads from file offset 0: the first frame of each
#    read starts where the read did;
#  - mid, mid-writev, mid-two-writes: the payloads start at file offset 1000 (a header the
#    protocol does not carry), so every frame's bytes come from the middle of a read, and one
#    in eight straddles two reads: the pattern the issue measured at 0 % (why_not_file);
#  - odd, odd-writev: 1501-byte headers, 20000-byte payloads from file offset 777, three
#    connections one after another (stream after stream): the payloads start at every kind
#    of position in the reads, unaligned, and about one in thirteen straddles two reads.
# Asserted for each: the received payloads equal the file's bytes from the start offset on
# (every connection), and redirected_bytes >= 99% of the payload bytes (issue 19's goal is
# 90 %; all but a stream's last, short frame can go). The mid and odd cases fail that on the
# engine before the interior search (0 %). AUTOSENDFILE_PRESSURE=0: the client drains the
# socket, and every eligible write is to be redirected.
. "$(dirname "$0")/lib.sh"
fr=$ASF_TESTBIN/framed
[ -x "$fr" ] || fail "$fr not built (make test-bins)"
spid=
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; wait' EXIT

make_file "$ASF_TMP/f20m" 20000000
size=20000000
bad=()

# run NAME START CONNECTIONS "LAYOUT FLAGS (both sides)" [SERVER FLAGS...]
run() {
	local name=$1 start=$2 conns=$3 layout=$4 st=$ASF_TMP/st.$1 pf=$ASF_TMP/port.$1 i c
	shift 4
	# shellcheck disable=SC2086
	env LD_PRELOAD="$ASF_PRELOAD" AUTOSENDFILE_STATS="$st" AUTOSENDFILE_PRESSURE=0 \
		"$fr" serve --file "$ASF_TMP/f20m" --port-file "$pf" --start "$start" \
		--connections "$conns" $layout "$@" &
	spid=$!
	for i in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.05; done
	[ -s "$pf" ] || fail "$name: no port file"
	for c in $(seq 1 "$conns"); do
		# shellcheck disable=SC2086
		"$fr" client --port "$(cat "$pf")" --out "$ASF_TMP/got.$name" $layout >/dev/null ||
			fail "$name: client $c failed"
		tail -c +$((start + 1)) "$ASF_TMP/f20m" | cmp -s - "$ASF_TMP/got.$name" ||
			fail "$name: connection $c: received payloads differ from the file"
	done
	wait "$spid" || fail "$name: server exited $?"
	spid=
	rm -f "$ASF_TMP/got.$name"
	grep -q '^autosendfile: ' "$st" || fail "$name: no stats line"
	local body=$(((size - start) * conns)) red
	red=$(stat_sum "$st" redirected_bytes)
	echo "$name: byte-exact; redirected $red of $body payload bytes ($(awk -v r="$red" -v b="$body" \
		'BEGIN { printf "%.2f", 100 * r / b }') %); $(grep -o 'passthrough_bytes=[0-9]*' "$st")$(
		grep -o ' why_[a-z_]*=[1-9][0-9]*' "$st" | tr -d '\n')"
	[ "$red" -ge $((body * 99 / 100)) ] || bad+=("$name")
}

run aligned 0 1 ""
run mid 1000 1 ""
run mid-writev 1000 1 "" --writev
run mid-two-writes 1000 1 "" --two-writes
run odd 777 3 "--header 1501 --piece 20000"
run odd-writev 777 3 "--header 1501 --piece 20000" --writev
[ ${#bad[@]} -eq 0 ] || fail "redirected < 99% of the payload bytes in: ${bad[*]}"
echo ok
