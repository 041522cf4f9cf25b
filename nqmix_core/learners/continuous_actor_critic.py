"""NQMIX for continuous actions (Alg. 2), and the two baselines that share its code.

| preset      | mixer  | what it is                                                                   |
|-------------|--------|------------------------------------------------------------------------------|
| "nqmix-cont"| nqmix  | Alg. 2: MLP mixer, actors step by Eq. 14 with sgn(∂Q_tot/∂Q_a)               |
| "qmix-cont" | qmix   | the same learner with QMIX's monotonic mixer, so the sign is always +1: each |
|             |        | actor ascends its own Q_a (a FACMAC-like critic, not FACMAC's actor step)     |
| "iddpg"     | none   | independent DDPG: no mixer; each Q_a regresses on the shared team reward     |

One ``train_step`` = unroll the shared critic agent network over the sampled episodes -> TD loss of
Q_tot against y = r + γ·Mixer'(Q'_a(τ_{t+1}, μ'_a(τ_{t+1})), s_{t+1}) (lines 7–12) -> actor loss of
Eq. 14 (line 13) -> one critic step, one actor step -> soft target updates of all three networks
(line 15). The math is in ``nqmix_core.continuous_losses`` and ``nqmix_core.losses``.

Where this departs from the paper's pseudocode, or fills in what it leaves open:

* One update per mini-batch with the per-step terms averaged and the γ^t weight I_t kept (as the
  discrete learner does), not one update per time step.
* Alg. 2 line 2 acts with μ itself. We add Gaussian behaviour noise (``act`` mode "explore"):
  std = ε(t)·(high − low)/2, clipped to the bounds, where ε(t) is the config's linear ε schedule.
  Without noise a deterministic policy never sees the value of any other action.
* sgn(∂Q_tot/∂Q_a) is taken where the chain rule needs it, at Q_a(τ_t, μ_a(τ_t)) for all agents
  (the replayed u_t enter only the critic's TD step). For a one-dimensional action this makes
  Eq. 14 point exactly along ∂Q_tot/∂u_a.
* The actors read the critic's GRU state h_t^a detached, and the target actors the target agent
  network's state. Dead agents (all-False ``avail_actions``) get no actor step.
* The critic's gradient norm is clipped at ``grad_norm_clip`` (pymarl's 10); the actors' is not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from nqmix_core import action_selection, continuous_losses, losses
from nqmix_core.catalog import MIXING, LearnerKind
from nqmix_core.config_checks import NON_NEGATIVE
from nqmix_core.specs import EnvInfo, EpisodeBatch, Observation
from nqmix_core.config import AlgoConfig
from nqmix_core.errors import UserError
from nqmix_core.learners.common import LearnerBase, frozen_copy, optimiser_step, rmsprop
from nqmix_core.networks.continuous_agent import (
    ContinuousAgentNetwork,
    DeterministicActors,
    continuous_agent_inputs,
    continuous_sequence_inputs,
)
from nqmix_core.networks.mixers import make_mixer


@dataclass(frozen=True)
class ContinuousConfig(AlgoConfig):
    """NQMIX for continuous actions (Alg. 2): deterministic actors, explored with Gaussian noise."""

    kind: ClassVar[LearnerKind] = LearnerKind(
        "continuous-actor-critic", "NQMIX for continuous actions (Alg. 2, Eq. 14), deterministic actors",
        on_policy=False, continuous=True, mixers=(*MIXING, "none"))
    rules: ClassVar[dict] = {"noise_std_start": NON_NEGATIVE, "noise_std_finish": NON_NEGATIVE,
                             "noise_anneal_steps": NON_NEGATIVE}
    learner: str = "continuous-actor-critic"
    noise_std_start: float = 0.5
    """Standard deviation of the Gaussian noise added to μ_a(τ) while collecting data, as a fraction of half
    the action range: u = clip(μ + σ·(high − low)/2·N(0, I)). Alg. 2 line 2 adds no noise, but a
    deterministic policy without it never tries another action. It may exceed 1 (clipping holds u in)."""
    noise_std_finish: float = 0.1
    """σ after annealing."""
    noise_anneal_steps: int = 50_000
    """Environment steps over which σ falls linearly from start to finish."""


PRESETS: dict[str, ContinuousConfig] = {
    "nqmix-cont": ContinuousConfig(mixer="nqmix"),
    "qmix-cont": ContinuousConfig(mixer="qmix"),  # QMIX's monotonic mixer: every sign in Eq. 14 is +1
    "iddpg": ContinuousConfig(mixer="none"),  # no mixer: independent DDPG
}


class ContinuousActorCritic(LearnerBase):
    """Shared critic agent network Q_a(τ, u) + mixer, per-agent deterministic actors μ_a(τ), their targets."""

    config_class, presets = ContinuousConfig, PRESETS

    def __init__(self, info: EnvInfo, config: AlgoConfig, device: torch.device | str) -> None:
        super().__init__()
        if not info.continuous:
            raise UserError("This algorithm needs continuous actions, but the environment's are discrete; "
                            "use a continuous environment such as continuous:two-peak or smax-cont:3m.")
        self.info, self.config, self.device = info, config, torch.device(device)
        self.bounds = info.action_bounds
        input_dim = info.obs_dim + info.n_actions + info.n_agents
        self.agent = ContinuousAgentNetwork(input_dim, info.n_actions, config.rnn_hidden_dim)
        self.mixer = make_mixer(config.mixer, info.n_agents, info.state_dim, config.mixer_embed_dim,
                                config.hypernet_hidden_dim)
        self.actors = DeterministicActors(info.n_agents, config.rnn_hidden_dim, info.n_actions,
                                          config.actor_hidden_dim, self.bounds)
        self.target_agent, self.target_mixer = frozen_copy(self.agent), frozen_copy(self.mixer)
        self.target_actors = frozen_copy(self.actors)
        self.to(self.device)
        self.critic_params = [*self.agent.parameters(), *self.mixer.parameters()]
        self.critic_optimiser = rmsprop(self.critic_params, config.critic_lr, config)
        self.actor_optimiser = rmsprop(self.actors.parameters(), config.actor_lr, config)
        self.last_target_update_episode = 0

    # --- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Observation, last_actions: torch.Tensor, hidden: torch.Tensor, mode: str,
            t_env: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions [E, N, A] for one step: μ_a(τ) ("greedy") or μ_a(τ) + noise ("explore", "stochastic").

        last_actions [E, N, A] (zeros at t = 0), hidden [E, N, H]. The evaluation mode "stochastic"
        uses the same noise as the behaviour policy at the current σ (``noise_std``).
        """
        inputs = continuous_agent_inputs(obs.obs, last_actions)  # [E, N, D]
        hidden = self.agent.step(inputs, hidden)  # [E, N, H]
        actions = self.actors(hidden)  # [E, N, A]
        if mode != "greedy":
            actions = action_selection.gaussian_exploration(actions, self.noise_std(t_env), self.bounds, generator)
        return actions, hidden

    def noise_std(self, t_env: int) -> float:
        """σ of the behaviour noise after ``t_env`` steps, in half action ranges (``ContinuousConfig``)."""
        c = self.config
        return action_selection.linear_schedule(t_env, c.noise_std_start, c.noise_std_finish, c.noise_anneal_steps)

    def exploration(self, t_env: int) -> dict[str, float]:
        return {"noise_std": self.noise_std(t_env)}

    # --- training -----------------------------------------------------------------------------
    def unroll(self, batch: EpisodeBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """History states of the online and target agent networks, each [B, T+1, N, H]."""
        inputs = continuous_sequence_inputs(batch.obs, batch.actions)  # [B, T+1, N, D]
        hidden = self.agent.history(inputs)
        with torch.no_grad():
            target_hidden = self.target_agent.history(inputs)
        return hidden, target_hidden

    def next_action_value_targets(self, batch: EpisodeBatch, target_hidden: torch.Tensor) -> torch.Tensor:
        """y = r + γ·Mixer'(Q'_a(τ_{t+1}, μ'_a(τ_{t+1})), s_{t+1}) (Alg. 2 lines 8, 10–11): [B, T] ([B, T, N] for iddpg)."""
        with torch.no_grad():
            next_hidden = target_hidden[:, 1:]  # [B, T, N, H]
            next_qs = self.target_agent.q(next_hidden, self.target_actors(next_hidden))  # [B, T, N]
        return continuous_losses.deterministic_targets(batch.reward, batch.terminated, next_qs, batch.state[:, 1:],
                                                       self.target_mixer, self.config.gamma)

    def compute_losses(self, batch: EpisodeBatch) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Critic loss (Alg. 2 lines 7–12) and actor loss (line 13) on a batch, without stepping."""
        hidden, target_hidden = self.unroll(batch)  # [B, T+1, N, H]
        targets = self.next_action_value_targets(batch, target_hidden)  # [B, T] or [B, T, N]
        hidden_now, state_now = hidden[:, :-1], batch.state[:, :-1]  # [B, T, N, H], [B, T, S]
        chosen_qs = self.agent.q(hidden_now, batch.actions)  # [B, T, N], Q_a(τ_t, u_t)
        q_tot = self.mixer(chosen_qs, state_now)  # [B, T] or [B, T, N], line 9
        critic_loss, critic_info = losses.masked_td_loss(q_tot, targets, batch.filled)

        history = hidden_now.detach()  # the actors never move the critic's GRU
        actor_actions = self.actors(history)  # [B, T, N, A], μ_a(τ_t)
        policy_qs, action_grads = continuous_losses.action_values_and_gradients(self.agent.q, history, actor_actions)
        sign = losses.mixer_gradient_sign(self.mixer, policy_qs, state_now)  # [B, T, N]
        agent_mask = batch.filled.unsqueeze(-1) * batch.avail_actions[:, :-1].any(-1).float()  # [B, T, N]
        discount = losses.discount_weights(batch.max_steps, self.config.gamma, self.device)  # [T]
        actor_loss, actor_info = continuous_losses.deterministic_actor_loss(actor_actions, action_grads, sign,
                                                                            discount, agent_mask)
        policy_q = (policy_qs * agent_mask).sum() / agent_mask.sum().clamp(min=1)
        return critic_loss, actor_loss, {**critic_info, **actor_info, "policy_q_mean": policy_q}

    def train_step(self, batch: EpisodeBatch, t_env: int, episodes_seen: int) -> dict[str, torch.Tensor]:
        """One update of Alg. 2 lines 7–15 on a mini-batch of episodes."""
        critic_loss, actor_loss, info = self.compute_losses(batch)
        grad_norm = optimiser_step(self.critic_optimiser, critic_loss, self.critic_params,
                                   self.config.grad_norm_clip)  # line 12
        optimiser_step(self.actor_optimiser, actor_loss)  # line 13
        self.update_targets(episodes_seen, batch.max_steps)  # line 15, once per time step
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(),
                "grad_norm": grad_norm.detach(), **info}

    # --- targets and checkpoints --------------------------------------------------------------
    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(target, online) pairs: critic agent network, mixer and actors (Alg. 2 line 15)."""
        return [(self.target_agent, self.agent), (self.target_mixer, self.mixer), (self.target_actors, self.actors)]

    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"critic": self.critic_optimiser, "actors": self.actor_optimiser}
