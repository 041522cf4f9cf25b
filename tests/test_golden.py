"""Golden runs: a short run of every algorithm, pinned, so that a change of structure cannot move results.

Each preset trains a few dozen updates (discrete algorithms on ``matrix:two-step``, whose two steps
exercise the recurrence and the bootstrapped targets; continuous ones on ``continuous:two-peak``) through
``train_run``, the entry point of ``nqmix train``. The test compares every number of ``progress.csv``
and a checksum of every tensor of the learner's final checkpoint (sum and sum of squares) with
``tests/golden/runs.json``.

Across CPUs the last bits of float arithmetic differ and training amplifies them, so by default the
comparison has a tolerance: 1e-3 relative on every logged number, and 1e-2 of a tensor's norm on its sum
and relative on its sum of squares. Measured with torch and MKL forced to other rounding
(``ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE``), at the lengths below the worst deviations were 1.4e-4
on a logged number (NQMIX+mixer-actor) and 2.3e-3 of a tensor's norm (NQMIX+mono), on 2026-12-07 (the
continuous runs are kept to 3 rollouts: their noise clipping amplifies rounding within a few dozen
updates). NQMIX's sign rule turns a last-bit difference into a different step once a slope sits near
zero, so two presets are kept to one evaluation interval (``HORIZON``): measured on an AMD EPYC against
entries written on an Intel Xeon, NQMIX+4-steps moved by 3e-4 at 384 steps and 9e-2 at 768, NQMIX+mono by
1e-4 at 384 and 1e-3 at 768; with forced rounding, NQMIX+mono's final tensors used 64% of their
tolerance at 384 steps and 23% at 192 (``python benchmarks/golden_deviation.py`` prints the deviations on
the machine at hand). Those two entries were rewritten on the AMD EPYC, the others were written on the Intel
Xeon. ``NQMIX_GOLDEN_EXACT=1`` demands bit-for-bit equality, which holds only on the
CPU model that wrote an entry: to check a refactor, rewrite the file on the commit before it
(``NQMIX_GOLDEN_WRITE=1``), then run with ``NQMIX_GOLDEN_EXACT=1`` after it, on the same machine, and do not
commit the rewrite. ``NQMIX_GOLDEN_WRITE=1`` rewrites the file (only when results are meant to change: say
why in the commit).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from nqmix_core.config import RunConfig
from nqmix_core.registry import PRESETS
from nqmix_core.experiment import train_run

GOLDEN = Path(__file__).parent / "golden" / "runs.json"
EXACT = os.environ.get("NQMIX_GOLDEN_EXACT") == "1"
WRITE = os.environ.get("NQMIX_GOLDEN_WRITE") == "1"
ROW_TOL, TENSOR_TOL = 1e-3, 1e-2
HORIZON = {"nqmix-mono": 192, "nqmix-steps4": 192}
"""Environment steps of the presets whose runs amplify rounding (the module docstring); the others run 768."""


def golden_config(algo: str) -> RunConfig:
    continuous = PRESETS[algo].learner == "continuous-actor-critic"
    return RunConfig(algo=algo, env="continuous:two-peak" if continuous else "matrix:two-step", seed=3,
                     t_max=3 * 8 if continuous else HORIZON.get(algo, 96 * 2 * 4), n_envs=8,
                     test_interval=8 if continuous else 192, test_episodes=8,
                     checkpoint_interval=10**9, device="cpu", tensorboard=False, progress=False)


def fingerprint(folder: Path) -> dict:
    """The run's progress rows (numbers only) and a checksum of each learner tensor in its checkpoint."""
    rows = pd.read_csv(folder / "progress.csv").to_dict("records")
    learner = torch.load(folder / "checkpoint.pt", weights_only=True)["learner"]
    sums = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            v = value.double()
            sums[prefix] = [float(v.sum()), float((v * v).sum())]
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(f"{prefix}.{i}", item)
    walk("", learner)
    return {"rows": rows, "tensors": sums}


def deviation(a: float, b: float) -> float:
    """How far a logged number ``a`` sits from the file's ``b``: relative, with a floor for numbers near 0."""
    return abs(a - b) / (abs(b) + 1e-3)


def tensor_deviation(got: list[float], want: list[float]) -> float:
    """[sum, sum of squares] of a tensor against the file's: the worse of the two, in units of its norm."""
    norm = math.sqrt(want[1]) + 1e-9
    return max(abs(got[0] - want[0]) / norm, abs(got[1] - want[1]) / norm ** 2)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b if EXACT else deviation(a, b) <= ROW_TOL
    return a == b


def same_tensor(got: list[float], want: list[float]) -> bool:
    """[sum, sum of squares] of a tensor: the sum within TENSOR_TOL of the tensor's norm."""
    return got == want if EXACT else tensor_deviation(got, want) <= TENSOR_TOL


@pytest.mark.parametrize("algo", sorted(PRESETS))
def test_short_run_matches_the_golden_file(algo, tmp_path):
    got = fingerprint_of(algo, tmp_path)
    if WRITE:
        stored = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        GOLDEN.write_text(json.dumps({**stored, algo: got}, indent=1, sort_keys=True) + "\n")
        pytest.skip("golden file rewritten")
    expected = json.loads(GOLDEN.read_text())[algo]
    assert len(got["rows"]) == len(expected["rows"])
    for row, want in zip(got["rows"], expected["rows"]):
        assert row.keys() == want.keys()
        moved = {k: (row[k], want[k]) for k in want if not same(float(row[k]), float(want[k]))}
        assert not moved, f"{algo}: progress row at t_env={want['t_env']} moved: {moved}"
    assert got["tensors"].keys() == expected["tensors"].keys()
    moved = {k: (v, expected["tensors"][k]) for k, v in got["tensors"].items()
             if not same_tensor(v, expected["tensors"][k])}
    assert not moved, f"{algo}: final learner tensors moved: {list(moved)[:5]}"


def fingerprint_of(algo: str, tmp_path: Path) -> dict:
    torch.set_num_threads(1)
    train_run(golden_config(algo), tmp_path / algo)
    return fingerprint(tmp_path / algo)
