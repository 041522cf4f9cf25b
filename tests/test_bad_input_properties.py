"""Property-based bad input (issue 20): generated sweep files and ``--set`` strings never end in a traceback.

Hypothesis writes grid files from a vocabulary of right and wrong pieces (names, numbers, lists, maps, text),
and ``--set`` items from field names and value texts. For each, ``nqmix sweep FILE --check`` (the same checks
a real sweep makes before it starts anything, including every cell's `nqmix train` command with its
``--set`` values) must exit 0, or exit 2 with one line on stderr; never print a traceback, and never
change the run folder the sweep is pointed at.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nqmix_core import cli  # noqa: E402
from nqmix_core.config import AlgoConfig  # noqa: E402
from dataclasses import fields  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = st.sampled_from(["qmix", "vdn", "nqmix", "coma", "qmixx", "", "nqmix-cont", "QMIX"])
ENVS = st.sampled_from(["matrix:qtran", "matrix:two-step", "matrix:nope", "qtran", "continuous:two-peak", ":", "smac:"])
NUMBERS = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans())
SCALARS = st.one_of(NUMBERS, st.text(max_size=8), st.none(), NAMES, ENVS)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)
FIELD_NAMES = st.sampled_from([f.name for f in fields(AlgoConfig)] + ["lr", "batch-size", ""])
SET_TEXT = st.one_of(st.builds(lambda n, v: f"{n}={v}", FIELD_NAMES,
                               st.one_of(st.sampled_from(["5e3", "1e13", "-1", "nan", "inf", "true", "0", "2.5",
                                                          "qmix", "", "1e400"]), st.integers(-10, 10**5).map(str))),
                     st.text(max_size=12))
GRID = st.fixed_dictionaries({}, optional={
    "algos": st.one_of(st.lists(NAMES, max_size=3), VALUES),
    "envs": st.one_of(st.dictionaries(ENVS, st.one_of(st.integers(-3, 64), VALUES), max_size=2), VALUES),
    "seeds": st.one_of(st.lists(st.one_of(st.integers(-2, 4), NUMBERS, st.text(max_size=3)), max_size=3), VALUES),
})
TRAIN = st.one_of(st.none(), VALUES, st.fixed_dictionaries({}, optional={
    "set": st.one_of(st.lists(SET_TEXT, max_size=3), VALUES),
    "device": st.sampled_from(["cpu", "mps", "tpu", "cuda:9", ""]),
    "test-interval": st.one_of(st.integers(-2, 64), VALUES),
    "reward-scale": st.one_of(st.floats(allow_nan=True), VALUES),
    "seed": st.integers(0, 3),
}))
SPECS = st.one_of(VALUES, st.fixed_dictionaries({"grids": st.one_of(st.lists(GRID, max_size=2), VALUES)},
                                                optional={"train": TRAIN}))


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    """A sweep folder holding one finished run (matrix:qtran, qmix, seed 0, 16 steps)."""
    root = tmp_path_factory.mktemp("prop")
    run = root / "sweep" / "matrix-qtran" / "qmix" / "seed0"
    assert cli.main(["train", "--algo", "qmix", "--env", "matrix:qtran", "--t-max", "16", "--test-interval", "16",
                     "--test-episodes", "2", "--device", "cpu", "--no-progress", "--no-tensorboard",
                     "--out", str(run)]) == 0
    return root / "sweep"


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(folder.rglob("*"))}


def check_sweep_file(text: str, folder: Path, tmp: Path, capsys) -> None:
    grid = tmp / "grid.yaml"
    grid.write_text(text)
    before = digest(folder)
    code = cli.main(["sweep", str(grid), "--out", str(folder), "--check", "--no-progress"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), (code, text, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("nqmix: "), (text, err)
    assert digest(folder) == before
    hypothesis.event(f"exit {code}")


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=SPECS)
def test_generated_sweep_files_end_in_exit_0_or_one_sentence(spec, sweep_folder, tmp_path_factory, capsys):
    check_sweep_file(yaml.safe_dump(spec), sweep_folder, tmp_path_factory.mktemp("grid"), capsys)


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(SET_TEXT, min_size=1, max_size=3))
def test_generated_set_values_end_in_exit_0_or_one_sentence(items, sweep_folder, tmp_path_factory, capsys):
    spec = {"grids": [{"algos": ["qmix"], "envs": {"matrix:qtran": 16}, "seeds": [0, 1]}], "train": {"set": items}}
    check_sweep_file(yaml.safe_dump(spec), sweep_folder, tmp_path_factory.mktemp("grid"), capsys)


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40))
def test_any_text_as_a_sweep_file_ends_in_one_sentence(text, sweep_folder, tmp_path_factory, capsys):
    check_sweep_file(text, sweep_folder, tmp_path_factory.mktemp("grid"), capsys)
