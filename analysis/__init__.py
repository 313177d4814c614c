"""aesweep post-hoc analysis: figures and tables of a study from its result file.

    import analysis
    df = analysis.load_runs("results/moons.h5")    # tidy: one row per cell x draw x repeat
    cells = analysis.load_cells("results/moons.h5") # one row per cell, with statistics
    curves = analysis.load_curves("results/moons.h5")  # learning curves, one row per epoch

report.py (the command), resultfile.py (reading the file), nnet.py (networks
rebuilt in numpy), doc.py (Markdown/HTML output), synth.py (synthetic files
for tests), tables.py (pandas tables).  See analysis/README.md.
"""

from .tables import load_cells, load_curves, load_runs  # noqa: E402,F401
