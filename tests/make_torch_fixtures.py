#!/usr/bin/python3
"""Generate the PyTorch parity fixtures read by tests/test_parity.c.

Usage (from the source root):

    ${PYTHON:-/usr/bin/python3} tests/make_torch_fixtures.py [outdir [name ...]]

or tests/make_torch_fixtures.py [outdir]: the script re-executes itself
under $PYTHON when that is set and is not the running interpreter.

outdir defaults to tests/fixtures next to this script.  Needs torch, numpy,
h5py and scikit-learn.  Everything is float32, single-threaded and seeded, so
rerunning reproduces the files (up to the torch build's own kernels).

For each architecture in-hidden x layers-bottleneck the network is the
reference autoencoder, built exactly as aesweep builds it (model.h):

    encoder: Linear(in,h) ReLU, layers x [Linear(h,h) ReLU], Linear(h,b)
    decoder: Linear(b,h) ReLU, layers x [Linear(h,h) ReLU], Linear(h,in)

and, for the general fixtures (issue 17), the encoder widths E = widths +
layers x [widths[-1]] with the decoder mirrored, activation relu, tanh or
elu (alpha 1) after every hidden linear layer, and with arch "resnet" every
transition between two equal widths the residual block
h + W2 act(W1 h + b1) + b2 (model.h, README "Architectures").

with nn.Linear's default initialisation, MSE loss (mean over all elements)
and full-batch Adam(lr, betas=(0.9, 0.999), eps=1e-8).  We take `steps`
steps (zero_grad, loss, backward, step), recording the loss before each step.

File torch_<name>.h5 holds
    attrs    in, hidden, layers, bottleneck, steps, nlin, seed (int64),
             arch (0 mlp, 1 resnet), activation (0 relu, 1 tanh, 2 elu),
             widths (int64 array, the given encoder widths; hidden = widths[0]),
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


MLP, RESNET = 0, 1
RELU, TANH, ELU = 0, 1, 2

# name, data, hidden (a width or a list of widths), layers, bottleneck, lr,
# seed[, arch, activation]
FIXTURES = [
    ("moons_2-20x3-1", lambda: moons(64), 20, 3, 1, 0.002, 1),
    ("digits_64-65x1-2", lambda: digits(50), 65, 1, 2, 0.001, 2),
    ("moons_2-10x0-1", lambda: moons(32), 10, 0, 1, 0.002, 3),
    ("moons_2-8x2-2", lambda: moons(48), 8, 2, 2, 0.002, 4),
    # general architectures (issue 17)
    ("digits_64-48-24x0-6", lambda: digits(60), [48, 24], 0, 6, 0.001, 5),
    ("digits_64-32x2-4_resnet", lambda: digits(60), 32, 2, 4, 0.001, 6, RESNET),
    # pixels scaled to [0, 1]: raw 0..16 saturates tanh, and Adam turns the
    # rounding-level gradients of saturated units into full steps
    ("digits01_64-40-20x1-4_tanh", lambda: digits(60) / 16, [40, 20], 1, 4, 0.002, 7, MLP, TANH),
    ("digits_64-40-20x1-4_elu", lambda: digits(60), [40, 20], 1, 4, 0.001, 8, MLP, ELU),
    ("moons_2-16-16x1-1_resnet_tanh", lambda: moons(64), [16, 16], 1, 1, 0.002, 9, RESNET, TANH),
]


class Autoencoder(torch.nn.Module):
    """The layer list of model.h: (Linear, activation after it?, skip source)
    per linear layer; a skip source s adds acts[s], the input of layer s."""

    def __init__(self, n_in, widths, layers, bottleneck, arch, act):
        super().__init__()
        e = list(widths) + [widths[-1]] * layers
        self.act = act
        lins, self.after, self.skip = [], [], []
        dims = [n_in]

        def lin(w, after):
            lins.append(torch.nn.Linear(dims[-1], w))
            self.after.append(after)
            self.skip.append(-1)
            dims.append(w)

        def step(a, b):
            if arch == RESNET and a == b:  # h + W2 act(W1 h + b1) + b2
                lin(b, True)
                lin(b, False)
                self.skip[-1] = len(lins) - 2
            else:
                lin(b, True)

        lin(e[0], True)
        for i in range(1, len(e)):
            step(e[i - 1], e[i])
        lin(bottleneck, False)
        lin(e[-1], True)
        for i in range(len(e) - 1, 0, -1):
            step(e[i], e[i - 1])
        lin(n_in, False)
        self.lins = torch.nn.ModuleList(lins)

    def forward(self, x):
        acts = [x]
        for l, m in enumerate(self.lins):
            y = m(acts[-1])
            if self.after[l]:
                y = (torch.relu(y) if self.act == RELU else torch.tanh(y) if self.act == TANH
                     else torch.nn.functional.elu(y, alpha=1.0))
            if self.skip[l] >= 0:
                y = y + acts[self.skip[l]]
            acts.append(y)
        return acts[-1]


def build(n_in, hidden, layers, bottleneck, arch=MLP, act=RELU):
    widths = hidden if isinstance(hidden, list) else [hidden]
    return Autoencoder(n_in, widths, layers, bottleneck, arch, act)


def linears(net):
    return list(net.lins)


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


def make_one(outdir, name, data, hidden, layers, bottleneck, lr, seed, arch=MLP, act=RELU):
    X = data()
    n_in = X.shape[1]
    torch.manual_seed(seed)
    net = build(n_in, hidden, layers, bottleneck, arch, act)
    lin = linears(net)
    widths = hidden if isinstance(hidden, list) else [hidden]
    assert arch == RESNET or len(lin) == 2 * (len(widths) + layers) + 2
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
        for key, v in (("in", n_in), ("hidden", widths[0]), ("layers", layers),
                       ("bottleneck", bottleneck), ("steps", STEPS), ("nlin", len(lin)),
                       ("seed", seed), ("arch", arch), ("activation", act)):
            f.attrs.create(key, v, dtype=np.int64)
        f.attrs.create("widths", np.asarray(widths, dtype=np.int64))
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
    only = set(sys.argv[2:])  # optional: fixture names to (re)make
    for fx in FIXTURES:
        if not only or fx[0] in only:
            make_one(outdir, *fx)


if __name__ == "__main__":
    main()
