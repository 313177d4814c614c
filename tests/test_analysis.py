"""Tests of analysis/ (report.py, nnet.py) on small studies run with the real aesweep binary.

Run by CTest (tests/analysis.cmake) with AESWEEP_BIN pointing at the binary
and AESWEEP_SRC at the source tree.  Two tiny studies (moons: training grid,
hidden x layers, repeats, data draws, bottleneck with save_models, noisy
pool, MMD; digits: grid, structure, bottleneck with save_models) run in a few
seconds; the report is made from each, and from a real cut-off run, and
checked against the file with h5py directly (not through analysis/).
Synthetic files (analysis/synth.py) cover what a small run does not: gaps
in a structure grid, a stage never started.
"""
import math
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
sys.path.insert(0, SRC)

from analysis.doc import parse_tables  # noqa: E402
from analysis.nnet import Autoencoder  # noqa: E402
from analysis.resultfile import param_float, py  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

MOONS_SPEC = """
study = "tiny_moons";
seed = 3;
data = { source = "moons"; pool = 600; noise = 0.1; };
tests = ( { name = "test"; noise = 0.1; size = 300; },
          { name = "noisy"; noise = 0.2; size = 300; } );
defaults = { hidden = 8; layers = 1; bottleneck = 1; lr = 0.003; epochs = 20; train_size = 300; };
stages = (
  { name = "grid"; axes = { train_size = [200, 400]; epochs = [10, 30]; lr = [0.003, 0.001]; }; repeats = 2; },
  { name = "structure"; inherit = ["epochs", "lr"]; axes = { hidden = [6, 10]; layers = [0, 1, 2]; }; },
  { name = "same_data"; inherit = ["epochs", "lr", "hidden", "layers"]; repeats = 4; },
  { name = "fresh_data"; inherit = ["epochs", "lr", "hidden", "layers"]; repeats = 2; data_draws = 3; },
  { name = "bneck"; inherit = ["epochs", "lr", "hidden", "layers"]; axes = { bottleneck = [1, 2]; };
    save_models = true; },
  { name = "noisy_pool"; inherit = ["epochs", "lr", "hidden", "layers"]; fixed = { train_size = 200; };
    pool_noise = 0.2; },
  { name = "mmd"; fixed = { bottleneck = 2; mmd_scale = 1.0; mmd_nscales = 2; };
    axes = { mmd_lambda = [0.1, 0.5]; mmd_kernel = [0, 1]; }; }
);
"""
MOONS_FIGURES = ["grid_profile", "structure_heatmap", "bneck_profile", "noisy_pool_recon", "mmd_profile",
                 "mmd_mmd", "best_recon_test", "best_recon_noisy", "best_codes"]

DIGITS_SPEC = """
study = "tiny_digits";
seed = 5;
data = { source = "digits"; path = "%s"; scaler = "minmax"; };
defaults = { hidden = 65; layers = 1; bottleneck = 2; lr = 0.003; epochs = 20; train_size = 600; };
stages = (
  { name = "grid"; axes = { train_size = [300, 600]; epochs = [10, 20]; lr = [0.003]; }; },
  { name = "structure"; inherit = ["epochs", "lr"]; axes = { hidden = [65, 70]; layers = [0, 1]; }; },
  { name = "bneck"; inherit = ["epochs", "lr", "hidden", "layers"]; axes = { bottleneck = [2, 4, 8]; };
    repeats = 3; save_models = true; }
);
"""
DIGITS_FIGURES = ["grid_profile", "structure_heatmap", "bneck_profile", "bneck_digits", "bneck_agreement",
                  "bneck_confusion", "bneck_latent", "bneck_generated", "bneck_mixtures"]

FASHION = "/usr/share/datasets/fashion-mnist/"
# A short run of jobs/fashion.cfg's design on the real files (scripts/deps.sh installs them): the first 600
# training and 300 test images, two small stages, 784-64-b-64-784 networks (widths below the input).
FASHION_SPEC = """
study = "tiny_fashion";
seed = 9;
model_data = "weights";
data = { source = "idx"; path = "%(d)strain-images-idx3-ubyte.gz"; labels = "%(d)strain-labels-idx1-ubyte.gz";
         train_fraction = 1; pool = 600; pixels = "unit"; };
tests = ( { name = "test"; path = "%(d)st10k-images-idx3-ubyte.gz"; labels = "%(d)st10k-labels-idx1-ubyte.gz";
            size = 300; } );
defaults = { train_size = 600; layers = 0; hidden = 64; batch_size = 100; epochs = 3; lr = 0.003; };
stages = (
  { name = "F1"; axes = { bottleneck = [2, 8]; lr = [0.001, 0.003]; }; },
  { name = "F2"; inherit = ["lr"]; axes = { bottleneck = [2, 4, 8]; }; repeats = 2; save_models = true; }
);
""" % {"d": FASHION}
FASHION_FIGURES = ["F1_profile", "F2_profile", "F2_digits", "F2_agreement", "F2_confusion", "F2_latent",
                   "F2_generated", "F2_mixtures"]


def close(a, b, rel=None):
    """A number as the report prints it against the file's value: a must be b rounded to 6 significant
    digits (or, with rel, within that relative distance)."""
    if isinstance(a, str):
        if a == "n/a":
            return b is None or not math.isfinite(b)
        a = float(a.rstrip("*"))
    if b is None or not math.isfinite(b):
        return False
    if rel is not None:
        return abs(a - b) <= rel * abs(b)
    if b == 0:
        return a == 0
    return abs(a - b) <= 0.5e-5 * 10 ** math.floor(math.log10(abs(b))) * (1 + 1e-9)


def need_binary():
    if not os.path.exists(BIN):
        if "AESWEEP_BIN" in os.environ:
            pytest.fail("AESWEEP_BIN=%s does not exist" % BIN)
        pytest.fail("no aesweep binary at %s (build it, or set AESWEEP_BIN)" % BIN)


def run_study(tmp, name, text):
    need_binary()
    spec = os.path.join(tmp, name + ".cfg")
    with open(spec, "w") as f:
        f.write(text)
    out = os.path.join(tmp, name + ".h5")
    p = subprocess.run([BIN, "run", spec, "-o", out, "--quiet"], capture_output=True, text=True, timeout=600,
                       cwd=tmp, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert p.returncode == 0, p.stderr
    return out


def make_report(path, outdir, *extra, module=False):
    cmd = [PY, "-m", "analysis.report"] if module else [PY, os.path.join(SRC, "analysis", "report.py")]
    p = subprocess.run(cmd + [path, "-o", outdir, "--strict", *extra], capture_output=True, text=True,
                       timeout=600, cwd=SRC)
    assert p.returncode == 0, p.stderr
    md = p.stdout.strip().splitlines()[-1]
    assert os.path.samefile(md, os.path.join(outdir, "report.md"))
    with open(md) as f:
        return f.read()


@pytest.fixture(scope="module")
def moons(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("moons"))
    h5 = run_study(tmp, "moons", MOONS_SPEC)
    out = os.path.join(tmp, "report")
    return h5, out, make_report(h5, out)


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("fashion"))
    h5 = run_study(tmp, "fashion", FASHION_SPEC)
    out = os.path.join(tmp, "report")
    return h5, out, make_report(h5, out)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("digits"))
    h5 = run_study(tmp, "digits", DIGITS_SPEC % os.path.join(SRC, "data", "digits.csv.gz"))
    out = os.path.join(tmp, "report")
    return h5, out, make_report(h5, out, module=True)


def check_figures(outdir, md, expected, skips_ok=False):
    import matplotlib.image as mpimg
    referenced = [line[line.index("(") + 1:-1] for line in md.splitlines() if line.startswith("![")]
    for name in expected:
        assert name + ".png" in referenced, "%s missing from the report" % name
    for name in referenced:
        path = os.path.join(outdir, name)
        assert os.path.getsize(path) > 2000, name
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC, name
        img = mpimg.imread(path)
        assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50, name
        assert np.ptp(img[..., :3]) > 0, "%s is blank" % name
    assert "failed" not in md, [l for l in md.splitlines() if "failed" in l]
    if not skips_ok:
        assert "Skipped" not in md, [l for l in md.splitlines() if "Skipped" in l]
    html = open(os.path.join(outdir, "report.html")).read()
    assert html.count("data:image/png;base64,") == len(referenced)


def check_header(h5, tables):
    with h5py.File(h5, "r") as f:
        meta = dict(tables["metadata"][1])
        for k in ("aesweep_version", "git_commit", "start_time", "end_time"):
            assert meta[k] == str(f.attrs[k]), k
        for k in ("ranks", "complete", "tasks_done", "tasks_total", "seed"):
            assert int(meta[k]) == int(f.attrs[k]), k
        stages = str(f.attrs["stages"]).split(",")
        hdr, rows = tables["stages"]
        assert [r[0] for r in rows] == stages
        for r in rows:
            row = dict(zip(hdr, r))
            assert len(r) == len(hdr)
            if r[0] not in f:
                assert row["state"] == "not started"
                continue
            a = f[r[0]].attrs
            assert row["state"] == ("complete" if int(a["complete"]) else "incomplete")
            assert close(row["balance_efficiency"], float(a["balance_efficiency"]))
            assert row["tasks done"] == "%d/%d" % (a["tasks_done"], a["tasks_total"])
        hdr, rows = tables["best"]
        for r in rows:
            a = f[r[0]].attrs
            row = dict(zip(hdr, r))
            assert row["select_metric"] == a["select_metric"]
            assert close(row["best_value"], float(a["best_value"]))
            assert int(row["best_cell"]) == int(a["best_cell"])
            for p in hdr[5:]:
                # schema 2 stores categories (mmd_kernel) by name, the report prints the name
                assert close(param_float(p, row[p].rstrip("*")), param_float(p, py(a["best_" + p]))), (r[0], p)


def axes_of(g, name):
    """Axis names of a stage from the dimension scales of its mean dataset."""
    d = g[name]
    return [d.dims[i][0].name.rsplit("/", 1)[-1] for i in range(d.ndim)]


def check_profiles(h5, tables):
    n = 0
    with h5py.File(h5, "r") as f:
        for key, (hdr, rows) in tables.items():
            if not key.startswith("profile:"):
                continue
            _, stage, axis = key.split(":")
            g = f[stage]
            sel = g.attrs["select_metric"]
            mean, std = g[sel + "_mean"][()], g[sel + "_std"][()]
            axes = axes_of(g, sel + "_mean")
            i = axes.index(axis)
            vals = g[axis][()]
            assert len(rows) == len(vals)
            for v, r in zip(range(len(vals)), rows):
                assert close(param_float(axis, r[0]), param_float(axis, py(vals[v])))
                sub = np.take(mean, v, axis=i)
                assert close(r[1], float(np.nanmin(sub)) if np.isfinite(sub).any() else None), (key, r)
                if np.isfinite(sub).any():
                    k = np.unravel_index(np.nanargmin(sub), sub.shape)
                    assert close(r[2], float(np.take(std, v, axis=i)[k])), (key, r)
            n += 1
    return n


def check_heatmaps(h5, tables):
    n = 0
    with h5py.File(h5, "r") as f:
        for key, (hdr, rows) in tables.items():
            if not key.startswith("heatmap:"):
                continue
            g = f[key.split(":")[1]]
            sel = g.attrs["select_metric"]
            mean = g[sel + "_mean"][()]
            axes = axes_of(g, sel + "_mean")
            if axes.index("hidden") > axes.index("layers"):
                mean = mean.T
            for r, row in enumerate(rows):
                assert close(row[0], float(g["hidden"][r]))
                for c in range(mean.shape[1]):
                    assert close(row[c + 1], float(mean[r, c])), (key, r, c)
            n += 1
    return n


def check_test_mse(h5, tables):
    with h5py.File(h5, "r") as f:
        hdr, rows = tables["test_mse"]
        assert rows
        for r in rows:
            stage, t = r[0], r[1]
            g = f[stage]
            cube = g["test_mse_" + t][()].reshape(-1)
            nrep = int(g.attrs["repeats"]) * int(g.attrs["data_draws"])
            best = int(g.attrs["best_cell"])
            assert close(r[2], float(cube[best * nrep]))  # cell, draw 0, repeat 0
            assert close(r[3], float(g["test_mse_%s_mean" % t][()].reshape(-1)[best]))
            # the stored reconstruction gives the metric the cube holds
            assert close(r[4], float(cube[best * nrep]), rel=1e-5), r


def check_nnet(h5):
    """numpy encoder/decoder from W<l>, b<l> and the scaler reproduce every stored reconstruction."""
    n = 0
    with h5py.File(h5, "r") as f:
        tests = str(f["data"].attrs["tests"]).split(",")
        groups = []
        f["models"].visititems(lambda name, g: groups.append(g) if isinstance(g, h5py.Group) and "W0" in g else None)
        for g in groups:
            ae = Autoencoder.from_group(g)
            assert ae.bottleneck == int(g.attrs["bottleneck"])
            pairs = [(f["data/test_" + t][()], "test_%s" % t) for t in tests]
            if "train_x" in g:
                pairs.append((g["train_x"][()], "train"))
            for x, base in pairs:
                rec, codes = g[base + "_recon"][()], g[base + "_codes"][()]
                assert np.max(np.abs(ae.reconstruct(x) - rec)) <= 1e-5, (g.name, base)
                assert np.max(np.abs(ae.encode(x) - codes)) <= 1e-5, (g.name, base)
                assert np.max(np.abs(ae.decode(codes) - rec)) <= 1e-5, (g.name, base)
                n += 1
    return n


# ---------------------------------------------------------------- moons

def test_moons_figures(moons):
    h5, out, md = moons
    check_figures(out, md, MOONS_FIGURES)


def test_moons_numbers(moons):
    h5, out, md = moons
    tables = parse_tables(md)
    check_header(h5, tables)
    assert check_profiles(h5, tables) == 3 + 1 + 2  # grid: 3 axes; bneck; mmd: 2 axes
    assert check_heatmaps(h5, tables) == 1
    check_test_mse(h5, tables)
    assert "**Complete run**" in md


def test_moons_variance_table(moons):
    h5, out, md = moons
    hdr, rows = parse_tables(md)["variance"]
    rows = {r[0]: dict(zip(hdr, r)) for r in rows}
    assert rows["same_data"]["data"] == "same data" and rows["fresh_data"]["data"] == "fresh data"
    with h5py.File(h5, "r") as f:
        for st in ("grid", "same_data", "fresh_data"):
            g, r = f[st], rows[st]
            cell = int(g.attrs["best_cell"])
            for k in ("mean", "std") + (("init_std", "data_std") if st == "fresh_data" else ()):
                assert close(r[k], float(g["test_mse_test_" + k][()].reshape(-1)[cell])), (st, k)
            assert int(r["n_ok"]) == int(g["n_ok"][()].reshape(-1)[cell])
        # the std of fresh_data is over all 6 draw x repeat values
        c = f["fresh_data/test_mse_test"][()].reshape(-1)
        assert close(rows["fresh_data"]["std"], float(np.std(c, ddof=1)), rel=1e-5)


def test_moons_mmd_table(moons):
    h5, out, md = moons
    hdr, rows = parse_tables(md)["mmd:mmd"]
    with h5py.File(h5, "r") as f:
        g = f["mmd"]
        assert len(rows) == g["gen_mmd_mean"].size
        for m in ("gen_mmd", "code_mmd", "test_mse_test"):
            col = hdr.index("mean " + m)
            vals = g[m + "_mean"][()].reshape(-1)
            for r, v in zip(rows, vals):
                assert close(r[col], float(v)), (m, r)


def test_moons_nnet_rebuild(moons):
    assert check_nnet(moons[0]) >= 3 * 7


# ---------------------------------------------------------------- digits

def test_digits_figures(digits):
    h5, out, md = digits
    check_figures(out, md, DIGITS_FIGURES)


def test_digits_numbers(digits):
    h5, out, md = digits
    tables = parse_tables(md)
    check_header(h5, tables)
    assert check_profiles(h5, tables) == 3 + 1
    assert check_heatmaps(h5, tables) == 1
    check_test_mse(h5, tables)


def test_digits_classifier_agreement(digits):
    """D4 numbers recomputed here: a forest trained on /data/pool, applied to every saved repeat's
    reconstruction of each bottleneck; the report gives mean, std (ddof 1), min and max over repeats."""
    from sklearn.ensemble import RandomForestClassifier
    h5, out, md = digits
    hdr, rows = parse_tables(md)["agreement:bneck"]
    col = {h: i for i, h in enumerate(hdr)}
    with h5py.File(h5, "r") as f:
        clf = RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1)
        clf.fit(f["data/pool"][()], f["data/pool_labels"][()])
        x, y = f["data/test_test"][()], f["data/test_test_labels"][()]
        p0 = clf.predict(x)
        cells = {}
        for g in f["models/bneck/cells"].values():
            cells.setdefault(int(g.attrs["bottleneck"]), {})[int(g.attrs["repeat"])] = g
        assert [int(r[0]) for r in rows] == [2, 4, 8]
        for r in rows:
            reps = cells[int(r[0])]
            assert sorted(reps) == [0, 1, 2] and int(r[col["repeats"]]) == 3
            agree = np.array([np.mean(clf.predict(reps[k]["test_test_recon"][()]) == p0) for k in sorted(reps)])
            acc = np.array([np.mean(clf.predict(reps[k]["test_test_recon"][()]) == y) for k in sorted(reps)])
            assert close(r[col["agreement (mean)"]], float(agree.mean()))
            assert close(r[col["agreement (std)"]], float(np.std(agree, ddof=1)))
            assert close(r[col["min"]], float(agree.min())) and close(r[col["max"]], float(agree.max()))
            assert close(r[col["accuracy (originals)"]], float(np.mean(p0 == y)))
            assert close(r[col["accuracy (reconstructions, mean)"]], float(acc.mean()))


def test_digits_mixture_sweep(digits):
    """D6: BIC and AIC of 1..K components recomputed with sklearn on each bottleneck's stored training codes;
    the report's chosen k is the argmin of BIC."""
    from sklearn.mixture import GaussianMixture
    h5, out, md = digits
    hdr, rows = parse_tables(md)["mixtures:bneck"]
    col = {h: i for i, h in enumerate(hdr)}
    assert [int(r[0]) for r in rows] == [2, 4, 8]
    with h5py.File(h5, "r") as f:
        cells = {(int(g.attrs["bottleneck"]), int(g.attrs["repeat"])): g for g in f["models/bneck/cells"].values()}
        for r in rows:
            codes = cells[(int(r[0]), 0)]["train_codes"][()].astype(np.float64)
            assert int(r[col["codes fitted"]]) == len(codes)
            bic, aic = [], []
            for k in range(1, 11):
                gm = GaussianMixture(n_components=k, covariance_type="full", random_state=0).fit(codes)
                bic.append(gm.bic(codes))
                aic.append(gm.aic(codes))
            assert int(r[col["k (BIC)"]]) == int(np.argmin(bic)) + 1
            assert int(r[col["k (AIC)"]]) == int(np.argmin(aic)) + 1
            assert close(r[col["BIC at k (BIC)"]], float(min(bic)))
            assert close(r[col["BIC at k = 5"]], float(bic[4]))
    assert "bneck_mixtures.png" in md


def test_digits_nnet_rebuild(digits):
    assert check_nnet(digits[0]) >= 3 + 3 + 3  # best models (train + test) and three cells


# ---------------------------------------------------------------- partial files

def test_real_partial_file(tmp_path):
    """A run cut off by SIGTERM: the partial file gives a report that says how complete it is."""
    need_binary()
    spec = os.path.join(SRC, "tests", "specs", "slow.cfg")
    out = str(tmp_path / "cut.h5")
    p = subprocess.Popen([BIN, "run", spec, "-o", out, "--quiet"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=str(tmp_path),
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    # cut it once a few tasks are journaled (header = 22 bytes + the spec text)
    header = 22 + len(open(spec, "rb").read())
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None:
        if os.path.exists(out + ".journal") and os.path.getsize(out + ".journal") > header + 3 * 116:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the study was still running when cut"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 75, err
    with h5py.File(out, "r") as f:
        done, total = int(f.attrs["tasks_done"]), int(f.attrs["tasks_total"])
        assert int(f.attrs["complete"]) == 0
    md = make_report(out, str(tmp_path / "report"))
    assert "**Incomplete run**" in md
    assert "%d of %d tasks done (%.1f%%)" % (done, total, 100.0 * done / total) in md
    assert "Stages without results: structure (not started)" in md
    tables = parse_tables(md)
    check_header(out, tables)
    assert check_profiles(out, tables) == 3
    # a cut-off stage has no best cell yet, so no best model: those figures are left out with a note
    check_figures(str(tmp_path / "report"), md, ["grid_profile"], skips_ok=True)


def test_partial_copy_with_gaps(moons, tmp_path):
    """The real moons file with cells knocked out and a stage removed, as a cut-off run leaves it."""
    h5 = str(tmp_path / "gaps.h5")
    shutil.copy(moons[0], h5)
    with h5py.File(h5, "r+") as f:
        g = f["structure"]
        for m in str(f.attrs["metrics"]).split(","):
            g[m][0, 1, ...] = np.nan
            g[m + "_mean"][0, 1] = np.nan
            g[m + "_std"][0, 1] = np.nan
        g["status"][0, 1, ...] = 3
        g["n_ok"][0, 1] = 0
        del f["mmd"], f["models/mmd"]
        f.attrs["complete"] = np.int64(0)
        f.attrs["tasks_done"] = np.int64(int(f.attrs["tasks_total"]) - 5)
    out = str(tmp_path / "report")
    md = make_report(h5, out)
    assert "**Incomplete run**" in md and "mmd (not started)" in md
    hdr, rows = parse_tables(md)["heatmap:structure"]
    assert rows[0][2] == "n/a"
    tables = parse_tables(md)
    check_heatmaps(h5, tables)
    check_profiles(h5, tables)
    check_figures(out, md, [f for f in MOONS_FIGURES if not f.startswith("mmd")])
    assert "mmd_mmd.png" not in md


def test_synthetic_files(tmp_path):
    """Synthetic files (no binary needed): a partial moons study, a digits study."""
    from analysis.synth import write_synthetic
    for kind, partial, figs in (("moons", True, ["M1_profile", "M2_heatmap", "M7_recon", "best_codes"]),
                                ("moons", False, ["M8_mmd", "M8_profile"]),
                                ("digits", False, ["D3_digits", "D3_latent", "D3_generated", "D3_confusion"])):
        h5 = write_synthetic(str(tmp_path / ("%s%d.h5" % (kind, partial))), kind, partial)
        out = str(tmp_path / ("%s%d" % (kind, partial)))
        md = make_report(h5, out)
        check_figures(out, md, figs)
        tables = parse_tables(md)
        check_header(h5, tables)
        check_profiles(h5, tables)
        check_heatmaps(h5, tables)
        assert ("**Incomplete run**" in md) == partial
        if partial:  # gaps in the structure grid, the last stage never started
            assert any(c == "n/a" for r in tables["heatmap:M2"][1] for c in r)
            assert "M8 (not started)" in md


def test_missing_models_are_skipped_not_fatal(moons, tmp_path):
    h5 = str(tmp_path / "nomodels.h5")
    shutil.copy(moons[0], h5)
    with h5py.File(h5, "r+") as f:
        del f["models"]
    p = subprocess.run([PY, os.path.join(SRC, "analysis", "report.py"), h5, "-o", str(tmp_path / "r")],
                       capture_output=True, text=True, cwd=SRC)
    assert p.returncode == 0, p.stderr
    md = open(str(tmp_path / "r" / "report.md")).read()
    assert "*Skipped:" in md
    assert os.path.exists(str(tmp_path / "r" / "grid_profile.png"))


def test_not_a_result_file(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_text("not hdf5")
    p = subprocess.run([PY, os.path.join(SRC, "analysis", "report.py"), str(bad), "-o", str(tmp_path / "r")],
                       capture_output=True, text=True, cwd=SRC)
    assert p.returncode == 2 and "x.h5" in p.stderr and "Traceback" not in p.stderr


# ---------------------------------------------------------------- Fashion-MNIST (IDX train/test pair)

def _idx(path):
    """An IDX file read here with gzip + numpy (not aesweep's loader)."""
    import gzip
    raw = gzip.open(path).read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw[4 + 4 * nd:], np.uint8).reshape(dims)


def test_fashion_data_in_file(fashion):
    """/data holds the first 600 training and 300 test images / 255 and their labels, in file order."""
    h5, out, md = fashion
    x, y = _idx(FASHION + "train-images-idx3-ubyte.gz"), _idx(FASHION + "train-labels-idx1-ubyte.gz")
    xt, yt = _idx(FASHION + "t10k-images-idx3-ubyte.gz"), _idx(FASHION + "t10k-labels-idx1-ubyte.gz")
    with h5py.File(h5, "r") as f:
        assert f["data"].attrs["source"] == "idx" and f["data"].attrs["pixels"] == "unit"
        assert np.array_equal(f["data/pool"][()], x[:600].reshape(600, 784).astype(np.float32) / np.float32(255))
        assert np.array_equal(f["data/pool_labels"][()], y[:600])
        assert np.array_equal(f["data/test_test"][()], xt[:300].reshape(300, 784).astype(np.float32) / np.float32(255))
        assert np.array_equal(f["data/test_test_labels"][()], yt[:300])
        assert np.array_equal(f["data/split"][()], np.arange(600))  # a pair: no permutation
        # model_data = "weights": no codes, reconstructions or training copies in the model groups
        for g in [f["models/F2/best"]] + list(f["models/F2/cells"].values()):
            assert g.attrs["model_data"] == "weights" and "W0" in g
            assert not [k for k in g if k.endswith(("_recon", "_codes")) or k == "train_x"]


def test_fashion_figures_and_numbers(fashion):
    h5, out, md = fashion
    check_figures(out, md, FASHION_FIGURES)
    tables = parse_tables(md)
    check_header(h5, tables)
    assert check_profiles(h5, tables) == 2 + 1  # F1: bottleneck, lr; F2: bottleneck


def test_fashion_recomputed_reconstructions(fashion):
    """The numpy networks rebuilt from the stored weights give each F2 cell's test MSE in the cube."""
    h5, out, md = fashion
    with h5py.File(h5, "r") as f:
        x = f["data/test_test"][()].astype(np.float64)
        cube = f["F2/test_mse_test"][()]  # [bottleneck][repeat]
        n = 0
        for g in f["models/F2/cells"].values():
            b, r = int(g.attrs["bottleneck"]), int(g.attrs["repeat"])
            mse = float(np.mean((Autoencoder.from_group(g).reconstruct(x) - x) ** 2))
            assert close(mse, float(cube[[2, 4, 8].index(b), r]), rel=1e-5), (b, r)
            n += 1
        assert n == 6


def test_fashion_classifier_agreement(fashion):
    """D4 for Fashion-MNIST: logistic regression trained on /data/pool, mean and spread over the 2 repeats."""
    from sklearn.linear_model import LogisticRegression
    h5, out, md = fashion
    hdr, rows = parse_tables(md)["agreement:F2"]
    col = {h: i for i, h in enumerate(hdr)}
    with h5py.File(h5, "r") as f:
        clf = LogisticRegression(max_iter=300).fit(f["data/pool"][()], f["data/pool_labels"][()])
        x = f["data/test_test"][()]
        p0 = clf.predict(x)
        assert [int(r[0]) for r in rows] == [2, 4, 8]
        for r in rows:
            gs = [g for g in f["models/F2/cells"].values() if int(g.attrs["bottleneck"]) == int(r[0])]
            agree = [np.mean(clf.predict(Autoencoder.from_group(g).reconstruct(x)) == p0) for g in
                     sorted(gs, key=lambda g: int(g.attrs["repeat"]))]
            assert int(r[col["repeats"]]) == 2
            assert close(r[col["agreement (mean)"]], float(np.mean(agree)))
            assert close(r[col["agreement (std)"]], float(np.std(agree, ddof=1))) or \
                (agree[0] == agree[1] and float(r[col["agreement (std)"]]) == 0)
    assert "logistic regression" in md


# ---------------------------------------------------------------- width lists (issue 17 leftover)

WIDTHS_SPEC = """
study = "widths";
seed = 5;
data = { source = "moons"; pool = 400; noise = 0.1; };
tests = ( { name = "test"; noise = 0.1; size = 200; } );
defaults = { train_size = 300; epochs = 10; lr = 0.003; layers = 1; bottleneck = 1; };
stages = (
  { name = "wl"; axes = { hidden = ([6, 4], 5); layers = [0, 1]; }; },
  { name = "wl_profile"; axes = { hidden = ([6, 4], 8, [5, 3]); }; },
  { name = "wl_inherit"; inherit = ["hidden"]; fixed = { layers = 0; }; }
);
"""


def test_width_list_report(tmp_path):
    """hidden axes holding width lists (coded -(1 + i) in the file, labels on the scale) are reported
    as the spec writes them: heat map rows and ticks, profile rows, axes, best and inherited values."""
    h5 = run_study(str(tmp_path), "widths", WIDTHS_SPEC)
    out = str(tmp_path / "report")
    md = make_report(h5, out)
    tables = parse_tables(md)
    with h5py.File(h5, "r") as f:
        labels = str(py(f["wl/hidden"].attrs["labels"])).split(";")
        assert labels == ["[6, 4]", "5"]
        best = [float(v) for v in f["wl_profile/test_mse_test_mean"][()]]
    hdr, rows = tables["heatmap:wl"]
    assert [r[0] for r in rows] == ["[6, 4]", "5"]
    hdr, rows = tables["profile:wl_profile:hidden"]
    assert [r[0] for r in rows] == ["[6, 4]", "8", "[5, 3]"]
    for r, want in zip(rows, best):
        assert close(r[1], want)
    assert "hidden ([6, 4], 5)" in md and "hidden ([6, 4], 8, [5, 3])" in md
    # the best-cell table and the inherited stage's parameters: never a code
    hdr, rows = tables["best"]
    col = hdr.index("hidden")
    for r in rows:
        assert not r[col].rstrip("*").startswith("-"), r
        assert r[col].rstrip("*") in ("[6, 4]", "5", "8", "[5, 3]"), r
    assert "hidden=-" not in md
    check_figures(out, md, ["wl_heatmap", "wl_profile_profile"])
