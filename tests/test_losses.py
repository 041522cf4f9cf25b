"""The pure loss functions against hand computations and autograd."""
import math

import torch

from nqmix_core import losses
from nqmix_core.action_selection import masked_softmax
from nqmix_core.networks import Actors


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
