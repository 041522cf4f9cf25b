"""The mechanism study's new math (issue 22): the mixer-aware actor and the mixing diagnostics, by hand and autograd."""
from __future__ import annotations

import pytest
import torch

from nqmix_core import diagnostics, losses
from nqmix_core.action_selection import masked_softmax
from tests.helpers import product_mixer



def test_counterfactual_q_tot_by_hand():
    agent_qs = torch.tensor([[[1.0, 2.0, -1.0], [3.0, 0.5, 4.0]]])  # [1, N=2, U=3]
    chosen = torch.tensor([[2.0, 4.0]])  # agent 0 took action 1 (Q = 2), agent 1 action 2 (Q = 4)
    state = torch.tensor([[10.0]])
    scores = losses.counterfactual_q_tot(product_mixer, chosen, agent_qs, state)  # [1, 2, 3]
    # agent 0's action u with agent 1 kept at Q = 4: 4·Q_0(u) + 10; agent 1's u with agent 0 at 2: 2·Q_1(u) + 10
    expected = torch.tensor([[[14.0, 18.0, 6.0], [16.0, 11.0, 18.0]]])
    assert torch.equal(scores, expected)


def test_mixer_aware_actor_loss_by_hand():
    policy = torch.tensor([[[[0.25, 0.75, 0.0], [0.5, 0.5, 0.0]]]])  # [B=1, T=1, N=2, U=3]
    scores = torch.tensor([[[[14.0, 18.0, 99.0], [16.0, 11.0, 99.0]]]], requires_grad=True)  # as if a mixer made them
    avail = torch.tensor([[[[True, True, False], [True, True, False]]]])
    loss, info = losses.mixer_aware_actor_loss(policy.requires_grad_(True), scores, avail, torch.ones(1), torch.ones(1, 1))
    # agent 0: 0.25·14 + 0.75·18 = 17; agent 1: 0.5·16 + 0.5·11 = 13.5; one real step -> −30.5
    assert loss.item() == pytest.approx(-30.5) and info["actor_objective"].item() == pytest.approx(30.5)
    loss.backward()
    assert scores.grad is None and torch.equal(policy.grad[0, 0, 0], -scores[0, 0, 0].detach() * avail[0, 0, 0])


def test_under_a_monotone_linear_mixer_the_mixer_aware_actor_is_the_sign_rule_scaled():
    torch.manual_seed(0)
    b, t, n, u = 3, 4, 3, 5
    weights = torch.tensor([0.5, 2.0, 1.25])  # w_a > 0: ∂Q_tot/∂Q_a = w_a, so every sign is +1

    def linear_mixer(qs, state):
        return (qs * weights).sum(-1) + state.sum(-1)
    agent_qs, state = torch.randn(b, t, n, u), torch.randn(b, t, 7)
    avail = torch.rand(b, t, n, u) > 0.3
    avail[..., 0] = True
    actions = torch.multinomial(avail.float().view(-1, u), 1).view(b, t, n)
    chosen = losses.chosen_action_values(agent_qs, actions)
    discount, mask = losses.discount_weights(t, 0.9, "cpu"), torch.tensor([[1.0] * 4, [1.0] * 3 + [0.0], [1.0] * 4])
    logits = torch.randn(b, t, n, u, requires_grad=True)

    policy = masked_softmax(logits, avail)
    scores = losses.counterfactual_q_tot(linear_mixer, chosen, agent_qs, state)
    (grad_mixer,) = torch.autograd.grad(losses.mixer_aware_actor_loss(policy, scores, avail, discount, mask)[0], logits)
    sign = losses.mixer_gradient_sign(linear_mixer, chosen, state)
    assert torch.equal(sign, torch.ones(b, t, n))
    policy = masked_softmax(logits, avail)
    (grad_sign,) = torch.autograd.grad(losses.actor_loss(policy, agent_qs, sign, discount, mask)[0], logits)
    assert grad_sign.abs().sum() > 0
    torch.testing.assert_close(grad_mixer, grad_sign * weights.view(1, 1, n, 1), rtol=1e-5, atol=1e-6)


def test_the_mixer_aware_actor_reads_the_mixer_where_the_sign_rule_cannot():
    """A product mixer at a point where agent 0's slope is 0: the sign rule gives no step, the mixer-aware one does."""
    agent_qs = torch.tensor([[[[1.0, 3.0], [0.0, 2.0]]]])  # [1, 1, 2, 2]
    chosen = torch.tensor([[[1.0, 0.0]]])  # agent 1 took the Q = 0 action: ∂(Q_0·Q_1)/∂Q_0 = 0
    state = torch.zeros(1, 1, 1)
    assert losses.mixer_gradient_sign(product_mixer, chosen, state)[0, 0, 0] == 0
    scores = losses.counterfactual_q_tot(product_mixer, chosen, agent_qs, state)
    assert torch.equal(scores[0, 0, 1], torch.tensor([0.0, 2.0]))  # agent 1: Q_0 = 1 times Q_1(u)


def test_mixer_diagnostics_by_hand():
    slopes = torch.tensor([[[0.5, 0.2, -0.1], [0.3, 0.1, 0.4], [-0.2, -0.3, 0.9]]])  # [B=1, T=3, N=3]
    avail = torch.ones(1, 3, 3, 4, dtype=torch.bool)
    avail[0, 2, 2] = torch.tensor([False, False, False, True])  # agent 2 is dead at t = 2: not deciding
    agent_qs = torch.tensor([1.0, 4.0, 2.0, 3.5]).expand(1, 3, 3, 4)  # gap 4 − 3.5 = 0.5 where all available
    sums = diagnostics.mixer_diagnostics(slopes, agent_qs, avail, torch.ones(1, 3))
    mean = {k: float(v[0] / v[1]) for k, v in sums.items()}
    assert mean["sign_agreement"] == pytest.approx(2 / 3)  # t=0 mixed; t=1 all +; t=2 the two deciding agents −
    assert mean["slope_abs"] == pytest.approx((0.8 + 0.8 + 0.5) / 8)
    assert mean["action_gap"] == pytest.approx(0.5)
