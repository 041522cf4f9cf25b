"""``nqmix student-edition --out DIR``: the notebooks as students get them.

The notebooks in ``notebooks/`` are the instructor edition: executed, with outputs, and with the
solutions in them. The student edition is a copy of every ``notebooks/0*.ipynb`` and of the teaching
guide (``notebooks/README.md``) in which

* every output and execution count is removed (and the saved widget state with them),
* every ``<details><summary>Solution</summary> … </details>`` block is removed from the Markdown cells,
* every region of a code cell from a ``# BEGIN SOLUTION`` line to its ``# END SOLUTION`` line becomes
  ``# YOUR CODE HERE`` and ``return None`` at the same indentation, so a lab's check cell reports
  "not yet" instead of failing (notebook 08).

The notebooks are found next to the package (the repository root is ``nqmix_core``'s parent), so the
command works from any folder. Nothing is written unless every notebook converts; the output folder
must be new or empty.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from nqmix_core.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
GUIDE = "README.md"
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
SOLUTION_REGION = re.compile(rf"^([ \t]*){BEGIN}[^\n]*\n.*?^[ \t]*{END}[^\n]*(?:\n|\Z)", re.M | re.S)
SOLUTION_DETAILS = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>.*?</details>[ \t]*\n?", re.S)


def blank_solutions(source: str) -> str:
    """Replace each ``# BEGIN SOLUTION`` … ``# END SOLUTION`` region by a blank body returning None."""
    return SOLUTION_REGION.sub(lambda m: f"{m[1]}# YOUR CODE HERE\n{m[1]}return None\n", source)


def remove_solution_details(markdown: str) -> str:
    """Drop every collapsible ``<details><summary>Solution</summary> … </details>`` block."""
    stripped = SOLUTION_DETAILS.sub("", markdown)
    return re.sub(r"\n{3,}", "\n\n", stripped).rstrip() if stripped != markdown else markdown


def student_notebook(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The student edition of one notebook (a new object; ``notebook`` is left as it was)."""
    notebook = nbformat.from_dict(notebook)  # a deep copy
    notebook.metadata.pop("widgets", None)  # the saved state of output widgets, gone with the outputs
    for cell in notebook.cells:
        if cell.cell_type == "code":
            if cell.source.count(BEGIN) != cell.source.count(END):
                raise UserError(f"{name} has a code cell whose '{BEGIN}' and '{END}' lines do not pair up; "
                                f"close every solution region in the instructor notebook and run the command again.")
            cell.source = blank_solutions(cell.source)
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)  # timing metadata some front ends store
        elif cell.cell_type == "markdown":
            cell.source = remove_solution_details(cell.source)
    notebook.cells = [c for c in notebook.cells if c.cell_type != "markdown" or c.source.strip()]  # solution-only
    return notebook


def check_out_folder(out: Path) -> None:
    """One-sentence UserError unless ``out`` is a new or empty folder outside the instructor notebooks."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; give --out a new or empty folder for the student edition.")
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"The folder {out} is not empty; give --out a new or empty folder, so that nothing "
                        f"in it is overwritten.")
    if out.resolve() == NOTEBOOK_DIR or NOTEBOOK_DIR in out.resolve().parents:
        raise UserError(f"{out} is inside the instructor notebooks ({NOTEBOOK_DIR}); give --out a folder "
                        f"outside it, so the two editions stay apart.")


def write_student_edition(out: str | Path) -> list[Path]:
    """Write the student edition of every ``notebooks/0*.ipynb`` and the teaching guide into ``out``.

    Returns the paths written. Bad input (``out`` a file, a non-empty folder, or inside ``notebooks/``;
    an instructor notebook whose solution markers do not pair up) is a one-sentence ``UserError``
    raised before anything is written.
    """
    out = Path(out)
    check_out_folder(out)
    sources = sorted(NOTEBOOK_DIR.glob("0*.ipynb"))
    if not sources:
        raise UserError(f"No notebooks/0*.ipynb found in {NOTEBOOK_DIR}; run the command from a full checkout "
                        f"of the kit (pip install -e .).")
    editions = {path.name: student_notebook(nbformat.read(path, as_version=4), path.name) for path in sources}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"Could not create the folder {out} ({error.strerror}); give --out a folder you can "
                        f"write to.") from None
    written = []
    for name, notebook in editions.items():
        nbformat.write(notebook, out / name)
        written.append(out / name)
    if (NOTEBOOK_DIR / GUIDE).is_file():
        written.append(Path(shutil.copy2(NOTEBOOK_DIR / GUIDE, out / GUIDE)))
    return written
