"""synth.py - write a synthetic aesweep result file that follows docs/results-format.md.

For tests of the analysis on cases the real binary does not make quickly:
partial files (a run cut off), NaN cells, digits studies with per-cell
models, MMD stages.  Metrics are made-up smooth functions of the
hyperparameters; models have random weights, and their stored codes and
reconstructions are computed from those weights (float32), so they are
self-consistent but not trained.

    python3 -m analysis.synth OUT.h5 [--kind moons|digits] [--partial]

Not for: checking that aesweep writes the format (that needs the real binary).
"""
import argparse
import math
import warnings

import h5py
import numpy as np

from analysis.nnet import Autoencoder
from analysis.resultfile import PARAMS_V1 as PARAMS  # synthetic files are schema 1

DEFAULTS = dict(train_size=1000, epochs=100, lr=0.001, hidden=20, layers=1, bottleneck=1,
                batch_size=0, mmd_lambda=0.0, mmd_kernel=0, mmd_scale=1.0, mmd_nscales=1)


def _moons(n, noise, rng):
    from sklearn.datasets import make_moons
    x, y = make_moons(n, noise=noise, random_state=int(rng.integers(1 << 30)))
    return x.astype(np.float32), y.astype(np.int32)


def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.data.astype(np.float32), d.target.astype(np.int32)


def _fake_mse(hp, rng, base):
    e = base * (1 + 200.0 / hp["epochs"]) * (1 + 0.002 / hp["lr"] * 0.1) * (1 + 1000.0 / hp["train_size"] * 0.05)
    e *= (1 + 1.0 / (hp["hidden"] * (1 + hp["layers"]))) * (2.0 / (1 + hp["bottleneck"]))
    return e * (1 + 0.05 * rng.standard_normal())


def _model(hp, in_dim, rng):
    h, L, b = int(hp["hidden"]), int(hp["layers"]), int(hp["bottleneck"])
    dims = [in_dim, h] + [h] * L + [b, h] + [h] * L + [in_dim]
    Ws, bs = [], []
    for l in range(len(dims) - 1):
        k = 1 / math.sqrt(dims[l])
        Ws.append(rng.uniform(-k, k, (dims[l + 1], dims[l])).astype(np.float32))
        bs.append(rng.uniform(-k, k, dims[l + 1]).astype(np.float32))
    return Ws, bs, L + 1


def _write_model(g, hp, in_dim, rng, train, tests, scaler, cell, with_train_x=True):
    Ws, bs, code = _model(hp, in_dim, rng)
    for k, v in (("in", in_dim), ("hidden", int(hp["hidden"])), ("layers", int(hp["layers"])),
                 ("bottleneck", int(hp["bottleneck"])), ("nlin", len(Ws)), ("code_layer", code),
                 ("cell", cell), ("draw", 0), ("repeat", 0)):
        g.attrs[k] = np.int64(v)
    g.attrs["scaler"] = scaler[0]
    for p in PARAMS:
        g.attrs[p] = np.float64(hp[p])
    for l, (W, b) in enumerate(zip(Ws, bs)):
        g["W%d" % l] = W
        g["b%d" % l] = b
    g["scaler_shift"] = scaler[1]
    g["scaler_scale"] = scaler[2]
    ae = Autoencoder(Ws, bs, code, scaler[1], scaler[2])
    tx, tl = train
    if with_train_x:
        g["train_x"] = tx
    g["train_labels"] = tl
    g["train_codes"] = ae.encode(tx).astype(np.float32)
    g["train_recon"] = ae.reconstruct(tx).astype(np.float32)
    for name, x in tests.items():
        g["test_%s_codes" % name] = ae.encode(x).astype(np.float32)
        g["test_%s_recon" % name] = ae.reconstruct(x).astype(np.float32)


def _scale(g, name, vals, dtype=np.float64):
    g[name] = np.asarray(vals, dtype=dtype)
    g[name].make_scale(name)
    return g[name]


def _stage(f, k, name, axes, fixed, rng, metrics, nranks, repeats=1, draws=1, pool_noise=-1.0,
           inherited=(), inherited_from="", missing=0.0, base=0.01, save_models=0, mmd=False):
    g = f.create_group(name)
    scales = [_scale(g, a, v) for a, v in axes]
    if draws > 1:
        scales.append(_scale(g, "draw", range(draws), np.int32))
    scales.append(_scale(g, "repeat", range(repeats), np.int32))
    rs = _scale(g, "rank", range(nranks), np.int32)
    ashape = tuple(len(v) for _, v in axes)
    shape = ashape + ((draws,) if draws > 1 else ()) + (repeats,)
    ncells = int(np.prod(ashape)) if axes else 1
    nrep = draws * repeats
    base_hp = dict(DEFAULTS)
    base_hp.update(fixed)
    cube = {m: np.full(ncells * nrep, np.nan) for m in metrics}
    status = np.full(ncells * nrep, 3, np.int8)
    secs = np.full(ncells * nrep, np.nan)
    cells_hp = []
    for c in range(ncells):
        hp = dict(base_hp)
        if axes:
            for (a, v), i in zip(axes, np.unravel_index(c, ashape)):
                hp[a] = v[i]
        cells_hp.append(hp)
        for r in range(nrep):
            i = c * nrep + r
            if rng.random() < missing:
                continue
            mse = _fake_mse(hp, rng, base)
            for m in metrics:
                if m.startswith("test_mse_"):
                    cube[m][i] = mse * (1.5 if m.endswith("noisy") else 1.0)
                elif m == "train_mse":
                    cube[m][i] = 0.9 * mse
                else:
                    cube[m][i] = abs(0.05 * (1 - hp["mmd_lambda"]) + 0.01 * rng.standard_normal()) if mmd else 0.5
            status[i] = 0
            secs[i] = 0.01 * hp["epochs"]
    for m in metrics:
        d = g.create_dataset(m, data=cube[m].reshape(shape))
        for j, s in enumerate(scales):
            d.dims[j].attach_scale(s)
    for nm, arr in (("status", status), ("seconds", secs)):
        d = g.create_dataset(nm, data=arr.reshape(shape))
        for j, s in enumerate(scales):
            d.dims[j].attach_scale(s)
    g["status"].attrs["flag_meanings"] = "ok diverged interrupted not_run"

    def put(nm, arr, dtype=np.float64):
        d = g.create_dataset(nm, data=np.asarray(arr, dtype).reshape(ashape))
        for j in range(len(axes)):
            d.dims[j].attach_scale(scales[j])

    for m in metrics:
        flat = cube[m].reshape(ncells, draws, repeats)
        fin = np.isfinite(flat.reshape(ncells, -1))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            put(m + "_mean", np.nanmean(flat.reshape(ncells, -1), 1))
            sd = np.nanstd(flat.reshape(ncells, -1), 1, ddof=1)
            put(m + "_std", np.where(fin.sum(1) >= 2, sd, np.nan))
            put(m + "_min", np.nanmin(flat.reshape(ncells, -1), 1))
            if draws > 1:
                put(m + "_init_std", np.sqrt(np.nanmean(np.nanvar(flat, 2, ddof=1), 1)))
                put(m + "_data_std", np.nanstd(np.nanmean(flat, 2), 1, ddof=1))
    sel = metrics[0]
    n_ok = np.isfinite(cube[sel].reshape(ncells, -1)).sum(1)
    put("n_ok", n_ok, np.int32)
    busy = rng.uniform(5, 10, nranks)
    d = g.create_dataset("rank_busy_seconds", data=busy)
    d.dims[0].attach_scale(rs)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        means = np.nanmean(cube[sel].reshape(ncells, -1), 1)
    best = int(np.nanargmin(means)) if np.any(np.isfinite(means)) else -1
    done = int(np.sum(status == 0))
    for key, v in (("stage_index", k), ("repeats", repeats), ("data_draws", draws), ("reuse_epochs", 1),
                   ("save_models", save_models), ("complete", int(done == ncells * nrep)),
                   ("tasks_done", done), ("tasks_total", ncells * nrep), ("best_cell", best),
                   ("n_skipped", int(np.sum(~np.isfinite(means))))):
        g.attrs[key] = np.int64(v)
    g.attrs["pool_noise"] = np.float64(pool_noise)
    g.attrs["select_metric"] = sel
    g.attrs["best_value"] = np.float64(means[best] if best >= 0 else np.nan)
    g.attrs["balance_efficiency"] = np.float64(busy.mean() / busy.max())
    g.attrs["predicted_makespan"] = np.float64(busy.max())
    g.attrs["inherited_from"] = inherited_from
    axis_names = [a for a, _ in axes]
    for p in PARAMS:
        src = "axis" if p in axis_names else "inherited" if p in inherited else "fixed" if p in fixed else "default"
        g.attrs["source_" + p] = src
        if src != "axis":
            g.attrs[p] = np.float64(base_hp[p])
        if best >= 0:
            g.attrs["best_" + p] = np.float64(cells_hp[best][p])
    return g, cells_hp, best, done, ncells * nrep


def write_synthetic(path, kind="moons", partial=False, seed=0, nranks=2):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        tests = ["test", "noisy"] if kind == "moons" else ["test"]
        mmd = kind == "moons"
        metrics = ["test_mse_%s" % t for t in tests] + ["train_mse"]
        if mmd:
            metrics += ["code_mmd", "code_mean_dist", "code_cov_dist", "gen_mmd"]
        for key, v in (("format", "aesweep-results"), ("aesweep_version", "0.1.0-synthetic"),
                       ("git_commit", "synthetic"), ("study", kind), ("spec", "# synthetic"),
                       ("spec_path", "synthetic.cfg"), ("start_time", "2024-01-01T00:00:00Z"),
                       ("end_time", "2024-01-01T00:05:00Z"), ("stages", ""),
                       ("metrics", ",".join(metrics))):
            f.attrs[key] = v
        f.attrs["schema_version"] = np.int64(1)
        f.attrs["seed"] = np.int64(seed)
        f.attrs["ranks"] = np.int64(nranks)
        dg = f.create_group("data")
        if kind == "moons":
            pool, pl = _moons(2000, 0.1, rng)
            tx = {"test": _moons(500, 0.1, rng), "noisy": _moons(500, 0.2, rng)}
            in_dim, scaler = 2, ("none", np.zeros(2), np.ones(2))
        else:
            x, y = _digits()
            perm = rng.permutation(len(x))
            ntr = 1198
            pool, pl = x[perm[:ntr]], y[perm[:ntr]]
            tx = {"test": (x[perm[ntr:]], y[perm[ntr:]])}
            dg["split"] = perm.astype(np.int64)
            in_dim = 64
            lo, hi = pool.min(0).astype(np.float64), pool.max(0).astype(np.float64)
            scaler = ("minmax", lo, np.where(hi > lo, hi - lo, 1.0))
        for key, v in (("source", kind), ("path", "" if kind == "moons" else "data/digits.csv.gz"),
                       ("scaler", scaler[0]), ("tests", ",".join(tests))):
            dg.attrs[key] = v
        dg.attrs["in_dim"] = np.int64(in_dim)
        dg.attrs["noise"] = np.float64(0.1)
        dg.attrs["train_fraction"] = np.float64(2 / 3)
        dg["pool"] = pool
        dg["pool_labels"] = pl
        for t, (x, y) in tx.items():
            dg["test_" + t] = x
            dg["test_%s_labels" % t] = y
        models = f.create_group("models")
        test_x = {t: v[0] for t, v in tx.items()}
        miss = 0.3 if partial else 0.0
        if kind == "moons":
            plan = [
                ("M1", [("train_size", [500.0, 1000.0, 2000.0]), ("epochs", [50.0, 100.0, 300.0]),
                        ("lr", [0.003, 0.001])], dict(hidden=20, layers=3), dict(repeats=2)),
                ("M2", [("hidden", [10.0, 20.0, 40.0]), ("layers", [1.0, 2.0, 3.0])],
                 dict(train_size=2000), dict(inherited=("epochs", "lr"))),
                ("M4a", [], dict(train_size=2000), dict(repeats=5, inherited=("epochs", "lr", "hidden", "layers"))),
                ("M4b", [], dict(train_size=1000), dict(repeats=2, draws=3,
                                                         inherited=("epochs", "lr", "hidden", "layers"))),
                ("M7", [], dict(train_size=1000), dict(pool_noise=0.2, inherited=("epochs", "lr", "hidden", "layers"))),
                ("M8", [("mmd_lambda", [0.1, 0.5]), ("mmd_kernel", [0.0, 1.0])],
                 dict(train_size=2000, bottleneck=2, mmd_scale=1.0, mmd_nscales=3), dict(mmd=True)),
            ]
        else:
            plan = [
                ("D1", [("train_size", [300.0, 800.0]), ("epochs", [50.0, 300.0]), ("lr", [0.003, 0.001])],
                 dict(hidden=65, layers=1, bottleneck=2), {}),
                ("D2", [("hidden", [65.0, 80.0]), ("layers", [1.0, 2.0])], dict(train_size=1198, bottleneck=2),
                 dict(inherited=("epochs", "lr"))),
                ("D3", [("bottleneck", [2.0, 4.0, 8.0])], dict(train_size=1198),
                 dict(inherited=("epochs", "lr", "hidden", "layers"), save_models=1)),
            ]
        names = []
        done_all = total_all = 0
        prev = None
        for k, (name, axes, fixed, kw) in enumerate(plan):
            if partial and k == len(plan) - 1 and kind == "moons":
                break  # the last stage never started
            fx = dict(fixed)
            if prev is not None:
                for p in kw.get("inherited", ()):
                    fx[p] = prev[p]
            g, cells, best, done, total = _stage(f, k, name, axes, fx, rng, metrics, nranks,
                                                 repeats=kw.get("repeats", 1), draws=kw.get("draws", 1),
                                                 pool_noise=kw.get("pool_noise", -1.0),
                                                 inherited=kw.get("inherited", ()),
                                                 inherited_from=plan[k - 1][0] if kw.get("inherited") else "",
                                                 missing=miss if k <= 1 else 0.0, save_models=kw.get("save_models", 0),
                                                 mmd=kw.get("mmd", False))
            names.append(name)
            done_all += done
            total_all += total
            sg = models.create_group(name)
            if best >= 0:
                hp = cells[best]
                prev = hp
                ntr = int(hp["train_size"])
                if kw.get("pool_noise", -1) >= 0:
                    train = _moons(ntr, kw["pool_noise"], rng)
                else:
                    train = (pool[:ntr], pl[:ntr])
                _write_model(sg.create_group("best"), hp, in_dim, rng, train, test_x, scaler, best)
            if kw.get("save_models"):
                cg = sg.create_group("cells")
                nrep = kw.get("repeats", 1) * kw.get("draws", 1)
                for c, hp in enumerate(cells):
                    ntr = int(hp["train_size"])
                    _write_model(cg.create_group(str(c * nrep)), hp, in_dim, rng, (pool[:ntr], pl[:ntr]),
                                 test_x, scaler, c, with_train_x=False)
        if partial and kind == "moons":
            names.append(plan[-1][0])
            total_all += 4
        f.attrs["stages"] = ",".join(names)
        f.attrs["complete"] = np.int64(0 if partial else 1)
        f.attrs["tasks_done"] = np.int64(done_all)
        f.attrs["tasks_total"] = np.int64(total_all)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--kind", choices=("moons", "digits"), default="moons")
    ap.add_argument("--partial", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(write_synthetic(a.out, a.kind, a.partial, a.seed))


if __name__ == "__main__":
    main()
