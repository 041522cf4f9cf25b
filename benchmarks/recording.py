"""The command line every benchmark shares, and ``--save FILE``: keep what it printed, with a manifest.

    run_benchmark(parser, report, learner_options=True)   # adds --threads --set --save, parses, runs
    with recorded(args.save):
        print(...)          # goes to the terminal and, when a path is given, to FILE

FILE gets the printed text; FILE with ``.json`` appended gets the command, git commit, package
versions, host (CPU model, cores, torch threads, GPU), the load average before and after, and the wall
time, so a figure quoted from ``data/benchmarks/`` can be traced and measured again. A benchmark that stops
early keeps what it printed, marked as stopped; one that stops before printing anything (it refused its
input) writes nothing, so the same FILE can be given again.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import torch

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
def recorded(path: str | None, checkout: Path | None = None):
    """Print to the terminal and, with a ``path``, keep the text and a manifest; ``checkout`` names the git
    checkout whose code is measured when it is not the imported package's (``mutants.py``'s copies)."""
    if path is None:
        yield
        return
    started, load_before, clock = provenance(checkout=checkout), os.getloadavg(), time.perf_counter()
    tee = _Tee(sys.stdout)
    sys.stdout = tee
    status = "stopped before its end"  # what a benchmark that raised, or was interrupted, left: kept, and said so
    try:
        yield
        status = "finished"
    finally:
        sys.stdout = tee.stream
        if status == "finished" or tee.parts:  # one that stopped before printing (a refused input) leaves no file
            out = Path(path)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("".join(tee.parts) + ("" if status == "finished" else f"[{status}]\n"))
            write_json(out.with_name(out.name + ".json"),
                       {**started, "status": status, "load_average_before": load_before,
                        "load_average_after": os.getloadavg(), "wall_seconds": round(time.perf_counter() - clock, 1)})


def run_benchmark(parser: argparse.ArgumentParser, report: Callable[[argparse.Namespace], None],
                  learner_options: bool = False, argv: list[str] | None = None, checkout: Path | None = None) -> None:
    """Add the shared options (``--save``; with ``learner_options`` also ``--threads`` and ``--set``),
    parse ``argv`` (default: the command line), set torch's threads and run ``report`` under ``--save``
    (``checkout``: as ``recorded`` takes it)."""
    if learner_options:
        parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                            help="replace a preset hyper-parameter of every algorithm, as nqmix train --set does")
    parser.add_argument("--save", metavar="FILE", help="also write the output to FILE and a manifest to FILE.json")
    args = parser.parse_args(argv)
    if args.save and Path(args.save).exists():  # before the benchmark runs: a saved measurement is never replaced
        parser.error(f"{args.save} already holds a saved benchmark; give --save a new file name")
    if learner_options:
        torch.set_num_threads(args.threads)
    with recorded(args.save, checkout):
        report(args)
