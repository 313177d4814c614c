"""A singleton `aesweep run` (no mpirun) refuses before MPI_Init (cli.c run_preflight).

Why it matters: Open MPI 4.1's singleton MPI_Finalize can crash a run refused just after MPI_Init
(exit 139, notes in src/cli.c).  How it is shown: every case runs with OMPI_MCA_pml naming a PML
that does not exist, so that MPI_Init itself fails (checked first: a good run then fails loudly).
A refusal that still ends with its one line and exit code, and leaves the folder as it was, never
reached MPI_Init.  Each refusal's message is the one sweep_run gives under mpirun (checked for the
journal cases against `mpirun -np 2`).  The journal cases use a header-only journal written here
in journal.c's format (magic, length, the effective spec and its inputs), the identity taken from
a complete result of the same study.
"""
import os
import shutil
import struct
import subprocess
import sys

import h5py
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("AESWEEP_SRC", os.path.dirname(HERE))
BIN = os.environ.get("AESWEEP_BIN", os.path.join(SRC, "build", "aesweep"))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
NO_MPI = dict(ENV, OMPI_MCA_pml="aesweep_no_such_pml")
SPEC = """study = "pf";
seed = 3;
data = { source = "moons"; pool = 400; noise = 0.1; };
tests = ( { name = "test"; size = 100; noise = 0.1; } );
defaults = { train_size = 200; epochs = 2; lr = 0.01; hidden = 4; layers = 1; bottleneck = 1; };
stages = ( { name = "a"; axes = { lr = [0.01, 0.02]; }; } );
"""


def aesweep(*args, env=NO_MPI, cwd=None):
    return subprocess.run([BIN, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def snapshot(folder):
    out = {}
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            p = os.path.join(root, n)
            out[os.path.relpath(p, folder)] = None if os.path.isdir(p) else open(p, "rb").read()
    return out


def refused(folder, args, code, *needles):
    """Run args under the broken PML: exit code, one line with the needles, folder unchanged."""
    before = snapshot(folder)
    p = aesweep(*args, cwd=folder)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == code, (args, p.returncode, p.stderr)
    assert len(lines) == 1, (args, p.stderr)
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert "MPI" not in p.stderr and "PML" not in p.stderr
    assert snapshot(folder) == before
    return lines[0]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A folder with the spec and a complete result of it (run normally, with MPI)."""
    d = tmp_path_factory.mktemp("pf")
    (d / "s.cfg").write_text(SPEC)
    p = aesweep("run", "s.cfg", "-o", "done.h5", "--quiet", env=ENV, cwd=d)
    assert p.returncode == 0, p.stderr
    with h5py.File(d / "done.h5", "r") as f:
        spec_text = f.attrs["spec"]
        inputs = f.attrs["inputs"]
    spec_text = spec_text.decode() if isinstance(spec_text, bytes) else str(spec_text)
    inputs = inputs.decode() if isinstance(inputs, bytes) else str(inputs)
    assert inputs.startswith("# aesweep inputs")
    return d, spec_text, inputs


def write_journal(path, spec_text, inputs):
    ident = spec_text + ("" if spec_text.endswith("\n") else "\n") + inputs
    b = ident.encode()
    with open(path, "wb") as f:
        f.write(b"AESWEEP-JOURNAL-1\n" + struct.pack("<I", len(b)) + b)


def test_mpi_init_is_broken_by_the_fake_pml(study):
    """The control: a run that passes every check reaches MPI_Init and fails there."""
    d, _, _ = study
    p = aesweep("run", "s.cfg", "-o", "ctl/x.h5", "--quiet", cwd=d)
    assert p.returncode != 0 and p.returncode != 2
    assert not os.path.exists(d / "ctl" / "x.h5")


def test_input_and_output_refusals(study):
    d, _, _ = study
    (d / "bad.cfg").write_text("study = \"x\";\nstages = ( { name = \"a\"; axes = { lr = [0.1] ; } );\n")
    refused(d, ["run", "bad.cfg", "-o", "o.h5"], 2, "bad.cfg")
    (d / "csv.cfg").write_text(SPEC.replace('source = "moons"; pool = 400; noise = 0.1;',
                                            'source = "csv"; path = "missing.csv";')
                               .replace('tests = ( { name = "test"; size = 100; noise = 0.1; } );\n', ""))
    refused(d, ["run", "csv.cfg", "-o", "o.h5"], 2, "missing.csv")
    os.makedirs(d / "folder", exist_ok=True)
    refused(d, ["run", "s.cfg", "-o", "folder"], 2, "names a folder")
    refused(d, ["run", "s.cfg", "-o", "s.cfg"], 2, "is also an input")
    (d / "foreign.h5").write_text("not hdf5\n")
    refused(d, ["run", "s.cfg", "-o", "foreign.h5"], 2, "not an aesweep result file")
    refused(d, ["run", "s.cfg", "-o", "o.h5", "--max-mem-gb", "0.00003"], 2, "stage a: the largest task needs")
    refused(d, ["run", "s.cfg", "-o", "o.h5", "--max-mem-gb", "0.000001"], 2, "data.pool and tests need")


def test_lock_held_by_another_run(study):
    d, _, _ = study
    import fcntl
    with open(d / "held.h5.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused(d, ["run", "s.cfg", "-o", "held.h5"], 2, "another aesweep run is using this output")
    os.unlink(d / "held.h5.lock")


def test_resume_decisions(study):
    d, spec_text, inputs = study
    # complete, --resume: nothing to do, exit 0, before MPI_Init
    line = refused(d, ["run", "s.cfg", "-o", "done.h5", "--resume"], 0, "already complete")
    assert line == "aesweep: done.h5 is already complete for this spec; nothing to resume"
    # complete for another spec
    (d / "s2.cfg").write_text(SPEC + "# changed\n")
    refused(d, ["run", "s2.cfg", "-o", "done.h5", "--resume"], 2, "complete, but for another spec")
    # a partial run (journal) without a flag; with --resume and a changed spec; changed data
    os.makedirs(d / "part", exist_ok=True)
    shutil.copy(d / "done.h5", d / "part" / "p.h5")
    write_journal(d / "part" / "p.h5.journal", spec_text, inputs)
    refused(d, ["run", "s.cfg", "-o", "part/p.h5"], 2, "a partial run of this output exists (0 tasks journaled)")
    refused(d, ["run", "s2.cfg", "-o", "part/p.h5", "--resume"], 2, "the spec changed since the partial run")
    write_journal(d / "part" / "p.h5.journal", spec_text, inputs.replace("rows=400", "rows=401"))
    refused(d, ["run", "s.cfg", "-o", "part/p.h5", "--resume"], 2, "the data changed since the partial run",
            "was 'pool rows=401")
    write_journal(d / "part" / "p.h5.journal", spec_text, "")
    refused(d, ["run", "s.cfg", "-o", "part/p.h5", "--resume"], 2, "written by aesweep 0.3.0 or older")
    (d / "part" / "p.h5.journal").write_bytes(b"garbage\n")
    refused(d, ["run", "s.cfg", "-o", "part/p.h5", "--resume"], 2, "p.h5.journal")


def test_same_messages_under_mpirun(study):
    """Two ranks check after MPI_Init (sweep_run): the same line for the same journal."""
    d, spec_text, inputs = study
    os.makedirs(d / "mp", exist_ok=True)
    write_journal(d / "mp" / "p.h5.journal", spec_text, inputs.replace("rows=400", "rows=401"))
    single = aesweep("run", "s.cfg", "-o", "mp/p.h5", "--resume", cwd=d)
    p = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", "s.cfg", "-o", "mp/p.h5", "--resume"],
                       env=ENV, cwd=d, capture_output=True, text=True, timeout=300)
    assert single.returncode == 2 and p.returncode == 2
    line = single.stderr.strip()
    assert line in p.stderr.splitlines()
