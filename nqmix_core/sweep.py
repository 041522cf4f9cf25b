"""``nqmix sweep``: train every (algorithm, environment, seed) cell of a grid, resumably.

A grid comes from a small YAML file or from the command line::

    # my_grid.yaml (the paper's grid is data/reproduction/grid.yaml)
    train: {device: cpu, test-episodes: 32}    # extra `nqmix train` options for every cell
                                               # (a list repeats the flag: set: [tau=0.005, critic_lr=1e-3])
    grids:                                     # one or more; repeated cells are run once
      - algos: [nqmix, qmix, coma]
        envs: {"smax:3m": 100000, "smax:2s3z": 60000}   # environment -> t_max (env steps)
        seeds: [0, 1, 2]

    nqmix sweep my_grid.yaml --out results/my-sweep --jobs 2
    nqmix sweep --algos nqmix qmix --envs smax:3m=20000 --seeds 0 1 --out results/sweep

Each cell is one ``nqmix train`` process writing to ``OUT/<env>/<algo>/seed<k>/`` (its own
progress.csv, manifest.json and checkpoint, plus ``train.log`` with everything it printed). A cell
whose manifest says ``finished`` at or past its ``t_max`` is skipped; a cell with a checkpoint is
resumed. Cells are ordered seed by seed, so a sweep cut short holds whole seeds. ``OUT/sweep.json``
records the sweep's own command, commit, versions and cells.

Backends: ``local`` runs ``--jobs`` processes at a time on this machine; ``ray`` submits the same
processes as Ray tasks to an existing cluster (``--ray-address``; "local" starts a private one),
each asking for one CPU and ``--gpus-per-run`` of a GPU. With Ray, OUT must be a folder every node
can write (a shared file system). No scheduling of our own beyond that.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from tqdm import tqdm

from nqmix_core.catalog import ENV_BACKENDS as ENV_BACKEND_FACTS
from nqmix_core.config import algo_config
from nqmix_core.errors import UserError
from nqmix_core.experiment_io import make_folder, provenance, write_json

ENV_BACKENDS = tuple(ENV_BACKEND_FACTS)
"""The environment backends a grid may name (``catalog.ENV_BACKENDS``)."""


@dataclass(frozen=True)
class Cell:
    """One training run of the grid."""

    algo: str
    env: str
    seed: int
    t_max: int

    def folder(self, root: Path) -> Path:
        return root / self.env.replace(":", "-") / self.algo / f"seed{self.seed}"


def _check_env(name: str) -> None:
    backend, _, task = str(name).partition(":")
    if backend not in ENV_BACKENDS or not task:
        raise UserError(f"Unknown environment {name!r} in the grid; write backend:task, e.g. smax:3m.")


def expand(grids: list[dict]) -> list[Cell]:
    """Cells of one or more grids ({algos, envs: {env: t_max}, seeds}), without repeats, seed by seed."""
    cells: dict[tuple, Cell] = {}
    for grid in grids:
        missing = {"algos", "envs", "seeds"} - set(grid)
        if missing:
            raise UserError(f"A grid lacks {', '.join(sorted(missing))}; give algos, envs (env: t_max) and seeds.")
        for algo in grid["algos"]:
            algo_config(algo)  # one sentence for an unknown algorithm
        for env, t_max in grid["envs"].items():
            _check_env(env)
            if not isinstance(t_max, int) or t_max < 1:
                raise UserError(f"The step budget of {env} is {t_max!r}; give a positive whole number of steps.")
        for seed in grid["seeds"]:
            for env, t_max in grid["envs"].items():
                for algo in grid["algos"]:
                    cells.setdefault((algo, env, int(seed)), Cell(algo, env, int(seed), t_max))
    return sorted(cells.values(), key=lambda c: c.seed)  # stable: grid order within a seed


def load_grid(path: str | Path) -> tuple[list[Cell], dict]:
    """(cells, extra train options) from a YAML grid file."""
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"Could not read the grid file {path} ({str(error).splitlines()[0]}); "
                        f"see `nqmix sweep --help` for its format.") from None
    if not isinstance(spec, dict) or "grids" not in spec:
        raise UserError(f"The grid file {path} needs a top-level 'grids:' list; see `nqmix sweep --help`.")
    return expand(spec["grids"]), dict(spec.get("train") or {})


def parse_envs(items: list[str]) -> dict[str, int]:
    """["smax:3m=20000", ...] -> {"smax:3m": 20000}."""
    envs = {}
    for item in items:
        name, _, steps = item.rpartition("=")
        if not name or not steps.isdigit():
            raise UserError(f"Could not read {item!r}; write each environment as NAME=STEPS, e.g. smax:3m=20000.")
        envs[name] = int(steps)
    return envs


def is_finished(cell: Cell, root: Path) -> bool:
    manifest = cell.folder(root) / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    return data.get("status") == "finished" and data.get("t_env", 0) >= cell.t_max


def train_command(cell: Cell, root: Path, options: dict) -> list[str]:
    """The `nqmix train` command line of one cell (resuming when a checkpoint exists)."""
    folder = cell.folder(root)
    command = ["nqmix", "train", "--algo", cell.algo, "--env", cell.env, "--seed", str(cell.seed),
               "--t-max", str(cell.t_max), "--out", str(folder), "--no-progress"]
    for key, value in options.items():
        flag = f"--{str(key).replace('_', '-')}"
        if isinstance(value, list):  # e.g. set: [critic_lr=1e-3, tau=0.005] -> --set ... --set ...
            command += [part for item in value for part in (flag, str(item))]
        else:
            command += [flag] if value is True else [] if value is False else [flag, str(value)]
    if (folder / "checkpoint.pt").exists():
        command.append("--resume")
    return command


def run_cell(command: list[str], log_path: str, core: int | None = None) -> int:
    """Run one `nqmix train` process with its output appended to ``log_path``; its exit status.

    With ``core`` the process (and every thread it starts: torch's, XLA's) runs on that CPU core only.
    """
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write("$ " + " ".join(command) + (f"    # pinned to core {core}" if core is not None else "") + "\n")
        log.flush()
        pin = None if core is None else (lambda: os.sched_setaffinity(0, {core}))
        process = subprocess.run([sys.executable, "-m", "nqmix_core.cli", *command[1:]],
                                 stdout=log, stderr=subprocess.STDOUT, check=False, preexec_fn=pin)
    return process.returncode


def _run_pinned(cores: queue.Queue, command: list[str], log_path: str) -> int:
    """``run_cell`` on a core taken from ``cores`` and given back when the process ends."""
    core = cores.get()
    try:
        return run_cell(command, log_path, core)
    finally:
        cores.put(core)


def _run_local(jobs: list[tuple[Cell, list[str], str]], n_jobs: int, bar, pin: bool = False) -> dict[Cell, int]:
    results = {}
    cores: queue.Queue = queue.Queue()
    available = sorted(os.sched_getaffinity(0))
    for k in range(n_jobs):
        cores.put(available[k % len(available)])
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        futures = {(pool.submit(_run_pinned, cores, command, log) if pin else pool.submit(run_cell, command, log)): cell
                   for cell, command, log in jobs}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update(1)
    return results


def _run_ray(jobs: list[tuple[Cell, list[str], str]], address: str, gpus_per_run: float, bar) -> dict[Cell, int]:
    try:
        import ray
    except ImportError:
        raise UserError("The ray backend needs Ray; install it with `pip install ray`, "
                        "or run the sweep with --backend local.") from None
    ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
             log_to_driver=False, include_dashboard=False)
    remote = ray.remote(num_cpus=1, num_gpus=gpus_per_run)(run_cell)
    pending = {remote.remote(command, log): cell for cell, command, log in jobs}
    results = {}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        results[pending.pop(done[0])] = ray.get(done[0])
        bar.update(1)
    return results


def sweep(cells: list[Cell], root: str | Path, options: dict | None = None, backend: str = "local",
          n_jobs: int = 1, ray_address: str = "auto", gpus_per_run: float = 0.0,
          progress: bool = True, command: str | None = None, pin: bool = False) -> dict[Cell, int | None]:
    """Train every unfinished cell; returns cell -> exit status (None: already finished, skipped).

    ``command`` is recorded in ``sweep.json`` (default: this process's command line). ``pin`` (local
    backend) runs each of the ``n_jobs`` processes on a CPU core of its own, so that their torch and
    XLA thread pools do not compete for every core.
    """
    root, options = Path(root), dict(options or {})
    if n_jobs < 1:
        raise UserError("--jobs must be at least 1.")
    make_folder(root)
    write_json(root / "sweep.json", {**provenance(command), "backend": backend, "jobs": n_jobs, "pinned": pin,
                                     "train_options": options,
                                     "cells": [asdict(cell) for cell in cells]})
    results: dict[Cell, int | None] = {cell: None for cell in cells if is_finished(cell, root)}
    jobs = [(cell, train_command(cell, root, options), str(cell.folder(root) / "train.log"))
            for cell in cells if cell not in results]
    with tqdm(total=len(cells), initial=len(results), unit="run", disable=not progress,
              desc=f"sweep ({len(results)} already finished)") as bar:
        if backend == "local":
            results.update(_run_local(jobs, n_jobs, bar, pin))
        elif backend == "ray":
            results.update(_run_ray(jobs, ray_address, gpus_per_run, bar))
        else:
            raise UserError(f"Unknown backend {backend!r}; use local or ray.")
    return results
