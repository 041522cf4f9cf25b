"""Training on one-step matrix games and reading out what each method learned.

The lesson of these games is representational: can the method's Q_tot express the payoff, and
does the joint action it picks reach the optimum? Q-learners (QMIX, VDN) are trained on uniformly
random joint actions (ε fixed at 1, as QPLEX does for this game), so every payoff entry is seen
equally often. NQMIX and NQMIX-M follow their own stochastic policies (Alg. 1 line 2).

``train_matrix_game`` trains for a fixed number of updates; ``MatrixTrainer`` trains in chunks, and
``train_until_fitted`` (the payoff editor's) trains until the Q_tot fit stops improving and says so.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import torch

from nqmix_core.config import AlgoConfig
from nqmix_core.registry import algo_config
from nqmix_core.envs.matrix import QTRAN_PAYOFF, MatrixGame
from nqmix_core.learners import CriticLearner
from nqmix_core.networks import agent_inputs
from nqmix_core.runner import rollout
from nqmix_core.train import collect_and_learn, start_run

MATRIX_METHODS: dict[str, tuple[str, bool]] = {
    "VDN": ("vdn", True),
    "QMIX": ("qmix", True),
    "NQMIX-M": ("nqmix-m", False),
    "NQMIX": ("nqmix", False),
    "NQMIX, uniform data": ("nqmix", True),
}
"""Label -> (algorithm, uniform_data) compared by notebook 01 and ``nqmix demo``. The last one is
NQMIX trained off-policy on uniformly random joint actions: it separates what the critic can
represent from what the paper's on-policy exploration lets it see."""


@dataclass(frozen=True)
class MatrixRun:
    """What one method learned on one payoff with one seed."""

    algo: str
    seed: int
    payoff: torch.Tensor  # [U] * N
    q_tot: torch.Tensor  # [U] * N, the learned Q_tot of every joint action
    agent_qs: torch.Tensor  # [N, U], Q_a(u) of each agent
    policy: torch.Tensor | None  # [N, U], π_a(u) for actor-critic methods, None for Q-learners
    joint_action: tuple[int, ...]  # the greedy joint action
    seconds: float
    learner: CriticLearner | None = field(default=None, repr=False, compare=False)  # the trained networks
    reward_scale: float = 1.0  # the networks learned payoff × reward_scale; q_tot, agent_qs are divided back

    @property
    def success(self) -> bool:
        """Did the greedy joint action reach the highest payoff?"""
        return bool(self.payoff[self.joint_action] >= self.payoff.max())

    @property
    def table_error(self) -> float:
        """Root-mean-square error of Q_tot against the payoff over all joint actions."""
        return float((self.q_tot - self.payoff).pow(2).mean().sqrt())


def matrix_config(algo: str, uniform_data: bool | None = None, **overrides) -> AlgoConfig:
    """The algorithm's preset adapted to one-step games.

    ``uniform_data`` (default: True for Q-learners, False for actor-critics) fixes ε at 1, so the
    behaviour is uniformly random and every joint action is seen equally often.
    """
    if uniform_data is None:
        uniform_data = algo_config(algo).learner == "q-learning"
    if uniform_data:
        overrides = {"epsilon_start": 1.0, "epsilon_finish": 1.0, **overrides}
    return algo_config(algo, **overrides)


@torch.no_grad()
def read_out(learner: CriticLearner, env: MatrixGame) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Q_tot of every joint action [U]*N, agent values [N, U], and the policies [N, U] (or None)."""
    info = env.info
    first = env.reset()
    obs, state = first.obs[:1], first.state[:1]  # [1, N, O], [1, S]
    no_action = torch.full((1, info.n_agents), -1, dtype=torch.long, device=env.device)
    agent_qs, hidden = learner.agent.step(agent_inputs(obs, no_action, info.n_actions),
                                          learner.initial_hidden(1))  # [1, N, U], [1, N, H]
    joint = torch.tensor(list(itertools.product(range(info.n_actions), repeat=info.n_agents)),
                         device=env.device)  # [U^N, N]
    chosen = agent_qs[0].gather(-1, joint.T).T  # [U^N, N]: chosen[j, a] = Q_a(joint[j, a])
    q_tot = learner.mixer(chosen, state.expand(len(joint), -1))  # [U^N]
    policy = learner.action_probs(hidden, first.avail_actions[:1])  # [1, N, U], or None for a Q-learner
    return q_tot.view([info.n_actions] * info.n_agents), agent_qs[0], None if policy is None else policy[0]


class MatrixTrainer:
    """One method on one payoff, trained in chunks: each ``train(n)`` continues where the last stopped.

    ``reward_scale`` multiplies the payoff the learner sees; every value read out is divided by it
    again, so results are in the payoff's own units. Training ``n`` updates in one call or in several
    gives the same networks.
    """

    def __init__(self, algo: str, payoff=QTRAN_PAYOFF, seed: int = 0, n_envs: int = 32,
                 device: torch.device | str = "cpu", uniform_data: bool | None = None, reward_scale: float = 1.0,
                 **overrides) -> None:
        self.start = time.perf_counter()
        self.algo, self.seed, self.reward_scale = algo, seed, reward_scale
        self.payoff = torch.as_tensor(payoff, dtype=torch.float32)  # [U] * N, the payoff's own units
        self.env = MatrixGame(self.payoff * reward_scale, n_envs=n_envs, device=device)
        self.parts = start_run(matrix_config(algo, uniform_data, **overrides), self.env.info, seed, device)
        self.learner, self.counters, self.generators = self.parts.learner, self.parts.counters, self.parts.generators

    def train(self, n_updates: int) -> None:
        """``n_updates`` more updates, each after one rollout of ``n_envs`` episodes."""
        for _ in range(n_updates):
            collect_and_learn(self.env, self.parts)

    def values(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Q_tot [U]*N and Q_a [N, U] in payoff units, and π_a [N, U] (or None), all on the CPU."""
        q_tot, agent_qs, policy = read_out(self.learner, self.env)
        return (q_tot.cpu() / self.reward_scale, agent_qs.cpu() / self.reward_scale,
                None if policy is None else policy.cpu())

    def run(self) -> MatrixRun:
        """What has been learned so far. The greedy rollout's random stream is restored afterwards."""
        q_tot, agent_qs, policy = self.values()
        act_state = self.generators.act.get_state()
        greedy_batch, _ = rollout(self.env, self.learner, "greedy", self.counters.t_env, self.generators.act)
        self.generators.act.set_state(act_state)
        return MatrixRun(algo=self.algo, seed=self.seed, payoff=self.payoff, q_tot=q_tot, agent_qs=agent_qs,
                         policy=policy, joint_action=tuple(int(u) for u in greedy_batch.actions[0, 0].cpu()),
                         seconds=time.perf_counter() - self.start, learner=self.learner,
                         reward_scale=self.reward_scale)


def train_matrix_game(algo: str, payoff=QTRAN_PAYOFF, seed: int = 0, n_updates: int = 1500,
                      n_envs: int = 32, device: torch.device | str = "cpu", uniform_data: bool | None = None,
                      **overrides) -> MatrixRun:
    """Train ``algo`` on a one-step game: each update follows one rollout of ``n_envs`` episodes."""
    trainer = MatrixTrainer(algo, payoff, seed, n_envs, device, uniform_data, **overrides)
    trainer.train(n_updates)
    return trainer.run()


def run_methods(methods: dict[str, tuple[str, bool]], payoff=QTRAN_PAYOFF, seeds=range(3), n_updates: int = 400,
                device: torch.device | str = "cpu", progress=None) -> dict[str, list[MatrixRun]]:
    """Train every method on ``payoff`` with every seed: label -> runs. ``progress(label, seed)`` is optional."""
    runs = {}
    for label, (algo, uniform_data) in methods.items():
        runs[label] = []
        for seed in seeds:
            if progress is not None:
                progress(label, seed)
            runs[label].append(train_matrix_game(algo, payoff, seed, n_updates, device=device,
                                                 uniform_data=uniform_data))
    return runs


def marginal_payoffs(payoff: torch.Tensor) -> torch.Tensor:
    """Each agent's expected payoff of each action when every other agent plays uniformly: [U]*N -> [N, U]."""
    n_agents = payoff.dim()
    return torch.stack([payoff.mean(dim=[d for d in range(n_agents) if d != a]) for a in range(n_agents)])


def format_agent_values(runs: dict[str, MatrixRun], action_names: str = "ABCDEFGH") -> str:
    """Q_a and (for actor-critics) π_a of every agent of one run per label, then each agent's payoff
    against a uniform partner (``marginal_payoffs`` of the first run's payoff): a table, 2 decimals."""
    first = next(iter(runs.values()))
    n_agents, n_actions = first.agent_qs.shape
    marginal_label = "payoff, partner uniform"
    width = max(len(marginal_label), *(len(label) for label in runs)) + 2
    header = f"{'':<{width}}{'':<9}" + "".join(f"{name:>8}" for name in action_names[:n_actions])
    lines = [header, "-" * len(header)]

    def row(label: str, name: str, values: torch.Tensor) -> str:
        return f"{label:<{width}}{name:<9}" + "".join(f"{v:>8.2f}" for v in values.tolist())
    for label, run in runs.items():
        lines += [row(label if a == 0 else "", f"Q_{a + 1}", run.agent_qs[a]) for a in range(n_agents)]
        if run.policy is not None:
            lines += [row("", f"π_{a + 1}", run.policy[a]) for a in range(n_agents)]
    lines += [row(marginal_label if a == 0 else "", f"agent {a + 1}", values)
              for a, values in enumerate(marginal_payoffs(first.payoff))]
    return "\n".join(lines)


def summarise(runs: dict[str, list[MatrixRun]], action_names: str = "ABCDEFGH") -> list[dict]:
    """One row per method: success rate, mean Q_tot RMSE, and how often each joint action was picked."""
    rows = []
    for label, method_runs in runs.items():
        picks: dict[str, int] = {}
        for run in method_runs:
            name = "".join(action_names[u] for u in run.joint_action)
            picks[name] = picks.get(name, 0) + 1
        rows.append({"method": label,
                     "seeds": len(method_runs),
                     "success_rate": sum(r.success for r in method_runs) / len(method_runs),
                     "q_tot_rmse": sum(r.table_error for r in method_runs) / len(method_runs),
                     "joint_actions": ", ".join(f"{k}×{v}" for k, v in sorted(picks.items()))})
    return rows


def format_table(rows: list[dict]) -> str:
    """The summary rows as a fixed-width text table (2 decimals)."""
    header = f"{'method':<22}{'seeds':>6}{'success':>9}{'Q_tot RMSE':>12}  greedy joint actions"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['method']:<22}{r['seeds']:>6}{r['success_rate']:>9.2f}{r['q_tot_rmse']:>12.2f}"
                     f"  {r['joint_actions']}")
    return "\n".join(lines)


@torch.no_grad()
def mixer_signs(run: MatrixRun) -> torch.Tensor:
    """sign(∂Q_tot/∂Q_a) at every joint action of a two-or-more-agent one-step game: [U]*N + [N]."""
    from nqmix_core.losses import mixer_gradient_sign
    n_agents, n_actions = run.agent_qs.shape
    joint = torch.tensor(list(itertools.product(range(n_actions), repeat=n_agents)))  # [U^N, N]
    device = next(run.learner.parameters()).device
    chosen = run.agent_qs.gather(-1, joint.T).T.to(device) * run.reward_scale  # [U^N, N], in training units
    state = torch.ones(len(joint), run.learner.info.state_dim, device=device)  # matrix games: s = 1
    sign = mixer_gradient_sign(run.learner.mixer, chosen, state)  # [U^N, N]
    return sign.cpu().view(*[n_actions] * n_agents, n_agents)


def run_rows(runs: dict[str, list[MatrixRun]], action_names: str = "ABCDEFGH") -> list[dict]:
    """One CSV row per (method, seed): the picked joint action, success, RMSE and the full Q_tot table."""
    rows = []
    for label, method_runs in runs.items():
        for run in method_runs:
            flat = run.q_tot.flatten().tolist()
            joint = itertools.product(action_names[:run.q_tot.shape[0]], repeat=run.q_tot.dim())
            rows.append({"method": label, "algo": run.algo, "seed": run.seed,
                         "joint_action": "".join(action_names[u] for u in run.joint_action),
                         "success": int(run.success), "q_tot_rmse": round(run.table_error, 4),
                         **{f"q_tot_{''.join(j)}": round(v, 4) for j, v in zip(joint, flat)},
                         "seconds": round(run.seconds, 2)})
    return rows
