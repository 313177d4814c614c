"""Result files as third-party readers see them, learning curves, tables and
the live view (issue 18 items 1-4), with the real binary.

Run by CTest (tests/results.cmake) with AESWEEP_BIN pointing at the binary.
"""
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pandas as pd
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("AESWEEP_SRC", os.path.dirname(HERE))
BIN = os.environ.get("AESWEEP_BIN", os.path.join(SRC, "build", "aesweep"))
sys.path.insert(0, SRC)
import analysis  # noqa: E402
from analysis.resultfile import ResultFile  # noqa: E402

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")


def spec(name):
    return os.path.join(HERE, "specs", name)


def run(ranks, spec_path, out, *extra, check=True):
    cmd = ["mpirun", "--oversubscribe", "-np", str(ranks), BIN, "run", spec_path, "-o", out, "--quiet", *extra]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    if check:
        assert p.returncode == 0, f"{cmd} failed ({p.returncode}): {p.stderr[-2000:]}"
    return p


def aesweep(*args, check=True):
    p = subprocess.run([BIN, *args], env=ENV, capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, f"aesweep {args} failed ({p.returncode}): {p.stderr}"
    return p


def groups(path):
    """Every group of a file, in the order the file lists them."""
    out = ["/"]
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                out.append("/" + name)
        f.visititems(visit)
    return out


# ---- item 4: metadata and third-party readers --------------------------------

@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("layout") / "layout.h5")
    run(2, spec("layout.cfg"), out)
    return out


def test_xarray_opens_every_group_with_h5netcdf(layout):
    import xarray as xr
    gs = groups(layout)
    assert {"/data", "/models", "/models/follow/best", "/models/follow/cells/0", "/grid/curves",
            "/grid/ranks"} <= set(gs)
    for g in gs:
        with xr.open_dataset(layout, group=g, engine="h5netcdf") as ds:
            assert not [d for d in ds.dims if d.startswith("phony_dim")], g
            for v in list(ds.variables):
                a = ds[v].attrs
                # every variable and coordinate (bare row/feature dims are no variables)
                assert a.get("long_name"), (g, v)
                if ds[v].dtype.kind != "O":
                    assert "units" in a, (g, v)
    with xr.open_dataset(layout, group="data", engine="h5netcdf") as ds:
        assert ds["pool"].dims == ("pool_row", "feature") and ds["pool"].shape == (300, 2)
        assert ds["test_clean"].dims == ("test_clean_row", "feature")
    with xr.open_dataset(layout, group="models/follow/best", engine="h5netcdf") as ds:
        assert ds["W0"].dims == ("units1", "feature") and ds["train_codes"].dims == ("train_row", "code")
        assert ds.attrs["mmd_kernel"] in ("rbf", "imq") and isinstance(ds.attrs["hidden"], (int, np.integer))


def test_sel_by_kernel_name_and_tidy_dataframe(layout):
    import xarray as xr
    with xr.open_dataset(layout, group="grid", engine="h5netcdf") as ds:
        assert list(ds["mmd_kernel"].values) == ["rbf", "imq"]
        imq = ds.sel(mmd_kernel="imq")
        assert imq["gen_mmd"].dims == ("mmd_lambda", "epochs", "repeat")
        assert np.array_equal(imq["gen_mmd"].values, ds["gen_mmd"].values[:, 1])
        # integer parameters are integers
        assert ds["epochs"].dtype == np.int64 and list(ds["epochs"].values) == [5, 10]
        assert ds.attrs["hidden"] == 6 and isinstance(ds.attrs["hidden"], (int, np.integer))
        # one row per cube point: the statistics broadcast, nothing crosses with ranks or epochs
        df = ds.to_dataframe()
        assert len(df) == ds["status"].size == 2 * 2 * 2 * 2
        assert list(df.index.names) == ["mmd_lambda", "mmd_kernel", "epochs", "repeat"]
        # CF: flags, cell methods, global attributes
        assert list(ds["status"].attrs["flag_values"]) == [0, 1, 2, 3]
        assert ds["status"].attrs["flag_meanings"] == "ok diverged interrupted not_run"
        assert ds["gen_mmd_mean"].attrs["cell_methods"] == "repeat: mean"
        assert ds["seconds"].attrs["units"] == "s"
    with xr.open_dataset(layout, group="draws", engine="h5netcdf") as ds:
        assert ds["test_mse_clean_std"].attrs["cell_methods"] == "draw: repeat: standard_deviation"
        assert len(ds.to_dataframe()) == ds["status"].size == 4
    with xr.open_dataset(layout, engine="h5netcdf") as root:
        # NC_CHAR, as netCDF-C writes text attributes (NCO 5.1.4 applies CF rules only then)
        assert root.attrs["Conventions"] == "CF-1.8"
        assert root.attrs["title"] and "aesweep" in root.attrs["history"]
        assert root.attrs["schema_version"] == 2


def test_creation_order_is_spec_order(layout):
    with h5py.File(layout, "r") as f:
        root = f["/"]
        assert [k for k in root.keys()] == ["data", "models", "grid", "follow", "draws"]
        cells = list(root["models/follow/cells"].keys())
        assert cells == [str(i) for i in range(6)]  # 0..5, not 0, 1, 10, ...
        assert list(root["grid"].keys())[:4] == ["mmd_lambda", "mmd_kernel", "epochs", "repeat"]


def test_info_json(layout):
    js = json.loads(aesweep("info", "--json", layout).stdout)
    assert js["schema_version"] == 2 and js["complete"] == 1 and js["Conventions"] == "CF-1.8"
    assert [s["name"] for s in js["stages"]] == ["grid", "follow", "draws"] and js["run"] is None
    with h5py.File(layout, "r") as f:
        g = f["grid"]
        grid = js["stages"][0]
        assert grid["best_value"] == g.attrs["best_value"] and grid["tasks_total"] == g.attrs["tasks_total"]
        assert grid["params"]["mmd_kernel"] == {"source": "axis", "best": g.attrs["best_mmd_kernel"]}
        assert grid["params"]["hidden"] == {"source": "default", "value": 6, "best": 6}
        assert js["stages"][1]["params"]["mmd_lambda"]["source"] == "inherited"


def test_netcdf_c_and_netcdf4_python_read_it(layout):
    import netCDF4
    with netCDF4.Dataset(layout) as nc:
        assert list(nc.groups) == ["data", "models", "grid", "follow", "draws"]
        g = nc["grid"]
        assert list(g["mmd_kernel"][:]) == ["rbf", "imq"]
        assert g["test_mse_clean"].dimensions == ("mmd_lambda", "mmd_kernel", "epochs", "repeat")
        assert nc["data"]["pool"].dimensions == ("pool_row", "feature")
        best = nc["models/follow/best"]
        assert best["W0"].shape == (best.hidden, 2) and best.hidden in (4, 6, 8, 10, 12, 14)
        assert g["curves"]["train_mse"].dimensions[-1] == "epoch"
    p = subprocess.run(["ncdump", "-h", layout], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert 'string mmd_kernel(mmd_kernel)' in p.stdout and ':Conventions = "CF-1.8"' in p.stdout


# ---- item 1: learning curves --------------------------------------------------

@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("curves") / "curves.h5")
    run(2, spec("curves.cfg"), out)
    return out


def _train(seed, stage, repeat, **kw):
    args = ["train", "--data", "moons", "--seed", str(seed), "--stage", stage, "--repeat", str(repeat),
            "--noise", "0.1", "--pool", "600", "--test-size", "300", "--json"]
    for k, v in kw.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    return json.loads(aesweep(*args).stdout)


def test_curve_epochs_dims_and_cube_points(curves):
    import xarray as xr
    with xr.open_dataset(curves, group="full/curves", engine="h5netcdf") as c, \
            xr.open_dataset(curves, group="full", engine="h5netcdf") as cube:
        # 40 > 8 points: round(i * 40 / 8) = 5, 10, ..., 40, plus the axis value 12
        assert list(c["epoch"].values) == [5, 10, 12, 15, 20, 25, 30, 35, 40]
        assert c["test_mse_test"].dims == ("train_size", "repeat", "epoch")
        assert set(c.data_vars) == {"test_mse_test", "test_mse_b", "train_mse"}
        assert np.all(np.isfinite(c["test_mse_test"].values))
        # the curve passes through the cube, bit for bit, at every epochs-axis value
        for e in (12, 40):
            for m in ("test_mse_test", "test_mse_b", "train_mse"):
                assert c[m].sel(epoch=e).values.tobytes() == cube[m].sel(epochs=e).values.tobytes(), (m, e)
    with xr.open_dataset(curves, group="mini/curves", engine="h5netcdf") as c:
        assert list(c["epoch"].values) == list(range(1, 8))  # 7 <= 100: every epoch
        assert c["train_mse"].dims == ("repeat", "epoch")


def test_curve_point_equals_a_run_stopped_there(curves):
    """A recorded epoch that is not on the epochs axis equals `aesweep train --epochs e`."""
    with h5py.File(curves, "r") as f:
        c = f["full/curves"]
        ep = list(c["epoch"][()])
        i = ep.index(25)
        for si, ts in enumerate(f["full/curves/train_size"][()]):
            r = 1
            js = _train(13, "full", r, train_size=ts, epochs=25, lr=0.004, hidden=8, layers=1, bottleneck=1)
            assert js["train_mse"] == c["train_mse"][si, r, i]
            assert js["test_mse"] == c["test_mse_test"][si, r, i]
        m = f["mini/curves"]
        j = list(m["epoch"][()]).index(3)
        js = _train(13, "mini", 0, train_size=300, epochs=3, lr=0.004, hidden=8, layers=1, bottleneck=1,
                    batch_size=64)
        assert js["train_mse"] == m["train_mse"][0, j] and js["test_mse"] == m["test_mse_test"][0, j]


def test_curves_do_not_change_the_cube(curves, tmp_path):
    """curve_points = 0 (no curves, no evaluations between checkpoints): the same cube bytes."""
    text = open(spec("curves.cfg")).read().replace("curve_points = 8;", "curve_points = 0;") \
        .replace("curve_points = 100;", "")
    cfg = tmp_path / "nocurves.cfg"
    cfg.write_text(text)
    out = str(tmp_path / "nocurves.h5")
    run(1, str(cfg), out)
    with h5py.File(curves, "r") as a, h5py.File(out, "r") as b:
        assert "curves" not in b["full"]
        for st in ("full", "mini"):
            for k in a[st]:
                if isinstance(a[st][k], h5py.Dataset) and k != "seconds":
                    assert a[st][k][()].tobytes() == b[st][k][()].tobytes(), (st, k)


def test_curve_points_is_checked(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(open(spec("curves.cfg")).read().replace("curve_points = 8;", "curve_points = -3;"))
    p = aesweep("validate", str(cfg), check=False)
    assert p.returncode == 2 and "curve_points" in p.stderr and "-3" in p.stderr and "0..100000" in p.stderr


def test_report_draws_learning_curves(curves, tmp_path):
    out = tmp_path / "rep"
    p = subprocess.run([sys.executable, os.path.join(SRC, "analysis", "report.py"), curves, "-o", str(out),
                        "--strict", "--no-html"], capture_output=True, text=True, env=dict(ENV, MPLBACKEND="Agg"))
    assert p.returncode == 0, p.stderr
    assert (out / "full_curves.png").stat().st_size > 10000
    from analysis.doc import parse_tables
    head, rows = parse_tables((out / "report.md").read_text())["curves:full"]
    assert len(rows) == 2 and head[1] == "cell"  # two trajectories (train_size 200, 400)
    cells = analysis.load_cells(curves, "full")
    best = cells.loc[cells["test_mse_test_mean"].idxmin()]
    assert rows[0][1] == "train_size=%d" % best["train_size"]
    assert rows[0][5] == "0/2"  # no repeat diverged


# ---- item 3: tables -----------------------------------------------------------

def _export(path, *extra):
    out = aesweep("export", path, "--csv", "-", *extra).stdout
    return pd.read_csv(io.StringIO(out), float_precision="round_trip", keep_default_na=False, na_values=[""])


def test_export_equals_loader(layout, curves):
    v1 = os.path.join(HERE, "fixtures", "results_v1.h5")
    for path, stages in ((layout, ("grid", "follow", "draws")), (curves, ("full", "mini", "lists")), (v1, ("grid",))):
        df = analysis.load_runs(path)
        csv = _export(path).astype(df.dtypes.to_dict())
        pd.testing.assert_frame_equal(df, csv)
        for s in stages:
            one = analysis.load_runs(path, s)
            pd.testing.assert_frame_equal(one, _export(path, "--stage", s).astype(one.dtypes.to_dict()))
    df = analysis.load_runs(layout)
    # one row per cell x draw x repeat with every parameter and metric
    with h5py.File(layout, "r") as f:
        assert len(df) == sum(f[s]["status"].size for s in ("grid", "follow", "draws"))
    assert {"train_size", "epochs", "lr", "hidden", "mmd_kernel", "draw", "repeat", "status",
            "gen_mmd", "test_mse_clean"} <= set(df.columns)
    assert df["epochs"].dtype == np.int64 and set(df["mmd_kernel"]) <= {"rbf", "imq"}
    follow = df[df.stage == "follow"]
    assert list(follow["hidden"]) == [4, 6, 8, 10, 12, 14] and follow["mmd_lambda"].nunique() == 1
    lists = analysis.load_runs(curves, "lists")
    assert list(lists["hidden"]) == ["8", "8", "[8, 6]", "[8, 6]"] and list(lists["activation"]) == ["relu", "tanh"] * 2
    assert set(lists["arch"]) == {"mlp"}
    draws = df[df.stage == "draws"]
    assert sorted(zip(draws["draw"], draws["repeat"])) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # one row per cell, with the statistics the file stores
    cells = analysis.load_cells(layout, "grid")
    assert len(cells) == 8
    g = df[df.stage == "grid"].groupby("cell")["gen_mmd"].mean().to_numpy()
    assert np.allclose(g, cells["gen_mmd_mean"].to_numpy(), rtol=1e-13, atol=0)
    assert "draw" not in cells.columns and "n_ok" in cells.columns


def test_export_errors(layout, tmp_path):
    p = aesweep("export", layout, "--stage", "nope", "--csv", str(tmp_path / "x.csv"), check=False)
    assert p.returncode == 2 and "no stage 'nope'" in p.stderr and "grid,follow,draws" in p.stderr
    assert not (tmp_path / "x.csv").exists()
    p = aesweep("export", layout, check=False)
    assert p.returncode == 2 and "--csv" in p.stderr
    p = aesweep("export", layout, "--csv", str(tmp_path / "no" / "x.csv"), check=False)
    assert p.returncode == 3 and "cannot create" in p.stderr
    aesweep("export", layout, "--csv", str(tmp_path / "ok.csv"))
    assert (tmp_path / "ok.csv").read_text().startswith("stage,cell,train_size,")


def test_previous_schema_still_reads(tmp_path):
    """tests/fixtures/results_v1.h5 (schema 1, aesweep 0.3.0) reads like the same study run now."""
    v1 = os.path.join(HERE, "fixtures", "results_v1.h5")
    with h5py.File(v1, "r") as f:
        assert f.attrs["schema_version"] == 1
        text = f.attrs["spec"]
    cfg = tmp_path / "v1.cfg"
    cfg.write_text(text)
    out = str(tmp_path / "v2.h5")
    run(1, str(cfg), out)
    a, b = analysis.load_runs(v1), analysis.load_runs(out)
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
    pd.testing.assert_frame_equal(analysis.load_cells(v1), analysis.load_cells(out))
    with ResultFile(v1) as r1, ResultFile(out) as r2:
        for s1, s2 in zip(r1.stages, r2.stages):
            assert s1.axes == s2.axes
            for ax in s1.axes:
                assert np.array_equal(s1.axis_values[ax], s2.axis_values[ax])
            assert s1.best_params() == s2.best_params()
            assert s1.rank_busy_seconds().shape == s2.rank_busy_seconds().shape == (1,)
        assert r1.schema_version == 1 and r2.schema_version == 2


# ---- item 2: the live view ------------------------------------------------------

def _status(out):
    return json.loads(aesweep("status", out, "--json").stdout)


def _start(out):
    cmd = ["mpirun", "--oversubscribe", "-np", "2", BIN, "run", spec("slow.cfg"), "-o", out, "--quiet"]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for(p, out, cond, what):
    """Poll `aesweep status` until cond(status) holds (states, not seconds)."""
    t0 = time.time()
    while time.time() - t0 < 300:
        assert p.poll() is None, f"the run ended before {what}: {p.stderr.read()[-2000:]}"
        if os.path.exists(out + ".journal") and os.path.exists(out + ".lock"):
            s = _status(out)
            if cond(s):
                return s
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_status_while_running_and_after(tmp_path):
    out = str(tmp_path / "slow.h5")
    p = _start(out)
    try:
        s = _wait_for(p, out, lambda s: s["alive"] and s["tasks_done"] >= 1, "a journaled task")
        # freeze rank 0 (the lock's pid) so that every look below sees one state
        os.kill(s["pid"], signal.SIGSTOP)
        try:
            s = _status(out)
            assert s["state"] == "running" and s["alive"] and s["ranks"] == 2
            assert s["tasks_total"] == 48 + 8 and 1 <= s["tasks_done"] < 48
            grid, structure = s["stages"]
            assert grid["state"] == "running" and structure["state"] == "waiting"
            assert grid["best"]["metric"] == "test_mse_clean" and grid["best"]["value"] > 0
            assert set(grid["best"]["params"]) == {"train_size", "epochs", "lr"}
            assert s["eta_stage_seconds"] > 0 and s["tasks_per_second"] > 0
            text = aesweep("status", out).stdout
            assert "running - pid %d" % s["pid"] in text and "waiting" in text
            info = aesweep("info", out).stdout
            assert info.startswith("running:") and "--resume" not in info
            ij = json.loads(aesweep("info", "--json", out).stdout)
            assert ij["run"]["state"] == "running"
            # the report from a running study: a snapshot of what is finished
            snap = str(tmp_path / "snap.h5")
            aesweep("status", out, "--snapshot", snap)
            with h5py.File(snap, "r") as f:
                assert f.attrs["complete"] == 0 and f["grid"].attrs["tasks_done"] == grid["tasks_done"]
                assert np.sum(f["grid/status"][()] == 0) == 2 * grid["tasks_done"]  # 2 epochs slots per task
            rep = subprocess.run([sys.executable, os.path.join(SRC, "analysis", "report.py"), snap, "-o",
                                  str(tmp_path / "snaprep"), "--no-html"], capture_output=True, text=True,
                                 env=dict(ENV, MPLBACKEND="Agg"))
            assert rep.returncode == 0, rep.stderr
            assert "incomplete" in (tmp_path / "snaprep" / "report.md").read_text()
        finally:
            os.kill(s["pid"], signal.SIGCONT)
        # --watch redraws until the run ends, then shows the complete study
        w = subprocess.run([BIN, "status", out, "--watch", "0.2", "--json"], env=ENV, capture_output=True,
                           text=True, timeout=600)
        assert w.returncode == 0, w.stderr
        frames = [json.loads(x) for x in w.stdout.splitlines()]
        assert frames[0]["state"] == "running" and frames[-1]["state"] == "complete"
        assert p.wait(timeout=600) == 0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    s = _status(out)
    assert s["state"] == "complete" and not s["alive"] and s["tasks_done"] == s["tasks_total"] == 56
    assert [x["state"] for x in s["stages"]] == ["done", "done"]
    with h5py.File(out, "r") as f:
        assert s["stages"][1]["best"]["value"] == f["structure"].attrs["best_value"]


def test_status_of_a_cut_off_run(tmp_path):
    out = str(tmp_path / "cut.h5")
    p = _start(out)
    try:
        _wait_for(p, out, lambda s: s["alive"] and s["tasks_done"] >= 1, "a journaled task")
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=120)
    # the ranks of a killed mpirun die with it; until they have, the run is still alive
    t0 = time.time()
    while _status(out)["alive"] and time.time() - t0 < 120:
        time.sleep(0.1)
    s = _status(out)
    assert s["state"] == "cut off" and not s["alive"] and s["tasks_done"] >= 1
    info = aesweep("info", out).stdout
    assert info.startswith("cut off:") and "--resume" in info
    assert "no run holds the lock" in aesweep("status", out).stdout
