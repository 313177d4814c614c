#!/usr/bin/env python3
"""Re-create the binary fixtures of the bad-input catalogue (needs h5py:
/usr/bin/python3 on Debian has it).  Run from tests/bad_input/data/."""
import gzip
import h5py
import numpy as np

rng = np.random.default_rng(1)
with h5py.File("bad.h5", "w") as f:
    f["x"] = rng.random((40, 3)).astype("f4")                 # a good rank-2 dataset
    f["rank1"] = rng.random(40).astype("f4")                  # wrong rank: 1
    f["rank3"] = rng.random((10, 3, 2)).astype("f4")          # wrong rank: 3
    y = rng.random((40, 3)); y[7, 2] = np.nan
    f["with_nan"] = y                                         # NaN at [7][2]
    f["names"] = np.array([[b"a", b"b"], [b"c", b"d"], [b"e", b"f"]])  # strings, rank 2
    f.create_dataset("wide", shape=(3, 5000), dtype="f4", chunks=(1, 1000))  # 5000 columns > 4096 (unwritten)
    g = f.create_group("grp")
    g["x"] = rng.random((40, 3)).astype("f4")
    # 2^40 rows declared, nothing written (chunked): 16 TiB as float32
    f.create_dataset("huge", shape=(2**40, 4), dtype="f4", chunks=(1024, 4))

rows = "\n".join(",".join(f"{v:.4f}" for v in r) for r in rng.random((400, 3))) + "\n"
z = gzip.compress(rows.encode(), mtime=0)
open("truncated.csv.gz", "wb").write(z[: len(z) // 2])         # gzip cut in half
wide = "\n".join(",".join(["1"] * 5000) for _ in range(3)) + "\n"
open("wide.csv.gz", "wb").write(gzip.compress(wide.encode(), mtime=0))
