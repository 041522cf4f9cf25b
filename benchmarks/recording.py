"""``--save FILE``: keep what a benchmark printed, with a manifest saying how it was made.

    with recorded(args.save):
        print(...)          # goes to the terminal and, when a path is given, to FILE

FILE gets the printed text; FILE with ``.json`` appended gets the command, git commit, package
versions, host (CPU model, cores, torch threads, GPU), the load average before and after, and the wall
time, so a figure quoted from ``data/benchmarks/`` can be traced and measured again.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from nqmix_core.experiment_io import provenance, write_json


class _Tee:
    """A stdout that also appends everything to a list."""

    def __init__(self, stream) -> None:
        self.stream, self.parts = stream, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def recorded(path: str | None):
    if path is None:
        yield
        return
    started, load_before, clock = provenance(), os.getloadavg(), time.perf_counter()
    tee = _Tee(sys.stdout)
    sys.stdout = tee
    try:
        yield
    finally:
        sys.stdout = tee.stream
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(tee.parts))
        write_json(out.with_name(out.name + ".json"),
                   {**started, "load_average_before": load_before, "load_average_after": os.getloadavg(),
                    "wall_seconds": round(time.perf_counter() - clock, 1)})
