"""Loading JaxMARL's SMAX quietly, its compilation cache, and building one map (see ``smax.py``)."""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

from nqmix_core.envs.smax_state import world_state_unit_features
from nqmix_core.errors import UserError, did_you_mean

try:
    import jax
except ImportError:  # the optional [smax] extra is not installed; SMAXEnv says how to fix it
    jax = None

INSTALL_HINT = 'pip install -e ".[smax]"'

SMAC_EPISODE_LIMITS = {
    "3m": 60, "8m": 120, "25m": 150, "5m_vs_6m": 70, "10m_vs_11m": 150, "27m_vs_30m": 180,
    "2s3z": 120, "3s5z": 150, "3s5z_vs_3s6z": 170, "3s_vs_5z": 250, "6h_vs_8z": 150,
}
"""SMAC's per-map episode limits (oxwhirl/smac ``smac_maps.py``) for the maps SMAX also has."""

SMAX_DEFAULT_LIMIT = 100
"""SMAX's own default, used for maps SMAC does not have (the ``smacv2_*`` ones)."""

def _load_jaxmarl() -> Any:
    """Import jaxmarl without its import-time prints, leaving ``sys.stdout``/``stderr`` as they were."""
    if jax is None:
        raise UserError(f"SMAX needs jax and jaxmarl, which are not installed; run `{INSTALL_HINT}`.")
    saved = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    sink = io.StringIO()
    try:
        sys.stdout = sys.__stdout__ = sink
        import jaxmarl
        import jaxmarl.environments.smax.smax_env  # noqa: F401  (holds the map registry)
    except ImportError as error:
        message = f"SMAX needs jaxmarl, which failed to import ({error}); run `{INSTALL_HINT}`."
        raise UserError(message) from error
    finally:
        sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__ = saved
    return jaxmarl


def _use_compilation_cache() -> None:
    """Keep compiled SMAX functions on disk for the next process, unless the user chose a folder."""
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ and not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(Path.home() / ".cache" / "nqmix" / "jax"))


def smax_map_names() -> list[str]:
    """The map names SMAX knows (SMAC names such as '3m', '3s5z', plus 'smacv2_*')."""
    return sorted(_load_jaxmarl().environments.smax.smax_env.MAP_NAME_TO_SCENARIO)


def _make_smax(map_name: str, episode_limit: int, continuous: bool = False) -> Any:
    """Build JaxMARL's heuristic-enemy SMAX for ``map_name``; a one-sentence UserError if unknown."""
    jaxmarl = _load_jaxmarl()
    names = smax_map_names()
    if map_name not in names:
        raise UserError(f"Unknown SMAX map '{map_name}'{did_you_mean(map_name, names)}; the maps that exist are: "
                        f"{', '.join(names)}.")
    scenario = jaxmarl.environments.smax.map_name_to_scenario(map_name)
    # SMAX would stop by itself only after max_steps + 1 steps; we cut at episode_limit ourselves.
    env = jaxmarl.make("HeuristicEnemySMAX", scenario=scenario, max_steps=episode_limit,
                       action_type="continuous" if continuous else "discrete")
    world_state_unit_features(env)  # another jaxmarl's layout fails here, loudly
    return env
