"""One rollout written out: what the learner is shown at each step, what lands in the episode batch and the
statistics, on a scripted environment whose copies end at different steps (one cut by the time limit); and an
evaluation's average over exactly the episodes asked for."""
from __future__ import annotations

import pytest
import torch

from nqmix_core.runner import evaluate, rollout
from nqmix_core.specs import EnvInfo, Observation, StepResult

LENGTHS = [2, 4, 3]  # copy e plays LENGTHS[e] steps; copy 1 is cut by the time limit, the others end


class Scripted:
    """Observation and state of copy e at step t: t + 100·e (they go on changing after the copy's end, which the
    batch must not record). Reward 10·t + e for the step that leads to t. Copies 0 and 1 win on their last step;
    copy 0 keeps saying it won (and ended) after that, which the statistics must ignore."""

    def __init__(self, limit: int = 5) -> None:
        self.info = EnvInfo(n_agents=2, obs_dim=1, state_dim=1, n_actions=2, episode_limit=limit)
        self.n_envs, self.device, self.t = len(LENGTHS), torch.device("cpu"), 0
        self.lengths = torch.tensor(LENGTHS)

    def _obs(self) -> Observation:
        value = self.t + 100.0 * torch.arange(self.n_envs)  # [E]
        return Observation(obs=value.view(-1, 1, 1).expand(-1, 2, 1).clone(), state=value.view(-1, 1),
                           avail_actions=torch.ones(self.n_envs, 2, 2, dtype=torch.bool))

    def reset(self, seed=None) -> Observation:
        self.t = 0
        return self._obs()

    def step(self, actions: torch.Tensor) -> StepResult:
        self.t += 1
        ended = self.t >= self.lengths  # [E]
        timed_out = ended & (torch.arange(self.n_envs) == 1)
        won = (self.t == self.lengths) & (torch.arange(self.n_envs) < 2)
        won[0] |= bool(ended[0])  # copy 0 keeps claiming a win after its end
        return StepResult(next=self._obs(), reward=10.0 * self.t + torch.arange(self.n_envs).float(),
                          terminated=ended & ~timed_out, timed_out=timed_out, won=won)


class Recording:
    """Acts (obs + agent) mod 2 and counts steps in its hidden state; keeps what it was shown."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def initial_hidden(self, n_envs: int) -> torch.Tensor:
        return torch.zeros(n_envs, 2, 1)

    def act(self, obs, last_actions, hidden, mode, t_env, generator=None):
        actions = (obs.obs[..., 0].long() + torch.arange(2)) % 2  # [E, N]
        self.calls.append({"obs": obs.obs[..., 0].clone(), "last": last_actions.clone(), "hidden": hidden.clone(),
                           "mode": mode, "t_env": t_env, "generator": generator, "actions": actions})
        return actions, hidden + 1


def test_one_rollout_written_out():
    learner, generator, actives = Recording(), torch.Generator(), []
    batch, stats = rollout(Scripted(), learner, "stochastic", 123, generator,
                           on_step=lambda t, result, active: actives.append(active.tolist()))
    steps = max(LENGTHS)  # the loop stops once every copy is done
    assert len(learner.calls) == steps
    assert actives == [[True] * 3, [True] * 3, [False, True, True], [False, True, False]]
    for t, call in enumerate(learner.calls):
        assert (call["mode"], call["t_env"], call["generator"]) == ("stochastic", 123, generator)
        assert torch.equal(call["hidden"], torch.full((3, 2, 1), float(t)))  # the hidden state is carried on
        want_last = torch.full((3, 2), -1) if t == 0 else learner.calls[t - 1]["actions"]
        assert torch.equal(call["last"], want_last)
        assert torch.equal(call["obs"], (t + 100.0 * torch.arange(3)).view(-1, 1).expand(-1, 2))
        assert torch.equal(batch.actions[:, t], call["actions"])
    for e, length in enumerate(LENGTHS):
        real = torch.arange(5) < length  # [T]
        assert torch.equal(batch.filled[e], real.float())
        assert torch.equal(batch.reward[e], torch.where(real, 10.0 * torch.arange(1, 6) + e, 0.0))
        assert batch.terminated[e].tolist() == [t == length - 1 and e != 1 for t in range(5)]
        seen = torch.arange(6) <= length  # observations 0..length are recorded; later slots stay zero
        want_obs = torch.where(seen, torch.arange(6) + 100.0 * e, 0.0)  # [T+1]
        assert torch.equal(batch.state[e, :, 0], want_obs)
        assert torch.equal(batch.obs[e, :, :, 0], want_obs.view(-1, 1).expand(-1, 2))
        assert batch.avail_actions[e, :length + 1].all() and not batch.avail_actions[e, length + 1:].any()
    assert stats.lengths.tolist() == LENGTHS
    assert stats.returns.tolist() == [sum(10.0 * (t + 1) + e for t in range(n)) for e, n in enumerate(LENGTHS)]
    assert stats.won.tolist() == [True, True, False]


def test_evaluate_averages_exactly_the_episodes_asked_for_in_the_mode_asked_for():
    learner, generator = Recording(), torch.Generator()
    result = evaluate(Scripted(), learner, "greedy", 4, 7, generator)  # two rollouts of 3 copies; 4 episodes kept
    returns = [sum(10.0 * (t + 1) + e for t in range(n)) for e, n in enumerate(LENGTHS)]
    assert float(result["return"]) == pytest.approx((sum(returns) + returns[0]) / 4)
    assert float(result["win_rate"]) == pytest.approx(3 / 4)  # copies 0, 1, then copy 0 again
    assert {(c["mode"], c["t_env"], c["generator"] is generator) for c in learner.calls} == {("greedy", 7, True)}
    assert len(learner.calls) == 2 * max(LENGTHS)


def test_stuck_agents_are_the_living_ones_without_an_action_and_never_continuous_ones():
    from nqmix_core.runner import stuck_agents
    avail = torch.ones(3, 2, 4, dtype=torch.bool)
    avail[0, 1] = False  # copy 0's agent 1 has no action
    avail[2, 0] = False  # so has copy 2's agent 0, but copy 2 has ended
    obs = Observation(torch.zeros(3, 2, 1), torch.zeros(3, 1), avail)
    active = torch.tensor([True, True, False])
    assert stuck_agents(obs, active, continuous=False).tolist() == [[False, True], [False, False], [False, False]]
    assert torch.equal(stuck_agents(obs, active, continuous=True), torch.zeros(3, 2, dtype=torch.bool))  # [E, N]
