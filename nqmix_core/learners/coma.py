"""COMA: counterfactual multi-agent policy gradients (Foerster et al. 2018), with pymarl's SMAC settings.

* Actor: the shared GRU agent network of QMIX/NQMIX (input: own observation, last action, agent id),
  whose |U| outputs are policy logits. While collecting data the behaviour policy is built as pymarl
  builds it: softmax over all |U| logits, ε/|U| mixed into every action, then the unavailable actions
  zeroed and the rest renormalised (``action_selection.epsilon_softmax_then_mask``), ε falling
  0.5 -> 0.01 over 100k steps. Evaluation uses π = softmax over the available actions (ε = 0), sampled
  ("stochastic") or its argmax ("greedy", pymarl's ``test_greedy``).
* Critic: a centralised MLP (``networks/coma_critic.py``) giving Q(s, (u^{-a}, u)) for all own
  actions u; trained on TD(λ = 0.8) targets from a target critic copied every 200 critic steps.
* Actor step: Eq. 5 with the counterfactual advantage of Eq. 6 (``losses.coma_actor_loss``).
* On-policy: each update uses only the episodes just collected (the experiment loop gives COMA a
  "replay" of exactly one rollout, E = 8 episodes, as pymarl's batch_size_run = batch_size = 8).

Where this follows pymarl rather than the COMA paper, and where it departs from pymarl:

* Like pymarl ("critic_train_mode: seq"), the critic takes one optimiser step per time step of the
  batch, from the last step backwards; the Q-values the actor uses are the critic's values at each
  step just before that step's update. The target interval counts these critic steps.
* Like pymarl, the policy inside the actor loss is the ε-floored behaviour policy (on-policy
  gradient of the policy that actually acted), at the current ε.
* The bootstrap after the last step: pymarl's runner picks and stores an action at the last state
  too (sampled from the behaviour policy), and the TD(λ) targets bootstrap from Q'(s_T, u_T) only
  when the episode was cut without terminating; under SMAC's default (``continuing_episode: False``)
  a time-out is terminal in pymarl, so on SMAC it never bootstraps. Departure: our environments do
  not mark a time-out as terminal, so a cut episode bootstraps, and u_T is the greedy joint action
  of the current policy at s_T (we store no action at the last state).
* Padded steps are treated as "every action available" inside the policy, so no 0/0 appears; they
  are masked out of every loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from nqmix_core import action_selection, diagnostics, losses
from nqmix_core.catalog import LearnerKind
from nqmix_core.config_checks import AT_LEAST_ONE, PROBABILITY
from nqmix_core.specs import EnvInfo, EpisodeBatch, Observation
from nqmix_core.config import AlgoConfig, EpsilonConfig
from nqmix_core.learners.common import LearnerBase, frozen_copy, hard_update, optimiser_step, rmsprop
from nqmix_core.action_selection import masked_softmax
from nqmix_core.networks import AgentNetwork, agent_inputs, sequence_inputs
from nqmix_core.networks.coma_critic import (
    COMACritic,
    coma_critic_input_dim,
    coma_critic_inputs,
)


@dataclass(frozen=True)
class COMAConfig(EpsilonConfig):
    """COMA as pymarl's coma.yaml runs it: ``AlgoConfig``'s fields and its critic's three below."""

    kind: ClassVar[LearnerKind] = LearnerKind(
        "coma", "COMA: centralised critic, counterfactual baseline (Eqs. 5-6)",
        on_policy=True, continuous=False, mixers=("none",))
    rules: ClassVar[dict] = {"td_lambda": PROBABILITY, "critic_hidden_dim": AT_LEAST_ONE,
                             "critic_target_update_interval": AT_LEAST_ONE}
    learner: str = "coma"
    mixer: str = "none"
    td_lambda: float = 0.8
    """λ of the TD(λ) targets that train the critic (pymarl's value)."""
    critic_hidden_dim: int = 128
    """Width of both hidden layers of the centralised critic MLP (128-128-|U|, pymarl's value)."""
    critic_target_update_interval: int = 200
    """Critic optimiser steps between copies of the critic into the target critic (pymarl's value; pymarl
    takes one critic step per time step of the batch, so this is ~3 batches on 3m)."""


PRESETS: dict[str, COMAConfig] = {
    "coma": COMAConfig(target_update="hard", batch_size=8, buffer_size=8,
                       epsilon_start=0.5, epsilon_finish=0.01, epsilon_anneal_steps=100_000),
}


class COMALearner(LearnerBase):
    """Shared GRU actor + centralised counterfactual critic and its target; two RMSprop optimisers."""

    config_class, presets = COMAConfig, PRESETS

    COUNTERS = ("critic_steps", "last_target_update_step")

    def __init__(self, info: EnvInfo, config: AlgoConfig, device: torch.device | str) -> None:
        super().__init__()
        self.info, self.config, self.device = info, config, torch.device(device)
        self.agent = AgentNetwork(info.obs_dim + info.n_actions + info.n_agents, info.n_actions,
                                  config.rnn_hidden_dim)
        input_dim = coma_critic_input_dim(info.state_dim, info.obs_dim, info.n_agents, info.n_actions)
        self.critic = COMACritic(input_dim, info.n_actions, config.critic_hidden_dim)
        self.target_critic = frozen_copy(self.critic)
        self.to(self.device)
        self.agent_optimiser = rmsprop(self.agent.parameters(), config.actor_lr, config)
        self.critic_optimiser = rmsprop(self.critic.parameters(), config.critic_lr, config)
        self.critic_steps = 0
        self.last_target_update_step = 0

    # --- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Observation, last_actions: torch.Tensor, hidden: torch.Tensor, mode: str,
            t_env: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions [E, N] for one step: sample the behaviour policy ("explore"), sample π ("stochastic")
        or argmax π ("greedy")."""
        inputs = agent_inputs(obs.obs, last_actions, self.info.n_actions)  # [E, N, D]
        logits, hidden = self.agent.step(inputs, hidden)  # [E, N, U], [E, N, H]
        if mode == "explore":
            policy = action_selection.epsilon_softmax_then_mask(logits, obs.avail_actions, self.epsilon(t_env))
            return action_selection.sample(policy, generator), hidden
        policy = masked_softmax(logits, obs.avail_actions)  # [E, N, U]
        if mode == "greedy":
            return action_selection.greedy(policy, obs.avail_actions), hidden
        return action_selection.sample(policy, generator), hidden

    # --- training -----------------------------------------------------------------------------
    def behaviour_policy(self, batch: EpisodeBatch, t_env: int) -> torch.Tensor:
        """The ε-floored policy that collected ``batch``, with gradient: [B, T+1, N, U]."""
        inputs = sequence_inputs(batch.obs, batch.actions, self.info.n_actions)  # [B, T+1, N, D]
        logits, _ = self.agent(inputs)  # [B, T+1, N, U]
        padding = ~batch.avail_actions.any(-1, keepdim=True)  # [B, T+1, N, 1]: no action at all
        avail = batch.avail_actions | padding  # [B, T+1, N, U]
        return action_selection.epsilon_softmax_then_mask(logits, avail, self.epsilon(t_env))

    def critic_targets(self, batch: EpisodeBatch, inputs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """TD(λ) targets [B, T, N] from the target critic; inputs [B, T+1, N, D], actions [B, T+1, N]."""
        with torch.no_grad():
            target_qs = losses.chosen_action_values(self.target_critic(inputs), actions)  # [B, T+1, N]
            return losses.td_lambda_targets(batch.reward, batch.terminated, batch.filled, target_qs,
                                            self.config.gamma, self.config.td_lambda)

    def train_critic(self, batch: EpisodeBatch, policy: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """pymarl's sequential critic training: one step per time step, last step first.

        Returns the critic's Q(s_t, (u_t^{-a}, ·)) [B, T, N, U] as each step saw it before its update.
        """
        greedy_last = action_selection.greedy(policy[:, -1].detach(), policy[:, -1] > 0)  # [B, N]
        actions = torch.cat([batch.actions, greedy_last.unsqueeze(1)], dim=1)  # [B, T+1, N]
        inputs = coma_critic_inputs(batch.state, batch.obs, actions, self.info.n_actions)  # [B, T+1, N, D]
        targets = self.critic_targets(batch, inputs, actions)  # [B, T, N]
        critic_qs, step_losses, grad_norms = [None] * batch.max_steps, [], []
        for t in reversed(range(batch.max_steps)):
            qs = self.critic(inputs[:, t])  # [B, N, U]
            critic_qs[t] = qs.detach()
            mask = batch.filled[:, t, None].expand(-1, self.info.n_agents)  # [B, N]
            loss, _ = losses.masked_td_loss(losses.chosen_action_values(qs, batch.actions[:, t]), targets[:, t], mask)
            grad_norms.append(self.optimiser_step(self.critic_optimiser, self.critic.parameters(), loss))
            step_losses.append(loss.detach())
            self.critic_steps += 1
            self.update_target()
        info = {"critic_loss": torch.stack(step_losses).mean(), "critic_grad_norm": torch.stack(grad_norms).mean(),
                "target_mean": (targets * batch.filled.unsqueeze(-1)).sum() / batch.filled.sum().clamp(min=1)
                / self.info.n_agents}
        return torch.stack(critic_qs, dim=1), info  # [B, T, N, U]

    def optimiser_step(self, optimiser: torch.optim.Optimizer, params, loss: torch.Tensor) -> torch.Tensor:
        """Backward, clip the gradient norm at ``grad_norm_clip``, step; returns the norm (a tensor)."""
        return optimiser_step(optimiser, loss, params, self.config.grad_norm_clip).detach()

    def update_target(self) -> None:
        """Copy the critic into the target critic every ``critic_target_update_interval`` critic steps."""
        if self.critic_steps - self.last_target_update_step >= self.config.critic_target_update_interval:
            hard_update(self.target_critic, self.critic)
            self.last_target_update_step = self.critic_steps

    def train_step(self, batch: EpisodeBatch, t_env: int, episodes_seen: int) -> dict[str, torch.Tensor]:
        """One COMA update on the episodes just collected: critic (TD(λ)) first, then actor (Eq. 5)."""
        policy = self.behaviour_policy(batch, t_env)  # [B, T+1, N, U]
        critic_qs, critic_info = self.train_critic(batch, policy)  # [B, T, N, U]
        actor_loss, actor_info = losses.coma_actor_loss(policy[:, :-1], critic_qs, batch.actions, batch.filled)
        grad_norm = self.optimiser_step(self.agent_optimiser, self.agent.parameters(), actor_loss)
        return {"actor_loss": actor_loss.detach(), "grad_norm": grad_norm, **critic_info, **actor_info}

    @torch.no_grad()
    def rollout_diagnostics(self, batch: EpisodeBatch) -> diagnostics.Sums:
        """Entropy of π (ε = 0) and collected actions that are not argmax π, on episodes just collected."""
        inputs = sequence_inputs(batch.obs, batch.actions, self.info.n_actions)  # [B, T+1, N, D]
        logits, _ = self.agent(inputs)  # [B, T+1, N, U]
        avail_now = batch.avail_actions[:, :-1]  # [B, T, N, U]
        policy = masked_softmax(logits[:, :-1], avail_now)  # [B, T, N, U]
        return diagnostics.policy_diagnostics(policy, batch.actions, avail_now, batch.filled)

    # --- checkpoints --------------------------------------------------------------------------
    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"agent": self.agent_optimiser, "critic": self.critic_optimiser}
