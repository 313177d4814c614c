"""Disk full: `aesweep run` on a small tmpfs (mounted by the CTest fixture in
tests/diskfull.cmake; AESWEEP_FULL_DIR names it) ends with one line and exit
3, never a signal; it leaves no empty journal and nothing at the final path;
and `--resume` once space is freed gives the same file as an uninterrupted
run (metric datasets and models byte for byte, tests/h5_compare.py).
"""
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["AESWEEP_BIN"]
FULL = os.environ["AESWEEP_FULL_DIR"]
PY = os.environ.get("PYTHON", sys.executable)
SPEC = os.path.join(HERE, "specs", "diskfull.cfg")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")
MPI_NOISE = re.compile(r"^(\[[\w.-]+:\d+\]|-{20,}|\s*$)")


def run(out, *extra, cwd=None, spec=SPEC):
    p = subprocess.run([BIN, "run", spec, "-o", out, "--quiet", *extra], env=ENV, capture_output=True,
                       text=True, timeout=300, cwd=cwd)
    lines = [l for l in p.stderr.splitlines() if not MPI_NOISE.match(l)]
    return p.returncode, lines


def resize(kib):
    subprocess.run(["mount", "-o", f"remount,size={kib}k", FULL], check=True)


@pytest.fixture
def full_dir():
    """The tmpfs, emptied and back at 96 KiB."""
    for f in os.listdir(FULL):
        os.unlink(os.path.join(FULL, f))
    resize(96)
    yield FULL
    for f in os.listdir(FULL):
        os.unlink(os.path.join(FULL, f))
    resize(96)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ref") / "ref.h5")
    rc, lines = run(out)
    assert rc == 0, lines
    return out


def fill(d):
    """Fill the file system to the last block."""
    fd = os.open(os.path.join(d, "filler"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\0" * 512) > 0:
            pass
    except OSError:
        pass
    os.close(fd)


def same(a, b):
    p = subprocess.run([PY, os.path.join(HERE, "h5_compare.py"), a, b], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_full_at_start_then_resume(full_dir, reference):
    fill(full_dir)
    out = os.path.join(full_dir, "out.h5")
    rc, lines = run(out)
    assert rc == 3, (rc, lines)
    assert len(lines) == 1 and lines[0].startswith("aesweep: ") and "No space left" in lines[0], lines
    # nothing but the filler: no empty journal, no temporary or lock file
    assert sorted(os.listdir(full_dir)) == ["filler"]
    os.unlink(os.path.join(full_dir, "filler"))
    resize(2048)
    rc, lines = run(out, "--resume")
    assert rc == 0, lines
    same(reference, out)


def test_full_while_writing_then_resume(full_dir, reference):
    out = os.path.join(full_dir, "out.h5")
    rc, lines = run(out)
    assert rc == 3, (rc, lines)
    assert len(lines) == 1 and "No space left" in lines[0] and "--resume" in lines[0], lines
    left = sorted(os.listdir(full_dir))
    assert left == ["out.h5.journal"], left  # no half-written file at the final path, no .tmp
    # the journal holds finished tasks that --resume reads
    p = subprocess.run([BIN, "info", out], env=ENV, capture_output=True, text=True)
    assert p.returncode == 0 and "finished tasks" in p.stdout, p.stdout + p.stderr
    n = int(re.search(r"(\d+) finished tasks", p.stdout).group(1))
    assert n >= 4, p.stdout
    resize(2048)
    rc, lines = run(out, "--resume")
    assert rc == 0, lines
    assert sorted(os.listdir(full_dir)) == ["out.h5"]
    same(reference, out)


def test_empty_journal_is_no_journal(tmp_path, reference):
    """0.3.0 left a 0-byte journal when the disk was full at the start; it
    holds nothing, so --resume starts over instead of refusing it."""
    out = str(tmp_path / "out.h5")
    open(out + ".journal", "wb").close()
    rc, lines = run(out, "--resume")
    assert rc == 0, lines
    same(reference, out)


SLOW = os.path.join(HERE, "specs", "diskfull_slow.cfg")


def test_journal_full_while_running_then_resume(full_dir, tmp_path):
    """The disk fills while tasks run (the test fills it once the journal
    exists; each task takes ~1 s): the journal append fails, the torn record
    is cut off, the run stops with one line and exit 3, and --resume after
    space is freed gives the uninterrupted file."""
    import time
    resize(512)
    out = os.path.join(full_dir, "out.h5")
    p = subprocess.Popen([BIN, "run", SLOW, "-o", out, "--quiet"], env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not os.path.exists(out + ".journal") and p.poll() is None and time.time() - t0 < 300:
        time.sleep(0.01)
    fill(full_dir)
    _, err = p.communicate(timeout=300)
    lines = [l for l in err.splitlines() if not MPI_NOISE.match(l)]
    assert p.returncode == 3, (p.returncode, lines)
    assert len(lines) == 1 and "cannot write the journal" in lines[0] and "No space left" in lines[0], lines
    assert "out.h5" not in os.listdir(full_dir) and "out.h5.tmp" not in os.listdir(full_dir)
    os.unlink(os.path.join(full_dir, "filler"))
    resize(4096)
    q = subprocess.run([BIN, "info", out], env=ENV, capture_output=True, text=True)
    assert q.returncode == 0 and "finished tasks" in q.stdout, q.stdout + q.stderr  # the journal reads back
    rc, lines = run(out, "--resume", spec=SLOW)
    assert rc == 0, lines
    ref = str(tmp_path / "ref.h5")
    rc, lines = run(ref, spec=SLOW)
    assert rc == 0, lines
    same(ref, out)


def test_full_during_run_keeps_previous_result(full_dir, reference, tmp_path):
    """A previous result file (another seed) at the output path, and room for
    it and about a third of the new one: the disk fills while the new file is
    written.  One line naming the file, the object and the system's message,
    exit 3; the previous file byte for byte as it was; once space is freed the
    run (--resume when a journal was made) gives the uninterrupted file."""
    import hashlib
    prev_spec = str(tmp_path / "prev.cfg")
    with open(SPEC) as f, open(prev_spec, "w") as g:
        g.write(f.read().replace("seed = 5;", "seed = 6;"))
    prev = str(tmp_path / "prev.h5")
    rc, lines = run(prev, spec=prev_spec)
    assert rc == 0, lines
    size_k = os.path.getsize(prev) // 1024
    resize(size_k + 140)
    out = os.path.join(full_dir, "out.h5")
    with open(prev, "rb") as f, open(out, "wb") as g:
        g.write(f.read())
    before = hashlib.sha256(open(out, "rb").read()).hexdigest()
    rc, lines = run(out)
    assert rc == 3, (rc, lines)
    assert len(lines) == 1 and "No space left on device" in lines[0] and "out.h5 is untouched" in lines[0], lines
    assert re.search(r"out\.h5\.tmp: cannot \w+", lines[0]), lines  # the file and what failed
    assert hashlib.sha256(open(out, "rb").read()).hexdigest() == before
    assert "out.h5.tmp" not in os.listdir(full_dir)
    journal = os.path.exists(out + ".journal")
    resize(size_k + 2048)
    rc, lines = run(out, *(["--resume"] if journal else []))
    assert rc == 0, lines
    same(reference, out)
