#!/usr/bin/python3
"""h5check.py - checks of aesweep result files for the Slurm tests (tests/slurm/slurm-tests.sh).

  h5check.py complete OUT.h5 [--seed N]   a finished study: complete = 1, every task done, every
                                          cell's status set (0 ok or 1 diverged), seed as given
  h5check.py same REF.h5 OUT.h5           every dataset of every stage group byte-identical, except
                                          the timings (`seconds`, `rank_busy_seconds` and its scale `rank`); /data and the
                                          best models under /models too
  h5check.py differ A.h5 B.h5             the first stage's metrics differ (studies of other seeds)
  h5check.py kept PARTIAL.h5 OUT.h5       every cell finished in the partial file (status 0) has the
                                          same `seconds` in the final file: its task was not run again
  h5check.py journal OUT.h5.journal       print the number of task records in a journal (0 if none)
  h5check.py partial OUT.h5               print tasks_done of a partial file (complete = 0)

Exit 0 when the check holds, 1 (with the reason) when it does not.
"""
import os
import struct
import sys
import zlib

# h5py and numpy are imported by the checks that read HDF5 (main): `journal` runs many times a
# second while a Slurm test holds a study (slurm-tests.sh hold), and without them it starts in 20 ms
h5py = np = None

TIMING = {"seconds", "rank_busy_seconds", "busy_seconds", "rank"}  # "rank": the scale of (ranks/)busy_seconds


def fail(msg):
    print(f"h5check: FAIL: {msg}")
    sys.exit(1)


def attr(f, k):
    v = f.attrs[k]
    return v.decode() if isinstance(v, bytes) else v


def stages(f):
    return [s for s in attr(f, "stages").split(",") if s]


def datasets(g, skip=()):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.split("/")[-1] not in skip:
            out[name] = obj
    g.visititems(visit)
    return out


def complete(path, seed=None):
    with h5py.File(path, "r") as f:
        if int(attr(f, "complete")) != 1:
            fail(f"{path}: complete = {attr(f, 'complete')}")
        done, total = int(attr(f, "tasks_done")), int(attr(f, "tasks_total"))
        if done != total or total <= 0:
            fail(f"{path}: tasks_done {done} of tasks_total {total}")
        if seed is not None and int(attr(f, "seed")) != seed:
            fail(f"{path}: seed {attr(f, 'seed')}, expected {seed}")
        for s in stages(f):
            st = f[s]["status"][()]
            if not np.isin(st, (0, 1)).all():
                fail(f"{path}: /{s}/status has values {sorted(set(st.ravel().tolist()))} (2 interrupted, 3 not run)")
            if int(f[s].attrs["complete"]) != 1:
                fail(f"{path}: /{s} complete = {f[s].attrs['complete']}")
        print(f"h5check: {path}: study {attr(f, 'study')} seed {attr(f, 'seed')} complete, "
              f"{done}/{total} tasks, {attr(f, 'ranks')} ranks, stages {','.join(stages(f))}")


def same(ref, out):
    with h5py.File(ref, "r") as a, h5py.File(out, "r") as b:
        if stages(a) != stages(b):
            fail(f"stages {stages(a)} vs {stages(b)}")
        n = 0
        for grp in stages(a) + [g for g in ("data", "models") if g in a or g in b]:
            if grp not in a or grp not in b:
                fail(f"/{grp} only in {ref if grp in a else out}")
            da, db = datasets(a[grp], TIMING), datasets(b[grp], TIMING)
            if set(da) != set(db):
                fail(f"/{grp}: datasets only in {ref}: {sorted(set(da) - set(db))[:5]}, only in {out}: {sorted(set(db) - set(da))[:5]}")
            for k in sorted(da):
                x, y = da[k][()], db[k][()]
                x, y = np.asarray(x), np.asarray(y)
                if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                    bad = "" if x.shape != y.shape else f", {int(np.sum(x != y))} elements differ"
                    fail(f"/{grp}/{k}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}{bad}")
                n += 1
        nstage = sum(len(datasets(a[s], TIMING)) for s in stages(a))
        print(f"h5check: {ref} and {out}: {n} datasets byte-identical "
              f"({nstage} in the stage groups {','.join(stages(a))}; timings left out)")


def differ(pa, pb):
    with h5py.File(pa, "r") as a, h5py.File(pb, "r") as b:
        s = stages(a)[0]
        metrics = [m for m in attr(a, "metrics").split(",") if m]
        x, y = a[s][metrics[0]][()], b[s][metrics[0]][()]
        if x.tobytes() == y.tobytes():
            fail(f"/{s}/{metrics[0]} is identical in {pa} and {pb}")
        print(f"h5check: /{s}/{metrics[0]} differs between {pa} and {pb}")


def kept(partial, final):
    with h5py.File(partial, "r") as p, h5py.File(final, "r") as f:
        if int(attr(p, "complete")) != 0:
            fail(f"{partial} is not partial (complete = {attr(p, 'complete')})")
        n = 0
        for s in stages(p):
            if s not in p:  # a partial file holds the stages begun before the cut
                continue
            ok = p[s]["status"][()] == 0
            a, b = p[s]["seconds"][()][ok], f[s]["seconds"][()][ok]
            if a.tobytes() != b.tobytes():
                fail(f"/{s}: {int(np.sum(a != b))} of the {int(ok.sum())} cells done before the cut have other "
                     f"seconds in {final}: their tasks ran again")
            n += int(ok.sum())
        if n == 0:
            fail(f"{partial} has no finished cell")
        print(f"h5check: {n} cells finished before the cut ({attr(p, 'tasks_done')} tasks) were not run again")


def journal(path):
    """Task records of an aesweep journal (src/journal.c): magic, spec, then CRC-checked records."""
    if not os.path.exists(path):
        print(0)
        return
    with open(path, "rb") as fh:
        buf = fh.read()
    magic = b"AESWEEP-JOURNAL-1\n"
    if not buf.startswith(magic) or len(buf) < len(magic) + 4:
        print(0)
        return
    (slen,) = struct.unpack_from("<I", buf, len(magic))
    pos, n = len(magic) + 4 + slen, 0
    while pos + 8 <= len(buf):
        tag, nb = struct.unpack_from("<II", buf, pos)
        if tag != 0x52534541 or pos + 8 + nb + 4 > len(buf):
            break
        (crc,) = struct.unpack_from("<I", buf, pos + 8 + nb)
        if zlib.crc32(buf[pos + 8:pos + 8 + nb]) != crc:
            break
        # an interim report (wire.h WIRE_TAG_INTERIM: slot count 0) is not a task record
        task = nb < 24 or struct.unpack_from("<d", buf, pos + 8 + 16)[0] != 0
        n, pos = n + int(task), pos + 8 + nb + 4
    print(n)


def partial(path):
    with h5py.File(path, "r") as f:
        if int(attr(f, "complete")) != 0:
            fail(f"{path}: complete = {attr(f, 'complete')}, expected a partial file")
        print(int(attr(f, "tasks_done")))


def main(a):
    global h5py, np
    if a and a[0] != "journal":
        import h5py
        import numpy as np
    if len(a) >= 2 and a[0] == "complete":
        seed = int(a[3]) if len(a) == 4 and a[2] == "--seed" else None
        complete(a[1], seed)
    elif len(a) == 3 and a[0] in ("same", "differ", "kept"):
        {"same": same, "differ": differ, "kept": kept}[a[0]](a[1], a[2])
    elif len(a) == 2 and a[0] in ("journal", "partial"):
        {"journal": journal, "partial": partial}[a[0]](a[1])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
