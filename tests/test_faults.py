"""Fault injection (issue 14): every call site of a small study made to fail in turn.

tests/faults/faultshim.c (LD_PRELOAD, built by tests/faults.cmake) counts, in a
clean run of tests/specs/faults.cfg, each place in aesweep's own code that calls
an allocator, write/fsync/fdatasync/ftruncate/rename or one of 27 HDF5 functions
(a *site*), then fails the first call of one site per run.  For each site:

  - the run ends with exit 3 and one line on stderr that starts "aesweep: " (or
    exit 2 when the fault hits the set-up, before any work: running out of memory
    while reading the spec or building the data is refused as input that asks
    for too much, see study.h);
  - a previous result file at the output path is byte-for-byte untouched, and no
    temporary (.tmp, .journal.new) is left beside it;
  - the journal, if the run got as far as creating it, reads back (`aesweep info`);
  - once the fault is gone, `--resume` (or, when no journal was made, the same
    command again) ends with exit 0 and a file equal to an uninterrupted run's in
    every dataset (tests/h5_compare.py: metrics, models, data; timings excluded).
    When the fault left nothing but the previous file (no journal, no lock, no
    temporary), the run after it is the counting run itself (same inputs, same
    state), whose file is the reference, so it is not run again.

A few sites may absorb their fault and still finish with exactly the
uninterrupted file (ABSORBED, each with its reason); a site absorbing a fault
that is not listed fails the test, so that each one is looked at.

Every site is tried (about 165; no sampling), two at a time, each in its own folder.
Each site is named by the function that holds it and that function's source
file (from the symbols of libaesweep_internal.a).  The data checks (previous
file untouched, nothing left behind, the run after the fault gives the
uninterrupted file) hold for every site, and so does exit 3 (2 for a refusal
before any work) with one line.
"""
import bisect
import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["AESWEEP_BIN"]
SHIM = os.environ["AESWEEP_FAULTSHIM"]
LIB = os.environ["AESWEEP_LIB"]
PY = os.environ.get("PYTHON", sys.executable)
SPEC = os.path.join(HERE, "specs", "faults.cfg")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")
for k in ("AESWEEP_FAULT", "AESWEEP_FAULT_LOG", "AESWEEP_FAULT_HIT"):
    ENV.pop(k, None)
MPI_NOISE = re.compile(r"^(\[[\w.-]+:\d+\]|-{20,}|\s*$)")

# The files that carry the writers' error contract of issue 14 (results,
# saved, journal, export, data); counted apart in the summary line.  Every
# site, in these files or elsewhere, must end with exit 3 (2 in the set-up)
# and one line.
CHECKED = {"results.c", "saved.c", "journal.c", "export.c", "data.c", "data_array.c"}

# (function called, enclosing function in aesweep) -> why its failure is harmless
ABSORBED = {
    ("fdatasync", "journal_close"):
        "the journal of a complete run is removed right after; the result file is synced before its rename",
    ("ftruncate", "journal_lock_note"): "the lock file's line only informs `aesweep status`; the lock itself is held",
    ("write", "journal_lock_note"): "the lock file's line only informs `aesweep status`; the lock itself is held",
    ("fdatasync", "journal_lock_note"): "the lock file's line only informs `aesweep status`; the lock itself is held",
    ("H5Aclose", "read_attr_str"): "closing an attribute that was only read: nothing to lose",
    ("H5Fclose", "results_probe"): "closing a file that was only read (is it a result file?): nothing to lose",
    ("malloc", "budget_search_bound"): "a dataflow stage's predicted_makespan, an estimate, is then NaN (unknown); "
                                       "every result is the same",
}


def run(spec, out, *extra, fault=None, hitfile=None, log=None):
    env = dict(ENV)
    if fault or log:
        env["LD_PRELOAD"] = SHIM
    if fault:
        env["AESWEEP_FAULT"] = fault
        env["AESWEEP_FAULT_HIT"] = hitfile
    if log:
        env["AESWEEP_FAULT_LOG"] = log
    p = subprocess.run([BIN, "run", spec, "-o", out, "--quiet", *extra], env=env, capture_output=True,
                       text=True, timeout=120)
    lines = [l for l in p.stderr.splitlines() if not MPI_NOISE.match(l)]
    return p.returncode, lines


def symbols():
    """Sorted (address, name) of the program's functions, to name a site, and
    each function's source file."""
    out = subprocess.run(["nm", "-n", "--defined-only", BIN], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2].split(".")[0]))
    files = {}
    out = subprocess.run(["nm", "-A", "--defined-only", LIB], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            obj = f[0].split(":")[1]  # libaesweep_internal.a:results.c.o:0000...
            files.setdefault(f[2].split(".")[0], obj[:-2] if obj.endswith(".o") else obj)
    return syms, files


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def same(a, b):
    p = subprocess.run([PY, os.path.join(HERE, "h5_compare.py"), a, b], capture_output=True, text=True)
    return p.returncode == 0, p.stdout + p.stderr


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The uninterrupted result, a previous result (another seed) and the sites."""
    d = tmp_path_factory.mktemp("faults")
    ref = str(d / "ref.h5")
    log = str(d / "sites.log")
    prev_spec = str(d / "prev.cfg")
    with open(SPEC) as f, open(prev_spec, "w") as g:
        g.write(f.read().replace("seed = 7;", "seed = 8;"))
    prev = str(d / "prev.h5")
    rc, lines = run(prev_spec, prev)
    assert rc == 0, lines
    # counted over the previous file, as every faulty run starts: the sites
    # that read it (is it a result file? is it locked?) are tried too
    shutil.copyfile(prev, ref)
    rc, lines = run(SPEC, ref, log=log)
    assert rc == 0, lines
    syms, files = symbols()
    addrs = [a for a, _ in syms]
    sites = []
    with open(log) as f:
        for line in f:
            fn, off, hits = line.split()
            where = syms[bisect.bisect_right(addrs, int(off, 16)) - 1][1]
            sites.append((fn, off, where, files.get(where, "main.c"), int(hits)))
    assert len(sites) > 100, f"only {len(sites)} sites counted: is the shim preloaded?"
    return {"dir": d, "ref": ref, "prev": prev, "sites": sites}


def try_site(study, i, site):
    """Fail one site: None if every check holds, else ("fail", what)."""
    fn, off, where, src, _ = site
    name = f"{fn}@{off} in {where} ({src})"
    r = check_site(study, i, site, name)
    if r is None:
        return None
    return ("fail", r[1])


def check_site(study, i, site, name):
    fn, off, where, src, _ = site
    d = os.path.join(str(study["dir"]), f"site{i}")
    os.mkdir(d)
    out = os.path.join(d, "out.h5")
    shutil.copyfile(study["prev"], out)
    before = sha(out)
    hitfile = os.path.join(d, "hit")
    rc, lines = run(SPEC, out, fault=f"{fn}@{off}", hitfile=hitfile)
    if not os.path.exists(hitfile):
        return "data", f"{name}: the fault did not fire (exit {rc})"
    if rc == 0 and (fn, where) in ABSORBED:
        ok, why = same(study["ref"], out)
        return None if ok else ("data", f"{name}: absorbed, but the file differs: {why}")
    if rc == 0:
        ok, why = same(study["ref"], out)
        if not ok:
            return "data", f"{name}: exit 0, but the file differs from the uninterrupted run: {why}"
        return "message", f"{name}: the fault was absorbed (exit 0, the uninterrupted file) but is not in ABSORBED"
    if sha(out) != before:
        return "data", f"{name}: the previous result file changed (exit {rc}): {lines}"
    message = None
    left = sorted(f for f in os.listdir(d) if f.endswith((".tmp", ".new")))
    if rc not in (2, 3):
        message = f"{name}: exit {rc}, not 3 (or 2 for a refusal before any work): {lines}"
    elif len(lines) != 1 or not lines[0].startswith("aesweep: "):
        message = f"{name}: not one line: {lines}"
    elif left:
        message = f"{name}: left {left} (exit {rc}): {lines}"
    journal = os.path.exists(out + ".journal")
    if journal:
        p = subprocess.run([BIN, "info", out], env=ENV, capture_output=True, text=True, timeout=60)
        if p.returncode != 0 or "finished tasks" not in p.stdout:
            return "data", f"{name}: the journal does not read back: {p.stdout} {p.stderr}"
    if not journal and sorted(os.listdir(d)) == ["hit", "out.h5"]:
        # nothing but the previous file: the run after the fault is the
        # counting run again (same inputs, same state), whose file is ref
        shutil.rmtree(d)
        return ("message", message) if message else None
    rc2, lines2 = run(SPEC, out, *(["--resume"] if journal else []))
    if rc2 != 0:
        return "data", f"{name}: the run after the fault ({'--resume' if journal else 'again'}) exits {rc2}: {lines2}"
    ok, why = same(study["ref"], out)
    if not ok:
        return "data", f"{name}: after the fault the file differs from the uninterrupted run: {why}"
    shutil.rmtree(d)
    return ("message", message) if message else None


def test_every_site_fails_cleanly(study):
    t0 = time.time()
    sites = study["sites"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        results = [p for p in ex.map(lambda a: try_site(study, *a), enumerate(sites)) if p]
    problems = [m for k, m in results if k == "fail"]
    kinds = sorted({s[0] for s in sites})
    strict = sum(s[3] in CHECKED for s in sites)
    print(f"\n{len(sites)} sites failed in turn ({', '.join(kinds)}) in {time.time() - t0:.0f} s; "
          f"{strict} in {', '.join(sorted(CHECKED))}; {len(problems)} problem(s)")
    assert not problems, "\n".join(problems)
