#!/usr/bin/env python3
"""Write tests/fixtures/moons_sklearn_<n>.csv: scikit-learn's make_moons points
without noise and without shuffling (x, y, label), the reference that
tests/test_data.c compares aesweep's generator with (as a set: aesweep shuffles
with its own stream).  Run: ${PYTHON:-/usr/bin/python3} tests/make_data_fixtures.py"""
import os
import numpy as np
from sklearn.datasets import make_moons

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
for n in (100, 101, 1000):
    X, y = make_moons(n_samples=n, shuffle=False, noise=None)
    np.savetxt(os.path.join(here, f"moons_sklearn_{n}.csv"), np.column_stack([X, y]), fmt="%.17g", delimiter=",")
