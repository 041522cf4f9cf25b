"""SMAX's global state: where its fields lie, read from jaxmarl, and their rescaling to unit scale.

jaxmarl's ``SMAX.get_world_state`` returns, for U = A + E units (allies first),

    [U blocks of F per-unit features] + [U teams (0 or 1)] + [U unit-type indices (0..5)]

where the per-unit block is ``env.own_features``: health / max health, x, y, weapon cooldown, then
one bit per unit type (F = 10 in jaxmarl 0.2.0). F is read from the environment, never assumed;
a jaxmarl whose block starts otherwise, or whose ``state_size`` is not (F + 2)·U, is refused with a
``UserError`` instead of being misread. See ``smax.py``'s docstring for why x, y, the cooldown and
the type index are rescaled.
"""
from __future__ import annotations

from typing import Any

from nqmix_core.errors import UserError

LEADING_FEATURES = ("health", "position_x", "position_y", "weapon_cooldown")
"""The first four per-unit features, in the order ``normalize_world_state`` reads them."""


def world_state_unit_features(env: Any) -> int:
    """F, the length of one unit's block in ``env``'s world state; a UserError if the layout is not the
    one ``normalize_world_state`` reads (another jaxmarl version)."""
    own = list(getattr(env, "own_features", []))
    n_units = env.num_allies + env.num_enemies
    if tuple(own[:4]) != LEADING_FEATURES or getattr(env, "state_size", None) != (len(own) + 2) * n_units:
        raise UserError(f"The installed jaxmarl lays out SMAX's world state in a way this kit does not know "
                        f"(per-unit features {own or 'not found'}, state size {getattr(env, 'state_size', None)}); "
                        f"install the version it was written for with `pip install jaxmarl==0.2.0`.")
    return len(own)


def normalize_world_state(world_state: Any, n_units: int, map_size: tuple[float, float],
                          weapon_cooldowns: Any, n_unit_types: int) -> Any:
    """Rescale SMAX's raw world state to unit scale (see ``smax.py``'s docstring for the formula).

    world_state: [(F + 2) * n_units] raw SMAX vector; returns the same layout, rescaled. F, the
    per-unit block, follows from the length (``world_state_unit_features`` checks it against jaxmarl).
    """
    import jax.numpy as jnp

    features = world_state.shape[-1] // n_units - 2  # F
    if features < len(LEADING_FEATURES) or world_state.shape[-1] != (features + 2) * n_units:
        raise UserError(f"SMAX's world state has {world_state.shape[-1]} entries, which is not (F + 2) x "
                        f"{n_units} units; run `pip install jaxmarl==0.2.0`, the version this kit reads.")
    per_unit = world_state[: n_units * features].reshape(n_units, features)  # [U, F]
    teams = world_state[n_units * features: n_units * (features + 1)]  # [U]
    unit_types = world_state[n_units * (features + 1):]  # [U], float-coded ints 0..5
    max_cooldown = weapon_cooldowns[unit_types.astype(jnp.int32)]  # [U]
    position = per_unit[:, 1:3] / jnp.asarray(map_size, dtype=world_state.dtype)  # [U, 2]
    cooldown = jnp.clip(per_unit[:, 3] / max_cooldown, 0.0, 1.0)  # [U]
    per_unit = per_unit.at[:, 1:3].set(position).at[:, 3].set(cooldown)  # [U, F]
    return jnp.concatenate([per_unit.reshape(-1), teams, unit_types / (n_unit_types - 1)])  # [(F + 2) U]
