#!/usr/bin/env python3
"""wide_report.py - the table of bench/wide.sh from its JSON lines.

usage: wide_report.py WIDE.json [NARROW.json]
Per config: aesweep's GEMM path on OpenBLAS (the default) and with the packed
micro-kernel (AESWEEP_GEMM=packed), and PyTorch,
medians over repeats of end to end (load + train + evaluate), training,
per step, GFLOP/s of the training span, peak RSS; x = PyTorch / aesweep for
wall and CPU seconds of training (CPU time is the fairer one on a busy
machine).
"""
import json
import statistics
import sys


def med(rows, k):
    return statistics.median(r[k] for r in rows)


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
    groups = {}
    for r in rows:
        name = r["config"].split(" ")[0]
        who = "torch" if r["kernel"].startswith("torch") else r["gemm"]  # the workspace's kernel name
        groups.setdefault(name, {}).setdefault(who, []).append(r)
    label = {"torch": "pytorch", "gemm": "aes-gemm", "gemm-packed": "aes-packed"}
    print("(g) wide layers, one thread; times are medians; x = PyTorch / aesweep (training span: wall, CPU);")
    print("    GFcpu = the training span's exact flops / its CPU time (PyTorch: the same flops, same network");
    print("    and rows); %fma = GFcpu / the core's FMA peak measured by CPU time in aesweep's process")
    print("%-8s %-22s %-11s %8s %8s %8s %8s %6s %6s %5s %8s %6s %6s %6s" % (
        "config", "network", "kernel", "total_s", "train_s", "cpu_s", "step_ms", "GF/s", "GFcpu", "%fma",
        "test_mse", "rss_MB", "x wall", "x cpu"))
    for name, g in groups.items():
        t = g.get("torch")
        a = g.get("gemm") or g.get("gemm-packed")
        flops = a[0].get("flops") if a else None
        peak = max(max(r.get("fma_peak", 0), r.get("fma_peak_after", 0)) for r in a) if a else 0
        for who in ("gemm", "gemm-packed", "torch"):
            if who not in g:
                continue
            rs = g[who]
            xw = xc = ""
            if t and who != "torch":
                xw = "%.2f" % (med(t, "train_s") / med(rs, "train_s"))
                xc = "%.2f" % (med(t, "train_cpu_s") / med(rs, "train_cpu_s"))
            gfc = flops / med(rs, "train_cpu_s") * 1e-9 if flops else float("nan")
            print("%-8s %-22s %-11s %8.2f %8.2f %8.2f %8.2f %6.1f %6.1f %5.0f %8.5f %6.0f %6s %6s" % (
                name, rs[0]["arch"][:22], label[who], med(rs, "total_s"), med(rs, "train_s"), med(rs, "train_cpu_s"),
                med(rs, "step_ms"), med(rs, "gflops"), gfc, 100 * gfc / peak if peak else float("nan"),
                med(rs, "test_mse"), med(rs, "maxrss_mb"), xw, xc))
        if a:
            r = a[0]
            print("%-8s   memory: peak RSS %.0f MB = data %.0f MB (train + test, float32) + arenas %.0f MB "
                  "(params, grads, 2 Adam moments) + workspaces %.0f MB + the rest (libraries, OpenBLAS buffers)" % (
                      "", r["maxrss_mb"], r["data_mb"], r["params_mb"], r["ws_mb"]))
        if a and t and flops and peak:
            floor = flops / (peak * 1e9)
            print("%-8s   floor: %.3g flops at the FMA peak (%.1f GF/s) take %.2f s; PyTorch's CPU time %.2f s: "
                  "at most %.2fx PyTorch with every FMA unit busy" % (
                      "", flops, peak, floor, med(t, "train_cpu_s"), med(t, "train_cpu_s") / floor))
    if len(sys.argv) > 2:
        nr = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
        if nr:
            print("(g') narrow shapes, same run, default kernel (bench_train, full batch): seconds (median of 3)")
            for r in nr:
                print("     %-40s build %-5s %8.4f s  cpu %8.4f s  %6.1f GF/s" % (
                    r["config"][:40], r.get("build", "this"), r["median"], r["cpu_median"], r["gflops"]))


if __name__ == "__main__":
    main()
