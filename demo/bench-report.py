#!/usr/bin/env python3
"""bench-report.py RAWDIR DOC - writes docs/BENCHMARKS.md from demo/bench.sh's raw results.

RAWDIR holds raw.txt (lines "load SRV CFG ROUND bytes secs cpu_s red pass",
"mem SRV CFG ROUND drop_kB queued_bytes", "time PART seconds", "corrupt SRV CFG ROUND CLIENT";
SRV may be copy-16k, nginx-100m etc. (other file sizes) or chunk (build/demo/bench-chunk)), meta.txt ("key value") and,
when the pass-through cost was measured, ptcost.txt (demo/passthrough-cost.sh's output).
Standard library only.
"""
import os
import re
import statistics as st
import sys

rawdir, doc = sys.argv[1], sys.argv[2]
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
        mem[(f[1], f[2], int(f[3]))] = dict(mb=int(f[4]) / 1024.0, q=int(f[5]) / 1e6)
    elif f[0] == "corrupt":
        corrupt[(f[1], f[2], int(f[3]))] = corrupt.get((f[1], f[2], int(f[3])), 0) + 1
    elif f[0] == "time":
        times[f[1]] = int(f[2])
pt = None
ptp = os.path.join(rawdir, "ptcost.txt")
if os.path.exists(ptp):
    pt = open(ptp).read()

SERVERS = ["copy", "copy-16k", "copy-100m", "nginx", "nginx-16k", "nginx-100m", "python", "node", "nc",
           "socat", "chunk"]
SNAME = {"copy": "demo copyserver 1 MiB", "copy-16k": "demo copyserver 16 KiB", "copy-100m": "demo copyserver 100 MiB",
         "nginx": "nginx 1 MiB", "nginx-16k": "nginx 16 KiB", "nginx-100m": "nginx 100 MiB",
         "python": "python3 -m http.server 1 MiB",
         "node": "node createReadStream().pipe(res) 1 MiB", "nc": "nc -N -l (256 MiB, 1 transfer)",
         "socat": "socat -u (256 MiB, 1 transfer)",
         "chunk": "bench-chunk loop, B=64K, MSS 1448, recv(MSG_TRUNC) receiver"}
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
        # Both figures are a few tens of MB, at the noise floor of MemAvailable: say how far apart
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



def why(g):
    """a likely reason for a missed goal (the numbers it rests on are in the tables below)"""
    name, verdict_ = g[0], g[3]
    if "missed" not in verdict_:
        return ""
    srv = max((k for k, v in SNAME.items() if v in name), key=lambda k: len(SNAME[k]), default=None)
    if name.startswith("Memory") and "native" in name:
        return ("both are tens of MB against hundreds for the baseline, at the noise floor of MemAvailable "
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
    if "ceiling" in name:
        return ("what the ceiling does not pay: one fstat per write, two lseek per read, the range "
                "tracking; with VERIFY=none there is no compare, so this is syscall overhead")
    if "VERIFY=full" in name:
        extra = ""
        if srv == "socat":
            extra = "; socat copies 8 KiB at a time (-b 8192), where these per-call costs weigh most"
        elif srv == "nc":
            extra = "; nc copies 16 KiB at a time, where these per-call costs weigh more than at 64 KiB"
        elif srv == "node":
            extra = "; node's 64 KiB pieces are read on a pool thread and written from the main thread"
        elif srv == "chunk":
            extra = ("; this loop does nothing but read + write, so the library's per-call work is the whole "
                     "difference, with nothing else to hide it")
        elif srv and srv.endswith("-16k"):
            extra = "; a 16 KiB body is one or two writes, so per-request costs (open, fstat, headers) dominate"
        return ("the server still does its own read() copy; the library adds a copy + compare of each "
                "write (VERIFY=full), one fstat per write and two lseek per read, and saves only the cheap "
                "copy of a hot buffer into the socket" + extra)
    if name.startswith("Pass-through"):
        return "the wrapper's fd classification on the hot path"
    return ""


goals = [tuple(g) + (why(g),) for g in goals]

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
    w("- **Kernel memory with stalled clients: the clear gain.** With 200 clients that stop reading,")
    w("  the library cuts what the send queues pin to: " + "; ".join(mem_l) + ".")
    w("  A copy loop queues private copies of the bytes in the socket buffers; under the library the")
    w("  queues reference page-cache pages, as native sendfile does. The library and native figures are")
    w("  tens of MB, at the noise floor of MemAvailable on this VM, so their ratio swings from round to round.")
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
        w("  Gains: " + ", ".join(SNAME[s] for s, _, _ in gain) + " (loops writing 32-64 KiB per call,")
        w("  where the saved socket copy outweighs the added work).")
    if lose:
        w("  Losses: " + ", ".join(SNAME[s] for s, _, _ in lose) + ".")
    w("  The program still does its own `read()` into its buffer, the expensive copy; the library saves")
    w("  only the copy of that hot buffer into the socket, and pays a copy + compare of every write")
    w("  (VERIFY=full), one `fstat` per write and two `lseek` per read.")
    if bad:
        w("  Below the 0.90x bar: " + ", ".join(SNAME[s] for s, _, _ in bad) + ".")
    if any(s == "socat" for s, _, _ in bad):
        w("  socat writes 8 KiB at a time (its default `-b 8192`), where the per-call syscalls the")
        w("  library adds weigh most against a cheap 8 KiB copy.")
if ("copy", "lib-none", 1) in load:
    w("- **Verification mode:** on the demo server VERIFY=sample gave %s and VERIFY=none %s of the"
      % (rx(ratios(load, "copy", "lib-sample", "base", "tput")), rx(ratios(load, "copy", "lib-none", "base", "tput"))))
    w("  baseline throughput (sample and none are the same within the noise); the read + sendfile ceiling")
    w("  is %s, native sendfile %s. Against the ceiling, VERIFY=full reaches %s: the full compare"
      % (rx(ratios(load, "copy", "ceil", "base", "tput")), rx(ratios(load, "copy", "native", "base", "tput")),
         rx(ratios(load, "copy", "lib", "ceil", "tput"))))
    w("  is the biggest single cost on this server.")
    vm = []
    for s0 in ("nginx", "python", "node", "chunk", "copy-16k", "copy-100m", "nginx-16k", "nginx-100m"):
        if (s0, "lib-none", 1) in load:
            vm.append("%s: full %s, sample %s, none %s" % (
                SNAME[s0], rx(ratios(load, s0, "lib", "base", "tput")),
                rx(ratios(load, s0, "lib-sample", "base", "tput")), rx(ratios(load, s0, "lib-none", "base", "tput"))))
    if vm:
        w("  Throughput vs each baseline by VERIFY mode: " + "; ".join(vm) + ".")
if corrupt:
    cs = sorted(set((k[0], k[1]) for k in corrupt))
    w("- **VERIFY=none is not safe for every program: downloads differed from the file** in " + "; ".join(
        "%s %s (%d of %d rounds)" % (SNAME[s0], c0, len([k for k in corrupt if k[:2] == (s0, c0)]),
                                     len(rounds(load, s0, c0))) for s0, c0 in cs) + ".")
    w("  With no compare, the library sends the file's bytes for a buffer the program changed after the")
    w("  read (documented in autosendfile.1); these runs are reported, not failed, for VERIFY=none only.")
    if not [k for k in corrupt if k[1] != "lib-none"]:
        w("  VERIFY=full and sample had no differing download in this run.")
sz = []
for s0 in ("copy", "nginx"):
    row = []
    for e, lab in ((s0 + "-16k", "16 KiB"), (s0, "1 MiB"), (s0 + "-100m", "100 MiB")):
        if (e, "lib", 1) in load:
            row.append("%s %s / %s" % (lab, rx(ratios(load, e, "lib", "base", "tput")), rx(ratios(load, e, "lib", "base", "cpu"))))
    if len(row) > 1:
        sz.append("%s: %s" % ("demo copyserver" if s0 == "copy" else "nginx", ", ".join(row)))
if sz:
    w("- **File size** (library VERIFY=full vs baseline, throughput / CPU per GB): " + "; ".join(sz) + ".")
    for s0 in ("copy", "nginx"):
        es = [e for e in (s0 + "-16k", s0, s0 + "-100m") if (e, "lib", 1) in load]
        m = [med(ratios(load, e, "lib", "base", "tput")) for e in es]
        if len(m) == 3 and m[0] < m[1] < m[2]:
            w("  %s: the larger the file, the better the library does: small files pay per-request work"
              % ("demo copyserver" if s0 == "copy" else "nginx"))
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
w("bodies, 127.0.0.1); the same with `/f16k` (16 KiB) and `/f100m` (100 MiB) for the demo server and")
w("nginx, %s rounds each (fewer than the %s of the 1 MiB runs, to keep `make bench` under ~18 minutes;"
  % (meta.get("sizerounds", "3"), meta.get("rounds")))
w("python and node run 1 MiB only, for time). bench-chunk: `build/demo/bench-chunk -m MODE -B 64K -M 1448"
  " -t %s`" % meta.get("chunksecs", "1.5"))
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
    w("MemAvailable (median of 5 samples) is the memory held. The library runs use VERIFY=full.")
    w("")
    w("Rounds: %s for the demo server and nginx, %s for python (it accepts only ~7 connections/s"
      % (meta.get("rounds"), min(int(meta.get("rounds", "5")), int(meta.get("pymemrounds", "3")))))
    w("while its threads send, so each python run takes ~35 s).")
    w("")
    w("| server | configuration | MB held | vs baseline | vs native | send queues, MB |")
    w("|---|---|---|---|---|---|")
    for s in ("copy", "nginx", "python"):
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
w("python3 -m http.server -b 127.0.0.1 -d WWW PORT                     # stopped with SIGINT")
w("node server.js WWW PORT  # http.createServer((q, r) => fs.createReadStream(f).pipe(r)); SIGINT -> exit(0)")
w("nc -N -l 127.0.0.1 PORT < big256m                                  # one transfer, exits")
w("socat -u FILE:big256m TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr      # one transfer, exits")
w("")
w("build/demo/loadclient --port PORT --path /f1m|/f16k|/f100m --clients %s --seconds %s --save BODY --save-count 2"
  % (meta.get("clients"), meta.get("secs")))
w("build/demo/bench-chunk -m rw|rsf|sf -B 64K -M 1448 -f big256m -s 256M -t %s   # rw also under the library"
  % meta.get("chunksecs", "1.5"))
w("nc -d 127.0.0.1 PORT > /dev/null          # nc/socat client (once > FILE + cmp, before the rounds)")
w("build/demo/stallclient --port PORT --path /f16m --clients %s --read-bytes 1 --rcvbuf 0 --hold 30"
  % meta.get("stalled"))
w("bash demo/passthrough-cost.sh build/libautosendfile.so")
w("```")
w("")
w("Rounds: %s for the HTTP servers at 1 MiB, %s for the 16 KiB / 100 MiB runs, %s for bench-chunk, %s for"
  % (meta.get("rounds"), meta.get("sizerounds"), meta.get("chunkrounds"), meta.get("piperounds")))
w("nc and socat (a transfer takes < 1 s); the order of the")
w("configurations rotates each round. Checks that fail")
w("the script: every HTTP load run compares two downloaded bodies with the file (cmp); each nc/socat")
w("configuration is checked once with a saved 256 MiB transfer (cmp) (under VERIFY=none a differing")
w("download is reported, not failed: that mode is documented to send the file's bytes when a program")
w("changed its buffer); every library run must show")
w(">= 90% of the body bytes redirected in its stats line (not the 16 KiB runs: their share is only")
w("reported); every server must exit with status 0; every bench-chunk run must deliver every byte.")
w("Raw numbers: `build/bench/raw.txt`.")
os.makedirs(os.path.dirname(os.path.abspath(doc)), exist_ok=True)
tmp = doc + ".tmp"
open(tmp, "w").write("\n".join(o) + "\n")
os.replace(tmp, doc)

# the summary on stdout
print("goal | target | measured | verdict")
for g in goals:
    print(" | ".join(g[:4]))
