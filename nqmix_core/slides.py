"""``nqmix slides --out DIR``: one reveal.js deck per class meeting, built from the instructor notebooks.

Every ``notebooks/0*.ipynb`` (01 to 08; the appendix A1 is not a class meeting) becomes
``DIR/<notebook>.slides.html`` through nbconvert's ``SlidesExporter``, the Jupyter convention: a cell's
``slideshow.slide_type`` metadata says where it goes. A cell that carries this metadata (JupyterLab's
property inspector, "Slide Type") keeps it; every other cell gets a slide type from the notebook's
structure, so that a notebook without any metadata still makes a deck:

| cell                                           | slide type | why                                          |
|------------------------------------------------|------------|----------------------------------------------|
| markdown that starts with a ``#``/``##`` heading | "slide"    | a section is a new slide, left to right      |
| markdown that starts with a ``###`` heading      | "subslide" | a subsection goes below its section          |
| other markdown right after a shown code cell     | "subslide" | the discussion of a result gets its own room |
| other markdown                                   | "-"        | text stays with the heading above it         |
| the code cell tagged ``parameters``              | "skip"     | the quick/full switches are no lecture       |
| a code cell with output                          | "subslide" | a figure or table gets a slide of its own, below the text that asks for it: predict, then move down |
| a code cell without output                       | "-"        | a function to write stays with its question  |

No code cell is skipped for being long: the notebooks' cells are short by design, and the decks scroll
(``reveal_scroll``) where a slide is taller than the screen.

The decks show the instructor edition's outputs (figures, tables, verdicts), but nothing that gives an
exercise away: solution blocks, solution code (blanked as in the student edition), answer checks and test
markers are left out. reveal.js is loaded from a CDN when a deck is opened; building needs no network.
The same refusals as ``nqmix student-edition``: ``--out`` must be a new or empty folder outside
``notebooks/``, and nothing is written unless every notebook converts.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from nqmix_core.errors import UserError
from nqmix_core.student_edition import (
    blank_solutions,
    check_markers,
    check_out_folder,
    instructor_notebooks,
    make_out_folder,
    remove_answers,
    remove_solution_details,
    remove_test_markers,
)

HEADING = re.compile(r"^\s*(#{1,6})\s+(.+)")


def derived_slide_type(cell, previous) -> str:
    """The slide type of a cell without ``slideshow`` metadata (the table in the module docstring)."""
    if cell.cell_type == "markdown":
        heading = HEADING.match(cell.source)
        if heading:
            return "slide" if len(heading[1]) <= 2 else "subslide"
        return "subslide" if previous is not None and previous.cell_type == "code" else "-"
    if cell.cell_type == "code":
        if "parameters" in cell.metadata.get("tags", []):
            return "skip"
        return "subslide" if cell.get("outputs") else "-"
    return "skip"  # raw cells


def notebook_title(notebook: nbformat.NotebookNode, name: str) -> str:
    """The text of the notebook's first heading, without Markdown marks (the file name if it has none)."""
    for cell in notebook.cells:
        heading = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
        if heading:
            return re.sub(r"[*_`$]", "", heading[2]).strip()
    return name


def lecture_notebook(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A copy of an instructor notebook, ready for the slides exporter: outputs kept, answers left out,
    and every cell with a slide type (its own, or derived)."""
    notebook = nbformat.from_dict(notebook)  # a deep copy
    previous = None
    for cell in notebook.cells:
        if cell.cell_type == "code":
            check_markers(cell.source, name)
            cell.source = remove_test_markers(remove_answers(blank_solutions(cell.source)))
        elif cell.cell_type == "markdown":
            cell.source = remove_solution_details(cell.source)
        slideshow = cell.metadata.setdefault("slideshow", {})
        slideshow.setdefault("slide_type", derived_slide_type(cell, previous))
        previous = previous if slideshow["slide_type"] == "skip" else cell  # the last cell on a slide
    notebook.cells = [c for c in notebook.cells if c.cell_type != "markdown" or c.source.strip()]
    notebook.metadata["title"] = notebook_title(notebook, name)
    return notebook


def deck(notebook: nbformat.NotebookNode, name: str) -> str:
    """The reveal.js HTML of one instructor notebook."""
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(reveal_scroll=True, reveal_transition="none")
    body, _ = exporter.from_notebook_node(lecture_notebook(notebook, name), resources={"metadata": {"name": name}})
    return body


def write_slides(out: str | Path) -> list[Path]:
    """Write ``<notebook>.slides.html`` for every ``notebooks/0*.ipynb`` into ``out``; returns the paths.

    Bad input (``out`` a file, a non-empty folder, or inside ``notebooks/``; a notebook whose markers do not
    pair up) is a one-sentence ``UserError`` raised before anything is written.
    """
    out = Path(out)
    check_out_folder(out, what="the slides")
    try:
        import nbconvert  # noqa: F401  (comes with jupyterlab)
    except ImportError:
        raise UserError("The slides need nbconvert, which comes with the notebooks' extras: "
                        "pip install -e '.[notebooks]', then run the command again.") from None
    decks = {path.stem: deck(nbformat.read(path, as_version=4), path.stem) for path in instructor_notebooks()}
    make_out_folder(out)
    written = []
    for stem, html in decks.items():
        path = out / f"{stem}.slides.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written
