"""The student edition (``nqmix student-edition``) and the self-checking lab (notebook 08).

* the command writes every ``notebooks/0*.ipynb`` and the teaching guide, with no output and no solution
  left, and refuses bad ``--out`` folders with one sentence, changing nothing;
* the student edition of notebook 08 runs from top to bottom with its blanks, and every check says
  "not yet"; the instructor edition (the reference solutions filled in) makes every check say "pass";
* each check can fail: a deliberately wrong implementation (sign flipped, mask missing, …) gets
  "not yet" and the hint that names the mistake, and a check never raises.
"""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from scipy import stats

from nqmix_core import exercises as ex
from nqmix_core import losses
from nqmix_core.cli import main
from nqmix_core.errors import UserError
from nqmix_core.student_edition import blank_solutions, remove_solution_details, student_notebook

nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
LAB = ROOT / "notebooks" / "08_lab_write_nqmix.ipynb"
SOLUTION_SUMMARY = re.compile(r"<summary>\s*Solution\s*</summary>")


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
    assert (edition / "README.md").read_text() == (ROOT / "notebooks" / "README.md").read_text()


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
    # everything else is kept: the same code cells, unchanged where they held no solution
    before = [c.source for c in instructor.cells if c.cell_type == "code"]
    assert len(before) == len(code)
    assert all(b == s.source for b, s in zip(before, code) if "# BEGIN SOLUTION" not in b)


def test_the_lab_has_a_solution_region_per_exercise():
    sources = [c.source for c in nbformat.read(LAB, as_version=4).cells if c.cell_type == "code"]
    assert sum(s.count("# BEGIN SOLUTION") for s in sources) == len(ex.CHECKS) == 5
    assert len(check_cells(nbformat.read(LAB, as_version=4))) == 5


def test_the_command_works_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["student-edition", "--out", "class"]) == 0
    assert (tmp_path / "class" / LAB.name).is_file() and "Student edition" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("file", "is a file; give --out a new or empty folder"),
    ("non-empty folder", "is not empty; give --out a new or empty folder"),
    ("inside notebooks", "is inside the instructor notebooks"),
])
def test_bad_out_is_one_sentence_and_changes_nothing(case, message, tmp_path, capsys):
    if case == "file":
        out = tmp_path / "edition.ipynb"
        out.write_text("keep me")
    elif case == "non-empty folder":
        out = tmp_path / "edition"
        out.mkdir()
        (out / "notes.txt").write_text("keep me")
    else:
        out = ROOT / "notebooks" / "student_edition_test_folder"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["student-edition", "--out", str(out)]) == 2
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


def test_unpaired_markers_are_one_sentence():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n")])
    with pytest.raises(UserError, match="do not pair up"):
        student_notebook(notebook, "broken.ipynb")


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


def target_with_max(policy, qs, avail, reward, terminated, next_state, mixer, gamma):
    best = qs.masked_fill(~avail, -1e9).max(-1).values
    return reward + gamma * (1.0 - terminated.float()) * mixer(best, next_state)


def sign_flipped(mixer, chosen_qs, state):
    return -losses.mixer_gradient_sign(mixer, chosen_qs, state)


def raw_gradient(mixer, chosen_qs, state):
    qs = chosen_qs.detach().requires_grad_(True)
    return torch.autograd.grad(mixer(qs, state).sum(), qs)[0]


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


def baseline_varying_the_next_agent(policy, joint_q, actions):
    n_agents = actions.shape[1]
    rows = []
    for a in range(n_agents):
        index = [torch.arange(actions.shape[0]), *actions.unbind(-1)]
        index[1 + (a + 1) % n_agents] = slice(None)  # the wrong agent's action varies
        rows.append((policy[:, a] * joint_q[tuple(index)]).sum(-1))
    return torch.stack(rows, dim=1)


def welch_with_normal_quantile(x, y):
    diff, se = x.mean() - y.mean(), math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    low, high = diff - 1.96 * se, diff + 1.96 * se
    return low, high, "X better" if low > 0 else "Y better" if high < 0 else "unclear"


def welch_calling_every_overlap_a_tie(x, y):
    low, high, verdict = ex.reference_welch_verdict(x, y)
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
    ("counterfactual_baseline", baseline_varying_the_next_agent, "keep the other agents' actions"),
    ("welch_verdict", welch_with_normal_quantile, "the interval should be"),
    ("welch_verdict", welch_calling_every_overlap_a_tie, "TIE_WIDTH"),
    ("welch_verdict", welch_without_the_zero_spread_case, "single point"),
]


@pytest.mark.parametrize("name, wrong, hint", WRONG, ids=[f"{n}-{getattr(w, '__name__', 'lambda')}-{h[:12]}"
                                                          for n, w, h in WRONG])
def test_each_check_says_not_yet_to_a_wrong_implementation(name, wrong, hint):
    message = ex.verdict(name, wrong)
    assert message.startswith("not yet: ") and hint in message, message


def test_every_exercise_has_a_failing_case_above():
    assert {name for name, _, _ in WRONG} == set(ex.CHECKS)


@pytest.mark.parametrize("name", list(ex.CHECKS))
def test_the_kits_own_implementation_passes(name):
    assert ex.verdict(name, ex.REFERENCES[name]) == "pass"


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
    mine = ex.REFERENCES["welch_verdict"]
    assert ex.yours_or_kits("welch_verdict", mine) is mine and capsys.readouterr().out == ""
