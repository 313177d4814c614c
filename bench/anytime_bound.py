#!/usr/bin/env python3
"""anytime_bound.py - how soon could ANY schedule of a search stage's trials have reached a threshold?

    anytime_bound.py [--ranks N] [--thresholds 0.0085,0.0065] RUN.h5[:STAGE] [RUN.jsonl] ...

A sampled (random, sobol, lhs) or grid stage with halving has trials, rungs and promotions that are
pure functions of the spec and the results, whatever the schedule (end- or start-aligned rounds, the
dataflow): only *when* each segment runs changes. So one result file fixes the work, and a lower bound
on the wall time at which the best metric so far can first fall below a threshold follows from it:

  a trial t of bracket b that is below the threshold at rung r can report it no sooner than
      max over k = 0..r of [ max( W_b(k) / N, C_b(k) ) + s(t, k) + ... + s(t, r) ]
  where s(u, j) is the measured seconds of u's rung-j segment, W_b(k) the seconds of all of bracket
  b's rungs 0..k-1 (rung k opens only once they are all done, and N ranks do at most N seconds of
  work a second), and C_b(k) the longest chain of one trial through those rungs (a trial's segments
  run one after another). k = 0 is t's whole chain alone from time 0.

With learning curves (curve_points: each point was an interim report, known when computed), t may
cross inside its rung-r segment (lo, hi] at a curve epoch e: s(t, r) then counts only its share
(e - lo) / (hi - lo), a segment's seconds taken as even over its epochs (an approximation: so a
measured crossing a little below such a bound is reported, not refused).

The bound is the minimum over all such (t, r). It assumes a free oracle (knowing which trial will be
good), no start-up and no messaging, and that each segment takes the seconds it took in this run.
That last assumption is the weak one: a segment's time depends on what ran beside it (memory
bandwidth, the other rank), and the same segment of the same seed took 2.71 s in one schedule and
3.69 s in another. Several files of the same trials (the same spec under other schedules) are
combined: each segment then counts at the least time it took in any of them (--same-trials). Each
run's measured crossing (bench/search_watch.py's JSON line, if given) is printed beside it with
its ratio; the measured time includes start-up (mpirun, the data), which no schedule removes.
TPE stages are refused (their proposals depend on which results are in when a batch opens).

Use runs from a quiet machine.
"""
import argparse
import json
import sys

import numpy as np

try:
    import h5py
except ImportError:  # the Debian interpreter has it; another python3 first on PATH may not
    sys.exit("anytime_bound.py: needs h5py (apt install python3-h5py; run with PYTHON=/usr/bin/python3)")


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def stage_of(f, name):
    """The named stage, else the first search stage in stage order; TPE stages refused."""
    if name:
        st = f[name]
    else:
        cands = sorted((int(f[k].attrs.get("stage_index", 0)), k) for k in f
                       if isinstance(f[k], h5py.Group) and "trial_bracket" in f[k])
        if not cands:
            sys.exit(f"anytime_bound.py: {f.filename}: no search stage (a group with trial_bracket); name it as FILE:STAGE")
        st = f[cands[0][1]]
    if text(st.attrs.get("sampler", "")) == "tpe":
        sys.exit(f"anytime_bound.py: {f.filename}:{st.name}: a TPE stage: its trials depend on the schedule; no bound")
    return st


def metric_of(st):
    """The metric bench/search_watch.py times: the stage's first test_mse_* dataset."""
    names = sorted(k for k in st if k.startswith("test_mse_") and st[k].ndim == 2)
    if not names:
        sys.exit(f"anytime_bound.py: {st.file.filename}:{st.name}: no test_mse_* dataset")
    return names[0]


def bound(st, thr, ranks, seconds=None):
    """(seconds, trial, rung, bracket) of the earliest possible crossing, or None if no trial gets there.
    seconds: [trial][rung] segment times to use (default: the stage's own)."""
    name = metric_of(st)
    m = st[name][:]
    s = np.nan_to_num(st["seconds"][:] if seconds is None else seconds, nan=0.0)
    tb = st["trial_bracket"][:]
    ntr, nr = m.shape
    re = st["rung_epochs"][:]
    cv = st["curves"][name][:] if "curves" in st else None  # [trial][point]
    ce = st["curves"]["epoch"][:] if cv is not None else None

    def share(t, r):
        """The share of t's rung-r segment run when it first gets below thr (1: at its end; None: never)."""
        lo, hi = (re[tb[t], r - 1] if r else 0), re[tb[t], r]
        if cv is not None:
            for i in np.nonzero((ce > lo) & (ce < hi) & (cv[t] < thr))[0][:1]:
                return (ce[i] - lo) / (hi - lo)
        return 1.0 if m[t, r] < thr else None

    chain = np.cumsum(s, axis=1)  # chain[u, j]: u's seconds through rung j
    best = None
    for b in np.unique(tb):
        rows = np.where(tb == b)[0]
        # W[k]: all of the bracket's work in rungs 0..k-1; C[k]: its longest single chain through k-1
        W = np.concatenate([[0.0], np.cumsum(s[rows].sum(axis=0))])
        C = np.concatenate([[0.0], chain[rows].max(axis=0)])
        for t in rows:
            for r in range(nr):
                f = share(t, r) if np.isfinite(m[t, r]) or cv is not None else None
                if f is None:
                    continue
                end = chain[t, r] - (1 - f) * s[t, r]  # t's seconds through rung r's crossing
                lb = max(max(W[k] / ranks, C[k]) + end - (chain[t, k - 1] if k else 0.0)
                         for k in range(r + 1))
                if best is None or lb < best[0]:
                    best = (lb, int(t), r, int(b))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("files", nargs="+", help="RUN.h5[:STAGE], each optionally followed by its RUN.jsonl")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--thresholds", default="0.0085,0.0065")
    ap.add_argument("--same-trials", action="store_true",
                    help="the files hold the same trials (one spec, other schedules): time each segment at "
                         "its least seconds over all of them")
    a = ap.parse_args()
    thrs = [float(x) for x in a.thresholds.split(",")]
    runs, i = [], 0
    while i < len(a.files):
        h5 = a.files[i]
        js = a.files[i + 1] if i + 1 < len(a.files) and a.files[i + 1].endswith(".jsonl") else None
        runs.append((h5, js))
        i += 2 if js else 1
    least = None
    if a.same_trials:
        for h5, _ in runs:
            path, _, stname = h5.partition(":")
            with h5py.File(path, "r") as f:
                st = stage_of(f, stname)
                sec = st["seconds"][:]
                if least is not None and least.shape != sec.shape:
                    sys.exit(f"anytime_bound.py: {h5}: other trials than the first file's ({sec.shape} against {least.shape})")
                least = sec if least is None else np.fmin(least, sec)
    print(f"{'run':40} {'threshold':>9} {'bound s':>8} {'trial':>6} {'rung':>4} {'bracket':>7} {'measured s':>10} {'x bound':>7}")
    for h5, js in runs:
        path, _, stname = h5.partition(":")
        crossing = {}
        if js:
            for line in open(js):
                if line.startswith("{"):
                    crossing = json.loads(line).get("crossings") or {}
        with h5py.File(path, "r") as f:
            st = stage_of(f, stname)
            for thr in thrs:
                b = bound(st, thr, a.ranks, least)
                c = crossing.get(str(thr))
                meas = f"{c['wall']:10.2f}" if c else f"{'-':>10}"
                if b is None:
                    print(f"{h5[-40:]:40} {thr:9g} {'never':>8} {'':>6} {'':>4} {'':>7} {meas}")
                    continue
                ratio = f"{c['wall'] / b[0]:7.2f}" if c and b[0] > 0 else f"{'-':>7}"
                print(f"{h5[-40:]:40} {thr:9g} {b[0]:8.2f} {b[1]:6d} {b[2]:4d} {b[3]:7d} {meas} {ratio}")
                if c and c["wall"] < b[0] - 1e-9 and "curves" in st:
                    print(f"  (measured below the bound: a segment's seconds are not even over its epochs)")
                elif c and c["wall"] < b[0] - 1e-9:
                    sys.exit(f"anytime_bound.py: {h5}: measured crossing {c['wall']:.3f} s is below the bound "
                             f"{b[0]:.3f} s: the bound is wrong, or the file and the JSON line are of different runs")


if __name__ == "__main__":
    main()
