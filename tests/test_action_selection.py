"""Exploration by hand: ε-greedy's rate and independence, the linear schedule's ends, the Gaussian noise's scale."""
from __future__ import annotations

import pytest
import torch

from nqmix_core import action_selection


def test_epsilon_greedy_explores_with_probability_epsilon_each_agent_on_its_own_draw():
    """Q prefers action 0; action 1 is the only other available one, action 2 never is. A random action is 1
    half the time, so P(action 1) = ε/2 for each agent, and both agents take it with P = (ε/2)² when
    their draws are independent (ε/4 if the agents explored together)."""
    n, eps = 20_000, 0.5
    qs = torch.tensor([1.0, 0.0, 5.0]).expand(n, 2, 3)
    avail = torch.tensor([True, True, False]).expand(n, 2, 3)
    actions = action_selection.epsilon_greedy(qs, avail, eps, torch.Generator().manual_seed(0))  # [n, 2]
    assert actions.shape == (n, 2) and set(actions.unique().tolist()) == {0, 1}
    ones = (actions == 1).float()
    assert ones.mean(0).tolist() == pytest.approx([eps / 2] * 2, abs=0.015)  # sd 0.003
    assert (ones[:, 0] * ones[:, 1]).mean().item() == pytest.approx((eps / 2) ** 2, abs=0.01)  # not ε/4 = 0.125
    greedy = action_selection.epsilon_greedy(qs, avail, 0.0, torch.Generator().manual_seed(0))
    assert (greedy == 0).all()


def test_the_linear_schedule_at_its_ends_and_with_no_annealing():
    assert action_selection.linear_schedule(0, 1.0, 0.05, 1) == 1.0  # one step of annealing: still start at t = 0
    assert action_selection.linear_schedule(1, 1.0, 0.05, 1) == pytest.approx(0.05)
    assert action_selection.linear_schedule(0, 1.0, 0.05, 0) == 0.05  # no annealing: the finish from the start
    assert action_selection.linear_schedule(30, 0.2, 0.6, 40) == pytest.approx(0.5)
    assert action_selection.linear_schedule(10**9, 0.2, 0.6, 40) == pytest.approx(0.6)


def test_gaussian_noise_is_a_fraction_of_the_half_width_and_clipped():
    """On [−1, 3] (half-width 2) a σ of 0.1 is 0.2 in action units; the draws are the generator's own normals."""
    actions = torch.full((50_000, 1), 1.0)
    noisy = action_selection.gaussian_exploration(actions, 0.1, (-1.0, 3.0), torch.Generator().manual_seed(3))
    normals = torch.randn(actions.shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(noisy, (1.0 + 0.2 * normals).clamp(-1.0, 3.0))
    assert noisy.std().item() == pytest.approx(0.2, rel=0.02)
    wide = action_selection.gaussian_exploration(actions, 10.0, (-1.0, 3.0), torch.Generator().manual_seed(3))
    assert wide.min() == -1.0 and wide.max() == 3.0
