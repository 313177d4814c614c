#!/usr/bin/env python3
"""torch_wide.py - the wide-layer training of bench_wide.c in PyTorch, timed.

The same network (tests/make_torch_fixtures.py's Autoencoder: MLP or residual
blocks, ReLU), data (the first --rows images of an IDX file, / 255, or
--synthetic uniform data), Adam (lr 1e-3), MSE loss, mini-batches of --batch
rows reshuffled every epoch (0: full batch), one thread
(torch.set_num_threads(1)), and the same spans: load, train (the epoch loop
plus the training MSE over all rows at the end, as train_run reports it),
evaluate (test MSE).  Prints one JSON line:
  {"config", "load_s", "train_s", "train_cpu_s", "eval_s", "total_s",
   "steps", "step_ms", "gflops", "final_mse", "test_mse", "maxrss_mb"}
Not a test; bench/run.sh calls it.
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from make_torch_fixtures import MLP, RESNET, RELU, build  # noqa: E402


def load_idx(path, n):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        h = f.read(16)
        cnt = int.from_bytes(h[4:8], "big")
        d = int.from_bytes(h[8:12], "big") * int.from_bytes(h[12:16], "big")
        n = min(n, cnt)
        x = np.frombuffer(f.read(n * d), dtype=np.uint8).reshape(n, d)
    return (x.astype(np.float32) / 255.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", default="800")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--bottleneck", type=int, default=32)
    ap.add_argument("--arch", default="mlp")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--rows", type=int, default=40000)
    ap.add_argument("--test-rows", type=int, default=10000)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    ap.add_argument("--test", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(7)
    t0 = time.perf_counter()
    if a.synthetic:
        g = np.random.default_rng(1)
        X = g.random((a.rows, 784), dtype=np.float32)
        T = g.random((a.test_rows, 784), dtype=np.float32)
    else:
        X, T = load_idx(a.data, a.rows), load_idx(a.test, a.test_rows)
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    t_load = time.perf_counter() - t0
    widths = [int(w) for w in a.hidden.split(",")]
    net = build(X.shape[1], widths if len(widths) > 1 else widths[0], a.layers, a.bottleneck,
                RESNET if a.arch == "resnet" else MLP, RELU)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.MSELoss()
    n = X.shape[0]
    full = a.batch <= 0 or a.batch >= n
    steps = 0
    c0, t1 = time.process_time(), time.perf_counter()
    for _ in range(a.epochs):
        if full:
            opt.zero_grad()
            loss = lossf(net(Xt), Xt)
            loss.backward()
            opt.step()
            steps += 1
        else:
            perm = torch.randperm(n)
            for s in range(0, n, a.batch):
                b = Xt[perm[s:s + a.batch]]
                opt.zero_grad()
                loss = lossf(net(b), b)
                loss.backward()
                opt.step()
                steps += 1
    with torch.no_grad():
        final = sum(lossf(net(Xt[i:i + 1024]), Xt[i:i + 1024]).item() * len(Xt[i:i + 1024])
                    for i in range(0, n, 1024)) / n
    t_train, c_train = time.perf_counter() - t1, time.process_time() - c0
    t2 = time.perf_counter()
    with torch.no_grad():
        test = sum(lossf(net(Tt[i:i + 1024]), Tt[i:i + 1024]).item() * len(Tt[i:i + 1024])
                   for i in range(0, len(Tt), 1024)) / len(Tt)
    t_eval = time.perf_counter() - t2
    lin = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    macs = sum(m.in_features * m.out_features for m in lin)
    dims = "-".join([str(X.shape[1])] + [str(w) for w in widths + [widths[-1]] * a.layers] + [str(a.bottleneck)])
    cfg = dims + (" resnet" if a.arch == "resnet" else "")
    print(json.dumps({
        "config": (a.label + " " if a.label else "") + cfg, "arch": cfg, "batch": a.batch, "epochs": a.epochs,
        "rows": n, "kernel": "torch " + torch.__version__, "load_s": t_load, "train_s": t_train,
        "train_cpu_s": c_train, "eval_s": t_eval, "total_s": t_load + t_train + t_eval, "steps": steps,
        "step_ms": 1e3 * t_train / steps, "gflops": 6.0 * macs * n * a.epochs / t_train * 1e-9,
        "final_mse": final, "test_mse": test,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
