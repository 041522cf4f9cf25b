"""Hand-computed checks of the measurement helpers in ``nqmix_core.teaching.analysis``."""
import math

import pytest
import torch

from nqmix_core import losses

from nqmix_core.teaching import analysis
from nqmix_core.networks.mixers import mixer_parameter_counts
from nqmix_core.buffer import EpisodeBuffer
from tests.helpers import INFO, random_batch


def test_discounted_returns_by_hand():
    # episode 0: 3 real steps, rewards 1, 2, 4; episode 1: 1 real step then padding (junk reward ignored)
    reward = torch.tensor([[1.0, 2.0, 4.0], [3.0, 9.0, 9.0]])
    filled = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    returns = losses.discounted_returns(reward, filled, gamma=0.5)
    # G_2 = 4, G_1 = 2 + 0.5·4 = 4, G_0 = 1 + 0.5·4 = 3; episode 1: G_0 = 3, padding 0
    assert torch.allclose(returns, torch.tensor([[3.0, 4.0, 4.0], [3.0, 0.0, 0.0]]))


def test_discounted_returns_gamma_one_is_reward_to_go():
    reward = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    returns = losses.discounted_returns(reward, torch.ones(1, 4), gamma=1.0)
    assert returns.tolist() == [[4.0, 3.0, 2.0, 1.0]]


def test_discounted_returns_of_one_step_episodes_are_their_rewards():
    """A matrix game's batch has T = 1: G_0 = r_0, for a real step, and 0 for a padded one."""
    returns = losses.discounted_returns(torch.tensor([[3.0], [-12.0], [5.0]]), torch.tensor([[1.0], [1.0], [0.0]]), 0.9)
    assert returns.tolist() == [[3.0], [-12.0], [0.0]]


def test_terminated_episodes_separates_time_outs():
    terminated = torch.tensor([[False, False, True], [False, False, False]])
    assert analysis.terminated_episodes(terminated).tolist() == [True, False]


def test_target_return_gap_by_hand():
    targets = torch.tensor([[2.0, 4.0, 100.0], [1.0, 1.0, 1.0]])
    returns = torch.tensor([[1.0, 1.0, 100.0], [0.0, 0.0, 0.0]])
    filled = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])  # the 100s sit on padding
    everything = analysis.target_return_gap(targets, returns, filled)
    # real steps: targets 2, 4, 1, 1, 1 (mean 9/5); returns 1, 1, 0, 0, 0 (mean 2/5)
    assert everything["steps"] == 5
    assert math.isclose(everything["target_mean"], 1.8, rel_tol=1e-6)
    assert math.isclose(everything["return_mean"], 0.4, rel_tol=1e-6)
    assert math.isclose(everything["gap"], 1.4, rel_tol=1e-6)
    first = analysis.target_return_gap(targets, returns, filled, torch.tensor([True, False]))
    assert first["steps"] == 2 and math.isclose(first["gap"], 3.0 - 1.0, rel_tol=1e-6)
    none = analysis.target_return_gap(targets, returns, filled, torch.tensor([False, False]))
    assert none["steps"] == 0 and math.isnan(none["gap"])


def test_recent_episodes_wraps_around_the_ring():
    buffer = EpisodeBuffer(capacity=4, info=INFO, device="cpu")
    first = random_batch(lengths=(6, 4, 2), seed=0)
    second = random_batch(lengths=(3, 5), seed=1)
    buffer.insert(first, torch.tensor([6, 4, 2]))
    buffer.insert(second, torch.tensor([3, 5]))  # slots 3 and 0: the ring wrapped
    recent = analysis.recent_episodes(buffer, 3)  # first's last episode, then second's two
    assert recent.max_steps == 5 and recent.obs.shape[1] == 6
    assert torch.equal(recent.reward[0], first.reward[2, :5])
    assert torch.equal(recent.reward[1:], second.reward[:, :5])
    assert torch.equal(recent.obs[2], second.obs[1, :6])
    with pytest.raises(ValueError):
        analysis.recent_episodes(buffer, 5)


def test_mixer_parameter_counts_by_hand():
    counts = mixer_parameter_counts(n_agents=3, state_dim=36)  # SMAX 3m: 12·(3+3)
    hidden = 32 * (3 + 4) - 3  # 221
    nqmix = (3 + 36) * hidden + hidden + hidden + 1  # Linear(A+S, H) + Linear(H, 1)
    qmix = ((36 * 64 + 64) + (64 * 3 * 32 + 3 * 32)  # hyper_w1: S -> 64 -> A·E
            + (36 * 64 + 64) + (64 * 32 + 32)  # hyper_w_final: S -> 64 -> E
            + (36 * 32 + 32)  # hyper_b1: S -> E
            + (36 * 32 + 32) + (32 + 1))  # hyper_v: S -> E -> 1
    assert (counts["nqmix_hidden"], counts["nqmix"], counts["qmix"]) == (hidden, nqmix, qmix) == (221, 9062, 15457)
    assert math.isclose(counts["ratio"], 9062 / 15457)


def test_shape_rows():
    rows = analysis.shape_rows({"q": ("[B, T]", torch.zeros(2, 3)), "u": ("[B]", torch.zeros(2, dtype=torch.long))})
    assert rows == [{"stage": "q", "axes": "[B, T]", "shape": "(2, 3)", "dtype": "float32"},
                    {"stage": "u", "axes": "[B]", "shape": "(2,)", "dtype": "int64"}]


def test_learner_targets_match_the_learners_own_methods():
    from nqmix_core.registry import make_learner

    batch = random_batch()
    torch.manual_seed(0)
    nqmix = make_learner("nqmix", INFO)
    _, _, target_qs, target_hidden = nqmix.unroll(batch)
    assert torch.equal(analysis.learner_targets(nqmix, batch),
                       nqmix.next_state_value_targets(batch, target_qs, target_hidden))
    qmix = make_learner("qmix", INFO)
    agent_qs, _, target_qs, _ = qmix.unroll(batch)
    assert torch.equal(analysis.learner_targets(qmix, batch), qmix.max_targets(batch, target_qs, agent_qs))


def test_greedy_target_is_at_least_the_state_value_target_through_a_monotone_mixer():
    from nqmix_core.registry import algo_config
    from nqmix_core.registry import make_learner

    batch = random_batch()
    torch.manual_seed(0)
    learner = make_learner(algo_config("nqmix", mixer="qmix"), INFO)  # actor-critic with QMIX's |W| mixer
    # max_u Q'_a ≥ Σ_u π'_a(u) Q'_a(u) for every agent, and the mixer is non-decreasing in each input
    gap = analysis.greedy_targets(learner, batch) - analysis.learner_targets(learner, batch)  # [B, T]
    assert (gap[batch.filled.bool()] >= -1e-6).all()
