"""How far this machine's golden runs sit from ``tests/golden/runs.json``, per preset.

    python benchmarks/golden_deviation.py                   # every preset
    python benchmarks/golden_deviation.py nqmix-mono qmix   # some

Runs each preset's golden run (``tests/test_golden.py``) and prints, for every logged number, the worst
relative deviation from the file, row by row, and for the final learner tensors the worst deviation of
their checksums, each with the share of the test's tolerance it uses. On the CPU model that wrote an entry
every figure is 0; elsewhere they show how much the last bits of float arithmetic grow over a run, which is
what chose ``HORIZON`` there. Nothing is asserted.
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_golden import GOLDEN, ROW_TOL, TENSOR_TOL, deviation, fingerprint_of, tensor_deviation  # noqa: E402

from nqmix_core.registry import PRESETS  # noqa: E402


def row_deviation(got: dict, want: dict) -> float:
    """Worst ``deviation`` over one progress row (the test's measure, NaNs skipped)."""
    pairs = [(float(got[k]), float(want[k])) for k in want]
    return max((deviation(a, b) for a, b in pairs if not (math.isnan(a) or math.isnan(b))), default=0.0)


def worst_tensor_deviation(got: dict, want: dict) -> float:
    """Worst ``tensor_deviation`` over the learner's tensors."""
    return max((tensor_deviation(value, want[name]) for name, value in got.items()), default=0.0)


def main(algos: list[str]) -> None:
    golden = json.loads(GOLDEN.read_text())
    print(f"{'preset':20s} {'steps':>5s}  worst row deviation per evaluation (share of {ROW_TOL:g})   "
          f"tensors (share of {TENSOR_TOL:g})")
    for algo in algos:
        got, want = fingerprint_of(algo, Path(tempfile.mkdtemp())), golden[algo]
        rows = [row_deviation(g, w) for g, w in zip(got["rows"], want["rows"])]
        tensors = worst_tensor_deviation(got["tensors"], want["tensors"])
        print(f"{algo:20s} {int(want['rows'][-1]['t_env']):5d}  " + " ".join(f"{d:.1e}" for d in rows)
              + f" ({max(rows) / ROW_TOL:.0%})   {tensors:.1e} ({tensors / TENSOR_TOL:.0%})", flush=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("algos", nargs="*", metavar="ALGO", help="presets to run (default: every preset)")
    chosen = parser.parse_args().algos
    if unknown := [a for a in chosen if a not in PRESETS]:
        parser.error(f"unknown preset(s) {', '.join(unknown)}; choose among {', '.join(sorted(PRESETS))}")
    main(chosen or sorted(PRESETS))
