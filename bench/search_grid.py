#!/usr/bin/python3
"""search_grid.py - a Hyperband search against the full grid of its space (issue 16, bench/search.sh).

    search_grid.py GRID.h5 [--grid-cpu S] [--grid-compute FLOP] HB.h5[:STAGE[:CPU]] ...

GRID.h5: jobs/moons-search-grid.cfg's result (stage "grid", every cell to max_epochs). Each HB file is
a search stage (default stage "grid" for Hyperband over the grid's own cells, else give it) with the
CPU seconds its run took. Prints, per search: its best test MSE against the grid's best (the gap in %),
its share of the grid's compute (the files' `compute_total`, plan_task_cost's FLOP model, and the
measured CPU seconds when given), and the trials it trained to max_epochs. --grid-compute gives the
grid's predicted FLOP (`aesweep validate`'s cost) for a grid file without `compute_total`. For Hyperband over the
grid's cells (same stage name, so the same seeds), every trial that reached max_epochs must equal its
grid cell bit for bit: checked, and a mismatch is an error (exit 1). Not a test.
"""
import math
import sys

import h5py
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def grid_cube(path):
    with h5py.File(path, "r") as f:
        g = f["grid"]
        ds = g[text(g.attrs.get("select_metric", "test_mse_clean"))]
        cube = ds[()]
        dims = [d[0].name.split("/")[-1] for d in ds.dims]
        coords = {d: g[d][()] for d in dims}
        return dict(cube=cube, dims=dims, coords=coords, best=float(np.nanmin(cube)),
                    compute=float(g.attrs.get("compute_total", math.nan)), metric=ds.name.split("/")[-1])


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    grid_cpu = math.nan
    if "--grid-cpu" in argv:
        i = argv.index("--grid-cpu")
        grid_cpu = float(argv[i + 1])
        del argv[i:i + 2]
    grid_compute = math.nan
    if "--grid-compute" in argv:  # a grid file written before grid stages had compute_total
        i = argv.index("--grid-compute")
        grid_compute = float(argv[i + 1])
        del argv[i:i + 2]
    G = grid_cube(argv[0])
    if not math.isfinite(G["compute"]):
        G["compute"] = grid_compute
    print("grid: %d cells, best %s %.6g, compute %.4g FLOP, %.1f CPU s" % (
        G["cube"].size, G["metric"], G["best"], G["compute"], grid_cpu))
    print("%-28s %10s %8s %12s %10s %8s %10s" % ("search", "best", "gap", "compute", "CPU s", "trials", "at max"))
    bad = 0
    for spec in argv[1:]:
        parts = spec.split(":")
        path, stage = parts[0], parts[1] if len(parts) > 1 and parts[1] else "grid"
        cpu = float(parts[2]) if len(parts) > 2 else math.nan
        with h5py.File(path, "r") as f:
            g = f[stage]
            m = g[G["metric"]][()]
            st = g["status"][()]
            E = g["rung_epochs"][()]
            br = g["trial_bracket"][()]
            stop = g["stop_rung"][()]
            mx = int(g.attrs["max_epochs"])
            best = float(g.attrs["best_value"])
            compute = float(g.attrs.get("compute_total", math.nan))
            ntr = m.shape[0]
            at_max = [t for t in range(ntr) if E[br[t], stop[t]] == mx and st[t, stop[t]] == 0]
            checked = 0
            if stage == "grid":  # Hyperband over the grid's cells: the same seeds, so the same numbers
                for t in at_max:
                    idx = []
                    for d in G["dims"]:
                        if d in ("draw", "repeat"):
                            idx.append(0)
                            continue
                        v = g[d][t]
                        hits = np.flatnonzero(G["coords"][d] == v)
                        idx.append(int(hits[0]) if len(hits) else -1)
                    if min(idx) < 0:
                        print("trial %d: its values are not a grid cell" % t)
                        bad += 1
                        continue
                    want, got = G["cube"][tuple(idx)], m[t, stop[t]]
                    if want.tobytes() != np.float64(got).tobytes():
                        print("trial %d (cell %s): %r at %d epochs, the grid's cell has %r" % (t, idx, got, mx, want))
                        bad += 1
                    checked += 1
        name = "%s:%s" % (path.split("/")[-1], stage)
        print("%-28s %10.6g %+7.2f%% %11.1f%% %10s %8d %10d" % (
            name, best, 100 * (best / G["best"] - 1), 100 * compute / G["compute"],
            "%.1f (%.1f%%)" % (cpu, 100 * cpu / grid_cpu) if math.isfinite(cpu) else "-", ntr, len(at_max)))
        if checked:
            print("  %d trials at %d epochs equal their grid cells bit for bit: %s" % (checked, mx, "yes" if not bad else "NO"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
