"""Fault injection on the writer of search stages (issue 16): faults_every_site runs a grid study
(tests/specs/faults.cfg), so the sites that only a search stage reaches are tried here.

tests/faults/faultshim.c (LD_PRELOAD) counts the sites of a clean run of
tests/specs/search_results.cfg (a Hyperband stage, a stage inheriting from it, a Sobol stage with
repeats; one process, no mpirun); every site whose enclosing function is one of src/results.c's
(the symbols of libaesweep_internal.a say which) is then failed in turn, and for each:
  - the run ends with exit 3 and one line starting "aesweep: ";
  - nothing is at the final path, and no temporary (.tmp) is left;
  - `--resume` ends with exit 0 and a file equal to the uninterrupted run's (tests/h5_compare.py).
Run by CTest (tests/results_search.cmake, faults_search_writer).  ~45 sites, ~1 min on 2 cores.
"""
import bisect
import concurrent.futures
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["AESWEEP_BIN"]
SHIM = os.environ["AESWEEP_FAULTSHIM"]
LIB = os.environ["AESWEEP_LIB"]
PY = os.environ.get("PYTHON", sys.executable)
SPEC = os.path.join(HERE, "specs", "search_results.cfg")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")
for k in ("AESWEEP_FAULT", "AESWEEP_FAULT_LOG", "AESWEEP_FAULT_HIT", "LD_PRELOAD"):
    ENV.pop(k, None)


def results_c_functions():
    """Names of the functions defined in results.c (libaesweep_internal.a's results.c.o)."""
    out = subprocess.run(["nm", "-A", "--defined-only", LIB], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW" and f[0].split(":")[1] == "results.c.o":
            names.add(f[2].split(".")[0])
    return names


def enclosing(sites):
    out = subprocess.run(["nm", "-n", "--defined-only", BIN], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2].split(".")[0]))
    addrs = [a for a, _ in syms]
    return [syms[bisect.bisect_right(addrs, int(off, 16)) - 1][1] for _, off in sites]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults_search")
    ref, log = str(d / "ref.h5"), str(d / "sites.log")
    p = subprocess.run([BIN, "run", SPEC, "-o", ref, "--quiet"], capture_output=True, text=True, timeout=300,
                       cwd=str(d), env=dict(ENV, LD_PRELOAD=SHIM, AESWEEP_FAULT_LOG=log))
    assert p.returncode == 0, p.stderr
    with open(log) as f:
        sites = [tuple(line.split()[:2]) for line in f if line.strip()]
    mine = results_c_functions()
    picked = [s for s, fn in zip(sites, enclosing(sites)) if fn in mine]
    assert len(picked) >= 30, "too few results.c sites counted: %d of %d" % (len(picked), len(sites))
    return d, ref, picked


def one(d, ref, i, site):
    w = os.path.join(str(d), "site%d" % i)
    os.makedirs(w)
    out = os.path.join(w, "o.h5")
    env = dict(ENV, LD_PRELOAD=SHIM, AESWEEP_FAULT="%s@%s" % site, AESWEEP_FAULT_HIT=os.path.join(w, "hit"))
    p = subprocess.run([BIN, "run", SPEC, "-o", out, "--quiet"], capture_output=True, text=True, timeout=300,
                       cwd=w, env=env)
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    bad = []
    if not os.path.exists(os.path.join(w, "hit")):
        return bad  # a site of the counting run's path only (e.g. a retry): nothing was failed
    if p.returncode != 3 or len(lines) != 1 or not lines[0].startswith("aesweep: "):
        bad.append("exit %d, %d lines: %s" % (p.returncode, len(lines), lines[:3]))
    if os.path.exists(out) or [f for f in os.listdir(w) if f.endswith(".tmp")]:
        bad.append("left %s" % sorted(os.listdir(w)))
    q = subprocess.run([BIN, "run", "--resume", SPEC, "-o", out, "--quiet"], capture_output=True, text=True,
                       timeout=300, cwd=w, env=ENV)
    if q.returncode != 0:
        bad.append("--resume: exit %d %s" % (q.returncode, q.stderr[-500:]))
    else:
        c = subprocess.run([PY, os.path.join(HERE, "h5_compare.py"), ref, out], capture_output=True, text=True)
        if c.returncode != 0:
            bad.append("--resume: " + c.stdout.strip())
    return bad


def test_every_results_site_of_a_search_study(study):
    d, ref, picked = study
    failures = []
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for site, bad in zip(picked, ex.map(lambda a: one(d, ref, *a), enumerate(picked))):
            if bad:
                failures.append("%s@%s: %s" % (site + ("; ".join(bad),)))
    print("faults_search_writer: %d results.c sites tried, %d failed" % (len(picked), len(failures)))
    assert not failures, "\n".join(failures)
