"""End-to-end tests of `aesweep run` with the real binary under mpirun.

Run by CTest (tests/sweep.cmake) with AESWEEP_BIN pointing at the binary.
Every test asserts values read back from the result files.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("AESWEEP_SRC", os.path.dirname(HERE))
BIN = os.environ.get("AESWEEP_BIN", os.path.join(SRC, "build", "aesweep"))
PY = os.environ.get("PYTHON", sys.executable)
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
TIMING = {"seconds", "rank_busy_seconds", "busy_seconds", "rank"}


def spec(name):
    return os.path.join(HERE, "specs", name) if not name.startswith("jobs/") else os.path.join(SRC, name)


def run(ranks, spec_path, out, *extra, check=True, timeout=600):
    cmd = ["mpirun", "--oversubscribe", "-np", str(ranks), BIN, "run", spec_path, "-o", out, "--quiet", *extra]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, f"{cmd} failed ({p.returncode}): {p.stderr[-2000:]}"
    return p


def metric_datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.split("/")[-1] not in TIMING:
                out[name] = np.asarray(obj[()])
        f.visititems(visit)
    return out


def assert_identical(a, b):
    da, db = metric_datasets(a), metric_datasets(b)
    assert set(da) == set(db)
    stage_sets = [k for k in da if not k.startswith(("data/", "models/"))]
    assert len(stage_sets) > 10
    for k in sorted(da):
        assert da[k].dtype == db[k].dtype and da[k].shape == db[k].shape, k
        assert da[k].tobytes() == db[k].tobytes(), f"{k} differs"


def test_byte_identical_across_ranks(tmp_path):
    """jobs/quick.cfg at 1, 2, 3 and 4 ranks: identical metric datasets."""
    outs = []
    for n in (1, 2, 3, 4):
        o = str(tmp_path / f"q{n}.h5")
        run(n, spec("jobs/quick.cfg"), o)
        outs.append(o)
    for o in outs[1:]:
        assert_identical(outs[0], o)
    with h5py.File(outs[3], "r") as f:
        assert f.attrs["ranks"] == 4 and f.attrs["complete"] == 1
        assert f["train_grid/ranks/busy_seconds"].shape == (4,)
        assert 0 < f["train_grid"].attrs["balance_efficiency"] <= 1


def test_cube_equals_train_cell_by_cell(tmp_path):
    """A 2x2x2 cube with 3 repeats equals `aesweep train` run per cell with the same seeds."""
    out = str(tmp_path / "cube.h5")
    run(2, spec("cube.cfg"), out)
    import json
    with h5py.File(out, "r") as f:
        g = f["cube"]
        ts, ep, hid = g["train_size"][()], g["epochs"][()], g["hidden"][()]
        cube, train = g["test_mse_test"][()], g["train_mse"][()]
        assert cube.shape == (2, 2, 2, 1, 3)
        assert np.all(np.isfinite(cube))
        checked = 0
        for i, s in enumerate(ts):
            for j, e in enumerate(ep):
                for k, h in enumerate(hid):
                    for r in range(3):
                        p = subprocess.run([BIN, "train", "--data", "moons", "--seed", "5", "--stage", "cube",
                                            "--repeat", str(r), "--train-size", str(int(s)), "--epochs", str(int(e)),
                                            "--hidden", str(int(h)), "--layers", "1", "--bottleneck", "1",
                                            "--lr", "0.003", "--noise", "0.1", "--pool", "1000", "--test-size", "500", "--json"],
                                           capture_output=True, text=True, env=ENV)
                        assert p.returncode == 0, p.stderr
                        js = json.loads(p.stdout)
                        # bitwise equal: same seeds, same data, same code path
                        assert js["train_mse"] == train[i, j, k, 0, r]
                        assert js["test_mse"] == cube[i, j, k, 0, r]
                        checked += 1
        assert checked == 24


def test_arch_cells_equal_train(tmp_path):
    """Width lists, arch and activation as axes (issue 17): every cell equals `aesweep train` with
    --hidden a,b --arch --activation, bit for bit."""
    cfg = tmp_path / "arch.cfg"
    cfg.write_text('study = "arch";\nseed = 11;\n'
                   'data = { source = "moons"; pool = 400; noise = 0.1; };\n'
                   'tests = ( { name = "test"; noise = 0.1; size = 300; } );\n'
                   'defaults = { train_size = 300; epochs = 15; lr = 0.003; layers = 1; bottleneck = 1; };\n'
                   'stages = ( { name = "a"; axes = { hidden = ([6, 4], 5); arch = ["mlp", "resnet"];\n'
                   '             activation = ["relu", "tanh", "elu"]; }; } );\n')
    out = str(tmp_path / "arch.h5")
    run(2, str(cfg), out)
    import json
    with h5py.File(out, "r") as f:
        g = f["a"]
        labels = g["hidden"].attrs["labels"]
        labels = (labels.decode() if isinstance(labels, bytes) else labels).split(";")
        archs = [a.decode() if isinstance(a, bytes) else ["mlp", "resnet"][int(a)] for a in g["arch"][()]]
        acts = [a.decode() if isinstance(a, bytes) else ["relu", "tanh", "elu"][int(a)] for a in g["activation"][()]]
        cube = g["test_mse_test"][()]
        assert labels == ["[6, 4]", "5"]
        assert cube.shape[:3] == (2, 2, 3) and np.all(np.isfinite(cube))
        checked = 0
        for i, h in enumerate(labels):
            for j, a in enumerate(archs):
                for k, act in enumerate(acts):
                    p = subprocess.run([BIN, "train", "--data", "moons", "--seed", "11", "--stage", "a",
                                        "--hidden", h.strip("[]").replace(" ", ""), "--arch", a, "--activation", act,
                                        "--train-size", "300", "--epochs", "15", "--lr", "0.003", "--layers", "1",
                                        "--bottleneck", "1", "--noise", "0.1", "--pool", "400", "--test-size", "300",
                                        "--json"], capture_output=True, text=True, env=ENV)
                    assert p.returncode == 0, p.stderr
                    assert json.loads(p.stdout)["test_mse"] == cube[i, j, k].flat[0]
                    checked += 1
        assert checked == 12


def test_epoch_reuse_is_exact(tmp_path):
    """One trajectory filling the epochs axis equals separate runs per epochs value."""
    text = open(spec("cube.cfg")).read()
    off = text.replace('study = "cube";', 'study = "cube";\nreuse_epochs = false;')
    p_off = tmp_path / "cube_off.cfg"
    p_off.write_text(off)
    a, b = str(tmp_path / "on.h5"), str(tmp_path / "off.h5")
    run(2, spec("cube.cfg"), a)
    run(2, str(p_off), b)
    da, db = metric_datasets(a), metric_datasets(b)
    for k in da:
        if k.startswith("cube/"):
            assert da[k].tobytes() == db[k].tobytes(), k
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert fa["cube"].attrs["tasks_total"] == 12 and fb["cube"].attrs["tasks_total"] == 24


def test_xarray_and_h5py_layout(tmp_path):
    out = str(tmp_path / "q.h5")
    run(2, spec("jobs/quick.cfg"), out)
    import xarray as xr
    ds = xr.open_dataset(out, group="train_grid", engine="h5netcdf")
    assert list(ds["test_mse_clean"].dims) == ["train_size", "epochs", "lr", "repeat"]
    assert list(ds["train_size"].values) == [200.0, 500.0]
    assert list(ds["lr"].values) == [0.003, 0.001]
    assert ds["test_mse_noisy"].shape == (2, 2, 2, 2)
    m = ds["test_mse_clean"].mean("repeat").values
    assert np.allclose(m, ds["test_mse_clean_mean"].values, rtol=1e-12)
    best = np.unravel_index(np.nanargmin(ds["test_mse_clean_mean"].values), m.shape)
    assert ds.attrs["best_cell"] == np.ravel_multi_index(best, m.shape)
    assert ds.attrs["best_value"] == pytest.approx(np.nanmin(m), rel=1e-15)
    st = xr.open_dataset(out, group="structure", engine="h5netcdf")
    assert st.attrs["source_epochs"] == "inherited" and st.attrs["inherited_from"] == "train_grid"
    assert st.attrs["epochs"] == ds.attrs["best_epochs"] and st.attrs["lr"] == ds.attrs["best_lr"]
    assert st.attrs["source_train_size"] == "fixed" and st.attrs["train_size"] == 500
    var = xr.open_dataset(out, group="variance", engine="h5netcdf")
    assert list(var["test_mse_clean"].dims) == ["draw", "repeat"]
    x = var["test_mse_clean"].values
    init_sd = np.sqrt(np.mean(np.var(x, axis=1, ddof=1)))
    data_sd = np.std(np.mean(x, axis=1), ddof=1)
    assert var["test_mse_clean_init_std"].values == pytest.approx(init_sd, rel=1e-12)
    assert var["test_mse_clean_data_std"].values == pytest.approx(data_sd, rel=1e-12)
    with h5py.File(out, "r") as f:
        for k in ("spec", "aesweep_version", "git_commit", "start_time", "end_time"):
            assert isinstance(f.attrs[k], str) and f.attrs[k]
        assert f.attrs["schema_version"] == 2 and f.attrs["seed"] == 7
        assert "structure" in f.attrs["stages"].split(",")
        b = f["models/structure/best"]
        assert b.attrs["hidden"] == st.attrs["best_hidden"]
        assert b["test_clean_recon"].shape == f["data/test_clean"].shape
        assert f["data/pool"].shape == (2000, 2)


def _resume_after(tmp_path, kill):
    ref = str(tmp_path / "ref.h5")
    run(2, spec("slow.cfg"), ref)
    out = str(tmp_path / "cut.h5")
    cmd = ["mpirun", "--oversubscribe", "-np", "2", BIN, "run", spec("slow.cfg"), "-o", out, "--quiet"]
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    # cut the run once a few tasks are journaled (header = magic + spec text)
    header = 22 + len(open(spec("slow.cfg"), "rb").read())
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None:
        if os.path.exists(out + ".journal") and os.path.getsize(out + ".journal") > header + 3 * 116:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the run was still going when cut"
    code = kill(p)
    _, err = p.communicate(timeout=120)
    assert os.path.exists(out + ".journal"), err
    # orphaned ranks of a killed mpirun exit within a few seconds; a resume
    # started before that is refused (the output is locked), so wait for them
    for _ in range(300):
        left = subprocess.run(["pgrep", "-f", "^" + BIN + " run " + spec("slow.cfg") + " -o " + out],
                              capture_output=True, text=True).stdout.split()
        if not left:
            break
        time.sleep(0.1)
    assert not left, "ranks of the killed run are gone"
    size = os.path.getsize(out + ".journal")
    assert size > header + 3 * 116, "journal holds finished tasks"
    rc = run(2, spec("slow.cfg"), out, "--resume")
    assert rc.returncode == 0
    assert not os.path.exists(out + ".journal")
    assert_identical(ref, out)
    return code, p.returncode, err


def test_sigkill_rank_then_resume(tmp_path):
    def kill(p):
        pids = subprocess.run(["pgrep", "-f", "-s", str(os.getpgid(p.pid)), "^" + BIN + " run"],
                              capture_output=True, text=True).stdout.split()
        assert len(pids) == 2, "two ranks running"
        os.kill(int(pids[-1]), signal.SIGKILL)
        return None
    _resume_after(tmp_path, kill)


def test_sigterm_exit_code_then_resume(tmp_path):
    def term(p):
        # what Slurm does at a time limit: SIGTERM to every task of the step
        pids = subprocess.run(["pgrep", "-f", "-s", str(os.getpgid(p.pid)), "^" + BIN + " run"],
                              capture_output=True, text=True).stdout.split()
        assert len(pids) == 2
        for pid in pids:
            os.kill(int(pid), signal.SIGTERM)
        t0 = time.time()
        p.wait(timeout=60)
        return time.time() - t0
    took, rc, err = _resume_after(tmp_path, term)
    assert rc == 75, err
    assert took < 10
    assert "--resume" in err


def test_validate_prints_plan():
    p = subprocess.run([BIN, "validate", spec("jobs/quick.cfg"), "--ranks", "4"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "train_grid" in p.stdout and "8 tasks" in p.stdout and "makespan at 4 rank(s)" in p.stdout


def test_diverged_cells_are_recorded_and_skipped(tmp_path):
    """Cells whose loss overflows stop with status diverged and NaN metrics;
    statistics and best-cell selection skip them and the run completes."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    X[::10] *= 1e30          # every tenth row overflows float32 gradients
    csv = tmp_path / "big.csv"
    np.savetxt(csv, X, delimiter=",", fmt="%.9g")
    cfg = tmp_path / "div.cfg"
    cfg.write_text(f'''study = "div"; seed = 2;
data = {{ source = "csv"; path = "{csv}"; train_fraction = 0.5; }};
defaults = {{ hidden = 4; layers = 0; bottleneck = 1; epochs = 20; }};
stages = (
  {{ name = "grid"; axes = {{ train_size = [3, 150]; lr = [0.001, 0.01]; }}; repeats = 2; }},
  {{ name = "next"; inherit = ["train_size", "lr"]; }}
);
''')
    out = str(tmp_path / "div.h5")
    run(2, str(cfg), out)
    with h5py.File(out, "r") as f:
        pool = f["data/pool"][()]
        g = f["grid"]
        sizes = g["train_size"][()]
        status, mse = g["status"][()], g["test_mse_test"][()]
        expect = [bool(np.any(np.abs(pool[: int(s)]) > 1e20)) for s in sizes]
        assert expect == [False, True], "the seed puts a huge row only in the larger subset"
        for i, div in enumerate(expect):
            assert np.all(status[i] == (1 if div else 0))
            assert np.all(np.isnan(mse[i])) == div and np.all(np.isfinite(mse[i])) == (not div)
        assert np.all(g["n_ok"][()][1] == 0) and np.all(g["n_ok"][()][0] == 2)
        assert g.attrs["n_skipped"] == 2
        assert g.attrs["best_train_size"] == 3
        assert f["next"].attrs["train_size"] == 3 and f.attrs["complete"] == 1


def test_sigkill_mpirun_then_resume(tmp_path):
    """kill -9 of mpirun itself: the ranks die with it, the journal keeps what was done."""
    def kill(p):
        os.kill(p.pid, signal.SIGKILL)
        return None
    _resume_after(tmp_path, kill)


def test_resume_journal_of_0_4_0(tmp_path):
    """A journal written by aesweep 0.4.0 before the run layer was split (commit 373439a; 10 tasks of
    specs/slow.cfg, mpirun killed with SIGKILL) resumes with this build to the file an uninterrupted
    run gives (on another CPU, but for the journal's own bits: assert_same_but_journaled): the
    journal's format and the result record's layout did not change."""
    out = str(tmp_path / "old.h5")
    shutil.copy(os.path.join(HERE, "fixtures", "slow_v040.h5.journal"), out + ".journal")
    status = subprocess.run([BIN, "status", out, "--json"], env=ENV, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["tasks_done"] == 10
    cmd = ["mpirun", "--oversubscribe", "-np", "2", BIN, "run", spec("slow.cfg"), "-o", out, "--quiet", "--resume"]
    p = subprocess.run(cmd, env=dict(ENV, AESWEEP_RANK0_STATS="1"), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    # the 10 journaled tasks were taken, not trained again: 38 of grid's 48 ran now
    assert "stage grid: " in p.stderr and "38 results stored" in p.stderr, p.stderr[-2000:]
    assert not os.path.exists(out + ".journal")
    ref = str(tmp_path / "ref.h5")
    run(2, spec("slow.cfg"), ref)
    assert_same_but_journaled(ref, out, journal_bits(os.path.join(HERE, "fixtures", "slow_v040.h5.journal")))


def journal_bits(path):
    """The bit patterns of every double in the records of a journal (include/aesweep/journal.h)."""
    buf = open(path, "rb").read()
    magic = b"AESWEEP-JOURNAL-1\n"
    assert buf.startswith(magic)
    pos, bits = len(magic) + 4 + int.from_bytes(buf[len(magic):len(magic) + 4], "little"), set()
    while pos + 8 <= len(buf):
        tag, nb = int.from_bytes(buf[pos:pos + 4], "little"), int.from_bytes(buf[pos + 4:pos + 8], "little")
        if tag != 0x52534541 or pos + 12 + nb > len(buf):
            break
        bits.update(np.frombuffer(buf[pos + 8:pos + 8 + nb], dtype="<u8").tolist())
        pos += 12 + nb
    return bits


def assert_same_but_journaled(ref, out, jbits):
    """out (resumed from a journal) equals ref (a fresh run here) byte for byte, except where the
    journal's own numbers differ from what this machine computes: a journal written elsewhere holds
    that machine's bits (its BLAS and SIMD kernels round the test-set sums differently: here, with
    OpenBLAS's Prescott core against the fixture's Cooperlake, the last bit of a few test MSEs). Then
    every value of out that differs from ref is one of the journal's values, taken as journaled, or
    a statistic over repeats (_mean, _std, ...) that mixes them, within 1e-12 of ref's."""
    da, db = metric_datasets(ref), metric_datasets(out)
    assert set(da) == set(db)
    assert len([k for k in da if not k.startswith(("data/", "models/"))]) > 10
    for k in sorted(da):
        a, b = da[k], db[k]
        assert a.dtype == b.dtype and a.shape == b.shape, k
        if a.tobytes() == b.tobytes():
            continue
        assert a.dtype == np.float64, f"{k} differs"
        diff = a.view(np.uint64) != b.view(np.uint64)
        stat = k.rsplit("_", 1)[-1] in ("mean", "std", "min", "max", "median", "q25", "q75", "sem")
        if not stat:
            foreign = [v for v in b[diff].view(np.uint64).tolist() if v not in jbits]
            assert not foreign, f"{k}: {len(foreign)} values differ from a fresh run and are not the journal's"
        assert np.allclose(b[diff], a[diff], rtol=1e-12, atol=0), f"{k} differs beyond the last bits"

