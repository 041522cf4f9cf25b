"""A sweep's grid at its edges (``nqmix_core.grid``): the smallest budget, the sentence for no grids, and
which run folders count as finished (the sweep skips those)."""
from __future__ import annotations

import json

import pytest

from nqmix_core import grid
from nqmix_core.errors import UserError

ENTRY = {"algos": ["qmix"], "seeds": [0]}


def test_a_budget_of_one_step_is_the_smallest_accepted():
    assert grid.expand([{**ENTRY, "envs": {"matrix:qtran": 1}}]) == [grid.Cell("qmix", "matrix:qtran", 0, 1)]
    assert grid.expand([{**ENTRY, "envs": {"matrix:qtran": 5000.0}}])[0].t_max == 5000  # a whole float counts
    with pytest.raises(UserError, match="the step budget of matrix:qtran is 0; give a positive whole number"):
        grid.expand([{**ENTRY, "envs": {"matrix:qtran": 0}}])


def test_no_grids_is_one_sentence_that_starts_with_a_capital():
    with pytest.raises(UserError) as error:
        grid.expand([])
    assert str(error.value) == ("The grid has no grids; list at least one under 'grids:' (see `nqmix sweep "
                                "--help`).")


@pytest.mark.parametrize("status, t_env, finished", [
    ("finished", 64, True),  # exactly the budget
    ("finished", 65, True),
    ("finished", 63, False),  # one step short: continued, not skipped
    ("running", 64, False),
    ("interrupted", 100, False),
    ("finished", True, False),  # a bool is not a step count
    ("finished", 64.0, False),
])
def test_a_run_is_finished_when_its_manifest_says_so_at_or_past_the_budget(tmp_path, status, t_env, finished):
    cell = grid.Cell("qmix", "matrix:qtran", 0, 64)
    cell.folder(tmp_path).mkdir(parents=True)
    (cell.folder(tmp_path) / "manifest.json").write_text(json.dumps({"status": status, "t_env": t_env}))
    assert grid.is_finished(cell, tmp_path) is finished


@pytest.mark.parametrize("text", [None, "{not json", "[1, 2]"])
def test_a_missing_or_unreadable_manifest_is_not_finished(tmp_path, text):
    cell = grid.Cell("qmix", "matrix:qtran", 0, 64)
    if text is not None:
        cell.folder(tmp_path).mkdir(parents=True)
        (cell.folder(tmp_path) / "manifest.json").write_text(text)
    assert grid.is_finished(cell, tmp_path) is False
