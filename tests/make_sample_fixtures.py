#!/usr/bin/python3
"""Generate the Sobol fixture read by tests/test_sample.c.

Usage (from the source root):

    ${PYTHON:-/usr/bin/python3} tests/make_sample_fixtures.py [outdir]

outdir defaults to tests/fixtures next to this script.  Needs scipy (Debian's
python3-scipy, 1.10).  Deterministic: the unscrambled sequence has no seed.

scipy.stats.qmc.Sobol(d=32, scramble=False, bits=32) draws the Sobol sequence
in Gray-code order with Joe & Kuo's direction numbers (new-joe-kuo-6.21201),
the same definition src/sample.c implements from the published table; this
file is the independent check of that table and of the recurrence.  Points are
written as 32-bit integers x = u * 2^32 (exact: scipy's doubles are x / 2^32).

File sobol_scipy.txt:
    line 1     "d <d>"
    then blocks "block <first index> <count>" followed by <count> lines of d
    integers each: the points first .. first + count - 1.
Blocks: 0..255 (every direction number up to v_8 in every combination) and
1000000..1000031 plus 2^31 - 16 .. 2^31 + 15 (high direction numbers, reached
with scipy's fast_forward).
"""
import os
import sys

if (os.environ.get("PYTHON") and not os.environ.get("_AESWEEP_FIXTURES_REEXEC")
        and os.path.realpath(os.environ["PYTHON"]) != os.path.realpath(sys.executable)):
    os.environ["_AESWEEP_FIXTURES_REEXEC"] = "1"
    os.execvp(os.environ["PYTHON"], [os.environ["PYTHON"], os.path.abspath(__file__)] + sys.argv[1:])

import numpy as np
from scipy.stats import qmc

D = 32
BLOCKS = [(0, 256), (1000000, 32), (2**31 - 16, 32)]


def block(first, count):
    s = qmc.Sobol(d=D, scramble=False, bits=32)
    if first:
        s.fast_forward(first)
    u = s.random(count)
    x = np.rint(u * 2.0**32).astype(np.uint64)
    assert np.all(x.astype(np.float64) / 2.0**32 == u), "scipy's points are not 32-bit fractions"
    return x


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    path = os.path.join(out, "sobol_scipy.txt")
    with open(path, "w") as f:
        f.write("d %d\n" % D)
        for first, count in BLOCKS:
            f.write("block %d %d\n" % (first, count))
            for row in block(first, count):
                f.write(" ".join(str(int(v)) for v in row) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
