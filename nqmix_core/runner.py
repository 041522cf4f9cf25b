"""Batched rollouts: play one episode in each of the E environment copies at once.

The loop keeps stepping until every copy is done (or the episode limit). Each copy's steps after
its own end are padding: they are written nowhere that matters (``filled`` = 0) and the
observation that followed its last action stays in place for the bootstrap target.
The only host-device sync per step is the ``all done?`` check that ends the loop; it also reads
whether a discrete environment left a living agent without any available action, which stops the
rollout with a ``UserError`` before that agent is asked to act (one more sync checks the reset).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nqmix_core.envs.base import BatchedEnv
from nqmix_core.specs import EpisodeBatch, Observation, empty_batch, no_previous_actions
from nqmix_core.errors import UserError


@dataclass
class EpisodeStats:
    """Per-episode results of one rollout: every field is [E] on the env's device."""

    returns: torch.Tensor  # undiscounted return
    won: torch.Tensor  # bool
    lengths: torch.Tensor  # int64, number of real steps


def _write_observation(batch: EpisodeBatch, t: int, obs: Observation, rows: torch.Tensor) -> None:
    """Store ``obs`` at time slot t for the copies where ``rows`` [E] is True."""
    keep = rows.view(-1, 1, 1)
    batch.obs[:, t] = torch.where(keep, obs.obs, batch.obs[:, t])  # [E, N, O]
    batch.state[:, t] = torch.where(rows.view(-1, 1), obs.state, batch.state[:, t])  # [E, S]
    batch.avail_actions[:, t] = torch.where(keep, obs.avail_actions, batch.avail_actions[:, t])  # [E, N, U]


def stuck_agents(obs: Observation, active: torch.Tensor, continuous: bool) -> torch.Tensor:
    """[E, N] bool: agents of still-running copies that have no available action (never, if continuous).

    Continuous environments mark a dead agent by an all-False row, so only discrete ones are checked.
    """
    if continuous:
        return torch.zeros(obs.avail_actions.shape[:2], dtype=torch.bool, device=active.device)
    return active.view(-1, 1) & ~obs.avail_actions.any(-1)  # [E, N]


def _refuse_stuck(stuck: torch.Tensor, t: int) -> None:
    """The UserError for a discrete environment that left an agent without any available action."""
    copy, agent = (int(i) for i in stuck.nonzero()[0])
    raise UserError(f"The environment left agent {agent} of copy {copy} without any available action at step "
                    f"{t}; a discrete environment must allow every agent at least one action (e.g. a no-op "
                    f"for a dead unit), so fix its avail_actions.")


def rollout(env: BatchedEnv, learner, mode: str, t_env: int, generator: torch.Generator | None = None,
            seed: int | None = None, on_step=None) -> tuple[EpisodeBatch, EpisodeStats]:
    """One episode per copy with ``learner.act`` in ``mode`` ("explore", "stochastic", "greedy").

    Returns the episodes as an [E, T, ...] batch (T = the env's episode limit) and their stats.
    ``on_step(t, result, active)``, if given, sees each step's ``StepResult`` and which copies were still in
    their episode when it was taken ([E] bool), before the next one (``episode_view`` draws battles so).
    """
    info, e = env.info, env.n_envs
    batch = empty_batch(e, info, env.device)
    last_actions = no_previous_actions(info, e, env.device)  # [E, N] (continuous: [E, N, A])
    obs = env.reset(seed)
    active = torch.ones(e, dtype=torch.bool, device=env.device)  # [E], still inside its episode
    _write_observation(batch, 0, obs, active)
    stuck = stuck_agents(obs, active, info.continuous)
    if bool(stuck.any()):
        _refuse_stuck(stuck, 0)
    hidden = learner.initial_hidden(e)  # [E, N, H]
    stats = EpisodeStats(returns=torch.zeros(e, device=env.device),
                         won=torch.zeros(e, dtype=torch.bool, device=env.device),
                         lengths=torch.zeros(e, dtype=torch.long, device=env.device))
    for t in range(info.episode_limit):
        actions, hidden = learner.act(obs, last_actions, hidden, mode, t_env, generator)  # [E, N] or [E, N, A]
        result = env.step(actions)
        batch.actions[:, t] = actions
        batch.reward[:, t] = torch.where(active, result.reward, 0.0)
        batch.terminated[:, t] = active & result.terminated
        batch.filled[:, t] = active.float()
        stats.returns += batch.reward[:, t]
        stats.won |= active & result.won
        stats.lengths += active.long()
        _write_observation(batch, t + 1, result.next, active)
        if on_step is not None:
            on_step(t, result, active)
        active = active & ~(result.terminated | result.timed_out)
        obs, last_actions = result.next, actions
        stuck = stuck_agents(obs, active, info.continuous)  # [E, N]
        running, any_stuck = torch.stack([active.any(), stuck.any()]).tolist()  # the one sync per step
        if any_stuck:
            _refuse_stuck(stuck, t + 1)
        if not running:  # every copy is done
            break
    return batch, stats


def evaluate(env, learner, mode: str, n_episodes: int, t_env: int,
             generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Mean win rate and return over ``n_episodes`` test episodes in ``mode`` (tensors, no sync)."""
    returns, won = [], []
    for _ in range(math.ceil(n_episodes / env.n_envs)):
        _, stats = rollout(env, learner, mode, t_env, generator)
        returns.append(stats.returns)
        won.append(stats.won)
    returns, won = torch.cat(returns)[:n_episodes], torch.cat(won)[:n_episodes]  # [n_episodes]
    return {"win_rate": won.float().mean(), "return": returns.mean()}
