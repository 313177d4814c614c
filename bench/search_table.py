#!/usr/bin/python3
"""search_table.py OUT - the anytime table of bench/search.sh from OUT/<kind>_summary.json
(search_optuna.py --summarize lines for aesweep_random, aesweep_sobol, aesweep_tpe, optuna_np1,
optuna_np2): the median wall and CPU seconds until the best test MSE so far first fell below 0.0085
and 0.0065, how many seeds got there, and the ratios Optuna / aesweep (Optuna in one process and in
two against each aesweep search). Where Optuna's median did not get there within its CPU limit, the
ratio is a lower bound: Optuna's limit (or its run's wall time) over aesweep's time, printed ">=".
"""
import json
import os
import sys

out = sys.argv[1]
KINDS = (("aesweep_random", "aesweep random+Hyperband -np 2"), ("aesweep_sobol", "aesweep Sobol+Hyperband -np 2"),
         ("aesweep_tpe", "aesweep TPE+halving -np 2"),
         ("aesweep_random_start", "aesweep random+HB start-aligned"), ("aesweep_sobol_start", "aesweep Sobol+HB start-aligned"),
         ("aesweep_random_flow", "aesweep random+HB dataflow"), ("aesweep_sobol_flow", "aesweep Sobol+HB dataflow"),
         ("aesweep_tpe_flow", "aesweep TPE+halving dataflow"),
         ("aesweep_random_asha", "aesweep random+HB, ASHA order"), ("aesweep_sobol_asha", "aesweep Sobol+HB, ASHA order"),
         ("aesweep_tpe9_flow", "aesweep TPE batch 9 dataflow"), ("aesweep_tpe3_flow", "aesweep TPE batch 3 dataflow"),
         ("aesweep_tpe9_asha", "aesweep TPE batch 9, ASHA order"), ("aesweep_tpe27_asha", "aesweep TPE batch 27, ASHA order"),
         ("optuna_np1", "Optuna+Hyperband, 1 process"),
         ("optuna_np2", "Optuna+Hyperband, 2 processes"))
S = {k: json.load(open("%s/%s_summary.json" % (out, k)))["summary"] for k, _ in KINDS
     if os.path.exists("%s/%s_summary.json" % (out, k))}


def runs(kind):
    """Per-seed JSON lines of a kind (for the lower bounds: how long Optuna ran)."""
    r = []
    for name in sorted(os.listdir(out)):
        if name.startswith(kind + "_") and name.endswith(".jsonl"):
            r += [json.loads(l) for l in open(os.path.join(out, name)) if l.startswith('{"seed"')]
    return r


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


print("%-34s %13s %9s %13s %9s %10s" % ("median over seeds (seeds reached)", "<0.0085 wall", "CPU", "<0.0065 wall", "CPU", "best MSE"))
for k, name in KINDS:
    if k not in S:
        continue
    row = []
    for th in ("0.0085", "0.0065"):
        t = S[k][th]
        row += ["%.1f s (%d)" % (t["median_wall"], t["reached"]) if t["median_wall"] is not None else "- (%d)" % t["reached"],
                "%.1f s" % t["median_cpu"] if t["median_cpu"] is not None else "-"]
    print("%-34s %13s %9s %13s %9s %10.5f" % (name, *row, median(S[k]["best_mse"])))
for opt, oname in (("optuna_np1", "Optuna 1 process"), ("optuna_np2", "Optuna 2 processes")):
    if opt not in S:
        continue
    orun = runs(opt)
    for th in ("0.0085", "0.0065"):
        for k, _ in [kk for kk in KINDS if kk[0].startswith("aesweep")]:
            if k not in S:
                continue
            a, o = S[k][th], S[opt][th]
            if a["median_wall"] is None:
                print("below %s: %s did not get there (median); no ratio" % (th, k))
                continue
            if o["median_wall"] is not None:
                print("below %s: %s / %s = %.2fx wall, %.2fx CPU" % (
                    th, oname, k, o["median_wall"] / a["median_wall"], o["median_cpu"] / a["median_cpu"]))
            elif orun:
                ow = median([r["seconds"] for r in orun])
                oc = median([r["cpu_seconds"] for r in orun])
                print("below %s: %s did not get there in %.0f s wall / %.0f CPU s (median): >= %.2fx wall, >= %.2fx CPU than %s" % (
                    th, oname, ow, oc, ow / a["median_wall"], oc / a["median_cpu"], k))
