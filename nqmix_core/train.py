"""The training loop, once: ``iterate(run, hooks)`` collects, stores, learns and evaluates until the budget,
and calls its hooks for what the caller keeps (``experiment.py`` writes files, checkpoints and logs from them).

One step plays one episode in each of the E environment copies (Alg. 1 lines 2–3), stores them, and runs
``Run.updates_per_rollout`` learner updates on random mini-batches (lines 4–16); an evaluation (paper Sec. 5)
follows every ``test_interval`` steps. ``start_run``, ``store``, ``learn`` and ``collect_and_learn`` are the
same steps on loose parts, for the notebooks and the matrix games.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import torch

from nqmix_core import diagnostics, registry
from nqmix_core.buffer import EpisodeBuffer
from nqmix_core.config import AlgoConfig, RunConfig
from nqmix_core.envs.base import BatchedEnv, EnvInfo
from nqmix_core.errors import UserError
from nqmix_core.learners.protocol import Learner
from nqmix_core.runner import EpisodeStats, evaluate, rollout
from nqmix_core.specs import EpisodeBatch


@dataclass
class Generators:
    """Random streams of one run: ``act`` on the env's device (actions), ``sample`` on the CPU (replay)."""

    act: torch.Generator
    sample: torch.Generator

    @classmethod
    def from_seed(cls, seed: int, device: torch.device | str) -> "Generators":
        return cls(act=torch.Generator(device=torch.device(device)).manual_seed(seed),
                   sample=torch.Generator().manual_seed(seed + 1))


@dataclass
class Counters:
    """Progress of a run: environment steps, collected episodes, learner updates."""

    t_env: int = 0
    episodes: int = 0
    updates: int = 0


@dataclass
class TrainTracker:
    """Training statistics summed on the device since the last log row, plus a non-finite-loss flag.

    Each statistic is a sum and a weight; a row reports sum / weight (NaN when the weight is 0):
    rollout statistics are weighted by episodes, update statistics by updates, and the diagnostics
    (``nqmix_core.diagnostics``) carry their own weights (decisions or steps counted).
    """

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    weights: dict[str, torch.Tensor] = field(default_factory=dict)
    episodes: int = 0
    updates: int = 0
    nonfinite: torch.Tensor | None = None

    def add(self, name: str, value: torch.Tensor, weight: torch.Tensor | float = 1.0) -> None:
        value = value.detach().float().sum()
        weight = torch.as_tensor(weight, dtype=torch.float32, device=value.device)
        if name in self.sums:
            self.sums[name], self.weights[name] = self.sums[name] + value, self.weights[name] + weight
        else:
            self.sums[name], self.weights[name] = value, weight

    def add_rollout(self, stats: EpisodeStats) -> None:
        n_episodes = stats.returns.shape[0]
        self.episodes += n_episodes
        for name, value in (("return", stats.returns), ("win_rate", stats.won), ("episode_length", stats.lengths)):
            self.add(name, value, n_episodes)

    def add_diagnostics(self, sums: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """A rollout's diagnostics: name -> (sum, weight), logged as ``train_diag_<name>``."""
        for name, (total, weight) in sums.items():
            self.add(f"diag_{name}", total, weight)

    def add_update(self, info: dict[str, torch.Tensor]) -> None:
        self.updates += 1
        for name, value in info.items():
            self.add(f"update_{name}", value)
            if name.endswith("loss"):
                bad = ~torch.isfinite(value)
                self.nonfinite = bad if self.nonfinite is None else self.nonfinite | bad

    def losses_finite(self) -> bool:
        """One host-device sync."""
        return self.nonfinite is None or not bool(self.nonfinite)

    def summary(self) -> dict[str, float]:
        """Weighted means since the last row (one sync), then start again."""
        names = list(self.sums)
        pairs = torch.stack([torch.stack([self.sums[n], self.weights[n]]) for n in names]).tolist() if names else []
        row = {f"train_{name.removeprefix('update_')}": total / weight if weight > 0 else float("nan")
               for name, (total, weight) in zip(names, pairs)}
        row.update(train_episodes=self.episodes, train_updates=self.updates)
        self.sums, self.weights, self.episodes, self.updates = {}, {}, 0, 0
        return row

    def state_dict(self) -> dict:
        return {"sums": dict(self.sums), "weights": dict(self.weights), "episodes": self.episodes,
                "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.sums, self.weights = dict(state["sums"]), dict(state["weights"])
        self.episodes, self.updates = int(state["episodes"]), int(state["updates"])


@dataclass
class RunParts:
    """What every training loop starts from: the learner, its replay, its counters and random streams."""

    learner: Learner
    buffer: EpisodeBuffer
    counters: Counters
    generators: Generators


def start_run(algo: AlgoConfig, info: EnvInfo, seed: int, device: torch.device | str) -> RunParts:
    """The setup shared by ``build_run``, the matrix games and the notebooks: seed the global stream, build the
    learner (its initial weights come from it), an empty replay, zero counters and the run's own streams."""
    seed_everything(seed)
    learner = registry.make_learner(algo, info, device)
    return RunParts(learner=learner, buffer=EpisodeBuffer(algo.buffer_size, info, device), counters=Counters(),
                    generators=Generators.from_seed(seed, device))


def seed_everything(seed: int) -> None:
    """Seed torch's global RNG, which initialises network weights."""
    torch.manual_seed(seed)


def store(buffer: EpisodeBuffer, counters: Counters, batch: EpisodeBatch, stats: EpisodeStats) -> torch.Tensor:
    """Put one rollout's episodes into replay and count their steps (one host-device sync); returns the
    episodes' lengths on the CPU ([E] int64)."""
    lengths = stats.lengths.cpu()
    buffer.insert(batch, lengths)
    counters.t_env += int(lengths.sum())
    counters.episodes += batch.n_episodes
    return lengths


def learn(learner: Learner, buffer: EpisodeBuffer, counters: Counters, generators: Generators,
          n_updates: int, on_update: Callable[[dict], None] | None = None) -> dict[str, torch.Tensor] | None:
    """Up to ``n_updates`` learner updates on mini-batches sampled from replay (none until it holds
    one batch); ``on_update`` sees each update's info. Returns the last info."""
    info = None
    for _ in range(n_updates):
        if not buffer.can_sample(learner.config.batch_size):
            break
        sample = buffer.sample(learner.config.batch_size, generators.sample)
        info = learner.train_step(sample, counters.t_env, counters.episodes)
        counters.updates += 1
        if on_update is not None:
            on_update(info)
    return info


def collect_and_learn(env: BatchedEnv, parts: RunParts, updates_per_rollout: int = 1
                      ) -> tuple[EpisodeStats, dict[str, torch.Tensor] | None]:
    """Collect one batch of episodes with the behaviour policy, then update the learner: the loop the matrix
    games and the notebooks run on what ``start_run`` built (``iterate`` is the full one, with evaluations)."""
    batch, stats = rollout(env, parts.learner, "explore", parts.counters.t_env, parts.generators.act)
    store(parts.buffer, parts.counters, batch, stats)
    return stats, learn(parts.learner, parts.buffer, parts.counters, parts.generators, updates_per_rollout)


# --------------------------------------------------------------------------- one run, start to budget


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the run stopped before writing another checkpoint."""


@dataclass
class Run:
    """Everything that changes while training; a checkpoint is exactly this plus the configs."""

    config: RunConfig
    algo: AlgoConfig
    device: torch.device
    env: BatchedEnv
    learner: Learner
    buffer: EpisodeBuffer
    counters: Counters
    generators: Generators
    test_generator: torch.Generator
    tracker: TrainTracker
    rows: list[dict] = field(default_factory=list)
    timing: list[dict] = field(default_factory=list)
    next_test: int = 0
    next_checkpoint: int = 0
    wall_offset: float = 0.0
    behaviour: Learner | None = None  # overlap_collection: the learner's copy that collects

    def updates_per_rollout(self) -> int:
        return 1 if self.algo.on_policy else max(1, round(self.config.n_envs * self.config.updates_per_episode))


def build_run(config: RunConfig, algo: AlgoConfig, device: torch.device, env: BatchedEnv | None = None) -> Run:
    """A fresh run: seeded networks, empty replay, the environment reset to the run's seed."""
    if env is None:
        env = registry.make_env(config.env, config.n_envs, device, config.seed)
    if env.n_envs != config.n_envs:
        raise UserError(f"The environment given has {env.n_envs} copies but the run asks for {config.n_envs}.")
    if algo.on_policy and not (algo.batch_size == algo.buffer_size == config.n_envs):
        raise UserError(f"{config.algo} trains on the episodes of one rollout, so n_envs must equal its "
                        f"batch_size and buffer_size ({algo.batch_size}); set n_envs to {algo.batch_size}.")
    if algo.on_policy and config.overlap_collection:
        raise UserError(f"{config.algo} trains on-policy, on the episodes of the rollout just collected, so it "
                        f"cannot collect during its updates; drop --overlap-collection.")
    parts = start_run(algo, env.info, config.seed, device)
    env.reset(config.seed)  # puts an injected (shared) environment's random stream at the run's seed
    return Run(config=config, algo=algo, device=device, env=env, learner=parts.learner, buffer=parts.buffer,
               counters=parts.counters, generators=parts.generators,
               test_generator=torch.Generator(device=device).manual_seed(config.seed + 2), tracker=TrainTracker(),
               next_checkpoint=config.checkpoint_interval,
               behaviour=copy.deepcopy(parts.learner) if config.overlap_collection else None)


def collect(run: Run, learner: Learner) -> tuple[EpisodeBatch, EpisodeStats]:
    """One rollout of E episodes with ``learner``'s behaviour policy."""
    return rollout(run.env, learner, "explore", run.counters.t_env, run.generators.act)


def keep(run: Run, batch: EpisodeBatch, stats: EpisodeStats) -> None:
    """Store the rollout (reward × the run's scale; statistics stay in env units), log it and the learner's
    diagnostics on it."""
    scale = run.config.reward_scale
    batch = batch.with_reward_scale(scale)
    lengths = store(run.buffer, run.counters, batch, stats)
    run.tracker.add_rollout(stats)
    sums = run.learner.rollout_diagnostics(batch.trim(int(lengths.max())))
    run.tracker.add_diagnostics(diagnostics.in_env_units(sums, scale))


def step(run: Run) -> None:
    """Collect one rollout, store it, learn (pymarl's order); ``TrainingDiverged`` if a loss is not finite.
    With ``overlap_collection`` a copy of the learner taken now collects in a second thread during the updates
    (they share no state, so the run stays deterministic and resumable) and the rollout is stored after."""
    def update() -> dict[str, torch.Tensor]:
        return learn(run.learner, run.buffer, run.counters, run.generators, run.updates_per_rollout(),
                     on_update=run.tracker.add_update) or {}
    if run.behaviour is None:
        keep(run, *collect(run, run.learner))
        info = update()
    else:
        run.behaviour.load_state_dict(run.learner.state_dict())
        with ThreadPoolExecutor(max_workers=1) as pool:
            collected = pool.submit(collect, run, run.behaviour)
            info = update()
            batch, stats = collected.result()
        keep(run, batch, stats)
    if not run.tracker.losses_finite():  # one sync per rollout
        bad = [k for k, v in info.items() if k.endswith("loss") and not bool(torch.isfinite(v))]
        raise TrainingDiverged(f"The {bad[0] if bad else 'loss'} became NaN or infinite near step "
                               f"{run.counters.t_env}, so training stopped and the last checkpoint was left "
                               f"as it was; lower the learning rate or check the inputs, then resume.")


def test_row(run: Run) -> dict:
    """Evaluate greedy and stochastic policies (paper Sec. 5); append a row of test and training statistics."""
    c, t_env = run.config, run.counters.t_env
    tests = {mode: evaluate(run.env, run.learner, mode, c.test_episodes, t_env, run.test_generator)
             for mode in ("greedy", "stochastic")}
    names = [(mode, key) for mode in tests for key in tests[mode]]
    values = torch.stack([tests[m][k].float() for m, k in names]).tolist()  # one sync per row
    row = {"t_env": t_env, "episodes": run.counters.episodes, "updates": run.counters.updates,
           **run.learner.exploration(t_env), **{f"test_{m}_{k}": v for (m, k), v in zip(names, values)},
           **{f"test_{mode}_episodes": c.test_episodes for mode in tests},
           **(run.tracker.summary() if run.tracker.episodes else {})}
    run.rows.append(row)
    run.next_test = (t_env // c.test_interval + 1) * c.test_interval
    return row


def iterate(run: Run, hooks) -> None:
    """Train ``run`` to ``config.t_max`` steps: a test row at step 0 and every ``test_interval`` steps, a
    checkpoint moment after the first row, every ``checkpoint_interval`` steps and at the end. ``hooks`` hears
    of each: ``on_row(run, row)``, ``on_checkpoint(run)`` and ``on_steps(run, steps)`` (steps just done)."""
    c = run.config
    if not run.rows:
        hooks.on_row(run, test_row(run))
        hooks.on_checkpoint(run)  # from now on the run can always be resumed
    while run.counters.t_env < c.t_max:
        before = run.counters.t_env
        step(run)
        hooks.on_steps(run, min(run.counters.t_env, c.t_max) - min(before, c.t_max))
        if run.counters.t_env >= run.next_test:
            hooks.on_row(run, test_row(run))
        if run.counters.t_env >= run.next_checkpoint:
            run.next_checkpoint = (run.counters.t_env // c.checkpoint_interval + 1) * c.checkpoint_interval
            hooks.on_checkpoint(run)
    hooks.on_checkpoint(run)
