"""Hostile but legitimate inputs that must work (issue 15), and a property
test of the spec parser.  The refused ones are cases in tests/bad_input/.

Run by CTest (tests/hostile.cmake) with AESWEEP_BIN pointing at the binary.
"""
import fcntl
import json
import os
import random
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("AESWEEP_BIN", os.path.join(os.path.dirname(HERE), "build", "aesweep"))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")
MPI_NOISE = re.compile(r"^(\[[\w.-]+:\d+\]|-{20,}|\s*$)")


def aes(*args, cwd=None, check=True):
    p = subprocess.run([BIN, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    if check:
        assert p.returncode == 0, f"aesweep {' '.join(args)}: exit {p.returncode}: {p.stderr[-2000:]}"
    return p


SMALL = '''study = "h"; seed = 7; output = "out.h5";
data = { source = "csv"; path = "d.csv"; train_fraction = 0.5; };
defaults = { hidden = 6; layers = 0; bottleneck = 1; lr = 0.01; epochs = 3; train_size = 50; };
stages = ( { name = "s1"; axes = { lr = [0.01, 0.003]; }; } );
'''


def write_csv(path, bom=False, rows=200):
    rng = np.random.default_rng(3)
    text = "\n".join(",".join(f"{v:.6f}" for v in r) for r in rng.random((rows, 3))) + "\n"
    with open(path, "wb") as f:
        f.write((b"\xef\xbb\xbf" if bom else b"") + text.encode())


def test_byte_order_marks_are_read(tmp_path):
    """A UTF-8 BOM (Windows editors, Excel's "CSV UTF-8") in the spec and in
    the CSV: the same cube as without (it was a syntax error / a bad number)."""
    for name, bom in (("plain", False), ("bom", True)):
        d = tmp_path / name
        d.mkdir()
        write_csv(d / "d.csv", bom=bom)
        (d / "s.cfg").write_bytes((b"\xef\xbb\xbf" if bom else b"") + SMALL.encode())
        aes("run", "s.cfg", "--quiet", cwd=str(d))
    with h5py.File(tmp_path / "plain" / "out.h5", "r") as a, h5py.File(tmp_path / "bom" / "out.h5", "r") as b:
        assert a["s1/test_mse_test"][()].tobytes() == b["s1/test_mse_test"][()].tobytes()
        assert a["data/pool"][()].tobytes() == b["data/pool"][()].tobytes()
        assert not b.attrs["spec"].startswith("\ufeff")


def test_included_text_is_stored(tmp_path):
    """The result file stores the effective spec (every @include expanded),
    not the @include line, plus its inputs: the data file's CRC and shape."""
    write_csv(tmp_path / "d.csv")
    head, rest = SMALL.split("defaults", 1)
    (tmp_path / "common.cfg").write_text("defaults" + rest)
    (tmp_path / "s.cfg").write_text(head + '@include "common.cfg"\n')
    aes("run", "s.cfg", "--quiet", cwd=str(tmp_path))
    with h5py.File(tmp_path / "out.h5", "r") as f:
        spec = f.attrs["spec"]
        assert "@include" not in spec and "lr = [0.01, 0.003]" in spec
        crc = f["data"].attrs["file_crc32"]
        assert re.search(rf"# data d.csv crc32={crc:08x} bytes=\d+ rows=200 features=3", f.attrs["inputs"])


def test_integers_beyond_32_bits_are_whole(tmp_path):
    """seed = 4294967297 is that seed (libconfig 1.5's atoi made it 1): the
    file records it and its cube differs from seed 1's."""
    outs = {}
    for seed in ("1", "4294967297"):
        d = tmp_path / seed
        d.mkdir()
        write_csv(d / "d.csv")
        (d / "s.cfg").write_text(SMALL.replace("seed = 7", f"seed = {seed}"))
        aes("run", "s.cfg", "--quiet", cwd=str(d))
        with h5py.File(d / "out.h5", "r") as f:
            assert f.attrs["seed"] == int(seed)
            outs[seed] = f["s1/test_mse_test"][()]
    assert outs["1"].tobytes() != outs["4294967297"].tobytes()


def test_train_data_path_with_quote(tmp_path):
    """train --data 'my"data.csv': the path is escaped in the generated spec."""
    write_csv(tmp_path / 'my"data.csv')
    write_csv(tmp_path / "plain.csv")
    a = json.loads(aes("train", "--data", 'my"data.csv', "--epochs", "3", "--train-size", "50", "--hidden", "5",
                       "--json", cwd=str(tmp_path)).stdout)
    b = json.loads(aes("train", "--data", "plain.csv", "--epochs", "3", "--train-size", "50", "--hidden", "5",
                       "--json", cwd=str(tmp_path)).stdout)
    assert a["test_mse"] == b["test_mse"] and a["status"] == "ok"


def test_every_cell_diverged_has_no_best_value(tmp_path):
    """Every cell diverges: the summary says so (it said best ... = 0)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)) * 1e30
    np.savetxt(tmp_path / "big.csv", X, delimiter=",", fmt="%.9g")
    (tmp_path / "s.cfg").write_text('''study = "div"; seed = 2;
data = { source = "csv"; path = "big.csv"; train_fraction = 0.5; };
defaults = { hidden = 4; layers = 0; bottleneck = 1; epochs = 20; train_size = 100; };
stages = ( { name = "grid"; axes = { lr = [0.001, 0.01]; }; } );
''')
    p = aes("run", "s.cfg", "-o", "out.h5", cwd=str(tmp_path))
    assert "every cell diverged" in p.stderr and "= 0\n" not in p.stderr, p.stderr
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert (f["grid/status"][()] == 1).all() and f["grid"].attrs["best_cell"] == -1


def test_info_beside_a_reader_and_a_writer(tmp_path):
    """info reads a result file that another process has open for reading;
    one that another process has open for writing (HDF5's exclusive lock) is
    named as such (it was 'not an aesweep result file')."""
    write_csv(tmp_path / "d.csv")
    (tmp_path / "s.cfg").write_text(SMALL)
    aes("run", "s.cfg", "--quiet", cwd=str(tmp_path))
    with h5py.File(tmp_path / "out.h5", "r"):
        p = aes("info", "out.h5", cwd=str(tmp_path))
        assert "complete: 2 of 2 tasks" in p.stdout
    with h5py.File(tmp_path / "out.h5", "a"):
        p = aes("info", "out.h5", cwd=str(tmp_path), check=False)
        assert p.returncode == 2 and "another process holds this file open for writing" in p.stderr, p.stderr


# ---- property: random valid specs -> parser -> run == train --stage, bit for bit

INT_PARAMS = ("train_size", "epochs", "hidden", "layers", "bottleneck", "batch_size", "mmd_nscales")


def fmt_int(rng, v):
    """An integer in one of the forms libconfig takes (all the same value)."""
    return rng.choice([str(v), f"{v}L", hex(v), f"{v}.0", f"+{v}"])


def fmt_float(rng, v):
    return rng.choice([repr(v), f"{v:.17g}", f"{v:e}".replace("e-0", "e-")])


def random_spec(rng):
    """A random valid moons study and what `train` needs to redo each cell."""
    seed = rng.choice([rng.randrange(0, 1000), rng.randrange(2**32, 2**40)])
    pool, tsize, noise = rng.randrange(200, 500), rng.randrange(60, 200), rng.choice([0.05, 0.1, 0.2])
    vals = {"train_size": [rng.randrange(20, 200) for _ in range(2)], "epochs": [rng.randrange(1, 12) for _ in range(2)],
            "lr": [rng.choice([0.001, 0.003, 0.01, 0.02]) for _ in range(2)],
            "hidden": [rng.randrange(3, 12) for _ in range(2)], "layers": [rng.randrange(0, 3) for _ in range(2)],
            "bottleneck": [1, 2], "batch_size": [0, rng.choice([8, 16, 32])]}
    if rng.random() < 0.3:
        vals.update(mmd_lambda=[0.0, 0.3], mmd_kernel=["rbf", "imq"], mmd_scale=[0.5, 1.0], mmd_nscales=[2, 3])
    params = list(vals)
    axes = rng.sample(params, rng.randrange(1, 3))
    where = {p: ("axes" if p in axes else rng.choice(["defaults", "fixed"])) for p in params}
    base = {p: vals[p][0] for p in params}
    for p in axes:
        if vals[p][0] == vals[p][1]:
            vals[p][1] = vals[p][0] + 1 if p in INT_PARAMS else vals[p][0] * 2

    def lit(p, v):
        if p == "mmd_kernel":
            return f'"{v}"'
        return fmt_int(rng, v) if p in INT_PARAMS else fmt_float(rng, v)

    def group(ps):
        items = [f"{p} = {lit(p, base[p])};" for p in ps]
        rng.shuffle(items)
        return " ".join(items)

    scaler = rng.choice(["none", "standard", "minmax"])
    stage = rng.choice(["S1", "grid", "a-b_2"])
    repeats = rng.choice([1, 2])
    def axis(p):
        # an array holds one type: integers in integer forms, or all as decimals
        if p in INT_PARAMS and rng.random() < 0.3:
            return ", ".join(f"{v}.0" for v in vals[p][:2])
        if p in INT_PARAMS:
            return ", ".join(rng.choice([str(v), f"{v}L", hex(v), f"+{v}"]) for v in vals[p][:2])
        return ", ".join(lit(p, v) for v in vals[p][:2])

    ax = "; ".join(f"{p} = [{axis(p)}]" for p in axes)
    fixed = group([p for p in params if where[p] == "fixed"])
    defaults = group([p for p in params if where[p] == "defaults"])
    comment = rng.choice(["", "# a comment\n", "// another\n", "/* block\n comment */\n"])
    text = (f'{comment}study = "prop";\nseed = {fmt_int(rng, seed)};\n'
            f'data = {{ source = "moons"; pool = {fmt_int(rng, pool)}; noise = {fmt_float(rng, noise)}; scaler = "{scaler}"; }};\n'
            f'tests = ( {{ name = "test"; noise = {fmt_float(rng, noise)}; size = {fmt_int(rng, tsize)}; }} );\n'
            f'defaults = {{ {defaults} }};\n'
            f'stages = ( {{ name = "{stage}"; axes = {{ {ax}; }}; fixed = {{ {fixed} }}; repeats = {repeats}; }} );\n')
    flags = ["--data", "moons", "--seed", str(seed), "--stage", stage, "--pool", str(pool), "--test-size", str(tsize),
             "--noise", repr(noise), "--scaler", scaler]
    return text, flags, axes, base, stage, repeats


FLAG = {p: "--" + p.replace("_", "-") for p in
        ("train_size", "epochs", "lr", "hidden", "layers", "bottleneck", "batch_size", "mmd_lambda", "mmd_kernel",
         "mmd_scale", "mmd_nscales")}


@pytest.mark.parametrize("k", range(6))
def test_random_specs_equal_train(tmp_path, k):
    """A random valid spec (random key order, integer forms 12 / 12L / 0xc /
    12.0 / +12, float forms, comments, a BOM, defaults in an @include, seeds
    beyond 32 bits) run as a study gives, cell by cell, the bits that
    `aesweep train --stage` gives for that cell's flags."""
    rng = random.Random(1500 + k)
    text, flags, axes, base, stage, repeats = random_spec(rng)
    if rng.random() < 0.5:  # the defaults line in an included file
        lines = text.splitlines(keepends=True)
        i = next(j for j, l in enumerate(lines) if l.startswith("defaults"))
        (tmp_path / "inc.cfg").write_text(lines[i])
        lines[i] = '@include "inc.cfg"\n'
        text = "".join(lines)
    raw = text.encode()
    if rng.random() < 0.5:
        raw = b"\xef\xbb\xbf" + raw
    (tmp_path / "p.cfg").write_bytes(raw)
    p = aes("run", "p.cfg", "-o", "out.h5", "--quiet", cwd=str(tmp_path), check=False)
    assert p.returncode == 0, f"spec:\n{text}\nstderr: {p.stderr}"
    with h5py.File(tmp_path / "out.h5", "r") as f:
        g = f[stage]
        scales = [g[a][()] for a in axes]
        test, train = g["test_mse_test"][()], g["train_mse"][()]
    for idx in np.ndindex(*[len(s) for s in scales]):
        hp = dict(base)
        for a, s, i in zip(axes, scales, idx):
            hp[a] = s[i]
        for r in range(repeats):
            args = list(flags) + ["--repeat", str(r), "--json"]
            for q, v in hp.items():
                if q == "mmd_kernel":  # schema 2: a string coordinate (h5py gives bytes)
                    v = v.decode() if isinstance(v, bytes) else v
                    v = v if isinstance(v, str) else ("imq" if v == 1 else "rbf")
                    args += [FLAG[q], v]
                else:
                    args += [FLAG[q], repr(float(v)) if q not in INT_PARAMS else str(int(v))]
            js = json.loads(aes("train", *args, cwd=str(tmp_path)).stdout)
            cell = idx + (r,)
            assert js["test_mse"] == test[cell] or (js["test_mse"] is None and np.isnan(test[cell])), (text, args)
            assert js["train_mse"] == train[cell] or (js["train_mse"] is None and np.isnan(train[cell])), (text, args)


# ---- analysis/report.py: refusals name the real cause, leave nothing behind

REPORT = os.path.join(os.path.dirname(HERE), "analysis", "report.py")
PY = os.environ.get("PYTHON", sys.executable)


def report(result, outdir):
    return subprocess.run([PY, REPORT, str(result), "-o", str(outdir)], capture_output=True, text=True,
                          env=dict(ENV, MPLBACKEND="Agg"), timeout=600)


@pytest.fixture
def small_result(tmp_path):
    write_csv(tmp_path / "d.csv")
    (tmp_path / "s.cfg").write_text(SMALL)
    aes("run", "s.cfg", "--quiet", cwd=str(tmp_path))
    return tmp_path / "out.h5"


def one_line(p):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def test_report_refuses_non_utf8_spec(small_result, tmp_path):
    """A result whose stored spec is not UTF-8 (written by 0.3.0 from a spec
    with a Latin-1 comment): one line naming the attribute and the byte, no
    report.md of 0 bytes (it was a traceback and an empty report.md)."""
    with h5py.File(small_result, "r+") as f:
        spec = f.attrs["spec"].encode()
        del f.attrs["spec"]
        f.attrs.create("spec", np.array(b"# caf\xe9\n" + spec, dtype=h5py.string_dtype("utf-8")))
    p = report(small_result, tmp_path / "rep")
    assert p.returncode == 2
    line = one_line(p)
    assert "'spec' is not UTF-8" in line and "0xe9" in line
    assert not (tmp_path / "rep").exists()


def test_report_refuses_unwritable_outputs(small_result, tmp_path):
    """-o naming a file, or a folder on a read-only mount: one line about the
    output (it was 88 lines of tracebacks blaming the valid input file)."""
    (tmp_path / "afile").write_text("x")
    p = report(small_result, tmp_path / "afile")
    assert p.returncode == 2 and "exists and is not a folder" in one_line(p)
    assert (tmp_path / "afile").read_text() == "x"
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], check=True)
    try:
        for target in (ro, ro / "sub"):
            p = report(small_result, target)
            assert p.returncode == 2, p.stderr
            line = one_line(p)
            assert "Read-only file system" in line and "out.h5" not in line, line
        assert os.listdir(ro) == []
    finally:
        subprocess.run(["umount", str(ro)])
    p = report(small_result, tmp_path / "good")
    assert p.returncode == 0, p.stderr
    assert os.path.getsize(tmp_path / "good" / "report.md") > 0
    assert not [f for f in os.listdir(tmp_path / "good") if f.endswith(".tmp")]
