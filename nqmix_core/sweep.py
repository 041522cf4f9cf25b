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

``nqmix_core.grid`` reads and checks grids; this module runs them. Each cell is one ``nqmix train`` process writing to ``OUT/<env>/<algo>/seed<k>/`` (its own
progress.csv, manifest.json and checkpoint, plus ``train.log`` with everything it printed). A cell
whose manifest says ``finished`` at or past its ``t_max`` is skipped; a cell with a checkpoint is
resumed. Cells are ordered seed by seed, so a sweep cut short holds whole seeds. ``OUT/sweep.json``
records the sweep's own command, commit, versions and cells, and keeps those of earlier sweeps into OUT. ``--drop-checkpoints`` deletes a cell's
checkpoint once its manifest says finished (a 1M-step 3s5z checkpoint holds the replay buffer, about 5 GB, so a
long grid's checkpoints can fill a disk); such a cell keeps its results but can no longer be extended.

Backends: ``local`` runs ``--jobs`` processes at a time on this machine; ``ray`` submits the same
processes as Ray tasks to an existing cluster (``--ray-address``; "local" starts a private one),
each asking for one CPU and ``--gpus-per-run`` of a GPU. With Ray, OUT must be a folder every node
can write (a shared file system). No scheduling of our own beyond that.
"""
from __future__ import annotations

import json
import os
import shlex
import queue
import signal
import socket
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from nqmix_core.errors import UserError
from nqmix_core.experiment_io import make_folder, provenance, write_json
from nqmix_core.grid import Cell, check_cells, check_options, is_finished, train_command

def run_cell(command: list[str], log_path: str, core: int | None = None) -> int:
    """Run one `nqmix train` process with its output appended to ``log_path``; its exit status.

    With ``core`` the process (and every thread it starts: torch's, XLA's) runs on that CPU core only.
    """
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write("$ " + shlex.join(command) + (f"    # pinned to core {core}" if core is not None else "") + "\n")
        log.flush()
        process = subprocess.run([sys.executable, "-m", "nqmix_core.cli", *command[1:]], stdout=log,
                                 stderr=subprocess.STDOUT, check=False, preexec_fn=lambda: _child_setup(core))
    return process.returncode


def drop_checkpoint(cell: Cell, root: Path) -> bool:
    """Delete the cell's checkpoint.pt if it finished (``grid.is_finished``), and say so in its train.log; whether
    one was deleted. The manifest, progress.csv and logs stay; the run can no longer be extended to a larger t_max."""
    folder = cell.folder(root)
    checkpoint = folder / "checkpoint.pt"
    if not (is_finished(cell, root) and checkpoint.exists()):
        return False
    size = checkpoint.stat().st_size / 2**30
    checkpoint.unlink()
    with open(folder / "train.log", "a") as log:
        log.write(f"checkpoint.pt ({size:.2f} GiB) deleted by --drop-checkpoints: the run is finished\n")
    return True


def _load_prctl():
    """libc's prctl, loaded here in the parent (a forked child should not load libraries); None off Linux."""
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: children outlive a sweep killed with -9
        return None


_PRCTL = _load_prctl()


def _child_setup(core: int | None) -> None:
    """In a cell's process before it starts: end with the sweep (Linux: SIGTERM when the parent dies, even
    by ``kill -9``; ``nqmix train`` then stops like Ctrl-C), and run on ``core`` alone when given."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if core is not None:
        os.sched_setaffinity(0, {core})


def _run_pinned(cores: queue.Queue, command: list[str], log_path: str) -> int:
    """``run_cell`` on a core taken from ``cores`` and given back when the process ends."""
    core = cores.get()
    try:
        return run_cell(command, log_path, core)
    finally:
        cores.put(core)


def _run_local(jobs: list[tuple[Cell, list[str], str]], n_jobs: int, done, pin: bool = False) -> dict[Cell, int]:
    """Run the jobs ``n_jobs`` at a time; ``done(cell, status)`` as each one ends."""
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
            done(futures[future], results[futures[future]])
    return results


def _connect_ray(address: str):
    """Ray, connected to the cluster at ``address`` ("local": a private one here); one sentence if it cannot."""
    try:
        import ray
    except ImportError:
        raise UserError("The ray backend needs Ray; install it with `pip install ray`, "
                        "or run the sweep with --backend local.") from None
    _check_reachable(address)
    try:
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                 log_to_driver=False, include_dashboard=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:100].rstrip(".")
        raise _unreachable(address, reason) from None
    return ray


def _with_earlier(path: Path, record: dict) -> dict:
    """``record`` with the records of every earlier sweep into this folder under "earlier", oldest first: a
    resumed or repeated sweep never erases the record of the one before it."""
    if not path.exists():
        return record
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"{path} could not be read as JSON; move it aside, then rerun the sweep.") from None
    return {**record, "earlier": [*previous.pop("earlier", []), previous]}


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """One TCP connection to a ``host:port`` or ``ray://host:port`` address within ``timeout_s``: Ray itself
    retries a wrong address for many minutes. ``auto`` and ``local`` are left to Ray, which answers at once."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address {address!r} is not an address; write host:port (e.g. 10.0.0.5:6379), "
                        f"ray://host:port, auto or local.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        reason = f"no answer within {timeout_s:g} s" if isinstance(error, TimeoutError) else error.strerror or error
        raise _unreachable(address, reason) from None


def _unreachable(address: str, reason: object) -> UserError:
    return UserError(f"No Ray cluster could be reached at {address!r} ({reason}); start one with `ray start "
                     f"--head`, or pass --ray-address local to run Ray on this machine alone.")


def _run_ray(jobs: list[tuple[Cell, list[str], str]], ray, gpus_per_run: float, done) -> dict[Cell, int]:
    """The jobs as Ray tasks; ``done(cell, status)`` as each one ends."""
    remote = ray.remote(num_cpus=1, num_gpus=gpus_per_run)(run_cell)
    pending = {remote.remote(command, log): cell for cell, command, log in jobs}
    results = {}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        cell = pending.pop(ready[0])
        results[cell] = ray.get(ready[0])
        done(cell, results[cell])
    return results


def sweep(cells: list[Cell], root: str | Path, options: dict | None = None, backend: str = "local",
          n_jobs: int = 1, ray_address: str = "auto", gpus_per_run: float = 0.0,
          progress: bool = True, command: str | None = None, pin: bool = False,
          check_only: bool = False, drop_checkpoints: bool = False) -> dict[Cell, int | None]:
    """Train every unfinished cell; returns cell -> exit status (None: already finished, skipped).

    ``check_only`` checks the grid, its options and its folders as a real sweep does, then returns
    cell -> None (finished) or -1 (would run) without writing or starting anything.

    ``command`` is recorded in ``sweep.json`` (default: this process's command line). ``pin`` (local
    backend) runs each of the ``n_jobs`` processes on a CPU core of its own, so that their torch and
    XLA thread pools do not compete for every core. ``drop_checkpoints`` deletes the checkpoint of every
    finished cell, those finished before this sweep included (``drop_checkpoint``).
    """
    root, options = Path(root), check_options(options)
    if n_jobs < 1:
        raise UserError("--jobs must be at least 1.")
    if backend not in ("local", "ray"):
        raise UserError(f"Unknown backend {backend!r}; use local or ray.")
    if backend == "ray":
        root = root.resolve()  # a task on another node does not start in this folder
    check_cells(cells, root, options)  # before anything is written or started
    # JAX (imported to check SMAX map names) warns on every fork; a cell's child runs only prctl and
    # sched_setaffinity before it execs, and takes no lock that JAX's threads could hold
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
    if check_only:
        return {cell: None if is_finished(cell, root) else -1 for cell in cells}
    ray = _connect_ray(ray_address) if backend == "ray" else None
    make_folder(root)
    write_json(root / "sweep.json", _with_earlier(root / "sweep.json", {
        **provenance(command), "backend": backend, "jobs": n_jobs, "pinned": pin, "drop_checkpoints": drop_checkpoints,
        "train_options": options, "cells": [asdict(cell) for cell in cells]}))
    results: dict[Cell, int | None] = {cell: None for cell in cells if is_finished(cell, root)}
    for cell in results if drop_checkpoints else ():
        drop_checkpoint(cell, root)
    jobs = [(cell, train_command(cell, root, options), str(cell.folder(root) / "train.log"))
            for cell in cells if cell not in results]
    with tqdm(total=len(cells), initial=len(results), unit="run", disable=not progress,
              desc=f"sweep ({len(results)} already finished)") as bar:
        def done(cell: Cell, status: int) -> None:
            bar.update(1)
            if drop_checkpoints and status == 0:  # at once, not at the sweep's end: a long grid's would fill a disk
                drop_checkpoint(cell, root)

        if backend == "local":
            results.update(_run_local(jobs, n_jobs, done, pin))
        else:
            results.update(_run_ray(jobs, ray, gpus_per_run, done))
    return results
