"""Each notebook and its jupytext ``.py`` pair hold the same cells (``jupytext --sync`` keeps them so).

nbval checks the ``.ipynb``; readers and diffs often see the ``.py``. A cell edited in one file only
would make them disagree without any other test noticing.
"""
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def cells(path: Path) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in jupytext.read(path).cells]


def test_every_notebook_has_a_pair():
    assert len(NOTEBOOKS) >= 6
    assert all(path.with_suffix(".py").is_file() for path in NOTEBOOKS)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_and_py_file_hold_the_same_cells(notebook: Path):
    assert cells(notebook) == cells(notebook.with_suffix(".py")), f"{notebook.name} and its .py differ: jupytext --sync {notebook.name} (or jupytext --to ipynb --update on the .py, which keeps the outputs)"
