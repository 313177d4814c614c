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

# hostile.h5 (issue 15): inputs whose HDF5 errors used to print 19-28 lines of
# HDF5-DIAG or a wrong reason.
with h5py.File("hostile.h5", "w") as f:
    f["x"] = rng.random((40, 3)).astype("f4")
    f["dangling"] = h5py.ExternalLink("missing.h5", "/x")      # external link to a missing file
    f["soft_dangling"] = h5py.SoftLink("/nothing")             # soft link to nothing
    big = rng.random((40, 3)); big[2, 1] = 1e39                # finite float64, beyond float32
    f["f64big"] = big
    f.create_dataset("corrupt", data=rng.random((40, 3)).astype("f4"), chunks=(40, 3), fletcher32=True)
    f.create_dataset("external", shape=(40, 3), dtype="f4",   # raw data in a file that is not there
                     external=[("hostile-missing.raw", 0, 40 * 3 * 4)])
    off = f["corrupt"].id.get_chunk_info(0).byte_offset
with open("hostile.h5", "r+b") as fh:                          # flip a byte of the checksummed chunk
    fh.seek(off + 5)
    b = fh.read(1)
    fh.seek(off + 5)
    fh.write(bytes([b[0] ^ 0xFF]))
