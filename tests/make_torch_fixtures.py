#!/usr/bin/python3
"""Generate the PyTorch parity fixtures read by tests/test_parity.c.

Usage (from the source root):

    ${PYTHON:-/usr/bin/python3} tests/make_torch_fixtures.py [outdir]

or tests/make_torch_fixtures.py [outdir]: the script re-executes itself
under $PYTHON when that is set and is not the running interpreter.

outdir defaults to tests/fixtures next to this script.  Needs torch, numpy,
h5py and scikit-learn.  Everything is float32, single-threaded and seeded, so
rerunning reproduces the files (up to the torch build's own kernels).

For each architecture in-hidden x layers-bottleneck the network is the
reference autoencoder, built exactly as aesweep builds it (model.h):

    encoder: Linear(in,h) ReLU, layers x [Linear(h,h) ReLU], Linear(h,b)
    decoder: Linear(b,h) ReLU, layers x [Linear(h,h) ReLU], Linear(h,in)

with nn.Linear's default initialisation, MSE loss (mean over all elements)
and full-batch Adam(lr, betas=(0.9, 0.999), eps=1e-8).  We take `steps`
steps (zero_grad, loss, backward, step), recording the loss before each step.

File torch_<name>.h5 holds
    attrs    in, hidden, layers, bottleneck, steps, nlin, seed (int64),
             lr (double), final_loss (double: loss at the final weights),
             torch_version (string)
    X        float32 [N][in]
    init/W{l}, init/b{l}     float32, l = 0..nlin-1 in order of the linear
                             layers; W is [out][in] (nn.Linear.weight)
    grad/W{l}, grad/b{l}     float32, d loss / d params at the initial weights
    final/W{l}, final/b{l}   float32, parameters after `steps` Adam steps
    loss     float64 [steps], loss before step t
Arrays of COMPRESS_MIN elements or more are stored as one shuffled, gzipped
chunk, smaller ones contiguously (any HDF5 >= 1.8 reads the files).
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
from sklearn.datasets import load_digits, make_moons

STEPS = 20
COMPRESS_MIN = 1024  # elements


def moons(n):
    X, _ = make_moons(n_samples=n, noise=0.1, random_state=0)
    return X.astype(np.float32)


def digits(n):
    return load_digits().data[:n].astype(np.float32)  # raw pixel values 0..16


# name, data, hidden, layers, bottleneck, lr, seed
FIXTURES = [
    ("moons_2-20x3-1", lambda: moons(64), 20, 3, 1, 0.002, 1),
    ("digits_64-65x1-2", lambda: digits(50), 65, 1, 2, 0.001, 2),
    ("moons_2-10x0-1", lambda: moons(32), 10, 0, 1, 0.002, 3),
    ("moons_2-8x2-2", lambda: moons(48), 8, 2, 2, 0.002, 4),
]


def build(n_in, hidden, layers, bottleneck):
    mods = [torch.nn.Linear(n_in, hidden), torch.nn.ReLU()]
    for _ in range(layers):
        mods += [torch.nn.Linear(hidden, hidden), torch.nn.ReLU()]
    mods += [torch.nn.Linear(hidden, bottleneck)]
    mods += [torch.nn.Linear(bottleneck, hidden), torch.nn.ReLU()]
    for _ in range(layers):
        mods += [torch.nn.Linear(hidden, hidden), torch.nn.ReLU()]
    mods += [torch.nn.Linear(hidden, n_in)]
    return torch.nn.Sequential(*mods)


def linears(net):
    return [m for m in net if isinstance(m, torch.nn.Linear)]


def put(g, key, a):
    """Contiguous storage for small arrays (a chunked dataset costs a few KB
    of B-tree), one shuffled+gzipped chunk for large ones."""
    if a.size >= COMPRESS_MIN:
        g.create_dataset(key, data=a, chunks=a.shape, shuffle=True,
                         compression="gzip", compression_opts=9)
    else:
        g.create_dataset(key, data=a)


def write_params(f, group, tensors):
    g = f.create_group(group)
    for l, (w, b) in enumerate(tensors):
        for key, t in (("W%d" % l, w), ("b%d" % l, b)):
            put(g, key, np.ascontiguousarray(t, dtype=np.float32))


def make_one(outdir, name, data, hidden, layers, bottleneck, lr, seed):
    X = data()
    n_in = X.shape[1]
    torch.manual_seed(seed)
    net = build(n_in, hidden, layers, bottleneck)
    lin = linears(net)
    assert len(lin) == 2 * layers + 4
    init = [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in lin]
    Xt = torch.from_numpy(X)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    lossf = torch.nn.MSELoss(reduction="mean")
    losses, grad0 = [], None
    for t in range(STEPS):
        opt.zero_grad()
        loss = lossf(net(Xt), Xt)
        loss.backward()
        losses.append(loss.item())
        if t == 0:
            grad0 = [(m.weight.grad.numpy().copy(), m.bias.grad.numpy().copy()) for m in lin]
        opt.step()
    with torch.no_grad():
        final_loss = lossf(net(Xt), Xt).item()
    final = [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in lin]

    path = os.path.join(outdir, "torch_%s.h5" % name)
    with h5py.File(path, "w", libver="earliest") as f:
        for key, v in (("in", n_in), ("hidden", hidden), ("layers", layers),
                       ("bottleneck", bottleneck), ("steps", STEPS), ("nlin", len(lin)),
                       ("seed", seed)):
            f.attrs.create(key, v, dtype=np.int64)
        f.attrs.create("lr", lr, dtype=np.float64)
        f.attrs.create("final_loss", final_loss, dtype=np.float64)
        f.attrs["torch_version"] = np.bytes_(str(torch.__version__))
        put(f, "X", X)
        put(f, "loss", np.asarray(losses, dtype=np.float64))
        write_params(f, "init", init)
        write_params(f, "grad", grad0)
        write_params(f, "final", final)
    print("%-40s N=%-3d nlin=%-2d loss %.6g -> %.6g  %6.1f KB"
          % (path, X.shape[0], len(lin), losses[0], final_loss, os.path.getsize(path) / 1024))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "fixtures")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    for fx in FIXTURES:
        make_one(outdir, *fx)


if __name__ == "__main__":
    main()
