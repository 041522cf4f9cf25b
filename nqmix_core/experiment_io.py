"""Files of a training run: atomic checkpoints and CSVs, the run manifest, TensorBoard, env RNG state.

Everything is written to a temporary file in the same folder and then moved over the old one with
``os.replace``, which is atomic: a run killed while writing leaves the previous file intact.
"""
from __future__ import annotations

import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import torch

from nqmix_core.errors import UserError


def _atomic_write(path: Path, write) -> None:
    """Call ``write(temp_path)``, then move the temporary file over ``path``."""
    temp = path.with_name(path.name + ".tmp")
    write(temp)
    os.replace(temp, path)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` (tensors, numbers, strings, lists, dicts only) atomically."""
    _atomic_write(path, lambda temp: torch.save(state, temp))


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint with ``weights_only=True``; a one-sentence UserError if it is unreadable."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch raises many types for truncated or foreign files)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"The checkpoint {path} could not be read ({reason[:120]}); delete it to start "
                        f"again or choose another --out.") from None
    required = {"format", "run_config", "algo_config", "env_info", "learner", "buffer", "counters", "rng"}
    if not isinstance(state, dict) or not required <= set(state):
        raise UserError(f"The file {path} is not a checkpoint written by `nqmix train`; choose another --out.")
    return state


def check_folder(path: Path, option: str = "--out") -> None:
    """A one-sentence UserError unless ``path`` is a folder or could be created as one (creates nothing)."""
    existing = next(p for p in (path, *path.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        raise UserError(f"The folder {path} cannot be created because {existing} is a file; choose another {option}.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"The folder {path} cannot be created because {existing} is not writable; "
                        f"choose another {option}.")


def make_folder(path: Path, option: str = "--out") -> None:
    """Create the folder ``path`` and its parents; a one-sentence UserError if that fails."""
    check_folder(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"The folder {path} could not be created ({error.strerror or error}); "
                        f"choose another {option}.") from None


def write_csv(path: Path, rows: list[dict]) -> None:
    """All rows, with the union of their keys as columns (in order of first appearance)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def write(temp: Path) -> None:
        with open(temp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
    _atomic_write(path, write)


def capture_env_rng(env) -> list[int] | None:
    """The environment's own random state (``env.rng_state()``, e.g. SMAX's JAX key); None for envs without one."""
    return env.rng_state() if hasattr(env, "rng_state") else None


def restore_env_rng(env, key: list[int] | None) -> None:
    """Put back a state saved by ``capture_env_rng``."""
    if key is not None:
        env.set_rng_state(key)


def tensorboard_writer(folder: Path, enabled: bool, purge_step: int | None):
    """A SummaryWriter, or None when disabled or when TensorBoard is not installed (CSV only).

    ``purge_step`` drops events a killed run logged after its last checkpoint.
    """
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder), purge_step=purge_step)


OUTPUT_PATHSPECS = (":(top,exclude)data", ":(top,exclude)results", ":(top,exclude)runs")


def _git_commit() -> dict:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False)
        # the kit's own outputs (data/, results/, runs/) are not changes to the code that made them
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ":(top)", *OUTPUT_PATHSPECS], cwd=here,
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def _versions() -> dict:
    versions = {}
    for package in ("nqmix-core", "torch", "numpy", "jax", "jaxlib", "jaxmarl"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _host() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpu": gpu,
            "platform": platform.platform(), "python": platform.python_version()}


def provenance(command: str | None = None) -> dict:
    """Where a result came from: command line, code version, package versions, host, start time."""
    return {"command": command if command is not None else " ".join(shlex.quote(a) for a in sys.argv),
            "git": _git_commit(), "versions": _versions(), "host": _host(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def manifest_base(run, command: str | None) -> dict:
    """What the run was: command, code version, configs, package versions, device, host."""
    return {**provenance(command), "seed": run.config.seed, "run_config": asdict(run.config),
            "algo_config": asdict(run.algo), "env_info": asdict(run.env.info), "device": str(run.device),
            "resumed_at_t_env": run.counters.t_env or None}


def write_json(path: Path, data: dict) -> None:
    _atomic_write(path, lambda temp: temp.write_text(json.dumps(data, indent=2) + "\n"))
