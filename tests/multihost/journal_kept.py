#!/usr/bin/python3
"""journal_kept.py JOURNAL OUT.h5 - every task record of an aesweep journal (a copy taken when a run
was cut off) is in the finished result file as it was journalled, not run again.

A record (src/sweep.c, payload_len) is doubles: stage, task, nslots, nmetrics, nparams, then
nslots x nmetrics metrics, nslots statuses, nslots training times in seconds.  A task run again
would have other times (wall-clock seconds never repeat to the bit), so each record's times must all
appear, bit for bit, in its stage's `seconds` dataset of OUT.h5.  Prints the number of records
checked; exit 1 with the first record that is missing, or if the journal has none.
"""
import struct
import sys
import zlib

import h5py
import numpy as np


def records(path):
    with open(path, "rb") as fh:
        buf = fh.read()
    magic = b"AESWEEP-JOURNAL-1\n"
    if not buf.startswith(magic):
        sys.exit(f"journal_kept: {path} is not a journal")
    (slen,) = struct.unpack_from("<I", buf, len(magic))
    pos = len(magic) + 4 + slen
    while pos + 8 <= len(buf):
        tag, nb = struct.unpack_from("<II", buf, pos)
        if tag != 0x52534541 or pos + 8 + nb + 4 > len(buf):
            break
        body = buf[pos + 8:pos + 8 + nb]
        if zlib.crc32(body) != struct.unpack_from("<I", buf, pos + 8 + nb)[0]:
            break  # a torn last record is not a task the journal kept
        yield np.frombuffer(body, dtype="<f8")
        pos += 8 + nb + 4


def main(jpath, out):
    n = 0
    with h5py.File(out, "r") as f:
        stages = f.attrs["stages"]
        stages = (stages.decode() if isinstance(stages, bytes) else str(stages)).split(",")
        secs = {s: f[s]["seconds"][()].ravel() for s in stages if s in f}
        for pl in records(jpath):
            k, task, ns, nm = int(pl[0]), int(pl[1]), int(pl[2]), int(pl[3])
            if ns == 0:  # an interim report (wire.h WIRE_TAG_INTERIM), not a task's result
                continue
            t = pl[5 + ns * nm + ns:5 + ns * nm + 2 * ns]
            have = secs.get(stages[k])
            if have is None or not np.isin(t, have).all():
                sys.exit(f"journal_kept: FAIL: task {task} of stage {stages[k]} in {jpath} has other times in {out}: it ran again")
            n += 1
    if n == 0:
        sys.exit(f"journal_kept: FAIL: no task record in {jpath}")
    print(n)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
