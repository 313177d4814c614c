#!/usr/bin/env python3
"""torch_grid.py - the study's Python loop over the moons M1 grid, timed (bench/run.sh).

For every cell (train_size x epochs x lr, 2-20x3-1, one repeat) it trains a
fresh PyTorch model for `epochs` full-batch Adam epochs, as the study does
(no trajectory reuse), and evaluates the test MSE on 10,000 test points.
One thread (torch.set_num_threads(1)).

  --part i --nparts k   run cells i, i+k, i+2k, ... (to split over processes)
  --quick-epochs E      train each cell for min(E, epochs) epochs and scale
                        its time by epochs / min(E, epochs): an EXTRAPOLATION
                        (labelled "extrapolated": true), for a quick run

Prints one JSON object: {"cells": c, "seconds": wall, "cpu_seconds": cpu,
"extrapolated": bool, "cell_seconds": [...]} where seconds is the measured
(or extrapolated) total and cpu_seconds the process CPU time likewise.
"""
import argparse
import itertools
import json
import sys
import time

import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_train import make_model, moons  # noqa: E402

SIZES = [1000, 3000, 5000, 7000, 9000]
EPOCHS = [50, 100, 300, 500, 1000]
LRS = [0.003, 0.002, 0.001, 0.0005]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", type=int, default=0)
    ap.add_argument("--nparts", type=int, default=1)
    ap.add_argument("--quick-epochs", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    pool = torch.from_numpy(moons(10000, 0.1, 1))
    test = torch.from_numpy(moons(10000, 0.1, 2))
    cells = list(itertools.product(SIZES, EPOCHS, LRS))[a.part::a.nparts]
    crit = nn.MSELoss()
    t_all = time.perf_counter()
    c_all = time.process_time()
    cell_secs, cell_cpu = [], []
    for i, (n, epochs, lr) in enumerate(cells):
        torch.manual_seed(i)
        t0 = time.perf_counter()
        c0 = time.process_time()
        X = pool[:n]
        model = make_model(2, 20, 3, 1)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        run = min(epochs, a.quick_epochs) if a.quick_epochs > 0 else epochs
        for _ in range(run):
            opt.zero_grad()
            loss = crit(model(X), X)
            loss.backward()
            opt.step()
        t_train = time.perf_counter() - t0
        c_train = time.process_time() - c0
        t1 = time.perf_counter()
        c1 = time.process_time()
        with torch.no_grad():
            test_mse = float(crit(model(test), test))
        t_eval = time.perf_counter() - t1
        cell_secs.append(t_train * epochs / run + t_eval)
        cell_cpu.append(c_train * epochs / run + time.process_time() - c1)
        del test_mse
    wall = time.perf_counter() - t_all
    out = {"cells": len(cells), "part": a.part, "nparts": a.nparts,
           "extrapolated": a.quick_epochs > 0,
           "seconds": sum(cell_secs) if a.quick_epochs > 0 else wall,
           "measured_seconds": wall,
           "cpu_seconds": sum(cell_cpu) if a.quick_epochs > 0 else time.process_time() - c_all,
           "cell_seconds": cell_secs, "torch": torch.__version__}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
