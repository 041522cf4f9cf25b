"""Grids of runs: the cells of a sweep, read from a YAML file or the command line and checked whole.

A grid file (its format is in ``nqmix sweep --help``, ``nqmix_core.sweep``'s docstring) is checked before
any run starts: ``expand`` checks every entry's types, names, budgets and seeds; ``check_options`` the
``train:`` options; ``check_cells`` every cell's `nqmix train` command (``run_options.check_train_argv``:
its options, settings, environment and device) and every cell's folder. A mistake is one sentence naming
the entry and what to write instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from nqmix_core import run_options
from nqmix_core.catalog import ENV_BACKENDS as ENV_BACKEND_FACTS
from nqmix_core.config import read_value
from nqmix_core.registry import algo_config
from nqmix_core.errors import UserError
from nqmix_core.experiment_io import RUN_FILES

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


def _entry_error(where: str, what: str) -> UserError:
    return UserError(f"{where[0].upper()}{where[1:]}: {what}; see `nqmix sweep --help` for the format.")


def _whole_number(value: object) -> int | None:
    """``value`` as an int when it is a whole number (5000, 5000.0), else None; never a bool or a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return read_value(str(value), int)
    except (ValueError, OverflowError):
        return None


def _names(grid: dict, key: str, where: str, example: str) -> list[str]:
    value = grid[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _entry_error(where, f"{key} is {value!r}; write a list of names, e.g. {key}: {example}")
    return value


def _seeds(grid: dict, where: str) -> list[int]:
    value = grid["seeds"]
    seeds = [_whole_number(v) for v in value] if isinstance(value, list) else []
    if not seeds or any(seed is None or seed < 0 for seed in seeds):
        raise _entry_error(where, f"seeds is {value!r}; write a list of whole numbers from 0 up, e.g. seeds: [0, 1, 2]")
    return seeds


def _envs(grid: dict, where: str) -> dict[str, int]:
    value = grid["envs"]
    if not isinstance(value, dict) or not value:
        raise _entry_error(where, f"envs is {value!r}; write environment: steps pairs, e.g. envs: {{\"smax:3m\": 150000}}")
    envs = {}
    for env, t_max in value.items():
        backend, _, task = str(env).partition(":")
        if backend not in ENV_BACKENDS or not task:
            raise _entry_error(where, f"Unknown environment {env!r}; write backend:task, e.g. smax:3m")
        steps = _whole_number(t_max)
        if steps is None or steps < 1:
            raise _entry_error(where, f"the step budget of {env} is {t_max!r}; give a positive whole number of steps")
        envs[str(env)] = steps
    return envs


def expand(grids: list[dict], source: str = "the grid") -> list[Cell]:
    """Cells of one or more grids ({algos, envs: {env: t_max}, seeds}), without repeats, seed by seed.

    Every entry is checked whole (types, names, budgets, seeds) before any cell is made; a mistake is one
    sentence naming the entry (``source`` names the file) and what to write instead.
    """
    if not isinstance(grids, list) or not grids:
        raise UserError(f"{source[0].upper()}{source[1:]} has no grids; list at least one under 'grids:' "
                        f"(see `nqmix sweep --help`).")
    cells: dict[tuple, Cell] = {}
    for number, grid in enumerate(grids, start=1):
        where = f"grid entry {number} of {source}"
        if not isinstance(grid, dict):
            raise _entry_error(where, f"it is {grid!r}, not a mapping with algos, envs and seeds")
        missing = {"algos", "envs", "seeds"} - set(grid)
        if missing:
            raise _entry_error(where, f"it lacks {', '.join(sorted(missing))}; give algos, envs (env: t_max) and seeds")
        unknown = sorted(map(str, set(grid) - {"algos", "envs", "seeds"}))
        if unknown:
            raise _entry_error(where, f"{', '.join(unknown)} is not a grid key; use algos, envs and seeds only")
        algos = _names(grid, "algos", where, "[nqmix, qmix]")
        for algo in algos:
            try:
                algo_config(algo)
            except UserError as error:
                raise _entry_error(where, str(error).rstrip(".")) from None
        envs, seeds = _envs(grid, where), _seeds(grid, where)
        for seed in seeds:
            for env, t_max in envs.items():
                for algo in algos:
                    cells.setdefault((algo, env, seed), Cell(algo, env, seed, t_max))
    return sorted(cells.values(), key=lambda c: c.seed)  # stable: grid order within a seed


def check_options(options: object, source: str = "the grid") -> dict:
    """The ``train:`` options of a grid: a mapping whose keys are ``nqmix train`` options the sweep does not
    set itself; their values are checked with each cell's command (``check_cells``)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise UserError(f"train: in {source} is {options!r}; write a mapping of `nqmix train` options, "
                        f"e.g. train: {{device: cpu, set: [batch_size=8]}}.")
    allowed = run_options.option_names()
    for key, value in options.items():
        name = str(key).replace("-", "_")
        if name in run_options.SWEEP_SETS or name == "no_progress":
            raise UserError(f"train: in {source} sets {key!r}, which the sweep sets for every cell; remove it "
                            f"(budgets, seeds and algorithms go in the grids).")
        if name not in allowed:
            raise UserError(f"train: in {source} has {key!r}, which is not a `nqmix train` option; use one of "
                            f"{', '.join(sorted(n.replace('_', '-') for n in allowed))}.")
        if name == "set" and not (isinstance(value, str)
                                  or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            raise UserError(f"train: in {source}: set is {value!r}; write a list of NAME=VALUE, e.g. set: [batch_size=8].")
        if name != "set" and isinstance(value, (list, dict)):
            raise UserError(f"train: in {source}: {key} is {value!r}; give it one value.")
    return dict(options)


def check_cells(cells: list[Cell], root: Path, options: dict) -> None:
    """Before any run starts: every cell's command is one `nqmix train` accepts (options, settings,
    environment, device), and no cell's folder holds a run that can be neither skipped nor continued."""
    checked: set[tuple] = set()
    for cell in cells:
        key = (cell.algo, cell.env)  # the seed and budget were checked by ``expand``
        if key not in checked:
            try:
                run_options.check_train_argv(train_command(cell, root, options)[2:])
            except UserError as error:
                raise UserError(f"The run {cell.algo} on {cell.env} (seed {cell.seed}) would fail: "
                                f"{str(error).rstrip('.')}; fix the grid and rerun.") from None
            checked.add(key)
        folder = cell.folder(root)
        if not is_finished(cell, root) and not (folder / "checkpoint.pt").exists():
            held = [name for name in RUN_FILES if (folder / name).exists()]
            if held:
                raise UserError(f"{folder} holds {', '.join(held)} but no checkpoint.pt, so its run can be neither "
                                f"skipped as finished nor continued; move that folder away (or drop the cell from "
                                f"the grid) and rerun.")


def load_grid(path: str | Path) -> tuple[list[Cell], dict]:
    """(cells, extra train options) from a YAML grid file."""
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"Could not read the grid file {path} ({str(error).splitlines()[0]}); "
                        f"see `nqmix sweep --help` for its format.") from None
    if not isinstance(spec, dict) or "grids" not in spec:
        raise UserError(f"The grid file {path} needs a top-level 'grids:' list; see `nqmix sweep --help`.")
    unknown = sorted(map(str, set(spec) - {"grids", "train"}))
    if unknown:
        raise UserError(f"The grid file {path} has {', '.join(unknown)} at its top level; only grids: and "
                        f"train: belong there (see `nqmix sweep --help`).")
    return expand(spec["grids"], f"the grid file {path}"), check_options(spec.get("train"), f"the grid file {path}")


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
    """Whether the cell's manifest says it finished at or past its budget (an unreadable one: no)."""
    manifest = cell.folder(root) / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    t_env = data.get("t_env") if isinstance(data, dict) else None
    return (isinstance(data, dict) and data.get("status") == "finished" and isinstance(t_env, int) and not isinstance(t_env, bool)
            and t_env >= cell.t_max)


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
