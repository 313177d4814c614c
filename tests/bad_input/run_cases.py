#!/usr/bin/env python3
"""The bad-input catalogue: every case under tests/bad_input/cases/ must be
refused with the right exit code and ONE line of stderr that names the file,
line or key, the bad value and the fix, and must leave every file in its
working folder exactly as it was (no output created, changed or removed).

Usage: run_cases.py --aesweep BUILD/aesweep [-k SUBSTRING] [-j N] [--list] [--keep] [-v] [--messages]

Each case is one text file, NN-name.case (format in tests/bad_input/README.md):

    # what the case checks (first comment line = description)
    run: validate spec.cfg          one or more aesweep invocations (args after the binary)
    run: run spec.cfg
    exit: 2                         expected exit code of every run
    expect: spec.cfg:3              substrings the stderr line must contain (all of them)
    copy: bad.h5                    copy tests/bad_input/data/bad.h5 into the working folder
    setup: result out.h5            put a valid aesweep result file there (checked untouched)
    setup: mkdir NAME               create a folder (e.g. in place of a data file)
    setup: partial SPEC             run SPEC and SIGTERM it: leaves OUT.journal and a partial OUT
    setup: flock FILE               hold an flock on FILE (as a running aesweep holds OUT.lock,
                                    or HDF5 a file it writes)
    setup: replace SRC DST          move SRC over DST (after the setups before it, e.g. a partial run)
    setup: link SRC DST             make DST a hard link of SRC (another name of the same file)
    setup: rofs DIR                 mount a read-only tmpfs at DIR (root), unmounted afterwards
    xfail: REASON                   a known bug (reported, not fatal); XPASS when fixed
    --- FILE                        the following lines (to the next ---) are FILE
    ...

@SRC@ in files and run lines is the source tree, @DATA@ tests/bad_input/data.
Only the Python standard library is used, so any python3 runs it ($PYTHON
or /usr/bin/python3 from CTest).
"""
import argparse
import fcntl
import concurrent.futures
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(HERE, "data")
CASES = os.path.join(HERE, "cases")
TIMEOUT = 180  # seconds per invocation (sanitizer builds are slow)

# Lines an MPI singleton may print on stderr that are not aesweep's message.
MPI_NOISE = re.compile(r"^(\[[\w.-]+:\d+\]|-{20,}|\s*$)")


def env():
    e = dict(os.environ)
    e.setdefault("OPENBLAS_NUM_THREADS", "1")
    # a singleton MPI run as root in a container
    e.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    e.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return e


class Case:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-len(".case")]
        self.desc = ""
        self.runs, self.expect, self.copy, self.setup, self.files = [], [], [], [], {}
        self.exit = 2
        self.xfail = None
        cur = None
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            for raw in f:
                line = raw.rstrip("\n")
                if line.startswith("--- "):
                    cur = line[4:].strip()
                    self.files[cur] = []
                    continue
                if cur is not None:
                    self.files[cur].append(raw)
                    continue
                if not line.strip():
                    continue
                if line.startswith("#"):
                    if not self.desc:
                        self.desc = line.lstrip("# ").strip()
                    continue
                key, _, val = line.partition(":")
                key, val = key.strip(), val.strip()
                if key == "run":
                    self.runs.append(val)
                elif key == "exit":
                    self.exit = int(val)
                elif key == "expect":
                    self.expect.append(val)
                elif key == "copy":
                    self.copy.append(val)
                elif key == "setup":
                    self.setup.append(val)
                elif key == "xfail":
                    self.xfail = val
                else:
                    raise SystemExit(f"{path}: unknown directive '{key}'")
        if not self.runs:
            raise SystemExit(f"{path}: no 'run:' line")
        if not self.expect:
            raise SystemExit(f"{path}: no 'expect:' line")


def subst(s):
    return s.replace("@SRC@", SRC).replace("@DATA@", DATA)


def snapshot(root):
    """{relative path: kind and content hash} of everything under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            out[os.path.relpath(p, root)] = ("dir", oct(os.stat(p).st_mode))
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            st = os.lstat(p)
            if os.path.islink(p):
                out[os.path.relpath(p, root)] = ("link", os.readlink(p))
                continue
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for blk in iter(lambda: f.read(1 << 16), b""):
                    h.update(blk)
            out[os.path.relpath(p, root)] = ("file", h.hexdigest(), st.st_size, oct(st.st_mode))
    return out


def diff_snapshots(a, b):
    msgs = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            msgs.append(f"created {k}")
        elif k not in b:
            msgs.append(f"removed {k}")
        elif a[k] != b[k]:
            msgs.append(f"changed {k}")
    return msgs


class Runner:
    def __init__(self, binary, verbose=False, keep=False):
        self.binary = os.path.abspath(binary)
        self.verbose = verbose
        self.keep = keep
        self.work = tempfile.mkdtemp(prefix="aesweep-badinput-")
        self._result = None

    def valid_result(self):
        """A complete, valid result file, made once with this binary."""
        if self._result is None:
            d = os.path.join(self.work, "_valid")
            os.makedirs(d)
            shutil.copy(os.path.join(DATA, "valid.cfg"), d)
            r = subprocess.run([self.binary, "run", "valid.cfg", "--quiet", "-o", "valid.h5"], cwd=d,
                               env=env(), capture_output=True, text=True, timeout=TIMEOUT)
            if r.returncode != 0 or not os.path.exists(os.path.join(d, "valid.h5")):
                raise RuntimeError(f"cannot make the valid result file (exit {r.returncode}): {r.stderr.strip()}")
            self._result = os.path.join(d, "valid.h5")
        return self._result

    def partial(self, cwd, spec):
        """Start `aesweep run SPEC`, SIGTERM it once its journal exists: exit 75,
        a journal and a partial result stay behind."""
        text = open(os.path.join(cwd, spec)).read()
        m = re.search(r'^\s*output\s*=\s*"([^"]+)"', text, re.M)
        out = m.group(1) if m else "out.h5"
        journal = os.path.join(cwd, out + ".journal")
        p = subprocess.Popen([self.binary, "run", spec, "--quiet"], cwd=cwd, env=env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        while not os.path.exists(journal) and p.poll() is None and time.time() - t0 < TIMEOUT:
            time.sleep(0.05)
        time.sleep(0.3)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            raise RuntimeError("setup partial: the run did not stop within the timeout after SIGTERM")
        if p.returncode != 75 or not os.path.exists(journal):
            raise RuntimeError(f"setup partial: expected exit 75 and {out}.journal, got exit {p.returncode}: {err.strip()}")

    def prepare(self, case):
        cwd = os.path.join(self.work, case.name)
        os.makedirs(cwd)
        for c in case.copy:
            shutil.copy(os.path.join(DATA, c), os.path.join(cwd, os.path.basename(c)))
        for name, lines in case.files.items():
            p = os.path.join(cwd, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(subst("".join(lines)))
        for s in case.setup:
            words = s.split()
            if words[0] == "result":
                shutil.copy(self.valid_result(), os.path.join(cwd, words[1]))
            elif words[0] == "mkdir":
                os.makedirs(os.path.join(cwd, words[1]), exist_ok=True)
            elif words[0] == "partial":
                self.partial(cwd, words[1])
            elif words[0] == "replace":
                # after the setups before it (e.g. a partial run): DST's content becomes SRC's
                shutil.copy(os.path.join(cwd, words[1]), os.path.join(cwd, words[2]))
                os.unlink(os.path.join(cwd, words[1]))
            elif words[0] == "link":
                os.link(os.path.join(cwd, words[1]), os.path.join(cwd, words[2]))
            elif words[0] == "rofs":
                # a read-only file system (root: CI runs as root), unmounted after the case
                d = os.path.join(cwd, words[1])
                os.makedirs(d, exist_ok=True)
                subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", d], check=True)
                case.mounts = getattr(case, "mounts", []) + [d]
            elif words[0] == "flock":
                fd = os.open(os.path.join(cwd, words[1]), os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                case.locks = getattr(case, "locks", []) + [fd]
            else:
                raise SystemExit(f"{case.path}: unknown setup '{s}'")
        return cwd

    def check(self, case):
        """Returns a list of problems (empty = pass)."""
        problems = []
        try:
            cwd = self.prepare(case)
        except Exception as e:  # a broken setup is a failure of the case
            for d in getattr(case, "mounts", []):
                subprocess.run(["umount", d])
            return [f"setup: {e}"]
        before = snapshot(cwd)
        for run in case.runs:
            args = [subst(a) for a in shlex.split(run)]
            try:
                r = subprocess.run([self.binary] + args, cwd=cwd, env=env(), capture_output=True,
                                   text=True, errors="replace", timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"[{run}] timed out after {TIMEOUT} s")
                continue
            lines = [l for l in r.stderr.splitlines() if not (args and args[0] == "run" and MPI_NOISE.match(l))]
            if self.verbose:
                print(f"    $ aesweep {run}  -> exit {r.returncode}")
                for l in r.stderr.splitlines():
                    print(f"      stderr| {l}")
            if r.returncode != case.exit:
                problems.append(f"[{run}] exit {r.returncode}, expected {case.exit}")
            if len(lines) != 1:
                problems.append(f"[{run}] stderr has {len(lines)} lines, expected 1: {r.stderr.strip()[:600]!r}")
            msg = lines[0] if lines else ""
            if lines and not msg.startswith("aesweep: "):
                problems.append(f"[{run}] message does not start with 'aesweep: ': {msg!r}")
            for e in case.expect:
                if subst(e) not in msg:
                    problems.append(f"[{run}] message lacks {e!r}: {msg!r}")
            after = snapshot(cwd)
            d = diff_snapshots(before, after)
            if d:
                problems.append(f"[{run}] files touched: {', '.join(d)}")
                before = after
            case.messages = getattr(case, "messages", []) + [msg]
        for fd in getattr(case, "locks", []):
            os.close(fd)
        for d in getattr(case, "mounts", []):
            subprocess.run(["umount", d])
        if not self.keep:
            shutil.rmtree(cwd, ignore_errors=True)
        return problems

    def close(self):
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            print(f"working folders kept in {self.work}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--aesweep", required=True, help="the aesweep binary")
    ap.add_argument("-k", default="", help="run only cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--keep", action="store_true", help="keep the working folders")
    ap.add_argument("-v", action="store_true", help="show every invocation and its stderr")
    ap.add_argument("--messages", action="store_true", help="print each case's message")
    ap.add_argument("-j", type=int, default=min(4, os.cpu_count() or 1), help="cases run at once (default min(4, CPUs))")
    a = ap.parse_args()
    cases = [Case(os.path.join(CASES, f)) for f in sorted(os.listdir(CASES)) if f.endswith(".case")]
    cases = [c for c in cases if a.k in c.name]
    if a.list:
        for c in cases:
            print(f"{c.name:40s} {c.desc}{'  [xfail: ' + c.xfail + ']' if c.xfail else ''}")
        return 0
    if not os.access(a.aesweep, os.X_OK):
        print(f"run_cases.py: {a.aesweep}: not an executable", file=sys.stderr)
        return 2
    r = Runner(a.aesweep, a.v, a.keep)
    counts = {"PASS": 0, "FAIL": 0, "XFAIL": 0, "XPASS": 0}
    failed = []
    t0 = time.time()
    def timed(c):
        t = time.time()
        return r.check(c), time.time() - t

    try:
        if any(s.split()[0] == "result" for c in cases for s in c.setup):
            r.valid_result()  # once, before the cases run in parallel
        with concurrent.futures.ThreadPoolExecutor(max(1, a.j)) as pool:
            results = list(pool.map(timed, cases))
        for c, (problems, secs) in zip(cases, results):
            if c.xfail:
                status = "XFAIL" if problems else "XPASS"
            else:
                status = "FAIL" if problems else "PASS"
            counts[status] += 1
            print(f"{status:5s} {c.name} ({len(c.runs)} run(s), {secs:.1f} s)"
                  + (f"  [known bug: {c.xfail}]" if c.xfail else ""))
            if a.messages:
                for m in getattr(c, "messages", []):
                    print(f"      {m}")
            if problems and (status == "FAIL" or a.v):
                for p in problems:
                    print(f"      {p}")
            if status == "FAIL":
                failed.append(c.name)
            if status == "XPASS":
                print(f"      {c.name} passes now: remove its 'xfail:' line")
    finally:
        r.close()
    print(f"bad-input catalogue: {len(cases)} cases, {counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['XFAIL']} known bugs (xfail), {counts['XPASS']} xpass; {time.time() - t0:.1f} s")
    if failed:
        print("failed: " + " ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
