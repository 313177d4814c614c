"""Tests of analysis/search.py on a synthetic result file in the layout of search stages
(docs/results-format.md, "Search stages"), written here with h5py: a Hyperband stage of 98 trials
(min_epochs 10, max_epochs 270, eta 3: brackets of 54, 24, 12 and 8 trials) over lr (log-uniform),
hidden (numbers and a width list, coded -(1 + i) with labels), layers and arch (strings), whose
metric is a known function of the parameters and epochs, promoted by the rule of src/halving.c; and a
grid stage over the same parameters for the reference line.

Run by CTest (tests/search.cmake) with AESWEEP_SRC at the source tree.
"""
import math
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("AESWEEP_SRC", os.path.dirname(HERE))
PY = os.environ.get("PYTHON", sys.executable)
sys.path.insert(0, SRC)

from analysis.search import SearchStage  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_E, MAX_E, ETA = 10, 270, 3
HIDDEN = [10.0, 20.0, -1.0]  # -1: the width list [20, 10]
HIDDEN_LABEL = {10.0: "10", 20.0: "20", -1.0: "[20, 10]"}


def schedule(n_trials):
    """Hyperband as src/halving.c plans it: s_max = 3, bracket b has s = 3 - b promotions, weights
    ceil(4 * 3^s / (s + 1)) = 27, 12, 6, 4 (n_trials = 98 is twice that), rung epochs
    10 * 3^(b + i) and max_epochs last, trials per rung max(1, n // 3)."""
    s_max = 3
    w = [math.ceil((s_max + 1) * ETA ** s / (s + 1)) for s in range(s_max, -1, -1)]
    assert n_trials % sum(w) == 0
    n = [x * n_trials // sum(w) for x in w]
    epochs, trials = np.zeros((4, 4), dtype=np.int64), np.zeros((4, 4), dtype=np.int64)
    for b in range(4):
        s, m = s_max - b, n[b]
        for i in range(s + 1):
            epochs[b, i] = MAX_E if i == s else MIN_E * ETA ** (b + i)
            trials[b, i] = m
            m = max(1, m // ETA)
    return n, epochs, trials


def objective(lr, hidden, layers, arch, e):
    """test MSE of a trial at e epochs: a bowl in log lr, a little from the rest, 1/e decay."""
    base = 0.005 + 0.02 * math.log(lr / 0.0012) ** 2 + 0.0004 * (layers == 2) + 0.0002 * (hidden == -1.0)
    return base + 0.05 * MIN_E / e + 0.0001 * (arch == "resnet")


def write_file(path, n_trials=98, with_grid=True):
    rs = np.random.RandomState(0)
    N = n_trials
    lr = np.exp(rs.uniform(math.log(0.0005), math.log(0.003), N))
    hidden = np.array(HIDDEN)[rs.randint(0, 3, N)]
    layers = rs.randint(1, 5, N).astype(np.int64)
    arch = np.array(["mlp", "resnet"])[rs.randint(0, 2, N)]
    nb, epochs, rtrials = schedule(N)
    first = np.concatenate([[0], np.cumsum(nb)[:-1]])
    bracket = np.repeat(np.arange(4), nb).astype(np.int32)
    metric = np.full((N, 4), np.nan)
    status = np.full((N, 4), 3, dtype=np.int8)
    compute = np.zeros((N, 4))
    rnd = np.full((N, 4), -1, dtype=np.int32)
    stop = np.zeros(N, dtype=np.int32)
    # rounds in the order (rung, bracket)
    order = sorted((i, b) for b in range(4) for i in range(4 - b))
    round_of = {key: k for k, key in enumerate(order)}
    for b in range(4):
        alive = list(range(first[b], first[b] + nb[b]))
        for i in range(4 - b):
            seg = epochs[b, i] - (epochs[b, i - 1] if i else 0)
            for t in alive:
                metric[t, i] = objective(lr[t], hidden[t], layers[t], arch[t], epochs[b, i])
                status[t, i] = 0
                compute[t, i] = seg * (1 + abs(hidden[t])) ** 2 * layers[t] * 1e3
                rnd[t, i] = round_of[(i, b)]
                stop[t] = i
            k = max(1, len(alive) // ETA)
            alive = sorted(alive, key=lambda t: (metric[t, i], t))[:k]
            assert i == 3 - b or k == rtrials[b, i + 1]
    fin = [t for t in range(N) if stop[t] == 3 - bracket[t]]
    best = min(fin, key=lambda t: (metric[t, stop[t]], t))
    with h5py.File(path, "w") as f:
        f.attrs["stages"] = "grid,hb" if with_grid else "hb"
        if with_grid:
            g = f.create_group("grid")
            for name, vals in (("lr", [0.0005, 0.001, 0.002, 0.003]), ("hidden", [10, 20]), ("layers", [1, 2, 3, 4]),
                               ("arch", [b"mlp", b"resnet"])):
                g[name] = np.array(vals)
            g.attrs["best_value"] = 0.0052
            g.attrs["compute_total"] = float(compute.sum() * 4)
        g = f.create_group("hb")
        for name, n in (("trial", N), ("rung", 4), ("bracket", 4)):
            g[name] = np.arange(n, dtype=np.int64 if name == "trial" else np.int32)
            g[name].make_scale(name)
        g["lr"] = lr
        g["hidden"] = hidden.astype(np.int64)
        g["hidden"].attrs["labels"] = ";".join(HIDDEN_LABEL[h] for h in hidden)
        g["layers"] = layers
        g["arch"] = np.array([a.encode() for a in arch])
        for name, arr in (("test_mse_test", metric), ("status", status), ("compute", compute), ("round", rnd)):
            g[name] = arr
            g[name].dims[0].attach_scale(g["trial"])
            g[name].dims[1].attach_scale(g["rung"])
        for name in ("lr", "hidden", "layers", "arch"):
            g[name].dims[0].attach_scale(g["trial"])
        g["stop_rung"] = stop
        g["trial_bracket"] = bracket
        g["compute_used"] = compute.sum(axis=1)
        g["rung_epochs"] = epochs
        g["rung_trials"] = rtrials
        g["bracket_first_trial"] = first.astype(np.int64)
        g["bracket_trials"] = np.array(nb, dtype=np.int64)
        g.attrs.update({"sampler": "random", "n_trials": N, "min_epochs": MIN_E, "max_epochs": MAX_E, "eta": ETA,
                        "brackets": 4, "s_max": 3, "select_metric": "test_mse_test", "compute_units": "FLOP",
                        "compute_total": float(compute.sum()), "best_trial": best,
                        "best_value": float(metric[best, stop[best]]), "search_params": "lr,hidden,layers,arch"})
    return dict(metric=metric, compute=compute, rnd=rnd, stop=stop, best=best, lr=lr, hidden=hidden,
                bracket=bracket, epochs=epochs, fin=fin)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search")
    path = str(tmp / "search.h5")
    truth = write_file(path)
    out = str(tmp / "out")
    p = subprocess.run([PY, os.path.join(SRC, "analysis", "search.py"), path, "-o", out], capture_output=True,
                       text=True, timeout=600, env=dict(os.environ, MPLBACKEND="Agg"))
    assert p.returncode == 0, p.stderr
    md_path = p.stdout.strip().splitlines()[-1]
    with open(md_path) as f:
        md = f.read()
    return path, truth, out, md


def test_figures(made):
    import matplotlib.image as mpimg
    path, truth, out, md = made
    for name in ("best_so_far", "rungs", "params", "parallel"):
        png = os.path.join(out, name + ".png")
        assert "(%s.png)" % name in md
        assert os.path.getsize(png) > 5000, name
        with open(png, "rb") as f:
            assert f.read(8) == PNG_MAGIC
        img = mpimg.imread(png)
        assert img.shape[0] > 200 and img.shape[1] > 300
        assert img[..., :3].std() > 0.02, name  # not a blank canvas


def test_reading(made):
    path, truth, out, md = made
    with h5py.File(path, "r") as f:
        st = SearchStage(f, "hb")
    assert st.n == 98 and st.params == ["lr", "hidden", "layers", "arch"]
    assert st.best_trial == truth["best"]
    assert st.labels["hidden"] == HIDDEN_LABEL
    assert st.labels["arch"] == {0.0: "mlp", 1.0: "resnet"}
    assert list(st.nrungs_of) == [4, 3, 2, 1]
    assert int(st.finished().sum()) == len(truth["fin"]) == 2 + 2 + 4 + 8
    # deepest rung: metric and epochs of each trial's stop rung
    m, e = st.deepest()
    for t in range(st.n):
        assert m[t] == truth["metric"][t, truth["stop"][t]]
        assert e[t] == truth["epochs"][truth["bracket"][t], truth["stop"][t]]


def test_best_so_far(made):
    path, truth, out, md = made
    with h5py.File(path, "r") as f:
        st = SearchStage(f, "hb")
    comp, best, t, r = st.trace()
    trained = truth["rnd"] >= 0
    assert len(comp) == int(trained.sum())
    assert comp[-1] == pytest.approx(truth["compute"].sum(), rel=1e-12)
    assert np.all(np.diff(comp) > 0) and np.all(np.diff(best) <= 0)
    assert best[-1] == np.nanmin(truth["metric"])
    # segments come in round order, trials ascending within a round
    key = truth["rnd"][t, r].astype(np.int64) * 1000 + t
    assert np.all(np.diff(key) > 0)
    # the best so far after round k is the minimum over rounds <= k, recomputed independently
    for k in range(int(truth["rnd"].max()) + 1):
        upto = np.where((truth["rnd"] >= 0) & (truth["rnd"] <= k), truth["metric"], np.inf)
        last = np.nonzero(truth["rnd"][t, r] <= k)[0][-1]
        assert best[last] == upto.min()


def test_markdown(made):
    path, truth, out, md = made
    b = truth["best"]
    assert "Best trial %d: test_mse_test = %.6g" % (b, truth["metric"][b, truth["stop"][b]]) in md
    assert "hidden=%s" % HIDDEN_LABEL[truth["hidden"][b]] in md
    assert "| 0 | 54@10 18@30 6@90 2@270 |" in md
    assert "| 3 | 8@270 |" in md
    fb = np.nanmin(truth["metric"])
    assert "Grid stage grid: best 0.0052; the search's best %.6g is %+.2f%% of it (25.0%% of its compute)" % (
        fb, 100 * (fb / 0.0052 - 1)) in md
    # importance: at an epoch count, never a rung index (review: "rung 0" mixed 10, 30, 90 and 270
    # epochs): the one most trials were measured at (10: bracket 0's 54) and the largest with >= 10
    # trials (270: 2 + 2 + 4 + 8). The objective is a bowl in log lr; the forest must rank lr first
    tables = [blk for blk in md.split("Parameter importance at ")[1:]]
    assert [blk.split(";")[0] for blk in tables] == ["10 epochs (54 trials", "270 epochs (16 trials"], tables
    for blk in tables:
        rows = [line.split("|")[1:-1] for line in blk.splitlines() if line.startswith("| ") and "parameter" not in line]
        assert rows[0][0].strip() == "lr", blk
        mdi = {r[0].strip(): float(r[1]) for r in rows}
        assert mdi["lr"] > 0.5 and abs(sum(mdi.values()) - 1) < 0.01


def test_no_search_stage(tmp_path):
    path = str(tmp_path / "grid.h5")
    with h5py.File(path, "w") as f:
        f.attrs["stages"] = "grid"
        f.create_group("grid")
    p = subprocess.run([PY, os.path.join(SRC, "analysis", "search.py"), path, "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "no search stage" in lines[0] and path in lines[0]


def test_grid_in_another_file(tmp_path):
    """--grid FILE.h5:STAGE: the reference grid run as a study of its own (jobs/moons-search-grid.cfg)."""
    search, other = str(tmp_path / "search.h5"), str(tmp_path / "grid.h5")
    truth = write_file(search, with_grid=False)
    write_file(other, with_grid=True)
    run = [PY, os.path.join(SRC, "analysis", "search.py"), search, "-o", str(tmp_path / "o")]
    p = subprocess.run(run + ["--grid", other + ":nosuch"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "no stage nosuch" in p.stderr
    p = subprocess.run(run + ["--grid", other + ":grid"], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, MPLBACKEND="Agg"))
    assert p.returncode == 0, p.stderr
    with open(p.stdout.strip().splitlines()[-1]) as f:
        md = f.read()
    fb = np.nanmin(truth["metric"])
    assert "Grid stage grid.h5:grid: best 0.0052; the search's best %.6g is %+.2f%% of it (25.0%% of its compute)" % (
        fb, 100 * (fb / 0.0052 - 1)) in md
    # --grid FILE.h5 alone, the search stage named like the other file's grid stage (review: the pair
    # of jobs/moons-search-grid.cfg, Hyperband over the grid's cells, is `grid` in both files)
    with h5py.File(search, "a") as f:
        f.move("hb", "grid")
        f.attrs["stages"] = "grid"
    p = subprocess.run(run + ["--grid", other], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, MPLBACKEND="Agg"))
    assert p.returncode == 0, p.stderr
    with open(p.stdout.strip().splitlines()[-1]) as f:
        md = f.read()
    assert "Grid stage grid.h5:grid: best 0.0052" in md


def test_rungs_with_curves(made, tmp_path):
    """A halving stage with learning curves (curve_points; /<stage>/curves, one row per trial, NaN
    beyond its last epoch): SearchStage reads them and the rung figure draws each trial's curve
    through its rung results: every rung point plus every finite curve point up to its last epoch."""
    import shutil
    from analysis.search import fig_rungs
    path, truth, out, md = made
    cpath = str(tmp_path / "curves.h5")
    shutil.copy(path, cpath)
    ce = np.arange(10, MAX_E + 1, 10, dtype=np.int32)  # every 10 epochs; the rung ends 10, 30, 90, 270 among them
    last = np.array([truth["epochs"][truth["bracket"][t], truth["stop"][t]] for t in range(len(truth["stop"]))])
    curve = np.where(ce[None, :] <= last[:, None], 0.01 + 1.0 / ce[None, :], np.nan)
    with h5py.File(cpath, "a") as f:
        c = f["hb"].create_group("curves")
        c["epoch"] = ce
        c["epoch"].make_scale("epoch")
        c["test_mse_test"] = curve
    with h5py.File(cpath, "r") as f:
        st = SearchStage(f, "hb")
    assert st.curve.shape == (len(last), len(ce)) and list(st.curve_epochs) == list(ce)
    want = 0
    for t in range(len(last)):
        rung_e = {int(truth["epochs"][truth["bracket"][t], r]) for r in range(truth["stop"][t] + 1)}
        want += len(rung_e) + sum(1 for e in ce if e <= last[t] and int(e) not in rung_e)
    drawn = fig_rungs(st, str(tmp_path))
    assert drawn == want
    # without curves: the rung points alone
    with h5py.File(path, "r") as f:
        assert fig_rungs(SearchStage(f, "hb"), str(tmp_path)) == sum(int(s) + 1 for s in truth["stop"])
