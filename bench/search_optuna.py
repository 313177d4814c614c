#!/usr/bin/python3
"""search_optuna.py - the peer of aesweep's adaptive search: Optuna + Hyperband + PyTorch (issue 16).

The loop a user would write instead of an aesweep search stage: Optuna (Debian's python3-optuna,
3.1) with its default TPE sampler and HyperbandPruner over the moons space of the reference study,
training the study's PyTorch model on one thread (bench/torch_train.py: the same nn.Sequential
autoencoder, PyTorch's default init, full-batch Adam, nn.MSELoss), in one process or in several
sharing one study through an SQLite file (Optuna's documented way to parallelise).

Space (jobs/moons-search.cfg's: jobs/moons.cfg's M1/M2 values, the learning rate continuous as the
issue asks, log-uniform as in the job):
    train_size in {1000, 3000, 5000, 7000, 9000}   (categorical)
    lr         log-uniform on [0.0005, 0.003]
    hidden     in {10, 15, 20, 40, 50}             (categorical)
    layers     in {1, 2, 3, 4}                     (categorical)
    bottleneck 1; epochs = the budget, up to --max-epochs (1000)
Data: moons(10000, 0.1) pool (the first train_size rows train) and a 10,000-point test set of
noise 0.1 (bench/torch_train.py's moons(), sklearn's placement), as the study's "clean" test set.
Every --report-every epochs (10) a trial reports its test MSE to the pruner (step = epoch;
HyperbandPruner(min_resource=--min-epochs, max_resource=--max-epochs, reduction_factor=--eta)).

Logged: every reported test MSE with the wall time since the study started and the CPU time of all
processes at that moment.  Result: per seed, the wall and CPU seconds at which the best test MSE
so far first fell below each threshold (0.0085, 0.0065), and the medians over the seeds (a seed
that never got there within --time-limit counts as infinitely slow; the median says "not reached"
when more than half did not).

    /usr/bin/python3 bench/search_optuna.py --procs 1 --seeds 1,2,3 --time-limit 300
    /usr/bin/python3 bench/search_optuna.py --procs 2 --seeds 1,2,3 --time-limit 300
    # on a shared machine: stop on CPU time, seeds in parallel, then the medians
    for s in 1 2 3; do python3 bench/search_optuna.py --procs 1 --seeds $s --cpu-limit 90 \
        --time-limit 3600 > np1_$s.jsonl & done; wait
    python3 bench/search_optuna.py --summarize np1_1.jsonl np1_2.jsonl np1_3.jsonl

Prints one JSON line per seed and a final {"summary": ...} line.  Not a test.
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time

import optuna
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import make_model, moons  # noqa: E402

SIZES = [1000, 3000, 5000, 7000, 9000]
HIDDEN = [10, 15, 20, 40, 50]
LAYERS = [1, 2, 3, 4]
THRESHOLDS = [0.0085, 0.0065]


def worker(a, seed, rank, storage, t0, logpath):
    """One process of the study: optimise until the deadline, log every reported value."""
    cpu0 = time.process_time()  # a forked process starts at 0; the parent (--procs 1) does not
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pool = torch.from_numpy(moons(10000, 0.1, 1))
    test = torch.from_numpy(moons(10000, 0.1, 2))
    crit = nn.MSELoss()
    deadline = t0 + a.time_limit
    log = open(logpath, "w")
    study = optuna.load_study(
        study_name="moons-search", storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed * 1000 + rank),
        pruner=optuna.pruners.HyperbandPruner(min_resource=a.min_epochs, max_resource=a.max_epochs,
                                              reduction_factor=a.eta))

    def over_cpu():
        return a.cpu_limit > 0 and time.process_time() - cpu0 > a.cpu_limit

    def stop_at_cpu_limit(study, trial):
        if over_cpu():
            study.stop()

    def objective(trial):
        n = trial.suggest_categorical("train_size", SIZES)
        lr = trial.suggest_float("lr", 0.0005, 0.003, log=True)
        hidden = trial.suggest_categorical("hidden", HIDDEN)
        layers = trial.suggest_categorical("layers", LAYERS)
        torch.manual_seed(seed * 100003 + trial.number)
        model = make_model(2, hidden, layers, 1)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        X = pool[:n]
        mse = math.inf
        for epoch in range(1, a.max_epochs + 1):
            opt.zero_grad()
            loss = crit(model(X), X)
            loss.backward()
            opt.step()
            if epoch % a.report_every and epoch != a.max_epochs:
                continue
            with torch.no_grad():
                mse = float(crit(model(test), test))
            log.write(json.dumps({"t": time.time() - t0, "cpu": time.process_time() - cpu0, "mse": mse,
                                  "trial": trial.number, "epoch": epoch}) + "\n")
            log.flush()
            trial.report(mse, epoch)
            if trial.should_prune() or time.time() > deadline or over_cpu():
                raise optuna.TrialPruned()
        return mse

    study.optimize(objective, timeout=max(1.0, deadline - time.time()), catch=(RuntimeError,),
                   callbacks=[stop_at_cpu_limit])
    log.close()


def crossings(events, nprocs):
    """Wall and total CPU seconds at which the best MSE so far first falls below each threshold."""
    # CPU of all processes at a moment: each process's own CPU at its last event before then
    events.sort(key=lambda e: e["t"])
    last_cpu = [0.0] * nprocs
    best, out = math.inf, {}
    for e in events:
        last_cpu[e["proc"]] = e["cpu"]
        best = min(best, e["mse"])
        for th in THRESHOLDS:
            if best < th and str(th) not in out:
                out[str(th)] = {"wall": e["t"], "cpu": sum(last_cpu), "trial": e["trial"], "epoch": e["epoch"],
                                "proc": e["proc"]}
    return out, best


def run_seed(a, seed):
    tmp = tempfile.mkdtemp(prefix="search_optuna_")
    storage = "sqlite:///" + os.path.join(tmp, "study.db")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="moons-search", storage=storage, direction="minimize")
    t0 = time.time()
    logs = [os.path.join(tmp, "log%d.jsonl" % r) for r in range(a.procs)]
    if a.procs == 1:
        worker(a, seed, 0, storage, t0, logs[0])
    else:
        ctx = mp.get_context("fork")
        ps = [ctx.Process(target=worker, args=(a, seed, r, storage, t0, logs[r])) for r in range(a.procs)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
    wall = time.time() - t0
    events = []
    for r, path in enumerate(logs):
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                e["proc"] = r
                events.append(e)
    cross, best = crossings(events, a.procs)
    study = optuna.load_study(study_name="moons-search", storage=storage)
    states = [t.state.name for t in study.trials]
    cpu = sum(max((e["cpu"] for e in events if e["proc"] == r), default=0.0) for r in range(a.procs))
    return {"seed": seed, "procs": a.procs, "seconds": wall, "cpu_seconds": cpu, "best_mse": best,
            "trials": len(states), "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED"),
            "reports": len(events), "crossings": cross}


def median_time(runs, th, key):
    """Median over seeds; a seed that did not get below th counts as infinite."""
    v = [r["crossings"][str(th)][key] if str(th) in r["crossings"] else math.inf for r in runs]
    m = statistics.median(v)
    return None if math.isinf(m) else m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, default=1, help="processes sharing the study (1 or 2)")
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated sampler seeds (>= 3 for a median)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="wall seconds per seed (a run stops then)")
    ap.add_argument("--min-epochs", type=int, default=10)
    ap.add_argument("--max-epochs", type=int, default=1000)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--report-every", type=int, default=10, help="epochs between reports to the pruner")
    ap.add_argument("--cpu-limit", type=float, default=0.0,
                    help="CPU seconds per process after which it stops (0: none); on a shared machine the "
                         "CPU time is the measure that does not depend on the other load")
    ap.add_argument("--summarize", nargs="+", metavar="JSONL",
                    help="no run: medians over the per-seed lines of these outputs (seeds run separately)")
    ap.add_argument("--from-logs", nargs="+", metavar="DIR",
                    help="no run: per-seed lines and medians from the event logs of runs (their temporary "
                         "folders search_optuna_*, log<proc>.jsonl), e.g. of runs still going or cut off")
    a = ap.parse_args()
    if a.from_logs:
        runs = []
        for d in a.from_logs:
            logs = sorted(f for f in os.listdir(d) if f.startswith("log") and f.endswith(".jsonl"))
            events = []
            for r, name in enumerate(logs):
                with open(os.path.join(d, name)) as f:
                    for line in f:
                        if line.endswith("\n"):  # a line being written is skipped
                            e = json.loads(line)
                            e["proc"] = r
                            events.append(e)
            cross, best = crossings(events, len(logs))
            cpu = sum(max((e["cpu"] for e in events if e["proc"] == r), default=0.0) for r in range(len(logs)))
            runs.append({"seed": d, "procs": len(logs), "seconds": max((e["t"] for e in events), default=0.0),
                         "cpu_seconds": cpu, "best_mse": best, "trials": 1 + max((e["trial"] for e in events), default=-1),
                         "reports": len(events), "crossings": cross, "from_logs": True})
            print(json.dumps(runs[-1]), flush=True)
        a.summarize, a.procs, seeds = None, sorted({r["procs"] for r in runs}), [r["seed"] for r in runs]
        if len(a.procs) != 1:
            print("search_optuna.py: the logs mix %s processes; give one kind at a time" % a.procs, file=sys.stderr)
            return 2
        a.procs = a.procs[0]
    elif a.summarize:
        runs = []
        for path in a.summarize:
            with open(path) as f:
                runs += [json.loads(line) for line in f if line.startswith('{"seed"')]
        procs = sorted({r["procs"] for r in runs})
        if len(procs) != 1:
            print("search_optuna.py: the outputs mix --procs %s; summarize one at a time" % procs, file=sys.stderr)
            return 2
        a.procs = procs[0]
        seeds = [r["seed"] for r in runs]
    else:
        seeds = [int(s) for s in a.seeds.split(",") if s]
        runs = []
        for seed in seeds:
            r = run_seed(a, seed)
            runs.append(r)
            print(json.dumps(r), flush=True)
    summary = {"procs": a.procs, "seeds": seeds, "time_limit": a.time_limit, "cpu_limit": a.cpu_limit,
               "optuna": optuna.__version__, "torch": torch.__version__,
               "best_mse": [r["best_mse"] for r in runs], "trials": [r["trials"] for r in runs],
               "cpu_seconds": [r["cpu_seconds"] for r in runs]}
    for th in THRESHOLDS:
        summary[str(th)] = {"median_wall": median_time(runs, th, "wall"), "median_cpu": median_time(runs, th, "cpu"),
                            "reached": sum(str(th) in r["crossings"] for r in runs)}
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
