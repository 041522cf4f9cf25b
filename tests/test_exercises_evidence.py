"""The write-code exercises of notebooks 05 and 06: each reference passes, a blank is "not yet", and each
known mistake gets the hint that names it (checked against hand-computed values where they exist)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from nqmix_core.teaching import exercises as ex
from nqmix_core.teaching import exercises_evidence as ev


def welch(x, y, level):
    """The Welch interval of mean(x) − mean(y), written without the kit (as a student would)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    diff = x.mean() - y.mean()
    if vx + vy == 0:
        return diff, diff
    dof = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    half = stats.t.ppf(level, dof) * math.sqrt(vx + vy)
    return diff - half, diff + half


def solution_equivalence(x, y, margin):
    low, high = welch(x, y, 0.95)
    return low, high, bool(-margin < low and high < margin and max(np.mean(x), np.mean(y)) >= 0.05)


def solution_policy_entropy(p):
    return -sum(v * math.log(v) for v in p if v > 0)


def solution_sign_agreement(slopes, deciding):
    positive = ((slopes > 0) | ~deciding).all(-1)
    negative = ((slopes < 0) | ~deciding).all(-1)
    voting = deciding.sum(-1) >= 2
    return (positive | negative)[voting].double().mean()


SOLUTIONS = {"equivalence": solution_equivalence, "policy_entropy": solution_policy_entropy,
             "sign_agreement": solution_sign_agreement}


@pytest.mark.parametrize("name", sorted(ev.CHECKS))
def test_a_solution_passes_a_blank_does_not_and_calling_the_kit_is_refused(name):
    assert ex.verdict(name, SOLUTIONS[name]) == "pass"
    assert ex.verdict(name, lambda *args: None).startswith("not yet: your function returns None")
    assert ex.verdict(name, ev.REFERENCES[name]).startswith("not yet: write it yourself")


def test_equivalence_reference_by_hand():
    x, y = [0.50, 0.52, 0.51, 0.49], [0.50, 0.51, 0.49, 0.50]
    se = math.sqrt(np.var(x, ddof=1) / 4 + np.var(y, ddof=1) / 4)
    dof = se ** 4 / ((np.var(x, ddof=1) / 4) ** 2 / 3 + (np.var(y, ddof=1) / 4) ** 2 / 3)
    low, high, same = ev.reference_equivalence(x, y)
    diff = np.mean(x) - np.mean(y)
    assert low == pytest.approx(diff - stats.t.ppf(0.95, dof) * se) and high == pytest.approx(diff + stats.t.ppf(0.95, dof) * se)
    assert same and not ev.reference_equivalence([0.0, 0.01, 0.0], [0.0, 0.0, 0.01])[2]  # nothing learned


def test_equivalence_mistakes_are_named():
    def ninety_five(x, y, margin):  # an interval that has nothing to do with the data
        return -1.0, 1.0, False

    def wide(x, y, margin):  # the 95% Welch interval instead of the 90% one
        return (*welch(x, y, 0.975), False)

    def ignores_learned(x, y, margin):
        low, high = welch(x, y, 0.95)
        return low, high, bool(-margin < low and high < margin)

    assert "the 90% interval should be" in ex.verdict("equivalence", ninety_five)
    assert "that is the 95% interval" in ex.verdict("equivalence", wide)
    assert "learned nothing" in ex.verdict("equivalence", ignores_learned)


def test_policy_entropy_by_hand_and_its_mistakes():
    p = [0.99] + [0.01 / 7] * 7
    assert ev.reference_policy_entropy(p) == pytest.approx(-(0.99 * math.log(0.99) + 0.01 * math.log(0.01 / 7)))
    assert ev.reference_policy_entropy([1.0, 0.0]) == 0.0
    assert "skip zero entries" in ex.verdict("policy_entropy", lambda p: -sum(v * math.log(v) if v else math.nan for v in p))
    assert "sign is flipped" in ex.verdict("policy_entropy", lambda p: sum(v * math.log(v) for v in p if v > 0))
    assert "bits" in ex.verdict("policy_entropy", lambda p: -sum(v * math.log2(v) for v in p if v > 0))


def test_sign_agreement_by_hand_and_its_mistakes():
    slopes = torch.tensor([[[1.0, 2.0, -1.0], [-1.0, -2.0, 5.0], [3.0, -1.0, 1.0], [1.0, 1.0, 1.0]]])  # [1, 4, 3]
    deciding = torch.tensor([[[True, True, False], [True, True, False], [True, False, False], [True, True, True]]])
    # step 0: +,+ agree; step 1: −,− agree; step 2: one deciding agent (not counted); step 3: +,+,+ agree
    assert float(ev.reference_sign_agreement(slopes, deciding)) == 1.0
    deciding[0, 3, 2] = False
    slopes[0, 0, 1] = -2.0
    assert float(ev.reference_sign_agreement(slopes, deciding)) == pytest.approx(2 / 3)

    def everyone_votes(slopes, deciding):
        return solution_sign_agreement(slopes, torch.ones_like(deciding))

    def positive_only(slopes, deciding):
        voting = (deciding.sum(-1) >= 2).double()
        return (((slopes > 0) | ~deciding).all(-1).double() * voting).sum() / voting.sum()

    assert "only deciding agents vote" in ex.verdict("sign_agreement", everyone_votes)
    assert "negative sign counts as well" in ex.verdict("sign_agreement", positive_only)


def test_every_exercise_names_the_kit_functions_it_forbids():
    assert set(ev.FORBIDDEN) == set(ev.CHECKS)
    assert ex.verdict("sign_agreement", lambda s, d: ev.diagnostics.mixer_diagnostics(
        s, torch.zeros(*s.shape, 2), torch.stack([torch.ones_like(d), d], -1), torch.ones(s.shape[:2]))
        ["sign_agreement"][0]).startswith("not yet: write it yourself, without calling nqmix_core's diagnostics.")
