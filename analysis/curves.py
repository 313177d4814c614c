"""curves.py - the learning-curve figure and table of a stage (report.py).

A stage's /<stage>/curves group holds, per trajectory (a cube point with the
epochs axis dropped) and recorded epoch, each test set's MSE and train_mse
(docs/results-format.md).  The figure draws the trajectories of the best
cells: the mean over draws and repeats of the first test set's MSE (the
training MSE dashed), the band between the lowest and highest repeat, and a
red x where a repeat diverged (its curve stops there).
"""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

N_BEST = 5  # trajectories drawn per stage


def fmt(v, param=None):
    if param in ("train_size", "epochs", "hidden", "layers", "bottleneck", "batch_size", "mmd_nscales"):
        return "%d" % int(v)
    return "%.4g" % v


def best_trajectories(st, k=N_BEST):
    """Indices (over the curve's non-repeat dims) of the k trajectories whose
    best cell has the lowest mean select metric, best first, and for each
    the coordinates as {axis: value} (epochs left out)."""
    mean = st.stat(st.select_metric, "mean")
    if mean is None or not st.naxes:
        return [(0, {})]
    axes = list(st.axes)
    order = np.argsort(np.where(np.isfinite(mean.reshape(-1)), mean.reshape(-1), np.inf), kind="stable")
    t_axes = [a for a in axes if a != "epochs"]
    t_shape = tuple(len(st.axis_values[a]) for a in t_axes)
    out, seen = [], set()
    for c in order:
        if not math.isfinite(mean.reshape(-1)[c]) and out:
            break
        idx = np.unravel_index(int(c), st.axes_shape)
        tidx = tuple(i for a, i in zip(axes, idx) if a != "epochs")
        t = int(np.ravel_multi_index(tidx, t_shape)) if t_shape else 0
        if t in seen:
            continue
        seen.add(t)
        out.append((t, {a: st.axis_values[a][i] for a, i in zip(t_axes, tidx)}))
        if len(out) == k:
            break
    return out


def learning_curves(report, st):
    """Figure `<stage>_curves.png` and a table of the drawn trajectories."""
    d = report.doc
    test_m = "test_mse_" + st.rf.primary_test
    ep = st.curve_epochs()
    cur = st.curve(test_m)
    tr = st.curve("train_mse")
    if cur is None or ep is None or len(ep) == 0:
        d.note("stage %s: no learning curves" % st.name)
        return
    nrep = max(1, st.repeats) * max(1, st.data_draws)
    cur = cur.reshape(-1, nrep, len(ep))
    tr = tr.reshape(-1, nrep, len(ep)) if tr is not None else None
    picks = best_trajectories(st)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    colors = plt.get_cmap("tab10").colors
    rows = []
    n_div = 0
    for j, (t, coords) in enumerate(picks):
        if t >= cur.shape[0]:
            continue
        y = cur[t]  # [nrep, epoch]
        col = colors[j % len(colors)]
        label = ", ".join("%s=%s" % (a, st.label(a, v) or fmt(v, a) if a != "mmd_kernel" else ("imq" if v == 1 else "rbf"))
                          for a, v in coords.items()) or "the cell"
        fin = np.isfinite(y)
        with np.errstate(all="ignore"):
            cnt = fin.sum(0)
            mean = np.where(cnt > 0, np.nansum(np.where(fin, y, 0), 0) / np.maximum(cnt, 1), np.nan)
            lo = np.where(cnt > 0, np.nanmin(np.where(fin, y, np.inf), 0), np.nan)
            hi = np.where(cnt > 0, np.nanmax(np.where(fin, y, -np.inf), 0), np.nan)
        ax.plot(ep, mean, color=col, lw=1.8, label=("#%d " % (j + 1)) + label)
        if nrep > 1:
            ax.fill_between(ep, lo, hi, color=col, alpha=0.18, lw=0)
        if tr is not None:
            with np.errstate(all="ignore"):
                tm = np.nanmean(np.where(np.isfinite(tr[t]), tr[t], np.nan), 0)
            ax.plot(ep, tm, color=col, lw=1.0, ls="--")
        # diverged repeats: finite values, then NaN (the curve stops there)
        div = 0
        for r in range(nrep):
            f = fin[r]
            if f.any() and not f.all():
                last = int(np.nonzero(f)[0][-1])
                ax.plot(ep[last], y[r, last], "x", color="red", ms=9, mew=2)
                div += 1
            elif not f.any() and np.isfinite(y).any():
                div += 1  # diverged before the first recorded epoch
        n_div += div
        best_e = int(ep[int(np.nanargmin(mean))]) if np.isfinite(mean).any() else None
        rows.append(["#%d" % (j + 1), label, fmt(mean[-1]) if np.isfinite(mean[-1]) else "n/a",
                     fmt(np.nanmin(mean)) if np.isfinite(mean).any() else "n/a",
                     best_e if best_e is not None else "n/a", "%d/%d" % (div, nrep)])
    if np.nanmin(cur) > 0 if np.isfinite(cur).any() else False:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(test_m + " (solid), train_mse (dashed)")
    ax.set_title("stage %s: learning curves of the best cells" % st.name)
    if n_div:
        ax.plot([], [], "x", color="red", label="diverged")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    spread = "band: lowest to highest of %d repeats" % nrep if nrep > 1 else "one repeat per cell"
    d.figure(fig, "%s_curves.png" % st.name,
             "Learning curves of stage %s: %s by mean %s (solid: %s, mean over repeats; "
             "dashed: train_mse; %s; red x: a repeat diverged there). %d points per curve." % (
                 st.name, "the %d best trajectories" % len(rows) if len(rows) > 1 else "the best trajectory",
                 st.select_metric, test_m, spread, len(ep)))
    d.table(["rank", "cell", "%s at the last epoch" % test_m, "lowest", "at epoch", "diverged repeats"], rows,
            key="curves:%s" % st.name)
