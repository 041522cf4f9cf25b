"""The pure loss functions against hand computations and autograd."""
import math

import pytest
import torch

from nqmix_core import losses
from nqmix_core.action_selection import masked_softmax
from nqmix_core.networks import Actors
from tests.helpers import product_mixer


def test_state_value_puts_zero_weight_on_unavailable_actions():
    policy = torch.tensor([[0.2, 0.3, 0.5]])  # deliberately has mass on the unavailable action
    qs = torch.tensor([[1.0, 2.0, 1000.0]])
    avail = torch.tensor([[True, True, False]])
    assert torch.allclose(losses.state_values(policy, qs, avail), torch.tensor([0.2 * 1 + 0.3 * 2]))


def test_masked_softmax_is_exactly_zero_on_unavailable_and_uniform_when_none_available():
    logits = torch.tensor([[5.0, -1.0, 30.0], [1.0, 2.0, 3.0]])
    avail = torch.tensor([[True, True, False], [False, False, False]])
    pi = masked_softmax(logits, avail)
    assert pi[0, 2] == 0.0
    assert torch.allclose(pi[0, :2], torch.softmax(logits[0, :2], -1))
    assert torch.allclose(pi[1], torch.full((3,), 1 / 3))  # padding: finite, not NaN


def test_td_targets_bootstrap_only_when_not_terminated():
    reward = torch.tensor([[1.0, 2.0, 3.0]])
    terminated = torch.tensor([[False, False, True]])
    next_v = torch.tensor([[10.0, 20.0, float("nan")]])  # garbage after the end must not leak
    y = losses.td_targets(reward, terminated, next_v, gamma=0.5)
    assert torch.equal(y, torch.tensor([[1 + 5.0, 2 + 10.0, 3.0]]))


def test_td_targets_and_loss_give_each_independent_agent_the_team_reward():
    """IQL and IDDPG keep one value per agent [B, T, N]: each agent's target is r_t + γ·its own next value."""
    reward = torch.tensor([[1.0, 2.0]])
    terminated = torch.tensor([[False, True]])
    next_v = torch.tensor([[[10.0, -4.0], [float("nan"), 7.0]]])  # [B=1, T=2, N=2]
    y = losses.td_targets(reward, terminated, next_v, gamma=0.5)
    assert torch.equal(y, torch.tensor([[[6.0, -1.0], [2.0, 2.0]]]))
    q = torch.tensor([[[5.0, 0.0], [2.0, 9.0]]])
    loss, info = losses.masked_td_loss(q, y, torch.tensor([[1.0, 0.0]]))  # the second step is padding
    assert loss.item() == (1.0 + 1.0) / 2 and info["td_error_abs"].item() == 1.0  # two agent-steps count


def test_masked_td_loss_averages_over_real_steps_only():
    q_tot = torch.tensor([[1.0, 2.0, 99.0]], requires_grad=True)
    targets = torch.tensor([[2.0, 0.0, -99.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    loss, info = losses.masked_td_loss(q_tot, targets, mask)
    assert torch.isclose(loss, torch.tensor((1.0 + 4.0) / 2))
    loss.backward()
    assert torch.allclose(q_tot.grad, torch.tensor([[2 * (1 - 2) / 2, 2 * (2 - 0) / 2, 0.0]]))
    assert torch.isclose(info["td_error_abs"], torch.tensor(1.5))


def test_greedy_next_values_double_q_uses_online_argmax_among_available():
    target = torch.tensor([[[1.0, 5.0, 9.0]]])
    online = torch.tensor([[[0.0, 3.0, 100.0]]])
    avail = torch.tensor([[[True, True, False]]])
    assert losses.greedy_next_values(target, online, avail).item() == 5.0  # online picks action 1
    assert losses.greedy_next_values(target, None, avail).item() == 5.0
    avail_all = torch.ones_like(avail)
    assert losses.greedy_next_values(target, online, avail_all).item() == 9.0


def test_discount_weights_are_powers_of_gamma():
    assert torch.allclose(losses.discount_weights(4, 0.9, "cpu"), torch.tensor([1, 0.9, 0.81, 0.729]))


def tiny_case(seed=0):
    g = torch.Generator().manual_seed(seed)
    b, t, n, u = 2, 3, 2, 4
    logits = torch.randn(b, t, n, u, generator=g, requires_grad=True)
    qs = torch.randn(b, t, n, u, generator=g) * 3
    avail = torch.rand(b, t, n, u, generator=g) > 0.3
    avail[..., 0] = True
    sign = torch.where(torch.rand(b, t, n, generator=g) > 0.5, 1.0, -1.0)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    return logits, qs, avail, sign, mask


def test_actor_loss_gradient_equals_eq13_by_hand():
    logits, qs, avail, sign, mask = tiny_case()
    gamma = 0.9
    discount = losses.discount_weights(3, gamma, "cpu")
    policy = masked_softmax(logits, avail)
    loss, _ = losses.actor_loss(policy, qs, sign, discount, mask)
    loss.backward()
    # Softmax: Σ_u ∂π(u)/∂z_k · Q(u) = π_k·(Q_k − Σ_u π(u)Q(u)); Eq. 13 ascends I·sign times that.
    pi = policy.detach()
    v = (pi * qs).sum(-1, keepdim=True)
    ascent = pi * (qs - v) * (discount.view(1, -1, 1, 1) * sign.unsqueeze(-1) * mask.view(2, 3, 1, 1))
    expected = -ascent / mask.sum()
    assert torch.allclose(logits.grad, expected, atol=1e-6)
    assert (logits.grad[1, 1:] == 0).all()  # padded steps give nothing


def test_actor_loss_gradient_on_actor_parameters_matches_sum_over_actions():
    torch.manual_seed(0)
    n, h, u = 2, 5, 3
    actors = Actors(n, h, u, hidden_dim=7)
    hidden = torch.randn(1, 1, n, h)
    avail = torch.tensor([[[[True, True, False], [True, True, True]]]])
    qs = torch.randn(1, 1, n, u)
    sign = torch.tensor([[[1.0, -1.0]]])
    loss, _ = losses.actor_loss(actors(hidden, avail), qs, sign, torch.ones(1), torch.ones(1, 1))
    grads = torch.autograd.grad(loss, list(actors.parameters()))
    # By hand: −Σ_a sign_a Σ_u Q_a(u) ∇θ π_a(u), each ∇θ π_a(u) from its own backward pass.
    expected = [torch.zeros_like(p) for p in actors.parameters()]
    for a in range(n):
        for action in range(u):
            pi_au = actors(hidden, avail)[0, 0, a, action]
            for acc, g in zip(expected, torch.autograd.grad(pi_au, list(actors.parameters()))):
                acc -= sign[0, 0, a] * qs[0, 0, a, action] * g
    for got, want in zip(grads, expected):
        assert torch.allclose(got, want, atol=1e-6)


def test_each_actor_only_gets_its_own_agents_gradient():
    torch.manual_seed(0)
    actors = Actors(3, 4, 2)
    hidden = torch.randn(1, 1, 3, 4)
    avail = torch.ones(1, 1, 3, 2, dtype=torch.bool)
    qs = torch.zeros(1, 1, 3, 2)
    qs[..., 1, :] = torch.tensor([0.0, 1.0])  # only agent 1 has a non-constant Q
    loss, _ = losses.actor_loss(actors(hidden, avail), qs, torch.ones(1, 1, 3), torch.ones(1), torch.ones(1, 1))
    loss.backward()
    w = actors.fc2.weight.grad  # [N, in, out]
    assert w[0].abs().sum() == 0 and w[2].abs().sum() == 0 and w[1].abs().sum() > 0


def test_actor_loss_info_reports_negative_sign_fraction():
    logits, qs, avail, sign, mask = tiny_case(3)
    _, info = losses.actor_loss(masked_softmax(logits, avail), qs, sign, torch.ones(3), mask)
    real = mask.unsqueeze(-1).expand_as(sign).bool()
    assert math.isclose(info["sign_negative_fraction"].item(), (sign[real] < 0).float().mean().item(), rel_tol=1e-6)


def test_masked_td_loss_moves_q_tot_only_and_reports_its_means_by_hand():
    q_tot = torch.tensor([[1.0, 3.0], [5.0, 99.0]], requires_grad=True)
    targets = torch.tensor([[2.0, 1.0], [9.0, -99.0]], requires_grad=True)  # as if a network made them
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    loss, info = losses.masked_td_loss(q_tot, targets, mask)
    # Three real steps, δ = y − Q_tot = 1, −2, 4.
    assert loss.item() == pytest.approx((1 + 4 + 16) / 3)
    assert info["td_error_abs"].item() == pytest.approx(7 / 3)
    assert info["q_tot_mean"].item() == pytest.approx(3.0) and info["target_mean"].item() == pytest.approx(4.0)
    loss.backward()
    assert targets.grad is None and q_tot.grad.abs().sum() > 0  # the targets are constants: the critic regresses


def test_masked_td_loss_of_a_single_real_step_is_its_squared_error():
    loss, info = losses.masked_td_loss(torch.tensor([[2.0, 7.0]]), torch.tensor([[5.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
    assert loss.item() == 9.0 and info["td_error_abs"].item() == 3.0 and info["q_tot_mean"].item() == 2.0


def test_actor_loss_moves_the_policy_only_and_reports_the_objective():
    logits, qs, avail, sign, mask = tiny_case()
    qs, sign = qs.clone().requires_grad_(True), sign.clone().requires_grad_(True)  # as if the critic made them
    loss, info = losses.actor_loss(masked_softmax(logits, avail), qs, sign, torch.ones(3), mask)
    loss.backward()
    assert qs.grad is None and sign.grad is None and logits.grad.abs().sum() > 0
    assert info["actor_objective"].item() == -loss.item()


def test_mixer_gradient_is_each_steps_own_partial_derivative_and_leaves_the_critic_alone():
    g = torch.Generator().manual_seed(0)
    critic = torch.nn.Linear(4, 2)
    agent_qs = critic(torch.randn(2, 3, 4, generator=g))  # [B, T, N]: a critic's output, part of its graph
    slopes = losses.mixer_gradient(product_mixer, agent_qs, torch.randn(2, 3, 1, generator=g))
    assert torch.equal(slopes, agent_qs.detach().flip(-1))  # [Q_2, Q_1] at each step: not summed, not averaged
    assert not slopes.requires_grad and critic.weight.grad is None
    stored = agent_qs.detach()  # a plain tensor, as replay holds them: the caller's tensor is left as it was
    losses.mixer_gradient(product_mixer, stored, torch.zeros(2, 3, 1))
    assert not stored.requires_grad


def test_entropy_bonus_is_the_mean_entropy_over_real_decisions_by_hand():
    policy = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.5, 0.5]]).view(1, 3, 1, 2)  # [B, T, N, U]
    assert losses.entropy_bonus(policy, torch.tensor([[[1.0], [1.0], [0.0]]])).item() == pytest.approx(math.log(2) / 2)
    assert losses.entropy_bonus(policy, torch.tensor([[[1.0], [0.0], [0.0]]])).item() == pytest.approx(math.log(2))


def test_a_zero_slope_is_not_counted_as_a_negative_sign():
    policy, qs = torch.full((1, 1, 4, 2), 0.5), torch.zeros(1, 1, 4, 2)
    sign = torch.tensor([[[-1.0, 0.0, 0.0, 1.0]]])  # a flat mixer (slope 0) is not a negative one
    _, info = losses.actor_loss(policy, qs, sign, torch.ones(1), torch.ones(1, 1))
    assert info["sign_negative_fraction"].item() == 0.25


def test_no_loss_returns_a_graph_in_its_info():
    """Training sums each update's info over many updates before a log row is written: an info value that kept
    its graph would keep every one of those updates' graphs alive."""
    from nqmix_core import continuous_losses
    logits, qs, avail, sign, mask = tiny_case()
    qs = qs.requires_grad_(True)  # as if a critic made them
    policy, q_tot = masked_softmax(logits, avail), qs.sum((-1, -2))  # [B, T, N, U], [B, T]
    actions = torch.randint(0, 4, (2, 3, 2), generator=torch.Generator().manual_seed(0))  # [B, T, N]
    infos = [losses.masked_td_loss(q_tot, q_tot * 2, mask)[1], losses.actor_loss(policy, qs, sign, torch.ones(3), mask)[1],
             losses.mixer_aware_actor_loss(policy, qs, avail, torch.ones(3), mask)[1],
             losses.coma_actor_loss(policy, qs, actions, mask)[1],
             continuous_losses.deterministic_actor_loss(logits, qs, sign, torch.ones(3), mask.unsqueeze(-1).expand(2, 3, 2))[1]]
    assert all(not value.requires_grad for info in infos for value in info.values())
