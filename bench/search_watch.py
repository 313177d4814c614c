#!/usr/bin/python3
"""search_watch.py - the anytime log of an `aesweep run` of a search stage (issue 16, bench/search.sh).

    search_watch.py --label random --seed 1 [--stage search] [--metric 0] -- mpirun -np 2 aesweep run S -o OUT.h5

Runs the command and watches its journal (OUT.h5.journal, include/aesweep/journal.h): every record of
the stage is one (trial, rung) result, or, when the stage records learning curves (curve_points), an
interim report: a curve point mid-rung that was the best so far when rank 0 took it (wire.h
WIRE_TAG_INTERIM; Optuna's intermediate values, which its side counts too). Either is known to the
user the moment rank 0 journals it (what `aesweep status` shows). Each new record is logged with the wall time since the start and the CPU
time of every rank of the run at that moment (utime + stime from /proc, summed; a rank's last value
once it is gone), the same way bench/search_optuna.py logs Optuna's reports. The journal is read
incrementally every 20 ms, so a time is late by at most that, never early; results journaled and
deleted between two reads (the run's last ones) count at the run's end.

Prints one JSON line in search_optuna.py's shape (seed, procs, seconds, cpu_seconds, best_mse,
crossings of 0.0085 and 0.0065 with their wall and CPU seconds), so `search_optuna.py --summarize`
takes it; the best of the final file (its metric over every trained (trial, rung) and every curve
point) is checked against the log's. Not a test.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import time

import h5py
import numpy as np

THRESHOLDS = [0.0085, 0.0065]
TICK = os.sysconf("SC_CLK_TCK")


class Journal:
    """Incremental reader of the records of a journal."""

    def __init__(self, path):
        self.path, self.pos, self.buf = path, None, b""

    def poll(self):
        """[(stage, task, payload doubles)] of the records added since the last call."""
        try:
            with open(self.path, "rb") as f:
                if self.pos is None:
                    head = f.read(22)
                    if len(head) < 22 or not head.startswith(b"AESWEEP-JOURNAL-1\n"):
                        return []
                    self.pos = 22 + struct.unpack_from("<I", head, 18)[0]
                f.seek(self.pos + len(self.buf))
                self.buf += f.read()
        except FileNotFoundError:
            return []
        out, p = [], 0
        while p + 8 <= len(self.buf):
            magic, n = struct.unpack_from("<II", self.buf, p)
            if magic != 0x52534541 or p + 12 + n > len(self.buf):
                break
            rec = np.frombuffer(self.buf, dtype="<f8", count=n // 8, offset=p + 8)
            out.append((int(rec[0]), int(rec[1]), rec))
            p += 12 + n
        self.pos += p
        self.buf = self.buf[p:]
        return out


def rank_cpu(sid, last):
    """CPU seconds of every aesweep process of session sid; last keeps the value of those gone."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.getsid(int(d)) != sid:
                continue
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        if name != "aesweep":
            continue
        fields = st[st.rindex(")") + 2:].split()
        last[int(d)] = (int(fields[11]) + int(fields[12])) / TICK
    return sum(last.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--label", required=True, help="sampler / schedule name for the JSON line")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--stage", default="search")
    ap.add_argument("--metric", type=int, default=0, help="index of the metric in a record (0: the first test set's MSE; "
                    "with curves, the stage's ranking metric: rank 0 journals the reports that are bests of that one)")
    ap.add_argument("--log", help="write every event as a JSON line here")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    out = cmd[cmd.index("-o") + 1]
    procs = int(cmd[cmd.index("-np") + 1]) if "-np" in cmd else 1
    j = Journal(out + ".journal")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, start_new_session=True)
    last, events, stage_idx = {}, [], None
    log = open(a.log, "w") if a.log else None
    while True:
        done = p.poll() is not None
        recs = j.poll()
        cpu = rank_cpu(p.pid, last)
        t = time.monotonic() - t0
        for s, task, rec in recs:
            # a result record [stage, task, nslots >= 1, nmetrics, nparams, metrics...], or an interim
            # report [stage, task, 0, epoch, n, curve metrics...] (wire.h): the metric is at 5 + metric
            # in both (the curve metrics are the first metrics: each test set's MSE, then train_mse)
            nslots = int(rec[2])
            nmetrics = int(rec[3]) if nslots else int(rec[4])
            if stage_idx is None:
                stage_idx = s  # the bench's specs have the search stage first
            if s != stage_idx or a.metric >= nmetrics or len(rec) <= 5 + a.metric:
                continue
            e = {"t": t, "cpu": cpu, "mse": float(rec[5 + a.metric]), "task": task,
                 "interim_epoch": int(rec[3]) if not nslots else None}
            events.append(e)
            if log:
                log.write(json.dumps(e) + "\n")
        if done:
            break
        time.sleep(0.02)
    wall, cpu = time.monotonic() - t0, sum(last.values())
    if p.returncode != 0:
        print("search_watch: %s exited %d" % (" ".join(cmd), p.returncode), file=sys.stderr)
        return 1
    with h5py.File(out, "r") as f:
        g = f[a.stage]
        metric = [k for k in g if k.startswith("test_mse_")][0] if a.metric == 0 else None
        m = g[metric][()]
        file_best = float(np.nanmin(m)) if np.isfinite(m).any() else math.inf
        if "curves" in g and metric:  # the interim reports' points are in the trials' curves
            c = g["curves"][metric][()]
            if np.isfinite(c).any():
                file_best = min(file_best, float(np.nanmin(c)))
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in g.attrs.items()
                 if k in ("idle_share", "compute_total", "best_trial", "best_value", "n_trials")}
        segments = int(np.sum(g["status"][()] != 3))
    best, cross = math.inf, {}
    for e in events:
        best = min(best, e["mse"]) if math.isfinite(e["mse"]) else best
        for th in THRESHOLDS:
            if best < th and str(th) not in cross:
                cross[str(th)] = {"wall": e["t"], "cpu": e["cpu"], "task": e["task"]}
    if file_best < best:  # results the last read missed: known at the end
        best = file_best
        for th in THRESHOLDS:
            if best < th and str(th) not in cross:
                cross[str(th)] = {"wall": wall, "cpu": cpu, "task": -1}
    print(json.dumps({"seed": a.seed, "procs": procs, "engine": "aesweep", "sampler": a.label, "seconds": wall,
                      "cpu_seconds": cpu, "best_mse": best, "trials": attrs.get("n_trials", -1), "segments": segments, "journaled_seen": len(events),
                      "interim_seen": sum(1 for e in events if e["interim_epoch"] is not None),
                      "stage": attrs, "crossings": cross}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
