"""Exploration diagnostics, the entropy bonus, the exploration ablations and COMA's pymarl policy, by hand."""
import math

import pytest
import torch

from nqmix_core import action_selection, diagnostics, losses
from nqmix_core.registry import PRESETS, algo_config
from nqmix_core.registry import make_learner
from nqmix_core.train import TrainTracker
from tests.helpers import INFO, random_batch


def test_policy_entropy_by_hand_and_zero_for_unavailable_actions():
    policy = torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    want = torch.tensor([math.log(2), 0.0, 1.5 * math.log(2)])
    assert torch.allclose(losses.policy_entropy(policy), want, atol=1e-6)


def test_entropy_gradient_is_finite_with_zero_probabilities():
    logits = torch.tensor([[0.3, -0.2, 1.0]], requires_grad=True)
    avail = torch.tensor([[True, True, False]])
    policy = torch.softmax(logits.masked_fill(~avail, -1e10), -1)
    losses.policy_entropy(policy).sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[0, 2] == 0


def test_decision_mask_skips_padding_and_agents_with_one_action():
    avail = torch.tensor([[[[True, True], [False, True]], [[True, True], [True, True]]]])  # [1, 2, 2, 2]
    filled = torch.tensor([[1.0, 0.0]])
    assert torch.equal(losses.decision_mask(avail, filled), torch.tensor([[[1.0, 0.0], [0.0, 0.0]]]))


def test_policy_diagnostics_by_hand():
    # one episode, two steps, two agents, three actions; all steps real, all actions available
    policy = torch.tensor([[[[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]],
                            [[0.2, 0.7, 0.1], [0.0, 0.0, 1.0]]]])
    avail = torch.ones(1, 2, 2, 3, dtype=torch.bool)
    actions = torch.tensor([[[1, 0], [2, 2]]])  # argmax: agent0 t0 is a tie -> 0; t1 -> 1; agent1 -> 0, 2
    sums = diagnostics.policy_diagnostics(policy, actions, avail, torch.ones(1, 2))
    mean = {k: float(s / w) for k, (s, w) in sums.items()}
    h = losses.policy_entropy(torch.tensor([0.2, 0.7, 0.1])).item()
    assert mean["policy_entropy_agent0"] == pytest.approx((math.log(2) + h) / 2)
    assert mean["policy_entropy_agent1"] == pytest.approx(0.0, abs=1e-6)
    assert mean["policy_entropy"] == pytest.approx((math.log(2) + h) / 4)
    assert mean["not_argmax"] == pytest.approx(2 / 4)  # agent0 took 1 (argmax 0) and 2 (argmax 1)


def test_policy_diagnostics_count_decisions_per_agent_and_never_an_unavailable_argmax():
    """Three steps, two agents: a dead agent (one action) and padding are no decisions, so the agents decide
    at different steps; agent 0's argmax ignores its unavailable third action (policy 0 there)."""
    policy = torch.tensor([[[[0.6, 0.4, 0.0], [0.2, 0.3, 0.5]],    # t0: both decide; both take the argmax
                            [[0.1, 0.9, 0.0], [0.0, 0.0, 1.0]],    # t1: agent 0 takes 0 (argmax 1); agent 1 dead
                            [[0.0, 0.0, 1.0], [0.5, 0.25, 0.25]]]])  # t2: agent 0 dead; agent 1 takes its argmax
    avail = torch.tensor([[[[1, 1, 0], [1, 1, 1]], [[1, 1, 0], [0, 0, 1]], [[0, 0, 1], [1, 1, 1]]]], dtype=torch.bool)
    actions = torch.tensor([[[0, 2], [0, 2], [2, 0]]])
    sums = diagnostics.policy_diagnostics(policy, actions, avail, torch.ones(1, 3))
    h = [losses.policy_entropy(torch.tensor(p)).item() for p in ([0.6, 0.4], [0.1, 0.9], [0.2, 0.3, 0.5],
                                                                  [0.5, 0.25, 0.25])]
    assert {k: float(w) for k, (_, w) in sums.items()} == {"policy_entropy": 4.0, "policy_entropy_agent0": 2.0,
                                                          "policy_entropy_agent1": 2.0, "not_argmax": 4.0}
    mean = {k: float(s / w) for k, (s, w) in sums.items()}
    assert mean["policy_entropy_agent0"] == pytest.approx((h[0] + h[1]) / 2)
    assert mean["policy_entropy_agent1"] == pytest.approx((h[2] + h[3]) / 2)
    assert mean["policy_entropy"] == pytest.approx(sum(h) / 4)
    assert float(sums["not_argmax"][0]) == 1  # of 4 decisions, only agent 0's at t1


def test_sign_diagnostics_count_only_negative_slopes_of_deciding_agents():
    sign = torch.tensor([[[-1.0, 0.0, 1.0], [-1.0, -1.0, 1.0]]])  # [B=1, T=2, N=3]
    avail = torch.ones(1, 2, 3, 2, dtype=torch.bool)
    avail[0, 1, 2] = torch.tensor([False, True])  # agent 2 is dead at t1
    sums = diagnostics.sign_diagnostics(sign, avail, torch.ones(1, 2))
    counts = {k: (float(s), float(w)) for k, (s, w) in sums.items()}  # (negative, decisions)
    assert counts == {"sign_negative": (3, 5), "sign_negative_agent0": (2, 2), "sign_negative_agent1": (1, 2),
                      "sign_negative_agent2": (0, 1)}  # a zero slope is not negative


def test_a_zero_slope_shares_no_sign_with_its_neighbours():
    slopes = torch.tensor([[[0.5, 0.0], [-0.5, 0.0], [0.5, 0.25]]])  # [B=1, T=3, N=2]
    avail = torch.ones(1, 3, 2, 2, dtype=torch.bool)
    sums = diagnostics.mixer_diagnostics(slopes, torch.zeros(1, 3, 2, 2), avail, torch.ones(1, 3))
    assert [float(v) for v in sums["sign_agreement"]] == [1, 3]  # of three steps, only t2 agrees


def test_value_diagnostics_use_only_decided_episodes():
    q_tot = torch.tensor([[1.0, 1.0], [5.0, 5.0]])
    reward = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    terminated = torch.tensor([[False, True], [False, False]])  # episode 2 was cut by the time limit
    sums = diagnostics.value_diagnostics(q_tot, reward, terminated, torch.ones(2, 2), gamma=0.5)
    mean = {k: float(s / w) for k, (s, w) in sums.items()}
    assert mean["return"] == pytest.approx((0.5 + 1.0) / 2)  # G = [0.5, 1]
    assert mean["q_tot"] == 1.0
    assert mean["q_tot_minus_return"] == pytest.approx(1.0 - 0.75)


def test_tracker_weights_each_statistic_and_reports_nan_without_weight():
    tracker = TrainTracker()
    tracker.add_diagnostics({"x": (torch.tensor(3.0), torch.tensor(2.0)), "y": (torch.tensor(0.0), torch.tensor(0.0))})
    tracker.add_diagnostics({"x": (torch.tensor(1.0), torch.tensor(2.0)), "y": (torch.tensor(0.0), torch.tensor(0.0))})
    tracker.add_update({"critic_loss": torch.tensor(2.0)})
    tracker.add_update({"critic_loss": torch.tensor(4.0)})
    row = tracker.summary()
    assert row["train_diag_x"] == 1.0 and math.isnan(row["train_diag_y"]) and row["train_critic_loss"] == 3.0


@pytest.mark.parametrize("algo", ["nqmix", "nqmix-ent", "qmix", "coma"])
def test_rollout_diagnostics_are_finite_and_bounded(algo):
    torch.manual_seed(0)
    config = algo_config(algo, batch_size=3, buffer_size=3) if algo == "coma" else algo_config(algo)
    learner = make_learner(config, INFO, "cpu")
    sums = learner.rollout_diagnostics(random_batch())
    mean = {k: float(s / w) for k, (s, w) in sums.items() if float(w) > 0}
    assert all(math.isfinite(v) for v in mean.values())
    if algo != "qmix":
        assert 0 <= mean["not_argmax"] <= 1
        assert 0 <= mean["policy_entropy"] <= math.log(INFO.n_actions) + 1e-6
    assert ("sign_negative" in mean) == algo.startswith("nqmix")


def test_entropy_bonus_pushes_the_policy_towards_uniform():
    """With Q_a = 0 the paper's actor objective has no gradient; the bonus alone raises the entropy."""
    torch.manual_seed(0)
    policy_logits = torch.randn(2, 3, 2, 4, requires_grad=True)
    policy = torch.softmax(policy_logits, -1)
    decisions = torch.ones(2, 3, 2)
    bonus = losses.entropy_bonus(policy, decisions)
    (grad,) = torch.autograd.grad(bonus, policy_logits)
    stepped = torch.softmax(policy_logits + 0.1 * grad, -1)
    assert losses.policy_entropy(stepped).mean() > losses.policy_entropy(policy).mean()


def test_exploration_ablations_change_one_thing_each():
    paper = PRESETS["nqmix"]
    assert paper.epsilon_start == paper.epsilon_finish == 0 and paper.entropy_coef == 0 and paper.tau_per_time_step
    eps, ent = PRESETS["nqmix-eps"], PRESETS["nqmix-ent"]
    assert (eps.epsilon_start, eps.epsilon_finish, eps.epsilon_anneal_steps) == (0.5, 0.01, 100_000)  # COMA's
    assert eps.entropy_coef == 0 and ent.entropy_coef == 0.01 and ent.epsilon_start == 0
    for name in ("nqmix-eps", "nqmix-ent"):
        assert PRESETS[name].mixer == "nqmix" and PRESETS[name].learner == "actor-critic"


def test_coma_behaviour_policy_is_pymarls_by_hand():
    logits = torch.log(torch.tensor([0.5, 0.25, 0.25]))  # softmax over all three = [0.5, 0.25, 0.25]
    avail = torch.tensor([True, True, False])
    eps = 0.4
    mixed = torch.tensor([0.6 * 0.5 + 0.4 / 3, 0.6 * 0.25 + 0.4 / 3, 0.0])
    want = mixed / mixed.sum()
    got = action_selection.epsilon_softmax_then_mask(logits, avail, eps)
    assert torch.allclose(got, want, atol=1e-6)
    floored = action_selection.with_epsilon_floor(torch.softmax(logits.masked_fill(~avail, -1e10), -1), avail, eps)
    assert not torch.allclose(got, floored, atol=1e-3)  # the kit's old masked-first policy differs
    no_eps = action_selection.epsilon_softmax_then_mask(logits, avail, 0.0)
    assert torch.allclose(no_eps, torch.tensor([2 / 3, 1 / 3, 0.0]), atol=1e-6)
    nothing = action_selection.epsilon_softmax_then_mask(logits, torch.zeros(3, dtype=torch.bool), eps)
    assert torch.equal(nothing, torch.zeros(3))
