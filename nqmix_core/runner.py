"""Batched rollouts: play one episode in each of the E environment copies at once.

The loop keeps stepping until every copy is done (or the episode limit). Each copy's steps after
its own end are padding: they are written nowhere that matters (``filled`` = 0) and the
observation that followed its last action stays in place for the bootstrap target.
The only host-device sync per step is the ``all done?`` check that ends the loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from nqmix_core.buffer import EpisodeBatch, empty_batch, no_previous_actions
from nqmix_core.envs.base import BatchedEnv, Observation


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


def rollout(env: BatchedEnv, learner, mode: str, t_env: int, generator: torch.Generator | None = None,
            seed: int | None = None) -> tuple[EpisodeBatch, EpisodeStats]:
    """One episode per copy with ``learner.act`` in ``mode`` ("explore", "stochastic", "greedy").

    Returns the episodes as an [E, T, ...] batch (T = the env's episode limit) and their stats.
    """
    info, e = env.info, env.n_envs
    batch = empty_batch(e, info, env.device)
    obs = env.reset(seed)
    active = torch.ones(e, dtype=torch.bool, device=env.device)  # [E], still inside its episode
    _write_observation(batch, 0, obs, active)
    hidden = learner.initial_hidden(e)  # [E, N, H]
    last_actions = no_previous_actions(info, e, env.device)  # [E, N] (continuous: [E, N, A])
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
        active = active & ~(result.terminated | result.timed_out)
        obs, last_actions = result.next, actions
        if not bool(active.any()):  # the one sync per step: stop when every copy is done
            break
    return batch, stats
