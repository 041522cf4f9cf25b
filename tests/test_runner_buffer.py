"""Matrix games, rollouts into episode batches, and the replay buffer."""
import pytest
import torch

from nqmix_core.buffer import EpisodeBuffer
from nqmix_core.envs.matrix import QTRAN_PAYOFF, MatrixGame, TwoStepGame
from nqmix_core.envs.two_peak import TwoPeakGame
from nqmix_core.errors import UserError
from nqmix_core.registry import make_env, make_learner
from nqmix_core.runner import rollout
from tests.helpers import INFO, ScriptedEnv, random_batch


def test_matrix_game_pays_the_payoff_entry_of_the_joint_action():
    env = MatrixGame(QTRAN_PAYOFF, n_envs=3)
    env.reset()
    result = env.step(torch.tensor([[0, 0], [0, 1], [2, 1]]))
    assert result.reward.tolist() == [8.0, -12.0, 0.0]
    assert result.terminated.all() and not result.timed_out.any()
    assert result.won.tolist() == [True, False, False]


def test_matrix_game_supports_three_agents():
    payoff = torch.arange(8.0).view(2, 2, 2)
    env = MatrixGame(payoff, n_envs=2)
    assert env.info.n_agents == 3 and env.info.n_actions == 2
    assert env.step(torch.tensor([[1, 0, 1], [1, 1, 1]])).reward.tolist() == [5.0, 7.0]


@pytest.mark.parametrize("payoff", [[[1.0, 2.0]], [[1.0, 2.0], [3.0]], [[float("nan"), 0], [0, 0]]])
def test_bad_payoffs_are_refused_with_a_sentence(payoff):
    with pytest.raises((UserError, ValueError)):
        MatrixGame(payoff)


def test_two_step_game_follows_the_qmix_paper():
    env = TwoStepGame(n_envs=4)
    first = env.reset()
    assert torch.equal(first.state, torch.tensor([[1.0, 0, 0]] * 4))
    step1 = env.step(torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]))
    assert step1.reward.tolist() == [0, 0, 0, 0] and not step1.terminated.any()
    assert step1.next.state.argmax(-1).tolist() == [1, 1, 2, 2]
    step2 = env.step(torch.tensor([[0, 1], [1, 1], [0, 1], [1, 1]]))
    assert step2.reward.tolist() == [7, 7, 1, 8] and step2.terminated.all()
    assert step2.won.tolist() == [False, False, False, True]  # only the optimum, 8, is a win


@pytest.mark.parametrize("name, steps", [("matrix:qtran", 1), ("matrix:two-step", 2), ("continuous:two-peak", 1)])
def test_a_small_games_sizes_are_those_of_its_observations_and_episodes(name, steps):
    env = make_env(name, 3)
    info, first = env.info, env.reset(0)
    assert first.obs.shape == (3, info.n_agents, info.obs_dim) and first.state.shape == (3, info.state_dim)
    assert first.avail_actions.shape == (3, info.n_agents, info.n_actions) and info.episode_limit == steps
    discrete = info.action_bounds is None
    for step in range(steps):  # every episode ends after exactly episode_limit steps
        actions = torch.ones(3, info.n_agents, dtype=torch.long) if discrete else torch.zeros(3, info.n_agents, 1)
        result = env.step(actions)
        assert result.next.obs.shape == first.obs.shape and result.terminated.all() == (step == steps - 1)
    assert MatrixGame().n_envs == TwoStepGame().n_envs == TwoPeakGame().n_envs == 1


def test_rollout_masks_each_copy_after_its_own_end():
    env = ScriptedEnv([2, 4, 3], limit=5)
    learner = make_learner("qmix", env.info)
    batch, stats = rollout(env, learner, "explore", 0, torch.Generator().manual_seed(0))
    assert stats.lengths.tolist() == [2, 4, 3]
    assert batch.filled.tolist() == [[1, 1, 0, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]
    assert batch.terminated.tolist() == [[False, True, False, False, False], [False] * 5,
                                         [False, False, True, False, False]]
    assert stats.returns.tolist() == [1 + 11, 1 + 11 + 21 + 31, 1 + 11 + 21]
    # the observation after each copy's last action stays in place for the bootstrap
    assert batch.state[:, :, 0].tolist() == [[0, 1, 2, 0, 0, 0], [0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 0, 0]]


def test_buffer_sample_is_cut_to_the_longest_sampled_episode():
    buffer = EpisodeBuffer(capacity=4, info=INFO, device="cpu")
    batch = random_batch(lengths=(2, 3, 2))
    buffer.insert(batch, torch.tensor([2, 3, 2]))
    sample = buffer.sample(3, torch.Generator().manual_seed(0))
    assert sample.max_steps == 3 and sample.obs.shape[1] == 4
    short = EpisodeBuffer(capacity=4, info=INFO, device="cpu")
    short.insert(random_batch(lengths=(2, 1)), torch.tensor([2, 1]))
    assert short.sample(2).max_steps == 2


def test_buffer_wraps_around_and_restores_exactly():
    buffer = EpisodeBuffer(capacity=4, info=INFO, device="cpu")
    for seed in range(3):
        buffer.insert(random_batch(lengths=(6, 4), seed=seed), torch.tensor([6, 4]))
    assert len(buffer) == 4 and buffer.next_index == 2
    latest = random_batch(lengths=(6, 4), seed=2)
    assert torch.equal(buffer.storage.obs[1], latest.obs[1])
    clone = EpisodeBuffer(capacity=4, info=INFO, device="cpu")
    clone.load_state_dict(buffer.state_dict())
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(buffer.sample(3, g1).obs, clone.sample(3, g2).obs)


def test_buffer_checkpoint_holds_only_the_stored_episodes_and_steps():
    buffer = EpisodeBuffer(capacity=50, info=INFO, device="cpu")
    buffer.insert(random_batch(lengths=(2, 3), seed=1), torch.tensor([2, 3]))
    state = buffer.state_dict()
    assert state["obs"].shape[:2] == (2, 4) and state["reward"].shape[:2] == (2, 4)  # 2 episodes, 3 steps + 1
    clone = EpisodeBuffer(capacity=50, info=INFO, device="cpu")
    clone.load_state_dict(state)
    for name in ("obs", "state", "avail_actions", "actions", "reward", "terminated", "filled"):
        assert torch.equal(getattr(clone.storage, name), getattr(buffer.storage, name)), name
    assert torch.equal(clone.lengths, buffer.lengths) and (clone.next_index, len(clone)) == (2, 2)


def test_buffer_storage_grows_as_episodes_arrive_and_behaves_like_a_full_one(monkeypatch):
    import nqmix_core.buffer as buffer_module
    full = EpisodeBuffer(capacity=7, info=INFO, device="cpu")  # allocated at capacity from the start
    monkeypatch.setattr(buffer_module, "INITIAL_SLOTS", 2)
    growing = EpisodeBuffer(capacity=7, info=INFO, device="cpu")
    sizes = []
    for seed in range(5):  # 10 episodes into 7 slots: grows 2 -> 4 -> 7, then wraps
        episodes = random_batch(lengths=(6, 4), seed=seed)
        for buffer in (full, growing):
            buffer.insert(episodes, torch.tensor([6, 4]))
        sizes.append(growing.storage.n_episodes)
    assert sizes == [2, 4, 7, 7, 7] and full.storage.n_episodes == 7
    for name in ("obs", "actions", "reward", "filled"):
        assert torch.equal(getattr(growing.storage, name), getattr(full.storage, name)), name
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(growing.sample(4, g1).obs, full.sample(4, g2).obs)
    restored = EpisodeBuffer(capacity=7, info=INFO, device="cpu")
    restored.load_state_dict(growing.state_dict())
    assert restored.storage.n_episodes == 7 and torch.equal(restored.storage.obs, full.storage.obs)


def test_unknown_environment_name_lists_what_exists():
    with pytest.raises(UserError, match="matrix:qtran"):
        make_env("matrix:nope", 1)


def test_one_stored_episode_takes_the_bytes_counted_by_hand():
    import nqmix_core.buffer as buffer_module
    # INFO: N=3, O=5, S=7, U=4, T=6. obs 7·3·5 floats, state 7·7 floats, avail 7·3·4 bools, actions 6·3 int64,
    # reward 6 floats, terminated 6 bools, filled 6 floats, plus the 8-byte length
    by_hand = 4 * 7 * 3 * 5 + 4 * 7 * 7 + 7 * 3 * 4 + 8 * 6 * 3 + 4 * 6 + 6 + 4 * 6 + 8
    assert buffer_module.episode_bytes(INFO) == by_hand == 906


def test_a_replay_larger_than_memory_is_refused_with_the_sizes_and_a_size_that_fits(monkeypatch):
    import os

    import nqmix_core.buffer as buffer_module
    assert buffer_module.memory_bytes("cpu") == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert buffer_module.memory_bytes("meta") is None  # unknown: nothing is refused
    monkeypatch.setattr(buffer_module, "memory_bytes", lambda device: 906 * 1000)
    buffer_module.check_fits(1000, INFO, "cpu")  # fills the memory exactly: allowed
    with pytest.raises(UserError, match=r"--set buffer_size=500\)"):  # half of what fits, for everything else
        buffer_module.check_fits(1001, INFO, "cpu")
    monkeypatch.setattr(buffer_module, "memory_bytes", lambda device: 906)  # not even two episodes fit
    with pytest.raises(UserError, match=r"--set buffer_size=1\)"):
        buffer_module.check_fits(2, INFO, "cpu")
    monkeypatch.setattr(buffer_module, "memory_bytes", lambda device: 2 * 2**30)  # a machine with 2 GiB
    capacity = 3 * 2**30 // 906 + 1  # a little over 3 GiB
    with pytest.raises(UserError) as refused:
        EpisodeBuffer(capacity, INFO, "cpu")
    assert str(refused.value) == (f"A replay of {capacity} episodes needs about 3 GiB when full, more than the 2 GiB "
                                  f"of cpu; lower buffer_size (e.g. --set buffer_size={2 * 2**30 // 906 // 2}).")


def test_sampling_waits_for_one_batch_of_episodes():
    buffer = EpisodeBuffer(capacity=8, info=INFO, device="cpu")
    buffer.insert(random_batch(lengths=(6, 4, 2)), torch.tensor([6, 4, 2]))
    assert buffer.can_sample(3) and not buffer.can_sample(4)
