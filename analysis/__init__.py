"""aesweep post-hoc analysis: figures and tables of a study from its result file.

report.py (the command), resultfile.py (reading the file), nnet.py (networks
rebuilt in numpy), doc.py (Markdown/HTML output), synth.py (synthetic files
for tests).  See analysis/README.md.
"""
