"""``nqmix student-edition --out DIR``: the notebooks as students get them.

The notebooks in ``notebooks/`` are the instructor edition: executed, with outputs, and with the
solutions in them. The student edition is a copy of every ``notebooks/0*.ipynb`` and of the teaching
guide (``notebooks/README.md``) in which

* every output and execution count is removed (and the saved widget state with them),
* every ``<details><summary>Solution</summary> … </details>`` block is removed from the Markdown cells,
* every region of a code cell from a ``# BEGIN SOLUTION`` line to its ``# END SOLUTION`` line becomes
  ``# YOUR CODE HERE`` and ``return None`` at the same indentation, so a lab's check cell reports
  "not yet" instead of failing (notebook 08),
* every region from a ``# BEGIN ANSWER`` line to its ``# END ANSWER`` line (the ``assert``s that check
  what an exercise or a "predict before you run" prompt should find) is left out,
* the test markers are left out: ``# NBVAL_…`` comment lines and ``nbval-…`` cell tags,

and the teaching guide is written without its instructor-only sections, the parts between
``<!-- BEGIN INSTRUCTOR ONLY -->`` and ``<!-- END INSTRUCTOR ONLY -->`` (what each notebook asserts
answers the notebooks' predictions).

The notebooks are found next to the package (the repository root is ``nqmix_core``'s parent), so the
command works from any folder. Nothing is written unless every notebook converts; the output folder
must be new or empty.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from nqmix_core.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
GUIDE = "README.md"
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
SOLUTION_REGION = re.compile(rf"^([ \t]*){BEGIN}[^\n]*\n.*?^[ \t]*{END}[^\n]*(?:\n|\Z)", re.M | re.S)
SOLUTION_DETAILS = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>.*?</details>[ \t]*\n?", re.S)
ANSWER_BEGIN, ANSWER_END = "# BEGIN ANSWER", "# END ANSWER"
ANSWER_REGION = re.compile(rf"^[ \t]*{ANSWER_BEGIN}[^\n]*\n.*?^[ \t]*{ANSWER_END}[^\n]*(?:\n|\Z)", re.M | re.S)
TEST_MARKER = re.compile(r"^[ \t]*# *NBVAL_\w*[^\n]*(?:\n|\Z)", re.M)
INSTRUCTOR_BEGIN, INSTRUCTOR_END = "<!-- BEGIN INSTRUCTOR ONLY -->", "<!-- END INSTRUCTOR ONLY -->"
INSTRUCTOR_ONLY = re.compile(rf"{INSTRUCTOR_BEGIN}.*?{INSTRUCTOR_END}[ \t]*\n?", re.S)


def blank_solutions(source: str) -> str:
    """Replace each ``# BEGIN SOLUTION`` … ``# END SOLUTION`` region by a blank body returning None."""
    return SOLUTION_REGION.sub(lambda m: f"{m[1]}# YOUR CODE HERE\n{m[1]}return None\n", source)


def remove_answers(source: str) -> str:
    """Leave out each ``# BEGIN ANSWER`` … ``# END ANSWER`` region, marker lines included."""
    return ANSWER_REGION.sub("", source)


def remove_test_markers(source: str) -> str:
    """Leave out the ``# NBVAL_CHECK_OUTPUT``-style lines: they tell the tests, not the reader, something."""
    return TEST_MARKER.sub("", source)


def student_guide(markdown: str) -> str:
    """The teaching guide without its instructor-only sections (``INSTRUCTOR_BEGIN`` … ``INSTRUCTOR_END``)."""
    if markdown.count(INSTRUCTOR_BEGIN) != markdown.count(INSTRUCTOR_END):
        raise UserError(f"{GUIDE} has '{INSTRUCTOR_BEGIN}' and '{INSTRUCTOR_END}' lines that do not pair up; "
                        f"close every instructor-only section and run the command again.")
    return re.sub(r"\n{3,}", "\n\n", INSTRUCTOR_ONLY.sub("", markdown))


def check_markers(source: str, name: str) -> None:
    """One-sentence UserError unless every solution and answer region of a code cell is closed."""
    for begin, end in ((BEGIN, END), (ANSWER_BEGIN, ANSWER_END)):
        if source.count(begin) != source.count(end):
            raise UserError(f"{name} has a code cell whose '{begin}' and '{end}' lines do not pair up; "
                            f"close every such region in the instructor notebook and run the command again.")


def remove_solution_details(markdown: str) -> str:
    """Drop every collapsible ``<details><summary>Solution</summary> … </details>`` block."""
    stripped = SOLUTION_DETAILS.sub("", markdown)
    return re.sub(r"\n{3,}", "\n\n", stripped).rstrip() if stripped != markdown else markdown


def student_notebook(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The student edition of one notebook (a new object; ``notebook`` is left as it was)."""
    notebook = nbformat.from_dict(notebook)  # a deep copy
    notebook.metadata.pop("widgets", None)  # the saved state of output widgets, gone with the outputs
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if any(tag.lower().startswith("nbval") for tag in tags):
            cell.metadata["tags"] = [tag for tag in tags if not tag.lower().startswith("nbval")]
        if cell.cell_type == "code":
            check_markers(cell.source, name)
            cell.source = remove_test_markers(remove_answers(blank_solutions(cell.source)))
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)  # timing metadata some front ends store
        elif cell.cell_type == "markdown":
            cell.source = remove_solution_details(cell.source)
    notebook.cells = [c for c in notebook.cells if c.cell_type != "markdown" or c.source.strip()]  # solution-only
    return notebook


def check_out_folder(out: Path, what: str = "the student edition") -> None:
    """One-sentence UserError unless ``out`` is a new or empty folder outside the instructor notebooks."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; give --out a new or empty folder for {what}.")
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"The folder {out} is not empty; give --out a new or empty folder, so that nothing "
                        f"in it is overwritten.")
    if out.resolve() == NOTEBOOK_DIR or NOTEBOOK_DIR in out.resolve().parents:
        raise UserError(f"{out} is inside the instructor notebooks ({NOTEBOOK_DIR}); give --out a folder "
                        f"outside it, so that {what} and the notebooks stay apart.")


def instructor_notebooks() -> list[Path]:
    """Every ``notebooks/0*.ipynb``, in order; a one-sentence UserError when there is none."""
    sources = sorted(NOTEBOOK_DIR.glob("0*.ipynb"))
    if not sources:
        raise UserError(f"No notebooks/0*.ipynb found in {NOTEBOOK_DIR}; run the command from a full checkout "
                        f"of the kit (pip install -e .).")
    return sources


def make_out_folder(out: Path) -> None:
    """Create ``out`` (checked by ``check_out_folder``); a one-sentence UserError when it cannot be made."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"Could not create the folder {out} ({error.strerror}); give --out a folder you can "
                        f"write to.") from None


def write_student_edition(out: str | Path) -> list[Path]:
    """Write the student edition of every ``notebooks/0*.ipynb`` and the teaching guide into ``out``.

    Returns the paths written. Bad input (``out`` a file, a non-empty folder, or inside ``notebooks/``;
    an instructor notebook whose solution markers do not pair up) is a one-sentence ``UserError``
    raised before anything is written.
    """
    out = Path(out)
    check_out_folder(out)
    editions = {path.name: student_notebook(nbformat.read(path, as_version=4), path.name)
                for path in instructor_notebooks()}
    guide = NOTEBOOK_DIR / GUIDE
    guide_text = student_guide(guide.read_text(encoding="utf-8")) if guide.is_file() else None
    make_out_folder(out)
    written = []
    for name, notebook in editions.items():
        nbformat.write(notebook, out / name)
        written.append(out / name)
    if guide_text is not None:
        (out / GUIDE).write_text(guide_text, encoding="utf-8")
        written.append(out / GUIDE)
    return written
