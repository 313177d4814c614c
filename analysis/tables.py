"""tables.py - a result file as tidy pandas tables, in one call.

    import analysis
    runs = analysis.load_runs("results/moons.h5")            # one row per cell x draw x repeat
    cells = analysis.load_cells("results/moons.h5", "M1")    # one row per cell, with statistics
    curves = analysis.load_curves("results/moons.h5", "M1")  # one row per trajectory x epoch

load_runs has the columns of `aesweep export --csv` (the same table, checked
by tests/test_tables.py): stage, cell (row-major index over the stage's
axes), every parameter (axis, fixed, inherited or default: the value the
point trained with; integers as int64, mmd_kernel as its name), draw,
repeat, status (ok, diverged, interrupted, not_run), seconds, then every
metric of the study (NaN where a task diverged or never ran).  A search
stage (a `trial` dimension) as export writes it: cell = the trial; with
halving one row per trial and rung of its bracket, `epochs` = the rung's.

load_cells: stage, cell, every parameter, n_ok and each statistic the file
stores per cell (<metric>_mean, _std, _min; _init_std and _data_std with
data draws); a search stage one row per trial (cell = the trial), its
values, and with halving `stop_rung`, `epochs` and every metric at the
deepest rung the trial reached.  load_curves: stage, cell, every parameter but epochs, draw,
repeat, epoch and the curve metrics (each test set's MSE and train_mse).

Reads schema versions 1 and 2 (docs/results-format.md).
"""
import math

import h5py
import numpy as np
import pandas as pd

from .resultfile import CATEGORIES, INTEGER_PARAMS, MISSING_DEFAULTS, PARAMS, py, split_names

STATUS = ("ok", "diverged", "interrupted", "not_run")


def _decode(a):
    a = np.asarray(a)
    if a.dtype.kind in "OS":
        return np.array([x.decode() if isinstance(x, bytes) else str(x) for x in a.reshape(-1)], dtype=object)
    return a


def _param_column(p, values):
    """Values of parameter p in the loader's types: category names,
    int64 for integer parameters, float64 otherwise (schema 1 stored every
    parameter as float64 and categories as indices)."""
    v = _decode(values)
    if v.dtype.kind == "O" and p not in CATEGORIES:  # hidden width lists, as the spec writes them
        return v.astype(object)
    if p in CATEGORIES:
        if v.dtype.kind in "fiu":
            return np.array([CATEGORIES[p][int(x)] if np.isfinite(x) else None for x in v], dtype=object)
        return v.astype(object)
    if p in INTEGER_PARAMS:
        return np.asarray(v, dtype=np.float64).astype(np.int64)
    return np.asarray(v, dtype=np.float64)


def _scale_names(ds):
    names = []
    for i in range(ds.ndim):
        names.append(ds.dims[i][0].name.rsplit("/", 1)[-1] if len(ds.dims[i]) else "dim%d" % i)
    return names


def _stage_list(f, stage):
    names = split_names(py(f.attrs.get("stages")))
    if stage is not None:
        if stage not in names:
            raise KeyError("%s has no stage %r; its stages are %s" % (f.filename, stage, ", ".join(names)))
        names = [stage]
    return [n for n in names if isinstance(f.get(n), h5py.Group)]


def _grid(g, dims, shape):
    """Per point of a row-major grid over dims: {dim: coordinate values}."""
    idx = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), dtype=int)
    out = {}
    for k, n in enumerate(dims):
        vals = _decode(g[n][()])
        if "labels" in g[n].attrs:  # hidden width lists are coded -(1 + i): their labels
            vals = np.array(str(py(g[n].attrs["labels"])).split(";"), dtype=object)
        out[n] = vals[idx[k]]
    return out, idx


def _params(g, axis_cols, npts):
    """Every parameter's column for npts points: axes from axis_cols, the
    rest from the stage's attributes."""
    cols = {}
    for p in PARAMS:
        if p in axis_cols:
            cols[p] = _param_column(p, axis_cols[p])
        else:
            v = py(g.attrs.get(p)) if p in g.attrs else MISSING_DEFAULTS.get(p, math.nan)
            if p + "_label" in g.attrs and p == "hidden":  # a width list
                v = str(py(g.attrs[p + "_label"]))
            cols[p] = _param_column(p, np.full(npts, v, dtype=object if isinstance(v, str) else np.float64))
    return cols


def _stat_cols(g, metrics):
    """n_ok and each statistic over draw and repeat that stage group g stores per cell (or trial)."""
    cols = {}
    if "n_ok" in g:
        cols["n_ok"] = np.asarray(g["n_ok"][()], dtype=np.int64).reshape(-1)
    for m in metrics:
        for k in ("mean", "std", "min", "init_std", "data_std"):
            key = "%s_%s" % (m, k)
            if key in g:
                cols[key] = np.asarray(g[key][()], dtype=np.float64).reshape(-1)
    return cols


def _trial_values(g, t):
    """{param: values at trials t} of the parameters a search stage varies (datasets along `trial`;
    hidden width lists by their labels)."""
    n, out = len(g["trial"]), {}
    for p in PARAMS:
        if isinstance(g.get(p), h5py.Dataset) and g[p].shape == (n,):
            vals = _decode(g[p][()])
            if "labels" in g[p].attrs:
                vals = np.array(str(py(g[p].attrs["labels"])).split(";"), dtype=object)
            out[p] = vals[t]
    return out


def _search_cells(g, name, metrics):
    """A search stage in load_cells: one row per trial, its parameters (with halving `epochs` = the
    epochs of the deepest rung it reached, 0 before its first), then with halving `stop_rung` and each
    metric there, else n_ok and the statistics over draw and repeat the file stores per trial."""
    n = len(g["trial"])
    t = np.arange(n)
    per_trial = _trial_values(g, t)
    cols = {"stage": np.full(n, name, dtype=object), "cell": t.astype(np.int64)}
    halving = "rung" in g and "stop_rung" in g
    if halving:
        stop = np.asarray(g["stop_rung"][()], dtype=np.int64)
        re, tb = g["rung_epochs"][()], g["trial_bracket"][()]
        reached = stop >= 0
        per_trial["epochs"] = np.where(reached, re[tb, np.maximum(stop, 0)], 0)
    cols.update(_params(g, per_trial, n))
    if halving:
        cols["stop_rung"] = stop
        for m in metrics:
            if m in g:
                x = np.asarray(g[m][()], dtype=np.float64)
                cols[m] = np.where(reached, x[t, np.maximum(stop, 0)], math.nan)
        return pd.DataFrame(cols)
    cols.update(_stat_cols(g, metrics))
    return pd.DataFrame(cols)


def _search_runs(g, name, metrics):
    """A search stage (a `trial` dimension, docs/results-format.md "Search stages") as `aesweep export`
    writes it: cell = the trial; with halving one row per trial and rung of its bracket (epochs = the
    rung's), else one per trial, draw and repeat."""
    n = len(g["trial"])
    st = g["status"]
    dims, shape = _scale_names(st), st.shape
    if "rung" in g:
        re, tb = g["rung_epochs"][()], g["trial_bracket"][()]
        t, k = np.nonzero(re[tb] > 0)  # (trial, rung) of every rung in the trial's bracket, row-major
        flat, draw, rep = t * shape[1] + k, np.zeros(len(t), dtype=np.int64), np.zeros(len(t), dtype=np.int64)
        epochs = re[tb[t], k]
    else:
        coords, _ = _grid(g, dims, shape)
        flat = np.arange(int(np.prod(shape)))
        t = flat // (len(flat) // n if n else 1)
        draw, rep = (np.asarray(coords[d], dtype=np.int64) if d in coords else np.zeros(len(flat), dtype=np.int64)
                     for d in ("draw", "repeat"))
        epochs = None
    per_trial = _trial_values(g, t)
    if epochs is not None:
        per_trial["epochs"] = epochs
    npts = len(flat)
    cols = {"stage": np.full(npts, name, dtype=object), "cell": np.asarray(t, dtype=np.int64)}
    cols.update(_params(g, per_trial, npts))
    cols["draw"], cols["repeat"] = draw, rep
    s = np.asarray(st[()]).reshape(-1)[flat]
    cols["status"] = np.array([STATUS[int(x)] if 0 <= x < 4 else "not_run" for x in s], dtype=object)
    cols["seconds"] = np.asarray(g["seconds"][()], dtype=np.float64).reshape(-1)[flat]
    for m in metrics:
        cols[m] = np.asarray(g[m][()], dtype=np.float64).reshape(-1)[flat] if m in g else np.full(npts, math.nan)
    return pd.DataFrame(cols)


def load_runs(path, stage=None):
    """One row per cell x draw x repeat of every stage (or of `stage`); a search stage as
    _search_runs says."""
    frames = []
    with h5py.File(path, "r") as f:
        metrics = split_names(py(f.attrs.get("metrics")))
        for name in _stage_list(f, stage):
            g = f[name]
            if isinstance(g.get("trial"), h5py.Dataset):
                frames.append(_search_runs(g, name, metrics))
                continue
            st = g["status"]
            dims, shape = _scale_names(st), st.shape
            npts = int(np.prod(shape))
            coords, _ = _grid(g, dims, shape)
            nrep = int(np.prod([n for d, n in zip(dims, shape) if d in ("draw", "repeat")]))
            cols = {"stage": np.full(npts, name, dtype=object), "cell": np.arange(npts, dtype=np.int64) // nrep}
            cols.update(_params(g, {d: coords[d] for d in dims if d in PARAMS}, npts))
            for d in ("draw", "repeat"):
                cols[d] = np.asarray(coords[d], dtype=np.int64) if d in coords else np.zeros(npts, dtype=np.int64)
            s = np.asarray(st[()]).reshape(-1)
            cols["status"] = np.array([STATUS[int(x)] if 0 <= x < 4 else "not_run" for x in s], dtype=object)
            cols["seconds"] = np.asarray(g["seconds"][()], dtype=np.float64).reshape(-1) if "seconds" in g \
                else np.full(npts, math.nan)
            for m in metrics:
                cols[m] = np.asarray(g[m][()], dtype=np.float64).reshape(-1) if m in g else np.full(npts, math.nan)
            frames.append(pd.DataFrame(cols))
    return _concat(frames)


def load_cells(path, stage=None):
    """One row per cell of every stage (or of `stage`), with the statistics
    over draw and repeat that the file stores."""
    frames = []
    with h5py.File(path, "r") as f:
        metrics = split_names(py(f.attrs.get("metrics")))
        for name in _stage_list(f, stage):
            g = f[name]
            if isinstance(g.get("trial"), h5py.Dataset):
                frames.append(_search_cells(g, name, metrics))
                continue
            st = g["status"]
            dims = [d for d in _scale_names(st) if d not in ("draw", "repeat")]
            shape = st.shape[:len(dims)]
            ncell = int(np.prod(shape)) if shape else 1
            coords, _ = _grid(g, dims, shape)
            cols = {"stage": np.full(ncell, name, dtype=object), "cell": np.arange(ncell, dtype=np.int64)}
            cols.update(_params(g, coords, ncell))
            cols.update(_stat_cols(g, metrics))
            frames.append(pd.DataFrame(cols))
    return _concat(frames)


def load_curves(path, stage=None):
    """Learning curves (schema 2): one row per trajectory x recorded epoch.
    With an epochs axis, `epochs` is the axis's largest value (the
    trajectory's full length; shorter cells are its prefixes)."""
    frames = []
    with h5py.File(path, "r") as f:
        for name in _stage_list(f, stage):
            g = f[name]
            c = g.get("curves")
            if not isinstance(c, h5py.Group):
                continue
            vars_ = [k for k in c if isinstance(c[k], h5py.Dataset) and k not in ("epoch",) and
                     c[k].ndim >= 1 and len(c[k].dims[c[k].ndim - 1]) and
                     c[k].dims[c[k].ndim - 1][0].name.endswith("/epoch")]
            if not vars_:
                continue
            ref = c[vars_[0]]
            dims, shape = _scale_names(ref), ref.shape
            npts = int(np.prod(shape))
            coords, _ = _grid(c, dims, shape)
            cols = {"stage": np.full(npts, name, dtype=object)}
            axis = {d: coords[d] for d in dims if d in PARAMS}
            if "trial" in coords and isinstance(g.get("trial"), h5py.Dataset):  # a sampled stage's trials
                axis.update(_trial_values(g, np.asarray(coords["trial"], dtype=np.int64)))
            if "epochs" in _scale_names(g["status"]):  # the trajectory runs to the axis's largest value
                axis["epochs"] = np.full(npts, np.max(g["epochs"][()]))
            cols.update(_params(g, axis, npts))
            for d in ("draw", "repeat"):
                cols[d] = np.asarray(coords[d], dtype=np.int64) if d in coords else np.zeros(npts, dtype=np.int64)
            cols["epoch"] = np.asarray(coords["epoch"], dtype=np.int64)
            for v in vars_:
                cols[v] = np.asarray(c[v][()], dtype=np.float64).reshape(-1)
            frames.append(pd.DataFrame(cols))
    return _concat(frames)


def _concat(frames):
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    # hidden: int64 while every value is one width; once a width list appears,
    # every value as the spec writes it ("20", "[512, 256]"), as in the CSV
    if "hidden" in df and df["hidden"].dtype == object:
        df["hidden"] = df["hidden"].map(str).astype(object)
    return df
