"""resultfile.py - read an aesweep result file (docs/results-format.md) into numpy.

One ResultFile wraps one open HDF5 file: root metadata, the /data group and
one Stage per stage group, each with its axes (read from the HDF5 dimension
scales), its cube of metrics and the statistics over draw and repeat.  Every
accessor tolerates a partial or older file: a missing dataset gives None, a
missing statistic is recomputed from the cube.

Not for: drawing (report.py) or rebuilding networks (nnet.py).
"""
import math

import h5py
import numpy as np

# enum param_id of include/aesweep/spec.h, in order
PARAMS = ("train_size", "epochs", "lr", "hidden", "layers", "bottleneck", "batch_size",
          "mmd_lambda", "mmd_kernel", "mmd_scale", "mmd_nscales", "arch", "activation")
PARAMS_V1 = PARAMS[:11]  # schema 1 (aesweep 0.3.0) had no arch and activation
# what a file without the parameter trained with (schema 1: a plain ReLU MLP)
MISSING_DEFAULTS = {"arch": "mlp", "activation": "relu"}
INTEGER_PARAMS = {"train_size", "epochs", "hidden", "layers", "bottleneck", "batch_size",
                  "mmd_kernel", "mmd_nscales", "arch", "activation"}
STATUS_NAMES = ("ok", "diverged", "interrupted", "not run")
# categorical parameters: schema 2 stores their names (string coordinates and
# attributes), schema 1 the index into this tuple; Stage works with the index
CATEGORIES = {"mmd_kernel": ("rbf", "imq"), "arch": ("mlp", "resnet"), "activation": ("relu", "tanh", "elu")}
MMD_METRICS = ("code_mmd", "code_mean_dist", "code_cov_dist", "gen_mmd")


def py(v):
    """An HDF5 attribute value as a plain Python value (str, int, float)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        if v.shape == () or v.size == 1:
            return py(v.reshape(-1)[0])
        return [py(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def attrs_dict(obj):
    out = {}
    for k in obj.attrs.keys():
        try:
            out[k] = py(obj.attrs[k])
        except (OSError, TypeError, ValueError):  # unreadable attribute type
            out[k] = None
    return out


def split_names(s):
    if not s or not isinstance(s, str):
        return []
    return [x.strip() for x in s.split(",") if x.strip()]


def as_float(v, default=math.nan):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def param_float(p, v, default=math.nan):
    """A parameter value as a float; a category name (schema 2) as its index."""
    if isinstance(v, str) and p in CATEGORIES:
        return float(CATEGORIES[p].index(v)) if v in CATEGORIES[p] else default
    return as_float(v, default)


def coord_values(p, raw):
    """Coordinate values as float64 (category names as their index)."""
    a = np.asarray(raw)
    if a.dtype.kind in "OSU":
        names = [x.decode() if isinstance(x, bytes) else str(x) for x in a.reshape(-1)]
        cats = CATEGORIES.get(p, tuple(sorted(set(names))))
        return np.array([float(cats.index(x)) if x in cats else math.nan for x in names])
    return a.astype(np.float64)


class Stage:
    """One stage group: dims, cube, statistics and models."""

    def __init__(self, rf, name):
        self.rf = rf
        self.name = name
        self.group = rf.h5[name]
        self.attrs = attrs_dict(self.group)
        self.metrics = [m for m in rf.metrics if isinstance(self.group.get(m), h5py.Dataset)]
        if not self.metrics:  # metrics attribute missing: any cube-shaped float dataset
            ref = self.group.get("status")
            if isinstance(ref, h5py.Dataset):
                for k, d in self.group.items():
                    if (isinstance(d, h5py.Dataset) and d.shape == ref.shape and k not in
                            ("status", "seconds") and d.dtype.kind == "f"):
                        self.metrics.append(k)
        self._read_dims()

    # ---------- dims ----------
    def _read_dims(self):
        ref = self.group.get("status")
        if not isinstance(ref, h5py.Dataset) and self.metrics:
            ref = self.group[self.metrics[0]]
        self.dim_names = []
        self.dim_values = []
        if isinstance(ref, h5py.Dataset):
            for i in range(ref.ndim):
                name, vals = None, None
                try:
                    if len(ref.dims[i]) > 0:
                        sc = ref.dims[i][0]
                        name = sc.name.rsplit("/", 1)[-1]
                        vals = coord_values(name, sc[()])
                except (RuntimeError, KeyError, OSError):
                    pass
                if name is None:
                    name = ref.dims[i].label or None
                self.dim_names.append(name)
                self.dim_values.append(vals)
            shape = ref.shape
        else:
            shape = ()
        # Fallback without dimension scales: axes are the parameters whose
        # source is "axis" (in parameter order), then draw, then repeat.
        if any(n is None for n in self.dim_names):
            axis_params = [p for p in PARAMS if self.attrs.get("source_" + p) == "axis"]
            guess = list(axis_params)
            if int(self.attrs.get("data_draws", 1) or 1) > 1:
                guess.append("draw")
            guess.append("repeat")
            if len(guess) == len(shape):
                for i, n in enumerate(guess):
                    if self.dim_names[i] is None:
                        self.dim_names[i] = n
            for i, n in enumerate(self.dim_names):
                if n is None:
                    self.dim_names[i] = "dim%d" % i
        for i, n in enumerate(self.dim_names):
            if self.dim_values[i] is None:
                d = self.group.get(n)
                if isinstance(d, h5py.Dataset) and d.shape == (shape[i],):
                    self.dim_values[i] = coord_values(n, d[()])
                else:
                    self.dim_values[i] = np.arange(shape[i], dtype=np.float64)
        # coded coordinates (hidden width lists are -(1 + i)) carry their values as the spec writes
        # them in the scale's `labels` attribute, ";"-separated: "[512, 256];800"
        self.axis_labels = {}
        for i, n in enumerate(self.dim_names):
            d = self.group.get(n)
            if isinstance(d, h5py.Dataset) and "labels" in d.attrs and d.shape == (shape[i],):
                lab = str(py(d.attrs["labels"])).split(";")
                if len(lab) == shape[i]:
                    self.axis_labels[n] = lab
        self.shape = tuple(shape)
        self.axes = [n for n in self.dim_names if n not in ("draw", "repeat")]
        self.axis_values = {n: v for n, v in zip(self.dim_names, self.dim_values)}
        self.naxes = len(self.axes)
        self.axes_shape = tuple(self.shape[:self.naxes])
        self.ncells = int(np.prod(self.axes_shape)) if self.naxes else 1

    def label(self, p, v):
        """Value v of parameter p as the spec writes it when the file codes it (a hidden width list,
        -(1 + i) in the file: "[512, 256]"), from the axis' labels or the stage's `<p>_label` and
        `best_<p>_label` attributes; None for a plain value."""
        f = as_float(v)
        if not f < 0:
            return None
        for val, lab in zip(self.axis_values.get(p, ()), self.axis_labels.get(p, ())):
            if val == f:
                return lab
        for key in (p, "best_" + p):
            if key + "_label" in self.attrs and as_float(self.attrs.get(key)) == f:
                return str(self.attrs[key + "_label"])
        return None

    # ---------- attributes ----------
    def attr(self, key, default=None):
        v = self.attrs.get(key, default)
        return default if v is None else v

    @property
    def repeats(self):
        return int(as_float(self.attr("repeats"), 1))

    @property
    def data_draws(self):
        return int(as_float(self.attr("data_draws"), 1))

    @property
    def select_metric(self):
        s = self.attr("select_metric")
        if isinstance(s, str) and s:
            return s
        return self.rf.primary_metric

    @property
    def best_cell(self):
        return int(as_float(self.attr("best_cell"), -1))

    @property
    def pool_noise(self):
        return as_float(self.attr("pool_noise"), -1.0)

    @property
    def is_mmd(self):
        """An MMD stage: it records gen_mmd and trains with lambda > 0 somewhere.

        The MMD metrics are study-wide (every stage of a study with an MMD
        stage has them), so the metric alone does not tell."""
        if "gen_mmd" not in self.metrics:
            return False
        if "mmd_lambda" in self.axes:
            return bool(np.any(self.axis_values["mmd_lambda"] > 0))
        lam = as_float(self.attr("mmd_lambda"))
        return math.isnan(lam) or lam > 0

    def param_value(self, p):
        """The stage's value of a non-axis parameter (nan if unknown or an axis)."""
        return param_float(p, self.attr(p, MISSING_DEFAULTS.get(p) if p not in self.axes else None))

    def best_params(self):
        out = {p: param_float(p, self.attrs["best_" + p]) for p in PARAMS if "best_" + p in self.attrs}
        if out:  # a schema-1 file: the parameters it did not have yet
            for p, v in MISSING_DEFAULTS.items():
                out.setdefault(p, param_float(p, v))
        return out

    def cell_params(self, cell):
        """Every parameter of cell (linear index over the axis dims)."""
        out = {p: self.param_value(p) for p in PARAMS}
        if self.naxes:
            idx = np.unravel_index(cell, self.axes_shape)
            for a, i in zip(self.axes, idx):
                out[a] = float(self.axis_values[a][i])
        return out

    def cell_index(self, cell):
        return tuple(int(i) for i in np.unravel_index(cell, self.axes_shape)) if self.naxes else ()

    # ---------- data ----------
    def cube(self, metric):
        d = self.group.get(metric)
        if not isinstance(d, h5py.Dataset):
            return None
        a = np.asarray(d[()], dtype=np.float64)
        return a

    def stat(self, metric, kind="mean"):
        """<metric>_<kind> over draw and repeat, shape axes_shape (recomputed if absent)."""
        d = self.group.get("%s_%s" % (metric, kind))
        if isinstance(d, h5py.Dataset):
            a = np.asarray(d[()], dtype=np.float64)
            return a.reshape(self.axes_shape)
        c = self.cube(metric)
        if c is None:
            return None
        flat = c.reshape(self.axes_shape + (-1,))
        fin = np.isfinite(flat)
        cnt = fin.sum(-1)
        with np.errstate(all="ignore"):
            if kind == "mean":
                return np.where(cnt > 0, np.nansum(flat, -1) / np.maximum(cnt, 1), np.nan)
            if kind == "min":
                return np.where(cnt > 0, np.nanmin(np.where(fin, flat, np.inf), -1), np.nan)
            if kind == "std":
                mean = np.nansum(flat, -1) / np.maximum(cnt, 1)
                ss = np.nansum(np.where(fin, (flat - mean[..., None]) ** 2, 0), -1)
                return np.where(cnt > 1, np.sqrt(ss / np.maximum(cnt - 1, 1)), np.nan)
        return None

    def status(self):
        d = self.group.get("status")
        return None if not isinstance(d, h5py.Dataset) else np.asarray(d[()])

    def n_ok(self):
        d = self.group.get("n_ok")
        if isinstance(d, h5py.Dataset):
            return np.asarray(d[()]).reshape(self.axes_shape)
        c = self.cube(self.select_metric)
        if c is None:
            return None
        return np.isfinite(c.reshape(self.axes_shape + (-1,))).sum(-1)

    def value_at(self, metric, cell, draw=0, repeat=0):
        """One cube value: metric at (cell, draw, repeat)."""
        c = self.cube(metric)
        if c is None:
            return math.nan
        idx = list(self.cell_index(cell))
        if "draw" in self.dim_names:
            idx.append(draw)
        if "repeat" in self.dim_names:
            idx.append(repeat)
        try:
            return float(c[tuple(idx)])
        except IndexError:
            return math.nan

    def missing_cells(self):
        """Cells of the axis grid without any finite value of the select metric.  A search stage with
        halving: trials that trained no rung (a (trial, rung) beyond the stop rung is not missing:
        the trial was not promoted)."""
        if "stop_rung" in self.group and "rung" in self.group:
            return int(np.sum(np.asarray(self.group["stop_rung"][()]) < 0))
        n = self.n_ok()
        return 0 if n is None else int(np.sum(np.asarray(n) == 0))

    def status_counts(self):
        s = self.status()
        if s is None:
            return {}
        vals, cnt = np.unique(s, return_counts=True)
        return {int(v): int(c) for v, c in zip(vals, cnt)}

    def rank_busy_seconds(self):
        """Seconds each rank trained this stage (schema 2: ranks/busy_seconds)."""
        for k in ("ranks/busy_seconds", "rank_busy_seconds"):
            d = self.group.get(k)
            if isinstance(d, h5py.Dataset):
                return np.asarray(d[()], dtype=np.float64)
        return None

    # ---------- learning curves ----------
    def has_curves(self):
        g = self.group.get("curves")
        return isinstance(g, h5py.Group) and isinstance(g.get("epoch"), h5py.Dataset)

    def curve_epochs(self):
        return np.asarray(self.group["curves/epoch"][()]) if self.has_curves() else None

    def curve(self, metric):
        """Learning curve of metric: array [cube dims without epochs..., epoch]
        (schema 2 /<stage>/curves), or None."""
        if not self.has_curves():
            return None
        d = self.group["curves"].get(metric)
        return np.asarray(d[()], dtype=np.float64) if isinstance(d, h5py.Dataset) else None

    def curve_dims(self):
        """Names of the curve arrays' dims (the cube's without epochs, then epoch)."""
        return [n for n in self.dim_names if n != "epochs"] + ["epoch"]

    # ---------- models ----------
    def model_group(self):
        m = self.rf.h5.get("models")
        if isinstance(m, h5py.Group):
            g = m.get(self.name)
            if isinstance(g, h5py.Group):
                return g
        return None

    def best_model(self):
        g = self.model_group()
        if g is None:
            return None
        b = g.get("best")
        return b if isinstance(b, h5py.Group) and "W0" in b else None

    def cell_models(self):
        """{(cell, draw, repeat): group} of the saved per-cell models.

        Keys come from each group's cell/draw/repeat attributes; a group
        without them is taken to be named by its cube index."""
        g = self.model_group()
        out = {}
        if g is None or not isinstance(g.get("cells"), h5py.Group):
            return out
        nrep = max(1, self.repeats) * max(1, self.data_draws)
        for k, mg in g["cells"].items():
            if not isinstance(mg, h5py.Group) or "W0" not in mg:
                continue
            a = mg.attrs
            if "cell" in a:
                key = (int(py(a["cell"])), int(py(a.get("draw", 0))), int(py(a.get("repeat", 0))))
            else:
                try:
                    ci = int(k)
                except ValueError:
                    continue
                rest = ci % nrep
                key = (ci // nrep, rest // max(1, self.repeats), rest % max(1, self.repeats))
            out[key] = mg
        return out


class ResultFile:
    """An open result file.  Use as a context manager or call close()."""

    def __init__(self, path):
        self.path = path
        self.h5 = h5py.File(path, "r")
        self.attrs = attrs_dict(self.h5)
        self.metrics = split_names(self.attrs.get("metrics"))
        data = self.h5.get("data")
        self.data = data if isinstance(data, h5py.Group) else None
        self.data_attrs = attrs_dict(self.data) if self.data is not None else {}
        self.tests = split_names(self.data_attrs.get("tests"))
        if not self.tests and self.data is not None:
            self.tests = sorted(k[5:] for k in self.data.keys()
                                if k.startswith("test_") and not k.endswith("_labels"))
        if not self.metrics:
            self.metrics = ["test_mse_" + t for t in self.tests] + ["train_mse"]
        names = split_names(self.attrs.get("stages"))
        if not names:  # no list: every group with a status dataset, by stage_index
            cands = [k for k, g in self.h5.items() if isinstance(g, h5py.Group) and "status" in g]
            names = sorted(cands, key=lambda k: as_float(self.h5[k].attrs.get("stage_index"), 0))
        self.stage_names = names
        self.stages = []
        self.stages_missing = []
        for n in names:
            if isinstance(self.h5.get(n), h5py.Group):
                try:
                    self.stages.append(Stage(self, n))
                except (KeyError, OSError, ValueError) as e:  # unreadable stage: report, go on
                    self.stages_missing.append((n, "unreadable: %s" % e))
            else:
                self.stages_missing.append((n, "not started"))

    def close(self):
        self.h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def schema_version(self):
        return int(as_float(self.attrs.get("schema_version"), 1))

    @property
    def in_dim(self):
        v = as_float(self.data_attrs.get("in_dim"))
        if math.isnan(v) and self.data is not None and "pool" in self.data:
            return int(self.data["pool"].shape[1])
        return int(v) if not math.isnan(v) else 0

    @property
    def primary_test(self):
        return self.tests[0] if self.tests else "test"

    @property
    def primary_metric(self):
        return "test_mse_" + self.primary_test

    @property
    def complete(self):
        return int(as_float(self.attrs.get("complete"), 0)) == 1

    def data_array(self, name):
        if self.data is None or not isinstance(self.data.get(name), h5py.Dataset):
            return None
        return np.asarray(self.data[name][()])

    def test_set(self, name):
        return self.data_array("test_" + name), self.data_array("test_%s_labels" % name)

    def stage(self, name):
        for s in self.stages:
            if s.name == name:
                return s
        return None
