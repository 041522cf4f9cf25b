"""The write-code exercises of notebooks 01, 02a, 02b and 03 (``nqmix_core.teaching.exercises_theory``).

For each exercise: the kit's reference passes, a blank body gets "not yet" with the blank hint, each
deliberately wrong implementation below gets the hint that names its mistake, and the instructor
notebook's check cell printed "pass".
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

from nqmix_core.teaching import exercises as ex
from nqmix_core.teaching import exercises_theory, theory as th
from nqmix_core.teaching.exercise_inputs import BLANK

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_OF = {"order_flips": "01_monotonicity_matrix_games", "policy_gradient_eq2": "02a_off_policy_gradient",
               "sign_trick_step": "02b_sign_trick", "nqmix_mixer_parameters": "03_nqmix_architecture"}


# --- deliberately wrong implementations ---------------------------------------------------------

def flips_with_ties(table):
    diff = table[:, None, :] - table[None, :, :]
    return (diff >= 0).any(-1) & (diff <= 0).any(-1)


def flips(table):
    """A correct answer, written here (the kit's reference may not be called by an answer)."""
    diff = table[:, None, :] - table[None, :, :]
    return (diff > 0).any(-1) & (diff < 0).any(-1)


def flips_upper_triangle(table):
    return torch.triu(flips(table), diagonal=1)


def flips_of_columns(table):
    return flips(table.T)


def eq2_without_baseline(logits, q_values, visitation):
    return visitation[:, None] * torch.softmax(logits, -1) * q_values


def eq2_without_visitation(logits, q_values, visitation):
    policy = torch.softmax(logits, -1)
    return policy * (q_values - (policy * q_values).sum(-1, keepdim=True))


def eq2_without_policy_factor(logits, q_values, visitation):
    policy = torch.softmax(logits, -1)
    return visitation[:, None] * (q_values - (policy * q_values).sum(-1, keepdim=True))


def own_gradient(logits, agent_qs):
    policy = torch.softmax(logits, -1)
    return policy * (agent_qs - (policy * agent_qs).sum(-1, keepdim=True))


def slope_and_vote(mixer, agent_qs, logits):
    """E_π[∂f/∂Q_a] and E_π[sgn ∂f/∂Q_a] for two agents, by autograd over the U × U joint actions: [G, N] each."""
    n_actions = agent_qs.shape[-1]
    policy = torch.softmax(logits, -1)  # [G, N, U]
    chosen = torch.stack(torch.broadcast_tensors(agent_qs[:, 0, :, None], agent_qs[:, 1, None, :]), -1)  # [G, U, U, N]
    probs = policy[:, 0, :, None] * policy[:, 1, None, :]  # [G, U, U]
    leaf = chosen.reshape(len(agent_qs), n_actions ** 2, 2).requires_grad_(True)  # [G, J, N]
    (slopes,) = torch.autograd.grad(mixer(leaf, None).sum(), leaf)
    weights = probs.reshape(len(agent_qs), -1, 1)  # [G, J, 1]
    return (weights * slopes).sum(1), (weights * slopes.sign()).sum(1)


def step_without_sign(mixer, agent_qs, logits):
    return own_gradient(logits, agent_qs)


def step_with_slope(mixer, agent_qs, logits):
    mean_slope, _ = slope_and_vote(mixer, agent_qs, logits)
    return mean_slope[..., None] * own_gradient(logits, agent_qs)


def step_exact_gradient(mixer, agent_qs, logits):
    return th.exact_agent_gradients(mixer, agent_qs, logits)


def step_flipped(mixer, agent_qs, logits):
    _, vote = slope_and_vote(mixer, agent_qs, logits)
    return -vote[..., None] * own_gradient(logits, agent_qs)


def step_right(mixer, agent_qs, logits):
    _, vote = slope_and_vote(mixer, agent_qs, logits)
    return vote[..., None] * own_gradient(logits, agent_qs)


def hidden_width(n_agents):
    return 32 * (n_agents + 4) - n_agents


def parameters_without_biases(n_agents, state_dim):
    return (n_agents + state_dim) * hidden_width(n_agents) + hidden_width(n_agents)


def parameters_with_width_32_a_plus_4(n_agents, state_dim):
    width = 32 * (n_agents + 4)
    return (n_agents + state_dim + 1) * width + width + 1


def parameters_of_state_only(n_agents, state_dim):
    return (state_dim + 1) * hidden_width(n_agents) + hidden_width(n_agents) + 1


WRONG = [
    ("order_flips", flips_with_ties, "a tie is no contradiction"),
    ("order_flips", flips_upper_triangle, "symmetric"),
    ("order_flips", flips_of_columns, "you compared columns"),
    ("policy_gradient_eq2", eq2_without_baseline, "normalisation"),
    ("policy_gradient_eq2", eq2_without_visitation, "visitation d(s)"),
    ("policy_gradient_eq2", eq2_without_policy_factor, "factor π(u|s)"),
    ("policy_gradient_eq2", lambda d, q, v: -eq2_without_baseline(d, q - (torch.softmax(d, -1) * q).sum(-1, keepdim=True), v),
     "opposite sign"),
    ("sign_trick_step", step_without_sign, "the sign is missing"),
    ("sign_trick_step", step_with_slope, "not the slope itself"),
    ("sign_trick_step", step_exact_gradient, "exact gradient of E_π[Q_tot]"),
    ("sign_trick_step", step_flipped, "flipped"),
    ("nqmix_mixer_parameters", parameters_without_biases, "biases"),
    ("nqmix_mixer_parameters", parameters_with_width_32_a_plus_4, "hidden width"),
    ("nqmix_mixer_parameters", parameters_of_state_only, "reads the A chosen Q_a"),
    ("nqmix_mixer_parameters", lambda a, s: "283", "you count 283"),
]


@pytest.mark.parametrize("name", list(exercises_theory.CHECKS))
def test_the_kits_reference_passes_the_check(name):
    assert exercises_theory.CHECKS[name](exercises_theory.REFERENCES[name]) is None


@pytest.mark.parametrize("name", list(exercises_theory.CHECKS))
def test_calling_the_kits_implementation_is_not_an_answer(name):
    message = ex.verdict(name, lambda *args: exercises_theory.REFERENCES[name](*args))
    assert message.startswith("not yet: write it yourself"), message


@pytest.mark.parametrize("name, answer", [("order_flips", flips), ("sign_trick_step", step_right)])
def test_an_answer_written_without_the_kit_passes(name, answer):
    assert ex.verdict(name, answer) == "pass"


@pytest.mark.parametrize("name", list(exercises_theory.CHECKS))
@pytest.mark.parametrize("student", [lambda *a: 1 / 0, lambda *a: "an answer", lambda *a: (1, 2, 3),
                                     lambda *a: torch.zeros(2)], ids=["raises", "a string", "a triple", "a vector"])
def test_a_check_never_raises(name, student):
    message = ex.verdict(name, student)
    assert message.startswith("not yet: ") and "\n" not in message


@pytest.mark.parametrize("name", list(exercises_theory.CHECKS))
def test_a_blank_body_is_not_yet(name):
    assert ex.verdict(name, lambda *args: None) == f"not yet: {BLANK}"


@pytest.mark.parametrize("name, wrong, hint", WRONG, ids=[f"{n}-{getattr(w, '__name__', 'lambda')}" for n, w, _ in WRONG])
def test_a_wrong_implementation_gets_the_hint_that_names_its_mistake(name, wrong, hint):
    message = ex.verdict(name, wrong)
    assert message.startswith("not yet: ") and hint in message, message


def test_every_exercise_has_a_wrong_implementation_above_and_a_forbidden_list():
    assert {name for name, _, _ in WRONG} == set(exercises_theory.CHECKS) == set(exercises_theory.FORBIDDEN)
    assert set(exercises_theory.REFERENCES) == set(exercises_theory.CHECKS) == set(NOTEBOOK_OF)


def test_the_sign_trick_step_is_the_vote_times_the_agents_own_gradient():
    mixer = th.random_mlp_mixer(2, seed=1)
    g = torch.Generator().manual_seed(2)
    agent_qs, logits = torch.randn(2, 30, 2, 3, generator=g, dtype=torch.float64)
    _, vote = th.mixer_slope_averages(mixer, agent_qs, logits)
    assert torch.allclose(th.sign_trick_directions(mixer, agent_qs, logits), vote[..., None] * own_gradient(logits, agent_qs))
    assert torch.allclose(step_right(mixer, agent_qs, logits), vote[..., None] * own_gradient(logits, agent_qs))


@pytest.mark.parametrize("name", list(NOTEBOOK_OF))
def test_the_instructor_notebooks_check_cell_printed_pass(name):
    notebook = nbformat.read(ROOT / "notebooks" / f"{NOTEBOOK_OF[name]}.ipynb", as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code" and f'ex.check("{name}"' in c.source]
    assert len(cells) == 1
    printed = "".join(o.get("text", "") for o in cells[0].outputs if o.output_type == "stream").strip()
    assert printed == "pass"
