#!/usr/bin/env python3
"""asha_schedule.py - replay a finished `promote = "asha"` stage under other hand-out orders.

    asha_schedule.py [--ranks N] [--startup S] [--thresholds 0.0085,0.0065] RUN.h5[:STAGE] ...

With ASHA in a fixed order (docs/search.md) which trials run which rungs is a pure function of the
results and the lists, never of the schedule: only *when* each segment runs depends on the order in
which a free rank takes ready tasks. So one finished run fixes the work, its measured seconds per
(trial, rung) time it, and a list-scheduling replay on N ranks gives, for each hand-out policy, the
wall time at which the best so far first falls below each threshold (inside a segment at its curve
point's share of the segment, as bench/anytime_bound.py takes it). A task becomes ready when its trial
is promoted: when the prefix of the rung's list that promoted it is all in (rank 0's rule, replayed
here from the file as tests/search_study.py asha_lists does). Policies (the first is aesweep's):

  epochs   the task whose segment ends at the most epochs, ties by longest remaining chain
  chain    the longest remaining chain (the task's predicted cost + its bracket's later rungs)
  share    the bracket with the least share of its predicted work handed out
  cheap    the task whose segment ends at the most epochs, ties by the cheapest
  promo    promoted segments before any trial's first, then as `epochs`
  depth    the most promoted trial first, then as `epochs`

Within a bracket every policy takes the deepest rung's next task in list order. The replay knows
no messages and times each segment as it ran beside the real schedule's neighbours; its
`epochs` column against the measured crossing says how far to trust the others.
"""
import argparse
import json
import math
import sys

import os

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from search_study import asha_lists  # noqa: E402  (the rule, replayed from a file)

try:
    import h5py
except ImportError:
    sys.exit("asha_schedule.py: needs h5py (apt install python3-h5py; run with PYTHON=/usr/bin/python3)")


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def lists(trials, m, compute, eta, nr):
    """ASHA's lists of one bracket (tests/search_study.py asha_lists, the rule the tests replay), and
    for each promoted (trial, rung k + 1) the prefix length of L_k that promoted it (None: at the
    rung's close)."""
    why = {}
    return asha_lists(trials, m, compute, eta, nr, why), why


def replay(st, policy, ranks, startup, thrs):
    m = st[sorted(k for k in st if k.startswith("test_mse_") and st[k].ndim == 2)[0]][:]
    sel = st[text(st.attrs["select_metric"])][:]
    sec = np.nan_to_num(st["seconds"][:], nan=0.0)
    comp, tb, re = st["compute"][:], st["trial_bracket"][:], st["rung_epochs"][:]
    eta = int(st.attrs["eta"])
    cv = st["curves"][sorted(k for k in st["curves"] if k.startswith("test_mse_"))[0]][:] if "curves" in st else None
    ce = st["curves"]["epoch"][:] if cv is not None else None
    B = {}
    for b in np.unique(tb):
        rows = [int(t) for t in np.where(tb == b)[0]]
        nr = int((re[b] > 0).sum())
        B[int(b)] = (nr,) + lists(rows, sel, comp, eta, nr)
    tail = {}
    for b, (nr, L, _) in B.items():
        acc = 0.0
        for k in range(nr - 1, -1, -1):
            tail[(b, k)] = acc
            acc += max((comp[t, k] for t in L[k]), default=0.0)
    total = {b: sum(comp[t, k] for k in range(nr) for t in L[k]) for b, (nr, L, _) in B.items()}
    handed = {b: 0.0 for b in B}
    fin = {}  # (t, k) -> finish time
    nxt = {(b, k): 0 for b, (nr, L, _) in B.items() for k in range(nr)}

    def avail(b, t, k):
        if k == 0:
            return 0.0
        nr, L, why = B[b]
        j = why[(t, k)]
        pre = L[k - 1][:j] if j is not None else None
        if pre is None:  # the close of rung k - 1: all of it, and the rungs before closed
            out = 0.0
            for i in range(k):
                for u in L[i]:
                    if (u, i) not in fin:
                        return math.inf
                    out = max(out, fin[(u, i)])
            return out
        return max((fin.get((u, k - 1), math.inf) for u in pre), default=0.0)

    free = [startup] * ranks
    running = []
    crossing = {thr: math.inf for thr in thrs}
    left = sum(len(L[k]) for nr, L, _ in B.values() for k in range(nr))
    while left:
        r = min(range(ranks), key=lambda i: free[i])
        T = free[r]
        for (t, k, f) in running:
            if f <= T:
                fin[(t, k)] = f
        running = [x for x in running if x[2] > T]
        cands = []
        for b, (nr, L, why) in B.items():
            for k in range(nr - 1, -1, -1):
                i = nxt[(b, k)]
                if i < len(L[k]) and avail(b, L[k][i], k) <= T:
                    cands.append((b, k, L[k][i]))
                    break
        if not cands:
            later = [f for (_, _, f) in running if f > T]
            free[r] = min(later) if later else T + 1e-3
            continue

        def prio(c):
            b, k, t = c
            e, ch = re[b, k], comp[t, k] + tail[(b, k)]
            if policy == "epochs":
                return (-e, -ch, b)
            if policy == "chain":
                return (-ch, b)
            if policy == "share":
                return (handed[b] / total[b] if total[b] else 1.0, -e, b)
            if policy == "cheap":
                return (-e, comp[t, k], b)
            if policy == "promo":  # promoted segments before any new trial, then as "epochs"
                return (k == 0, -e, -ch, b)
            if policy == "depth":  # the most promoted trial first
                return (-k, -e, -ch, b)
            raise SystemExit("unknown policy " + policy)

        b, k, t = min(cands, key=prio)
        nxt[(b, k)] += 1
        handed[b] += comp[t, k]
        d = sec[t, k]
        running.append((t, k, T + d))
        free[r] = T + d
        left -= 1
        lo, hi = (re[b, k - 1] if k else 0), re[b, k]
        for thr in thrs:
            s = None
            if cv is not None:
                idx = np.nonzero((ce > lo) & (ce < hi) & (cv[t] < thr))[0]
                if len(idx):
                    s = (ce[idx[0]] - lo) / (hi - lo)
            if s is None and m[t, k] < thr:
                s = 1.0
            if s is not None:
                crossing[thr] = min(crossing[thr], T + s * d)
    return crossing, max(free)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--startup", type=float, default=0.13, help="seconds before the first task (measured ~0.13)")
    ap.add_argument("--thresholds", default="0.0085,0.0065")
    ap.add_argument("--policies", default="epochs,chain,share,cheap,promo,depth")
    a = ap.parse_args()
    thrs = [float(x) for x in a.thresholds.split(",")]
    pols = a.policies.split(",")
    res = {p: {thr: [] for thr in thrs} for p in pols}
    print(f"{'run':36} " + " ".join(f"{p + ' ' + str(thr):>14}" for p in pols for thr in thrs) + "   measured")
    for h5 in a.files:
        path, _, name = h5.partition(":")
        with h5py.File(path, "r") as f:
            st = f[name] if name else next(f[k] for k in f if isinstance(f[k], h5py.Group) and "trial_bracket" in f[k])
            if text(st.attrs.get("promote", "rung")) != "asha":
                sys.exit(f"asha_schedule.py: {h5}: not a promote = \"asha\" stage")
            row = []
            for p in pols:
                c, _ = replay(st, p, a.ranks, a.startup, thrs)
                for thr in thrs:
                    res[p][thr].append(c[thr])
                    row.append(f"{c[thr]:14.2f}" if math.isfinite(c[thr]) else f"{'never':>14}")
        meas = ""
        js = path[:-3] + ".jsonl"
        try:
            d = json.loads(open(js).readline())
            meas = " ".join(f"{d['crossings'].get(str(thr), {}).get('wall', math.inf):.2f}" for thr in thrs)
        except (OSError, ValueError):
            pass
        print(f"{h5[-36:]:36} " + " ".join(row) + "   " + meas)
    print(f"{'median (never = last)':36} " + " ".join(f"{np.median(res[p][thr]):14.2f}" for p in pols for thr in thrs))


if __name__ == "__main__":
    main()
