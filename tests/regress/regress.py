#!/usr/bin/env python3
"""Regression against 0.3.0 (issue 14 "Must show"): the result files of jobs/quick.cfg, moons.cfg,
digits.cfg and mmd.cfg equal those of aesweep 0.3.0 (commit b951f2b) in every metric dataset.

Two ways to know what 0.3.0 writes, chosen per machine:

- hashes: each tests/regress/v030*.sha256 file holds, per study and dataset, a SHA-256 of the values
  of a result file that 0.3.0 wrote, and the fingerprint of the machine it was made on (CPU vendor,
  family, model and SIMD flags, compiler, glibc, OpenBLAS core).  0.3.0 and today both compile
  with -march=native and pick kernels by ISA, and OpenBLAS picks its kernels by CPU, so the bits
  are only comparable on a machine with the same fingerprint.  There the test only runs today's
  binary.  One file per machine type (v030.sha256: an AMD EPYC VM; v030-intel-6-207.sha256: an
  Intel Xeon VM, whose OpenBLAS falls back to its Prescott core); `record` adds another from 0.3.0
  files made by a `build` run on a new machine.
- build: on any other machine (or with AESWEEP_REGRESS_BUILD=1) the setup fixture builds 0.3.0
  from the git history into the build tree (`git archive b951f2b`), and each test runs both
  versions on the same spec and compares the files by value.

Datasets are compared by value (as float64; -0.0 == 0.0, NaN == NaN), not by type: schema 2
stores axis coordinates as int64 where schema 1 had float64 (docs/results-format.md).  Every
dataset of the 0.3.0 file takes part, at the same path in today's file, except the timing ones
(seconds, rank, rank_busy_seconds): metrics, their statistics, status, n_ok, axis coordinates,
the stored data sets and every stored model (weights, scaler, codes, reconstructions).

Commands:
  regress.py fingerprint --bin BIN
  regress.py setup --src SRC --work DIR --hashes FILE|DIR --bin BIN
  regress.py check --study NAME --src SRC --work DIR --hashes FILE|DIR --bin BIN [--ranks N]
  regress.py record --hashes FILE --bin BIN NAME=FILE.h5 ...   (writes FILE; made by 0.3.0 files)
  regress.py compare OLD.h5 NEW.h5
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys
import time

import numpy as np

V030 = "b951f2b"
TIMING = {"seconds", "rank", "rank_busy_seconds", "busy_seconds"}
SIMD_FLAGS = ("avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512fp16",
              "avx2", "fma", "f16c", "avx")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")


def fail(msg):
    print("regress: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- what decides the bits ---------------------------------------------------------------------
def fingerprint(binary):
    """One line naming everything that changes the arithmetic of a -march=native build."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            k = k.strip()
            if k in ("vendor_id", "cpu family", "model", "flags") and k not in info:
                info[k] = v.strip()
    flags = set(info.get("flags", "").split())
    simd = ",".join(x for x in SIMD_FLAGS if x in flags) or "none"
    cc = os.environ.get("AESWEEP_CC_ID", "unknown")
    libc = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else "unknown"
    return (f"cpu={info.get('vendor_id', '?')}/{info.get('cpu family', '?')}/{info.get('model', '?')} "
            f"simd={simd} cc={cc} libc={libc.replace(' ', '-')} blas={blas_core(binary)}")


def blas_core(binary):
    """The OpenBLAS library the binary loads, its version and the core it picks on this CPU."""
    import ctypes
    try:
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    m = re.search(r"libopenblas[^ ]*\s*=>\s*(\S+)", ldd)
    if not m:
        return "not-openblas"
    try:
        lib = ctypes.CDLL(m.group(1))
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        cfg = lib.openblas_get_config().decode().split()
        ver = next((w for w in cfg if re.match(r"^\d+\.\d+", w)), "?")
        return f"openblas-{ver}-{lib.openblas_get_corename().decode()}"
    except (OSError, AttributeError):
        return "openblas-unknown"


# ---- reading result files by value -------------------------------------------------------------
def datasets(path):
    """Every non-timing dataset of a result file, in 0.3.0's representation: schema 2 writes a
    string-valued axis (mmd_kernel = ["rbf", "imq"]) as its strings, schema 1 wrote each value's
    index in the spec's list (0, 1, ...) as float64, so such an axis reads as its indices."""
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.split("/")[-1] not in TIMING:
                x = np.asarray(obj[()])
                if x.dtype.kind in "SUO" and x.ndim == 1 and not name.startswith(("data/", "models/")):
                    x = np.arange(len(x), dtype=np.float64)
                out[name] = x
        f.visititems(visit)
    return out


def canonical(x):
    """Numbers as float64 in C order, -0.0 as 0.0 and one NaN, so that equal values hash equal;
    strings (an axis of kernel names) as UTF-8 text, whichever HDF5 string type holds them."""
    x = np.asarray(x)
    if x.dtype.kind in "SUO":
        return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else str(v), otypes=[object])(x) \
            if x.size else x.astype(object)
    y = np.ascontiguousarray(x.astype(np.float64)) + 0.0
    y[np.isnan(y)] = np.nan
    return y


def digest(x):
    y = canonical(x)
    raw = "\0".join(y.ravel()).encode() if y.dtype == object else y.astype("<f8").tobytes()
    return "x".join(map(str, y.shape)) or "scalar", hashlib.sha256(raw).hexdigest()


def compare_values(old, new):
    """Datasets of the 0.3.0 file `old` that are missing or differ in `new` (dicts of arrays)."""
    bad = []
    for k in sorted(old):
        if k not in new:
            bad.append(f"missing in today's file: {k}")
            continue
        a, b = canonical(old[k]), canonical(new[k])
        same = a.shape == b.shape and (np.array_equal(a, b) if a.dtype == object or b.dtype == object
                                       else np.array_equal(a, b, equal_nan=True))
        if not same:
            where = ""
            if a.shape == b.shape and a.dtype != object and b.dtype != object:
                d = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b))))
                where = f", {len(d)} values differ, first at {tuple(d[0])}: {a[tuple(d[0])]!r} vs {b[tuple(d[0])]!r}"
            bad.append(f"differs: {k} (0.3.0 shape {a.shape}, today {b.shape}{where})")
    return bad


# ---- the stored hashes -------------------------------------------------------------------------
def read_hashes(path):
    fp, table = None, {}
    with open(path) as f:
        for line in f:
            if line.startswith("# fingerprint: "):
                fp = line[len("# fingerprint: "):].strip()
            elif line.strip() and not line.startswith("#"):
                study, name, shape, h = line.split()
                table.setdefault(study, {})[name] = (shape, h)
    if fp is None:
        fail(f"{path}: no '# fingerprint:' line")
    return fp, table


def hash_files(hashes):
    """--hashes: one file, or a directory whose v030*.sha256 files each hold one machine's hashes."""
    if os.path.isdir(hashes):
        files = sorted(os.path.join(hashes, n) for n in os.listdir(hashes)
                       if n.startswith("v030") and n.endswith(".sha256"))
        if not files:
            fail(f"{hashes}: no v030*.sha256 file")
        return files
    return [hashes]


def use_hashes(args):
    """(True, the file, its fingerprint, here's) when a stored hash file was made on a machine with
    this one's fingerprint (and AESWEEP_REGRESS_BUILD is not set); else (False, None, the stored
    fingerprints, here's)."""
    here = fingerprint(args.bin)
    forced = os.environ.get("AESWEEP_REGRESS_BUILD", "") not in ("", "0")
    stored = [(f, read_hashes(f)[0]) for f in hash_files(args.hashes)]
    for f, fp in stored:
        if fp == here and not forced:
            return True, f, fp, here
    return False, None, "; ".join(fp for _, fp in stored), here


# ---- the 0.3.0 side ----------------------------------------------------------------------------
def v030_dir(work):
    return os.path.join(work, "v030")


def v030_bin(work):
    return os.path.join(v030_dir(work), "build", "aesweep")


def build_v030(src, work):
    """0.3.0's aesweep from the git history, into WORK/v030 (source, then build)."""
    d = v030_dir(work)
    if os.path.exists(v030_bin(work)):
        print(f"0.3.0 already built: {v030_bin(work)}")
        return
    os.makedirs(os.path.join(d, "src"), exist_ok=True)
    t0 = time.monotonic()
    arch = subprocess.run(["git", "-C", src, "archive", "--format=tar", V030], capture_output=True)
    if arch.returncode != 0:
        fail(f"cannot take 0.3.0 ({V030}) from the git history of {src}: "
             f"{arch.stderr.decode(errors='replace').strip()}; run the tests from a git clone with its history")
    subprocess.run(["tar", "-x", "-C", os.path.join(d, "src")], input=arch.stdout, check=True)
    b = os.path.join(d, "build")
    native = os.environ.get("AESWEEP_REGRESS_NATIVE", "ON")  # as today's build (tests/regress.cmake)
    for cmd in (["cmake", "-S", os.path.join(d, "src"), "-B", b, "-DCMAKE_BUILD_TYPE=Release",
                 "-DAESWEEP_TESTS=OFF", f"-DAESWEEP_NATIVE={native}"],
                ["cmake", "--build", b, "--target", "aesweep", "-j2"]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"building 0.3.0 failed: {' '.join(cmd)}\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    print(f"0.3.0 built in {time.monotonic() - t0:.0f} s: {v030_bin(work)}")


def adapt_spec(text, src):
    """Today's spec as 0.3.0 reads it: 0.3.0 always applied the rule that `hidden_above_input = true`
    now asks for (and did not know the key), and had no shipped-data default for digits."""
    out = []
    for line in text.splitlines():
        m = re.match(r"\s*hidden_above_input\s*=\s*(\w+)\s*;", line)
        if m:
            if m.group(1) != "true":
                fail("hidden_above_input = false has no 0.3.0 equivalent")
            continue
        out.append(line)
        if re.match(r'\s*source\s*=\s*"digits"\s*;', line) and not re.search(r"^\s*path\s*=", text, re.M):
            out.append(f'  path = "{os.path.join(src, "data", "digits.csv.gz")}";')
    return "\n".join(out) + "\n"


def run(binary, spec, out, ranks, cwd):
    if os.path.exists(out):
        os.remove(out)
    cmd = ["mpirun", "--oversubscribe", "-np", str(ranks), binary, "run", spec, "-o", out, "--quiet"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=ENV, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} failed (exit {p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return time.monotonic() - t0


# ---- commands ----------------------------------------------------------------------------------
def cmd_fingerprint(args):
    print(fingerprint(args.bin))


def cmd_setup(args):
    ok, path, fp, here = use_hashes(args)
    os.makedirs(args.work, exist_ok=True)
    if ok:
        print(f"this machine matches the fingerprint of {path} ({fp}): 0.3.0 is not built")
        return
    why = "AESWEEP_REGRESS_BUILD is set" if here in fp.split("; ") else f"stored: {fp}\n  here:   {here}"
    print(f"comparing against a build of 0.3.0 ({why})")
    build_v030(args.src, args.work)


def cmd_check(args):
    ok, path, fp, here = use_hashes(args)
    spec = os.path.join(args.src, "jobs", args.study + ".cfg")
    work = os.path.join(args.work, args.study)
    os.makedirs(work, exist_ok=True)
    new = os.path.join(work, "today.h5")
    t = run(args.bin, spec, new, args.ranks, work)
    print(f"today's aesweep: {spec} at {args.ranks} ranks in {t:.1f} s")
    today = datasets(new)
    if ok:
        _, table = read_hashes(path)
        if args.study not in table:
            fail(f"{path} has no hashes for study {args.study}")
        bad = []
        for name, (shape, h) in sorted(table[args.study].items()):
            if name not in today:
                bad.append(f"missing in today's file: {name}")
            elif digest(today[name]) != (shape, h):
                s2, _ = digest(today[name])
                bad.append(f"differs from 0.3.0's hash: {name} (0.3.0 shape {shape}, today {s2})")
        n, how = len(table[args.study]), f"0.3.0's stored hashes ({path})"
    else:
        print(f"fingerprint: stored {fp}\n             here   {here}")
        if not os.path.exists(v030_bin(args.work)):
            fail(f"{v030_bin(args.work)} missing: the fixture regress_v030_setup builds it")
        spec030 = os.path.join(work, "v030.cfg")
        with open(spec) as f, open(spec030, "w") as g:
            g.write(adapt_spec(f.read(), args.src))
        old = os.path.join(work, "v030.h5")
        t = run(v030_bin(args.work), spec030, old, args.ranks, work)
        print(f"aesweep 0.3.0: {spec030} at {args.ranks} ranks in {t:.1f} s")
        ref = datasets(old)
        bad, n, how = compare_values(ref, today), len(ref), "a run of 0.3.0 built here"
    stage = [k for k in (table[args.study] if ok else ref) if not k.startswith(("data/", "models/"))]
    if len(stage) < 10:
        fail(f"only {len(stage)} stage datasets to compare: the reference is not a real result file")
    for line in bad:
        print("  " + line)
    print(f"{args.study}: {n} datasets compared with {how}, {len(bad)} differ or are missing")
    sys.exit(1 if bad else 0)


def cmd_record(args):
    lines = [f"# aesweep 0.3.0 ({V030}) result files, values of every non-timing dataset as float64",
             "# (tests/regress/regress.py digest); made on the machine of this fingerprint:",
             f"# fingerprint: {fingerprint(args.bin)}"]
    for item in args.files:
        study, _, path = item.partition("=")
        for name, x in sorted(datasets(path).items()):
            shape, h = digest(x)
            lines.append(f"{study} {name} {shape} {h}")
    with open(args.hashes, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.hashes}: {len(lines) - 3} hashes")


def cmd_compare(args):
    a, b = datasets(args.old), datasets(args.new)
    bad = compare_values(a, b)
    for line in bad:
        print("  " + line)
    print(f"{len(a)} datasets compared, {len(bad)} differ or are missing")
    sys.exit(1 if bad else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("fingerprint", "setup", "check", "record"):
        p = sub.add_parser(name)
        p.add_argument("--bin", required=True, help="today's aesweep")
        if name in ("setup", "check", "record"):
            p.add_argument("--hashes", required=True)
        if name in ("setup", "check"):
            p.add_argument("--src", required=True)
            p.add_argument("--work", required=True)
        if name == "check":
            p.add_argument("--study", required=True)
            p.add_argument("--ranks", type=int, default=2)
        if name == "record":
            p.add_argument("files", nargs="+", metavar="STUDY=FILE.h5")
    p = sub.add_parser("compare")
    p.add_argument("old")
    p.add_argument("new")
    args = ap.parse_args()
    for k in ("bin", "src", "work", "hashes"):  # the runs' working directory is WORK/STUDY
        if getattr(args, k, None):
            setattr(args, k, os.path.abspath(getattr(args, k)))
    {"fingerprint": cmd_fingerprint, "setup": cmd_setup, "check": cmd_check, "record": cmd_record,
     "compare": cmd_compare}[args.cmd](args)


if __name__ == "__main__":
    main()
