#!/usr/bin/env python3
"""Compare the metric datasets of two aesweep result files byte for byte.

Every dataset of every stage group is compared as raw bytes, except the
timing datasets (`seconds`, `ranks/busy_seconds`, schema 1's
`rank_busy_seconds`) and the `rank` scale, whose
values legitimately differ between runs.  Best-model weights under /models
are compared too.  Exit 0 if identical, 1 with the first difference.
Usage: h5_compare.py A.h5 B.h5
"""
import sys
import h5py
import numpy as np

TIMING = {"seconds", "rank_busy_seconds", "busy_seconds", "rank"}


def datasets(f):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.split("/")[-1] not in TIMING:
            out[name] = obj[()]
    f.visititems(visit)
    return out


def main():
    a, b = sys.argv[1], sys.argv[2]
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        da, db = datasets(fa), datasets(fb)
        if set(da) != set(db):
            print(f"different datasets: only in {a}: {sorted(set(da) - set(db))[:5]}, only in {b}: {sorted(set(db) - set(da))[:5]}")
            return 1
        for k in sorted(da):
            x, y = np.asarray(da[k]), np.asarray(db[k])
            # variable-length strings (category coordinates) come back as objects: compare values, not pointers
            same = x.tolist() == y.tolist() if x.dtype.kind == "O" else x.tobytes() == y.tobytes()
            if x.dtype != y.dtype or x.shape != y.shape or not same:
                print(f"{k}: differs ({x.dtype}{x.shape} vs {y.dtype}{y.shape})")
                return 1
        stages = [s for s in fa.attrs["stages"].split(",")]
        n = sum(1 for k in da if k.split("/")[0] in stages)
        print(f"identical: {len(da)} datasets ({n} in stage groups)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
