"""The write-code exercises of notebooks 04 (the Wilson interval) and 07 (the deterministic actor's loss):
the kit's reference passes, a blank body gets the BLANK hint, each known mistake gets the hint that names
it, and a check never raises."""
from __future__ import annotations

import math

import pytest
import torch

from nqmix_core.teaching import exercises as ex
from nqmix_core.teaching import exercises_training
from nqmix_core.teaching.exercise_inputs import BLANK

NAMES = list(exercises_training.CHECKS)


def test_every_exercise_is_registered_with_its_reference_and_forbidden_calls():
    assert NAMES == ["wilson_interval", "deterministic_actor_objective"]
    assert set(exercises_training.REFERENCES) == set(NAMES) == set(exercises_training.FORBIDDEN)
    assert all(name in ex.CHECKS and ex.REFERENCES[name] is exercises_training.REFERENCES[name] for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_kits_implementation_passes_the_check(name):
    assert exercises_training.CHECKS[name](exercises_training.REFERENCES[name]) is None


@pytest.mark.parametrize("name", NAMES)
def test_calling_the_kits_implementation_is_not_an_answer(name):
    message = ex.verdict(name, lambda *args: exercises_training.REFERENCES[name](*args))
    assert message.startswith("not yet: write it yourself"), message


@pytest.mark.parametrize("name", NAMES)
def test_a_blank_body_is_not_yet_with_the_blank_hint(name):
    assert ex.verdict(name, lambda *args: None) == f"not yet: {BLANK}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("student", [lambda *a: 1 / 0, lambda *a: "an answer", lambda *a: (1, 2, 3),
                                     lambda *a: torch.zeros(2)], ids=["raises", "a string", "a triple", "a vector"])
def test_a_check_never_raises(name, student):
    message = ex.verdict(name, student)
    assert message.startswith("not yet: ") and "\n" not in message


# --- notebook 04: wilson_interval ----------------------------------------------------------------------

def wilson(wins, n, z, *, shrink=True, second_term=True, fixed_z=False, swap=False):
    """Wilson's interval written out, with one part left out on request."""
    z = 1.959964 if fixed_z else z
    p = wins / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt((p * (1 - p) + (z * z / (4 * n) if second_term else 0.0)) / n)
    scale = 1 + z * z / n if shrink else 1.0
    low, high = (centre - half) / scale, (centre + half) / scale
    return (high, low) if swap else (low, high)


def wald(wins, n, z):
    p = wins / n
    return p - z * math.sqrt(p * (1 - p) / n), p + z * math.sqrt(p * (1 - p) / n)


def test_a_written_out_wilson_interval_passes():
    assert ex.verdict("wilson_interval", wilson) == "pass"
    assert ex.verdict("wilson_interval", lambda w, n, z: torch.tensor(wilson(w, n, z))) == "pass"  # any pair


WRONG_WILSON = [
    (wald, "Wald"),
    (lambda w, n, z: wilson(w, n, z, shrink=False), "divided by 1 + z²/n"),
    (lambda w, n, z: wilson(w, n, z, second_term=False), "two terms"),
    (lambda w, n, z: wilson(w, n, z, fixed_z=True), "use the z argument"),
    (lambda w, n, z: wilson(w, n, z, swap=True), "(low, high) in that order"),
    (lambda w, n, z: (w / n, w / n), "solve |p − q|"),  # no interval at all: the general hint
]


@pytest.mark.parametrize("wrong, hint", WRONG_WILSON, ids=[h for _, h in WRONG_WILSON])
def test_each_wilson_mistake_gets_its_hint(wrong, hint):
    message = ex.verdict("wilson_interval", wrong)
    assert message.startswith("not yet: ") and hint in message, message


def test_the_wilson_hints_do_not_give_the_solution_line():
    hints = [ex.verdict("wilson_interval", wrong) for wrong, _ in WRONG_WILSON]
    assert not any("(1 + z²/n)" in h and "z²/(4n)" in h for h in hints)


# --- notebook 07: deterministic_actor_objective ----------------------------------------------------------

def actor_loss(actions, grads, sign, discount, mask, *, use_sign=True, use_discount=True, use_mask=True,
               per_agent=False, minus=True, detach_g=True, mean_over_a=False):
    g = grads.detach() if detach_g else grads
    inner = (actions * g).mean(-1) if mean_over_a else (actions * g).sum(-1)  # [B, T, N]
    weight = (sign if use_sign else 1.0) * (discount.view(1, -1, 1) if use_discount else 1.0) \
        * (mask if use_mask else 1.0)
    n = mask.sum() if per_agent else mask.amax(-1).sum()
    total = (weight * inner).sum() / n
    return -total if minus else total


def test_a_written_out_actor_loss_passes():
    assert ex.verdict("deterministic_actor_objective", actor_loss) == "pass"


WRONG_ACTOR = [
    (lambda *a: actor_loss(*a, minus=False), "loss to minimise"),
    (lambda *a: actor_loss(*a, use_sign=False), "sgn(∂Q_tot/∂Q_a)"),
    (lambda *a: actor_loss(*a, use_discount=False), "I_t = discount[t]"),
    (lambda *a: actor_loss(*a, use_mask=False), "mask the padded steps"),
    (lambda *a: actor_loss(*a, per_agent=True), "not by the number of acting agents"),
    (lambda *a: actor_loss(*a, mean_over_a=True), "not their mean"),
    (lambda *a: actor_loss(*a, detach_g=False), "flow back into action_grads"),
    (lambda a, *rest: actor_loss(a.detach(), *rest), "no gradient reaches the actions"),
    (lambda a, *rest: actor_loss(a, *rest).detach().numpy(), "0-dim torch tensor"),
]


@pytest.mark.parametrize("wrong, hint", WRONG_ACTOR, ids=[h[:24] for _, h in WRONG_ACTOR])
def test_each_actor_loss_mistake_gets_its_hint(wrong, hint):
    message = ex.verdict("deterministic_actor_objective", wrong)
    assert message.startswith("not yet: ") and hint in message, message


def test_experiments_fall_back_to_the_kits_function_until_yours_passes(capsys):
    for name in NAMES:
        assert ex.yours_or_kits(name, lambda *a: None) is exercises_training.REFERENCES[name]
        assert "does not pass yet" in capsys.readouterr().out
