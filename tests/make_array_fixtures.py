#!/usr/bin/env python3
"""Write tests/fixtures/arrays/: small IDX and .npy files written by numpy (not
by aesweep), and for each the values numpy reads from it as a CSV (%.9g, which
round-trips float32), the reference that tests/test_data.c compares aesweep's
IDX and .npy loaders with.  Run: ${PYTHON:-/usr/bin/python3} tests/make_array_fixtures.py"""
import gzip
import os

import numpy as np

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "arrays")
os.makedirs(here, exist_ok=True)
IDX_TYPE = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
            np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(a):
    """The IDX format (as in the MNIST files): 0 0 type ndims, big-endian uint32 dims, big-endian data."""
    a = np.asarray(a)
    be = a.astype(a.dtype.newbyteorder(">")) if a.dtype.itemsize > 1 else a
    head = bytes([0, 0, IDX_TYPE[be.dtype], a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return head + np.ascontiguousarray(be).tobytes()


def write(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


def ref(name, x, labels=None):
    """Reference CSV: the rows as numpy sees them (flattened, float32), label last if any."""
    x = np.asarray(x).reshape(len(x), -1)
    cols = [x] if labels is None else [x, np.asarray(labels).reshape(-1, 1)]
    np.savetxt(os.path.join(here, name), np.hstack(cols).astype(np.float64), fmt="%.9g", delimiter=",")


i, r, c = np.meshgrid(np.arange(7), np.arange(3), np.arange(4), indexing="ij")
img = ((i * 37 + r * 11 + c * 5 + 3) % 256).astype(np.uint8)       # 7 images of 3 x 4, all of 0..255 used
img[0, 0, 0], img[1, 2, 3] = 0, 255
lab = (np.arange(7) * 3 % 10).astype(np.uint8)
write("img7x3x4.idx", idx_bytes(img))
write("img7x3x4.idx.gz", gzip.compress(idx_bytes(img), mtime=0))
write("lab7.idx", idx_bytes(lab))
write("lab7.idx.gz", gzip.compress(idx_bytes(lab), mtime=0))
unit = img.reshape(7, -1).astype(np.float32) / np.float32(255)     # pixels = "unit"
ref("img7x3x4_unit.csv", unit, lab)
ref("img7x3x4_raw.csv", img.reshape(7, -1))

rng = np.random.default_rng(11)
f = (rng.standard_normal((5, 6)) * 100).astype(np.float32)
write("f32_5x6.idx", idx_bytes(f.astype(">f4")))
d = rng.standard_normal((4, 3)) * 1e-3
write("f64_4x3.idx", idx_bytes(d.astype(">f8")))
ref("f32_5x6.csv", f)
ref("f64_4x3.csv", d.astype(np.float32))
s16 = rng.integers(-3000, 3000, (3, 2, 2)).astype(">i2")
write("i16_3x2x2.idx", idx_bytes(s16))
ref("i16_3x2x2.csv", s16.astype(np.float32))

np.save(os.path.join(here, "f32_5x6.npy"), f)
np.save(os.path.join(here, "f32_5x6_be.npy"), f.astype(">f4"))
np.save(os.path.join(here, "f64_4x3.npy"), d)
np.save(os.path.join(here, "u8_7x3x4.npy"), img)
np.save(os.path.join(here, "lab7_i8.npy"), lab.astype(np.int64))
with open(os.path.join(here, "f32_5x6_v2.npy"), "wb") as fh:   # format 2.0: 4-byte header length
    np.lib.format.write_array(fh, f, version=(2, 0))
write("f32_5x6.npy.gz", gzip.compress(open(os.path.join(here, "f32_5x6.npy"), "rb").read(), mtime=0))
