#!/usr/bin/env python3
"""Re-create the IDX and .npy fixtures of the bad-input catalogue (cases idx-*,
npy-*).  Needs numpy.  Run from tests/bad_input/data/."""
import gzip

import numpy as np


def idx(a, code=0x08):
    a = np.asarray(a)
    return bytes([0, 0, code, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape) + a.tobytes()


rng = np.random.default_rng(3)
img = rng.integers(0, 256, (10, 4, 4), dtype=np.uint8)
open("idx_img.idx", "wb").write(idx(img))                                   # valid: 10 images of 4 x 4
open("idx_lab10.idx", "wb").write(idx(np.arange(10, dtype=np.uint8) % 3))   # valid: its 10 labels
open("idx_lab9.idx", "wb").write(idx(np.arange(9, dtype=np.uint8) % 3))     # 9 labels: the wrong count
open("idx_test.idx", "wb").write(idx(img[:5]))                              # valid test file
open("idx_test5x5.idx", "wb").write(idx(rng.integers(0, 256, (5, 5, 5), dtype=np.uint8)))  # 25 features, not 16
open("idx_bad_magic.idx", "wb").write(b"PK\x03\x04" + bytes(60))            # a zip file, not IDX
z = gzip.compress(idx(img), mtime=0)
open("idx_truncated.idx.gz", "wb").write(gzip.compress(idx(img)[:100], mtime=0))  # valid gzip, data cut
open("idx_trailing.idx", "wb").write(idx(img) + b"\0" * 5)                  # 5 bytes after the data
x = rng.random((10, 3)).astype("f4")
with open("npy_bad_header.npy", "wb") as f:                                 # magic fine, no 'shape'
    h = b"{'descr': '<f4', 'fortran_order': False, }"
    h += b" " * (118 - len(h)) + b"\n"
    f.write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + x.tobytes())
np.save("npy_fortran.npy", np.asfortranarray(x))                            # column-major
