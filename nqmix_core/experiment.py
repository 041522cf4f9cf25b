"""The experiment loop behind ``nqmix train``: train, evaluate by the paper's protocol, log, checkpoint.

    train_run(RunConfig(algo="qmix", env="smax:3m", t_max=200_000), out="results/qmix-3m")

One iteration = one rollout of E episodes (E = ``RunConfig.n_envs``) with the behaviour policy, then
learner updates (with ``overlap_collection``, the rollout runs in a second thread during the updates):

* off-policy learners (NQMIX, NQMIX-M, QMIX, VDN): round(E · ``updates_per_episode``) updates, each
  on 32 episodes sampled from the replay buffer. The default 1.0 keeps pymarl's ratio of one update
  per collected episode (pymarl runs one environment and updates after every episode).
* on-policy COMA: one update on the E episodes just collected (its "replay" holds exactly them).

Evaluation (paper Sec. 5): at step 0 and whenever the step count passes a multiple of
``test_interval`` (5,000), ``test_episodes`` (32) episodes with the greedy policy and as many with
the stochastic one. Each evaluation adds one row to ``progress.csv`` (and TensorBoard): test win
rates and returns, plus the training statistics averaged since the previous row. Logged values stay
tensors on the device until the row is written: one host-device sync per row, plus one per rollout
to check that every loss is finite.

Files in the output folder: ``progress.csv`` (deterministic: a resumed run reproduces it exactly),
``timing.csv`` (wall-clock per row), ``manifest.json`` (command, commit, config, versions, host),
``checkpoint.pt`` and ``tb/``. A checkpoint is written every ``checkpoint_interval`` steps and at the
end, atomically (temp file, then ``os.replace``), and only after the losses were checked finite.
It holds only tensors and plain Python values, so it loads with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from nqmix_core import diagnostics, registry, train
from nqmix_core.buffer import EpisodeBuffer
from nqmix_core.specs import EpisodeBatch
from nqmix_core.config import AlgoConfig, RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.devices import resolve_device
from nqmix_core.errors import UserError
from nqmix_core.experiment_io import (
    capture_env_rng,
    check_folder,
    load_checkpoint,
    make_folder,
    manifest_base,
    RunLock,
    check_run_folder,
    restore_run,
    save_checkpoint,
    tensorboard_writer,
    write_csv,
    write_json,
)
from nqmix_core.runner import EpisodeStats, evaluate, rollout  # noqa: F401  (evaluate: part of this API too)
from nqmix_core.train import Counters, Generators, TrainTracker

CHECKPOINT_FORMAT = 1
class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the run stopped before writing another checkpoint."""


@dataclass
class Run:
    """Everything that changes while training; a checkpoint is exactly this plus the configs."""

    config: RunConfig
    algo: AlgoConfig
    device: torch.device
    env: object
    learner: object
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
    behaviour: object | None = None  # overlap_collection: the learner's copy that collects

    def updates_per_rollout(self) -> int:
        if self.algo.on_policy:
            return 1
        return max(1, round(self.config.n_envs * self.config.updates_per_episode))

    def state(self, wall_seconds: float) -> dict:
        g = self.generators
        return {"format": CHECKPOINT_FORMAT, "run_config": asdict(self.config), "algo_config": asdict(self.algo),
                "device": str(self.device), "env_info": asdict(self.env.info),
                "learner": self.learner.checkpoint_state(), "buffer": self.buffer.state_dict(),
                "counters": asdict(self.counters), "tracker": self.tracker.state_dict(),
                "rng": {"act": g.act.get_state(), "sample": g.sample.get_state(),
                        "test": self.test_generator.get_state(), "torch": torch.get_rng_state(),
                        "env": capture_env_rng(self.env)},
                "rows": self.rows, "timing": self.timing, "next_test": self.next_test,
                "next_checkpoint": self.next_checkpoint, "wall_seconds": wall_seconds}


def build_run(config: RunConfig, algo: AlgoConfig, device: torch.device, env=None) -> Run:
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
    parts = train.start_run(algo, env.info, config.seed, device)
    env.reset(config.seed)  # puts an injected (shared) environment's random stream at the run's seed
    test_generator = torch.Generator(device=device).manual_seed(config.seed + 2)
    return Run(config=config, algo=algo, device=device, env=env, learner=parts.learner, buffer=parts.buffer,
               counters=parts.counters, generators=parts.generators, test_generator=test_generator,
               tracker=TrainTracker(), next_checkpoint=config.checkpoint_interval,
               behaviour=copy.deepcopy(parts.learner) if config.overlap_collection else None)


def collect(run: Run, learner) -> tuple[EpisodeBatch, EpisodeStats]:
    """One rollout of E episodes with ``learner``'s behaviour policy."""
    return rollout(run.env, learner, "explore", run.counters.t_env, run.generators.act)


def store(run: Run, batch: EpisodeBatch, stats: EpisodeStats) -> None:
    """Keep the rollout, count it, and log its statistics and the learner's diagnostics on it."""
    scale = run.config.reward_scale
    batch = batch.with_reward_scale(scale)  # the learner sees reward × scale; stats stay in env units
    lengths = train.store(run.buffer, run.counters, batch, stats)
    run.tracker.add_rollout(stats)
    # nqmix_core.diagnostics; with overlap_collection: the learner after the updates made meanwhile
    sums = run.learner.rollout_diagnostics(batch.trim(int(lengths.max())))
    run.tracker.add_diagnostics(diagnostics.in_env_units(sums, scale))


def learn(run: Run) -> dict[str, torch.Tensor]:
    return train.learn(run.learner, run.buffer, run.counters, run.generators, run.updates_per_rollout(),
                       on_update=run.tracker.add_update) or {}


def iterate(run: Run) -> None:
    """Collect one rollout and make the learner updates; raise if a loss became NaN or infinite.

    pymarl's order is collect, store, learn. With ``overlap_collection`` a copy of the learner, taken
    now, collects in a second thread while the learner updates on the replay as it was; the rollout
    is stored after both finish. The two threads share no state (the collector has the environment
    and the acting random stream, the learner the replay and the sampling stream), so the run is as
    deterministic and resumable as the sequential one.
    """
    if run.behaviour is None:
        store(run, *collect(run, run.learner))
        info = learn(run)
    else:
        run.behaviour.load_state_dict(run.learner.state_dict())
        with ThreadPoolExecutor(max_workers=1) as pool:
            collected = pool.submit(collect, run, run.behaviour)
            info = learn(run)
            batch, stats = collected.result()
        store(run, batch, stats)
    if not run.tracker.losses_finite():  # one sync per rollout
        bad = [k for k, v in info.items() if k.endswith("loss") and not bool(torch.isfinite(v))]
        raise TrainingDiverged(f"The {bad[0] if bad else 'loss'} became NaN or infinite near step "
                               f"{run.counters.t_env}, so training stopped and the last checkpoint was left "
                               f"as it was; lower the learning rate or check the inputs, then resume.")


def log_row(run: Run, wall_seconds: float) -> dict:
    """Evaluate greedy and stochastic policies and append one row of test and training statistics."""
    c, t_env = run.config, run.counters.t_env
    tests = {mode: evaluate(run.env, run.learner, mode, c.test_episodes, t_env, run.test_generator)
             for mode in ("greedy", "stochastic")}
    names = [(mode, key) for mode in tests for key in tests[mode]]
    values = torch.stack([tests[m][k].float() for m, k in names]).tolist()  # one sync per row
    row = {"t_env": t_env, "episodes": run.counters.episodes, "updates": run.counters.updates,
           "epsilon": run.learner.epsilon(t_env)}
    for (mode, key), value in zip(names, values):
        row[f"test_{mode}_{key}"] = value
    row.update({f"test_{mode}_episodes": c.test_episodes for mode in tests})
    if run.tracker.episodes:
        row.update(run.tracker.summary())
    run.rows.append(row)
    run.timing.append({"t_env": t_env, "wall_seconds": round(wall_seconds, 3)})
    return row


def train_run(config: RunConfig, out: str | Path, resume: bool = False, algo: AlgoConfig | None = None,
              env=None, command: str | None = None) -> list[dict]:
    """Train ``config.algo`` on ``config.env`` until ``config.t_max`` steps; returns the log rows.

    ``algo`` replaces the algorithm's preset (e.g. ``algo_config("qmix", lr=...)``); ``env`` is an
    already built environment for ``config.env`` with ``config.n_envs`` copies (tests share one to
    avoid compiling SMAX again); ``resume`` continues from ``out/checkpoint.pt``.
    """
    start = time.perf_counter()
    out, algo = Path(out), algo or algo_config(config.algo)
    checkpoint = out / "checkpoint.pt"
    check_run_folder(out, resume)
    check_folder(out)  # before the environment is built (SMAX compiles for ~20 s)
    state = load_checkpoint(checkpoint) if resume else None
    device = resolve_device(config.device)
    run = build_run(config, algo, device, env)
    if state is not None:
        restore_run(run, state, checkpoint)
    make_folder(out)
    try:
        lock = RunLock(out).__enter__()
    except UserError:
        if env is None:
            run.env.close()
        raise
    try:
        return _train(run, out, config, resume, command, start, env is None)
    finally:
        lock.__exit__()


def _train(run: Run, out: Path, config: RunConfig, resume: bool, command: str | None, start: float,
           own_env: bool) -> list[dict]:
    """The loop of ``train_run`` once its folder is checked and locked: evaluate, train, checkpoint, log."""
    checkpoint = out / "checkpoint.pt"
    manifest = manifest_base(run, command)
    write_json(out / "manifest.json", {**manifest, "status": "running"})
    writer = tensorboard_writer(out / "tb", config.tensorboard, purge_step=run.counters.t_env + 1 if resume else None)
    bar = tqdm(total=config.t_max, initial=min(run.counters.t_env, config.t_max), unit="step",
               disable=not config.progress, dynamic_ncols=True)

    def wall() -> float:  # seconds of training so far, over every resumed segment
        return run.wall_offset + time.perf_counter() - start
    status = "failed"
    try:
        if not run.rows:
            _record(run, wall(), out, writer, bar)
            save_checkpoint(checkpoint, run.state(wall()))  # from now on the folder can always be resumed
        while run.counters.t_env < config.t_max:
            before = run.counters.t_env
            iterate(run)
            bar.update(min(run.counters.t_env, config.t_max) - min(before, config.t_max))
            if run.counters.t_env >= run.next_test:
                _record(run, wall(), out, writer, bar)
            if run.counters.t_env >= run.next_checkpoint:
                run.next_checkpoint = (run.counters.t_env // config.checkpoint_interval + 1) * config.checkpoint_interval
                save_checkpoint(checkpoint, run.state(wall()))
        save_checkpoint(checkpoint, run.state(wall()))
        status = "finished"
    except TrainingDiverged:
        status = "diverged"
        raise
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (``nqmix train`` turns it into this)
        status = "interrupted"
        raise
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        write_json(out / "manifest.json", {**manifest, "status": status, "t_env": run.counters.t_env,
                                           "wall_seconds": round(time.perf_counter() - start, 3),
                                           "wall_seconds_all_segments": round(wall(), 3)})
        if own_env:
            run.env.close()
    return run.rows


def _record(run: Run, wall_seconds: float, out: Path, writer, bar) -> None:
    """Evaluate, append the row, rewrite the CSVs, log to TensorBoard, refresh the progress bar."""
    row = log_row(run, wall_seconds)
    interval = run.config.test_interval
    run.next_test = (run.counters.t_env // interval + 1) * interval
    write_csv(out / "progress.csv", run.rows)
    write_csv(out / "timing.csv", run.timing)
    if writer is not None:
        for key, value in row.items():
            if key != "t_env" and isinstance(value, (int, float)):
                writer.add_scalar(key, value, global_step=row["t_env"])
        writer.add_scalar("wall_seconds", wall_seconds, global_step=row["t_env"])
    bar.set_postfix(greedy_win=f"{row['test_greedy_win_rate']:.2f}", refresh=False)
