"""IPPO: independent PPO. One GRU policy shared by the agents, one GRU value network fed by each agent's own
inputs (no state: each agent judges from its own history), the clipped surrogate objective and GAE.

What it computes, per agent a and real step t of the episodes just collected (on-policy, as COMA):

* GAE (Schulman et al. 2016), on the team reward r_t that every agent receives:
  δ_t = r_t + γ·(1 − d_t)·V(τ_{t+1}^a) − V(τ_t^a),  A_t = δ_t + γλ·(1 − d_t)·A_{t+1},
  with A = 0 after the last real step; a cut (timed-out) episode bootstraps on V of its last observation.
  The value target is R_t = A_t + V(τ_t^a), both read before the update.
* The clipped objective (Schulman et al. 2017) with ρ_t = π(u_t|τ_t) / π_old(u_t|τ_t) and the advantages
  standardised over the real decisions: L = −E[min(ρ_t·A_t, clip(ρ_t, 1 − ε, 1 + ε)·A_t)],
  plus ``value_coef``·E[(V(τ_t) − R_t)²] − β·E[H(π(·|τ_t))], minimised for ``ppo_epochs`` passes over the
  batch, each pass unrolling the GRUs over the whole episodes again.
* Policy terms count only real decisions (a dead SMAX unit, with one available action, is left out); value
  terms count every agent on every real step.

Settings: the SMAC settings MAPPO's authors published for PPO methods, IPPO included (clip 0.2, λ 0.95, 5
epochs on one mini-batch, entropy 0.01, value-loss weight 1, gradient-norm clip 10, lr 5e-4), on the kit's 8
episodes per update. Departures: a plain squared value loss (no value normalisation, Huber loss or value
clipping), and Adam without learning-rate decay. JaxMARL's SMAX IPPO (clip 0.05, lr 0.004 decayed, 128
environments × 128 steps per update) is tuned for batches some 30 times larger than a CPU run's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from nqmix_core import action_selection, diagnostics, losses
from nqmix_core.action_selection import masked_softmax
from nqmix_core.catalog import LearnerKind
from nqmix_core.config import EpsilonConfig
from nqmix_core.config_checks import AT_LEAST_ONE, NON_NEGATIVE, PROBABILITY
from nqmix_core.learners.common import LearnerBase, optimiser_step
from nqmix_core.networks import AgentNetwork, agent_inputs, sequence_inputs
from nqmix_core.specs import EnvInfo, EpisodeBatch, Observation


@dataclass(frozen=True)
class IPPOConfig(EpsilonConfig):
    """IPPO's settings: ``AlgoConfig``'s (``actor_lr`` and ``critic_lr`` are Adam's rates for the policy and the
    value network) and its own five below."""

    kind: ClassVar[LearnerKind] = LearnerKind(
        "ppo", "IPPO: independent PPO, shared GRU policy, per-agent value inputs, clipped objective, GAE",
        on_policy=True, continuous=False, mixers=("none",))
    rules: ClassVar[dict] = {"clip_eps": (lambda v: 0 < v < 1, "must be in (0, 1)"), "gae_lambda": PROBABILITY,
                             "ppo_epochs": AT_LEAST_ONE, "value_coef": NON_NEGATIVE, "entropy_coef": NON_NEGATIVE}
    learner: str = "ppo"
    mixer: str = "none"
    entropy_coef: float = 0.0
    """Weight β of the policy's entropy bonus (the "ippo" preset: 0.01, the MAPPO authors' SMAC value)."""
    clip_eps: float = 0.2
    """ε of the clipped objective: the ratio π/π_old counts only inside [1 − ε, 1 + ε]."""
    gae_lambda: float = 0.95
    """λ of generalised advantage estimation (0: one-step TD errors; 1: Monte Carlo returns minus V)."""
    ppo_epochs: int = 5
    """Passes over the episodes just collected, each one optimiser step."""
    value_coef: float = 1.0
    """Weight of the value network's squared error in the loss."""


PRESETS: dict[str, IPPOConfig] = {
    "ippo": IPPOConfig(batch_size=8, buffer_size=8, epsilon_start=0.0, epsilon_finish=0.0, entropy_coef=0.01),
}


def gae(reward: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor, filled: torch.Tensor,
        gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages A_t and value targets R_t = A_t + V_t (the module's docstring), both [B, T, N].

    | argument   | shape        |                                           |
    |------------|--------------|-------------------------------------------|
    | reward     | [B, T]       | the team reward, the same for every agent  |
    | values     | [B, T+1, N]  | V(τ_t^a), the last one for bootstrapping  |
    | terminated | [B, T]       | no bootstrap after t                      |
    | filled     | [B, T]       | 1 on real steps                           |
    """
    alive = (1.0 - terminated.float()).unsqueeze(-1)  # [B, T, 1]
    deltas = reward.unsqueeze(-1) + gamma * alive * values[:, 1:] - values[:, :-1]  # [B, T, N]
    advantages = torch.zeros_like(deltas)
    carried = torch.zeros_like(deltas[:, 0])  # A_{t+1} [B, N]
    for t in reversed(range(deltas.shape[1])):
        carried = (deltas[:, t] + gamma * lam * alive[:, t] * carried) * filled[:, t, None]  # 0 past the end
        advantages[:, t] = carried
    return advantages, advantages + values[:, :-1]


def clipped_surrogate(log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                      clip_eps: float, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """−E[min(ρA, clip(ρ, 1 − ε, 1 + ε)A)] over ``mask`` and the share of decisions whose ratio was clipped.

    All arguments [B, T, N] (``mask`` 1 on the decisions that count); returns two 0-d tensors.
    """
    ratio = torch.exp(log_probs - old_log_probs)
    objective = torch.minimum(ratio * advantages, ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages)
    count = mask.sum().clamp(min=1)
    clipped = ((ratio - 1).abs() > clip_eps).float()
    return -(objective * mask).sum() / count, (clipped * mask).sum() / count


class IPPOLearner(LearnerBase):
    """Shared GRU policy and GRU value network (per-agent inputs), trained together by Adam."""

    config_class, presets = IPPOConfig, PRESETS
    COUNTERS = ()

    def __init__(self, info: EnvInfo, config: IPPOConfig, device: torch.device | str) -> None:
        super().__init__()
        self.info, self.config, self.device = info, config, torch.device(device)
        input_dim = info.obs_dim + info.n_actions + info.n_agents
        self.agent = AgentNetwork(input_dim, info.n_actions, config.rnn_hidden_dim)  # policy logits
        self.value = AgentNetwork(input_dim, 1, config.rnn_hidden_dim)  # V(τ^a)
        self.to(self.device)
        self.optimiser = torch.optim.Adam([{"params": self.agent.parameters(), "lr": config.actor_lr},
                                           {"params": self.value.parameters(), "lr": config.critic_lr}])

    @torch.no_grad()
    def act(self, obs: Observation, last_actions: torch.Tensor, hidden: torch.Tensor, mode: str,
            t_env: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions [E, N]: sample π ("explore", "stochastic") or take its argmax ("greedy")."""
        logits, hidden = self.agent.step(agent_inputs(obs.obs, last_actions, self.info.n_actions), hidden)
        policy = masked_softmax(logits, obs.avail_actions)  # [E, N, U]
        if mode == "greedy":
            return action_selection.greedy(policy, obs.avail_actions), hidden
        return action_selection.sample(policy, generator), hidden

    def policy(self, batch: EpisodeBatch, inputs: torch.Tensor) -> torch.Tensor:
        """π(·|τ_t^a) on every step [B, T, N, U]; a padded step counts every action available (no 0/0)."""
        logits, _ = self.agent(inputs)  # [B, T+1, N, U]
        avail = batch.avail_actions | ~batch.avail_actions.any(-1, keepdim=True)
        return masked_softmax(logits[:, :-1], avail[:, :-1])

    def train_step(self, batch: EpisodeBatch, t_env: int, episodes_seen: int) -> dict[str, torch.Tensor]:
        """``ppo_epochs`` steps of the clipped objective on the episodes just collected."""
        c = self.config
        inputs = sequence_inputs(batch.obs, batch.actions, self.info.n_actions)  # [B, T+1, N, D]
        decisions = losses.decision_mask(batch.avail_actions[:, :-1], batch.filled)  # [B, T, N]
        steps = batch.filled.unsqueeze(-1).expand_as(decisions)  # [B, T, N]
        policy, values = self.policy(batch, inputs), self.value(inputs)[0].squeeze(-1)  # the first epoch's too
        with torch.no_grad():
            old_log_probs = self.log_probs(policy, batch.actions)
            advantages, returns = gae(batch.reward, values, batch.terminated, batch.filled, c.gamma, c.gae_lambda)
            mean = (advantages * decisions).sum() / decisions.sum().clamp(min=1)
            std = (((advantages - mean) ** 2 * decisions).sum() / decisions.sum().clamp(min=1)).sqrt()
            advantages = (advantages - mean) / (std + 1e-8)
        for epoch in range(c.ppo_epochs):
            if epoch > 0:  # the networks moved: unroll them again
                policy, values = self.policy(batch, inputs), self.value(inputs)[0].squeeze(-1)
            policy_loss, clip_share = clipped_surrogate(self.log_probs(policy, batch.actions), old_log_probs,
                                                        advantages, c.clip_eps, decisions)
            entropy = losses.entropy_bonus(policy, decisions)
            value_loss = ((values[:, :-1] - returns) ** 2 * steps).sum() / steps.sum().clamp(min=1)
            loss = policy_loss + c.value_coef * value_loss - c.entropy_coef * entropy
            grad_norm = optimiser_step(self.optimiser, loss, self.parameters(), c.grad_norm_clip)
        return {"actor_loss": policy_loss.detach(), "critic_loss": value_loss.detach(), "grad_norm": grad_norm.detach(),
                "clip_fraction": clip_share.detach(), "entropy": entropy.detach()}

    @staticmethod
    def log_probs(policy: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π(u_t^a|τ_t^a) of the actions taken: policy [B, T, N, U], actions [B, T, N] -> [B, T, N]."""
        return losses.chosen_action_values(policy, actions).clamp(min=1e-12).log()

    @torch.no_grad()
    def rollout_diagnostics(self, batch: EpisodeBatch) -> diagnostics.Sums:
        """Entropy of π and collected actions that are not argmax π, on the episodes just collected."""
        inputs = sequence_inputs(batch.obs, batch.actions, self.info.n_actions)
        return diagnostics.policy_diagnostics(self.policy(batch, inputs), batch.actions,
                                              batch.avail_actions[:, :-1], batch.filled)

    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"ppo": self.optimiser}
