"""Search stages as third-party readers see them (docs/results-format.md, "Search stages").

tests/test_results_search.c writes three files from hand-built plans (a Hyperband stage run to
the end, the same cut off after its first round, a sampled stage with repeats); this reads them
with h5py, xarray (h5netcdf), netCDF-C's ncdump and analysis/search.py.  Run by CTest
(tests/results_search.cmake) with AESWEEP_SEARCH_TEST at the C test's binary.  ~3 s.
"""
import contextlib
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("AESWEEP_SRC", os.path.dirname(HERE))
PY = os.environ.get("PYTHON", sys.executable)
sys.path.insert(0, SRC)

from analysis.search import SearchStage, find_search_stages  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rsearch")
    p = subprocess.run([os.environ["AESWEEP_SEARCH_TEST"]], cwd=str(d), capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, AESWEEP_SEARCH_FILES=str(d)))
    assert p.returncode == 0, p.stdout + p.stderr
    return {k: str(d / ("search_%s.h5" % k)) for k in ("full", "partial", "sampled")}


def scale_names(ds):
    return [ds.dims[i][0].name.rsplit("/", 1)[-1] for i in range(ds.ndim)]


def test_h5py_layout(files):
    with h5py.File(files["full"], "r") as f:
        g = f["hb"]
        n, r = len(g["trial"]), len(g["rung"])
        assert (n, r) == (6, 3) and g["trial"].dtype == np.int64
        for v in ("test_mse_a", "train_mse", "status", "seconds", "compute", "round"):
            assert g[v].shape == (n, r) and scale_names(g[v]) == ["trial", "rung"], v
        for v in ("lr", "hidden", "stop_rung", "trial_bracket", "compute_used"):
            assert g[v].shape == (n,) and scale_names(g[v]) == ["trial"], v
        assert scale_names(g["rung_epochs"]) == ["bracket", "rung"]
        assert g["rung_epochs"][()].tolist() == [[10, 30, 90], [30, 90, 0], [90, 0, 0]]
        assert g["rung_trials"][()].tolist() == [[3, 1, 1], [2, 1, 0], [1, 0, 0]]
        m, st, stop = g["test_mse_a"][()], g["status"][()], g["stop_rung"][()]
        rnd, comp = g["round"][()], g["compute"][()]
        # NaN exactly where not trained (and where trial 4 diverged); rounds end-aligned (search.h):
        # rung k of a bracket of nb rungs ran in round k + 3 - nb
        trained = rnd >= 0
        assert np.array_equal(trained, st != 3)
        assert np.all(np.isnan(m[~trained])) and np.all(comp[~trained] == 0)
        nb = (g["rung_epochs"][()] > 0).sum(axis=1)[g["trial_bracket"][()]]
        t_, k_ = np.nonzero(trained)
        assert np.all(rnd[t_, k_] == k_ + 3 - nb[t_])
        assert st[4, 0] == 1 and np.isnan(m[4, 0]) and stop[4] == 0
        for t in range(n):
            assert stop[t] == np.nonzero(trained[t])[0].max()
        assert np.allclose(g["compute_used"][()], comp.sum(axis=1), rtol=0, atol=0)
        a = g.attrs
        assert a["compute_total"] == comp.sum() and a["best_trial"] >= 0
        bt = int(a["best_trial"])
        assert stop[bt] == 3 - 1 - g["trial_bracket"][bt]  # reached its bracket's last rung: max_epochs
        assert a["best_value"] == m[bt, stop[bt]] and a["best_lr"] == g["lr"][bt]
        assert a["source_lr"] == "search" and "lr" not in a


def test_partial_stage(files):
    """Cut off after two of three rounds: what exists, nothing more; no best trial."""
    with h5py.File(files["partial"], "r") as f:
        g = f["hb"]
        assert g.attrs["complete"] == 0 and g.attrs["best_trial"] == -1
        rnd, m, stop = g["round"][()], g["test_mse_a"][()], g["stop_rung"][()]
        assert np.all(rnd[:, 2] == -1) and np.all(np.isnan(m[:, 2])) and rnd.max() == 1
        # bracket 0 (trials 0-2): rung 0, one promoted to rung 1; bracket 1 (3, 4): rung 0; bracket 2: nothing
        assert sorted(stop[:3].tolist()) == [0, 0, 1] and stop[3] == 0 and stop[4] == 0 and stop[5] == -1
        assert np.all(np.isnan(m[5])) and g["compute_used"][5] == 0


def test_xarray_opens(files):
    import xarray as xr  # scripts/deps.sh installs it: missing is a failure, not a skip
    with xr.open_dataset(files["full"], group="hb", engine="h5netcdf") as ds:
        assert ds["test_mse_a"].dims == ("trial", "rung")
        # the parameters are CF auxiliary coordinates along trial
        assert "lr" in ds["test_mse_a"].coords and ds["lr"].dims == ("trial",)
        assert ds["rung_epochs"].dims == ("bracket", "rung")
        df = ds["test_mse_a"].to_dataframe()
        assert len(df) == 18
        assert int(ds["trial"][-1]) == 5
    with xr.open_dataset(files["sampled"], group="smp", engine="h5netcdf") as ds:
        assert ds["test_mse_a"].dims == ("trial", "repeat")
        assert ds["test_mse_a_mean"].dims == ("trial",)
        assert list(ds["activation"].values) == ["relu", "tanh", "elu"]
        assert ds["compute_used"].attrs["units"] == "FLOP"


def test_netcdf_c(files):
    for k, path in files.items():
        p = subprocess.run(["ncdump", "-h", path], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (k, p.stderr)
    p = subprocess.run(["ncdump", "-v", "stop_rung,rung_epochs", "-g", "hb", files["full"]], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "double test_mse_a(trial, rung)" in p.stdout
    assert "int64 rung_epochs(bracket, rung)" in p.stdout
    assert "rung_epochs =\n  10, 30, 90,\n  30, 90, 0,\n  90, 0, 0 ;" in p.stdout


def test_analysis_reads(files, tmp_path):
    with h5py.File(files["full"], "r") as f:
        assert find_search_stages(f) == ["hb"]
        st = SearchStage(f, "hb")
        assert st.n == 6 and st.params == ["lr", "hidden"]
        assert st.labels["hidden"] == {10.0: "10", -1.0: "[20, 10]"}
        comp, best, t, r = st.trace()
        assert comp[-1] == f["hb"]["compute"][()].sum()
    with h5py.File(files["partial"], "r") as f:
        st = SearchStage(f, "hb")
        m, e = st.deepest()
        ran = st.stop_rung >= 0
        assert np.all(e[ran] == st.rung_epochs[st.bracket[ran], st.stop_rung[ran]]) and e[5] == 0 and np.isnan(m[5])
    out = str(tmp_path / "out")
    for k in ("full", "partial", "sampled"):
        p = subprocess.run([PY, os.path.join(SRC, "analysis", "search.py"), files[k], "-o", out + k],
                           capture_output=True, text=True, timeout=300, env=dict(os.environ, MPLBACKEND="Agg"))
        assert p.returncode == 0, (k, p.stderr)
        assert os.path.exists(os.path.join(out + k, "search.md"))


def test_export(files, tmp_path):
    """`aesweep export`: a halving stage as one row per trial and rung of its bracket (epochs = the
    rung's), a sampled one per trial, draw and repeat; values as in the file."""
    import csv
    binary = os.environ.get("AESWEEP_BIN")
    if not binary:
        pytest.fail("AESWEEP_BIN not set: run through ctest (a skip would count as a pass)")
    out = str(tmp_path / "full.csv")
    p = subprocess.run([binary, "export", files["full"], "--csv", out], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    with h5py.File(files["full"], "r") as f:
        g = f["hb"]
        re, tb, m = g["rung_epochs"][()], g["trial_bracket"][()], g["test_mse_a"][()]
        labels = g["hidden"].attrs["labels"].split(";")
        want = [(t, k) for t in range(len(tb)) for k in range(3) if re[tb[t], k] > 0]
        assert [(int(r["cell"]), int(r["epochs"])) for r in rows] == [(t, re[tb[t], k]) for t, k in want]
        for r, (t, k) in zip(rows, want):
            assert r["hidden"] == labels[t] and float(r["lr"]) == g["lr"][t]
            assert (r["test_mse_a"] == "" and np.isnan(m[t, k])) or float(r["test_mse_a"]) == m[t, k]
            assert r["status"] == ("ok", "diverged", "interrupted", "not_run")[g["status"][t, k]]
    p = subprocess.run([binary, "export", files["sampled"], "--csv", "-"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(p.stdout.splitlines()))
    assert [(r["cell"], r["repeat"], r["activation"], r["train_size"]) for r in rows] == [
        ("0", "0", "relu", "100"), ("0", "1", "relu", "100"), ("1", "0", "tanh", "200"), ("1", "1", "tanh", "200"),
        ("2", "0", "elu", "300"), ("2", "1", "elu", "300")]
    assert rows[-1]["status"] == "not_run" and rows[-1]["test_mse_a"] == ""


def test_status(files):
    binary = os.environ.get("AESWEEP_BIN")
    if not binary:
        pytest.fail("AESWEEP_BIN not set: run through ctest (a skip would count as a pass)")
    import json
    p = subprocess.run([binary, "status", "--json", files["partial"]], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    hb = json.loads(p.stdout)["stages"][0]
    assert hb["state"] == "cut off" and hb["trials_done"] == 5 and hb["rung_tasks_done"] == [5, 1, 0]
    p = subprocess.run([binary, "status", files["full"]], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "[trials 6/6, by rung 6 2 1]" in p.stdout and " done " in p.stdout


# ---- a real run (results_search_run): jobs of every kind of search stage at -np 2 -----------------
SPEC = os.path.join(HERE, "specs", "search_results.cfg")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", MPLBACKEND="Agg")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    binary = os.environ.get("AESWEEP_BIN")
    if not binary:
        pytest.fail("AESWEEP_BIN not set: run through ctest (a skip would count as a pass)")
    d = tmp_path_factory.mktemp("rsearch_run")
    out = str(d / "run.h5")
    p = subprocess.run(["mpirun", "-np", "2", binary, "run", SPEC, "-o", out], capture_output=True, text=True,
                       timeout=600, env=ENV, cwd=str(d))
    assert p.returncode == 0, p.stderr
    v = subprocess.run([binary, "validate", SPEC, "--ranks", "2", "-o", str(d / "v.h5")], capture_output=True,
                       text=True, timeout=120, env=ENV, cwd=str(d))
    assert v.returncode == 0, v.stderr
    return binary, out, v.stdout, d


def promoted(metric, trials, eta):
    """halving.h's rule, written again: lower metric first, ties by trial, non-finite never; the first
    min(max(1, m // eta), finite) of m."""
    fin = [t for t in trials if np.isfinite(metric[t])]
    return sorted(sorted(fin, key=lambda t: (metric[t], t))[:max(1, len(trials) // eta)])


def test_real_run_layout(real):
    binary, out, vout, d = real
    with h5py.File(out, "r") as f:
        g = f["hb"]
        a = g.attrs
        eta, emax = int(a["eta"]), int(a["max_epochs"])
        m, rnd, st = g["test_mse_test"][()], g["round"][()], g["status"][()]
        stop, tb, comp = g["stop_rung"][()], g["trial_bracket"][()], g["compute"][()]
        re, first, ntr = g["rung_epochs"][()], g["bracket_first_trial"][()], g["bracket_trials"][()]
        assert a["complete"] == 1 and a["sampler"] == "random" and int(a["n_trials"]) == 12
        # which trials trained which rung is halving's promotion of the rung before, recomputed here
        for b in range(len(first)):
            alive = list(range(first[b], first[b] + ntr[b]))
            for k in range(int((re[b] > 0).sum())):
                assert [t for t in range(len(tb)) if tb[t] == b and rnd[t, k] >= 0] == alive
                nb = int((re[b] > 0).sum())  # end-aligned rounds (search.h): rung k in round k + R - nb
                assert all(rnd[t, k] == k + re.shape[1] - nb for t in alive)
                alive = promoted(m[:, k], alive, eta)
        trained = rnd >= 0
        assert np.array_equal(trained, st != 3) and np.all(comp[trained] > 0) and np.all(comp[~trained] == 0)
        assert np.all(np.isnan(m[~trained]))
        assert a["compute_total"] == comp.sum()
        # the best trial: lowest metric among trials that reached max_epochs, ties by trial
        at_max = [(m[t, stop[t]], t) for t in range(len(stop)) if re[tb[t], stop[t]] == emax and np.isfinite(m[t, stop[t]])]
        bv, bt = min(at_max)
        assert a["best_trial"] == bt and a["best_value"] == bv and a["best_epochs"] == emax
        assert a["best_lr"] == g["lr"][bt] and a["best_activation"] == g["activation"][bt].decode()
        assert a["best_hidden_label" if g["hidden"][bt] < 0 else "best_hidden"] in (
            g["hidden"].attrs["labels"].split(";")[bt], g["hidden"][bt])
        # inherit: the next stage trained with the best trial's values
        r = f["refit"].attrs
        assert r["source_lr"] == "inherited" and r["lr"] == a["best_lr"] and r["activation"] == a["best_activation"]
        assert r["hidden"] == a["best_hidden"]
        # a sampled stage: [trial][repeat], statistics per trial, compute per trial
        s = f["smp"]
        assert s["test_mse_test"].shape == (4, 2) and s["test_mse_test_mean"].shape == (4,)
        assert np.all(s["round"][()] == 0) and np.all(s["compute_used"][()] > 0)
        assert s.attrs["best_trial"] == int(np.argmin(s["test_mse_test_mean"][()]))
    # TPE + halving: one bracket, each batch of tpe_batch trials run as its own successive halving in
    # rounds b R .. b R + R - 1; rung_trials sum the batches'
    with h5py.File(out, "r") as f:
        g = f["tpehb"]
        tm, trnd, ttb = g["test_mse_test"][()], g["round"][()], g["trial_bracket"][()]
        assert g.attrs["sampler"] == "tpe" and g.attrs["brackets"] == 1 and ttb.tolist() == [0] * 10
        assert g["rung_trials"][()].tolist() == [[10, 2]] and g["rung_epochs"][()].tolist() == [[3, 9]]
        for b in range(2):
            alive = list(range(5 * b, 5 * b + 5))
            assert all(trnd[t, 0] == 2 * b for t in alive)
            win = promoted(tm[:, 0], alive, 3)
            assert [t for t in alive if trnd[t, 1] >= 0] == win and all(trnd[t, 1] == 2 * b + 1 for t in win)
    # validate's bounds hold the run: its compute, and the sum over the rounds that ran of the LPT
    # makespan at 2 ranks (largest first to the least loaded, as plan.c places them)
    line = [x for x in vout.splitlines() if "segments in" in x][0]
    bound = float(line.split("cost <= ")[1].split(" GFLOP")[0]) * 1e9
    mk_bound = float(line.split("makespan at 2 rank(s) <= ")[1].split(" GFLOP")[0]) * 1e9
    assert comp.sum() <= bound * (1 + 1e-3)
    mk = 0.0
    for k in range(int(rnd.max()) + 1):
        load = [0.0, 0.0]
        for c in sorted(comp[rnd == k], reverse=True):
            load[load.index(min(load))] += c
        mk += max(load)
    assert 0 < mk <= mk_bound * (1 + 1e-3)
    # a tpe stage's bound takes every trial at the space's costliest point (budget_space_corner): it
    # holds whatever TPE proposed (review: random draws gave an estimate below a run's compute)
    lines = vout.splitlines()
    at = [i for i, x in enumerate(lines) if x.strip().startswith("stage tpehb")][0]
    tline = [x for x in lines[at:] if "segments in" in x][0]
    assert "costliest point" in lines[lines.index(tline) + 1]
    with h5py.File(out, "r") as f:
        tcomp = f["tpehb"]["compute"][()].sum()
    assert 0 < tcomp <= float(tline.split("cost <= ")[1].split(" GFLOP")[0]) * 1e9 * (1 + 1e-3)
    # validate's bound on rank 0's carried states holds the run's measured peak (dispatch.c's count)
    kib = line.split("carried states on rank 0 <= ")[1].split()
    state_bound = float(kib[0]) * {"KiB": 1024.0, "MiB": 1048576.0, "GiB": 1073741824.0}[kib[1]]
    with h5py.File(out, "r") as f:
        peak = f["hb"].attrs["state_peak_bytes"]
    assert 0 < peak <= state_bound * (1 + 1e-3), (peak, state_bound)


def test_real_run_readers(real):
    binary, out, vout, d = real
    import xarray as xr  # scripts/deps.sh installs it: missing is a failure, not a skip
    with xr.open_dataset(out, group="hb", engine="h5netcdf") as ds:
        assert ds["test_mse_test"].dims == ("trial", "rung") and "lr" in ds["test_mse_test"].coords
        lr, act = ds["lr"].values, ds["activation"].values
        # results-format.md's recipe: the trial variables alone make one row per trial and rung
        df = ds[[v for v in ds.data_vars if "bracket" not in ds[v].dims]].to_dataframe()
        assert len(df) == ds.sizes["trial"] * ds.sizes["rung"] and "lr" in df.columns
    # the curves group opened on its own labels each curve with its trial's parameters (review: it had
    # only trial and epoch), the same values as the stage's own
    with xr.open_dataset(out, group="hb/curves", engine="h5netcdf") as cg:
        cv = cg["test_mse_test"]
        assert cv.dims == ("trial", "epoch") and {"lr", "activation", "hidden"} <= set(cv.coords)
        assert cv.coords["lr"].values.tobytes() == lr.tobytes() and list(cv.coords["activation"].values) == list(act)
    # the learning curves of a halving stage: (trial, epoch), through the trial's results at its rung
    # epochs, NaN beyond the last epoch it reached (netCDF4, the C library's reader)
    import netCDF4
    with netCDF4.Dataset(out) as nc:
        g = nc["hb"]
        cv = g["curves"]["test_mse_test"]
        assert cv.dimensions == ("trial", "epoch")
        ce, c = list(g["curves"]["epoch"][:]), np.ma.filled(cv[:], np.nan)
        m, tb, re, stop = (np.ma.filled(g[v][:], np.nan) for v in ("test_mse_test", "trial_bracket", "rung_epochs", "stop_rung"))
    assert ce == [3, 6, 9, 12, 15, 18, 21, 24, 27]
    for t in range(c.shape[0]):
        last = int(re[int(tb[t]), int(stop[t])])
        for r in range(int(stop[t]) + 1):
            got = c[t, ce.index(int(re[int(tb[t]), r]))]
            assert got.tobytes() == m[t, r].tobytes(), (t, r, got, m[t, r])  # bit for bit, NaN after a divergence too
        assert np.all(np.isnan(c[t, [i for i, e in enumerate(ce) if e > last]]))
    assert subprocess.run(["ncdump", "-h", out], capture_output=True, timeout=60).returncode == 0
    # NCO (Debian 12: 5.1.4) extracts a variable with the trial parameters its CF `coordinates` names,
    # which it does only when that attribute and the root's Conventions are NC_CHAR (review: ncks
    # warned and dropped them)
    sub = str(d / "hb_metric.nc")
    p = subprocess.run(["ncks", "-O", "-g", "hb", "-v", "test_mse_test", out, sub], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "NC_STRING" not in p.stderr, p.stderr
    head = subprocess.run(["ncdump", "-h", sub], capture_output=True, text=True, timeout=60).stdout
    for v in ("double lr(trial)", "hidden(trial)", "activation(trial)", ':coordinates = "'):
        assert v in head, (v, head)
    # analysis.load_cells: one row per trial with the trial's own values (review: the searched
    # parameters came out NaN / INT64_MIN and a halving stage as trial x rung rows)
    from analysis.tables import load_cells
    hb, smp = load_cells(out, "hb"), load_cells(out, "smp")
    with h5py.File(out, "r") as f:
        g = f["hb"]
        stop, tm = g["stop_rung"][()], g["test_mse_test"][()]
        labels = str(g["hidden"].attrs["labels"]).split(";") if "labels" in g["hidden"].attrs else None
        assert len(hb) == 12 and hb["cell"].tolist() == list(range(12))
        assert g.attrs["source_epochs"] == "halving" and g.attrs["epochs"] == g.attrs["max_epochs"] == 27
        assert np.array_equal(hb["lr"].to_numpy(), g["lr"][()]) and hb["stop_rung"].tolist() == stop.tolist()
        assert hb["activation"].tolist() == [x.decode() if isinstance(x, bytes) else x for x in g["activation"][()]]
        assert labels and [str(h) for h in hb["hidden"]] == labels  # one label per trial: "4" or "[6, 4]"
        bm = f["models/hb/best"].attrs  # a width list's code comes with its label (review: -1 alone)
        want = labels[int(g.attrs["best_trial"])]
        if int(bm["hidden"]) < 0:
            assert str(bm["hidden_label"]) == want
        else:
            assert "hidden_label" not in bm and str(int(bm["hidden"])) == want
        assert np.array_equal(hb["test_mse_test"].to_numpy(), tm[np.arange(12), stop], equal_nan=True)
        assert hb["epochs"].tolist() == [int(g["rung_epochs"][()][b, r]) for b, r in zip(g["trial_bracket"][()], stop)]
        s = f["smp"]
        assert len(smp) == 4 and np.array_equal(smp["train_size"].to_numpy(), s["train_size"][()])
        assert np.array_equal(smp["test_mse_test_mean"].to_numpy(), s["test_mse_test_mean"][()], equal_nan=True)
    with h5py.File(out, "r") as f:
        assert find_search_stages(f) == ["hb", "smp", "tpehb"]
        st = SearchStage(f, "hb")
        comp, best, t, r = st.trace()
        assert comp[-1] == f["hb"]["compute"][()].sum() and best[-1] == np.nanmin(f["hb"]["test_mse_test"][()])
    with h5py.File(out, "r") as f:  # a complete halving stage's total is the segments it ran, not trials x rungs
        g = f["hb"]
        assert g.attrs["tasks_total"] == g.attrs["tasks_done"] == int((g["status"][()] != 3).sum())
        assert g.attrs["tasks_total"] < g["status"].size
    # the whole-study report: a search section per search stage (search.py's figures and importance)
    rep = d / "report"
    p = subprocess.run([PY, "-m", "analysis.report", out, "-o", str(rep), "--strict"], capture_output=True, text=True,
                       timeout=600, env=ENV, cwd=SRC)
    assert p.returncode == 0, p.stderr
    md = open(rep / "report.md").read()
    for stage in ("hb", "smp", "tpehb"):
        assert "## Stage %s: search" % stage in md
        for fig in ("best_so_far", "rungs", "params", "parallel"):
            assert (rep / ("%s_%s.png" % (stage, fig))).stat().st_size > 1000
    # hb's 12 trials: at most 6 measured at any one epoch count (3: 6, 9: 2 + 4, 27: 1 + 1 + 2), too
    # few for an importance table (review: it was taken at "rung 0", mixing 3, 9 and 27 epochs)
    assert "<!-- table:hb_importance -->" not in md and "Idle share of the ranks" in md
    assert "Parameter importance: fewer than 10 trials at any one epoch count" in md
    for stage in ("hb", "smp", "tpehb"):
        p = subprocess.run([PY, os.path.join(SRC, "analysis", "search.py"), out, "--stage", stage, "-o",
                            str(d / ("figs_" + stage))], capture_output=True, text=True, timeout=300, env=ENV)
        assert p.returncode == 0, p.stderr
    p = subprocess.run([binary, "status", "--json", out], capture_output=True, text=True, timeout=60)
    import json
    hb = json.loads(p.stdout)["stages"][0]
    assert hb["state"] == "done" and hb["trials_done"] == 12 and hb["rung_tasks_done"][0] == 12
    p = subprocess.run([binary, "info", out], capture_output=True, text=True, timeout=60)
    with h5py.File(out, "r") as f:
        bt = int(f["hb"].attrs["best_trial"])
    lines = {x.split()[0]: x for x in p.stdout.splitlines()[2:]}
    assert "[search: random, 12 trials, best trial %d]" % bt in lines["hb"]
    assert "(* inherited from hb)" in lines["refit"] and "inherited from" not in lines["smp"]
    # info --json gives the best trial's sampled lr with every digit (review: %g's six made `aesweep
    # train --lr` of it another trial)
    js = json.loads(subprocess.run([binary, "info", "--json", out], capture_output=True, text=True,
                                   timeout=60).stdout)
    with h5py.File(out, "r") as f:
        assert js["stages"][0]["params"]["lr"]["best"] == float(f["hb"].attrs["best_lr"])


def _status(binary, out):
    import json
    return json.loads(subprocess.run([binary, "status", "--json", out], capture_output=True, text=True,
                                     timeout=60, env=ENV).stdout)


def _stop_rank0_when(binary, out, run, what, reached):
    """Poll `status --json` of the run writing `out` until reached(its first stage) holds, then SIGSTOP
    rank 0 (nothing more is journaled). States, not seconds: 10 minutes is only the give-up bound."""
    t0 = time.time()
    while time.time() - t0 < 600:
        assert run.poll() is None, "the run ended before %s: %s" % (what, run.stderr.read()[-2000:])
        if os.path.exists(out + ".journal") and os.path.exists(out + ".lock"):
            s = _status(binary, out)
            if s["alive"] and reached(s["stages"][0]):
                os.kill(s["pid"], signal.SIGSTOP)
                return s
        time.sleep(0.05)
    raise AssertionError("the run did not reach %s in 600 s" % what)


@contextlib.contextmanager
def _cut_run(binary, spec, out):
    """An `aesweep run` at -np 2 in a session of its own, SIGKILLed (the whole group) when the block
    ends, however it ends; then waits until `status` no longer sees it alive (the ranks of a killed
    mpirun die with it, not at once)."""
    run = subprocess.Popen(["mpirun", "-np", "2", binary, "run", spec, "-o", out, "--quiet"], env=ENV,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        yield run
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=120)
    for _ in range(600):
        if not _status(binary, out)["alive"]:
            break
        time.sleep(0.1)


def test_real_run_cut_mid_bracket(real, tmp_path):
    """A halving stage caught mid-bracket (a promoted trial's rung 1 journaled, states carried): status
    and its snapshot show what exists, analysis.search reads the snapshot, and after SIGKILL and
    --resume the file equals an uninterrupted run's (tests/h5_compare.py)."""
    binary = real[0]
    spec = os.path.join(HERE, "specs", "search_results_slow.cfg")
    ref, out, snap = str(tmp_path / "ref.h5"), str(tmp_path / "cut.h5"), str(tmp_path / "snap.h5")
    p = subprocess.run(["mpirun", "-np", "2", binary, "run", spec, "-o", ref, "--quiet"], capture_output=True,
                       text=True, timeout=900, env=ENV)
    assert p.returncode == 0, p.stderr
    with _cut_run(binary, spec, out) as run:
        _stop_rank0_when(binary, out, run, "a rung-1 segment",
                         lambda st: st.get("rung_tasks_done", [0, 0])[1] >= 1)  # every look below sees one state
        hb = _status(binary, out)["stages"][0]
        # every trial that trained ran its rung 0 first; a rung-1 segment ran
        assert hb["state"] == "running" and hb["trials_done"] == hb["rung_tasks_done"][0] >= 1
        assert hb["rung_tasks_done"][1] >= 1 and hb["trials_total"] == 100
        assert subprocess.run([binary, "status", "--snapshot", snap, out], capture_output=True, timeout=120,
                              env=ENV).returncode == 0
    with h5py.File(snap, "r") as f:
        g = f["hb"]
        assert g.attrs["complete"] == 0 and g.attrs["best_trial"] == -1
        rnd, re = g["round"][()], g["rung_epochs"][()]
        nb = (re > 0).sum(axis=1)[g["trial_bracket"][()]]
        t_, k_ = np.nonzero(rnd >= 0)  # the rounds' rule holds in a snapshot too (task_round not in the journal)
        assert np.all(rnd[t_, k_] == k_ + re.shape[1] - nb[t_]) and (rnd[:, 1] >= 0).sum() >= 1
        st = SearchStage(f, "hb")  # analysis reads a cut-off stage: what exists
        m, e = st.deepest()
        assert np.all(np.isfinite(m) == (st.stop_rung >= 0)) and st.trace()[0][-1] == g["compute"][()].sum()
    assert _status(binary, out)["state"] == "cut off"
    p = subprocess.run(["mpirun", "-np", "2", binary, "run", "--resume", spec, "-o", out, "--quiet"],
                       capture_output=True, text=True, timeout=900, env=ENV)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([PY, os.path.join(HERE, "h5_compare.py"), ref, out], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_real_run_export_equals_load_runs(real):
    """analysis.load_runs gives `aesweep export`'s table for search stages too (cell = trial; a halving
    stage's rows per trial and rung of its bracket, epochs = the rung's)."""
    import io
    import pandas as pd
    from analysis import load_runs
    binary, out, vout, d = real
    p = subprocess.run([binary, "export", out, "--csv", "-"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ex = pd.read_csv(io.StringIO(p.stdout), keep_default_na=False, float_precision="round_trip", dtype=str)
    df = load_runs(out)
    assert list(df.columns) == list(ex.columns) and len(df) == len(ex)
    with h5py.File(out, "r") as f:
        g = f["hb"]
        assert (df["stage"] == "hb").sum() == int((g["rung_epochs"][()][g["trial_bracket"][()]] > 0).sum())

    def norm(x):
        if x is None or (isinstance(x, float) and np.isnan(x)) or x == "":
            return ""
        try:
            return float(x)
        except (TypeError, ValueError):
            return str(x)
    for c in df.columns:
        assert [norm(x) for x in df[c]] == [norm(x) for x in ex[c]], c


def test_real_run_tpe_status_snapshot(real, tmp_path):
    """A TPE stage caught once its third batch (the first the model proposes) is running: status
    and its snapshot recompute the proposals from the journal, so every trial that ran has the values
    it trained with (those of the file the resumed run writes), not plan.c's stand-ins."""
    binary = real[0]
    spec = os.path.join(HERE, "specs", "search_results_tpe.cfg")
    out, snap = str(tmp_path / "tpe.h5"), str(tmp_path / "snap.h5")
    with _cut_run(binary, spec, out) as run:
        _stop_rank0_when(binary, out, run, "its third batch", lambda st: st.get("trials_done", 0) >= 17)
        assert subprocess.run([binary, "status", "--snapshot", snap, out], capture_output=True, timeout=120,
                              env=ENV).returncode == 0
        st = _status(binary, out)["stages"][0]
    p = subprocess.run(["mpirun", "-np", "2", binary, "run", "--resume", spec, "-o", out, "--quiet"],
                       capture_output=True, text=True, timeout=900, env=ENV)
    assert p.returncode == 0, p.stderr
    with h5py.File(snap, "r") as a, h5py.File(out, "r") as b:
        ga, gb = a["tpe"], b["tpe"]
        ran = ga["round"][()] >= 0
        assert ran.sum() >= 17 and ga.attrs["complete"] == 0
        for p_ in ("lr", "hidden"):
            assert np.array_equal(ga[p_][()][ran], gb[p_][()][ran]), p_
        assert np.array_equal(ga["test_mse_test"][()][ran], gb["test_mse_test"][()][ran])
        assert np.array_equal(ga["round"][()][ran], gb["round"][()][ran])
        # status's best so far is among the trials that ran, with their real values
        best = st["best"]
        t = int(np.nanargmin(np.where(ran, ga["test_mse_test_mean"][()], np.nan)))
        assert best["value"] == ga["test_mse_test_mean"][t] and best["params"]["lr"] == pytest.approx(gb["lr"][t], rel=1e-5)
