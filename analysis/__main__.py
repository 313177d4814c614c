"""python3 -m analysis RESULT.h5 -o OUTDIR: the same as analysis/report.py."""
import sys

from analysis.report import main

sys.exit(main())
