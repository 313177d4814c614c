#!/usr/bin/env python3
"""report.py OUTDIR - the table of bench/run.sh from the files it wrote in OUTDIR.

GFLOP/s counts 2 flops per multiply-add forward and 4 backward, per epoch:
6 x MACs/row x rows x epochs (no Adam, no evaluation, no final forward).
"% peak" is against the BEST single-core sgemm run of (a) (the issue's yardstick);
"%fma" against the core's FMA instruction peak, also measured in (a).  The
default step skips dead ReLU units (fewer flops, same bits): its rate is
shown as "eff" and the hardware rate is the dense step's ("dense s").  "tiled s"
is aesweep's feature-vectorised kernel without the fused rows-in-lanes step,
"blas s" one OpenBLAS sgemm per layer.  Every time is
the median of the runs; "cpu" is the median CPU time of the same runs (a
wall time far above it means the machine was busy with other work).
Speed-up = PyTorch seconds / aesweep seconds.
"""
import glob
import json
import os
import re
import statistics
import sys


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip().startswith("{")]


def main():
    out = sys.argv[1]
    meta = open(os.path.join(out, "meta.txt")).read().strip() if os.path.exists(os.path.join(out, "meta.txt")) else ""
    s = open(os.path.join(out, "sgemm.txt")).read()
    m = re.search(r"core=(\S+) best=([\d.]+) median=([\d.]+) cpu_best=([\d.]+) cpu_median=([\d.]+)", s)
    core, peak, peak_med, cpeak = m.group(1), float(m.group(2)), float(m.group(3)), float(m.group(4))
    mf = re.search(r"fma isa=(\S+) peak=([\d.]+)", s)
    fisa, fpeak = (mf.group(1), float(mf.group(2))) if mf else ("?", float("nan"))
    print("aesweep benchmark  " + meta.replace("\n", "  "))
    print(f"(a) single-core OpenBLAS sgemm 2048^2 ({core} kernel): best {peak:.1f} GFLOP/s (median {peak_med:.1f}) by wall time; "
          f"best {cpeak:.1f} by CPU time -> peak = {peak:.1f} (wall), {cpeak:.1f} (cpu)")
    print(f"    the core's FMA instruction peak ({fisa} vectors, register-only loop): {fpeak:.1f} GFLOP/s")
    print()
    print("(b,c) training loop, one thread, full-batch Adam (median of runs)")
    print("  aesweep: the default fused step, which skips the ReLU units a tile leaves at zero (same bits as without);")
    print("  dead: the share of hidden unit-tiles skipped at the last step; x: PyTorch seconds / aesweep seconds (wall, CPU)")
    hdr = (f"{'config':30} {'aesweep s':>9} {'cpu s':>7} {'dead':>5} {'torch s':>8} {'cpu s':>7} {'x wall':>7} {'x cpu':>6} "
           f"{'dense s':>7} {'tiled s':>7} {'blas s':>7}")
    print(hdr)
    rows = []
    for f in sorted(glob.glob(os.path.join(out, "aesweep_*.json"))):
        name = os.path.basename(f)[len("aesweep_"):-5]
        a = {x["kernel"]: x for x in lines(f)}
        t = lines(os.path.join(out, f"torch_{name}.json"))
        if "fast" not in a or not t:
            continue
        rows.append((name, a, t))
    nan = float("nan")
    for name, a, t in rows:
        fa, de, bl, ti = a["fast"], a.get("dense"), a.get("blas"), a.get("tiled")
        ts = med([x["seconds"] for x in t])
        tc = med([x["cpu_seconds"] for x in t])
        print(f"{name:30} {fa['median']:9.3f} {fa['cpu_median']:7.3f} {100 * fa.get('dead', 0):4.0f}% {ts:8.3f} {tc:7.3f} "
              f"{ts / fa['median']:6.2f}x {tc / fa['cpu_median']:5.2f}x {(de['median'] if de else nan):7.3f} "
              f"{(ti['median'] if ti else nan):7.3f} {(bl['median'] if bl else nan):7.3f}")
    print()
    print("(b') arithmetic rate, GFLOP/s = 6 x MACs x rows x epochs / s (every multiply-add of the dense network counted),")
    print("  of the dense fused step (no skipping: the work the hardware does) and of PyTorch; % of the sgemm peak of (a) and")
    print("  of the FMA peak; 'eff' is the default step's rate on the same count (above the peak: the skipped work is counted)")
    print(f"{'config':30} {'dense GF/s':>10} {'%peak':>6} {'%fma':>5} {'cpu GF/s':>8} {'%peak':>6} {'torch GF/s':>10} {'%peak':>6} {'eff GF/s':>8}")
    for name, a, t in rows:
        fa, de = a["fast"], a.get("dense") or a["fast"]
        flops = de["gflops"] * de["median"] * 1e9
        tc = med([x["cpu_seconds"] for x in t])
        ts = med([x["seconds"] for x in t])
        dg, dcg, tg = de["gflops"], flops / de["cpu_median"] * 1e-9, flops / ts * 1e-9
        print(f"{name:30} {dg:10.1f} {100 * dg / peak:5.0f}% {100 * dg / fpeak:4.0f}% {dcg:8.1f} {100 * dcg / cpeak:5.0f}% "
              f"{tg:10.1f} {100 * tg / peak:5.0f}% {fa['gflops']:8.1f}")
    print()
    aw = lines(os.path.join(out, "m1_aesweep.json"))
    a1 = med([x["seconds"] for x in aw if x["np"] == 1])
    a2 = med([x["seconds"] for x in aw if x["np"] == 2])
    t1l, t2l = lines(os.path.join(out, "m1_torch1.json")), lines(os.path.join(out, "m1_torch2.json"))
    t1 = med([x["seconds"] for x in t1l])
    t2 = med([x["seconds"] for x in t2l])
    ext = any(x.get("extrapolated") for x in t1l + t2l)
    tag = " (EXTRAPOLATED from min(epochs, 50) epochs per cell: quick mode)" if ext else ""
    print("(d) whole study: moons M1 grid, 100 cells (bench/m1.cfg), end to end incl. start-up, evaluation, HDF5 output")
    print(f"    aesweep mpirun -np 1: {a1:8.2f} s    -np 2: {a2:8.2f} s    speed-up 1 -> 2 ranks: {a1 / a2:.2f}")
    print(f"    PyTorch loop, 1 process: {t1:8.2f} s; split over 2 processes: {t2:8.2f} s{tag}")
    print(f"    aesweep -np 2 vs PyTorch 1 process: {t1 / a2:.1f}x;  vs PyTorch 2 processes: {t2 / a2:.1f}x;  "
          f"-np 1 vs PyTorch 1 process: {t1 / a1:.1f}x")
    # CPU time: per run, the largest rank's user + system seconds (the span a dedicated core would take)
    cpu_runs = {}
    for np_ in (1, 2):
        p = os.path.join(out, f"m1_np{np_}_rss.txt")
        if os.path.exists(p):
            vals = [float(x.split()[7]) + float(x.split()[8]) for x in open(p) if x.startswith("rank") and len(x.split()) >= 9]
            runs = [max(vals[i:i + np_]) for i in range(0, len(vals) - np_ + 1, np_)]
            cpu_runs[np_] = med(runs)
    t1c = med([x.get("cpu_seconds", float("nan")) for x in t1l])
    t2c = med([x.get("cpu_seconds", float("nan")) for x in t2l])
    if 1 in cpu_runs and 2 in cpu_runs:
        print(f"    by CPU time (largest rank's user+system; PyTorch process CPU): aesweep -np 1 {cpu_runs[1]:.2f} s, -np 2 {cpu_runs[2]:.2f} s "
              f"(1 -> 2: {cpu_runs[1] / cpu_runs[2]:.2f}); PyTorch 1 process {t1c:.2f} s, 2 processes {t2c:.2f} s; "
              f"-np 2 vs PyTorch 1 process {t1c / cpu_runs[2]:.1f}x, vs 2 processes {t2c / cpu_runs[2]:.1f}x")
    for np_ in (1, 2):
        p = os.path.join(out, f"m1_np{np_}_rss.txt")
        if os.path.exists(p):
            rss = {}
            for ln in open(p):
                mm = re.match(r"rank (\d+) maxrss_kb (\d+)", ln)
                if mm:
                    rss[int(mm.group(1))] = max(rss.get(int(mm.group(1)), 0), int(mm.group(2)))
            print(f"    peak RSS per rank, -np {np_}: " + ", ".join(f"rank {r}: {v / 1024:.1f} MiB" for r, v in sorted(rss.items())))
    print()
    print("(e) per-task overhead, 100,000 tiny cells (bench/tiny.cfg: 4 points, 1 epoch)")
    try:
        import h5py
        for np_ in (1, 2):
            j = os.path.join(out, f"tiny_np{np_}.json")
            h = os.path.join(out, f"tiny_np{np_}.h5")
            if not (os.path.exists(j) and os.path.exists(h)):
                print(f"    -np {np_}: no result")
                continue
            wall = json.load(open(j))["seconds"]
            with h5py.File(h, "r") as f:
                sec = f["tiny/seconds"][()].ravel()
            n = sec.size
            tot = float(sec[sec == sec].sum())
            rss = []
            p = os.path.join(out, f"tiny_np{np_}_rss.txt")
            if os.path.exists(p):
                rss = [int(x.split()[3]) / 1024 for x in open(p) if x.startswith("rank")]
            print(f"    -np {np_}: {n} tasks in {wall:.1f} s wall; summed task time {tot:.2f} s; overhead per task "
                  f"(np x wall - task time) / tasks = {(np_ * wall - tot) / n * 1e3:.3f} ms; wall per task {wall / n * 1e3:.3f} ms"
                  + (f"; peak RSS per rank {', '.join(f'{r:.0f}' for r in rss)} MiB" if rss else ""))
    except ImportError:
        print("    (h5py missing)")
    print()
    sim = os.path.join(out, "simulate.txt")
    if os.path.exists(sim):
        print("(f) scheduler simulator (real cost model and LPT partitioner, calibrated from the -np 1 M1 run)")
        for ln in open(sim):
            print("    " + ln.rstrip())


if __name__ == "__main__":
    main()
