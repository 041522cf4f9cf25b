"""No unused import, unused variable or undefined name in the package, its tests, benchmarks and notebook
sources (pyflakes): an undefined name is a bug waiting for its branch, an unused one misleads a reader.
A name imported on purpose without being used (a re-export, a check that a package is installed) says so
on its line with ``# noqa``."""
from __future__ import annotations

from pathlib import Path

import pyflakes.api
import pyflakes.reporter

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["nqmix_core", "tests", "benchmarks", "notebooks"]


class Collect(pyflakes.reporter.Reporter):
    def __init__(self, root: Path = ROOT) -> None:
        self.root, self.found = root, []

    def flake(self, message) -> None:
        line = Path(message.filename).read_text().splitlines()[message.lineno - 1]
        if "noqa" not in line:
            self.found.append(f"{Path(message.filename).relative_to(self.root)}:{message.lineno}: "
                              f"{message.message % message.message_args}")

    def syntaxError(self, filename, msg, lineno, offset, text) -> None:  # noqa: N802 (pyflakes' name)
        self.found.append(f"{filename}:{lineno}: {msg}")

    def unexpectedError(self, filename, msg) -> None:  # noqa: N802
        self.found.append(f"{filename}: {msg}")


def python_files() -> list[Path]:
    return sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py")
                  if ".ipynb_checkpoints" not in p.parts)


def test_the_sources_have_no_unused_or_undefined_names():
    reporter = Collect()
    for path in python_files():
        pyflakes.api.checkPath(str(path), reporter)
    assert not reporter.found, "\n".join(reporter.found)


def test_the_check_sees_an_unused_import_and_an_undefined_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nimport sys  # noqa: F401\n\n\ndef f():\n    return undefined_name\n")
    reporter = Collect(root=tmp_path)
    pyflakes.api.checkPath(str(bad), reporter)
    assert reporter.found == ["bad.py:1: 'os' imported but unused", "bad.py:6: undefined name 'undefined_name'"]
    assert len(python_files()) > 100  # the sources really were read
