#!/usr/bin/env python3
"""search_study.py - the checks of the search-study tests (tests/search_*.sh, issue 16).

  search_study.py same A.h5 B.h5
      every dataset of A and B except timings equal byte for byte (numbers by their bytes, strings,
      variable-length ones included, by value: h5py hands vlen strings back as Python objects, whose
      bytes would be pointers), and the stages' best_* attributes equal. Exit 0, or 1 naming the first
      difference.
  search_study.py kill-at OUT REF.h5 STAGE RUNG -- MPIRUN-COMMAND...
      start the command (its own session), watch OUT.journal until it holds at least one record of
      rung RUNG of STAGE and not all of them (REF.h5, an uninterrupted run, says how many there are),
      stop rank 0 (SIGSTOP: nothing more is journaled), check the state again, SIGKILL the rank with the
      highest MPI rank, let rank 0 go on (SIGCONT) and wait until every process of the run is gone;
      then OUT.journal must exist and OUT be absent or partial (complete = 0), and its interim reports
      (a stage with curves) each equal REF's curve point bit for bit and be a new best when journaled.
      Waits for states, never for seconds: polls the journal every 5 ms (2 min at most).
  search_study.py term-at OUT REF.h5 STAGE RUNG -- MPIRUN-COMMAND...
      the same, but cut once this run has journaled any record while STAGE is not complete, by
      SIGTERM to every rank instead of the SIGKILL (a Slurm time limit): the run must exit 75
      (interrupted) and leave the journal, and OUT absent or partial.
  search_study.py interim-at OUT REF.h5 STAGE -- MPIRUN-COMMAND...
      the same as term-at, cut once the journal holds an interim report of STAGE (a stage with curves,
      wire.h WIRE_TAG_INTERIM) and the stage is not complete. At -np 1 whether one is ever journaled
      is a property of the spec (one rank: one order of results and reports), so the wait is for a
      state that must come.
  search_study.py exact RESULT.h5 STAGE TEST -- TRAIN-FLAGS...
      for every trial of STAGE and every rung it trained: `$AESWEEP_BIN train --json TRAIN-FLAGS` with
      the trial's parameters, `--stage STAGE` and `--epochs` the rung's epochs gives test_mse_TEST and
      train_mse bit for bit; NaN beyond each trial's stop rung; the bracket's rung epochs are Hyperband's
      (min_epochs * eta^(bracket + rung), the last at max_epochs); each rung's trials are the top
      max(1, floor(m / eta)) of the previous rung's m by (metric, trial index), finite metrics only.
  search_study.py curves RESULT.h5 STAGE TEST -- TRAIN-FLAGS...
      a halving stage's learning curves (one row per trial): equal to its results at every rung epoch,
      NaN beyond its last, and inside segments equal to `aesweep train --epochs E` (trials 0-2, the best).
  search_study.py trial-flag SPEC RESULT.h5 STAGE TEST [TRIALS...]
      `$AESWEEP_BIN train --spec SPEC --stage STAGE --trial T --epochs E --json` equals the file at
      every rung trial T trained.
"""
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time

import h5py
import numpy as np

BIN = os.environ.get("AESWEEP_BIN", "build/aesweep")
NOT_RUN = 3  # status of a (trial, rung) that was not trained


def is_timing(name):
    leaf = name.split("/")[-1]
    return leaf == "rank" or "seconds" in leaf or "busy" in leaf or "idle" in leaf


def load(path):
    out, attrs = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not is_timing(name):
                v = obj[()]
                out[name] = v.tolist() if isinstance(v, np.ndarray) and v.dtype.kind == "O" else np.asarray(v)
            if isinstance(obj, h5py.Group):
                for k, v in obj.attrs.items():
                    if k.startswith("best_"):
                        attrs[name + "@" + k] = v.tolist() if isinstance(v, np.ndarray) else v
        f.visititems(visit)
    return out, attrs


def same(a, b):
    da, aa = load(a)
    db, ab = load(b)
    if set(da) != set(db):
        print("different datasets: only in %s: %s; only in %s: %s" % (a, sorted(set(da) - set(db))[:5], b, sorted(set(db) - set(da))[:5]))
        return 1
    for k in sorted(da):
        x, y = da[k], db[k]
        if isinstance(x, list) or isinstance(y, list):
            if x != y:
                print("%s: differs (strings)" % k)
                return 1
        elif x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            print("%s: differs (%s%s vs %s%s)" % (k, x.dtype, x.shape, y.dtype, y.shape))
            return 1
    for k in sorted(set(aa) | set(ab)):
        x, y = aa.get(k), ab.get(k)
        if type(x) is not type(y) or (x != y and not (isinstance(x, float) and math.isnan(x) and math.isnan(y))):
            print("attribute %s differs: %r vs %r" % (k, x, y))
            return 1
    print("identical: %d datasets, %d best_* attributes" % (len(da), len(aa)))
    return 0


# ---- the journal (include/aesweep/journal.h, wire.h) ---------------------------------------------

def journal_records(path):
    """(buffer, offset of the record's doubles, its byte length) of every whole record; a torn tail is
    skipped, as journal_read does; nothing when the file is missing or not a journal."""
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except FileNotFoundError:
        return
    magic = b"AESWEEP-JOURNAL-1\n"
    if not buf.startswith(magic) or len(buf) < len(magic) + 4:
        return
    (slen,) = struct.unpack_from("<I", buf, len(magic))
    pos = len(magic) + 4 + slen
    while pos + 8 <= len(buf):
        rm, nbytes = struct.unpack_from("<II", buf, pos)
        if rm != 0x52534541 or pos + 12 + nbytes > len(buf) or nbytes < 16:
            break
        yield buf, pos + 8, nbytes
        pos += 12 + nbytes


def is_interim(buf, at):
    """An interim report (wire.h WIRE_TAG_INTERIM: [stage, task, 0, epoch, n, n curve metrics]), not a
    result record (whose third double, its slot count, is at least 1)."""
    return struct.unpack_from("<d", buf, at + 16)[0] == 0


def journal_tasks(path):
    """(stage, task) of every whole result record (interim reports left out)."""
    return [tuple(int(v) for v in struct.unpack_from("<dd", buf, at)) for buf, at, _ in journal_records(path)
            if not is_interim(buf, at)]


def journal_interims(path):
    """Every record in journal order as (stage, task, epoch or None, values): an interim report's
    epoch and curve metrics, a result record's None and its slot-0 metrics."""
    out = []
    for buf, at, nbytes in journal_records(path):
        stage, task, nslots, a3, a4 = struct.unpack_from("<5d", buf, at)
        if nslots == 0:
            out.append((int(stage), int(task), int(a3), struct.unpack_from("<%dd" % int(a4), buf, at + 40)))
        else:
            out.append((int(stage), int(task), None, struct.unpack_from("<%dd" % int(a3), buf, at + 40)))
    return out


def check_interims(journal, ref, stage):
    """The journal's interim reports of STAGE (wire.h): each one's curve metrics equal REF's curve of
    its trial at its epoch bit for bit, its epoch lies strictly inside its task's segment (the ends
    are results), and rank 0 journaled it only as a new best: its ranking metric is below that of
    every record of the stage before it (results and reports, earlier runs' included: a resume
    replays them). Returns (reports, None or a message naming the first offender)."""
    with h5py.File(ref, "r") as f:
        g = f[stage]
        si, sel = int(g.attrs["stage_index"]), text(g.attrs["select_metric"])
        if "curves" not in g:
            return 0, None
        cg = g["curves"]
        metrics = text(f.attrs["metrics"]).split(",")  # the record's order; the curves' are its first
        names = metrics[:[m for m in metrics].index("train_mse") + 1]
        curves = np.stack([cg[m][()] for m in names], axis=-1)  # [trial][point][metric]
        epochs = list(cg["epoch"][()])
        tb, re = g["trial_bracket"][()], g["rung_epochs"][()]
    k = metrics.index(sel)
    best, n = math.inf, 0
    for st, task, epoch, vals in journal_interims(journal):
        if st != si:
            continue
        if epoch is None:  # a result: its slot-0 metrics in the file's order
            v = vals[k]
            best = min(best, v) if math.isfinite(v) else best
            continue
        n += 1
        t, r = divmod(task, re.shape[1])
        lo, hi = (int(re[tb[t], r - 1]) if r else 0), int(re[tb[t], r])
        if not lo < epoch < hi:
            return n, "report of task %d (trial %d, rung %d: epochs %d..%d) at epoch %d" % (task, t, r, lo, hi, epoch)
        want = curves[t, epochs.index(epoch)]
        if list(np.asarray(vals).view(np.uint64)) != list(np.asarray(want, dtype=np.float64).view(np.uint64)):
            return n, "report of trial %d at epoch %d: %r, the file's curve %r" % (t, epoch, vals, list(want))
        if not vals[k] < best:
            return n, "report of trial %d at epoch %d journaled with %r, not below the best before it, %r" % (t, epoch, vals[k], best)
        best = vals[k]
    return n, None


def journal_states(path):
    """(stage, task, nparams, status of slot 0) of every whole result record (wire.h's flat form)."""
    out = []
    for buf, at, _ in journal_records(path):
        if is_interim(buf, at):
            continue
        stage, task, nslots, nmetrics, nparams = struct.unpack_from("<5d", buf, at)
        (status0,) = struct.unpack_from("<d", buf, at + 8 * (5 + int(nslots) * int(nmetrics)))
        out.append((int(stage), int(task), int(nparams), int(status0)))
    return out


def check_states(journal, ref, stage):
    """A halving record carries its end state exactly where a task may continue it (wire.h): at every
    rung but its bracket's last when it ended ok, never at the last (unless the stage saves every
    model, whose weights rank 0 takes from the state). None, or a message naming the first offender."""
    with h5py.File(ref, "r") as f:
        g = f[stage]
        si, save = int(g.attrs["stage_index"]), int(g.attrs["save_models"])
        tb, re = g["trial_bracket"][:], g["rung_epochs"][:]
    last = (re > 0).sum(axis=1) - 1
    for st, task, npar, s0 in journal_states(journal):
        if st != si:
            continue
        t, r = divmod(task, re.shape[1])
        want = s0 == 0 and (save or r != last[tb[t]])
        if (npar > 0) != want:
            return "task %d (trial %d, rung %d of %d, status %d): %d state values, expected %s" % (
                task, t, r, last[tb[t]], s0, npar, "a state" if want else "none")
    return None


def run_processes(sid):
    """{pid: MPI rank} of the aesweep ranks in session sid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.getsid(int(d)) != sid:
                continue
            cmd = open("/proc/%s/cmdline" % d, "rb").read().split(b"\0")
            if not cmd or not cmd[0].endswith(b"aesweep"):
                continue
            env = open("/proc/%s/environ" % d, "rb").read().split(b"\0")
        except (OSError, ProcessLookupError):
            continue
        for e in env:
            if e.startswith(b"OMPI_COMM_WORLD_RANK="):
                out[int(d)] = int(e.split(b"=")[1])
    return out


def kill_at(out, ref, stage, rung, cmd, term=False, interim=False):
    with h5py.File(ref, "r") as f:
        stages = f.attrs["stages"]
        stages = (stages.decode() if isinstance(stages, bytes) else stages).split(",")
        k = stages.index(stage)
        st = f[stage]["status"][()]
        nrungs = st.shape[1]
        total = int(np.sum(st[:, rung] != NOT_RUN))
        total_all = int(np.sum(st != NOT_RUN))
    assert total >= 2, "the reference run has %d segments at rung %d: nothing to cut between" % (total, rung)
    if interim:
        with h5py.File(ref, "r") as f:
            if "curves" not in f[stage]:
                print("interim-at: stage %s of %s records no curves (curve_points): no interim reports to wait for" % (stage, ref))
                return 1

    def count():
        return sum(1 for s, t in journal_tasks(out + ".journal") if s == k and t % nrungs == rung)

    base = len(journal_tasks(out + ".journal"))  # records of earlier runs (a resume appends)

    def in_state():
        """kill-at: this run journaled some record, and some, not all, rung-RUNG records are in (a
        resumed run may start with some); term-at: this run journaled some record, and
        not every record of the stage (a cut anywhere before the run ends, however the records batch:
        a dataflow may have finished most of rung RUNG before this run started)."""
        recs = journal_tasks(out + ".journal")
        n = sum(1 for s, t in recs if s == k and t % nrungs == rung)
        mine = len(recs) > base  # this run is under way (a resume may start with rung-RUNG records)
        if interim:  # an interim report of the stage is journaled, the stage not complete
            m = sum(1 for s, _ in recs if s == k)
            nrep = sum(1 for s, _, e, _ in journal_interims(out + ".journal") if s == k and e is not None)
            return n, nrep >= 1 and m < total_all, m >= total_all
        if term:
            m = sum(1 for s, _ in recs if s == k)
            return n, mine and m < total_all, m >= total_all
        return n, mine and 1 <= n < total, n >= total

    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    t0, n, ok = time.monotonic(), 0, False
    while time.monotonic() - t0 < 120 and p.poll() is None:
        n, ok, past = in_state()
        if ok or past:  # in the state, or beyond it (then fail at once)
            break
        time.sleep(0.005)
    if p.poll() is not None or not ok:
        _, err = p.communicate()
        print("kill-at: the run did not stop in the state (rc %s, %d of %d rung-%d records): %s" % (p.returncode, n, total, rung, err[-1500:]))
        return 1
    ranks = run_processes(p.pid)
    r0 = [pid for pid, r in ranks.items() if r == 0]
    victim = max(ranks, key=lambda pid: ranks[pid])
    assert r0 and (term or ranks[victim] > 0), "ranks of the run: %s" % ranks  # a SIGTERM cut may be at -np 1
    os.kill(r0[0], signal.SIGSTOP)
    n, ok, _ = in_state()  # rank 0 is stopped: the journal holds what it holds
    if term:  # what Slurm does at a time limit: SIGTERM to every rank of the step
        for pid in ranks:
            os.kill(pid, signal.SIGTERM)
    else:
        os.kill(victim, signal.SIGKILL)
    os.kill(r0[0], signal.SIGCONT)
    _, err = p.communicate(timeout=300)
    for _ in range(3000):  # orphans of a torn-down mpirun exit within seconds; a resume before is refused (lock)
        if not run_processes(p.pid):
            break
        time.sleep(0.01)
    left = run_processes(p.pid)
    if left or not ok or p.returncode == 0 or (term and p.returncode != 75):
        print("kill-at: rc %d, %d of %d rung-%d records when cut, processes left %s: %s" % (p.returncode, n, total, rung, left, err[-1500:]))
        return 1
    # What the cut leaves: the journal, always; at OUT nothing, or a partial file. mpirun answers the
    # lost rank with SIGTERM to the others, and a rank 0 that sees it between epochs closes the run
    # as interrupted (sweep.c run_close: a partial result with complete = 0), one that is killed first
    # leaves none. Either is right; a complete file, or none of the journal, is not.
    if not os.path.exists(out + ".journal"):
        print("kill-at: the cut run left no journal %s.journal: %s" % (out, err[-1500:]))
        return 1
    bad = check_states(out + ".journal", ref, stage)
    if bad:
        print("kill-at: %s.journal: %s" % (out, bad))
        return 1
    nrep, bad = check_interims(out + ".journal", ref, stage)
    if bad:
        print("kill-at: %s.journal: %s" % (out, bad))
        return 1
    with h5py.File(ref, "r") as f:
        curves = "curves" in f[stage]
    if interim and nrep == 0:
        print("interim-at: %s.journal holds no interim report" % out)
        return 1
    if interim:  # `aesweep status` shows the last one journaled (the lowest: each is a new best)
        reps = [(t, e, v) for st_, t, e, v in journal_interims(out + ".journal") if st_ == k and e is not None]
        t, e, v = reps[-1]
        with h5py.File(ref, "r") as f:
            g = f[stage]
            sel, nr = text(g.attrs["select_metric"]), g["status"].shape[1]
            mi = text(f.attrs["metrics"]).split(",").index(sel)
        js = json.loads(subprocess.run([BIN, "status", out, "--json"], capture_output=True, text=True).stdout)
        got = [x for x in js["stages"] if x["name"] == stage][0].get("interim_best")
        if not got or got["value"] != v[mi] or got["trial"] != t // nr or got["epoch"] != e:
            print("interim-at: `aesweep status --json` interim_best %r, the journal's last report: trial %d epoch %d value %r"
                  % (got, t // nr, e, v[mi]))
            return 1
    left_interims = "; %d interim reports journaled, every one bit-equal to the reference's curve and a new best" % nrep if curves else ""
    left_file = "no file at OUT"
    if os.path.exists(out):
        with h5py.File(out, "r") as f:
            if int(f.attrs.get("complete", -1)) != 0:
                print("kill-at: the cut run left %s with complete = %s (a partial file must say 0)" % (out, f.attrs.get("complete")))
                return 1
        left_file = "a partial file (complete = 0) at OUT"
    if interim:
        print("interim-at: every rank sent SIGTERM once an interim report was journaled; mpirun rc %d; %s%s"
              % (p.returncode, left_file, left_interims))
        return 0
    if term:
        print("term-at: every rank sent SIGTERM with %d of %d rung-%d records journaled (%d records in all, %d before this run); mpirun rc %d; %s%s"
              % (n, total, rung, len(journal_tasks(out + ".journal")), base, p.returncode, left_file, left_interims))
        return 0
    print("kill-at: rank %d killed with %d of %d rung-%d records journaled (%d records in all); mpirun rc %d; %s%s"
          % (ranks[victim], n, total, rung, len(journal_tasks(out + ".journal")), p.returncode, left_file, left_interims))
    return 0


# ---- exactness against `aesweep train` ------------------------------------------------------------

def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def read_stage(path, stage, test):
    with h5py.File(path, "r") as f:
        g = f[stage]
        params = [s for s in text(g.attrs["search_params"]).split(",") if s]
        values = {}
        for p in params:
            v = g[p][()]
            if p == "hidden" and "labels" in g[p].attrs:
                values[p] = [s.strip().strip("[]").replace(" ", "") for s in text(g[p].attrs["labels"]).split(";")]
            elif v.dtype.kind in "SO":
                values[p] = [text(x) for x in v]
            elif v.dtype.kind in "iu":
                values[p] = [str(int(x)) for x in v]
            else:
                values[p] = [repr(float(x)) for x in v]  # shortest text that reads back as the same double
        halving = "rung" in g
        d = dict(params=params, values=values, test=g["test_mse_" + test][()], train=g["train_mse"][()],
                 status=g["status"][()], attrs={k: g.attrs[k] for k in g.attrs}, halving=halving,
                 select=g[text(g.attrs["select_metric"])][()])
        if halving:
            d.update(stop=g["stop_rung"][()], bracket=g["trial_bracket"][()], rung_epochs=g["rung_epochs"][()],
                     compute=g["compute"][()])
    return d


def groups(d):
    """The trials promoted together: a bracket, or with tpe one batch of a bracket (each TPE round is
    one successive-halving bracket over its batch)."""
    a, ntr = d["attrs"], d["status"].shape[0]
    B = int(a["tpe_batch"]) if text(a.get("sampler", "")) == "tpe" else ntr
    out = {}
    for t in range(ntr):
        out.setdefault((int(d["bracket"][t]), t // B), []).append(t)
    return out


def whole_rung(prev, m, r, eta):
    """Whole-rung promotion: the top max(1, floor(len / eta)) of rung r's trials prev by (metric,
    trial), diverged never, as a sorted list."""
    if not prev:
        return []
    fin = sorted((m[t, r], t) for t in prev if math.isfinite(m[t, r]))
    return sorted(t for _, t in fin[:max(1, len(prev) // eta)])


def check_schedule(d):
    a, errs = d["attrs"], []
    mn, mx, eta = int(a["min_epochs"]), int(a["max_epochs"]), int(a["eta"])
    E = d["rung_epochs"]
    tpe = text(a.get("sampler", "")) == "tpe"
    for b in range(E.shape[0]):
        want = []
        e = mn * eta ** (0 if tpe else b)  # tpe + halving: every batch is a bracket of its own, the s_max one
        while e < mx:
            want.append(e)
            e *= eta
        want.append(mx)
        got = [int(x) for x in E[b] if x > 0]
        if got != want:
            errs.append("bracket %d: rung epochs %s, Hyperband's are %s" % (b, got, want))
    st, m = d["status"], d["select"]
    asha = text(a.get("promote", "rung")) == "asha"
    if asha:
        errs += check_asha(d, eta)
    for (b, j), trials in sorted(groups(d).items()) if not asha else ():
        if any(st[t, 0] == NOT_RUN for t in trials):
            errs.append("bracket %d group %d: not every trial ran rung 0" % (b, j))
        for r in range(1, E.shape[1]):
            prev = [t for t in trials if st[t, r - 1] != NOT_RUN]
            now = sorted(t for t in trials if st[t, r] != NOT_RUN)
            if E[b, r] == 0:
                if now:
                    errs.append("bracket %d has no rung %d but trials %s ran it" % (b, r, now))
                continue
            k = max(1, len(prev) // eta) if prev else 0
            want = whole_rung(prev, m, r - 1, eta)
            if now != want:
                errs.append("bracket %d group %d rung %d: trials %s, the top %d of rung %d are %s" % (b, j, r, now, k, r - 1, want))
    # a fresh run's predicted makespan: more than nothing, at most all the work (a dataflow's too:
    # review, it was 0)
    pm, tot = float(a.get("predicted_makespan", 0)), float(a.get("compute_total", 0))
    if not 0 < pm <= tot * (1 + 1e-9):
        errs.append("predicted_makespan %r outside (0, compute_total %r]" % (pm, tot))
    return errs


def asha_lists(trials, m, compute, eta, nrungs, why=None):
    """ASHA's rule in a fixed order, as docs/search.md states it, from a finished file: L_0 the
    bracket's trials by rung-0 compute, costliest first (ties by trial); once the first j of L_k are
    in, rung k has promoted floor(j / eta) of them (at the end, once all are: max(1, n // eta)), each
    time the best (finite metric, ties by trial) of the prefix's top ones not promoted yet; L_{k+1}
    lists them in the order promoted. why, if given, gets for each promoted (trial, k + 1) the prefix
    length j that promoted it (None: at the rung's close; bench/asha_schedule.py times promotions
    with it)."""
    key = lambda k: (lambda t: (not math.isfinite(m[t, k]), m[t, k] if math.isfinite(m[t, k]) else 0.0, t))
    L = [sorted(trials, key=lambda t: (-compute[t, 0], t))]
    for k in range(nrungs - 1):
        Lk, nxt, done = L[k], [], set()

        def promote(prefix, allowed, j):
            top = sorted(prefix, key=key(k))[:allowed]
            while len(done) < allowed:
                cand = [t for t in top if math.isfinite(m[t, k]) and t not in done]
                if not cand:
                    return
                done.add(cand[0])
                nxt.append(cand[0])
                if why is not None:
                    why[(cand[0], k + 1)] = j

        for j in range(1, len(Lk) + 1):
            promote(Lk[:j], j // eta, j)
        promote(Lk, max(1, len(Lk) // eta) if Lk else 0, None)
        L.append(nxt)
    return L


def check_asha(d, eta):
    """Every bracket's rungs hold exactly the trials asha_lists gives, and in some rung not the ones
    whole-rung promotion would (else the file could not tell the two rules apart)."""
    errs, st, m, E = [], d["status"], d["select"], d["rung_epochs"]
    differs = False
    for (b, _), trials in sorted(groups(d).items()):
        nr = int((E[b] > 0).sum())
        for k, want in enumerate(asha_lists(trials, m, d["compute"], eta, nr)):
            got = sorted(t for t in trials if st[t, k] != NOT_RUN)
            if got != sorted(want):
                errs.append("bracket %d rung %d (asha): trials %s, the rule gives %s" % (b, k, got, sorted(want)))
            if k > 0:  # whole-rung promotion of the same rung k - 1
                differs |= whole_rung([t for t in trials if st[t, k - 1] != NOT_RUN], m, k - 1, eta) != got
        if any(st[t, k] != NOT_RUN for t in trials for k in range(nr, st.shape[1])):
            errs.append("bracket %d: a trial ran beyond its bracket's rungs" % b)
    if not differs:
        errs.append("asha: every rung holds the trials whole-rung promotion gives: the check cannot tell the rules apart")
    return errs


def train_json(cmd, errs):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        errs.append("%s: rc %d %s" % (" ".join(cmd), res.returncode, res.stderr.strip()))
        return None
    return json.loads(res.stdout)


def same_bits(got, want):
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(got, want))


def exact(path, stage, test, flags):
    """Every (trial, rung) of a halving stage, or every (trial, repeat) of a sampled one, against
    `aesweep train --json` of the trial's values as the file records them."""
    d = read_stage(path, stage, test)
    errs = check_schedule(d) if d["halving"] else []
    st, ntr = d["status"], d["status"].shape[0]
    checked = 0
    for t in range(ntr):
        vals = []
        for p in d["params"]:
            vals += ["--" + p.replace("_", "-"), d["values"][p][t]]
        if not d["halving"]:  # [trial][repeat] at the stage's epochs
            for r in range(st.shape[1]):
                e = int(d["attrs"]["epochs"])
                cmd = [BIN, "train", "--json", "--stage", stage, *flags, "--epochs", str(e), "--repeat", str(r), *vals]
                js = train_json(cmd, errs)
                want = (float(d["test"][t, r]), float(d["train"][t, r]))
                if js and not same_bits((js["test_mse"], js["train_mse"]), want):
                    errs.append("trial %d repeat %d: file %r, `%s` gives %r" % (t, r, want, " ".join(cmd), js))
                checked += 1
            continue
        b, stop = int(d["bracket"][t]), int(d["stop"][t])
        for r in range(st.shape[1]):
            if r > stop:
                if st[t, r] != NOT_RUN or not math.isnan(d["test"][t, r]):
                    errs.append("trial %d rung %d: beyond its stop rung %d but status %d, metric %r" % (t, r, stop, st[t, r], d["test"][t, r]))
                continue
            if st[t, r] == NOT_RUN:
                errs.append("trial %d: rung %d not run, yet its stop rung is %d" % (t, r, stop))
                continue
            e = int(d["rung_epochs"][b, r])
            cmd = [BIN, "train", "--json", "--stage", stage, "--epochs", str(e), *flags, *vals]
            js = train_json(cmd, errs)
            want = (float(d["test"][t, r]), float(d["train"][t, r]))
            if js and not same_bits((js["test_mse"], js["train_mse"]), want):
                errs.append("trial %d rung %d (%d epochs): file test %r train %r, `%s` gives %r %r"
                            % (t, r, e, want[0], want[1], " ".join(cmd), js["test_mse"], js["train_mse"]))
            checked += 1
    for e in errs[:20]:
        print(e)
    print("exact: stage %s: %d results checked against `aesweep train`; %d problems" % (stage, checked, len(errs)))
    return 1 if errs or checked == 0 else 0


def curves(path, stage, test, flags):
    """A halving stage's learning curves (curve_points; one row per trial, its rungs' segments joined):
    at every rung epoch the trial reached, its curve equals its result bit for bit (test and train
    MSE); beyond its last epoch NaN, up to it finite (unless it diverged); and inside segments, where
    the curve is the only record (a point of a promoted trial's continuation, an interim report), it
    equals `aesweep train --epochs E` from scratch, at the middle point of every segment of trials
    0-2 and the best trial."""
    d = read_stage(path, stage, test)
    with h5py.File(path, "r") as f:
        cg = f[stage]["curves"]
        ep = [int(e) for e in cg["epoch"][()]]
        ct, cr = cg["test_mse_" + test][()], cg["train_mse"][()]
        best = int(f[stage].attrs["best_trial"])
    errs, checked, st = [], 0, d["status"]
    if ct.shape != (st.shape[0], len(ep)):
        return print("curves: stage %s: curves of shape %s, want (trials %d, points %d)" % (stage, ct.shape, st.shape[0], len(ep))) or 1
    for t in range(st.shape[0]):
        b, stop = int(d["bracket"][t]), int(d["stop"][t])
        E = [int(d["rung_epochs"][b, r]) for r in range(stop + 1)]
        ok = st[t, stop] == 0
        for i, e in enumerate(ep):
            fin = math.isfinite(ct[t, i]) and math.isfinite(cr[t, i])
            if e > E[-1] and (math.isfinite(ct[t, i]) or math.isfinite(cr[t, i])):
                errs.append("trial %d: curve at epoch %d beyond its last %d is %r" % (t, e, E[-1], ct[t, i]))
            elif e <= E[-1] and ok and not fin:
                errs.append("trial %d: curve at epoch %d (trained to %d, ok) is %r" % (t, e, E[-1], ct[t, i]))
        for r, e in enumerate(E):
            if e in ep and ok:
                i = ep.index(e)
                if not same_bits((ct[t, i], cr[t, i]), (d["test"][t, r], d["train"][t, r])):
                    errs.append("trial %d rung %d (%d epochs): curve %r %r, result %r %r" % (t, r, e, ct[t, i], cr[t, i], d["test"][t, r], d["train"][t, r]))
                checked += 1
        if t not in (0, 1, 2, best) or not ok:
            continue
        vals = []
        for p in d["params"]:
            vals += ["--" + p.replace("_", "-"), d["values"][p][t]]
        for lo, hi in zip([0] + E[:-1], E):
            inside = [e for e in ep if lo < e < hi]
            if not inside:
                continue
            e = inside[len(inside) // 2]
            cmd = [BIN, "train", "--json", "--stage", stage, "--epochs", str(e), *flags, *vals]
            js = train_json(cmd, errs)
            i = ep.index(e)
            if js and not same_bits((js["test_mse"], js["train_mse"]), (ct[t, i], cr[t, i])):
                errs.append("trial %d at epoch %d (inside %d..%d): curve %r %r, `%s` gives %r %r"
                            % (t, e, lo, hi, ct[t, i], cr[t, i], " ".join(cmd), js["test_mse"], js["train_mse"]))
            checked += 1
    for e in errs[:20]:
        print(e)
    print("curves: stage %s: %d curve points checked against results and `aesweep train`; %d problems" % (stage, checked, len(errs)))
    return 1 if errs or checked == 0 else 0


def trial_flag(spec, path, stage, test, trials):
    """`aesweep train --spec --stage --trial` against the file at every rung (halving) or repeat of a
    trial; a tpe stage's proposals are given as flags (the spec alone does not hold them)."""
    d = read_stage(path, stage, test)
    tpe = text(d["attrs"].get("sampler", "")) == "tpe"
    errs, checked = [], 0
    for t in trials or range(d["status"].shape[0]):
        base = [BIN, "train", "--spec", spec, "--stage", stage, "--trial", str(t), "--json"]
        for p in d["params"] if tpe else []:
            base += ["--" + p.replace("_", "-"), d["values"][p][t]]
        if d["halving"]:
            runs = [(r, ["--epochs", str(int(d["rung_epochs"][int(d["bracket"][t]), r]))]) for r in range(int(d["stop"][t]) + 1)]
        else:
            runs = [(r, ["--repeat", str(r)]) for r in range(d["status"].shape[1])]
        for r, extra in runs:
            js = train_json(base + extra, errs)
            want = (float(d["test"][t, r]), float(d["train"][t, r]))
            if js and not same_bits((js["test_mse_" + test], js["train_mse"]), want):
                errs.append("trial %d at %d: file %r, `%s` gives %r" % (t, r, want, " ".join(base + extra), js))
            checked += 1
    for e in errs[:20]:
        print(e)
    print("trial-flag: stage %s: %d results checked against `aesweep train --spec --trial`; %d problems" % (stage, checked, len(errs)))
    return 1 if errs or checked == 0 else 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "same":
        return same(argv[1], argv[2])
    if len(argv) >= 6 and argv[0] == "kill-at" and argv[5] == "--":
        return kill_at(argv[1], argv[2], argv[3], int(argv[4]), argv[6:])
    if len(argv) >= 5 and argv[0] == "interim-at" and argv[4] == "--":
        return kill_at(argv[1], argv[2], argv[3], 0, argv[5:], term=True, interim=True)
    if len(argv) >= 6 and argv[0] == "term-at" and argv[5] == "--":
        return kill_at(argv[1], argv[2], argv[3], int(argv[4]), argv[6:], term=True)
    if len(argv) >= 5 and argv[0] == "exact" and argv[4] == "--":
        return exact(argv[1], argv[2], argv[3], argv[5:])
    if len(argv) >= 5 and argv[0] == "curves" and argv[4] == "--":
        return curves(argv[1], argv[2], argv[3], argv[5:])
    if len(argv) >= 5 and argv[0] == "trial-flag":
        return trial_flag(argv[1], argv[2], argv[3], argv[4], [int(x) for x in argv[5:]])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
