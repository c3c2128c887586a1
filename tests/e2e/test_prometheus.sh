#!/usr/bin/env bash
# `autosendfile --stat --format prometheus` (issue 21), parsed by the Prometheus project's
# own Python client (python3-prometheus-client): a running server that sent 1 MiB, an ended
# one, and an idle ended one.
# Asserted: the output parses; every family has HELP and TYPE before its samples and is
# written whole; counters end in _total; each sample has labels pid and comm (and reason
# for the why_* family, one per why_* key); no series twice; the values equal the text
# --stat line's keys for each pid (why_X = reason "X"; the reasons sum to passthrough);
# autosendfile_running is 1 for the running pid, 0 for the ended; an idle ended process
# is left out unless its pid is asked for; an unknown --format, and --watch with it, exit 2;
# the textfile collector recipe of docs/OPERATING.md writes the file atomically.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3 # Debian's, which python3-prometheus-client is for
$py -c 'import prometheus_client.parser' 2>/dev/null || fail "python3-prometheus-client not installed (tests/deps.sh)"
probe="$ASF_TESTBIN/liveprobe"
[ -x "$probe" ] || fail "$probe not built (make test-bins)"
export AUTOSENDFILE_LIVE="$ASF_TMP/live"
mkdir -p "$AUTOSENDFILE_LIVE"
pids=()
trap 'kill -9 ${pids[*]} 2>/dev/null' EXIT
make_file "$ASF_TMP/in" $((1 << 20))

serve() { # END: a liveprobe that sends the file to one client; sets pid
	local port; port=$(free_port)
	LD_PRELOAD="$ASF_PRELOAD" "$probe" serve "$port" "$ASF_TMP/in" "$1" 2>"$ASF_TMP/err" &
	pid=$!
	pids+=($pid)
	wait_port "$port" || fail "serve: not listening: $(cat "$ASF_TMP/err")"
	nc 127.0.0.1 "$port" </dev/null >"$ASF_TMP/out" || fail "nc failed"
	cmp -s "$ASF_TMP/in" "$ASF_TMP/out" || fail "received bytes differ"
}
serve wait; running=$pid
serve exit; wait $pid; ended=$pid
# An idle process with a live file (made at its first stream socket): one connection, no byte.
LD_PRELOAD="$ASF_PRELOAD" "$ASF_TESTBIN/lazystart" socket >"$ASF_TMP/lazy.out" & idle=$!; pids+=($idle)
for i in $(seq 1 100); do grep -q '^ready$' "$ASF_TMP/lazy.out" && break; sleep 0.05; done
kill -KILL $idle; wait $idle 2>/dev/null

check() { # EXPECTED-PIDS [PID...]: parse the output for these pids, compare with text
	local want=$1; shift
	"$ASF_LAUNCHER" --stat --format prometheus "$@" >"$ASF_TMP/prom" || fail "--format prometheus $* failed"
	"$ASF_LAUNCHER" --stat "$@" >"$ASF_TMP/text" || fail "--stat $* failed"
	$py - "$ASF_TMP/prom" "$ASF_TMP/text" "$want" "$running" <<-'EOF' || fail "prometheus output $*: see above"
	import re, sys
	from prometheus_client.parser import text_string_to_metric_families
	prom, text, want, running = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3].split(), sys.argv[4]
	def bad(msg):
	    print("FAIL:", msg); print(prom); sys.exit(1)
	# The text format's own rules, which the Python parser does not all enforce.
	seen_families, current, series = set(), None, set()
	for line in prom.splitlines():
	    m = re.match(r'# (HELP|TYPE) (\S+) (.*)', line)
	    if m:
	        if m.group(1) == 'HELP':
	            if m.group(2) in seen_families: bad("family written twice: " + m.group(2))
	            seen_families.add(m.group(2)); current = m.group(2); typed = False
	        else:
	            if m.group(2) != current: bad("TYPE without its HELP: " + line)
	            if m.group(3) not in ('counter', 'gauge'): bad("type " + line)
	            if m.group(3) == 'counter' and not current.endswith('_total'): bad("counter without _total: " + current)
	            typed = True
	        continue
	    name = line.split('{')[0]
	    if name != current or not typed: bad("sample outside its family: " + line)
	    key = line.rsplit(' ', 1)[0]
	    if key in series: bad("series twice: " + key)
	    series.add(key)
	if not prom.endswith('\n'): bad("no final newline")
	fams = {f.name: f for f in text_string_to_metric_families(prom)}
	values = {}
	for f in fams.values():
	    if not f.name.startswith('autosendfile_'): bad("metric name " + f.name)
	    for s in f.samples:
	        if set(s.labels) - {'pid', 'comm', 'reason'} or not {'pid', 'comm'} <= set(s.labels):
	            bad("labels %s" % s.labels)
	        values[(s.name, s.labels['pid'], s.labels.get('reason'))] = s.value
	lines = [l for l in text.splitlines() if l.startswith('autosendfile: pid=')]
	got = sorted({p for (_, p, _) in values})
	if got != sorted(want): bad("pids %s, want %s" % (got, want))
	if len(lines) != len(want): bad("text lines %d, want %d" % (len(lines), len(want)))
	for l in lines:
	    kv = dict(w.split('=', 1) for w in l.split()[1:])
	    pid, n = kv.pop('pid'), 0
	    state, comm = kv.pop('state'), kv.pop('comm')
	    whysum = 0
	    for k, v in kv.items():
	        if k.startswith('why_'):
	            m = ('autosendfile_passthrough_why_bytes_total', pid, k[4:]); whysum += int(v)
	        else:
	            m = ('autosendfile_%s_total' % k, pid, None)
	        if values.get(m) != int(v): bad("%s: %s=%s, prometheus %s" % (pid, k, v, values.get(m)))
	        n += 1
	    if whysum != int(kv['passthrough_bytes']): bad("reasons sum %d" % whysum)
	    r = values.get(('autosendfile_running', pid, None))
	    if r != (1 if state == 'running' else 0): bad("%s running=%s, state %s" % (pid, r, state))
	    if pid == running and (state != 'running' or r != 1): bad("the running server is not running")
	    print("pid %s: %d counters equal the text line, running=%d, redirected_bytes=%d" %
	          (pid, n, r, values[('autosendfile_redirected_bytes_total', pid, None)]))
	print("%d families, %d series, parsed by prometheus_client" % (len(fams), len(series)))
	EOF
}
check "$running $ended"
check "$running $ended $idle" $running $ended $idle
check "$idle" $idle
"$ASF_LAUNCHER" --stat --format json >/dev/null 2>&1; [ $? = 2 ] || fail "--format json: want exit 2"
"$ASF_LAUNCHER" --stat --format prometheus --watch 1 >/dev/null 2>&1; [ $? = 2 ] || fail "--format prometheus --watch: want exit 2"
"$ASF_LAUNCHER" --stat --format prometheus 999999999 >/dev/null 2>&1; [ $? = 1 ] || fail "a pid with no counters: want exit 1"

# The recipe of docs/OPERATING.md: write a temporary file beside the target, then rename.
dir=$ASF_TMP/textfile
mkdir -p "$dir"
recipe=$(sed -n 's/^ExecStart=//p' "$(dirname "$0")/../../docs/OPERATING.md")
[ -n "$recipe" ] || fail "no ExecStart= recipe in docs/OPERATING.md"
recipe=${recipe//\/var\/lib\/prometheus\/node-exporter/$dir}
recipe=${recipe//\/usr\/bin\/autosendfile/$ASF_LAUNCHER}
sh -c "$recipe" || fail "the recipe failed: $recipe"
[ "$(ls -A "$dir")" = autosendfile.prom ] || fail "the recipe left: $(ls -A "$dir")"
grep -q "^autosendfile_redirected_bytes_total{pid=\"$running\",comm=\"liveprobe\"} 1048576$" "$dir/autosendfile.prom" ||
	fail "the recipe's file: $(cat "$dir/autosendfile.prom")"
echo "the textfile recipe wrote $dir/autosendfile.prom ($(grep -vc '^#' "$dir/autosendfile.prom") samples)"
