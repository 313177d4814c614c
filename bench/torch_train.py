#!/usr/bin/env python3
"""torch_train.py - the study's training loop in PyTorch, timed (the baseline of bench/run.sh).

Written the way the study writes it: an nn.Sequential MLP autoencoder
(Linear/ReLU, no activation on the code or the output), PyTorch's default
init, nn.MSELoss, torch.optim.Adam, full batch, one thread
(torch.set_num_threads(1)).  Only the epoch loop is timed (data generation and
model construction are not).  Prints one JSON object per repeat:
  {"config": ..., "seconds": s, "cpu_seconds": c, "epochs": e, "rows": n,
   "macs_per_row": m, "final_loss": l}
(cpu_seconds > seconds would mean more than one thread ran.)

Not a test and not a reference for numbers (tests/make_torch_fixtures.py is);
it only measures time.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def moons(n, noise, seed):
    """make_moons as sklearn does it (outer half, inner half, shuffled, noise)."""
    rng = np.random.RandomState(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, math.pi, n_out)
    t_in = np.linspace(0, math.pi, n_in)
    x = np.concatenate([np.cos(t_out), 1 - np.cos(t_in)])
    y = np.concatenate([np.sin(t_out), 1 - np.sin(t_in) - 0.5])
    X = np.stack([x, y], axis=1)
    X = X[rng.permutation(n)]
    X = X + rng.normal(scale=noise, size=X.shape)
    return X.astype(np.float32)


def digits(path, seed):
    with gzip.open(path, "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    # skip a header row if there is one; drop a label column (65 columns)
    try:
        float(rows[0][0])
    except ValueError:
        rows = rows[1:]
    A = np.array(rows, dtype=np.float64)
    if A.shape[1] == 65:
        A = A[:, :64]
    perm = np.random.RandomState(seed).permutation(A.shape[0])
    ntr = int(round(A.shape[0] * 2 / 3))
    return A[perm[:ntr]].astype(np.float32), A[perm[ntr:]].astype(np.float32)


def make_model(d, hidden, layers, bottleneck):
    enc = [nn.Linear(d, hidden), nn.ReLU()]
    for _ in range(layers):
        enc += [nn.Linear(hidden, hidden), nn.ReLU()]
    enc += [nn.Linear(hidden, bottleneck)]
    dec = [nn.Linear(bottleneck, hidden), nn.ReLU()]
    for _ in range(layers):
        dec += [nn.Linear(hidden, hidden), nn.ReLU()]
    dec += [nn.Linear(hidden, d)]
    return nn.Sequential(*enc, *dec)


def macs_per_row(d, hidden, layers, bottleneck):
    dims = [d, hidden] + [hidden] * layers + [bottleneck, hidden] + [hidden] * layers + [d]
    return sum(dims[i] * dims[i + 1] for i in range(len(dims) - 1))


def train(X, epochs, lr, hidden, layers, bottleneck, seed):
    """The study's loop; returns (wall seconds, CPU seconds, final loss, model)."""
    torch.manual_seed(seed)
    model = make_model(X.shape[1], hidden, layers, bottleneck)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    crit = nn.MSELoss()
    Xt = torch.from_numpy(X)
    t0 = time.perf_counter()
    c0 = time.process_time()
    for _ in range(epochs):
        opt.zero_grad()
        loss = crit(model(Xt), Xt)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return dt, cpu, float(loss.item()), model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="moons", help="moons or digits")
    ap.add_argument("--digits-path", default=os.path.join(os.path.dirname(__file__), "..", "data", "digits.csv.gz"))
    ap.add_argument("--train-size", type=int, default=9000)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--hidden", type=int, default=20)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--bottleneck", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.data == "moons":
        X = moons(10000, 0.1, a.seed)[: a.train_size]
    else:
        X, _ = digits(a.digits_path, a.seed)
        X = X[: a.train_size]
    cfg = f"{a.data} {X.shape[1]}-{a.hidden}x{a.layers}-{a.bottleneck} n={X.shape[0]} epochs={a.epochs}"
    m = macs_per_row(X.shape[1], a.hidden, a.layers, a.bottleneck)
    for r in range(a.repeats):
        dt, cpu, loss, _ = train(X, a.epochs, a.lr, a.hidden, a.layers, a.bottleneck, a.seed + r)
        print(json.dumps({"config": cfg, "seconds": dt, "cpu_seconds": cpu, "epochs": a.epochs, "rows": int(X.shape[0]),
                          "macs_per_row": m, "final_loss": loss, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
