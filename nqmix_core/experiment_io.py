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
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import torch

from nqmix_core.config import RunConfig, current_fields
from nqmix_core.specs import EnvInfo
from nqmix_core.errors import UserError
from nqmix_core.train import Counters


RUN_FILES = ("checkpoint.pt", "manifest.json", "progress.csv")
"""Files that make a folder a run's: ``nqmix train`` writes into such a folder only with ``--resume``."""
CHECKPOINT_FORMAT = 1
"""The layout of ``run_state``'s dict; ``load_checkpoint`` reads this one only."""


def _atomic_write(path: Path, write) -> None:
    """Call ``write(temp_path)``, then move the temporary file over ``path``. A write that fails (a full disk:
    torch reports it as a RuntimeError) removes the temporary file, leaves ``path`` as it was and ends in one
    sentence."""
    temp = path.with_name(path.name + ".tmp")
    try:
        write(temp)
    except (OSError, RuntimeError) as error:
        temp.unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free / 2**30
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:100]
        raise UserError(f"{path} could not be written ({reason}; {free:.1f} GiB free on its disk); the previous "
                        f"version is intact: free space, then rerun with --resume.") from None
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
    if state["format"] != CHECKPOINT_FORMAT:
        raise UserError(f"The checkpoint {path} is in format {state['format']!r}, and this version of the kit reads "
                        f"format {CHECKPOINT_FORMAT}; resume it with the version that wrote it, or choose another --out.")
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


def check_fresh(path: Path, names: tuple[str, ...], command: str) -> None:
    """A one-sentence UserError if ``path`` holds any of ``names``, the files ``command`` writes there: results,
    committed ones under data/ among them, are never replaced silently."""
    if held := [name for name in names if (path / name).exists()]:
        raise UserError(f"{path} already holds the results of an earlier `{command}` ({', '.join(held)}); choose "
                        f"another --out, or delete those files to make them again.")


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
CHANGED_SHOWN = 20  # a dirty tree's first `git status --porcelain` lines, in the manifest


def _git_commit(here: Path | None = None) -> dict:
    """The commit of the checkout at ``here`` (the package's own), whether its code has changes, and which."""
    here = here or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False)
        # the kit's own outputs (data/, results/, runs/) are not changes to the code that made them
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ":(top)", *OUTPUT_PATHSPECS], cwd=here,
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    changed = dirty.stdout.splitlines()
    return {"commit": commit.stdout.strip(), "dirty": bool(changed),
            **({"changed": changed[:CHANGED_SHOWN]} if changed else {})}  # what made it dirty, for the reader


def _versions() -> dict:
    versions = {}
    for package in ("nqmix-core", "torch", "numpy", "jax", "jaxlib", "jaxmarl"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _host(cpuinfo: str = "/proc/cpuinfo") -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open(cpuinfo) as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpu": gpu,
            "platform": platform.platform(), "python": platform.python_version()}


def provenance(command: str | None = None, checkout: Path | None = None) -> dict:
    """Where a result came from: command line, code version, package versions, host, start time. The code
    version is that of the imported package's checkout, or of ``checkout`` when the code measured is there."""
    return {"command": command if command is not None else " ".join(shlex.quote(a) for a in sys.argv),
            "git": _git_commit(checkout), "versions": _versions(), "host": _host(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def manifest_base(run, command: str | None) -> dict:
    """What the run was: command, code version, configs, package versions, device, host."""
    return {**provenance(command), "seed": run.config.seed, "run_config": asdict(run.config),
            "algo_config": asdict(run.algo), "env_info": asdict(run.env.info), "device": str(run.device),
            "resumed_at_t_env": run.counters.t_env or None}


def write_json(path: Path, data: dict) -> None:
    _atomic_write(path, lambda temp: temp.write_text(json.dumps(data, indent=2) + "\n"))


def check_run_folder(out: Path, resume: bool) -> None:
    """A one-sentence UserError unless ``out`` may be written: a fresh folder, or a checkpoint to resume."""
    if resume and not (out / "checkpoint.pt").exists():
        held = [name for name in RUN_FILES if (out / name).exists()]
        if held:
            raise UserError(f"{out} holds {', '.join(held)} but no checkpoint.pt, so its run cannot be continued "
                            f"(committed results keep no checkpoints); choose another --out to train anew.")
        raise UserError(f"There is no checkpoint to resume in {out}; start without --resume.")
    if not resume:
        held = [name for name in RUN_FILES if (out / name).exists()]
        if held:
            raise UserError(f"{out} already holds a run ({', '.join(held)}); pass --resume to continue it "
                            f"(it needs its checkpoint.pt) or choose another --out.")


class RunLock:
    """``out/run.lock``, held (``flock``) while a run trains there, so a second process cannot train into it.

    The operating system releases the lock when the process ends, however it ends; the file is removed
    when the run ends normally.
    """

    def __init__(self, out: Path) -> None:
        self.path, self.file = out / "run.lock", None

    def __enter__(self) -> "RunLock":
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            return self
        self.file = open(self.path, "a")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.close()
            self.file = None
            raise UserError(f"Another process is training in {self.path.parent} right now; wait for it to end "
                            f"or choose another --out.") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.path.unlink(missing_ok=True)
            self.file.close()


RESUMABLE_CHANGES = ("t_max", "progress", "tensorboard", "checkpoint_interval", "device")
"""RunConfig fields a resumed run may change (the device is compared after resolving "auto")."""
LEGACY_DEFAULTS = {"reward_scale": 1.0}
"""What a checkpoint or manifest written before a RunConfig field existed meant by it."""


def run_state(run, wall_seconds: float) -> dict:
    """A checkpoint: everything that changes while training (``train.Run``) plus the configs; ``restore_run``
    puts it back."""
    g = run.generators
    return {"format": CHECKPOINT_FORMAT, "run_config": asdict(run.config), "algo_config": asdict(run.algo),
            "device": str(run.device), "env_info": asdict(run.env.info),
            "learner": run.learner.checkpoint_state(), "buffer": run.buffer.state_dict(),
            "counters": asdict(run.counters), "tracker": run.tracker.state_dict(),
            "rng": {"act": g.act.get_state(), "sample": g.sample.get_state(), "test": run.test_generator.get_state(),
                    "torch": torch.get_rng_state(), "env": capture_env_rng(run.env)},
            "rows": run.rows, "timing": run.timing, "next_test": run.next_test,
            "next_checkpoint": run.next_checkpoint, "wall_seconds": wall_seconds}


def restore_run(run, state: dict, path: Path) -> None:
    """Load a checkpoint into a freshly built run, after checking it was written by the same setup."""
    mine = {k: v for k, v in asdict(run.config).items() if k not in RESUMABLE_CHANGES}
    theirs = {k: v for k, v in state["run_config"].items() if k not in RESUMABLE_CHANGES}
    defaults = asdict(RunConfig())  # a field added since the checkpoint was written had its default then
    different = [k for k in mine if mine[k] != theirs.get(k, LEGACY_DEFAULTS.get(k, defaults[k]))]
    theirs_algo = current_fields(state["algo_config"])
    different += [k for k, v in asdict(run.algo).items() if theirs_algo.get(k) != v]
    if EnvInfo(**state["env_info"]) != run.env.info:
        different.append("environment sizes")
    if state["device"] != str(run.device):
        different.append(f"device ({state['device']})")
    if different:
        raise UserError(f"The checkpoint {path} was written by a run with other settings "
                        f"({', '.join(different)}); resume with the same settings or choose another --out.")
    try:
        run.learner.load_checkpoint_state(state["learner"])
        run.buffer.load_state_dict(state["buffer"])
    except (RuntimeError, KeyError, ValueError) as error:
        # torch's first line names only the module ("Error(s) in loading state_dict for ..."); the next says what
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        reason = next((line for line in lines if not line.startswith("Error(s) in loading")), lines[0])
        raise UserError(f"The checkpoint {path} does not fit this algorithm and environment "
                        f"({reason[:200].rstrip('.')}); choose another --out.") from None
    run.counters = Counters(**state["counters"])
    run.tracker.load_state_dict(state["tracker"])
    rng = state["rng"]
    run.generators.act.set_state(rng["act"])
    run.generators.sample.set_state(rng["sample"])
    run.test_generator.set_state(rng["test"])
    torch.set_rng_state(rng["torch"])
    restore_env_rng(run.env, rng["env"])
    run.rows, run.timing = list(state["rows"]), list(state["timing"])
    run.next_test, run.next_checkpoint = int(state["next_test"]), int(state["next_checkpoint"])
    run.wall_offset = float(state["wall_seconds"])
