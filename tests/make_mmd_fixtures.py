#!/usr/bin/python3
"""Generate the MMD parity fixtures read by tests/test_mmd.c.

Usage (from the source root):

    ${PYTHON:-/usr/bin/python3} tests/make_mmd_fixtures.py [outdir]

outdir defaults to tests/fixtures next to this script.  Needs torch, numpy,
h5py and scikit-learn.  Seeded and single-threaded: rerunning reproduces the
files (up to the torch build's own kernels).

For each case, codes X [n][b] and a sample Z [n][b] ~ N(0, I) (both float32,
from numpy's seeded generator) and the unbiased estimator (Gretton et al.
2012, eq. 3; diagonal terms left out)

    MMD^2 = sum_{i!=j} k(x_i,x_j)/(n(n-1)) + sum_{i!=j} k(z_i,z_j)/(n(n-1))
          - 2 sum_{i,j} k(x_i,z_j)/n^2

with k(x,y) = f(|x-y|^2) summed over scales, as aesweep's spec builds them
(task.c fill_mmd_cfg: s0, s0/2, ..., nscales of them):

    rbf: f(s) = sum_h exp(-s / (2h))       imq: f(s) = sum_C C / (C + s)

The loss and d MMD^2 / d X are computed by autograd in float64 from the
float32 inputs (the exact answer for those inputs, to ~1e-15); the float32
autograd loss is kept as an attribute for reference.

File mmd_<name>.h5 holds
    attrs    kernel (int64: 0 rbf, 1 imq), kernel_name (string),
             scale0 (double), nscales, n, b, seed (int64),
             loss (double, float64 autograd), loss_f32 (double),
             torch_version (string)
    X        float32 [n][b]   the codes
    Z        float32 [n][b]   the normal sample
    scales   float64 [nscales]
    grad     float64 [n][b]   d MMD^2 / d X
"""
import os
import sys

if (os.environ.get("PYTHON") and not os.environ.get("_AESWEEP_FIXTURES_REEXEC")
        and os.path.realpath(os.environ["PYTHON"]) != os.path.realpath(sys.executable)):
    os.environ["_AESWEEP_FIXTURES_REEXEC"] = "1"
    os.execvp(os.environ["PYTHON"], [os.environ["PYTHON"], os.path.abspath(__file__)] + sys.argv[1:])

import h5py
import numpy as np
import torch
from sklearn.datasets import make_moons


def gauss(mean, std):
    def gen(rng, n, b):
        return (rng.standard_normal((n, b)) * np.asarray(std) + np.asarray(mean)).astype(np.float32)
    return gen


def moons(rng, n, b):
    assert b == 2
    X, _ = make_moons(n_samples=n, noise=0.1, random_state=int(rng.integers(1 << 30)))
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)  # roughly unit scale, like codes


# name, kernel, scale0, nscales, n, b, seed, codes generator
CASES = [
    ("rbf_h1_k5_n50", "rbf", 1.0, 5, 50, 2, 11, gauss([0.4, -0.2], [1.3, 0.8])),
    ("rbf_h2_k3_n200", "rbf", 2.0, 3, 200, 2, 12, moons),
    ("rbf_h0.5_k4_n128", "rbf", 0.5, 4, 128, 2, 13, gauss([0.0, 0.0], [1.05, 1.05])),
    ("rbf_h1_k5_n60_b5", "rbf", 1.0, 5, 60, 5, 14, gauss([0.2] * 5, [0.9] * 5)),
    ("imq_C2_k3_n100", "imq", 2.0, 3, 100, 2, 21, gauss([1.0, 0.0], [0.7, 0.7])),
    ("imq_C1_k1_n150", "imq", 1.0, 1, 150, 2, 22, moons),
    ("imq_C4_k5_n77", "imq", 4.0, 5, 77, 2, 23, gauss([0.0, 0.1], [1.0, 0.95])),
]


def mmd2(X, Z, kernel, scales):
    n = X.shape[0]

    def k(A, B):
        D = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
        if kernel == "rbf":
            return sum(torch.exp(-D / (2.0 * h)) for h in scales)
        return sum(C / (C + D) for C in scales)

    off = 1.0 - torch.eye(n, dtype=X.dtype)
    return ((k(X, X) * off).sum() / (n * (n - 1)) + (k(Z, Z) * off).sum() / (n * (n - 1))
            - 2.0 * k(X, Z).mean())


def make_one(outdir, name, kernel, scale0, nscales, n, b, seed, gen):
    rng = np.random.default_rng(seed)
    X = gen(rng, n, b)
    Z = rng.standard_normal((n, b)).astype(np.float32)
    scales = [scale0 / 2.0 ** i for i in range(nscales)]

    X64 = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    loss = mmd2(X64, torch.tensor(Z, dtype=torch.float64), kernel, scales)
    loss.backward()
    grad = X64.grad.numpy().copy()
    loss32 = mmd2(torch.tensor(X), torch.tensor(Z), kernel, scales).item()

    path = os.path.join(outdir, "mmd_%s.h5" % name)
    with h5py.File(path, "w", libver="earliest") as f:
        for key, v in (("kernel", 0 if kernel == "rbf" else 1), ("nscales", nscales), ("n", n),
                       ("b", b), ("seed", seed)):
            f.attrs.create(key, v, dtype=np.int64)
        f.attrs["kernel_name"] = np.bytes_(kernel)
        f.attrs.create("scale0", scale0, dtype=np.float64)
        f.attrs.create("loss", loss.item(), dtype=np.float64)
        f.attrs.create("loss_f32", loss32, dtype=np.float64)
        f.attrs["torch_version"] = np.bytes_(str(torch.__version__))
        f.create_dataset("X", data=X)
        f.create_dataset("Z", data=Z)
        f.create_dataset("scales", data=np.asarray(scales, dtype=np.float64))
        f.create_dataset("grad", data=grad)
    print("%-40s n=%-3d b=%d %s scales %s  MMD^2 %.6g (f32 %.6g)  max|grad| %.3g"
          % (path, n, b, kernel, scales, loss.item(), loss32, np.abs(grad).max()))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "fixtures")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for case in CASES:
        make_one(outdir, *case)


if __name__ == "__main__":
    main()
