"""``nqmix train``'s run folder around the one training loop (``train.iterate``): it checks and locks the
folder, resumes from a checkpoint, and keeps the files, checkpoints and logs, as the loop's hooks.

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

import time
from pathlib import Path

from tqdm import tqdm

from nqmix_core.config import AlgoConfig, RunConfig
from nqmix_core.devices import resolve_device
from nqmix_core.errors import UserError
from nqmix_core.experiment_io import (
    RunLock,
    check_folder,
    check_run_folder,
    load_checkpoint,
    make_folder,
    manifest_base,
    restore_run,
    run_state,
    save_checkpoint,
    tensorboard_writer,
    write_csv,
    write_json,
)
from nqmix_core.registry import algo_config
from nqmix_core.train import Run, TrainingDiverged, build_run, iterate


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
    make_folder(out)
    try:
        lock = RunLock(out).__enter__()
    except UserError:
        if env is None:
            run.env.close()
        raise
    try:
        return _train(run, out, config, state, command, start, env is None)
    finally:
        lock.__exit__()


class FileHooks:
    """``train.iterate``'s hooks for a run folder: each row goes to the CSVs, TensorBoard and the progress bar;
    each checkpoint moment writes ``checkpoint.pt`` (atomically)."""

    def __init__(self, out: Path, writer, bar, wall) -> None:
        self.out, self.writer, self.bar, self.wall = out, writer, bar, wall

    def on_row(self, run: Run, row: dict) -> None:
        wall_seconds = self.wall()
        run.timing.append({"t_env": row["t_env"], "wall_seconds": round(wall_seconds, 3)})
        write_csv(self.out / "progress.csv", run.rows)
        write_csv(self.out / "timing.csv", run.timing)
        if self.writer is not None:
            for key, value in row.items():
                if key != "t_env" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, global_step=row["t_env"])
            self.writer.add_scalar("wall_seconds", wall_seconds, global_step=row["t_env"])
        self.bar.set_postfix(greedy_win=f"{row['test_greedy_win_rate']:.2f}", refresh=False)

    def on_checkpoint(self, run: Run) -> None:
        save_checkpoint(self.out / "checkpoint.pt", run_state(run, self.wall()))

    def on_steps(self, run: Run, steps: int) -> None:
        self.bar.update(steps)


def _train(run: Run, out: Path, config: RunConfig, state: dict | None, command: str | None, start: float,
           own_env: bool) -> list[dict]:
    """``train.iterate`` once the folder is checked and locked (from the checkpoint ``state``, if resumed), with
    the manifest's status kept up to date."""
    if state is not None:
        try:
            restore_run(run, state, out / "checkpoint.pt")
        except UserError:
            if own_env:
                run.env.close()
            raise
    manifest = manifest_base(run, command)
    write_json(out / "manifest.json", {**manifest, "status": "running"})
    resumed_after = run.counters.t_env + 1 if state is not None else None  # TensorBoard drops later events
    writer = tensorboard_writer(out / "tb", config.tensorboard, purge_step=resumed_after)
    bar = tqdm(total=config.t_max, initial=min(run.counters.t_env, config.t_max), unit="step",
               disable=not config.progress, dynamic_ncols=True)

    def wall() -> float:  # seconds of training so far, over every resumed segment
        return run.wall_offset + time.perf_counter() - start
    status = "failed"
    try:
        iterate(run, FileHooks(out, writer, bar, wall))
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
