"""The best model of a successive-halving stage (src/saved.c), issue 16.

tests/specs/halving_small.cfg is one bracket of rungs 3, 9, 27 epochs, so its
best trial reached rung 2: its metrics come from a task continued twice from
carried states.  saved.c stores the best model by retraining that trial from
scratch to 27 epochs (plan_cube_hp) and warns when the retrained metric is
not the cube's; with save_models the stage instead keeps every cell's weights
from the states the tasks shipped (a continuation's end state).  Checked:

  - run at 1 rank: exit 0, no warning (the retrained metric equals the cube);
  - the same spec with save_models at 3 ranks (continuations on workers, states
    sent with the scatter): the same metrics, and the saved weights of the best
    cell (continued: 0 -> 3 -> 9 -> 27 epochs across three tasks) equal the
    retrained-from-scratch best model of the first run bit for bit;
  - every metric of every (trial, rung) that ran - continued rungs included -
    equals the cell of the same configuration at that rung's epochs in the
    same space run as a plain grid with an epochs axis (one trajectory per
    cell from scratch, no carried state): the grid + halving stage's trials
    are its cells (a keyed permutation), and seeds ignore the epochs.
"""
import os
import subprocess

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["AESWEEP_BIN"]
SPEC = os.path.join(HERE, "specs", "halving_small.cfg")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")


def run(spec, out, np_=1):
    cmd = ["mpirun", "--oversubscribe", "-np", str(np_), BIN, "run", spec, "-o", out, "--quiet"]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stderr


def weights(g):
    return {k: g[k][()] for k in g.keys() if isinstance(g[k], h5py.Dataset) and k[0] in "Wb"}


def test_best_model_of_a_continued_trial(tmp_path):
    a = str(tmp_path / "a.h5")
    err = run(SPEC, a)
    assert "warning" not in err, err
    saving = str(tmp_path / "saving.cfg")
    with open(SPEC) as f, open(saving, "w") as g:
        g.write(f.read().replace('select = "test_mse_clean";', 'select = "test_mse_clean"; save_models = true;'))
    b = str(tmp_path / "b.h5")
    err = run(saving, b, 3)
    assert "warning" not in err, err
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ga, gb = fa["hb"], fb["hb"]
        nrungs = ga["test_mse_clean"].shape[1]
        best = int(ga.attrs["best_cell"])
        assert int(gb.attrs["best_cell"]) == best
        assert best % nrungs == 2, "the best trial is not a continued one"
        for m in ("test_mse_clean", "train_mse", "gen_mmd"):
            x, y = ga[m][()], gb[m][()]
            assert x.tobytes() == y.tobytes(), m
        retrained = weights(fa["models/hb/best"])
        continued = weights(fb["models/hb/cells/%d" % best])
        assert retrained and sorted(retrained) == sorted(continued)
        for k in retrained:
            assert retrained[k].dtype == continued[k].dtype and retrained[k].tobytes() == continued[k].tobytes(), k
        # the other saved cells: one per trained (trial, rung)
        assert len(fb["models/hb/cells"]) == int(np.sum(gb["status"][()] == 0))


def test_rungs_equal_the_grid(tmp_path):
    h = str(tmp_path / "h.h5")
    run(SPEC, h, 2)
    grid = str(tmp_path / "grid.cfg")
    with open(SPEC) as f, open(grid, "w") as g:
        text = f.read()
        cut = text.index("    halving = {")
        text = text[:cut] + text[text.index("\n", cut) + 1:]
        g.write(text.replace("mmd_lambda = [0.0, 0.3]; };", "mmd_lambda = [0.0, 0.3]; epochs = [3, 9, 27]; };"))
    gfile = str(tmp_path / "grid.h5")
    run(grid, gfile)
    with h5py.File(h, "r") as fh, h5py.File(gfile, "r") as fg:
        H, G = fh["hb"], fg["hb"]
        axes = ["lr", "hidden", "batch_size", "mmd_lambda"]
        vals = {a: list(G[a][()]) for a in axes + ["epochs"]}
        epochs = H["rung_epochs"][()]
        bracket = H["trial_bracket"][()]
        n = continued = 0
        for m in ("test_mse_clean", "train_mse", "code_mmd", "code_mean_dist", "code_cov_dist", "gen_mmd"):
            M, GM = H[m][()], G[m][()]
            for t in range(M.shape[0]):
                for r in range(M.shape[1]):
                    if np.isnan(M[t, r]):
                        continue
                    e = int(epochs[bracket[t]][r])
                    idx = tuple(vals[a].index(H[a][t]) for a in axes) + (vals["epochs"].index(e), 0)
                    assert M[t, r].tobytes() == GM[idx].tobytes(), (m, t, r, e, M[t, r], GM[idx])
                    n += 1
                    continued += r > 0
        assert n == 6 * 34 and continued == 6 * 10, (n, continued)  # 24 + 8 + 2 segments, 10 of them continued
