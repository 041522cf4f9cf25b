"""The behaviour-policy slider of notebook 02a shows the bias of Eq. 3 as nqmix_core.teaching.theory computes it."""
import pytest
import torch

from nqmix_core.teaching import theory as th
from nqmix_core.teaching.widgets import BehaviourSlider
from nqmix_core.teaching.widgets.behaviour import behaviour_logits

D = torch.float64


@pytest.fixture(scope="module")
def problem():
    """Notebook 02a's MDP, target logits θ and behaviour logits θ_b."""
    mdp = th.random_mdp(5, 3, 0.9, seed=0)
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(5, 3, generator=gen, dtype=D)
    theta_b = 2.0 * torch.randn(5, 3, generator=gen, dtype=D)
    return mdp, theta, theta_b


def direct_row(mdp, theta, theta_b, lam: float) -> dict[str, float]:
    """Eq. 3 against ∇J at b_λ, straight from nqmix_core.teaching.theory.tabular."""
    policy = th.softmax_policy(theta)
    _, q_values = th.value_functions(mdp, policy)
    d_pi = th.discounted_visitation(mdp, policy)
    d_b = th.discounted_visitation(mdp, th.softmax_policy((1 - lam) * theta + lam * theta_b))
    eq3, truth = th.policy_gradient_sum(theta, q_values, d_b), th.exact_gradient(mdp, theta)
    return {"relative error": th.relative_error(eq3, truth).item(),
            "cosine to ∇J": th.cosine_similarity(eq3, truth).item(),
            "TV(d^b, d^π)": (0.5 * (1 - mdp.gamma) * (d_b - d_pi).abs().sum()).item()}


def printed(slider: BehaviourSlider) -> str:
    return "".join(out["text"] for out in slider.output.outputs if out.get("output_type") == "stream")


def test_on_policy_eq3_is_the_gradient(problem):
    slider = BehaviourSlider(*problem)
    row = slider.update(0.0)
    assert row["relative error"] < 1e-12
    assert abs(row["cosine to ∇J"] - 1) < 1e-12 and row["TV(d^b, d^π)"] < 1e-12
    assert "relative error ‖g − ∇J‖/‖∇J‖ = 0.000" in printed(slider)
    assert any("image/png" in out.get("data", {}) for out in slider.output.outputs)  # the bar chart


def test_the_error_grows_with_lambda_and_matches_the_theory(problem):
    slider = BehaviourSlider(*problem)
    lams = [0.0, 0.25, 0.5, 0.75, 1.0]
    rows = [slider.update(lam) for lam in lams]
    for lam, row in zip(lams, rows):
        direct = direct_row(*problem, lam)
        for key, value in direct.items():
            assert row[key] == pytest.approx(value, rel=1e-12, abs=1e-14), (lam, key)
        assert slider.measure(lam) == row
    errors = [row["relative error"] for row in rows]
    assert all(a < b for a, b in zip(errors, errors[1:]))
    assert errors[-1] > 0.2
    assert torch.equal(behaviour_logits(problem[1], problem[2], 1.0), problem[2])


def test_moving_the_slider_updates_the_output(problem):
    slider = BehaviourSlider(*problem)
    assert "λ = 0.00" in printed(slider)
    slider.slider.value = 0.6
    assert slider.last_row["λ"] == pytest.approx(0.6)
    assert "λ = 0.60" in printed(slider) and "λ = 0.00" not in printed(slider)
    assert slider.last_row["relative error"] > 0.01
    assert len(slider.output.outputs) == 2  # one line of text and one figure, not an ever-growing list
