#!/usr/bin/env python3
"""bench-report.py RAWDIR DOC - writes docs/BENCHMARKS.md from demo/bench.sh's raw results.

RAWDIR holds raw.txt (lines "load SRV CFG ROUND bytes secs cpu_s red pass",
"mem SRV CFG ROUND drop_kB queued_bytes", "time PART seconds", "corrupt SRV CFG ROUND CLIENT";
SRV may be copy-16k, nginx-100m etc. (other file sizes), copy-t4, nginx-100m-t4 etc.
(4 threads / 4 worker processes) or chunk (build/demo/bench-chunk)), meta.txt ("key value") and,
when the pass-through cost was measured, ptcost.txt (demo/passthrough-cost.sh's output).
Standard library only.
"""
import html
import os
import re
import statistics as st
import sys

# --part: only the issue 20 sections (the seed's comparison, old kernels, the issue's goals),
# for BENCH_ONLY=seed|oldkernel; --svg-dir DIR: where bench-seed.svg goes (default: DOC's directory)
args, part, svgdir = sys.argv[1:], False, None
if args and args[0] == "--part":
    part, args = True, args[1:]
if len(args) == 4 and args[2] == "--svg-dir":
    svgdir, args = args[3], args[:2]
rawdir, doc = args[0], args[1]
meta, fails = {}, []
for line in open(os.path.join(rawdir, "meta.txt")):
    k, _, v = line.rstrip("\n").partition(" ")
    if k == "fail":
        fails.append(v)
    else:
        meta[k] = v
load, mem, times, corrupt = {}, {}, {}, {}
for line in open(os.path.join(rawdir, "raw.txt")):
    f = line.split()
    if f[0] == "load":
        s, c, r = f[1], f[2], int(f[3])
        b, secs, cpu = int(f[4]), float(f[5]), float(f[6])
        red = int(f[7]) if f[7] != "-" else None
        load[(s, c, r)] = dict(tput=b / secs / 1e6, cpu=cpu / (b / 1e9), bytes=b, red=red)
    elif f[0] == "mem":
        mem[(f[1], f[2], int(f[3]))] = dict(mb=int(f[4]) / 1024.0, q=int(f[5]) / 1e6,
                                            anon=int(f[6]) / 1024.0 if len(f) > 6 else None)
    elif f[0] == "corrupt":
        corrupt[(f[1], f[2], int(f[3]))] = corrupt.get((f[1], f[2], int(f[3])), 0) + 1
    elif f[0] == "time":
        times[f[1]] = int(f[2])
pt = None
ptp = os.path.join(rawdir, "ptcost.txt")
if os.path.exists(ptp):
    pt = open(ptp).read()

MEMSRV = ["copy", "nginx", "python"]  # servers of the stalled-clients memory test
HTTP = ["copy", "nginx", "python", "node"]  # servers run with loadclient on /f1m (and /f16k, /f100m: -16k, -100m)
PAR = ["copy", "nginx"]  # also run 4-way (-t4: copyserver --threads 4, nginx 4 worker processes)
SERVERS = [e for h in HTTP for e in (h, h + "-16k", h + "-100m") + ((h + "-t4", h + "-100m-t4") if h in PAR else ())] + \
    ["nc", "socat", "chunk"]
BNAME = {"copy": "demo copyserver", "nginx": "nginx", "python": "python3 -m http.server",
         "node": "node createReadStream().pipe(res)"}
SIZES = {"": "1 MiB", "-16k": "16 KiB", "-100m": "100 MiB"}
SNAME = {h + x: "%s %s" % (BNAME[h], lab) for h in HTTP for x, lab in SIZES.items()}
PNAME = {"copy": "4 threads", "nginx": "4 worker processes"}
SNAME.update({h + x + "-t4": "%s %s, %s" % (BNAME[h], SIZES[x], PNAME[h]) for h in PAR for x in ("", "-100m")})
SNAME.update({"nc": "nc -N -l (256 MiB, 1 transfer)",
              "socat": "socat -u (256 MiB, 1 transfer)",
              "chunk": "bench-chunk loop, B=64K, MSS 1448, recv(MSG_TRUNC) receiver"})
CNAME = {
    "copy": {"base": "--mode rw (baseline)", "lib": "rw + autosendfile, VERIFY=full",
             "lib-sample": "rw + autosendfile, VERIFY=sample", "lib-none": "rw + autosendfile, VERIFY=none",
             "ceil": "--mode read-sendfile (interposer ceiling)", "native": "--mode sendfile (native)"},
    "nginx": {"base": "sendfile off (baseline)", "lib": "off + autosendfile, VERIFY=full",
              "lib-sample": "off + autosendfile, VERIFY=sample", "lib-none": "off + autosendfile, VERIFY=none",
              "native": "sendfile on (native)"},
    "chunk": {"base": "-m rw (baseline)", "lib": "-m rw + autosendfile, VERIFY=full",
              "lib-sample": "-m rw + autosendfile, VERIFY=sample", "lib-none": "-m rw + autosendfile, VERIFY=none",
              "ceil": "-m rsf: read + sendfile (interposer ceiling)", "native": "-m sf: sendfile only (native)"},
}
ORDER = ["base", "lib", "lib-sample", "lib-none", "ceil", "native"]


def cname(s, c):
    b = s.split("-")[0]
    if b in CNAME:
        return CNAME[b][c]
    return {"base": "plain (baseline)", "lib": "+ autosendfile, VERIFY=full",
            "lib-sample": "+ autosendfile, VERIFY=sample", "lib-none": "+ autosendfile, VERIFY=none"}[c]


med = st.median


def rounds(d, s, c):
    return sorted(r for (s2, c2, r) in d if s2 == s and c2 == c)


def vals(d, s, c, k):
    return [d[(s, c, r)][k] for r in rounds(d, s, c)]


def ratios(d, s, c, ref, k):
    """per-round ratios of configuration c against configuration ref (same round)"""
    return [d[(s, c, r)][k] / d[(s, ref, r)][k] for r in rounds(d, s, c)
            if (s, ref, r) in d and d[(s, ref, r)][k] > 0]


def andjoin(xs):
    return " and ".join(xs) if len(xs) < 3 else ", ".join(xs[:-1]) + " and " + xs[-1]


def mm(xs, fmt):
    return "%s [%s-%s]" % (fmt % med(xs), fmt % min(xs), fmt % max(xs)) if xs else "-"


def rx(xs):
    return "%.2fx [%.2f-%.2f]" % (med(xs), min(xs), max(xs)) if xs else "-"


NST = meta.get("stalled", "200")
present = [s for s in SERVERS if any(k[0] == s for k in load)]
nr = {s: max([k[2] for k in load if k[0] == s] or [0]) for s in present}

# ---------------------------------------------------------------- goals
goals = []  # (goal, target, measured, verdict, note)


def verdict(ok):
    return "**met**" if ok else "**missed**"


for s in ("copy", "nginx", "python"):
    lb = ratios(mem, s, "lib", "base", "mb")
    ln = ratios(mem, s, "lib", "native", "mb")
    if not lb:
        continue
    mb = {c: med(vals(mem, s, c, "mb")) for c in ("base", "lib", "native") if vals(mem, s, c, "mb")}
    if ln:
        ok = med(ln) <= 1.5
        # Both figures are a few tens of MB, at the noise floor of the memory figure: say how far apart
        # they are in MB, next to the spread of the native runs themselves.
        nat = vals(mem, s, "native", "mb")
        diff = [mem[(s, "lib", r)]["mb"] - mem[(s, "native", r)]["mb"] for r in rounds(mem, s, "lib")
                if (s, "native", r) in mem]
        note = "" if ok else "%.0f%% over the target" % (100 * (med(ln) / 1.5 - 1))
        if not ok and diff:
            note += ("; in MB: library - native = %+.0f MB median [%+.0f..%+.0f], %.1f%% of the baseline's %.0f MB; "
                     "the native runs alone spread over %.0f MB (%.0f..%.0f)"
                     % (med(diff), min(diff), max(diff), 100 * med(diff) / mb["base"], mb["base"],
                        max(nat) - min(nat), min(nat), max(nat)))
        goals.append(("Memory, %s stalled clients, %s: library vs native sendfile" % (NST, SNAME[s]), "<= 1.5x",
                      "%.2fx (per-round range %.2f-%.2f; %.0f vs %.0f MB)" % (med(ln), min(ln), max(ln), mb["lib"], mb["native"]),
                      verdict(ok), note))
    else:
        goals.append(("Memory, %s stalled clients, %s: library vs native sendfile" % (NST, SNAME[s]), "<= 1.5x",
                      "no native sendfile mode to compare with", "n/a", ""))
    ok = med(lb) <= 0.05
    goals.append(("Memory, %s stalled clients, %s: library vs baseline" % (NST, SNAME[s]), "<= 0.05x (1/20)",
                  ("%.3fx = 1/%.0f (range %.3f-%.3f; %.0f vs %.0f MB)" % (med(lb), 1 / med(lb), min(lb), max(lb), mb["lib"], mb["base"]))
                  if med(lb) > 0 else ("%.3fx: the library run's drop is at or below the noise (range %.3f-%.3f; %.0f vs %.0f MB)"
                                       % (med(lb), min(lb), max(lb), mb["lib"], mb["base"])),
                  verdict(ok), "" if ok else "%.1fx the target" % (med(lb) / 0.05)))

for s0 in ("copy", "copy-16k", "copy-100m", "chunk"):
    if (s0, "lib-none", 1) not in load or (s0, "ceil", 1) not in load:
        continue
    t = ratios(load, s0, "lib-none", "ceil", "tput")
    c = ratios(load, s0, "lib-none", "ceil", "cpu")
    ok = med(t) >= 0.97
    goals.append(("Throughput, %s, VERIFY=none vs read-sendfile ceiling" % SNAME[s0], ">= 0.97x",
                  rx(t), verdict(ok), "" if ok else "%.1f%% below the ceiling" % (100 * (1 - med(t)))))
    ok = med(c) <= 1.03
    goals.append(("CPU s/GB, %s, VERIFY=none vs read-sendfile ceiling" % SNAME[s0], "<= 1.03x",
                  rx(c), verdict(ok), "" if ok else "%.1f%% more CPU than the ceiling" % (100 * (med(c) - 1))))
for s in present:
    if (s, "lib", 1) not in load:
        continue
    t = ratios(load, s, "lib", "base", "tput")
    c = ratios(load, s, "lib", "base", "cpu")
    ok = med(t) >= 0.90
    goals.append(("Throughput, %s, VERIFY=full vs baseline" % SNAME[s], ">= 0.90x", rx(t), verdict(ok),
                  "" if ok else "%.0f%% below the target" % (100 * (0.90 - med(t)) / 0.90)))
    # CPU per GB: "0.90x baseline" read as efficiency (GB per CPU second) >= 0.90x, i.e. s/GB <= 1/0.9
    ok = med(c) <= 1 / 0.90
    goals.append(("CPU s/GB, %s, VERIFY=full vs baseline" % SNAME[s], "<= 1.11x (efficiency >= 0.90x)", rx(c),
                  verdict(ok), "" if ok else "%.0f%% more CPU per GB than allowed" % (100 * (med(c) * 0.90 - 1))))

# issue 13: the full check at about the cost of none (1 MiB, 100 MiB; 1 and 4 threads or
# workers), and the library at or below the plain loop on 16 KiB files
for s in ("copy", "copy-100m", "nginx", "nginx-100m", "copy-t4", "copy-100m-t4", "nginx-t4", "nginx-100m-t4"):
    x = ratios(load, s, "lib", "lib-none", "cpu")
    if not x:
        continue
    ok = med(x) <= 1.05
    goals.append(("CPU s/GB, %s, VERIFY=full vs VERIFY=none" % SNAME[s], "<= 1.05x", rx(x), verdict(ok),
                  "" if ok else "%.0f%% more CPU per GB than VERIFY=none (%.0f%% over the target)"
                  % (100 * (med(x) - 1), 100 * (med(x) / 1.05 - 1))))
for s in ("copy-16k", "nginx-16k"):
    x = ratios(load, s, "lib", "base", "cpu")
    if not x:
        continue
    n = ratios(load, s, "lib-none", "base", "cpu")
    ok = med(x) <= 1.00
    goals.append(("CPU s/GB, %s, library vs plain loop" % SNAME[s], "<= 1.00x",
                  "%s (VERIFY=full)%s" % (rx(x), ("; VERIFY=none %s" % rx(n)) if n else ""), verdict(ok),
                  "" if ok else "%.0f%% more CPU per GB than the plain loop" % (100 * (med(x) - 1))))

gap_text = []
gaps = {}
for ng in ("nginx", "nginx-16k", "nginx-100m"):
    if (ng, "native", 1) not in load:
        continue
    tg = ratios(load, ng, "native", "base", "tput")
    cg = ratios(load, ng, "native", "base", "cpu")
    closed_t, closed_c = [], []
    for r in rounds(load, ng, "lib"):
        b, l, n = (load[(ng, c, r)] for c in ("base", "lib", "native"))
        if n["tput"] != b["tput"]:
            closed_t.append((l["tput"] - b["tput"]) / (n["tput"] - b["tput"]))
        if n["cpu"] != b["cpu"]:
            closed_c.append((b["cpu"] - l["cpu"]) / (b["cpu"] - n["cpu"]))
    beats = med(tg) > 1.03 or med(cg) < 0.97
    goals.append(("%s: gap native sendfile vs sendfile off" % SNAME[ng], "state it",
                  "throughput %s, CPU s/GB %s" % (rx(tg), rx(cg)),
                  "native beats baseline" if beats else
                  ("native is not better here" if med(tg) < 0.97 or med(cg) > 1.03 else "no clear gap (within 3%)"), ""))
    if closed_t and beats:
        goals.append(("%s: share of that gap the library (VERIFY=full) closes" % SNAME[ng], "state it",
                      "throughput %.0f%% [%.0f..%.0f], CPU s/GB %.0f%% [%.0f..%.0f] (per round; 100%% = as native, "
                      "<0 = worse than baseline)" % (100 * med(closed_t), 100 * min(closed_t), 100 * max(closed_t),
                                                     100 * med(closed_c), 100 * min(closed_c), 100 * max(closed_c)),
                      "reported", ""))
    gaps[ng] = [tg, cg, closed_t, closed_c]
gap_text = gaps.get("nginx", [])

pt_ir = None
if pt:
    m = re.search(r"^with library\s+\d+\s+\d+\s+[\d.]+\s+([\d.]+)", pt, re.M)
    if m:
        pt_ir = float(m.group(1))
        ok = pt_ir <= 30
        goals.append(("Pass-through cost (callgrind, dd bs=1)", "<= 30 instructions/call", "%.1f" % pt_ir,
                      verdict(ok), "" if ok else "%.1f over" % (pt_ir - 30)))
else:
    goals.append(("Pass-through cost", "<= 30 instructions/call", "not measured in this run", "n/a", ""))



# what the library adds per call (besides VERIFY's compare): said the same way everywhere
COSTS = ("per file opened, its classification (one statx; an fstatfs per mount; an fcntl and one lseek "
         "at its first read() only for a file the program did not open through a wrapped open); per read, "
         "a record of where the bytes went; per write, a look through those records and, now and then "
         "(src/pressure.h), an ioctl(SIOCOUTQ) on the socket; and where a client's queue backs up, the "
         "proof of each redirected write (a pread of the file's bytes into the library's buffer and a "
         "compare)")
COSTS_MD = ("per file opened, its classification (one `statx`; an `fstatfs` per mount; an `fcntl` and one "
            "`lseek` at its first `read()` only for a file the program did not open through a wrapped "
            "`open`); per read, a record of where the bytes went; per write, a look through those records "
            "and, now and then (`src/pressure.h`), an `ioctl(SIOCOUTQ)` on the socket; and where a client's "
            "queue backs up, the proof of each redirected write (a `pread` of the file's bytes into the "
            "library's buffer and a compare)")


def why(g):
    """a likely reason for a missed goal (the numbers it rests on are in the tables below)"""
    name, verdict_ = g[0], g[3]
    if "missed" not in verdict_:
        return ""
    srv = max((k for k, v in SNAME.items() if v in name), key=lambda k: len(SNAME[k]), default=None)
    if name.startswith("Memory") and "native" in name:
        return ("both are tens of MB against hundreds for the baseline, at the noise floor of the memory figure "
                "on a shared VM, so the ratio of two small numbers swings; the send queues are the same size, "
                "and the library's small real extra is the server's own per-connection buffers, which native "
                "sendfile does not have (copyserver --mode rw: 64 KiB each, nginx: 2 x 32 KiB)")
    if name.startswith("Memory"):
        nb = ratios(mem, srv, "native", "base", "mb")
        if nb and med(nb) > 0.05:
            return ("native sendfile itself holds %.2fx of the baseline here: what stays is per-skb "
                    "metadata of the queued data (the queues are as full), which sendfile does not avoid; "
                    "the library matches sendfile, the 1/20 target is below what sendfile reaches on this "
                    "kernel" % med(nb))
        return ("the stalled queues still hold copied bytes or per-skb metadata; see the send-queue column")
    if name.endswith("VERIFY=full vs VERIFY=none"):
        extra = ""
        if srv and srv.endswith("-t4"):
            extra = ("; the compare is a cost per byte, so spreading the connections over 4 threads or "
                     "processes (on 2 CPUs here) does not amortize it")
        return ("the compare re-reads every byte it redirects: VERIFY=full reads the file's bytes again "
                "(pread into the library's buffer) and compares them with the program's, VERIFY=none sends "
                "unread; demo/RESULTS-views.md measured that proof at 18-26% of a read+sendfile loop's CPU "
                "at 64 KiB-1 MiB chunks, and a proof that does not read the buffer (userfaultfd "
                "write-protect + PAGEMAP_SCAN, demo/RESULTS-proof.md) at 3-25x the compare" + extra)
    if name.endswith("library vs plain loop"):
        n = ratios(load, srv, "lib-none", "base", "cpu") if srv else []
        extra = ""
        if n and med(n) > 1.00:
            extra = ("; VERIFY=none is above the plain loop too (%.2fx), so it is not the compare" % med(n))
        return ("a 16 KiB body is one or two writes, so the per-file work weighs against one saved 16 KiB "
                "copy: " + COSTS + extra)
    if "ceiling" in name:
        extra = ""
        if srv and srv.endswith("-16k"):
            extra = ("; per 16 KiB request the library adds the per-file work above (a statx), where the "
                     "ceiling makes ~10 syscalls in all")
        return ("what the ceiling does not pay: " + COSTS + "; with VERIFY=none there is no compare, so "
                "this is the library's own per-call work" + extra)
    if "VERIFY=full" in name:
        extra = ""
        if srv == "socat":
            extra = "; socat copies 8 KiB at a time (-b 8192), where these per-call costs weigh most"
        elif srv == "nc":
            extra = "; nc copies 16 KiB at a time, where these per-call costs weigh more than at 64 KiB"
        elif srv and srv.split("-")[0] == "node":
            extra = "; node's 64 KiB pieces are read on a pool thread and written from the main thread"
        elif srv == "chunk":
            extra = ("; this loop does nothing but read + write, so the library's per-call work is the whole "
                     "difference, with nothing else to hide it")
        elif srv and srv.endswith("-16k"):
            extra = ("; a 16 KiB body is one or two writes, so per-request costs dominate: the server's own "
                     "(open, fstat, headers), and the library's per-file work above")
        return ("the server still does its own read() copy; the library adds " + COSTS + ", and a "
                "redirect saves only the cheap copy of a hot buffer into the socket" + extra)
    if name.startswith("Pass-through"):
        return "the wrapper's fd classification on the hot path"
    return ""


goals = [tuple(g) + (why(g),) for g in goals]

# ---------------------------------------------------------------- the chart (hand-written SVG, no dependencies)
COL = {"base": "#8c8c8c", "lib": "#1f77b4", "lib-none": "#9ecae1", "ceil": "#ff7f0e", "native": "#2ca02c"}
LEG = {"base": "baseline: the server as is", "lib": "+ autosendfile, VERIFY=full",
       "lib-none": "+ autosendfile, VERIFY=none", "ceil": "read + sendfile (interposer ceiling)",
       "native": "native sendfile"}
SHORT = {"copy": "copyserver", "nginx": "nginx", "python": "python", "node": "node",
         "nc": "nc", "socat": "socat", "chunk": "bench-chunk"}
SLAB = {"nc": "256 MiB", "socat": "256 MiB", "chunk": "64K, MSS 1448"}
P1CFG = ["lib", "lib-none", "ceil", "native"]
P2CFG = ["base", "lib", "native"]


def svg_painter(out):
    """The charts' drawing primitives (text, line, rect), each appending an SVG element to out."""
    e = html.escape

    def text(x, y, t, size=12, anchor="middle", weight="normal", fill="#222", extra=""):
        out.append('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" font-weight="%s" fill="%s"%s>%s</text>'
                   % (x, y, size, anchor, weight, fill, extra, e(t)))

    def line(x1, y1, x2, y2, stroke="#222", extra=""):
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"%s/>' % (x1, y1, x2, y2, stroke, extra))

    def rect(x, y, w_, h, fill):
        out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' % (x, y, w_, h, fill))

    return text, line, rect


def svg_write(path, out, W, H):
    """The chart's elements in out as a W x H SVG file at path (written whole, then renamed)."""
    out.insert(0, '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
                  'font-family="DejaVu Sans, Arial, Helvetica, sans-serif">' % (W, H, W, H))
    out.insert(1, '<rect width="100%" height="100%" fill="white"/>')
    out.append("</svg>")
    tmp = path + ".tmp"
    open(tmp, "w").write("\n".join(out) + "\n")
    os.replace(tmp, path)


def chart(path):
    """docs/bench.svg: throughput ratios per load entry (top), stalled-client memory (bottom)"""
    import html
    # panel 1 data: per entry, per config: (median, min, max) of the per-round ratios vs base
    g1 = []
    corder = [h + x for h in HTTP for x in ("-16k", "", "-100m")] + ["nc", "socat", "chunk"]
    for s0 in [e for e in corder if e in present]:
        bars = []
        for c in P1CFG:
            xs = ratios(load, s0, c, "base", "tput")
            if xs:
                bars.append((c, med(xs), min(xs), max(xs)))
        if bars:
            g1.append((s0, bars))
    # panel 2 data: per server, per config: (median, min, max) MB
    g2 = []
    for s0 in MEMSRV:
        bars = [(c, med(v), min(v), max(v)) for c in P2CFG for v in [vals(mem, s0, c, "mb")] if v]
        if bars:
            g2.append((s0, bars))
    if not g1 and not g2:
        return False
    used = [c for c in ["base"] + P1CFG if (c == "base" and g1) or any(b[0] == c for _, bs in g1 + g2 for b in bs)]
    W = 1200
    out = []
    text, line, rect = svg_painter(out)

    def whisker(xc, ylo, yhi):
        out.append('<path d="M%.1f %.1fV%.1fM%.1f %.1fh8M%.1f %.1fh8" stroke="#111" stroke-width="1.1" fill="none"/>'
                   % (xc, ylo, yhi, xc - 4, ylo, xc - 4, yhi))

    def nice(v):
        """a round grid step giving about 4-8 lines up to v"""
        for m in (0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000):
            if v / m <= 8:
                return m
        return v / 4

    text(W / 2, 28, "autosendfile: unmodified servers, plain and under the library", 19, weight="bold")
    text(W / 2, 48, "%s CPUs, Linux %s, %s. Bars: median over the interleaved rounds; whiskers: min-max over the rounds."
         % (meta.get("nproc", "?"), meta.get("kernel", "?"), meta.get("date", "?")), 12, fill="#444")
    # legend, one row
    lw = [20 + int(len(LEG[c]) * 6.6) for c in used]
    lx, y0 = (W - sum(lw) - 30 * (len(lw) - 1)) / 2, 64
    for c in used:
        rect(lx, y0, 14, 14, COL[c])
        text(lx + 20, y0 + 12, LEG[c], 12, anchor="start")
        lx += 20 + int(len(LEG[c]) * 6.6) + 30
    y = 100
    px0, px1 = 100, W - 30
    if g1:
        py0, py1 = y + 40, y + 330
        text(px0, y + 18, "Throughput vs baseline (median of per-round ratios)", 15, anchor="start", weight="bold")
        text(px0, y + 34, "each configuration's MB/s divided by the same server's baseline MB/s in the same round; "
             "above 1 = faster than the server as is", 11, anchor="start", fill="#444")
        hi = max(b[3] for _, bs in g1 for b in bs)
        step = nice(max(hi, 1.5) * 1.12)
        top = step * (int(max(hi, 1.5) * 1.12 / step) + 1)
        yv = lambda v: py1 - (py1 - py0) * max(0.0, min(v, top)) / top
        k = 0
        while k * step <= top + 1e-9:
            t = k * step
            line(px0, yv(t), px1, yv(t), "#e4e4e4")
            text(px0 - 6, yv(t) + 4, "baseline 1" if t == 1 else ("%.2f" % t).rstrip("0").rstrip("."), 11,
                 anchor="end", fill="#222" if t == 1 else "#444", weight="bold" if t == 1 else "normal")
            k += 1
        line(px0, py0, px0, py1)
        line(px0, py1, px1, py1)
        text(22, (py0 + py1) / 2, "throughput / baseline", 13, extra=' transform="rotate(-90 22 %.1f)"' % ((py0 + py1) / 2))
        nb = sum(len(bs) for _, bs in g1)
        gap = 1.3
        bw = min(40.0, (px1 - px0 - 10) / (nb + gap * len(g1)))
        x = px0 + 5 + bw * gap / 2
        spans = []  # (server, x0, x1) for the second label row
        for s0, bs in g1:
            gx0 = x
            for c, m, lo, hi_ in bs:
                yy = yv(m)
                rect(x + 1, yy, bw - 2, max(py1 - yy, 1.5), COL[c])
                xc = x + bw / 2
                ytop = yy
                if hi_ > lo:
                    whisker(xc, yv(lo), yv(hi_))
                    ytop = min(yy, yv(hi_))
                ty = ytop - 4
                text(xc + 4, ty, "%.2f" % m, 10 if bw >= 14 else 9, anchor="start",
                     extra=' transform="rotate(-90 %.1f %.1f)"' % (xc + 4, ty))
                x += bw
            b0 = s0.split("-")[0]
            text((gx0 + x) / 2, py1 + 15, SIZES.get(s0[len(b0):], "") if b0 in HTTP else SLAB.get(s0, ""), 11)
            if spans and spans[-1][0] == b0:
                spans[-1][2] = x
            else:
                spans.append([b0, gx0, x])
            x += bw * gap
        for b0, a, b in spans:
            line(a, py1 + 21, b, py1 + 21, "#888")
            text((a + b) / 2, py1 + 35, SHORT.get(b0, b0), 12, weight="bold")
        line(px0, yv(1), px1, yv(1), "#333", ' stroke-width="1.5" stroke-dasharray="6,3"')
        y = py1 + 55
    if g2:
        py0, py1 = y + 40, y + 300
        qx0 = px0
        text(qx0, y + 18, "Kernel memory held by %s stalled clients (MB)" % NST, 15, anchor="start", weight="bold")
        text(qx0, y + 34, "drop of MemAvailable + per-CPU free lists while the clients' send queues are full; lower is better", 11,
             anchor="start", fill="#444")
        hi = max(max(b[1] for b in bs) for _, bs in g2)
        step = nice(max(hi, 10) * 1.1)
        top = step * (int(max(hi, 10) * 1.1 / step) + 1)
        yv = lambda v: py1 - (py1 - py0) * max(0.0, min(v, top)) / top
        bw, gw = 54, 3 * 54 + 50
        qx1 = qx0 + 10 + gw * len(g2)
        k = 0
        while k * step <= top + 1e-9:
            t = k * step
            line(qx0, yv(t), qx1, yv(t), "#e4e4e4")
            text(qx0 - 6, yv(t) + 4, "%g" % t, 11, anchor="end", fill="#444")
            k += 1
        line(qx0, py0, qx0, py1)
        line(qx0, py1, qx1, py1)
        text(22, (py0 + py1) / 2, "MB held", 13, extra=' transform="rotate(-90 22 %.1f)"' % ((py0 + py1) / 2))
        for i, (s0, bs) in enumerate(g2):
            gx = qx0 + 10 + gw * i + (gw - bw * len(bs)) / 2
            for j, (c, m, lo, hi_) in enumerate(bs):
                x = gx + j * bw
                yy = yv(m)
                rect(x + 3, yy, bw - 6, max(py1 - yy, 1.5), COL[c])
                text(x + bw / 2, yy - 6, "%.0f" % m, 13, weight="bold")
            text(qx0 + 10 + gw * (i + 0.5), py1 + 17, BNAME[s0], 12, weight="bold")
            text(qx0 + 10 + gw * (i + 0.5), py1 + 32, "%d rounds" % len(rounds(mem, s0, bs[0][0])), 11, fill="#444")
        y = py1 + 45
        nx = qx1 + 40
    else:
        nx = px0
    # notes: what the entries are (to the right of the memory panel, or below the throughput panel)
    import textwrap
    notes = [
        "HTTP servers (copyserver = the project's demo server, a plain read/write loop; nginx with sendfile off; "
        "python = python3 -m http.server; node = fs.createReadStream().pipe(res)): %s clients on 127.0.0.1 download a "
        "16 KiB, 1 MiB or 100 MiB file again and again for %s s." % (meta.get("clients", "?"), meta.get("secs", "?")),
        "nc and socat: one 256 MiB transfer per start. bench-chunk: a bare read() + write() loop of 64 KiB to a "
        "receiver that discards (segments of 1448 bytes, as on a NIC).",
        "VERIFY=full: the library compares each written buffer with the file before using sendfile; "
        "VERIFY=none trusts it. Native sendfile: copyserver --mode sendfile, nginx sendfile on, bench-chunk -m sf "
        "(python, node, nc and socat have none).",
    ] + ([
        "Memory: %s clients request a 16 MiB file, read 1 byte and stop reading. Values near or below 0 MB: "
        "nothing measurable above the noise of the machine. Memory MB = 2^20 bytes." % NST] if g2 else []) + [
        "Full tables and commands: BENCHMARKS.md."]
    ny = (y - 300 + 10) if g2 else y + 10
    wrap = int((W - 30 - nx) / 6.6)
    for para in notes:
        for ln in textwrap.wrap(para, wrap):
            text(nx, ny, ln, 11, anchor="start", fill="#444")
            ny += 15
        ny += 6
    H = int(max(y, ny) + 15)
    svg_write(path, out, W, H)
    return True


# ---------------------------------------------------------------- issue 20: the seed's comparison, old kernels, goals
SEEDE = [("seed-16k", "16 KiB", "loopback, copy"), ("seed", "1 MiB", "loopback, copy"), ("seed-20m", "20 MB", "loopback, copy"),
         ("seed-16k-mss", "16 KiB", "MSS %s, TRUNC"), ("seed-mss", "1 MiB", "MSS %s, TRUNC"),
         ("seed-20m-mss", "20 MB", "MSS %s, TRUNC")]
SEEDC = ["sbcl", "sbcl-lib", "ht", "ht-lib", "apache-sf"]
SEEDN = {"sbcl": "SBCL 8 KiB loop, plain", "sbcl-lib": "SBCL 8 KiB loop + autosendfile",
         "ht": "hunchentoot, plain", "ht-lib": "hunchentoot + autosendfile",
         "apache-sf": "Apache 2.4, EnableSendfile On"}
SEEDREF = {"sbcl-lib": "sbcl", "ht-lib": "ht"}  # the plain run a library run is compared with
OLDE = [("oldkernel", "1 MiB", "loopback, copy"), ("oldkernel-mss", "1 MiB", "MSS %s, TRUNC"),
        ("oldkernel-20m-mss", "20 MB", "MSS %s, TRUNC")]
OLDC = ["base", "lib", "lib-old", "lib-old-p0", "native"]
OLDN = {"base": "stock (EnableMMAP On, EnableSendfile Off)", "lib": "stock + autosendfile, this kernel (6.11+ calls)",
        "lib-old": "stock + autosendfile, PROCMAP_QUERY + STATX_MNT_ID_UNIQUE refused",
        "lib-old-p0": "the same, AUTOSENDFILE_PRESSURE=0 (every compared write redirected)",
        "native": "EnableSendfile On (native sendfile)"}
WHYRE = re.compile(r" (why_\w+)=(\d+)")


def client(lab):
    return lab % meta.get("mss", "1460") if "%s" in lab else lab


def share(s, c):
    red = [load[(s, c, r)]["red"] / load[(s, c, r)]["bytes"] * 100 for r in rounds(load, s, c)
           if load[(s, c, r)]["red"] is not None]
    return ("%.0f-%.0f %%" % (min(red), max(red))) if red else "-"


def stats_lines(tag):
    """the library's stats lines of one run (bench.sh copies them to RAWDIR/stats/stats.TAG)"""
    p = os.path.join(rawdir, "stats", "stats." + tag)
    return [ln for ln in open(p) if ln.startswith("autosendfile: ")] if os.path.exists(p) else []


def mem_why(s, c):
    """what the library did with the stalled clients' bytes, summed over the memory runs:
    redirected share and the largest why_* counters"""
    red = pas = 0
    why = {}
    for r in rounds(mem, s, c):
        for ln in stats_lines("mem.%s.%s.%d" % (s, c, r)):
            m = re.search(r" redirected_bytes=(\d+) .* passthrough_bytes=(\d+)", ln)
            if m:
                red += int(m.group(1))
                pas += int(m.group(2))
            for k, v in WHYRE.findall(ln):
                if k != "why_small":
                    why[k] = why.get(k, 0) + int(v)
    if red + pas == 0:
        return "-"
    top = sorted(((v, k) for k, v in why.items() if v > 0), reverse=True)[:2]
    return "%.0f %% by sendfile%s" % (100.0 * red / (red + pas), "".join(
        "; %s %.0f %%" % (k, 100.0 * v / (red + pas)) for v, k in top))


def memrow(s, c, ref):
    v = vals(mem, s, c, "mb")
    an = [mem[(s, c, r)]["anon"] for r in rounds(mem, s, c) if mem[(s, c, r)]["anon"] is not None]
    rest = [mem[(s, c, r)]["mb"] - mem[(s, c, r)]["anon"] for r in rounds(mem, s, c) if mem[(s, c, r)]["anon"] is not None]
    rr = ratios(mem, s, c, ref, "mb") if ref else []
    return (mm(v, "%.0f"), ("%s (1/%.1f)" % (rx(rr), 1 / med(rr)) if rr and med(rr) > 0 else rx(rr)) if ref else "1",
            "%.0f" % med(an) if an else "-", "%.0f" % med(rest) if rest else "-", "%.0f" % med(vals(mem, s, c, "q")))


issue20 = []  # the markdown of the issue 20 sections
have_seed = any(k[0].startswith("seed") for k in load) or any(k[0] == "seed" for k in mem)
have_old = any(k[0].startswith("oldkernel") for k in load) or any(k[0] == "oldkernel" for k in mem)
i20 = issue20.append
# -- goals
start_ms = None
sp = os.path.join(rawdir, "start.txt")
if os.path.exists(sp):
    for ln in open(sp):
        f = ln.split()
        if len(f) >= 2 and f[0] == "start_ms_over_empty":
            start_ms = float(f[1])
g20 = []  # (goal, target, measured, verdict)


def g_ratio(name, target, xs, ok, extra=""):
    if not xs:
        g20.append((name, target, "not run", "not run"))
    else:
        g20.append((name, target, rx(xs) + extra, "**met**" if ok(med(xs)) else "**missed**"))


g_ratio("Default mode, 64 KiB loop, discarding client (bench-chunk): throughput vs plain", ">= 0.95x",
        ratios(load, "chunk", "lib", "base", "tput"), lambda m: m >= 0.95)
g_ratio("Default mode, 64 KiB loop, discarding client (bench-chunk): CPU per GB vs plain", "<= 1.00x",
        ratios(load, "chunk", "lib", "base", "cpu"), lambda m: m <= 1.00)
g_ratio("16 KiB responses, demo copyserver: CPU per GB vs plain", "<= 1.00x",
        ratios(load, "copy-16k", "lib", "base", "cpu"), lambda m: m <= 1.00)
g_ratio("16 KiB responses, nginx sendfile off: CPU per GB vs plain", "<= 1.00x",
        ratios(load, "nginx-16k", "lib", "base", "cpu"), lambda m: m <= 1.00)
g_ratio("SBCL loop, 20 MB, remote-client stand-in (MSS %s + TRUNC): throughput vs plain" % meta.get("mss", "1460"),
        ">= 1.00x", ratios(load, "seed-20m-mss", "sbcl-lib", "sbcl", "tput"), lambda m: m >= 1.00)
g_ratio("SBCL loop, 20 MB, remote-client stand-in (MSS %s + TRUNC): CPU per GB vs plain" % meta.get("mss", "1460"),
        "<= 1.00x", ratios(load, "seed-20m-mss", "sbcl-lib", "sbcl", "cpu"), lambda m: m <= 1.00)
xs = ratios(mem, "seed", "sbcl-lib", "sbcl", "mb")
g_ratio("SBCL loop: kernel memory of %s stalled clients (20 MB file) vs plain" % NST, "<= 0.05x (20x below)",
        xs, lambda m: m <= 0.05, (" = 1/%.1f" % (1 / med(xs))) if xs and med(xs) > 0 else "")
if start_ms is None:
    g20.append(("Process start (/bin/true) over an empty preloaded library", "<= 0.2 ms", "not run", "not run"))
else:
    g20.append(("Process start (/bin/true) over an empty preloaded library", "<= 0.2 ms",
                "%.3f ms (start.txt, demo/bench-start.sh)" % start_ms, "**met**" if start_ms <= 0.2 else "**missed**"))
g_ratio("PROCMAP_QUERY + STATX_MNT_ID_UNIQUE refused: Apache stock + library, CPU per GB vs stock (1 MiB, loopback)",
        "<= 0.60x", ratios(load, "oldkernel", "lib-old", "base", "cpu"), lambda m: m <= 0.60)
xs = ratios(mem, "oldkernel", "lib-old", "base", "mb")
g_ratio("PROCMAP_QUERY + STATX_MNT_ID_UNIQUE refused: Apache stock + library, memory of %s stalled clients vs stock" % NST,
        "<= 0.05x (20x below)", xs, lambda m: m <= 0.05, (" = 1/%.1f" % (1 / med(xs))) if xs and med(xs) > 0 else "")
g20.append(("No goal already met in docs/BENCHMARKS.md gets worse", "none worse",
            "not evaluated by the report: compare the Goals table with the last committed docs/BENCHMARKS.md"
            if present else "not run", "not evaluated" if present else "not run"))
i20("## Goals (issue 20)")
i20("")
i20("Each goal of issue 20 with the figure of this run: median [min-max] of the per-round ratios (library run")
i20("against the plain run of the same round). \"not run\": the entry was not part of this run.")
i20("")
i20("| goal | target | measured | verdict |")
i20("|---|---|---|---|")
for g in g20:
    i20("| %s | %s | %s | %s |" % g)
i20("")
# -- the seed's comparison
if have_seed:
    i20("## The seed's comparison")
    i20("")
    i20("The seed's Lisp server against Apache: the SBCL 8 KiB `read-sequence`/`write-sequence` loop as a server")
    i20("(`tests/e2e/runtimes/sbcl-server.lisp`, a thread per connection) and hunchentoot (300 threads), plain and")
    i20("under the library (defaults), beside Apache 2.4 with `EnableSendfile On`, interleaved in each round.")
    i20("%s clients for %s s per run; \"loopback, copy\": loadclient copying every body byte; \"MSS %s, TRUNC\": the"
        % (meta.get("clients"), meta.get("secs"), meta.get("mss", "1460")))
    i20("remote-client stand-in (`loadclient --mss %s --trunc`). MB/s and CPU s/GB: medians [min-max] over the"
        % meta.get("mss", "1460"))
    i20("rounds; ratios: median of per-round ratios, a library run against the same server plain, Apache against")
    i20("the SBCL loop plain. \"by sendfile\": the library's redirected bytes / body bytes (min-max over rounds).")
    i20("")
    i20("| file | client | server | MB/s | vs plain | CPU s/GB | vs plain | by sendfile |")
    i20("|---|---|---|---|---|---|---|---|")
    for s, fl, cl in SEEDE:
        first = True
        for c in SEEDC:
            if (s, c, 1) not in load and not rounds(load, s, c):
                continue
            ref = SEEDREF.get(c, "sbcl" if c == "apache-sf" else None)
            i20("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                fl if first else "", client(cl) if first else "", SEEDN[c], mm(vals(load, s, c, "tput"), "%.0f"),
                rx(ratios(load, s, c, ref, "tput")) + (" (vs SBCL)" if c == "apache-sf" else "") if ref else "1",
                mm(vals(load, s, c, "cpu"), "%.2f"),
                rx(ratios(load, s, c, ref, "cpu")) + (" (vs SBCL)" if c == "apache-sf" else "") if ref else "1",
                share(s, c) if c.endswith("-lib") else ("native" if c == "apache-sf" else "-")))
            first = False
    i20("")
    if any(k[0] == "seed" for k in mem):
        i20("**Kernel memory held by %s stalled clients** (20 MB file; each client reads 1 byte and stops; drop of" % NST)
        i20("MemAvailable + per-CPU free lists once the send queues stop growing, median of 5 samples; MB, median")
        i20("[min-max] over the rounds; \"own\": growth of the server's RssAnon (its process group for Apache), \"rest\":")
        i20("the drop minus that, mostly the kernel's; the last column from the library's stats lines of these runs,")
        i20("the largest `why_*` counters as shares of the body bytes)")
        i20("")
        i20("| server | MB held | vs plain | own MB | rest MB | send queues MB | what the library did |")
        i20("|---|---|---|---|---|---|---|")
        for c in SEEDC:
            if not rounds(mem, "seed", c):
                continue
            ref = SEEDREF.get(c, "sbcl" if c == "apache-sf" else None)
            a, b, o_, r_, q_ = memrow("seed", c, ref)
            i20("| %s | %s | %s%s | %s | %s | %s | %s |" % (SEEDN[c], a, b, " (vs SBCL)" if c == "apache-sf" else "",
                                                           o_, r_, q_, mem_why("seed", c) if c.endswith("-lib") else "-"))
        i20("")
    i20("![the seed's comparison](bench-seed.svg)")
    i20("")
    i20("```")
    i20("BENCH_ONLY=seed demo/bench.sh   # these entries alone (BENCH_ROUNDS, BENCH_SECONDS, BENCH_STALLED apply)")
    i20("sbcl --script tests/e2e/runtimes/sbcl-server.lisp WWW/ PORT                        # sbcl, sbcl-lib; SIGINT")
    i20("sbcl --non-interactive --load tests/e2e/runtimes/hunchentoot.lisp WWW/ PORT 300     # ht, ht-lib; SIGINT")
    i20("setsid apache2 -f apache2.conf -DFOREGROUND   # apache-sf: demo/measure.sh apache_conf, EnableSendfile On")
    i20("build/demo/loadclient --port PORT --path /f16k|/f1m|/f20m --clients %s --seconds %s [--mss %s --trunc]"
        % (meta.get("clients"), meta.get("secs"), meta.get("mss", "1460")))
    i20("build/demo/stallclient --port PORT --path /f20m --clients %s --read-bytes 1 --rcvbuf 0 --hold 30" % NST)
    i20("```")
    i20("")
# -- old kernels
if have_old:
    i20("## Old kernels: PROCMAP_QUERY and STATX_MNT_ID_UNIQUE refused")
    i20("")
    i20("Debian 12 (6.1), Ubuntu 22.04 (5.15) and RHEL 9 (5.14) have neither `PROCMAP_QUERY` (6.11) nor")
    i20("`STATX_MNT_ID_UNIQUE` (6.8). `build/demo/oldkernel` (demo/oldkernel.c) runs Apache under a seccomp filter")
    i20("that refuses the first with ENOTTY and the second with EINVAL, as the library's probes take absence: it then")
    i20("compares every mapped write with the file and classifies every file by asking. Apache 2.4, private config")
    i20("of the apache entries, CPU summed over its process group; ratios: median of per-round ratios against stock.")
    i20("")
    i20("| file | client | configuration | MB/s | vs stock | CPU s/GB | vs stock | by sendfile |")
    i20("|---|---|---|---|---|---|---|---|")
    for s, fl, cl in OLDE:
        first = True
        for c in OLDC:
            if not rounds(load, s, c):
                continue
            i20("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                fl if first else "", client(cl) if first else "", OLDN[c], mm(vals(load, s, c, "tput"), "%.0f"),
                "1" if c == "base" else rx(ratios(load, s, c, "base", "tput")), mm(vals(load, s, c, "cpu"), "%.2f"),
                "1" if c == "base" else rx(ratios(load, s, c, "base", "cpu")),
                share(s, c) if c.startswith("lib") else ("native" if c == "native" else "-")))
            first = False
    i20("")
    i20("```")
    i20("BENCH_ONLY=oldkernel demo/bench.sh   # these entries alone")
    i20("build/demo/oldkernel --check         # prints whether the refusals take on this kernel")
    i20("env LD_PRELOAD=build/libautosendfile.so setsid build/demo/oldkernel apache2 -f apache2.conf -DFOREGROUND   # lib-old")
    i20("```")
    i20("")
    if any(k[0] == "oldkernel" for k in mem):
        i20("**Memory held by %s stalled clients** (16 MiB file, as the apache entries; columns as in the seed's table)" % NST)
        i20("")
        i20("| configuration | MB held | vs stock | own MB | rest MB | send queues MB | what the library did |")
        i20("|---|---|---|---|---|---|---|")
        for c in OLDC:
            if not rounds(mem, "oldkernel", c):
                continue
            a, b, o_, r_, q_ = memrow("oldkernel", c, None if c == "base" else "base")
            i20("| %s | %s | %s | %s | %s | %s | %s |" % (OLDN[c], a, b, o_, r_, q_,
                                                         mem_why("oldkernel", c) if c.startswith("lib") else "-"))
        i20("")

SEEDCOL = {"sbcl": "#8c8c8c", "sbcl-lib": "#1f77b4", "ht": "#c7c7c7", "ht-lib": "#9ecae1", "apache-sf": "#2ca02c"}


def seed_chart(path):
    """bench-seed.svg: the seed's comparison, three panels (throughput and CPU per GB as multiples of the
    SBCL loop plain in the same round, memory of the stalled clients in MB). Hand-written SVG."""
    import html
    groups = [(s, fl, client(cl)) for s, fl, cl in SEEDE if any(rounds(load, s, c) for c in SEEDC)]
    memc = [c for c in SEEDC if rounds(mem, "seed", c)]
    if not groups and not memc:
        return False
    W, out = 1200, []
    text, line, rect = svg_painter(out)

    def step_for(v):
        for m in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
            if v / m <= 8:
                return m
        return v / 4

    def panel(y, title, sub, bars_by_group, fmt, ref1, ylab):
        """bars_by_group: [(label1, label2, [(cfg, median, lo, hi)])]; returns the next y"""
        px0, px1, py0, py1 = 100, W - 30, y + 40, y + 290
        text(px0, y + 18, title, 15, anchor="start", weight="bold")
        text(px0, y + 34, sub, 11, anchor="start", fill="#444")
        hi = max([b[3] for _, _, bs in bars_by_group for b in bs] + [1.2 if ref1 else 1])
        st_ = step_for(hi * 1.12)
        top = st_ * (int(hi * 1.12 / st_) + 1)
        yv = lambda v: py1 - (py1 - py0) * max(0.0, min(v, top)) / top
        k = 0
        while k * st_ <= top + 1e-9:
            t = k * st_
            line(px0, yv(t), px1, yv(t), "#e4e4e4")
            text(px0 - 6, yv(t) + 4, ("%.2f" % t).rstrip("0").rstrip("."), 11, anchor="end", fill="#444")
            k += 1
        line(px0, py0, px0, py1)
        line(px0, py1, px1, py1)
        text(22, (py0 + py1) / 2, ylab, 13, extra=' transform="rotate(-90 22 %.1f)"' % ((py0 + py1) / 2))
        nb = sum(len(bs) for _, _, bs in bars_by_group)
        gap = 1.2
        bw = min(44.0, (px1 - px0 - 10) / (nb + gap * len(bars_by_group)))
        x = px0 + 5 + bw * gap / 2
        for l1, l2, bs in bars_by_group:
            gx0 = x
            for c, m, lo, hi_ in bs:
                yy = yv(m)
                rect(x + 1, yy, bw - 2, max(py1 - yy, 1.5), SEEDCOL[c])
                ytop = yy
                if hi_ > lo:
                    out.append('<path d="M%.1f %.1fV%.1fM%.1f %.1fh8M%.1f %.1fh8" stroke="#111" stroke-width="1.1" fill="none"/>'
                               % (x + bw / 2, yv(lo), yv(hi_), x + bw / 2 - 4, yv(lo), x + bw / 2 - 4, yv(hi_)))
                    ytop = min(yy, yv(hi_))
                text(x + bw / 2 + 4, ytop - 4, fmt % m, 10, anchor="start",
                     extra=' transform="rotate(-90 %.1f %.1f)"' % (x + bw / 2 + 4, ytop - 4))
                x += bw
            text((gx0 + x) / 2, py1 + 15, l1, 11, weight="bold")
            text((gx0 + x) / 2, py1 + 29, l2, 10, fill="#444")
            x += bw * gap
        if ref1:
            line(px0, yv(1), px1, yv(1), "#333", ' stroke-width="1.5" stroke-dasharray="6,3"')
        return py1 + 45

    text(W / 2, 28, "The seed's comparison: a Lisp server's copy loop, plain and under autosendfile, beside Apache's sendfile",
         17, weight="bold")
    text(W / 2, 48, "%s CPUs (%s), Linux %s, %s, %s rounds. Bars: median; whiskers: min-max over the rounds."
         % (meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("kernel", "?"), meta.get("date", "?"),
            meta.get("rounds", "?")), 11, fill="#444")
    used = [c for c in SEEDC if any(rounds(load, s, c) for s, _, _ in groups) or c in memc]
    lw = [20 + int(len(SEEDN[c]) * 6.6) for c in used]
    lx = (W - sum(lw) - 24 * (len(lw) - 1)) / 2
    for c in used:
        rect(lx, 62, 14, 14, SEEDCOL[c])
        text(lx + 20, 74, SEEDN[c], 12, anchor="start")
        lx += 20 + int(len(SEEDN[c]) * 6.6) + 24
    y = 90
    for k, title, lab in (("tput", "Throughput vs the SBCL loop plain (median of per-round ratios; higher is better)", "throughput / SBCL plain"),
                          ("cpu", "Server CPU per GB vs the SBCL loop plain (median of per-round ratios; lower is better)", "CPU per GB / SBCL plain")):
        bg = []
        for s, fl, cl in groups:
            bs = [(c, med(xs), min(xs), max(xs)) for c in SEEDC for xs in [ratios(load, s, c, "sbcl", k)] if xs]
            if bs:
                bg.append((fl, cl, bs))
        if bg:
            y = panel(y, title, "%s clients x %s s per run; each run divided by the SBCL loop's plain run of the same round"
                      % (meta.get("clients", "?"), meta.get("secs", "?")), bg, "%.2f", True, lab)
    if memc:
        bs = [(c, med(v), min(v), max(v)) for c in memc for v in [vals(mem, "seed", c, "mb")]]
        bg = [("%s stalled clients" % NST, "20 MB file", bs)]
        y = panel(y, "Memory held by %s stalled clients, MB (lower is better)" % NST,
                  "drop of MemAvailable + per-CPU free lists once the send queues stop growing (the server's own "
                  "memory included: see BENCHMARKS.md for the split)", bg, "%.0f", False, "MB held")
    H = int(y + 10)
    svg_write(path, out, W, H)
    return True


seed_svg = os.path.join(svgdir or os.path.dirname(os.path.abspath(doc)), "bench-seed.svg")
os.makedirs(os.path.dirname(seed_svg), exist_ok=True)
have_seed_chart = seed_chart(seed_svg) if have_seed else False
if have_seed and not have_seed_chart:
    issue20 = [ln for ln in issue20 if "bench-seed.svg" not in ln]
if part:
    hdr = ["# autosendfile: issue 20 entries (demo/bench.sh BENCH_ONLY=%s)" % meta.get("only", "?"), "",
           "%s, %s CPUs (%s), Linux %s; %s rounds, %s clients x %s s, %s stalled clients.%s"
           % (meta.get("date", "?"), meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("kernel", "?"),
              meta.get("rounds", "?"), meta.get("clients", "?"), meta.get("secs", "?"), NST,
              (" Chart: %s." % seed_svg) if have_seed_chart else ""), ""]
    if fails:
        hdr += ["**THIS RUN FAILED ITS CHECKS:** " + "; ".join(fails), ""]
    issue20 = [ln.replace("](bench-seed.svg)", "](%s)" % seed_svg) for ln in issue20]
    os.makedirs(os.path.dirname(os.path.abspath(doc)), exist_ok=True)
    open(doc + ".tmp", "w").write("\n".join(hdr + issue20) + "\n")
    os.replace(doc + ".tmp", doc)
    sys.exit(0)

svg = os.path.join(os.path.dirname(doc), "bench.svg")
os.makedirs(os.path.dirname(os.path.abspath(svg)), exist_ok=True)
have_chart = chart(svg)

# ---------------------------------------------------------------- the document
o = []
w = o.append
w("# autosendfile benchmarks")
w("")
w("Generated by `make bench` (`demo/bench.sh`, which runs the servers and writes the raw results to")
w("`build/bench/`, then `demo/bench-report.py`, which writes this file). Do not edit by hand:")
w("`make bench` regenerates it, `bash demo/bench.sh --report-only` rebuilds it from `build/bench/`.")
w("")
if fails:
    w("**THIS RUN FAILED ITS CHECKS** (the figures below are not to be trusted):")
    w("")
    for f in fails:
        w("- " + f)
    w("")
w("## Machine")
w("")
w("| | |")
w("|---|---|")
for k, label in (("date", "date"), ("nproc", "nproc"), ("cpu", "CPU"), ("kernel", "kernel"), ("glibc", "glibc"),
                 ("nginx", "nginx"), ("python", "python3"), ("node", "node"), ("socat", "socat")):
    w("| %s | %s |" % (label, meta.get(k, "?")))
el = int(meta.get("elapsed", "0"))
w("| run time | %d min %02d s (%s) |" % (el // 60, el % 60,
                                       ", ".join("%s %d s" % (k, v) for k, v in times.items())))
w("")
w("A shared 2-vCPU VM: other jobs ran on the machine during the run, so absolute MB/s move by")
w("10-20% from round to round. The figures to read are the **ratios per round** (each run")
w("against the baseline of the same round, configurations interleaved and rotated), median")
w("[min-max] over the rounds.")
w("")
w("## Goals")
w("")
w("| goal | target | measured (median of per-round ratios [min-max]) | verdict | by how much | likely reason |")
w("|---|---|---|---|---|---|")
for g in goals:
    w("| %s | %s | %s | %s | %s | %s |" % g)
w("")
o.extend(issue20)
if have_chart:
    w("![autosendfile benchmark chart](bench.svg)")
    w("")
    w("The chart: on top, each server's throughput under the library (VERIFY=full and none), with the read +")
    w("sendfile ceiling and native sendfile where they exist, as a multiple of the same server's plain run in")
    w("the same round; below, the kernel memory held by %s clients that stopped reading, per server, without" % NST)
    w("the library, with it and with native sendfile.")
    w("")

# plain-language summary, from the numbers
w("## When autosendfile helps, and when it does not")
w("")
mem_l = []
for s in ("copy", "nginx", "python"):
    lb = ratios(mem, s, "lib", "base", "mb")
    if lb:
        ln = ratios(mem, s, "lib", "native", "mb")
        mem_l.append("%s %s of baseline%s" % (SNAME[s].replace(" 1 MiB", ""),
                                               ("%.2fx" % med(lb)) if med(lb) > 0.005 else "~0x (below the noise)",
                                               (", %.2fx of native sendfile (%+.0f MB)" % (med(ln), med(
                                                   [mem[(s, "lib", r)]["mb"] - mem[(s, "native", r)]["mb"]
                                                    for r in rounds(mem, s, "lib") if (s, "native", r) in mem])))
                                               if ln else ""))
if mem_l:
    w("- **Kernel memory with stalled clients: the clear gain.** With %s clients that stop reading," % NST)
    w("  the library cuts what the send queues pin to: " + "; ".join(mem_l) + ".")
    w("  A copy loop queues private copies of the bytes in the socket buffers; under the library the")
    w("  queues reference page-cache pages, as native sendfile does. The library and native figures are")
    w("  tens of MB, at the noise floor of the memory figure on this VM, so their ratio swings from round to round.")
tl = []
for s in present:
    t = ratios(load, s, "lib", "base", "tput")
    c = ratios(load, s, "lib", "base", "cpu")
    if t:
        tl.append((s, med(t), med(c)))
if tl:
    good = [x for x in tl if x[1] >= 0.97 and x[2] <= 1.03]
    bad = [x for x in tl if x[1] < 0.90 or x[2] > 1 / 0.9]
    gain = [x for x in tl if x[1] >= 1.03]
    lose = [x for x in tl if x[1] < 0.97]
    w("- **Throughput and CPU: it depends on the program.** Library (VERIFY=full) vs baseline,")
    w("  throughput / CPU per GB: " + "; ".join("%s %.2fx / %.2fx" % (SNAME[s], t, c) for s, t, c in tl) + ".")
    if gain:
        w("  Gains: " + ", ".join(SNAME[s] for s, _, _ in gain) + " (where the saved socket copy")
        w("  outweighs the added work).")
    if lose:
        w("  Losses: " + ", ".join(SNAME[s] for s, _, _ in lose) + ".")
    w("  The program still does its own `read()` into its buffer, the expensive copy; the library saves")
    w("  only the copy of that hot buffer into the socket where it redirects (by default, where a client's")
    w("  queue backs up: with these fast loopback clients, a small share), and pays " + COSTS_MD + ".")
    if bad:
        w("  Below the 0.90x bar (in throughput, or in GB per CPU second): " + ", ".join(SNAME[s] for s, _, _ in bad) + ".")
    if any(s == "socat" for s, _, _ in bad):
        w("  socat writes 8 KiB at a time (its default `-b 8192`), where the per-call syscalls the")
        w("  library adds weigh most against a cheap 8 KiB copy.")
vm = []
for s0 in present:
    if s0 != "copy" and (s0, "lib-none", 1) in load:
        vm.append("%s: %s" % (SNAME[s0], ", ".join(
            "%s %s" % (lab, rx(ratios(load, s0, c0, "base", "tput")))
            for c0, lab in (("lib", "full"), ("lib-sample", "sample"), ("lib-none", "none"))
            if (s0, c0, 1) in load)))
if ("copy", "lib-none", 1) in load:
    w("- **Verification mode:** on the demo server VERIFY=full gave %s, VERIFY=sample %s and VERIFY=none %s"
      % (rx(ratios(load, "copy", "lib", "base", "tput")), rx(ratios(load, "copy", "lib-sample", "base", "tput")),
         rx(ratios(load, "copy", "lib-none", "base", "tput"))))
    w("  of the baseline throughput; the read + sendfile ceiling is %s, native sendfile %s. Against the"
      % (rx(ratios(load, "copy", "ceil", "base", "tput")), rx(ratios(load, "copy", "native", "base", "tput"))))
    w("  ceiling: VERIFY=full %s, VERIFY=none %s (what is left between full and none is the compare)."
      % (rx(ratios(load, "copy", "lib", "ceil", "tput")), rx(ratios(load, "copy", "lib-none", "ceil", "tput"))))
    if vm:
        w("  Throughput vs each baseline by VERIFY mode: " + "; ".join(vm) + ".")
elif vm:
    w("- **Verification mode:** throughput vs each baseline by VERIFY mode: " + "; ".join(vm) + ".")
if corrupt:
    cs = sorted(set((k[0], k[1]) for k in corrupt))
    w("- **VERIFY=none is not safe for every program: downloads differed from the file** in " + "; ".join(
        "%s %s (%d of %d rounds)" % (SNAME[s0], c0, len([k for k in corrupt if k[:2] == (s0, c0)]),
                                     len(rounds(load, s0, c0))) for s0, c0 in cs) + ".")
    w("  With no compare, the library sends the file's bytes for a buffer the program changed after the")
    w("  read (documented in autosendfile.1); these runs are reported, not failed, for VERIFY=none only.")
    if not [k for k in corrupt if k[1] != "lib-none"]:
        w("  VERIFY=full and sample had no differing download in this run.")
sz, grows = [], []
for s0 in HTTP:
    es = [s0 + x for x in ("-16k", "", "-100m") if (s0 + x, "lib", 1) in load]
    row = ["%s %s / %s" % (SIZES[e[len(s0):]], rx(ratios(load, e, "lib", "base", "tput")),
                           rx(ratios(load, e, "lib", "base", "cpu"))) for e in es]
    if len(row) > 1:
        sz.append("%s: %s" % (BNAME[s0], ", ".join(row)))
    m = [med(ratios(load, e, "lib", "base", "tput")) for e in es if ratios(load, e, "lib", "base", "tput")]
    if len(m) == 3 and m[0] < m[1] < m[2]:
        grows.append(BNAME[s0])
if sz:
    w("- **File size** (library VERIFY=full vs baseline, throughput / CPU per GB): " + "; ".join(sz) + ".")
    if grows:
        w("  %s: the larger the file, the better the library does: small files pay per-request work"
          % andjoin(grows))
        w("  (open, fstat, header write) it cannot remove, and a body of one or two writes gives it little to save.")
if ("chunk", "lib", 1) in load:
    w("- **A loop against a NIC stand-in** (bench-chunk, receiver discards with `recv(MSG_TRUNC)`, MSS 1448,")
    w("  64 KiB reads): vs `-m rw`, VERIFY=full %s, sample %s, none %s in throughput (CPU per GB %s / %s / %s);"
      % tuple(rx(ratios(load, "chunk", c0, "base", k)) for k in ("tput", "cpu") for c0 in ("lib", "lib-sample", "lib-none")))
    w("  the read + sendfile ceiling %s, sendfile alone %s. With 1448-byte segments the socket copy the"
      % (rx(ratios(load, "chunk", "ceil", "base", "tput")), rx(ratios(load, "chunk", "native", "base", "tput"))))
    w("  library removes is a larger share of the work than on loopback's 64 KiB MSS.")
if gap_text:
    tg, cg, ct, cc = gap_text
    w("- **nginx:** `sendfile on` vs `off` is %s in throughput and %s in CPU per GB on 1 MiB files;"
      % (rx(tg), rx(cg)))
    if ct:
        w("  of that gap the library closes a median %.0f%% of the throughput and %.0f%% of the CPU"
          % (100 * med(ct), 100 * med(cc)))
        w("  (per round, median). The rest stays: nginx still reads every byte into its own buffer, and")
        w("  native sendfile does not. Where you can set `sendfile on`, do.")
w("- **Where it does nothing or costs:** programs that already call sendfile (nginx `sendfile on`),")
w("  writes below `AUTOSENDFILE_MIN_BYTES`, TLS. On I/O it does not redirect the cost is the")
w("  pass-through wrapper%s." % ((", %.1f instructions per call" % pt_ir) if pt_ir is not None else ""))
w("")

w("## Throughput and server CPU")
w("")
w("HTTP servers: `build/demo/loadclient --clients %s --seconds %s --path /f1m` (1 MiB file, whole"
  % (meta.get("clients"), meta.get("secs")))
sized = [h for h in HTTP if h + "-16k" in present or h + "-100m" in present]
only1m = [h for h in HTTP if h in present and h not in sized]
sizeround = meta.get("sizerounds", "?")
if sized:
    w("bodies, 127.0.0.1); the same with `/f16k` (16 KiB) and `/f100m` (100 MiB) for %s, %s"
      % (andjoin([BNAME[h] for h in sized]),
         ("%s rounds each." % sizeround) if sizeround == meta.get("rounds") else
         ("%s rounds each (the 1 MiB runs: %s)." % (sizeround, meta.get("rounds")))))
else:
    w("bodies, 127.0.0.1), %s rounds." % meta.get("rounds"))
if sized and only1m:
    w("%s: 1 MiB only." % andjoin([BNAME[h] for h in only1m]))
par = [h for h in PAR if h + "-t4" in present or h + "-100m-t4" in present]
if par:
    w("4-way entries (%s; base, VERIFY=full and VERIFY=none only): %s on the 1 MiB and 100 MiB files; server CPU"
      % (andjoin(["%s-t4, %s-100m-t4" % (h, h) for h in par]),
         andjoin([{"copy": "`copyserver --threads 4` (4 poll loops in one process)",
                   "nginx": "nginx with `master_process on; worker_processes 4;` (a master and 4 worker "
                            "processes, not threads)"}[h] for h in par])))
    w("= all threads of the process%s." % (", for nginx the sum over the master and its workers (its process group)"
                                           if "nginx" in par else ""))
w("bench-chunk: `build/demo/bench-chunk -m MODE -B 64K -M 1448 -t %s`" % meta.get("chunksecs", "1.5"))
w("on the 256 MiB file, %s rounds: one sender loop to a forked receiver that discards with"
  % meta.get("chunkrounds", "5"))
w("`recv(MSG_TRUNC)` (a stand-in for a NIC); MB/s = bytes / seconds of the timed loop, CPU = the sender's")
w("getrusage user+sys. nc and socat: one 256 MiB transfer per server start, received by")
w("`nc -d 127.0.0.1 PORT >/dev/null`, timed from the client's start to its exit. MB = 10^6 bytes,")
w("GB = 10^9 bytes; CPU = utime+stime of the server process per GB sent. \"redirected\" = the")
w("library's redirected_bytes / body bytes received (min-max over the rounds; bench-chunk counts its")
w("0.2 s warm-up in redirected_bytes, so it can exceed 100%). \"differing\" = saved downloads (2 per run)")
w("that did not match the file (cmp).")
w("")
for s in present:
    cfgs = [c for c in ORDER if (s, c, 1) in load]
    w("### %s (%d rounds)" % (SNAME[s], nr[s]))
    w("")
    w("| configuration | MB/s | vs baseline | CPU s/GB | CPU vs baseline | redirected | differing |")
    w("|---|---|---|---|---|---|---|")
    for c in cfgs:
        red = [load[(s, c, r)]["red"] / load[(s, c, r)]["bytes"] * 100 for r in rounds(load, s, c)
               if load[(s, c, r)]["red"] is not None]
        ndiff = sum(v for k, v in corrupt.items() if k[:2] == (s, c))
        w("| %s | %s | %s | %s | %s | %s | %s |" % (
            cname(s, c), mm(vals(load, s, c, "tput"), "%.0f"),
            "1" if c == "base" else rx(ratios(load, s, c, "base", "tput")),
            mm(vals(load, s, c, "cpu"), "%.2f"),
            "1" if c == "base" else rx(ratios(load, s, c, "base", "cpu")),
            ("%.1f-%.1f %%" % (min(red), max(red))) if red else "-",
            "-" if s in ("nc", "socat", "chunk") else ("**%d of %d**" % (ndiff, 2 * len(rounds(load, s, c))) if ndiff else "0")))
    if (s, "ceil", 1) in load:
        w("")
        w("Against the read + sendfile ceiling (same round): " + "; ".join(
            "%s throughput %s, CPU %s" % (c.replace("lib-", "VERIFY=").replace("lib", "VERIFY=full"),
                                          rx(ratios(load, s, c, "ceil", "tput")),
                                          rx(ratios(load, s, c, "ceil", "cpu")))
            for c in ("lib", "lib-sample", "lib-none")) + ".")
    w("")

if mem:
    w("## Kernel memory held by %s stalled clients" % meta.get("stalled"))
    w("")
    w("`build/demo/stallclient --clients %s --path /f16m --read-bytes 1 --rcvbuf 0` (default receive"
      % meta.get("stalled"))
    w("buffer): each client sends a GET for a 16 MiB file, reads 1 byte and stops reading. Once the")
    w("server has filled the send queues (their total in /proc/net/tcp stops growing), the drop of")
    w("MemAvailable plus the free pages on the per-CPU lists (median of 5 samples) is the memory held. The library runs use VERIFY=full.")
    w("")
    msrv = [s for s in MEMSRV if any(k[0] == s for k in mem)]
    pyr = meta.get("pymemrounds", meta.get("rounds"))
    if "python" in msrv and pyr != meta.get("rounds"):
        others = [s for s in msrv if s != "python"]
        w("Rounds: %s%s for python (it accepts only ~7 connections/s while its threads send, so each"
          % (("%s for %s, " % (meta.get("rounds"), andjoin([BNAME[s] for s in others]))) if others else "", pyr))
        w("python run takes ~35 s).")
    else:
        w("Rounds: %s for each server." % meta.get("rounds"))
    w("")
    w("| server | configuration | MB held | vs baseline | vs native | send queues, MB |")
    w("|---|---|---|---|---|---|")
    for s in MEMSRV:
        for c in ("base", "lib", "native"):
            if (s, c, 1) not in mem:
                continue
            w("| %s | %s | %s | %s | %s | %.0f |" % (
                SNAME[s].replace(" 1 MiB", ""), cname(s, c), mm(vals(mem, s, c, "mb"), "%.0f"),
                "1" if c == "base" else rx(ratios(mem, s, c, "base", "mb")),
                rx(ratios(mem, s, c, "native", "mb")) if (s, "native", 1) in mem and c != "native" else "-",
                med(vals(mem, s, c, "q"))))
    w("")

w("## Pass-through cost")
w("")
if pt:
    w("`demo/passthrough-cost.sh` (reused as is): valgrind callgrind on `dd if=/dev/zero of=/dev/null bs=1`,")
    w("the slope between 20,000 and 40,000 blocks, then wall clock, interleaved pairs.")
    w("")
    w("```")
    w(pt.strip())
    w("```")
else:
    w("Not measured in this run (BENCH_PTCOST=0 or valgrind absent).")
w("")
w("## Exact commands")
w("")
w("```")
w("make bench                      # = make all + demo binaries, then bash demo/bench.sh")
w("BENCH_ROUNDS=%s BENCH_SECONDS=%s BENCH_CLIENTS=%s BENCH_STALLED=%s BENCH_SIZE_ROUNDS=%s BENCH_CHUNK_ROUNDS=%s"
  % (meta.get("rounds"), meta.get("secs"), meta.get("clients"), meta.get("stalled"), meta.get("sizerounds"),
     meta.get("chunkrounds")))
w("BENCH_CHUNK_SECONDS=%s  (the settings of this run)" % meta.get("chunksecs"))
w("")
w("# library runs: env LD_PRELOAD=$PWD/build/libautosendfile.so AUTOSENDFILE_STATS=FILE AUTOSENDFILE_VERIFY=full|sample|none SERVER...")
w("build/demo/copyserver --root WWW --port-file F --mode rw|read-sendfile|sendfile")
w("nginx -e LOG -c nginx.conf -p DIR    # daemon off; master_process off; worker_processes 1;")
w("                                     # access_log off; sendfile off|on; stopped with SIGQUIT")
if "copy-t4" in present or "copy-100m-t4" in present:
    w("build/demo/copyserver ... --mode rw --threads 4    # copy-t4, copy-100m-t4")
if "nginx-t4" in present or "nginx-100m-t4" in present:
    w("setsid nginx ...   # nginx-t4, nginx-100m-t4: master_process on; worker_processes 4; sendfile off;")
    w("                   # server CPU = the sum over its process group (the master and its 4 workers)")
w("python3 -m http.server -b 127.0.0.1 -d WWW PORT                     # stopped with SIGINT")
w("node server.js WWW PORT  # http.createServer((q, r) => fs.createReadStream(f).pipe(r)); SIGINT -> exit(0)")
w("nc -N -l 127.0.0.1 PORT < big256m                                  # one transfer, exits")
w("socat -u FILE:big256m TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr      # one transfer, exits")
w("")
w("build/demo/loadclient --port PORT --path PATH --clients %s --seconds %s --save BODY --save-count 2"
  % (meta.get("clients"), meta.get("secs")))
bypaths = {}
for h in HTTP:
    ps = tuple(pa for x, pa in (("", "/f1m"), ("-16k", "/f16k"), ("-100m", "/f100m")) if h + x in present)
    if ps:
        bypaths.setdefault(ps, []).append({"copy": "copyserver"}.get(h, h))
for ps, hs in bypaths.items():
    w("#   PATH = %s for %s" % ("|".join(ps), ", ".join(hs)))
w("build/demo/bench-chunk -m rw|rsf|sf -B 64K -M 1448 -f big256m -s 256M -t %s   # rw also under the library"
  % meta.get("chunksecs", "1.5"))
w("nc -d 127.0.0.1 PORT > /dev/null          # nc/socat client (once > FILE + cmp, before the rounds)")
w("build/demo/stallclient --port PORT --path /f16m --clients %s --read-bytes 1 --rcvbuf 0 --hold 30"
  % meta.get("stalled"))
w("bash demo/passthrough-cost.sh build/libautosendfile.so")
w("```")
w("")
if meta.get("sizerounds", meta.get("rounds")) == meta.get("rounds"):
    rtxt = "%s for the HTTP servers (every file size)" % meta.get("rounds")
else:
    rtxt = "%s for the HTTP servers at 1 MiB, %s for the 16 KiB / 100 MiB runs" % (meta.get("rounds"),
                                                                               meta.get("sizerounds"))
if meta.get("pymemrounds", meta.get("rounds")) != meta.get("rounds"):
    rtxt += ", %s for python's memory runs" % meta.get("pymemrounds")
w("Rounds: %s, %s for bench-chunk, %s for nc and socat (a transfer takes < 1 s); the order of the"
  % (rtxt, meta.get("chunkrounds"), meta.get("piperounds")))
w("configurations rotates each round. Checks that fail")
w("the script: every HTTP load run compares two downloaded bodies with the file (cmp); each nc/socat")
w("configuration is checked once with a saved 256 MiB transfer (cmp) (under VERIFY=none a differing")
w("download is reported, not failed: that mode is documented to send the file's bytes when a program")
w("changed its buffer); Apache's library runs and the AUTOSENDFILE_PRESSURE=0 runs must show")
w(">= 90% of the body bytes redirected in its stats line (elsewhere the default policy leaves a")
w("compared write to a client that keeps up to the program: the share is reported, not checked);")
w("every server must exit with status 0; every bench-chunk run must deliver every byte.")
w("Raw numbers: `build/bench/raw.txt`.")
os.makedirs(os.path.dirname(os.path.abspath(doc)), exist_ok=True)
tmp = doc + ".tmp"
open(tmp, "w").write("\n".join(o) + "\n")
os.replace(tmp, doc)

# the summary on stdout
print("goal | target | measured | verdict")
for g in goals:
    print(" | ".join(g[:4]))
