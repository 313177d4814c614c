"""nnet.py - an aesweep autoencoder rebuilt in numpy from a stored model group.

A model group (/models/<stage>/best or /models/<stage>/cells/<i>, see
docs/results-format.md) holds W<l> float32 [out][in] and b<l> float32 [out]
for l = 0..nlin-1, laid out as nn.Linear: y = x W^T + b.  ReLU follows every
layer except the code layer (l = code_layer) and the last (l = nlin-1).  The
model works in scaled units: x_model = (x - shift) / scale; its output goes
back to data units as y * scale + shift.

Arithmetic is float64 on the float32 weights, so reconstructions agree with
the C code (float32 with BLAS) to rounding, about 1e-6 relative.

Not for: training.
"""
import numpy as np


def _attr_int(g, key, default):
    v = g.attrs.get(key, default)
    v = np.asarray(v).reshape(-1)[0] if np.ndim(v) else v
    return int(v)


class Autoencoder:
    def __init__(self, weights, biases, code_layer, shift=None, scale=None):
        if len(weights) != len(biases) or not weights:
            raise ValueError("need as many biases as weights, at least one layer")
        if not 0 <= code_layer < len(weights) - 1:
            raise ValueError("code_layer %d out of range for %d layers" % (code_layer, len(weights)))
        self.W = [np.asarray(w, dtype=np.float64) for w in weights]
        self.b = [np.asarray(b, dtype=np.float64).reshape(-1) for b in biases]
        for l in range(len(self.W) - 1):
            if self.W[l + 1].shape[1] != self.W[l].shape[0]:
                raise ValueError("layer %d: W is %s after %s" % (l + 1, self.W[l + 1].shape, self.W[l].shape))
        self.code_layer = int(code_layer)
        d = self.W[0].shape[1]
        self.shift = np.zeros(d) if shift is None else np.asarray(shift, dtype=np.float64).reshape(-1)
        self.scale = np.ones(d) if scale is None else np.asarray(scale, dtype=np.float64).reshape(-1)

    @classmethod
    def from_group(cls, g):
        """Rebuild from an h5py group holding W<l>, b<l>, code_layer, scaler_*."""
        nlin = _attr_int(g, "nlin", 0)
        if nlin <= 0:
            nlin = 0
            while "W%d" % nlin in g:
                nlin += 1
        Ws = [g["W%d" % l][()] for l in range(nlin)]
        bs = [g["b%d" % l][()] for l in range(nlin)]
        if "code_layer" in g.attrs:
            code = _attr_int(g, "code_layer", 0)
        else:  # encoder: Linear(in,h) + layers blocks, then the code layer
            code = _attr_int(g, "layers", (nlin - 4) // 2) + 1
        shift = g["scaler_shift"][()] if "scaler_shift" in g else None
        scale = g["scaler_scale"][()] if "scaler_scale" in g else None
        return cls(Ws, bs, code, shift, scale)

    @property
    def in_dim(self):
        return self.W[0].shape[1]

    @property
    def bottleneck(self):
        return self.W[self.code_layer].shape[0]

    def _run(self, a, first, last):
        a = np.asarray(a, dtype=np.float64)
        for l in range(first, last + 1):
            a = a @ self.W[l].T + self.b[l]  # y = x W^T + b
            if l != self.code_layer and l != len(self.W) - 1:
                a = np.maximum(a, 0.0)
        return a

    def encode(self, x):
        """Codes [n][b] of data-unit inputs x [n][d]."""
        x = (np.asarray(x, dtype=np.float64) - self.shift) / self.scale
        return self._run(x, 0, self.code_layer)

    def decode(self, z):
        """Data-unit outputs [n][d] of codes z [n][b]."""
        y = self._run(np.atleast_2d(z), self.code_layer + 1, len(self.W) - 1)
        return y * self.scale + self.shift

    def reconstruct(self, x):
        return self.decode(self.encode(x))
