"""The part every value-factorisation learner shares: a critic = shared agent network + mixer.

A learner coordinates; it does no math of its own (that lives in ``nqmix_core.losses``).
One ``train_step`` = forward the sampled episodes -> losses -> optimiser steps -> target update.
Acting modes:

* ``"explore"``: the behaviour policy used to collect training data,
* ``"stochastic"``: sample the learned policy (for Q-learners: same as greedy),
* ``"greedy"``: the most likely / highest-valued available action.
"""
from __future__ import annotations

import torch
from torch import nn

from nqmix_core import diagnostics, losses
from nqmix_core.specs import EnvInfo, EpisodeBatch, Observation
from nqmix_core.config import AlgoConfig
from nqmix_core.learners.common import LearnerBase, frozen_copy, optimiser_step, rmsprop
from nqmix_core.networks import AgentNetwork, agent_inputs, make_mixer, sequence_inputs

ACT_MODES = ("explore", "stochastic", "greedy")


class CriticLearner(LearnerBase):
    """Shared agent network + mixer, their targets, and the critic's optimiser."""

    def __init__(self, info: EnvInfo, config: AlgoConfig, device: torch.device | str) -> None:
        super().__init__()
        self.info, self.config, self.device = info, config, torch.device(device)
        input_dim = info.obs_dim + info.n_actions + info.n_agents
        self.agent = AgentNetwork(input_dim, info.n_actions, config.rnn_hidden_dim)
        self.mixer = make_mixer(config.mixer, info.n_agents, info.state_dim,
                                config.mixer_embed_dim, config.hypernet_hidden_dim)
        self.target_agent = frozen_copy(self.agent)
        self.target_mixer = frozen_copy(self.mixer)
        self.to(self.device)
        self.critic_params = [*self.agent.parameters(), *self.mixer.parameters()]
        self.critic_optimiser = rmsprop(self.critic_params, config.critic_lr, config)
        self.last_target_update_episode = 0

    # --- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Observation, last_actions: torch.Tensor, hidden: torch.Tensor, mode: str,
            t_env: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Choose actions [E, N] for one step; last_actions [E, N] (−1 at t = 0), hidden [E, N, H]."""
        inputs = agent_inputs(obs.obs, last_actions, self.info.n_actions)  # [E, N, D]
        agent_qs, hidden = self.agent.step(inputs, hidden)  # [E, N, U], [E, N, H]
        return self.choose_actions(agent_qs, hidden, obs.avail_actions, mode, t_env, generator), hidden

    def choose_actions(self, agent_qs, hidden, avail_actions, mode, t_env, generator) -> torch.Tensor:
        raise NotImplementedError

    def action_probs(self, hidden: torch.Tensor, avail_actions: torch.Tensor) -> torch.Tensor | None:
        """The learner's own policy π(u|τ) [..., N, U] from the agent network's hidden state [..., N, H] and
        the available actions [..., N, U] (bool); None for a greedy Q-learner, whose policy is its argmax."""
        return None

    # --- training helpers ---------------------------------------------------------------------
    def unroll(self, batch: EpisodeBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run online and target agent networks over the batch: Q and hidden, each [B, T+1, N, ·]."""
        inputs = sequence_inputs(batch.obs, batch.actions, self.info.n_actions)  # [B, T+1, N, D]
        agent_qs, hidden = self.agent(inputs)
        with torch.no_grad():
            target_qs, target_hidden = self.target_agent(inputs)
        return agent_qs, hidden, target_qs, target_hidden

    @torch.no_grad()
    def max_targets(self, batch: EpisodeBatch, target_qs: torch.Tensor,
                    online_qs: torch.Tensor | None = None) -> torch.Tensor:
        """QMIX's target y = r + γ·Mixer'(max_u Q'_a(τ_{t+1}, u), s_{t+1}): [B, T] (IQL: [B, T, N]).

        ``target_qs`` [B, T+1, N, U] from the target agent network; with ``online_qs`` (the online
        network's, same shape) the next action is picked by them and valued by the target (double Q).
        Q-learners train on it; for NQMIX it is the target its own networks would give with a max.
        """
        online_next = online_qs[:, 1:].detach() if online_qs is not None else None
        next_qs = losses.greedy_next_values(target_qs[:, 1:], online_next, batch.avail_actions[:, 1:])  # [B, T, N]
        next_q_tot = self.target_mixer(next_qs, batch.state[:, 1:])  # [B, T] (IQL: [B, T, N])
        return losses.td_targets(batch.reward, batch.terminated, next_q_tot, self.config.gamma)

    def td_targets(self, batch: EpisodeBatch, agent_qs: torch.Tensor, target_qs: torch.Tensor,
                   target_hidden: torch.Tensor) -> torch.Tensor:
        """The targets y_t this learner regresses Q_tot on, from ``unroll``'s four tensors: [B, T] (IQL: [B, T, N]).
        Each learner says which (NQMIX: the state-value target; QMIX, VDN, IQL: ``max_targets``)."""
        raise NotImplementedError

    def critic_step(self, loss: torch.Tensor) -> torch.Tensor:
        """One RMSprop step on the critic with gradient-norm clipping; returns the norm (a tensor)."""
        return optimiser_step(self.critic_optimiser, loss, self.critic_params, self.config.grad_norm_clip)

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(target, online) network pairs kept in step by ``update_targets``."""
        return [(self.target_agent, self.agent), (self.target_mixer, self.mixer)]

    def train_step(self, batch: EpisodeBatch, t_env: int, episodes_seen: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # --- diagnostics --------------------------------------------------------------------------
    @torch.no_grad()
    def rollout_diagnostics(self, batch: EpisodeBatch) -> diagnostics.Sums:
        """Q_tot against the return obtained, on episodes just collected (see ``nqmix_core.diagnostics``),
        plus what ``policy_diagnostics`` adds."""
        inputs = sequence_inputs(batch.obs, batch.actions, self.info.n_actions)  # [B, T+1, N, D]
        agent_qs, hidden = self.agent(inputs)  # [B, T+1, N, U], [B, T+1, N, H]
        chosen_qs = losses.chosen_action_values(agent_qs[:, :-1], batch.actions)  # [B, T, N]
        q_tot = self.mixer(chosen_qs, batch.state[:, :-1])  # [B, T]
        values = diagnostics.value_diagnostics(q_tot, batch.reward, batch.terminated, batch.filled, self.config.gamma)
        slopes = losses.mixer_gradient(self.mixer, chosen_qs, batch.state[:, :-1])  # [B, T, N]
        mixing = diagnostics.mixer_diagnostics(slopes, agent_qs[:, :-1], batch.avail_actions[:, :-1], batch.filled)
        return {**values, **mixing, **self.policy_diagnostics(batch, hidden, chosen_qs)}

    def policy_diagnostics(self, batch: EpisodeBatch, hidden: torch.Tensor, chosen_qs: torch.Tensor) -> diagnostics.Sums:
        """Learners with a policy of their own add its diagnostics here (none for greedy Q-learners)."""
        return {}

    # --- checkpoints --------------------------------------------------------------------------
    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"critic": self.critic_optimiser}
