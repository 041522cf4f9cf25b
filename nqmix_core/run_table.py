"""Tables of single run folders (``nqmix train``'s output): what each run changed from the defaults, and
how fast it reached a win rate. Appendix A1 reads its speed runs with ``time_to_win_rate``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from nqmix_core.results import LABELS, LAST_EVALUATIONS

LOOP_SETTINGS = ("n_envs", "updates_per_episode", "overlap_collection", "reward_scale")
"""RunConfig fields that change how a run learns (the others change logging, length or device)."""


def changed_settings(manifest: dict) -> str:
    """The settings a run changed from its algorithm's preset and from the training loop's defaults,
    e.g. "batch_size=8, tau=0.005" (empty for a run with the paper's settings).

    A manifest written before the kit read τ per time step has no ``tau_per_time_step``: its soft
    targets moved τ once per mini-batch, so it counts as ``tau_per_time_step=False`` (for soft targets).
    A manifest written while every learner's config held every learner's fields lists fields its learner
    never read (QMIX's ``td_lambda``); a field the learner's config class no longer has is not a change.
    """
    from nqmix_core.config import RunConfig, current_fields
    from nqmix_core.registry import algo_config
    from nqmix_core.experiment_io import LEGACY_DEFAULTS

    config, settings = manifest["run_config"], current_fields(manifest["algo_config"])
    preset = asdict(algo_config(config["algo"]))
    defaults = asdict(RunConfig(env=config.get("env", RunConfig.env)))  # the reward scale is this env's backend's
    if settings.get("target_update") == "soft":  # only soft targets read τ
        settings.setdefault("tau_per_time_step", False)
    changed = [f"{k}={v}" for k, v in settings.items() if k in preset and preset[k] != v]
    ran = {k: config.get(k, LEGACY_DEFAULTS.get(k, defaults[k])) for k in LOOP_SETTINGS}
    return ", ".join(changed + [f"{k}={v}" for k, v in ran.items() if v != defaults[k]])


def time_to_win_rate(folders: list[str | Path], threshold: float = 0.8,
                     metric: str = "test_greedy_win_rate") -> pd.DataFrame:
    """How fast each run got there: one row per run folder (``nqmix train``'s output).

    Columns: method, seed, what it changed from the preset (``changed_settings``), steps and updates
    made, the first evaluation with ``metric`` ≥ ``threshold`` (its step and its wall-clock seconds
    since the command started, from ``timing.csv``; NaN if never), the best value, the mean of the
    last ``LAST_EVALUATIONS`` values and the run's whole wall time.
    """
    rows = []
    for folder in map(Path, folders):
        manifest = json.loads((folder / "manifest.json").read_text())
        progress = pd.read_csv(folder / "progress.csv").merge(pd.read_csv(folder / "timing.csv"), on="t_env")
        reached = progress[progress[metric] >= threshold]
        config = manifest["run_config"]
        rows.append({"method": LABELS.get(config["algo"], config["algo"]), "seed": config["seed"],
                     "changed": changed_settings(manifest) or "(paper)", "t_env": int(progress["t_env"].iloc[-1]),
                     "updates": int(progress["updates"].iloc[-1]),
                     "first_t_env": int(reached["t_env"].iloc[0]) if len(reached) else math.nan,
                     "first_seconds": float(reached["wall_seconds"].iloc[0]) if len(reached) else math.nan,
                     "best": float(progress[metric].max()),
                     "final": float(progress[metric].tail(LAST_EVALUATIONS).mean()),
                     "wall_seconds": float(progress["wall_seconds"].iloc[-1])})
    return pd.DataFrame(rows)
