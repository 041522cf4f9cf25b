"""The real SMAC (StarCraft II) behind the batched protocol: E ``StarCraft2Env`` games stepped in a loop.

This needs three things that cannot be pip-installed from PyPI by name, and each missing one is
reported, before any game is launched, as a one-sentence ``UserError`` that says what to do:

1. oxwhirl's SMAC package: ``pip install git+https://github.com/oxwhirl/smac.git`` (it brings pysc2).
   The PyPI package called ``smac`` is SMAC3, a hyper-parameter optimiser; it installs a top-level
   ``smac`` package too, so we look *inside* the package, without importing it (SMAC3's
   ``__init__`` runs dependency checks): the real SMAC has a ``smac/env`` folder, SMAC3 has
   ``smac/facade``, ``smac/runhistory``, ``smac/intensifier``. Version numbers cannot tell them apart
   (oxwhirl's SMAC calls itself "SMAC 1.0.0"; SMAC3 is 0.x to 2.x under the same normalised name).
2. StarCraft II, at ``$SC2PATH`` (default ``~/StarCraftII`` on Linux), with its ``Versions`` folder.
3. The SMAC maps, at ``$SC2PATH/Maps/SMAC_Maps/<map>.SC2Map``.

Conventions: SMAC's reward is passed through unchanged (scaled so the maximum return is 20).
We create each game with ``continuing_episode=True``: only then does SMAC put
``info["episode_limit"] = True`` on a time-out (pymarl's default, ``False``, silently turns every
time-out into a terminal transition). A time-out is reported as ``timed_out=True, terminated=False``.
SMAC action 0 is the no-op, available only to dead agents. StarCraft II is not deterministic: the
seed (``seed + i`` for copy i) is handed to each game when it launches, on the first ``reset``;
later ``reset(seed)`` calls cannot re-seed a running game.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nqmix_core.envs.base import EnvInfo, Observation, StepResult
from nqmix_core.errors import UserError

SMAC_INSTALL = "pip install git+https://github.com/oxwhirl/smac.git"
SMAC_MAPS_URL = "https://github.com/oxwhirl/smac/releases/download/v0.1-beta1/SMAC_Maps.zip"
SMAC3_FOLDERS = ("facade", "runhistory", "intensifier")
"""Sub-packages that SMAC3 (the optimiser) has and the StarCraft Multi-Agent Challenge does not."""


def _smac_package_folders() -> list[Path] | None:
    """The folders of the top-level ``smac`` package, found without importing it (None if absent)."""
    spec = importlib.util.find_spec("smac")
    if spec is None:
        return None
    return [Path(p) for p in (spec.submodule_search_locations or [])]


def _installed_smac_version() -> str:
    try:
        return importlib.metadata.version("smac")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def check_smac_package() -> None:
    """Raise a UserError unless oxwhirl's SMAC (not SMAC3, not nothing) is what ``import smac`` finds."""
    folders = _smac_package_folders()
    if folders is None:
        raise UserError(f"SMAC (the StarCraft Multi-Agent Challenge) is not installed; run `{SMAC_INSTALL}` "
                        f"and install StarCraft II (https://github.com/Blizzard/s2client-proto#downloads).")
    if any((folder / "env").is_dir() for folder in folders):
        return
    if any((folder / name).is_dir() for folder in folders for name in SMAC3_FOLDERS):
        raise UserError(f"The installed `smac` package (version {_installed_smac_version()}) is SMAC3, a "
                        f"hyper-parameter optimiser, not the StarCraft Multi-Agent Challenge; run "
                        f"`pip uninstall smac` and then `{SMAC_INSTALL}`.")
    raise UserError(f"The installed `smac` package has no `smac.env` module, so it is not the StarCraft "
                    f"Multi-Agent Challenge; run `pip uninstall smac` and then `{SMAC_INSTALL}`.")


def _import_smac_env() -> Any:
    """Import ``smac.env`` (checked first), turning a broken install into a UserError."""
    check_smac_package()
    try:
        return importlib.import_module("smac.env")
    except ImportError as error:
        raise UserError(f"SMAC is installed but `import smac.env` fails ({error}); reinstall it with "
                        f"`{SMAC_INSTALL}`, which also installs pysc2.") from error


def _check_map_name(map_name: str) -> None:
    """A UserError listing SMAC's maps if ``map_name`` is not one of them."""
    registry = importlib.import_module("smac.env.starcraft2.maps.smac_maps").get_smac_map_registry()
    if map_name not in registry:
        raise UserError(f"Unknown SMAC map '{map_name}'; the maps that exist are: {', '.join(sorted(registry))}.")


def sc2_path() -> Path:
    """Where pysc2 looks for StarCraft II: ``$SC2PATH``, else the platform's default install folder."""
    if "SC2PATH" in os.environ:
        return Path(os.environ["SC2PATH"]).expanduser()
    defaults = {"darwin": "/Applications/StarCraft II", "win32": "C:/Program Files (x86)/StarCraft II"}
    return Path(defaults.get(sys.platform, "~/StarCraftII")).expanduser()


def check_starcraft(map_name: str) -> Path:
    """Raise a UserError unless StarCraft II and the map file are where pysc2 will look; return the map."""
    root = sc2_path()
    if not (root / "Versions").is_dir():
        raise UserError(f"StarCraft II was not found at {root} (no 'Versions' folder there); install it "
                        f"(https://github.com/Blizzard/s2client-proto#downloads) and set SC2PATH to its folder.")
    map_file = root / "Maps" / "SMAC_Maps" / f"{map_name}.SC2Map"
    if not map_file.is_file():
        raise UserError(f"The SMAC map file {map_file} is missing; download {SMAC_MAPS_URL} and unzip it "
                        f"into {root / 'Maps'} so that the folder SMAC_Maps holds {map_name}.SC2Map.")
    return map_file


def load_starcraft2_env_class(map_name: str) -> type:
    """Run every installation check for ``map_name`` and return SMAC's ``StarCraft2Env`` class."""
    smac_env = _import_smac_env()
    _check_map_name(map_name)
    check_starcraft(map_name)
    return smac_env.StarCraft2Env


def env_info_from_smac(env_info: dict) -> EnvInfo:
    """Our EnvInfo from ``StarCraft2Env.get_env_info()``."""
    return EnvInfo(n_agents=int(env_info["n_agents"]), obs_dim=int(env_info["obs_shape"]),
                   state_dim=int(env_info["state_shape"]), n_actions=int(env_info["n_actions"]),
                   episode_limit=int(env_info["episode_limit"]))


def smac_step_flags(terminated: bool, info: dict) -> tuple[bool, bool, bool]:
    """(terminated, timed_out, won) from one SMAC ``step``: a time-out is not a termination."""
    timed_out = bool(terminated) and bool(info.get("episode_limit", False))
    return bool(terminated) and not timed_out, timed_out, bool(info.get("battle_won", False))


def read_observation(env: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One game's (obs [N, obs_dim] float32, state [state_dim] float32, avail [N, U] bool)."""
    obs = np.asarray(env.get_obs(), dtype=np.float32)  # [N, obs_dim]
    state = np.asarray(env.get_state(), dtype=np.float32)  # [state_dim]
    avail = np.asarray(env.get_avail_actions()) != 0  # [N, U]
    return obs, state, avail


def stack_observations(per_env: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                       device: torch.device) -> Observation:
    """E per-game observations (see ``read_observation``) to one batched Observation on ``device``."""
    obs, state, avail = (np.stack(parts) for parts in zip(*per_env))  # [E, N, O], [E, S], [E, N, U]
    return Observation(obs=torch.from_numpy(obs).to(device), state=torch.from_numpy(state).to(device),
                       avail_actions=torch.from_numpy(avail).to(device))


class SMACEnv:
    """E copies of one SMAC map (oxwhirl's StarCraft2Env, difficulty "7" by default)."""

    def __init__(self, map_name: str, n_envs: int, device: torch.device | str = "cpu", seed: int = 0,
                 difficulty: str = "7") -> None:
        if n_envs < 1:
            raise UserError(f"n_envs must be at least 1, but it is {n_envs}.")
        env_class = load_starcraft2_env_class(map_name)
        self.map_name, self.n_envs, self.device = map_name, n_envs, torch.device(device)
        self._envs = [env_class(map_name=map_name, difficulty=difficulty, seed=seed + i, continuing_episode=True)
                      for i in range(n_envs)]
        self.info = env_info_from_smac(self._envs[0].get_env_info())
        self._last: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._ended = np.zeros((n_envs, 3), dtype=bool)  # [E, (terminated, timed_out, won)]

    def reset(self, seed: int | None = None) -> Observation:
        """Start a new episode in every game (the first call launches StarCraft II; ``seed`` is ignored)."""
        for env in self._envs:
            env.reset()
        self._last = [read_observation(env) for env in self._envs]
        self._ended[:] = False
        return stack_observations(self._last, self.device)

    def _step_one(self, i: int, actions: list[int]) -> float:
        """Step game i unless it has ended; update its last observation and flags; return its reward."""
        if self._ended[i, :2].any():
            return 0.0
        reward, terminated, info = self._envs[i].step(actions)
        self._ended[i] = smac_step_flags(terminated, info)
        self._last[i] = read_observation(self._envs[i])
        return float(reward)

    def step(self, actions: torch.Tensor) -> StepResult:
        """Apply ``actions`` ([E, N] integer, each available) in every game that has not ended."""
        if not self._last:
            raise RuntimeError("Call reset() before step().")
        per_env_actions = actions.detach().to("cpu", torch.int64).tolist()  # E lists of N ints
        rewards = [self._step_one(i, acts) for i, acts in enumerate(per_env_actions)]
        flags = torch.from_numpy(self._ended.copy()).to(self.device)  # [E, 3]
        return StepResult(next=stack_observations(self._last, self.device),
                          reward=torch.tensor(rewards, dtype=torch.float32, device=self.device),
                          terminated=flags[:, 0], timed_out=flags[:, 1], won=flags[:, 2])

    def close(self) -> None:
        """Close every StarCraft II game. Safe to call twice."""
        for env in self._envs:
            env.close()
        self._envs = []
