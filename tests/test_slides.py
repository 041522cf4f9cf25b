"""The slides (``nqmix slides --out DIR``): one reveal.js deck per notebook, from its slide structure.

* the command writes ``<notebook>.slides.html`` for every ``notebooks/0*.ipynb``, each with several slides,
  the notebook's title and its outputs, and nothing that gives an exercise away;
* a cell's own ``slideshow`` metadata wins; without it, the slide type follows the notebook's headings;
* bad ``--out`` folders are refused with one sentence, changing nothing (``tests/test_student_edition.py``
  checks both commands' ``--out`` in one test).
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest

from nqmix_core.cli import main
from nqmix_core.slides import deck, lecture_notebook, notebook_title

pytest.importorskip("nbconvert")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("slides") / "decks"
    assert main(["slides", "--out", str(out)]) == 0
    return out


def test_one_deck_per_notebook(decks):
    assert len(NOTEBOOKS) >= 8
    assert sorted(p.name for p in decks.iterdir()) == sorted(f"{p.stem}.slides.html" for p in NOTEBOOKS)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_deck_has_slides_the_title_and_the_outputs(decks, notebook):
    page = (decks / f"{notebook.stem}.slides.html").read_text(encoding="utf-8")
    instructor = nbformat.read(notebook, as_version=4)
    title = notebook_title(instructor, notebook.stem)
    assert title.startswith(notebook.stem[:2]), title  # the notebook's own heading, "01 · Where ..."
    assert text_of(re.search(r"<title>(.*?)</title>", page, re.S)[1]).strip() == f"{title} slides"
    assert title in text_of(re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)[1])  # the first slide's heading
    headings = sum(bool(re.match(r"\s*#{1,2}\s", c.source)) for c in instructor.cells if c.cell_type == "markdown")
    assert page.count("<section") >= max(5, headings)  # every section of the notebook is a slide
    assert "reveal.js" in page and "Reveal.initialize" in page
    if any(o.get("data", {}).get("image/png") for c in instructor.cells if c.cell_type == "code"
           for o in c.get("outputs", [])):
        assert "data:image/png;base64" in page  # the instructor edition's figures are on the slides
    for leak in ("# BEGIN SOLUTION", "# BEGIN ANSWER", "# NBVAL_", "<summary>Solution"):
        assert leak not in page, leak


def test_the_lab_deck_shows_no_solution_code(decks):
    page = text_of((decks / "08_lab_write_nqmix.slides.html").read_text(encoding="utf-8"))
    assert "YOUR CODE HERE" in page
    for line in ("torch.autograd.grad(q_tot.sum(), qs)", "next_v = weighted.sum(-1)", "stats.t.ppf(0.975, dof)"):
        assert line not in page, line


def _cell(kind: str, source: str, **extra):
    cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
    for key, value in extra.items():
        cell[key] = value
    return cell


def test_slide_types_follow_the_headings_unless_a_cell_has_its_own():
    shown = [nbformat.v4.new_output("stream", text="a table\n")]
    notebook = nbformat.v4.new_notebook(cells=[
        _cell("md", "# 09 · A title\n\nGoals."),
        _cell("code", "FULL_RUN = False", metadata={"tags": ["parameters"]}),
        _cell("md", "Some words under the title."),
        _cell("md", "## 1 · A section"),
        _cell("code", "def f():\n    return 1"),
        _cell("code", "print('a table')", outputs=shown),
        _cell("md", "What the table shows."),
        _cell("md", "### A subsection"),
        _cell("md", "## Notes for me only", metadata={"slideshow": {"slide_type": "skip"}}),
        _cell("code", "print('kept')", outputs=shown, metadata={"slideshow": {"slide_type": "fragment"}}),
    ])
    types = [c.metadata["slideshow"]["slide_type"] for c in lecture_notebook(notebook, "09").cells]
    assert types == ["slide", "skip", "-", "slide", "-", "subslide", "subslide", "subslide", "skip", "fragment"]
    page = deck(notebook, "09")
    assert "Notes for me only" not in page and "FULL_RUN" not in page  # skipped
    assert "A section" in page and "What the table shows." in page and "kept" in page


def test_answers_and_markers_are_left_out_but_outputs_stay():
    cell = _cell("code", "# NBVAL_CHECK_OUTPUT\nprint(3)\n# BEGIN ANSWER\nassert 3 == 3  # the answer\n# END ANSWER\n",
                 outputs=[nbformat.v4.new_output("stream", text="3\n")])
    notebook = nbformat.v4.new_notebook(cells=[_cell("md", "# T\n<details><summary>Solution</summary>\nX.\n</details>"),
                                               cell])
    lecture = lecture_notebook(notebook, "t")
    assert lecture.cells[1].source == "print(3)\n" and lecture.cells[1].outputs[0]["text"] == "3\n"
    assert "Solution" not in lecture.cells[0].source and lecture.metadata["title"] == "T"
