#!/usr/bin/python3
"""Generate the TPE fixture read by tests/test_tpe.c: Optuna's own Parzen estimators.

Usage (from the source root):

    ${PYTHON:-/usr/bin/python3} tests/make_tpe_fixtures.py [outdir]

outdir defaults to tests/fixtures next to this script.  Needs optuna (Debian's python3-optuna,
3.1) and numpy.  Deterministic (numpy's seeded generator).

40 completed trials over four parameters (a uniform real on [0, 1], a log-uniform real on
[1e-4, 1e-1], an integer on [0, 200] with distinct values, a choice of 4 values), with a metric and the epochs each
reached (some 1000, most 100, as successive halving leaves them).  The trials are split the way
src/tpe.c and Optuna's _split_observation_pairs do: sorted by (-epochs, metric) (stable, so ties by
trial), the first default_gamma(40) = 4 "below", each group in trial order.  For each parameter,
optuna.samplers._tpe.parzen_estimator._ParzenEstimator builds l (below) and g (above) with the
TPESampler defaults (consider_prior, prior_weight 1, magic clip, no endpoints, default_weights,
univariate), and the file holds log l(x) - log g(x) at query points: the score TPE picks
candidates by.  test_tpe.c compares tpe_score with it.

One correction is applied to Optuna 3.1: its _truncnorm.logpdf leaves out the -log(scale) of a
scaled density, so its continuous Parzen mixtures do not integrate to 1 and narrow components are
under-weighted (optuna/optuna issue #5109, fixed by pull request #5110 in Optuna 3.5).  aesweep uses
the correct density; here Optuna's logpdf gets the same fix (only on versions before 3.5), so every
other part of the estimator (the split, sigmas, magic clip, prior, weights, truncation, the integer
bins, the categorical mixture) is checked as Optuna computes it.

File tpe_optuna.txt:
    "trials 40", then 40 lines "trial epochs metric v0 v1 v2 v3" (v3 the choice's value),
    "queries <k>", then k lines "param value score" (%.17g).
"""
import os
import sys

if (os.environ.get("PYTHON") and not os.environ.get("_AESWEEP_FIXTURES_REEXEC")
        and os.path.realpath(os.environ["PYTHON"]) != os.path.realpath(sys.executable)):
    os.environ["_AESWEEP_FIXTURES_REEXEC"] = "1"
    os.execvp(os.environ["PYTHON"], [os.environ["PYTHON"], os.path.abspath(__file__)] + sys.argv[1:])

import numpy as np
import optuna
from optuna.samplers._tpe import _truncnorm
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_gamma, default_weights

CHOICES = [10.0, 15.0, 20.0, 40.0]
SPACE = [("x", FloatDistribution(0.0, 1.0)), ("lr", FloatDistribution(1e-4, 1e-1, log=True)),
         ("layers", IntDistribution(0, 200)), ("hidden", CategoricalDistribution(CHOICES))]
PARAMS = _ParzenEstimatorParameters(consider_prior=True, prior_weight=1.0, consider_magic_clip=True,
                                    consider_endpoints=False, weights=default_weights, multivariate=False)
N = 40

if tuple(int(v) for v in optuna.__version__.split(".")[:2]) < (3, 5):
    _logpdf_31 = _truncnorm.logpdf

    def _logpdf_fixed(x, a, b, loc=0, scale=1):
        """optuna#5109 / #5110: the density of a scaled truncated normal has -log(scale)."""
        return _logpdf_31(x, a, b, loc, scale) - np.log(scale)

    _truncnorm.logpdf = _logpdf_fixed  # parzen_estimator looks it up on the module at each call


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    rs = np.random.RandomState(3)
    x = rs.uniform(0, 1, N)
    lr = np.exp(rs.uniform(np.log(1e-4), np.log(1e-1), N))
    layers = rs.choice(201, N, replace=False)  # distinct: Optuna's argsort of equal centres is numpy's unstable sort
    hid = rs.randint(0, 4, N)
    metric = (x - 0.3) ** 2 + 0.1 * np.log10(lr / 1e-3) ** 2 + 0.0002 * layers + 0.01 * hid
    epochs = np.where(rs.uniform(0, 1, N) < 0.15, 1000, 100)
    order = sorted(range(N), key=lambda t: (-epochs[t], metric[t], t))
    nb = default_gamma(N)
    below, above = sorted(order[:nb]), sorted(order[nb:])
    obs = {"x": x, "lr": lr, "layers": layers.astype(float), "hidden": hid.astype(float)}
    queries = {"x": [0.0, 0.05, 0.3, 0.31, 0.5, 0.77, 1.0],
               "lr": [1e-4, 3e-4, 1e-3, 1.2e-3, 5e-3, 2e-2, 1e-1],
               "layers": [0, 1, 30, 77, 100, 150, 200],
               "hidden": CHOICES}
    lines = []
    for j, (name, dist) in enumerate(SPACE):
        sp = {name: dist}
        lo = _ParzenEstimator({name: obs[name][below]}, sp, PARAMS)
        hi = _ParzenEstimator({name: obs[name][above]}, sp, PARAMS)
        q = np.array(queries[name], dtype=float)
        qi = np.array([CHOICES.index(v) for v in q]) if name == "hidden" else q
        score = lo.log_pdf({name: qi}) - hi.log_pdf({name: qi})
        lines += ["%d %.17g %.17g" % (j, a, b) for a, b in zip(q, score)]
    path = os.path.join(out, "tpe_optuna.txt")
    with open(path, "w") as f:
        f.write("trials %d\n" % N)
        for t in range(N):
            f.write("%d %d %.17g %.17g %.17g %d %.17g\n" % (t, epochs[t], metric[t], x[t], lr[t], layers[t],
                                                          CHOICES[hid[t]]))
        f.write("queries %d\n" % len(lines))
        f.write("\n".join(lines) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
