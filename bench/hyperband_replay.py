#!/usr/bin/python3
"""hyperband_replay.py - Hyperband over a grid's cells, replayed from the grid's learning curves (issue 16).

How close does Hyperband get to the full grid's best, and at what share of its compute?  A trial of
Hyperband over a grid is one cell; aesweep trains it with the cell's seeds, and a rung of successive
halving is a prefix of the same trajectory (epoch prefixes are exact, test_train; a learning curve
at epoch e equals `aesweep train --epochs e`, results_curves).  So the metric a trial would report at
a rung IS the grid's learning curve at that rung's epochs, and Hyperband can be replayed exactly from
one grid run with curves (bench/hb_grid.cfg) without training again.  Until the dispatch rounds land
(docs/search.md) this is how the schedule and promotion of src/halving.c are measured on real
trajectories.

The schedule and promotion are src/halving.c's, re-implemented here in a few lines (its rules:
s_max = largest s with min eta^s <= max; bracket b has s = s_max - b promotions, weight
ceil((s_max + 1) eta^s / (s + 1)); a trial count shared by largest remainder, contiguous; rung i of
bracket b at min eta^(b + i) epochs, the last at max; promote max(1, floor(m / eta)) by (metric,
trial), diverged never).  Cells become trials through a seeded permutation (grid order would put
all the small training sets into one bracket).  Compute is the cost model's main term, rows x
multiply-adds per row x 6 flops x epochs trained (a promoted trial continues, so a rung costs
e_i - e_{i-1} epochs), against the grid's rows x MACs x 6 x max_epochs summed over cells; the
test-set evaluations at the rungs are left out on both sides.

    /usr/bin/python3 bench/hyperband_replay.py RESULT.h5 [--stage grid] [--metric test_mse_clean]
        [--min-epochs 50] [--max-epochs 1000] [--eta 3] [--brackets 0] [--perm-seeds 1,2,...,20]
        [--grid-cpu-seconds S] [--thresholds 0.0085,0.0065]

With --grid-cpu-seconds (the CPU time the grid run took, e.g. from `time`), the compute at which the
best test MSE so far (any rung) first fell below each threshold is also given as an estimate of CPU
seconds: the grid's CPU time times that share of the grid's compute.

Prints, per permutation seed, the best metric among the trials Hyperband trained to max_epochs
(its answer), its share of the grid's compute, and the gap to the grid's best at max_epochs; then
the median and the spread.  Not a test.
"""
import argparse
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from analysis.resultfile import ResultFile  # noqa: E402


def schedule(n_trials, mn, mx, eta, nbrackets=0):
    s_max, e = 0, mn
    while e * eta <= mx:
        e *= eta
        s_max += 1
    nb = nbrackets or s_max + 1
    if nb > s_max + 1:  # src/halving.c refuses it (a spec error): so does the replay
        raise SystemExit("brackets = %d is out of range; min_epochs %d, max_epochs %d and eta %d allow 1..%d"
                         % (nb, mn, mx, eta, s_max + 1))
    w = [math.ceil((s_max + 1) * eta ** (s_max - b) / (s_max - b + 1)) for b in range(nb)]
    q = [n_trials * x // sum(w) for x in w]
    rem = [n_trials * x % sum(w) for x in w]
    for _ in range(n_trials - sum(q)):  # largest remainder, ties to the lower bracket
        b = max(range(nb), key=lambda i: (rem[i], -i))
        q[b] += 1
        rem[b] = -1
    brackets, first = [], 0
    for b in range(nb):
        s = s_max - b
        epochs = [mx if i == s else mn * eta ** (b + i) for i in range(s + 1)]
        brackets.append((first, q[b], epochs))
        first += q[b]
    return brackets


def macs_per_row(d, hidden, layers, bottleneck=1):
    dims = [d, hidden] + [hidden] * layers + [bottleneck, hidden] + [hidden] * layers + [d]
    return sum(dims[i] * dims[i + 1] for i in range(len(dims) - 1))


def replay(curves, ep, cost_per_epoch, perm, mn, mx, eta, nb, thresholds=()):
    """Best metric found and compute used by Hyperband with trials = cells in perm order; and for
    each threshold the compute spent when the best metric so far (any rung) first fell below it,
    the rounds taken in the order (rung, bracket), trials in index order inside a round."""
    col = {int(e): i for i, e in enumerate(ep)}
    best, used, so_far, cross = math.inf, 0.0, math.inf, {}
    brackets = schedule(len(perm), mn, mx, eta, nb)
    alive = [list(range(first, first + n)) for first, n, _ in brackets]
    for i in range(max(len(e) for _, _, e in brackets)):
        for b, (first, n, epochs) in enumerate(brackets):
            if i >= len(epochs):
                continue
            e, prev = epochs[i], epochs[i - 1] if i else 0
            if e not in col:
                raise SystemExit("hyperband_replay.py: no learning-curve point at epoch %d; curve epochs %s" % (
                    e, list(map(int, ep))))
            vals = {t: curves[perm[t], col[e]] for t in alive[b]}
            for t in alive[b]:
                used += cost_per_epoch[perm[t]] * (e - prev)
                if math.isfinite(vals[t]):
                    so_far = min(so_far, vals[t])
                for th in thresholds:
                    if so_far < th and th not in cross:
                        cross[th] = used
            fin = [t for t in alive[b] if math.isfinite(vals[t])]
            if fin and e == mx:  # Hyperband's answer: the best trial trained to max_epochs
                best = min(best, min(vals[t] for t in fin))
            k = max(1, len(alive[b]) // eta) if alive[b] else 0
            alive[b] = sorted(fin, key=lambda t: (vals[t], t))[:k]
    return best, used, cross


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("result")
    ap.add_argument("--stage", default="grid")
    ap.add_argument("--metric", default=None, help="default: the stage's select metric")
    ap.add_argument("--min-epochs", type=int, default=50)
    ap.add_argument("--max-epochs", type=int, default=1000)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--brackets", type=int, default=0)
    ap.add_argument("--perm-seeds", default=",".join(str(i) for i in range(1, 21)))
    ap.add_argument("--grid-cpu-seconds", type=float, default=0.0,
                    help="CPU seconds the grid run took: converts compute to estimated CPU seconds")
    ap.add_argument("--thresholds", default="0.0085,0.0065")
    a = ap.parse_args()
    with ResultFile(a.result) as rf:
        st = rf.stage(a.stage)
        metric = a.metric or st.select_metric
        cur = st.curve(metric)
        ep = st.curve_epochs()
        if cur is None:
            raise SystemExit("hyperband_replay.py: stage %s has no learning curves (curve_points)" % a.stage)
        dims = st.curve_dims()[:-1]
        assert "repeat" in dims and len(st.axis_values["repeat"]) == 1, "one repeat per cell expected"
        cells = cur.reshape(-1, len(ep))  # row-major over the axes, one repeat
        shape = tuple(len(st.axis_values[d]) for d in dims)
        params = {d: np.array([st.axis_values[d][np.unravel_index(c, shape)[k]] for c in range(len(cells))])
                  for k, d in enumerate(dims)}
        in_dim = rf.in_dim or 2

        def pv(p, c):
            return params[p][c] if p in params else st.param_value(p)

        cost = np.array([pv("train_size", c) * macs_per_row(in_dim, int(pv("hidden", c)), int(pv("layers", c)),
                                                            int(pv("bottleneck", c))) * 6.0 for c in range(len(cells))])
        col_max = list(map(int, ep)).index(a.max_epochs)
        grid_best = float(np.nanmin(cells[:, col_max]))
        grid_cost = float(cost.sum() * a.max_epochs)
    n = len(cells)
    print("grid %s: %d cells, best %s at %d epochs %.6g; grid compute %.4g FLOP" % (
        a.stage, n, metric, a.max_epochs, grid_best, grid_cost))
    for first, k, epochs in schedule(n, a.min_epochs, a.max_epochs, a.eta, a.brackets):
        tr, m = [], k
        for _ in epochs:
            tr.append(m)
            m = max(1, m // a.eta)
        print("  bracket: trials %d-%d, rungs %s" % (first, first + k - 1, " ".join(
            "%d@%d" % (t, e) for t, e in zip(tr, epochs))))
    gaps, shares = [], []
    ths = [float(x) for x in a.thresholds.split(",") if x]
    at = {th: [] for th in ths}
    for seed in [int(s) for s in a.perm_seeds.split(",") if s]:
        perm = np.random.RandomState(seed).permutation(n)
        best, used, cross = replay(cells, ep, cost, perm, a.min_epochs, a.max_epochs, a.eta, a.brackets, ths)
        gaps.append(100 * (best / grid_best - 1))
        shares.append(100 * used / grid_cost)
        for th in ths:
            at[th].append(cross.get(th, math.inf))
        print("perm seed %2d: best %.6g (%+.2f%% of the grid's best), compute %.1f%% of the grid's; %s" % (
            seed, best, gaps[-1], shares[-1], ", ".join(
                "below %g after %s" % (th, "%.1f%%" % (100 * cross[th] / grid_cost) if th in cross else "never")
                for th in ths)))
    for th in ths:
        m = statistics.median(at[th])
        if math.isinf(m):
            print("below %g: not reached in most permutations (%d of %d reached it)" % (
                th, sum(math.isfinite(x) for x in at[th]), len(at[th])))
            continue
        est = " = %.2f CPU s (the grid's %.1f CPU s x that share)" % (
            m / grid_cost * a.grid_cpu_seconds, a.grid_cpu_seconds) if a.grid_cpu_seconds > 0 else ""
        print("below %g: median %.2f%% of the grid's compute%s" % (th, 100 * m / grid_cost, est))
    print("median over %d permutations: %+.2f%% of the grid's best (range %+.2f%% .. %+.2f%%), %.1f%% of its "
          "compute (range %.1f .. %.1f%%); within 5%%: %d of %d" % (
              len(gaps), statistics.median(gaps), min(gaps), max(gaps), statistics.median(shares), min(shares),
              max(shares), sum(g <= 5 for g in gaps), len(gaps)))


if __name__ == "__main__":
    sys.exit(main())
