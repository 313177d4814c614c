#!/usr/bin/python3
"""search.py - the standard figures of an adaptive-search stage (issue 16).

Reads a search stage of a result file in the layout of docs/results-format.md ("Search stages",
a `trial` dimension, the parameters as coordinates along it, every metric per rung with NaN
beyond the rung a trial stopped at, `stop_rung`, `compute`, the bracket structure, the best trial)
and writes into OUTDIR:

  best_so_far.png   the best metric so far against cumulative compute, segments taken in the order
                    the study ran them (round, then trial), with the full grid's best as a reference
                    line when the file has a grid stage over the same parameters (or --grid STAGE,
                    or --grid FILE.h5[:STAGE] for a grid run as a study of its own);
  rungs.png         the metric against epochs for every trial, one line through its rungs; trials
                    stopped before the last rung of their bracket faded;
  params.png        the metric at each trial's deepest rung against each parameter (log axes for
                    log-scaled ones, positions for categories and width lists);
  parallel.png      parallel coordinates of the trials, coloured by that metric (best on top);
  search.md         the best trial, the compute against the grid's, and the parameter-importance
                    table: scikit-learn random forests (500 trees, random_state 0) predicting the log
                    metric from the parameters, impurity (MDI) and permutation importances, at the
                    first rung (every trial) and at the deepest rung reached by >= 10 trials.

    /usr/bin/python3 analysis/search.py RESULT.h5 [--stage NAME] [--grid NAME | FILE.h5[:NAME]] -o OUTDIR

Prints the path of search.md.  Exit 2 on a file without a search stage (one line saying why).
"""
import argparse
import math
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis.resultfile import CATEGORIES, INTEGER_PARAMS, py, split_names  # noqa: E402

MIN_TRIALS_IMPORTANCE = 10


class SearchStage:
    """One search stage: per-trial parameters, per-rung metrics, the bracket structure, and with
    curve_points each trial's learning curve (curve, curve_epochs; None without)."""

    curve = curve_epochs = None

    def __init__(self, f, name):
        g = f[name]
        self.name = name
        self.attrs = {k: py(v) for k, v in g.attrs.items()}
        self.metric_name = str(self.attrs.get("select_metric") or "")
        if self.metric_name not in g:
            raise ValueError("stage %s: no select metric %r" % (name, self.metric_name))
        self.params = split_names(self.attrs.get("search_params", ""))
        self.trial = np.asarray(g["trial"][()], dtype=np.int64)
        self.n = len(self.trial)
        self.values, self.labels = {}, {}
        for p in self.params:
            raw = g[p][()]
            if raw.dtype.kind in "OSU":  # categories as strings: positions in the category list
                names = [x.decode() if isinstance(x, bytes) else str(x) for x in raw]
                cats = list(CATEGORIES.get(p, sorted(set(names))))
                self.values[p] = np.array([float(cats.index(x)) for x in names])
                self.labels[p] = {float(i): c for i, c in enumerate(cats)}
            else:
                self.values[p] = np.asarray(raw, dtype=np.float64)
                if "labels" in g[p].attrs:  # coded values (hidden width lists): one label per trial
                    lab = str(py(g[p].attrs["labels"])).split(";")
                    self.labels[p] = dict(zip(self.values[p].tolist(), lab))
        self.halving = "rung" in g
        if self.halving:
            self.metric = np.asarray(g[self.metric_name][()], dtype=np.float64)  # [trial][rung]
            self.bracket = np.asarray(g["trial_bracket"][()], dtype=np.int64)
            self.rung_epochs = np.asarray(g["rung_epochs"][()], dtype=np.int64)  # [bracket][rung]
            self.rung_trials = np.asarray(g["rung_trials"][()], dtype=np.int64)
            self.stop_rung = np.asarray(g["stop_rung"][()], dtype=np.int64)  # -1: not trained yet
            self.compute = np.asarray(g["compute"][()], dtype=np.float64)  # [trial][rung]
            self.round = np.asarray(g["round"][()], dtype=np.int64)  # [trial][rung], -1 = not trained
            self.trial_epochs = None
            # learning curves (curve_points): one row per trial, its rungs' segments joined, NaN beyond
            c = g.get("curves")
            if isinstance(c, h5py.Group) and self.metric_name in c and "epoch" in c:
                self.curve_epochs = np.asarray(c["epoch"][()], dtype=np.int64)
                self.curve = np.asarray(c[self.metric_name][()], dtype=np.float64)  # [trial][point]
        else:
            self._read_sampled(g)
        self.nrungs_of = (self.rung_epochs > 0).sum(axis=1)  # rungs of each bracket
        self.best_trial = int(self.attrs.get("best_trial", -1))

    def _read_sampled(self, g):
        """A sampled stage without halving as one rung: a trial's metric is its mean over draws and
        repeats (what selection ranks), its compute that of all its tasks, its round that of its last."""
        mean = self.metric_name + "_mean"
        if mean in g:
            m = np.asarray(g[mean][()], dtype=np.float64)
        else:
            raw = np.asarray(g[self.metric_name][()], dtype=np.float64).reshape(self.n, -1)
            with np.errstate(all="ignore"):
                m = np.array([np.nanmean(row) if np.isfinite(row).any() else np.nan for row in raw])
        self.metric = m.reshape(self.n, 1)
        self.round = np.asarray(g["round"][()], dtype=np.int64).reshape(self.n, 1)
        self.compute = np.where(self.round >= 0, np.asarray(g["compute_used"][()], dtype=np.float64).reshape(self.n, 1), 0)
        self.stop_rung = np.where(self.round[:, 0] >= 0, 0, -1)
        self.bracket = np.zeros(self.n, dtype=np.int64)
        if "epochs" in self.params:
            self.trial_epochs = self.values["epochs"].astype(np.int64)
        else:
            self.trial_epochs = np.full(self.n, int(float(self.attrs.get("epochs", 0) or 0)), dtype=np.int64)
        self.rung_epochs = np.array([[max(1, int(self.trial_epochs.max(initial=1)))]], dtype=np.int64)
        self.rung_trials = np.array([[self.n]], dtype=np.int64)

    def epochs(self, t, r):
        if self.trial_epochs is not None:
            return int(self.trial_epochs[t])
        return int(self.rung_epochs[self.bracket[t], r])

    def deepest(self):
        """(metric at each trial's deepest rung reached, that rung's epochs); NaN and 0 for a trial
        that has not trained yet (a stage cut off)."""
        m = np.array([self.metric[t, self.stop_rung[t]] if self.stop_rung[t] >= 0 else math.nan
                      for t in range(self.n)])
        e = np.array([self.epochs(t, self.stop_rung[t]) if self.stop_rung[t] >= 0 else 0 for t in range(self.n)])
        return m, e

    def finished(self):
        """Trials that trained to the last rung of their bracket."""
        return self.stop_rung == self.nrungs_of[self.bracket] - 1

    def is_log(self, p):
        v = self.values[p]
        return p not in self.labels and np.all(v > 0) and v.max() / v.min() >= 20

    def fmt(self, p, v):
        if p in self.labels:
            return self.labels[p].get(float(v), "%g" % v)
        if p in INTEGER_PARAMS:
            return "%d" % int(v)
        return "%.4g" % v

    def trace(self):
        """Segments in the order the study ran them: (round, trial); cumulative compute and the best
        metric so far after each."""
        t, r = np.nonzero(self.round >= 0)
        order = np.lexsort((t, self.round[t, r]))
        t, r = t[order], r[order]
        comp = np.cumsum(self.compute[t, r])
        vals = self.metric[t, r]
        best = np.minimum.accumulate(np.where(np.isfinite(vals), vals, np.inf))
        return comp, best, t, r


def find_search_stages(f):
    """Stages with a `trial` dimension: halving stages (`stop_rung`) and sampled ones (`search_params`)."""
    return [n for n in split_names(py(f.attrs.get("stages", ""))) if isinstance(f.get(n), h5py.Group)
            and "trial" in f[n] and ("stop_rung" in f[n] or "search_params" in f[n].attrs)]


def find_grid(f, st, name=None, same_file=True):
    """(name, best value, total compute or None) of the grid stage over the search's parameters.
    In another file (same_file False) a stage may have the search stage's name: the grid and the
    search of jobs/moons-search-grid.cfg are both called `grid`."""
    names = [name] if name else [n for n in split_names(py(f.attrs.get("stages", "")))
                                 if n != st.name or not same_file]
    for n in names:
        g = f.get(n)
        if not isinstance(g, h5py.Group) or "trial" in g:
            continue
        axes = [a for a in st.params if a in g and a != "epochs"]
        if name or (axes and len(axes) == len([p for p in st.params if p != "epochs"])):
            bv = float(py(g.attrs.get("best_value", math.nan)))
            tot = py(g.attrs.get("compute_total")) if "compute_total" in g.attrs else None
            return n, bv, (float(tot) if tot is not None else None)
    return None


def resolve_grid(f, st, spec):
    """find_grid for --grid SPEC: a stage of this file (STAGE), another file's grid stage over the
    same parameters (FILE.h5) or a named one (FILE.h5:STAGE), or (None) a grid stage of this file over
    the same parameters.  Raises ValueError with one line when a named grid is not there."""
    if not spec:
        return find_grid(f, st)
    path, stage = spec, None
    if not os.path.exists(path) and ":" in spec:
        path, stage = spec.rsplit(":", 1)
    if not os.path.exists(path):
        found = find_grid(f, st, spec)
        if found is None:
            raise ValueError("--grid %s: no such stage in %s, nor a file" % (spec, f.filename))
        return found
    try:
        other = h5py.File(path, "r")
    except OSError as e:
        raise ValueError("--grid %s: cannot open %s: %s" % (spec, path, e))
    with other:
        if stage and not isinstance(other.get(stage), h5py.Group):
            raise ValueError("--grid %s: %s has no stage %s" % (spec, path, stage))
        found = find_grid(other, st, stage, same_file=False)
    if found is None:
        raise ValueError("--grid %s: %s has no grid stage over %s" % (spec, path, ", ".join(st.params)))
    return ("%s:%s" % (os.path.basename(path), found[0]),) + tuple(found[1:])


def fig_best_so_far(st, grid, out):
    comp, best, _, _ = st.trace()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.step(comp, np.where(np.isfinite(best), best, np.nan), where="post", color="C0", lw=1.8,
            label="%s (%s)" % (st.name, st.attrs.get("sampler", "search")))
    if grid:
        ax.axhline(grid[1], color="C3", ls="--", lw=1.2, label="grid %s: best %.4g" % (grid[0], grid[1]))
        if grid[2]:
            ax.axvline(grid[2], color="C3", ls=":", lw=1, label="grid %s: total compute" % grid[0])
    ax.set_xscale("log")
    if np.isfinite(best).any() and np.nanmin(best) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("cumulative compute (%s)" % st.attrs.get("compute_units", "FLOP"))
    ax.set_ylabel("best %s so far" % st.metric_name)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "best_so_far.png"), dpi=110)
    plt.close(fig)
    return comp, best


def fig_rungs(st, out):
    """Metric against epochs per trial, stopped trials faded; with learning curves each line is the
    trial's curve through its rung results (markers at the rung ends). Returns the points drawn."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    fin = st.finished()
    drawn = 0
    for t in np.argsort(fin, kind="stable"):  # stopped first, finished on top
        r = np.arange(st.stop_rung[t] + 1)
        e = np.array([st.epochs(t, k) for k in r])
        y = st.metric[t, r]
        le, ly = e, y
        if st.curve is not None and len(e):
            keep = (st.curve_epochs <= e[-1]) & np.isfinite(st.curve[t]) & ~np.isin(st.curve_epochs, e)
            le = np.concatenate([e, st.curve_epochs[keep]])
            ly = np.concatenate([y, st.curve[t][keep]])
            order = np.argsort(le, kind="stable")
            le, ly = le[order], ly[order]
        drawn += len(le)
        if fin[t]:
            ax.plot(le, ly, "-", color="C%d" % (st.bracket[t] % 10), lw=1.1, alpha=0.9)
            ax.plot(e, y, "o", color="C%d" % (st.bracket[t] % 10), ms=3, alpha=0.9)
        else:
            ax.plot(le, ly, "-", color="0.5", lw=0.6, alpha=0.15)
    ax.set_xscale("log")
    m = st.metric[np.isfinite(st.metric)]
    if m.size and m.min() > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epochs")
    ax.set_ylabel(st.metric_name)
    ax.set_title("%s: %d trials, %d trained to their bracket's last rung (coloured by bracket)"
                 % (st.name, st.n, int(fin.sum())), fontsize=9)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "rungs.png"), dpi=110)
    plt.close(fig)
    return drawn


def _axis(ax, st, p, horizontal=True):
    if p in st.labels:
        pos = sorted(st.labels[p])
        (ax.set_xticks if horizontal else ax.set_yticks)(pos)
        (ax.set_xticklabels if horizontal else ax.set_yticklabels)([st.labels[p][v] for v in pos], fontsize=7)
    elif st.is_log(p):
        (ax.set_xscale if horizontal else ax.set_yscale)("log")


def fig_params(st, out):
    m, e = st.deepest()
    k = len(st.params)
    fig, axs = plt.subplots(1, k, figsize=(3.4 * k, 3.2), squeeze=False)
    for j, p in enumerate(st.params):
        ax = axs[0, j]
        sc = ax.scatter(st.values[p], m, c=np.log10(np.maximum(e, 1)), cmap="viridis", s=10, alpha=0.8)
        _axis(ax, st, p)
        if p not in st.labels:
            ax.tick_params(axis="x", labelrotation=30)
        if np.isfinite(m).any() and np.nanmin(m) > 0:
            ax.set_yscale("log")
        ax.set_xlabel(p)
        if j == 0:
            ax.set_ylabel("%s at the deepest rung" % st.metric_name)
        ax.grid(alpha=0.3)
    fig.colorbar(sc, ax=axs[0, -1], label="log10 epochs reached")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "params.png"), dpi=110)
    plt.close(fig)


def _unit(st, p):
    """Parameter values on [0, 1] for parallel coordinates: log scale where it is one, category
    positions spread evenly."""
    v = st.values[p]
    if p in st.labels:
        pos = sorted(st.labels[p])
        idx = np.array([pos.index(x) for x in v], dtype=float)
        return idx / max(1, len(pos) - 1)
    if st.is_log(p):
        v = np.log(v)
    lo, hi = v.min(), v.max()
    return (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5)


def fig_parallel(st, out):
    m, _ = st.deepest()
    k = len(st.params)
    U = np.stack([_unit(st, p) for p in st.params], axis=1)
    fin = np.isfinite(m)
    lm = np.log10(np.where(fin, m, np.nan)) if fin.any() and np.nanmin(m[fin]) > 0 else np.where(fin, m, np.nan)
    lo, hi = (np.nanmin(lm), np.nanmax(lm)) if fin.any() else (0, 1)
    cmap = plt.get_cmap("viridis_r")
    fig, ax = plt.subplots(figsize=(1.8 * k + 2, 4))
    for t in np.argsort(np.where(fin, -lm, -np.inf)):  # worst first, best drawn last (on top)
        c = cmap((lm[t] - lo) / (hi - lo) if fin[t] and hi > lo else 0.0) if fin[t] else (0.7, 0.7, 0.7, 1)
        ax.plot(range(k), U[t], color=c, lw=0.7, alpha=0.6 if fin[t] else 0.2)
    if st.best_trial >= 0:
        ax.plot(range(k), U[st.best_trial], color="red", lw=2.2, label="best trial %d" % st.best_trial)
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xticks(range(k))
    ax.set_xticklabels(st.params)
    for j, p in enumerate(st.params):
        v = st.values[p]
        ends = (sorted(st.labels[p])[0], sorted(st.labels[p])[-1]) if p in st.labels else (v.min(), v.max())
        ax.text(j, -0.06, st.fmt(p, ends[0]), ha="center", va="top", fontsize=7)
        ax.text(j, 1.04, st.fmt(p, ends[1]), ha="center", va="bottom", fontsize=7)
    ax.set_ylim(-0.12, 1.1)
    ax.set_yticks([])
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(lo, hi))
    fig.colorbar(sm, ax=ax, label="log10 %s (deepest rung)" % st.metric_name)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "parallel.png"), dpi=110)
    plt.close(fig)


def importance(st, rung_of_trial):
    """(n, {param: (mdi, permutation)}) of random forests predicting log metric at the given rung of
    each trial (trials that reached it, finite metric); None with fewer than MIN_TRIALS_IMPORTANCE."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    idx = np.array([t for t in range(st.n) if rung_of_trial[t] <= st.stop_rung[t]
                    and np.isfinite(st.metric[t, rung_of_trial[t]])], dtype=int)
    if len(idx) < MIN_TRIALS_IMPORTANCE:
        return None
    X = np.stack([_unit(st, p)[idx] for p in st.params], axis=1)
    y = st.metric[idx, rung_of_trial[idx]]
    y = np.log(y) if np.all(y > 0) else y
    rf = RandomForestRegressor(n_estimators=500, random_state=0, min_samples_leaf=2).fit(X, y)
    perm = permutation_importance(rf, X, y, n_repeats=10, random_state=0)
    return len(idx), {p: (float(rf.feature_importances_[j]), float(perm.importances_mean[j]))
                      for j, p in enumerate(st.params)}


def importance_points(st):
    """[(label, rung of each trial)] where the importance tables are taken: without halving every
    trial once; with halving at an epoch count, never at a rung index (the brackets of Hyperband
    start at different epochs, so "rung 0" of two brackets is 10 and 30 epochs: a forest on both would
    mostly learn the bracket). The epoch counts are the one most trials were measured at and the
    largest with MIN_TRIALS_IMPORTANCE trials; a trial without a metric there gets rung nrungs (out
    of reach: importance() skips it)."""
    if not st.halving:
        return [("every trial", np.zeros(st.n, dtype=int))]
    at = {}
    for t in range(st.n):
        for r in range(int(st.stop_rung[t]) + 1):
            at.setdefault(int(st.epochs(t, r)), []).append((t, r))
    enough = [e for e in at if len(at[e]) >= MIN_TRIALS_IMPORTANCE]
    if not enough:
        enough = [max(at, key=lambda e: (len(at[e]), -e))] if at else []
    picks = sorted({max(enough, key=lambda e: (len(at[e]), -e)), max(enough)}) if enough else []
    out = []
    for e in picks:
        rungs = np.full(st.n, st.metric.shape[1], dtype=int)
        for t, r in at[e]:
            rungs[t] = r
        out.append(("%d epochs" % e, rungs))
    return out or [("rung 0", np.zeros(st.n, dtype=int))]


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_markdown(st, grid, comp, best, out):
    lines = ["# Search stage %s\n" % st.name]
    fin = st.finished()
    total = float(np.nansum(st.compute))
    if st.halving:
        lines.append("Sampler `%s`, %d trials in %d brackets (min_epochs %s, max_epochs %s, eta %s); %d trained "
                     "to their bracket's last rung; compute %.4g %s.\n" % (
                         st.attrs.get("sampler", "?"), st.n, st.rung_epochs.shape[0], st.attrs.get("min_epochs"),
                         st.attrs.get("max_epochs"), st.attrs.get("eta"), int(fin.sum()), total,
                         st.attrs.get("compute_units", "FLOP")))
    else:
        lines.append("Sampler `%s`, %d trials without halving; %d trained; compute %.4g %s.\n" % (
            st.attrs.get("sampler", "?"), st.n, int(fin.sum()), total, st.attrs.get("compute_units", "FLOP")))
    if str(st.attrs.get("complete", 1)) in ("0", "False"):
        lines.append("The stage was cut off: this is what it had finished.\n")
    if st.halving:
        rows = []
        for b in range(st.rung_epochs.shape[0]):
            rows.append([b, " ".join("%d@%d" % (st.rung_trials[b, r], st.rung_epochs[b, r])
                                     for r in range(st.nrungs_of[b]))])
        lines.append(md_table(["bracket", "trials@epochs per rung"], rows))
    if st.best_trial >= 0:
        t = st.best_trial
        lines.append("Best trial %d: %s = %.6g at %d epochs; %s.\n" % (
            t, st.metric_name, st.metric[t, st.stop_rung[t]], st.epochs(t, st.stop_rung[t]),
            ", ".join("%s=%s" % (p, st.fmt(p, st.values[p][t])) for p in st.params)))
    if grid:
        share = " (%.1f%% of its compute)" % (100 * total / grid[2]) if grid[2] else ""
        fb = best[-1] if len(best) else math.nan
        lines.append("Grid stage %s: best %.6g; the search's best %.6g is %+.2f%% of it%s.\n" % (
            grid[0], grid[1], fb, 100 * (fb / grid[1] - 1), share))
    lines.append("![best so far](best_so_far.png)\n\n![rungs](rungs.png)\n\n![params](params.png)\n\n"
                 "![parallel coordinates](parallel.png)\n")
    for what, rungs in importance_points(st):
        imp = importance(st, rungs)
        if imp is None:
            lines.append("Importance at %s: fewer than %d trials.\n" % (what, MIN_TRIALS_IMPORTANCE))
            continue
        n, d = imp
        rows = [[p, "%.3f" % d[p][0], "%.4f" % d[p][1]] for p in sorted(d, key=lambda q: -d[q][0])]
        lines.append("Parameter importance at %s (%d trials; random forest on log %s):\n" % (what, n, st.metric_name))
        lines.append(md_table(["parameter", "MDI", "permutation"], rows))
    path = os.path.join(out, "search.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("result")
    ap.add_argument("--stage", help="the search stage (default: the first one)")
    ap.add_argument("--grid", help="the grid for the reference line: STAGE of this file, or FILE.h5[:STAGE] "
                    "(default: a grid stage of this file over the same parameters)")
    ap.add_argument("-o", "--outdir", required=True)
    a = ap.parse_args(argv)
    try:
        f = h5py.File(a.result, "r")
    except OSError as e:
        print("search.py: %s: cannot open: %s" % (a.result, e), file=sys.stderr)
        return 3
    with f:
        stages = find_search_stages(f)
        if not stages or (a.stage and a.stage not in stages):
            print("search.py: %s: no search stage%s (a group with `trial` and `stop_rung`; see "
                  "docs/results-format.md)" % (a.result, " named " + a.stage if a.stage else ""), file=sys.stderr)
            return 2
        st = SearchStage(f, a.stage or stages[0])
        try:
            grid = resolve_grid(f, st, a.grid)
        except ValueError as e:
            print("search.py: %s" % e, file=sys.stderr)
            return 2
    os.makedirs(a.outdir, exist_ok=True)
    comp, best = fig_best_so_far(st, grid, a.outdir)
    fig_rungs(st, a.outdir)
    fig_params(st, a.outdir)
    fig_parallel(st, a.outdir)
    print(write_markdown(st, grid, comp, best, a.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
