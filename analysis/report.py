#!/usr/bin/python3
"""report.py - every figure and table of the reference study from one aesweep result file.

    analysis/report.py RESULT.h5 -o OUTDIR [--components 5] [--max-components 10]
    python3 -m analysis.report RESULT.h5 -o OUTDIR

Writes PNG figures, report.md beside them and report.html (figures embedded)
into OUTDIR, and prints the path of report.md.  Reads nothing but the file.
What is drawn depends on the stages the file holds, recognised by their
axes and attributes (docs/study.md describes the study and which section draws what):

  axes train_size / epochs / lr / others  minimum error along each axis (M1, D1, D3 curve)
  axes hidden x layers                    heat map with the best cell (M2, D2)
  axis bottleneck, image data             images, classifier agreement (mean and spread
  (8x8 digits, 28x28 Fashion-MNIST)       over repeats), latent map, mixture sweep
                                          (BIC/AIC) and samples (D3-D6; per-cell models)
  repeats > 1 or data_draws > 1           variance table (M4)
  2-d data, best models                   reconstructions on every test set, codes,
                                          mixture sampling (M3, M5, M6)
  attribute pool_noise >= 0               the stage's own noisy training set (M7)
  MMD metrics and mmd_lambda > 0          reconstructions, codes, decoded N(0, I) (M8)

A figure whose data is absent is left out with a note; an error in one
figure is reported in the report and the rest goes on (--strict re-raises).

Not for: anything that needs more than the file (no retraining).
"""
import argparse
import tempfile
import math
import os
import sys
import traceback
import warnings

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis.curves import learning_curves  # noqa: E402
from analysis import mixture  # noqa: E402
from analysis.doc import Doc  # noqa: E402
from analysis.nnet import Autoencoder  # noqa: E402
from analysis.resultfile import (CATEGORIES, INTEGER_PARAMS, MMD_METRICS, PARAMS, STATUS_NAMES,  # noqa: E402
                                 ResultFile, as_float, py)

KERNEL_NAMES = {0: "rbf", 1: "imq"}
TRAINING_AXES = ("train_size", "epochs", "lr")
MAX_SCATTER = 3000  # points drawn per scatter (the rest only crowd the plot)


def fmt(v, param=None):
    """A number as the report writes it: integer parameters as integers, else 6 significant digits."""
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "n/a"
    if param in CATEGORIES and f == int(f) and 0 <= f < len(CATEGORIES[param]):
        return CATEGORIES[param][int(f)]
    if param in INTEGER_PARAMS and f == int(f):
        return str(int(f))
    return "%.6g" % f


def fmti(v):
    """An integer-valued attribute (counts, flags, seeds)."""
    return fmt(v, "epochs")


def pct(a, b):
    return "%.1f%%" % (100.0 * a / b) if b else "n/a"


def _subsample(n, k=MAX_SCATTER):
    return np.arange(n) if n <= k else np.linspace(0, n - 1, k).astype(int)


def _is_log(vals):
    v = np.asarray(vals, dtype=float)
    v = v[np.isfinite(v)]
    return v.size > 1 and np.all(v > 0) and v.max() / v.min() >= 20


def _image_shape(in_dim):
    """(h, w) when rows are images: 64 features are the 8x8 digits; a square of side >= 16 (Fashion-MNIST:
    784 = 28 x 28) is an image flattened row after row (IDX and .npy files are); else None."""
    if in_dim == 64:
        return (8, 8)
    s = int(round(math.sqrt(in_dim))) if in_dim and in_dim > 0 else 0
    return (s, s) if s >= 16 and s * s == in_dim else None


def fmt_in(st, v, param):
    """fmt, with a value the file codes (a hidden width list) as the spec writes it: "[512, 256]"."""
    lab = st.label(param, v) if st is not None else None
    return lab if lab is not None else fmt(v, param)


def _axis_ticklabels(param, vals, st=None):
    if param == "mmd_kernel":
        return [KERNEL_NAMES.get(int(v), fmt(v)) for v in vals]
    return [fmt_in(st, v, param) for v in vals]


def _positional(st, a):
    """Axes drawn at positions 0..n-1 with labels, not at their values: categories and coded values."""
    return a == "mmd_kernel" or a in st.axis_labels


class Report:
    def __init__(self, rf, outdir, components=5, strict=False, max_components=10):
        self.rf = rf
        self.outdir = outdir
        self.k = components          # the fixed mixture, for comparison (M5, D6)
        self.kmax = max_components   # the sweep 1..kmax, chosen by BIC
        self.strict = strict
        self.doc = Doc(outdir)
        self._rf_clf = None
        self._rf_clf_done = False
        self.in_dim = rf.in_dim
        self.moons_like = self.in_dim == 2
        self.image_shape = _image_shape(self.in_dim)
        self.images = self.image_shape is not None  # 8x8 digits, 28x28 Fashion-MNIST, ...
        self._recon_cache = {}
        self._codes_cache = {}

    # ---------- helpers ----------
    def guarded(self, what, fn, *a, **kw):
        """Run one figure or table; on an error note it in the report and go on."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(*a, **kw)
        except Exception as e:  # noqa: BLE001 - the report must not die on one figure
            if self.strict:
                raise
            plt.close("all")
            self.doc.note("%s failed: %s: %s" % (what, type(e).__name__, e))
            traceback.print_exc(file=sys.stderr)
            return None

    def model(self, g):
        return Autoencoder.from_group(g)

    def test_xy(self, name=None):
        return self.rf.test_set(name or self.rf.primary_test)

    def stored(self, g, key):
        return np.asarray(g[key][()], dtype=np.float64) if key in g else None

    def recon_of(self, g, test):
        """Reconstruction of test set `test` by model g: stored, else rebuilt in numpy."""
        key = (g.name, test)
        if key in self._recon_cache:
            return self._recon_cache[key]
        r = self.stored(g, "test_%s_recon" % test)
        if r is None:
            x, _ = self.test_xy(test)
            r = None if x is None else self.model(g).reconstruct(x)
        self._recon_cache[key] = r
        return r

    def training_codes(self, st, g):
        """(codes, labels, x, how) of model g's training set.

        Stored train_codes when the group has them; otherwise (per-cell models
        may store only test codes) the codes are computed here with the numpy
        encoder from the training set the cell used, the first train_size rows
        of /data/pool, which the file determines when the stage draws no fresh
        data and uses the study's pool.  None when neither works."""
        codes = self.stored(g, "train_codes")
        x = self.stored(g, "train_x")
        labels = g["train_labels"][()] if "train_labels" in g else None
        if codes is not None:
            return codes, labels, x, "stored"
        pool, pl = self.rf.data_array("pool"), self.rf.data_array("pool_labels")
        n = int(as_float(g.attrs.get("train_size"), 0))
        if pool is None or n <= 0 or st is None or st.data_draws > 1 or st.pool_noise >= 0 or n > len(pool):
            return None, None, None, None
        x = pool[:n].astype(np.float64)
        if g.name not in self._codes_cache:
            self._codes_cache[g.name] = self.model(g).encode(x)
        return self._codes_cache[g.name], (pl[:n] if pl is not None else None), x, \
            "computed from the first %d rows of /data/pool" % n

    def classifier_name(self):
        return ("random forest (200 trees, random_state 0)" if self.in_dim <= 64 else
                "multinomial logistic regression (lbfgs, C = 1, 300 iterations)")

    def classifier(self):
        """A classifier trained on the real training images (pool + pool_labels): the study's random
        forest (200 trees, fixed seed) for the 8x8 digits; for larger images (Fashion-MNIST: 20,000 x 784)
        a forest takes minutes, so multinomial logistic regression (deterministic: lbfgs)."""
        if not self._rf_clf_done:
            self._rf_clf_done = True
            x, y = self.rf.data_array("pool"), self.rf.data_array("pool_labels")
            if x is not None and y is not None and len(np.unique(y)) > 1:
                if self.in_dim <= 64:
                    from sklearn.ensemble import RandomForestClassifier
                    self._rf_clf = RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1)
                else:
                    from sklearn.linear_model import LogisticRegression
                    self._rf_clf = LogisticRegression(max_iter=300)
                self._rf_clf.fit(x, y)
        return self._rf_clf

    # ---------- report ----------
    def build(self):
        rf, d = self.rf, self.doc
        d.h(1, "aesweep report: study `%s`" % rf.attrs.get("study", "?"))
        self.guarded("header", self.header)
        for st in rf.stages:
            self.guarded("stage %s" % st.name, self.stage_section, st)
        self.guarded("variance table", self.variance_section)
        self.guarded("best models on the test sets", self.test_mse_section)
        if self.moons_like:
            self.guarded("best model figures", self.moons_best_section)
        if self.images:
            self.guarded("digits figures of the best model", self.digits_fallback_section)
        spec = rf.attrs.get("spec")
        if isinstance(spec, str) and spec.strip():
            d.h(2, "Appendix: the job spec")
            d.p("As stored in the file (`%s`)." % rf.attrs.get("spec_path", ""))
            d.pre(spec)
        return d

    def header(self):
        rf, d = self.rf, self.doc
        a = rf.attrs
        done, total = as_float(a.get("tasks_done")), as_float(a.get("tasks_total"))
        rows = [("file", os.path.basename(rf.path)), ("study", a.get("study", "n/a")),
                ("aesweep_version", a.get("aesweep_version", "n/a")), ("git_commit", a.get("git_commit", "n/a")),
                ("schema_version", fmti(a.get("schema_version"))), ("seed", fmti(a.get("seed"))),
                ("ranks", fmti(a.get("ranks"))), ("start_time", a.get("start_time") or "n/a"),
                ("end_time", a.get("end_time") or "n/a"), ("complete", fmti(a.get("complete"))),
                ("tasks_done", fmti(done)), ("tasks_total", fmti(total)),
                ("data", "%s, in_dim %s, pool %s rows, scaler %s" % (
                    rf.data_attrs.get("source", "?"), rf.in_dim,
                    rf.data["pool"].shape[0] if rf.data is not None and "pool" in rf.data else "?",
                    rf.data_attrs.get("scaler", "?"))),
                ("test sets", ", ".join(rf.tests) or "n/a")]
        d.h(2, "Run")
        d.table(["key", "value"], rows, key="metadata")
        n_missing = sum(st.missing_cells() for st in rf.stages)
        if rf.complete:
            d.p("**Complete run**: %s of %s tasks done." % (fmti(done), fmti(total)))
        else:
            msg = "**Incomplete run** (cut off, not yet resumed): %s of %s tasks done (%s)." % (
                fmti(done), fmti(total), pct(done, total) if total == total else "n/a")
            if rf.stages_missing:
                msg += " Stages without results: %s." % ", ".join("%s (%s)" % m for m in rf.stages_missing)
            msg += " %d cells have no result; figures show them as gaps and tables as n/a." % n_missing
            d.p(msg)
        # per stage
        rows = []
        missing = dict(rf.stages_missing)
        for name in rf.stage_names:
            if name in missing:
                rows.append([name] + ["-"] * 9 + [missing[name]])
                continue
            st = rf.stage(name)
            sc = st.status_counts()
            if "stop_rung" in st.group and "rung" in st.group:
                sc.pop(3, None)  # halving: a rung a trial was not promoted to is not run by design
            bad = ", ".join("%d %s" % (c, STATUS_NAMES[k] if 0 <= k < 4 else k) for k, c in sorted(sc.items()) if k)
            rows.append([st.name, " x ".join("%s[%d]" % (ax, len(st.axis_values[ax])) for ax in st.axes) or "-",
                         st.repeats, st.data_draws,
                         "%s/%s" % (fmti(st.attr("tasks_done")), fmti(st.attr("tasks_total"))),
                         st.missing_cells(), bad or "-",
                         fmt(st.attr("balance_efficiency")), fmt(st.attr("predicted_makespan")),
                         st.attr("inherited_from") or "-", "complete" if int(as_float(st.attr("complete"), 0))
                         else "incomplete"])
        d.p("Stages (balance efficiency = mean over ranks of the busy seconds / the maximum).")
        d.table(["stage", "axes", "repeats", "data_draws", "tasks done", "missing cells",
                 "cube points not ok", "balance_efficiency", "predicted_makespan", "inherited_from", "state"], rows,
                key="stages")
        # best cells
        params = [p for p in PARAMS if any("best_" + p in st.attrs for st in rf.stages)]
        if not any(st.is_mmd for st in rf.stages):
            params = [p for p in params if not p.startswith("mmd_")]
        params = [p for p in params if p != "batch_size" or
                  len({as_float(st.attrs.get("best_batch_size")) for st in rf.stages}) > 1 or
                  any(as_float(st.attrs.get("best_batch_size"), 0) for st in rf.stages)]
        rows = []
        for st in rf.stages:
            bp = st.best_params()
            rows.append([st.name, st.select_metric, fmt(st.attr("best_value")), st.best_cell,
                         fmti(st.attr("n_skipped"))] +
                        [fmt_in(st, bp.get(p), p) + ("*" if p in st.axes else "") for p in params])
        d.p("Best cell of every stage: lowest mean of the select metric over repeats "
            "(* marks the stage's axes).")
        d.table(["stage", "select_metric", "best_value", "best_cell", "n_skipped"] + params, rows, key="best")

    # ---------- per stage ----------
    def search_section(self, st):
        """A search stage (sample / halving, docs/results-format.md "Search stages"): its schedule,
        best trial and idle share, analysis/search.py's four figures and its importance table,
        instead of the grid profiles (a trial axis has no order to profile along)."""
        import shutil
        from analysis import search
        d = self.doc
        sst = search.SearchStage(self.rf.h5, st.name)
        grid = search.resolve_grid(self.rf.h5, sst, None)
        tmp = tempfile.mkdtemp(prefix="search-", dir=self.outdir)
        try:
            comp, best = search.fig_best_so_far(sst, grid, tmp)
            search.fig_rungs(sst, tmp)
            search.fig_params(sst, tmp)
            search.fig_parallel(sst, tmp)
            md = open(search.write_markdown(sst, grid, comp, best, tmp)).read()
            captions = {"best_so_far": "best %s so far against cumulative compute%s" % (
                            sst.metric_name, " (dashed: grid %s's best)" % grid[0] if grid else ""),
                        "rungs": "%s at each rung per trial (stopped trials faded)" % sst.metric_name,
                        "params": "%s against each searched parameter" % sst.metric_name,
                        "parallel": "parallel coordinates of the trials (colour: %s)" % sst.metric_name}
            for key, cap in captions.items():
                fname = "%s_%s.png" % (st.name, key)
                shutil.move(os.path.join(tmp, key + ".png"), os.path.join(self.outdir, fname))
                d.figures.append(fname)
                d.blocks.append(("img", fname, "%s: %s" % (st.name, cap)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # the text of search.md without its headline, figures and tables (tables are added as tables)
        for line in md.split("\n"):
            if line.strip() and not line.startswith(("#", "!", "|")) and not line.startswith("Parameter importance"):
                d.p(line.strip())
        if "idle_share" in sst.attrs:
            align = str(py(sst.attrs.get("align", "end")))
            how = ("as a dataflow, without rounds" if align == "flow" else
                   "rounds aligned at the %s" % align if sst.halving else "one round")
            d.p("Idle share of the ranks over the stage: %.3f (%s)." % (float(sst.attrs["idle_share"]), how))
        what, rungs = search.importance_points(sst)[0]
        imp = search.importance(sst, rungs)
        if imp is not None:
            n, dd = imp
            d.table(["parameter", "MDI", "permutation"],
                    [[p, "%.3f" % dd[p][0], "%.4f" % dd[p][1]] for p in sorted(dd, key=lambda q: -dd[q][0])],
                    key="%s_importance" % st.name,
                    caption="Parameter importance at %s (%d trials; random forest on log %s):" % (what, n, sst.metric_name))
        else:
            d.p("Parameter importance: fewer than %d trials at any one epoch count (a forest on trials measured "
                "at different epochs would mostly learn the epochs)." % search.MIN_TRIALS_IMPORTANCE)

    def stage_section(self, st):
        d = self.doc
        if "trial" in st.group and ("stop_rung" in st.group or "search_params" in st.attrs):
            d.h(2, "Stage %s: search (%s)" % (st.name, st.attrs.get("sampler", "?")))
            self.guarded("%s search figures" % st.name, self.search_section, st)
            return
        roles = []
        if set(st.axes) & set(TRAINING_AXES):
            roles.append("training grid (M1/D1)")
        if "hidden" in st.axes and "layers" in st.axes:
            roles.append("structure grid (M2/D2)")
        if "bottleneck" in st.axes:
            roles.append("bottleneck (D3-D6)" if self.images else "bottleneck")
        if st.repeats * st.data_draws > 1:
            roles.append("repeat variance (M4)" + (", fresh data" if st.data_draws > 1 else ", same data"))
        if st.pool_noise >= 0:
            roles.append("noisy training pool (M7)")
        if st.is_mmd:
            roles.append("MMD autoencoder (M8)")
        d.h(2, "Stage %s%s" % (st.name, ": " + "; ".join(roles) if roles else ""))
        fixed = ["%s=%s" % (p, fmt_in(st, st.param_value(p), p)) for p in PARAMS
                 if p not in st.axes and math.isfinite(st.param_value(p))
                 and (not p.startswith("mmd_") or st.is_mmd) and (p != "batch_size" or st.param_value(p))]
        d.p("Axes: %s. Repeats %d, data draws %d. Other parameters: %s. Select metric `%s`; best value %s." % (
            ", ".join("%s (%s)" % (a, ", ".join(_axis_ticklabels(a, st.axis_values[a], st))) for a in st.axes) or "none",
            st.repeats, st.data_draws, ", ".join(fixed) or "-", st.select_metric, fmt(st.attr("best_value"))))
        if st.attr("complete") is not None and int(as_float(st.attr("complete"), 1)) != 1:
            d.p("**This stage is incomplete**: %s of %s tasks; %d of %d cells have no result." % (
                fmti(st.attr("tasks_done")), fmti(st.attr("tasks_total")),
                st.missing_cells(), st.ncells))
        heat = "hidden" in st.axes and "layers" in st.axes
        profile_axes = [a for a in st.axes if not (heat and a in ("hidden", "layers"))]
        if profile_axes:
            self.guarded("%s profile" % st.name, self.profile, st, profile_axes)
        if heat:
            self.guarded("%s heat map" % st.name, self.heatmap, st)
        if self.images and "bottleneck" in st.axes:
            self.guarded("%s bottleneck figures" % st.name, self.digits_bottleneck, st)
        if st.is_mmd:
            self.guarded("%s MMD figures" % st.name, self.mmd_section, st)
        if st.pool_noise >= 0:
            self.guarded("%s noisy-pool scatter" % st.name, self.pool_noise_section, st)
        if st.has_curves():
            self.guarded("%s learning curves" % st.name, learning_curves, self, st)

    def profile(self, st, axes):
        """Minimum of the select metric along each axis (min over the other axes)."""
        d = self.doc
        m = st.select_metric
        mean, std = st.stat(m, "mean"), st.stat(m, "std")
        if mean is None:
            d.note("stage %s: no `%s_mean` and no cube to compute it from" % (st.name, m))
            return
        nok = st.n_ok()
        n = len(axes)
        fig, axs = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
        with_err = st.repeats * st.data_draws > 1
        for j, a in enumerate(axes):
            i = st.axes.index(a)
            vals = st.axis_values[a]
            ys, es, rows = [], [], []
            for v in range(len(vals)):
                sub = np.take(mean, v, axis=i)
                if not np.any(np.isfinite(sub)):
                    ys.append(np.nan), es.append(np.nan)
                    rows.append([fmt_in(st, vals[v], a), "n/a", "n/a", 0, "no result"])
                    continue
                k = int(np.nanargmin(np.where(np.isfinite(sub), sub, np.inf)))
                full = list(np.unravel_index(k, sub.shape))
                full.insert(i, v)
                full = tuple(full)
                ys.append(float(mean[full]))
                e = float(std[full]) if std is not None else np.nan
                es.append(e)
                at = ", ".join("%s=%s" % (b, fmt_in(st, st.axis_values[b][full[q]], b))
                               for q, b in enumerate(st.axes) if b != a)
                rows.append([fmt_in(st, vals[v], a), fmt(mean[full]), fmt(e),
                             int(nok[full]) if nok is not None else "n/a", at or "-"])
            ax = axs[0, j]
            ys, es = np.array(ys), np.array(es)
            x = np.arange(len(vals)) if _positional(st, a) else vals
            ax.errorbar(x, ys, yerr=np.where(np.isfinite(es), es, 0) if with_err else None, fmt="o-",
                        capsize=3, color="C0")
            miss = ~np.isfinite(ys)
            if np.any(miss):  # a red x on the bottom edge where an axis value has no result
                from matplotlib.transforms import blended_transform_factory
                ax.plot(np.asarray(x)[miss], np.full(miss.sum(), 0.03), "x", color="red", ms=9, mew=2,
                        clip_on=False, transform=blended_transform_factory(ax.transData, ax.transAxes),
                        label="no result")
                ax.legend(fontsize=8)
            if _positional(st, a):
                ax.set_xticks(x)
                ax.set_xticklabels(_axis_ticklabels(a, vals, st), rotation=30 if a in st.axis_labels else 0)
            elif _is_log(vals):
                ax.set_xscale("log")
                ax.set_xticks(vals)
                ax.set_xticklabels(_axis_ticklabels(a, vals), rotation=45)
                ax.minorticks_off()
            if _is_log(ys):
                ax.set_yscale("log")
            ax.set_xlabel(a)
            ax.set_ylabel("min %s" % m if j == 0 else "")
            ax.grid(alpha=0.3)
            d.table([a, "min %s_mean" % m, "std (same cell)", "n_ok", "at"], rows,
                    key="profile:%s:%s" % (st.name, a),
                    caption="Stage %s, minimum over the other axes of mean `%s`, by `%s`:" % (st.name, m, a))
        fig.suptitle("%s: %s along each axis" % (st.name, "mean " + m if n == 1 and st.naxes == 1 else "minimum " + m))
        fig.tight_layout()
        what = ("D3: test error against bottleneck size. " if axes == ["bottleneck"] else "")
        d.figure(fig, "%s_profile.png" % st.name,
                 what + "Stage %s: the minimum of mean %s over the other axes, along each axis%s. "
                 "Missing cells are gaps (red x where an axis value has no result at all)." % (
                     st.name, m, "; error bars: standard deviation over repeats of the minimising cell"
                     if with_err else " (one repeat: no error bars)"))

    def heatmap(self, st):
        d = self.doc
        m = st.select_metric
        mean = st.stat(m, "mean")
        if mean is None:
            d.note("stage %s: no `%s_mean`" % (st.name, m))
            return
        ih, il = st.axes.index("hidden"), st.axes.index("layers")
        others = tuple(q for q in range(st.naxes) if q not in (ih, il))
        grid = mean
        if others:  # min over the other axes (NaN only where every cell is missing)
            g = np.where(np.isfinite(mean), mean, np.inf).min(axis=others)
            grid = np.where(np.isinf(g), np.nan, g)
            if ih > il:
                grid = grid.T
        elif ih > il:
            grid = grid.T
        H, L = st.axis_values["hidden"], st.axis_values["layers"]
        masked = np.ma.masked_invalid(grid)
        fig, ax = plt.subplots(figsize=(1.2 * len(L) + 3, 0.6 * len(H) + 2.2))
        cmap = plt.get_cmap("viridis").copy()
        cmap.set_bad("lightgray")
        from matplotlib.colors import LogNorm
        fin = grid[np.isfinite(grid)]
        norm = LogNorm(fin.min(), fin.max()) if fin.size and fin.min() > 0 and fin.max() > 5 * fin.min() else None
        im = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto", origin="lower")
        for r in range(len(H)):
            for c in range(len(L)):
                v = grid[r, c]
                light = np.isfinite(v) and sum(cmap(im.norm(v))[:3]) > 1.8  # bright cell: dark text
                ax.text(c, r, "%.4g" % v if np.isfinite(v) else "missing", ha="center", va="center", fontsize=7,
                        color="black" if light or not np.isfinite(v) else "white")
        bc = st.best_cell
        if bc >= 0:
            idx = st.cell_index(bc)
            ax.add_patch(plt.Rectangle((idx[il] - 0.5, idx[ih] - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
        ax.set_xticks(range(len(L)))
        ax.set_xticklabels(_axis_ticklabels("layers", L, st))
        ax.set_yticks(range(len(H)))
        ax.set_yticklabels(_axis_ticklabels("hidden", H, st))
        ax.set_xlabel("layers")
        ax.set_ylabel("hidden")
        fig.colorbar(im, ax=ax, label="mean " + m)
        ax.set_title("%s: mean %s" % (st.name, m))
        d.figure(fig, "%s_heatmap.png" % st.name,
                 "Stage %s: mean %s over repeats by hidden width and layers%s; red box: the best cell; "
                 "gray: no result." % (st.name, m, " (min over the other axes)" if others else ""))
        rows = [[fmt_in(st, H[r], "hidden")] + [fmt(grid[r, c]) for c in range(len(L))] for r in range(len(H))]
        d.table(["hidden \\ layers"] + [fmt(v, "layers") for v in L], rows, key="heatmap:%s" % st.name,
                caption="Stage %s, mean `%s`%s:" % (st.name, m, " (min over the other axes)" if others else ""))

    # ---------- variance (M4) ----------
    def variance_section(self):
        d = self.doc
        sts = [st for st in self.rf.stages if st.repeats * st.data_draws > 1]
        if not sts:
            return
        d.h(2, "Repeat variance (M4)")
        rows = []
        skipped = [st.name for st in sts if st.best_cell < 0 and st.naxes]
        for st in sts:
            if st.best_cell < 0 and st.naxes:
                continue
            m = st.select_metric
            cell = max(st.best_cell, 0)
            idx = st.cell_index(cell)

            def at(kind):
                a = st.stat(m, kind)
                return np.nan if a is None else float(np.asarray(a)[idx])
            nok = st.n_ok()
            rows.append([st.name, "fresh data" if st.data_draws > 1 else "same data", st.repeats, st.data_draws,
                         int(np.asarray(nok)[idx]) if nok is not None else "n/a", m, fmt(at("mean")),
                         fmt(at("std")), fmt(at("init_std")) if st.data_draws > 1 else "-",
                         fmt(at("data_std")) if st.data_draws > 1 else "-",
                         ", ".join("%s=%s" % (a, fmt_in(st, v, a)) for a, v in
                                   st.cell_params(cell).items() if a in st.axes) or "-"])
        d.p("Test error over repeats of one configuration (the best cell of stages with axes). "
            "*Same data*: one training set, different initialisations. *Fresh data*: a new training set per "
            "draw; init_std = sqrt(mean over draws of the variance over repeats), data_std = standard deviation "
            "over draws of the mean over repeats. Standard deviations use ddof 1.")
        d.table(["stage", "data", "repeats", "data_draws", "n_ok", "metric", "mean", "std", "init_std", "data_std",
                 "cell"], rows, key="variance")
        if skipped:
            d.p("Left out (no best cell yet): %s." % ", ".join(skipped))

    # ---------- best models on every test set (M3, M6 numbers) ----------
    def test_mse_section(self):
        d = self.doc
        rows = []
        for st in self.rf.stages:
            g = st.best_model()
            if g is None or st.best_cell < 0:
                continue
            for t in self.rf.tests:
                x, _ = self.test_xy(t)
                rec = self.stored(g, "test_%s_recon" % t)
                recomputed = float(np.mean((rec - x) ** 2)) if rec is not None and x is not None \
                    and rec.shape == x.shape else np.nan
                mean = st.stat("test_mse_" + t, "mean")
                rows.append([st.name, t, fmt(st.value_at("test_mse_" + t, st.best_cell)),
                             fmt(np.asarray(mean)[st.cell_index(st.best_cell)] if mean is not None else None),
                             fmt(recomputed)])
        if not rows:
            return
        d.h(2, "Best models on every test set (M3, M6)")
        d.p("Test MSE of each stage's best model (repeat 0, draw 0) as stored in the cube, the mean over repeats "
            "of that cell, and the MSE recomputed here from the stored reconstruction (data units).")
        d.table(["stage", "test set", "test MSE (repeat 0)", "mean over repeats", "recomputed"], rows,
                key="test_mse")

    # ---------- moons figures ----------
    def pick_best_stage(self):
        """The study's best plain model: the last structure grid, else the last training grid, else the
        stage with the lowest best value (stages without MMD and with the study's own pool)."""
        c = [st for st in self.rf.stages if st.best_model() is not None and not st.is_mmd and st.pool_noise < 0]
        for want in (lambda s: "hidden" in s.axes and "layers" in s.axes,
                     lambda s: bool(set(s.axes) & set(TRAINING_AXES))):
            hit = [s for s in c if want(s)]
            if hit:
                return hit[-1]
        c = [s for s in c if math.isfinite(as_float(s.attr("best_value")))]
        return min(c, key=lambda s: as_float(s.attr("best_value"))) if c else None

    def scatter_recon(self, ax, x, rec, title):
        i = _subsample(len(x))
        ax.scatter(x[i, 0], x[i, 1], s=4, c="0.7", label="original")
        ax.scatter(rec[i, 0], rec[i, 1], s=4, c="C3", label="reconstruction")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal", "datalim")
        ax.legend(fontsize=7, markerscale=3, loc="upper right")

    def moons_best_section(self):
        d = self.doc
        st = self.pick_best_stage()
        d.h(2, "Best model: reconstructions, codes and sampling (M3, M5, M6)")
        if st is None:
            d.note("no plain (non-MMD) stage on the study's own pool has a best model (/models/<stage>/best); MMD stages are drawn in their own section")
            return
        g = st.best_model()
        bp = st.best_params()
        d.p("The best model of stage %s (%s), repeat 0, retrained by aesweep and stored in the file." % (
            st.name, ", ".join("%s=%s" % (p, fmt_in(st, bp.get(p), p)) for p in
                               ("train_size", "epochs", "lr", "hidden", "layers", "bottleneck"))))
        for t in self.rf.tests:
            self.guarded("reconstruction on %s" % t, self.best_recon, st, g, t)
        self.guarded("code distribution and sampling", self.codes_gmm, st, g)

    def best_recon(self, st, g, t):
        x, _ = self.test_xy(t)
        rec = self.recon_of(g, t)
        if x is None or rec is None:
            self.doc.note("test set %s: no data or reconstruction" % t)
            return
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        mse = st.value_at("test_mse_" + t, st.best_cell)
        self.scatter_recon(ax, x, rec, "%s best model on test set %s: test MSE %s" % (st.name, t, fmt(mse)))
        first = t == self.rf.primary_test
        self.doc.figure(fig, "best_recon_%s.png" % t,
                        "%s: test set `%s` (gray) and its reconstruction by the best model of %s (red); "
                        "test MSE %s%s." % ("M3" if first else "M6", t, st.name, fmt(mse),
                                            "" if first else ", without retraining"))

    def codes_gmm(self, st, g):
        """M5: mixtures of 1..K components fitted to the training codes, K chosen by BIC (AIC shown);
        samples from the chosen mixture and from the fixed one (--components) decoded."""
        d = self.doc
        codes = self.stored(g, "train_codes")
        tx = self.stored(g, "train_x")
        if codes is None or tx is None:
            d.note("M5: the best model of %s has no train_codes/train_x" % st.name)
            return
        if len(codes) < max(2, self.k):
            d.note("M5: %d training codes, fewer than %d mixture components" % (len(codes), self.k))
            return
        ae = self.model(g)
        sw = mixture.Sweep(codes, self.kmax)
        chosen, fixed = sw.best, sw.fixed(self.k)
        z, _ = chosen.sample(200)
        zf, _ = fixed.sample(200)
        gen, genf = ae.decode(z), ae.decode(zf)
        b = codes.shape[1]
        fig, axs = plt.subplots(1, 4, figsize=(19, 4))
        if b == 1:
            axs[0].hist(codes[:, 0], bins=60, density=True, color="0.6", label="training codes")
            grid = np.linspace(codes.min(), codes.max(), 400)[:, None]
            axs[0].plot(grid[:, 0], np.exp(chosen.score_samples(grid)), "C3", label="chosen: k=%d (BIC)" % sw.best_k)
            axs[0].plot(grid[:, 0], np.exp(fixed.score_samples(grid)), "C0--", label="fixed: k=%d" % self.k)
            axs[0].set_xlabel("code")
            axs[0].legend(fontsize=8)
        else:
            i = _subsample(len(codes))
            axs[0].scatter(codes[i, 0], codes[i, 1], s=3, c="0.6", label="training codes")
            axs[0].scatter(z[:, 0], z[:, 1], s=6, c="C3", label="samples, k=%d (BIC)" % sw.best_k)
            axs[0].scatter(zf[:, 0], zf[:, 1], s=6, c="C0", marker="x", label="samples, k=%d (fixed)" % self.k)
            axs[0].set_xlabel("code 0")
            axs[0].set_ylabel("code 1")
            axs[0].legend(fontsize=8)
        axs[0].set_title("training codes (bottleneck %d)" % b, fontsize=9)
        mixture.plot_criteria(axs[1], sw, "mixtures of 1..%d components (%d codes)" % (sw.ks[-1], sw.n))
        i = _subsample(len(tx))
        for ax, gg, k, how in ((axs[2], gen, sw.best_k, "chosen by BIC"), (axs[3], genf, self.k, "fixed")):
            ax.scatter(tx[i, 0], tx[i, 1], s=3, c="0.7", label="training points")
            ax.scatter(gg[:, 0], gg[:, 1], s=8, c="C3", label="200 decoded samples")
            ax.set_aspect("equal", "datalim")
            ax.legend(fontsize=8, markerscale=2)
            ax.set_title("decoded samples, k=%d (%s)" % (k, how), fontsize=9)
        d.figure(fig, "best_codes.png",
                 "M5: the training codes of the best model of %s; Gaussian mixtures with 1..%d components fitted "
                 "to them (full covariance, random_state 0), BIC and AIC against k (BIC picks k=%d, AIC k=%d); "
                 "200 codes sampled from the chosen mixture and from the fixed %d-component one, decoded (red) "
                 "over the training points." % (st.name, sw.ks[-1], sw.best_k, sw.aic_k, self.k))
        d.table(["k", "BIC", "AIC", "chosen by"], [[k, fmt(bi), fmt(ai), w] for k, bi, ai, w in sw.rows()],
                key="gmm_sweep", caption="Mixtures fitted to the training codes of the best model of %s "
                                         "(%d codes):" % (st.name, sw.n))
        for key, gm, k, what in (("gmm", chosen, sw.best_k, "The mixture chosen by BIC"),
                                 ("gmm_fixed", fixed, self.k, "The fixed %d-component mixture" % self.k)):
            d.table(["component", "weight", "mean", "std"],
                    [[c, fmt(gm.weights_[c]), ", ".join(fmt(v) for v in gm.means_[c]),
                      ", ".join(fmt(math.sqrt(v)) for v in np.diag(gm.covariances_[c]))] for c in range(k)],
                    key=key, caption="%s (k=%d, random_state 0):" % (what, k))

    def pool_noise_section(self, st):
        d = self.doc
        g = st.best_model()
        if g is None:
            d.note("M7: stage %s has no best model" % st.name)
            return
        if not self.moons_like:
            return
        tx, tr = self.stored(g, "train_x"), self.stored(g, "train_recon")
        panels = []
        if tx is not None and tr is not None:
            panels.append(("own training set (noise %s)" % fmt(st.pool_noise), tx, tr,
                           st.value_at("train_mse", st.best_cell)))
        for t in self.rf.tests:
            x, _ = self.test_xy(t)
            rec = self.recon_of(g, t)
            if x is not None and rec is not None:
                panels.append(("test set %s" % t, x, rec, st.value_at("test_mse_" + t, st.best_cell)))
        if not panels:
            d.note("M7: no data to draw")
            return
        fig, axs = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
        for ax, (title, x, rec, mse) in zip(axs[0], panels):
            self.scatter_recon(ax, x, rec, "%s\nMSE %s" % (title, fmt(mse)))
        d.figure(fig, "%s_recon.png" % st.name,
                 "M7: the best model of %s, trained on a pool drawn with noise %s: its training points and each "
                 "test set (gray) with their reconstructions (red)." % (st.name, fmt(st.pool_noise)))

    # ---------- MMD (M8) ----------
    def mmd_section(self, st):
        d = self.doc
        cols = [m for m in MMD_METRICS if m in st.metrics] + [st.rf.primary_metric]
        means = {m: st.stat(m, "mean") for m in cols}
        rows = []
        for c in range(st.ncells):
            idx = st.cell_index(c)
            rows.append([_axis_ticklabels(a, [st.axis_values[a][i]], st)[0] for a, i in zip(st.axes, idx)] +
                        [fmt(np.asarray(means[m])[idx]) if means[m] is not None else "n/a" for m in cols])
        d.table(list(st.axes) + ["mean " + m for m in cols], rows, key="mmd:%s" % st.name,
                caption="Stage %s: how far the codes are from N(0, I) (gen_mmd, code_mmd: MMD^2; "
                        "code_mean_dist, code_cov_dist: distance of the codes' mean and covariance from 0 and I), "
                        "mean over repeats:" % st.name)
        g = st.best_model()
        if g is None:
            d.note("M8 figure: stage %s has no best model" % st.name)
            return
        if not self.moons_like:
            return
        ae = self.model(g)
        tx, tr, codes = self.stored(g, "train_x"), self.stored(g, "train_recon"), self.stored(g, "train_codes")
        if tx is None or codes is None:
            d.note("M8 figure: the best model of %s has no train_x/train_codes" % st.name)
            return
        if tr is None:
            tr = ae.reconstruct(tx)
        rng = np.random.default_rng(0)
        z = rng.standard_normal((500, ae.bottleneck))
        gen = ae.decode(z)
        fig, axs = plt.subplots(1, 3, figsize=(14, 4.2))
        self.scatter_recon(axs[0], tx, tr, "training points and reconstructions")
        i = _subsample(len(codes))
        if codes.shape[1] >= 2:
            axs[1].scatter(codes[i, 0], codes[i, 1], s=3, c="C0", label="codes")
            axs[1].scatter(z[:, 0], z[:, 1], s=3, c="0.6", alpha=0.5, label="N(0, I)")
            axs[1].set_aspect("equal", "datalim")
            axs[1].legend(fontsize=7, markerscale=3)
        else:
            axs[1].hist(codes[:, 0], bins=60, density=True)
        axs[1].set_title("codes", fontsize=9)
        j = _subsample(len(tx))
        axs[2].scatter(tx[j, 0], tx[j, 1], s=3, c="0.7", label="training points")
        axs[2].scatter(gen[:, 0], gen[:, 1], s=5, c="C3", label="decoded from N(0, I)")
        axs[2].set_aspect("equal", "datalim")
        axs[2].legend(fontsize=7, markerscale=3)
        axs[2].set_title("500 points decoded from z ~ N(0, I)", fontsize=9)
        bp = st.best_params()
        d.figure(fig, "%s_mmd.png" % st.name,
                 "M8: best model of %s (%s): training points and reconstructions; the codes over a N(0, I) "
                 "sample; 500 codes drawn from N(0, I) (seed 0) and decoded, over the training points." % (
                     st.name, ", ".join("%s=%s" % (a, fmt_in(st, bp.get(a), a)) for a in st.axes)))

    # ---------- digits (D3-D6) ----------
    def bottleneck_models(self, st):
        """[(bottleneck, group)] for a stage with a bottleneck axis: the saved cells at the best cell's
        other coordinates, draw 0, repeat 0."""
        cells = st.cell_models()
        if not cells:
            return []
        ib = st.axes.index("bottleneck")
        ref = list(st.cell_index(st.best_cell if st.best_cell >= 0 else 0))
        out = []
        for v, b in enumerate(st.axis_values["bottleneck"]):
            ref[ib] = v
            c = int(np.ravel_multi_index(tuple(ref), st.axes_shape))
            g = cells.get((c, 0, 0))
            if g is not None:
                out.append((st, int(b), g))
        return out

    def bottleneck_repeats(self, st):
        """{bottleneck: [model group of repeat 0, 1, ...]}: every saved repeat (draw 0) at the best cell's
        other coordinates, for statistics over initialisations."""
        cells = st.cell_models()
        if not cells or "bottleneck" not in st.axes:
            return {}
        ib = st.axes.index("bottleneck")
        ref = list(st.cell_index(st.best_cell if st.best_cell >= 0 else 0))
        out = {}
        for v, b in enumerate(st.axis_values["bottleneck"]):
            ref[ib] = v
            c = int(np.ravel_multi_index(tuple(ref), st.axes_shape))
            gs = [cells[(c, 0, r)] for r in range(st.repeats) if (c, 0, r) in cells]
            if gs:
                out[int(b)] = gs
        return out

    def digits_bottleneck(self, st):
        d = self.doc
        models = self.bottleneck_models(st)
        if not models:
            other = [o.name for o in self.rf.stages if o is not st and "bottleneck" in o.axes and o.cell_models()]
            if other:  # e.g. a grid (Fashion F1) beside the stage that stores its models (F2)
                d.p("Images, classifier agreement, latent map and mixtures per bottleneck: see stage %s, "
                    "which stores its models." % ", ".join(other))
            else:
                d.note("D3-D6 for stage %s: no per-cell models (set save_models in the stage)" % st.name)
            return
        self.digits_figures(st.name, models, self.bottleneck_repeats(st))

    def digits_fallback_section(self):
        """Digits without a bottleneck stage with saved models: the same figures for the best model."""
        if any("bottleneck" in st.axes and st.cell_models() for st in self.rf.stages):
            return
        st = self.pick_best_stage()
        if st is None:
            return
        self.doc.h(2, "Best model of %s: digits (D3-D6 with one bottleneck)" % st.name)
        g = st.best_model()
        self.digits_figures("best", [(st, int(as_float(g.attrs.get("bottleneck"), 0)), g)])

    def digits_figures(self, tag, models, repeats=None):
        d = self.doc
        t = self.rf.primary_test
        x, y = self.test_xy(t)
        if x is None:
            d.note("no test set %s" % t)
            return
        self.guarded("D3 digits", self.digits_recon, tag, models, x)
        self.guarded("D4 classifier agreement", self.digits_classifier, tag, models, x, y, repeats)
        self.guarded("D5 latent map", self.digits_latent, tag, models)
        self.guarded("D6 generation", self.digits_generate, tag, models)

    def pixel_max(self):
        """The largest training pixel (16 for the digits, 1 for images scaled to [0, 1], 255 raw)."""
        if not hasattr(self, "_pixel_max"):
            pool = self.rf.data_array("pool")
            self._pixel_max = float(np.max(pool)) if pool is not None and np.size(pool) else 16.0
        return self._pixel_max

    def _img(self, ax, v, label=None):
        top = self.pixel_max()
        ax.imshow(np.clip(np.asarray(v).reshape(self.image_shape), 0, top), cmap="gray_r", vmin=0, vmax=top)
        ax.set_xticks([])
        ax.set_yticks([])
        if label is not None:
            ax.set_xlabel(label, fontsize=8)

    def digits_recon(self, tag, models, x):
        t = self.rf.primary_test
        n = min(10, len(x))
        fig, axs = plt.subplots(len(models) + 1, n, figsize=(n * 0.9, 1.0 * (len(models) + 1)), squeeze=False)
        for j in range(n):
            self._img(axs[0, j], x[j])
        axs[0, 0].set_ylabel("original", fontsize=8)
        for r, (_, b, g) in enumerate(models, 1):
            rec = self.recon_of(g, t)
            for j in range(n):
                self._img(axs[r, j], rec[j])
            axs[r, 0].set_ylabel("b=%d" % b, fontsize=8)
        self.doc.figure(fig, "%s_digits.png" % tag,
                        "D3: the first %d test %s (top) and their reconstructions, one row per bottleneck "
                        "size (%s)." % (n, "digits" if self.in_dim == 64 else "images",
                                        ", ".join(str(b) for _, b, _ in models)))

    def digits_classifier(self, tag, models, x, y, repeats=None):
        """D4: the classifier trained on the real training images labels each test image and its
        reconstruction; agreement = share labelled alike.  With repeats (initialisations) of each
        bottleneck saved, the agreement is given as mean, standard deviation (ddof 1), min and max over
        them; the confusion matrices are repeat 0's."""
        from sklearn.metrics import confusion_matrix
        d = self.doc
        clf = self.classifier()
        if clf is None:
            d.note("D4: no training labels (/data/pool_labels) to train the classifier")
            return
        t = self.rf.primary_test
        p_orig = clf.predict(x)
        rows, cms, series = [], [], []
        labels = np.unique(np.concatenate([clf.classes_, y if y is not None else []])).astype(int)
        acc_o = float(np.mean(p_orig == y)) if y is not None else np.nan
        for _, b, g in models:
            gs = (repeats or {}).get(b) or [g]
            agree, acc_r = [], []
            for r, gr in enumerate(gs):
                p_rec = clf.predict(self.recon_of(gr, t))
                agree.append(float(np.mean(p_rec == p_orig)))
                acc_r.append(float(np.mean(p_rec == y)) if y is not None else np.nan)
                if r == 0:
                    cms.append((b, confusion_matrix(y if y is not None else p_orig, p_rec, labels=labels)))
            a = np.array(agree)
            sd = float(np.std(a, ddof=1)) if len(a) > 1 else np.nan
            rows.append([b, fmt(a.mean()), fmt(sd), fmt(a.min()), fmt(a.max()), len(a), fmt(acc_o),
                         fmt(np.mean(acc_r)), len(x)])
            series.append((b, a))
        what = "digits" if self.in_dim == 64 else "images"
        d.table(["bottleneck", "agreement (mean)", "agreement (std)", "min", "max", "repeats",
                 "accuracy (originals)", "accuracy (reconstructions, mean)", "test %s" % what],
                rows, key="agreement:%s" % tag,
                caption="D4: %s trained on the %d real training %s; agreement = share of test %s whose "
                        "reconstruction gets the same predicted label as the original, over the saved repeats "
                        "(initialisations) of each bottleneck (std with ddof 1; n/a for one repeat):" % (
                            self.classifier_name(), len(self.rf.data_array("pool")), what, what))
        fig, ax = plt.subplots(figsize=(4.8, 3.4))
        bs = [b for b, _ in series]
        means = np.array([a.mean() for _, a in series])
        sds = np.array([np.std(a, ddof=1) if len(a) > 1 else 0.0 for _, a in series])
        for b, a in series:
            ax.plot([b] * len(a), a, ".", color="0.55", ms=5)
        ax.errorbar(bs, means, yerr=sds, fmt="o-", capsize=3, color="C0",
                    label="mean +- std over repeats" if any(len(a) > 1 for _, a in series) else "one repeat")
        ax.set_xlabel("bottleneck")
        ax.set_ylabel("label agreement")
        if len(bs) > 1 and max(bs) / max(min(bs), 1) >= 8:
            ax.set_xscale("log", base=2)
            ax.minorticks_off()
        ax.set_xticks(bs)
        ax.set_xticklabels([str(b) for b in bs])
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        n_rep = max(len(a) for _, a in series)
        d.figure(fig, "%s_agreement.png" % tag,
                 "D4: share of test %s whose reconstruction the classifier labels like the original, per "
                 "bottleneck%s." % (what, "; mean and standard deviation over %d repeats (gray: each repeat)" % n_rep
                                    if n_rep > 1 else ""))
        fig, axs = plt.subplots(1, len(cms), figsize=(4.2 * len(cms), 4), squeeze=False)
        for ax, (b, cm) in zip(axs[0], cms):
            ax.imshow(cm, cmap="Blues")
            for r in range(cm.shape[0]):
                for c in range(cm.shape[1]):
                    if cm[r, c]:
                        ax.text(c, r, str(cm[r, c]), ha="center", va="center", fontsize=6,
                                color="white" if cm[r, c] > cm.max() / 2 else "black")
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels)
            ax.set_yticks(range(len(labels)))
            ax.set_yticklabels(labels)
            ax.set_xlabel("predicted from reconstruction")
            ax.set_ylabel("true label" if y is not None else "predicted from original")
            ax.set_title("bottleneck %d" % b, fontsize=9)
        d.figure(fig, "%s_confusion.png" % tag,
                 "D4: confusion matrices (repeat 0), %s against the label the classifier predicts from the "
                 "reconstruction, per bottleneck." % ("true label of the test image" if y is not None
                                                      else "label of the original"))

    def digits_latent(self, tag, models):
        d = self.doc
        pick = [(st, g) for st, b, g in models if b == 2]
        for st in self.rf.stages:  # else any stored best model with a 2-d code
            g = st.best_model()
            if g is not None and int(as_float(g.attrs.get("bottleneck"), 0)) == 2:
                pick.append((st, g))
        for st, g in pick:
            codes, labels, _, how = self.training_codes(st, g)
            if codes is not None:
                break
        else:
            d.note("D5: no model with bottleneck 2 and training codes" if pick else "D5: no model with bottleneck 2")
            return
        fig, ax = plt.subplots(figsize=(6, 5))
        if labels is not None:
            sc = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
            fig.colorbar(sc, ax=ax, ticks=range(10), label="label")
        else:
            ax.scatter(codes[:, 0], codes[:, 1], s=6)
        ax.set_xlabel("code 0")
        ax.set_ylabel("code 1")
        d.figure(fig, "%s_latent.png" % tag,
                 "D5: the training codes of the bottleneck-2 model `%s` (%s), coloured by label." % (g.name, how))

    def digits_generate(self, tag, models):
        """D6: per bottleneck, mixtures of 1..K components fitted to the training codes, K chosen by BIC
        (AIC shown); ten codes sampled from the chosen mixture and ten from the fixed one (--components),
        decoded, with the classifier's label under each."""
        d = self.doc
        clf = self.classifier()
        rows, crit, table = [], [], []
        hows = set()
        for st, b, g in models:
            codes, _, _, how = self.training_codes(st, g)
            if codes is None or len(codes) < max(2, self.k):
                continue
            hows.add(how)
            sw = mixture.Sweep(codes, self.kmax)
            crit.append((b, sw))
            for k, gm, what in ((sw.best_k, sw.best, "BIC"), (self.k, sw.fixed(self.k), "fixed")):
                z, _ = gm.sample(10)
                imgs = self.model(g).decode(z)
                lab = clf.predict(imgs) if clf is not None else [None] * len(imgs)
                rows.append((b, k, what, imgs, lab))
            table.append([b, sw.n, sw.best_k, sw.aic_k, fmt(sw.bic[sw.best_k - 1]), fmt(sw.aic[sw.aic_k - 1]),
                          fmt(sw.fixed(self.k).bic(sw.x))])
        if not rows:
            d.note("D6: no training codes to fit a mixture to")
            return
        fig, axs = plt.subplots(len(rows), 10, figsize=(9, 1.15 * len(rows)), squeeze=False)
        for r, (b, k, what, imgs, lab) in enumerate(rows):
            for j in range(10):
                self._img(axs[r, j], imgs[j], None if lab[j] is None else "label %d" % lab[j])
            axs[r, 0].set_ylabel("b=%d\nk=%d %s" % (b, k, what), fontsize=7)
        d.figure(fig, "%s_generated.png" % tag,
                 "D6: per bottleneck, ten codes sampled from the Gaussian mixture chosen by BIC among 1..%d "
                 "components (row 'BIC') and ten from a fixed %d-component mixture (row 'fixed'), fitted to the "
                 "training codes (%s; full covariance, random_state 0), decoded; under each the classifier's "
                 "predicted label." % (self.kmax, self.k, "; ".join(sorted(hows))))
        fig, axs = plt.subplots(1, len(crit), figsize=(4.2 * len(crit), 3.4), squeeze=False)
        for ax, (b, sw) in zip(axs[0], crit):
            mixture.plot_criteria(ax, sw, "bottleneck %d (%d codes)" % (b, sw.n))
        d.figure(fig, "%s_mixtures.png" % tag,
                 "D6: BIC and AIC of Gaussian mixtures with 1..%d components fitted to the training codes, per "
                 "bottleneck; the star marks the number BIC chooses." % self.kmax)
        d.table(["bottleneck", "codes fitted", "k (BIC)", "k (AIC)", "BIC at k (BIC)", "AIC at k (AIC)",
                 "BIC at k = %d" % self.k], table, key="mixtures:%s" % tag,
                caption="D6: the mixture-component sweep (at most %d evenly spaced codes fitted):" %
                        mixture.MAX_POINTS)


class Refused(Exception):
    """A report that cannot be made: one line about the real cause, exit 2."""


def check_encoding(rf):
    """Text attributes must be UTF-8 (as HDF5 declares them).  h5py hands
    other bytes over as surrogates, which used to end in a traceback while
    writing report.md (a spec with a Latin-1 comment)."""
    for name, v in sorted(rf.attrs.items()):
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                bad = v[e.start]
                byte = ord(bad) - 0xDC00 if 0xDC80 <= ord(bad) <= 0xDCFF else ord(bad)
                line = v.count("\n", 0, e.start) + 1
                raise Refused("%s: attribute '%s' is not UTF-8 (byte 0x%02x on its line %d: the spec was saved "
                              "in another encoding, e.g. Latin-1); re-save the spec as UTF-8 and run the study again"
                              % (rf.path, name, byte, line))


def check_outdir(outdir):
    """The output folder exists or can be made, and a file can be written in
    it; the message names the real cause (not the input file)."""
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise Refused("%s: exists and is not a folder; give -o a folder for the report" % outdir)
    try:
        os.makedirs(outdir, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".report-probe-", dir=outdir)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise Refused("%s: cannot write the report there (%s); choose another folder with -o"
                      % (outdir, e.strerror or e))


def write_text(path, text):
    """Write a file whole or not at all (never an empty or cut report)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_report(path, outdir, components=5, strict=False, html=True, max_components=10):
    with ResultFile(path) as rf:
        check_encoding(rf)
        check_outdir(outdir)
        doc = Report(rf, outdir, components, strict, max_components).build()
        title = "aesweep report: %s" % rf.attrs.get("study", "?")
    md = os.path.join(outdir, "report.md")
    if html:
        doc.p("The same report with the figures embedded: `report.html`.")
    write_text(md, doc.markdown())
    if html:
        write_text(os.path.join(outdir, "report.html"), doc.html(title))
    return md


def main(argv=None):
    ap = argparse.ArgumentParser(description="Figures and tables of an aesweep study from its result file.")
    ap.add_argument("result", help="the result file (.h5)")
    ap.add_argument("-o", "--outdir", help="output folder (default: RESULT without .h5, plus _report)")
    ap.add_argument("--components", type=int, default=5,
                    help="components of the fixed Gaussian mixture sampled beside the one BIC chooses (M5, D6; "
                         "default 5)")
    ap.add_argument("--max-components", type=int, default=10,
                    help="mixtures of 1..K components are fitted to the codes and K is chosen by BIC (M5, D6; "
                         "default 10)")
    ap.add_argument("--no-html", action="store_true", help="write report.md only")
    ap.add_argument("--strict", action="store_true", help="stop on the first error in a figure (for tests)")
    a = ap.parse_args(argv)
    if a.components < 1:
        ap.error("--components must be at least 1")
    if a.max_components < 1:
        ap.error("--max-components must be at least 1")
    if not os.path.exists(a.result):
        print("%s: no such file; give the result file a study wrote (aesweep run SPEC -o FILE)" % a.result,
              file=sys.stderr)
        return 2
    out = a.outdir or (os.path.splitext(a.result)[0] + "_report")
    try:
        md = write_report(a.result, out, a.components, a.strict, not a.no_html, a.max_components)
    except Refused as e:
        print(str(e), file=sys.stderr)
        return 2
    except OSError as e:
        if getattr(e, "filename", None) and os.path.abspath(e.filename) != os.path.abspath(a.result):
            print("%s: cannot write (%s)" % (e.filename, e.strerror or e), file=sys.stderr)  # an output, not the input
            return 3
        print("%s: cannot read as an HDF5 result file (%s)" % (a.result, e), file=sys.stderr)
        return 2
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
