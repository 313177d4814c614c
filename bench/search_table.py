#!/usr/bin/python3
"""search_table.py OUT - the anytime table of bench/search.sh from OUT/<kind>_summary.json
(search_optuna.py --summarize lines for aesweep_random, aesweep_sobol, optuna_np1, optuna_np2): the
median wall and CPU seconds until the best test MSE so far first fell below 0.0085 and 0.0065, how
many seeds got there, and Optuna's (one process) time over aesweep's."""
import json, sys
out = sys.argv[1]
S = {k: json.load(open("%s/%s_summary.json" % (out, k)))["summary"]
     for k in ("aesweep_random", "aesweep_sobol", "optuna_np1", "optuna_np2")}
print("%-34s %10s %10s %10s %10s" % ("median over seeds (reached)", "<0.0085 s", "CPU s", "<0.0065 s", "CPU s"))
for k, name in (("aesweep_random", "aesweep random+Hyperband -np 2"), ("aesweep_sobol", "aesweep Sobol+Hyperband -np 2"),
                ("optuna_np1", "Optuna+Hyperband, 1 process"), ("optuna_np2", "Optuna+Hyperband, 2 processes")):
    row = []
    for th in ("0.0085", "0.0065"):
        t = S[k][th]
        row += ["%.1f (%d)" % (t["median_wall"], t["reached"]) if t["median_wall"] is not None else "- (%d)" % t["reached"],
                "%.1f" % t["median_cpu"] if t["median_cpu"] is not None else "-"]
    print("%-34s %10s %10s %10s %10s" % (name, *row))
for th in ("0.0085", "0.0065"):
    for k in ("aesweep_random", "aesweep_sobol"):
        a, o = S[k][th], S["optuna_np1"][th]
        if a["median_wall"] and o["median_wall"]:
            print("below %s: Optuna (1 process) / %s = %.2fx wall, %.2fx CPU" % (
                th, k, o["median_wall"] / a["median_wall"], o["median_cpu"] / a["median_cpu"]))
