"""The student edition (``nqmix student-edition``) and the self-checking lab (notebook 08).

* the command writes every ``notebooks/0*.ipynb`` and the teaching guide, with no output and no solution
  left, and refuses bad ``--out`` folders with one sentence, changing nothing;
* the student edition of notebook 08 runs from top to bottom with its blanks, and every check says
  "not yet"; the instructor edition (the reference solutions filled in) makes every check say "pass";
* each check can fail: a deliberately wrong implementation (sign flipped, mask missing, …) gets
  "not yet" and the hint that names the mistake, and a check never raises;
* what a student sees gives nothing away: no hint holds a line of the solution, no test marker and no
  answer check remains, the guide has no instructor-only section, and a function that calls the kit's own
  implementation does not pass.
"""
from __future__ import annotations

import ast
import math
import re
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from scipy import stats

from nqmix_core.teaching import exercises as ex
from nqmix_core import losses, results
from nqmix_core.teaching import exercises_evidence, exercises_theory, exercises_training
from nqmix_core.cli import main
from nqmix_core.errors import UserError
from nqmix_core.teaching.exercise_inputs import _code, kit_function
from nqmix_core.student_edition import (
    blank_solutions,
    remove_answers,
    remove_solution_details,
    remove_test_markers,
    student_guide,
    student_notebook,
)

nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
LAB = ROOT / "notebooks" / "08_lab_write_nqmix.ipynb"
SOLUTION_SUMMARY = re.compile(r"<summary>\s*Solution\s*</summary>")
LAB_EXERCISES = ["state_value_target", "mixer_sign", "actor_objective", "counterfactual_baseline", "welch_verdict"]


def stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def check_cells(notebook) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and "ex.check(" in c.source]


def execute(path: Path) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel, in its own folder; a cell that raises fails the test."""
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("edition") / "student"
    assert main(["student-edition", "--out", str(out)]) == 0
    return out


# --- the command ------------------------------------------------------------------------------------

def test_the_command_writes_every_notebook_and_the_teaching_guide(edition):
    assert LAB in NOTEBOOKS
    assert sorted(p.name for p in edition.iterdir()) == sorted([p.name for p in NOTEBOOKS] + ["README.md"])
    guide = (ROOT / "notebooks" / "README.md").read_text()
    assert (edition / "README.md").read_text() == student_guide(guide)


def test_the_students_guide_has_no_instructor_only_section(edition):
    """"What each notebook asserts" answers the notebooks' "predict before you run" prompts."""
    instructor, student = (ROOT / "notebooks" / "README.md").read_text(), (edition / "README.md").read_text()
    assert "What each notebook asserts" in instructor
    assert "What each notebook asserts" not in student and "INSTRUCTOR ONLY" not in student
    section = instructor.split("## What each notebook asserts", 1)[1].split("\n## ", 1)[0]
    for line in (x for x in section.splitlines() if x.startswith("* **0")):
        assert line not in student, line
    assert "## Glossary" in student and "student-edition --out" in student  # the rest is the students' too


def test_unpaired_instructor_only_markers_are_one_sentence():
    with pytest.raises(UserError, match="do not pair up"):
        student_guide("# Guide\n<!-- BEGIN INSTRUCTOR ONLY -->\nanswers\n")


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_no_output_and_no_solution_remains(edition, name):
    instructor = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    student = nbformat.read(edition / name, as_version=4)
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "widgets" not in student.metadata
    text = "\n".join(c.source for c in student.cells)
    assert "# BEGIN SOLUTION" not in text and "# END SOLUTION" not in text
    instructor_text = "\n".join(c.source for c in instructor.cells)
    solutions = len(SOLUTION_SUMMARY.findall(instructor_text))
    assert not SOLUTION_SUMMARY.findall(text)
    assert text.count("<details>") == instructor_text.count("<details>") - solutions  # hints stay
    regions = sum(c.source.count("# BEGIN SOLUTION") for c in instructor.cells)
    assert sum(c.source.count("# YOUR CODE HERE\n") for c in code) == regions
    # everything else is kept: the same code cells, unchanged where they held no solution (but the test
    # markers and the answer checks)
    before = [c.source for c in instructor.cells if c.cell_type == "code"]
    assert len(before) == len(code)
    assert all(remove_test_markers(remove_answers(b)) == s.source for b, s in zip(before, code)
               if "# BEGIN SOLUTION" not in b)


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_no_test_marker_remains(edition, name):
    """nbval's markers tell the tests which outputs to compare; in a student's notebook they are noise."""
    instructor = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    student = nbformat.read(edition / name, as_version=4)
    assert any("NBVAL" in c.source for c in instructor.cells)  # there were some to remove
    assert not [c.source for c in student.cells if re.search(r"#\s*NBVAL_", c.source)]
    assert not [t for c in student.cells for t in c.metadata.get("tags", []) if t.lower().startswith("nbval")]
    kept = [[t for t in c.metadata.get("tags", []) if not t.lower().startswith("nbval")]
            for c in instructor.cells if c.cell_type == "code"]
    assert kept == [c.metadata.get("tags", []) for c in student.cells if c.cell_type == "code"]  # papermill's stay


def exercise_code_cells(notebook) -> list[str]:
    """The code cells of every section whose ``#``/``##`` heading names an exercise ("## Exercises",
    "## 1 · Exercise (a): ..."), up to the next such heading."""
    inside, cells = False, []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for heading in re.findall(r"^#{1,2}\s+(.*)$", cell.source, re.M):
                inside = bool(re.search(r"\bexercises?\b", heading, re.I))
        elif inside:
            cells.append(cell.source)
    return cells


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_exercise_cells_give_no_answer_away(edition, name):
    """In the student edition, no code cell of an exercise section holds an ``assert`` (it would state what the
    student is asked to find) or the word "solution"; the instructor edition keeps such checks between
    ``# BEGIN ANSWER`` and ``# END ANSWER``, or inside a solution region."""
    cells = exercise_code_cells(nbformat.read(edition / name, as_version=4))
    assert cells, f"{name} has no exercise section with code"
    revealing = [c for c in cells if re.search(r"\bassert\b", c) or re.search("solution", c, re.I)]
    assert not revealing, f"{name}: exercise cells that give the answer away:\n\n" + "\n---\n".join(revealing)


def test_the_lab_has_a_solution_region_per_exercise():
    sources = [c.source for c in nbformat.read(LAB, as_version=4).cells if c.cell_type == "code"]
    assert sum(s.count("# BEGIN SOLUTION") for s in sources) == len(LAB_EXERCISES) == 5
    assert all(f'ex.check("{name}"' in "".join(sources) for name in LAB_EXERCISES)
    assert len(check_cells(nbformat.read(LAB, as_version=4))) == 5


def test_the_command_works_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["student-edition", "--out", "class"]) == 0
    assert (tmp_path / "class" / LAB.name).is_file() and "Student edition" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["student-edition", "slides"])
@pytest.mark.parametrize("case, message", [
    ("file", "is a file; give --out a new or empty folder"),
    ("non-empty folder", "is not empty; give --out a new or empty folder"),
    ("inside notebooks", "is inside the instructor notebooks"),
])
def test_bad_out_is_one_sentence_and_changes_nothing(command, case, message, tmp_path, capsys):
    """Both commands that write a folder of notebooks refuse the same bad ``--out`` the same way."""
    if case == "file":
        out = tmp_path / "edition.ipynb"
        out.write_text("keep me")
    elif case == "non-empty folder":
        out = tmp_path / "edition"
        out.mkdir()
        (out / "notes.txt").write_text("keep me")
    else:
        out = ROOT / "notebooks" / f"{command}_test_folder"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main([command, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    if case == "inside notebooks":
        assert not out.exists()
    else:
        assert "keep me" in (out.read_text() if out.is_file() else (out / "notes.txt").read_text())


# --- the conversion -------------------------------------------------------------------------------

def test_a_solution_region_becomes_a_blank_body_at_its_indentation():
    source = ('def f(x):\n    """Doc."""\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION\n\n\n'
              'def g():\n        # BEGIN SOLUTION (one line)\n        return 2\n        # END SOLUTION\nprint(f(1))')
    assert blank_solutions(source) == ('def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    return None\n\n\n'
                                       'def g():\n        # YOUR CODE HERE\n        return None\nprint(f(1))')


def test_solution_details_are_removed_and_hints_kept():
    markdown = ("**Exercise 1.** Why?\n\n<details><summary>Solution</summary>\n\nBecause $x$.\n</details>\n\n"
                "**Exercise 2.** How?\n<details><summary>Hint</summary>\nLook.\n</details>\n"
                "<details>\n<summary>Solution</summary>\nLike this.\n</details>")
    assert remove_solution_details(markdown) == ("**Exercise 1.** Why?\n\n**Exercise 2.** How?\n"
                                                 "<details><summary>Hint</summary>\nLook.\n</details>")


def test_answer_checks_and_test_markers_are_left_out():
    source = ("# NBVAL_CHECK_OUTPUT\nshare = run()\nprint(share)\n# BEGIN ANSWER\nassert share == 0.0  # monotonic\n"
              "# END ANSWER\nprint('done')")
    assert remove_test_markers(remove_answers(source)) == "share = run()\nprint(share)\nprint('done')"


@pytest.mark.parametrize("source", ["# BEGIN SOLUTION\nx = 1\n", "# BEGIN ANSWER\nassert x\n"])
def test_unpaired_markers_are_one_sentence(source):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    with pytest.raises(UserError, match="do not pair up"):
        student_notebook(notebook, "broken.ipynb")


# --- hints name the mistake, not the solution ---------------------------------------------------------

HINT_BLOCK = re.compile(r"<details>\s*<summary>\s*Hint[^<]*</summary>(.*?)</details>", re.S)
LIBRARIES = ("torch", "np", "numpy", "stats", "scipy", "math", "F", "results", "losses")


def solution_regions(notebook) -> list[str]:
    return [textwrap.dedent(region) for c in notebook.cells if c.cell_type == "code"
            for region in re.findall(r"# BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*# END SOLUTION", c.source, re.S | re.M)]


def dotted(node) -> str:
    return f"{dotted(node.value)}.{node.attr}" if isinstance(node, ast.Attribute) else getattr(node, "id", "?")


def solution_code(regions: list[str]) -> tuple[set[str], set[str]]:
    """(every call expression of 10 or more characters, whitespace removed; the library functions called)."""
    calls, library = set(), set()
    for tree in map(ast.parse, regions):
        for node in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            expression = re.sub(r"\s", "", ast.unparse(node))
            if len(expression) >= 10:
                calls.add(expression)
            if dotted(node.func).split(".")[0] in LIBRARIES:
                library.add(dotted(node.func))
    return calls, library


def check_strings(module) -> list[str]:
    """Every string a check function of ``module`` can return (docstrings aside): the hints."""
    strings = []
    for function in ast.walk(ast.parse(Path(module.__file__).read_text())):
        if isinstance(function, ast.FunctionDef) and "check" in function.name:
            docstring = ast.get_docstring(function, clean=False)
            strings += [n.value for n in ast.walk(function) if isinstance(n, ast.Constant)
                        and isinstance(n.value, str) and n.value != docstring]
    return strings


def leaks(hint: str, calls: set[str], library: set[str]) -> list[str]:
    """The solution's call expressions that ``hint`` holds word for word, and its library calls with arguments."""
    squeezed = re.sub(r"\s", "", hint.replace("\\", ""))
    return [c for c in calls if c.replace("'", '"') in squeezed.replace("'", '"')] + \
        [f"{f}(" for f in library if re.search(rf"(?<![\w.]){re.escape(f)}\s*\(", hint)]


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_hint_blocks_hold_no_line_of_the_solution(edition, name):
    """A hint names the idea or the mistake; the code that solves the exercise is the student's to write."""
    calls, library = solution_code(solution_regions(nbformat.read(ROOT / "notebooks" / name, as_version=4)))
    hints = [h for c in nbformat.read(edition / name, as_version=4).cells if c.cell_type == "markdown"
             for h in HINT_BLOCK.findall(c.source)]
    found = {h.strip()[:80]: leaks(h, calls, library) for h in hints if leaks(h, calls, library)}
    assert not found, f"hints of {name} that give solution code away: {found}"


def test_the_checks_hints_hold_no_line_of_the_solution():
    lab_calls, lab_library = solution_code(solution_regions(nbformat.read(LAB, as_version=4)))
    found = {h[:80]: leaks(h, lab_calls, lab_library) for h in check_strings(ex) if leaks(h, lab_calls, lab_library)}
    regions = [r for path in NOTEBOOKS for r in solution_regions(nbformat.read(path, as_version=4))]
    calls, _ = solution_code(regions)
    for module in (exercises_theory, exercises_training, exercises_evidence):  # the exercises of 01–07
        found.update({h[:80]: leaks(h, calls, set()) for h in check_strings(module) if leaks(h, calls, set())})
    assert len(check_strings(ex)) > 20 and lab_calls and lab_library
    assert not found, f"hints that give solution code away: {found}"


def test_the_leak_test_can_fail():
    calls, library = solution_code(["qs = x.detach().requires_grad_(True)\nreturn torch.sign(grad)\n"])
    assert leaks("make `qs = x.detach().requires_grad_( True )` first", calls, library)
    assert leaks("return torch.sign(∂Q/∂Q_a)", calls, library) == ["torch.sign("]
    assert not leaks("return the sign of ∂Q/∂Q_a, from a fresh leaf of its own graph", calls, library)


# --- the lab, run top to bottom ---------------------------------------------------------------------

def test_the_student_edition_of_the_lab_runs_and_every_check_says_not_yet(edition):
    notebook = execute(edition / LAB.name)
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    printed = [stdout(c).strip() for c in check_cells(notebook)]
    assert len(printed) == 5 and all(p.startswith("not yet: ") for p in printed), printed
    assert all("YOUR CODE HERE" in p for p in printed)  # a blank body says where to write
    scoreboard = stdout(next(c for c in notebook.cells if "yours = [" in c.source))
    assert scoreboard.count("not yet") == 5 and "pass" not in scoreboard


def test_the_instructor_edition_of_the_lab_passes_every_check(tmp_path):
    copy = tmp_path / LAB.name
    shutil.copy2(LAB, copy)
    notebook = execute(copy)
    printed = [stdout(c).strip() for c in check_cells(notebook)]
    assert printed == ["pass"] * 5
    scoreboard = stdout(next(c for c in notebook.cells if "yours = [" in c.source))
    assert scoreboard.count("pass") == 5 and "not yet" not in scoreboard


# --- each check can fail ------------------------------------------------------------------------------

def target_without_avail_mask(policy, qs, avail, reward, terminated, next_state, mixer, gamma):
    return reward + gamma * (1.0 - terminated.float()) * mixer((policy * qs).sum(-1), next_state)


def target_ignoring_termination(policy, qs, avail, reward, terminated, next_state, mixer, gamma):
    return reward + gamma * mixer(torch.where(avail, policy * qs, 0.0).sum(-1), next_state)


def target_without_gamma(policy, qs, avail, reward, terminated, next_state, mixer, gamma):
    return reward + (1.0 - terminated.float()) * mixer(torch.where(avail, policy * qs, 0.0).sum(-1), next_state)


def target_with_max(policy, qs, avail, reward, terminated, next_state, mixer, gamma):
    best = qs.masked_fill(~avail, -1e9).max(-1).values
    return reward + gamma * (1.0 - terminated.float()) * mixer(best, next_state)


def raw_gradient(mixer, chosen_qs, state):
    qs = chosen_qs.detach().requires_grad_(True)
    return torch.autograd.grad(mixer(qs, state).sum(), qs)[0]


def sign_flipped(mixer, chosen_qs, state):
    return -raw_gradient(mixer, chosen_qs, state).sign()


def sign_by_backward(mixer, chosen_qs, state):
    qs = chosen_qs.detach().requires_grad_(True)
    mixer(qs, state).sum().backward()  # leaves .grad on the mixer's weights too
    return qs.grad.sign()


def actor_loss_parts(policy, qs, sign, mask, gamma, *, use_mask=True, per_agent=False, detach_q=True, minus=True):
    discount = gamma ** torch.arange(policy.shape[1], dtype=policy.dtype)  # [T]
    expected_q = (policy * (qs.detach() if detach_q else qs)).sum(-1)  # [B, T, N]
    weight = sign * discount.view(1, -1, 1) * (mask.unsqueeze(-1) if use_mask else 1.0)
    total = (weight * expected_q).sum() / (mask.sum() * (sign.shape[-1] if per_agent else 1))
    return -total if minus else total


def baseline_of_taken_action(policy, joint_q, actions):
    taken = joint_q[(torch.arange(actions.shape[0]), *actions.unbind(-1))]  # [B]
    return taken[:, None].expand(-1, actions.shape[1])


def baseline_varying_another_agent(policy, joint_q, actions, shift=1):
    n_agents = actions.shape[1]
    rows = []
    for a in range(n_agents):
        index = [torch.arange(actions.shape[0]), *actions.unbind(-1)]
        index[1 + (a + shift) % n_agents] = slice(None)  # the wrong agent's action varies: a wrong axis
        rows.append((policy[:, a] * joint_q[tuple(index)]).sum(-1))
    return torch.stack(rows, dim=1)


def baseline_varying_the_previous_agent(policy, joint_q, actions):
    return baseline_varying_another_agent(policy, joint_q, actions, shift=-1)


def baseline_averaging_the_rows(policy, joint_q, actions):
    return baseline_varying_another_agent(policy, joint_q, actions, shift=0) * 0.5


def my_welch(x, y):
    """The decision rule written without the kit: a student's correct answer."""
    var_x, var_y = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    diff, se = x.mean() - y.mean(), math.sqrt(var_x + var_y)
    half = 0.0 if se == 0 else stats.t.ppf(0.975, (var_x + var_y) ** 2 / (
        var_x ** 2 / (len(x) - 1) + var_y ** 2 / (len(y) - 1))) * se
    low, high = diff - half, diff + half
    if low > 0 or high < 0:
        return low, high, "X better" if low > 0 else "Y better"
    return low, high, "tied" if max(x.mean(), y.mean()) >= 0.05 and half < 0.10 else "unclear"


def welch_with_normal_quantile(x, y):
    diff, se = x.mean() - y.mean(), math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    low, high = diff - 1.96 * se, diff + 1.96 * se
    return low, high, "X better" if low > 0 else "Y better" if high < 0 else "unclear"


def welch_calling_every_overlap_a_tie(x, y):
    low, high, verdict = my_welch(x, y)
    return low, high, verdict if verdict in ("X better", "Y better") else "tied"


def welch_without_the_zero_spread_case(x, y):
    var_x, var_y = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    diff, se = x.mean() - y.mean(), math.sqrt(var_x + var_y)
    with np.errstate(all="ignore"):  # 0/0 = nan when neither sample varies
        dof = (var_x + var_y) ** 2 / (var_x ** 2 / (len(x) - 1) + var_y ** 2 / (len(y) - 1))
    low, high = diff - stats.t.ppf(0.975, dof) * se, diff + stats.t.ppf(0.975, dof) * se
    if low > 0:
        return low, high, "X better"
    if high < 0:
        return low, high, "Y better"
    tied = max(x.mean(), y.mean()) >= 0.05 and (high - low) / 2 < 0.10
    return low, high, "tied" if tied else "unclear"


WRONG = [
    ("state_value_target", target_without_avail_mask, "available actions"),
    ("state_value_target", target_ignoring_termination, "termination"),
    ("state_value_target", target_without_gamma, "discount the bootstrap"),
    ("state_value_target", target_with_max, "not max_u"),
    ("mixer_sign", sign_flipped, "flipped"),
    ("mixer_sign", raw_gradient, "not the derivative itself"),
    ("mixer_sign", sign_by_backward, "mixer's weights"),
    ("actor_objective", lambda *a: actor_loss_parts(*a, use_mask=False), "mask the padded steps"),
    ("actor_objective", lambda *a: actor_loss_parts(*a, minus=False), "loss to minimise"),
    ("actor_objective", lambda p, q, s, m, g: actor_loss_parts(p, q, s, m, 1.0), "γ^t"),
    ("actor_objective", lambda *a: actor_loss_parts(*a, per_agent=True), "not by steps × agents"),
    ("actor_objective", lambda *a: actor_loss_parts(*a, detach_q=False), "must not move the critic"),
    ("actor_objective", lambda p, q, s, m, g: actor_loss_parts(p, q, torch.ones_like(s), m, g), "by its sign("),
    ("counterfactual_baseline", baseline_of_taken_action, "first term of the advantage"),
    ("counterfactual_baseline", baseline_varying_another_agent, "a wrong axis: for agent a it is a's own action"),
    ("counterfactual_baseline", baseline_varying_the_previous_agent, "a wrong axis"),
    ("counterfactual_baseline", baseline_averaging_the_rows, "keep the other agents' actions"),
    ("welch_verdict", welch_with_normal_quantile, "uses the normal quantile z ≈ 1.96"),
    ("welch_verdict", welch_calling_every_overlap_a_tie, "TIE_WIDTH"),
    ("welch_verdict", welch_without_the_zero_spread_case, "single point"),
]


@pytest.mark.parametrize("name, wrong, hint", WRONG, ids=[f"{n}-{getattr(w, '__name__', 'lambda')}-{h[:12]}"
                                                          for n, w, h in WRONG])
def test_each_check_says_not_yet_to_a_wrong_implementation(name, wrong, hint):
    message = ex.verdict(name, wrong)
    assert message.startswith("not yet: ") and hint in message, message


def test_every_exercise_has_a_failing_case_above():
    assert {name for name, _, _ in WRONG} == set(LAB_EXERCISES) <= set(ex.CHECKS)


NEAR_MISSES = {"discount the bootstrap": target_without_gamma, "a wrong axis": baseline_varying_another_agent,
               "normal quantile z": welch_with_normal_quantile}
"""The three mistakes that got only the general hint before issue 24 (the guide promises the z one by name)."""


@pytest.mark.parametrize("hint", NEAR_MISSES)
def test_a_near_miss_is_named_and_the_general_hint_is_not_given(hint):
    name = next(n for n, wrong, _ in WRONG if wrong is NEAR_MISSES[hint])
    message = ex.verdict(name, NEAR_MISSES[hint])
    assert hint in message, message
    assert not any(other in message for other in NEAR_MISSES if other != hint)


@pytest.mark.parametrize("name", list(ex.CHECKS))
def test_the_kits_own_implementation_passes_the_check_itself(name):
    assert ex.CHECKS[name](ex.REFERENCES[name]) is None


# --- calling the kit's implementation is no way to pass ------------------------------------------------

@pytest.mark.parametrize("name", list(ex.CHECKS))
def test_handing_in_the_kits_reference_is_not_yet(name):
    """Every exercise, the lab's and those of notebooks 01–07 (exercises_theory, _training, _evidence)."""
    message = ex.verdict(name, ex.REFERENCES[name])
    assert message.startswith("not yet: write it yourself, without calling nqmix_core's "), message
    assert sys.getprofile() is None  # the guard is off again


def value_target_by_alias(policy, qs, avail, reward, terminated, next_state, mixer, gamma):
    from nqmix_core.losses import state_values as expected_values  # another name for the same function

    return reward + gamma * (1.0 - terminated.float()) * mixer(expected_values(policy, qs, avail), next_state)


def _signs(mixer, chosen_qs, state):
    return losses.mixer_gradient_sign(mixer, chosen_qs, state)


def sign_through_a_helper(mixer, chosen_qs, state):
    return _signs(mixer, chosen_qs, state)


def actor_loss_with_the_kits_discount(policy, qs, sign, mask, gamma):
    discount = losses.discount_weights(policy.shape[1], gamma, policy.device)  # [T]
    terms = (policy * qs.detach()).sum(-1) * sign * discount.view(1, -1, 1) * mask.unsqueeze(-1)
    return -terms.sum() / mask.sum()


def baseline_from_the_kits_table(policy, joint_q, actions):
    return (policy * ex.counterfactual_qs(joint_q, actions)).sum(-1)


def welch_with_the_kits_outcome(x, y):
    low, high, _ = my_welch(x, y)
    return low, high, results.Comparison("m", "X", "Y", x.mean(), y.mean(), low, high).outcome


@pytest.mark.parametrize("name, delegating, called", [
    ("state_value_target", value_target_by_alias, "losses.state_values"),
    ("mixer_sign", sign_through_a_helper, "losses.mixer_gradient_sign"),
    ("actor_objective", actor_loss_with_the_kits_discount, "losses.discount_weights"),
    ("counterfactual_baseline", baseline_from_the_kits_table, "exercise_inputs.counterfactual_qs"),
    ("welch_verdict", welch_with_the_kits_outcome, "results.Comparison.outcome"),
])
def test_a_function_that_delegates_to_the_kit_is_not_yet(name, delegating, called):
    """However the kit's function is reached (an alias, a helper, a property), its call is seen."""
    assert ex.CHECKS[name](delegating) is None  # the answer is right ...
    assert ex.verdict(name, delegating) == f"not yet: write it yourself, without calling nqmix_core's {called}"


def test_the_guard_lets_the_checks_own_reference_calls_through():
    """The check computes its reference with the kit's functions: only the student's call is watched."""
    assert ex.verdict("welch_verdict", my_welch) == "pass"
    assert ex.verdict("mixer_sign", lambda m, q, s: raw_gradient(m, q, s).sign()) == "pass"


@pytest.mark.parametrize("name", list(ex.FORBIDDEN))
def test_every_forbidden_entry_names_a_function_of_the_kit(name):
    """A misspelt entry would guard nothing; each must resolve to code the guard can recognise."""
    assert name in ex.CHECKS
    for dotted in ex.FORBIDDEN[name]:
        assert _code(kit_function(dotted)) is not None, dotted


@pytest.mark.parametrize("name", list(ex.CHECKS))
@pytest.mark.parametrize("student", [lambda *a: None, lambda *a: 1 / 0, lambda *a: "an answer", lambda *a: (1, 2)],
                         ids=["blank", "raises", "a string", "a pair"])
def test_a_check_never_raises(name, student, capsys):
    ex.check(name, student)
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("not yet: ") and printed.count("\n") == 0


def test_experiments_use_the_kits_implementation_until_yours_passes(capsys):
    assert ex.yours_or_kits("mixer_sign", lambda *a: None) is losses.mixer_gradient_sign
    assert "does not pass yet" in capsys.readouterr().out
    assert ex.yours_or_kits("welch_verdict", my_welch) is my_welch and capsys.readouterr().out == ""
